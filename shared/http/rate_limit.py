"""A sliding-window rate limit per key, in process memory.

For endpoints that a credential other than a person's key opens (a SCAR's
response link): it bounds how fast one link, or one caller presenting links
that do not exist, can be used. Per process: behind N replicas a caller gets
up to N times the budget, which still keeps guessing a 256-bit token
hopeless; the limit is for abuse of a leaked link and for noise.
"""

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SlidingWindow:
    """At most ``limit`` hits per key in any ``window`` seconds."""

    limit: int
    window: float
    # Keys remembered at most (the oldest are forgotten first): bounded memory
    # whatever callers send.
    max_keys: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _hits: "OrderedDict[str, deque[float]]" = field(default_factory=OrderedDict)

    def blocked(self, key: str) -> float | None:
        """Seconds until ``key`` may hit again, or None; counts nothing."""
        hits = self._hits.get(key)
        if not hits:
            return None
        now = self.clock()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1.0, math.ceil(hits[0] + self.window - now))
        return None

    def hit(self, key: str) -> float | None:
        """Count one hit; None when allowed, else seconds until the next is."""
        now = self.clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1.0, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        return None
