"""The local stack file: git-ignored, created from the template, comments kept on writes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from cli.engine import deploy, localstack
from cli.engine.project import Project
from cli.main import app
from tests.cli.conftest import REPO

TEMPLATE = (REPO / "templates" / "local.yaml").read_text()


def test_the_local_stack_file_is_git_ignored() -> None:
    """Generated secrets and salt land in it: tracked, it would dirty `git status`."""
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", "stacks/Pulumi.local.yaml"], cwd=REPO
    )
    assert ignored.returncode == 0, ".gitignore must list stacks/Pulumi.local.yaml"


def test_first_use_creates_it_from_the_template_with_a_note(
    runner: CliRunner, project: Path
) -> None:
    path = project / "stacks" / "Pulumi.local.yaml"
    path.unlink()
    result = runner.invoke(app, ["validate", "local"])
    assert result.exit_code == 0, result.stderr
    assert path.read_text() == localstack.NOTE + TEMPLATE
    assert (
        "created stacks/Pulumi.local.yaml from templates/local.yaml (git-ignored: edit it freely)"
        in result.stderr
    )
    before = path.read_text()
    path.write_text(before + "# my own edit\n")
    assert runner.invoke(app, ["validate", "local"]).exit_code == 0
    assert path.read_text() == before + "# my own edit\n"  # never recreated over edits


def test_other_stacks_are_never_created(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["validate", "staging"])
    assert result.exit_code == 2 and not (project / "stacks" / "Pulumi.staging.yaml").exists()


def pulumi_rewrite(path: Path, add_top: dict[str, Any], add_config: dict[str, Any]) -> None:
    """What Pulumi does to a stack file: re-serialise it (comments gone), adding keys."""
    doc = yaml.safe_load(path.read_text())
    doc = {**add_top, **doc}
    doc["config"].update(add_config)
    path.write_text(yaml.safe_dump(doc, indent=4))


class FakeStack:
    """An `auto.Stack` whose config writes behave like Pulumi's on the stack file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get_all_config(self) -> dict[str, Any]:
        return yaml.safe_load(self.path.read_text())["config"]

    def set_config(self, key: str, value: Any) -> None:
        pulumi_rewrite(self.path, {"encryptionsalt": "v1:salt=="}, {key: {"secure": "v1:x"}})


def test_generated_secrets_keep_the_file_text_and_only_add_lines(project: Path) -> None:
    path = project / "stacks" / "Pulumi.local.yaml"
    before = path.read_text()
    deployer = deploy.Deployer(Project(project), "local")
    generated = deployer.ensure_secrets(FakeStack(path), generate=True)  # type: ignore[arg-type]

    after = path.read_text()
    assert generated
    assert after.startswith(localstack.NOTE)
    kept = [line for line in after.splitlines(keepends=True) if line in before.splitlines(True)]
    assert "".join(kept) == before  # every original line, comments and alignment, in order
    added = after.splitlines()[len(before.splitlines()) :]
    assert "encryptionsalt: v1:salt==" in after
    assert all(f"  infra:{key}:" in added for key in generated)
    assert yaml.safe_load(after)["config"]["infra:redis"]["shards"] == 3


def test_merge_gives_up_rather_than_lose_a_change_it_does_not_know() -> None:
    doc = yaml.safe_load(TEMPLATE)
    doc["config"]["infra:redis"]["shards"] = 5  # Pulumi changed a value: keep its text
    assert localstack.merge_additions(TEMPLATE, yaml.safe_dump(doc)) is None
    assert localstack.merge_additions("config: {}\n", "config:\n  a:b: {secure: s}\n") is None


def test_merge_places_new_keys_where_they_belong() -> None:
    before = "# head\nconfig:\n    app:x: 1   # aligned\n# about other\nother: 2\n"
    after = "encryptionsalt: s\nconfig:\n  app:x: 1\n  app:y:\n    secure: z\nother: 2\n"
    assert localstack.merge_additions(before, after) == (
        "# head\nencryptionsalt: s\nconfig:\n    app:x: 1   # aligned\n"
        "    app:y:\n      secure: z\n# about other\nother: 2\n"
    )
