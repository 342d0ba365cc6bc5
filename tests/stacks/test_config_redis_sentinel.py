"""Typed config: the Sentinel topology (`redis.mode: sentinel`) and its rules."""

from __future__ import annotations

from typing import Any

import pytest

from components.redis_config import MAX_SENTINEL_SHARDS, SENTINEL_GROUP_STRIDE
from stacks.config import ConfigInvalid, parse_config


def sentinel(**redis: Any) -> dict[str, Any]:
    return {"redis": {"mode": "sentinel", **redis}}


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        parse_config(raw)
    found = {p.path: p.message for p in info.value.problems}
    assert len(found) == len(info.value.problems), "one problem per path"
    return found


def test_defaults_are_three_groups_of_two_and_three_sentinels() -> None:
    redis = parse_config(sentinel()).redis
    assert (redis.shards, redis.replicas, redis.node_count) == (3, 1, 6)
    assert (redis.sentinels, redis.sentinel_quorum) == (3, 2)
    assert (redis.down_after_ms, redis.failover_timeout_ms, redis.parallel_syncs) == (
        5000,
        30000,
        1,
    )
    assert (redis.sentinel_min_replicas_to_write, redis.min_replicas_max_lag_s) == (0, 10)
    assert (redis.host_port_base, redis.sentinel_host_port_base) == (7000, 26379)


def test_classic_one_primary_two_replicas() -> None:
    redis = parse_config(sentinel(shards=1, replicas=2)).redis
    assert redis.node_count == 3
    # tolerates one lost replica while still bounding write loss
    assert redis.sentinel_min_replicas_to_write == 1


def test_camel_case_keys_from_the_stack_file() -> None:
    redis = parse_config(
        sentinel(
            sentinels=5,
            quorum=4,
            downAfterMs=2000,
            failoverTimeoutMs=9000,
            parallelSyncs=2,
            replicas=3,
            minReplicasToWrite=2,
            minReplicasMaxLagS=4,
            sentinelHostPortBase=27000,
            hostPortBase=None,
        )
    ).redis
    assert (redis.sentinels, redis.sentinel_quorum, redis.down_after_ms) == (5, 4, 2000)
    assert (redis.failover_timeout_ms, redis.parallel_syncs) == (9000, 2)
    assert (redis.sentinel_min_replicas_to_write, redis.min_replicas_max_lag_s) == (2, 4)
    assert (redis.sentinel_host_port_base, redis.host_port_base) == (27000, None)


def test_quorum_defaults_to_a_majority() -> None:
    assert parse_config(sentinel(sentinels=5)).redis.sentinel_quorum == 3
    assert parse_config(sentinel(sentinels=7)).redis.sentinel_quorum == 4


@pytest.mark.parametrize("count", [1, 2, 4, 6, 0, -3])
def test_sentinels_must_be_odd_and_at_least_three(count: int) -> None:
    message = problems(sentinel(sentinels=count))["redis.sentinels"]
    assert message.startswith(f"must be odd and at least 3, got {count}")
    assert "(set redis.sentinels to 3, 5, 7 or 9)" in message


def test_sentinels_must_fit_the_address_plan() -> None:
    message = problems(sentinel(sentinels=11))["redis.sentinels"]
    assert "address plan" in message and "(set redis.sentinels to 3, 5, 7 or 9)" in message


@pytest.mark.parametrize(("count", "quorum"), [(3, 1), (3, 4), (5, 2), (5, 6), (7, 3)])
def test_quorum_must_be_a_majority(count: int, quorum: int) -> None:
    low = count // 2 + 1
    assert problems(sentinel(sentinels=count, quorum=quorum)) == {
        "redis.quorum": (
            f"must be a majority of the {count} Sentinels, between {low} and {count}, got "
            f"{quorum}: a smaller quorum lets a minority declare a primary down, a larger "
            f"one can never be reached (set redis.quorum to {low})"
        )
    }


@pytest.mark.parametrize(("count", "quorum"), [(3, 2), (3, 3), (5, 3), (5, 5), (9, 5)])
def test_majority_quorums_are_accepted(count: int, quorum: int) -> None:
    assert parse_config(sentinel(sentinels=count, quorum=quorum)).redis.sentinel_quorum == quorum


def test_one_group_is_enough_but_zero_is_not() -> None:
    assert parse_config(sentinel(shards=1)).redis.shards == 1
    found = problems(sentinel(shards=0))
    assert found == {"redis.shards": "Input should be greater than or equal to 1"}


def test_groups_must_fit_the_address_plan() -> None:
    assert parse_config(sentinel(shards=MAX_SENTINEL_SHARDS)).redis.shards == 13
    assert problems(sentinel(shards=MAX_SENTINEL_SHARDS + 1)) == {
        "redis.shards": (
            f"14 groups need 14 x {SENTINEL_GROUP_STRIDE} addresses, more than the 80 the "
            "address plan holds (set redis.shards to 13 or fewer)"
        )
    }


def test_every_group_needs_a_replica() -> None:
    assert problems(sentinel(replicas=0)) == {
        "redis.replicas": (
            "automatic failover needs at least 1 replica per primary "
            "(set redis.replicas to 1 or more)"
        )
    }


@pytest.mark.parametrize(("down", "failover"), [(5000, 5000), (30000, 20000), (2000, 1000)])
def test_failover_timeout_must_exceed_down_after(down: int, failover: int) -> None:
    message = problems(sentinel(downAfterMs=down, failoverTimeoutMs=failover))[
        "redis.failoverTimeoutMs"
    ]
    assert message.startswith(f"must be greater than redis.downAfterMs ({down} ms), got {failover}")
    assert message.endswith(
        f"(set redis.failoverTimeoutMs to {max(2 * down, 30000)} or lower redis.downAfterMs)"
    )


def test_down_after_alone_is_checked_against_the_default_failover_timeout() -> None:
    assert "redis.failoverTimeoutMs" in problems(sentinel(downAfterMs=60000))
    assert parse_config(sentinel(downAfterMs=29999)).redis.failover_timeout_ms == 30000


@pytest.mark.parametrize(("replicas", "mrw"), [(1, 1), (2, 2), (2, 3)])
def test_min_replicas_to_write_must_leave_room_for_a_failover(replicas: int, mrw: int) -> None:
    message = problems(sentinel(replicas=replicas, minReplicasToWrite=mrw))[
        "redis.minReplicasToWrite"
    ]
    assert "refuses every write after a failover" in message
    assert f"(set redis.minReplicasToWrite to at most {replicas - 1}, or raise" in message


def test_sentinel_ports_must_fit_and_not_overlap_the_nodes() -> None:
    found = problems(sentinel(sentinelHostPortBase=65534))
    assert found["redis.sentinelHostPortBase"].endswith("(lower redis.sentinelHostPortBase)")
    # data nodes span 7000 .. 7000 + 2*6 + 1 = 7013
    found = problems(sentinel(sentinelHostPortBase=7012))
    assert found == {
        "redis.sentinelHostPortBase": (
            "ports 7012-7014 overlap the data nodes' 7000-7013 (set "
            "redis.sentinelHostPortBase to 7014 or more, or below 6998)"
        )
    }
    assert parse_config(sentinel(sentinelHostPortBase=7014)).redis.sentinel_host_port_base == 7014
    assert parse_config(sentinel(hostPortBase=None, sentinelHostPortBase=7000)).redis


def test_node_ports_must_fit_below_65536() -> None:
    found = problems(sentinel(hostPortBase=65530))
    assert found == {
        "redis.hostPortBase": "65530 + 14 ports runs past port 65535 (lower redis.hostPortBase)"
    }


def test_cluster_keys_are_refused_in_sentinel_mode() -> None:
    assert problems(sentinel(nodeTimeoutMs=3000)) == {
        "redis.nodeTimeoutMs": (
            "only used with mode: cluster (remove it, or set redis.mode: cluster; "
            "Sentinel's failover window is redis.downAfterMs)"
        )
    }


@pytest.mark.parametrize(
    "key",
    [
        "sentinels",
        "quorum",
        "downAfterMs",
        "failoverTimeoutMs",
        "parallelSyncs",
        "minReplicasToWrite",
        "minReplicasMaxLagS",
        "sentinelHostPortBase",
    ],
)
def test_sentinel_keys_are_refused_in_cluster_mode(key: str) -> None:
    value = {
        "quorum": 2,
        "downAfterMs": 5000,
        "failoverTimeoutMs": 30000,
        "sentinelHostPortBase": 26379,
    }.get(key, 3)
    assert problems({"redis": {"mode": "cluster", key: value}}) == {
        f"redis.{key}": "only used with mode: sentinel (remove it, or set redis.mode: sentinel)"
    }


def test_every_sentinel_problem_is_reported_at_once() -> None:
    found = problems(
        sentinel(
            sentinels=4,
            shards=14,
            nodeTimeoutMs=3000,
            downAfterMs=20000,
            failoverTimeoutMs=10000,
            minReplicasToWrite=1,
        )
    )
    assert set(found) == {
        "redis.sentinels",
        "redis.shards",
        "redis.nodeTimeoutMs",
        "redis.failoverTimeoutMs",
        "redis.minReplicasToWrite",
    }


def test_cluster_problems_are_reported_together_with_their_old_messages() -> None:
    found = problems({"redis": {"shards": 2, "replicas": 0, "sentinels": 3}})
    assert found == {
        "redis.shards": "a Redis Cluster needs at least 3 masters (set redis.shards to 3 or more)",
        "redis.replicas": (
            "automatic failover needs at least 1 replica per master "
            "(set redis.replicas to 1 or more)"
        ),
        "redis.sentinels": "only used with mode: sentinel (remove it, or set redis.mode: sentinel)",
    }


def test_field_errors_and_model_errors_name_their_own_paths() -> None:
    # a type error on one key does not hide the others' messages behind it
    found = problems(sentinel(sentinels="three", downAfterMs=100))
    assert set(found) == {"redis.sentinels", "redis.downAfterMs"}
