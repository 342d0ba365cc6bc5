"""Which docker provider plugin `infra` hands the engine, and the switch guard."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from cli.engine import docker_provider as dp
from cli.errors import InvalidInput
from providers.docker_standin import MIRRORS, VERSION


def fake_pulumi(tmp_path: Path, exit_code: int, message: str = "") -> str:
    """A `pulumi` whose `plugin install` exits with `exit_code` and records its call."""
    path = tmp_path / "pulumi"
    path.write_text(
        f"#!/bin/sh\necho \"$@\" >> {tmp_path}/calls\necho '{message}' >&2\nexit {exit_code}\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv(dp.CHOICE_VAR, raising=False)
    return {"PULUMI_HOME": str(tmp_path / "home")}


def test_installed_official_plugin_is_used_without_probing(tmp_path: Path, home) -> None:
    plugin = dp.plugin_dir(home) / "pulumi-resource-docker"
    plugin.parent.mkdir(parents=True)
    plugin.write_text("")
    choice = dp.choose(fake_pulumi(tmp_path, 1), home)
    assert choice == dp.OFFICIAL_CHOICE
    assert choice.notice == f"docker provider: the official plugin docker v{MIRRORS}"
    assert not (tmp_path / "calls").exists()


def test_installable_official_plugin_is_installed_and_used(tmp_path: Path, home) -> None:
    choice = dp.choose(fake_pulumi(tmp_path, 0), home)
    assert choice == dp.OFFICIAL_CHOICE
    assert (tmp_path / "calls").read_text().split() == [
        "plugin",
        "install",
        "resource",
        "docker",
        f"v{MIRRORS}",
    ]


def test_stand_in_only_when_the_official_cannot_be_had(tmp_path: Path, home) -> None:
    choice = dp.choose(fake_pulumi(tmp_path, 1, "error: could not download plugin"), home)
    assert choice.kind == dp.STANDIN
    assert choice.notice == (
        f"docker provider: infra's offline docker stand-in {VERSION} (the official plugin "
        f"docker v{MIRRORS} is not installed and could not be: could not download "
        "plugin); see docs/docker-standin.md"
    )


def test_stand_in_on_request_skips_the_install(tmp_path: Path, home, monkeypatch) -> None:
    monkeypatch.setenv(dp.CHOICE_VAR, "standin")
    choice = dp.choose(fake_pulumi(tmp_path, 0), home)
    assert choice.kind == dp.STANDIN and "INFRA_DOCKER_PROVIDER=standin" in choice.notice
    assert not (tmp_path / "calls").exists()


def test_official_on_request_never_falls_back(tmp_path: Path, home, monkeypatch) -> None:
    monkeypatch.setenv(dp.CHOICE_VAR, "official")
    assert dp.choose(fake_pulumi(tmp_path, 1), home).kind == dp.OFFICIAL


def test_bad_choice_is_refused(tmp_path: Path, home, monkeypatch) -> None:
    monkeypatch.setenv(dp.CHOICE_VAR, "mine")
    with pytest.raises(InvalidInput, match="INFRA_DOCKER_PROVIDER='mine' is not valid"):
        dp.choose(fake_pulumi(tmp_path, 0), home)


def test_stand_in_environment_puts_it_first_on_path() -> None:
    env = dp.Choice(dp.STANDIN).engine_env({"PATH": "/usr/bin"})
    assert env["PATH"] == f"{dp.STANDIN_BIN}{os.pathsep}/usr/bin"
    assert env["PULUMI_IGNORE_AMBIENT_PLUGINS"] == "false"
    assert os.access(dp.STANDIN_BIN / "pulumi-resource-docker", os.X_OK)
    assert dp.Choice(dp.OFFICIAL).engine_env({"PATH": "/usr/bin"}) == {"PATH": "/usr/bin"}


@pytest.mark.parametrize("recorded", [None, dp.STANDIN])
def test_same_or_no_recorded_provider_passes(recorded: str | None) -> None:
    assert dp.check_switch("local", recorded, dp.Choice(dp.STANDIN)) is None


def test_a_silent_switch_is_refused(monkeypatch) -> None:
    monkeypatch.delenv(dp.SWITCH_VAR, raising=False)
    with pytest.raises(InvalidInput) as caught:
        dp.check_switch("local", dp.STANDIN, dp.Choice(dp.OFFICIAL))
    assert caught.value.message == (
        "stack 'local' was deployed with the offline stand-in docker provider, "
        "but infra would now use the official one"
    )
    assert any("INFRA_DOCKER_PROVIDER=standin" in d for d in caught.value.details)
    monkeypatch.setenv(dp.SWITCH_VAR, "yes")
    dp.check_switch("local", dp.STANDIN, dp.Choice(dp.OFFICIAL))


def test_a_failed_install_is_remembered_for_an_hour(tmp_path: Path, home, monkeypatch) -> None:
    cache = tmp_path / "cache.json"
    pulumi = fake_pulumi(tmp_path, 1, "error:  failed all 5 attempts")
    first = dp.choose(pulumi, home, cache)
    second = dp.choose(pulumi, home, cache)
    assert first.kind == second.kind == dp.STANDIN
    assert len((tmp_path / "calls").read_text().splitlines()) == 1
    assert "could not be: failed all 5 attempts" in first.notice
    assert f"infra retries the install hourly, or delete {cache}" in second.notice
    later = time.time() + dp.RETRY_AFTER_S + 1
    monkeypatch.setattr(dp.time, "time", lambda: later)
    dp.choose(pulumi, home, cache)
    assert len((tmp_path / "calls").read_text().splitlines()) == 2
