"""Where the Redis tier is and how to reach it: one value for every client cachekit builds.

The data clients reuse the repo's remap logic (`cli.ops.cluster.host_endpoint`,
`cli.ops.sentinel.RemappedSentinel`): the nodes announce container addresses the
Docker host cannot reach, and `redisHostAddressMap` maps them to published ports.
Those modules import only redis-py. cachekit builds its own clients (bytes, not
decoded strings: values are serialized) instead of the repo's decode_responses ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.cluster import RedisCluster

from cachekit import outputs as tier_outputs
from cli.ops.cluster import host_endpoint
from components.redis_handover import tls_kwargs

TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Endpoint:
    """A Redis Cluster, a Sentinel master set, or a single server."""

    mode: str  # "cluster" | "sentinel" | "standalone"
    seeds: list[tuple[str, int]]  # cluster seed nodes, Sentinels, or the one server
    password: str | None = None
    address_map: dict[str, str] = field(default_factory=dict)
    master_set: str | None = None
    timeout_s: float = TIMEOUT_S
    # TLS (redis.tls): the CA to verify the nodes with; None: plaintext.
    ca_pem: str | None = None
    # Who `password` logs in as; None: Redis' `default` user.
    username: str | None = None

    @classmethod
    def from_outputs(
        cls, outputs: Mapping[str, Any] | tier_outputs.TierOutputs, master_set: str | None = None
    ) -> Endpoint:
        """From a deployed stack's outputs. Sentinel mode serves one master set
        (the first unless named): cachekit does not shard across master sets."""
        tier = outputs if isinstance(outputs, tier_outputs.TierOutputs) else None
        tier = tier or tier_outputs.from_mapping(outputs)  # type: ignore[arg-type]
        if tier.mode == "cluster":
            seeds = [_split(a) for a in tier.host_address_map.values()]
            return cls(
                "cluster",
                seeds,
                tier.password,
                tier.host_address_map,
                ca_pem=tier.ca_pem,
                username=tier.username,
            )
        chosen = master_set or tier.master_sets[0]
        if chosen not in tier.master_sets:
            raise ValueError(f"master set {chosen!r} not in {tier.master_sets}")
        return cls(
            "sentinel",
            tier.sentinels,
            tier.password,
            tier.host_address_map,
            chosen,
            ca_pem=tier.ca_pem,
            username=tier.username,
        )

    @classmethod
    def from_stack(cls, stack: str, master_set: str | None = None) -> Endpoint:
        return cls.from_outputs(tier_outputs.from_stack(stack), master_set)

    @classmethod
    def from_url(
        cls, url: str, mode: str = "standalone", master_set: str | None = None
    ) -> Endpoint:
        """`redis://[user:password@]host:port[,host:port...]`; mode says what the
        hosts are."""
        parsed = urlparse(url)
        password = unquote(parsed.password) if parsed.password else None
        username = unquote(parsed.username) if parsed.username else None
        hosts = parsed.netloc.rpartition("@")[2]
        seeds = [_split(h if ":" in h else f"{h}:6379") for h in hosts.split(",")]
        return cls(mode, seeds, password, master_set=master_set, username=username)

    def remap(self, address: tuple[str, int]) -> tuple[str, int]:
        return host_endpoint(self.address_map, *address)

    def client(self) -> Any:
        """A redis-py client (bytes replies) that follows redirects and failovers."""
        if self.mode == "cluster":
            return RedisCluster(
                startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in self.seeds],
                address_remap=self.remap,
                **self._kwargs(),
            )
        if self.mode == "sentinel":
            return self.sentinel().master_for(self._master_set(), **self._kwargs())
        host, port = self.seeds[0]
        return redis.Redis(host=host, port=port, **self._kwargs())

    def async_client(self) -> Any:
        """The same as `client()`, for asyncio."""
        if self.mode == "cluster":
            return aioredis.RedisCluster(
                startup_nodes=[aioredis.cluster.ClusterNode(h, p) for h, p in self.seeds],
                address_remap=self.remap,
                **self._kwargs(),
            )
        if self.mode == "sentinel":
            sentinel = AsyncRemappedSentinel(
                self.address_map, self.seeds, sentinel_kwargs=self._kwargs()
            )
            return sentinel.master_for(self._master_set(), **self._kwargs())
        host, port = self.seeds[0]
        return aioredis.Redis(host=host, port=port, **self._kwargs())

    def sentinel(self) -> Any:
        """`cli.ops.sentinel.RemappedSentinel`, imported here: only Sentinel mode
        needs it, and it brings the tier's typed output models along."""
        from cli.ops.sentinel import RemappedSentinel

        return RemappedSentinel(self.address_map, self.seeds, sentinel_kwargs=self._kwargs())

    def primaries(self, client: Any) -> list[tuple[str, int]]:
        """The reachable addresses of the current primaries (where writes land)."""
        if self.mode == "cluster":
            return [(n.host, n.port) for n in client.get_primaries()]
        if self.mode == "sentinel":
            return [self.sentinel().discover_master(self._master_set())]
        return [self.seeds[0]]

    def _master_set(self) -> str:
        if not self.master_set:
            raise ValueError("a Sentinel endpoint needs a master set")
        return self.master_set

    def login(self) -> dict[str, Any]:
        """A single connection's login and TLS options (the invalidation link)."""
        tls = tls_kwargs(self.ca_pem)
        tls.pop("ssl", None)  # SSLConnection's options do not take it
        return {"username": self.username, "password": self.password, **tls}

    def _kwargs(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "password": self.password,
            "socket_timeout": self.timeout_s,
            "socket_connect_timeout": self.timeout_s,
            **tls_kwargs(self.ca_pem),
        }


class AsyncRemappedSentinel(AsyncSentinel):
    """`cli.ops.sentinel.RemappedSentinel` for redis.asyncio (same reasoning)."""

    def __init__(self, address_map: Mapping[str, str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.address_map = dict(address_map)

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        host, port = await super().discover_master(service_name)
        return host_endpoint(self.address_map, host, port)

    def filter_slaves(self, slaves: Any) -> list[tuple[str, int]]:
        found = super().filter_slaves(slaves)
        return [host_endpoint(self.address_map, str(h), int(p)) for h, p in found]


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)
