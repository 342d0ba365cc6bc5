"""Small helpers shared by the Docker-based components."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import pulumi
import pulumi_docker as docker

# Bounded container logs: a chatty node must not fill the Docker host's disk.
LOG_OPTS = {"max-size": "10m", "max-file": "3"}


def label_args(values: Mapping[str, str]) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(values.items())]


def shell_healthcheck(
    script: str,
    *,
    interval: str = "5s",
    timeout: str = "3s",
    retries: int = 5,
    start_period: str = "10s",
) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=["CMD-SHELL", script],
        interval=interval,
        timeout=timeout,
        retries=retries,
        start_period=start_period,
    )


def script_text(name: str) -> str:
    """A shell script shipped in `components/scripts/`."""
    return resources.files("components").joinpath("scripts", name).read_text()


def host_ports(
    base: int | None, count: int, internal: int, bind: str
) -> list[list[docker.ContainerPortArgs]]:
    """One published port per container (base+i -> internal), or none if base is None."""
    if base is None:
        return [[] for _ in range(count)]
    return [
        [docker.ContainerPortArgs(internal=internal, external=base + i, ip=bind)]
        for i in range(count)
    ]


def network_attachment(
    network_name: object, ip: str, aliases: Sequence[str]
) -> list[docker.ContainerNetworksAdvancedArgs]:
    return [
        docker.ContainerNetworksAdvancedArgs(
            name=network_name,  # type: ignore[arg-type]
            ipv4_address=ip,
            aliases=list(aliases),
        )
    ]


def service_container(
    logical_name: str,
    *,
    parent: pulumi.Resource,
    labels: Mapping[str, str],
    wait_timeout: int,
    depends_on: Sequence[pulumi.Resource] = (),
    **spec: Any,
) -> docker.Container:
    """A long-running container the way every component runs one.

    Docker restarts it unless it was stopped on purpose; the provider waits
    until its healthcheck passes (`wait`), so `up` fails on a container that
    never becomes healthy instead of reporting success; logs are bounded; and
    its fixed name forces delete-before-replace, since pulumi-docker otherwise
    creates the replacement first and the two names collide.
    """
    return docker.Container(
        logical_name,
        restart="unless-stopped",
        must_run=True,
        wait=True,
        wait_timeout=wait_timeout,
        log_driver="json-file",
        log_opts=LOG_OPTS,
        labels=label_args(labels),
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=list(depends_on), delete_before_replace=True
        ),
        **spec,
    )
