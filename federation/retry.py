"""When to try a failed delivery again, and when to stop (pure functions, tested)."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

FINAL_STATUS_EXCEPTIONS = frozenset({401, 408, 429})
MAX_RETRY_AFTER = timedelta(hours=6)  # a server asking for longer is asked again after this
MAX_BACKOFF = timedelta(hours=24)
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]*)?")  # ASCII only: str.isdigit() accepts '²' and '٣'
_LONGEST_DATE = 100  # an HTTP date is 29 characters; anything much longer is not one


def is_final_failure(status: int | None) -> bool:
    """4xx other than 401/408/429 will not get better by retrying (Mastodon does the same)."""
    return status is not None and 400 <= status < 500 and status not in FINAL_STATUS_EXCEPTIONS


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Mastodon's curve, attempts**4 + 15 s, with jitter so retries of one host spread out."""
    rng = rng or random
    attempts = max(0, min(attempts, 1000))  # bounded: timedelta and datetime cannot overflow
    base = attempts**4 + 15
    delay = timedelta(seconds=base + rng.uniform(0, 30) * (attempts + 1))
    return min(delay, MAX_BACKOFF)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header as a delay between 0 and MAX_RETRY_AFTER; None when it is not one.

    Hostile values are expected: any length, sign, fraction, non-ASCII or surrogate-escaped
    bytes, dates before year 1 or after 9999. Never raises, never overflows.
    """
    if not isinstance(value, str):
        return None
    value = value.strip(" \t")
    if not value:
        return None
    if _SECONDS.fullmatch(value):
        whole = value.split(".")[0].lstrip("0")
        if len(whole) > 9:  # longer than years: the cap applies, without building the number
            return MAX_RETRY_AFTER
        return min(timedelta(seconds=float(value)), MAX_RETRY_AFTER)
    if len(value) > _LONGEST_DATE or not value.isascii():
        return None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": HTTP dates are GMT
            when = when.replace(tzinfo=timezone.utc)
        delay = when - now
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def host_pause(consecutive_failures: int) -> timedelta | None:
    """After 5 failures in a row a host is paused, longer each time, at most an hour."""
    if consecutive_failures < 5:
        return None
    return timedelta(minutes=min(60, 2 ** (consecutive_failures - 5)))
