"""Changing a live Redis Sentinel topology with `infra up` on the real engine, under load.

A counted write/read load (tests/support/writeload.py) runs while `up` applies a
change that replaces every data node and every Sentinel (a new image reaches
both); Docker's own events tell how many of each were down at once. The load
writes through redis-py's Sentinel client on the host (`cli.ops.sentinel`), one
`master_for` client per master set, each key routed by its hash tag, so its 32
tags are spread over every group and every primary's hand-over shows in the
longest gap. Rolling (the default) must keep one data node and one Sentinel
down at a time, lose no acknowledged write, and keep every group writable
within less than an automatic failover (`downAfterMs`).

The stack runs plaintext with `defaultUser: disabled`: infra logs in, replicas
replicate and Sentinels watch as the user `infra`, and the load is the
application user `cart`, which is how rotating infra's own password (three
rolling `up`s, `infra rotate --admin`) is proven not to disturb applications.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import redis

from cli.ops import sentinel as rs
from components.redis_config import RedisConfig, RedisSentinelExports
from tests.engine.conftest import TIMEOUT_S, RefusingProxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, sentinel_config
from tests.support.writeload import Downtime, LoadReport, WriteLoad

pytestmark = [pytest.mark.integration, pytest.mark.engine]

NODE_ROLE = "redis-sentinel-node"
SENTINEL_ROLE = "redis-sentinel"


class ShardedWrites:
    """`set`/`get`/`close` of one client per master set, routed by the key's
    hash tag (`load:{7}:n` goes to shard-1: 7 mod 3), as WriteLoad expects."""

    def __init__(self, outputs: dict[str, Any], password: rs.Access) -> None:
        self.sentinel = rs.host_sentinel(outputs, password)
        sets = RedisSentinelExports.read(outputs).redis_master_sets
        self.clients = [self.sentinel.master_for(name) for name in sets]

    def route(self, key: str) -> Any:
        tag = key.split("{", 1)[1].split("}", 1)[0]
        return self.clients[int(tag) % len(self.clients)]

    def set(self, key: str, value: str) -> Any:
        return self.route(key).set(key, value)

    def get(self, key: str) -> Any:
        return self.route(key).get(key)

    def get_many(self, keys: list[str]) -> list[Any]:
        """One MGET per master set, the values back in the keys' order."""
        found: dict[str, Any] = {}
        for client in self.clients:
            mine = [k for k in keys if self.route(k) is client]
            if mine:
                found.update(zip(mine, client.mget(mine), strict=True))
        return [found[k] for k in keys]

    def close(self) -> None:
        for client in [*self.clients, *self.sentinel.sentinels]:
            client.close()


class LiveSentinel:
    def __init__(self, stack: TierStack) -> None:
        self.stack = stack
        self.outputs = stack.outputs()

    @property
    def password(self) -> rs.Access:
        """infra's login (the `redisAdminUser` output and its password)."""
        return rs.Access.of(RedisSentinelExports.read(self.outputs))

    def client(self) -> ShardedWrites:
        """The load: the application user `cart`."""
        cart = self.outputs["redisUsers"]["cart"]
        return ShardedWrites(self.outputs, rs.Access(cart["password"], None, "cart"))

    def change(
        self,
        docker_client: docker.DockerClient,
        command: tuple[str, ...] = ("up",),
        **redis: Any,
    ) -> tuple[LoadReport, int, int]:
        """Apply `redis` settings with `infra up` (or `command`) under load:
        (load report, most data nodes down at once, most Sentinels down at once)."""
        if redis:
            self.stack.set_config("redis", {**self.stack.config()["infra:redis"], **redis})
        nodes = Downtime(docker_client, self.stack.name, NODE_ROLE)
        sentinels = Downtime(docker_client, self.stack.name, SENTINEL_ROLE)
        load = WriteLoad(self.client, prefix=f"load{time.monotonic_ns()}")
        try:
            with load:
                time.sleep(1.0)  # a baseline before the change
                # One `up` per step: `rotate --admin` is three of them.
                ups = 3 if "--admin" in command else 1
                self.stack.ok(
                    command[0], self.stack.name, *command[1:], "--yes", timeout=ups * TIMEOUT_S
                )
                time.sleep(1.0)
        finally:
            nodes.close()
            sentinels.close()
        self.outputs = self.stack.outputs()
        self.wait_settled()
        reader = self.client()
        try:
            report = load.report(reader)
        finally:
            reader.close()
        return report, nodes.most_down, sentinels.most_down

    def wait_settled(self) -> None:
        dockerenv.wait_for(lambda: rs.settled(self.outputs, self.password), 90)

    def images(self, docker_client: docker.DockerClient) -> set[str]:
        label = {"label": f"infra.stack={self.stack.name}"}
        return {c.image.id for c in docker_client.containers.list(filters=label)}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
    second_image: str,
) -> Iterator[LiveSentinel]:
    config = sentinel_config(
        docker_client, redis_image, defaultUser="disabled", users=[{"name": "cart"}]
    )
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    root = tmp_path_factory.mktemp("rolling-sentinel")
    with deployed_stack(root, proxy, docker_client, config, env) as stack:
        stack.ok("up", stack.name, "--yes")
        live = LiveSentinel(stack)
        live.wait_settled()
        yield live


def test_an_image_change_and_infras_password_rotation_roll_without_losing_a_write(
    live: LiveSentinel, docker_client: docker.DockerClient, second_image: str
) -> None:
    """A new image in the stack file, then `infra rotate --admin`: its first `up`
    also brings the image; the three `up`s (accept, switch, done) each replace
    every data node and Sentinel, one at a time, under the `cart` load."""
    old = live.password
    live.stack.set_config("redis", {**live.stack.config()["infra:redis"], "image": second_image})
    report, nodes_down, sentinels_down = live.change(docker_client, ("rotate", "--admin"))
    print("rotate --admin under load:", report.figures())  # shown with -s
    assert nodes_down == 1, "more than one data node was down at the same time"
    assert sentinels_down == 1, "more than one Sentinel was down at the same time"
    assert report.lost == 0 and report.wrong_reads == 0, report.figures()
    auth = [e for e in report.errors if "WRONGPASS" in e or "uthentication" in e]
    assert auth == [], report.figures()  # cart never saw an auth failure
    assert report.writes_acked > 500, report.figures()
    # Every group took writes again sooner than an automatic failover could
    # have happened: each primary was handed over before it went.
    assert report.longest_gap_s < RedisConfig().down_after_ms / 1000, report.figures()
    assert live.images(docker_client) == {docker_client.images.get(second_image).id}
    assert live.stack.config()["infra:redis"]["admin"] == {"generation": 2, "rotation": "done"}
    new = live.password
    assert new.username == "infra" and new.password != old.password
    ports = [n["hostPort"] for n in live.outputs["redisNodes"]]
    ports += [s["hostPort"] for s in live.outputs["redisSentinels"]]
    for port in ports:  # the old password is forgotten everywhere, the new one works
        with pytest.raises(redis.AuthenticationError):
            rs.client(port, old).ping()
        assert rs.client(port, new).ping()
    live.stack.ok("preview", live.stack.name, "--expect-no-changes")


def test_all_at_once_takes_several_nodes_down_together(
    live: LiveSentinel, docker_client: docker.DockerClient
) -> None:
    """The opt-out does what the engine does by default: the comparison."""
    live.stack.set_config("redis", {**live.stack.config()["infra:redis"], "rollout": "all-at-once"})
    live.stack.ok("up", live.stack.name, "--yes")  # no container changes: hooks unbound
    report, nodes_down, sentinels_down = live.change(docker_client, maxmemoryPolicy="noeviction")
    assert nodes_down > 1
    assert sentinels_down == 0  # the policy only reaches the data nodes' redis.conf
    assert report.writes_acked > 0


def test_down_runs_no_hand_over_and_leaves_nothing(live: LiveSentinel) -> None:
    live.stack.set_config("redis", {**live.stack.config()["infra:redis"], "rollout": "rolling"})
    live.stack.ok("up", live.stack.name, "--yes")
    down = live.stack.ok("down", live.stack.name, "--yes")
    assert "hand over" not in down.out + down.err
    assert live.stack.leftovers() == []
