"""`infra drill`: a failover drill on a running Redis Cluster, with measured times.

Stops the container of one master (SIGKILL, as a crash would), measures how long
until its replica is promoted and until a write to a key of that shard succeeds
through redis-py's cluster client, checks that keys written (and replicated)
before the crash survived, then starts the old master again and measures how
long until it has rejoined as a replica and the cluster is healthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cli.ops import cluster as rediskit
from cli.ops import waiting
from components.config_base import NodeOutput
from components.redis_config import RedisClusterExports

POLL_S = 0.05
PROBE_KEYS = 200


@dataclass
class DrillResult:
    victim: str
    promoted: str
    promoted_s: float
    write_ok_s: float
    rejoined_s: float
    keys_checked: int
    keys_lost: int
    killed_at: float  # wall clock (Unix time): when the dashboard shows it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DrillFailed(Exception):
    pass


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    try:
        return waiting.wait_until(check, timeout, what, interval=POLL_S)
    except TimeoutError as exc:
        raise DrillFailed(str(exc)) from None


@dataclass
class ClusterView:
    """The cluster as the stack outputs describe it, reached from the host."""

    exports: RedisClusterExports

    @property
    def access(self) -> rediskit.Access:
        return rediskit.Access.of(self.exports)

    @property
    def remap(self) -> dict[str, str]:
        return self.exports.redis_host_address_map

    @property
    def nodes(self) -> list[NodeOutput]:
        return self.exports.redis_nodes

    def endpoint(self, node: NodeOutput) -> tuple[str, int]:
        return rediskit.host_endpoint(self.remap, node.ip, node.port)

    def node_at(self, address: str) -> NodeOutput:
        return next(n for n in self.nodes if f"{n.ip}:{n.port}" == address)

    def healthy(self) -> bool:
        return all(
            rediskit.cluster_ok(*self.endpoint(n), self.access)
            and rediskit.replication_ok(*self.endpoint(n), self.access)
            for n in self.nodes
        )


def pick_victim(view: ClusterView, seed: NodeOutput) -> tuple[str, str]:
    """(master address, its replica's address): the first master in address order."""
    topo = rediskit.topology(*view.endpoint(seed), view.access)
    master = sorted(topo)[0]
    if not topo[master]:
        raise DrillFailed(f"master {master} has no replica: a failover cannot succeed")
    return master, topo[master][0]


def keys_on(view: ClusterView, client: Any, master: str, count: int) -> list[str]:
    slots = rediskit.master_slots(*view.endpoint(view.node_at(master)), view.access)
    keys: list[str] = []
    i = 0
    while len(keys) < count:
        key = f"infra-drill:{i}"
        if rediskit.owner_of(slots, client.keyslot(key)) == master:
            keys.append(key)
        i += 1
    return keys


def cluster_failover(
    outputs: Mapping[str, Any],
    stop: Callable[[str], None],
    start: Callable[[str], None],
    timeout: float = 120,
) -> DrillResult:
    """Run the drill. `stop`/`start` act on a node container by name (Docker)."""
    view = ClusterView(RedisClusterExports.read(outputs))
    if not view.healthy():
        raise DrillFailed("the cluster is not healthy before the drill: see `infra status`")
    master, replica = pick_victim(view, view.nodes[0])
    victim, survivor = view.node_at(master), view.node_at(replica)
    client = rediskit.host_cluster_client(view.remap, view.access)
    try:
        keys = keys_on(view, client, master, PROBE_KEYS)
        for key in keys:
            client.set(key, key)
        # Replication is asynchronous: wait until the replica has every probe key,
        # so a lost key means a real loss, not a write that never reached it.
        client.get_node_from_key(keys[0]).redis_connection.execute_command("WAIT", 1, 5000)
        stop(victim.name)
        stopped, killed_at = time.monotonic(), time.time()
        promoted_s = wait_until(
            lambda: (
                rediskit.replication_info(*view.endpoint(survivor), view.access)["role"] == "master"
            ),
            timeout,
            f"promotion of {replica}",
        )
        wait_until(lambda: bool(client.set(keys[0], keys[0])), timeout, "a write to the shard")
        write_ok_s = time.monotonic() - stopped
        lost = sum(1 for key in keys if client.get(key) != key)
    finally:
        client.close()
    start(victim.name)
    rejoined_s = wait_until(view.healthy, timeout, f"{master} rejoining as a replica")
    return DrillResult(
        master,
        replica,
        round(promoted_s, 3),
        round(write_ok_s, 3),
        round(rejoined_s, 3),
        len(keys),
        lost,
        round(killed_at, 3),
    )


@dataclass
class HostDrillResult:
    host: str
    nodes: list[str]  # the stack's Redis nodes that ran on it
    masters_lost: list[str]
    all_slots_s: float  # every slot served by a master on another host
    write_ok_s: float  # every probe key writable again
    rejoined_s: float  # after the host's containers started again: cluster healthy
    keys_checked: int
    keys_lost: int
    killed_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def slots_elsewhere(view: ClusterView, survivors: list[NodeOutput]) -> int:
    """Slots served by masters outside the lost host, as a survivor sees them
    (before the failure is detected, the lost masters still count as live)."""
    addresses = {f"{n.ip}:{n.port}" for n in survivors}
    for node in survivors:
        try:
            slots = rediskit.master_slots(*view.endpoint(node), view.access)
        except waiting.NOT_YET:
            continue
        return sum(
            end - start + 1
            for addr, ranges in slots.items()
            if addr in addresses
            for start, end in ranges
        )
    return 0


def write_acknowledged(client: Any, keys: list[str]) -> None:
    """Write the probe keys, then `WAIT 1` on every master: each key is on a
    replica before the host goes, so a lost key is a real loss."""
    for key in keys:
        client.set(key, key)
    for node in client.get_primaries():
        node.redis_connection.execute_command("WAIT", 1, 5000)


def host_loss(
    outputs: Mapping[str, Any],
    host: str,
    stop: Callable[[], object],
    start: Callable[[], object],
    timeout: float = 120,
) -> HostDrillResult:
    """Take a whole Docker host down (`stop`: every container of the stack on it,
    SIGKILL), measure until every slot is served by the other hosts and every
    key is writable, count lost keys, then bring it back (`start`) and measure
    until its nodes have rejoined and the cluster is healthy."""
    view = ClusterView(RedisClusterExports.read(outputs))
    on_host = [n for n in view.nodes if n.host == host]
    survivors = [n for n in view.nodes if n.host != host]
    if not on_host:
        raise DrillFailed(f"no Redis node runs on host {host}")
    if not view.healthy():
        raise DrillFailed("the cluster is not healthy before the drill: see `infra status`")
    masters = rediskit.topology(*view.endpoint(survivors[0]), view.access)
    lost_masters = [n.name for n in on_host if f"{n.ip}:{n.port}" in masters]
    client = rediskit.host_cluster_client(view.remap, view.access)
    keys = [f"infra-drill:{host}:{i}" for i in range(PROBE_KEYS)]
    try:
        write_acknowledged(client, keys)
        stop()
        stopped, killed_at = time.monotonic(), time.time()
        all_slots_s = wait_until(
            lambda: slots_elsewhere(view, survivors) == 16384, timeout, "every slot served"
        )
        # New keys (as many, over every shard): rewriting the probe keys would
        # hide their loss.
        wait_until(
            lambda: all(client.set(f"{k}:after", 1) for k in keys), timeout, "writes everywhere"
        )
        write_ok_s = time.monotonic() - stopped
        lost = sum(1 for key in keys if client.get(key) != key)
    finally:
        client.close()
    start()
    rejoined_s = wait_until(view.healthy, timeout, f"the nodes of {host} rejoining")
    return HostDrillResult(
        host,
        [n.name for n in on_host],
        lost_masters,
        round(all_slots_s, 3),
        round(write_ok_s, 3),
        round(rejoined_s, 3),
        len(keys),
        lost,
        round(killed_at, 3),
    )
