"""What the sync and the asyncio caches share: settings, L1, invalidation, metrics,
TTLs, and the decisions (serve from L1? recompute early? fill L1?). Only the I/O
differs between `Cache` and `AsyncCache`, so both have the same semantics.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cachekit.endpoint import Endpoint
from cachekit.invalidation import InvalidationLog, Invalidator
from cachekit.l1 import L1, Entry
from cachekit.metrics import Metrics
from cachekit.serializer import PickleSerializer, Serializer, Stored, pack, unpack
from cachekit.stampede import should_recompute
from cachekit.ttl import AdaptiveTTL

MISSING: Any = object()


@dataclass
class Settings:
    """Every knob, with the defaults the benchmark was run with."""

    namespace: str = "cache"
    ttl_s: float = 300.0  # logical lifetime of a value (its "soft" expiry)
    l1_max_entries: int = 10_000
    l1_max_bytes: int = 64 * 1024 * 1024
    l1_ttl_s: float = 60.0  # longest an entry stays in L1 (also capped by its soft expiry)
    l1_policy: str = "tinylfu"  # or "lru"
    invalidation: str = "auto"  # "tracking", "pubsub" or "auto" (tracking, else pub/sub)
    heartbeat_s: float = 0.25
    max_stale_s: float = 1.0  # L1 is not served once the server went unheard this long
    xfetch_beta: float = 1.0  # 0 disables early recomputation
    stale_while_revalidate_s: float = 0.0  # serve a value this long past expiry while reloading
    failover_timeout_s: float = 30.0  # how long an operation is retried
    serializer: Serializer = field(default_factory=PickleSerializer)
    adaptive_ttl: AdaptiveTTL | None = None


class Core:
    def __init__(self, endpoint: Endpoint, settings: Settings) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.l1 = L1(settings.l1_max_entries, settings.l1_max_bytes, settings.l1_policy)
        self.log = InvalidationLog()
        self.metrics = Metrics(settings.namespace, self._gauges)
        self.counts = self.metrics.counts
        self._topology = endpoint.client() if endpoint.mode == "cluster" else None
        self.invalidator = Invalidator(
            self._primaries,
            endpoint.login(),
            settings.namespace,
            self._invalidated,
            self._flush,
            mode=settings.invalidation,
            heartbeat_s=settings.heartbeat_s,
            max_stale_s=settings.max_stale_s,
            timeout_s=endpoint.timeout_s,
        )
        self.fresh = self.invalidator.fresh

    def _primaries(self, refresh: bool) -> list[tuple[str, int]]:
        client = self._topology
        if client is not None and refresh:
            client.nodes_manager.initialize()
        return self.endpoint.primaries(client)

    def _gauges(self) -> dict[str, float]:
        return {
            "l1_entries": len(self.l1),
            "l1_bytes": self.l1.bytes,
            "l1_evictions": self.l1.evictions,
            "invalidation_reconnects": self.invalidator.reconnects,
            "invalidation_link_fresh": float(self.fresh(time.monotonic())),
        }

    def _invalidated(self, keys: list[str]) -> None:
        self.counts.invalidations += len(keys)
        self.forget(keys)

    def _flush(self) -> None:
        self.l1.clear()
        self.log.flush()

    def forget(self, keys: Iterable[str]) -> None:
        """Drop keys from L1 and note it, so a racing read does not put them back."""
        keys = list(keys)
        for key in keys:
            self.l1.discard(key)
        self.log.record(keys)

    # -- lookups ----------------------------------------------------------------

    def l1_lookup(self, key: str) -> Entry | None:
        now = time.monotonic()
        entry = self.l1.get(key, now)
        if entry is not None:
            if now <= self.invalidator.fresh_until:
                self.counts.l1_hits += 1
                return entry
            self.counts.l1_unfresh += 1
        self.counts.l1_misses += 1
        return None

    def verdict(self, soft_expiry: float, delta: float) -> str:
        """ "fresh", "early" (XFetch picked this reader to recompute), "stale"
        (expired, servable while revalidating) or "expired"."""
        now = time.time()
        if now < soft_expiry:
            early = should_recompute(soft_expiry, delta, self.settings.xfetch_beta, now)
            return "early" if early else "fresh"
        if now < soft_expiry + self.settings.stale_while_revalidate_s:
            return "stale"
        return "expired"

    # -- encoding and L1 fills --------------------------------------------------

    def ttl_for(self, key: str, ttl: float | None) -> float:
        if ttl is not None:
            return ttl
        if self.settings.adaptive_ttl is not None:
            return self.settings.adaptive_ttl.ttl(key)
        return self.settings.ttl_s

    def encode(self, key: str, value: Any, ttl: float | None, delta: float) -> tuple[bytes, int]:
        """(bytes for Redis, Redis TTL in ms): kept past the soft expiry for SWR."""
        seconds = self.ttl_for(key, ttl)
        data = pack(self.settings.serializer, value, time.time() + seconds, delta)
        hard = seconds + self.settings.stale_while_revalidate_s
        return data, max(1, int(hard * 1000))

    def decode(self, data: bytes | None) -> Stored | None:
        return None if data is None else unpack(self.settings.serializer, data)

    def fill(self, key: str, stored: Stored, token: int) -> None:
        """Put a value read from L2 into L1, unless the key was invalidated since
        `token` (taken before the read) or the link cannot vouch for it."""
        if not self.fresh(time.monotonic()) or self.log.changed_since(token, key):
            return
        remaining = stored.soft_expiry + self.settings.stale_while_revalidate_s - time.time()
        if remaining <= 0:
            return
        lifetime = min(self.settings.l1_ttl_s, remaining)
        entry = Entry(
            stored.value, stored.size, time.monotonic() + lifetime, stored.soft_expiry, stored.delta
        )
        self.l1.put(key, entry)

    def settle(self, key: str, stored: Stored | None, token: int, loading: bool) -> tuple[str, Any]:
        """What a fetch does with L2's answer, the same for both APIs:
        ("value", v) serve it; ("stale", v) serve it and reload in the background;
        ("load", None) run the loader; ("missing", None) nothing to serve."""
        self.note_read(key)
        if stored is None:
            self.counts.l2_misses += 1
            return ("load", None) if loading else ("missing", None)
        self.counts.l2_hits += 1
        if not loading:
            if time.time() >= stored.soft_expiry:
                return "missing", None
            self.fill(key, stored, token)
            return "value", stored.value
        verdict = self.verdict(stored.soft_expiry, stored.delta)
        if verdict in ("fresh", "stale"):
            self.fill(key, stored, token)
            if verdict == "stale":
                self.counts.stale_served += 1
                return "stale", stored.value
            return "value", stored.value
        if verdict == "early":
            self.counts.early_recomputes += 1
        return "load", None

    def l1_split(self, keys: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
        """(values fresh in L1, keys to ask L2 for), for a batch read."""
        found: dict[str, Any] = {}
        missing = []
        for key in keys:
            entry = self.l1_lookup(key)
            if entry is not None and time.time() < entry.soft_expiry:
                found[key] = entry.value
            else:
                missing.append(key)
        return found, missing

    def settle_many(
        self, keys: list[str], datas: list[bytes | None], token: int, found: dict[str, Any]
    ) -> dict[str, Any]:
        """`found` plus what L2's batch answer holds that is still fresh."""
        for key, data in zip(keys, datas, strict=True):
            stored = self.decode(data)
            if stored is None or time.time() >= stored.soft_expiry:
                self.counts.l2_misses += 1
                continue
            self.counts.l2_hits += 1
            self.fill(key, stored, token)
            found[key] = stored.value
        return found

    def encode_many(
        self, values: Mapping[str, Any], ttl: float | None
    ) -> tuple[dict[str, bytes], dict[str, int]]:
        """(key -> encoded value, key -> TTL in ms) for a batch write."""
        encoded = {k: self.encode(k, v, ttl, 0.0) for k, v in values.items()}
        return {k: d for k, (d, _) in encoded.items()}, {k: t for k, (_, t) in encoded.items()}

    def note_read(self, key: str) -> None:
        if self.settings.adaptive_ttl is not None:
            self.settings.adaptive_ttl.read(key, time.monotonic())

    def note_change(self, keys: Iterable[str]) -> None:
        if self.settings.adaptive_ttl is not None:
            now = time.monotonic()
            for key in keys:
                self.settings.adaptive_ttl.changed(key, now)

    def stats(self) -> dict[str, Any]:
        return self.metrics.snapshot()

    def close(self) -> None:
        self.invalidator.close()
        if self._topology is not None:
            self._topology.close()
