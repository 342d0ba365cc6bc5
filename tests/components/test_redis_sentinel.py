"""RedisSentinel under Pulumi's mocks: exactly what the docker provider would get."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components import redis_sentinel, sentinel_handover
from components.redis_handover import HandOverRefused, RedisNodes
from components.rolling import Roller
from tests.support.capture import Capture, Resource, is_secret, run_program

PASSWORD = "test-password-0123456789"
IMAGE = "infra-local/redis:debian"
NODE_IPS = [f"172.28.0.{10 + offset}" for offset in (0, 1, 6, 7, 12, 13)]
NODE_NAMES = [f"infra-unit-redis-{g}-{k}" for g in range(3) for k in range(2)]
SENTINEL_IPS = ["172.28.0.90", "172.28.0.91", "172.28.0.92"]


@pytest.fixture(scope="module")
def capture() -> Capture:
    """The defaults, in sentinel mode."""
    return run_program(
        "unit", {"redis": {"mode": "sentinel", "image": IMAGE}}, {"redisPassword": PASSWORD}
    )


def nodes(capture: Capture) -> list[Resource]:
    """Data node containers by name (the mocks see registrations in any order)."""
    found = [r for r in capture.containers() if r.name.startswith("redis-node-")]
    return sorted(found, key=lambda r: r.name)


def sentinels(capture: Capture) -> list[Resource]:
    found = [r for r in capture.containers() if r.name.startswith("redis-sentinel-")]
    return sorted(found, key=lambda r: r.name)


def upload(res: Resource, path: str) -> dict:
    return next(u for u in res.spec["uploads"] if u["file"] == path)


def conf_lines(res: Resource, path: str) -> list[str]:
    return upload(res, path)["content"].splitlines()


def test_component_and_children(capture: Capture) -> None:
    component = capture.named("redis")
    assert component.type == "infra:redis:Sentinel" and not component.custom
    children = {r.name for r in capture.resources if r.parent == "redis"}
    members = [f"{g}-{k}" for g in range(3) for k in range(2)]
    assert children == (
        {"redis-image"}
        | {f"redis-node-{m}" for m in members}
        | {f"redis-data-{m}" for m in members}
        | {f"redis-sentinel-{j}" for j in range(3)}
        | {f"redis-sentinel-data-{j}" for j in range(3)}
    )
    assert not [r for r in capture.resources if r.name == "redis-init"]


def test_three_groups_of_two_at_fixed_names_and_addresses(capture: Capture) -> None:
    specs = [r.spec for r in nodes(capture)]
    assert [s["name"] for s in specs] == NODE_NAMES
    assert [s["networksAdvanced"][0]["ipv4Address"] for s in specs] == NODE_IPS
    assert all(s["networksAdvanced"][0]["name"] == "infra-unit" for s in specs)
    assert [s["ports"][0]["external"] for s in specs] == [7000, 7001, 7006, 7007, 7012, 7013]
    assert all(r.delete_before_replace for r in capture.containers())


def test_three_sentinels_at_fixed_names_and_addresses(capture: Capture) -> None:
    specs = [r.spec for r in sentinels(capture)]
    assert [s["name"] for s in specs] == [f"infra-unit-redis-sentinel-{j}" for j in range(3)]
    assert [s["networksAdvanced"][0]["ipv4Address"] for s in specs] == SENTINEL_IPS
    assert [s["ports"] for s in specs] == [
        [{"internal": 26379, "external": 26379 + j, "ip": "127.0.0.1"}] for j in range(3)
    ]


def test_image_pinned_and_kept_locally(capture: Capture) -> None:
    assert capture.named("redis-image").spec == {"name": IMAGE, "keepLocally": True}
    assert all(r.spec["image"] == IMAGE for r in capture.containers())


def test_node_runtime_settings(capture: Capture) -> None:
    spec = capture.named("redis-node-1-1").spec
    assert spec["command"] == ["sh", "/usr/local/bin/redis-sentinel-ha.sh", "node"]
    assert spec["envs"] == [
        "TEMPLATE=/usr/local/etc/redis/redis.conf.tpl",
        "CONF=/data/redis.conf",
        "PORT=6379",
    ]
    assert spec["restart"] == "unless-stopped" and spec["memory"] == 256
    assert spec["mustRun"] is True and spec["wait"] is True and spec["waitTimeout"] == 90
    assert spec["volumes"] == [
        {"volumeName": "infra-unit-redis-1-1-data", "containerPath": "/data"}
    ]
    assert capture.named("redis-data-1-1").spec["name"] == "infra-unit-redis-1-1-data"
    assert spec["logDriver"] == "json-file"
    assert spec["logOpts"] == {"max-size": "10m", "max-file": "3"}
    assert spec["healthcheck"]["tests"] == [
        "CMD-SHELL",
        "sh /usr/local/bin/redis-sentinel-ha.sh node-health",
    ]
    labels = {item["label"]: item["value"] for item in spec["labels"]}
    assert labels["infra.role"] == "redis-sentinel-node"
    assert labels["infra.redis.master-set"] == "shard-1"
    assert labels["infra.redis.initial-role"] == "replica"
    assert labels["infra.stack"] == "unit"
    script = upload(capture.named("redis-node-1-1"), "/usr/local/bin/redis-sentinel-ha.sh")
    assert script["executable"] is True


def test_sentinel_runtime_settings(capture: Capture) -> None:
    spec = capture.named("redis-sentinel-2").spec
    assert spec["command"] == ["sh", "/usr/local/bin/redis-sentinel-ha.sh", "sentinel"]
    assert "CONF=/data/sentinel.conf" in spec["envs"] and "PORT=26379" in spec["envs"]
    assert spec["volumes"] == [
        {"volumeName": "infra-unit-redis-sentinel-2-data", "containerPath": "/data"}
    ]
    assert spec["restart"] == "unless-stopped" and spec["memory"] == 64
    assert spec["healthcheck"]["tests"][1] == (
        "sh /usr/local/bin/redis-sentinel-ha.sh sentinel-health"
    )
    assert spec["wait"] is True and spec["logOpts"] == {"max-size": "10m", "max-file": "3"}


def test_primary_and_replica_configs(capture: Capture) -> None:
    primary = conf_lines(capture.named("redis-node-1-0"), redis_sentinel.NODE_TEMPLATE)
    replica = conf_lines(capture.named("redis-node-1-1"), redis_sentinel.NODE_TEMPLATE)
    for lines, ip in ((primary, "172.28.0.16"), (replica, "172.28.0.17")):
        assert f"replica-announce-ip {ip}" in lines
        assert "replica-announce-port 6379" in lines
        assert f"requirepass {PASSWORD}" in lines and f"masterauth {PASSWORD}" in lines
        assert "min-replicas-to-write 0" in lines and "min-replicas-max-lag 10" in lines
        assert "appendonly yes" in lines and "maxmemory 204mb" in lines
    assert not [line for line in primary if line.startswith("replicaof")]
    assert [line for line in replica if line.startswith("replicaof")] == [
        "replicaof 172.28.0.16 6379"
    ]
    assert (
        upload(capture.named("redis-node-1-1"), redis_sentinel.NODE_TEMPLATE)["permissions"]
        == "0600"
    )


def test_sentinel_config_with_the_default_timings(capture: Capture) -> None:
    lines = conf_lines(capture.named("redis-sentinel-1"), redis_sentinel.SENTINEL_TEMPLATE)
    assert "sentinel announce-ip 172.28.0.91" in lines
    assert "sentinel announce-port 26379" in lines
    assert "sentinel resolve-hostnames no" in lines
    assert f"requirepass {PASSWORD}" in lines and f"sentinel sentinel-pass {PASSWORD}" in lines
    for g, ip in enumerate(["172.28.0.10", "172.28.0.16", "172.28.0.22"]):
        assert f"sentinel monitor shard-{g} {ip} 6379 2" in lines
        assert f"sentinel auth-pass shard-{g} {PASSWORD}" in lines
        assert f"sentinel down-after-milliseconds shard-{g} 5000" in lines
        assert f"sentinel failover-timeout shard-{g} 30000" in lines
        assert f"sentinel parallel-syncs shard-{g} 1" in lines
    assert len([line for line in lines if line.startswith("sentinel monitor")]) == 3


def test_sentinels_start_after_every_data_node(capture: Capture) -> None:
    data_nodes = {r.name for r in nodes(capture)}
    for res in sentinels(capture):
        assert data_nodes <= set(res.dependencies), res.name
    for res in nodes(capture):
        assert not [d for d in res.dependencies if d.startswith("redis-sentinel")]


def test_password_only_travels_as_a_secret(capture: Capture) -> None:
    for res in capture.containers():
        assert is_secret(res.inputs["uploads"]), res.name
        plain_parts = {k: v for k, v in res.inputs.items() if k != "uploads"}
        assert PASSWORD not in repr(plain_parts), res.name
    assert capture.outputs["redisPassword"] == (PASSWORD, True)
    assert capture.outputs["redisUsers"] == ({}, True)  # users' passwords: a secret
    for key, (value, secret) in capture.outputs.items():
        if key not in ("redisPassword", "redisUsers"):
            assert PASSWORD not in repr(value) and not secret, key


def test_outputs_for_host_and_network_clients(capture: Capture) -> None:
    assert capture.outputs["redisMode"] == ("sentinel", False)
    assert capture.outputs["redisMasterSets"] == (["shard-0", "shard-1", "shard-2"], False)
    sentinel_list, _ = capture.outputs["redisSentinels"]
    assert sentinel_list[0] == {
        "name": "infra-unit-redis-sentinel-0",
        "ip": "172.28.0.90",
        "port": 26379,
        "hostPort": 26379,
    }
    node_list, _ = capture.outputs["redisNodes"]
    assert node_list[3] == {
        "name": "infra-unit-redis-1-1",
        "masterSet": "shard-1",
        "initialRole": "replica",
        "ip": "172.28.0.17",
        "port": 6379,
        "hostPort": 7007,
    }
    remap, _ = capture.outputs["redisHostAddressMap"]
    assert remap == {
        **{
            f"{ip}:6379": f"127.0.0.1:{port}"
            for ip, port in zip(NODE_IPS, [7000, 7001, 7006, 7007, 7012, 7013], strict=True)
        },
        **{f"{ip}:26379": f"127.0.0.1:{26379 + j}" for j, ip in enumerate(SENTINEL_IPS)},
    }


def test_classic_one_primary_two_replicas_five_sentinels() -> None:
    capture = run_program(
        "unit",
        {
            "redis": {
                "mode": "sentinel",
                "shards": 1,
                "replicas": 2,
                "sentinels": 5,
                "downAfterMs": 1500,
                "failoverTimeoutMs": 10000,
                "parallelSyncs": 2,
            }
        },
        {"redisPassword": PASSWORD},
    )
    assert [r.spec["name"] for r in nodes(capture)] == [f"infra-unit-redis-0-{k}" for k in range(3)]
    assert len(sentinels(capture)) == 5
    for res in nodes(capture)[1:]:
        lines = conf_lines(res, redis_sentinel.NODE_TEMPLATE)
        assert "replicaof 172.28.0.10 6379" in lines
        assert "min-replicas-to-write 1" in lines
    lines = conf_lines(capture.named("redis-sentinel-4"), redis_sentinel.SENTINEL_TEMPLATE)
    assert "sentinel announce-ip 172.28.0.94" in lines
    assert "sentinel monitor shard-0 172.28.0.10 6379 3" in lines
    assert "sentinel down-after-milliseconds shard-0 1500" in lines
    assert "sentinel failover-timeout shard-0 10000" in lines
    assert "sentinel parallel-syncs shard-0 2" in lines


def test_adding_a_replica_moves_no_existing_node() -> None:
    def layout(replicas: int) -> dict[str, str]:
        capture = run_program(
            "unit",
            {"redis": {"mode": "sentinel", "replicas": replicas}},
            {"redisPassword": PASSWORD},
        )
        return {
            r.spec["name"]: r.spec["networksAdvanced"][0]["ipv4Address"] for r in nodes(capture)
        }

    one, two = layout(1), layout(2)
    assert {name: two[name] for name in one} == one
    assert len(two) == 9


def test_unpublished_ports() -> None:
    capture = run_program(
        "unit",
        {"redis": {"mode": "sentinel", "hostPortBase": None, "sentinelHostPortBase": None}},
        {"redisPassword": PASSWORD},
    )
    assert all(r.spec.get("ports", []) == [] for r in capture.containers())
    assert capture.outputs["redisHostAddressMap"] == ({}, False)


def test_cluster_mode_is_unchanged_by_sentinel_support() -> None:
    capture = run_program("unit", {}, {"redisPassword": PASSWORD})
    assert capture.named("redis").type == "infra:redis:Cluster"
    assert "redisSentinels" not in capture.outputs


def test_data_nodes_and_sentinels_roll_through_their_own_hooks(capture: Capture) -> None:
    """Rolling replacement (components/rolling.py): the data nodes take turns
    among themselves (one across every group), the Sentinels among themselves."""
    node_hooks = {"before_delete": ["redis-before-delete"], "after_create": ["redis-after-create"]}
    assert {r.name: r.hooks for r in nodes(capture)} == {
        f"redis-node-{g}-{k}": node_hooks for g in range(3) for k in range(2)
    }
    sentinel_hooks = {
        "before_delete": ["redis-sentinels-before-delete"],
        "after_create": ["redis-sentinels-after-create"],
    }
    assert {r.name: r.hooks for r in sentinels(capture)} == {
        f"redis-sentinel-{j}": sentinel_hooks for j in range(3)
    }


def test_all_at_once_rollout_binds_no_hooks() -> None:
    capture = run_program(
        "unit",
        {"redis": {"mode": "sentinel", "rollout": "all-at-once"}},
        {"redisPassword": PASSWORD},
    )
    assert [r.hooks for r in nodes(capture)] == [{}] * 6
    assert [r.hooks for r in sentinels(capture)] == [{}] * 3


MONITORING = sentinel_handover.Monitoring(
    quorum=2, down_after_ms=5000, failover_timeout_ms=30000, parallel_syncs=1
)


def fake_tier(
    monkeypatch: pytest.MonkeyPatch, infos: dict[str, dict], primary: str
) -> sentinel_handover.SentinelTier:
    """Data nodes answering `infos` (INFO replication) in one master set whose
    primary every Sentinel names as `primary`, and lists every replica as up;
    nothing on the network."""
    members = list(infos)
    tier = sentinel_handover.SentinelTier(
        nodes=RedisNodes(
            endpoints={n: ("127.0.0.1", 1) for n in members},
            announced={f"10.0.0.{i}:6379": n for i, n in enumerate(members)},
            timeout_s=0.3,
        ),
        sentinels=RedisNodes(endpoints={"redis-sentinel-0": ("127.0.0.1", 2)}, announced={}),
        master_sets=dict.fromkeys(members, "shard-0"),
        monitoring=MONITORING,
    )
    monkeypatch.setattr(tier.nodes, "replication", infos.get)
    address = tier.address(primary)
    monkeypatch.setattr(sentinel_handover, "named_primary", lambda *_: address)
    monkeypatch.setattr(sentinel_handover, "unlisted", lambda *_: None)
    return tier


REPLICA_IN_SYNC = {"role": "slave", "master_link_status": "up", "master_sync_in_progress": 0}


def test_a_primary_without_a_replica_in_sync_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    tier = fake_tier(monkeypatch, {"redis-node-0-0": {"role": "master"}}, "redis-node-0-0")
    fix = r"redis.replicas >= 1, or redis.rollout: all-at-once"
    with pytest.raises(HandOverRefused, match=rf"redis-node-0-0 is the primary of shard-0 .*{fix}"):
        sentinel_handover.hand_over(tier, "redis-node-0-0")


def test_a_syncing_replica_holds_the_hand_over_back(monkeypatch: pytest.MonkeyPatch) -> None:
    syncing = {**REPLICA_IN_SYNC, "master_sync_in_progress": 1}
    infos = {"redis-node-0-0": {"role": "master"}, "redis-node-0-1": syncing}
    tier = fake_tier(monkeypatch, infos, "redis-node-0-0")
    with pytest.raises(HandOverRefused, match="redis-node-0-1 is a replica that is not in sync"):
        sentinel_handover.hand_over(tier, "redis-node-0-0")


def test_only_the_primary_is_failed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    infos = {"redis-node-0-0": {"role": "master"}, "redis-node-0-1": REPLICA_IN_SYNC}
    tier = fake_tier(monkeypatch, infos, "redis-node-0-0")
    failovers: list[tuple[str, str, list[str]]] = []
    monkeypatch.setattr(sentinel_handover, "fail_over", lambda _, *args: failovers.append(args))
    sentinel_handover.hand_over(tier, "redis-node-0-1")
    assert failovers == []
    sentinel_handover.hand_over(tier, "redis-node-0-0")
    assert failovers == [("redis-node-0-0", "shard-0", ["redis-node-0-1"])]


def test_a_node_scaled_away_takes_no_hand_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scale-in deletes nodes the program no longer declares: they go first,
    with nothing to hand over (no endpoint is known for them)."""
    tier = fake_tier(monkeypatch, {"redis-node-0-0": {"role": "master"}}, "redis-node-0-0")
    assert sentinel_handover.rank(tier, "redis-node-1-0") == 0
    sentinel_handover.hand_over(tier, "redis-node-1-0")
    assert sentinel_handover.sentinel_rank(tier, "redis-sentinel-4") == 0
    sentinel_handover.sentinel_hand_over(tier, "redis-sentinel-4")


def test_rollers_know_the_declared_containers_and_each_sets_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A container the program no longer declares (a removed group) takes no
    turn: it has no replacement to give the turn back. And a master set
    registered at runtime gets the template's settings."""
    rollers: list[Roller] = []

    def recording(*args: object, **kwargs: object) -> Roller:
        rollers.append(Roller(*args, **kwargs))  # type: ignore[arg-type]
        return rollers[-1]

    monkeypatch.setattr(redis_sentinel, "Roller", recording)
    redis = {"mode": "sentinel", "image": IMAGE, "shards": 4, "downAfterMs": 7000}
    capture = run_program("unit", {"redis": redis}, {"redisPassword": PASSWORD})
    node_roller, sentinel_roller = rollers
    assert sorted(node_roller.members or []) == [r.name for r in nodes(capture)]
    assert sorted(sentinel_roller.members or []) == [r.name for r in sentinels(capture)]
    tiers: list[sentinel_handover.SentinelTier] = []
    monkeypatch.setattr(sentinel_handover, "sentinel_hand_over", lambda t, _: tiers.append(t))
    sentinel_roller.hand_over("redis-sentinel-0")
    assert tiers[0].sets() == [f"shard-{g}" for g in range(4)]
    settings = tiers[0].monitoring
    assert settings == sentinel_handover.Monitoring(
        quorum=2, down_after_ms=7000, failover_timeout_ms=30000, parallel_syncs=1
    )
    lines = conf_lines(capture.named("redis-sentinel-0"), redis_sentinel.SENTINEL_TEMPLATE)
    options = settings.options(PASSWORD)
    for option, value in zip(options[::2], options[1::2], strict=True):
        assert f"sentinel {option} shard-3 {value}" in lines
    assert f"sentinel monitor shard-3 172.28.0.28 6379 {settings.quorum}" in lines


def test_a_new_group_is_registered_with_every_sentinel_lacking_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """shard-0 is known to redis-sentinel-0 (which names its primary after a
    failover), shard-1 is new: its primary is the member reporting `master`."""
    infos = {
        "redis-node-0-0": REPLICA_IN_SYNC,
        "redis-node-0-1": {"role": "master"},
        "redis-node-1-0": {"role": "master"},
        "redis-node-1-1": REPLICA_IN_SYNC,
    }
    tier = fake_tier(monkeypatch, infos, "redis-node-0-1")
    tier.master_sets = {n: f"shard-{n[11]}" for n in infos}
    tier.sentinels = RedisNodes(
        endpoints={f"redis-sentinel-{j}": ("127.0.0.1", 2) for j in range(3)},
        announced={},
    )
    tier.nodes.secret.append(PASSWORD)
    known = {("redis-sentinel-0", "shard-0"): ["10.0.0.1", "6379"]}
    sent: list[tuple[str, ...]] = []

    def ask(_: object, sentinel: str, *args: str) -> object:
        if sentinel == "redis-sentinel-2":
            raise sentinel_handover.redis.ConnectionError("down")
        if args[0] == "GET-MASTER-ADDR-BY-NAME":
            return known.get((sentinel, args[1]))
        sent.append((sentinel, *args))
        return "OK"

    monkeypatch.setattr(sentinel_handover, "ask", ask)
    monkeypatch.setattr(sentinel_handover, "named_primary", lambda _, s, m: ":".join(known[s, m]))
    sentinel_handover.register_new_sets(tier)
    options = MONITORING.options(PASSWORD)
    assert sent == [
        ("redis-sentinel-1", "MONITOR", "shard-0", "10.0.0.1", "6379", "2"),
        ("redis-sentinel-1", "SET", "shard-0", *options),
        ("redis-sentinel-0", "MONITOR", "shard-1", "10.0.0.2", "6379", "2"),
        ("redis-sentinel-0", "SET", "shard-1", *options),
        ("redis-sentinel-1", "MONITOR", "shard-1", "10.0.0.2", "6379", "2"),
        ("redis-sentinel-1", "SET", "shard-1", *options),
    ]


def test_a_new_group_without_one_primary_is_not_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    infos = {"redis-node-0-0": {"role": "master"}, "redis-node-0-1": {"role": "master"}}
    tier = fake_tier(monkeypatch, infos, "redis-node-0-0")
    monkeypatch.setattr(sentinel_handover, "ask", lambda *_: None)
    with pytest.raises(HandOverRefused, match="shard-0 has 2 members reporting master"):
        sentinel_handover.register_new_sets(tier)


# --- the start/health script, run by the host's shells --------------------------------

SHELLS = [["sh"]] + ([["busybox", "sh"]] if shutil.which("busybox") else [])
SCRIPT = redis_sentinel.dn.script_text(redis_sentinel.SCRIPT_NAME)


def run_script(
    shell: list[str], tmp_path: Path, command: str, template: str, conf: str | None
) -> str:
    (tmp_path / "ha.sh").write_text(SCRIPT)
    (tmp_path / "tpl").write_text(template)
    if conf is not None:
        (tmp_path / "conf").write_text(conf)
    env = {**os.environ, "TEMPLATE": str(tmp_path / "tpl"), "CONF": str(tmp_path / "conf")}
    out = subprocess.run(
        [*shell, str(tmp_path / "ha.sh"), command],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def test_script_is_valid_shell() -> None:
    done = subprocess.run(["sh", "-n", "/dev/stdin"], input=SCRIPT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_first_start_uses_the_template(shell: list[str], tmp_path: Path) -> None:
    template = "port 6379\nreplicaof 10.0.0.10 6379\nrequirepass x\n"
    assert run_script(shell, tmp_path, "render-node", template, None) == template


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_node_keeps_the_role_sentinel_last_wrote(shell: list[str], tmp_path: Path) -> None:
    template = "port 6379\nmaxmemory 100mb\nreplicaof 10.0.0.10 6379\n"
    rewritten = (
        "port 6379\nmaxmemory 50mb\n# Generated by CONFIG REWRITE\nreplicaof 10.0.0.11 6379\n"
    )
    out = run_script(shell, tmp_path, "render-node", template, rewritten)
    assert out == "port 6379\nmaxmemory 100mb\nreplicaof 10.0.0.11 6379\n"
    # promoted (REPLICAOF NO ONE + CONFIG REWRITE removed the line): stays a primary
    out = run_script(shell, tmp_path, "render-node", template, "port 6379\nmaxmemory 50mb\n")
    assert out == "port 6379\nmaxmemory 100mb\n"


SENTINEL_TEMPLATE = """port 26379
requirepass pw-0123456789abcdef
sentinel monitor shard-0 10.0.0.10 6379 2
sentinel down-after-milliseconds shard-0 5000
sentinel monitor shard-1 10.0.0.16 6379 2
sentinel down-after-milliseconds shard-1 5000
"""

# What Sentinel 7.0 wrote after failing shard-0 over to .11 (abridged), plus
# the state of a master set that is no longer configured.
SENTINEL_REWRITTEN = """port 26379
requirepass "pw-0123456789abcdef"
sentinel monitor shard-0 10.0.0.11 6379 2
sentinel down-after-milliseconds shard-0 1500
sentinel monitor shard-1 10.0.0.16 6379 2
sentinel monitor shard-9 10.0.0.64 6379 2

# Generated by CONFIG REWRITE
user default on #abc ~* &* +@all
sentinel myid 36137b1fc94e59d448be94781012e2425cc682e1
sentinel config-epoch shard-0 1
sentinel leader-epoch shard-0 1
sentinel config-epoch shard-9 4
sentinel current-epoch 4
sentinel known-replica shard-0 10.0.0.10 6379

sentinel known-sentinel shard-0 10.0.0.91 26379 0b06dd9e5fb7fc138aadfef45781da7877168b57
sentinel known-sentinel shard-1 10.0.0.91 26379 0b06dd9e5fb7fc138aadfef45781da7877168b57
sentinel known-replica shard-9 10.0.0.65 6379
"""


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_sentinel_keeps_what_it_learned_and_takes_settings_from_the_template(
    shell: list[str], tmp_path: Path
) -> None:
    out = run_script(shell, tmp_path, "render-sentinel", SENTINEL_TEMPLATE, SENTINEL_REWRITTEN)
    assert out.splitlines() == [
        "port 26379",
        "requirepass pw-0123456789abcdef",
        "sentinel monitor shard-0 10.0.0.11 6379 2",  # the failed-over primary
        "sentinel down-after-milliseconds shard-0 5000",  # the template's value
        "sentinel monitor shard-1 10.0.0.16 6379 2",
        "sentinel down-after-milliseconds shard-1 5000",
        "sentinel myid 36137b1fc94e59d448be94781012e2425cc682e1",
        "sentinel current-epoch 4",
        "sentinel config-epoch shard-0 1",
        "sentinel leader-epoch shard-0 1",
        "sentinel known-replica shard-0 10.0.0.10 6379",
        "sentinel known-sentinel shard-0 10.0.0.91 26379 0b06dd9e5fb7fc138aadfef45781da7877168b57",
        "sentinel known-sentinel shard-1 10.0.0.91 26379 0b06dd9e5fb7fc138aadfef45781da7877168b57",
    ]


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_sentinel_quorum_comes_from_the_template(shell: list[str], tmp_path: Path) -> None:
    template = SENTINEL_TEMPLATE.replace("6379 2", "6379 3")
    out = run_script(shell, tmp_path, "render-sentinel", template, SENTINEL_REWRITTEN)
    assert "sentinel monitor shard-0 10.0.0.11 6379 3" in out.splitlines()


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_sentinel_first_start_uses_the_template(shell: list[str], tmp_path: Path) -> None:
    assert run_script(shell, tmp_path, "render-sentinel", SENTINEL_TEMPLATE, None) == (
        SENTINEL_TEMPLATE
    )
