"""The Pulumi program: validated stack config in, components wired on one network."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_docker as docker

from components.mongo_replicaset import MemberRole, MongoReplicaSet, MongoReplicaSetArgs
from components.redis_cluster import RedisCluster, RedisClusterArgs
from components.redis_sentinel import RedisSentinel, RedisSentinelArgs
from stacks import addressing
from stacks.config import ConfigInvalid, StackConfig, parse_config
from stacks.config.redis import MAX_REDIS_NODES, SENTINEL_GROUP_STRIDE
from stacks.config.root import SECRET_KEYS, SKIP_VAR

if TYPE_CHECKING:
    from components.cloudflare_edge import CloudflareEdge

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
        config = parse_config(raw)
    except ConfigInvalid as exc:
        raise pulumi.RunError(f"invalid stack config:\n{exc}") from None
    skipped = [n for n in os.environ.get(SKIP_VAR, "").split(",") if n]
    return config.without(skipped) if skipped else config


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


def make_redis_sentinel(config: StackConfig, network: docker.Network) -> RedisSentinel:
    redis, net = config.redis, config.network
    return RedisSentinel(
        "redis",
        RedisSentinelArgs(
            network_name=network.name,
            # Sentinel and Cluster modes are exclusive: both use the "redis" block.
            node_ips=addressing.addresses(net.subnet, "redis", MAX_REDIS_NODES),
            sentinel_ips=addressing.addresses(net.subnet, "sentinel", redis.sentinels),
            password=require_secret("redisPassword"),
            name_prefix=f"{name_prefix()}-redis",
            image=redis.image,
            shards=redis.shards,
            replicas=redis.replicas,
            group_stride=SENTINEL_GROUP_STRIDE,
            sentinels=redis.sentinels,
            quorum=redis.sentinel_quorum,
            down_after_ms=redis.down_after_ms,
            failover_timeout_ms=redis.failover_timeout_ms,
            parallel_syncs=redis.parallel_syncs,
            min_replicas_to_write=redis.sentinel_min_replicas_to_write,
            min_replicas_max_lag_s=redis.min_replicas_max_lag_s,
            memory_mb=redis.memory_mb,
            maxmemory_policy=redis.maxmemory_policy,
            appendfsync=redis.appendfsync,
            host_bind=net.host_bind,
            host_port_base=redis.host_port_base,
            sentinel_host_port_base=redis.sentinel_host_port_base,
            labels=stack_labels("redis"),
        ),
    )


def export_redis_sentinel(sentinel: RedisSentinel) -> None:
    pulumi.export("redisMode", "sentinel")
    pulumi.export("redisNodes", sentinel.nodes)
    pulumi.export("redisSentinels", sentinel.sentinels)
    pulumi.export("redisMasterSets", sentinel.master_sets)
    pulumi.export("redisHostAddressMap", sentinel.host_address_map)
    pulumi.export("redisPassword", sentinel.password)


def make_mongo(config: StackConfig, network: docker.Network) -> MongoReplicaSet:
    mongo, net = config.mongo, config.network
    for advice in mongo.advisories():
        pulumi.log.warn(advice)
    return MongoReplicaSet(
        "mongo",
        MongoReplicaSetArgs(
            network_name=network.name,
            member_ips=addressing.addresses(net.subnet, "mongo", mongo.members),
            arbiter_ip=addressing.addresses(net.subnet, "mongo-arbiter", 1)[0],
            init_ip=addressing.addresses(net.subnet, "mongo-init", 1)[0],
            root_password=require_secret("mongoRootPassword"),
            key_file=require_secret("mongoKeyFile"),
            name_prefix=f"{name_prefix()}-mongo",
            members=[MemberRole(**role) for role in mongo.member_roles()],
            image=mongo.image,
            replica_set=mongo.replica_set,
            arbiter=mongo.arbiter,
            memory_mb=mongo.memory_mb,
            port_base=mongo.port_base,
            publish=mongo.publish,
            host_bind=net.host_bind,
            root_user=mongo.root_user,
            auth_source=mongo.auth_source,
            read_preference=mongo.read_preference,
            labels=stack_labels("mongo"),
        ),
    )


def export_mongo(rs: MongoReplicaSet) -> None:
    pulumi.export("mongoMembers", rs.members)
    pulumi.export("mongoUrl", rs.url)
    pulumi.export("mongoHostUrl", rs.host_url)
    pulumi.export("mongoHostDirectUrl", rs.host_direct_url)
    pulumi.export("mongoHostsEntry", rs.hosts_entry)
    pulumi.export("mongoRootPassword", rs.root_password)


def make_edge(config: StackConfig) -> CloudflareEdge:
    """The Cloudflare edge; the API token comes from CLOUDFLARE_API_TOKEN or the
    secret `cloudflare:apiToken`, read by the provider itself (never by us).

    Imported here: pulumi_cloudflare takes about a second to import, which stacks
    without an edge (local) should not pay on every preview.
    """
    from components.cloudflare_edge import CloudflareEdge, CloudflareEdgeArgs, zone_id_by_name

    edge = config.edge
    zone_id: pulumi.Input[str]
    if edge.zone_id:
        zone_id = edge.zone_id
    else:
        assert edge.zone and edge.account_id  # EdgeConfig refuses anything else
        zone_id = zone_id_by_name(edge.zone, edge.account_id)
    return CloudflareEdge(
        "edge",
        CloudflareEdgeArgs(
            zone_id=zone_id,
            records=edge.edge_records(),
            settings=edge.settings.values(),
            rulesets=edge.rulesets,
            import_zone_id=edge.zone_id,
        ),
    )


def export_edge(edge: CloudflareEdge) -> None:
    pulumi.export("edgeZoneId", edge.zone_id)
    pulumi.export("edgeRecords", edge.records)
    pulumi.export("edgeRulesetIds", edge.ruleset_ids)


def main() -> None:
    config = read_config()
    pulumi.export("components", config.enabled_components())
    if config.edge.enabled:
        export_edge(make_edge(config))
    if not [c for c in config.enabled_components() if c != "edge"]:  # the edge needs no network
        return
    network = make_network(config)
    pulumi.export("networkName", network.name)
    if config.redis.enabled and config.redis.mode == "cluster":
        export_redis_cluster(make_redis_cluster(config, network))
    if config.redis.enabled and config.redis.mode == "sentinel":
        export_redis_sentinel(make_redis_sentinel(config, network))
    if config.mongo.enabled:
        export_mongo(make_mongo(config, network))
