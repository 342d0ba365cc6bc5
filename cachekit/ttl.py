"""TTL that adapts to how often a key is read and how often it changes.

A fixed TTL is a guess made once for every key. Here each key's TTL starts at
`base_s` and moves within [`min_s`, `max_s`]:

- reads: a key read every `r` seconds gets `base * sqrt(base / r)` (capped at 4x
  either way): a hot key's reload is shared by many reads, so keeping it longer
  saves the most loads; a cold key's memory is better spent elsewhere;
- changes: if the key's value changes every `c` seconds (writes through the
  cache, or a reload that returned a different value), its TTL is at most `c / 2`,
  so a value changed at the source (where no invalidation is sent) is not served
  for much longer than it stays true.

Intervals are exponentially weighted moving averages; the per-key statistics live
in a bounded LRU (cachetools) so unbounded key spaces cost bounded memory.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from cachetools import LRUCache

ALPHA = 0.3  # weight of the newest interval in the moving averages


@dataclass
class KeyStats:
    last_read: float | None = None
    read_interval: float | None = None
    last_change: float | None = None
    change_interval: float | None = None


def _ewma(previous: float | None, sample: float) -> float:
    return sample if previous is None else ALPHA * sample + (1 - ALPHA) * previous


class AdaptiveTTL:
    def __init__(self, min_s: float, max_s: float, base_s: float, tracked_keys: int = 10000):
        if not 0 < min_s <= base_s <= max_s:
            raise ValueError("need 0 < min_s <= base_s <= max_s")
        self.min_s, self.max_s, self.base_s = min_s, max_s, base_s
        self.stats: LRUCache[str, KeyStats] = LRUCache(maxsize=tracked_keys)
        self.lock = threading.Lock()

    def _stats(self, key: str) -> KeyStats:
        found = self.stats.get(key)
        if found is None:
            found = self.stats[key] = KeyStats()
        return found

    def read(self, key: str, now: float) -> None:
        with self.lock:
            s = self._stats(key)
            if s.last_read is not None:
                s.read_interval = _ewma(s.read_interval, now - s.last_read)
            s.last_read = now

    def changed(self, key: str, now: float) -> None:
        with self.lock:
            s = self._stats(key)
            if s.last_change is not None:
                s.change_interval = _ewma(s.change_interval, now - s.last_change)
            s.last_change = now

    def ttl(self, key: str) -> float:
        with self.lock:
            s = self.stats.get(key) or KeyStats()
        ttl = self.base_s
        if s.read_interval is not None:
            heat = math.sqrt(self.base_s / max(s.read_interval, 1e-6))
            ttl *= min(4.0, max(0.25, heat))
        if s.change_interval is not None:
            ttl = min(ttl, s.change_interval / 2)
        return min(self.max_s, max(self.min_s, ttl))
