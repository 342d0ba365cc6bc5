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

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pulumi
import pulumi_docker as docker

from components import docker_node as dn
from components import redis_handover as ho
from components import sentinel_handover as sh
from components.monitoring_config import ScrapeTarget
from components.placement import Placed, place_redis
from components.redis_base import RedisTier, cli_tls, tls_lines
from components.redis_config import SENTINEL_GROUP_STRIDE, RedisConfig, RedisSentinelExports
from components.redis_users import acl_line, admin_lines, sentinel_acl_line, user_output
from components.rolling import Roller

REDIS_PORT = 6379
SENTINEL_PORT = 26379
SENTINEL_MEMORY_MB = 64
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


@dataclass(frozen=True)
class Layout:
    """Where every node of a Sentinel topology sits.

    Member k of group g sits at offset `g * SENTINEL_GROUP_STRIDE + k` of the
    Redis address block (and is published on `host_port_base` + that offset),
    so adding groups or replicas never moves a node whose address Sentinel has
    recorded. Sentinel j sits at the j-th address of the Sentinel block.
    Addresses are fixed, and everything is announced by IP: no hostname
    resolution, so a stopped container cannot cause "Failed to resolve hostname".

    Across several Docker hosts (`site.hosts`) no container network spans the
    hosts, so a node cannot be reached at its container address from another
    host: member k of group g runs on the host placement gives it
    (components/placement.py: a group's members on distinct hosts, Sentinels
    one per host) and announces that host's address with port
    `host_port_base` + offset (Sentinel j: `sentinel_host_port_base` + j),
    published 1:1 and listened on inside the container too. Sentinel
    discovery through Docker's NAT breaks unless what a node or Sentinel
    announces is exactly what the others can reach: the published address
    and port, one number everywhere.

    Why the defaults are what they are (components/redis_config.py holds them):

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

    config: RedisConfig
    site: dn.Site

    def members(self) -> list[tuple[int, int]]:
        """(group, member) of every data node; member 0 starts as the primary."""
        return [(g, k) for g in range(self.config.shards) for k in range(1 + self.config.replicas)]

    @cached_property
    def placed(self) -> Placed:
        """Which host runs each data node and Sentinel (stacks with `hosts` only)."""
        return place_redis(self.config, list(self.site.hosts))

    def node(self, g: int, k: int) -> dn.Node:
        offset = g * SENTINEL_GROUP_STRIDE + k
        ip = self.site.ips("redis", offset + 1)[offset]
        base = self.config.host_port_base
        name = f"{self.site.prefix}-{g}-{k}"
        if self.site.hosts:
            assert base is not None  # the stack root refuses hosts without hostPortBase
            host = self.placed.nodes[g * (1 + self.config.replicas) + k]
            return self._placed_node(name, host, base + offset, ip)
        port = None if base is None else base + offset
        return dn.Node(name, ip, REDIS_PORT, port)

    def sentinel(self, j: int) -> dn.Node:
        ip = self.site.ips("sentinel", j + 1)[j]
        base = self.config.sentinel_host_port_base
        name = f"{self.site.prefix}-sentinel-{j}"
        if self.site.hosts:
            assert base is not None  # the stack root refuses hosts without it
            return self._placed_node(name, self.placed.sentinels[j], base + j, ip)
        port = None if base is None else base + j
        return dn.Node(name, ip, SENTINEL_PORT, port)

    def _placed_node(self, name: str, host: str, port: int, container_ip: str) -> dn.Node:
        """A node on `host`: announced at the host's address and `port`, which is
        published 1:1 there and listened on inside, so no address map is needed."""
        address = self.site.hosts[host].address
        return dn.Node(name, address, port, None, host=host, container_ip=container_ip)

    def nodes(self) -> list[dn.Node]:
        return [self.node(g, k) for g, k in self.members()]

    def sentinels(self) -> list[dn.Node]:
        return [self.sentinel(j) for j in range(self.config.sentinels)]


def master_set(g: int) -> str:
    return f"shard-{g}"


def node_conf(layout: Layout, g: int, k: int, password: str) -> str:
    """redis.conf template of member k of group g.

    `replica-announce-ip/-port` make the primary (and so Sentinel) list this
    replica at its fixed container address even if a NAT sits in between;
    across hosts, at its host's address and published port (`Layout`), which
    it also listens on.
    Member 0 starts as the primary; after that the role is Sentinel's: the start
    script keeps the `replicaof` line Sentinel last wrote (CONFIG REWRITE).
    """
    config, node, primary = layout.config, layout.node(g, k), layout.node(g, 0)
    active, accepted = config.admin_login(password)
    lines = dn.redis_base_conf(
        node.port,
        config.memory_mb,
        config.maxmemory_policy,
        config.appendfsync,
        active,
        user_lines=[acl_line(user, password) for user in config.users],
        tls_lines=tls_lines(cluster=False) if config.tls.enabled else (),
        admin_user=config.admin_user,
        accepted=accepted,
    )
    lines += [
        f"replica-announce-ip {node.ip}",
        f"replica-announce-port {node.port}",
        f"min-replicas-to-write {config.sentinel_min_replicas_to_write}",
        f"min-replicas-max-lag {config.min_replicas_max_lag_s}",
    ]
    if k > 0:
        lines.append(f"replicaof {primary.ip} {primary.port}")
    return "\n".join([*lines, ""])


def sentinel_auth(admin_user: str | None, password: str, accepted: list[str]) -> list[str]:
    """How a Sentinel is logged in to, and logs in to its peers: the `default`
    user's `requirepass`, or (`defaultUser: disabled`) infra's user on every
    Sentinel (`admin_lines`: `accepted`), which its peers use too
    (`sentinel-user`, with `password`, the current one)."""
    if admin_user is None:
        return [f"requirepass {password}", f"sentinel sentinel-pass {password}"]
    return [
        *admin_lines(accepted),
        f"sentinel sentinel-user {admin_user}",
        f"sentinel sentinel-pass {password}",
    ]


def sentinel_conf(layout: Layout, j: int, password: str) -> str:
    """sentinel.conf template of Sentinel j.

    `sentinel announce-ip/-port` pin what this Sentinel advertises to its peers
    to its fixed address (across hosts: its host's address and published port,
    which it also listens on). `requirepass` protects the Sentinel itself, and
    `sentinel sentinel-pass` is what it sends to its (equally protected) peers;
    `sentinel auth-pass` is what it sends to the data nodes.
    With TLS, Sentinel listens on its TLS port only and, by `tls-replication`,
    speaks TLS to the data nodes and to its peers.
    """
    config, sentinel = layout.config, layout.sentinel(j)
    if config.tls.enabled:
        ports = ["port 0", f"tls-port {sentinel.port}", *tls_lines(cluster=False)]
    else:
        ports = [f"port {sentinel.port}"]
    active, accepted = config.admin_login(password)
    lines = [
        *ports,
        "bind 0.0.0.0",
        "protected-mode no",
        "dir /data",
        f"sentinel announce-ip {sentinel.ip}",
        f"sentinel announce-port {sentinel.port}",
        "sentinel resolve-hostnames no",
        "sentinel announce-hostnames no",
        *sentinel_auth(config.admin_user, active, accepted),
        *[sentinel_acl_line(user, password) for user in config.users],
    ]
    admin = config.admin_user
    for g in range(config.shards):
        name, primary = master_set(g), layout.node(g, 0)
        lines += [
            f"sentinel monitor {name} {primary.ip} {primary.port} {config.sentinel_quorum}",
            *([] if admin is None else [f"sentinel auth-user {name} {admin}"]),
            f"sentinel auth-pass {name} {active}",
            f"sentinel down-after-milliseconds {name} {config.down_after_ms}",
            f"sentinel failover-timeout {name} {config.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} {config.parallel_syncs}",
        ]
    return "\n".join([*lines, ""])


class RedisSentinel(RedisTier):
    """Primary/replica groups plus Sentinels, at fixed addresses on one Docker network.

    Reachability: Sentinel reports fixed container IPs, so containers on the
    stack's network use them directly. Docker's port publishing is a NAT, and
    Sentinel discovery through a NAT breaks (nodes and Sentinels would
    advertise addresses the others cannot use), so the topology itself never
    uses published ports; they exist only for clients on the Docker host,
    which map announced addresses to them (`host_address_map` output).

    Across several Docker hosts (`site.hosts`) there is no shared network to
    announce on, so every node and Sentinel announces its host's address and
    a port published 1:1, the one it listens on inside (`Layout`): what
    Sentinel and replicas announce is then reachable from every host and
    from clients, and the address map is the identity.
    """

    type_token = "infra:redis:Sentinel"
    exports_model = RedisSentinelExports
    mode = "sentinel"
    nodes: pulumi.Output[list[dict[str, Any]]]
    sentinels: pulumi.Output[list[dict[str, Any]]]
    master_sets: pulumi.Output[list[str]]
    host_address_map: pulumi.Output[dict[str, str]]
    password: pulumi.Output[str]
    ca_cert: pulumi.Output[str] | None
    admin_user: str | None
    users: pulumi.Output[dict[str, dict[str, Any]]]

    def build(self, name: str, images: dn.Images, password: pulumi.Output[str]) -> None:
        layout = self.layout = Layout(self.config, self.site)
        node_hooks, sentinel_hooks = self._rolling(name)
        nodes = [
            self._node(name, g, k, images.on(layout.node(g, k).host), password, node_hooks)
            for g, k in layout.members()
        ]
        sentinels = [
            self._sentinel(
                name, j, images.on(layout.sentinel(j).host), password, nodes, sentinel_hooks
            )
            for j in range(self.config.sentinels)
        ]
        self._set_outputs(password, sentinels)

    def _host(self, node: dn.Node) -> dn.HostSite | None:
        return None if node.host is None else self.site.hosts[node.host]

    def _placement(self, node: dn.Node) -> dict[str, Any]:
        """The container settings that depend on where `node` runs: one engine,
        on the stack network at its fixed address, its port published on
        `hostBind` (if at all); across hosts, on its host's engine and network,
        its own port published 1:1 on the host's `publishOn`, which other
        hosts and clients reach (and which it announces)."""
        host = self._host(node)
        if host is None:
            return {
                "networks_advanced": dn.network_attachment(self.site.network, node.ip, [node.name]),
                "ports": node.published(self.site.host_bind),
            }
        return {
            "networks_advanced": dn.network_attachment(
                host.network, node.container_ip or node.ip, [node.name]
            ),
            "ports": [
                docker.ContainerPortArgs(internal=node.port, external=node.port, ip=host.bind)
            ],
            "provider": host.provider,
        }

    def _volume(self, logical_name: str, node: dn.Node) -> docker.Volume:
        host = self._host(node)
        provider = None if host is None else host.provider
        return dn.data_volume(logical_name, node.name, self.site.labels, self, provider)

    def _rolling(
        self, name: str
    ) -> tuple[pulumi.ResourceHookBinding | None, pulumi.ResourceHookBinding | None]:
        """Replacements roll one container at a time (components/rolling.py):
        data nodes across all groups, replicas first, each primary handed over
        through Sentinel; and, with their own turns, the Sentinels, each while
        the others keep the quorum (components/sentinel_handover.py).
        `rollout: all-at-once` lets the engine replace them together.

        Each roller knows the containers the program declares (`members`): one
        it no longer declares (a group removed by `redis.shards`) is deleted
        without a turn. It has no replacement whose `after_create` would give
        the turn back, so with a turn the first of them would hold it and the
        next would wait for it until the turn timeout (observed: `shards` 4 -> 3
        hung on the second node of the removed group)."""
        if self.config.rollout != "rolling":
            return None, None
        tier = self._handover_tier(name)
        nodes = Roller(
            name,
            hand_over=lambda node: sh.hand_over(tier, node),
            rejoined=lambda node: sh.rejoined(tier, node),
            rank=lambda node: sh.rank(tier, node),
            members=list(tier.nodes.endpoints),
        )
        sentinels = Roller(
            f"{name}-sentinels",
            hand_over=lambda node: sh.sentinel_hand_over(tier, node),
            rejoined=lambda node: sh.sentinel_rejoined(tier, node),
            rank=lambda node: sh.sentinel_rank(tier, node),
            members=list(tier.sentinels.endpoints),
        )
        return nodes.hooks(), sentinels.hooks()

    def _handover_tier(self, name: str) -> sh.SentinelTier:
        """Resource names -> host endpoints and announced addresses (Sentinel
        replies name nodes and peers by their fixed container addresses)."""
        layout, bind = self.layout, self.site.host_bind
        nodes = {f"{name}-node-{g}-{k}": layout.node(g, k) for g, k in layout.members()}
        sentinels = {
            f"{name}-sentinel-{j}": layout.sentinel(j) for j in range(self.config.sentinels)
        }
        data = ho.RedisNodes(
            endpoints={r: dn.host_endpoint(n, bind) for r, n in nodes.items()},
            announced={n.address: r for r, n in nodes.items()},
        )
        self._with_access(data)
        return sh.SentinelTier(
            nodes=data,
            sentinels=ho.RedisNodes(
                endpoints={r: dn.host_endpoint(s, bind) for r, s in sentinels.items()},
                announced={s.address: r for r, s in sentinels.items()},
                secret=data.secret,
                ca_pem=data.ca_pem,
                username=data.username,
            ),
            master_sets={f"{name}-node-{g}-{k}": master_set(g) for g, k in layout.members()},
            monitoring=sh.Monitoring(
                quorum=self.config.sentinel_quorum,
                down_after_ms=self.config.down_after_ms,
                failover_timeout_ms=self.config.failover_timeout_ms,
                parallel_syncs=self.config.parallel_syncs,
                user=self.config.admin_user,
            ),
        )

    def _uploads(
        self, template_path: str, template: pulumi.Output[str], node: dn.Node, password: Any
    ) -> list[Any]:
        return [
            docker.ContainerUploadArgs(file=template_path, content=template, permissions="0600"),
            docker.ContainerUploadArgs(file=SCRIPT_PATH, content=self._script(), executable=True),
            *self.tls_uploads(node, password),
        ]

    def _script(self) -> str:
        """The start and probe script; with TLS its redis-cli speaks TLS with the
        stack's CA, and with `defaultUser: disabled` it logs in as infra's user
        with the password of `masterauth` (nodes) or `sentinel-pass` (Sentinels),
        as there is no `requirepass`. Substituted here rather than read from the
        environment, so that other stacks' containers keep exactly the script
        they had."""
        text = dn.script_text(SCRIPT_NAME)
        options = cli_tls(self.tls_enabled)
        if self.config.admin_user is not None:
            options = f"--user {self.config.admin_user} {options}"
            text = text.replace(
                "sed -n 's/^requirepass //p'",
                "sed -n 's/^masterauth //p;s/^sentinel sentinel-pass //p'",
            )
        return text.replace("redis-cli --no-auth-warning", f"redis-cli {options}--no-auth-warning")

    def _node(
        self,
        name: str,
        g: int,
        k: int,
        image: pulumi.Output[str],
        password: pulumi.Output[str],
        hooks: pulumi.ResourceHookBinding | None,
    ) -> docker.Container:
        site, node = self.layout.site, self.layout.node(g, k)
        volume = self._volume(f"{name}-data-{g}-{k}", node)
        template = password.apply(lambda pw: node_conf(self.layout, g, k, pw))
        role = "primary" if k == 0 else "replica"
        return dn.service_container(
            f"{name}-node-{g}-{k}",
            name=node.name,
            hostname=node.name,
            image=image,
            command=["sh", SCRIPT_PATH, "node"],
            # PORT: what the script's health probe talks to (the node's own port).
            envs=[f"TEMPLATE={NODE_TEMPLATE}", f"CONF={NODE_CONF}", f"PORT={node.port}"],
            uploads=self._uploads(NODE_TEMPLATE, template, node, password),
            **self._placement(node),
            volumes=dn.volume_mount(volume, "/data"),
            healthcheck=dn.shell_healthcheck(f"sh {SCRIPT_PATH} node-health", interval="2s"),
            memory=self.layout.config.memory_mb,
            wait_timeout=90,
            stop_grace_s=dn.REDIS_STOP_GRACE_S,
            labels=(
                {
                    **site.labels,
                    "infra.role": "redis-sentinel-node",
                    "infra.redis.master-set": master_set(g),
                    "infra.redis.initial-role": role,
                }
            ),
            parent=self,
            hooks=hooks,
        )

    def _sentinel(
        self,
        name: str,
        j: int,
        image: pulumi.Output[str],
        password: pulumi.Output[str],
        nodes: list[docker.Container],
        hooks: pulumi.ResourceHookBinding | None,
    ) -> docker.Container:
        """Sentinel j. It starts once every data node is healthy, and is itself
        healthy once `SENTINEL CKQUORUM` is OK for every master set (it sees
        enough peers to reach the quorum and authorize a failover), so
        `pulumi up` fails when the Sentinels cannot form a working quorum."""
        site, sentinel = self.layout.site, self.layout.sentinel(j)
        volume = self._volume(f"{name}-sentinel-data-{j}", sentinel)
        template = password.apply(lambda pw: sentinel_conf(self.layout, j, pw))
        return dn.service_container(
            f"{name}-sentinel-{j}",
            name=sentinel.name,
            hostname=sentinel.name,
            image=image,
            command=["sh", SCRIPT_PATH, "sentinel"],
            envs=[
                f"TEMPLATE={SENTINEL_TEMPLATE}",
                f"CONF={SENTINEL_CONF}",
                f"PORT={sentinel.port}",
            ],
            uploads=self._uploads(SENTINEL_TEMPLATE, template, sentinel, password),
            **self._placement(sentinel),
            volumes=dn.volume_mount(volume, "/data"),
            healthcheck=dn.shell_healthcheck(
                f"sh {SCRIPT_PATH} sentinel-health", interval="2s", start_period="30s"
            ),
            memory=SENTINEL_MEMORY_MB,
            wait_timeout=90,
            stop_grace_s=dn.REDIS_STOP_GRACE_S,
            labels={**site.labels, "infra.role": "redis-sentinel"},
            parent=self,
            depends_on=nodes,
            hooks=hooks,
        )

    def _set_outputs(self, password: pulumi.Output[str], sentinels: list[docker.Container]) -> None:
        layout = self.layout
        nodes = [
            layout.node(g, k).output(
                masterSet=master_set(g), initialRole="primary" if k == 0 else "replica"
            )
            for g, k in layout.members()
        ]
        sentinel_list = [s.output() for s in layout.sentinels()]
        self.nodes = pulumi.Output.from_input(nodes)
        # Like the cluster's seed URL, the Sentinel list resolves once they run.
        self.sentinels = pulumi.Output.all(*[s.id for s in sentinels]).apply(
            lambda _: sentinel_list
        )
        self.master_sets = pulumi.Output.from_input(
            [master_set(g) for g in range(layout.config.shards)]
        )
        self.host_address_map = pulumi.Output.from_input(self._address_map())
        self.password = self.login
        self.ca_cert = self.ca_pem()
        self.admin_user = self.config.admin_user
        # Lettuce's form: redis-sentinel://user:password@s1:port,s2:port,... (rediss- with TLS)
        scheme = "rediss-sentinel" if self.tls_enabled else "redis-sentinel"
        hosts = ",".join(s.address for s in layout.sentinels())
        users = self.config.users
        self.users = pulumi.Output.all(password, *[s.id for s in sentinels]).apply(
            lambda v: {u.name: user_output(u, v[0], hosts, scheme) for u in users}
        )
        self.register_outputs(
            {
                "nodes": self.nodes,
                "sentinels": self.sentinels,
                "masterSets": self.master_sets,
                "hostAddressMap": self.host_address_map,
                "password": self.password,
                "caCert": self.ca_cert,
                "adminUser": self.admin_user,
                "users": self.users,
            }
        )

    def exports(self) -> dict[str, Any]:
        """A plaintext tier has no `redisCaCert` output (rather than a null one)."""
        return {k: v for k, v in super().exports().items() if v is not None}

    def _address_map(self) -> dict[str, str]:
        """Announced -> reachable address. Across hosts the announced addresses
        are the reachable ones: the identity, kept so that every reader works
        unchanged."""
        every = [*self.layout.nodes(), *self.layout.sentinels()]
        if self.site.hosts:
            return {n.address: n.address for n in every}
        return dn.host_address_map(every, self.site.host_bind)


def scrape_targets(tier: RedisSentinel) -> list[ScrapeTarget]:
    """Every data node (with its master set) and every Sentinel."""
    layout = tier.layout
    nodes = [
        ScrapeTarget(
            "redis",
            "redis",
            layout.node(g, k).address,
            {"instance": layout.node(g, k).name, "master_set": master_set(g)},
            tier.tls_enabled,
        )
        for g, k in layout.members()
    ]
    sentinels = [
        ScrapeTarget("sentinel", "redis", s.address, {"instance": s.name}, tier.tls_enabled)
        for s in layout.sentinels()
    ]
    return nodes + sentinels
