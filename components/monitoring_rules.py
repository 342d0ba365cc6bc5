"""The alert rules Prometheus evaluates, each with the runbook line that says
what to do (docs/monitoring.md lists them).

Metric names are the Redis exporter's (prometheus-redis-exporter 1.45, read
from its output against a Redis 7.0 cluster node, a replica and a Sentinel).
The `mongodb` group uses Percona mongodb_exporter's names (`mongodb_up`,
`mongodb_rs_members_*`): no such exporter or mongod runs on the project's
machines, so those rules are tested on synthetic series only (unverified).
Thresholds that depend on the stack come from `MonitoringConfig`; `for`
durations are fixed here, each chosen against what the tier does when healthy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.monitoring_config import MonitoringConfig

# 1 while a Redis node is a master, 0 while a replica; absent while it is down.
IS_MASTER = "infra:redis_is_master"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    runbook: str

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "runbook": self.runbook},
        }


def target_alerts() -> list[Alert]:
    return [
        Alert(
            "TargetDown",
            "up == 0",
            "30s",
            "critical",
            "Prometheus cannot scrape {{ $labels.job }} target {{ $labels.instance }}",
            "jobs redis and sentinel: the exporter container (<stack>-monitoring-exporter) is "
            "down or unreachable, every Redis metric is missing: `docker ps -a`, `docker logs` "
            "it, `infra up` recreates it; jobs prometheus/alertmanager: the same for their "
            "container",
        ),
        Alert(
            "RedisDown",
            "redis_up == 0",
            "15s",
            "critical",
            "Redis process {{ $labels.instance }} does not answer the exporter",
            "the container is stopped, crashed or restarting, or refuses the password: "
            "`docker ps -a --filter name={{ $labels.instance }}`, `docker logs "
            "{{ $labels.instance }}`; `infra status <stack>` shows what the tier lost",
        ),
    ]


def redis_alerts(config: MonitoringConfig) -> list[Alert]:
    return [
        Alert(
            "RedisMasterWithoutReplica",
            'redis_connected_slaves == 0 and on(instance) redis_instance_info{role="master"}',
            "20s",
            "critical",
            "Master {{ $labels.instance }} has no connected replica: one more failure loses "
            "its shard",
            "after a failover the old master rejoins as a replica once it runs again: start "
            "it (`docker start <node>`) or `infra up <stack>`; check `infra status <stack>` "
            "and the replica's `docker logs` (full sync, auth errors)",
        ),
        Alert(
            "RedisReplicaLagging",
            f"redis_connected_slave_lag_seconds > {config.replica_lag_bound_s}",
            "30s",
            "warning",
            "Replica {{ $labels.slave_ip }} of {{ $labels.instance }} last acknowledged "
            "{{ $value }}s ago (bound: " + f"{config.replica_lag_bound_s}s)",
            "a failover now would lose the writes it lacks: check the replica's CPU and "
            "memory (`docker stats`), the master's write rate and network; a replica that "
            "never catches up needs a full resync (restart it)",
        ),
        Alert(
            "RedisReplicaLinkDown",
            "redis_master_link_up == 0",
            "30s",
            "warning",
            "Replica {{ $labels.instance }} has lost its link to master "
            "{{ $labels.master_host }}:{{ $labels.master_port }}",
            "the replica serves stale data and cannot take over with the latest writes: "
            "is the master up (`infra status <stack>`)? `docker logs {{ $labels.instance }}` "
            "for sync or auth errors",
        ),
        Alert(
            "RedisFailover",
            f"{IS_MASTER} == 1 and on(instance) "
            f"min_over_time({IS_MASTER}[{config.failover_window_s}s]) == 0",
            "0s",
            "warning",
            "{{ $labels.instance }} was promoted to master: a failover happened",
            "find out why its old master failed (`docker ps -a`, `docker logs`, `docker "
            "inspect` for OOMKilled); once it runs again it rejoins as a replica; `infra "
            f"status <stack>` (this alert clears {config.failover_window_s}s after the "
            "promotion)",
        ),
        Alert(
            "RedisMemoryNearMax",
            f"redis_memory_used_bytes / redis_memory_max_bytes > {config.memory_alert_ratio} "
            "and on(instance) redis_memory_max_bytes > 0",
            "2m",
            "warning",
            "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of maxmemory",
            "with allkeys-* policies Redis evicts (see RedisEvictingKeys); with noeviction "
            "writes will fail: raise redis.memoryMb (maxmemory is 80% of it) or add shards",
        ),
        Alert(
            "RedisEvictingKeys",
            "increase(redis_evicted_keys_total[5m]) > 0",
            "0s",
            "warning",
            "{{ $labels.instance }} evicted {{ $value }} keys in 5 minutes",
            "the cache is full and dropping keys (hit rate falls): raise redis.memoryMb or "
            "add shards; if those keys must not go, use maxmemoryPolicy noeviction",
        ),
        Alert(
            "RedisRdbSaveFailed",
            "redis_rdb_last_bgsave_status == 0",
            "0s",
            "critical",
            "The last RDB snapshot of {{ $labels.instance }} failed",
            "usually a full disk or a failed fork (memory): `docker logs {{ $labels.instance }}`, "
            "`df` of the Docker data root; a replica's full sync needs a working snapshot",
        ),
        Alert(
            "RedisAofWriteFailed",
            "redis_aof_last_write_status == 0",
            "0s",
            "critical",
            "{{ $labels.instance }} cannot write its AOF: writes are refused or not durable",
            "a full disk or I/O error on the node's data volume: `docker logs "
            "{{ $labels.instance }}`, `df` of the Docker data root; free space, then Redis "
            "retries by itself",
        ),
        Alert(
            "RedisAofRewriteFailed",
            "redis_aof_last_bgrewrite_status == 0",
            "0s",
            "warning",
            "The last AOF rewrite of {{ $labels.instance }} failed: the AOF keeps growing",
            "a full disk or a failed fork (memory): `docker logs {{ $labels.instance }}`; "
            "then `redis-cli BGREWRITEAOF` on the node",
        ),
    ]


def cluster_alerts() -> list[Alert]:
    return [
        Alert(
            "RedisClusterStateNotOk",
            "redis_cluster_state == 0",
            "30s",
            "critical",
            "{{ $labels.instance }} reports cluster_state:fail: the cluster refuses queries",
            "some slots have no reachable master and no replica took over: `infra status "
            "<stack>` names the missing nodes; start them or `infra up <stack>`",
        ),
        Alert(
            "RedisClusterSlotsUncovered",
            "redis_cluster_slots_assigned < 16384 or redis_cluster_slots_fail > 0",
            "30s",
            "critical",
            "{{ $labels.instance }} sees slots unassigned or failed",
            "a master and all its replicas are gone, or a scale change stopped half-way: "
            "`infra status <stack>`; `infra up <stack>` finishes an interrupted change",
        ),
    ]


def sentinel_alerts() -> list[Alert]:
    return [
        Alert(
            "RedisSentinelGroupDown",
            "redis_sentinel_master_status == 0",
            "30s",
            "critical",
            "Sentinel {{ $labels.instance }} sees the primary of {{ $labels.master_name }} "
            "as {{ $labels.master_status }} and no failover ended it",
            "normally Sentinel fails over in about downAfterMs + 1 s; still down means no "
            "replica can be promoted or no quorum: `infra status <stack>`, the Sentinels' "
            "`docker logs` (+odown, -failover-abort-*)",
        ),
        Alert(
            "RedisSentinelQuorumLost",
            "redis_sentinel_master_ckquorum_status == 0",
            "30s",
            "critical",
            "Sentinel {{ $labels.instance }}: no quorum for {{ $labels.master_name }} "
            "({{ $labels.message }})",
            "too few Sentinels reachable to authorize a failover: start the stopped "
            "Sentinel containers (`docker ps -a`) or `infra up <stack>`",
        ),
        Alert(
            "RedisSentinelTilt",
            "redis_sentinel_tilt == 1",
            "1m",
            "warning",
            "Sentinel {{ $labels.instance }} is in TILT mode and does not act",
            "its clock jumped or the process stalled (CPU starvation): check `docker stats`; "
            "it leaves TILT by itself after 30 s of normal timing",
        ),
    ]


def mongo_alerts(config: MonitoringConfig) -> list[Alert]:
    """Unverified: written for Percona mongodb_exporter's metric names."""
    bound = config.replica_lag_bound_s
    return [
        Alert(
            "MongoDown",
            "mongodb_up == 0",
            "30s",
            "critical",
            "mongodb_exporter cannot reach {{ $labels.instance }}",
            "the member is stopped or refuses the exporter's credentials: `docker logs` "
            "the member, `infra status <stack>`",
        ),
        Alert(
            "MongoNoPrimary",
            "count(mongodb_up == 1) > 0 unless on() count(mongodb_rs_members_state == 1) > 0",
            "30s",
            "critical",
            "The replica set has no primary: writes fail",
            "a majority of voting members is not reachable: `infra status <stack>`, start "
            "the stopped members; docs/mongo.md",
        ),
        Alert(
            "MongoMemberUnhealthy",
            "mongodb_rs_members_health == 0",
            "1m",
            "warning",
            "Member {{ $labels.member_idx }} is unhealthy as seen from {{ $labels.instance }}",
            "the member is down or unreachable from its peers: `docker ps -a`, its `docker "
            "logs`; the set keeps a primary while a majority votes",
        ),
        Alert(
            "MongoReplicationLag",
            '(max by (instance) (mongodb_rs_members_optimeDate{member_state="PRIMARY"}) '
            "- on(instance) group_right "
            'mongodb_rs_members_optimeDate{member_state="SECONDARY"}) / 1000 '
            f"> {bound}",
            "1m",
            "warning",
            "Secondary {{ $labels.member_idx }} is {{ $value }}s behind the primary "
            f"(bound: {bound}s)",
            "an election now could roll back writes it lacks: check its CPU, disk and the "
            "write load; a member past the oplog window needs an initial sync",
        ),
    ]


def rules(config: MonitoringConfig) -> dict[str, Any]:
    """The rule file Prometheus loads: the recording rule the failover alert
    reads, then one group per area."""
    record = {
        "record": IS_MASTER,
        "expr": 'max by (instance) (redis_instance_info{role="master"}) '
        'or max by (instance) (redis_instance_info{role="slave"}) * 0',
    }
    groups = [
        ("targets", target_alerts()),
        ("redis", redis_alerts(config)),
        ("redis-cluster", cluster_alerts()),
        ("redis-sentinel", sentinel_alerts()),
        ("mongodb", mongo_alerts(config)),
    ]
    return {
        "groups": [{"name": "redis-roles", "rules": [record]}]
        + [{"name": name, "rules": [a.rule() for a in alerts]} for name, alerts in groups]
    }


def all_alerts(config: MonitoringConfig) -> list[Alert]:
    return [
        *target_alerts(),
        *redis_alerts(config),
        *cluster_alerts(),
        *sentinel_alerts(),
        *mongo_alerts(config),
    ]
