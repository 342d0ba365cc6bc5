"""A Redis Cluster over three Docker hosts, through `infra up` on the real engine.

The hosts are three more Docker engines on this machine, each in its own network
namespace with its own address (tests/support/netns_hosts.py); the stack file
lists them under `infra:hosts`, and `infra` drives one docker provider per host
(the offline stand-in here). Both stacks run with TLS (`redis.tls`): the nodes'
certificates name their hosts' addresses, the cluster bus and replication cross
hosts over TLS. Proven in order, on one deployed stack:

- `up` copies the image to every host, places every shard's members on distinct
  hosts and one master per host; clients on this machine and in a container on
  another host use the announced addresses directly (no address map);
- losing a whole host (its link cut) under a counted `WAIT 1` write load: every
  slot is served again by the other hosts and no acknowledged write is lost;
  with the host back, its nodes rejoin as replicas;
- `status` then warns that one host holds 2 of 3 masters; `rebalance` moves
  them back and the warning goes;
- `infra drill --host` takes another host down and back, and counts 0 lost keys;
- `down` leaves nothing on any host.

Every address is inside namespaces and containers this run created.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from cli.ops import prometheus
from cli.ops.sentinel import host_sentinel
from tests.engine.conftest import NO_PROXY
from tests.support import dockerenv
from tests.support import netns_hosts as ns
from tests.support.enginestack import TierStack, deployed_stack
from tests.support.writeload import WriteLoad

pytestmark = [pytest.mark.integration, pytest.mark.engine]

PORT_BASE = 7000
SUBNET_INDEX = 5


@pytest.fixture(scope="module")
def hosts() -> Iterator[list[ns.NetnsHost]]:
    with ns.netns_hosts(3, prefix="mhost", subnet_index=SUBNET_INDEX) as made:
        yield made


def hosts_env(hosts: list[ns.NetnsHost]) -> dict[str, str | None]:
    """`infra` talks straight to the hosts this run made (status reads Prometheus at
    the first host's address), not through the engine tests' refusing proxy."""
    return {"NO_PROXY": ",".join([NO_PROXY, *(h.address for h in hosts)])}


def stack_config(image: str, hosts: list[ns.NetnsHost]) -> dict[str, Any]:
    return {
        "hosts": [{"name": h.name, "docker": h.docker_host, "address": h.address} for h in hosts],
        # TLS, as the templates set it: certificates name the hosts' addresses.
        "redis": {
            "image": image,
            "hostPortBase": PORT_BASE,
            "tls": {"enabled": True},
            "defaultUser": "disabled",
        },
        "mongo": {"enabled": False},
        "edge": {"enabled": False},
    }


MONITORING = {"enabled": True, "image": "infra-local/monitoring:debian", "scrapeIntervalS": 2}


@pytest.fixture(scope="module")
def tier(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: Any,
    engine_tools: Any,
    docker_client: docker.DockerClient,
    redis_image: str,
    hosts: list[ns.NetnsHost],
) -> Iterator[TierStack]:
    root = tmp_path_factory.mktemp("multihost")
    dockerenv.require_image(docker_client, MONITORING["image"])
    config = stack_config(redis_image, hosts) | {"monitoring": MONITORING}
    with deployed_stack(root, proxy, docker_client, config, hosts_env(hosts)) as stack:
        yield stack
        stack.infra("down", stack.name, "--yes")
        for host in hosts:  # the containers are on the hosts, not on the main engine
            sweep(host.client(), stack.name)


def sweep(client: docker.DockerClient, stack: str) -> None:
    for container in client.containers.list(all=True, filters={"label": f"infra.stack={stack}"}):
        container.remove(force=True, v=True)


@pytest.fixture(scope="module")
def deployed(tier: TierStack) -> dict[str, Any]:
    result = tier.ok("up", tier.name, "--yes")
    copies = sorted(re.findall(r" copied to host (h\d) ", result.err))
    # The Redis image on every host, monitoring's on the first one only.
    assert copies == ["h1", "h1", "h2", "h3"], result.err
    return tier.outputs()


def cluster_client(outputs: dict[str, Any]) -> RedisCluster:
    """No address_remap: the announced addresses are the hosts' own. Every
    node is a seed: one host may be down."""
    return RedisCluster(
        startup_nodes=[ClusterNode(n["ip"], n["port"]) for n in outputs["redisNodes"]],
        **access(outputs).kwargs(),
        decode_responses=True,
        socket_timeout=2.0,
    )


def access(outputs: dict[str, Any]) -> Any:
    from cli.ops import cluster as ops

    return ops.Access(outputs["redisPassword"], outputs["redisCaCert"], outputs["redisAdminUser"])


def shards(outputs: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """[master, replicas...] per shard, from the live CLUSTER NODES."""
    by_address = {f"{n['ip']}:{n['port']}": n for n in outputs["redisNodes"]}
    with cluster_client(outputs) as client:
        nodes = client.execute_command("CLUSTER NODES", target_nodes=RedisCluster.RANDOM)
    masters = {
        info["node_id"]: address.split("@")[0]
        for address, info in nodes.items()
        if "master" in info["flags"] and "fail" not in info["flags"] and info["slots"]
    }
    out = {m: [by_address[m]] for m in masters.values()}
    for address, info in nodes.items():
        if "slave" in info["flags"] and info["master_id"] in masters:
            out[masters[info["master_id"]]].append(by_address[address.split("@")[0]])
    return list(out.values())


def test_up_places_each_shard_across_hosts(
    deployed: dict[str, Any], hosts: list[ns.NetnsHost], tier: TierStack
) -> None:
    nodes = deployed["redisNodes"]
    assert [n["host"] for n in nodes] == ["h1", "h2", "h3", "h2", "h3", "h1"]
    assert {n["ip"] for n in nodes} == {h.address for h in hosts}
    for shard in shards(deployed):
        assert len({n["host"] for n in shard}) == len(shard) == 2
    assert sorted(s[0]["host"] for s in shards(deployed)) == ["h1", "h2", "h3"]
    for host in hosts:  # each container on its own host's engine, none on the main one
        running = host.client().containers.list(filters={"label": f"infra.stack={tier.name}"})
        names = {c.name for c in running}
        assert {n["name"] for n in nodes if n["host"] == host.name} <= names
    status = tier.ok("status", tier.name)
    assert "ok   redis: 6/6 nodes up, 3 masters, 3 replicas in sync" in status.out, status.out
    assert "host h1:" in status.out and "WARN" not in status.out, status.out


def test_monitoring_on_the_first_host_scrapes_nodes_on_every_host(
    deployed: dict[str, Any], hosts: list[ns.NetnsHost], tier: TierStack
) -> None:
    url = deployed["monitoringPrometheusUrl"]
    assert url == f"http://{hosts[0].address}:9090"

    def all_up() -> bool:
        found = prometheus.targets(url)
        return len(found) == 8 and all(t.up for t in found)

    dockerenv.wait_for(all_up, timeout=60, interval=0.5)
    slots = prometheus.query(url, "redis_cluster_slots_ok")
    assert [float(r["value"][1]) for r in slots] == [16384.0] * 6
    assert "ok   monitoring: prometheus at " + url in tier.ok("status", tier.name).out


def test_clients_on_the_machine_and_on_another_host_follow_redirects(
    deployed: dict[str, Any], hosts: list[ns.NetnsHost]
) -> None:
    with cluster_client(deployed) as client:
        for i in range(300):
            client.set(f"spread:{i}", i)
        assert all(client.get(f"spread:{i}") == str(i) for i in range(300))
    # A container on h3 (the image is there: `up` copied it) writes through h1.
    seed = next(n for n in deployed["redisNodes"] if n["host"] == "h1")
    script = (
        'echo "$CA" > /tmp/ca.crt; for i in $(seq 9); do'
        " redis-cli --tls --cacert /tmp/ca.crt --user infra -c -h $SEED -p $PORT set h3:$i $i;"
        " done"
    )
    reply = (
        hosts[2]
        .client()
        .containers.run(
            "infra-local/redis:debian",
            ["sh", "-c", script],
            environment={
                "REDISCLI_AUTH": deployed["redisPassword"],
                "CA": deployed["redisCaCert"],
                "SEED": seed["ip"],
                "PORT": seed["port"],
            },
            remove=True,
        )
    )
    assert reply.decode().split() == ["OK"] * 9


def test_losing_a_host_under_write_load_loses_no_acknowledged_write(
    deployed: dict[str, Any], hosts: list[ns.NetnsHost], tier: TierStack
) -> None:
    lost_host = hosts[0]
    load = WriteLoad(lambda: cluster_client(deployed), prefix="hostloss", wait_replicas=1)
    with load:
        time.sleep(2)
        lost_host.cut()
        cut_at = time.monotonic()
        served = wait_for_all_slots_elsewhere(deployed, lost_host.name)
        time.sleep(3)  # writes continue on the promoted masters
    report = load.report(reader := cluster_client(deployed))
    reader.close()
    figures = report.figures() | {"all_slots_served_s": round(served - cut_at, 2)}
    assert report.lost == 0, figures
    assert report.writes_acked > 100, figures
    assert served - cut_at < 30, figures
    lost_host.restore()
    wait_until_healthy(tier)
    were_there = {n["name"] for n in deployed["redisNodes"] if n["host"] == lost_host.name}

    def rejoined_as_replicas() -> bool:
        back = {n["name"] for s in shards(deployed) for n in s[1:] if n["host"] == lost_host.name}
        return back == were_there

    dockerenv.wait_for(rejoined_as_replicas, timeout=30)


def test_status_warns_and_rebalance_moves_masters_back(
    deployed: dict[str, Any], tier: TierStack
) -> None:
    status = tier.ok("status", tier.name)
    assert "WARN redis:" in status.out and "holds 2 of 3 masters" in status.out, status.out
    moves = json.loads(tier.ok("rebalance", tier.name, "--yes", "--json").out)
    assert [(m["to"], m["host"]) for m in moves] == [(deployed["redisNodes"][0]["name"], "h1")]
    assert sorted(s[0]["host"] for s in shards(deployed)) == ["h1", "h2", "h3"]
    assert "WARN" not in tier.ok("status", tier.name).out


def test_drill_takes_a_whole_host_down_and_back(tier: TierStack, deployed: dict[str, Any]) -> None:
    result = json.loads(tier.ok("drill", tier.name, "--host", "h3", "--yes", "--json").out)
    assert result["keys_lost"] == 0 and result["keys_checked"] == 200, result
    assert result["masters_lost"] == [deployed["redisNodes"][2]["name"]], result
    assert result["all_slots_s"] < 30, result
    tier.ok("rebalance", tier.name, "--yes")


def test_down_leaves_nothing_on_any_host(tier: TierStack, hosts: list[ns.NetnsHost]) -> None:
    tier.ok("down", tier.name, "--yes")
    label = {"label": f"infra.stack={tier.name}"}
    for host in hosts:
        client = host.client()
        left = client.containers.list(all=True, filters=label) + client.volumes.list(filters=label)
        assert left == [], (host.name, left)
        assert client.networks.list(filters=label) == []


def wait_for_all_slots_elsewhere(outputs: dict[str, Any], lost: str, timeout: float = 60) -> float:
    """When masters outside `lost` serve all 16384 slots (a survivor's view)."""
    survivors = [n for n in outputs["redisNodes"] if n["host"] != lost]
    addresses = {f"{n['ip']}:{n['port']}" for n in survivors}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served_by(survivors[0], access(outputs), addresses) == 16384:
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"slots not all served without {lost} after {timeout}s")


def served_by(node: dict[str, Any], password: Any, addresses: set[str]) -> int:
    from cli.ops import cluster as ops

    try:
        slots = ops.master_slots(node["ip"], node["port"], password)
    except (redis.RedisError, OSError):
        return 0
    return sum(b - a + 1 for addr, ranges in slots.items() if addr in addresses for a, b in ranges)


def wait_until_healthy(tier: TierStack, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tier.infra("status", tier.name).code == 0:
            return
        time.sleep(1)
    raise AssertionError(f"not healthy {timeout}s after the host came back")


@pytest.fixture(scope="module")
def sentinel_tier(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: Any,
    engine_tools: Any,
    docker_client: docker.DockerClient,
    redis_image: str,
    hosts: list[ns.NetnsHost],
) -> Iterator[TierStack]:
    config = stack_config(redis_image, hosts)
    config["redis"] |= {"mode": "sentinel", "sentinelHostPortBase": 26379}
    root = tmp_path_factory.mktemp("sentinels")
    with deployed_stack(root, proxy, docker_client, config, hosts_env(hosts)) as stack:
        yield stack
        stack.infra("down", stack.name, "--yes")
        for host in hosts:
            sweep(host.client(), stack.name)


def test_sentinel_groups_across_hosts_fail_over_when_a_host_is_cut(
    sentinel_tier: TierStack, hosts: list[ns.NetnsHost]
) -> None:
    """Groups' members on distinct hosts, Sentinels one per host; infra's own
    Sentinel client finds every primary with no address map, and after h1 (a
    primary and a Sentinel) is cut, the two Sentinels left promote its replica."""
    tier = sentinel_tier
    tier.ok("up", tier.name, "--yes")
    outputs = tier.outputs()
    assert sorted(s["host"] for s in outputs["redisSentinels"]) == ["h1", "h2", "h3"]
    addresses = {h.name: h.address for h in hosts}
    for group in outputs["redisMasterSets"]:
        members = [n for n in outputs["redisNodes"] if n["masterSet"] == group]
        assert len({n["host"] for n in members}) == len(members) == 2
        assert all(n["ip"] == addresses[n["host"]] for n in members)
    assert tier.ok("status", tier.name).out.startswith("ok   redis:")
    discovery = host_sentinel(outputs, outputs["redisPassword"], socket_timeout=2.0)
    for group in outputs["redisMasterSets"]:
        discovery.master_for(group).set(f"across:{group}", group)
        assert discovery.master_for(group).get(f"across:{group}") == group
    before = discovery.discover_master("shard-0")
    assert before[0] == addresses["h1"]
    hosts[0].cut()
    try:
        dockerenv.wait_for(lambda: discovery.discover_master("shard-0") != before, timeout=60)
        assert discovery.master_for("shard-0").set("after-cut", 1)
    finally:
        hosts[0].restore()
    tier.ok("down", tier.name, "--yes")
    label = {"label": f"infra.stack={tier.name}"}
    assert all(h.client().containers.list(all=True, filters=label) == [] for h in hosts)
