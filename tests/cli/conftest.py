"""CLI tests run `infra` through Typer's runner on a copy of the project."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.engine import localstack
from cli.engine.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield make_project(tmp_path, monkeypatch)


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch copy of the project (Pulumi.yaml, stacks/, templates/), no tools, with
    the local stack file as infra creates it on first use (never the developer's own)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", root)
    shutil.copytree(
        REPO / "stacks",
        root / "stacks",
        ignore=shutil.ignore_patterns("__pycache__", "*.py", "config", "Pulumi.local.yaml"),
    )
    shutil.copytree(REPO / "templates", root / "templates")
    localstack.ensure_stack_file(Project(root), "local")
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(root))
    for var in (
        "PULUMI_BACKEND_URL",
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_CONFIG_PASSPHRASE_FILE",
        "CI",
        "INFRA_PROG",
    ):
        monkeypatch.delenv(var, raising=False)
    return root


@pytest.fixture
def no_pulumi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH on which no `pulumi` exists."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
