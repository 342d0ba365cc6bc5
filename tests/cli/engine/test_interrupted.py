"""A killed `infra up`: its stale lock, its half-created containers, and what
`status` says about the change it left half-done (cli/engine/interrupted.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

from cli.engine import interrupted


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def lock(root: Path, stack: str, pid: int, host: str | None = None) -> Path:
    path = root / ".pulumi" / "locks" / "organization" / "infra" / stack / "a.json"
    path.parent.mkdir(parents=True)
    info = {"pid": pid, "hostname": host or socket.gethostname(), "timestamp": "t0"}
    path.write_text(json.dumps(info))
    return path


def test_the_lock_of_a_dead_process_on_this_host_is_removed_with_a_line(tmp_path: Path) -> None:
    path = lock(tmp_path, "prod", dead_pid())
    said: list[str] = []
    assert interrupted.clear_stale(tmp_path.as_uri(), "prod", said.append)
    assert not path.exists() and "no longer exists" in said[0]


def test_a_live_or_foreign_lock_is_kept(tmp_path: Path) -> None:
    mine = lock(tmp_path / "a", "prod", os.getpid())
    foreign = lock(tmp_path / "b", "prod", dead_pid(), host="another-host")
    for root in ("a", "b"):
        assert not interrupted.clear_stale((tmp_path / root).as_uri(), "prod", print)
    assert mine.exists() and foreign.exists()


def test_service_backends_have_no_lock_files_to_look_at() -> None:
    assert interrupted.lock_files("https://api.pulumi.com", "prod") == []
    assert interrupted.lock_files(None, "prod") == []


def test_findings_name_the_stale_lock_the_operations_in_flight_and_a_failed_update(
    tmp_path: Path,
) -> None:
    lock(tmp_path, "prod", dead_pid())
    pending = [{"type": "deleting", "resource": {"urn": "urn:...::redis-node-1"}}]
    last = SimpleNamespace(kind="update", result="failed", end_time="t1", start_time="t0")
    found = interrupted.findings(tmp_path.as_uri(), "prod", pending, last)
    assert found == [
        "an update was killed (pid " + found[0].split("pid ")[1],
        "1 operation(s) were in flight: deleting redis-node-1",
        "the last update ended 'failed' at t1",
    ]
    done = SimpleNamespace(kind="update", result="succeeded", end_time="t1", start_time="t0")
    assert interrupted.findings(None, "prod", [], done) == []


def test_pending_creates_are_the_containers_a_killed_run_may_have_left() -> None:
    labels = [{"label": "infra.stack", "value": "prod"}]
    pending = [
        {
            "type": "creating",
            "resource": {
                "type": interrupted.CONTAINER,
                "inputs": {"name": "infra-prod-redis-1", "labels": labels},
            },
        },
        {"type": "deleting", "resource": {"type": interrupted.CONTAINER, "inputs": {}}},
        {"type": "creating", "resource": {"type": "docker:index/volume:Volume", "inputs": {}}},
    ]
    assert interrupted.pending_creates(pending) == [("infra-prod-redis-1", {"infra.stack": "prod"})]
