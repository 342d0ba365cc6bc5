"""The application users (`mongo.users`) and TLS in the init container's
scripts: `planUsers`/`userCommand` of mongo-rs-plan.js run by Node.js, and
mongo-rs-init.js end to end against the SIMULATED replica set
(fixtures/mongo/fake-mongosh.js). What a real mongod does with createUser,
updateUser, dropUser and usersInfo is verified against MongoDB's docs only.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.mongo_config import MongoUser
from tests.components.test_mongo_rs_plan import (
    KEYFILE,
    SIM_PASSWORD,
    changes,
    desired,
    fresh,
    host,
    js,
    run_init,
)

USERS_FILE = "/run/secrets/mongo-users.json"
BOUND = {"writeConcern": {"w": "majority", "wtimeout": 30000}, "maxTimeMS": 30000}
INFRA = {"managedBy": "infra"}


def users_spec(*users: MongoUser) -> list[dict[str, Any]]:
    return [{"name": u.name, "roles": u.roles()} for u in users]


CART = MongoUser(name="cart")
REPORTS = MongoUser(name="reports", preset="readonly", databases=["cart"])
PASSWORDS = {"cart": "cart-password-generation-1", "reports": "reports-password-1"}


def with_users(*users: MongoUser) -> dict[str, Any]:
    spec = desired()
    spec["users"] = users_spec(*users)
    return spec


def run_with_users(
    spec: dict[str, Any], servers: dict[str, Any], passwords: dict[str, str] = PASSWORDS, **kw: Any
) -> dict[str, Any]:
    return run_init(
        spec,
        servers,
        extra_env={"USERS_FILE": USERS_FILE, **kw.pop("extra_env", {})},
        extra_files={USERS_FILE: json.dumps(passwords)},
        **kw,
    )


def info(*users: dict[str, Any]) -> dict[str, Any]:
    return {"users": list(users), "ok": 1}


def user(name: str, roles: list[dict[str, str]], managed: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": f"admin.{name}", "user": name, "db": "admin", "roles": roles}
    if managed:
        doc["customData"] = INFRA
    return doc


ROOT = user("root", [{"role": "root", "db": "admin"}], managed=False)


# --- planUsers / userCommand (pure) ---------------------------------------------------
def test_a_missing_user_is_created_and_a_matching_one_left_alone() -> None:
    wanted = users_spec(CART, REPORTS)
    steps = js("planUsers", info(ROOT, user("cart", CART.roles())), wanted, {"cart": True}, "root")
    assert steps == [
        {"action": "none", "user": "cart"},
        {"action": "create", "user": "reports", "roles": REPORTS.roles()},
    ]


@pytest.mark.parametrize(
    ("have", "login", "reason"),
    [
        (user("cart", CART.roles()), False, "its password is not the current generation's"),
        (user("cart", REPORTS.roles()), True, "its roles differ"),
        (user("cart", CART.roles(), managed=False), True, "it was not created by infra"),
    ],
)
def test_a_user_that_differs_is_updated_saying_why(
    have: dict[str, Any], login: bool, reason: str
) -> None:
    [step] = js("planUsers", info(ROOT, have), users_spec(CART), {"cart": login}, "root")
    assert step["action"] == "update" and step["roles"] == CART.roles()
    assert reason in step["reason"]


def test_only_users_infra_created_and_no_longer_lists_are_dropped() -> None:
    reply = info(
        ROOT,
        user("cart", CART.roles()),
        user("old-app", CART.roles()),
        user("hand-made", CART.roles(), managed=False),
        user("root", [{"role": "root", "db": "admin"}]),  # even if marked: never root
    )
    steps = js("planUsers", reply, users_spec(CART), {"cart": True}, "root")
    assert [s for s in steps if s["action"] == "drop"] == [
        {"action": "drop", "user": "old-app", "reason": "no longer in mongo.users"}
    ]


def test_no_users_reply_means_wait() -> None:
    unauthorized = {"ok": 0, "errmsg": "not authorized", "code": 13}
    assert js("planUsers", unauthorized, [], {}, "root")[0]["action"] == "wait"
    assert js("planUsers", info(ROOT), [], {}, "root") == []


def test_user_commands_are_bounded_and_mark_the_user_as_infras() -> None:
    create = {"action": "create", "user": "cart", "roles": CART.roles()}
    assert js("userCommand", create, "pw") == {
        "createUser": "cart",
        "pwd": "pw",
        "roles": [{"role": "readWrite", "db": "cart"}],
        "customData": INFRA,
        **BOUND,
    }
    update = {**create, "action": "update"}
    assert js("userCommand", update, "pw")["updateUser"] == "cart"
    assert js("userCommand", {"action": "drop", "user": "old"}, None) == {
        "dropUser": "old",
        **BOUND,
    }


# --- mongo-rs-init.js against the simulated set --------------------------------------
@pytest.fixture(scope="module")
def with_two() -> dict[str, Any]:
    spec = with_users(CART, REPORTS)
    return run_with_users(spec, fresh(spec))


def user_commands(result: dict[str, Any]) -> list[dict[str, Any]]:
    names = ("createUser", "updateUser", "dropUser")
    return [c for c in result["commands"] if c["name"] in names]


def test_the_init_script_creates_each_user_as_root_after_the_root_user(
    with_two: dict[str, Any],
) -> None:
    assert with_two["healthFile"]["healthy"] is True
    assert changes(with_two) == [
        ("replSetInitiate", host(0)),
        ("setDefaultRWConcern", host(0)),
        ("createUser", host(0)),  # root
        ("createUser", host(0)),
        ("createUser", host(0)),
    ]
    root, cart, reports = user_commands(with_two)
    assert root["cmd"]["createUser"] == "root" and root["cmd"]["pwd"] == SIM_PASSWORD
    assert (cart["user"], cart["db"]) == ("root", "admin")  # as root, never __system
    assert cart["cmd"] == {
        "createUser": "cart",
        "pwd": PASSWORDS["cart"],
        "roles": [{"role": "readWrite", "db": "cart"}],
        "customData": INFRA,
        **BOUND,
    }
    assert reports["cmd"]["roles"] == [{"role": "read", "db": "cart"}]
    assert KEYFILE not in with_two["files"]  # the key was dropped before the users
    users = next(iter(with_two["servers"].values()))["users"]["admin"]
    assert users["cart"]["pwd"] == PASSWORDS["cart"]
    assert "mongo-rs-init: user 'cart': created" in with_two["printed"]
    assert not any(PASSWORDS["cart"] in line for line in with_two["printed"])


def test_run_again_the_users_are_left_alone(with_two: dict[str, Any]) -> None:
    spec = with_users(CART, REPORTS)
    again = run_with_users(spec, with_two["servers"])
    assert changes(again) == []
    assert again["healthFile"]["healthy"] is True


def test_a_new_generation_updates_the_password(with_two: dict[str, Any]) -> None:
    spec = with_users(CART, REPORTS)
    rotated = {**PASSWORDS, "cart": "cart-password-generation-2"}
    result = run_with_users(spec, copy.deepcopy(with_two["servers"]), rotated)
    [update] = user_commands(result)
    assert update["cmd"]["updateUser"] == "cart"
    assert update["cmd"]["pwd"] == "cart-password-generation-2"
    assert any("password is not the current generation's" in line for line in result["printed"])


def test_a_user_removed_from_the_config_is_dropped_and_no_other(with_two: dict[str, Any]) -> None:
    servers = copy.deepcopy(with_two["servers"])
    shared = next(iter(servers.values()))["users"]
    shared["admin"]["by-hand"] = {"pwd": "x", "roles": [{"role": "read", "db": "x"}]}
    spec = with_users(CART)  # reports removed
    result = run_with_users(spec, servers)
    assert [(c["name"], c["cmd"].get("dropUser")) for c in user_commands(result)] == [
        ("dropUser", "reports")
    ]
    left = next(iter(result["servers"].values()))["users"]["admin"]
    assert sorted(left) == ["by-hand", "cart", "root"]


def test_a_missing_password_fails_the_init_container() -> None:
    spec = with_users(CART, REPORTS)
    result = run_with_users(spec, fresh(spec), {"cart": "only-cart"})
    assert result["exitCode"] == 1
    assert any("no password for user 'reports'" in line for line in result["printed"])


def test_with_tls_every_connection_verifies_the_members_with_the_ca() -> None:
    spec = with_users(CART)
    ca = "/etc/mongo-ca.pem"
    result = run_with_users(spec, fresh(spec), extra_env={"TLS_CA_FILE": ca})
    assert result["healthFile"]["healthy"] is True
    assert result["uris"]
    assert all(f"&tls=true&tlsCAFile={ca}" in uri for uri in result["uris"])
    plain = run_init(desired(), fresh(desired()))
    assert plain["uris"] and not any("tls=" in uri for uri in plain["uris"])
