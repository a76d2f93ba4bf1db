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
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")
_OPENERS = frozenset(b"[{")
_MAX_INT_DIGITS = 20  # the digits of -2**63, sign included


class RemoteJSONError(ValueError):
    """A body that is not JSON we accept; the inbox answers 400, a fetch fails."""


def loads(body: bytes | str) -> object:
    """The parsed document, or RemoteJSONError."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteJSONError("not UTF-8") from None
    _check_depth(body.encode("utf-8", "surrogatepass"))
    try:
        document = json.loads(body, parse_constant=_refuse_constant, parse_int=_bounded_int,
                               parse_float=_finite_float)
    except RemoteJSONError:
        raise
    except (ValueError, RecursionError) as error:
        raise RemoteJSONError(f"invalid JSON: {error}") from None
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


def _check_depth(raw: bytes) -> None:
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    if len(brackets) <= MAX_DEPTH:
        return
    depth = 0
    for byte in brackets:
        if byte in _OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                raise RemoteJSONError(f"nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


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
