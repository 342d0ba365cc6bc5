"""L1: a bounded in-process cache (entry count and bytes), with TTL.

Two eviction policies share one store, so they can be compared at equal size
(bench/cache_kit.py): plain LRU and W-TinyLFU (Caffeine's: a 1 % LRU window in
front of a segmented LRU main area, with TinyLFU deciding whether the window's
oldest key may displace the main area's oldest). W-TinyLFU is the default because
it measured a higher hit ratio than LRU on every workload of the benchmark
(docs/cache-kit.md).

Reads never take the lock: a hit is a dict lookup, and one hit in SAMPLE (every
miss) is appended to a buffer that is replayed into the policy (recency order,
frequency sketch) in batches, under the lock, by whichever thread fills it - the
way Caffeine amortizes its bookkeeping. Replaying one read costs several times
the lookup in Python, hence the sampling (measured: W-TinyLFU sampled at 1 in 8
still beats an exact LRU on every benchmark workload). A contended drain is
skipped, and a buffer that grew too large meanwhile is dropped: the policy is
approximate, the data is not.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from cachekit.sketch import FrequencySketch

DRAIN_AT = 64
SAMPLE = 8
DROP_AT = 4096


@dataclass(slots=True)
class Entry:
    """A cached value. `expires` is monotonic (L1 lifetime); `soft_expiry` and
    `delta` (wall clock, load seconds) feed early recomputation (cachekit.stampede)."""

    value: Any
    size: int
    expires: float
    soft_expiry: float = float("inf")
    delta: float = 0.0
    hits: int = 0  # the policy hears of hits 1, 1 + SAMPLE, 1 + 2 x SAMPLE...


class Policy(Protocol):
    sample: int  # record one hit in `sample`

    def add(self, key: Hashable) -> None: ...
    def touch(self, key: Hashable, weight: int) -> None: ...
    def missed(self, key: Hashable) -> None: ...
    def remove(self, key: Hashable) -> None: ...
    def evict(self) -> Hashable | None: ...
    def frequency(self, key: Hashable) -> int: ...
    def clear(self) -> None: ...


class LruPolicy:
    """Least recently used: exact (every hit recorded), the baseline."""

    sample = 1

    def __init__(self, max_entries: int) -> None:
        self.order: OrderedDict[Hashable, None] = OrderedDict()

    def add(self, key: Hashable) -> None:
        self.order[key] = None

    def touch(self, key: Hashable, weight: int) -> None:
        if key in self.order:
            self.order.move_to_end(key)

    def missed(self, key: Hashable) -> None:
        pass

    def remove(self, key: Hashable) -> None:
        self.order.pop(key, None)

    def evict(self) -> Hashable | None:
        return self.order.popitem(last=False)[0] if self.order else None

    def frequency(self, key: Hashable) -> int:
        return 0

    def clear(self) -> None:
        self.order.clear()


class TinyLfuPolicy:
    """W-TinyLFU: window LRU (1 %), main SLRU (20 % probation, 80 % protected),
    TinyLFU admission from window to main.

    One hit in SAMPLE is recorded, with weight SAMPLE in the sketch (so counts
    stay unbiased); bench/cache_kit.py measures the hit ratio as shipped, against
    an exact LRU."""

    sample = SAMPLE

    def __init__(self, max_entries: int) -> None:
        self.window_max = max(1, max_entries // 100)
        self.protected_max = max(1, int((max_entries - self.window_max) * 0.8))
        self.sketch = FrequencySketch(max_entries)
        self.window: OrderedDict[Hashable, None] = OrderedDict()
        self.probation: OrderedDict[Hashable, None] = OrderedDict()
        self.protected: OrderedDict[Hashable, None] = OrderedDict()
        self.candidates: deque[Hashable] = deque()

    def add(self, key: Hashable) -> None:
        self.window[key] = None
        while len(self.window) > self.window_max:
            moved = self.window.popitem(last=False)[0]
            self.probation[moved] = None
            self.candidates.append(moved)

    def missed(self, key: Hashable) -> None:
        self.sketch.increment(key)

    def touch(self, key: Hashable, weight: int) -> None:
        self.sketch.increment(key, weight)
        if key in self.window:
            self.window.move_to_end(key)
        elif key in self.protected:
            self.protected.move_to_end(key)
        elif key in self.probation:
            del self.probation[key]
            self.protected[key] = None
            if len(self.protected) > self.protected_max:
                self.probation[self.protected.popitem(last=False)[0]] = None

    def remove(self, key: Hashable) -> None:
        for segment in (self.window, self.probation, self.protected):
            if segment.pop(key, 0) is None:
                return

    def evict(self) -> Hashable | None:
        while self.candidates:
            candidate = self.candidates.popleft()
            if candidate in self.probation:
                return self._duel(candidate)
        for segment in (self.probation, self.protected, self.window):
            if segment:
                return segment.popitem(last=False)[0]
        return None

    def _duel(self, candidate: Hashable) -> Hashable:
        """The candidate displaces the main area's oldest key only if it was
        requested more often: a scan cannot flush the popular keys."""
        victim = next(iter(self.probation))
        segment = self.probation
        if victim == candidate:
            if not self.protected:
                del self.probation[candidate]
                return candidate
            victim, segment = next(iter(self.protected)), self.protected
        if self.sketch.estimate(candidate) > self.sketch.estimate(victim):
            del segment[victim]
            return victim
        del self.probation[candidate]
        return candidate

    def frequency(self, key: Hashable) -> int:
        return self.sketch.estimate(key)

    def clear(self) -> None:
        for segment in (self.window, self.probation, self.protected):
            segment.clear()
        self.candidates.clear()


POLICIES: dict[str, Callable[[int], Policy]] = {"lru": LruPolicy, "tinylfu": TinyLfuPolicy}


class L1:
    """Bounded by `max_entries` and by `max_bytes` (the serialized sizes)."""

    def __init__(self, max_entries: int, max_bytes: int, policy: str = "tinylfu") -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("L1 bounds must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.policy_name = policy
        self.policy = POLICIES[policy](max_entries)
        self.data: dict[Hashable, Entry] = {}
        self.bytes = 0
        self.evictions = 0
        self.sample = self.policy.sample
        self.reads: list[Hashable] = []  # sampled hits, not yet replayed
        self.misses: list[Hashable] = []
        self.lock = threading.Lock()

    def get(self, key: Hashable, now: float) -> Entry | None:
        """The live entry, or None. `now` is time.monotonic() (the caller has it).
        (Cache.get inlines the hit path of this method.)"""
        entry = self.data.get(key)
        if entry is None:
            self.missed(key)
            return None
        entry.hits += 1
        if entry.hits % self.sample == 1 % self.sample:
            self.hit(key)
        if entry.expires <= now:
            return None
        return entry

    def hit(self, key: Hashable) -> None:
        """Record a (sampled) hit for the policy."""
        self.reads.append(key)
        if len(self.reads) >= DRAIN_AT:
            self.drain()

    def missed(self, key: Hashable) -> None:
        self.misses.append(key)
        if len(self.misses) >= DRAIN_AT:
            self.drain()

    def drain(self) -> None:
        if not self.lock.acquire(blocking=False):
            if len(self.reads) + len(self.misses) > DROP_AT:
                self.reads, self.misses = [], []
            return
        try:
            self._replay()
        finally:
            self.lock.release()

    def _replay(self) -> None:
        reads, self.reads = self.reads, []
        misses, self.misses = self.misses, []
        policy, data, weight = self.policy, self.data, self.sample
        for key in misses:
            policy.missed(key)
        for key in reads:
            if key in data:
                policy.touch(key, weight)

    def put(self, key: Hashable, entry: Entry) -> list[Hashable]:
        """Store; returns the keys evicted to stay within both bounds."""
        if entry.size > self.max_bytes:
            self.discard(key)
            return []
        with self.lock:
            self._replay()
            old = self.data.get(key)
            self.data[key] = entry
            self.bytes += entry.size - (old.size if old else 0)
            if old is None:
                self.policy.add(key)
            return self._shrink()

    def _shrink(self) -> list[Hashable]:
        evicted: list[Hashable] = []
        while len(self.data) > self.max_entries or self.bytes > self.max_bytes:
            victim = self.policy.evict()
            if victim is None:
                break
            gone = self.data.pop(victim, None)
            if gone is not None:
                self.bytes -= gone.size
                evicted.append(victim)
        self.evictions += len(evicted)
        return evicted

    def discard(self, key: Hashable) -> bool:
        with self.lock:
            gone = self.data.pop(key, None)
            if gone is None:
                return False
            self.bytes -= gone.size
            self.policy.remove(key)
            return True

    def clear(self) -> None:
        with self.lock:
            self.data.clear()
            self.policy.clear()
            self.bytes = 0
            self.reads, self.misses = [], []

    def resident(self) -> Iterator[Hashable]:
        return iter(list(self.data))

    def hottest(self, n: int) -> list[Hashable]:
        """Resident keys, most frequently read first (most recently, under LRU)."""
        with self.lock:
            self._replay()
            if isinstance(self.policy, LruPolicy):
                return list(reversed(self.policy.order))[:n]
            return sorted(self.data, key=self.policy.frequency, reverse=True)[:n]

    def frequency(self, key: Hashable) -> int:
        return self.policy.frequency(key)

    def __len__(self) -> int:
        return len(self.data)
