"""cachekit: a two-level cache (in-process L1 + the Redis tier as L2) for applications.

    import cachekit
    cache = cachekit.connect("local")                    # a deployed stack, by name
    cache = cachekit.connect(outputs=stack_outputs)      # or its outputs mapping
    cache = cachekit.connect(url="redis://:pw@127.0.0.1:6379")

    user = cache.get_or_load(f"user:{uid}", lambda: db.load_user(uid), ttl=60)

    @cache.cached(ttl=30)
    def price(sku: str) -> int: ...

Importing cachekit imports redis-py, cachetools, tenacity and prometheus_client -
never Pulumi. docs/cache-kit.md has the design and the measurements.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cachekit.aio import AsyncCache
from cachekit.cache import Cache
from cachekit.core import Settings
from cachekit.endpoint import Endpoint
from cachekit.serializer import JsonSerializer, PickleSerializer, Serializer
from cachekit.ttl import AdaptiveTTL
from cachekit.warmer import AsyncWarmer, Warmer

__all__ = [
    "AdaptiveTTL",
    "AsyncCache",
    "AsyncWarmer",
    "Cache",
    "Endpoint",
    "JsonSerializer",
    "PickleSerializer",
    "Serializer",
    "Settings",
    "Warmer",
    "connect",
    "connect_async",
    "endpoint",
]


def endpoint(
    stack: str | None = None,
    *,
    outputs: Mapping[str, Any] | None = None,
    url: str | None = None,
    mode: str = "standalone",
    master_set: str | None = None,
) -> Endpoint:
    """Where the tier is: a stack name, its outputs, or a URL (with `mode`)."""
    if sum(x is not None for x in (stack, outputs, url)) != 1:
        raise ValueError("give exactly one of: stack, outputs, url")
    if stack is not None:
        return Endpoint.from_stack(stack, master_set)
    if outputs is not None:
        return Endpoint.from_outputs(outputs, master_set)
    assert url is not None
    return Endpoint.from_url(url, mode, master_set)


def connect(
    stack: str | None = None,
    *,
    outputs: Mapping[str, Any] | None = None,
    url: str | None = None,
    mode: str = "standalone",
    master_set: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> Cache:
    """A ready `Cache`: the right client (Cluster, Sentinel or one server) and the
    invalidation link. `options` are `Settings` fields (namespace="app", ...)."""
    where = endpoint(stack, outputs=outputs, url=url, mode=mode, master_set=master_set)
    return Cache(where, settings or Settings(**options))


async def connect_async(
    stack: str | None = None,
    *,
    outputs: Mapping[str, Any] | None = None,
    url: str | None = None,
    mode: str = "standalone",
    master_set: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> AsyncCache:
    """`connect` for asyncio: an `AsyncCache` with the same semantics."""
    where = endpoint(stack, outputs=outputs, url=url, mode=mode, master_set=master_set)
    return await AsyncCache.open(where, settings or Settings(**options))
