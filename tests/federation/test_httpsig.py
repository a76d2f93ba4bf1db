"""draft-cavage HTTP signatures: signing, parsing, every rejection, known answers."""

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding
from multidict import CIMultiDict, CIMultiDictProxy

from federation.httpsig import (
    digest_header,
    http_date,
    parse_cavage,
    parse_signature_params,
    sign_cavage,
    signing_string,
)
from federation.keys import (
    generate_private_key,
    load_private_key,
    private_key_pem,
    public_key_pem,
)
from federation.signed_request import SignatureError, SignedRequest

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
NOW_HTTP = "Thu, 15 Jan 2026 12:00:00 GMT"
KEY_ID = "https://a.example/users/alice#main-key"
INBOX = "https://b.example/users/bob/inbox"
BODY = b'{"type":"Follow","actor":"https://a.example/users/alice"}'
MASTODON_POST = ("(request-target)", "host", "date", "digest", "content-type")


@pytest.fixture(scope="module")
def key():
    return generate_private_key()


@pytest.fixture(scope="module")
def other_key():
    return generate_private_key()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def rsa_sign(key, text: str) -> str:
    return b64(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256()))


def hand_signed(
    key,
    covered=MASTODON_POST,
    *,
    method="POST",
    target="/users/bob/inbox",
    body=BODY,
    date=NOW,
    algorithm="rsa-sha256",
    extra_headers=(),
    omit=(),
):
    """A request signed the way a remote server would, without our signer."""
    headers = {
        "host": "b.example",
        "date": format_datetime(date, usegmt=True),
        "digest": "SHA-256=" + b64(hashlib.sha256(body).digest()),
        "content-type": "application/activity+json",
        **dict(extra_headers),
    }
    lines = [
        f"(request-target): {method.lower()} {target}" if name == "(request-target)"
        else f"{name}: {headers[name]}"
        for name in covered
    ]
    signature = rsa_sign(key, "\n".join(lines))
    result = CIMultiDict((k.title(), v) for k, v in headers.items() if k not in omit)
    result["Signature"] = (
        f'keyId="{KEY_ID}",algorithm="{algorithm}",'
        f'headers="{" ".join(covered)}",signature="{signature}"'
    )
    return result


def parse(headers, *, method="POST", target="/users/bob/inbox", body=BODY, now=NOW):
    return parse_cavage(method, target, CIMultiDictProxy(CIMultiDict(headers)), body, now)


# --- signing ------------------------------------------------------------------------


def test_digest_header_known_answer():
    # draft-cavage-12 appendix C: the body {"hello": "world"}
    assert digest_header(b'{"hello": "world"}') == (
        "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
    )


def test_http_date_is_imf_fixdate():
    assert http_date(NOW) == NOW_HTTP
    assert http_date(datetime(2026, 1, 15, 13, 0, tzinfo=timezone(timedelta(hours=1)))) == NOW_HTTP


def test_sign_post_headers(key):
    headers = sign_cavage("POST", INBOX, KEY_ID, key, BODY, "application/activity+json", NOW)
    assert list(headers) == ["Host", "Date", "Digest", "Content-Type", "Signature"]
    assert headers["Host"] == "b.example"
    assert headers["Date"] == NOW_HTTP
    assert headers["Digest"] == "SHA-256=" + b64(hashlib.sha256(BODY).digest())
    params = parse_signature_params(headers["Signature"])
    assert params["keyid"] == KEY_ID
    assert params["algorithm"] == "rsa-sha256"
    assert params["headers"] == "(request-target) host date digest content-type"


def test_sign_get_headers(key):
    headers = sign_cavage("GET", "https://b.example/users/bob", KEY_ID, key, now=NOW)
    assert set(headers) == {"Host", "Date", "Signature"}
    assert parse_signature_params(headers["Signature"])["headers"] == "(request-target) host date"


def test_sign_post_without_content_type_does_not_cover_it(key):
    headers = sign_cavage("POST", INBOX, KEY_ID, key, BODY, now=NOW)
    assert "Content-Type" not in headers
    assert parse_signature_params(headers["Signature"])["headers"] == (
        "(request-target) host date digest"
    )


@pytest.mark.parametrize(
    "url, host",
    [
        ("https://b.example:443/inbox", "b.example"),
        ("http://b.example:80/inbox", "b.example"),
        ("http://127.0.0.1:8081/inbox", "127.0.0.1:8081"),
        ("https://B.Example:8443/inbox", "b.example:8443"),
    ],
)
def test_sign_host_keeps_only_non_default_port(key, url, host):
    assert sign_cavage("GET", url, KEY_ID, key, now=NOW)["Host"] == host


def test_signature_verifies_independently(key):
    """Our signature checked by cryptography over a signing string written by hand."""
    url = "https://b.example:8443/users/bob/inbox?x=1"
    headers = sign_cavage("POST", url, KEY_ID, key, BODY, "application/activity+json", NOW)
    expected = (
        "(request-target): post /users/bob/inbox?x=1\n"
        "host: b.example:8443\n"
        f"date: {NOW_HTTP}\n"
        f"digest: SHA-256={b64(hashlib.sha256(BODY).digest())}\n"
        "content-type: application/activity+json"
    )
    signature = base64.b64decode(parse_signature_params(headers["Signature"])["signature"])
    key.public_key().verify(signature, expected.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_sign_accepts_a_pem_private_key(key):
    headers = sign_cavage("GET", INBOX, KEY_ID, private_key_pem(key), now=NOW)
    assert parse(headers, method="GET", body=None).verify(key.public_key())


# --- round trips --------------------------------------------------------------------


def test_round_trip_post(key):
    headers = sign_cavage("POST", INBOX, KEY_ID, key, BODY, "application/activity+json", NOW)
    signed = parse(headers)
    assert signed.key_id == KEY_ID
    assert signed.scheme == "cavage"
    assert signed.covered == MASTODON_POST
    assert signed.algorithm == "rsa-sha256"
    assert signed.created == NOW
    assert signed.verify(key.public_key())
    assert signed.verify(public_key_pem(key))


def test_round_trip_get(key):
    url = "https://b.example/users/bob/outbox?page=2"
    headers = sign_cavage("GET", url, KEY_ID, key, now=NOW)
    signed = parse(headers, method="GET", target="/users/bob/outbox?page=2", body=None)
    assert signed.covered == ("(request-target)", "host", "date")
    assert signed.verify(key.public_key())


def test_round_trip_ed25519_uses_hs2019():
    key = ed25519.Ed25519PrivateKey.generate()
    headers = sign_cavage("POST", INBOX, KEY_ID, key, BODY, "application/activity+json", NOW)
    signed = parse(headers)
    assert signed.algorithm == "hs2019"
    assert signed.verify(key.public_key())


@pytest.mark.parametrize(
    "covered",
    [
        MASTODON_POST,
        ("date", "host", "(request-target)", "digest"),
        ("host", "(request-target)", "digest", "content-type", "date"),
    ],
)
def test_header_order_is_the_senders(key, covered):
    assert parse(hand_signed(key, covered)).verify(key.public_key())


def test_hs2019_label(key):
    signed = parse(hand_signed(key, algorithm="hs2019"))
    assert signed.algorithm == "hs2019"
    assert signed.verify(key.public_key())


def test_algorithm_may_be_absent(key):
    headers = hand_signed(key)
    headers["Signature"] = headers["Signature"].replace('algorithm="rsa-sha256",', "")
    signed = parse(headers)
    assert signed.algorithm == "hs2019"
    assert signed.verify(key.public_key())


def test_authorization_signature_header_is_accepted(key):
    headers = hand_signed(key)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    assert parse(headers).verify(key.public_key())


def test_path_without_query_is_accepted(key):
    """Older Mastodon versions sign (request-target) without the query string."""
    covered = ("(request-target)", "host", "date")
    get = hand_signed(key, covered, method="GET", target="/o/1", omit=("digest", "content-type"))
    signed = parse(get, method="GET", target="/o/1?page=true", body=None)
    assert signed.verify(key.public_key())


def test_multiple_digest_entries(key):
    entries = (
        "MD5=Sd/dVLAcvNLSq16eXua5uQ==, SHA-512="
        + b64(hashlib.sha512(BODY).digest())
        + ",SHA-256="
        + b64(hashlib.sha256(BODY).digest())
    )
    headers = hand_signed(key, extra_headers={"digest": entries})
    assert parse(headers).verify(key.public_key())


def test_sha512_digest_alone(key):
    digest = "sha-512=" + b64(hashlib.sha512(BODY).digest())
    headers = hand_signed(key, extra_headers={"digest": digest})
    assert parse(headers).verify(key.public_key())


def test_created_pseudo_header_with_hs2019(key):
    created = int((NOW - timedelta(minutes=1)).timestamp())
    covered = ("(request-target)", "host", "(created)", "digest")
    text = "\n".join(
        [
            "(request-target): post /users/bob/inbox",
            "host: b.example",
            f"(created): {created}",
            "digest: SHA-256=" + b64(hashlib.sha256(BODY).digest()),
        ]
    )
    headers = hand_signed(key, omit=("date",))
    headers["Signature"] = (
        f'keyId="{KEY_ID}",algorithm="hs2019",created={created},'
        f'headers="{" ".join(covered)}",signature="{rsa_sign(key, text)}"'
    )
    signed = parse(headers)
    assert signed.created == datetime.fromtimestamp(created, UTC)
    assert signed.verify(key.public_key())


def test_signature_params_quoted_commas_unknown_params_and_spaces():
    params = parse_signature_params(
        'keyId="https://x.example/a,b#k", foo=bar,  algorithm="hs2019" ,'
        'headers="date",nonce="a\\"b",signature="c2ln"'
    )
    assert params["keyid"] == "https://x.example/a,b#k"
    assert params["foo"] == "bar"
    assert params["nonce"] == 'a"b'
    assert params["signature"] == "c2ln"


# --- known answers (draft-cavage-12 appendix C) -------------------------------------

CAVAGE_TEST_KEY = """-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----
"""
CAVAGE_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3
6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6
Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw
oYi+1hqp1fIekaxsyQIDAQAB
-----END PUBLIC KEY-----
"""
CAVAGE_NOW = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)
CAVAGE_TARGET = "/foo?param=value&pet=dog"
CAVAGE_BODY = b'{"hello": "world"}'
CAVAGE_HEADERS = {
    "Host": "example.com",
    "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
    "Content-Type": "application/json",
    "Digest": "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "Content-Length": "18",
}
BASIC_SIGNATURE = (
    "qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw3"
    "HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0="
)
ALL_HEADERS_SIGNATURE = (
    "vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52"
    "LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE="
)


def test_known_answer_basic_signing_string():
    """Appendix C.2: the signing string and the published signature."""
    text = signing_string(
        "POST", CAVAGE_TARGET, CIMultiDict(CAVAGE_HEADERS), ("(request-target)", "host", "date")
    )
    assert text == (
        "(request-target): post /foo?param=value&pet=dog\n"
        "host: example.com\n"
        "date: Sun, 05 Jan 2014 21:31:40 GMT"
    )
    signed = SignedRequest(
        key_id="Test",
        scheme="cavage",
        covered=("(request-target)", "host", "date"),
        algorithm="rsa-sha256",
        signature=base64.b64decode(BASIC_SIGNATURE),
        signing_strings=(text.encode(),),
    )
    assert signed.verify(CAVAGE_PUBLIC_KEY)
    # and our signer, fed the same key and time, produces the same bytes
    key = load_private_key(CAVAGE_TEST_KEY)
    assert rsa_sign(key, text) == BASIC_SIGNATURE


def test_known_answer_basic_test_is_refused_for_a_post():
    """C.2 does not sign the Digest: not enough for an ActivityPub POST."""
    headers = dict(CAVAGE_HEADERS)
    headers["Signature"] = (
        'keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date",'
        f'signature="{BASIC_SIGNATURE}"'
    )
    with pytest.raises(SignatureError, match="does not cover digest"):
        parse(headers, target=CAVAGE_TARGET, body=CAVAGE_BODY, now=CAVAGE_NOW)


def test_known_answer_all_headers_parse_and_verify():
    """Appendix C.3 (without the pseudo-headers the draft's example forgot)."""
    headers = dict(CAVAGE_HEADERS)
    headers["Authorization"] = (
        'Signature keyId="Test",algorithm="rsa-sha256",'
        'headers="(request-target) host date content-type digest content-length",'
        f'signature="{ALL_HEADERS_SIGNATURE}"'
    )
    signed = parse(headers, target=CAVAGE_TARGET, body=CAVAGE_BODY, now=CAVAGE_NOW)
    assert signed.key_id == "Test"
    assert signed.verify(CAVAGE_PUBLIC_KEY)
    assert signed.verify(serialization.load_pem_public_key(CAVAGE_PUBLIC_KEY.encode()))


# --- rejections ---------------------------------------------------------------------


def test_reject_unsigned_request():
    with pytest.raises(SignatureError, match="not signed"):
        parse({"Host": "b.example", "Date": NOW_HTTP})


def test_reject_authorization_of_another_scheme():
    with pytest.raises(SignatureError, match="not signed"):
        parse({"Authorization": "Bearer abc"})


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        'keyId="unterminated',
        'keyId="a" headers="date"',
        'keyId="a",,signature="b"',
        'keyId="a",keyId="b",signature="c"',
        'keyId=,signature="b"',
    ],
)
def test_reject_malformed_signature_header(value):
    with pytest.raises(SignatureError, match="Malformed"):
        parse({"Signature": value, "Date": NOW_HTTP})


def test_reject_missing_key_id(key):
    headers = hand_signed(key)
    headers["Signature"] = headers["Signature"].replace(f'keyId="{KEY_ID}",', "")
    with pytest.raises(SignatureError, match="no keyId"):
        parse(headers)


def test_reject_missing_signature_value(key):
    headers = hand_signed(key)
    headers["Signature"] = headers["Signature"].split(",signature=")[0]
    with pytest.raises(SignatureError, match="no signature"):
        parse(headers)


def test_reject_signature_that_is_not_base64(key):
    headers = hand_signed(key)
    headers["Signature"] = headers["Signature"].split(",signature=")[0] + ',signature="%%%"'
    with pytest.raises(SignatureError, match="not base64"):
        parse(headers)


def test_reject_unsupported_algorithm(key):
    with pytest.raises(SignatureError, match="Unsupported signature algorithm"):
        parse(hand_signed(key, algorithm="hmac-sha256"))


def test_reject_tampered_body(key):
    headers = hand_signed(key)
    with pytest.raises(SignatureError, match="Digest does not match the body"):
        parse(headers, body=BODY.replace(b"Follow", b"Delete"))


def test_reject_wrong_digest(key):
    wrong = "SHA-256=" + b64(hashlib.sha256(b"something else").digest())
    with pytest.raises(SignatureError, match="Digest does not match the body"):
        parse(hand_signed(key, extra_headers={"digest": wrong}))


def test_reject_digest_without_supported_algorithm(key):
    headers = hand_signed(key, extra_headers={"digest": "MD5=Sd/dVLAcvNLSq16eXua5uQ=="})
    with pytest.raises(SignatureError, match="no SHA-256"):
        parse(headers)


def test_reject_post_whose_signature_omits_digest(key):
    headers = hand_signed(key, ("(request-target)", "host", "date", "content-type"))
    with pytest.raises(SignatureError, match="does not cover digest"):
        parse(headers)


def test_reject_post_without_digest_header(key):
    headers = hand_signed(key, omit=("digest",))
    with pytest.raises(SignatureError, match="'digest' is missing"):
        parse(headers)


def test_reject_empty_post_without_digest(key):
    headers = hand_signed(key, ("(request-target)", "host", "date"), body=b"")
    with pytest.raises(SignatureError, match="does not cover digest"):
        parse(headers, body=b"")


@pytest.mark.parametrize(
    "covered, missing",
    [
        (("host", "date", "digest"), r"\(request-target\)"),
        (("(request-target)", "date", "digest"), "host"),
        (("(request-target)", "host", "digest"), "date"),
    ],
)
def test_reject_required_header_not_covered(key, covered, missing):
    with pytest.raises(SignatureError, match=f"does not cover {missing}"):
        parse(hand_signed(key, covered))


def test_reject_default_header_list(key):
    """Without headers= only the Date would be signed."""
    headers = hand_signed(key, ("date",))
    headers["Signature"] = headers["Signature"].replace('headers="date",', "")
    with pytest.raises(SignatureError, match="does not cover"):
        parse(headers)


def test_reject_header_listed_but_missing(key):
    covered = MASTODON_POST + ("accept",)
    headers = hand_signed(key, covered, extra_headers={"accept": "application/activity+json"})
    del headers["Accept"]
    with pytest.raises(SignatureError, match="'accept' is missing from the request"):
        parse(headers)


def test_reject_date_13_hours_old(key):
    headers = hand_signed(key, date=NOW - timedelta(hours=13))
    with pytest.raises(SignatureError, match="more than 12 hours old"):
        parse(headers)


def test_accept_date_11_hours_old(key):
    assert parse(hand_signed(key, date=NOW - timedelta(hours=11))).verify(key.public_key())


def test_reject_date_2_hours_in_future(key):
    headers = hand_signed(key, date=NOW + timedelta(hours=2))
    with pytest.raises(SignatureError, match="more than 1 hour in the future"):
        parse(headers)


def test_reject_unparsable_date(key):
    headers = hand_signed(key)
    headers["Date"] = "yesterday"
    with pytest.raises(SignatureError, match="not an HTTP date"):
        parse(headers)


def test_reject_created_with_rsa_sha256(key):
    headers = hand_signed(key, omit=("date",))
    headers["Signature"] = (
        f'keyId="{KEY_ID}",algorithm="rsa-sha256",created={int(NOW.timestamp())},'
        'headers="(request-target) host (created) digest",signature="c2ln"'
    )
    with pytest.raises(SignatureError, match=r"\(created\) cannot be signed"):
        parse(headers)


def test_reject_created_too_old(key):
    headers = hand_signed(key, omit=("date",))
    created = int((NOW - timedelta(hours=13)).timestamp())
    headers["Signature"] = (
        f'keyId="{KEY_ID}",algorithm="hs2019",created={created},'
        'headers="(request-target) host (created) digest",signature="c2ln"'
    )
    with pytest.raises(SignatureError, match="more than 12 hours old"):
        parse(headers)


def test_reject_expired_signature(key):
    headers = hand_signed(key)
    expires = int((NOW - timedelta(hours=2)).timestamp())
    signature = headers["Signature"]
    headers["Signature"] = signature.replace(",signature=", f",expires={expires},signature=")
    with pytest.raises(SignatureError, match="expired"):
        parse(headers)


# --- verification failures return False ---------------------------------------------


def test_bad_signature_returns_false(key):
    headers = hand_signed(key)
    params = parse_signature_params(headers["Signature"])
    raw = bytearray(base64.b64decode(params["signature"]))
    raw[10] ^= 0xFF
    headers["Signature"] = headers["Signature"].replace(params["signature"], b64(bytes(raw)))
    assert parse(headers).verify(key.public_key()) is False


def test_truncated_signature_returns_false(key):
    headers = hand_signed(key)
    headers["Signature"] = headers["Signature"].split(",signature=")[0] + ',signature="c2ln"'
    assert parse(headers).verify(key.public_key()) is False


def test_wrong_key_returns_false(key, other_key):
    assert parse(hand_signed(key)).verify(other_key.public_key()) is False


def test_key_of_another_type_returns_false(key):
    ed_key = ed25519.Ed25519PrivateKey.generate().public_key()
    assert parse(hand_signed(key)).verify(ed_key) is False


def test_unparsable_pem_returns_false(key):
    assert parse(hand_signed(key)).verify("not a pem") is False


def test_tampered_signed_header_returns_false(key):
    headers = hand_signed(key)
    headers["Content-Type"] = "text/html"
    assert parse(headers).verify(key.public_key()) is False


def test_other_target_returns_false(key):
    assert parse(hand_signed(key), target="/users/carol/inbox").verify(key.public_key()) is False
