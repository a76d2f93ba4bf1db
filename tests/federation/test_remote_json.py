"""The strict parser of bodies from other servers, and the bounds of stored values."""

from __future__ import annotations

import json

import pytest

from archipel import bounds
from federation import remote_json
from federation.remote_json import MAX_DEPTH, RemoteJSONError

REFUSED = {
    "NaN": b'{"a": NaN}',
    "Infinity": b'{"a": Infinity}',
    "-Infinity": b'{"a": [-Infinity]}',
    "2**63": f'{{"a": {2**63}}}'.encode(),
    "-2**63 - 1": f'{{"a": {-2**63 - 1}}}'.encode(),
    "a 5,000-digit integer": b'{"a": ' + b"9" * 5_000 + b"}",
    "1e400": b'{"a": 1e400}',
    "-1e400": b'{"a": -1e400}',
    "depth 100,000": b"[" * 100_000 + b"]" * 100_000,
    "depth one over the bound": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    "unbalanced depth": b'{"a": ' + b"[" * 10_000,
    "NUL": b'{"a": "x\\u0000y"}',
    "NUL in a key": b'{"\\u0000": 1}',
    "lone high surrogate": b'{"a": "\\ud800"}',
    "lone low surrogate": b'{"a": "x\\udc00"}',
    "reversed pair": b'{"a": "\\udc00\\ud800"}',
    "Latin-1 bytes": '{"a": "é"}'.encode("latin-1"),
    "UTF-16": '{"a": 1}'.encode("utf-16"),
    "truncated": b'{"a": ',
}

ACCEPTED = {
    "2**63 - 1": (f'{{"a": {2**63 - 1}}}'.encode(), {"a": 2**63 - 1}),
    "-2**63": (f'{{"a": {-2**63}}}'.encode(), {"a": -2**63}),
    "1e300": (b'{"a": 1e300}', {"a": 1e300}),
    "a surrogate pair": (b'{"a": "\\ud83d\\ude00"}', {"a": "\U0001F600"}),
    "depth at the bound": (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)),
    "brackets inside strings": (b'{"a": "' + b"[" * 10_000 + b'\\"{{"}', {"a": "[" * 10_000 + '"{{'}),
    "tab and newline": (b'{"a": "x\\ty\\nz"}', {"a": "x\ty\nz"}),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused(case):
    with pytest.raises(RemoteJSONError):
        remote_json.loads(REFUSED[case])


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_accepted(case):
    body, expected = ACCEPTED[case]
    assert remote_json.loads(body) == expected


@pytest.mark.parametrize("text", ['{"a": "\ud800"}', '{"a": "x\x00"}', '{"a": "\udfff\ud800"}'])
def test_text_given_as_a_string_is_checked_too(text):
    with pytest.raises(RemoteJSONError):
        remote_json.loads(text)


def test_a_document_built_elsewhere_is_checked_without_recursion():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RemoteJSONError):
        remote_json.check_values({"a": deep})


@pytest.mark.parametrize("value", [
    "https://a.example/" + "x" * 2_000, "", "https://a.example/a b", "https://a.example/\x00",
    "https://a.example/\ud800", "https://a.example/\x85", 42, None,
])
def test_what_does_not_fit_an_id_column(value):
    assert not bounds.fits_uri(value)
    assert bounds.uri_or_none(value) is None
    with pytest.raises(bounds.OutOfBounds):
        bounds.require_uri(value)


@pytest.mark.parametrize("text,expected", [
    ("12", 12), ("0", 0), (str(2**63 - 1), 2**63 - 1), (str(2**63), None), ("+1", None), (" 1", None),
    ("1_0", None), ("1e3", None), ("-1", None), ("²", None), ("\uff11", None), ("", None), (None, None),
])
def test_parse_int(text, expected):
    assert bounds.parse_int(text) == expected


def test_texts_are_cleaned_and_cut():
    assert bounds.clip_text("a\x00b\x07c\td\ud800" + "e" * 600, 500) == "abc\td" + "e" * 495
    assert bounds.clip_text(None, 10) == ""
