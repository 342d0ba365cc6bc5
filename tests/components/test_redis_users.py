"""Application users (`redis.users`): the model, the ACL lines, and what the
cluster component uploads and exports (under Pulumi's mocks)."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from components.redis_config import RedisConfig
from components.redis_users import RedisUser, acl_line, user_password
from tests.support.capture import Capture, is_secret, run_program

PASSWORD = "test-password-0123456789"
USERS = [
    {"name": "cart", "keys": ["cart:*", "session:*"]},
    {"name": "reports", "preset": "readonly"},
    {"name": "exporter", "preset": "monitoring"},
    {"name": "ops", "preset": "admin"},
    {"name": "events", "rules": ["+@read +subscribe", "~events:* &events:*"]},
]


@pytest.fixture(scope="module")
def capture() -> Capture:
    return run_program("unit", {"redis": {"users": USERS}}, {"redisPassword": PASSWORD})


def conf_users(capture: Capture, node: int) -> dict[str, str]:
    content = capture.named(f"redis-node-{node}").spec["uploads"][0]["content"]
    users = [line.split(" ", 2)[1:] for line in content.splitlines() if line.startswith("user ")]
    return {name: rest for name, rest in users}


def test_every_node_gets_the_same_users_with_hashed_passwords(capture: Capture) -> None:
    first = conf_users(capture, 0)
    assert list(first) == ["cart", "reports", "exporter", "ops", "events"]
    assert all(conf_users(capture, i) == first for i in range(6))
    for name, rest in first.items():
        password = user_password(PASSWORD, name)
        assert password not in rest
        assert rest.startswith(f"on #{hashlib.sha256(password.encode()).hexdigest()} ")


def test_presets_limit_commands_and_keys(capture: Capture) -> None:
    users = conf_users(capture, 3)
    assert "~cart:* ~session:*" in users["cart"] and "-@dangerous" in users["cart"]
    assert "+@write" in users["cart"] and "+cluster|slots" in users["cart"]
    assert "+@write" not in users["reports"] and users["reports"].endswith("~*")
    assert "~" not in users["exporter"] and "+info" in users["exporter"]
    assert "config" not in users["exporter"]  # CONFIG GET answers requirepass in clear
    assert users["ops"].endswith("allkeys allchannels +@all")
    assert users["events"].endswith("resetchannels +@read +subscribe ~events:* &events:*")


def test_one_secret_connection_output_per_user(capture: Capture) -> None:
    users, secret = capture.outputs["redisUsers"]
    assert secret
    cart = users["cart"]
    assert cart == {
        "username": "cart",
        "password": user_password(PASSWORD, "cart"),
        "preset": "readwrite",
        "keys": ["cart:*", "session:*"],
        "url": f"redis://cart:{user_password(PASSWORD, 'cart')}@172.28.0.10:6379",
        "generation": 1,
    }
    assert users["exporter"]["keys"] == [] and users["events"]["preset"] == "rules"


def test_passwords_differ_per_user_and_stack_and_are_stable() -> None:
    assert user_password(PASSWORD, "a") == user_password(PASSWORD, "a")
    assert user_password(PASSWORD, "a") != user_password(PASSWORD, "b")
    assert user_password(PASSWORD, "a") != user_password(PASSWORD + "x", "a")
    assert len(user_password(PASSWORD, "a")) == 43


def test_no_users_leaves_the_node_config_as_before() -> None:
    """Stacks without users: not one line changes, so `up` replaces no node."""
    capture = run_program("unit", {"redis": {}}, {"redisPassword": PASSWORD})
    content = capture.named("redis-node-0").spec["uploads"][0]["content"]
    assert content.rstrip("\n").splitlines()[-1] == f"masterauth {PASSWORD}"
    assert capture.outputs["redisUsers"] == ({}, True)
    assert is_secret(capture.named("redis-node-0").inputs["uploads"])


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"name": "default"}, "Redis' own user"),
        ({"name": "App"}, "not a user name"),
        ({"name": "a", "preset": "superuser"}, "Input should be"),
        ({"name": "a", "keys": ["has space"]}, "without spaces"),
        ({"name": "a", "rules": ["+@all >secret"]}, "passwords"),
        ({"name": "a", "rules": ["nopass"]}, "passwords"),
        ({"name": "a", "rules": ["on +get"]}, "on/off"),
        ({"name": "a", "rules": [" "]}, "empty"),
        ({"name": "a", "preset": "readonly", "rules": ["+get"]}, "not both"),
        ({"name": "a", "rules": ["+get"], "keys": ["x*"]}, "~pattern"),
        ({"name": "a", "preset": "monitoring", "keys": ["x*"]}, "reads no key"),
        ({"name": "a", "keepPrevious": True}, "generation 1 has none before it"),
        ({"name": "a", "generation": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_users_are_refused_naming_the_fix(user: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RedisUser.model_validate(user)


def test_a_user_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="cart listed twice"):
        RedisConfig.model_validate({"users": [{"name": "cart"}, {"name": "cart"}]})


def test_sentinel_mode_puts_users_on_the_nodes_and_discovery_users_on_the_sentinels() -> None:
    redis = {"mode": "sentinel", "users": USERS[:2]}
    capture = run_program("unit", {"redis": redis}, {"redisPassword": PASSWORD})
    node = capture.named("redis-node-2-1").spec["uploads"][0]["content"]
    assert acl_line(RedisUser.model_validate(USERS[0]), PASSWORD) in node.splitlines()
    sentinel = capture.named("redis-sentinel-1").spec["uploads"][0]["content"]
    line = next(x for x in sentinel.splitlines() if x.startswith("user cart "))
    assert "+sentinel|get-master-addr-by-name" in line and "-@all" in line
    assert "+sentinel|reset" not in line and "+sentinel|set" not in line
    assert user_password(PASSWORD, "cart") not in sentinel
    users, secret = capture.outputs["redisUsers"]
    assert secret
    url = users["cart"]["url"]
    assert url.startswith(f"redis-sentinel://cart:{user_password(PASSWORD, 'cart')}@")
    assert url.endswith(":26379,172.28.0.91:26379,172.28.0.92:26379")


def test_acl_line_shape() -> None:
    line = acl_line(RedisUser(name="cart", keys=["cart:*"]), PASSWORD)
    name, state, hashed, *rules = line.split()[1:]
    assert (name, state) == ("cart", "on") and len(hashed) == 65
    assert rules[0] == "resetchannels" and rules[-1] == "~cart:*"


def test_validate_names_the_users() -> None:
    from stacks.registry import REGISTRY

    config = RedisConfig.model_validate({"users": USERS[:2]})
    described = REGISTRY.entry("redis").describe(config)
    assert described == "redis cluster 3x(1+1), users: cart (readwrite), reports (readonly)"


def test_a_rotation_accepts_both_passwords_then_only_the_new_one() -> None:
    first = user_password(PASSWORD, "cart")
    second = user_password(PASSWORD, "cart", 2)
    assert second != first and user_password(PASSWORD, "cart", 1) == first

    def hashes(user: RedisUser) -> list[str]:
        return [t[1:] for t in acl_line(user, PASSWORD).split() if t.startswith("#")]

    def sha(password: str) -> str:
        return hashlib.sha256(password.encode()).hexdigest()

    during = RedisUser(name="cart", generation=2, keep_previous=True)
    after = RedisUser(name="cart", generation=2)
    assert hashes(during) == [sha(second), sha(first)]
    assert hashes(after) == [sha(second)]


def test_the_output_publishes_the_current_generation() -> None:
    users = [{"name": "cart", "generation": 3, "keepPrevious": True}]
    capture = run_program("unit", {"redis": {"users": users}}, {"redisPassword": PASSWORD})
    cart = capture.outputs["redisUsers"][0]["cart"]
    assert cart["password"] == user_password(PASSWORD, "cart", 3)
    assert cart["generation"] == 3
    conf = capture.named("redis-node-0").spec["uploads"][0]["content"]
    line = next(x for x in conf.splitlines() if x.startswith("user cart "))
    assert line.count(" #") == 2
