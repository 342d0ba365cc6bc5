"""Where the project lives and how each stack reaches its state and secrets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from cli.errors import InvalidInput

LOCAL_STACK = "local"
# Documented, deliberately weak: it only protects the local stack's secrets
# from casual reading of the state file on a developer's own machine.
LOCAL_PASSPHRASE = "infra-local-only"
PASSPHRASE_VARS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def stacks_dir(self) -> Path:
        return self.root / "stacks"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def local_state_dir(self) -> Path:
        return self.root / ".pulumi-state"

    @property
    def tools_bin(self) -> Path:
        return self.root / ".tools" / "pulumi" / "bin"

    def stack_file(self, stack: str) -> Path:
        return self.stacks_dir / f"Pulumi.{stack}.yaml"


def find_project(start: Path | None = None) -> Project:
    """The directory holding Pulumi.yaml and stacks/: $INFRA_PROJECT_DIR, the
    current directory or a parent, or the checkout this package runs from."""
    env = os.environ.get("INFRA_PROJECT_DIR")
    candidates = [Path(env)] if env else []
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents, Path(__file__).resolve().parents[2]]
    for path in candidates:
        if (path / "Pulumi.yaml").is_file() and (path / "stacks").is_dir():
            return Project(path)
    raise InvalidInput(
        "no infra project found: run infra inside the repository (where Pulumi.yaml is) "
        "or set INFRA_PROJECT_DIR"
    )


def check_stack_name(stack: str) -> str:
    if not stack or not all(c.isalnum() or c in "-_." for c in stack):
        raise InvalidInput(
            f"stack name '{stack}' is invalid: use letters, digits, '-', '_' and '.'"
        )
    return stack


def secrets_provider(project: Project, stack: str) -> str | None:
    path = project.stack_file(stack)
    if not path.exists():
        return None
    doc = yaml.safe_load(path.read_text()) or {}
    value = doc.get("secretsprovider") if isinstance(doc, dict) else None
    return str(value) if value else None


def engine_env(project: Project, stack: str) -> dict[str, str]:
    """Environment for the Pulumi engine of one stack.

    `local` needs nothing: state goes to .pulumi-state/ in the repo and secrets
    use the local-only passphrase unless one is set. Every other stack must
    name its backend and its secrets protection explicitly.
    """
    env = {
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
    }
    if project.tools_bin.is_dir():
        env["PATH"] = f"{project.tools_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    has_passphrase = any(os.environ.get(v) for v in PASSPHRASE_VARS)
    if stack == LOCAL_STACK:
        if not os.environ.get("PULUMI_BACKEND_URL"):
            env["PULUMI_BACKEND_URL"] = project.local_state_dir.as_uri()
        if not has_passphrase:
            env["PULUMI_CONFIG_PASSPHRASE"] = LOCAL_PASSPHRASE
        return env
    missing = []
    if not os.environ.get("PULUMI_BACKEND_URL"):
        missing.append(
            "PULUMI_BACKEND_URL is not set: name the state backend, e.g. "
            "s3://bucket/infra, file:///srv/infra-state or https://api.pulumi.com"
        )
    provider = secrets_provider(project, stack)
    if not has_passphrase and (provider is None or provider == "passphrase"):
        missing.append(
            "no secrets protection: set PULUMI_CONFIG_PASSPHRASE (or _FILE), or a "
            f"`secretsprovider:` in stacks/Pulumi.{stack}.yaml"
        )
    if missing:
        raise InvalidInput(f"stack '{stack}' needs an explicit backend and secrets", missing)
    return env


def local_state_dir_for(project: Project, env: dict[str, str]) -> None:
    url = env.get("PULUMI_BACKEND_URL", "")
    if url == project.local_state_dir.as_uri():
        project.local_state_dir.mkdir(parents=True, exist_ok=True)
