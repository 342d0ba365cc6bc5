"""Fixtures for tests on a real Docker engine.

No skipping: when no engine answers, these tests fail with the command that
starts one (scripts/setup-docker.sh), in CI and on a laptop alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

import docker
import pytest

from tests.support import dockerenv
from tests.support.livecluster import build_second_image


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = dockerenv.docker_client()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_image(docker_client: docker.DockerClient) -> str:
    try:
        return dockerenv.require_image(docker_client)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def second_image(docker_client: docker.DockerClient, redis_image: str) -> Iterator[str]:
    """A second, locally built tag of the Redis image (another image id), for
    changes that replace every node (tests/support/livecluster.py)."""
    tag = build_second_image(docker_client, redis_image)
    yield tag
    with suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(tag, force=True)


# The engine tests' refusing proxy and tool check: integration tests drive `infra`
# on the real engine too (tests/support/enginestack.py).
from tests.engine.conftest import engine_tools, proxy  # noqa: E402, F401
