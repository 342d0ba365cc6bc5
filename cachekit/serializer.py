"""How values become bytes in Redis, plus the small header cachekit keeps with them.

The default is pickle (protocol 5): the fastest general serializer in the
standard library, and every Python value an application caches round-trips.
Unpickling runs code, so the tier must be trusted (it is password-protected and
reachable only on the stack's network or the host); `JsonSerializer` is there
for data shared with non-Python readers or less trusted tiers. Any object with
`dumps`/`loads` works.

The header records, per value, when it should be recomputed (`soft_expiry`,
wall clock, shared by every process) and how long computing it took (`delta`):
the two inputs of XFetch's early recomputation.
"""

from __future__ import annotations

import json
import pickle
import struct
from dataclasses import dataclass
from typing import Any, Protocol

HEADER = struct.Struct("<Bdd")
VERSION = 1


class Serializer(Protocol):
    def dumps(self, value: Any) -> bytes: ...
    def loads(self, data: bytes) -> Any: ...


class PickleSerializer:
    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=5)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class JsonSerializer:
    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


@dataclass(frozen=True, slots=True)
class Stored:
    """A value as read back from L2."""

    value: Any
    size: int
    soft_expiry: float
    delta: float


def pack(serializer: Serializer, value: Any, soft_expiry: float, delta: float) -> bytes:
    return HEADER.pack(VERSION, soft_expiry, delta) + serializer.dumps(value)


def unpack(serializer: Serializer, data: bytes) -> Stored | None:
    """None for bytes another writer put under our prefix (not cachekit's format)."""
    if len(data) < HEADER.size or data[0] != VERSION:
        return None
    _, soft_expiry, delta = HEADER.unpack_from(data)
    return Stored(serializer.loads(data[HEADER.size :]), len(data), soft_expiry, delta)
