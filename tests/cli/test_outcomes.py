"""Outcomes that are neither success nor an engine failure, and `--json` on failure.

Nothing deployed is exit 6 with the command that deploys; a declined confirmation
is exit 7, "cancelled, nothing changed"; with --json every failure is also a JSON
error object on stdout, with the same exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from cli import app as cli_app
from cli import errors
from cli.engine import deploy
from cli.main import app

NOTHING = "nothing is deployed in stack 'local': run `infra up local`"


def invoke(runner: CliRunner, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def json_error(out: str) -> dict[str, Any]:
    """stdout holds one JSON document: the error object."""
    document: dict[str, Any] = json.loads(out)
    assert set(document) == {"error"}
    assert set(document["error"]) == {"code", "message", "details"}
    return document["error"]


def outputs_are(monkeypatch: pytest.MonkeyPatch, items: list[deploy.OutputItem]) -> None:
    monkeypatch.setattr(deploy.Deployer, "outputs", lambda self: items)


def no_state(monkeypatch: pytest.MonkeyPatch) -> None:
    def outputs(self: deploy.Deployer) -> list[deploy.OutputItem]:
        with deploy.engine_errors(self.stack_name):
            raise auto.StackNotFoundError(
                auto.CommandResult(
                    stdout="", stderr="error: no stack named 'local' found", code=255
                )
            )

    monkeypatch.setattr(deploy.Deployer, "outputs", outputs)


# --- nothing deployed ------------------------------------------------------------
@pytest.mark.parametrize("command", [["status"], ["outputs"], ["drill", "--yes"]])
@pytest.mark.parametrize("state", ["no resources", "no state"])
def test_nothing_deployed_is_exit_6_with_the_command_that_deploys(
    runner: CliRunner,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    state: str,
) -> None:
    if state == "no state":
        no_state(monkeypatch)
    else:
        outputs_are(monkeypatch, [])
    code, out, err = invoke(runner, command[0], "local", *command[1:])
    assert code == errors.NOTHING_DEPLOYED == 6
    assert err.strip() == f"error: {NOTHING}"
    assert out == ""


@pytest.mark.parametrize("command", ["status", "outputs", "drill"])
def test_nothing_deployed_with_json_is_a_json_error(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    outputs_are(monkeypatch, [])
    code, out, err = invoke(
        runner, command, "local", "--json", "--yes" if command == "drill" else "--json"
    )
    assert code == 6
    assert json_error(out) == {"code": 6, "message": NOTHING, "details": []}
    assert f"error: {NOTHING}" in err  # the human line stays on stderr


def test_drill_on_a_deployed_sentinel_stack_says_it_needs_a_cluster(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs_are(monkeypatch, [deploy.OutputItem("redisMode", "sentinel", False)])
    code, _, err = invoke(runner, "drill", "local", "--yes")
    assert code == errors.INVALID
    assert "stack 'local' has no Redis Cluster deployed" in err


# --- --json on failure ------------------------------------------------------------
def test_preview_json_engine_failure_is_a_json_error_with_exit_1(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: deploy.Deployer, on_event: Any, diff: bool = False) -> Any:
        with deploy.engine_errors("local"):
            raise auto.CommandError(
                auto.CommandResult(stdout="", stderr="error: the provider broke", code=255)
            )

    monkeypatch.setattr(deploy.Deployer, "preview", boom)
    code, out, err = invoke(runner, "preview", "local", "--json")
    assert code == errors.FAILED
    error = json_error(out)
    assert error["code"] == 1
    assert error["message"] == "the Pulumi engine failed on stack 'local'"
    assert error["details"] == ["error: the provider broke"]
    assert "error: the Pulumi engine failed on stack 'local'" in err


def test_json_invalid_config_is_a_json_error_with_every_problem(
    runner: CliRunner, project: Path
) -> None:
    (project / "stacks" / "Pulumi.local.yaml").write_text(
        "config:\n  infra:redis:\n    shards: 2\n  infra:network:\n    subnet: 1.2.3.0/24\n"
    )
    for command in ("preview", "outputs", "status", "drill"):
        code, out, _ = invoke(runner, command, "local", "--json")
        assert code == errors.INVALID, command
        error = json_error(out)
        assert error["code"] == 2
        assert error["message"] == "invalid config in stacks/Pulumi.local.yaml"
        assert any(d.startswith("network.subnet: 1.2.3.0/24") for d in error["details"])


def test_json_missing_tool_and_internal_error(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, no_pulumi: None
) -> None:
    code, out, _ = invoke(runner, "preview", "local", "--json")
    assert code == errors.TOOL_MISSING
    assert json_error(out)["message"].startswith("the Pulumi CLI is not installed")

    def broken(self: deploy.Deployer) -> list[deploy.OutputItem]:
        raise ValueError("unexpected")

    monkeypatch.setattr(deploy.Deployer, "outputs", broken)
    code, out, err = invoke(runner, "outputs", "local", "--json")
    assert code == 1
    assert json_error(out)["message"] == (
        "internal error: ValueError: unexpected (rerun with -v for details)"
    )
    assert err.strip() == "internal error: ValueError: unexpected (rerun with -v for details)"


def test_expect_no_changes_with_json_keeps_one_document_the_plan(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli.test_cli import fake_preview, pre_event

    monkeypatch.setattr(
        deploy.Deployer,
        "preview",
        fake_preview([pre_event("create", "redis-node-0", "docker:index/container:Container")]),
    )
    code, out, err = invoke(runner, "preview", "local", "--json", "--expect-no-changes")
    assert code == errors.CHANGES_FOUND
    assert json.loads(out)["hasChanges"] is True  # one document: the plan
    assert "preview of 'local' has changes" in err


def test_without_json_stdout_stays_empty_on_failure(runner: CliRunner, project: Path) -> None:
    (project / "stacks" / "Pulumi.local.yaml").write_text(
        "config:\n  infra:redis:\n    shards: 2\n"
    )
    code, out, _ = invoke(runner, "outputs", "local")
    assert code == 2 and out == ""


# --- a declined confirmation ----------------------------------------------------------
@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A TTY session; records engine operations that must not happen."""
    called: list[str] = []
    monkeypatch.setattr(cli_app, "interactive", lambda: True)
    monkeypatch.setattr(deploy.Deployer, "destroy", lambda self, ev: called.append("destroy"))
    monkeypatch.setattr(deploy.Deployer, "up", lambda self, ev: called.append("up"))
    monkeypatch.setattr(deploy, "local_containers", lambda: called.append("containers"))
    return called


@pytest.mark.parametrize("answer", ["n\n", "\n", ""], ids=["no", "default", "eof"])
def test_declined_down_is_cancelled_exit_7(
    runner: CliRunner, project: Path, terminal: list[str], answer: str
) -> None:
    code, out, err = invoke(runner, "down", "local", stdin=answer)
    assert code == errors.CANCELLED == 7
    # (the runner does not echo the answer, so here the prompt and the message share a line)
    assert err.rstrip().endswith("cancelled, nothing changed")
    assert "error" not in err and "{" not in out  # the runner echoes the answer on stdout
    assert terminal == []


def test_declined_up_after_its_preview_is_cancelled(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, terminal: list[str]
) -> None:
    from tests.cli.test_cli import fake_preview, pre_event

    monkeypatch.setattr(
        deploy.Deployer,
        "preview",
        fake_preview([pre_event("create", "redis-node-0", "docker:index/container:Container")]),
    )
    code, _, err = invoke(runner, "up", "local", stdin="n\n")
    assert code == 7 and "cancelled, nothing changed" in err
    assert terminal == []


def test_declined_drill_with_json_is_a_json_cancellation(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, terminal: list[str]
) -> None:
    outputs_are(monkeypatch, [deploy.OutputItem("redisMode", "cluster", False)])
    code, out, _ = invoke(runner, "drill", "local", "--json", stdin="n\n")
    assert code == 7
    out = out[out.index("{") :]  # after the runner's echo of the answer
    assert json_error(out) == {"code": 7, "message": "cancelled, nothing changed", "details": []}
    assert terminal == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["preview", "--json"], "Missing argument 'STACK'."),
        (["outputs", "local", "--json", "--bogus"], "No such option: --bogus"),
    ],
)
def test_usage_errors_with_json_are_json_errors_too(
    runner: CliRunner, project: Path, args: list[str], message: str
) -> None:
    code, out, err = invoke(runner, *args)
    assert code == errors.INVALID
    assert json_error(out) == {"code": 2, "message": message, "details": []}
    assert f"Error: {message}" in err


def test_a_multi_line_output_is_one_line_in_the_table() -> None:
    from cli.commands.outputs import one_line

    pem = "-----BEGIN CERTIFICATE-----\nMIIB\nabcd\n-----END CERTIFICATE-----\n"
    assert one_line(pem) == ("-----BEGIN CERTIFICATE----- ... (4 lines; `--json` prints all of it)")
    assert one_line("redis://x") == "redis://x"
