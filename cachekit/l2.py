"""L2: the Redis tier. Keys are `<namespace>:<key>`; tag sets `<namespace>#tag:<tag>`
(outside the tracked prefix, so tag bookkeeping sends no invalidations).

Batch operations respect cluster slots: redis-py's `mget_nonatomic` sends one
MGET per slot, a cluster pipeline groups SETs by node, and multi-key DEL is split
by slot - a plain MGET across slots would be refused (CROSSSLOT).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from redis.cluster import RedisCluster


class Keys:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.prefix = f"{namespace}:"

    def data(self, key: str) -> str:
        return self.prefix + key

    def tag(self, tag: str) -> str:
        return f"{self.namespace}#tag:{tag}"


class L2:
    """Synchronous L2 operations on a redis-py client (Redis, Sentinel master, cluster)."""

    def __init__(self, client: Any, namespace: str) -> None:
        self.client = client
        self.keys = Keys(namespace)
        self.cluster = isinstance(client, RedisCluster)

    def get(self, key: str) -> bytes | None:
        data: bytes | None = self.client.get(self.keys.data(key))
        return data

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        names = [self.keys.data(k) for k in keys]
        if self.cluster:
            return list(self.client.mget_nonatomic(names))
        return list(self.client.mget(names))

    def set_many(self, items: Mapping[str, bytes], ttls_ms: Mapping[str, int], tags: Iterable[str]):
        pipe = self.client.pipeline(transaction=False)
        for key, data in items.items():
            pipe.set(self.keys.data(key), data, px=ttls_ms[key])
        for tag in tags:
            pipe.sadd(self.keys.tag(tag), *items)
        pipe.execute()

    def delete(self, keys: list[str]) -> int:
        return int(self.client.delete(*[self.keys.data(k) for k in keys])) if keys else 0

    def publish(self, channel: str, keys: list[str]) -> None:
        for key in keys:
            self.client.publish(channel, self.keys.data(key))

    def tag_members(self, tag: str) -> list[str]:
        return sorted(_text(m) for m in self.client.smembers(self.keys.tag(tag)))

    def drop_tag(self, tag: str) -> None:
        self.client.delete(self.keys.tag(tag))

    def scan_prefix(self, prefix: str) -> list[str]:
        cut = len(self.keys.prefix)
        pattern = _glob_escape(self.keys.data(prefix)) + "*"
        return [_text(k)[cut:] for k in self.client.scan_iter(match=pattern, count=1000)]


class AsyncL2:
    """The same operations on a redis.asyncio client."""

    def __init__(self, client: Any, namespace: str) -> None:
        from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

        self.client = client
        self.keys = Keys(namespace)
        self.cluster = isinstance(client, AsyncRedisCluster)

    async def get(self, key: str) -> bytes | None:
        data: bytes | None = await self.client.get(self.keys.data(key))
        return data

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        names = [self.keys.data(k) for k in keys]
        if self.cluster:
            return list(await self.client.mget_nonatomic(names))
        return list(await self.client.mget(names))

    async def set_many(
        self, items: Mapping[str, bytes], ttls_ms: Mapping[str, int], tags: Iterable[str]
    ) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, data in items.items():
            pipe.set(self.keys.data(key), data, px=ttls_ms[key])
        for tag in tags:
            pipe.sadd(self.keys.tag(tag), *items)
        await pipe.execute()

    async def delete(self, keys: list[str]) -> int:
        return int(await self.client.delete(*[self.keys.data(k) for k in keys])) if keys else 0

    async def publish(self, channel: str, keys: list[str]) -> None:
        for key in keys:
            await self.client.publish(channel, self.keys.data(key))

    async def tag_members(self, tag: str) -> list[str]:
        return sorted(_text(m) for m in await self.client.smembers(self.keys.tag(tag)))

    async def drop_tag(self, tag: str) -> None:
        await self.client.delete(self.keys.tag(tag))

    async def scan_prefix(self, prefix: str) -> list[str]:
        cut = len(self.keys.prefix)
        pattern = _glob_escape(self.keys.data(prefix)) + "*"
        return [_text(k)[cut:] async for k in self.client.scan_iter(match=pattern, count=1000)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
