"""Which Docker host runs which node, so that losing any one host loses no shard.

Groundwork for several Docker hosts (issue 13): pure decisions, not wired into
the stack config or the program yet.

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
from dataclasses import dataclass


class PlacementError(ValueError):
    """Too few hosts for the topology, or a pin that breaks anti-affinity."""


@dataclass(frozen=True)
class ClusterPlacement:
    """hosts[shard][member]: member 0 is the shard's first master."""

    hosts: list[list[str]]
    warnings: list[str]

    def master_hosts(self) -> list[str]:
        return [shard[0] for shard in self.hosts]


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
            raise PlacementError(f"{message}: add hosts, or allow co-location")
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
            raise PlacementError(f"{message}: add hosts, or allow co-location")
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
