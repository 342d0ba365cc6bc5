"""A deployed Redis Cluster stack changed under a counted load: what the rolling
tests (tests/integration/test_rolling_engine.py) and bench/rolling.py share."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from typing import Any

import docker
from redis.cluster import RedisCluster

from cli.ops import cluster as rediscluster
from tests.support import dockerenv
from tests.support.enginestack import TierStack
from tests.support.writeload import Downtime, LoadReport, WriteLoad

NODE_ROLE = "redis-cluster-node"


def build_second_image(client: docker.DockerClient, image: str) -> str:
    """A second, locally built tag of the Redis image (another image id)."""
    tag = f"{image.split(':')[0]}:rolled-{dockerenv.run_id()}"
    dockerfile = f"FROM {image}\nLABEL infra.test=rolling\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    return tag


class LiveCluster:
    def __init__(self, stack: TierStack) -> None:
        self.stack = stack
        values = stack.outputs()
        self.remap = values["redisHostAddressMap"]
        self.password = str(values["redisPassword"])
        # redis.tls: the stack's CA verifies every node (None: plaintext).
        self.access = rediscluster.Access(
            self.password, values.get("redisCaCert"), values.get("redisAdminUser")
        )
        self.seed = values["redisNodes"][0]

    def client(self) -> Any:
        return rediscluster.host_cluster_client(self.remap, self.access)

    def load_client(self) -> Any:
        """The load's client talks to the announced container addresses (a Linux
        Docker host routes to them), as a client on the stack's network does:
        redis-py 8.1 with `address_remap` fails on the ASK redirects of a slot
        being moved (it looks the announced address up among remapped ones)."""
        return RedisCluster(
            host=self.seed["ip"], port=self.seed["port"], **self.access.kwargs(),
            decode_responses=True, socket_timeout=2.0,
        )  # fmt: skip

    def refresh(self) -> None:
        self.remap = self.stack.outputs()["redisHostAddressMap"]

    def user_load_client(self, user: str, password: str) -> Any:
        """`load_client` logged in as an application user."""
        return RedisCluster(
            host=self.seed["ip"], port=self.seed["port"],
            **{**self.access.kwargs(), "username": user, "password": password},
            decode_responses=True, socket_timeout=2.0,
        )  # fmt: skip

    def change(
        self,
        docker_client: docker.DockerClient,
        load_client: Callable[[], Any] | None = None,
        prefix: str = "load",
        command: Sequence[str] = ("up",),
        **redis: Any,
    ) -> tuple[LoadReport, int]:
        """Apply `redis` settings with `infra up` (or `command`, e.g. `rotate
        --user U`) under load (by `load_client`, default the stack password's;
        keys under `prefix`): (load report, most nodes down at once)."""
        if redis:
            self.stack.set_config("redis", {**self.stack.config()["infra:redis"], **redis})
        downtime = Downtime(docker_client, self.stack.name, NODE_ROLE)
        load = WriteLoad(load_client or self.load_client, prefix=f"{prefix}{time.monotonic_ns()}")
        try:
            with load:
                time.sleep(1.0)  # a baseline before the change
                started = time.monotonic()
                self.stack.ok(command[0], self.stack.name, *command[1:], "--yes")
                self.last_up_s = time.monotonic() - started
                time.sleep(1.0)
        finally:
            downtime.close()
        self.last_exit_codes = list(downtime.exit_codes)
        self.refresh()
        self.wait_ok()
        reader = self.client()
        try:
            report = load.report(reader)
        finally:
            reader.close()
        return report, downtime.most_down

    def wait_ok(self) -> None:
        for address in self.remap.values():
            host, port = address.rsplit(":", 1)
            dockerenv.wait_for(
                lambda h=host, p=int(port): rediscluster.cluster_ok(h, p, self.access), 90
            )

    def images(self, docker_client: docker.DockerClient) -> set[str]:
        label = {"label": [f"infra.stack={self.stack.name}", f"infra.role={NODE_ROLE}"]}
        return {c.image.id for c in docker_client.containers.list(filters=label)}
