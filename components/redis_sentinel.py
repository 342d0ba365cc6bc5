"""`infra:redis:Sentinel`: primary/replica groups watched by Redis Sentinel, on Docker.

Sentinel cannot manage a Redis Cluster (Redis refuses REPLICAOF in cluster mode),
so this is its own topology: `shards` independent groups of 1 primary +
`replicas` replicas (default 3 x (1 + 1): the design document's 3 masters + 3
replicas), and `sentinels` Sentinels that each monitor every group (master sets
`shard-0`, `shard-1`, ...). With `shards=1, replicas=2` it is the classic
1 primary + 2 replicas + 3 Sentinels.

Failover timeline (Redis Sentinel docs): every Sentinel PINGs every instance
each second; a primary that gives no valid reply for `down-after-milliseconds`
is subjectively down (SDOWN) for that Sentinel; once `quorum` Sentinels agree it
is objectively down (ODOWN), a majority of Sentinels elects a leader that
promotes the best replica (REPLICAOF NO ONE) and repoints the others. Clients
that ask Sentinel for the primary (redis-py's `Sentinel.master_for`) follow.
So failover takes about `down-after-milliseconds` plus ~1 s of agreement,
election and promotion (measured on one Docker host: 6.2 s with 5000 ms,
31.1 s with 30000 ms, 60.8 s with 60000 ms; docs/redis-sentinel.md,
bench/redis_sentinel_failover.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from components import docker_common as dc
from components.redis_cluster import maxmemory_mb

REDIS_PORT = 6379
SENTINEL_PORT = 26379
TEMPLATE_DIR = "/usr/local/etc/redis"
NODE_TEMPLATE = f"{TEMPLATE_DIR}/redis.conf.tpl"
SENTINEL_TEMPLATE = f"{TEMPLATE_DIR}/sentinel.conf.tpl"
# The live config files sit on the data volume: Redis and Sentinel rewrite them
# with what they learn (roles, current primaries, epochs), and that must survive
# restarts and container replacement.
NODE_CONF = "/data/redis.conf"
SENTINEL_CONF = "/data/sentinel.conf"
SCRIPT_NAME = "redis-sentinel-ha.sh"
SCRIPT_PATH = f"/usr/local/bin/{SCRIPT_NAME}"


@dataclass
class RedisSentinelArgs:
    """Inputs of a RedisSentinel.

    `node_ips` is the Redis address block: member k of group g sits at
    `node_ips[g * group_stride + k]` (and is published on
    `host_port_base + g * group_stride + k`), so adding groups or replicas never
    moves a node whose address Sentinel has recorded. `sentinel_ips[j]` is
    Sentinel j's address. Addresses are fixed, and everything is announced by
    IP: no hostname resolution, so a stopped container cannot cause "Failed to
    resolve hostname".

    Timing defaults (Redis' own: down-after 30000 ms, failover-timeout 180000
    ms; Bitnami's chart: down-after 60000 ms) are tuned for one Docker host:

    - `down_after_ms=5000`: 5 missed once-a-second PINGs. Long enough to ride
      out what stalls a healthy node here (a fork for an AOF rewrite, a slow
      command, a CPU-throttled container), and a crashed redis-server that
      Docker's restart policy brings back with its data in ~1 s, which then
      needs no failover at all (measured); short enough to fail over in ~6 s
      instead of 30-60 s. Redis' 30 s and Bitnami's 60 s are meant for
      networks that partition and flap, which one bridge network does not.
      It is also the smallest window that rode out a 5 s `docker pause` of a
      primary without a failover in bench/failover_sweep.py (1000-4500 ms did
      not).
    - `failover_timeout_ms=30000`: a Sentinel retries a failover of the same
      primary only after 2x this (60 s instead of 6 min when an elected leader
      dies mid-failover); it also bounds how long repointing replicas may take.
      It must exceed `down_after_ms`.
    - `parallel_syncs=1`: replicas resync from the new primary one at a time,
      so the others keep serving reads (Redis' default).

    Write loss: replication is asynchronous, so a failover can lose the writes
    the primary acknowledged but had not yet sent to the promoted replica
    (milliseconds' worth after a crash; measured in bench/). A primary cut off
    from its replicas would keep acknowledging writes that the failover then
    discards; `min_replicas_to_write` / `min_replicas_max_lag_s` make it refuse
    writes once fewer than N replicas acknowledged within the lag, bounding
    that loss to about `min_replicas_max_lag_s` seconds of writes. It is only
    usable with N <= replicas - 1 (the new primary has one replica fewer until
    the failed node returns), so the default is `replicas - 1` (0 with one
    replica per group: no bound beyond replication lag).
    """

    network_name: pulumi.Input[str]
    node_ips: Sequence[str]
    sentinel_ips: Sequence[str]
    password: pulumi.Input[str]
    name_prefix: str
    image: str = "redis:7.4.1"
    shards: int = 3
    replicas: int = 1
    group_stride: int = 6
    sentinels: int = 3
    quorum: int = 2
    down_after_ms: int = 5000
    failover_timeout_ms: int = 30000
    parallel_syncs: int = 1
    min_replicas_to_write: int = 0
    min_replicas_max_lag_s: int = 10
    memory_mb: int = 256
    sentinel_memory_mb: int = 64
    maxmemory_policy: str = "allkeys-lru"
    appendfsync: str = "everysec"
    host_bind: str = "127.0.0.1"
    host_port_base: int | None = 7000
    sentinel_host_port_base: int | None = 26379
    labels: Mapping[str, str] = field(default_factory=dict)

    def members(self) -> list[tuple[int, int]]:
        """(group, member) of every data node; member 0 starts as the primary."""
        return [(g, k) for g in range(self.shards) for k in range(1 + self.replicas)]

    def offset(self, g: int, k: int) -> int:
        return g * self.group_stride + k

    def node_ip(self, g: int, k: int) -> str:
        return self.node_ips[self.offset(g, k)]

    def node_host_port(self, g: int, k: int) -> int | None:
        base = self.host_port_base
        return None if base is None else base + self.offset(g, k)

    def sentinel_host_port(self, j: int) -> int | None:
        base = self.sentinel_host_port_base
        return None if base is None else base + j

    def node_name(self, g: int, k: int) -> str:
        return f"{self.name_prefix}-{g}-{k}"

    def sentinel_name(self, j: int) -> str:
        return f"{self.name_prefix}-sentinel-{j}"


def master_set(g: int) -> str:
    return f"shard-{g}"


def node_conf(args: RedisSentinelArgs, g: int, k: int, password: str) -> str:
    """redis.conf template of member k of group g.

    `replica-announce-ip/-port` make the primary (and so Sentinel) list this
    replica at its fixed container address even if a NAT sits in between.
    Member 0 starts as the primary; after that the role is Sentinel's: the start
    script keeps the `replicaof` line Sentinel last wrote (CONFIG REWRITE).
    """
    lines = [
        f"port {REDIS_PORT}",
        "bind 0.0.0.0",
        "protected-mode no",
        "dir /data",
        "appendonly yes",
        f"appendfsync {args.appendfsync}",
        f"maxmemory {maxmemory_mb(args.memory_mb)}mb",
        f"maxmemory-policy {args.maxmemory_policy}",
        f"requirepass {password}",
        f"masterauth {password}",
        f"replica-announce-ip {args.node_ip(g, k)}",
        f"replica-announce-port {REDIS_PORT}",
        f"min-replicas-to-write {args.min_replicas_to_write}",
        f"min-replicas-max-lag {args.min_replicas_max_lag_s}",
    ]
    if k > 0:
        lines.append(f"replicaof {args.node_ip(g, 0)} {REDIS_PORT}")
    return "\n".join([*lines, ""])


def sentinel_conf(args: RedisSentinelArgs, j: int, password: str) -> str:
    """sentinel.conf template of Sentinel j.

    `sentinel announce-ip/-port` pin what this Sentinel advertises to its peers
    to its fixed address. `requirepass` protects the Sentinel itself, and
    `sentinel sentinel-pass` is what it sends to its (equally protected) peers;
    `sentinel auth-pass` is what it sends to the data nodes.
    """
    lines = [
        f"port {SENTINEL_PORT}",
        "bind 0.0.0.0",
        "protected-mode no",
        "dir /data",
        f"sentinel announce-ip {args.sentinel_ips[j]}",
        f"sentinel announce-port {SENTINEL_PORT}",
        "sentinel resolve-hostnames no",
        "sentinel announce-hostnames no",
        f"requirepass {password}",
        f"sentinel sentinel-pass {password}",
    ]
    for g in range(args.shards):
        name = master_set(g)
        lines += [
            f"sentinel monitor {name} {args.node_ip(g, 0)} {REDIS_PORT} {args.quorum}",
            f"sentinel auth-pass {name} {password}",
            f"sentinel down-after-milliseconds {name} {args.down_after_ms}",
            f"sentinel failover-timeout {name} {args.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} {args.parallel_syncs}",
        ]
    return "\n".join([*lines, ""])


def host_address_map(args: RedisSentinelArgs) -> dict[str, str]:
    """Announced `ip:port` -> published `host:port`, for clients on the Docker host.

    Sentinel answers with the fixed container addresses; a host client cannot
    reach those and maps them through this table (docs/redis-sentinel.md).
    """
    remap = {}
    for g, k in args.members():
        port = args.node_host_port(g, k)
        if port is not None:
            remap[f"{args.node_ip(g, k)}:{REDIS_PORT}"] = f"{args.host_bind}:{port}"
    for j in range(args.sentinels):
        port = args.sentinel_host_port(j)
        if port is not None:
            remap[f"{args.sentinel_ips[j]}:{SENTINEL_PORT}"] = f"{args.host_bind}:{port}"
    return remap


def _published(port: int | None, internal: int, bind: str) -> list[docker.ContainerPortArgs]:
    if port is None:
        return []
    return [docker.ContainerPortArgs(internal=internal, external=port, ip=bind)]


class RedisSentinel(pulumi.ComponentResource):
    """Primary/replica groups plus Sentinels, at fixed addresses on one Docker network.

    Reachability: Sentinel reports fixed container IPs, so containers on the
    stack's network use them directly. Docker's port publishing is a NAT, and
    Sentinel discovery through a NAT breaks (nodes and Sentinels would
    advertise addresses the others cannot use), so the topology itself never
    uses published ports; they exist only for clients on the Docker host,
    which map announced addresses to them (`host_address_map` output).
    """

    nodes: pulumi.Output[list[dict[str, Any]]]
    sentinels: pulumi.Output[list[dict[str, Any]]]
    master_sets: pulumi.Output[list[str]]
    host_address_map: pulumi.Output[dict[str, str]]
    password: pulumi.Output[str]

    def __init__(
        self, name: str, args: RedisSentinelArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("infra:redis:Sentinel", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        password = pulumi.Output.secret(args.password)
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=child)
        nodes = [self._node(name, args, g, k, image, password) for g, k in args.members()]
        sentinels = [
            self._sentinel(name, args, j, image, password, nodes) for j in range(args.sentinels)
        ]
        self._set_outputs(args, password, sentinels)

    def _volume(self, logical: str, volume_name: str, args: RedisSentinelArgs) -> docker.Volume:
        return docker.Volume(
            logical,
            name=volume_name,
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in args.labels.items()],
            opts=pulumi.ResourceOptions(parent=self),
        )

    @staticmethod
    def _uploads(template_path: str, template: pulumi.Output[str]) -> list[Any]:
        return [
            docker.ContainerUploadArgs(file=template_path, content=template, permissions="0600"),
            docker.ContainerUploadArgs(
                file=SCRIPT_PATH, content=dc.script_text(SCRIPT_NAME), executable=True
            ),
        ]

    def _node(
        self,
        name: str,
        args: RedisSentinelArgs,
        g: int,
        k: int,
        image: docker.RemoteImage,
        password: pulumi.Output[str],
    ) -> docker.Container:
        node_name = args.node_name(g, k)
        volume = self._volume(f"{name}-data-{g}-{k}", f"{node_name}-data", args)
        template = password.apply(lambda pw: node_conf(args, g, k, pw))
        role = "primary" if k == 0 else "replica"
        return dc.service_container(
            f"{name}-node-{g}-{k}",
            name=node_name,
            hostname=node_name,
            image=image.image_id,
            command=["sh", SCRIPT_PATH, "node"],
            envs=[f"TEMPLATE={NODE_TEMPLATE}", f"CONF={NODE_CONF}", f"PORT={REDIS_PORT}"],
            uploads=self._uploads(NODE_TEMPLATE, template),
            networks_advanced=dc.network_attachment(
                args.network_name, args.node_ip(g, k), [node_name]
            ),
            ports=_published(args.node_host_port(g, k), REDIS_PORT, args.host_bind),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/data")],
            healthcheck=dc.shell_healthcheck(f"sh {SCRIPT_PATH} node-health", interval="2s"),
            memory=args.memory_mb,
            wait_timeout=90,
            stop_grace_s=dc.REDIS_STOP_GRACE_S,
            labels=(
                {
                    **args.labels,
                    "infra.role": "redis-sentinel-node",
                    "infra.redis.master-set": master_set(g),
                    "infra.redis.initial-role": role,
                }
            ),
            parent=self,
        )

    def _sentinel(
        self,
        name: str,
        args: RedisSentinelArgs,
        j: int,
        image: docker.RemoteImage,
        password: pulumi.Output[str],
        nodes: list[docker.Container],
    ) -> docker.Container:
        """Sentinel j. It starts once every data node is healthy, and is itself
        healthy once `SENTINEL CKQUORUM` is OK for every master set (it sees
        enough peers to reach the quorum and authorize a failover), so
        `pulumi up` fails when the Sentinels cannot form a working quorum."""
        sentinel_name = args.sentinel_name(j)
        volume = self._volume(f"{name}-sentinel-data-{j}", f"{sentinel_name}-data", args)
        template = password.apply(lambda pw: sentinel_conf(args, j, pw))
        return dc.service_container(
            f"{name}-sentinel-{j}",
            name=sentinel_name,
            hostname=sentinel_name,
            image=image.image_id,
            command=["sh", SCRIPT_PATH, "sentinel"],
            envs=[
                f"TEMPLATE={SENTINEL_TEMPLATE}",
                f"CONF={SENTINEL_CONF}",
                f"PORT={SENTINEL_PORT}",
            ],
            uploads=self._uploads(SENTINEL_TEMPLATE, template),
            networks_advanced=dc.network_attachment(
                args.network_name, args.sentinel_ips[j], [sentinel_name]
            ),
            ports=_published(args.sentinel_host_port(j), SENTINEL_PORT, args.host_bind),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/data")],
            healthcheck=dc.shell_healthcheck(
                f"sh {SCRIPT_PATH} sentinel-health", interval="2s", start_period="30s"
            ),
            memory=args.sentinel_memory_mb,
            wait_timeout=90,
            stop_grace_s=dc.REDIS_STOP_GRACE_S,
            labels={**args.labels, "infra.role": "redis-sentinel"},
            parent=self,
            depends_on=nodes,
        )

    def _set_outputs(
        self,
        args: RedisSentinelArgs,
        password: pulumi.Output[str],
        sentinels: list[docker.Container],
    ) -> None:
        nodes = [
            {
                "name": args.node_name(g, k),
                "masterSet": master_set(g),
                "initialRole": "primary" if k == 0 else "replica",
                "ip": args.node_ip(g, k),
                "port": REDIS_PORT,
                "hostPort": args.node_host_port(g, k),
            }
            for g, k in args.members()
        ]
        sentinel_list = [
            {
                "name": args.sentinel_name(j),
                "ip": args.sentinel_ips[j],
                "port": SENTINEL_PORT,
                "hostPort": args.sentinel_host_port(j),
            }
            for j in range(args.sentinels)
        ]
        self.nodes = pulumi.Output.from_input(nodes)
        # Like the cluster's seed URL, the Sentinel list resolves once they run.
        self.sentinels = pulumi.Output.all(*[s.id for s in sentinels]).apply(
            lambda _: sentinel_list
        )
        self.master_sets = pulumi.Output.from_input([master_set(g) for g in range(args.shards)])
        self.host_address_map = pulumi.Output.from_input(host_address_map(args))
        self.password = password
        self.register_outputs(
            {
                "nodes": self.nodes,
                "sentinels": self.sentinels,
                "masterSets": self.master_sets,
                "hostAddressMap": self.host_address_map,
                "password": self.password,
            }
        )
