"""The Pulumi program: validated stack config in, components wired on one network."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from components.redis_cluster import RedisCluster, RedisClusterArgs
from stacks import addressing
from stacks.config import ConfigInvalid, StackConfig, parse_config
from stacks.config.root import SECRET_KEYS

NAMESPACE = "infra"


def read_config() -> StackConfig:
    """Typed config from the engine's view of the stack file (secrets excluded)."""
    cfg = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for name, info in StackConfig.model_fields.items():
        key = info.alias or name
        if key in SECRET_KEYS:
            continue
        value = cfg.get_object(key)
        if value is not None:
            raw[key] = value
    try:
        return parse_config(raw)
    except ConfigInvalid as exc:
        raise pulumi.RunError(f"invalid stack config:\n{exc}") from None


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


def make_network(config: StackConfig) -> docker.Network:
    net = config.network
    return docker.Network(
        "network",
        name=net.name or name_prefix(),
        driver="bridge",
        ipam_configs=[
            docker.NetworkIpamConfigArgs(subnet=net.subnet, gateway=addressing.gateway(net.subnet))
        ],
        labels=[
            docker.NetworkLabelArgs(label=k, value=v) for k, v in stack_labels("network").items()
        ],
    )


def make_redis_cluster(config: StackConfig, network: docker.Network) -> RedisCluster:
    redis, net = config.redis, config.network
    return RedisCluster(
        "redis",
        RedisClusterArgs(
            network_name=network.name,
            node_ips=addressing.addresses(net.subnet, "redis", redis.node_count),
            init_ip=addressing.addresses(net.subnet, "redis-init", 1)[0],
            password=require_secret("redisPassword"),
            name_prefix=f"{name_prefix()}-redis",
            image=redis.image,
            shards=redis.shards,
            replicas=redis.replicas,
            node_timeout_ms=redis.node_timeout_ms,
            memory_mb=redis.memory_mb,
            maxmemory_policy=redis.maxmemory_policy,
            appendfsync=redis.appendfsync,
            host_bind=net.host_bind,
            host_port_base=redis.host_port_base,
            labels=stack_labels("redis"),
        ),
    )


def export_redis_cluster(cluster: RedisCluster) -> None:
    pulumi.export("redisMode", "cluster")
    pulumi.export("redisNodes", cluster.nodes)
    pulumi.export("redisHostAddressMap", cluster.host_address_map)
    pulumi.export("redisUrl", cluster.seed_url)
    pulumi.export("redisPassword", cluster.password)


def main() -> None:
    config = read_config()
    pulumi.export("components", config.enabled_components())
    if not config.enabled_components():
        return
    network = make_network(config)
    pulumi.export("networkName", network.name)
    if config.redis.enabled and config.redis.mode == "cluster":
        export_redis_cluster(make_redis_cluster(config, network))
