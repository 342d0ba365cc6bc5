"""RedisCluster under Pulumi's mocks: exactly what the docker provider would get."""

from __future__ import annotations

import subprocess

import pulumi
import pytest

from components import docker_node, redis_cluster
from tests.support.capture import Capture, is_secret, run_program

PASSWORD = "test-password-0123456789"
IMAGE = "infra-local/redis:debian"


@pytest.fixture(scope="module")
def capture() -> Capture:
    return run_program("unit", {"redis": {"image": IMAGE}}, {"redisPassword": PASSWORD})


def nodes(capture: Capture) -> list:
    return [r for r in capture.containers() if r.name.startswith("redis-node-")]


def test_component_and_children(capture: Capture) -> None:
    component = capture.named("redis")
    assert component.type == "infra:redis:Cluster" and not component.custom
    children = [r for r in capture.resources if r.parent == "redis"]
    assert {r.name for r in children} == (
        {"redis-image", "redis-init"}
        | {f"redis-node-{i}" for i in range(6)}
        | {f"redis-data-{i}" for i in range(6)}
    )


def test_six_nodes_with_fixed_names_and_addresses(capture: Capture) -> None:
    specs = sorted((r.spec for r in nodes(capture)), key=lambda s: s["name"])
    assert [s["name"] for s in specs] == [f"infra-unit-redis-{i}" for i in range(6)]
    assert [s["networksAdvanced"][0]["ipv4Address"] for s in specs] == [
        f"172.28.0.{10 + i}" for i in range(6)
    ]
    assert all(s["networksAdvanced"][0]["name"] == "infra-unit" for s in specs)
    assert all(r.delete_before_replace for r in nodes(capture))


def test_image_pinned_and_kept_locally(capture: Capture) -> None:
    image = capture.named("redis-image").spec
    assert image == {"name": IMAGE, "keepLocally": True}
    assert all(r.spec["image"] == IMAGE for r in capture.containers())


def test_node_runtime_settings(capture: Capture) -> None:
    spec = capture.named("redis-node-2").spec
    assert spec["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    assert spec["restart"] == "unless-stopped"
    assert spec["memory"] == 256
    assert spec["mustRun"] is True and spec["wait"] is True
    assert spec["ports"] == [{"internal": 6379, "external": 7002, "ip": "127.0.0.1"}]
    assert spec["volumes"] == [{"volumeName": "infra-unit-redis-2-data", "containerPath": "/data"}]
    assert spec["logOpts"] == {"max-size": "10m", "max-file": "3"}
    test = spec["healthcheck"]["tests"]
    assert test[0] == "CMD-SHELL" and "PONG|LOADING|MASTERDOWN" in test[1]
    assert PASSWORD not in test[1]


def test_node_config(capture: Capture) -> None:
    upload = capture.named("redis-node-1").spec["uploads"][0]
    conf = dict(line.split(" ", 1) for line in upload["content"].splitlines())
    assert conf["cluster-enabled"] == "yes"
    assert conf["cluster-node-timeout"] == "4000"
    assert conf["cluster-announce-ip"] == "172.28.0.11"
    assert conf["cluster-announce-bus-port"] == "16379"
    assert conf["appendonly"] == "yes" and conf["appendfsync"] == "everysec"
    assert conf["maxmemory"] == "204mb" and conf["maxmemory-policy"] == "allkeys-lru"
    assert conf["requirepass"] == PASSWORD and conf["masterauth"] == PASSWORD


def test_password_only_travels_as_a_secret(capture: Capture) -> None:
    for res in capture.containers():
        assert is_secret(res.inputs["uploads"]), res.name
        plain_parts = {k: v for k, v in res.inputs.items() if k != "uploads"}
        assert PASSWORD not in repr(plain_parts)
    assert capture.outputs["redisPassword"] == (PASSWORD, True)
    url, secret = capture.outputs["redisUrl"]
    assert secret and url == f"redis://:{PASSWORD}@172.28.0.10:6379"


def test_init_container_waits_for_every_node(capture: Capture) -> None:
    init = capture.named("redis-init")
    assert {f"redis-node-{i}" for i in range(6)} <= set(init.dependencies)
    spec = init.spec
    assert spec["envs"][0] == "NODES=" + " ".join(f"172.28.0.{10 + i}:6379" for i in range(6))
    assert "REPLICAS=1" in spec["envs"]
    assert spec["networksAdvanced"][0]["ipv4Address"] == "172.28.0.9"
    assert spec["wait"] is True and spec["waitTimeout"] == 180
    files = {u["file"]: u for u in spec["uploads"]}
    assert files["/run/secrets/redis-password"]["content"] == PASSWORD
    assert files["/run/secrets/redis-password"]["permissions"] == "0600"
    assert "--cluster create" in files["/usr/local/bin/redis-cluster-init.sh"]["content"]


def test_init_script_is_valid_shell() -> None:
    script = redis_cluster.dn.script_text("redis-cluster-init.sh")
    done = subprocess.run(["sh", "-n", "/dev/stdin"], input=script, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_outputs_for_host_and_network_clients(capture: Capture) -> None:
    remap, secret = capture.outputs["redisHostAddressMap"]
    assert not secret
    assert remap == {f"172.28.0.{10 + i}:6379": f"127.0.0.1:{7000 + i}" for i in range(6)}
    node_list, _ = capture.outputs["redisNodes"]
    assert node_list[0] == {
        "name": "infra-unit-redis-0",
        "ip": "172.28.0.10",
        "port": 6379,
        "hostPort": 7000,
    }


def test_topology_follows_config() -> None:
    capture = run_program(
        "unit",
        {"redis": {"shards": 4, "replicas": 2, "hostPortBase": None, "nodeTimeoutMs": 15000}},
        {"redisPassword": PASSWORD},
    )
    node_specs = [r.spec for r in nodes(capture)]
    assert len(node_specs) == 12
    assert all(s.get("ports", []) == [] for s in node_specs)
    init = capture.named("redis-init").spec
    assert "REPLICAS=2" in init["envs"]
    assert "cluster-node-timeout 15000" in node_specs[0]["uploads"][0]["content"]
    assert capture.outputs["redisHostAddressMap"] == ({}, False)


def test_disabled_redis_creates_nothing() -> None:
    capture = run_program("unit", {"redis": {"enabled": False}}, {})
    assert capture.resources == []
    assert capture.outputs["components"] == ([], False)


def test_missing_password_is_a_clear_error() -> None:
    with pytest.raises(pulumi.RunError, match="infra:redisPassword is not set"):
        run_program("unit", {}, {})


def test_maxmemory_leaves_headroom() -> None:
    assert docker_node.maxmemory_mb(1000) == 800
    assert docker_node.maxmemory_mb(32) == 25


def test_data_nodes_roll_through_hooks_and_the_init_container_scales(capture: Capture) -> None:
    """Rolling replacement (components/rolling.py): every data node carries the
    component's hand-over and rejoin hooks; the init container only the scaling
    hook (components/redis_scaling.py), run before it is (re)created."""
    expected = {"before_delete": ["redis-before-delete"], "after_create": ["redis-after-create"]}
    assert {r.name: r.hooks for r in nodes(capture)} == {
        f"redis-node-{i}": expected for i in range(6)
    }
    assert capture.named("redis-init").hooks == {"before_create": ["redis-scale"]}


def test_all_at_once_rollout_binds_no_hooks() -> None:
    capture = run_program(
        "unit", {"redis": {"rollout": "all-at-once"}}, {"redisPassword": PASSWORD}
    )
    assert [r.hooks for r in nodes(capture)] == [{}] * 6
