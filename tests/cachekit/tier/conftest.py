"""One Redis Cluster tier (and one Sentinel tier) for all cachekit tier tests,
deployed through the real `infra up` on the real Pulumi engine and Docker
(tests/support/enginestack.py), torn down after the session.

cluster-node-timeout 1500 ms keeps the failover test short.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from tests.engine.conftest import RefusingProxy, engine_tools, proxy  # noqa: F401
from tests.integration.conftest import docker_client, redis_image  # noqa: F401
from tests.support.enginestack import TierStack, deployed_stack, redis_config, sentinel_config

NODE_TIMEOUT_MS = 1500
ENV = {"INFRA_DOCKER_PROVIDER": "standin"}


@dataclass
class Tier:
    stack: TierStack
    outputs: dict[str, Any]

    @property
    def password(self) -> str:
        return str(self.outputs["redisPassword"])


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,  # noqa: F811
    docker_client: docker.DockerClient,  # noqa: F811
    redis_image: str,  # noqa: F811
) -> Iterator[Tier]:
    config = redis_config(docker_client, redis_image)
    config["redis"]["nodeTimeoutMs"] = NODE_TIMEOUT_MS
    root = tmp_path_factory.mktemp("cachekit-cluster")
    with deployed_stack(root, proxy, docker_client, config, ENV) as stack:
        stack.ok("up", stack.name, "--yes")
        yield Tier(stack, stack.outputs())


@pytest.fixture(scope="session")
def sentinel(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,  # noqa: F811
    docker_client: docker.DockerClient,  # noqa: F811
    redis_image: str,  # noqa: F811
) -> Iterator[Tier]:
    config = sentinel_config(docker_client, redis_image, downAfterMs=1500, failoverTimeoutMs=10000)
    root = tmp_path_factory.mktemp("cachekit-sentinel")
    with deployed_stack(root, proxy, docker_client, config, ENV) as stack:
        stack.ok("up", stack.name, "--yes")
        yield Tier(stack, stack.outputs())
