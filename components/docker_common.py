"""Small helpers shared by the Docker-based components."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import pulumi
import pulumi_docker as docker

# Bounded container logs: a chatty node must not fill the Docker host's disk.
LOG_OPTS = {"max-size": "10m", "max-file": "3"}
# Stop grace periods (see `service_container`): Redis' own shutdown waits up to
# 10 s (`shutdown-timeout`) for replicas; mongod's primary step-down up to 10 s,
# then it flushes its journal and WiredTiger checkpoints.
REDIS_STOP_GRACE_S = 15
MONGO_STOP_GRACE_S = 30


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
    """Durations in Go's canonical form ("2m0s", not "120s"): the docker provider reads
    them back with `time.Duration.String()`, and any other spelling shows as a change
    on every preview."""
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
    stop_grace_s: int | None = None,
    **spec: Any,
) -> docker.Container:
    """A long-running container the way every component runs one.

    Docker restarts it unless it was stopped on purpose; the provider waits
    until its healthcheck passes (`wait`), so `up` fails on a container that
    never becomes healthy instead of reporting success; logs are bounded; and
    its fixed name forces delete-before-replace, since pulumi-docker otherwise
    creates the replacement first and the two names collide.

    `stop_grace_s` (data containers): the provider stops a container it deletes
    with `destroyGraceSeconds` as the timeout, and with none set it kills at once,
    mid-write. SIGTERM makes Redis and mongod shut down cleanly (Redis 7 first
    lets its replicas catch up, for up to `shutdown-timeout`, 10 s).

    Swap equals the memory limit (no swap): a data store that swaps stalls, and
    the provider's in-place memory update sends the swap limit only when it is set,
    so without it Docker refuses to raise memory above the swap limit it chose at
    create (twice the first limit).
    """
    if spec.get("memory") is not None:
        spec["memory_swap"] = spec["memory"]
    if stop_grace_s is not None:
        spec.update(
            stop_signal="SIGTERM", stop_timeout=stop_grace_s, destroy_grace_seconds=stop_grace_s
        )
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
