"""JSON from other servers, parsed strictly: only what both databases and the JSON-LD processor
can take gets in.

Python's json accepts what PostgreSQL refuses (`NaN`, `Infinity`, `1e400`, a NUL character, a
lone surrogate, integers of any size) and recurses once per nesting level, so a 10,000-deep array
crashes it, or pyld after it, with a RecursionError. Here the depth is measured on the bytes
before parsing, without recursion, and every value is checked once after.
"""

from __future__ import annotations

import json
import math
import re

from archipel.bounds import INT64_MAX, storable

# Real activities nest less than ten levels (Create > object > tag > href...); pyld spends a few
# stack frames per level, so this keeps it far from Python's recursion limit.
MAX_DEPTH = 64
# Strings are skipped when measuring depth: a bracket inside a string does not nest anything.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")
# A number of 19 digits or more may not fit 64 bits; an exponent of 3 digits may overflow.
_LONG_NUMBER = re.compile(rb"[0-9]{19}|[eE][+]?[0-9]{3}")
# \u0000 or a surrogate half: the only ways JSON text can carry what PostgreSQL refuses.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_MAX_INT_DIGITS = 20  # the digits of -2**63, sign included


class RemoteJSONError(ValueError):
    """A body that is not JSON we accept; the inbox answers 400, a fetch fails."""


def loads(body: bytes | str) -> object:
    """The parsed document, or RemoteJSONError.

    The costly checks run only when the raw text calls for them, so that a genuine activity
    costs little more than json.loads: the number hooks when a long number or a large exponent
    is written, the walk over every string when a \\u escape could be a NUL or a surrogate (raw
    UTF-8 can carry neither, and JSON refuses raw control characters in strings)."""
    if isinstance(body, bytes):
        raw = body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteJSONError("not UTF-8") from None
    else:
        try:
            text, raw = body, body.encode("utf-8")  # a lone surrogate cannot be encoded
        except UnicodeEncodeError:
            raise RemoteJSONError("not UTF-8") from None
    skeleton = _STRING.sub(b'""', raw)  # the document without the contents of its strings
    _check_depth(skeleton)
    hooks = {}
    if _LONG_NUMBER.search(skeleton):
        hooks = {"parse_int": _bounded_int, "parse_float": _finite_float}
    try:
        document = json.loads(text, parse_constant=_refuse_constant, **hooks)
    except RemoteJSONError:
        raise
    except (ValueError, RecursionError) as error:
        raise RemoteJSONError(f"invalid JSON: {error}") from None
    if _SUSPECT_ESCAPE.search(raw):
        check_values(document)
    return document


def check_values(document: object) -> None:
    """Every string storable, every number finite and within 64 bits, nesting bounded; without
    recursion, so that a document built elsewhere can be checked the same way."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not storable(value):
                raise RemoteJSONError("a string holds a NUL character or a lone surrogate")
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            _bounded_int(value)
        elif isinstance(value, float):
            _finite_float(value)
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise RemoteJSONError(f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str) or not storable(key):
                        raise RemoteJSONError("a key holds a NUL character or a lone surrogate")
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
        else:
            raise RemoteJSONError(f"not a JSON value: {type(value).__name__}")


def _check_depth(skeleton: bytes) -> None:
    """Refuse nesting deeper than MAX_DEPTH (or unbalanced), without recursion: each pass removes
    the innermost pairs, so a document MAX_DEPTH deep is empty after MAX_DEPTH passes."""
    brackets = skeleton.translate(None, _NOT_BRACKET)
    if brackets.count(b"[") + brackets.count(b"{") <= MAX_DEPTH:
        return
    for _ in range(MAX_DEPTH):
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(inner) == len(brackets):
            break
        brackets = inner
    if brackets:
        raise RemoteJSONError(f"nested deeper than {MAX_DEPTH} levels, or unbalanced")


def _refuse_constant(name: str):
    raise RemoteJSONError(f"{name} is not a JSON number")


def _bounded_int(value: str | int) -> int:
    if isinstance(value, str):
        if len(value) > _MAX_INT_DIGITS:
            raise RemoteJSONError("an integer beyond 64 bits")
        value = int(value)
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise RemoteJSONError("an integer beyond 64 bits")
    return value


def _finite_float(value: str | float) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise RemoteJSONError(f"{value} overflows a float")
    return number
