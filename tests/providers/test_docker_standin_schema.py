"""The stand-in's field tables against pulumi_docker's own input types and the program.

If an SDK bump renames or drops a field the stand-in implements, or the program starts
setting a field the stand-in does not implement, these fail loudly.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pulumi._types as pulumi_types
import pulumi_docker
import pytest

from providers.docker_standin import MIRRORS
from providers.docker_standin.schema import (
    CONTAINER,
    FIELDS,
    IMAGE,
    NESTED_FIELDS,
    NETWORK,
    VOLUME,
)
from tests.support.capture import Capture, run_program

ARGS = {
    NETWORK: pulumi_docker.NetworkArgs,
    VOLUME: pulumi_docker.VolumeArgs,
    IMAGE: pulumi_docker.RemoteImageArgs,
    CONTAINER: pulumi_docker.ContainerArgs,
}
NESTED_ARGS = {
    (NETWORK, "ipamConfigs"): pulumi_docker.NetworkIpamConfigArgs,
    (NETWORK, "labels"): pulumi_docker.NetworkLabelArgs,
    (VOLUME, "labels"): pulumi_docker.VolumeLabelArgs,
    (CONTAINER, "uploads"): pulumi_docker.ContainerUploadArgs,
    (CONTAINER, "networksAdvanced"): pulumi_docker.ContainerNetworksAdvancedArgs,
    (CONTAINER, "ports"): pulumi_docker.ContainerPortArgs,
    (CONTAINER, "volumes"): pulumi_docker.ContainerVolumeArgs,
    (CONTAINER, "labels"): pulumi_docker.ContainerLabelArgs,
    (CONTAINER, "healthcheck"): pulumi_docker.ContainerHealthcheckArgs,
}


def wire_names(args_type: type) -> set[str]:
    """The provider-side (camelCase) names of an SDK input type's properties."""
    return set(pulumi_types.input_type_py_to_pulumi_names(args_type).values())


def test_mirrors_the_pinned_sdk() -> None:
    assert version("pulumi_docker") == MIRRORS


@pytest.mark.parametrize("type_", sorted(FIELDS))
def test_every_field_exists_in_the_sdk(type_: str) -> None:
    assert set(FIELDS[type_]) <= wire_names(ARGS[type_])


@pytest.mark.parametrize("key", sorted(NESTED_FIELDS), ids=lambda k: f"{k[0]}.{k[1]}")
def test_every_nested_field_exists_in_the_sdk(key: tuple[str, str]) -> None:
    assert NESTED_FIELDS[key] <= wire_names(NESTED_ARGS[key])


def configs() -> dict[str, dict[str, Any]]:
    mongo = {"enabled": True, "members": 3, "arbiter": False}
    return {
        "cluster": {"redis": {"mode": "cluster"}},
        "sentinel": {"redis": {"mode": "sentinel", "sentinels": 3}},
        "mongo": {"redis": {"enabled": False}, "mongo": mongo},
    }


SECRETS = {
    "redisPassword": "redis-password-0123456789abcdefghijklmnopq",
    "mongoRootPassword": "mongo-password-0123456789abcdefghijklmnopq",
    "mongoKeyFile": "a" * 756,
}


@pytest.mark.parametrize("name", sorted(configs()))
def test_the_program_uses_only_implemented_fields(name: str) -> None:
    capture: Capture = run_program(f"schema-{name}", configs()[name], SECRETS)
    docker_resources = [r for r in capture.resources if r.type.startswith("docker:")]
    assert docker_resources
    for res in docker_resources:
        assert res.type in FIELDS, res.type
        assert set(res.spec) <= set(FIELDS[res.type]), (
            res.name,
            set(res.spec) - set(FIELDS[res.type]),
        )
        for (owner, key), allowed in NESTED_FIELDS.items():
            value = res.spec.get(key) if owner == res.type else None
            for item in value if isinstance(value, list) else [value] if value else []:
                assert set(item) <= allowed, (res.name, key, set(item) - allowed)
