"""The rollout and scale sections of `infra preview` (cli/engine/rollout_plan.py),
from engine plans written out by hand; the live-cluster reads are exercised by
tests/integration/test_rolling_engine.py."""

from __future__ import annotations

from typing import Any

import pytest

from cli.engine import rollout_plan as rp
from cli.errors import InvalidInput, NothingDeployed
from components.redis_config import RedisConfig


def step(op: str, name: str, type_: str = rp.CONTAINER) -> dict[str, Any]:
    return {"op": op, "name": name, "type": type_}


PLAN = {
    "steps": [
        step("replace", "redis-node-1"),
        step("replace", "redis-node-0"),
        step("update", "redis-init"),
        step("replace", "redis-data-0", "docker:index/volume:Volume"),
    ]
}


def test_only_replaced_node_containers_count() -> None:
    assert rp.replaced_nodes(PLAN) == ["redis-node-0", "redis-node-1"]
    assert not rp.touches_topology(PLAN)
    assert rp.touches_topology({"steps": [step("create", "redis-node-6")]})


def test_rolling_order_follows_live_roles_and_unreadable_live_state_is_said() -> None:
    master = {"role": "master", "slots": ["0-5460"], "keys": 7, "handOverTo": "redis-node-1"}
    roles = {
        "redis-node-0": {**master, "rank": 2},
        "redis-node-1": {"role": "replica", "of": "redis-node-0", "rank": 1},
    }

    def outputs() -> dict[str, Any]:
        raise ValueError("no outputs")

    unread = rp.rollout(PLAN, "rolling", outputs)
    assert unread is not None and unread["liveError"] == "no outputs"
    steps = [rp.step(name, roles[name]) for name in rp.replaced_nodes(PLAN)]
    steps.sort(key=lambda s: (s["rank"], s["node"]))
    shown = [{k: v for k, v in s.items() if k != "rank"} for s in steps]
    section = {"mode": "rolling", "nodes": 2, "steps": shown}
    text = rp.lines(section)
    assert text[1:] == [
        "  1. redis-node-1: replica of redis-node-0",
        "  2. redis-node-0: master of slots 0-5460 (7 keys), handed to redis-node-1 first",
    ]
    assert "one at a time" in text[0]


def test_all_at_once_says_the_outage() -> None:
    text = rp.lines({"mode": "all-at-once", "nodes": 6, "steps": []})
    assert "all at once" in text[0] and "down until they restart" in text[0]


def test_sentinel_mode_lists_data_nodes_then_sentinels_with_the_rule() -> None:
    plan = {"steps": [step("replace", "redis-sentinel-0"), step("replace", "redis-node-0-1")]}
    section = rp.sentinel_rollout(plan, "rolling")
    assert section is not None
    assert [s["node"] for s in section["steps"]] == ["redis-node-0-1", "redis-sentinel-0"]
    assert "SENTINEL FAILOVER" in rp.lines(section)[0]
    assert rp.sentinel_rollout({"steps": []}, "rolling") is None


def test_scale_lines() -> None:
    section = {
        "summary": "2 node(s) joined, 4096 slots moved",
        "join": ["10.0.0.16:6379"],
        "handOver": [],
        "moves": [{"from": "10.0.0.10:6379", "to": "10.0.0.16:6379", "count": 1365, "keys": 12}],
        "replicate": [{"node": "10.0.0.17:6379", "master": "10.0.0.16:6379"}],
        "remove": [],
    }
    assert (
        rp.scale_lines(section)[2] == "  1365 slots (12 keys) move 10.0.0.10:6379 -> 10.0.0.16:6379"
    )
    refused = rp.scale_lines({"refused": "change shards and replicas in two runs"})
    assert refused == ["redis: `up` will refuse this scale: change shards and replicas in two runs"]


def deployed_over(hosts: list[str]) -> dict[str, Any]:
    nodes = [
        {"name": f"n{i}", "ip": f"10.0.0.{i}", "port": 7000 + i, "hostPort": None, "host": h}
        for i, h in enumerate(hosts)
    ]
    return {
        "redisMode": "cluster",
        "redisNodes": nodes,
        "redisHostAddressMap": {},
        "redisUrl": "redis://",
        "redisPassword": "pw",
    }


PLACED = ["a", "b", "c", "b", "c", "a"]


def test_across_hosts_a_change_that_keeps_every_node_where_it_is_passes() -> None:
    rp.refuse_host_moves(RedisConfig(), ["a", "b", "c"], lambda: deployed_over(PLACED))


def test_across_hosts_moving_or_adding_nodes_is_refused_before_the_engine() -> None:
    with pytest.raises(InvalidInput) as moved:
        rp.refuse_host_moves(RedisConfig(), ["a", "c", "b"], lambda: deployed_over(PLACED))
    assert "moves nodes between hosts" in moved.value.message
    assert "n1: b -> c" in moved.value.details
    with pytest.raises(InvalidInput) as grown:
        rp.refuse_host_moves(
            RedisConfig(shards=4), ["a", "b", "c", "d"], lambda: deployed_over(PLACED)
        )
    assert "(6 deployed, 8 configured)" in grown.value.message


def test_across_hosts_a_stack_not_deployed_yet_is_left_to_the_engine() -> None:
    def nothing() -> dict[str, Any]:
        raise NothingDeployed("nothing is deployed")

    rp.refuse_host_moves(RedisConfig(), ["a", "b", "c"], nothing)


def test_turning_tls_on_or_off_on_a_deployed_cluster_is_refused_before_the_engine() -> None:
    plaintext = deployed_over(PLACED)
    with_tls = {**plaintext, "redisCaCert": "-----BEGIN CERTIFICATE-----"}
    on = RedisConfig.model_validate({"tls": {"enabled": True}})
    with pytest.raises(InvalidInput) as switched_on:
        rp.refuse_unrollable_switch(on, lambda: plaintext)
    assert switched_on.value.message.startswith("redis.tls.enabled: turns TLS on")
    assert (
        "`infra backup`, `infra down`, `infra up`, `infra restore`"
        in (switched_on.value.details[0])
    )
    with pytest.raises(InvalidInput, match="turns TLS off"):
        rp.refuse_unrollable_switch(RedisConfig(), lambda: with_tls)
    rp.refuse_unrollable_switch(on, lambda: with_tls)
    rp.refuse_unrollable_switch(RedisConfig(), lambda: plaintext)


def test_a_sentinel_tier_is_refused_the_same_switches() -> None:
    deployed = {"redisMode": "sentinel", "redisPassword": "x"}
    sentinel = {"mode": "sentinel"}
    with pytest.raises(InvalidInput, match="turns TLS on"):
        rp.refuse_unrollable_switch(
            RedisConfig.model_validate({**sentinel, "tls": {"enabled": True}}), lambda: deployed
        )
    with pytest.raises(InvalidInput, match=r"redis\.defaultUser: disabled on a tier deployed"):
        rp.refuse_unrollable_switch(
            RedisConfig.model_validate({**sentinel, "defaultUser": "disabled"}), lambda: deployed
        )


def test_disabling_the_default_user_on_a_deployed_tier_is_refused_and_keeping_it_is_not() -> None:
    legacy = deployed_over(PLACED)  # deployed before redisAdminUser existed
    disabled = RedisConfig.model_validate({"defaultUser": "disabled"})
    with pytest.raises(InvalidInput) as refused:
        rp.refuse_unrollable_switch(disabled, lambda: legacy)
    assert refused.value.details == [
        "keep redis.defaultUser: admin, or move the data: `infra backup`, `infra down`, "
        "`infra up`, `infra restore` (clients then connect with the new settings)"
    ]
    with_admin = {**legacy, "redisAdminUser": "infra"}
    rp.refuse_unrollable_switch(disabled, lambda: with_admin)
    with pytest.raises(InvalidInput, match=r"redis\.defaultUser: admin on a tier deployed with"):
        rp.refuse_unrollable_switch(RedisConfig(), lambda: with_admin)


def test_tls_on_a_stack_not_deployed_yet_is_left_to_the_engine() -> None:
    def nothing() -> dict[str, Any]:
        raise NothingDeployed("nothing is deployed")

    config = RedisConfig.model_validate({"tls": {"enabled": True}, "defaultUser": "disabled"})
    rp.refuse_unrollable_switch(config, nothing)


def test_turning_mongo_tls_on_or_off_on_a_deployed_set_is_refused() -> None:
    from components.mongo_config import MongoConfig

    plaintext = {"mongoUrl": "mongodb://root:x@m0:27017/?replicaSet=rs0"}
    with_tls = {**plaintext, "mongoCaCert": "-----BEGIN CERTIFICATE-----"}
    on = MongoConfig.model_validate({"tls": {"enabled": True}})
    with pytest.raises(InvalidInput) as refused:
        rp.refuse_mongo_tls_switch(on, lambda: plaintext)
    assert refused.value.message.startswith("mongo.tls.enabled: turns TLS on")
    assert "mongodump, `infra down`, `infra up`, mongorestore" in refused.value.details[0]
    with pytest.raises(InvalidInput, match="turns TLS off"):
        rp.refuse_mongo_tls_switch(MongoConfig(), lambda: with_tls)
    rp.refuse_mongo_tls_switch(on, lambda: with_tls)
    rp.refuse_mongo_tls_switch(on, lambda: {"redisMode": "cluster"})  # no set deployed

    def nothing() -> dict[str, Any]:
        raise NothingDeployed("nothing is deployed")

    rp.refuse_mongo_tls_switch(on, nothing)
