"""The RedisCluster specs the program registers, started on a real Docker engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from cli import rediskit as rediscluster
from stacks import addressing
from tests.support import dockerenv
from tests.support.capture import Capture, run_program
from tests.support.dockerapply import Applied, Applier, sweep

pytestmark = pytest.mark.integration


@dataclass
class Deployed:
    capture: Capture
    applied: Applied
    password: str
    subnet: str
    port_base: int
    stack: str

    def output(self, name: str) -> Any:
        return self.capture.outputs[name][0]

    def node_ports(self) -> list[int]:
        return [n["hostPort"] for n in self.output("redisNodes")]


@pytest.fixture(scope="module")
def deployed(docker_client: docker.DockerClient, redis_image: str) -> Iterator[Deployed]:
    run = dockerenv.run_id()
    stack = f"it{run}"
    password = dockerenv.password()
    subnet = dockerenv.free_subnet(docker_client)
    base = dockerenv.free_port_block(6)
    capture = run_program(
        stack,
        {"network": {"subnet": subnet}, "redis": {"image": redis_image, "hostPortBase": base}},
        {"redisPassword": password},
    )
    applier = Applier(docker_client, run)
    try:
        applier.apply(capture)
        yield Deployed(capture, applier.applied, password, subnet, base, stack)
    finally:
        applier.applied.destroy()
        sweep(docker_client, run)


def test_init_container_forms_the_cluster(deployed: Deployed, docker_client) -> None:
    logs = docker_client.containers.get(f"infra-{deployed.stack}-redis-init").logs().decode()
    assert "creating the cluster: 6 nodes, 1 replica(s) per master" in logs
    assert "all 16384 slots covered; replicas in sync" in logs


def test_every_node_reports_cluster_ok(deployed: Deployed) -> None:
    for port in deployed.node_ports():
        info = rediscluster.cluster_info("127.0.0.1", port, deployed.password)
        assert info["cluster_state"] == "ok"
        assert info["cluster_slots_assigned"] == "16384"
        assert info["cluster_slots_ok"] == "16384"
        assert info["cluster_known_nodes"] == "6"
        assert info["cluster_size"] == "3"


def test_one_replica_per_master_at_announced_addresses(deployed: Deployed) -> None:
    topo = rediscluster.topology("127.0.0.1", deployed.port_base, deployed.password)
    assert len(topo) == 3
    assert all(len(replicas) == 1 for replicas in topo.values())
    announced = {addr for m, r in topo.items() for addr in [m, *r]}
    expected = {f"{ip}:6379" for ip in addressing.addresses(deployed.subnet, "redis", 6)}
    assert announced == expected


def test_auth_is_required(deployed: Deployed) -> None:
    import redis

    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=deployed.port_base).ping()


def test_host_client_follows_redirects(deployed: Deployed) -> None:
    client = rediscluster.host_cluster_client(
        deployed.output("redisHostAddressMap"), deployed.password
    )
    for i in range(500):
        client.set(f"host:{i}", str(i))
    assert [client.get(f"host:{i}") for i in range(500)] == [str(i) for i in range(500)]
    # keys really are spread over the three masters
    per_master = [n.redis_connection.dbsize() for n in client.get_primaries()]
    assert len(per_master) == 3 and all(count > 0 for count in per_master)
    client.close()


def test_container_on_the_stack_network_follows_redirects(
    deployed: Deployed, docker_client, redis_image: str
) -> None:
    app_ip = addressing.addresses(deployed.subnet, "apps", 1)[0]
    node0 = deployed.output("redisNodes")[0]["ip"]
    script = (
        "cli() { redis-cli -c -h $SEED --no-auth-warning \"$@\"; };"
        " for i in $(seq 1 50); do cli set app:$i v$i >/dev/null; done;"
        " for i in $(seq 1 50); do cli get app:$i; done"
    )
    out = dockerenv.run_app_container(
        docker_client, redis_image, deployed.output("networkName"), app_ip, script,
        {"SEED": node0, "REDISCLI_AUTH": deployed.password}, deployed.stack[2:],
    )
    assert out == [f"v{i}" for i in range(1, 51)]


def test_restart_of_every_container_keeps_cluster_and_data(
    deployed: Deployed, docker_client
) -> None:
    client = rediscluster.host_cluster_client(
        deployed.output("redisHostAddressMap"), deployed.password
    )
    for i in range(1000):
        client.set(f"durable:{i}", str(i))
    client.close()
    names = deployed.applied.containers
    containers = [docker_client.containers.get(n) for n in names]
    for c in containers:
        c.stop(timeout=10)
    for c in containers:
        c.start()
    for port in deployed.node_ports():
        dockerenv.wait_for(
            lambda p=port: rediscluster.cluster_ok("127.0.0.1", p, deployed.password), timeout=90
        )
    client = rediscluster.host_cluster_client(
        deployed.output("redisHostAddressMap"), deployed.password
    )
    values = [client.get(f"durable:{i}") for i in range(1000)]
    client.close()
    assert values == [str(i) for i in range(1000)]
    init = docker_client.containers.get(f"infra-{deployed.stack}-redis-init")
    dockerenv.wait_for(lambda: "not creating it again" in init.logs().decode(), timeout=60)


def plain_outputs(deployed: Deployed) -> dict[str, Any]:
    return deployed.capture.plain_outputs()


def test_status_sees_a_healthy_cluster_then_a_missing_node(
    deployed: Deployed, docker_client
) -> None:
    from cli import health

    [check] = health.status(plain_outputs(deployed))
    assert check.ok, check
    assert check.summary == (
        "6/6 nodes up, 3 masters, 3 replicas in sync, slots 16384/16384, cluster_state ok"
    )
    topo = rediscluster.topology("127.0.0.1", deployed.port_base, deployed.password)
    replica_ip = next(iter(topo.values()))[0].split(":")[0]
    replica = next(n for n in deployed.output("redisNodes") if n["ip"] == replica_ip)
    container = docker_client.containers.get(replica["name"])
    container.stop(timeout=5)
    try:
        [check] = health.status(plain_outputs(deployed))
        assert not check.ok
        assert check.summary.startswith("5/6 nodes up, 3 masters, 2 replicas in sync")
        assert any(replica["name"] in d and "unreachable" in d for d in check.details)
    finally:
        container.start()
    dockerenv.wait_for(lambda: health.status(plain_outputs(deployed))[0].ok, timeout=60)


def test_infra_status_command(deployed: Deployed, monkeypatch) -> None:
    """`infra status` end to end, with the stack outputs the engine would return."""
    from typer.testing import CliRunner

    from cli import deploy
    from cli.main import app

    items = [deploy.OutputItem(k, v, s) for k, (v, s) in deployed.capture.outputs.items()]
    monkeypatch.setattr(deploy.Deployer, "outputs", lambda self: items)
    result = CliRunner().invoke(app, ["status", "local"])
    assert result.exit_code == 0, result.output
    assert "ok   redis: 6/6 nodes up" in result.stdout
    assert deployed.password not in result.stdout


def test_failover_drill_measures_recovery_without_losing_replicated_keys(
    deployed: Deployed, docker_client
) -> None:
    from cli import drill

    containers = docker_client.containers
    result = drill.cluster_failover(
        plain_outputs(deployed),
        stop=lambda n: containers.get(n).kill(),
        start=lambda n: containers.get(n).start(),
    )
    node_ips = {f"{n['ip']}:6379" for n in deployed.output("redisNodes")}
    assert {result.victim, result.promoted} <= node_ips
    assert result.victim != result.promoted
    # cluster-node-timeout is 3000 ms: promotion cannot come before it, and
    # the failure detection + election should not take 10 times longer.
    assert 3.0 <= result.promoted_s <= 30.0
    assert result.promoted_s <= result.write_ok_s <= 30.0
    assert result.keys_checked == 200 and result.keys_lost == 0
    topo = rediscluster.topology("127.0.0.1", deployed.port_base, deployed.password)
    assert result.promoted in topo and result.victim in topo[result.promoted]


def test_infra_drill_command(deployed: Deployed, monkeypatch) -> None:
    from typer.testing import CliRunner

    from cli import deploy
    from cli.main import app

    items = [deploy.OutputItem(k, v, s) for k, (v, s) in deployed.capture.outputs.items()]
    monkeypatch.setattr(deploy.Deployer, "outputs", lambda self: items)
    refused = CliRunner().invoke(app, ["drill", "local"])
    assert refused.exit_code == 2 and "needs --yes" in refused.stderr
    result = CliRunner().invoke(app, ["drill", "local", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["keys_lost"] == 0 and figures["write_ok_s"] >= figures["promoted_s"] > 0
