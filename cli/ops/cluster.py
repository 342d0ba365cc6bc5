"""Client-side helpers for a Redis tier provisioned by infra, used from the Docker host.

Nodes announce their container addresses; the host reaches them through the
published ports listed in the stack's `redisHostAddressMap` output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from components.redis_handover import tls_kwargs

TIMEOUT_S = 2.0
# One attempt per call: these clients probe ("does it answer within 2 s?") and
# callers poll on their own. redis-py 8 retries 3 times with backoff by default,
# which turns one unreachable host (packets dropped) into ~10 s per node.
ONE_ATTEMPT = Retry(NoBackoff(), 0)


@dataclass(frozen=True)
class Access:
    """How this machine logs in to a tier's nodes: the password of `username`
    (the `redisAdminUser` output with `redis.defaultUser: disabled`; None: the
    `default` user) and, with `redis.tls`, the CA the nodes' certificates chain
    to (the `redisCaCert` output)."""

    password: str | None
    ca_pem: str | None = None
    username: str | None = None

    @classmethod
    def of(cls, exports: Any) -> Access:
        """From a Redis tier's exports (either mode)."""
        return cls(exports.redis_password, exports.redis_ca_cert, exports.redis_admin_user)

    def kwargs(self) -> dict[str, Any]:
        """redis-py connection options."""
        return {
            "username": self.username,
            "password": self.password,
            **tls_kwargs(self.ca_pem),
        }


def access_of(credentials: Access | str | None) -> Access:
    """A bare password is the `default` user over plaintext."""
    return credentials if isinstance(credentials, Access) else Access(credentials)


def host_endpoint(remap: Mapping[str, str], ip: str, port: int) -> tuple[str, int]:
    """Where the host reaches an announced address: its published port, or itself."""
    mapped = remap.get(f"{ip}:{port}", f"{ip}:{port}")
    host, _, mapped_port = mapped.rpartition(":")
    return host, int(mapped_port)


def node_client(host: str, port: int, access: Access | str | None) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=port,
        **access_of(access).kwargs(),
        socket_timeout=TIMEOUT_S,
        socket_connect_timeout=TIMEOUT_S,
        decode_responses=True,
        retry=ONE_ATTEMPT,
    )


def cluster_info(host: str, port: int, access: Access | str) -> dict[str, str]:
    with node_client(host, port, access) as client:
        raw = client.execute_command("CLUSTER INFO")
    if isinstance(raw, dict):  # redis-py parses the reply
        return {k: str(v) for k, v in raw.items()}
    return dict(line.split(":", 1) for line in str(raw).split() if ":" in line)


def cluster_ok(host: str, port: int, access: Access | str) -> bool:
    info = cluster_info(host, port, access)
    return info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == "16384"


def live_masters(
    host: str, port: int, access: Access | str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(every node, the masters not marked failed) from CLUSTER NODES, keyed by
    announced address (redis-py parses the reply into {addr@bus: info})."""
    with node_client(host, port, access) as client:
        parsed = client.execute_command("CLUSTER NODES")
    if not isinstance(parsed, dict):
        raise TypeError(f"unexpected CLUSTER NODES reply: {type(parsed)}")
    nodes = {str(addr).split("@")[0]: info for addr, info in parsed.items()}
    masters = {
        addr: info
        for addr, info in nodes.items()
        if "master" in info["flags"] and "fail" not in info["flags"]
    }
    return nodes, masters


def topology(host: str, port: int, access: Access | str) -> dict[str, list[str]]:
    """master address -> replica addresses."""
    nodes, masters = live_masters(host, port, access)
    by_id = {info["node_id"]: addr for addr, info in masters.items()}
    out: dict[str, list[str]] = {addr: [] for addr in masters}
    for addr, info in nodes.items():
        if "slave" in info["flags"] and info["master_id"] in by_id:
            out[by_id[info["master_id"]]].append(addr)
    return out


def master_slots(host: str, port: int, access: Access | str) -> dict[str, list[tuple[int, int]]]:
    """master address -> the slot ranges it serves."""
    _, masters = live_masters(host, port, access)
    return {
        addr: [(int(bounds[0]), int(bounds[-1])) for bounds in info["slots"]]
        for addr, info in masters.items()
    }


def owner_of(slots: Mapping[str, list[tuple[int, int]]], slot: int) -> str:
    for addr, ranges in slots.items():
        if any(start <= slot <= end for start, end in ranges):
            return addr
    raise LookupError(f"no master serves slot {slot}")


def host_cluster_client(
    host_address_map: Mapping[str, str],
    access: Access | str,
    decode: bool = True,
) -> RedisCluster:
    """redis-py cluster client on the Docker host: announced addresses are
    mapped to the published ports (`address_remap`). `access.username`: an
    application user (`redis.users`); without it, the `default` user."""

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        return host_endpoint(host_address_map, *address)

    seed_host, seed_port = next(iter(host_address_map.values())).rsplit(":", 1)
    return RedisCluster(
        host=seed_host,
        port=int(seed_port),
        **access_of(access).kwargs(),
        decode_responses=decode,
        address_remap=remap,
        socket_timeout=TIMEOUT_S,
    )


def replication_info(host: str, port: int, access: Access | str) -> dict[str, Any]:
    with node_client(host, port, access) as client:
        return dict(client.info("replication"))


def replication_ok(host: str, port: int, access: Access | str) -> bool:
    """A master, or a replica whose link to its master is up."""
    info = replication_info(host, port, access)
    return info["role"] == "master" or info.get("master_link_status") == "up"
