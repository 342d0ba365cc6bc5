"""The Docker node kit: how every Docker component runs a node.

One place for what Redis Cluster, Sentinel and Mongo nodes share: where a node
sits (`Site`, `Node`), its image, its data volume, its published port and the
host address map built from those ports, the base of every `redis.conf`, and
the stop/health policy of a long-running container (`service_container`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pulumi
import pulumi_docker as docker

from components.redis_users import admin_lines

# Bounded container logs: a chatty node must not fill the Docker host's disk.
LOG_OPTS = {"max-size": "10m", "max-file": "3"}
# Stop grace periods (see `service_container`): Redis' own shutdown waits up to
# 10 s (`shutdown-timeout`) for replicas; mongod's primary step-down up to 10 s,
# then it flushes its journal and WiredTiger checkpoints.
REDIS_STOP_GRACE_S = 15
MONGO_STOP_GRACE_S = 30


@dataclass(frozen=True)
class HostSite:
    """One Docker host of a stack with `hosts`: its provider, the stack network
    on it, the address its nodes announce and the one its ports listen on."""

    name: str
    address: str
    bind: str
    provider: pulumi.ProviderResource
    network: pulumi.Input[str]


@dataclass(frozen=True)
class Site:
    """What the stack gives a Docker component: the network its nodes join, the
    prefix of their container names, the address the host publishes ports on,
    the labels every object carries, and the fixed addresses of each role
    (`ips("redis", 6)`: the first 6 addresses of the stack's Redis block).

    `hosts` (stacks with several Docker hosts, by name, in stack-file order):
    where a component that places its nodes puts each one. The component's own
    resources (image, init container) go to the first host, whose provider
    the stack passes as the component's default; `network` is that host's."""

    network: pulumi.Input[str]
    prefix: str
    host_bind: str
    labels: Mapping[str, str]
    ips: Callable[[str, int], list[str]]
    hosts: Mapping[str, HostSite] = field(default_factory=dict)
    # Where the operator's machine reaches ports published on `host_bind`, when
    # that is not `host_bind` itself (across hosts: the first host's address).
    public_host: str | None = None

    @property
    def url_host(self) -> str:
        """The host part of a URL to a port published on `host_bind`."""
        if self.public_host:
            return self.public_host
        return "127.0.0.1" if self.host_bind in ("0.0.0.0", "") else self.host_bind


@dataclass(frozen=True)
class Node:
    """One node as clients see it: container name, the fixed address it
    announces, its port there, and the host port it is published on (if any)."""

    name: str
    ip: str
    port: int
    host_port: int | None
    # Stacks with `hosts`: the host it runs on, and its address on that host's
    # stack network (`ip` is then the host's address, which it announces).
    host: str | None = None
    container_ip: str | None = None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def output(self, **extra: Any) -> dict[str, Any]:
        """The node in a stack output (`redisNodes`, `redisSentinels`, ...)."""
        placed = {} if self.host is None else {"host": self.host}
        return {
            "name": self.name,
            **extra,
            "ip": self.ip,
            "port": self.port,
            "hostPort": self.host_port,
            **placed,
        }

    def published(self, bind: str) -> list[docker.ContainerPortArgs]:
        if self.host_port is None:
            return []
        return [docker.ContainerPortArgs(internal=self.port, external=self.host_port, ip=bind)]


def host_endpoint(node: Node, bind: str) -> tuple[str, int]:
    """Where a process on the Docker host reaches a node: its published port
    (on loopback when published on every interface), else its container
    address, which only a Linux Docker host routes."""
    if node.host_port is None:
        return node.ip, node.port
    return ("127.0.0.1" if bind in ("0.0.0.0", "") else bind), node.host_port


def host_address_map(nodes: Iterable[Node], bind: str) -> dict[str, str]:
    """Announced `ip:port` -> published `host:port`, for clients on the Docker host.

    Nodes announce their fixed container addresses (Redis Cluster redirects,
    Sentinel replies); a host client cannot reach those and maps them through
    this table (redis-py: `address_remap`; Sentinel: `cli.ops.sentinel`)."""
    return {n.address: f"{bind}:{n.host_port}" for n in nodes if n.host_port is not None}


def node_image(
    name: str, image: str, parent: pulumi.Resource, host: HostSite | None = None
) -> docker.RemoteImage:
    """The component's image, kept on the engine when the stack goes: other
    stacks (and the next `up`) use it, and a registry may not be reachable.
    With `host`: that host's copy (`infra up` loads it there first where no
    registry is reachable; cli/engine/images.py)."""
    suffix, provider = ("", None) if host is None else (f"-{host.name}", host.provider)
    return docker.RemoteImage(
        f"{name}-image{suffix}",
        name=image,
        keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )


class Images:
    """A component's image: on the one engine, or on every host of the stack."""

    def __init__(self, name: str, image: str, site: Site, parent: pulumi.Resource) -> None:
        self.by_host = {h: node_image(name, image, parent, on) for h, on in site.hosts.items()}
        self.default = None if self.by_host else node_image(name, image, parent)

    def on(self, host: str | None = None) -> pulumi.Output[str]:
        """The image id on `host` (None: the component's default host)."""
        if self.default is not None:
            return self.default.image_id
        return self.by_host[host or next(iter(self.by_host))].image_id


def data_volume(
    logical_name: str,
    node_name: str,
    labels: Mapping[str, str],
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource | None = None,
) -> docker.Volume:
    """A node's named data volume: it outlives container replacement (a new
    image or config keeps the data), and goes only with `infra down`."""
    return docker.Volume(
        logical_name,
        name=f"{node_name}-data",
        labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in labels.items()],
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )


def volume_mount(volume: docker.Volume, path: str) -> list[docker.ContainerVolumeArgs]:
    return [docker.ContainerVolumeArgs(volume_name=volume.name, container_path=path)]


def maxmemory_mb(memory_mb: int) -> int:
    """80% of the container limit: AOF rewrites fork, and copy-on-write pages,
    client buffers and the replication backlog live outside `maxmemory`."""
    return max(16, memory_mb * 8 // 10)


def redis_base_conf(
    port: int,
    memory_mb: int,
    maxmemory_policy: str,
    appendfsync: str,
    password: str,
    mode_lines: Sequence[str] = (),
    user_lines: Sequence[str] = (),
    tls_lines: Sequence[str] = (),
    admin_user: str | None = None,
    accepted: Sequence[str] = (),
) -> list[str]:
    """The lines of every Redis data node's `redis.conf`, in either mode, with
    the mode's own lines after `dir`: reachable on the stack network (protected
    mode off, a password on), data and AOF on the volume, memory bounded below
    the container limit; application users (ACL `user` lines) last. The order
    is part of the uploaded file, whose change replaces the container: keep it.
    With `tls_lines`, the plaintext port is off and `port` is the TLS port.
    With `admin_user` (`redis.defaultUser: disabled`), `admin_lines` replace
    `requirepass` (the user accepts `accepted`, default `password`), and
    replicas log in to their primary as that user with `password`."""
    ports = ["port 0", f"tls-port {port}", *tls_lines] if tls_lines else [f"port {port}"]
    if admin_user is None:
        auth = [f"requirepass {password}", f"masterauth {password}"]
    else:
        auth = [
            f"masteruser {admin_user}",
            f"masterauth {password}",
            *admin_lines(accepted or [password]),
        ]
    return [
        *ports,
        "bind 0.0.0.0",
        "protected-mode no",
        "dir /data",
        *mode_lines,
        "appendonly yes",
        f"appendfsync {appendfsync}",
        f"maxmemory {maxmemory_mb(memory_mb)}mb",
        f"maxmemory-policy {maxmemory_policy}",
        *auth,
        *user_lines,
    ]


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
    hooks: pulumi.ResourceHookBinding | None = None,
    provider: pulumi.ProviderResource | None = None,
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

    `hooks`: a rolling replacement's hand-over (`components.rolling`);
    `provider`: the host a placed node runs on (else the component's default).
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
            parent=parent,
            depends_on=list(depends_on),
            delete_before_replace=True,
            hooks=hooks,
            provider=provider,
        ),
        **spec,
    )
