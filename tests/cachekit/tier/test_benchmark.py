"""The cache-kit benchmark runs on the real tier in CI: a short run that checks
every comparison is measured (its figures are the full run's business, in
bench/results/cache_kit.json; tests do not judge speed)."""

from __future__ import annotations

import pytest

from bench.cache_kit import measure
from tests.cachekit.tier.conftest import Tier

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def test_the_benchmark_measures_every_comparison(cluster: Tier) -> None:
    figures = measure(cluster.outputs, ops=300, trace_ops=20_000)
    assert set(figures["goals"]) == {
        "l1_hit_within_1_5x_of_cachetools_lru_get",
        "l1_hit_within_1_5x_of_cachetools_ttl_get",
        "invalidation_p99_le_5ms",
        "hit_ratio_ge_lru_on_every_workload",
        "stampede_one_load",
    }
    assert figures["stampede"]["cachekit"] == {"loads": 1, "caller_errors": 0}
    delay = figures["invalidation_delay"]
    assert delay["received"] == delay["writes"] > 0
    for workload, clients in figures["throughput_single_thread"].items():
        assert set(clients) == {
            "cachekit",
            "redis_py_client_side_cache",
            "dogpile_cache_redis_cluster",
            "redis_py_no_cache",
        }, workload
        assert all(c["ops_per_s"] > 0 for c in clients.values())
    assert figures["l1_hit_latency"]["cachekit_get_ns"] > 0
