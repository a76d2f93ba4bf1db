import random
from datetime import datetime, timedelta, timezone

import pytest

from federation.retry import backoff, host_pause, is_final_failure, parse_retry_after


@pytest.mark.parametrize("status, final", [
    (400, True), (403, True), (404, True), (410, True), (422, True),
    (401, False), (408, False), (429, False), (500, False), (503, False), (None, False),
])
def test_which_failures_are_final(status, final):
    assert is_final_failure(status) is final


def test_backoff_grows_like_mastodon_with_bounded_jitter():
    rng = random.Random(1)
    delays = [backoff(n, rng) for n in range(1, 8)]
    for attempts, delay in enumerate(delays, start=1):
        base = attempts**4 + 15
        assert timedelta(seconds=base) <= delay <= timedelta(seconds=base + 30 * (attempts + 1))
    assert delays[-1] > delays[0] * 10


def test_retry_after_in_seconds_or_as_a_date_and_capped():
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120", now) == timedelta(seconds=120)
    assert parse_retry_after("Sun, 22 Nov 2026 12:05:00 GMT", now) == timedelta(minutes=5)
    assert parse_retry_after("999999", now) == timedelta(hours=6)
    assert parse_retry_after("nonsense", now) is None
    assert parse_retry_after(None, now) is None


def test_hosts_are_paused_after_five_failures_in_a_row():
    assert host_pause(4) is None
    assert host_pause(5) == timedelta(minutes=1)
    assert host_pause(7) == timedelta(minutes=4)
    assert host_pause(30) == timedelta(minutes=60)


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
CAP = timedelta(hours=6)


@pytest.mark.parametrize("value, expected", [
    ("0", timedelta(0)),
    ("  42\t", timedelta(seconds=42)),
    ("1.5", timedelta(seconds=1.5)),  # fractional: read, though HTTP says integer
    ("007", timedelta(seconds=7)),
    ("21600", CAP),
    ("99999999999999999999", CAP),  # would overflow timedelta
    ("9" * 8000, CAP),  # a header as long as aiohttp lets through
    ("1" + "0" * 400 + ".5", CAP),
    ("-5", None), ("-99999999999999999999", None), ("+5", None),
    ("", None), ("   ", None), ("nonsense", None), ("1e9", None), ("inf", None), ("NaN", None),
    ("12 34", None), ("120, 60", None),  # two headers folded into one
    ("²", None), ("٣", None), ("１２", None),  # digits that str.isdigit() accepts
    ("5\udcff", None), ("Sun, 22 Nov 2026 12:05:00 GMT\udcff", None),  # undecodable bytes
    ("Sun, 22 Nov 2026 12:05:00 GMT", timedelta(minutes=5)),
    ("Sun, 22 Nov 2026 12:05:00 -0000", timedelta(minutes=5)),  # no zone: GMT
    ("Sun, 22 Nov 2026 13:05:00 +0100", timedelta(minutes=5)),
    ("Fri, 31 Dec 9999 23:59:59 GMT", CAP),  # far in the future
    ("Mon, 01 Jan 0001 00:00:00 GMT", timedelta(0)),  # long past
    ("Sat, 21 Nov 2026 12:00:00 GMT", timedelta(0)),  # yesterday
    ("Sun, 22 Nov 99999 12:00:00 GMT", None),
    ("Sun, 22 Nov 0000 12:00:00 GMT", timedelta(0)),  # two-digit years: 2000
    ("Sun, 31 Feb 2026 12:00:00 GMT", None), ("Sun, 22 Nov 2026 25:61:99 GMT", None),
    ("Sun, 22 Nov 2026 12:00:00 +9999", None),
    ("Sun, 22 Nov 2026 12:05:00 GMT" + " " * 200 + "x", None),
    (None, None), (b"120", None), (120, None),
])
def test_any_retry_after_value_gives_a_bounded_delay_or_none(value, expected):
    delay = parse_retry_after(value, NOW)
    assert delay == expected
    if delay is not None:
        NOW + delay  # never overflows a datetime


def test_retry_after_never_raises_on_random_bytes():
    rng = random.Random(9)
    alphabet = "0123456789 .,:-+GMTSunNov\t\udcff²é"
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        delay = parse_retry_after(value, NOW)
        assert delay is None or timedelta(0) <= delay <= CAP


def test_backoff_is_bounded_whatever_the_attempt_count():
    for attempts in (0, 50, 700, 10**6, 10**30, -3):
        delay = backoff(attempts, random.Random(2))
        assert timedelta(seconds=15) <= delay <= timedelta(hours=24)
        NOW + delay
