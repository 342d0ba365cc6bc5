"""Adding and removing Sentinel groups with `infra up` on the real engine, under load.

One stack (1 replica per group, 3 Sentinels) goes 3 -> 4 -> 3 groups. While
each `up` runs, a counted write/read load (tests/support/writeload.py) writes
to the groups that stay (shard-0..2, one redis-py `master_for` client each,
keys routed by hash tag), Docker's events tell which containers were down when,
and a poller records which Sentinels monitor `shard-3`.

- 3 -> 4: the new group starts as primary + replica, and every Sentinel ends up
  monitoring `shard-3` with its quorum (`SENTINEL CKQUORUM`). The Sentinels'
  template changes, so they are replaced, one at a time; no kept node restarts.
- 4 -> 3: no Sentinel monitors `shard-3` any more, and none did when its nodes
  went (nothing can try to fail over a group whose nodes are being deleted);
  the group's containers and volumes are gone.

Either way the kept groups lose no acknowledged write, and a preview afterwards
shows no change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import docker
import pytest
import redis

from cli.ops import sentinel as rs
from components.redis_config import SENTINEL_GROUP_STRIDE, RedisConfig, RedisSentinelExports
from tests.engine.conftest import RefusingProxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, redis_config
from tests.support.writeload import LoadReport, WriteLoad

pytestmark = [pytest.mark.integration, pytest.mark.engine]

KEPT = [f"shard-{g}" for g in range(3)]
ADDED = "shard-3"
NODE_ROLE = "redis-sentinel-node"
SENTINEL_ROLE = "redis-sentinel"
SENTINELS = 3
# Nodes of up to 4 groups of 1 + 1: (4 - 1) x stride + 2 host ports.
NODE_PORTS = 3 * SENTINEL_GROUP_STRIDE + 2
# A few hundred writes a second: enough to see any stall of a kept group, few
# enough that checking every acknowledged write afterwards takes seconds.
WRITE_PAUSE_S = 0.004


class KeptGroups:
    """`set`/`get`/`close` over one client per kept master set, routed by the
    key's hash tag (`load:{4}:n` goes to shard-1), as WriteLoad expects."""

    def __init__(self, outputs: dict[str, Any], password: str) -> None:
        self.sentinel = rs.host_sentinel(outputs, password)
        self.clients = [self.sentinel.master_for(name) for name in KEPT]

    def route(self, key: str) -> Any:
        tag = key.split("{", 1)[1].split("}", 1)[0]
        return self.clients[int(tag) % len(self.clients)]

    def set(self, key: str, value: str) -> Any:
        time.sleep(WRITE_PAUSE_S)
        return self.route(key).set(key, value)

    def get(self, key: str) -> Any:
        return self.route(key).get(key)

    def close(self) -> None:
        for client in [*self.clients, *self.sentinel.sentinels]:
            client.close()


class Events:
    """Docker `die`/`start` events of a stack's containers while running, with
    their time and `infra.*` labels."""

    def __init__(self, client: docker.DockerClient, stack: str) -> None:
        self.seen: list[tuple[float, str, str, dict[str, str]]] = []
        filters = {"type": "container", "label": f"infra.stack={stack}", "event": ["die", "start"]}
        self.stream = client.events(decode=True, filters=filters)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with suppress(Exception):  # the stream ends when closed
            for event in self.stream:
                attrs = event["Actor"]["Attributes"]
                self.seen.append((time.monotonic(), event["status"], attrs["name"], attrs))

    def close(self) -> None:
        self.stream.close()

    def most_down(self, keep: Callable[[dict[str, str]], bool]) -> int:
        down: set[str] = set()
        most = 0
        for _, status, name, attrs in self.seen:
            if not keep(attrs):
                continue
            if status == "die":
                down.add(name)
            else:
                down.discard(name)
            most = max(most, len(down))
        return most

    def first_die(self, keep: Callable[[dict[str, str]], bool]) -> float | None:
        return next((t for t, s, _, a in self.seen if s == "die" and keep(a)), None)


def role(name: str) -> Callable[[dict[str, str]], bool]:
    return lambda attrs: attrs.get("infra.role") == name


def in_sets(sets: list[str]) -> Callable[[dict[str, str]], bool]:
    return lambda attrs: attrs.get("infra.redis.master-set") in sets


@dataclass
class Watchers:
    """Which Sentinels (by host port) monitor `ADDED`, polled while running:
    (time, ports that answered and monitor it, ports that answered)."""

    ports: list[int]
    password: str
    polls: list[tuple[float, set[int], set[int]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            monitoring, answered = set(), set()
            for port in self.ports:
                try:
                    with rs.client(port, self.password, timeout=1.0) as conn:
                        names = conn.sentinel_masters()
                except redis.RedisError:
                    continue
                answered.add(port)
                if ADDED in names:
                    monitoring.add(port)
            self.polls.append((time.monotonic(), monitoring, answered))
            time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)

    def timeline(self, since: float) -> list[str]:
        """Each change of who monitors `ADDED`, in seconds since `since`."""
        lines, previous = [], None
        for t, monitoring, answered in self.polls:
            now = (sorted(monitoring), sorted(answered))
            if now != previous:
                lines.append(f"{t - since:.1f} s: monitoring {now[0]}, answering {now[1]}")
                previous = now
        return lines

    def monitoring_since(self, moment: float) -> set[int]:
        """The Sentinels seen monitoring `ADDED` at the last poll before `moment`
        and at any poll after it."""
        before = [m for t, m, _ in self.polls if t <= moment][-1:]
        after = [m for t, m, _ in self.polls if t > moment]
        return set().union(*before, *after)


@dataclass
class Change:
    load: LoadReport
    events: Events
    watchers: Watchers
    started: float
    seconds: float


class LiveGroups:
    def __init__(self, stack: TierStack) -> None:
        self.stack = stack
        self.refresh()

    def refresh(self) -> None:
        self.outputs = self.stack.outputs()
        self.password = str(self.outputs["redisPassword"])
        self.exports = RedisSentinelExports.read(self.outputs)

    def sentinel_ports(self) -> list[int]:
        return [int(s.host_port) for s in self.exports.redis_sentinels if s.host_port]

    def client(self) -> KeptGroups:
        return KeptGroups(self.outputs, self.password)

    def change(self, docker_client: docker.DockerClient, **redis_settings: Any) -> Change:
        """Apply `redis_settings` with `infra up` while the load writes to the kept groups."""
        self.stack.set_config("redis", {**self.stack.config()["infra:redis"], **redis_settings})
        events = Events(docker_client, self.stack.name)
        watchers = Watchers(self.sentinel_ports(), self.password)
        load = WriteLoad(self.client, tags=30, prefix=f"load{time.monotonic_ns()}")
        started = time.monotonic()
        try:
            with load:
                time.sleep(0.5)  # a baseline before the change
                up = self.stack.infra("up", self.stack.name, "--yes")
                time.sleep(0.5)
        finally:
            events.close()
            watchers.close()
        seconds = time.monotonic() - started
        assert up.code == 0, str(up)
        self.refresh()
        self.wait_settled()
        reader = self.client()
        try:
            report = load.report(reader)
        finally:
            reader.close()
        return Change(report, events, watchers, started, seconds)

    def wait_settled(self) -> None:
        dockerenv.wait_for(lambda: rs.settled(self.outputs, self.password), 60)

    def monitored(self) -> dict[int, list[str]]:
        """Host port of each Sentinel -> the master sets it monitors."""
        return {p: sorted(rs.masters(p, self.password)) for p in self.sentinel_ports()}

    def ckquorum(self, name: str) -> dict[int, str]:
        return {p: rs.ckquorum(p, self.password, name) for p in self.sentinel_ports()}

    def preview_is_clean(self) -> None:
        self.stack.ok("preview", self.stack.name, "--expect-no-changes")


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
) -> Iterator[LiveGroups]:
    node_base = dockerenv.free_port_block(NODE_PORTS)
    avoid = range(node_base, node_base + NODE_PORTS)
    config = redis_config(
        docker_client,
        redis_image,
        mode="sentinel",
        shards=3,
        replicas=1,
        hostPortBase=node_base,
        sentinelHostPortBase=dockerenv.free_port_block(SENTINELS, avoid=avoid),
    )
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    root = tmp_path_factory.mktemp("sentinel-groups")
    with deployed_stack(root, proxy, docker_client, config, env) as stack:
        stack.ok("up", stack.name, "--yes")
        live = LiveGroups(stack)
        live.wait_settled()
        yield live


def figures(change: Change) -> dict[str, Any]:
    return {**change.load.figures(), "up_s": round(change.seconds, 1)}


def kept_groups_served(change: Change) -> None:
    """No acknowledged write lost or read back wrong, and no kept group stalled
    for as long as an automatic failover would take (`downAfterMs`)."""
    report = change.load
    assert report.lost == 0 and report.wrong_reads == 0, figures(change)
    assert report.writes_acked > 100 and report.failed_writes == 0, figures(change)
    assert report.longest_gap_s < RedisConfig().down_after_ms / 1000, figures(change)


def test_adding_a_group_registers_it_with_every_sentinel(
    live: LiveGroups, docker_client: docker.DockerClient
) -> None:
    change = live.change(docker_client, shards=4)
    print("3 -> 4:", figures(change))
    kept_groups_served(change)
    assert change.events.most_down(role(SENTINEL_ROLE)) == 1, "Sentinels not one at a time"
    assert change.events.most_down(role(NODE_ROLE)) == 0, "a data node restarted"
    assert live.monitored() == {p: [*KEPT, ADDED] for p in live.sentinel_ports()}
    quorum = live.ckquorum(ADDED)
    assert all(reply.startswith("OK") for reply in quorum.values()), quorum
    roles = rs.roles_by_group(live.exports.redis_nodes, live.password)
    assert sorted(roles[ADDED].values()) == ["master", "slave"]
    live.preview_is_clean()


def test_removing_a_group_unregisters_it_before_its_nodes_go(
    live: LiveGroups, docker_client: docker.DockerClient
) -> None:
    change = live.change(docker_client, shards=3)
    print("4 -> 3:", figures(change))
    kept_groups_served(change)
    assert change.events.most_down(role(SENTINEL_ROLE)) == 1, "Sentinels not one at a time"
    assert change.events.most_down(in_sets(KEPT)) == 0, "a kept data node restarted"
    gone = change.events.first_die(in_sets([ADDED]))
    assert gone is not None, "the removed group's nodes were not stopped"
    timeline = change.watchers.timeline(change.started)
    assert change.watchers.monitoring_since(gone) == set(), (
        f"Sentinels monitored the removed group when its nodes went at "
        f"{gone - change.started:.1f} s: {timeline}"
    )
    assert live.monitored() == {p: KEPT for p in live.sentinel_ports()}
    prefix = f"infra-{live.stack.name}-redis-3-"
    assert [x for x in live.stack.leftovers() if x.split(" ", 1)[1].startswith(prefix)] == []
    live.preview_is_clean()


def test_down_leaves_nothing(live: LiveGroups) -> None:
    live.stack.ok("down", live.stack.name, "--yes")
    assert live.stack.leftovers() == []
