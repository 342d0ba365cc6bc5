"""`infra` end to end on the real Pulumi engine (issue 6).

What runs for real: the `infra` console script, the Automation API, the Pulumi CLI
(v3.274.0), our language host, the real program (`stacks.program.main()`), a file
backend, passphrase secrets, stack locks, and a Python dynamic provider standing in
for the docker/cloudflare providers, which cannot be had on this machine (see
docs/pulumi-engine.md). The dynamic resource is a JSON file under the project's
`things/` directory, so a test can see what `up`, `refresh` and `down` really did.
"""

from __future__ import annotations

import json
import re
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config.root import SECRET_KEYS
from tests.engine.conftest import REPO, Engine, RefusingProxy, Result, finish

pytestmark = pytest.mark.engine

STACK = "e2e"
THING_TYPE = "pulumi-python:dynamic/e2e:Thing"
# Pulumi's wire marker for a secret value; in the state it wraps a `ciphertext`.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
LOCK_WAIT_S = 60


# --- helpers ------------------------------------------------------------------------
def ok(result: Result) -> Result:
    assert result.code == 0, result
    return result


def init(engine: Engine, stack: str = STACK) -> Result:
    return ok(engine.run("init", stack, "--template", "engine"))


def summary_line(result: Result, action: str) -> str:
    """The CLI's `<action> <stack> finished in Ns: ...` line, from the counts on."""
    for line in result.err_lines():
        match = re.fullmatch(rf"{action} \S+ finished in [\d.]+s: (.*)", line)
        if match:
            return match.group(1)
    raise AssertionError(f"no `{action} ... finished` line\n{result}")


def outputs(engine: Engine, *flags: str) -> dict[str, Any]:
    result = ok(engine.run("outputs", STACK, "--json", *flags))
    values: dict[str, Any] = json.loads(result.out)
    return values


def plan(result: Result) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(result.out)  # stdout holds nothing but the plan
    return value


def set_config(engine: Engine, key: str, value: Any) -> None:
    path = engine.stack_file(STACK)
    doc = yaml.safe_load(path.read_text())
    doc["config"][key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def thing_path(engine: Engine, thing_id: str) -> Path:
    return engine.project / "things" / f"{thing_id}.json"


def read_thing(engine: Engine, thing_id: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(thing_path(engine, thing_id).read_text())
    return value


def resources(engine: Engine) -> dict[str, dict[str, Any]]:
    """State resources by type (one of each here)."""
    return {r["type"]: r for r in engine.state(STACK)["latest"].get("resources") or []}


def is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value and "ciphertext" in value


def backend_texts(engine: Engine) -> dict[str, str]:
    """Every file the backend holds: current state, backups, history, locks."""
    return {
        str(p.relative_to(engine.backend)): p.read_text(errors="replace")
        for p in engine.backend.rglob("*")
        if p.is_file()
    }


def assert_nowhere(engine: Engine, secrets: list[str]) -> None:
    texts = {**backend_texts(engine), "stack file": engine.stack_file(STACK).read_text()}
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"plaintext secret in {name}"


@pytest.fixture
def deployed(engine: Engine) -> Engine:
    init(engine)
    ok(engine.run("up", STACK, "--yes"))
    return engine


# --- init and validate -----------------------------------------------------------
def test_init_from_a_template_generates_encrypted_secrets(engine: Engine) -> None:
    result = init(engine)
    assert result.err_lines() == [
        f"stack '{STACK}' ready; generated secrets: {', '.join(SECRET_KEYS)}"
    ]
    doc = yaml.safe_load(engine.stack_file(STACK).read_text())
    for key in SECRET_KEYS:
        assert set(doc["config"][f"infra:{key}"]) == {"secure"}, key
    assert doc["config"]["infra:redis"] == {"enabled": False}  # the template's config kept
    assert doc["config"]["e2e:label"] == "first"
    assert engine.state_file(STACK).is_file()  # the stack exists in the backend

    result = ok(engine.run("validate", STACK))
    assert result.out.strip() == f"stacks/Pulumi.{STACK}.yaml is valid: no components"

    before = engine.stack_file(STACK).read_bytes()
    result = engine.run("init", STACK, "--template", "engine")
    assert result.code == 2 and f"stacks/Pulumi.{STACK}.yaml exists: pass --force" in result.err
    result = ok(engine.run("init", STACK, "--secrets-only"))
    assert "generated secrets: none" in result.err
    assert engine.stack_file(STACK).read_bytes() == before


def test_a_non_local_stack_never_generates_secrets_on_preview(engine: Engine) -> None:
    bare = engine.project / "stacks" / "Pulumi.bare.yaml"
    bare.write_text((engine.project / "templates" / "engine.yaml").read_text())
    before = bare.read_bytes()

    result = engine.run("outputs", "bare")
    assert result.code == 6, result
    assert result.err_lines() == ["error: nothing is deployed in stack 'bare': run `infra up bare`"]

    for command in (["preview", "bare"], ["up", "bare", "--yes"]):
        result = engine.run(*command)
        assert result.code == 2, result
        assert f"error: stack 'bare' has no value for {', '.join(SECRET_KEYS)}" in result.err
        assert "run `infra init bare --secrets-only` once" in result.err
    assert bare.read_bytes() == before  # exit 2 touched nothing:
    assert not engine.state_file("bare").exists()  # no stack created in the backend either

    ok(engine.run("init", "bare", "--secrets-only"))
    assert summary_line(ok(engine.run("preview", "bare")), "preview") == "2 create"


# --- preview, up, outputs ------------------------------------------------------------
def test_preview_then_up_then_outputs_with_secrets_hidden(engine: Engine) -> None:
    init(engine)
    result = ok(engine.run("preview", STACK, "--json"))
    previewed = plan(result)
    assert previewed["hasChanges"] is True
    assert previewed["changeSummary"] == {"create": 2}
    assert {(s["op"], s["type"], s["name"]) for s in previewed["steps"]} == {
        ("create", "pulumi:providers:pulumi-python", "default"),
        ("create", THING_TYPE, "thing"),
    }
    assert not (engine.project / "things").exists()  # a preview changes nothing

    result = ok(engine.run("preview", STACK))
    assert summary_line(result, "preview") == "2 create"
    assert "created" not in result.err

    result = ok(engine.run("up", STACK, "--yes"))
    assert summary_line(result, "up") == "2 create"
    assert re.search(r"^\s*redisPassword\s+\[secret\]\s*$", result.out, re.M), result
    assert re.search(r"^\s*thingToken\s+\[secret\]\s*$", result.out, re.M), result

    hidden = outputs(engine)
    assert hidden == {
        "components": [],
        "redisPassword": "[secret]",
        "thingId": hidden["thingId"],
        "thingLabel": "first",
        "thingToken": "[secret]",
    }
    shown = outputs(engine, "--show-secrets")
    thing = read_thing(engine, hidden["thingId"])  # what the provider really wrote
    assert shown["thingToken"] == thing["token"] and thing["label"] == "first"
    # The exported password is the stack's generated config secret, as Pulumi decrypts it.
    config = ok(engine.pulumi("config", "get", "redisPassword", "--stack", STACK))
    assert shown["redisPassword"] == config.out.strip() and len(config.out.strip()) >= 40

    table = ok(engine.run("outputs", STACK))
    assert "[secret]" in table.out and shown["redisPassword"] not in table.out
    table = ok(engine.run("outputs", STACK, "--show-secrets"))
    assert shown["redisPassword"] in table.out and thing["token"] in table.out


def test_secrets_are_encrypted_in_the_state(deployed: Engine) -> None:
    shown = outputs(deployed, "--show-secrets")
    secrets = [shown["redisPassword"], shown["thingToken"]]
    assert_nowhere(deployed, secrets)

    stack_outputs = resources(deployed)["pulumi:pulumi:Stack"]["outputs"]
    assert is_encrypted(stack_outputs["redisPassword"])
    assert is_encrypted(stack_outputs["thingToken"])
    assert stack_outputs["thingLabel"] == "first"  # plain values stay readable
    assert is_encrypted(resources(deployed)[THING_TYPE]["outputs"]["token"])
    assert deployed.state(STACK)["latest"]["secrets_providers"]["type"] == "passphrase"


# --- idempotence and drift ---------------------------------------------------------------
def test_second_up_changes_nothing_and_a_config_change_exits_3(deployed: Engine) -> None:
    thing_id = outputs(deployed)["thingId"]
    before = read_thing(deployed, thing_id)

    assert summary_line(ok(deployed.run("up", STACK, "--yes")), "up") == "2 same"
    assert read_thing(deployed, thing_id) == before  # an update would draw a new token
    result = ok(deployed.run("preview", STACK, "--expect-no-changes"))
    assert summary_line(result, "preview") == "2 same"

    set_config(deployed, "e2e:label", "second")
    result = deployed.run("preview", STACK, "--expect-no-changes")
    assert result.code == 3, result
    assert f"error: preview of '{STACK}' has changes" in result.err_lines()
    assert f"  - update {THING_TYPE} thing" in result.err_lines()
    result = deployed.run("preview", STACK, "--json", "--expect-no-changes")
    assert result.code == 3, result
    assert plan(result)["hasChanges"] is True
    assert ("update", "thing") in {(s["op"], s["name"]) for s in plan(result)["steps"]}
    result = ok(deployed.run("preview", STACK, "--diff"))
    assert re.search(r'~ label\s*: "first" => "second"', result.out), result.out
    assert read_thing(deployed, thing_id) == before


def test_refresh_reads_drift_and_up_repairs_it(deployed: Engine) -> None:
    thing_id = outputs(deployed)["thingId"]
    drifted = {**read_thing(deployed, thing_id), "label": "changed by hand"}
    thing_path(deployed, thing_id).write_text(json.dumps(drifted))

    assert summary_line(ok(deployed.run("refresh", STACK)), "refresh") == "1 same, 1 update"
    thing_state = resources(deployed)[THING_TYPE]["outputs"]
    assert thing_state["label"] == "changed by hand"
    assert is_encrypted(thing_state["token"])  # still encrypted after a refresh
    assert_nowhere(deployed, [drifted["token"]])

    result = deployed.run("preview", STACK, "--expect-no-changes")
    assert result.code == 3, result
    assert "1 update" in summary_line(ok(deployed.run("up", STACK, "--yes")), "up")
    assert read_thing(deployed, thing_id)["label"] == "first"
    ok(deployed.run("preview", STACK, "--expect-no-changes"))


# --- locking ------------------------------------------------------------------------------
def wait_for_lock(engine: Engine, first: Any) -> None:
    deadline = time.monotonic() + LOCK_WAIT_S
    while not engine.locks(STACK):
        if first.poll() is not None:
            pytest.fail(f"the first `up` ended before it took the lock\n{finish(first)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no lock under {engine.backend}/.pulumi/locks after {LOCK_WAIT_S}s")
        time.sleep(0.05)


def test_a_second_concurrent_up_is_refused_with_exit_5(deployed: Engine) -> None:
    set_config(deployed, "e2e:label", "slow")
    set_config(deployed, "e2e:sleepSeconds", 10)  # the update holds the lock at least 10 s
    first = deployed.start("up", STACK, "--yes")
    try:
        wait_for_lock(deployed, first)
        second = deployed.run("up", STACK, "--yes")
        assert first.poll() is None, "the first `up` must still hold the lock"
    finally:
        first_result = finish(first)

    assert second.code == 5, second
    assert second.err_lines()[0] == f"error: stack '{STACK}' is locked by another update"
    assert "remove the stale lock under <backend>/.pulumi/locks/" in second.err
    assert "the stack is currently locked by 1 lock(s)" in second.err
    assert "Traceback" not in second.err and second.out == ""

    assert first_result.code == 0, first_result
    assert summary_line(first_result, "up") == "1 same, 1 update"
    assert outputs(deployed)["thingLabel"] == "slow"
    assert deployed.locks(STACK) == []


# --- down -----------------------------------------------------------------------------------
def test_down_deletes_every_resource(deployed: Engine) -> None:
    thing = thing_path(deployed, outputs(deployed)["thingId"])
    assert thing.is_file()

    result = deployed.run("down", STACK)
    assert result.code == 2 and "needs --yes when not run from a terminal" in result.err
    assert thing.is_file()

    assert summary_line(ok(deployed.run("down", STACK, "--yes")), "down") == "2 delete"
    assert not thing.exists()
    assert resources(deployed) == {}
    result = deployed.run("outputs", STACK, "--json")
    assert result.code == 6 and json.loads(result.out)["error"]["code"] == 6, result
    assert summary_line(ok(deployed.run("down", STACK, "--yes")), "down") == "no resources"


# --- the real local stack, official docker provider required but missing ------------------------
@pytest.mark.parametrize("acquisition", ["disabled", "enabled"])
def test_real_local_stack_preview_without_official_docker_plugin_is_one_line_exit_4(
    real_engine: Engine, proxy: RefusingProxy, acquisition: str
) -> None:
    """INFRA_DOCKER_PROVIDER=official: no fallback to the stand-in, exit 4 and the fix."""
    repo_local = REPO / "stacks" / "Pulumi.local.yaml"  # git-ignored: may not exist
    repo_stack_file = repo_local.read_bytes() if repo_local.exists() else None
    repo_state = REPO / ".pulumi-state"
    state_before = sorted(repo_state.rglob("*")) if repo_state.exists() else None
    proxy.requests.clear()
    flag = "true" if acquisition == "disabled" else None

    result = real_engine.run(
        "preview",
        "local",
        extra_env={
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": flag,
            "INFRA_DOCKER_PROVIDER": "official",
        },
    )

    docker = f"docker v{version('pulumi-docker')}"
    assert result.code == 4, result
    assert result.out == ""
    assert [line for line in result.err_lines() if line.startswith(("error", "warning"))] == [
        f"error: the Pulumi provider plugin '{docker}' is missing: run "
        f"`pulumi plugin install resource {docker}` on a machine with internet access"
    ], result
    assert "Traceback" not in result.err
    downloads = [r for r in proxy.requests if "get.pulumi.com" in r]
    assert bool(downloads) == (acquisition == "enabled"), proxy.requests
    # `preview local` generates the local stack's secrets into the (copied) stack file.
    doc = yaml.safe_load(real_engine.stack_file("local").read_text())
    assert all("secure" in doc["config"][f"infra:{key}"] for key in SECRET_KEYS)
    # ...and nothing of the repository's own local stack was touched.
    assert (repo_local.read_bytes() if repo_local.exists() else None) == repo_stack_file
    assert (sorted(repo_state.rglob("*")) if repo_state.exists() else None) == state_before


def test_real_local_stack_preview_falls_back_to_the_stand_in_in_one_line(
    real_engine: Engine, proxy: RefusingProxy
) -> None:
    """No official plugin and none installable (the proxy refuses the download): the
    stand-in runs the preview, named in one line; a missing Mongo image is one line."""
    import docker as docker_sdk

    proxy.requests.clear()
    result = real_engine.run("preview", "local")
    assert result.code == 0, result
    notices = [line for line in result.err_lines() if line.startswith("docker provider:")]
    assert len(notices) == 1 and "infra's offline docker stand-in" in notices[0], result
    assert any("get.pulumi.com" in r or "github.com" in r for r in proxy.requests)
    try:
        docker_sdk.from_env().images.get("mongo:8.0.4")
        mongo_missing = False
    except docker_sdk.errors.ImageNotFound:
        mongo_missing = True
    skipped = [line for line in result.err_lines() if line.startswith("mongo skipped:")]
    assert len(skipped) == (1 if mongo_missing else 0), result
    assert not any(line.startswith("error") for line in result.err_lines()), result
