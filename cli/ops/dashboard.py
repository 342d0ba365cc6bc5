"""The drills the monitoring dashboard shows: `infra drill` appends its
timeline to `drills.json` in the dashboard container's served directory.

Written through the Docker API (get_archive / put_archive), so no shell, no
bind mount and no port other than the page's: the file lives with the
container, and a replaced dashboard container starts with no drill.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

from docker.errors import NotFound
from docker.models.containers import Container

from cli.ops.container_files import put_file
from components.monitoring import DASHBOARD_ROOT

DRILLS_FILE = "drills.json"
# The page shows these many, newest first.
KEPT = 20


def read_drills(container: Container) -> list[dict[str, Any]]:
    try:
        chunks, _ = container.get_archive(f"{DASHBOARD_ROOT}/{DRILLS_FILE}")
    except NotFound:
        return []
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
        member = archive.extractfile(DRILLS_FILE)
        return list(json.load(member)) if member else []


def record_drill(container: Container, entry: dict[str, Any]) -> None:
    """Append one drill (no secret: names, addresses, seconds) and keep the last KEPT."""
    drills = [*read_drills(container), entry][-KEPT:]
    data = json.dumps(drills, indent=1).encode()
    put_file(container, DASHBOARD_ROOT, DRILLS_FILE, data)


def drill_entry(result: dict[str, Any], nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The drill's figures plus the node names of its two addresses."""
    names = {f"{n['ip']}:{n['port']}": n["name"] for n in nodes}
    return {
        **result,
        "victim_name": names.get(result["victim"], "?"),
        "promoted_name": names.get(result["promoted"], "?"),
    }
