"""The Pulumi program: validated stack config in, the registry's components out.

`main` builds every component the stack turns on (stacks/registry.py), in
registry order, and exports what each says it exports. Docker components share
one network and the stack's address plan (stacks/addressing.py); each gets a
`Site`: that network, its name prefix, its labels and its address blocks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_docker as docker

from components.docker_node import HostSite, Site
from components.mongo_config import MongoConfig
from components.mongo_replicaset import MongoReplicaSet
from components.monitoring import Monitoring
from components.monitoring_config import MonitoringConfig, ScrapeTarget
from components.redis_cluster import RedisCluster
from components.redis_config import RedisConfig
from components.redis_sentinel import RedisSentinel
from stacks import addressing
from stacks.config import ConfigInvalid, StackConfig, parse_config
from stacks.config.hosts import HostConfig
from stacks.config.root import SKIP_VAR
from stacks.config.secret_rules import PASSWORD_KEYS, REFUSED_SECRETS, password_problems
from stacks.registry import Component

if TYPE_CHECKING:
    from components.cloudflare_edge import CloudflareEdge
    from components.edge_config import EdgeConfig

NAMESPACE = "infra"


def read_config() -> StackConfig:
    """Typed config from the engine's view of the stack file (secrets excluded)."""
    cfg = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    keys = ["network", "hosts", *StackConfig.registry.component_keys()]
    for key in keys:
        value = cfg.get_object(key)
        if value is not None:
            raw[key] = value
    try:
        config = parse_config(raw)
    except ConfigInvalid as exc:
        raise pulumi.RunError(f"invalid stack config:\n{exc}") from None
    skipped = [n for n in os.environ.get(SKIP_VAR, "").split(",") if n]
    return config.without(skipped) if skipped else config


def check_passwords() -> None:
    """Weak or shared hand-set passwords stop the program before any resource
    (stacks/config/secret_rules.py)."""
    cfg = pulumi.Config(NAMESPACE)
    values = {key: cfg.get(key) for key in PASSWORD_KEYS}
    problems = password_problems(values, pulumi.get_stack())
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise pulumi.RunError(f"{REFUSED_SECRETS}\n{lines}")


def require_secret(key: str) -> pulumi.Output[str]:
    value = pulumi.Config(NAMESPACE).get_secret(key)
    if value is None:
        raise pulumi.RunError(
            f"{NAMESPACE}:{key} is not set: `infra up` generates it, or set it with "
            f"`pulumi config set --secret {key} <value> -s {pulumi.get_stack()}`"
        )
    return value


def stack_labels(component: str) -> dict[str, str]:
    return {
        "infra.project": pulumi.get_project(),
        "infra.stack": pulumi.get_stack(),
        "infra.component": component,
    }


def name_prefix() -> str:
    return f"{pulumi.get_project()}-{pulumi.get_stack()}"


def make_network(
    config: StackConfig, logical_name: str = "network", provider: docker.Provider | None = None
) -> docker.Network:
    net = config.network
    return docker.Network(
        logical_name,
        name=net.name or name_prefix(),
        driver="bridge",
        ipam_configs=[
            docker.NetworkIpamConfigArgs(subnet=net.subnet, gateway=addressing.gateway(net.subnet))
        ],
        labels=[
            docker.NetworkLabelArgs(label=k, value=v) for k, v in stack_labels("network").items()
        ],
        opts=pulumi.ResourceOptions(provider=provider),
    )


def make_host(host: HostConfig, config: StackConfig) -> HostSite:
    """One Docker host of the stack: its own provider, and the stack network on
    it (same name and subnet on every host: no container network spans hosts;
    nodes reach each other at the hosts' addresses)."""
    provider = docker.Provider(f"host-{host.name}", host=host.docker, cert_path=host.cert_path)
    network = make_network(config, f"network-{host.name}", provider)
    return HostSite(host.name, host.address, host.bind, provider, network.name)


@dataclass
class Wiring:
    """What the stack adds to a component's config: its Docker site and secrets."""

    config: StackConfig
    network: docker.Network | None = None
    # What the components built so far run that monitoring can scrape.
    targets: list[ScrapeTarget] = field(default_factory=list)
    hosts: dict[str, HostSite] = field(default_factory=dict)
    # The Redis Cluster's CA (redis.tls): monitoring's exporter verifies it.
    redis_ca: pulumi.Output[str] | None = None
    # Who the exporter logs in as (redis.defaultUser: disabled); None: `default`,
    # and with which password (infra's current one: redis.admin rotates it).
    redis_user: str | None = None
    redis_login: pulumi.Output[str] | None = None

    def site(self, component: str) -> Site:
        """Across hosts, what a component publishes itself (monitoring's ports)
        is on its first host, published there and reached at its address."""
        subnet = self.config.network.subnet
        hosts = self._hosts()
        first = next(iter(hosts.values()), None)
        return Site(
            network=self._network_name(),
            prefix=f"{name_prefix()}-{component}",
            host_bind=self.config.network.host_bind if first is None else first.bind,
            labels=stack_labels(component),
            ips=lambda role, count: addressing.addresses(subnet, role, count),
            hosts=hosts,
            public_host=None if first is None else first.address,
        )

    def _network_name(self) -> pulumi.Output[str]:
        if self.config.hosts:
            return pulumi.Output.from_input(next(iter(self._hosts().values())).network)
        if self.network is None:
            self.network = make_network(self.config)
            pulumi.export("networkName", self.network.name)
        return self.network.name

    def _hosts(self) -> dict[str, HostSite]:
        if self.config.hosts and not self.hosts:
            self.hosts = {h.name: make_host(h, self.config) for h in self.config.hosts}
            pulumi.export("networkName", next(iter(self.hosts.values())).network)
        return self.hosts

    def opts(self) -> pulumi.ResourceOptions | None:
        """Several hosts: a component's own resources go to the first host."""
        hosts = self._hosts()
        if not hosts:
            return None
        return pulumi.ResourceOptions(providers=[next(iter(hosts.values())).provider])

    def secret(self, key: str) -> pulumi.Output[str]:
        return require_secret(key)

    def add_targets(self, entry: Component, component: Any) -> None:
        scraper = entry.scraper()
        if scraper is not None:
            self.targets.extend(scraper(component))


def build_redis_cluster(name: str, config: RedisConfig, wiring: Wiring) -> RedisCluster:
    ca_key = wiring.secret("redisTlsCaKey") if config.tls.ca_cert else None
    cluster = RedisCluster(
        name, config, wiring.site(name), wiring.secret("redisPassword"), wiring.opts(), ca_key
    )
    wiring.redis_ca, wiring.redis_user = cluster.ca_cert, config.admin_user
    wiring.redis_login = cluster.login
    return cluster


def build_redis_sentinel(name: str, config: RedisConfig, wiring: Wiring) -> RedisSentinel:
    ca_key = wiring.secret("redisTlsCaKey") if config.tls.ca_cert else None
    tier = RedisSentinel(
        name, config, wiring.site(name), wiring.secret("redisPassword"), wiring.opts(), ca_key
    )
    wiring.redis_ca, wiring.redis_user = tier.ca_cert, config.admin_user
    wiring.redis_login = tier.login
    return tier


def build_mongo(name: str, config: MongoConfig, wiring: Wiring) -> MongoReplicaSet:
    for advice in config.advisories():
        pulumi.log.warn(advice)
    return MongoReplicaSet(
        name,
        config,
        wiring.site(name),
        root_password=wiring.secret("mongoRootPassword"),
        key_file=wiring.secret("mongoKeyFile"),
        opts=wiring.opts(),
    )


def build_edge(name: str, config: EdgeConfig, wiring: Wiring) -> CloudflareEdge:
    """The Cloudflare edge; the API token comes from CLOUDFLARE_API_TOKEN or the
    secret `cloudflare:apiToken`, read by the provider itself (never by us).

    Imported here: pulumi_cloudflare takes about a second to import, which stacks
    without an edge (local) should not pay on every preview.
    """
    from components.cloudflare_edge import CloudflareEdge, zone_id_by_name

    zone_id: pulumi.Input[str]
    if config.zone_id:
        zone_id = config.zone_id
    else:
        assert config.zone and config.account_id  # EdgeConfig refuses anything else
        zone_id = zone_id_by_name(config.zone, config.account_id)
    return CloudflareEdge(name, config, zone_id)


def build_monitoring(name: str, config: MonitoringConfig, wiring: Wiring) -> Monitoring:
    """Built last (`collects_targets`): it scrapes what every other component runs."""
    redis = any(t.exporter == "redis" for t in wiring.targets)
    # infra's current password; a component of its own with Redis targets and
    # no redis tier: the stack secret.
    password = (wiring.redis_login or wiring.secret("redisPassword")) if redis else None
    return Monitoring(
        name,
        config,
        wiring.site(name),
        wiring.targets,
        password,
        wiring.opts(),
        wiring.redis_ca,
        wiring.redis_user,
    )


def main() -> None:
    config = read_config()
    check_passwords()
    pulumi.export("components", config.enabled_components())
    wiring = Wiring(config)
    # Stable: registry order, with the components that collect targets last.
    for entry in sorted(config.active(), key=lambda e: e.collects_targets):
        component = entry.builder()(entry.key, config.part(entry.key), wiring)
        wiring.add_targets(entry, component)
        for key, value in component.exports().items():
            pulumi.export(key, value)
