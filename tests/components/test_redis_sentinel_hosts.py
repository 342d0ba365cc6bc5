"""RedisSentinel across three Docker hosts (`infra:hosts`), under Pulumi's mocks.

Every data node and Sentinel runs on the host placement gives it, announces
that host's address with a port published 1:1 there and listened on inside
(Sentinel through Docker's NAT only works when the announced address is the
reachable one)."""

from __future__ import annotations

import pytest

from components import docker_node as dn
from components import redis_sentinel
from components.redis_config import RedisConfig
from tests.components.hosts_support import (
    ADDRESS,
    BIND,
    Placed,
    fake_site,
    host_network,
    run_on_hosts,
)
from tests.support.capture import Resource

PASSWORD = "test-password-0123456789"
MEMBERS = [(g, k) for g in range(3) for k in range(2)]
# Group g's member k on host g + k (components/placement.py), Sentinel j on host j.
NODE_HOST = {(0, 0): "h1", (0, 1): "h2", (1, 0): "h2", (1, 1): "h3", (2, 0): "h3", (2, 1): "h1"}
NODE_PORT = {(g, k): 7000 + 6 * g + k for g, k in MEMBERS}
NODE_IP = {(g, k): f"172.28.0.{10 + 6 * g + k}" for g, k in MEMBERS}
SENTINEL_HOST = ["h1", "h2", "h3"]


@pytest.fixture(scope="module")
def placed() -> Placed:
    return run_on_hosts({"redis": {"mode": "sentinel"}}, {"redisPassword": PASSWORD})


def node(placed: Placed, g: int, k: int) -> Resource:
    return placed.capture.named(f"redis-node-{g}-{k}")


def sentinel(placed: Placed, j: int) -> Resource:
    return placed.capture.named(f"redis-sentinel-{j}")


def conf(res: Resource, path: str) -> list[str]:
    return next(u for u in res.spec["uploads"] if u["file"] == path)["content"].splitlines()


def test_each_data_node_runs_on_its_placed_host(placed: Placed) -> None:
    for (g, k), host in NODE_HOST.items():
        res = node(placed, g, k)
        assert placed.host_of(res.name) == host, res.name
        assert placed.host_of(f"redis-data-{g}-{k}") == host
        assert host_network(res) == host
        assert f"redis-image-{host}" in res.dependencies
        assert res.spec["networksAdvanced"][0]["ipv4Address"] == NODE_IP[(g, k)]


def test_each_sentinel_runs_on_its_own_host(placed: Placed) -> None:
    for j, host in enumerate(SENTINEL_HOST):
        res = sentinel(placed, j)
        assert placed.host_of(res.name) == host
        assert placed.host_of(f"redis-sentinel-data-{j}") == host
        assert host_network(res) == host
        assert f"redis-image-{host}" in res.dependencies
        assert res.spec["networksAdvanced"][0]["ipv4Address"] == f"172.28.0.{90 + j}"


def test_group_members_and_sentinels_on_distinct_hosts(placed: Placed) -> None:
    for g in range(3):
        assert len({placed.host_of(f"redis-node-{g}-{k}") for k in range(2)}) == 2
    assert len({placed.host_of(f"redis-sentinel-{j}") for j in range(3)}) == 3


def test_one_image_per_host_and_none_on_the_default_engine(placed: Placed) -> None:
    images = {r.name for r in placed.capture.of_type("docker:index/remoteImage:RemoteImage")}
    assert images == {"redis-image-h1", "redis-image-h2", "redis-image-h3"}
    assert {placed.host_of(i) for i in images} == {"h1", "h2", "h3"}


def test_data_nodes_announce_and_listen_on_their_published_port(placed: Placed) -> None:
    for (g, k), host in NODE_HOST.items():
        res, port = node(placed, g, k), NODE_PORT[(g, k)]
        lines = conf(res, redis_sentinel.NODE_TEMPLATE)
        assert lines[0] == f"port {port}"
        assert f"replica-announce-ip {ADDRESS[host]}" in lines
        assert f"replica-announce-port {port}" in lines
        replicaof = [line for line in lines if line.startswith("replicaof")]
        primary = NODE_HOST[(g, 0)]
        assert replicaof == (
            [] if k == 0 else [f"replicaof {ADDRESS[primary]} {NODE_PORT[(g, 0)]}"]
        )
        assert res.spec["ports"] == [{"internal": port, "external": port, "ip": BIND[host]}]
        # The script's health probe (`node-health`) talks to $PORT.
        assert f"PORT={port}" in res.spec["envs"]
        assert res.spec["healthcheck"]["tests"][1].endswith("node-health")


def test_sentinels_announce_and_listen_on_their_published_port(placed: Placed) -> None:
    for j, host in enumerate(SENTINEL_HOST):
        res, port = sentinel(placed, j), 26379 + j
        lines = conf(res, redis_sentinel.SENTINEL_TEMPLATE)
        assert lines[0] == f"port {port}"
        assert f"sentinel announce-ip {ADDRESS[host]}" in lines
        assert f"sentinel announce-port {port}" in lines
        monitors = [line for line in lines if line.startswith("sentinel monitor")]
        assert monitors == [
            f"sentinel monitor shard-{g} {ADDRESS[NODE_HOST[(g, 0)]]} {NODE_PORT[(g, 0)]} 2"
            for g in range(3)
        ]
        assert res.spec["ports"] == [{"internal": port, "external": port, "ip": BIND[host]}]
        assert f"PORT={port}" in res.spec["envs"]
        assert {f"redis-node-{g}-{k}" for g, k in MEMBERS} <= set(res.dependencies)


def test_outputs_name_the_hosts_and_need_no_address_map(placed: Placed) -> None:
    outputs = placed.capture.outputs
    remap, _ = outputs["redisHostAddressMap"]
    announced = [f"{ADDRESS[h]}:{NODE_PORT[m]}" for m, h in NODE_HOST.items()]
    announced += [f"{ADDRESS[h]}:{26379 + j}" for j, h in enumerate(SENTINEL_HOST)]
    assert remap == {a: a for a in announced}
    nodes, _ = outputs["redisNodes"]
    assert nodes[3] == {
        "name": "infra-unit-redis-1-1",
        "masterSet": "shard-1",
        "initialRole": "replica",
        "ip": ADDRESS["h3"],
        "port": 7007,
        "hostPort": None,
        "host": "h3",
    }
    sentinels, _ = outputs["redisSentinels"]
    assert [(s["host"], s["ip"], s["port"]) for s in sentinels] == [
        (h, ADDRESS[h], 26379 + j) for j, h in enumerate(SENTINEL_HOST)
    ]


def test_rolling_hooks_reach_nodes_at_their_host_address() -> None:
    """`host_endpoint` of a placed node (no host port): the announced address,
    which the operator's machine reaches, not loopback."""
    config = RedisConfig.model_validate({"mode": "sentinel"})
    ips = lambda role, n: [f"172.28.0.{i}" for i in range(n)]  # noqa: E731
    layout = redis_sentinel.Layout(config, fake_site("infra-unit-redis", ips))
    for (g, k), host in NODE_HOST.items():
        assert dn.host_endpoint(layout.node(g, k), "127.0.0.1") == (
            ADDRESS[host],
            NODE_PORT[(g, k)],
        )
    assert dn.host_endpoint(layout.sentinel(1), "127.0.0.1") == (ADDRESS["h2"], 26380)


def test_without_hosts_nothing_is_placed() -> None:
    """One engine: no provider, no `host`, the fixed container addresses."""
    single = run_on_hosts({"redis": {"mode": "sentinel"}}, {"redisPassword": PASSWORD}, hosts=[])
    assert {single.host_of(r.name) for r in single.capture.resources} == {None}
    nodes, _ = single.capture.outputs["redisNodes"]
    assert all("host" not in n for n in nodes)
    lines = conf(single.capture.named("redis-node-0-1"), redis_sentinel.NODE_TEMPLATE)
    assert lines[0] == "port 6379" and "replicaof 172.28.0.10 6379" in lines
