"""Which Docker host runs which node, so that losing any one host loses no shard.

Pure decisions over host names: the stack root checks them against
`infra:hosts` before any engine call, and the program places nodes with them
(docs/multi-host.md).

A Redis Cluster survives the loss of a host only if two things hold after it:
every shard still has a member (a master and its replicas never share a host),
and the masters left are a majority of all masters, because only masters vote
in a replica's failover election (Redis Cluster spec, "Replica election and
promotion"). The second one is easy to miss: 4 shards with one replica each on
3 hosts keep a member of every shard, but the host holding 2 masters takes half
the voters with it, and no replica is ever promoted. Sentinels are placed one
per host (a lost host takes at most one vote from the quorum) and Mongo members
likewise (a lost host takes at most one vote from the replica set's majority).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from components.config_base import Model


class PlacementConfig(Model):
    """`placement:` of a component, used only when the stack has `hosts`.

    `pins`: node index -> host name, placed before the automatic spread (Redis
    Cluster node i is shard i mod shards, member i // shards: nodes 0..shards-1
    are the first masters; Sentinel mode: group g's member k is node
    g * (1 + replicas) + k; Mongo: member i, the arbiter last).
    `allowColocation`: accept fewer hosts than losing any one needs; `validate`
    and `status` then warn.
    """

    pins: dict[int, str] = Field(default_factory=dict)
    allow_colocation: bool = False


def cluster_pins(pins: Mapping[int, str], shards: int) -> dict[tuple[int, int], str]:
    """Node-index pins as (shard, member) pins."""
    return {(i % shards, i // shards): host for i, host in pins.items()}


def node_index(shard: int, member: int, shards: int) -> int:
    return member * shards + shard


class PlacementError(ValueError):
    """Too few hosts for the topology, or a pin that breaks anti-affinity."""


@dataclass(frozen=True)
class ClusterPlacement:
    """hosts[shard][member]: member 0 is the shard's first master."""

    hosts: list[list[str]]
    warnings: list[str]

    def master_hosts(self) -> list[str]:
        return [shard[0] for shard in self.hosts]

    def node_hosts(self) -> list[str]:
        """The host of node i (`node_index`: masters first)."""
        shards, size = len(self.hosts), len(self.hosts[0])
        return [self.hosts[i % shards][i // shards] for i in range(shards * size)]


def cluster_hosts_needed(shards: int, replicas: int) -> int:
    """The fewest hosts on which any one can be lost: every shard keeps a member
    and the other masters keep a majority (masters spread round-robin)."""
    if shards < 3:
        raise PlacementError(
            f"{shards} shard(s): a lost master leaves no majority of masters to elect its "
            "replica, on any number of hosts; use at least 3 shards"
        )
    hosts = 1 + replicas
    while not _survives_any_loss(shards, replicas, hosts):
        hosts += 1
    return hosts


def _survives_any_loss(shards: int, replicas: int, hosts: int) -> bool:
    if hosts < 1 + replicas:
        return False
    most_masters_on_one = -(-shards // hosts)  # ceil: round-robin spread
    return 2 * (shards - most_masters_on_one) > shards


def place_cluster(
    shards: int,
    replicas: int,
    hosts: Sequence[str],
    pins: Mapping[tuple[int, int], str] | None = None,
    allow_colocation: bool = False,
) -> ClusterPlacement:
    """Shard i's member j on host (i + j) mod H: masters round-robin, each
    replica on the next hosts. `pins` fix (shard, member) -> host first; a pin
    that puts two members of a shard on one host is refused."""
    _check_hosts(hosts)
    needed = cluster_hosts_needed(shards, replicas)
    warnings = []
    if len(hosts) < needed:
        message = (
            f"{shards} shards x (1 + {replicas}) need at least {needed} hosts so that losing "
            f"any one keeps every shard and a majority of masters; {len(hosts)} given"
        )
        if not allow_colocation:
            raise PlacementError(f"{message}: add hosts, or set placement.allowColocation: true")
        warnings.append(f"co-located: {message}")
    pins = dict(pins or {})
    _check_pins(pins, shards, replicas, hosts)
    placed = [
        [pins.get((i, j), hosts[(i + j) % len(hosts)]) for j in range(1 + replicas)]
        for i in range(shards)
    ]
    placement = ClusterPlacement(placed, warnings)
    problems = _weak_hosts(placement, hosts)
    if problems and not allow_colocation:
        raise PlacementError(f"{problems[0]}: change the pins")
    if not warnings:
        warnings.extend(problems)
    return placement


def _weak_hosts(placement: ClusterPlacement, hosts: Sequence[str]) -> list[str]:
    """What losing each host would break."""
    out = []
    shards = len(placement.hosts)
    for i, members in enumerate(placement.hosts):
        shared = sorted(h for h, n in Counter(members).items() if n > 1)
        if shared:
            out.append(f"shard {i} has two members on {', '.join(shared)}")
    for host in hosts:
        empty, masters_left = lost_with(placement, host)
        if empty:
            out.append(f"losing {host} loses shard(s) {', '.join(map(str, empty))}")
        elif 2 * masters_left <= shards:
            out.append(
                f"losing {host} leaves {masters_left} of {shards} masters: no majority "
                "to promote a replica"
            )
    return out


def place_one_per_host(
    kind: str, count: int, hosts: Sequence[str], allow_colocation: bool = False
) -> tuple[list[str], list[str]]:
    """Sentinels or Mongo members: each on its own host while there are hosts."""
    _check_hosts(hosts)
    warnings = []
    if count > len(hosts):
        message = f"{count} {kind} need {count} hosts, one each; {len(hosts)} given"
        if not allow_colocation:
            raise PlacementError(f"{message}: add hosts, or set placement.allowColocation: true")
        warnings.append(f"co-located: {message}")
    return [hosts[i % len(hosts)] for i in range(count)], warnings


def lost_with(placement: ClusterPlacement, host: str) -> tuple[list[int], int]:
    """If `host` goes: the shards left with no member, and the masters left."""
    empty = [i for i, members in enumerate(placement.hosts) if set(members) == {host}]
    masters_left = sum(1 for h in placement.master_hosts() if h != host)
    return empty, masters_left


def _check_hosts(hosts: Sequence[str]) -> None:
    if not hosts:
        raise PlacementError("no hosts given")
    repeated = sorted(h for h, n in Counter(hosts).items() if n > 1)
    if repeated:
        raise PlacementError(f"host names given twice: {', '.join(repeated)}")


def _check_pins(
    pins: Mapping[tuple[int, int], str], shards: int, replicas: int, hosts: Sequence[str]
) -> None:
    for (shard, member), host in pins.items():
        if not (0 <= shard < shards and 0 <= member <= replicas):
            raise PlacementError(f"pin ({shard}, {member}): no such node")
        if host not in hosts:
            raise PlacementError(f"pin ({shard}, {member}): unknown host {host}")


@dataclass(frozen=True)
class Placed:
    """Where a component's nodes go: `nodes[i]` is node i's host (Sentinels
    in `sentinels`), and what the placement accepted but warns about."""

    nodes: list[str]
    warnings: list[str]
    sentinels: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """`a: nodes 0, 5; b: nodes 1, 3; ...` (node indexes as in `pins`)."""
        hosts = dict.fromkeys([*self.nodes, *self.sentinels])
        parts = []
        for host in hosts:
            nodes = [str(i) for i, h in enumerate(self.nodes) if h == host]
            sentinels = [str(j) for j, h in enumerate(self.sentinels) if h == host]
            what = [f"nodes {', '.join(nodes)}"] if nodes else []
            what += [f"sentinels {', '.join(sentinels)}"] if sentinels else []
            parts.append(f"{host}: {'; '.join(what)}")
        return " | ".join(parts)


def place_redis(config: Any, hosts: Sequence[str]) -> Placed:
    """Redis Cluster: `place_cluster`. Sentinel groups: each group's members on
    distinct hosts (group g's member k on host g + k), Sentinels one per host
    (a lost host takes one vote from the quorum)."""
    allow = config.placement.allow_colocation
    _check_published(config)
    if config.mode == "cluster":
        pins = cluster_pins(config.placement.pins, config.shards)
        placed = place_cluster(config.shards, config.replicas, hosts, pins, allow)
        return Placed(placed.node_hosts(), placed.warnings)
    size = 1 + config.replicas
    nodes, warnings = _groups(config.shards, size, hosts, allow)
    for i, host in config.placement.pins.items():
        _check_pin(i, host, len(nodes), hosts)
        nodes[i] = host
    shared = [g for g in range(config.shards) if len(set(nodes[g * size : (g + 1) * size])) < size]
    if shared and not warnings:
        if not allow:
            raise PlacementError(f"pins put two members of group {shared[0]} on one host")
        warnings.append(f"co-located: group(s) {shared} have two members on one host")
    sentinels, more = place_one_per_host("sentinels", config.sentinels, hosts, allow)
    return Placed(nodes, warnings + more, sentinels)


def _groups(
    groups: int, size: int, hosts: Sequence[str], allow: bool
) -> tuple[list[str], list[str]]:
    _check_hosts(hosts)
    warnings = []
    if size > len(hosts):
        message = f"groups of 1 + {size - 1} need {size} hosts, one per member; {len(hosts)} given"
        if not allow:
            raise PlacementError(f"{message}: add hosts, or set placement.allowColocation: true")
        warnings.append(f"co-located: {message}")
    return [hosts[(g + k) % len(hosts)] for g in range(groups) for k in range(size)], warnings


def place_members(config: Any, hosts: Sequence[str]) -> Placed:
    """Mongo: every member (and the arbiter) on its own host."""
    if not config.publish:
        raise PlacementError(
            "mongo.publish must be true with hosts: members reach each other and clients "
            "reach them at their host's address and published port"
        )
    count = config.member_count
    nodes, warnings = place_one_per_host(
        "replica set members", count, hosts, config.placement.allow_colocation
    )
    for i, host in config.placement.pins.items():
        _check_pin(i, host, count, hosts)
        nodes[i] = host
    shared = sorted(h for h, n in Counter(nodes).items() if n > 1)
    if shared and not warnings:
        if not config.placement.allow_colocation:
            raise PlacementError(f"pins put two members on {', '.join(shared)}: change the pins")
        warnings.append(f"co-located: two members on {', '.join(shared)}")
    return Placed(nodes, warnings)


# Redis Cluster's bus port is the client port + 10000 (Redis' own default offset).
BUS_PORT_OFFSET = 10000


def _check_published(config: Any) -> None:
    """Across hosts, nodes announce their host's address and published ports:
    every node needs one, and the cluster bus its own (client port + 10000)."""
    base = config.host_port_base
    if base is None:
        raise PlacementError(
            "redis.hostPortBase is required with hosts: nodes announce their host's "
            "address and their published port (set it, e.g. to 7000)"
        )
    if config.mode == "sentinel" and config.sentinel_host_port_base is None:
        raise PlacementError(
            "redis.sentinelHostPortBase is required with hosts: Sentinels announce their "
            "host's address and their published port (set it, e.g. to 26379)"
        )
    last = base + config.node_count - 1 + BUS_PORT_OFFSET
    if config.mode == "cluster" and last > 65535:
        raise PlacementError(
            f"the cluster bus ports (hostPortBase + 10000 + i) run to {last}, past 65535: "
            "lower redis.hostPortBase"
        )


def _check_pin(index: int, host: str, count: int, hosts: Sequence[str]) -> None:
    if not 0 <= index < count:
        raise PlacementError(f"pin {index}: no such node (0-{count - 1})")
    if host not in hosts:
        raise PlacementError(f"pin {index}: unknown host {host} (hosts: {', '.join(hosts)})")
