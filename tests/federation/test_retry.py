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
