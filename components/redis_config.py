"""Typed config for the Redis tier (`infra:redis`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from components.config_base import (
    ComponentConfig,
    Exports,
    Model,
    NodeOutput,
    check_image,
    field_error,
    port_problems,
    problems_error,
)
from components.placement import PlacementConfig
from components.redis_users import ADMIN_USER, AdminStep, RedisUser, admin_login, check_users
from components.tls import TlsConfig

MAX_REDIS_NODES = 80  # the address plan reserves .10-.89 of the subnet for Redis nodes
MAX_REPLICAS = 5
# Sentinel mode gives every group a fixed run of addresses (and host ports):
# group g, member k sits at offset g * SENTINEL_GROUP_STRIDE + k of the Redis
# block. Adding groups or replicas then never moves an existing node, whose
# address Sentinel has recorded.
SENTINEL_GROUP_STRIDE = 1 + MAX_REPLICAS
MAX_SENTINEL_SHARDS = MAX_REDIS_NODES // SENTINEL_GROUP_STRIDE
MAX_SENTINELS = 9  # the address plan's Sentinel block (.90-.99) holds 10 hosts

# Keys that only mean something in one mode (snake_case field names).
CLUSTER_ONLY = ("node_timeout_ms",)
SENTINEL_ONLY = (
    "sentinels",
    "quorum",
    "down_after_ms",
    "failover_timeout_ms",
    "parallel_syncs",
    "min_replicas_to_write",
    "min_replicas_max_lag_s",
    "sentinel_host_port_base",
)

MaxmemoryPolicy = Literal[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]


class AdminConfig(Model):
    """infra's own user's password (`redis.admin`, with `defaultUser: disabled`):
    `generation` 1 is the stack password; a rotation raises it and walks
    `rotation` through accept, switch and done, one rolling `up` each (`infra
    rotate STACK --admin` does all three)."""

    generation: int = Field(default=1, ge=1, le=10_000)
    rotation: AdminStep = "done"

    @model_validator(mode="after")
    def _previous(self) -> AdminConfig:
        if self.generation == 1 and self.rotation != "done":
            raise field_error(
                "rotation",
                "generation 1 has no password before it: raise generation to rotate "
                "(`infra rotate STACK --admin`)",
            )
        return self


class RedisConfig(ComponentConfig):
    """Redis tier settings.

    `mode: cluster` is Redis Cluster (shards x (1 master + replicas), failover
    built in). `mode: sentinel` is `shards` independent primary/replica groups
    watched by `sentinels` Sentinels (docs/redis-sentinel.md). Defaults give the
    design document's 3 masters + 3 replicas in both modes. Keys of one mode
    are refused in the other.
    """

    enabled: bool = True
    mode: Literal["cluster", "sentinel"] = "cluster"
    image: str = "redis:7.4.1"
    shards: int = Field(default=3, ge=1, le=MAX_REDIS_NODES)
    replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    # 4000: the smallest cluster-node-timeout without a false failover in
    # bench/failover_sweep.py (README, "Failover windows, measured").
    node_timeout_ms: int = Field(default=4000, ge=500, le=60000)
    # How `up` replaces nodes when a change forces it (components/rolling.py):
    # one node at a time with a lossless hand-over, or all at once (an outage,
    # faster on a laptop whose data does not matter).
    rollout: Literal["rolling", "all-at-once"] = "rolling"
    memory_mb: int = Field(default=256, ge=32, le=65536)
    maxmemory_policy: MaxmemoryPolicy = "allkeys-lru"
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    host_port_base: int | None = Field(default=7000, ge=1024, le=65535)
    # mode: sentinel only (see components/redis_sentinel.py for the reasoning).
    sentinels: int = 3
    quorum: int | None = None  # None: a majority of `sentinels` (2 of 3)
    down_after_ms: int = Field(default=5000, ge=500, le=3_600_000)
    failover_timeout_ms: int = Field(default=30000, ge=1000, le=3_600_000)
    parallel_syncs: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    min_replicas_to_write: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    min_replicas_max_lag_s: int = Field(default=10, ge=1, le=3600)
    sentinel_host_port_base: int | None = Field(default=26379, ge=1024, le=65535)
    # Which host runs which node, when the stack has `hosts` (components/placement.py).
    placement: PlacementConfig = PlacementConfig()
    # Application users: Redis ACL users on every data node, and discovery-only
    # users on the Sentinels in mode: sentinel (components/redis_users.py).
    users: list[RedisUser] = Field(default_factory=list)
    # TLS on every link with the stack's CA (components/tls.py).
    tls: TlsConfig = TlsConfig()
    # Who the stack password logs in as. `admin` (the model's default, so that a
    # stack written before this key keeps the login its clients use): Redis'
    # `default` user. `disabled` (the templates): `default` can do nothing and
    # log in as nobody, and infra's own user `infra` has the stack password
    # (components/redis_users.py admin_lines). Switching it on a deployed tier
    # is refused: old and new nodes could not replicate from each other.
    default_user: Literal["admin", "disabled"] = "admin"
    # Rotation of infra's own password (defaultUser: disabled): `infra rotate
    # STACK --admin` (components/redis_users.py admin_login).
    admin: AdminConfig = AdminConfig()

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image(value)

    @property
    def admin_user(self) -> str | None:
        """The user infra logs in as: None for Redis' `default` user."""
        return ADMIN_USER if self.default_user == "disabled" else None

    def admin_login(self, stack_password: str) -> tuple[str, list[str]]:
        """(the password infra uses, the passwords the nodes accept for it):
        the stack password itself unless `admin` rotates (admin_login)."""
        if self.admin_user is None:
            return stack_password, [stack_password]
        return admin_login(stack_password, self.admin.generation, self.admin.rotation)

    @property
    def node_count(self) -> int:
        return self.shards * (1 + self.replicas)

    @property
    def sentinel_quorum(self) -> int:
        """Sentinels that must agree a primary is down: a majority unless set."""
        return self.quorum if self.quorum is not None else self.sentinels // 2 + 1

    @property
    def sentinel_min_replicas_to_write(self) -> int:
        """Unless set, tolerate the loss of one replica: `replicas - 1`.

        With 1 replica per group that is 0: a primary that must keep 1 replica
        would refuse every write after a failover (the new primary has no
        replica until the failed node returns), which defeats the failover.
        """
        if self.min_replicas_to_write is not None:
            return self.min_replicas_to_write
        return max(0, self.replicas - 1)

    @property
    def sentinel_port_span(self) -> int:
        """Host ports (and addresses) a sentinel-mode layout spans, from base."""
        return (self.shards - 1) * SENTINEL_GROUP_STRIDE + 1 + self.replicas

    def host_ports(self) -> list[tuple[str, int, int]]:
        ports = []
        span = self.node_count if self.mode == "cluster" else self.sentinel_port_span
        if self.host_port_base is not None:
            ports.append(("hostPortBase", self.host_port_base, self.host_port_base + span - 1))
        base = self.sentinel_host_port_base
        if self.mode == "sentinel" and base is not None:
            ports.append(("sentinelHostPortBase", base, base + self.sentinels - 1))
        return ports

    @model_validator(mode="after")
    def _topology(self) -> RedisConfig:
        problems = self._mode_keys() + check_users(self.users)
        if self.admin != AdminConfig() and self.admin_user is None:
            problems.append(
                (
                    "admin",
                    "rotates infra's own user, which only defaultUser: disabled has (the "
                    "`default` user's requirepass holds one password): remove admin",
                )
            )
        if self.mode == "cluster":
            problems += self._cluster_problems()
        else:
            problems += self._sentinel_problems()
        if problems:
            raise problems_error("RedisConfig", problems)
        return self

    def _mode_keys(self) -> list[tuple[str, str]]:
        """Keys given for the other mode: refused, so a typo'd mode is not silent."""
        unused: tuple[str, ...]
        if self.mode == "cluster":
            unused, hint = SENTINEL_ONLY, "remove it, or set redis.mode: sentinel"
        else:
            unused, hint = (
                CLUSTER_ONLY,
                "remove it, or set redis.mode: cluster; Sentinel's failover window is "
                "redis.downAfterMs",
            )
        return [
            (_alias(name), f"only used with mode: {_other(self.mode)} ({hint})")
            for name in unused
            if name in self.model_fields_set
        ]

    def _cluster_problems(self) -> list[tuple[str, str]]:
        problems = []
        if self.shards < 3:
            problems.append(
                (
                    "shards",
                    "a Redis Cluster needs at least 3 masters (set redis.shards to 3 or more)",
                )
            )
        if self.replicas < 1:
            problems.append(
                (
                    "replicas",
                    "automatic failover needs at least 1 replica per master "
                    "(set redis.replicas to 1 or more)",
                )
            )
        if self.node_count > MAX_REDIS_NODES:
            problems.append(
                (
                    "shards",
                    f"{self.shards} shards x {1 + self.replicas} nodes = {self.node_count} "
                    f"nodes, more than the {MAX_REDIS_NODES} the address plan holds",
                )
            )
        return problems + port_problems("redis", self.host_ports())

    def _sentinel_problems(self) -> list[tuple[str, str]]:
        return [
            *self._sentinel_count_problems(),
            *self._sentinel_group_problems(),
            *self._sentinel_timing_problems(),
            *self._sentinel_port_problems(),
        ]

    def _sentinel_count_problems(self) -> list[tuple[str, str]]:
        problems = []
        n = self.sentinels
        if n < 3 or n % 2 == 0:
            problems.append(
                (
                    "sentinels",
                    f"must be odd and at least 3, got {n}: a majority of Sentinels must "
                    "authorize a failover, and an even count survives no more failures than "
                    "the odd count below it (set redis.sentinels to 3, 5, 7 or 9)",
                )
            )
        elif n > MAX_SENTINELS:
            problems.append(
                (
                    "sentinels",
                    f"{n} Sentinels do not fit the address plan, which holds {MAX_SENTINELS} "
                    "(set redis.sentinels to 3, 5, 7 or 9)",
                )
            )
        elif self.quorum is not None and not n // 2 < self.quorum <= n:
            low = n // 2 + 1
            problems.append(
                (
                    "quorum",
                    f"must be a majority of the {n} Sentinels, between {low} and {n}, got "
                    f"{self.quorum}: a smaller quorum lets a minority declare a primary down, "
                    f"a larger one can never be reached (set redis.quorum to {low})",
                )
            )
        return problems

    def _sentinel_group_problems(self) -> list[tuple[str, str]]:
        problems = []
        if self.replicas < 1:
            problems.append(
                (
                    "replicas",
                    "automatic failover needs at least 1 replica per primary "
                    "(set redis.replicas to 1 or more)",
                )
            )
        if self.shards > MAX_SENTINEL_SHARDS:
            problems.append(
                (
                    "shards",
                    f"{self.shards} groups need {self.shards} x {SENTINEL_GROUP_STRIDE} "
                    f"addresses, more than the {MAX_REDIS_NODES} the address plan holds "
                    f"(set redis.shards to {MAX_SENTINEL_SHARDS} or fewer)",
                )
            )
        mrw = self.min_replicas_to_write
        if mrw is not None and self.replicas >= 1 and mrw >= self.replicas:
            problems.append(
                (
                    "minReplicasToWrite",
                    f"{mrw} with {self.replicas} replica(s) per group refuses every write "
                    "after a failover until the failed node is back (set "
                    f"redis.minReplicasToWrite to at most {self.replicas - 1}, or raise "
                    "redis.replicas)",
                )
            )
        return problems

    def _sentinel_timing_problems(self) -> list[tuple[str, str]]:
        if self.failover_timeout_ms > self.down_after_ms:
            return []
        return [
            (
                "failoverTimeoutMs",
                f"must be greater than redis.downAfterMs ({self.down_after_ms} ms), got "
                f"{self.failover_timeout_ms}: a failover would time out before a primary "
                f"can even be declared down (set redis.failoverTimeoutMs to "
                f"{max(2 * self.down_after_ms, 30000)} or lower redis.downAfterMs)",
            )
        ]

    def _sentinel_port_problems(self) -> list[tuple[str, str]]:
        problems = port_problems("redis", self.host_ports())
        published = dict((field, (first, last)) for field, first, last in self.host_ports())
        nodes, sentinels = published.get("hostPortBase"), published.get("sentinelHostPortBase")
        if problems or nodes is None or sentinels is None:
            return problems
        base, last = sentinels
        if base <= nodes[1] and nodes[0] <= last:
            problems.append(
                (
                    "sentinelHostPortBase",
                    f"ports {base}-{last} overlap the data nodes' {nodes[0]}-{nodes[1]} "
                    f"(set redis.sentinelHostPortBase to {nodes[1] + 1} or more, or below "
                    f"{nodes[0] - self.sentinels + 1})",
                )
            )
        return problems


def _alias(name: str) -> str:
    field = RedisConfig.model_fields[name]
    return field.alias or name


def _other(mode: str) -> str:
    return "sentinel" if mode == "cluster" else "cluster"


class RedisUserOutput(Exports):
    """One application user's connection (a secret output): `url` is a seed
    node's `redis://user:password@host:port` (cluster mode), or the Sentinels'
    `redis-sentinel://user:password@host:port,...` (Lettuce's form; `rediss` and
    `rediss-sentinel` with TLS)."""

    username: str
    password: str
    preset: str
    keys: list[str]
    url: str
    generation: int = 1


class RedisClusterExports(Exports):
    """Stack outputs of `redis.mode: cluster` (components/redis_cluster.py)."""

    prefix: ClassVar[str] = "redis_"
    redis_mode: Literal["cluster"]
    redis_nodes: list[NodeOutput]
    redis_host_address_map: dict[str, str]
    redis_url: str
    redis_password: str
    # Outputs of stacks deployed before users existed have none.
    redis_users: dict[str, RedisUserOutput] = {}
    # The CA clients verify the nodes with (PEM); None: plaintext (redis.tls off).
    redis_ca_cert: str | None = None
    # Who `redis_password` logs in as; None: Redis' `default` user.
    redis_admin_user: str | None = None


class SentinelNodeOutput(NodeOutput):
    master_set: str
    initial_role: Literal["primary", "replica"]


class RedisSentinelExports(Exports):
    """Stack outputs of `redis.mode: sentinel` (components/redis_sentinel.py)."""

    prefix: ClassVar[str] = "redis_"
    redis_mode: Literal["sentinel"]
    redis_nodes: list[SentinelNodeOutput]
    redis_sentinels: list[NodeOutput]
    redis_master_sets: list[str]
    redis_host_address_map: dict[str, str]
    redis_password: str
    # The CA clients verify the nodes and Sentinels with (PEM); None: plaintext.
    redis_ca_cert: str | None = None
    # Outputs of stacks deployed before Sentinel users existed have none.
    redis_users: dict[str, RedisUserOutput] = {}
    # Who `redis_password` logs in as; None: Redis' `default` user.
    redis_admin_user: str | None = None
