"""The synchronous cache: L1 in front of L2, with loaders, batches, tags and a decorator."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from time import monotonic
from typing import Any, TypeVar

from cachekit.core import MISSING, Core, Settings
from cachekit.endpoint import Endpoint
from cachekit.keys import function_key
from cachekit.l2 import L2
from cachekit.retry import TRANSIENT, retrying, transient
from cachekit.stampede import SingleFlight

log = logging.getLogger(__name__)
T = TypeVar("T")
Loader = Callable[[], Any]


class Cache:
    """Thread-safe. One per process and namespace; `close()` stops its threads."""

    def __init__(
        self, endpoint: Endpoint, settings: Settings | None = None, client: Any = None
    ) -> None:
        self.settings = settings or Settings()
        self.core = Core(endpoint, self.settings)
        self.counts = self.core.counts
        self.client = client or endpoint.client()
        self.l2 = L2(self.client, self.settings.namespace)
        self.flight = SingleFlight()
        self.retry = retrying(self.settings.failover_timeout_s, self._retried)
        self.refresher = ThreadPoolExecutor(2, thread_name_prefix="cachekit-refresh")
        self.refreshing: set[str] = set()  # keys queued for a background refresh
        self.invalidator = self.core.invalidator
        self.sample = self.core.l1.sample
        self.fast_hits = not self.settings.stale_while_revalidate_s and self.sample > 1
        self.linked = self.core.invalidator.start()

    @property
    def metrics(self) -> Any:
        return self.core.metrics

    def stats(self) -> dict[str, Any]:
        return self.core.stats()

    # -- reads ------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        # An L1 hit, written out: it is the path that has to stay close to a
        # dict lookup (the full checks are in Core.l1_lookup, taken otherwise).
        entry = self.core.l1.data.get(key)
        if entry is not None and self.fast_hits:
            now = monotonic()
            if entry.expires > now and now <= self.invalidator.fresh_until:
                entry.hits += 1
                if entry.hits % self.sample == 1:
                    self.core.l1.hit(key)
                self.counts.l1_hits += 1
                return entry.value
        value = self._get(key, None, None, ())
        return default if value is MISSING else value

    def get_or_load(
        self, key: str, loader: Loader, ttl: float | None = None, tags: Iterable[str] = ()
    ) -> Any:
        """The cached value, or `loader()`'s (stored in L2 and, on the next read, L1).
        Concurrent misses of one key share one load."""
        return self._get(key, loader, ttl, tuple(tags))

    def _get(self, key: str, loader: Loader | None, ttl: float | None, tags: tuple[str, ...]):
        entry = self.core.l1_lookup(key)
        if entry is not None:
            if loader is None and not self.settings.stale_while_revalidate_s:
                return entry.value
            served = self._on_hit(
                key, entry.value, entry.soft_expiry, entry.delta, loader, ttl, tags
            )
            if served is not MISSING:
                return served
        value, _ = self.flight.do(key, lambda: self._fetch(key, loader, ttl, tags))
        return value

    def _on_hit(self, key, value, soft_expiry, delta, loader, ttl, tags) -> Any:
        if loader is None:
            return value if time.time() < soft_expiry else MISSING
        verdict = self.core.verdict(soft_expiry, delta)
        if verdict == "fresh":
            return value
        if verdict == "early":
            self.counts.early_recomputes += 1
            if self.flight.running(key):
                return value  # another reader is already recomputing it
            return self.flight.do(key, lambda: self._load(key, loader, ttl, tags))[0]
        if verdict == "stale":
            self.counts.stale_served += 1
            self._reload_later(key, loader, ttl, tags)
            return value
        return MISSING

    def _fetch(self, key: str, loader: Loader | None, ttl: float | None, tags: tuple[str, ...]):
        """L2, then the loader; runs once per key at a time (single-flight leader)."""
        core = self.core
        token = core.log.epoch
        try:
            stored = core.decode(self._call(self.l2.get, key))
        except TRANSIENT as exc:
            if loader is None or not transient(exc):
                raise
            self.counts.l2_errors += 1
            return self._load(key, loader, ttl, tags, store=False)
        action, value = core.settle(key, stored, token, loading=loader is not None)
        if action == "stale" and loader is not None:
            self._reload_later(key, loader, ttl, tags)
        if action in ("value", "stale"):
            return value
        if action == "missing" or loader is None:
            return MISSING
        return self._load(key, loader, ttl, tags)

    def _load(
        self, key: str, loader: Loader, ttl: float | None, tags: tuple[str, ...], store=True
    ) -> Any:
        start = time.perf_counter()
        try:
            value = loader()
        except Exception:
            self.counts.load_errors += 1
            raise
        delta = time.perf_counter() - start
        self.counts.loads += 1
        self.core.metrics.observe_load(delta)
        if store:
            data, ttl_ms = self.core.encode(key, value, ttl, delta)
            try:
                self._store({key: data}, {key: ttl_ms}, tags)
            except TRANSIENT as exc:
                if not transient(exc):
                    raise
                self.counts.l2_errors += 1  # the caller still gets the fresh value
            self.core.forget([key])  # an older copy in this L1 (a refresh) goes now
        return value

    def _reload_later(self, key: str, loader: Loader, ttl: float | None, tags: tuple[str, ...]):
        if self.flight.running(key) or key in self.refreshing:
            return
        self.refreshing.add(key)

        def reload() -> None:
            try:
                self.flight.do(key, lambda: self._load(key, loader, ttl, tags))
            except Exception:
                log.exception("background refresh of %r failed", key)
            finally:
                self.refreshing.discard(key)

        self.refresher.submit(reload)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values found (L1, then one slot-aware batch from L2)."""
        found, missing = self.core.l1_split(keys)
        if not missing:
            return found
        token = self.core.log.epoch
        datas = self._call(self.l2.get_many, missing)
        return self.core.settle_many(missing, datas, token, found)

    # -- writes -----------------------------------------------------------------

    def set(self, key: str, value: Any, ttl: float | None = None, tags: Iterable[str] = ()):
        self.set_many({key: value}, ttl, tags)

    def set_many(
        self, values: Mapping[str, Any], ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        """Write through to L2 (retried through a failover); every process's L1
        copy is invalidated."""
        data, ttls = self.core.encode_many(values, ttl)
        self._store(data, ttls, tuple(tags))
        self._changed(list(values))

    def _store(self, items: dict[str, bytes], ttls_ms: dict[str, int], tags: Iterable[str]):
        tags = tuple(tags)
        if len(items) == 1 and not tags:
            ((key, data),) = items.items()
            name = self.l2.keys.data(key)
            self._call(lambda: self.client.set(name, data, px=ttls_ms[key]))
        else:
            self._call(self.l2.set_many, items, ttls_ms, tags)

    def delete(self, *keys: str) -> int:
        deleted = self._call(self.l2.delete, list(keys))
        self._changed(list(keys))
        return int(deleted)

    def invalidate_tag(self, tag: str) -> int:
        """Delete every key stored with `tag` (in every process's L1 too)."""
        members = self._call(self.l2.tag_members, tag)
        deleted = self._call(self.l2.delete, members)
        self._call(self.l2.drop_tag, tag)
        self._changed(members)
        return int(deleted)

    def invalidate_prefix(self, prefix: str) -> int:
        """Delete every key starting with `prefix` (a SCAN of every primary)."""
        keys = self._call(self.l2.scan_prefix, prefix)
        deleted = self._call(self.l2.delete, keys)
        local = [k for k in self.core.l1.resident() if isinstance(k, str) and k.startswith(prefix)]
        self._changed(sorted(set(keys) | set(local)))
        return int(deleted)

    def _changed(self, keys: list[str]) -> None:
        self.core.forget(keys)
        self.core.note_change(keys)
        if self.core.invalidator.mode == "pubsub":
            self._call(self.l2.publish, self.core.invalidator.channel, keys)

    # -- plumbing ---------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """One attempt; on a failover-type error, retries until failover_timeout_s."""
        try:
            return fn(*args)
        except TRANSIENT as exc:
            if not transient(exc):
                raise
        return self.retry(fn, *args)

    def _retried(self) -> None:
        self.counts.retries += 1

    def cached(
        self,
        ttl: float | None = None,
        tags: Iterable[str] = (),
        key: Callable[..., str] | None = None,
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: cache a function's results by its arguments (or `key(*args)`)."""
        tags = tuple(tags)

        def decorate(fn: Callable[..., T]) -> Callable[..., T]:
            def key_of(*args: Any, **kwargs: Any) -> str:
                return key(*args, **kwargs) if key else function_key(fn, args, kwargs)

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> T:
                loader = functools.partial(fn, *args, **kwargs)
                result: T = self.get_or_load(key_of(*args, **kwargs), loader, ttl, tags)
                return result

            wrapper.cache_key = key_of  # type: ignore[attr-defined]
            wrapper.invalidate = lambda *a, **kw: self.delete(key_of(*a, **kw))  # type: ignore[attr-defined]
            return wrapper

        return decorate

    def close(self) -> None:
        self.refresher.shutdown(wait=False)
        self.core.close()
        self.client.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
