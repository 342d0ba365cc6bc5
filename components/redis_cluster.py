"""`infra:redis:Cluster`: a Redis Cluster of shards x (1 master + replicas) on Docker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from components import docker_common as dc

REDIS_PORT = 6379
BUS_PORT = 16379
CONF_PATH = "/usr/local/etc/redis/redis.conf"
PASSWORD_PATH = "/run/secrets/redis-password"
INIT_SCRIPT_PATH = "/usr/local/bin/redis-cluster-init.sh"

# Liveness: PING may answer LOADING (replaying the AOF) or MASTERDOWN (replica
# without its master) while the process is fine; restarting it would only make
# things worse. The password is read from the config file so that it never
# shows up in `docker inspect`.
NODE_HEALTH = (
    f"REDISCLI_AUTH=\"$(sed -n 's/^requirepass //p' {CONF_PATH})\" "
    f"redis-cli --no-auth-warning -p {REDIS_PORT} ping | grep -Eq 'PONG|LOADING|MASTERDOWN'"
)


@dataclass
class RedisClusterArgs:
    """Inputs of a RedisCluster.

    `node_ips` are fixed addresses on `network_name`: nodes announce them
    (`cluster-announce-ip`), so they must not change across restarts.
    `init_ip` is the address of the one-shot init container.
    """

    network_name: pulumi.Input[str]
    node_ips: Sequence[str]
    init_ip: str
    password: pulumi.Input[str]
    name_prefix: str
    image: str = "redis:7.4.1"
    shards: int = 3
    replicas: int = 1
    node_timeout_ms: int = 4000
    memory_mb: int = 256
    maxmemory_policy: str = "allkeys-lru"
    appendfsync: str = "everysec"
    host_bind: str = "127.0.0.1"
    host_port_base: int | None = 7000
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return self.shards * (1 + self.replicas)


def maxmemory_mb(memory_mb: int) -> int:
    """80% of the container limit: AOF rewrites fork, and copy-on-write pages,
    client buffers and the replication backlog live outside `maxmemory`."""
    return max(16, memory_mb * 8 // 10)


def node_conf(args: RedisClusterArgs, ip: str, password: str) -> str:
    """redis.conf of one node.

    `cluster-node-timeout` is the failover window: a master is marked failed
    after it, then a replica is elected. Redis' default is 15000 ms; 4000 ms
    (our default) fails over in about 6 s (5.2-6.8 s measured) and rides out a
    5 s stall of a master (`docker pause`) without a failover, which 3000 and
    3500 ms did not (bench/failover_sweep.py); a longer stall (a long fork,
    swapping) is failed over.
    Announcing the fixed container IP keeps `nodes.conf` valid across restarts.
    """
    return "\n".join(
        [
            f"port {REDIS_PORT}",
            "bind 0.0.0.0",
            "protected-mode no",
            "dir /data",
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            f"cluster-node-timeout {args.node_timeout_ms}",
            f"cluster-announce-ip {ip}",
            f"cluster-announce-port {REDIS_PORT}",
            f"cluster-announce-bus-port {BUS_PORT}",
            "cluster-require-full-coverage yes",
            # Redis waits 5 s before a diskless full sync to batch replicas; with
            # one replica per master there is nothing to batch, and the wait
            # delays the moment a fresh replica can take over.
            f"repl-diskless-sync-delay {0 if args.replicas == 1 else 1}",
            "appendonly yes",
            f"appendfsync {args.appendfsync}",
            f"maxmemory {maxmemory_mb(args.memory_mb)}mb",
            f"maxmemory-policy {args.maxmemory_policy}",
            f"requirepass {password}",
            f"masterauth {password}",
            "",
        ]
    )


class RedisCluster(pulumi.ComponentResource):
    """A Redis Cluster whose nodes sit at fixed addresses on one Docker network.

    Reachability: nodes announce their fixed container IPs, so containers on the
    stack's network follow `MOVED` redirects directly. Clients on the Docker host
    use the published ports (`host_bind:host_port_base+i`) and map announced
    addresses to them (`host_address_map` output; redis-py: `address_remap`).
    """

    nodes: pulumi.Output[list[dict[str, Any]]]
    seed_url: pulumi.Output[str]
    host_address_map: pulumi.Output[dict[str, str]]
    password: pulumi.Output[str]

    def __init__(
        self, name: str, args: RedisClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("infra:redis:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        password = pulumi.Output.secret(args.password)
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=child)
        containers = [self._node(name, args, i, image, password) for i in range(args.node_count)]
        init = self._init(name, args, image, password, containers)
        self._set_outputs(args, password, init)

    def _node(
        self,
        name: str,
        args: RedisClusterArgs,
        i: int,
        image: docker.RemoteImage,
        password: pulumi.Output[str],
    ) -> docker.Container:
        ip = args.node_ips[i]
        node_name = f"{args.name_prefix}-{i}"
        volume = docker.Volume(
            f"{name}-data-{i}",
            name=f"{node_name}-data",
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in args.labels.items()],
            opts=pulumi.ResourceOptions(parent=self),
        )
        conf = password.apply(lambda pw: node_conf(args, ip, pw))
        ports = dc.host_ports(args.host_port_base, args.node_count, REDIS_PORT, args.host_bind)
        return dc.service_container(
            f"{name}-node-{i}",
            name=node_name,
            hostname=node_name,
            image=image.image_id,
            command=["redis-server", CONF_PATH],
            uploads=[docker.ContainerUploadArgs(file=CONF_PATH, content=conf, permissions="0644")],
            networks_advanced=dc.network_attachment(args.network_name, ip, [node_name]),
            ports=ports[i],
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/data")],
            healthcheck=dc.shell_healthcheck(NODE_HEALTH, interval="2s"),
            memory=args.memory_mb,
            wait_timeout=90,
            stop_grace_s=dc.REDIS_STOP_GRACE_S,
            labels={**args.labels, "infra.role": "redis-cluster-node"},
            parent=self,
        )

    def _init(
        self,
        name: str,
        args: RedisClusterArgs,
        image: docker.RemoteImage,
        password: pulumi.Output[str],
        nodes: list[docker.Container],
    ) -> docker.Container:
        """Forms the cluster, then stays up as its health probe.

        A long-running init container (instead of a one-shot) lets `wait=True`
        fail `pulumi up` when the cluster never becomes ok, and keeps reporting
        cluster health in `docker ps` afterwards. Its inputs only change when the
        node list does, so a second `up` does not run it again.
        """
        init_name = f"{args.name_prefix}-init"
        node_list = " ".join(f"{ip}:{REDIS_PORT}" for ip in args.node_ips[: args.node_count])
        return dc.service_container(
            f"{name}-init",
            name=init_name,
            hostname=init_name,
            image=image.image_id,
            command=["sh", INIT_SCRIPT_PATH],
            envs=[f"NODES={node_list}", f"REPLICAS={args.replicas}", "WAIT_SECONDS=120"],
            uploads=[
                docker.ContainerUploadArgs(
                    file=INIT_SCRIPT_PATH,
                    content=dc.script_text("redis-cluster-init.sh"),
                    executable=True,
                ),
                docker.ContainerUploadArgs(
                    file=PASSWORD_PATH, content=password, permissions="0600"
                ),
            ],
            networks_advanced=dc.network_attachment(args.network_name, args.init_ip, [init_name]),
            healthcheck=dc.shell_healthcheck(
                f"sh {INIT_SCRIPT_PATH} health", interval="2s", retries=3, start_period="2m0s"
            ),
            memory=32,
            wait_timeout=180,
            labels={**args.labels, "infra.role": "redis-cluster-init"},
            parent=self,
            depends_on=nodes,
        )

    def _set_outputs(
        self, args: RedisClusterArgs, password: pulumi.Output[str], init: docker.Container
    ) -> None:
        nodes = []
        remap = {}
        for i in range(args.node_count):
            ip = args.node_ips[i]
            host_port = None if args.host_port_base is None else args.host_port_base + i
            nodes.append(
                {
                    "name": f"{args.name_prefix}-{i}",
                    "ip": ip,
                    "port": REDIS_PORT,
                    "hostPort": host_port,
                }
            )
            if host_port is not None:
                remap[f"{ip}:{REDIS_PORT}"] = f"{args.host_bind}:{host_port}"
        # The URL depends on the init container: it is only useful once formed.
        self.nodes = pulumi.Output.from_input(nodes)
        self.host_address_map = pulumi.Output.from_input(remap)
        self.password = password
        self.seed_url = pulumi.Output.all(password, init.id).apply(
            lambda v: f"redis://:{v[0]}@{args.node_ips[0]}:{REDIS_PORT}"
        )
        self.register_outputs(
            {
                "nodes": self.nodes,
                "hostAddressMap": self.host_address_map,
                "seedUrl": self.seed_url,
                "password": self.password,
            }
        )
