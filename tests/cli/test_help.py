"""`--help`, `--version`, and commands in messages that work when pasted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from cli import errors
from cli.engine import deploy, shell
from cli.main import app
from tests.cli.conftest import REPO

COMMANDS = [
    "validate",
    "preview",
    "up",
    "down",
    "refresh",
    "outputs",
    "status",
    "drill",
    "init",
    "rotate",
]


def help_of(runner: CliRunner, *command: str) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["infra", *COMMANDS])
def test_help_shows_no_types_for_flags_and_names_for_values(
    runner: CliRunner, command: list[str]
) -> None:
    text = help_of(runner, *command)
    for noise in (
        "<bool>",
        "<int>",
        "<str>",
        "{stack}",
        "{STACK}",
        "[default: 0]",
        "[default: False]",
    ):
        assert noise not in text, (noise, text)
    usage = text.strip().splitlines()[0]
    if command:
        assert usage == f"Usage: infra {command[0]} [OPTIONS] STACK"
        assert f"infra {command[0]} " in text.split("Arguments:")[0]  # an example
        assert "STACK  The stack: stacks/Pulumi.<STACK>.yaml.  [required]" in text
    else:
        assert usage == "Usage: infra [OPTIONS] COMMAND [ARGS]..."
        assert "-v, --verbose  More output" in text
        assert "6 nothing deployed, 7 cancelled" in text


def test_help_lists_flags_like_pulumi(runner: CliRunner) -> None:
    text = help_of(runner, "init")
    assert "-t, --template NAME  The template: local or production.  [default: local]" in text
    assert "  --force              Overwrite an existing stack file." in text
    text = help_of(runner, "down")
    assert "-y, --yes  Do not ask for confirmation (required without a TTY)." in text
    text = help_of(runner, "rotate")
    assert "-u, --user NAME  The user to rotate (repeat for several)" in text
    assert "  --finish         End the rotation" in text


# --- --version: the SDK and the engine actually used -------------------------------------
def fake_pulumi(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / "pulumi"
    binary.write_text(f'#!/bin/sh\necho "{version}"\necho "$@" >> "{directory}/calls"\n')
    binary.chmod(0o755)
    return binary


def test_version_without_a_pulumi_cli(runner: CliRunner, project: Path, no_pulumi: None) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == (
        "infra 0.1.0 (pulumi SDK 3.272.0; no pulumi CLI found: run scripts/ensure-pulumi.sh)\n"
    )


def test_version_names_the_engine_infra_would_use(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    on_path = fake_pulumi(tmp_path / "bin", "v3.999.0")
    monkeypatch.setenv("PATH", str(on_path.parent))
    out = runner.invoke(app, ["--version"]).stdout
    assert out == f"infra 0.1.0 (pulumi SDK 3.272.0; pulumi CLI v3.999.0 at {on_path})\n"

    local = fake_pulumi(project / ".tools" / "pulumi" / "bin", "v3.274.0")  # preferred
    out = runner.invoke(app, ["--version"]).stdout
    assert out == f"infra 0.1.0 (pulumi SDK 3.272.0; pulumi CLI v3.274.0 at {local})\n"


# --- suggested commands work when pasted ----------------------------------------------
def plugin_missing(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> str:
    def preview(self: deploy.Deployer, on_event: object, diff: bool = False) -> None:
        with deploy.engine_errors("local"):
            raise auto.CommandError(
                auto.CommandResult(
                    stdout="",
                    stderr="error: no resource plugin 'pulumi-resource-docker' found in the "
                    "workspace at version v4.11.2 or on your $PATH",
                    code=255,
                )
            )

    monkeypatch.setattr(deploy.Deployer, "preview", preview)
    result = runner.invoke(app, ["preview", "local"])
    assert result.exit_code == errors.TOOL_MISSING
    line = result.stderr.strip().splitlines()[0]
    return line.split("`")[1]


def test_suggested_pulumi_command_runs_the_project_cli_when_it_is_not_on_path(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, no_pulumi: None
) -> None:
    local = fake_pulumi(project / ".tools" / "pulumi" / "bin", "v3.274.0")
    monkeypatch.chdir(project)
    suggested = plugin_missing(runner, monkeypatch)
    assert suggested == ".tools/pulumi/bin/pulumi plugin install resource docker v4.11.2"
    # the user's shell: a PATH without .tools/pulumi/bin
    pasted = subprocess.run(
        ["/bin/sh", "-c", suggested], cwd=project, env={"PATH": "/usr/bin:/bin"}
    )
    assert pasted.returncode == 0
    assert (local.parent / "calls").read_text() == "plugin install resource docker v4.11.2\n"


def test_suggested_pulumi_command_is_plain_when_path_finds_it(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    on_path = fake_pulumi(tmp_path / "bin", "v3.274.0")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert plugin_missing(runner, monkeypatch) == "pulumi plugin install resource docker v4.11.2"


def test_suggested_infra_commands_use_the_wrapper_name(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(shell.PROG_VAR, "./infra")
    result = runner.invoke(app, ["down", "local"])
    assert result.exit_code == 2
    assert "`./infra down local` needs --yes when not run from a terminal" in result.stderr
    monkeypatch.setattr(deploy.Deployer, "outputs", lambda self: [])
    result = runner.invoke(app, ["status", "local"])
    assert "run `./infra up local`" in result.stderr


def test_the_repository_wrapper_runs_infra_and_names_itself(project: Path) -> None:
    env = {**os.environ, "INFRA_PROJECT_DIR": str(project), "NO_COLOR": "1"}
    env.pop("CI", None)
    done = subprocess.run(
        [str(REPO / "infra"), "up", "local"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"`{REPO / 'infra'} up local` needs --yes" in done.stderr
