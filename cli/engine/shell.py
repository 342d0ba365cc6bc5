"""What the user's shell sees: the commands messages suggest, and the Pulumi CLI infra runs.

Every command a message suggests must work when pasted. On a fresh checkout two
things break that: `infra` is run as `./infra` (the wrapper at the repository
root) or `.venv/bin/infra`, not from PATH; and the `pulumi` that
scripts/ensure-pulumi.sh built lives in .tools/pulumi/bin, which the engine gets
on its PATH (cli/project.engine_env) but the user's shell does not.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from cli.engine.project import Project, find_project
from cli.errors import InfraError

# Set by the ./infra wrapper to the path it was invoked as (e.g. `./infra`).
PROG_VAR = "INFRA_PROG"
VERSION_TIMEOUT_S = 5


def infra_command(args: str) -> str:
    """`infra <args>` spelled the way this process was started."""
    return f"{os.environ.get(PROG_VAR) or 'infra'} {args}"


def _project() -> Project | None:
    try:
        return find_project()
    except InfraError:
        return None


def engine_path(project: Project | None) -> str:
    """PATH as the engine gets it: the project-local CLI first (cli/project.engine_env)."""
    path = os.environ.get("PATH", "")
    if project is not None and project.tools_bin.is_dir():
        return f"{project.tools_bin}{os.pathsep}{path}"
    return path


def pulumi_binary(project: Project | None = None) -> str | None:
    """The `pulumi` the engine runs for this project, if any."""
    return shutil.which("pulumi", path=engine_path(project or _project()))


def pulumi_command(args: str) -> str:
    """`pulumi <args>` as the user can paste it: plain `pulumi` when their PATH finds
    the binary infra uses, else that binary's path (relative when below the cwd)."""
    binary = pulumi_binary()
    on_path = shutil.which("pulumi")
    if binary is None or (on_path and os.path.samefile(on_path, binary)):
        return f"pulumi {args}"
    path = Path(binary)
    cwd = Path.cwd()
    shown = str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
    return f"{shlex.quote(shown)} {args}"


def pulumi_version(binary: str) -> str | None:
    """What `pulumi version` prints (e.g. v3.274.0), or None if it does not answer."""
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    try:
        done = subprocess.run(
            [binary, "version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def engine_description() -> str:
    """`pulumi CLI <version> at <path>`: the engine `infra` would run, for --version."""
    binary = pulumi_binary()
    if binary is None:
        return "no pulumi CLI found: run scripts/ensure-pulumi.sh"
    version = pulumi_version(binary)
    if version is None:
        return f"pulumi CLI at {binary} did not report a version"
    return f"pulumi CLI {version} at {binary}"
