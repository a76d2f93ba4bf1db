"""RFC 9421 HTTP Message Signatures: signing, parsing, rejections, RFC test vectors."""

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding
from multidict import CIMultiDict, CIMultiDictProxy

from federation.keys import generate_private_key, public_key_pem
from federation.rfc9421 import (
    content_digest_header,
    parse_rfc9421,
    sign_rfc9421,
    signature_base,
    signature_inputs,
)
from federation.signed_request import SignatureError, SignedRequest

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
CREATED = int(NOW.timestamp())
KEY_ID = "https://a.example/users/alice#main-key"
INBOX = "https://b.example/users/bob/inbox"
BODY = b'{"type":"Like","actor":"https://a.example/users/alice"}'
POST_COMPONENTS = ("@method", "@target-uri", "content-digest")


@pytest.fixture(scope="module")
def key():
    return generate_private_key()


@pytest.fixture(scope="module")
def other_key():
    return generate_private_key()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pkcs1(key, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def pss(key, data: bytes) -> bytes:
    return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512())


def hand_signed(
    key,
    components=POST_COMPONENTS,
    *,
    sign=pkcs1,
    params=None,
    method="POST",
    uri=INBOX,
    body=BODY,
    label="sig1",
    extra_headers=(),
    omit=(),
):
    """A request signed the way a remote server would, without our signer."""
    if params is None:
        params = f';created={CREATED};keyid="{KEY_ID}";alg="rsa-v1_5-sha256"'
    headers = {
        "host": "b.example",
        "date": "Thu, 15 Jan 2026 12:00:00 GMT",
        "content-type": "application/activity+json",
        "content-digest": "sha-256=:" + b64(hashlib.sha256(body).digest()) + ":",
        **dict(extra_headers),
    }
    derived = {
        "@method": method,
        "@target-uri": uri,
        "@authority": "b.example",
        "@path": "/users/bob/inbox",
        "@query": "?",
    }
    signature_params = "(" + " ".join(f'"{c}"' for c in components) + ")" + params
    lines = [f'"{c}": {derived[c] if c in derived else headers[c]}' for c in components]
    lines.append(f'"@signature-params": {signature_params}')
    signature = sign(key, "\n".join(lines).encode())
    result = CIMultiDict((k.title(), v) for k, v in headers.items() if k not in omit)
    result["Signature-Input"] = f"{label}={signature_params}"
    result["Signature"] = f"{label}=:{b64(signature)}:"
    return result


def parse(headers, *, method="POST", uri=INBOX, body=BODY, now=NOW):
    return parse_rfc9421(method, uri, CIMultiDictProxy(CIMultiDict(headers)), body, now)


# --- signing ------------------------------------------------------------------------


def test_content_digest_known_answer():
    assert content_digest_header(b'{"hello": "world"}') == (
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    )


def test_sign_post_headers(key):
    headers = sign_rfc9421("POST", INBOX, KEY_ID, key, BODY, "application/activity+json", NOW)
    assert headers["Host"] == "b.example"
    assert headers["Date"] == "Thu, 15 Jan 2026 12:00:00 GMT"
    assert headers["Content-Type"] == "application/activity+json"
    assert headers["Content-Digest"] == content_digest_header(BODY)
    assert headers["Signature-Input"] == (
        'sig1=("@method" "@target-uri" "@authority" "host" "date" "content-digest" '
        f'"content-type");created={CREATED};keyid="{KEY_ID}";alg="rsa-v1_5-sha256"'
    )
    assert headers["Signature"].startswith("sig1=:") and headers["Signature"].endswith(":")


def test_sign_get_has_no_content_digest(key):
    headers = sign_rfc9421("GET", "https://b.example/o/1", KEY_ID, key, now=NOW)
    assert "Content-Digest" not in headers
    assert headers["Signature-Input"].startswith(
        'sig1=("@method" "@target-uri" "@authority" "host" "date");'
    )


def test_signature_verifies_independently(key):
    """Our signature checked by cryptography over a signature base written by hand."""
    uri = "https://b.example:8443/users/bob/inbox?x=1"
    headers = sign_rfc9421("POST", uri, KEY_ID, key, BODY, "application/activity+json", NOW)
    params = (
        '("@method" "@target-uri" "@authority" "host" "date" "content-digest" "content-type")'
        f';created={CREATED};keyid="{KEY_ID}";alg="rsa-v1_5-sha256"'
    )
    base = "\n".join(
        [
            '"@method": POST',
            f'"@target-uri": {uri}',
            '"@authority": b.example:8443',
            '"host": b.example:8443',
            '"date": Thu, 15 Jan 2026 12:00:00 GMT',
            f'"content-digest": sha-256=:{b64(hashlib.sha256(BODY).digest())}:',
            '"content-type": application/activity+json',
            f'"@signature-params": {params}',
        ]
    )
    signature = base64.b64decode(headers["Signature"][len("sig1=:") : -1])
    key.public_key().verify(signature, base.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_sign_rejects_a_key_id_that_is_not_ascii(key):
    with pytest.raises(ValueError):
        sign_rfc9421("GET", INBOX, "https://a.example/é", key, now=NOW)


# --- round trips --------------------------------------------------------------------


def test_round_trip_post(key):
    headers = sign_rfc9421("POST", INBOX, KEY_ID, key, BODY, "application/activity+json", NOW)
    signed = parse(headers)
    assert signed.key_id == KEY_ID
    assert signed.scheme == "rfc9421"
    assert signed.algorithm == "rsa-v1_5-sha256"
    assert "content-digest" in signed.covered
    assert signed.created == NOW
    assert signed.verify(key.public_key())
    assert signed.verify(public_key_pem(key))


def test_round_trip_get(key):
    uri = "https://b.example/users/bob/outbox?page=2"
    headers = sign_rfc9421("GET", uri, KEY_ID, key, now=NOW)
    assert parse(headers, method="GET", uri=uri, body=None).verify(key.public_key())


def test_round_trip_ed25519():
    key = ed25519.Ed25519PrivateKey.generate()
    headers = sign_rfc9421("POST", INBOX, KEY_ID, key, BODY, "application/activity+json", NOW)
    signed = parse(headers)
    assert signed.algorithm == "ed25519"
    assert signed.verify(key.public_key())
    assert signed.verify(public_key_pem(key))


def test_ed25519_signed_by_hand_verifies():
    key = ed25519.Ed25519PrivateKey.generate()
    params = f';created={CREATED};keyid="{KEY_ID}";alg="ed25519"'
    headers = hand_signed(key, sign=lambda k, data: k.sign(data), params=params)
    assert parse(headers).verify(key.public_key())


def test_ed25519_without_alg_verifies():
    key = ed25519.Ed25519PrivateKey.generate()
    params = f';keyid="{KEY_ID}";created={CREATED}'
    headers = hand_signed(key, sign=lambda k, data: k.sign(data), params=params)
    assert parse(headers).verify(key.public_key())


def test_rsa_pss_sha512_verifies(key):
    params = f';created={CREATED};keyid="{KEY_ID}";alg="rsa-pss-sha512"'
    assert parse(hand_signed(key, sign=pss, params=params)).verify(key.public_key())


def test_authority_and_path_instead_of_target_uri(key):
    headers = hand_signed(key, ("@method", "@authority", "@path", "content-digest"))
    assert parse(headers).verify(key.public_key())


def test_parameters_in_any_order_are_reproduced(key):
    params = f';keyid="{KEY_ID}";alg="rsa-v1_5-sha256";nonce="x1";created={CREATED}'
    assert parse(hand_signed(key, params=params)).verify(key.public_key())


def test_sha512_content_digest(key):
    digest = "sha-512=:" + b64(hashlib.sha512(BODY).digest()) + ":"
    headers = hand_signed(key, extra_headers={"content-digest": digest})
    assert parse(headers).verify(key.public_key())


def test_first_acceptable_signature_is_chosen(key, other_key):
    weak = hand_signed(other_key, ("@method", "@target-uri"), label="weak")
    strong = hand_signed(key)
    headers = CIMultiDict(strong)
    headers["Signature-Input"] = weak["Signature-Input"] + ", " + strong["Signature-Input"]
    headers["Signature"] = weak["Signature"] + ", " + strong["Signature"]
    signed = parse(headers)
    assert signed.covered == POST_COMPONENTS
    assert signed.verify(key.public_key())


def test_signature_fields_split_over_several_lines(key):
    weak = hand_signed(key, ("@method", "@target-uri"), label="weak")
    headers = hand_signed(key)
    headers.add("Signature-Input", weak["Signature-Input"])
    headers.add("Signature", weak["Signature"])
    assert parse(headers).verify(key.public_key())


def test_multiple_field_lines_joined_with_comma(key):
    components = POST_COMPONENTS + ("accept",)
    headers = hand_signed(
        key, components, extra_headers={"accept": "application/activity+json, text/html"}
    )
    headers["Accept"] = " application/activity+json "
    headers.add("Accept", "text/html")
    assert parse(headers).verify(key.public_key())


# --- known answer: RFC 9421 appendix B.2.6 (Ed25519) --------------------------------

RFC_ED25519_PUBLIC = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n"
    "-----END PUBLIC KEY-----\n"
)
RFC_REQUEST_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": (
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+"
        "AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
    ),
    "Content-Length": "18",
    "Signature-Input": (
        'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
        ';created=1618884473;keyid="test-key-ed25519"'
    ),
    "Signature": (
        "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5"
        "lIp5WPpBKRCw==:"
    ),
}
RFC_URI = "https://example.com/foo?param=Value&Pet=dog"
RFC_BODY = b'{"hello": "world"}'
RFC_NOW = datetime.fromtimestamp(1618884473, UTC)
B26_BASE = """\
"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")\
;created=1618884473;keyid="test-key-ed25519\""""


def test_known_answer_b26_signature_base_and_verification():
    headers = CIMultiDict(RFC_REQUEST_HEADERS)
    [signature_input] = signature_inputs(headers)
    assert signature_input.label == "sig-b26"
    assert signature_input.params == {"created": 1618884473, "keyid": "test-key-ed25519"}
    base = signature_base("POST", RFC_URI, headers, signature_input.components, signature_input.raw)
    assert base == B26_BASE

    signature = base64.b64decode(RFC_REQUEST_HEADERS["Signature"][len("sig-b26=:") : -1])
    public = serialization.load_pem_public_key(RFC_ED25519_PUBLIC.encode())
    public.verify(signature, base.encode())  # cryptography itself agrees
    signed = SignedRequest(
        key_id="test-key-ed25519",
        scheme="rfc9421",
        covered=signature_input.components,
        algorithm=None,
        signature=signature,
        signing_strings=(base.encode(),),
    )
    assert signed.verify(RFC_ED25519_PUBLIC)
    assert signed.verify(public_key_pem(generate_private_key())) is False


def test_known_answer_b26_is_refused_as_too_weak_for_an_inbox():
    with pytest.raises(SignatureError, match="does not cover content-digest"):
        parse(RFC_REQUEST_HEADERS, uri=RFC_URI, body=RFC_BODY, now=RFC_NOW)


def test_known_answer_rfc_content_digest_sha512_matches(key):
    digest = RFC_REQUEST_HEADERS["Content-Digest"]
    headers = hand_signed(key, body=RFC_BODY, extra_headers={"content-digest": digest})
    assert parse(headers, body=RFC_BODY).verify(key.public_key())


# --- rejections ---------------------------------------------------------------------


def test_reject_missing_signature_header(key):
    headers = hand_signed(key)
    del headers["Signature"]
    with pytest.raises(SignatureError, match="without a Signature header"):
        parse(headers)


def test_reject_label_without_signature(key):
    headers = hand_signed(key)
    headers["Signature"] = headers["Signature"].replace("sig1=", "other=")
    with pytest.raises(SignatureError, match="no value for label 'sig1'"):
        parse(headers)


@pytest.mark.parametrize(
    "value",
    [
        'sig1=("@method" "@target-uri"',
        'sig1=("@method",);created=1',
        "sig1=(@method);created=1",
        'sig1=("@method");created=1,',
        'Sig1=("@method");created=1',
        'sig1="not a list";created=1',
        'sig1=("@method" "@method");created=1',
    ],
)
def test_reject_malformed_signature_input(key, value):
    headers = hand_signed(key)
    headers["Signature-Input"] = value
    with pytest.raises(SignatureError, match="Malformed Signature-Input"):
        parse(headers)


def test_reject_malformed_signature(key):
    headers = hand_signed(key)
    headers["Signature"] = "sig1=:not base64!:"
    with pytest.raises(SignatureError, match="Malformed Signature header"):
        parse(headers)


def test_reject_missing_keyid(key):
    with pytest.raises(SignatureError, match="no keyid"):
        parse(hand_signed(key, params=f";created={CREATED}"))


def test_reject_missing_created(key):
    with pytest.raises(SignatureError, match="no created"):
        parse(hand_signed(key, params=f';keyid="{KEY_ID}"'))


def test_reject_created_13_hours_old(key):
    params = f';created={CREATED - 13 * 3600};keyid="{KEY_ID}"'
    with pytest.raises(SignatureError, match="more than 12 hours old"):
        parse(hand_signed(key, params=params))


def test_reject_created_2_hours_in_future(key):
    params = f';created={CREATED + 2 * 3600};keyid="{KEY_ID}"'
    with pytest.raises(SignatureError, match="more than 1 hour in the future"):
        parse(hand_signed(key, params=params))


def test_reject_expired(key):
    params = f';created={CREATED - 3 * 3600};expires={CREATED - 2 * 3600};keyid="{KEY_ID}"'
    with pytest.raises(SignatureError, match="expired"):
        parse(hand_signed(key, params=params))


def test_reject_unsupported_alg(key):
    params = f';created={CREATED};keyid="{KEY_ID}";alg="hmac-sha256"'
    with pytest.raises(SignatureError, match="Unsupported signature algorithm"):
        parse(hand_signed(key, params=params))


@pytest.mark.parametrize(
    "components, missing",
    [
        (("@target-uri", "content-digest"), "@method"),
        (("@method", "content-digest"), "@target-uri"),
        (("@method", "@path", "content-digest"), "@target-uri"),
        (("@method", "@target-uri"), "content-digest"),
    ],
)
def test_reject_required_component_not_covered(key, components, missing):
    with pytest.raises(SignatureError, match=f"does not cover {missing}"):
        parse(hand_signed(key, components))


def test_get_needs_no_content_digest(key):
    headers = hand_signed(key, ("@method", "@target-uri"), method="GET", omit=("content-digest",))
    assert parse(headers, method="GET", body=None).verify(key.public_key())


def test_reject_tampered_body(key):
    with pytest.raises(SignatureError, match="Content-Digest does not match the body"):
        parse(hand_signed(key), body=BODY + b" ")


def test_reject_wrong_content_digest(key):
    wrong = "sha-256=:" + b64(hashlib.sha256(b"other").digest()) + ":"
    with pytest.raises(SignatureError, match="Content-Digest does not match the body"):
        parse(hand_signed(key, extra_headers={"content-digest": wrong}))


def test_reject_content_digest_without_supported_algorithm(key):
    headers = hand_signed(key, extra_headers={"content-digest": "md5=:Sd/dVLAcvNLSq16eXua5uQ==:"})
    with pytest.raises(SignatureError, match="no sha-256"):
        parse(headers)


def test_reject_malformed_content_digest(key):
    headers = hand_signed(key, extra_headers={"content-digest": "sha-256=X48E9q"})
    with pytest.raises(SignatureError, match="Content-Digest"):
        parse(headers)


def test_reject_covered_header_missing(key):
    with pytest.raises(SignatureError, match="'content-digest' is missing from the request"):
        parse(hand_signed(key, omit=("content-digest",)))


def test_reject_component_parameters(key):
    headers = hand_signed(key)
    headers["Signature-Input"] = (
        f'sig1=("@method" "@target-uri" "content-digest";sf);created={CREATED};keyid="{KEY_ID}"'
    )
    with pytest.raises(SignatureError, match="Unsupported component parameters"):
        parse(headers)


def test_reject_unknown_derived_component(key):
    headers = hand_signed(key)
    headers["Signature-Input"] = (
        f'sig1=("@method" "@target-uri" "content-digest" "@status");created={CREATED};'
        f'keyid="{KEY_ID}"'
    )
    with pytest.raises(SignatureError, match="Unsupported derived component '@status'"):
        parse(headers)


# --- verification failures return False ---------------------------------------------


def test_bad_signature_returns_false(key):
    headers = hand_signed(key)
    raw = bytearray(base64.b64decode(headers["Signature"][len("sig1=:") : -1]))
    raw[0] ^= 0x01
    headers["Signature"] = f"sig1=:{b64(bytes(raw))}:"
    assert parse(headers).verify(key.public_key()) is False


def test_wrong_key_returns_false(key, other_key):
    assert parse(hand_signed(key)).verify(other_key.public_key()) is False


def test_alg_not_matching_the_key_returns_false(key):
    params = f';created={CREATED};keyid="{KEY_ID}";alg="ed25519"'
    assert parse(hand_signed(key, params=params)).verify(key.public_key()) is False


def test_other_target_uri_returns_false(key):
    other = "https://b.example/users/carol/inbox"
    assert parse(hand_signed(key), uri=other).verify(key.public_key()) is False


def test_tampered_covered_header_returns_false(key):
    components = POST_COMPONENTS + ("content-type",)
    headers = hand_signed(key, components)
    headers["Content-Type"] = "text/plain"
    assert parse(headers).verify(key.public_key()) is False
