"""`infra`: stand up a highly available data tier with Pulumi.

Commands are thin: they parse options, call the deploy service and render the
result. Errors are handled once, in `run()`.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli import __version__, deploy
from cli.errors import (
    FAILED,
    INTERRUPTED,
    ChangesFound,
    InfraError,
    InvalidInput,
    OperationFailed,
)
from cli.plan import op_counts
from cli.progress import Progress
from cli.project import find_project
from stacks.config import StackConfig

app = typer.Typer(
    name="infra",
    help="Stand up a highly available data tier (Redis, MongoDB, Cloudflare edge) with Pulumi.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


class State:
    verbose = 0
    quiet = False


state = State()
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

StackArg = Annotated[str, typer.Argument(help="Stack name (stacks/Pulumi.<stack>.yaml).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; required without a TTY.")]
F = TypeVar("F", bound=Callable[..., Any])


def command(fn: F) -> F:
    """Register a command; its errors become one message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InfraError as error:
            if state.verbose:
                err.print_exception(show_locals=False)
            report(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(INTERRUPTED) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:  # the boundary: no bare traceback without -v
            if state.verbose:
                err.print_exception(show_locals=False)
            err.print(
                f"internal error: {type(error).__name__}: {error} (rerun with -v for details)",
                highlight=False,
                markup=False,
            )
            raise typer.Exit(FAILED) from None

    app.command()(wrapper)
    return fn


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty() and not os.environ.get("CI")


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"infra {__version__} (pulumi SDK {version('pulumi')})", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More output; tracebacks on errors.")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and results.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    state.verbose = verbose
    state.quiet = quiet


def info(message: str) -> None:
    if not state.quiet:
        err.print(message, highlight=False)


@command
def validate(stack: StackArg) -> None:
    """Check the stack file against the typed config. Never starts Pulumi."""
    config = deploy.validate(find_project(), stack)
    out.print(f"stacks/Pulumi.{stack}.yaml is valid: {describe(config)}", highlight=False)
    for advice in config.mongo.advisories() if config.mongo.enabled else []:
        err.print(f"warning: {advice}", highlight=False, markup=False)


def describe(config: StackConfig) -> str:
    parts = []
    if config.redis.enabled:
        r = config.redis
        parts.append(f"redis {r.mode} {r.shards}x(1+{r.replicas})")
    if config.mongo.enabled:
        parts.append(f"mongo replica set of {config.mongo.members}")
    if config.edge.enabled:
        parts.append("cloudflare edge")
    return ", ".join(parts) or "no components"


@command
def preview(
    stack: StackArg,
    diff: Annotated[bool, typer.Option("--diff", help="Show property-level diffs.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan as JSON on stdout.")
    ] = False,
    expect_no_changes: Annotated[
        bool, typer.Option("--expect-no-changes", help="Exit 3 if the preview has any change.")
    ] = False,
) -> None:
    """Show what `up` would change, for humans or (--json) for bots."""
    deployer = deploy.Deployer(find_project(), stack)
    with Progress(err, f"preview {stack}", state.verbose, quiet=state.quiet or as_json) as progress:
        recorder = deployer.preview(progress, diff=diff)
    plan = recorder.plan()
    if as_json:
        out.print_json(json.dumps(plan))
    elif diff and recorder.rendered_diff:
        out.print(Text(recorder.rendered_diff.rstrip()))
        info(progress.summary_line(plan["changeSummary"]))
    else:
        info(progress.summary_line(plan["changeSummary"]))
    if expect_no_changes and plan["hasChanges"]:
        raise ChangesFound(
            f"preview of '{stack}' has changes",
            [f"{s['op']} {s['type']} {s['name']}" for s in plan["steps"]],
        )


def confirm_or_refuse(action: str, stack: str, yes: bool) -> None:
    if yes:
        return
    if not interactive():
        raise InvalidInput(f"`infra {action} {stack}` needs --yes when not run from a terminal")
    if not typer.confirm(f"{action} stack '{stack}'?", err=True):
        raise typer.Exit(1)


@command
def up(stack: StackArg, yes: YesOpt = False) -> None:
    """Create or update the stack's resources."""
    deployer = deploy.Deployer(find_project(), stack)
    if not yes and interactive():
        with Progress(err, f"preview {stack}", state.verbose, state.quiet) as progress:
            plan = deployer.preview(progress).plan()
        info(progress.summary_line(plan["changeSummary"]))
        if not plan["hasChanges"]:
            info("no changes")
            return
    confirm_or_refuse("up", stack, yes)
    with Progress(err, f"up {stack}", state.verbose, state.quiet) as progress:
        result = deployer.up(progress)
    info(progress.summary_line(op_counts(result.summary.resource_changes)))
    print_outputs(deploy.output_items(result.outputs), False, False)


@command
def down(stack: StackArg, yes: YesOpt = False) -> None:
    """Destroy every resource of the stack (volumes included)."""
    deployer = deploy.Deployer(find_project(), stack)
    confirm_or_refuse("down", stack, yes)
    with Progress(err, f"down {stack}", state.verbose, state.quiet) as progress:
        result = deployer.destroy(progress)
    info(progress.summary_line(op_counts(result.summary.resource_changes)))


@command
def refresh(stack: StackArg) -> None:
    """Read the real state of the stack's resources into its state."""
    deployer = deploy.Deployer(find_project(), stack)
    with Progress(err, f"refresh {stack}", state.verbose, state.quiet) as progress:
        result = deployer.refresh(progress)
    info(progress.summary_line(op_counts(result.summary.resource_changes)))


@command
def outputs(
    stack: StackArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print outputs as JSON.")] = False,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print secret values.")
    ] = False,
) -> None:
    """Print the stack's outputs; secrets stay hidden unless --show-secrets."""
    items = deploy.Deployer(find_project(), stack).outputs()
    print_outputs(items, as_json, show_secrets)


def print_outputs(items: list[deploy.OutputItem], as_json: bool, show_secrets: bool) -> None:
    def shown(item: deploy.OutputItem) -> Any:
        return item.value if (show_secrets or not item.secret) else "[secret]"

    if as_json:
        out.print_json(json.dumps({i.name: shown(i) for i in items}))
        return
    table = Table("output", "value", box=None, show_header=not state.quiet)
    for item in items:
        value = shown(item)
        text = value if isinstance(value, str) else json.dumps(value)
        table.add_row(Text(item.name), Text(text))
    out.print(table)


@command
def status(
    stack: StackArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check, from this host, that the stack's Redis and Mongo are healthy (exit 1 if not)."""
    from cli import health

    items = deploy.Deployer(find_project(), stack).outputs()
    checks = health.status({i.name: i.value for i in items})
    if as_json:
        out.print_json(json.dumps([c.as_dict() for c in checks]))
    for check in checks if not as_json else []:
        mark = "ok  " if check.ok else "FAIL"
        out.print(Text(f"{mark} {check.component}: {check.summary}"))
        for detail in check.details:
            out.print(Text(f"     - {detail}"))
    if not checks:
        info("no Redis or Mongo in this stack's outputs: nothing to check")
    if not all(c.ok for c in checks):
        raise typer.Exit(FAILED)


@command
def drill(
    stack: StackArg,
    yes: YesOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Failover drill: kill one Redis Cluster master, measure recovery, bring it back."""
    from cli import drill as drills

    deployer = deploy.Deployer(find_project(), stack)
    outputs = {i.name: i.value for i in deployer.outputs()}
    if outputs.get("redisMode") != "cluster":
        raise InvalidInput(
            f"stack '{stack}' has no Redis Cluster: the drill needs redis.mode cluster"
        )
    confirm_or_refuse("drill", stack, yes)
    containers = deploy.local_containers()
    try:
        result = drills.cluster_failover(
            outputs, lambda n: containers.get(n).kill(), lambda n: containers.get(n).start()
        )
    except drills.DrillFailed as exc:
        raise OperationFailed(f"failover drill on '{stack}' failed: {exc}") from None
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
        return
    out.print(
        Text(
            f"killed master {result.victim}; replica {result.promoted} promoted after "
            f"{result.promoted_s:.2f}s; writes to the shard succeeded after "
            f"{result.write_ok_s:.2f}s; "
            f"{result.keys_lost}/{result.keys_checked} replicated keys lost; old master rejoined "
            f"as a replica {result.rejoined_s:.2f}s after it was started again"
        )
    )


@command
def init(
    stack: StackArg,
    template: Annotated[str, typer.Option("--template", "-t", help="local | production")] = "local",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing stack file.")
    ] = False,
    secrets_only: Annotated[
        bool,
        typer.Option("--secrets-only", help="Keep the stack file; only generate missing secrets."),
    ] = False,
) -> None:
    """Create stacks/Pulumi.<stack>.yaml from a template and generate its secrets."""
    generated = deploy.init_stack(find_project(), stack, template, force, secrets_only)
    info(f"stack '{stack}' ready; generated secrets: {', '.join(generated) or 'none'}")


def report(error: InfraError) -> None:
    err.print(f"error: {error.message}", style="bold red", highlight=False, markup=False)
    for detail in error.details:
        for line in detail.splitlines():
            err.print(
                f"  - {line}" if not line.startswith("  ") else line, highlight=False, markup=False
            )


def run() -> None:
    """Console-script entry point. Usage errors are Click's (exit 2)."""
    app()
