"""A Redis Cluster over three Docker hosts against one engine: `up` time and host loss.

    python -m bench.multihost

Deploys, through `infra up` on the real engine in scratch copies of the project,
two Redis Cluster stacks (3 x (1 + 1), node timeout 4000 ms) and measures, in the
same run:

- `infra up` wall time (command start to exit) of a stack on the machine's own
  engine (the baseline) and of a stack over three Docker hosts (`infra:hosts`;
  the hosts are extra engines in network namespaces, tests/support/netns_hosts.py),
  with the image copies to the hosts that `up` reports on stderr;
- under a counted write load that confirms each write with `WAIT 1`
  (tests/support/writeload.py): losing host h1 (its link cut) on the three-host
  stack, against one master container killed (`docker kill`) on the one-engine
  stack; for each, the seconds until every slot is served by other masters, then
  (the failed part back at once: a promoted master has no replica to confirm a
  write until then) until every slot has a confirmed write again, the longest
  time any slot went without a confirmed write (`longest_gap_s`) or without any
  successful write (`longest_write_gap_s`), and the acknowledged writes lost;
- `infra drill --json` on the one-engine stack (one master killed) and
  `infra drill --host h3 --json` on the three-host stack (every container on h3
  killed).

Writes bench/results/multihost.json. Needs root (network namespaces) and the
Redis image (scripts/build-redis-image.sh).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import docker
import redis
from redis.cluster import ClusterNode, RedisCluster

from cli.ops import cluster as rediskit
from tests.engine.conftest import RefusingProxy, refusing_proxy
from tests.support import dockerenv
from tests.support import netns_hosts as ns
from tests.support.enginestack import TierStack, deployed_stack, redis_config
from tests.support.writeload import WriteLoad

RESULTS = Path(__file__).parent / "results" / "multihost.json"
ENV = {"INFRA_DOCKER_PROVIDER": "standin"}
PREFIX = "bench"
SUBNET_INDEX = 7
PORT_BASE = 7000
ALL_SLOTS = 16384
COPIED = re.compile(r"image (\S+) copied to host (\S+) \(([\d.]+) MB in ([\d.]+) s\)")


def timed_up(stack: TierStack) -> tuple[float, str]:
    """Seconds of `infra up STACK --yes`, start to exit, and its stderr."""
    start = time.monotonic()
    result = stack.ok("up", stack.name, "--yes")
    return round(time.monotonic() - start, 2), result.err


def image_copies(err: str) -> list[dict[str, Any]]:
    return [
        {"image": image, "host": host, "mb": float(mb), "seconds": float(seconds)}
        for image, host, mb, seconds in COPIED.findall(err)
    ]


def cluster_client(outputs: dict[str, Any]) -> RedisCluster:
    """Every node a seed (one may be down); the announced addresses, no remap."""
    return RedisCluster(
        startup_nodes=[ClusterNode(n["ip"], n["port"]) for n in outputs["redisNodes"]],
        password=outputs["redisPassword"],
        decode_responses=True,
        socket_timeout=2.0,
    )


def served_by(node: dict[str, Any], password: str, addresses: set[str]) -> int:
    """Slots that masters at `addresses` serve, as `node` sees them."""
    try:
        slots = rediskit.master_slots(node["ip"], node["port"], password)
    except (redis.RedisError, OSError):
        return 0
    return sum(b - a + 1 for addr, ranges in slots.items() if addr in addresses for a, b in ranges)


def wait_for_slots(outputs: dict[str, Any], survivors: list[dict[str, Any]]) -> float:
    """Monotonic time when the survivors' masters serve every slot."""
    addresses = {f"{n['ip']}:{n['port']}" for n in survivors}
    password = outputs["redisPassword"]
    dockerenv.wait_for(lambda: served_by(survivors[0], password, addresses) == ALL_SLOTS, 60)
    return time.monotonic()


class TimedLoad(WriteLoad):
    """WriteLoad that also times every successful SET per hash tag, before its
    `WAIT 1`: the longest gap between two of them is how long a slot refused
    (or stalled) writes at all, next to `longest_gap_s` for confirmed ones."""

    def __init__(self, connect: Callable[[], Any], prefix: str) -> None:
        super().__init__(connect, prefix=prefix, wait_replicas=1)
        self.last_set: dict[int, float] = {}
        self.set_gaps: dict[int, float] = {}

    def _replicated(self, client: Any, key: str) -> bool:
        tag, now = int(key.split("{")[1].split("}")[0]), time.monotonic()
        if tag in self.last_set:
            self.set_gaps[tag] = max(self.set_gaps.get(tag, 0.0), now - self.last_set[tag])
        self.last_set[tag] = now
        return super()._replicated(client, key)

    def acked_since(self, moment: float) -> bool:
        """Every hash tag has an acknowledged (WAIT 1) write after `moment`."""
        return len(self.last_ok) == self.tags and min(self.last_ok.values()) > moment


def under_load(
    outputs: dict[str, Any],
    survivors: list[dict[str, Any]],
    fail: Callable[[], None],
    recover: Callable[[], None],
) -> dict[str, Any]:
    """`fail()` under a WAIT 1 write load; once `survivors`' masters serve every
    slot, `recover()` (a promoted master has no replica until the failed node
    is back, so no write of its shard can be confirmed before); the load runs
    until every hash tag has a confirmed write again. Seconds from `fail()`."""
    load = TimedLoad(lambda: cluster_client(outputs), prefix=f"b{time.monotonic_ns()}")
    with load:
        time.sleep(2)  # a baseline before the failure
        fail()
        failed_at = time.monotonic()
        served = wait_for_slots(outputs, survivors)
        recover()
        recovered = time.monotonic()
        dockerenv.wait_for(lambda: load.acked_since(failed_at), 120)
        acked = time.monotonic()
        time.sleep(1)
    with cluster_client(outputs) as reader:
        report = load.report(reader)
    return {
        "all_slots_served_s": round(served - failed_at, 2),
        "recovered_at_s": round(recovered - failed_at, 2),
        "all_slots_confirmed_again_s": round(acked - failed_at, 2),
        "longest_write_gap_s": round(max(load.set_gaps.values(), default=0.0), 3),
    } | report.figures()


def wait_until_healthy(stack: TierStack, timeout: float = 120) -> float:
    """Seconds until `infra status` exits 0."""
    start = time.monotonic()
    while stack.infra("status", stack.name).code != 0:
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{stack.name} not healthy after {timeout} s")
        time.sleep(1)
    return round(time.monotonic() - start, 2)


def a_master(outputs: dict[str, Any]) -> dict[str, Any]:
    """The node that serves slot 0 now."""
    first = outputs["redisNodes"][0]
    slots = rediskit.master_slots(first["ip"], first["port"], outputs["redisPassword"])
    address = next(a for a, ranges in slots.items() if any(s == 0 for s, _ in ranges))
    return next(n for n in outputs["redisNodes"] if f"{n['ip']}:{n['port']}" == address)


def single_node_kill(stack: TierStack) -> dict[str, Any]:
    """One master container killed and started again, under the load."""
    outputs = stack.outputs()
    victim = a_master(outputs)
    container = stack.docker.containers.get(victim["name"])
    survivors = [n for n in outputs["redisNodes"] if n is not victim]
    figures = {"killed": victim["name"]} | under_load(
        outputs, survivors, container.kill, container.start
    )
    return figures | {"healthy_again_s": wait_until_healthy(stack)}


def host_loss(stack: TierStack, host: ns.NetnsHost) -> dict[str, Any]:
    """Host `host`'s link cut under the load, then restored and rebalanced."""
    outputs = stack.outputs()
    survivors = [n for n in outputs["redisNodes"] if n["host"] != host.name]
    try:
        figures = {"host": host.name} | under_load(outputs, survivors, host.cut, host.restore)
    finally:
        host.restore()  # idempotent: the link is up again even when the load failed
    healthy = wait_until_healthy(stack)
    start = time.monotonic()
    moves = json.loads(stack.ok("rebalance", stack.name, "--yes", "--json").out)
    rebalance_s = round(time.monotonic() - start, 2)
    return figures | {"healthy_again_s": healthy, "rebalance_s": rebalance_s, "moves": moves}


def drill(stack: TierStack, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(stack.ok("drill", stack.name, *args, "--yes", "--json").out)
    return result


def one_engine(
    root: Path, proxy: RefusingProxy, client: docker.DockerClient, image: str
) -> dict[str, Any]:
    config = redis_config(client, image)
    with deployed_stack(root, proxy, client, config, ENV) as stack:
        up_s, _ = timed_up(stack)
        print(f"one engine: up {up_s} s", flush=True)
        kill = single_node_kill(stack)
        print("single node kill", json.dumps(kill), flush=True)
        node = drill(stack)
        print("drill", json.dumps(node), flush=True)
    return {"up_s": up_s, "single_node_kill": kill, "drill_node": node}


def hosts_config(image: str, hosts: list[ns.NetnsHost]) -> dict[str, Any]:
    return {
        "hosts": [{"name": h.name, "docker": h.docker_host, "address": h.address} for h in hosts],
        "redis": {"image": image, "hostPortBase": PORT_BASE},
        "mongo": {"enabled": False},
        "edge": {"enabled": False},
    }


@contextmanager
def hosts_stack(
    root: Path, proxy: RefusingProxy, client: docker.DockerClient, image: str
) -> Iterator[tuple[TierStack, list[ns.NetnsHost]]]:
    """A three-host stack (not deployed yet) on fresh netns hosts; afterwards
    `infra down`, leftovers swept on every host, the hosts removed."""
    with ns.netns_hosts(3, prefix=PREFIX, subnet_index=SUBNET_INDEX) as hosts:
        name = ""
        try:
            with deployed_stack(root, proxy, client, hosts_config(image, hosts), ENV) as stack:
                name = stack.name
                yield stack, hosts
        finally:
            for host in hosts if name else []:
                sweep(host.client(), name)


def sweep(client: docker.DockerClient, stack: str) -> None:
    for container in client.containers.list(all=True, filters={"label": f"infra.stack={stack}"}):
        container.remove(force=True, v=True)


def three_hosts(
    root: Path, proxy: RefusingProxy, client: docker.DockerClient, image: str
) -> dict[str, Any]:
    with hosts_stack(root, proxy, client, image) as (stack, hosts):
        up_s, err = timed_up(stack)
        copies = image_copies(err)
        print(f"three hosts: up {up_s} s, copies {json.dumps(copies)}", flush=True)
        loss = host_loss(stack, hosts[0])
        print("host loss", json.dumps(loss), flush=True)
        host = drill(stack, "--host", "h3")
        print("drill --host h3", json.dumps(host), flush=True)
    return {"up_s": up_s, "image_copies": copies, "host_loss": loss, "drill_host": host}


NOTES = (
    "Both stacks: Redis Cluster 3 x (1 + 1), cluster-node-timeout 4000 ms, docker provider "
    "the offline stand-in. The three hosts are extra Docker engines in network namespaces "
    "on this one machine (a bridge, one veth each): no real network latency, and they share "
    "the machine's 2 CPUs, so the failover window is dominated by cluster-node-timeout. "
    "up_wall_s: `infra up STACK --yes` from command start to exit, one run each, fresh stack; "
    "image_copies: what `up` reported copying the image to each host (part of three_hosts). "
    "host_loss: host h1's link cut (ip link down) under a 1-client write load over 32 hash "
    "tags, each write confirmed with WAIT 1 (1 s) or not counted as acknowledged. "
    "single_node_kill: the same load and figures with one master container docker-killed on "
    "the one-engine stack. In both, seconds from the failure: all_slots_served_s = every slot "
    "served by the other masters (a survivor's CLUSTER SLOTS); then at once the failed part "
    "comes back (link up / docker start: recovered_at_s), because a promoted master has no "
    "replica until then and WAIT 1 cannot confirm any write of its shard; "
    "all_slots_confirmed_again_s = every hash tag has a confirmed write again. "
    "longest_gap_s = longest time any tag went without a confirmed write (so it includes "
    "the wait for the failed node to rejoin as a replica); longest_write_gap_s = the same for "
    "a successful SET, confirmed or not (the window in which the slot refused or stalled "
    "writes); lost = acknowledged writes missing afterwards; unreplicated = SETs that WAIT 1 "
    "did not confirm within 1 s. The load is one thread (as an application's request would "
    "be): while redis-py retries a call to the failed node, every slot waits, so the gaps are "
    "the client's stall, not only the failed shard's. "
    "healthy_again_s: then until `infra status` exits 0; "
    "host_loss.rebalance_s: `infra rebalance --yes` moving the master back to h1. "
    "drill_node: `infra drill --json` on the one-engine stack (promoted_s, write_ok_s, "
    "keys_lost of 200 probe keys); drill_host: `infra drill --host h3 --json` on the "
    "three-host stack (every stack container on h3 killed, then started)."
)


def main() -> None:
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    ns.check_environment()
    with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
        (Path(tmp) / "one").mkdir()
        (Path(tmp) / "three").mkdir()
        one = one_engine(Path(tmp) / "one", proxy, client, image)
        three = three_hosts(Path(tmp) / "three", proxy, client, image)
    report = {
        "machine": dockerenv.machine_facts(client, image),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "up_wall_s": {
            "one_engine": one["up_s"],
            "three_hosts": three["up_s"],
            "image_copies": three["image_copies"],
        },
        "host_loss": three["host_loss"],
        "single_node_kill": one["single_node_kill"],
        "drill_host": three["drill_host"],
        "drill_node": one["drill_node"],
        "notes": NOTES,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
