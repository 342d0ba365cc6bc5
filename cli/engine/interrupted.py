"""A change that `infra up` did not finish: killed (SIGKILL, a crash, a lost CI
runner) or stopped (Ctrl-C, SIGINT, which the engine turns into a clean cancel).

Rolling replacement and scaling run as hooks inside one `up`, so a change cut
short leaves the tier healthy but half-changed (some nodes on the new config,
some on the old). The next `up` finishes it: the engine re-plans what is left,
and the hooks plan from the live cluster. What stands in the way is the file
backend's lock of a killed run, which Pulumi cannot tell from a live one; a lock
whose process is gone from this very host is stale, and is removed with a line
saying so (https://www.pulumi.com/docs/iac/concepts/state-and-backends/).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any


def lock_files(backend_url: str | None, stack: str) -> list[Path]:
    """The lock files of `stack` in a file backend (none for other backends)."""
    if not backend_url or not backend_url.startswith("file://"):
        return []
    root = Path(backend_url.removeprefix("file://")) / ".pulumi" / "locks"
    return sorted(root.glob(f"**/{stack}/*.json"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale(path: Path) -> dict[str, Any] | None:
    """The lock's content when its process is gone from this host, else None."""
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = info.get("pid")
    if info.get("hostname") != socket.gethostname() or not isinstance(pid, int):
        return None
    return None if alive(pid) else info


def clear_stale(backend_url: str | None, stack: str, notify: Callable[[str], None]) -> bool:
    """Remove the stack's stale locks; True if there was one (a run was killed)."""
    found = False
    for path in lock_files(backend_url, stack):
        info = stale(path)
        if info is None:
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        found = True
        notify(
            f"removed the lock left by a run that no longer exists (pid {info.get('pid')}, "
            f"{info.get('timestamp', 'time unknown')}): its change is finished by this one"
        )
    return found


def findings(
    backend_url: str | None, stack: str, pending: list[dict[str, Any]], last: Any | None
) -> list[str]:
    """What says the last change is half-done: a stale lock, operations the
    engine had in flight, or a last update that did not succeed."""
    out = []
    for path in lock_files(backend_url, stack):
        info = stale(path)
        if info is not None:
            out.append(
                f"an update was killed (pid {info.get('pid')}, {info.get('timestamp', '?')})"
            )
    if pending:
        names = ", ".join(
            f"{p.get('type', '?')} {str(p.get('resource', {}).get('urn', '')).rsplit('::', 1)[-1]}"
            for p in pending[:5]
        )
        out.append(f"{len(pending)} operation(s) were in flight: {names}")
    if last is not None and last.kind == "update" and last.result != "succeeded":
        out.append(f"the last update ended '{last.result}' at {last.end_time or last.start_time}")
    return out


CONTAINER = "docker:index/container:Container"


def pending_creates(pending: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    """(container name, labels) of containers whose create a killed run left
    unfinished: Docker may hold a container the state does not, under the fixed
    name the next create needs."""
    out = []
    for op in pending:
        resource = op.get("resource") or {}
        if op.get("type") != "creating" or resource.get("type") != CONTAINER:
            continue
        inputs = resource.get("inputs") or {}
        labels = {item.get("label"): item.get("value") for item in inputs.get("labels") or []}
        if inputs.get("name"):
            out.append((str(inputs["name"]), labels))
    return out


def remove_orphans(
    containers: Any, orphans: list[tuple[str, dict[str, str]]], notify: Callable[[str], None]
) -> None:
    """Remove each half-created container that carries the labels the stack gave
    it (its data volume stays; the engine creates the container again)."""
    import docker.errors

    for name, labels in orphans:
        try:
            found = containers.get(name)
        except docker.errors.NotFound:
            continue
        if labels and all(found.labels.get(k) == v for k, v in labels.items()):
            found.remove(force=True)
            notify(f"removed {name}: a killed run created it but never recorded it")
