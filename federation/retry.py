"""When to try a failed delivery again, and when to stop (pure functions, tested)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

FINAL_STATUS_EXCEPTIONS = frozenset({401, 408, 429})
MAX_RETRY_AFTER = timedelta(hours=6)


def is_final_failure(status: int | None) -> bool:
    """4xx other than 401/408/429 will not get better by retrying (Mastodon does the same)."""
    return status is not None and 400 <= status < 500 and status not in FINAL_STATUS_EXCEPTIONS


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Mastodon's curve, attempts**4 + 15 s, with jitter so retries of one host spread out."""
    rng = rng or random
    base = attempts**4 + 15
    return timedelta(seconds=base + rng.uniform(0, 30) * (attempts + 1))


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            delay = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def host_pause(consecutive_failures: int) -> timedelta | None:
    """After 5 failures in a row a host is paused, longer each time, at most an hour."""
    if consecutive_failures < 5:
        return None
    return timedelta(minutes=min(60, 2 ** (consecutive_failures - 5)))
