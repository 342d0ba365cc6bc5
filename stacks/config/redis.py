"""Typed config for the Redis tier (`infra:redis`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from stacks.config.base import Model, check_image, field_error

MAX_REDIS_NODES = 80  # the address plan reserves .10-.89 of the subnet for Redis nodes

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


class RedisConfig(Model):
    """Redis tier settings.

    `mode: cluster` is Redis Cluster (shards x (1 master + replicas), failover
    built in). Defaults give the design document's 3 masters + 3 replicas.
    """

    enabled: bool = True
    mode: Literal["cluster", "sentinel"] = "cluster"
    image: str = "redis:7.4.1"
    shards: int = Field(default=3, ge=1, le=MAX_REDIS_NODES)
    replicas: int = Field(default=1, ge=0, le=5)
    node_timeout_ms: int = Field(default=3000, ge=500, le=60000)
    memory_mb: int = Field(default=256, ge=32, le=65536)
    maxmemory_policy: MaxmemoryPolicy = "allkeys-lru"
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    host_port_base: int | None = Field(default=7000, ge=1024, le=65535)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image(value)

    @property
    def node_count(self) -> int:
        return self.shards * (1 + self.replicas)

    @model_validator(mode="after")
    def _topology(self) -> RedisConfig:
        if self.mode == "cluster":
            if self.shards < 3:
                raise field_error(
                    "shards",
                    "a Redis Cluster needs at least 3 masters (set redis.shards to 3 or more)",
                )
            if self.replicas < 1:
                raise field_error(
                    "replicas",
                    "automatic failover needs at least 1 replica per master "
                    "(set redis.replicas to 1 or more)",
                )
        if self.node_count > MAX_REDIS_NODES:
            raise field_error(
                "shards",
                f"{self.shards} shards x {1 + self.replicas} nodes = {self.node_count} "
                f"nodes, more than the {MAX_REDIS_NODES} the address plan holds",
            )
        if self.host_port_base is not None and self.host_port_base + self.node_count - 1 > 65535:
            raise field_error(
                "hostPortBase",
                f"{self.host_port_base} + {self.node_count} nodes runs past port "
                "65535 (lower redis.hostPortBase)",
            )
        return self
