"""`infra` through Typer's runner: exit codes, messages, non-TTY behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from cli import errors
from cli.engine import deploy
from cli.main import app
from tests.cli.conftest import files_under


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "--version")
    assert code == 0 and out.startswith("infra 0.1.0 (pulumi SDK 3.272.0; ")


def test_validate_local(runner: CliRunner, project: Path) -> None:
    code, out, _ = invoke(runner, "validate", "local")
    assert code == 0
    assert (
        "Pulumi.local.yaml is valid: redis cluster 3x(1+1) over TLS, users: app (readwrite), "
        "reports (readonly), mongo replica set of 3"
    ) in out


def test_validate_shows_placement_over_hosts_and_warns_of_co_location(
    runner: CliRunner, project: Path
) -> None:
    hosts = "".join(
        f"    - {{name: {n}, docker: 'unix:///run/{n}.sock', address: 10.0.0.{i}}}\n"
        for i, n in enumerate("ab", start=11)
    )
    (project / "stacks" / "Pulumi.mh.yaml").write_text(
        f"config:\n  infra:hosts:\n{hosts}"
        "  infra:redis:\n    placement: {allowColocation: true}\n"
    )
    code, out, err = invoke(runner, "validate", "mh")
    assert code == 0, err
    assert "placement of redis: a: nodes 0, 2, 4 | b: nodes 1, 3, 5" in out
    assert "warning: redis.placement: co-located: 3 shards x (1 + 1) need at least 3 hosts" in err
    (project / "stacks" / "Pulumi.mh.yaml").write_text(f"config:\n  infra:hosts:\n{hosts}")
    code, _, err = invoke(runner, "validate", "mh")
    assert code == 2 and "redis.placement: 3 shards x (1 + 1) need at least 3 hosts" in err


def test_invalid_config_lists_every_problem_exit_2_and_touches_nothing(
    runner: CliRunner, project: Path
) -> None:
    stack_file = project / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text(
        "config:\n  infra:redis:\n    shards: 2\n    memoryMb: 1\n  infra:network:\n"
        "    subnet: 1.2.3.0/24\n"
    )
    before = files_under(project)
    for args in (
        ["validate", "local"],
        ["preview", "local"],
        ["up", "local", "--yes"],
        ["down", "local", "--yes"],
    ):
        code, _, err = invoke(runner, *args)
        assert code == errors.INVALID, args
        assert "invalid config in stacks/Pulumi.local.yaml" in err
        assert "- redis.memoryMb: Input should be greater than or equal to 32" in err
        assert "- network.subnet: 1.2.3.0/24 is not a private range" in err
        assert "Traceback" not in err
    assert files_under(project) == before


def test_unknown_stack(runner: CliRunner, project: Path) -> None:
    code, _, err = invoke(runner, "validate", "staging")
    assert code == 2 and "no such stack file: create it with `infra init staging`" in err


def test_bad_stack_name(runner: CliRunner, project: Path) -> None:
    code, _, err = invoke(runner, "validate", "../etc")
    assert code == 2 and "stack name '../etc' is invalid" in err


@pytest.mark.parametrize("command", ["up", "down"])
def test_up_and_down_need_yes_without_a_tty(runner: CliRunner, project: Path, command: str) -> None:
    before = files_under(project)
    code, _, err = invoke(runner, command, "local")
    assert code == 2
    assert f"`infra {command} local` needs --yes when not run from a terminal" in err
    assert files_under(project) == before


def test_missing_pulumi_cli_is_one_line_exit_4(
    runner: CliRunner, project: Path, no_pulumi: None
) -> None:
    code, _, err = invoke(runner, "preview", "local")
    assert code == errors.TOOL_MISSING
    assert err.strip().splitlines()[0] == (
        "error: the Pulumi CLI is not installed: install it (https://www.pulumi.com/docs/install/)"
        " or run scripts/ensure-pulumi.sh, which also builds it offline from the Go module proxy"
    )
    assert "Traceback" not in err
    assert not (project / ".pulumi-state").exists()


def test_missing_docker_engine_is_exit_4(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{project}/no-docker.sock")
    code, _, err = invoke(runner, "up", "local", "--yes")
    assert code == errors.TOOL_MISSING
    assert f"error: no Docker engine answers at unix://{project}/no-docker.sock" in err
    assert "scripts/setup-docker.sh" in err


def test_non_local_stack_needs_backend_and_secrets(runner: CliRunner, project: Path) -> None:
    (project / "stacks" / "Pulumi.production.yaml").write_text(
        (project / "templates" / "production.yaml").read_text()
    )
    code, _, err = invoke(runner, "preview", "production")
    assert code == 2
    assert "stack 'production' needs an explicit backend and secrets" in err
    assert "PULUMI_BACKEND_URL is not set" in err
    assert "PULUMI_CONFIG_PASSPHRASE" in err


def test_init_refuses_unknown_template_and_overwrite(runner: CliRunner, project: Path) -> None:
    code, _, err = invoke(runner, "init", "dev", "--template", "huge")
    assert code == 2 and "no template 'huge': use one of local, production" in err
    code, _, err = invoke(runner, "init", "local")
    assert code == 2 and "stacks/Pulumi.local.yaml exists: pass --force" in err


def test_unknown_option_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["preview", "local", "--frobnicate"])
    assert result.exit_code == 2


# --- the deploy service is replaced at the engine boundary below ---------------


def pre_event(op: str, name: str, type_: str, diffs: list[str] | None = None) -> auto.EngineEvent:
    meta = auto.StepEventMetadata(
        op=auto.OpType(op),
        urn=f"urn:pulumi:local::infra::{type_}::{name}",
        type=type_,
        provider="",
        diffs=diffs,
    )
    return auto.EngineEvent(
        sequence=0, timestamp=0, resource_pre_event=auto.ResourcePreEvent(metadata=meta)
    )


def fake_preview(events: list[auto.EngineEvent]):
    def preview(self, on_event, diff=False):
        from cli.engine.plan import PlanRecorder

        recorder = PlanRecorder(self.stack_name)
        for event in events:
            recorder(event)
            on_event(event)
        return recorder

    return preview


def test_preview_json_is_a_plan_on_stdout(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        deploy.Deployer,
        "preview",
        fake_preview(
            [
                pre_event("create", "redis-node-0", "docker:index/container:Container"),
                pre_event("update", "redis-init", "docker:index/container:Container", ["envs"]),
                pre_event("same", "network", "docker:index/network:Network"),
            ]
        ),
    )
    code, out, _ = invoke(runner, "preview", "local", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["stack"] == "local"
    assert plan["hasChanges"] is True
    assert plan["changeSummary"] == {"create": 1, "same": 1, "update": 1}
    assert [(s["op"], s["name"], s["diffs"]) for s in plan["steps"]] == [
        ("create", "redis-node-0", []),
        ("update", "redis-init", ["envs"]),
    ]


def test_expect_no_changes(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        deploy.Deployer,
        "preview",
        fake_preview([pre_event("same", "network", "docker:index/network:Network")]),
    )
    assert invoke(runner, "preview", "local", "--expect-no-changes")[0] == 0
    monkeypatch.setattr(
        deploy.Deployer,
        "preview",
        fake_preview(
            [pre_event("replace", "redis-node-1", "docker:index/container:Container", ["command"])]
        ),
    )
    code, _, err = invoke(runner, "preview", "local", "--expect-no-changes")
    assert code == errors.CHANGES_FOUND
    assert "preview of 'local' has changes" in err and "replace" in err


def test_plain_progress_lines_without_a_tty(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        deploy.Deployer,
        "preview",
        fake_preview([pre_event("create", "redis-node-0", "docker:index/container:Container")]),
    )
    code, _, err = invoke(runner, "preview", "local")
    assert code == 0
    assert "+ create   docker:index/container:Container redis-node-0" in err
    assert "preview local finished in" in err and "1 create" in err


def test_outputs_hide_secrets_unless_asked(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [
        deploy.OutputItem("redisPassword", "hunter2-hunter2-hunter2", True),
        deploy.OutputItem("redisMode", "cluster", False),
    ]
    monkeypatch.setattr(deploy.Deployer, "outputs", lambda self: items)
    code, out, _ = invoke(runner, "outputs", "local")
    assert code == 0 and "[secret]" in out and "hunter2" not in out
    code, out, _ = invoke(runner, "outputs", "local", "--json")
    assert json.loads(out) == {"redisPassword": "[secret]", "redisMode": "cluster"}
    code, out, _ = invoke(runner, "outputs", "local", "--json", "--show-secrets")
    assert json.loads(out)["redisPassword"] == "hunter2-hunter2-hunter2"


def test_engine_failure_is_exit_1_without_traceback(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self, on_event, diff=False):
        with deploy.engine_errors("local"):
            raise auto.CommandError(
                auto.CommandResult(
                    stdout="", stderr="error: something broke in the provider", code=255
                )
            )

    monkeypatch.setattr(deploy.Deployer, "preview", boom)
    code, _, err = invoke(runner, "preview", "local")
    assert code == errors.FAILED
    assert "the Pulumi engine failed on stack 'local'" in err
    assert "something broke in the provider" in err and "Traceback" not in err
    code, _, err = invoke(runner, "-v", "preview", "local")
    assert code == errors.FAILED and "Traceback" in err


def test_locked_stack_is_exit_5(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(self, on_event):
        with deploy.engine_errors("local"):
            raise auto.ConcurrentUpdateError(
                auto.CommandResult(
                    stdout="", stderr="error: the stack is currently locked by 1 lock(s)", code=255
                )
            )

    monkeypatch.setattr(deploy.Deployer, "up", locked)
    monkeypatch.setenv("INFRA_SKIP_DOCKER_CHECK", "1")
    code, _, err = invoke(runner, "up", "local", "--yes")
    assert code == errors.STACK_LOCKED
    assert "stack 'local' is locked by another update" in err


def test_unexpected_errors_are_one_line(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self):
        raise ValueError("secret-looking-local-value")

    monkeypatch.setattr(deploy.Deployer, "outputs", broken)
    code, _, err = invoke(runner, "outputs", "local")
    assert code == 1
    assert err.strip() == (
        "internal error: ValueError: secret-looking-local-value (rerun with -v for details)"
    )


def test_remote_docker_host_skips_the_local_engine_check(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, no_pulumi: None
) -> None:
    """With `docker:host` in the stack file the engine is remote: a missing local
    engine must not stop `up`; the next gate (the Pulumi CLI) speaks instead."""
    stack_file = project / "stacks" / "Pulumi.local.yaml"
    stack_file.write_text(stack_file.read_text() + "  docker:host: ssh://deploy@db1\n")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{project}/no-docker.sock")
    code, _, err = invoke(runner, "up", "local", "--yes")
    assert code == errors.TOOL_MISSING
    assert "the Pulumi CLI is not installed" in err and "Docker" not in err


def test_restore_of_a_directory_that_is_no_backup_is_exit_2_before_any_engine_call(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    before = files_under(project)
    code, _, err = invoke(runner, "restore", "local", str(tmp_path), "--yes")
    assert code == errors.INVALID
    assert f"cannot restore {tmp_path}: {tmp_path} is not a backup: it has no manifest.json" in err
    assert files_under(project) == before
