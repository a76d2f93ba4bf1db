"""Key generation, PEM round trips and the cached loaders."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from federation.keys import (
    InvalidKey,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)


@pytest.fixture(scope="module")
def key():
    return generate_private_key()


def test_generated_key_is_rsa_2048(key):
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048


def test_private_pem_is_pkcs8_and_round_trips(key):
    pem = private_key_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key(pem)
    assert loaded.private_numbers() == key.private_numbers()


def test_public_pem_is_spki_and_round_trips(key):
    pem = public_key_pem(key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert load_public_key(pem).public_numbers() == key.public_key().public_numbers()


def test_public_pem_of_a_public_key(key):
    assert public_key_pem(key.public_key()) == public_key_pem(key)


def test_load_public_key_is_cached(key):
    pem = public_key_pem(key)
    first = load_public_key(pem)
    hits = load_public_key.cache_info().hits
    assert load_public_key(pem) is first
    assert load_public_key.cache_info().hits == hits + 1


def test_load_private_key_is_cached(key):
    pem = private_key_pem(key)
    assert load_private_key(pem) is load_private_key(pem)


def test_load_public_key_accepts_pkcs1_rsa_pem(key):
    pkcs1 = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    ).decode()
    assert pkcs1.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert load_public_key(pkcs1).public_numbers() == key.public_key().public_numbers()


def test_load_public_key_accepts_surrounding_whitespace(key):
    assert isinstance(load_public_key("\n  " + public_key_pem(key) + "\n\n"), rsa.RSAPublicKey)


def test_load_public_key_accepts_ed25519():
    pem = public_key_pem(ed25519.Ed25519PrivateKey.generate())
    assert isinstance(load_public_key(pem), ed25519.Ed25519PublicKey)


def test_invalid_key_is_a_value_error():
    assert issubclass(InvalidKey, ValueError)


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQ\n-----END PUBLIC KEY-----\n",
    ],
)
def test_load_public_key_rejects_garbage(pem):
    with pytest.raises(InvalidKey, match="publicKeyPem"):
        load_public_key(pem)


def test_load_public_key_rejects_a_private_key(key):
    with pytest.raises(InvalidKey):
        load_public_key(private_key_pem(key))


def test_load_public_key_rejects_other_key_types():
    pem = public_key_pem_of_ec()
    with pytest.raises(InvalidKey, match="only RSA and Ed25519"):
        load_public_key(pem)


def test_load_private_key_rejects_garbage():
    with pytest.raises(InvalidKey):
        load_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def public_key_pem_of_ec() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
