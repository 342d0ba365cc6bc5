"""Finding the project: from the environment, the working directory, or the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.engine import docker_provider
from cli.engine.project import find_project
from tests.cli.conftest import REPO


def test_outside_the_checkout_the_package_location_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFRA_PROJECT_DIR", raising=False)
    assert find_project(start=tmp_path).root == REPO


def test_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: infra\n")
    (tmp_path / "stacks").mkdir()
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(tmp_path))
    assert find_project(start=REPO).root == tmp_path


def test_the_stand_in_plugin_is_found_where_its_package_is() -> None:
    assert (docker_provider.STANDIN_BIN / "pulumi-resource-docker").is_file()
    assert docker_provider.STANDIN_BIN.parent.name == "docker_standin"
