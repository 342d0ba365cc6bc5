"""Where a Redis Cluster's roles sit now, across hosts, and moving them back.

Placement (components/placement.py) puts each shard's members on distinct hosts
and spreads the masters. Failovers then move masters: after a host comes back,
its nodes rejoin as replicas, and the masters can end up two on one host, or a
shard's master and its only live replica on one host. `report` says so, from
the live `CLUSTER NODES`; `rebalance` moves each shard's master back to the
node placement chose for it (its lowest-numbered member) with `CLUSTER
FAILOVER`, the same lossless hand-over rolling replacement uses.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cli.ops import cluster as rediskit
from cli.ops import waiting
from components.config_base import NodeOutput
from components.redis_config import RedisClusterExports

FAILOVER_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Shard:
    master: NodeOutput
    replicas: list[NodeOutput]

    def members(self) -> list[NodeOutput]:
        return [self.master, *self.replicas]


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def index_of(nodes: list[NodeOutput], node: NodeOutput) -> int:
    return next(i for i, n in enumerate(nodes) if n.name == node.name)


def live_shards(exports: RedisClusterExports) -> list[Shard]:
    """Every shard as the first answering node sees it (live masters only)."""
    by_address = {f"{n.ip}:{n.port}": n for n in exports.redis_nodes}
    last: Exception | None = None
    for node in exports.redis_nodes:
        endpoint = rediskit.host_endpoint(exports.redis_host_address_map, node.ip, node.port)
        try:
            topology = rediskit.topology(*endpoint, rediskit.Access.of(exports))
        except waiting.NOT_YET as exc:
            last = exc
            continue
        return [
            Shard(by_address[m], [by_address[r] for r in replicas if r in by_address])
            for m, replicas in sorted(topology.items())
            if m in by_address
        ]
    raise ConnectionError(f"no Redis node answers: {last}")


def report(exports: RedisClusterExports) -> Report:
    """Which node runs on which host in which role, and what losing one host
    would now break."""
    shards = live_shards(exports)
    out = Report()
    by_host: dict[str, list[str]] = {}
    for shard in shards:
        by_host.setdefault(shard.master.host or "-", []).append(f"{shard.master.name} (master)")
        for r in shard.replicas:
            by_host.setdefault(r.host or "-", []).append(f"{r.name} (replica)")
    out.lines = [f"{host}: {', '.join(sorted(names))}" for host, names in sorted(by_host.items())]
    out.warnings = warnings(shards)
    return out


def warnings(shards: list[Shard]) -> list[str]:
    found = []
    for shard in shards:
        hosts = {n.host for n in shard.members()}
        if len(hosts) == 1:
            who = ", ".join(n.name for n in shard.members())
            found.append(
                f"shard of {shard.master.name}: every live member ({who}) is on host "
                f"{shard.master.host}: losing it loses the shard"
            )
    masters = Counter(s.master.host for s in shards)
    for host, count in sorted(masters.items()):
        if 2 * count >= len(shards) and len(shards) > 1:
            found.append(
                f"host {host} holds {count} of {len(shards)} masters: losing it leaves no "
                "majority to promote their replicas"
            )
    return found


def planned_master(exports: RedisClusterExports, shard: Shard) -> NodeOutput:
    """The member placement made master: the lowest node index of the shard."""
    return min(shard.members(), key=lambda n: index_of(exports.redis_nodes, n))


def moves(exports: RedisClusterExports) -> list[tuple[NodeOutput, NodeOutput]]:
    """(current master, the replica to promote) for each shard off its plan."""
    out = []
    for shard in live_shards(exports):
        planned = planned_master(exports, shard)
        if planned.name != shard.master.name:
            out.append((shard.master, planned))
    return out


def rebalance(exports: RedisClusterExports) -> list[dict[str, Any]]:
    """Promote each shard's planned master back with `CLUSTER FAILOVER` (it
    waits for the replica to catch up with its master, so no write is lost)."""
    done = []
    for master, replica in moves(exports):
        endpoint = rediskit.host_endpoint(exports.redis_host_address_map, replica.ip, replica.port)
        if not rediskit.replication_ok(*endpoint, rediskit.Access.of(exports)):
            raise RuntimeError(f"{replica.name} is not in sync with its master: not promoted")
        with rediskit.node_client(*endpoint, rediskit.Access.of(exports)) as client:
            client.execute_command("CLUSTER FAILOVER")
        seconds = waiting.wait_until(
            functools.partial(is_master, exports, replica),
            FAILOVER_TIMEOUT_S,
            f"{replica.name} taking over from {master.name}",
        )
        # Done when the old master follows too, so the next read sees one master.
        seconds += waiting.wait_until(
            functools.partial(is_replica, exports, master),
            FAILOVER_TIMEOUT_S,
            f"{master.name} following {replica.name}",
        )
        done.append(
            {"from": master.name, "to": replica.name, "host": replica.host, "s": round(seconds, 2)}
        )
    return done


def is_master(exports: RedisClusterExports, node: NodeOutput) -> bool:
    endpoint = rediskit.host_endpoint(exports.redis_host_address_map, node.ip, node.port)
    return bool(
        rediskit.replication_info(*endpoint, rediskit.Access.of(exports))["role"] == "master"
    )


def is_replica(exports: RedisClusterExports, node: NodeOutput) -> bool:
    return not is_master(exports, node)


def placed(outputs: Mapping[str, Any]) -> bool:
    """The deployed cluster runs across hosts (its nodes carry a host)."""
    return any((n or {}).get("host") for n in outputs.get("redisNodes") or [])
