"""MongoReplicaSet under Pulumi's mocks: exactly what the docker provider would get."""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
from typing import Any

import pulumi
import pytest
from pymongo import uri_parser

from components import mongo_replicaset as mrs
from components.docker_node import Site
from components.mongo_config import MongoConfig
from tests.support.capture import Capture, Resource, is_secret, run_program

PASSWORD = "mongo-root-password-0123456789"
KEY = base64.b64encode(bytes(range(256)) * 3).decode()  # 768 bytes -> 1024 characters
SECRETS = {"mongoRootPassword": PASSWORD, "mongoKeyFile": KEY}
NO_REDIS = {"redis": {"enabled": False}}


def program(**mongo: Any) -> Capture:
    return run_program("unit", {**NO_REDIS, "mongo": {"enabled": True, **mongo}}, SECRETS)


@pytest.fixture(scope="module")
def capture() -> Capture:
    return program()


def members(capture: Capture) -> list[Resource]:
    found = [r for r in capture.containers() if r.name.startswith("mongo-member-")]
    return sorted(found, key=lambda r: r.name)


def member_script(res: Resource) -> str:
    command = res.spec["command"]
    assert command[:2] == ["sh", "-c"]
    return str(command[2])


def test_component_and_children(capture: Capture) -> None:
    component = capture.named("mongo")
    assert component.type == "infra:mongo:ReplicaSet" and not component.custom
    children = {r.name for r in capture.resources if r.parent == "mongo"}
    assert children == (
        {"mongo-image", "mongo-init"}
        | {f"mongo-member-{i}" for i in range(3)}
        | {f"mongo-data-{i}" for i in range(3)}
    )
    assert capture.outputs["components"] == (["mongo"], False)


def test_members_have_stable_names_aliases_addresses_and_ports(capture: Capture) -> None:
    specs = [r.spec for r in members(capture)]
    names = [f"infra-unit-mongo-{i}" for i in range(3)]
    assert [s["name"] for s in specs] == names
    assert [s["hostname"] for s in specs] == names
    nets = [s["networksAdvanced"][0] for s in specs]
    assert [n["aliases"] for n in nets] == [[n] for n in names]
    assert [n["ipv4Address"] for n in nets] == ["172.28.0.100", "172.28.0.101", "172.28.0.102"]
    assert all(n["name"] == "infra-unit" for n in nets)
    assert [s["ports"] for s in specs] == [
        [{"internal": 27017 + i, "external": 27017 + i, "ip": "127.0.0.1"}] for i in range(3)
    ]
    assert all(r.delete_before_replace for r in members(capture))


def test_member_runtime_settings(capture: Capture) -> None:
    spec = capture.named("mongo-member-1").spec
    assert spec["image"] == "mongo:8.0.4"
    assert spec["restart"] == "unless-stopped"
    assert spec["memory"] == 1024
    assert spec["mustRun"] is True and spec["wait"] is True
    assert spec["volumes"] == [
        {"volumeName": "infra-unit-mongo-1-data", "containerPath": "/data/db"}
    ]
    assert capture.named("mongo-data-1").spec["name"] == "infra-unit-mongo-1-data"
    assert spec["healthcheck"]["tests"] == [
        "CMD-SHELL",
        "bash /usr/local/lib/infra/mongo-ping.sh 27018",
    ]
    assert "envs" not in spec  # no MONGO_INITDB_*: the image's first-start init never runs
    assert {"label": "infra.role", "value": "mongo-member"} in spec["labels"]


def test_mongod_gets_the_keyfile_with_owner_and_mode_then_the_replica_set_flags(
    capture: Capture,
) -> None:
    script = member_script(capture.named("mongo-member-2"))
    *copy_steps, launch = script.split(" && ")
    assert copy_steps == [
        "cp /run/secrets/mongo-keyfile /etc/mongo-keyfile",
        "chown mongodb:mongodb /etc/mongo-keyfile",
        "chmod 0400 /etc/mongo-keyfile",
    ]
    assert launch.startswith("exec ")
    launch = launch.removeprefix("exec ")
    assert shlex.split(launch) == [
        "docker-entrypoint.sh",
        "mongod",
        "--replSet",
        "rs0",
        "--keyFile",
        "/etc/mongo-keyfile",
        "--bind_ip_all",
        "--port",
        "27019",
        "--wiredTigerCacheSizeGB",
        "0.25",
    ]


def test_every_shell_command_the_containers_run_is_valid_sh(capture: Capture) -> None:
    scripts = [member_script(r) for r in members(capture)]
    scripts += [t["healthcheck"]["tests"][1] for t in (r.spec for r in capture.containers())]
    scripts.append(capture.named("mongo-init").spec["command"][2])
    for script in scripts:
        done = subprocess.run(
            ["sh", "-n", "-c", script], capture_output=True, text=True, timeout=10
        )
        assert done.returncode == 0, f"{script!r}: {done.stderr}"


def test_keyfile_and_password_only_travel_as_secrets(capture: Capture) -> None:
    for res in capture.containers():
        assert is_secret(res.inputs["uploads"]), res.name
        rest = {k: v for k, v in res.inputs.items() if k != "uploads"}
        assert PASSWORD not in repr(rest) and KEY not in repr(rest), res.name
    upload = capture.named("mongo-member-0").spec["uploads"]
    assert upload[0] == {
        "file": "/run/secrets/mongo-keyfile",
        "content": KEY + "\n",
        "permissions": "0400",
    }
    assert [u["file"] for u in upload] == [
        "/run/secrets/mongo-keyfile",
        "/usr/local/lib/infra/mongo-ping.sh",
    ]


def test_init_container_waits_for_every_member_and_carries_the_desired_set(
    capture: Capture,
) -> None:
    init = capture.named("mongo-init")
    assert {f"mongo-member-{i}" for i in range(3)} <= set(init.dependencies)
    assert init.delete_before_replace
    spec = init.spec
    assert spec["name"] == "infra-unit-mongo-init"
    assert spec["networksAdvanced"][0]["ipv4Address"] == "172.28.0.99"
    assert spec["command"] == [
        "sh",
        "-c",
        "exec mongosh --nodb --quiet --norc /usr/local/lib/infra/mongo-rs-init.js",
    ]
    assert spec["wait"] is True and spec["waitTimeout"] == 300
    envs = dict(e.split("=", 1) for e in spec["envs"])
    rs = json.loads(envs["RS_SPEC"])
    assert rs["setName"] == "rs0" and (rs["rootUser"], rs["authSource"]) == ("root", "admin")
    assert [m["host"] for m in rs["members"]] == [
        f"infra-unit-mongo-{i}:{27017 + i}" for i in range(3)
    ]
    assert [m["priority"] for m in rs["members"]] == [2.0, 1.0, 1.0]
    files = {u["file"]: u for u in spec["uploads"]}
    assert files[envs["KEYFILE"]] == {
        "file": "/run/secrets/mongo-keyfile",
        "content": KEY + "\n",
        "permissions": "0400",
    }
    assert files[envs["ROOT_PASSWORD_FILE"]]["content"] == PASSWORD
    assert files[envs["ROOT_PASSWORD_FILE"]]["permissions"] == "0400"
    assert files[envs["PLAN_JS"]]["content"] == mrs.dn.script_text("mongo-rs-plan.js")
    assert files["/usr/local/lib/infra/mongo-rs-init.js"]["content"] == mrs.dn.script_text(
        "mongo-rs-init.js"
    )
    assert envs["HEALTH_FILE"] in spec["healthcheck"]["tests"][1]


def test_connection_strings_parse_as_mongodb_uris(capture: Capture) -> None:
    url, secret = capture.outputs["mongoUrl"]
    assert secret
    parsed = uri_parser.parse_uri(url)
    assert parsed["nodelist"] == [(f"infra-unit-mongo-{i}", 27017 + i) for i in range(3)]
    assert (parsed["username"], parsed["password"]) == ("root", PASSWORD)
    assert parsed["options"]["replicaSet"] == "rs0"
    assert parsed["options"]["authSource"] == "admin"
    assert parsed["options"]["readPreference"] == "primary"
    assert capture.outputs["mongoHostUrl"] == (url, True)  # 1:1 ports + /etc/hosts entry
    direct, secret = capture.outputs["mongoHostDirectUrl"]
    parsed = uri_parser.parse_uri(direct)
    assert secret and parsed["nodelist"] == [("127.0.0.1", 27017)]
    assert parsed["options"]["directConnection"] is True
    assert capture.outputs["mongoHostsEntry"] == (
        "127.0.0.1 infra-unit-mongo-0 infra-unit-mongo-1 infra-unit-mongo-2",
        False,
    )
    assert capture.outputs["mongoRootPassword"] == (PASSWORD, True)
    member_list, _ = capture.outputs["mongoMembers"]
    assert member_list[0] == {
        "name": "infra-unit-mongo-0",
        "host": "infra-unit-mongo-0:27017",
        "ip": "172.28.0.100",
        "hostPort": 27017,
        "priority": 2.0,
        "votes": 1,
        "hidden": False,
        "secondaryDelaySecs": 0,
        "arbiterOnly": False,
    }


def test_a_second_run_registers_identical_inputs(capture: Capture) -> None:
    def inputs(c: Capture) -> list[tuple[str, str, str]]:
        return sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in c.resources)

    assert inputs(program()) == inputs(capture)


def test_arbiter_hidden_member_and_options_follow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    capture = program(
        members=4,
        memberSettings=[{}, {"priority": 3}, {}, {"hidden": True}],
        arbiter=True,
        memoryMb=4096,
        readPreference="secondaryPreferred",
        replicaSet="app",
        portBase=28000,
    )
    arbiter = capture.named("mongo-arbiter").spec
    assert arbiter["name"] == "infra-unit-mongo-arbiter"
    assert arbiter["networksAdvanced"][0]["ipv4Address"] == "172.28.0.160"
    assert arbiter["memory"] == 512
    assert {"label": "infra.role", "value": "mongo-arbiter"} in arbiter["labels"]
    assert "--port 28050 --wiredTigerCacheSizeGB 0.25" in member_script(
        capture.named("mongo-arbiter")
    )
    assert capture.named("mongo-data-arbiter").spec["name"] == "infra-unit-mongo-arbiter-data"
    assert "--wiredTigerCacheSizeGB 1.5" in member_script(capture.named("mongo-member-0"))
    assert "mongo-arbiter" in capture.named("mongo-init").dependencies
    rs = json.loads(
        dict(e.split("=", 1) for e in capture.named("mongo-init").spec["envs"])["RS_SPEC"]
    )
    assert rs["setName"] == "app"
    assert [(m["priority"], m["votes"], m["hidden"], m["arbiterOnly"]) for m in rs["members"]] == [
        (2.0, 1, False, False),
        (3.0, 1, False, False),
        (1.0, 1, False, False),
        (0.0, 1, True, False),
        (0, 1, False, True),
    ]
    parsed = uri_parser.parse_uri(capture.outputs["mongoUrl"][0])
    # the hidden member and the arbiter serve no clients: not in the seed list
    assert parsed["nodelist"] == [(f"infra-unit-mongo-{i}", 28000 + i) for i in range(3)]
    assert parsed["options"]["readPreference"] == "secondaryPreferred"
    direct = uri_parser.parse_uri(capture.outputs["mongoHostDirectUrl"][0])
    assert direct["nodelist"] == [("127.0.0.1", 28001)]  # the highest priority member
    assert len(warnings) == 1 and "advises against arbiters" in warnings[0]


def test_unpublished_members_have_no_host_ports_or_host_urls() -> None:
    capture = program(publish=False)
    assert all(r.spec.get("ports", []) == [] for r in members(capture))
    assert capture.outputs["mongoHostUrl"] == (None, True)
    assert capture.outputs["mongoHostDirectUrl"] == (None, True)
    assert capture.outputs["mongoMembers"][0][0]["hostPort"] is None


def test_mongo_disabled_creates_nothing() -> None:
    capture = run_program("unit", {**NO_REDIS, "mongo": {"enabled": False}}, {})
    assert capture.resources == []


@pytest.mark.parametrize("missing", ["mongoRootPassword", "mongoKeyFile"])
def test_missing_secret_is_a_clear_error(missing: str) -> None:
    secrets = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(pulumi.RunError, match=f"infra:{missing} is not set"):
        run_program("unit", {**NO_REDIS, "mongo": {"enabled": True}}, secrets)


def test_arbiter_never_takes_the_address_or_port_of_a_data_member() -> None:
    """3 members -> 2 + arbiter: Pulumi creates the arbiter before it deletes
    member 2, so the arbiter must not reuse member 2's address or host port."""
    three = program(members=3)
    psa = program(members=2, arbiter=True)
    member2 = three.named("mongo-member-2").spec
    arbiter = psa.named("mongo-arbiter").spec
    ip = arbiter["networksAdvanced"][0]["ipv4Address"]
    assert ip != member2["networksAdvanced"][0]["ipv4Address"]
    assert arbiter["ports"][0]["external"] != member2["ports"][0]["external"]
    five_psa = program(members=4, arbiter=True)
    assert five_psa.named("mongo-arbiter").spec["networksAdvanced"][0]["ipv4Address"] == ip
    assert five_psa.named("mongo-arbiter").spec["ports"] == arbiter["ports"]
    assert arbiter["ports"][0]["external"] == 27017 + mrs.ARBITER_PORT_OFFSET


def test_keyfile_check_is_exactly_mongods_rule() -> None:
    """6-1024 base64-alphabet characters, whitespace ignored, padding optional."""
    assert mrs.check_key_file("abcdefg") == "abcdefg\n"  # 7 characters: no valid padding
    assert mrs.check_key_file("abc+/=xyz") == "abc+/=xyz\n"
    with pytest.raises(ValueError, match="6-1024"):
        mrs.check_key_file("abcde")
    with pytest.raises(ValueError, match="only hold base64 characters"):
        mrs.check_key_file("abc-def_ghi")


def test_a_keyfile_mongod_would_refuse_fails_the_run() -> None:
    with pytest.raises(ValueError, match="only hold base64 characters"):
        run_program(
            "unit",
            {**NO_REDIS, "mongo": {"enabled": True}},
            {**SECRETS, "mongoKeyFile": "not base64!"},
        )
    assert mrs.check_key_file("c2VjcmV0\n c2VjcmV0\n") == "c2VjcmV0c2VjcmV0\n"
    with pytest.raises(ValueError, match="6-1024"):
        mrs.check_key_file("A" * 1028)


@pytest.mark.parametrize(
    ("memory_mb", "cache_gb"), [(512, 0.25), (1024, 0.25), (1536, 0.25), (2048, 0.5), (9216, 4.0)]
)
def test_wiredtiger_cache_is_half_of_the_limit_minus_1gb(memory_mb: int, cache_gb: float) -> None:
    assert mrs.cache_size_gb(memory_mb) == cache_gb


def test_special_characters_in_credentials_are_escaped() -> None:
    # The config refuses '@' in user names; the URL must escape it all the same.
    config = MongoConfig(enabled=True).model_copy(update={"root_user": "ad@min"})
    layout = mrs.Layout.of(config, Site("n", "p", "127.0.0.1", {}, lambda role, n: []))
    url = mrs.connection_url(layout, "p@ss:w/rd%", ["h:1"], replicaSet="rs0")
    parsed = uri_parser.parse_uri(url)
    assert (parsed["username"], parsed["password"]) == ("ad@min", "p@ss:w/rd%")


ROLLING_HOOKS = {"before_delete": ["mongo-before-delete"], "after_create": ["mongo-after-create"]}


def test_members_roll_through_hooks_and_the_init_container_does_not(capture: Capture) -> None:
    """Rolling replacement (components/rolling.py, components/mongo_handover.py):
    every member container carries the component's hand-over and rejoin hooks;
    the init container (no data, no vote) none."""
    assert {r.name: r.hooks for r in members(capture)} == {
        f"mongo-member-{i}": ROLLING_HOOKS for i in range(3)
    }
    assert capture.named("mongo-init").hooks == {}


def test_the_arbiter_takes_a_turn_like_the_members() -> None:
    """In a primary-secondary-arbiter set the arbiter is one vote of three:
    replaced together with a data member, no primary is left."""
    capture = program(members=2, arbiter=True)
    assert capture.named("mongo-arbiter").hooks == ROLLING_HOOKS
    assert [r.hooks for r in members(capture)] == [ROLLING_HOOKS] * 2
    assert capture.named("mongo-init").hooks == {}


def test_all_at_once_rollout_binds_no_hooks() -> None:
    capture = program(rollout="all-at-once", members=2, arbiter=True)
    assert [r.hooks for r in capture.containers()] == [{}] * 4


def test_an_unknown_rollout_is_refused() -> None:
    with pytest.raises(ValueError, match="'rolling' or 'all-at-once'"):
        MongoConfig(enabled=True, rollout="sometimes")  # type: ignore[arg-type]


def test_the_hooks_reach_every_member_on_its_published_port_by_its_set_name() -> None:
    delayed = {"hidden": True, "secondaryDelaySecs": 600}
    settings = [{}, {"priority": 0}, {}, {"hidden": True}, delayed]
    config = MongoConfig.model_validate(
        {"enabled": True, "members": 5, "arbiter": True, "memberSettings": settings}
    )
    site = Site("n", "infra-unit-mongo", "0.0.0.0", {}, lambda role, n: ["10.0.0.1"] * n)
    handover = mrs.handover_members("mongo", mrs.Layout.of(config, site))
    resources = [*(f"mongo-member-{i}" for i in range(5)), "mongo-arbiter"]
    assert list(handover.endpoints) == resources
    assert list(handover.endpoints.values()) == [
        *(("127.0.0.1", 27017 + i) for i in range(5)),
        ("127.0.0.1", 27067),
    ]
    hosts = [f"infra-unit-mongo-{i}:{27017 + i}" for i in range(5)]
    hosts.append("infra-unit-mongo-arbiter:27067")
    assert list(handover.hosts.values()) == hosts
    assert (handover.user, handover.auth_source) == ("root", "admin")
    assert list(handover.arbiters) == ["mongo-arbiter"]
    assert list(handover.electable) == [hosts[0], hosts[2]]  # priority 0: 1, hidden 3 and 4
    assert handover.delays == {hosts[4]: 600}
    options = handover.client_options("mongo-member-2")
    assert (options["host"], options["port"], options["directConnection"]) == (
        "127.0.0.1",
        27019,
        True,
    )
