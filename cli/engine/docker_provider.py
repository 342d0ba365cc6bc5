"""Which docker provider plugin the engine uses: the official one, or infra's stand-in.

The official `pulumi-resource-docker` is used wherever it is installed or can be
installed. Only where neither holds (no network to its download, as on the project's
build machines) does infra put its offline stand-in (`providers/docker_standin`) on
the engine's PATH, and says so in one line. A stack remembers which one deployed it
(stack tag `infra:docker-provider`) and infra refuses to switch silently.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cli.errors import InvalidInput
from providers import docker_standin
from providers.docker_standin import MIRRORS, NAME, VERSION

OFFICIAL = "official"
STANDIN = "standin"
CHOICE_VAR = "INFRA_DOCKER_PROVIDER"
SWITCH_VAR = "INFRA_DOCKER_PROVIDER_SWITCH"
TAG = "infra:docker-provider"
# The package ships its plugin wrapper (package data), wherever it is installed.
STANDIN_BIN = Path(docker_standin.__file__).resolve().parent / "bin"
INSTALL_TIMEOUT_S = 60
# A failed install is not retried for this long: offline, each attempt costs the
# engine's five download retries (about 3 s) on every command.
RETRY_AFTER_S = 3600


@dataclass(frozen=True)
class Choice:
    kind: str  # OFFICIAL | STANDIN
    notice: str = ""

    def engine_env(self, env: dict[str, str]) -> dict[str, str]:
        """The engine's environment with the stand-in first on PATH (stand-in only)."""
        if self.kind != STANDIN:
            return env
        path = env.get("PATH", os.environ.get("PATH", ""))
        return {
            **env,
            "PATH": f"{STANDIN_BIN}{os.pathsep}{path}",
            "INFRA_STANDIN_PYTHON": sys.executable,
            # A $PATH plugin is skipped when this is true; the stand-in lives there.
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "false",
        }


OFFICIAL_CHOICE = Choice(OFFICIAL, f"docker provider: the official plugin docker v{MIRRORS}")


def plugin_dir(env: dict[str, str]) -> Path:
    home = env.get("PULUMI_HOME") or os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi"
    return Path(home) / "plugins" / f"resource-docker-v{MIRRORS}"


def official_installed(env: dict[str, str]) -> bool:
    return (plugin_dir(env) / "pulumi-resource-docker").is_file()


def try_install(pulumi: str, env: dict[str, str]) -> str | None:
    """Install the official plugin; None on success, else why it failed (one line)."""
    try:
        done = subprocess.run(
            [pulumi, "plugin", "install", "resource", "docker", f"v{MIRRORS}"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"`pulumi plugin install` did not finish in {INSTALL_TIMEOUT_S}s"
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    if not lines:
        return f"`pulumi plugin install` exited {done.returncode}"
    return re.sub(r"\s+", " ", re.sub(r"^error:\s*", "", lines[-1]))


def remembered_failure(cache: Path | None) -> str | None:
    """A failed install of this version less than RETRY_AFTER_S ago, if any."""
    try:
        record = json.loads(cache.read_text()) if cache else {}
    except (OSError, ValueError):
        return None
    fresh = time.time() - float(record.get("at", 0)) < RETRY_AFTER_S
    if record.get("version") == MIRRORS and fresh:
        return str(record.get("failure", ""))
    return None


def remember_failure(cache: Path | None, failure: str) -> None:
    if cache is None:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"version": MIRRORS, "at": time.time(), "failure": failure}))
    except OSError:
        pass  # only a speed-up: the next command tries the install again


def choose(pulumi: str, env: dict[str, str], cache: Path | None = None) -> Choice:
    """Official when installed or installable; the stand-in only to fill the gap.

    INFRA_DOCKER_PROVIDER=official|standin decides without probing. A failed install
    is remembered in `cache` for an hour (RETRY_AFTER_S).
    """
    wanted = os.environ.get(CHOICE_VAR, "auto").strip().lower() or "auto"
    if wanted not in ("auto", OFFICIAL, STANDIN):
        raise InvalidInput(
            f"{CHOICE_VAR}={wanted!r} is not valid: use auto (the default), official or standin"
        )
    if wanted == OFFICIAL or official_installed(env):
        return OFFICIAL_CHOICE
    reason = "chosen with INFRA_DOCKER_PROVIDER=standin"
    if wanted == "auto":
        failure = remembered_failure(cache)
        retry = "" if failure is None else f"; infra retries the install hourly, or delete {cache}"
        if failure is None:
            failure = try_install(pulumi, env)
            if failure is None:
                return OFFICIAL_CHOICE
            remember_failure(cache, failure)
        reason = (
            f"the official plugin docker v{MIRRORS} is not installed and could not be: "
            f"{failure}{retry}"
        )
    return Choice(
        STANDIN, f"docker provider: {NAME} {VERSION} ({reason}); see docs/docker-standin.md"
    )


def check_switch(stack: str, recorded: str | None, choice: Choice) -> None:
    """Refuse to move a deployed stack from one docker provider to the other silently."""
    if recorded in (None, choice.kind) or os.environ.get(SWITCH_VAR) == "yes":
        return
    raise InvalidInput(
        f"stack '{stack}' was deployed with the {label(recorded)} docker provider, "
        f"but infra would now use the {label(choice.kind)} one",
        [
            f"to keep the one that deployed it: {CHOICE_VAR}={recorded} infra ...",
            f"to switch (both drive the same Docker objects): {SWITCH_VAR}=yes infra up {stack}",
        ],
    )


def label(kind: str | None) -> str:
    return "offline stand-in" if kind == STANDIN else "official"
