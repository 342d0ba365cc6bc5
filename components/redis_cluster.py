"""`infra:redis:Cluster`: a Redis Cluster of shards x (1 master + replicas) on Docker."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi
import pulumi_docker as docker

from components import docker_node as dn
from components import redis_handover as ho
from components import redis_scaling as scaling
from components.monitoring_config import ScrapeTarget
from components.placement import BUS_PORT_OFFSET, place_redis
from components.redis_base import CA_PATH, RedisTier, cli_tls, tls_lines
from components.redis_config import MAX_REDIS_NODES, RedisClusterExports, RedisConfig
from components.redis_users import acl_line, user_output
from components.rolling import Roller

REDIS_PORT = 6379
CONF_PATH = "/usr/local/etc/redis/redis.conf"
PASSWORD_PATH = "/run/secrets/redis-password"
INIT_SCRIPT_PATH = "/usr/local/bin/redis-cluster-init.sh"


def node_health(port: int, tls: bool = False, user: str | None = None) -> str:
    """Liveness: PING may answer LOADING (replaying the AOF) or MASTERDOWN (replica
    without its master) while the process is fine; restarting it would only make
    things worse. The password is read from the config file so that it never
    shows up in `docker inspect` (with `user`, from `masterauth`: there is no
    `requirepass` then)."""
    key, login = ("requirepass", "") if user is None else ("masterauth", f"--user {user} ")
    return (
        f"REDISCLI_AUTH=\"$(sed -n 's/^{key} //p' {CONF_PATH})\" "
        f"redis-cli --no-auth-warning {login}{cli_tls(tls)}-p {port} ping "
        "| grep -Eq 'PONG|LOADING|MASTERDOWN'"
    )


def cluster_nodes(config: RedisConfig, site: dn.Site) -> list[dn.Node]:
    """Node i at the i-th address of the Redis block, published on base + i.

    The addresses are fixed: nodes announce them (`cluster-announce-ip`), so
    they must not change across restarts. With several hosts, node i runs on
    the host placement gives it and announces that host's address and port
    base + i (it listens there inside its container too, so that the announced,
    the published and the listening port are one number)."""
    ips = site.ips("redis", config.node_count)
    base = config.host_port_base
    if site.hosts:
        assert base is not None  # the stack root refuses hosts without hostPortBase
        placed = place_redis(config, list(site.hosts)).nodes
        return [
            dn.Node(
                f"{site.prefix}-{i}",
                site.hosts[host].address,
                base + i,
                None,
                host=host,
                container_ip=ips[i],
            )
            for i, host in enumerate(placed)
        ]
    return [
        dn.Node(f"{site.prefix}-{i}", ip, REDIS_PORT, None if base is None else base + i)
        for i, ip in enumerate(ips)
    ]


def published(node: dn.Node, site: dn.Site) -> list[docker.ContainerPortArgs]:
    """Single host: the client port on `hostBind`. Several hosts: the client and
    the cluster bus port, 1:1 on the host's `publishOn`, which other hosts reach."""
    if node.host is None:
        return node.published(site.host_bind)
    bind = site.hosts[node.host].bind
    return [
        docker.ContainerPortArgs(internal=port, external=port, ip=bind)
        for port in (node.port, node.port + BUS_PORT_OFFSET)
    ]


def node_conf(config: RedisConfig, node: dn.Node, password: str) -> str:
    """redis.conf of one node.

    `cluster-node-timeout` is the failover window: a master is marked failed
    after it, then a replica is elected. Redis' default is 15000 ms; 4000 ms
    (our default) fails over in about 6 s (5.2-6.8 s measured) and rides out a
    5 s stall of a master (`docker pause`) without a failover, which 3000 and
    3500 ms did not (bench/failover_sweep.py); a longer stall (a long fork,
    swapping) is failed over.
    Announcing the fixed container IP keeps `nodes.conf` valid across restarts;
    across hosts, the host's address and published ports do the same.
    """
    cluster_lines = [
        "cluster-enabled yes",
        "cluster-config-file nodes.conf",
        f"cluster-node-timeout {config.node_timeout_ms}",
        f"cluster-announce-ip {node.ip}",
        f"cluster-announce-port {node.port}",
        f"cluster-announce-bus-port {node.port + BUS_PORT_OFFSET}",
        "cluster-require-full-coverage yes",
        # Redis waits 5 s before a diskless full sync to batch replicas; the
        # wait delays the moment a fresh replica can take over, and replicas of
        # one master rarely need a full sync at the same moment. Not tied to
        # `replicas`: a node's config that followed the topology would make
        # every replicas change replace (roll) every node.
        "repl-diskless-sync-delay 0",
    ]
    active, accepted = config.admin_login(password)
    lines = dn.redis_base_conf(
        node.port,
        config.memory_mb,
        config.maxmemory_policy,
        config.appendfsync,
        active,
        mode_lines=cluster_lines,
        user_lines=[acl_line(user, password) for user in config.users],
        tls_lines=tls_lines(cluster=True) if config.tls.enabled else (),
        admin_user=config.admin_user,
        accepted=accepted,
    )
    return "\n".join([*lines, ""])


def block_endpoints(site: dn.Site, host_port_base: int | None) -> dict[str, tuple[str, int]]:
    """Announced address -> host endpoint for every address of the Redis block,
    also those of nodes a scale-in is removing (no longer in the config)."""
    ips = site.ips("redis", MAX_REDIS_NODES)
    ports = [None if host_port_base is None else host_port_base + i for i in range(len(ips))]
    nodes = [
        dn.Node(str(i), ip, REDIS_PORT, port)
        for i, (ip, port) in enumerate(zip(ips, ports, strict=True))
    ]
    return {n.address: dn.host_endpoint(n, site.host_bind) for n in nodes}


class RedisCluster(RedisTier):
    """A Redis Cluster whose nodes sit at fixed addresses on one Docker network.

    Reachability: nodes announce their fixed container IPs, so containers on the
    stack's network follow `MOVED` redirects directly. Clients on the Docker host
    use the published ports (`host_bind:host_port_base+i`) and map announced
    addresses to them (`host_address_map` output; redis-py: `address_remap`).

    Across several Docker hosts (`site.hosts`), no container network spans the
    hosts: node i announces its host's address with port base + i and bus port
    base + i + 10000, both published 1:1, so nodes, containers on any host and
    clients on the operator's machine follow redirects with no address map.
    Placement (components/placement.py) keeps each shard's members on distinct
    hosts and no majority of masters on one host.
    """

    type_token = "infra:redis:Cluster"
    exports_model = RedisClusterExports
    mode = "cluster"
    nodes: pulumi.Output[list[dict[str, Any]]]
    url: pulumi.Output[str]
    host_address_map: pulumi.Output[dict[str, str]]
    password: pulumi.Output[str]
    users: pulumi.Output[dict[str, dict[str, Any]]]
    ca_cert: pulumi.Output[str] | None
    admin_user: str | None

    def exports(self) -> dict[str, Any]:
        """A plaintext cluster has no `redisCaCert` output (rather than a null one)."""
        return {k: v for k, v in super().exports().items() if v is not None}

    def build(self, name: str, images: dn.Images, password: pulumi.Output[str]) -> None:
        nodes = cluster_nodes(self.config, self.site)
        hooks = self._rolling(name, nodes)
        containers = [
            self._node(name, i, node, images.on(node.host), password, hooks)
            for i, node in enumerate(nodes)
        ]
        init = self._init(
            name, nodes, images.on(), password, containers, self._scaling(name, nodes)
        )
        self._set_outputs(nodes, password, init)

    def _rolling(self, name: str, nodes: list[dn.Node]) -> pulumi.ResourceHookBinding | None:
        """Replacements roll one node at a time, masters handed over first
        (components/rolling.py); `rollout: all-at-once` lets the engine replace
        them together, as it does by default."""
        if self.config.rollout != "rolling":
            return None
        resource = {node.name: f"{name}-node-{i}" for i, node in enumerate(nodes)}
        members = ho.RedisNodes(
            endpoints={resource[n.name]: dn.host_endpoint(n, self.site.host_bind) for n in nodes},
            announced={n.address: resource[n.name] for n in nodes},
        )
        self._with_access(members)
        roller = Roller(
            name,
            hand_over=lambda node: ho.cluster_hand_over(members, node),
            rejoined=lambda node: ho.cluster_rejoined(members, node),
            rank=lambda node: ho.rank(members, node),
            members=list(members.endpoints),
        )
        return roller.hooks()

    def _node(
        self,
        name: str,
        i: int,
        node: dn.Node,
        image: pulumi.Output[str],
        password: pulumi.Output[str],
        hooks: pulumi.ResourceHookBinding | None,
    ) -> docker.Container:
        host = None if node.host is None else self.site.hosts[node.host]
        provider = None if host is None else host.provider
        network = self.site.network if host is None else host.network
        volume = dn.data_volume(f"{name}-data-{i}", node.name, self.site.labels, self, provider)
        conf = password.apply(lambda pw: node_conf(self.config, node, pw))
        return dn.service_container(
            f"{name}-node-{i}",
            name=node.name,
            hostname=node.name,
            image=image,
            command=["redis-server", CONF_PATH],
            uploads=[
                docker.ContainerUploadArgs(file=CONF_PATH, content=conf, permissions="0644"),
                *self.tls_uploads(node, password),
            ],
            networks_advanced=dn.network_attachment(
                network, node.container_ip or node.ip, [node.name]
            ),
            ports=published(node, self.site),
            volumes=dn.volume_mount(volume, "/data"),
            healthcheck=dn.shell_healthcheck(
                node_health(
                    REDIS_PORT if host is None else node.port,
                    self.tls_enabled,
                    self.config.admin_user,
                ),
                interval="2s",
            ),
            provider=provider,
            memory=self.config.memory_mb,
            wait_timeout=90,
            stop_grace_s=dn.REDIS_STOP_GRACE_S,
            labels={**self.site.labels, "infra.role": "redis-cluster-node"},
            parent=self,
            hooks=hooks,
        )

    def _init(
        self,
        name: str,
        nodes: list[dn.Node],
        image: pulumi.Output[str],
        password: pulumi.Output[str],
        containers: list[docker.Container],
        hooks: pulumi.ResourceHookBinding | None,
    ) -> docker.Container:
        """Forms the cluster, then stays up as its health probe.

        A long-running init container (instead of a one-shot) lets `wait=True`
        fail `pulumi up` when the cluster never becomes ok, and keeps reporting
        cluster health in `docker ps` afterwards. Its inputs only change when the
        node list does, so a second `up` does not run it again.
        """
        init_name = f"{self.site.prefix}-init"
        init_ip = self.site.ips("redis-init", 1)[0]
        node_list = " ".join(node.address for node in nodes)
        return dn.service_container(
            f"{name}-init",
            name=init_name,
            hostname=init_name,
            image=image,
            command=["sh", INIT_SCRIPT_PATH],
            envs=[
                f"NODES={node_list}",
                f"REPLICAS={self.config.replicas}",
                "WAIT_SECONDS=120",
                *self._shards_env(nodes),
                *([f"CLI_TLS={cli_tls(True).strip()}"] if self.tls_enabled else []),
                *([f"CLI_USER={self.config.admin_user}"] if self.config.admin_user else []),
            ],
            uploads=[
                docker.ContainerUploadArgs(
                    file=INIT_SCRIPT_PATH,
                    content=dn.script_text("redis-cluster-init.sh"),
                    executable=True,
                ),
                docker.ContainerUploadArgs(
                    file=PASSWORD_PATH, content=self.login, permissions="0600"
                ),
                *self._ca_upload(),
            ],
            networks_advanced=dn.network_attachment(self.site.network, init_ip, [init_name]),
            healthcheck=dn.shell_healthcheck(
                f"sh {INIT_SCRIPT_PATH} health", interval="2s", retries=3, start_period="2m0s"
            ),
            memory=32,
            wait_timeout=180,
            labels={**self.site.labels, "infra.role": "redis-cluster-init"},
            parent=self,
            depends_on=containers,
            hooks=hooks,
        )

    def _ca_upload(self) -> list[docker.ContainerUploadArgs]:
        ca = self.ca_pem()
        if ca is None:
            return []
        return [docker.ContainerUploadArgs(file=CA_PATH, content=ca, permissions="0644")]

    def _shards_env(self, nodes: list[dn.Node]) -> list[str]:
        """Several hosts: which node is which shard's master and replicas, so that
        the cluster is formed as placed (`redis-cli --cluster create` would pair
        nodes by its own anti-affinity guess). Shard s: nodes s, s + shards, ..."""
        if not self.site.hosts:
            return []
        shards = self.config.shards
        groups = [",".join(n.address for n in nodes[s::shards]) for s in range(shards)]
        return [f"SHARDS={' '.join(groups)}"]

    def _scaling(self, name: str, nodes: list[dn.Node]) -> pulumi.ResourceHookBinding | None:
        """`shards`/`replicas` changed on a live cluster (components/redis_scaling.py):
        the init container is replaced then, after every new node is up and before
        any removed node is deleted, so its `before_create` hook reshapes the cluster
        (a first creation finds no cluster and leaves forming it to the container).
        Not across hosts yet: `infra up` refuses such a change before the engine."""
        if self.site.hosts:
            return None
        by_addr = ho.RedisNodes(
            endpoints=block_endpoints(self.site, self.config.host_port_base),
            announced={},
            timeout_s=scaling.SCALE_TIMEOUT_S,
        )
        self._with_access(by_addr)
        kept = [node.address for node in nodes]
        shards, replicas = self.config.shards, self.config.replicas

        async def scale(args: pulumi.ResourceHookArgs) -> None:
            scaler = scaling.Scaler(
                by_addr.client, by_addr.wait, by_addr.secret[0], self.config.admin_user
            )
            done = await asyncio.to_thread(scaler.run, kept, shards, replicas)
            if done is not None and not done.empty:
                pulumi.log.info(f"{name}: {done.summary()}")

        hook = pulumi.ResourceHook(f"{name}-scale", scale)
        return pulumi.ResourceHookBinding(before_create=[hook])

    def _set_outputs(
        self, nodes: list[dn.Node], password: pulumi.Output[str], init: docker.Container
    ) -> None:
        seed = nodes[0].address
        self.nodes = pulumi.Output.from_input([node.output() for node in nodes])
        # Across hosts the announced addresses are the reachable ones: the map is
        # the identity, kept so that every reader works unchanged.
        remap = (
            {n.address: n.address for n in nodes}
            if self.site.hosts
            else dn.host_address_map(nodes, self.site.host_bind)
        )
        self.host_address_map = pulumi.Output.from_input(remap)
        self.password = self.login
        # The URL depends on the init container: it is only useful once formed.
        scheme = "rediss" if self.tls_enabled else "redis"
        user = self.config.admin_user or ""
        self.url = pulumi.Output.all(self.login, init.id).apply(
            lambda v: f"{scheme}://{user}:{v[0]}@{seed}"
        )
        users = self.config.users
        self.users = pulumi.Output.all(password, init.id).apply(
            lambda v: {u.name: user_output(u, v[0], seed, scheme) for u in users}
        )
        self.ca_cert = self.ca_pem()
        self.admin_user = self.config.admin_user
        self.register_outputs(
            {
                "nodes": self.nodes,
                "hostAddressMap": self.host_address_map,
                "seedUrl": self.url,
                "password": self.password,
                "users": self.users,
                "caCert": self.ca_cert,
                "adminUser": self.admin_user,
            }
        )


def scrape_targets(cluster: RedisCluster) -> list[ScrapeTarget]:
    """Every node, named as its container (the `instance` of its alerts)."""
    return [
        ScrapeTarget("redis", "redis", node.address, {"instance": node.name}, cluster.tls_enabled)
        for node in cluster_nodes(cluster.config, cluster.site)
    ]
