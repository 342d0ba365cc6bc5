from cachekit.metrics import Metrics


def test_snapshot_and_exposition_agree() -> None:
    metrics = Metrics("app", lambda: {"l1_entries": 3})
    metrics.counts.l1_hits += 3
    metrics.counts.l1_misses += 1
    metrics.counts.l2_hits += 1
    metrics.counts.invalidations += 2
    metrics.observe_load(0.003)
    snap = metrics.snapshot()
    assert snap["l1_hit_ratio"] == 0.75 and snap["l2_hit_ratio"] == 1.0
    assert snap["l1_entries"] == 3 and snap["load_seconds_avg"] == 0.003
    text = metrics.exposition().decode()
    assert 'cachekit_lookups_total{cache="app",level="l1",result="hit"} 3.0' in text
    assert 'cachekit_lookups_total{cache="app",level="l2",result="miss"} 0.0' in text
    assert 'cachekit_invalidations_total{cache="app"} 2.0' in text
    assert 'cachekit_load_seconds_count{cache="app"} 1.0' in text
    assert 'cachekit_l1_entries{cache="app"} 3.0' in text
