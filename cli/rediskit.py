"""Client-side helpers for a Redis Cluster provisioned by infra, used from the Docker host."""

from __future__ import annotations

from collections.abc import Mapping

import redis
from redis.cluster import RedisCluster


def node_client(host: str, port: int, password: str) -> redis.Redis:
    return redis.Redis(
        host=host, port=port, password=password, socket_timeout=2, decode_responses=True
    )


def cluster_info(host: str, port: int, password: str) -> dict[str, str]:
    raw = node_client(host, port, password).execute_command("CLUSTER INFO")
    if isinstance(raw, dict):  # redis-py parses the reply
        return {k: str(v) for k, v in raw.items()}
    return dict(line.split(":", 1) for line in str(raw).split() if ":" in line)


def cluster_ok(host: str, port: int, password: str) -> bool:
    info = cluster_info(host, port, password)
    return info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == "16384"


def topology(host: str, port: int, password: str) -> dict[str, list[str]]:
    """master address -> replica addresses, from CLUSTER NODES."""
    text = node_client(host, port, password).execute_command("CLUSTER NODES")
    if isinstance(text, dict):  # redis-py parses it into {addr: info}
        rows = [(addr, info) for addr, info in text.items()]
        masters = {
            info["node_id"]: addr.split("@")[0]
            for addr, info in rows
            if "master" in info["flags"] and "fail" not in info["flags"]
        }
        out: dict[str, list[str]] = {addr: [] for addr in masters.values()}
        for addr, info in rows:
            if "slave" in info["flags"] and info["master_id"] in masters:
                out[masters[info["master_id"]]].append(addr.split("@")[0])
        return out
    raise TypeError(f"unexpected CLUSTER NODES reply: {type(text)}")


def host_cluster_client(host_address_map: Mapping[str, str], password: str) -> RedisCluster:
    """redis-py cluster client on the Docker host: announced addresses are
    mapped to the published ports (`address_remap`)."""

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        mapped = host_address_map.get(f"{address[0]}:{address[1]}")
        if mapped is None:
            return address
        host, port = mapped.rsplit(":", 1)
        return host, int(port)

    seed_host, seed_port = next(iter(host_address_map.values())).rsplit(":", 1)
    return RedisCluster(
        host=seed_host,
        port=int(seed_port),
        password=password,
        decode_responses=True,
        address_remap=remap,
        socket_timeout=2,
    )


def slot_owner(host: str, port: int, password: str, slot: int) -> str:
    """Announced address of the master serving `slot`."""
    parsed = node_client(host, port, password).execute_command("CLUSTER NODES")
    for addr, info in parsed.items():
        if "master" not in info["flags"] or "fail" in info["flags"]:
            continue
        for bounds in info["slots"]:
            start, end = int(bounds[0]), int(bounds[-1])
            if start <= slot <= end:
                return str(addr).split("@")[0]
    raise LookupError(f"no master serves slot {slot}")


def replication_ok(host: str, port: int, password: str) -> bool:
    """A master, or a replica whose link to its master is up."""
    info = node_client(host, port, password).info("replication")
    return info["role"] == "master" or info.get("master_link_status") == "up"


def replication_role(host: str, port: int, password: str) -> str:
    return str(node_client(host, port, password).info("replication")["role"])
