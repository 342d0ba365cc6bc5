"""A dataset of every Redis value type, some keys with a TTL, for backup tests:
written through any redis-py client, then compared key by key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TTL_S = 3600
TYPES = ("string", "hash", "list", "set", "zset", "binary")


@dataclass(frozen=True)
class Expected:
    kind: str
    value: Any
    ttl_s: int  # 0: no expiry


def fill(client: Any, prefix: str, count: int) -> dict[str, Expected]:
    """Write `count` keys named `{prefix}:{i}` (types in turn; every third has a TTL)."""
    expected: dict[str, Expected] = {}
    pipe = client.pipeline(transaction=False) if not _is_cluster(client) else client.pipeline()
    for i in range(count):
        key, kind = f"{prefix}:{i}", TYPES[i % len(TYPES)]
        value = _value(kind, i)
        _write(pipe, key, kind, value)
        ttl = TTL_S if i % 3 == 0 else 0
        if ttl:
            pipe.expire(key, ttl)
        expected[key] = Expected(kind, value, ttl)
    pipe.execute()
    return expected


def _is_cluster(client: Any) -> bool:
    return type(client).__name__ == "RedisCluster"


def _value(kind: str, i: int) -> Any:
    if kind == "hash":
        return {b"f1": str(i).encode(), b"f2": b"x" * (i % 50)}
    if kind == "list":
        return [str(i + j).encode() for j in range(3)]
    if kind == "set":
        return {b"a", str(i).encode()}
    if kind == "zset":
        return [(b"m1", float(i)), (b"m2", float(i) + 0.5)]
    if kind == "binary":
        return bytes(range(256))[i % 200 :] + b"\x00\xff"
    return f"value-{i}".encode()


def _write(pipe: Any, key: str, kind: str, value: Any) -> None:
    if kind == "hash":
        pipe.hset(key, mapping=value)
    elif kind == "list":
        pipe.rpush(key, *value)
    elif kind == "set":
        pipe.sadd(key, *value)
    elif kind == "zset":
        pipe.zadd(key, dict(value))
    else:
        pipe.set(key, value)


def read(client: Any, key: str, kind: str) -> Any:
    if kind == "hash":
        return client.hgetall(key)
    if kind == "list":
        return client.lrange(key, 0, -1)
    if kind == "set":
        return client.smembers(key)
    if kind == "zset":
        return client.zrange(key, 0, -1, withscores=True)
    return client.get(key)


def differences(client: Any, expected: dict[str, Expected], elapsed_s: float) -> list[str]:
    """What differs (value, type or TTL) between `client`'s keys and `expected`;
    a TTL may have run down by at most `elapsed_s` (plus a second of rounding)."""
    out = []
    for key, want in expected.items():
        got = read(client, key, want.kind)
        if _normal(got) != _normal(want.value):
            out.append(f"{key}: {want.kind} {got!r} != {want.value!r}")
            continue
        ttl = client.ttl(key)
        if want.ttl_s == 0 and ttl != -1:
            out.append(f"{key}: TTL {ttl}, expected none")
        elif want.ttl_s and not (want.ttl_s - elapsed_s - 1 <= ttl <= want.ttl_s):
            out.append(f"{key}: TTL {ttl}, expected {want.ttl_s} less at most {elapsed_s:.0f}s")
    return out


def _normal(value: Any) -> Any:
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return [(m, float(s)) for m, s in value]
    return value
