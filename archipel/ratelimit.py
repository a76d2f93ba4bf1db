"""A sliding-window rate limit per key (a client address): at most `limit` hits in `window`
seconds.

In memory, on purpose: the public forms must refuse a flood *before* anything is written, so a
flood never becomes a flood of database writes, and visitors' addresses are never stored. The
cost is that a restart forgets the windows and that each process counts for itself: both are
acceptable for a brake on abuse (an island runs one web process). Memory is bounded: past
`max_keys`, the keys seen least recently are forgotten.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, limit: int, window: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        self._hits.move_to_end(key)
        horizon = self.clock() - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)
        return hits

    def allow(self, key: str) -> bool:
        """Count a hit for `key` if it is within the limit; False (and nothing counted) if not."""
        if self.limit <= 0:
            return True  # 0 switches the limit off
        hits = self._recent(key)
        if len(hits) >= self.limit:
            return False
        hits.append(self.clock())
        return True

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may hit again (0 if it may now)."""
        hits = self._recent(key)
        if self.limit <= 0 or len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window - self.clock())

    def release(self, key: str) -> None:
        """Take back the last hit counted for `key` (an attempt that turned out to be allowed free)."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    def reset(self, key: str) -> None:
        """Forget `key`'s hits (a successful login clears its account's failures)."""
        self._hits.pop(key, None)


class SpendingLimiter:
    """A budget of time per key (a client address), as a leaky bucket: what a key spends drains
    at `per_minute / 60` per second, and the key may start something new while its bucket holds
    less than `per_minute`. Counting the time spent rather than the requests: one search may
    cost a millisecond or a second, and the budget must hold a reader who searches a lot as
    surely as it stops one who sends the costliest queries. O(1) per key; memory bounded as
    RateLimiter's."""

    def __init__(self, per_minute: float, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.capacity = per_minute
        self.drain = per_minute / 60.0
        self.max_keys = max_keys
        self.clock = clock
        self._levels: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (level, when)

    def _level(self, key: str) -> float:
        level, when = self._levels.get(key, (0.0, 0.0))
        return max(0.0, level - (self.clock() - when) * self.drain)

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may start something: 0 if it may now (or if there is no limit),
        else more than 0 (callers round up to whole seconds)."""
        if self.capacity <= 0:
            return 0.0  # 0 switches the limit off
        over = self._level(key) - self.capacity
        return 0.0 if over < 0 else max(over / self.drain, 0.001)

    def spend(self, key: str, seconds: float) -> None:
        """Count what `key` just spent (nothing is kept for a key when there is no limit)."""
        if self.capacity <= 0:
            return
        self._levels[key] = (self._level(key) + max(0.0, seconds), self.clock())
        self._levels.move_to_end(key)
        while len(self._levels) > self.max_keys:
            self._levels.popitem(last=False)
