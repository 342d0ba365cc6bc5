"""Fixtures for tests on a real Docker engine.

No skipping: when no engine answers, these tests fail with the command that
starts one (scripts/setup-docker.sh), in CI and on a laptop alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from tests.support import dockerenv


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


# The engine tests' refusing proxy and tool check: integration tests drive `infra`
# on the real engine too (tests/support/enginestack.py).
from tests.engine.conftest import engine_tools, proxy  # noqa: E402, F401
