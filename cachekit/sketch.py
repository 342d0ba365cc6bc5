"""TinyLFU's frequency estimate: a count-min sketch behind a doorkeeper.

Why our own code: no maintained Python package offers W-TinyLFU's admission
filter. The sketch is 4 rows of byte counters (capped at 63: a sampled hit
counts 8) and is halved every `sample` increments, so old popularity fades (the
"reset" of the TinyLFU paper). The doorkeeper, a two-hash Bloom filter (one byte
per bit, for speed), absorbs each key's first occurrence, so the many keys seen once never
reach the counters. Rows are indexed by 16-bit slices of the key's 64-bit hash,
which caps their width at 65536 counters (larger caches share counters more).
"""

from __future__ import annotations

from collections.abc import Hashable

MAX_COUNT = 63  # byte counters; a sampled hit adds 8 (cachekit.l1.SAMPLE)
ROWS = 4
_MIX = 0x9E3779B97F4A7C15  # 2^64 / golden ratio (Fibonacci hashing)
MAX_WIDTH = 1 << 21
_HALF = bytes(i >> 1 for i in range(256))  # four 21-bit slices of the mixed hash


def _width(capacity: int) -> int:
    """A power of two >= 4 x capacity (at least 64; a mask replaces modulo): few
    keys share a counter, at 4 bytes per row per cached entry."""
    width = 64
    while width < 4 * capacity and width < MAX_WIDTH:
        width <<= 1
    return width


def _door_width(capacity: int) -> int:
    """Up to 10 x capacity distinct keys pass between resets: 16 bits per entry keep
    the Bloom filter's false positives low (its own 27-bit slices of the hash)."""
    width = 64
    while width < 16 * capacity and width < 1 << 27:
        width <<= 1
    return width


class FrequencySketch:
    """Approximate access counts of recent keys, in O(capacity) bytes."""

    def __init__(self, capacity: int) -> None:
        self.width = _width(max(1, capacity))
        self.mask = self.width - 1
        self.sample = 10 * max(1, capacity)
        self.rows = [bytearray(self.width) for _ in range(ROWS)]
        self.door_mask = _door_width(capacity) - 1
        self.door = bytearray(self.door_mask + 1)
        self.additions = 0

    def increment(self, key: Hashable, weight: int = 1) -> None:
        """Count `weight` accesses (a sampled hit stands for several)."""
        # Four 16-bit slices of one hash index the four rows (cache keys are
        # str: SipHash mixes them). Written out: this runs for every recorded
        # read, and Python pays for every call, multiply and list.
        h = hash(key)
        self.additions += weight
        door, dm = self.door, self.door_mask
        x, y = (h >> 5) & dm, (h >> 37) & dm
        if not (door[x] and door[y]):
            door[x] = door[y] = 1
            weight -= 1
        if weight:
            m = self.mask
            a, b, c, d = h & m, (h >> 16) & m, (h >> 32) & m, (h >> 48) & m
            r0, r1, r2, r3 = self.rows
            r0[a] = min(MAX_COUNT, r0[a] + weight)
            r1[b] = min(MAX_COUNT, r1[b] + weight)
            r2[c] = min(MAX_COUNT, r2[c] + weight)
            r3[d] = min(MAX_COUNT, r3[d] + weight)
        if self.additions >= self.sample:
            self.reset()

    def estimate(self, key: Hashable) -> int:
        h = hash(key)
        m = self.mask
        a, b, c, d = h & m, (h >> 16) & m, (h >> 32) & m, (h >> 48) & m
        r0, r1, r2, r3 = self.rows
        door, dm = self.door, self.door_mask
        seen = door[(h >> 5) & dm] & door[(h >> 37) & dm]
        return min(r0[a], r1[b], r2[c], r3[d]) + seen

    def reset(self) -> None:
        """Halve every counter and clear the doorkeeper: popularity ages."""
        self.rows = [row.translate(_HALF) for row in self.rows]
        self.door = bytearray(self.door_mask + 1)
        self.additions //= 2
