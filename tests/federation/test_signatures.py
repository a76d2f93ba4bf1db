"""The entry point used by the HTTP layer: scheme dispatch and shared behaviour."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from multidict import CIMultiDict, CIMultiDictProxy

from federation.keys import generate_private_key, private_key_pem, public_key_pem
from federation.signatures import (
    SignatureError,
    SignedRequest,
    parse_signed_request,
    sign_request,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
KEY_ID = "https://a.example/users/alice#main-key"
INBOX = "https://b.example/users/bob/inbox"
BODY = b'{"type":"Create"}'
SCHEMES = ["cavage", "rfc9421"]


@pytest.fixture(scope="module")
def key():
    return generate_private_key()


def received(headers):
    """Headers as aiohttp hands them to a handler."""
    return CIMultiDictProxy(CIMultiDict(headers))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_post_round_trip(key, scheme):
    headers = sign_request(
        "POST", INBOX, KEY_ID, key, BODY, "application/activity+json", scheme=scheme, now=NOW
    )
    signed = parse_signed_request("POST", INBOX, received(headers), BODY, now=NOW)
    assert signed.scheme == scheme
    assert signed.key_id == KEY_ID
    assert signed.verify(public_key_pem(key))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_get_round_trip_with_query_and_port(key, scheme):
    url = "http://127.0.0.1:8081/users/bob/followers?page=2"
    headers = sign_request("GET", url, KEY_ID, key, scheme=scheme, now=NOW)
    assert headers["Host"] == "127.0.0.1:8081"
    signed = parse_signed_request("GET", url, received(headers), None, now=NOW)
    assert signed.scheme == scheme
    assert signed.verify(key.public_key())


def test_cavage_is_the_default(key):
    headers = sign_request("GET", INBOX, KEY_ID, key, now=NOW)
    assert "Signature-Input" not in headers
    assert headers["Signature"].startswith('keyId="')


def test_signing_with_a_pem(key):
    headers = sign_request("POST", INBOX, KEY_ID, private_key_pem(key), BODY, now=NOW)
    signed = parse_signed_request("POST", INBOX, received(headers), BODY, NOW)
    assert signed.verify(key.public_key())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_ed25519_keys(scheme):
    key = ed25519.Ed25519PrivateKey.generate()
    headers = sign_request("POST", INBOX, KEY_ID, key, BODY, scheme=scheme, now=NOW)
    signed = parse_signed_request("POST", INBOX, received(headers), BODY, now=NOW)
    assert signed.verify(key.public_key())


def test_unknown_scheme(key):
    with pytest.raises(ValueError, match="unknown signature scheme"):
        sign_request("GET", INBOX, KEY_ID, key, scheme="magic", now=NOW)


def test_plain_dict_headers_are_read_case_insensitively(key):
    headers = sign_request("POST", INBOX, KEY_ID, key, BODY, now=NOW)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert parse_signed_request("POST", INBOX, lowered, BODY, now=NOW).verify(key.public_key())


def test_default_now_is_the_current_time(key):
    headers = sign_request("POST", INBOX, KEY_ID, key, BODY)
    assert parse_signed_request("POST", INBOX, received(headers), BODY).verify(key.public_key())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_stale_signature_is_refused(key, scheme):
    """A retry must be signed again: headers from 13 hours ago are refused."""
    headers = sign_request(
        "POST", INBOX, KEY_ID, key, BODY, scheme=scheme, now=NOW - timedelta(hours=13)
    )
    with pytest.raises(SignatureError, match="more than 12 hours old"):
        parse_signed_request("POST", INBOX, received(headers), BODY, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tampered_body_is_refused(key, scheme):
    headers = sign_request("POST", INBOX, KEY_ID, key, BODY, scheme=scheme, now=NOW)
    with pytest.raises(SignatureError, match="does not match the body"):
        parse_signed_request("POST", INBOX, received(headers), BODY + b"x", now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_wrong_key_returns_false(key, scheme):
    headers = sign_request("POST", INBOX, KEY_ID, key, BODY, scheme=scheme, now=NOW)
    signed = parse_signed_request("POST", INBOX, received(headers), BODY, now=NOW)
    assert signed.verify(generate_private_key().public_key()) is False


@pytest.mark.parametrize("scheme", SCHEMES)
def test_request_to_another_host_returns_false(key, scheme):
    """A signature made for one island does not verify when replayed to another."""
    headers = sign_request("POST", INBOX, KEY_ID, key, BODY, scheme=scheme, now=NOW)
    headers["Host"] = "c.example"
    other = "https://c.example/users/bob/inbox"
    signed = parse_signed_request("POST", other, received(headers), BODY, now=NOW)
    assert signed.verify(key.public_key()) is False


def test_unsigned_request():
    with pytest.raises(SignatureError, match="not signed") as caught:
        parse_signed_request("POST", INBOX, received({"Host": "b.example"}), BODY, now=NOW)
    assert caught.value.reason.startswith("Request is not signed")


def test_signed_request_is_frozen(key):
    headers = sign_request("GET", INBOX, KEY_ID, key, now=NOW)
    signed = parse_signed_request("GET", INBOX, received(headers), None, now=NOW)
    assert isinstance(signed, SignedRequest)
    with pytest.raises(dataclasses.FrozenInstanceError):
        signed.key_id = "https://evil.example/#key"


def test_repr_omits_signature_bytes(key):
    headers = sign_request("GET", INBOX, KEY_ID, key, now=NOW)
    signed = parse_signed_request("GET", INBOX, received(headers), None, now=NOW)
    assert "signing_strings" not in repr(signed)
    assert KEY_ID in repr(signed)
