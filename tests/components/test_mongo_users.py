"""`mongo.users`: the Redis users' model mapped to MongoDB's built-in roles,
what the init container is given to create them, and one secret connection
output per user (Pulumi's mocks).

WIRING ONLY: no mongod exists here. What the init script sends for these
users is tested against a simulated server in test_mongo_users_init.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError
from pymongo import uri_parser

from components.mongo_config import MongoConfig, MongoUser
from components.redis_users import user_password
from stacks.registry import REGISTRY
from tests.support.capture import Capture, is_secret, run_program

PASSWORD = "mongo-root-password-0123456789"
KEY = base64.b64encode(bytes(range(256)) * 3).decode()
SECRETS = {"mongoRootPassword": PASSWORD, "mongoKeyFile": KEY}
USERS = [
    {"name": "cart"},
    {"name": "reports", "preset": "readonly", "databases": ["cart", "orders"]},
    {"name": "exporter", "preset": "monitoring"},
    {"name": "ops", "preset": "admin", "generation": 2},
]
USERS_FILE = "/run/secrets/mongo-users.json"


def program(**mongo: Any) -> Capture:
    config = {"redis": {"enabled": False}, "mongo": {"enabled": True, **mongo}}
    return run_program("unit", config, SECRETS)


@pytest.fixture(scope="module")
def capture() -> Capture:
    return program(users=USERS)


def init_envs(capture: Capture) -> dict[str, str]:
    return dict(e.split("=", 1) for e in capture.named("mongo-init").spec["envs"])


@pytest.mark.parametrize(
    ("user", "roles"),
    [
        ({"name": "cart"}, [{"role": "readWrite", "db": "cart"}]),
        (
            {"name": "cart", "databases": ["a", "b"]},
            [{"role": "readWrite", "db": "a"}, {"role": "readWrite", "db": "b"}],
        ),
        ({"name": "bi", "preset": "readonly", "databases": ["a"]}, [{"role": "read", "db": "a"}]),
        ({"name": "exp", "preset": "monitoring"}, [{"role": "clusterMonitor", "db": "admin"}]),
        ({"name": "ops", "preset": "admin"}, [{"role": "root", "db": "admin"}]),
    ],
)
def test_presets_map_to_mongodb_built_in_roles(user: dict, roles: list[dict[str, str]]) -> None:
    assert MongoUser.model_validate(user).roles() == roles


def test_defaults() -> None:
    user = MongoUser(name="cart")
    assert (user.preset, user.generation, user.keep_previous) == ("readwrite", 1, False)
    assert user.target_databases == ["cart"]  # a database named like the user
    assert MongoUser(name="exp", preset="monitoring").target_databases == []


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"name": "Cart"}, "not a user name"),
        ({"name": "a.b"}, "not a user name"),
        ({"name": "a", "preset": "superuser"}, "Input should be"),
        ({"name": "a", "databases": ["has space"]}, "a database name is 1-63"),
        ({"name": "a", "databases": ["admin"]}, "not application data"),
        ({"name": "a", "databases": ["local"]}, "not application data"),
        ({"name": "a", "databases": []}, "at least 1 item"),
        ({"name": "a", "preset": "monitoring", "databases": ["x"]}, "remove databases"),
        ({"name": "a", "preset": "admin", "databases": ["x"]}, "applies to the whole set"),
        ({"name": "a", "generation": 0}, "greater than or equal to 1"),
        ({"name": "a", "keepPrevious": True}, "one password per user"),
        ({"name": "a", "generation": 2, "keepPrevious": True}, "second user .add app-v2"),
        ({"name": "a", "keys": ["x*"]}, "Extra inputs are not permitted"),
    ],
)
def test_bad_users_are_refused_naming_the_fix(user: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MongoUser.model_validate(user)


def test_a_user_listed_twice_or_named_like_root_is_refused() -> None:
    with pytest.raises(ValidationError, match="cart listed twice"):
        MongoConfig.model_validate({"users": [{"name": "cart"}, {"name": "cart"}]})
    with pytest.raises(ValidationError, match=r"'root' is mongo\.rootUser"):
        MongoConfig.model_validate({"users": [{"name": "root"}]})


def test_the_init_container_gets_names_and_roles_in_its_spec(capture: Capture) -> None:
    envs = init_envs(capture)
    rs = json.loads(envs["RS_SPEC"])
    assert rs["users"] == [
        {"name": "cart", "roles": [{"role": "readWrite", "db": "cart"}]},
        {
            "name": "reports",
            "roles": [{"role": "read", "db": "cart"}, {"role": "read", "db": "orders"}],
        },
        {"name": "exporter", "roles": [{"role": "clusterMonitor", "db": "admin"}]},
        {"name": "ops", "roles": [{"role": "root", "db": "admin"}]},
    ]
    assert envs["USERS_FILE"] == USERS_FILE


def test_passwords_reach_the_init_container_only_as_a_secret_file(capture: Capture) -> None:
    init = capture.named("mongo-init")
    assert is_secret(init.inputs["uploads"])
    upload = next(u for u in init.spec["uploads"] if u["file"] == USERS_FILE)
    assert upload["permissions"] == "0400"
    passwords = json.loads(upload["content"])
    assert passwords == {
        "cart": user_password(PASSWORD, "cart"),
        "reports": user_password(PASSWORD, "reports"),
        "exporter": user_password(PASSWORD, "exporter"),
        "ops": user_password(PASSWORD, "ops", 2),
    }
    for res in capture.containers():
        visible = json.dumps({k: v for k, v in res.spec.items() if k != "uploads"})
        for password in passwords.values():
            assert password not in visible, res.name
    members = [r for r in capture.containers() if r.name.startswith("mongo-member-")]
    assert all(USERS_FILE not in json.dumps(r.spec) for r in members)


def test_one_secret_connection_output_per_user(capture: Capture) -> None:
    users, secret = capture.outputs["mongoUsers"]
    assert secret and list(users) == ["cart", "reports", "exporter", "ops"]
    cart = users["cart"]
    assert cart["password"] == user_password(PASSWORD, "cart")
    assert (cart["preset"], cart["generation"], cart["databases"]) == ("readwrite", 1, ["cart"])
    parsed = uri_parser.parse_uri(cart["url"])
    assert (parsed["username"], parsed["password"]) == ("cart", cart["password"])
    assert parsed["database"] == "cart"
    assert parsed["nodelist"] == [(f"infra-unit-mongo-{i}", 27017 + i) for i in range(3)]
    assert parsed["options"]["authSource"] == "admin"
    assert parsed["options"]["replicaSet"] == "rs0"
    assert uri_parser.parse_uri(users["reports"]["url"])["database"] == "cart"
    assert uri_parser.parse_uri(users["exporter"]["url"])["database"] is None
    assert users["ops"]["password"] == user_password(PASSWORD, "ops", 2)
    assert users["ops"]["roles"] == [{"role": "root", "db": "admin"}]


def test_passwords_differ_per_user_generation_and_from_the_redis_scheme_key() -> None:
    assert user_password(PASSWORD, "cart") != user_password(PASSWORD, "cart", 2)
    assert user_password(PASSWORD, "cart") != user_password(PASSWORD, "reports")
    assert user_password(PASSWORD, "cart") != user_password("redis-password-0123456789", "cart")


def test_no_users_leaves_the_init_container_as_before() -> None:
    plain = program()
    envs = init_envs(plain)
    assert "users" not in json.loads(envs["RS_SPEC"]) and "USERS_FILE" not in envs
    assert all(u["file"] != USERS_FILE for u in plain.named("mongo-init").spec["uploads"])
    assert plain.outputs["mongoUsers"] == ({}, True)


def test_a_new_generation_changes_only_the_password_file_and_output() -> None:
    before = program(users=[{"name": "cart"}])
    after = program(users=[{"name": "cart", "generation": 2}])
    assert init_envs(before) == init_envs(after)
    assert (
        before.outputs["mongoUsers"][0]["cart"]["password"]
        != (after.outputs["mongoUsers"][0]["cart"]["password"])
    )
    members = [f"mongo-member-{i}" for i in range(3)]
    assert [before.named(m).inputs for m in members] == [after.named(m).inputs for m in members]


def test_validate_describes_users_and_tls() -> None:
    describe = REGISTRY.entry("mongo").describe
    config = MongoConfig.model_validate(
        {"enabled": True, "tls": {"enabled": True}, "users": USERS[:3]}
    )
    assert describe(config) == (
        "mongo replica set of 3 over TLS, users: cart (readwrite), reports (readonly), "
        "exporter (monitoring)"
    )
    assert describe(MongoConfig(enabled=True)) == "mongo replica set of 3"
