"""The deploy service: the only code that talks to Pulumi's Automation API.

Every command goes through the same gate: config validated from the stack file
(exit 2, nothing touched), backend and secrets settings checked (exit 2), tools
present (exit 4); only then is the engine started. Engine failures are turned
into the CLI's errors here, so commands stay thin.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation as auto
from semver import VersionInfo

from cli.engine import docker_provider, interrupted, localstack, shell, stackfile, tools
from cli.engine.plan import PlanRecorder
from cli.engine.project import (
    LOCAL_STACK,
    Project,
    check_stack_name,
    engine_env,
    local_state_dir_for,
)
from cli.errors import (
    InvalidInput,
    NothingDeployed,
    OperationFailed,
    StackLocked,
    ToolMissing,
)
from components.rolling import ROLLOUT_VAR
from stacks.config.root import SECRET_GENERATORS, SKIP_VAR
from stacks.config.secret_rules import REFUSED_SECRETS

PROJECT_NAMESPACE = "infra"
EventHandler = Callable[[auto.EngineEvent], None]


@dataclass
class OutputItem:
    name: str
    value: Any
    secret: bool


def output_items(values: Mapping[str, auto.OutputValue]) -> list[OutputItem]:
    return [OutputItem(k, v.value, bool(v.secret)) for k, v in sorted(values.items())]


class KnownPulumiCommand(auto.PulumiCommand):
    """The Automation API's PulumiCommand, minus its `pulumi version` run on every
    command (about 0.3 s) once this binary's version is known: cached per binary
    (path, size, mtime) in `cache`; a new or rebuilt binary is asked again, and the
    SDK's own version validation runs then."""

    def __init__(self, root: str, cache: Path) -> None:
        binary = os.path.join(root, "bin", "pulumi")
        stat = os.stat(binary)
        key = f"{binary}:{stat.st_size}:{stat.st_mtime_ns}"
        try:
            known = json.loads(cache.read_text())
        except (OSError, ValueError):
            known = {}
        if known.get("binary") == key and known.get("version"):
            self.command = binary
            self.version = VersionInfo.parse(known["version"])
            return
        super().__init__(root=root)
        if self.version is not None:
            with contextlib.suppress(OSError):
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps({"binary": key, "version": str(self.version)}))


def image_hint(image: str) -> str:
    """How to get a missing image: infra's own `infra-local/<name>` images are
    built by `scripts/build-<name>-image.sh`, no registry has them."""
    built = re.fullmatch(r"infra-local/([a-z0-9-]+):[A-Za-z0-9_.-]+", image)
    if built:
        return f"build it with `scripts/build-{built[1]}-image.sh`"
    return f"run `docker pull {image}` where a registry is reachable (or `docker load` it)"


class Deployer:
    """Runs one engine operation on one stack of the project."""

    def __init__(
        self, project: Project, stack: str, notify: Callable[[str], None] | None = None
    ) -> None:
        self.project = project
        self.stack_name = stack
        self.file = stackfile.load(project, stack, notify)
        self.document, self.config = self.file.document, self.file.config
        # Pulumi rewrites the stack file when it creates the stack or sets config.
        self.stack_text = self.file.text
        self.env = engine_env(project, stack)
        self.notify = notify or (lambda message: None)
        self.provider: docker_provider.Choice | None = None

    # --- gates -----------------------------------------------------------------
    def require_pulumi(self) -> str:
        return tools.pulumi_cli(self.env.get("PATH", os.environ.get("PATH")))

    def require_docker(self) -> None:
        if self.file.uses_local_docker:
            tools.docker_engine()
        if self.config.hosts and self.config.uses_docker():
            from cli.engine import images

            images.reach_all(self.config.hosts)

    def distribute_images(self) -> None:
        """Stacks with `hosts`: the images each host needs, before the engine
        runs (cli/engine/images.py)."""
        if not self.config.hosts:
            return
        from rich.console import Console

        from cli.engine import images

        skipped = set(filter(None, self.env.get(SKIP_VAR, "").split(",")))
        wanted = self.config.host_images(skipped)
        images.distribute(self.config.hosts, wanted, Console(stderr=True), self.notify)

    # --- stack -----------------------------------------------------------------
    def _workspace_opts(self, binary: str) -> auto.LocalWorkspaceOptions:
        root = os.path.dirname(os.path.dirname(binary))
        cache = self.project.root / ".tools" / "pulumi-version.json"
        command = KnownPulumiCommand(root, cache) if os.path.basename(root) else None
        return auto.LocalWorkspaceOptions(
            work_dir=str(self.project.root), env_vars=self.env, pulumi_command=command
        )

    def stack(
        self,
        create: bool = True,
        program: bool = False,
        changes: bool = False,
        deploys: bool = False,
    ) -> auto.Stack:
        """The stack in its backend. `program`: an operation that runs the program, so
        the docker provider is chosen (official, or the stand-in); `changes`: one that
        changes resources (up, refresh, down), checked against the provider that
        deployed the stack (a preview changes nothing, so it skips that engine call);
        `deploys` (up) records the one in use."""
        binary = self.require_pulumi()
        local_state_dir_for(self.project, self.env)
        if program:
            self.skip_missing_images()
            self.choose_provider(binary)
        with engine_errors(self.stack_name):
            opts = self._workspace_opts(binary)
            if create:
                stack = auto.create_or_select_stack(
                    self.stack_name, work_dir=str(self.project.root), opts=opts
                )
            else:
                stack = auto.select_stack(
                    self.stack_name, work_dir=str(self.project.root), opts=opts
                )
        if self.provider is not None and changes:
            self.check_provider(stack, deploys)
        return stack

    def skip_missing_images(self) -> None:
        """`local` only: a component whose image is not on the local engine is left out
        for this run, with one line saying so, instead of failing at a pull that cannot
        succeed here (no registry). Other stacks pull, and fail loudly if they cannot."""
        if self.stack_name != LOCAL_STACK or not self.file.uses_local_docker:
            return
        images = self.config.docker_images()
        skipped = [name for name, image in images.items() if not tools.docker_image_present(image)]
        for name in skipped:
            image = images[name]
            up = shell.infra_command("up local")
            self.notify(
                f"{name} skipped: its image {image} is not on the local Docker engine and "
                f"`{up}` does not pull; {image_hint(image)}, then `{up}` adds it"
            )
        if skipped:
            self.env = {**self.env, SKIP_VAR: ",".join(skipped)}

    def choose_provider(self, binary: str) -> None:
        if not self.config.uses_docker():
            return
        cache = self.project.root / ".tools" / "docker-plugin-install.json"
        self.provider = docker_provider.choose(binary, self.env, cache)
        self.env = self.provider.engine_env(self.env)
        if self.provider.notice:
            self.notify(self.provider.notice)

    def check_provider(self, stack: auto.Stack, deploys: bool) -> None:
        """Refuse a silent switch; `up` records the provider that deploys the stack."""
        assert self.provider is not None
        with engine_errors(self.stack_name):
            recorded = stack.list_tags().get(docker_provider.TAG)
        docker_provider.check_switch(self.stack_name, recorded, self.provider)
        if deploys and recorded != self.provider.kind:
            with engine_errors(self.stack_name):
                stack.set_tag(docker_provider.TAG, self.provider.kind)

    def config_keys(self, stack: auto.Stack) -> set[str]:
        """The stack's config keys: those of its file (read once), unless it imports an
        ESC environment, whose values only the engine knows. Asking the engine costs a
        `pulumi config --show-secrets` run (decrypting every secret) per command."""
        if "environment" not in self.document:
            return set(self.document.get("config") or {})
        with engine_errors(self.stack_name):
            return set(stack.get_all_config())

    def ensure_secrets(self, stack: auto.Stack, generate: bool) -> list[str]:
        """Generate missing secrets (local stack, `init`); elsewhere refuse."""
        present = self.config_keys(stack)
        missing = [k for k in SECRET_GENERATORS if f"{PROJECT_NAMESPACE}:{k}" not in present]
        if missing and not generate:
            raise missing_secrets(self.stack_name, missing)
        path = self.project.stack_file(self.stack_name)
        with engine_errors(self.stack_name), localstack.layout_kept(path, self.stack_text):
            for key in missing:
                stack.set_config(
                    f"{PROJECT_NAMESPACE}:{key}",
                    auto.ConfigValue(value=SECRET_GENERATORS[key](), secret=True),
                )
        return missing

    def require_secrets(self) -> None:
        """Non-local stacks: refuse missing secrets before the engine starts, as exit 2
        promises; creating the stack in its backend would already rewrite the stack file.
        Stacks importing ESC environments may get them from there: `ensure_secrets` decides."""
        if self.stack_name == LOCAL_STACK or "environment" in self.document:
            return
        config = self.document["config"]
        missing = [k for k in SECRET_GENERATORS if f"{PROJECT_NAMESPACE}:{k}" not in config]
        if missing:
            raise missing_secrets(self.stack_name, missing)

    # --- operations --------------------------------------------------------------
    def preview(self, on_event: EventHandler, diff: bool = False) -> PlanRecorder:
        self.require_secrets()
        stack = self.stack(program=True)
        self.ensure_secrets(stack, generate=self.stack_name == LOCAL_STACK)
        recorder = PlanRecorder(self.stack_name)

        def handler(event: auto.EngineEvent) -> None:
            recorder(event)
            on_event(event)

        with engine_errors(self.stack_name):
            result = stack.preview(diff=diff, on_event=handler, color="never")
        if diff:
            recorder.rendered_diff = result.stdout
        return recorder

    def backend_url(self) -> str | None:
        return self.env.get("PULUMI_BACKEND_URL") or os.environ.get("PULUMI_BACKEND_URL")

    def clear_stale_locks(self) -> bool:
        return interrupted.clear_stale(self.backend_url(), self.stack_name, self.notify)

    def pending(self, stack: auto.Stack) -> list[dict[str, Any]]:
        with engine_errors(self.stack_name):
            deployment = stack.export_stack().deployment or {}
        return list(deployment.get("pending_operations") or [])

    def interruption(self) -> list[str]:
        """Why the last change looks half-done (cli/engine/interrupted.py); empty: it does not."""
        stack = self.stack(create=False)
        with engine_errors(self.stack_name):
            history = stack.history(page_size=1, show_secrets=False)
        last = history[0] if history else None
        # Operations in flight (a killed run) come with its stale lock on file
        # backends; reading them would cost `pulumi stack export` on every status.
        return interrupted.findings(self.backend_url(), self.stack_name, [], last)

    def up(self, on_event: EventHandler) -> auto.UpResult:
        self.require_docker()
        self.require_secrets()
        killed = self.clear_stale_locks()
        stack = self.stack(program=True, changes=True, deploys=True)
        self.ensure_secrets(stack, generate=self.stack_name == LOCAL_STACK)
        self.distribute_images()
        if killed and self.file.uses_local_docker:
            orphans = interrupted.pending_creates(self.pending(stack))
            interrupted.remove_orphans(local_containers(), orphans, self.notify)
        with engine_errors(self.stack_name):
            return stack.up(on_event=on_event, color="never")

    def destroy(self, on_event: EventHandler) -> auto.DestroyResult:
        """Runs the program (`--run-program`): the engine refuses to destroy resources
        that carry delete hooks without it (rolling replacement binds them); the hooks
        stand aside (`INFRA_ROLLOUT=off`): nothing is kept alive in a teardown."""
        self.require_docker()
        self.env = {**self.env, ROLLOUT_VAR: "off"}
        self.clear_stale_locks()
        stack = self.stack(create=False, program=True, changes=True)
        with engine_errors(self.stack_name):
            result = stack.destroy(on_event=on_event, color="never", run_program=True)
            if self.provider is not None:  # nothing left that a provider deployed
                stack.remove_tag(docker_provider.TAG)
        return result

    def refresh(self, on_event: EventHandler) -> auto.RefreshResult:
        self.require_docker()
        self.clear_stale_locks()
        stack = self.stack(create=False, program=True, changes=True)
        with engine_errors(self.stack_name):
            return stack.refresh(on_event=on_event, color="never")

    def outputs(self) -> list[OutputItem]:
        stack = self.stack(create=False)
        with engine_errors(self.stack_name):
            values = stack.outputs()
        return output_items(values)


def local_containers() -> Any:
    """The local Docker engine's containers API (for drills), or ToolMissing."""
    import docker

    tools.docker_engine()
    return docker.from_env(timeout=30).containers


def host_containers(deployer: Deployer, host: str) -> Any:
    """The containers API of one of the stack's Docker hosts (`infra:hosts`)."""
    from cli.engine import images

    found = [h for h in deployer.config.hosts if h.name == host]
    if not found:
        names = ", ".join(deployer.config.host_names()) or "none: the stack runs on one engine"
        raise InvalidInput(f"no host '{host}' in stack '{deployer.stack_name}' (hosts: {names})")
    return images.reach(found[0]).containers


def node_containers(deployer: Deployer, outputs: Mapping[str, Any]) -> Callable[[str], Any]:
    """container name -> its container, on the host it runs on (node outputs
    carry `host` across hosts) or on the local engine."""
    hosts = {n["name"]: n.get("host") for n in outputs.get("redisNodes") or []}
    if not any(hosts.values()):
        local = local_containers()
        return local.get
    apis = {h: host_containers(deployer, h) for h in set(hosts.values()) if h}
    return lambda name: apis[hosts[name]].get(name)


def init_stack(
    project: Project, stack: str, template: str, force: bool, secrets_only: bool
) -> list[str]:
    """Write stacks/Pulumi.<stack>.yaml from a template, then create the stack
    in its backend and generate its secrets. Checks everything first."""
    check_stack_name(stack)
    target = project.stack_file(stack)
    if not secrets_only:
        source = project.templates_dir / f"{template}.yaml"
        if not source.is_file():
            known = sorted(p.stem for p in project.templates_dir.glob("*.yaml"))
            raise InvalidInput(f"no template '{template}': use one of {', '.join(known)}")
        if target.exists() and not force:
            raise InvalidInput(
                f"{target.relative_to(project.root)} exists: pass --force to overwrite"
            )
    engine_env(project, stack)
    tools.pulumi_cli(engine_env(project, stack).get("PATH", os.environ.get("PATH")))
    if not secrets_only:
        shutil.copyfile(source, target)
    deployer = Deployer(project, stack)
    return deployer.ensure_secrets(deployer.stack(), generate=True)


def missing_secrets(stack: str, missing: list[str]) -> InvalidInput:
    return InvalidInput(
        f"stack '{stack}' has no value for {', '.join(missing)}",
        [
            f"run `{shell.infra_command(f'init {stack} --secrets-only')}` once and commit "
            f"stacks/Pulumi.{stack}.yaml (secrets are stored encrypted)"
        ],
    )


@contextmanager
def engine_errors(stack: str) -> Iterator[None]:
    """Translate Automation API failures into the CLI's errors."""
    try:
        yield
    except auto.ConcurrentUpdateError as exc:
        raise StackLocked(
            f"stack '{stack}' is locked by another update",
            [
                "wait for it to finish; if it crashed, "
                f"`{shell.pulumi_command('cancel --stack ' + stack)}` (service backends) or "
                "remove the stale lock under <backend>/.pulumi/locks/ (file backends)",
                _last_lines(str(exc)),
            ],
        ) from None
    except auto.StackNotFoundError:
        raise NothingDeployed(
            f"nothing is deployed in stack '{stack}': run `{shell.infra_command('up ' + stack)}`"
        ) from None
    except auto.CommandError as exc:
        text = str(exc)
        host = tools.missing_language_host(text)
        if host:
            raise ToolMissing(
                f"the Pulumi language host '{host}' is missing: it ships with the Pulumi CLI "
                "(https://www.pulumi.com/docs/install/); scripts/ensure-pulumi.sh builds it offline"
            ) from None
        plugin = tools.missing_plugin(text)
        if plugin:
            raise ToolMissing(
                f"the Pulumi provider plugin '{plugin}' is missing: run "
                f"`{shell.pulumi_command('plugin install resource ' + plugin)}` "
                "on a machine with internet access",
            ) from None
        refused = refused_secrets(text)
        if refused:
            raise InvalidInput(f"refused stack secrets of stack '{stack}'", refused) from None
        raise OperationFailed(
            f"the Pulumi engine failed on stack '{stack}'", [_last_lines(text)]
        ) from None
    except FileNotFoundError as exc:
        raise ToolMissing(f"the Pulumi CLI is not installed: {tools.PULUMI_INSTALL}") from exc


def refused_secrets(text: str) -> list[str]:
    """The program's refusal of weak or shared stack passwords
    (stacks/config/secret_rules.py), one line per problem: bad input (exit 2),
    found before any resource was registered."""
    if REFUSED_SECRETS not in text:
        return []
    after = text.split(REFUSED_SECRETS, 1)[1]
    return [line.split("- ", 1)[1].strip() for line in after.splitlines() if "- infra:" in line]


def _last_lines(text: str, count: int = 15) -> str:
    """The engine's stderr (or the whole text), last lines, blank lines dropped."""
    _, sep, stderr = text.partition(" stderr:")
    body = stderr if sep else text
    lines = [line.rstrip() for line in body.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])
