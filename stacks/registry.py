"""The component registry: the one list of what a stack can be made of.

Each entry says everything the rest of the code needs to know about a
component: its config key and model, how the program builds it, the outputs it
exports (the typed `Exports` class its readers share), whether it runs on a
Docker engine (and which image), the secrets it needs, how `infra status`
checks it and how `infra validate` describes it. `stacks/program.py`, the stack
config root, `infra validate`, the Docker gate in `cli/engine/deploy.py` and
`infra status` read this list and nothing else; docs/components.md is the
recipe for adding an entry.

The registry is data: `model`, `exports`, `build` and `status` are references
("module:name", as in Python entry points) rather than imports. Building
imports Pulumi and the docker or cloudflare SDK, checking imports redis-py or
pymongo, and a config model of a component the stack does not use (the
Cloudflare edge's dozens of models, in `local`) need not be built at all:
`infra validate` and `--help` pay for none of it. A test resolves every
reference and checks it is what the entry says.
"""

from __future__ import annotations

import base64
import importlib
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.config_base import ComponentConfig, Exports
    from components.mongo_config import MongoConfig
    from components.redis_config import RedisConfig


def _enabled(config: Any) -> bool:
    return bool(config.enabled)


@dataclass(frozen=True)
class Component:
    """One kind of component a stack can hold.

    `key`: its config key (`infra:<key>`) and its name in the `components`
    output; two entries may share a key when a setting picks between them
    (`applies`, and `deployed_when` on the outputs side: `redis.mode`).
    """

    key: str
    model: str  # "module:Class", a ComponentConfig
    exports: str  # "module:Class", the Exports its readers parse the stack outputs with
    build: str  # "module:function" (name, config, Wiring) -> a component with .exports()
    describe: Callable[[Any], str]
    # Docker components: the image the config runs (None: no Docker engine needed).
    image: Callable[[Any], str] | None = None
    status: str | None = None  # "module:function" (Exports instance) -> Check
    secrets: Mapping[str, Callable[[], str]] = field(default_factory=dict)
    applies: Callable[[Any], bool] = _enabled
    deployed_when: Mapping[str, Any] = field(default_factory=dict)
    # The model's own `enabled` default: a component off by default whose key
    # is absent from a stack file is off without its model being loaded.
    on_by_default: bool = True
    # "module:function" (the built component) -> the ScrapeTargets it runs, which
    # the monitoring tier scrapes (components/monitoring_config.py).
    scrape: str | None = None
    # Takes every other component's scrape targets (monitoring): built last.
    collects_targets: bool = False
    # "module:function" (config, host names) -> components.placement.Placed: where
    # its nodes go on a stack with `hosts` (None: on the first host).
    place: str | None = None

    def config_model(self) -> type[ComponentConfig]:
        found: type[ComponentConfig] = resolve(self.model)
        return found

    def exports_model(self) -> type[Exports]:
        found: type[Exports] = resolve(self.exports)
        return found

    @property
    def docker(self) -> bool:
        return self.image is not None

    def builder(self) -> Callable[..., Any]:
        return resolve(self.build)

    def checker(self) -> Callable[[Any], Any] | None:
        return resolve(self.status) if self.status else None

    def scraper(self) -> Callable[[Any], Any] | None:
        return resolve(self.scrape) if self.scrape else None

    def placer(self) -> Callable[[Any, list[str]], Any] | None:
        return resolve(self.place) if self.place else None

    def is_deployed(self, outputs: Mapping[str, Any]) -> bool:
        """The stack outputs come from this entry (listed, and its selector matches)."""
        listed = self.key in (outputs.get("components") or [])
        return listed and all(outputs.get(k) == v for k, v in self.deployed_when.items())


def resolve(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


class Registry:
    """An ordered set of `Component`s; `REGISTRY` is the project's."""

    def __init__(self, entries: list[Component]) -> None:
        self.entries = list(entries)

    def component_keys(self) -> list[str]:
        return list(dict.fromkeys(e.key for e in self.entries))

    def entry(self, key: str) -> Component:
        return next(e for e in self.entries if e.key == key)

    def on_by_default(self, key: str) -> bool:
        return any(e.on_by_default for e in self.entries if e.key == key)

    def secrets(self) -> dict[str, Callable[[], str]]:
        """Secret config keys -> generator, in entry order (`infra up` generates
        the missing ones)."""
        out: dict[str, Callable[[], str]] = {}
        for e in self.entries:
            out.update(e.secrets)
        return out

    def active(self, parts: Mapping[str, ComponentConfig]) -> list[Component]:
        """The entries a stack's component configs turn on (an absent key: off
        unless the component is on by default)."""
        return [e for e in self.entries if e.key in parts and e.applies(parts[e.key])]

    def deployed(self, outputs: Mapping[str, Any]) -> list[Component]:
        """The entries a deployed stack's outputs come from."""
        return [e for e in self.entries if e.is_deployed(outputs)]

    @contextmanager
    def extended(self, *entries: Component) -> Iterator[Registry]:
        """This registry with extra entries for the duration (tests, plugins)."""
        before = list(self.entries)
        self.entries.extend(entries)
        try:
            yield self
        finally:
            self.entries[:] = before


def _token() -> str:
    return secrets.token_urlsafe(32)


def _mongo_key_file() -> str:
    """MongoDB internal-auth keyFile: 756 random bytes, base64 (1008 characters)."""
    return base64.b64encode(secrets.token_bytes(756)).decode()


def _image(config: Any) -> str:
    return str(config.image)


def _describe_redis(config: RedisConfig) -> str:
    users = ", ".join(f"{u.name} ({u.kind})" for u in config.users)
    shape = f"redis {config.mode} {config.shards}x(1+{config.replicas})"
    if config.tls.enabled:
        shape += " over TLS"
    return f"{shape}, users: {users}" if users else shape


def _describe_mongo(config: MongoConfig) -> str:
    shape = f"mongo replica set of {config.members}"
    if config.tls.enabled:
        shape += " over TLS"
    users = ", ".join(f"{u.name} ({u.kind})" for u in config.users)
    return f"{shape}, users: {users}" if users else shape


def _redis(mode: str, exports: str, build: str) -> Component:
    """Redis Cluster or Sentinel groups: one config key, `redis.mode` picks."""
    return Component(
        key="redis",
        model="components.redis_config:RedisConfig",
        exports=f"components.redis_config:{exports}",
        build=f"stacks.program:{build}",
        describe=_describe_redis,
        image=_image,
        status=f"cli.ops.health:redis_{mode}",
        scrape=f"components.redis_{mode}:scrape_targets",
        secrets={"redisPassword": _token},
        applies=lambda c: c.enabled and c.mode == mode,
        deployed_when={"redisMode": mode},
        place="components.placement:place_redis",
    )


REGISTRY = Registry(
    [
        _redis("cluster", "RedisClusterExports", "build_redis_cluster"),
        _redis("sentinel", "RedisSentinelExports", "build_redis_sentinel"),
        Component(
            key="mongo",
            model="components.mongo_config:MongoConfig",
            exports="components.mongo_config:MongoExports",
            build="stacks.program:build_mongo",
            describe=_describe_mongo,
            image=_image,
            status="cli.ops.health:mongo",
            secrets={"mongoRootPassword": _token, "mongoKeyFile": _mongo_key_file},
            on_by_default=False,
            scrape="components.mongo_replicaset:scrape_targets",
            place="components.placement:place_members",
        ),
        Component(
            key="edge",
            model="components.edge_config:EdgeConfig",
            exports="components.edge_config:EdgeExports",
            build="stacks.program:build_edge",
            describe=lambda c: "cloudflare edge",
            on_by_default=False,
        ),
        Component(
            key="monitoring",
            model="components.monitoring_config:MonitoringConfig",
            exports="components.monitoring_config:MonitoringExports",
            build="stacks.program:build_monitoring",
            describe=lambda c: "monitoring (prometheus, redis exporter, alertmanager)",
            image=_image,
            status="cli.ops.health:monitoring",
            on_by_default=False,
            collects_targets=True,
        ),
    ]
)
