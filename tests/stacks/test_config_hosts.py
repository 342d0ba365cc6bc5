"""`infra:hosts` and placement, checked before any engine call."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigInvalid, parse_config


def host(name: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "docker": f"unix:///run/{name}.sock", "address": f"10.0.0.{n}", **extra}


THREE = [host("a", 11), host("b", 12), host("c", 13)]


def problems(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(raw)
    return str(caught.value)


def test_no_hosts_is_one_engine() -> None:
    config = parse_config({})
    assert config.hosts == [] and config.placements() == {}


def test_three_hosts_place_the_default_cluster_and_nothing_is_advised() -> None:
    config = parse_config({"hosts": THREE})
    assert config.placements()["redis"].nodes == ["a", "b", "c", "b", "c", "a"]
    assert config.advisories() == []


def test_too_few_hosts_name_how_many_are_needed_and_the_opt_in() -> None:
    text = problems({"hosts": THREE[:2]})
    assert "redis.placement: 3 shards x (1 + 1) need at least 3 hosts" in text
    assert "placement.allowColocation: true" in text


def test_co_location_opted_in_is_a_warning_in_validate() -> None:
    config = parse_config({"hosts": THREE[:2], "redis": {"placement": {"allowColocation": True}}})
    assert [a for a in config.advisories() if a.startswith("redis.placement: co-located")]


def test_four_shards_need_four_hosts_for_the_masters_majority() -> None:
    text = problems({"hosts": THREE, "redis": {"shards": 4}})
    assert "need at least 4 hosts" in text


def test_a_pin_that_puts_a_shard_on_one_host_is_refused() -> None:
    # node 3 is shard 0's replica; shard 0's master (node 0) is on a.
    text = problems({"hosts": THREE, "redis": {"placement": {"pins": {3: "a"}}}})
    assert "redis.placement: shard 0 has two members on a" in text


def test_a_pin_to_an_unknown_host_names_the_hosts() -> None:
    assert "unknown host z" in problems(
        {"hosts": THREE, "redis": {"placement": {"pins": {0: "z"}}}}
    )


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"docker": "http://x"}, "is not a Docker endpoint"),
        ({"docker": "tcp://10.0.0.11:2376"}, "set certPath"),
        ({"docker": "ssh://u@h", "certPath": "/tls"}, "certPath is only used with a tcp://"),
        ({"address": "db-1.internal"}, "is not an IP address"),
        ({"name": "Host_1"}, "is not a host name"),
    ],
)
def test_a_bad_host_names_the_field_and_the_fix(bad: dict[str, Any], expected: str) -> None:
    assert expected in problems({"hosts": [{**THREE[0], **bad}, *THREE[1:]]})


def test_two_hosts_with_one_address_are_refused() -> None:
    text = problems({"hosts": [*THREE, host("d", 11)]})
    assert "two hosts have the address 10.0.0.11" in text


def test_published_ports_are_required_across_hosts() -> None:
    assert "redis.hostPortBase is required with hosts" in problems(
        {"hosts": THREE, "redis": {"hostPortBase": None}}
    )
    sentinel = {"mode": "sentinel", "sentinelHostPortBase": None}
    assert "sentinelHostPortBase is required with hosts" in problems(
        {"hosts": THREE, "redis": sentinel}
    )
    assert "past 65535" in problems({"hosts": THREE, "redis": {"hostPortBase": 60000}})


def test_mongo_members_one_per_host_and_published() -> None:
    mongo = {"enabled": True, "members": 3}
    assert parse_config({"hosts": THREE, "mongo": mongo}).placements()["mongo"].nodes == [
        "a",
        "b",
        "c",
    ]
    assert "mongo.publish must be true" in problems(
        {"hosts": THREE, "mongo": {**mongo, "publish": False}}
    )


def test_placed_images_go_to_every_host_the_others_to_the_first() -> None:
    config = parse_config({"hosts": THREE, "monitoring": {"enabled": True}})
    redis, monitoring = config.part("redis").image, config.part("monitoring").image
    assert config.host_images() == {
        "a": sorted([redis, monitoring]),
        "b": [redis],
        "c": [redis],
    }
    assert config.host_images(skipped=["monitoring"])["a"] == [redis]


def test_placement_is_described_per_host() -> None:
    placed = parse_config({"hosts": THREE, "redis": {"mode": "sentinel"}}).placements()["redis"]
    assert placed.describe() == (
        "a: nodes 0, 5; sentinels 0 | b: nodes 1, 2; sentinels 1 | c: nodes 3, 4; sentinels 2"
    )
