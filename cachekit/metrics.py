"""Cache metrics, as a plain dict and in Prometheus' exposition format.

The counters are plain integers on the hot path (an L1 hit must stay close to a
dict lookup; a prometheus_client Counter takes a lock per increment) and are
turned into metric families only when scraped, by a custom collector - the
pattern prometheus_client documents for exporting state it does not own. Load
latency is a real prometheus_client Histogram: loads are rare and slow anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LOAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


@dataclass
class Counts:
    l1_hits: int = 0
    l1_misses: int = 0
    l1_unfresh: int = 0  # L1 held the key but could not vouch for it (link down)
    l2_hits: int = 0
    l2_misses: int = 0
    loads: int = 0
    load_errors: int = 0
    early_recomputes: int = 0
    stale_served: int = 0
    invalidations: int = 0
    retries: int = 0
    l2_errors: int = 0


class Metrics:
    def __init__(self, namespace: str, gauges: Callable[[], dict[str, float]]) -> None:
        self.namespace = namespace
        self.counts = Counts()
        self.gauges = gauges
        self.registry = CollectorRegistry()
        self.load_seconds = Histogram(
            "cachekit_load_seconds",
            "Time spent in loader functions on a miss or a refresh",
            ["cache"],
            registry=self.registry,
            buckets=LOAD_BUCKETS,
        ).labels(cache=namespace)
        self.registry.register(_Exporter(self))
        self._load_sum = 0.0
        self._load_count = 0

    def observe_load(self, seconds: float) -> None:
        self.load_seconds.observe(seconds)
        self._load_sum += seconds
        self._load_count += 1

    def snapshot(self) -> dict[str, Any]:
        """Everything as one flat dict (counters, gauges, derived ratios)."""
        out: dict[str, Any] = {f.name: getattr(self.counts, f.name) for f in fields(Counts)}
        out.update(self.gauges())
        l1 = out["l1_hits"] + out["l1_misses"]
        out["l1_hit_ratio"] = out["l1_hits"] / l1 if l1 else 0.0
        lookups = out["l1_misses"]
        out["l2_hit_ratio"] = out["l2_hits"] / lookups if lookups else 0.0
        out["load_seconds_avg"] = self._load_sum / self._load_count if self._load_count else 0.0
        return out

    def exposition(self) -> bytes:
        """The Prometheus text format, for an HTTP handler or a file."""
        return generate_latest(self.registry)


class _Exporter(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m, labels = self.metrics, [self.metrics.namespace]
        c = m.counts
        lookups = CounterMetricFamily(
            "cachekit_lookups",
            "Cache lookups by level and result",
            labels=["cache", "level", "result"],
        )
        for level, hits, misses in (("l1", c.l1_hits, c.l1_misses), ("l2", c.l2_hits, c.l2_misses)):
            lookups.add_metric([*labels, level, "hit"], hits)
            lookups.add_metric([*labels, level, "miss"], misses)
        yield lookups
        for name, text in (
            ("l1_unfresh", "L1 entries not served because the invalidation link was down"),
            ("loads", "Loader calls"),
            ("load_errors", "Loader calls that raised"),
            ("early_recomputes", "XFetch early recomputations"),
            ("stale_served", "Stale values served while revalidating"),
            ("invalidations", "Invalidated keys received from the server"),
            ("retries", "Redis operations retried (failover, timeouts)"),
            ("l2_errors", "Redis operations that failed after retries"),
        ):
            counter = CounterMetricFamily(f"cachekit_{name}", text, labels=["cache"])
            counter.add_metric(labels, getattr(c, name))
            yield counter
        for name, value in m.gauges().items():
            gauge = GaugeMetricFamily(f"cachekit_{name}", name.replace("_", " "), labels=["cache"])
            gauge.add_metric(labels, value)
            yield gauge
