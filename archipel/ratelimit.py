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
