"""mongo-rs-plan.js, the init container's decision logic, run by Node.js.

No MongoDB server can be installed on these machines, so the logic that decides
what to send to the server (replSetInitiate, one safe replSetReconfig step,
replSetStepDown, setDefaultRWConcern, createUser) is a pure function, tested
here against replies shaped like MongoDB's documented output (fixtures/mongo).
What the server then does with those commands is NOT exercised here.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.docker_node import Site
from components.mongo_config import MemberRole, MongoConfig
from components.mongo_replicaset import Layout, rs_spec

SCRIPTS = Path(__file__).resolve().parents[2] / "components" / "scripts"
PLAN_JS = SCRIPTS / "mongo-rs-plan.js"
FIXTURES = Path(__file__).parent / "fixtures" / "mongo"
NODE = shutil.which("node")

RUNNER = """
const api = require(process.argv[1]);
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const call = JSON.parse(input);
  process.stdout.write(JSON.stringify(api[call.fn](...call.args)));
});
"""


def js(fn: str, *args: Any) -> Any:
    assert NODE, "node (Node.js 20) is required: apt-get install nodejs"
    done = subprocess.run(
        [NODE, "-e", RUNNER, str(PLAN_JS)],
        input=json.dumps({"fn": fn, "args": args}),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(done.stdout)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def desired(count: int = 3, arbiter: bool = False, **roles: MemberRole) -> dict[str, Any]:
    members = [MemberRole(priority=2.0)] + [MemberRole() for _ in range(count - 1)]
    for index, role in roles.items():
        members[int(index.removeprefix("m"))] = role
    # The planner must handle any live set, including role mixes the config
    # model would refuse: the layout takes the roles as given.
    config = MongoConfig.model_construct(enabled=True, members=count, arbiter=arbiter)
    site = Site("net", "infra-test-mongo", "127.0.0.1", {}, lambda role, n: [])
    return rs_spec(Layout(config, site, tuple(members)))


def host(i: int) -> str:
    return f"infra-test-mongo-{i}:{27017 + i}"


def observed(
    spec: dict[str, Any],
    config: dict[str, Any] | None,
    status: dict[str, Any] | None,
    committed: bool | None = True,
) -> dict[str, Any]:
    """What the init script collects: every desired member's replSetGetConfig
    reply (members outside `config` have not been initiated), the status and
    the primary's replSetGetConfig {commitmentStatus: true} reply."""
    known = {m["host"] for m in config["config"]["members"]} if config else set()
    configs = {
        m["host"]: config if m["host"] in known else fixture("not-initialized")
        for m in spec["members"]
    }
    primary_config = None
    if config and committed is not None:
        primary_config = {**config, "commitmentStatus": committed}
    return {"configs": configs, "status": status, "primaryConfig": primary_config}


def status_for(config: dict[str, Any], primary: str) -> dict[str, Any]:
    """A replSetGetStatus reply for a settled set (shape of status-3.json)."""
    base = fixture("status-3")
    template = base["members"][1]
    members = []
    for m in config["config"]["members"]:
        state = "ARBITER" if m.get("arbiterOnly") else "SECONDARY"
        if m["host"] == primary:
            state = "PRIMARY"
        members.append({**template, "_id": m["_id"], "name": m["host"], "stateStr": state})
    return {**base, "members": members}


def voters(config: dict[str, Any]) -> set[int]:
    return {m["_id"] for m in config["members"] if m.get("votes", 1)}


def converge(
    spec: dict[str, Any], config: dict[str, Any], primary: str, limit: int = 12
) -> list[dict[str, Any]]:
    """Apply plan steps as a server would (install the config, move the primary
    off a demoted member) until the plan says `none`; return the steps."""
    steps: list[dict[str, Any]] = []
    for _ in range(limit):
        step = js("plan", spec, observed(spec, config, status_for(config, primary)))
        if step["action"] == "none":
            return steps
        steps.append(step)
        if step["action"] == "reconfig":
            before = config["config"]
            after = step["config"]
            assert len(voters(before) ^ voters(after)) <= 1, step["changes"]
            assert after["version"] == before["version"] + 1
            assert after["settings"] == before["settings"]  # replicaSetId etc. untouched
            config = {**config, "config": after}
        elif step["action"] == "stepDown":
            electable = [
                m["host"]
                for m in config["config"]["members"]
                if m["host"] != primary and m.get("priority", 1) > 0
            ]
            primary = electable[0]
        else:
            raise AssertionError(f"unexpected step {step}")
    raise AssertionError(f"no convergence after {limit} steps: {steps}")


@pytest.fixture(scope="module", autouse=True)
def node_available() -> None:
    if NODE is None:
        pytest.fail("node is not installed (the plan logic is tested with Node.js 20)")


def test_uninitiated_members_are_initiated_with_stable_hostnames() -> None:
    spec = desired()
    step = js("plan", spec, observed(spec, None, None))
    assert step["action"] == "initiate"
    assert step["on"] == host(0)
    assert step["config"] == {
        "_id": "rs0",
        "members": [
            {
                "_id": i,
                "host": host(i),
                "priority": 2 if i == 0 else 1,
                "votes": 1,
                "hidden": False,
                "secondaryDelaySecs": 0,
            }
            for i in range(3)
        ],
    }


def test_a_healthy_set_with_the_same_membership_needs_nothing() -> None:
    spec = desired()
    step = js("plan", spec, observed(spec, fixture("config-3"), fixture("status-3")))
    assert step["action"] == "none"


def test_just_after_initiate_it_waits_for_the_election() -> None:
    spec = desired()
    step = js("plan", spec, observed(spec, fixture("config-3"), fixture("status-electing"), None))
    assert step == {"action": "wait", "reason": "no primary yet (election in progress)"}


def test_an_uncommitted_previous_reconfig_is_waited_for() -> None:
    spec = desired(count=5)
    step = js("plan", spec, observed(spec, fixture("config-3"), fixture("status-3"), False))
    assert step["action"] == "wait" and "not committed" in step["reason"]


def test_initiating_waits_for_every_member() -> None:
    """replSetInitiate's quorum check needs every proposed member to answer."""
    spec = desired()
    obs = observed(spec, None, None)
    del obs["configs"][host(2)]
    step = js("plan", spec, obs)
    assert step["action"] == "wait"
    assert step["reason"] == f"no answer yet from {host(2)} (initiating needs every member)"
    obs["configs"][host(2)] = fixture("unauthorized")
    step = js("plan", spec, obs)
    assert step["action"] == "wait" and "requires authentication" in step["reason"]


def test_once_initiated_a_member_that_does_not_answer_is_not_waited_for() -> None:
    spec = desired()
    obs = observed(spec, fixture("config-3"), fixture("status-3"))
    del obs["configs"][host(2)]
    assert js("plan", spec, obs)["action"] == "none"
    obs["configs"][host(2)] = fixture("unauthorized")
    assert js("plan", spec, obs)["action"] == "none"


@pytest.mark.parametrize(
    "m0",
    [
        MemberRole(priority=0.0, hidden=True),
        MemberRole(priority=0.0, votes=0),
        MemberRole(priority=0.0),
    ],
)
def test_replset_initiate_runs_on_an_electable_member(m0: MemberRole) -> None:
    """MongoDB refuses replSetInitiate on a member that could not become
    primary (NodeNotElectable): member 0 is not always that member."""
    spec = desired(count=3 if m0.votes else 4, m0=m0)
    step = js("plan", spec, observed(spec, None, None))
    assert step["action"] == "initiate"
    assert step["on"] == host(1)


def test_one_new_member_that_reports_not_initialized_is_added_not_initiated() -> None:
    spec = desired(count=4, m3=MemberRole(priority=0, votes=0))
    step = js("plan", spec, observed(spec, fixture("config-3"), fixture("status-3")))
    assert step["action"] == "reconfig" and step["on"] == host(0)
    new = step["config"]["members"][3]
    assert new == {
        "_id": 3,
        "host": host(3),
        "priority": 0,
        "votes": 0,
        "hidden": False,
        "secondaryDelaySecs": 0,
    }
    assert step["config"]["members"][:3] == fixture("config-3")["config"]["members"]
    assert step["config"]["version"] == 2


def test_growing_from_three_to_five_adds_one_voter_per_reconfig() -> None:
    spec = desired(count=5)
    steps = converge(spec, fixture("config-3"), host(0))
    assert [s["changes"] for s in steps] == [
        [f"add {host(3)} (priority 1, votes 1)"],
        [f"add {host(4)} (priority 1, votes 1)"],
    ]


def test_shrinking_from_five_to_three_removes_one_voter_per_reconfig() -> None:
    five = fixture("config-3")
    spec5 = desired(count=5)
    five = {**five, "config": converge_config(spec5, five)}
    steps = converge(desired(count=3), five, host(0))
    assert [s["changes"] for s in steps] == [
        [f"remove {host(3)} (priority 1, votes 1)"],
        [f"remove {host(4)} (priority 1, votes 1)"],
    ]
    assert [m["host"] for m in steps[-1]["config"]["members"]] == [host(i) for i in range(3)]


def converge_config(spec: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    steps = converge(spec, config, host(0))
    return steps[-1]["config"]


def test_removing_the_primary_steps_it_down_then_the_next_primary_removes_it() -> None:
    """The primary never receives a config that makes itself unelectable."""
    five = {**fixture("config-3"), "config": converge_config(desired(count=5), fixture("config-3"))}
    # Keep members 1-4 only: member 0 (the primary) goes away.
    spec = desired(count=5)
    spec["members"] = spec["members"][1:]
    steps = converge(spec, five, host(0))
    assert [s["action"] for s in steps] == ["stepDown", "reconfig"]
    assert steps[0]["on"] == host(0)
    assert steps[0]["command"] == {"replSetStepDown": 60, "secondaryCatchUpPeriodSecs": 15}
    assert steps[1]["on"] == host(1)
    assert [m["host"] for m in steps[1]["config"]["members"]] == [host(i) for i in range(1, 5)]


@pytest.mark.parametrize(
    "m0",
    [
        MemberRole(priority=0.0, hidden=True),
        MemberRole(priority=0.0),
        MemberRole(priority=0.0, votes=0),
        MemberRole(priority=0.0, votes=0, hidden=True, secondary_delay_secs=3600),
    ],
)
def test_making_the_primary_unelectable_steps_it_down_first(m0: MemberRole) -> None:
    spec = desired(count=3 if m0.votes else 4, m0=m0)
    start = fixture("config-3")
    if not m0.votes:  # keep an odd number of voters: a fourth, voting member
        start = {**start, "config": converge_config(desired(count=4), start)}
        spec["members"][3]["votes"] = 1
        spec["members"][3]["priority"] = 1
        spec["members"][2]["votes"], spec["members"][2]["priority"] = 1, 1
    steps = converge(spec, start, host(0))
    assert steps[0]["action"] == "stepDown" and steps[0]["on"] == host(0)
    assert all(s["on"] != host(0) for s in steps if s["action"] == "reconfig")


def test_other_changes_run_on_the_primary_before_it_steps_down() -> None:
    """If no other member can take over yet, first make one electable."""
    config = copy.deepcopy(fixture("config-3"))
    for m in config["config"]["members"][1:]:
        m["priority"] = 0
    spec = desired(m0=MemberRole(priority=0.0), m1=MemberRole(priority=1.0))
    steps = converge(spec, config, host(0))
    assert [(s["action"], s["on"]) for s in steps] == [
        ("reconfig", host(0)),
        ("stepDown", host(0)),
        ("reconfig", host(1)),
    ]
    assert steps[0]["changes"] == [f"{host(1)}: priority 0 -> 1", f"{host(2)}: priority 0 -> 1"]


def test_a_primary_with_no_heir_waits_instead_of_reconfiguring_itself() -> None:
    spec = desired(m0=MemberRole(priority=0.0))
    config = copy.deepcopy(fixture("config-3"))
    for m in config["config"]["members"][1:]:
        m["priority"] = 0
    spec["members"][1]["priority"] = spec["members"][2]["priority"] = 0
    step = js("plan", spec, observed(spec, config, fixture("status-3")))
    assert step["action"] == "wait" and "no other electable member" in step["reason"]


def test_a_priority_change_is_one_reconfig_that_keeps_everything_else() -> None:
    spec = desired(m0=MemberRole(priority=1.0), m1=MemberRole(priority=5.0))
    step = js("plan", spec, observed(spec, fixture("config-3"), fixture("status-3")))
    assert step["action"] == "reconfig"
    assert sorted(step["changes"]) == [f"{host(0)}: priority 2 -> 1", f"{host(1)}: priority 1 -> 5"]
    before = fixture("config-3")["config"]
    after = step["config"]
    assert [m["priority"] for m in after["members"]] == [1, 5, 1]
    for old, new in zip(before["members"], after["members"], strict=True):
        assert {k: v for k, v in new.items() if k != "priority"} == {
            k: v for k, v in old.items() if k != "priority"
        }
    assert after["settings"]["replicaSetId"] == {"$oid": "6744d5f2c1e3a4b5c6d7e8f9"}
    assert (after["version"], after["protocolVersion"]) == (2, {"$numberLong": "1"})


def test_hiding_a_member_sets_priority_0_and_keeps_its_vote() -> None:
    spec = desired(m2=MemberRole(priority=0.0, hidden=True))
    step = js("plan", spec, observed(spec, fixture("config-3"), fixture("status-3")))
    assert step["changes"] == [f"{host(2)}: priority 1 -> 0, hidden false -> true"]
    member = step["config"]["members"][2]
    assert (member["hidden"], member["priority"], member["votes"]) == (True, 0, 1)


def test_a_delayed_backup_member_joins_without_a_vote_in_the_same_step_as_other_changes() -> None:
    delayed = MemberRole(priority=0.0, votes=0, hidden=True, secondary_delay_secs=3600)
    spec = desired(count=4, m1=MemberRole(priority=3.0), m3=delayed)
    steps = converge(spec, fixture("config-3"), host(0))
    assert len(steps) == 1  # a non-voting addition is not a voting change
    assert sorted(steps[0]["changes"]) == [
        f"add {host(3)} (priority 0, votes 0, hidden, delay 3600s)",
        f"{host(1)}: priority 1 -> 3",
    ]
    member = steps[0]["config"]["members"][3]
    assert (member["votes"], member["secondaryDelaySecs"], member["hidden"]) == (0, 3600, True)


def test_two_vote_changes_take_two_steps() -> None:
    spec = desired(count=5)
    five = {**fixture("config-3"), "config": converge_config(spec, fixture("config-3"))}
    no_vote = MemberRole(priority=0.0, votes=0)
    spec = desired(count=5, m3=no_vote, m4=no_vote)
    steps = converge(spec, five, host(0))
    assert [s["changes"] for s in steps] == [
        [f"{host(3)}: priority 1 -> 0, votes 1 -> 0"],
        [f"{host(4)}: priority 1 -> 0, votes 1 -> 0"],
    ]


def test_newly_added_marker_from_the_server_is_never_sent_back() -> None:
    config = copy.deepcopy(fixture("config-3"))
    config["config"]["members"][2]["newlyAdded"] = True
    spec = desired(m1=MemberRole(priority=3.0))
    step = js("plan", spec, observed(spec, config, fixture("status-3")))
    assert all("newlyAdded" not in m for m in step["config"]["members"])


def test_psa_set_with_its_arbiter_is_steady() -> None:
    spec = desired(count=2, arbiter=True)
    assert spec["members"][2] == {
        "host": "infra-test-mongo-arbiter:27067",
        "priority": 0,
        "votes": 1,
        "hidden": False,
        "secondaryDelaySecs": 0,
        "arbiterOnly": True,
    }
    step = js("plan", spec, observed(spec, fixture("config-psa"), fixture("status-psa")))
    assert step["action"] == "none"


def test_initiating_with_an_arbiter_marks_it_arbiter_only() -> None:
    spec = desired(count=2, arbiter=True)
    step = js("plan", spec, observed(spec, None, None))
    assert step["on"] == host(0)
    assert step["config"]["members"][2] == {
        "_id": 2,
        "host": "infra-test-mongo-arbiter:27067",
        "priority": 0,
        "votes": 1,
        "arbiterOnly": True,
    }


def test_adding_an_arbiter_to_four_data_members_is_one_step() -> None:
    four = {**fixture("config-3"), "config": converge_config(desired(count=4), fixture("config-3"))}
    spec = desired(count=4, arbiter=True)
    steps = converge(spec, four, host(0))
    assert len(steps) == 1
    arbiter = steps[0]["config"]["members"][-1]
    assert arbiter["arbiterOnly"] is True and arbiter["host"] == "infra-test-mongo-arbiter:27067"


def test_dropping_the_arbiter_removes_it() -> None:
    spec = desired(count=2)
    step = js("plan", spec, observed(spec, fixture("config-psa"), fixture("status-psa")))
    assert step["changes"] == [
        "remove infra-test-mongo-arbiter:27067 (priority 0, votes 1, arbiter)"
    ]


def test_a_member_cannot_turn_into_an_arbiter_in_place() -> None:
    spec = desired(count=2, arbiter=True)
    spec["members"][2]["host"] = host(2)  # same host as a data member of config-3
    steps = converge(spec, fixture("config-3"), host(0))
    assert [s["changes"][0].split()[0] for s in steps] == ["remove", "add"]
    assert steps[-1]["config"]["members"][-1]["arbiterOnly"] is True


def test_a_set_with_another_name_is_refused() -> None:
    spec = desired()
    spec["setName"] = "other"
    step = js("plan", spec, observed(spec, fixture("config-3"), fixture("status-3")))
    assert step["action"] == "refuse" and "cannot be renamed" in step["reason"]


def test_members_that_share_no_host_with_the_config_are_refused() -> None:
    spec = desired()
    for m in spec["members"]:
        m["host"] = m["host"].replace("infra-test", "infra-renamed")
    obs = observed(spec, None, fixture("status-3"))
    obs["configs"] = {m["host"]: fixture("config-3") for m in spec["members"]}
    step = js("plan", spec, obs)
    assert step["action"] == "refuse" and "forced reconfig" in step["reason"]


def test_the_newest_config_wins_when_members_disagree() -> None:
    spec = desired(count=4)
    newer = {**fixture("config-3"), "config": converge_config(spec, fixture("config-3"))}
    obs = observed(spec, fixture("config-3"), fixture("status-3"), None)
    obs["configs"][host(3)] = newer  # only the new member has heard of version 2 so far
    obs["configs"][host(1)] = newer
    assert js("plan", spec, obs)["action"] == "none"


def test_default_read_and_write_concern_are_set_once() -> None:
    step = js("planRwConcern", fixture("rwconcern-implicit"))
    assert step == {
        "action": "set",
        "command": {
            "setDefaultRWConcern": 1,
            "defaultWriteConcern": {"w": "majority"},
            "defaultReadConcern": {"level": "majority"},
            "writeConcern": {"w": "majority", "wtimeout": 30000},
            "maxTimeMS": 30000,
        },
    }
    assert js("planRwConcern", fixture("rwconcern-global")) == {"action": "none"}


def test_root_user_is_created_when_missing_and_reset_when_its_password_differs() -> None:
    assert js("planRootUser", fixture("usersinfo-empty"), False) == {"action": "create"}
    assert js("planRootUser", fixture("usersinfo-root"), True) == {"action": "none"}
    assert js("planRootUser", fixture("usersinfo-root"), False)["action"] == "update"
    no_role = copy.deepcopy(fixture("usersinfo-root"))
    no_role["users"][0]["roles"] = [{"role": "readWrite", "db": "app"}]
    assert js("planRootUser", no_role, True)["action"] == "update"
    assert js("planRootUser", fixture("unauthorized"), False)["action"] == "wait"


def test_root_user_commands_are_bounded() -> None:
    for action, verb in (("create", "createUser"), ("update", "updateUser")):
        assert js("rootUserCommand", action, "root", "pw") == {
            verb: "root",
            "pwd": "pw",
            "roles": [{"role": "root", "db": "admin"}],
            "writeConcern": {"w": "majority", "wtimeout": 30000},
            "maxTimeMS": 30000,
        }


def test_health_reports_primary_and_replication_lag() -> None:
    health = js("health", fixture("status-3"))
    assert health == {
        "healthy": True,
        "primary": host(0),
        "unhealthy": [],
        "writeMajority": {"needed": 2, "available": 3},
        "maxLagSecs": 0.75,
    }
    assert js("health", fixture("status-psa"))["healthy"] is True
    assert js("health", fixture("status-electing"))["healthy"] is False


def test_one_member_down_leaves_the_set_ready_but_reports_it() -> None:
    """Ready = a primary and a writable majority; the rest is reported."""
    down = js("health", fixture("status-member-down"))
    assert down["healthy"] is True and down["primary"] == host(1)
    assert down["unhealthy"] == [f"{host(0)} (not reachable/healthy)"]
    assert down["writeMajority"] == {"needed": 2, "available": 2}


def test_a_member_in_initial_sync_does_not_make_the_set_unready() -> None:
    status = copy.deepcopy(fixture("status-3"))
    status["members"][2]["stateStr"] = "STARTUP2"
    health = js("health", status, fixture("config-3")["config"])
    assert health["healthy"] is True
    assert health["unhealthy"] == [f"{host(2)} STARTUP2"]


def test_psa_with_its_secondary_down_is_not_ready() -> None:
    """In PSA a majority write needs both data-bearing members: the arbiter
    acknowledges nothing."""
    status = copy.deepcopy(fixture("status-psa"))
    secondary = next(m for m in status["members"] if m["stateStr"] == "SECONDARY")
    secondary.update(health=0, stateStr="(not reachable/healthy)")
    health = js("health", status, fixture("config-psa")["config"])
    assert health["healthy"] is False
    assert health["writeMajority"] == {"needed": 2, "available": 1}


@pytest.mark.parametrize("script", ["mongo-rs-plan.js", "mongo-rs-init.js"])
def test_scripts_the_containers_run_are_valid_javascript(script: str) -> None:
    assert NODE
    subprocess.run([NODE, "--check", str(SCRIPTS / script)], check=True, timeout=30)


# mongo-rs-init.js itself, run by Node.js against a SIMULATED replica set
# (fixtures/mongo/fake-mongosh.js): the script's control flow, not MongoDB.

KEYFILE = "/run/secrets/mongo-keyfile"
ROOT_PASSWORD_FILE = "/run/secrets/mongo-root-password"
SIM_KEY = "c2VjcmV0LWtleS1mb3ItdGhlLXNldA=="
SIM_PASSWORD = "root-password-0123456789"
CHANGES = {
    "replSetInitiate",
    "replSetReconfig",
    "replSetStepDown",
    "setDefaultRWConcern",
    "createUser",
    "updateUser",
    "dropUser",
}


def fresh(spec: dict[str, Any]) -> dict[str, Any]:
    return {m["host"]: {"config": None, "users": {}, "rw": "implicit"} for m in spec["members"]}


def run_init(
    spec: dict[str, Any],
    servers: dict[str, Any],
    unreachable: tuple[str, ...] = (),
    key: str = SIM_KEY,
    initial_sync_polls: int = 0,
    extra_env: dict[str, str] | None = None,
    extra_files: dict[str, str] | None = None,
) -> dict[str, Any]:
    assert NODE
    env = {
        "RS_SPEC": json.dumps(spec),
        "PLAN_JS": str(PLAN_JS),
        "KEYFILE": KEYFILE,
        "ROOT_PASSWORD_FILE": ROOT_PASSWORD_FILE,
        "HEALTH_FILE": "/tmp/mongo-rs-healthy",
        "WAIT_SECONDS": "60",
        **(extra_env or {}),
    }
    done = subprocess.run(
        [NODE, str(FIXTURES / "fake-mongosh.js")],
        input=json.dumps(
            {
                "initJs": str(SCRIPTS / "mongo-rs-init.js"),
                "env": env,
                "serverKey": SIM_KEY,
                "files": {
                    KEYFILE: key + "\n",
                    ROOT_PASSWORD_FILE: SIM_PASSWORD,
                    **(extra_files or {}),
                },
                "servers": servers,
                "unreachable": list(unreachable),
                "initialSyncPolls": initial_sync_polls,
            }
        ),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(done.stdout))


def changes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["name"], c["host"]) for c in result["commands"] if c["name"] in CHANGES]


def final_config(result: dict[str, Any]) -> dict[str, Any]:
    configs = [s["config"] for s in result["servers"].values() if s["config"]]
    return dict(max(configs, key=lambda c: c["version"]))


@pytest.fixture(scope="module")
def initiated() -> dict[str, Any]:
    return run_init(desired(), fresh(desired()))


def test_init_script_initiates_sets_concerns_creates_root_then_reports_healthy(
    initiated: dict[str, Any],
) -> None:
    assert initiated["exitCode"] is None  # still running: it stays up as the health probe
    assert changes(initiated) == [
        ("replSetInitiate", host(0)),
        ("setDefaultRWConcern", host(0)),
        ("createUser", host(0)),
    ]
    create = next(c for c in initiated["commands"] if c["name"] == "createUser")
    assert create["db"] == "admin"
    assert create["cmd"] == {
        "createUser": "root",
        "pwd": SIM_PASSWORD,
        "roles": [{"role": "root", "db": "admin"}],
        "writeConcern": {"w": "majority", "wtimeout": 30000},
        "maxTimeMS": 30000,
    }
    assert [m["host"] for m in final_config(initiated)["members"]] == [host(i) for i in range(3)]
    assert initiated["healthFile"]["healthy"] is True
    assert initiated["healthFile"]["primary"] == host(0)
    assert "mongo-rs-init: replica set ready" in initiated["printed"]


def test_init_script_run_again_changes_nothing(initiated: dict[str, Any]) -> None:
    again = run_init(desired(), initiated["servers"])
    assert changes(again) == []
    assert again["healthFile"]["healthy"] is True


def test_init_script_grows_the_set_one_voter_at_a_time(initiated: dict[str, Any]) -> None:
    spec = desired(count=5)
    servers = {**initiated["servers"], **fresh(spec), **initiated["servers"]}
    grown = run_init(spec, servers)
    assert changes(grown) == [("replSetReconfig", host(0)), ("replSetReconfig", host(0))]
    config = final_config(grown)
    assert [m["host"] for m in config["members"]] == [host(i) for i in range(5)]
    assert config["version"] == 3


def test_init_script_resets_a_root_password_that_differs(initiated: dict[str, Any]) -> None:
    servers = json.loads(json.dumps(initiated["servers"]))
    for server in servers.values():
        server["users"]["admin"]["root"]["pwd"] = "an-older-password"
    result = run_init(desired(), servers)
    assert changes(result) == [("updateUser", host(0))]


def test_init_script_sets_the_global_write_concern_before_adding_an_arbiter() -> None:
    spec4 = desired(count=4)
    four = run_init(spec4, fresh(spec4))
    servers = json.loads(json.dumps(four["servers"]))
    for server in servers.values():
        server["rw"] = "implicit"  # e.g. a set initiated by hand before infra managed it
    spec = desired(count=4, arbiter=True)
    servers.update({spec["members"][-1]["host"]: {"config": None, "users": {}, "rw": "implicit"}})
    result = run_init(spec, servers)
    assert changes(result) == [("setDefaultRWConcern", host(0)), ("replSetReconfig", host(0))]
    assert final_config(result)["members"][-1]["arbiterOnly"] is True


def test_init_script_moves_the_primary_away_before_removing_it(initiated: dict[str, Any]) -> None:
    spec5 = desired(count=5)
    five = run_init(spec5, {**fresh(spec5), **initiated["servers"]})
    spec = desired(count=5)
    spec["members"] = spec["members"][1:]
    result = run_init(spec, five["servers"])
    assert changes(result) == [("replSetStepDown", host(0)), ("replSetReconfig", host(1))]
    assert [m["host"] for m in final_config(result)["members"]] == [host(i) for i in range(1, 5)]
    assert result["healthFile"]["primary"] == host(1)


def test_init_script_gives_up_initiating_when_a_member_never_answers() -> None:
    spec = desired()
    result = run_init(spec, fresh(spec), unreachable=(host(2),))
    assert result["exitCode"] == 1
    assert any(
        line.startswith("mongo-rs-init: FAILED: the replica set did not converge")
        and f"no answer yet from {host(2)}" in line
        for line in result["printed"]
    )
    assert changes(result) == []


def test_init_script_initiates_on_an_electable_member() -> None:
    """The fake refuses replSetInitiate on an unelectable node (NodeNotElectable)."""
    spec = desired(m0=MemberRole(priority=0.0, hidden=True))
    result = run_init(spec, fresh(spec))
    assert changes(result)[0] == ("replSetInitiate", host(1))
    assert result["healthFile"]["healthy"] is True


def test_init_script_steps_down_a_primary_before_hiding_it(initiated: dict[str, Any]) -> None:
    """The fake refuses a reconfig that makes the receiving primary unelectable."""
    spec = desired(m0=MemberRole(priority=0.0, hidden=True))
    result = run_init(spec, initiated["servers"])
    assert changes(result) == [("replSetStepDown", host(0)), ("replSetReconfig", host(1))]
    member0 = final_config(result)["members"][0]
    assert (member0["priority"], member0["hidden"]) == (0, True)
    assert result["exitCode"] is None and result["healthFile"]["primary"] == host(1)


def test_init_script_with_one_member_down_still_becomes_ready(initiated: dict[str, Any]) -> None:
    result = run_init(desired(), initiated["servers"], unreachable=(host(2),))
    assert result["exitCode"] is None
    assert result["healthFile"]["healthy"] is True
    assert result["healthFile"]["unhealthy"] == [f"{host(2)} (not reachable/healthy)"]


def test_init_script_is_ready_while_a_new_member_runs_its_initial_sync(
    initiated: dict[str, Any],
) -> None:
    """Initial sync (STARTUP2) can take hours: it must not hold up `up`."""
    spec = desired(count=4, m3=MemberRole(priority=0.0, votes=0))
    servers = {**fresh(spec), **initiated["servers"]}
    result = run_init(spec, servers, initial_sync_polls=100_000)
    assert changes(result) == [("replSetReconfig", host(0))]
    assert result["healthFile"]["healthy"] is True
    assert result["healthFile"]["unhealthy"] == [f"{host(3)} STARTUP2"]


def test_init_script_never_blocks_on_a_majority_write_without_a_majority() -> None:
    """PSA with the secondary down: a majority write cannot be acknowledged.
    Unbounded, updateUser would wait forever (the fake reports `hung`)."""
    spec = desired(count=2, arbiter=True)
    psa = run_init(spec, fresh(spec))
    servers = json.loads(json.dumps(psa["servers"]))
    for server in servers.values():
        server["users"]["admin"]["root"]["pwd"] = "an-older-password"
    result = run_init(spec, servers, unreachable=(host(1),))
    assert result["hung"] is None
    update = [c for c in result["commands"] if c["name"] == "updateUser"]
    assert update and all(c["cmd"]["maxTimeMS"] == 30000 for c in update)
    assert result["exitCode"] == 1
    assert result["healthFile"] is None


def test_init_script_uses_the_cluster_key_only_to_bootstrap(initiated: dict[str, Any]) -> None:
    """__system only until the root user exists; then the key is dropped."""
    users = [c["user"] for c in initiated["commands"]]
    created = next(i for i, c in enumerate(initiated["commands"]) if c["name"] == "createUser")
    assert set(users[: created + 1]) <= {"__system", "root"}
    assert set(users[created + 1 :]) == {"root"}
    assert KEYFILE not in initiated["files"]
    again = run_init(desired(), initiated["servers"])
    assert {c["user"] for c in again["commands"]} == {"root"}
    assert KEYFILE not in again["files"]


def test_init_script_with_the_wrong_keyfile_changes_nothing_and_fails() -> None:
    spec = desired()
    result = run_init(spec, fresh(spec), key="d3Jvbmcta2V5LWZpbGU=")
    assert result["exitCode"] == 1
    assert any("Authentication failed" in line for line in result["printed"])
    assert changes(result) == []
