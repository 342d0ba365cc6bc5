"""A warmer: preload a key set at start, then keep the hottest keys fresh.

Preloading fills L2 (one slot-aware batch read, then the loader for what is
missing) so the first requests after a deploy do not all miss at once. Then,
every `interval_s`, the `top_n` keys L1 ranks hottest (W-TinyLFU's frequency
sketch; most recent under LRU) whose soft expiry falls within the next
`ahead_s` are reloaded in the background - the busiest keys are never found
expired, and the reload cost is spent on keys that are actually read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from cachekit.aio import AsyncCache
from cachekit.cache import Cache

log = logging.getLogger(__name__)


def due(cache: Cache | AsyncCache, top_n: int, ahead_s: float) -> list[str]:
    """The hottest L1 keys whose soft expiry is within `ahead_s`."""
    now = time.time()
    keys = []
    for key in cache.core.l1.hottest(top_n):
        entry = cache.core.l1.data.get(key)
        if entry is not None and isinstance(key, str) and entry.soft_expiry - now <= ahead_s:
            keys.append(key)
    return keys


class Warmer:
    """For a `Cache`; `loader(key)` computes one key's value."""

    def __init__(
        self,
        cache: Cache,
        loader: Callable[[str], Any],
        top_n: int = 100,
        interval_s: float = 5.0,
        ahead_s: float = 10.0,
        ttl: float | None = None,
    ) -> None:
        self.cache, self.loader = cache, loader
        self.top_n, self.interval_s, self.ahead_s, self.ttl = top_n, interval_s, ahead_s, ttl
        self.refreshed = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="cachekit-warmer", daemon=True)

    def preload(self, keys: Iterable[str]) -> int:
        """Load the keys L2 does not have; returns how many were loaded."""
        keys = list(keys)
        present = self.cache.get_many(keys)
        missing = [k for k in keys if k not in present]
        if missing:
            self.cache.set_many({k: self.loader(k) for k in missing}, self.ttl)
        return len(missing)

    def start(self, keys: Iterable[str] = ()) -> int:
        loaded = self.preload(keys)
        self.thread.start()
        return loaded

    def refresh_once(self) -> int:
        keys = due(self.cache, self.top_n, self.ahead_s)
        if keys:
            self.cache.set_many({k: self.loader(k) for k in keys}, self.ttl)
        self.refreshed += len(keys)
        return len(keys)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                self.refresh_once()
            except Exception:
                log.exception("warmer refresh failed")

    def stop(self) -> None:
        self.stopped.set()


class AsyncWarmer:
    """For an `AsyncCache`; `loader(key)` is a coroutine function."""

    def __init__(
        self,
        cache: AsyncCache,
        loader: Callable[[str], Awaitable[Any]],
        top_n: int = 100,
        interval_s: float = 5.0,
        ahead_s: float = 10.0,
        ttl: float | None = None,
    ) -> None:
        self.cache, self.loader = cache, loader
        self.top_n, self.interval_s, self.ahead_s, self.ttl = top_n, interval_s, ahead_s, ttl
        self.refreshed = 0
        self.task: asyncio.Task[None] | None = None

    async def _load(self, keys: list[str]) -> dict[str, Any]:
        values = await asyncio.gather(*(self.loader(k) for k in keys))
        return dict(zip(keys, values, strict=True))

    async def preload(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        present = await self.cache.get_many(keys)
        missing = [k for k in keys if k not in present]
        if missing:
            await self.cache.set_many(await self._load(missing), self.ttl)
        return len(missing)

    async def start(self, keys: Iterable[str] = ()) -> int:
        loaded = await self.preload(keys)
        self.task = asyncio.get_running_loop().create_task(self._run())
        return loaded

    async def refresh_once(self) -> int:
        keys = due(self.cache, self.top_n, self.ahead_s)
        if keys:
            await self.cache.set_many(await self._load(keys), self.ttl)
        self.refreshed += len(keys)
        return len(keys)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh_once()
            except Exception:
                log.exception("warmer refresh failed")

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
