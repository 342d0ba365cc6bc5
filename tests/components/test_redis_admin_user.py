"""`redis.defaultUser: disabled`: Redis' `default` user reduced to nothing, and
infra's own user `infra` with the stack password, in both modes (under Pulumi's
mocks; the real nodes are in tests/integration)."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from components import redis_sentinel
from components.redis_cluster import CONF_PATH
from components.redis_users import (
    ADMIN_USER,
    DEFAULT_OFF,
    RedisUser,
    admin_login,
    admin_password,
)
from tests.support.capture import Capture, Resource, run_program

PASSWORD = "test-password-0123456789"
IMAGE = "infra-local/redis:debian"
DISABLED = {"image": IMAGE, "defaultUser": "disabled", "users": [{"name": "cart"}]}
ADMIN_LINE = (
    f"user infra on #{hashlib.sha256(PASSWORD.encode()).hexdigest()} allkeys allchannels +@all"
)


@pytest.fixture(scope="module")
def cluster() -> Capture:
    monitoring = {"enabled": True, "image": "infra-local/monitoring:debian"}
    return run_program(
        "unit", {"redis": DISABLED, "monitoring": monitoring}, {"redisPassword": PASSWORD}
    )


@pytest.fixture(scope="module")
def sentinel() -> Capture:
    redis = {**DISABLED, "mode": "sentinel"}
    return run_program("unit", {"redis": redis}, {"redisPassword": PASSWORD})


def uploaded(res: Resource, path: str) -> str:
    return next(u["content"] for u in res.spec["uploads"] if u["file"] == path)


def test_cluster_nodes_have_no_requirepass_and_replicate_as_infra(cluster: Capture) -> None:
    for i in range(6):
        lines = uploaded(cluster.named(f"redis-node-{i}"), CONF_PATH).splitlines()
        assert not [line for line in lines if line.startswith("requirepass")]
        assert "masteruser infra" in lines and f"masterauth {PASSWORD}" in lines
        users = [line for line in lines if line.startswith("user ")]
        assert users[:2] == [DEFAULT_OFF, ADMIN_LINE]
        assert users[2].startswith("user cart on #")


def test_the_default_user_can_do_nothing_and_log_in_as_nobody() -> None:
    rules = DEFAULT_OFF.split()[2:]
    assert rules[0] == "off" and "resetpass" in rules and rules[-1] == "-@all"
    assert "nopass" not in rules and not [r for r in rules if r[0] in "<>#~&"]


def test_probes_and_the_init_script_log_in_as_infra(cluster: Capture) -> None:
    node = cluster.named("redis-node-0").spec
    probe = node["healthcheck"]["tests"][1]
    assert "--user infra " in probe and "s/^masterauth //p" in probe
    assert PASSWORD not in probe
    init = cluster.named("redis-init").spec
    assert "CLI_USER=infra" in init["envs"]
    assert not [e for e in init["envs"] if PASSWORD in e]


def test_the_exporter_logs_in_as_infra(cluster: Capture) -> None:
    command = cluster.named("monitoring-exporter").spec["command"]
    assert "-redis.user=infra" in command
    assert not [c for c in command if PASSWORD in c]


def test_the_admin_user_is_an_output_and_plain_stacks_have_none(cluster: Capture) -> None:
    assert cluster.outputs["redisAdminUser"] == ("infra", False)
    plain = run_program("unit", {"redis": {"image": IMAGE}}, {"redisPassword": PASSWORD})
    assert "redisAdminUser" not in plain.outputs
    lines = uploaded(plain.named("redis-node-0"), CONF_PATH).splitlines()
    assert f"requirepass {PASSWORD}" in lines and "masteruser infra" not in lines


def test_sentinel_mode_nodes_and_sentinels(sentinel: Capture) -> None:
    node = sentinel.named("redis-node-0-1")
    lines = uploaded(node, redis_sentinel.NODE_TEMPLATE).splitlines()
    assert "masteruser infra" in lines and DEFAULT_OFF in lines and ADMIN_LINE in lines
    assert not [line for line in lines if line.startswith("requirepass")]
    conf = uploaded(sentinel.named("redis-sentinel-0"), redis_sentinel.SENTINEL_TEMPLATE)
    lines = conf.splitlines()
    assert DEFAULT_OFF in lines and ADMIN_LINE in lines
    assert "sentinel sentinel-user infra" in lines
    assert f"sentinel sentinel-pass {PASSWORD}" in lines
    assert [line for line in lines if line.startswith("sentinel auth-user ")] == [
        f"sentinel auth-user shard-{g} infra" for g in range(3)
    ]
    assert not [line for line in lines if line.startswith("requirepass")]
    assert sentinel.outputs["redisAdminUser"] == ("infra", False)


def test_sentinel_mode_script_logs_in_as_infra(sentinel: Capture) -> None:
    script = uploaded(sentinel.named("redis-sentinel-0"), redis_sentinel.SCRIPT_PATH)
    assert "redis-cli --user infra --no-auth-warning" in script
    assert "s/^masterauth //p;s/^sentinel sentinel-pass //p" in script
    assert "s/^requirepass //p" not in script


def test_a_plain_sentinel_tier_keeps_its_script_byte_for_byte() -> None:
    plain = run_program(
        "unit", {"redis": {"mode": "sentinel", "image": IMAGE}}, {"redisPassword": PASSWORD}
    )
    script = uploaded(plain.named("redis-sentinel-0"), redis_sentinel.SCRIPT_PATH)
    assert script == (redis_sentinel.dn.script_text(redis_sentinel.SCRIPT_NAME))


@pytest.mark.parametrize("name", ["default", ADMIN_USER])
def test_the_reserved_user_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="is taken"):
        RedisUser(name=name)


def test_default_user_takes_only_the_two_values() -> None:
    from components.redis_config import RedisConfig

    with pytest.raises(ValidationError, match="'admin' or 'disabled'"):
        RedisConfig.model_validate({"defaultUser": "off"})


def digest(password: str) -> str:
    return f"#{hashlib.sha256(password.encode()).hexdigest()}"


def test_infras_password_walks_accept_switch_done() -> None:
    """Each step is one rolling `up`: no node ever logs in to one that would
    refuse it (README, "Security model")."""
    old, new = admin_password(PASSWORD, 1), admin_password(PASSWORD, 2)
    assert old == PASSWORD and new not in (PASSWORD, admin_password(PASSWORD, 3))
    assert admin_login(PASSWORD, 2, "accept") == (old, [new, old])
    assert admin_login(PASSWORD, 2, "switch") == (new, [new, old])
    assert admin_login(PASSWORD, 2, "done") == (new, [new])


@pytest.mark.parametrize("mode", ["cluster", "sentinel"])
def test_during_accept_nodes_accept_both_and_still_use_the_old_one(mode: str) -> None:
    redis = {**DISABLED, "mode": mode, "admin": {"generation": 2, "rotation": "accept"}}
    capture = run_program("unit", {"redis": redis}, {"redisPassword": PASSWORD})
    new = admin_password(PASSWORD, 2)
    node, path = (
        ("redis-node-0", CONF_PATH)
        if mode == "cluster"
        else ("redis-node-0-0", redis_sentinel.NODE_TEMPLATE)
    )
    lines = uploaded(capture.named(node), path).splitlines()
    assert f"user infra on {digest(new)} {digest(PASSWORD)} allkeys allchannels +@all" in lines
    assert f"masterauth {PASSWORD}" in lines
    assert capture.outputs["redisPassword"] == (PASSWORD, True)
    if mode == "sentinel":
        conf = uploaded(capture.named("redis-sentinel-0"), redis_sentinel.SENTINEL_TEMPLATE)
        assert f"sentinel sentinel-pass {PASSWORD}" in conf.splitlines()
        assert f"sentinel auth-pass shard-0 {PASSWORD}" in conf.splitlines()


def test_after_switch_everything_uses_the_new_one(cluster: Capture) -> None:
    redis = {**DISABLED, "admin": {"generation": 2, "rotation": "switch"}}
    monitoring = {"enabled": True, "image": "infra-local/monitoring:debian"}
    capture = run_program(
        "unit", {"redis": redis, "monitoring": monitoring}, {"redisPassword": PASSWORD}
    )
    new = admin_password(PASSWORD, 2)
    lines = uploaded(capture.named("redis-node-3"), CONF_PATH).splitlines()
    assert f"masterauth {new}" in lines
    assert f"user infra on {digest(new)} {digest(PASSWORD)} allkeys allchannels +@all" in lines
    assert uploaded(capture.named("redis-init"), "/run/secrets/redis-password") == new
    exporter = capture.named("monitoring-exporter").spec["uploads"][0]["content"]
    assert set(json.loads(exporter).values()) == {new}
    assert capture.outputs["redisPassword"] == (new, True)
    assert capture.outputs["redisUrl"][0].startswith(f"redis://infra:{new}@")
    # The users' passwords derive from the stack password, not infra's.
    cart = capture.outputs["redisUsers"][0]["cart"]["password"]
    assert cart == cluster.outputs["redisUsers"][0]["cart"]["password"]


def test_a_rotation_of_infras_password_is_checked() -> None:
    from components.redis_config import RedisConfig

    with pytest.raises(ValidationError, match="generation 1 has no password before it"):
        RedisConfig.model_validate({**DISABLED, "admin": {"rotation": "accept"}})
    with pytest.raises(ValidationError, match="only defaultUser: disabled has"):
        RedisConfig.model_validate({"admin": {"generation": 2}})
