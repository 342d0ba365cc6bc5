"""Engine tests: the real `infra` console script driving the real Pulumi CLI.

Each test gets, in its own temporary directory, a copy of a project (INFRA_PROJECT_DIR),
a file backend (PULUMI_BACKEND_URL=file://...) and a PULUMI_HOME, so neither the
repository's `local` stack nor any global Pulumi state is touched. `infra` runs as a
subprocess: real exit codes, real stdout and stderr.

Every HTTP(S) request of the engine (plugin downloads) goes to a proxy on 127.0.0.1
that refuses it and records what was asked, so these tests never reach the Internet
and behave the same on machines that could.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv"
INFRA = VENV / "bin" / "infra"


def pulumi_bin_dir() -> Path:
    """Where scripts/ensure-pulumi.sh left the CLI: $PULUMI_BIN_DIR (its last line), the
    project-local build in .tools/pulumi/bin, or a `pulumi` already on PATH."""
    local = REPO / ".tools" / "pulumi" / "bin"
    if os.environ.get("PULUMI_BIN_DIR"):
        return Path(os.environ["PULUMI_BIN_DIR"])
    found = shutil.which("pulumi")
    return local if (local / "pulumi").is_file() or not found else Path(found).parent


PULUMI_BIN = pulumi_bin_dir()
# The CLI, our language host, its Python shim and the dynamic-provider plugin.
ENGINE_TOOLS = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-pulumi-python",
)
TEST_PROJECT = Path(__file__).parent / "project"
PASSPHRASE = "engine-tests-only"
TIMEOUT_S = 240
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "grpc_proxy")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    def __str__(self) -> str:  # shown by failed asserts
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@dataclass
class Engine:
    """One scratch project + backend + PULUMI_HOME, and `infra` run against them."""

    root: Path
    project: Path
    backend: Path
    env: dict[str, str]

    def _env(self, extra: Mapping[str, str | None]) -> dict[str, str]:
        env = dict(self.env)
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def start(self, *args: str, extra_env: Mapping[str, str | None] = {}) -> subprocess.Popen[str]:
        """`infra <args>` in its own process group, so a hung run can be killed whole."""
        return subprocess.Popen(
            [str(INFRA), *args],
            cwd=self.root,
            env=self._env(extra_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def run(
        self,
        *args: str,
        extra_env: Mapping[str, str | None] = {},
        timeout: float = TIMEOUT_S,
    ) -> Result:
        return finish(self.start(*args, extra_env=extra_env), timeout)

    def pulumi(self, *args: str) -> Result:
        """The Pulumi CLI itself on the same project and backend (to cross-check `infra`)."""
        done = subprocess.run(
            [str(PULUMI_BIN / "pulumi"), *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def stack_file(self, stack: str) -> Path:
        return self.project / "stacks" / f"Pulumi.{stack}.yaml"

    def state_file(self, stack: str) -> Path:
        return self.backend / ".pulumi" / "stacks" / "infra" / f"{stack}.json"

    def state(self, stack: str) -> dict[str, Any]:
        checkpoint: dict[str, Any] = json.loads(self.state_file(stack).read_text())["checkpoint"]
        return checkpoint

    def locks(self, stack: str) -> list[Path]:
        return sorted((self.backend / ".pulumi" / "locks").glob(f"*/infra/{stack}/*.json"))


def finish(proc: subprocess.Popen[str], timeout: float = TIMEOUT_S) -> Result:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"`infra` did not finish in {timeout}s\n{out}\n{err}")
    return Result(proc.returncode, out, err)


@dataclass
class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 that answers 502 to everything, remembering targets."""

    url: str
    requests: list[str] = field(default_factory=list)


@contextmanager
def refusing_proxy() -> Iterator[RefusingProxy]:
    seen: list[str] = []

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_error(502, "engine tests never reach the Internet")

        do_CONNECT = do_GET = do_HEAD = do_POST = _refuse

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RefusingProxy(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def proxy() -> Iterator[RefusingProxy]:
    with refusing_proxy() as made:
        yield made


@pytest.fixture(scope="session", autouse=True)
def engine_tools() -> None:
    """Fail (never skip) when the CLI or the engine is not there."""
    missing = [name for name in ENGINE_TOOLS if not (PULUMI_BIN / name).is_file()]
    if missing:
        pytest.fail(
            f"the Pulumi CLI is missing in {PULUMI_BIN} ({', '.join(missing)}): "
            "run scripts/ensure-pulumi.sh",
            pytrace=False,
        )
    if not INFRA.is_file():
        pytest.fail(f"{INFRA} is missing: run scripts/bootstrap.sh", pytrace=False)


# What the engine tests reach without the refusing proxy; tests add the
# addresses of hosts their run made (tests/integration/test_multihost_engine.py).
NO_PROXY = "127.0.0.1,localhost"


def engine_env(root: Path, project: Path, backend: Path, proxy: RefusingProxy) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_", "INFRA_")) and key.lower() not in PROXY_VARS
    }
    env.pop("CI", None)
    env.update(
        PATH=os.pathsep.join([str(PULUMI_BIN), str(VENV / "bin"), os.environ.get("PATH", "")]),
        PULUMI_HOME=str(root / "pulumi-home"),
        PULUMI_BACKEND_URL=backend.as_uri(),
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        # Tests that exercise plugin acquisition drop this (see the proxy above).
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        INFRA_PROJECT_DIR=str(project),
        HTTP_PROXY=proxy.url,
        HTTPS_PROXY=proxy.url,
        NO_PROXY=NO_PROXY,
        NO_COLOR="1",
        TERM="dumb",
        COLUMNS="200",
    )
    return env


def rewrite_pulumi_yaml(path: Path, main: Path | None) -> None:
    """Absolute virtualenv (the repo's .venv) and, for the real program, absolute main."""
    doc = yaml.safe_load(path.read_text())
    doc["runtime"]["options"]["virtualenv"] = str(VENV)
    if main is not None:
        doc["main"] = str(main)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def make_engine(root: Path, proxy: RefusingProxy) -> Engine:
    backend = root / "backend"
    backend.mkdir()
    project = root / "project"
    return Engine(root, project, backend, engine_env(root, project, backend, proxy))


@pytest.fixture
def engine(tmp_path: Path, proxy: RefusingProxy) -> Engine:
    """The test project (tests/engine/project): the real program with every component
    disabled, plus a dynamic-provider resource. No stack yet: tests `infra init` one."""
    made = make_engine(tmp_path, proxy)
    shutil.copytree(TEST_PROJECT, made.project, ignore=shutil.ignore_patterns("__pycache__"))
    (made.project / "stacks").mkdir()
    rewrite_pulumi_yaml(made.project / "Pulumi.yaml", main=None)
    return made


@pytest.fixture
def real_engine(tmp_path: Path, proxy: RefusingProxy) -> Engine:
    """A copy of the real project: Pulumi.yaml, stacks/*.yaml, templates/. Its `main`
    points at the repository's program (read, never written)."""
    made = make_engine(tmp_path, proxy)
    (made.project / "stacks").mkdir(parents=True)
    shutil.copy(REPO / "Pulumi.yaml", made.project)
    for stack_file in (REPO / "stacks").glob("Pulumi.*.yaml"):
        if stack_file.name != "Pulumi.local.yaml":  # git-ignored; infra creates it from templates/
            shutil.copy(stack_file, made.project / "stacks")
    shutil.copytree(REPO / "templates", made.project / "templates")
    main = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["main"]
    rewrite_pulumi_yaml(made.project / "Pulumi.yaml", main=REPO / main)
    return made
