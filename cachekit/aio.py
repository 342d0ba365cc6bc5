"""The asyncio cache: `Cache`'s semantics with redis.asyncio for L2.

L1, the invalidation link (its own threads and connections, one per primary),
metrics and every decision are the shared `Core`; only the L2 calls, the
single-flight and the retries are coroutine versions.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from time import monotonic
from typing import Any, TypeVar

from cachekit.core import MISSING, Core, Settings
from cachekit.endpoint import Endpoint
from cachekit.keys import function_key
from cachekit.l2 import AsyncL2
from cachekit.retry import TRANSIENT, async_retrying, transient
from cachekit.stampede import AsyncSingleFlight

log = logging.getLogger(__name__)
T = TypeVar("T")
AsyncLoader = Callable[[], Awaitable[Any]]


class AsyncCache:
    """Use from one event loop. Create with `await AsyncCache.open(...)`."""

    def __init__(self, endpoint: Endpoint, settings: Settings | None = None, client: Any = None):
        self.settings = settings or Settings()
        self.core = Core(endpoint, self.settings)
        self.counts = self.core.counts
        self.client = client or endpoint.async_client()
        self.l2 = AsyncL2(self.client, self.settings.namespace)
        self.flight = AsyncSingleFlight()
        self.retry = async_retrying(self.settings.failover_timeout_s, self._retried)
        self.background: set[asyncio.Task[Any]] = set()
        self.refreshing: set[str] = set()
        self.invalidator = self.core.invalidator
        self.sample = self.core.l1.sample
        self.fast_hits = not self.settings.stale_while_revalidate_s and self.sample > 1
        self.linked = False

    @classmethod
    async def open(cls, endpoint: Endpoint, settings: Settings | None = None) -> AsyncCache:
        cache = cls(endpoint, settings)
        cache.linked = await asyncio.to_thread(cache.core.invalidator.start)
        return cache

    @property
    def metrics(self) -> Any:
        return self.core.metrics

    def stats(self) -> dict[str, Any]:
        return self.core.stats()

    async def get(self, key: str, default: Any = None) -> Any:
        entry = self.core.l1.data.get(key)  # the L1 hit path, as in Cache.get
        if entry is not None and self.fast_hits:
            now = monotonic()
            if entry.expires > now and now <= self.invalidator.fresh_until:
                entry.hits += 1
                if entry.hits % self.sample == 1:
                    self.core.l1.hit(key)
                self.counts.l1_hits += 1
                return entry.value
        value = await self._get(key, None, None, ())
        return default if value is MISSING else value

    async def get_or_load(
        self, key: str, loader: AsyncLoader, ttl: float | None = None, tags: Iterable[str] = ()
    ) -> Any:
        return await self._get(key, loader, ttl, tuple(tags))

    async def _get(self, key, loader, ttl, tags) -> Any:
        entry = self.core.l1_lookup(key)
        if entry is not None:
            if loader is None and not self.settings.stale_while_revalidate_s:
                return entry.value
            served = await self._on_hit(
                key, entry.value, entry.soft_expiry, entry.delta, loader, ttl, tags
            )
            if served is not MISSING:
                return served
        value, _ = await self.flight.do(key, lambda: self._fetch(key, loader, ttl, tags))
        return value

    async def _on_hit(self, key, value, soft_expiry, delta, loader, ttl, tags) -> Any:
        if loader is None:
            return value if time.time() < soft_expiry else MISSING
        verdict = self.core.verdict(soft_expiry, delta)
        if verdict == "fresh":
            return value
        if verdict == "early":
            self.counts.early_recomputes += 1
            if self.flight.running(key):
                return value
            return (await self.flight.do(key, lambda: self._load(key, loader, ttl, tags)))[0]
        if verdict == "stale":
            self.counts.stale_served += 1
            self._reload_later(key, loader, ttl, tags)
            return value
        return MISSING

    async def _fetch(self, key, loader, ttl, tags) -> Any:
        core = self.core
        token = core.log.epoch
        try:
            stored = core.decode(await self._call(self.l2.get, key))
        except TRANSIENT as exc:
            if loader is None or not transient(exc):
                raise
            self.counts.l2_errors += 1
            return await self._load(key, loader, ttl, tags, store=False)
        action, value = core.settle(key, stored, token, loading=loader is not None)
        if action == "stale" and loader is not None:
            self._reload_later(key, loader, ttl, tags)
        if action in ("value", "stale"):
            return value
        if action == "missing" or loader is None:
            return MISSING
        return await self._load(key, loader, ttl, tags)

    async def _load(self, key, loader, ttl, tags, store: bool = True) -> Any:
        start = time.perf_counter()
        try:
            value = await loader()
        except Exception:
            self.counts.load_errors += 1
            raise
        delta = time.perf_counter() - start
        self.counts.loads += 1
        self.core.metrics.observe_load(delta)
        if store:
            data, ttl_ms = self.core.encode(key, value, ttl, delta)
            try:
                await self._store({key: data}, {key: ttl_ms}, tags)
            except TRANSIENT as exc:
                if not transient(exc):
                    raise
                self.counts.l2_errors += 1
            self.core.forget([key])
        return value

    def _reload_later(self, key, loader, ttl, tags) -> None:
        if self.flight.running(key) or key in self.refreshing:
            return
        self.refreshing.add(key)

        async def reload() -> None:
            try:
                await self.flight.do(key, lambda: self._load(key, loader, ttl, tags))
            except Exception:
                log.exception("background refresh of %r failed", key)
            finally:
                self.refreshing.discard(key)

        task = asyncio.get_running_loop().create_task(reload())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        found, missing = self.core.l1_split(keys)
        if not missing:
            return found
        token = self.core.log.epoch
        datas = await self._call(self.l2.get_many, missing)
        return self.core.settle_many(missing, datas, token, found)

    async def set(self, key: str, value: Any, ttl: float | None = None, tags: Iterable[str] = ()):
        await self.set_many({key: value}, ttl, tags)

    async def set_many(
        self, values: Mapping[str, Any], ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        data, ttls = self.core.encode_many(values, ttl)
        await self._store(data, ttls, tuple(tags))
        await self._changed(list(values))

    async def _store(self, items: dict[str, bytes], ttls_ms: dict[str, int], tags) -> None:
        tags = tuple(tags)
        if len(items) == 1 and not tags:
            ((key, data),) = items.items()
            name = self.l2.keys.data(key)
            await self._call(lambda: self.client.set(name, data, px=ttls_ms[key]))
        else:
            await self._call(self.l2.set_many, items, ttls_ms, tags)

    async def delete(self, *keys: str) -> int:
        deleted = await self._call(self.l2.delete, list(keys))
        await self._changed(list(keys))
        return int(deleted)

    async def invalidate_tag(self, tag: str) -> int:
        members = await self._call(self.l2.tag_members, tag)
        deleted = await self._call(self.l2.delete, members)
        await self._call(self.l2.drop_tag, tag)
        await self._changed(members)
        return int(deleted)

    async def invalidate_prefix(self, prefix: str) -> int:
        keys = await self._call(self.l2.scan_prefix, prefix)
        deleted = await self._call(self.l2.delete, keys)
        local = [k for k in self.core.l1.resident() if isinstance(k, str) and k.startswith(prefix)]
        await self._changed(sorted(set(keys) | set(local)))
        return int(deleted)

    async def _changed(self, keys: list[str]) -> None:
        self.core.forget(keys)
        self.core.note_change(keys)
        if self.core.invalidator.mode == "pubsub":
            await self._call(self.l2.publish, self.core.invalidator.channel, keys)

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        try:
            return await fn(*args)
        except TRANSIENT as exc:
            if not transient(exc):
                raise
        return await self.retry(fn, *args)

    def _retried(self) -> None:
        self.counts.retries += 1

    def cached(
        self,
        ttl: float | None = None,
        tags: Iterable[str] = (),
        key: Callable[..., str] | None = None,
    ) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
        """Decorator for coroutine functions (same keys as `Cache.cached`)."""
        tags = tuple(tags)

        def decorate(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
            def key_of(*args: Any, **kwargs: Any) -> str:
                return key(*args, **kwargs) if key else function_key(fn, args, kwargs)

            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> T:
                loader = functools.partial(fn, *args, **kwargs)
                result: T = await self.get_or_load(key_of(*args, **kwargs), loader, ttl, tags)
                return result

            wrapper.cache_key = key_of  # type: ignore[attr-defined]
            wrapper.invalidate = lambda *a, **kw: self.delete(key_of(*a, **kw))  # type: ignore[attr-defined]
            return wrapper

        return decorate

    async def close(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.to_thread(self.core.close)
        await self.client.aclose()

    async def __aenter__(self) -> AsyncCache:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
