"""The engine service asks a Pulumi binary for its version once, not on every command."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cli.engine.deploy import KnownPulumiCommand


def fake_cli(root: Path, version: str) -> Path:
    binary = root / "bin" / "pulumi"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text(f'#!/bin/sh\necho "$@" >> {root}/calls\necho v{version}\n')
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def calls(root: Path) -> list[str]:
    path = root / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_version_is_asked_once_per_binary(tmp_path: Path) -> None:
    cache = tmp_path / "version.json"
    binary = fake_cli(tmp_path, "3.274.0")
    first = KnownPulumiCommand(str(tmp_path), cache)
    second = KnownPulumiCommand(str(tmp_path), cache)
    assert calls(tmp_path) == ["version"]
    assert str(first.version) == str(second.version) == "3.274.0"
    assert second.command == str(binary)


def test_a_rebuilt_binary_is_asked_again(tmp_path: Path) -> None:
    cache = tmp_path / "version.json"
    binary = fake_cli(tmp_path, "3.274.0")
    KnownPulumiCommand(str(tmp_path), cache)
    fake_cli(tmp_path, "3.275.0")
    os.utime(binary, ns=(1, 1))
    assert str(KnownPulumiCommand(str(tmp_path), cache).version) == "3.275.0"
    assert calls(tmp_path) == ["version", "version"]
