"""RedisCluster across three Docker hosts (`infra:hosts`), under Pulumi's mocks.

Node i runs on the host placement gives it (masters round-robin, each replica
on another host), announces that host's address with port base + i and bus
port base + i + 10000, both published 1:1 and listened on inside: no container
network spans hosts, so what a node announces must be what every host reaches.
"""

from __future__ import annotations

import pytest

from tests.components.hosts_support import ADDRESS, BIND, Placed, host_network, run_on_hosts

PASSWORD = "test-password-0123456789"
NODE_HOST = ["h1", "h2", "h3", "h2", "h3", "h1"]  # shard i % 3, member i // 3


@pytest.fixture(scope="module")
def placed() -> Placed:
    return run_on_hosts({"redis": {"hostPortBase": 7000}}, {"redisPassword": PASSWORD})


def test_each_node_runs_on_its_placed_host_with_its_volume_and_network(placed: Placed) -> None:
    for i, host in enumerate(NODE_HOST):
        assert placed.host_of(f"redis-node-{i}") == host
        assert placed.host_of(f"redis-data-{i}") == host
        assert host_network(placed.capture.named(f"redis-node-{i}")) == host


def test_every_shard_has_its_members_on_distinct_hosts() -> None:
    shards = [{NODE_HOST[s], NODE_HOST[s + 3]} for s in range(3)]
    assert all(len(hosts) == 2 for hosts in shards)
    assert sorted(NODE_HOST[:3]) == ["h1", "h2", "h3"]  # one master per host


def test_nodes_announce_the_host_address_and_listen_on_the_published_ports(
    placed: Placed,
) -> None:
    for i, host in enumerate(NODE_HOST):
        node = placed.capture.named(f"redis-node-{i}")
        conf = node.spec["uploads"][0]["content"]
        port = 7000 + i
        assert f"port {port}\n" in conf
        assert f"cluster-announce-ip {ADDRESS[host]}\n" in conf
        assert f"cluster-announce-port {port}\n" in conf
        assert f"cluster-announce-bus-port {port + 10000}\n" in conf
        published = {(p["internal"], p["external"], p["ip"]) for p in node.spec["ports"]}
        assert published == {(port, port, BIND[host]), (port + 10000, port + 10000, BIND[host])}
        assert f"-p {port} ping" in node.spec["healthcheck"]["tests"][1]


def test_the_cluster_is_formed_as_placed_from_the_first_host(placed: Placed) -> None:
    init = placed.capture.named("redis-init")
    assert placed.host_of("redis-init") is None or placed.host_of("redis-init") == "h1"
    envs = dict(e.split("=", 1) for e in init.spec["envs"])
    a = ADDRESS
    assert envs["SHARDS"] == (
        f"{a['h1']}:7000,{a['h2']}:7003 {a['h2']}:7001,{a['h3']}:7004 {a['h3']}:7002,{a['h1']}:7005"
    )


def test_one_image_per_host(placed: Placed) -> None:
    images = {n: placed.host_of(n) for n in placed.providers if n.startswith("redis-image")}
    assert images == {"redis-image-h1": "h1", "redis-image-h2": "h2", "redis-image-h3": "h3"}


def test_outputs_name_hosts_and_need_no_address_map(placed: Placed) -> None:
    nodes, _ = placed.capture.outputs["redisNodes"]
    assert [n["host"] for n in nodes] == NODE_HOST
    assert [(n["ip"], n["port"]) for n in nodes] == [
        (ADDRESS[h], 7000 + i) for i, h in enumerate(NODE_HOST)
    ]
    remap, _ = placed.capture.outputs["redisHostAddressMap"]
    assert remap == {f"{n['ip']}:{n['port']}": f"{n['ip']}:{n['port']}" for n in nodes}
