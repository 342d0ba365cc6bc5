import random

import pytest

from cachekit.l1 import L1, Entry

FAR = 1e12


def entry(value: object, size: int = 10, expires: float = FAR) -> Entry:
    return Entry(value, size, expires)


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
def test_bounded_by_entry_count(policy: str) -> None:
    l1 = L1(max_entries=100, max_bytes=10**9, policy=policy)
    for i in range(1000):
        l1.put(f"k{i}", entry(i))
    assert len(l1) == 100
    assert l1.evictions == 900


@pytest.mark.parametrize("policy", ["lru", "tinylfu"])
def test_bounded_by_bytes(policy: str) -> None:
    l1 = L1(max_entries=1000, max_bytes=1000, policy=policy)
    for i in range(50):
        l1.put(f"k{i}", entry(i, size=100))
    assert l1.bytes <= 1000 and len(l1) == 10
    l1.put("huge", entry("x", size=5000))
    assert l1.get("huge", 0) is None and l1.bytes <= 1000


def test_replacing_a_value_keeps_the_byte_count_exact() -> None:
    l1 = L1(10, 10_000)
    l1.put("a", entry(1, size=100))
    l1.put("a", entry(2, size=30))
    assert l1.bytes == 30 and l1.get("a", 0).value == 2  # type: ignore[union-attr]
    assert l1.discard("a") and l1.bytes == 0 and not l1.discard("a")


def test_expired_entries_are_not_returned() -> None:
    l1 = L1(10, 10_000)
    l1.put("a", entry(1, expires=100.0))
    assert l1.get("a", 99.0) is not None
    assert l1.get("a", 100.0) is None


def test_lru_evicts_the_least_recently_read() -> None:
    l1 = L1(3, 10_000, policy="lru")
    for key in "abc":
        l1.put(key, entry(key))
    l1.get("a", 0)
    l1.drain()
    l1.put("d", entry("d"))
    assert sorted(l1.resident()) == ["a", "c", "d"]  # type: ignore[type-var]


@pytest.mark.parametrize(("policy", "least_kept"), [("lru", 0), ("tinylfu", 49)])
def test_tinylfu_keeps_popular_keys_through_a_scan(policy: str, least_kept: int) -> None:
    l1 = L1(100, 10**9, policy=policy)
    for _ in range(20):
        for i in range(50):
            if l1.get(f"hot{i}", 0) is None:
                l1.put(f"hot{i}", entry(i))
    for i in range(1000):  # a one-pass scan, 10x the cache size
        if l1.get(f"scan{i}", 0) is None:
            l1.put(f"scan{i}", entry(i))
    kept = sum(l1.get(f"hot{i}", 0) is not None for i in range(50))
    # The last hot key sits in the 1-entry window, never promoted; by the end
    # of the scan its count has aged (halved twice) to a scan key's.
    assert kept >= least_kept
    if policy == "lru":
        assert kept == 0


def hit_ratio(policy: str, trace: list[str], size: int) -> float:
    l1 = L1(size, 10**9, policy=policy)
    hits = 0
    for key in trace:
        if l1.get(key, 0) is not None:
            hits += 1
        else:
            l1.put(key, entry(key))
    return hits / len(trace)


def test_tinylfu_beats_lru_on_a_skewed_trace_with_scans() -> None:
    rng = random.Random(7)
    keys = list(range(1, 5001))
    weights = [1 / k for k in keys]
    trace: list[str] = []
    for block in range(20):
        trace += [f"z{k}" for k in rng.choices(keys, weights, k=2000)]
        trace += [f"s{block}-{i}" for i in range(500)]
    assert hit_ratio("tinylfu", trace, 200) > hit_ratio("lru", trace, 200) + 0.05


def test_hottest_ranks_by_frequency() -> None:
    l1 = L1(100, 10**9, policy="tinylfu")
    for key in ("a", "b", "c"):
        l1.put(key, entry(key))
    # one hit in SAMPLE (8) reaches the sketch: hits 1, 9, 17... of each key
    for key, reads in (("a", 1), ("b", 17), ("c", 9)):
        for _ in range(reads):
            l1.get(key, 0)
    assert l1.hottest(2) == ["b", "c"]


def test_clear_empties_everything() -> None:
    l1 = L1(10, 10_000)
    l1.put("a", entry(1))
    l1.clear()
    assert len(l1) == 0 and l1.bytes == 0 and l1.get("a", 0) is None
