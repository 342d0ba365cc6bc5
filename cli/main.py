"""`infra`: stand up a highly available data tier with Pulumi.

Commands are thin: they parse options, call the deploy service and render the
result. Errors are handled once, in `command()`.
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

from cli import __version__, deploy, localstack, shell
from cli.commands import InfraCommand, InfraGroup
from cli.errors import (
    FAILED,
    Cancelled,
    ChangesFound,
    InfraError,
    InternalError,
    Interrupted,
    InvalidInput,
    NothingDeployed,
    OperationFailed,
)
from cli.plan import op_counts
from cli.progress import Progress
from cli.project import find_project
from stacks.config import StackConfig

app = typer.Typer(
    name="infra",
    cls=InfraGroup,
    help=(
        "Stand up a highly available data tier (Redis, MongoDB, Cloudflare edge) with Pulumi.\n\n"
        "Each STACK is a file stacks/Pulumi.<STACK>.yaml; `local` runs the whole tier on this "
        "machine's Docker engine and is created from templates/local.yaml on first use."
    ),
    epilog=(
        "Examples:\n\n\b\n"
        "  infra up local                    deploy the local stack (asks first on a terminal)\n"
        "  infra preview production --json   the plan as JSON, e.g. for a pull request\n"
        "  infra status local                check that Redis and Mongo are healthy\n\n"
        "Exit codes: 0 ok, 1 failed, 2 invalid config or usage, 3 changes found, "
        "4 tool missing, 5 stack locked, 6 nothing deployed, 7 cancelled, 130 interrupted. "
        "Run `infra COMMAND --help` for a command's options."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)


class State:
    verbose = 0
    quiet = False
    # A result was printed on stdout: a later error must not add a second document.
    stdout_used = False


state = State()
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

StackArg = Annotated[
    str, typer.Argument(metavar="STACK", help="The stack: stacks/Pulumi.<STACK>.yaml.")
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a TTY).")
]
F = TypeVar("F", bound=Callable[..., Any])


def command(fn: F) -> F:
    """Register a command; its errors become one message and an exit code (and, with
    --json, the same error as a JSON object on stdout, so a pipeline parsing stdout
    never gets nothing)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state.stdout_used = False
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except InfraError as error:
            if state.verbose:
                err.print_exception(show_locals=False)
            raise fail(error, as_json) from None
        except KeyboardInterrupt:
            raise fail(Interrupted("interrupted"), as_json) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:  # the boundary: no bare traceback without -v
            if state.verbose:
                err.print_exception(show_locals=False)
            message = f"{type(error).__name__}: {error} (rerun with -v for details)"
            raise fail(InternalError(f"internal error: {message}"), as_json) from None

    app.command(cls=InfraCommand)(wrapper)
    return fn


def fail(error: InfraError, as_json: bool) -> typer.Exit:
    """Report `error` (stderr; stdout too with --json) and the exit that carries its code."""
    report(error)
    if as_json and not state.stdout_used:
        emit_json({"error": error.as_dict()})
    return typer.Exit(error.exit_code)


def emit_json(value: Any) -> None:
    state.stdout_used = True
    out.print_json(json.dumps(value))


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty() and not os.environ.get("CI")


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(
            f"infra {__version__} (pulumi SDK {version('pulumi')}; {shell.engine_description()})",
            highlight=False,
            markup=False,
        )
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="More output: unchanged resources, engine info messages, tracebacks.",
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only errors and results.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=version_callback,
            is_eager=True,
            help="Print the versions of infra, the Pulumi SDK and the Pulumi CLI in use.",
        ),
    ] = False,
) -> None:
    state.verbose = verbose
    state.quiet = quiet
    localstack.announce = info


def info(message: str) -> None:
    if not state.quiet:
        err.print(message, highlight=False)


@command
def validate(stack: StackArg) -> None:
    """Check a stack file against the typed config.

    Reads stacks/Pulumi.<STACK>.yaml and reports every problem at once, one
    `path: message` line each, naming the fix (exit 2). Never starts Pulumi.

    Example:

    \b
      infra validate local
    """
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
    """Show what `up` would change, without changing anything.

    For humans a summary (and with --diff the changed properties); for pipelines
    --json prints the plan, or an error object, on stdout.

    Examples:

    \b
      infra preview local --diff
      infra preview production --json
    """
    deployer = deploy.Deployer(find_project(), stack, notify=info)
    with Progress(err, f"preview {stack}", state.verbose, quiet=state.quiet or as_json) as progress:
        recorder = deployer.preview(progress, diff=diff)
    plan = recorder.plan()
    from cli.edge_existing import diagnostics as existing_entry_points  # Cloudflare edge only

    for note in existing_entry_points(deployer.config, plan):
        plan["diagnostics"].append(note)
        if not as_json:
            err.print(f"warning: {note['message']}", highlight=False, markup=False)
    if as_json:
        emit_json(plan)
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
    """Ask on a terminal; refuse without one. A "no" (or Ctrl-C/Ctrl-D at the prompt)
    is not a failure: nothing was attempted, so it has its own exit code (7)."""
    if yes:
        return
    if not interactive():
        command = shell.infra_command(f"{action} {stack}")
        raise InvalidInput(f"`{command}` needs --yes when not run from a terminal")
    try:
        confirmed = typer.confirm(f"{action} stack '{stack}'?", err=True)
    except typer.Abort:  # the prompt's line was not ended by the user
        err.print()
        confirmed = False
    if not confirmed:
        raise Cancelled("cancelled, nothing changed")


@command
def up(stack: StackArg, yes: YesOpt = False) -> None:
    """Create or update the stack's resources.

    On a terminal it previews first and asks; without one (or with CI set) it
    needs --yes. Prints the stack outputs when done (secrets hidden).

    Examples:

    \b
      infra up local
      infra up production --yes
    """
    deployer = deploy.Deployer(find_project(), stack, notify=info)
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
    """Destroy every resource of the stack, volumes included.

    Asks on a terminal; without one (or with CI set) it needs --yes.

    Example:

    \b
      infra down local --yes
    """
    deployer = deploy.Deployer(find_project(), stack, notify=info)
    confirm_or_refuse("down", stack, yes)
    with Progress(err, f"down {stack}", state.verbose, state.quiet) as progress:
        result = deployer.destroy(progress)
    info(progress.summary_line(op_counts(result.summary.resource_changes)))


@command
def refresh(stack: StackArg) -> None:
    """Read the real state of the stack's resources into its state.

    Example:

    \b
      infra refresh local
    """
    deployer = deploy.Deployer(find_project(), stack, notify=info)
    with Progress(err, f"refresh {stack}", state.verbose, state.quiet) as progress:
        result = deployer.refresh(progress)
    info(progress.summary_line(op_counts(result.summary.resource_changes)))


def deployed_outputs(deployer: deploy.Deployer) -> dict[str, deploy.OutputItem]:
    """The outputs of a deployed stack. A deployed stack always has outputs; none
    means nothing is deployed, which is said as such (exit 6), not as an empty
    table or "nothing to check" that a script would read as success."""
    items = deployer.outputs()
    if not items:
        stack = deployer.stack_name
        raise NothingDeployed(
            f"nothing is deployed in stack '{stack}': run `{shell.infra_command('up ' + stack)}`"
        )
    return {item.name: item for item in items}


@command
def outputs(
    stack: StackArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outputs as JSON.")] = False,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print secret values in plain text.")
    ] = False,
) -> None:
    """Print the stack's outputs.

    Secrets print as [secret] unless --show-secrets. Exit 6 if nothing is deployed.

    Examples:

    \b
      infra outputs local
      infra outputs local --json --show-secrets
    """
    items = deployed_outputs(deploy.Deployer(find_project(), stack, notify=info))
    print_outputs(list(items.values()), as_json, show_secrets)


def print_outputs(items: list[deploy.OutputItem], as_json: bool, show_secrets: bool) -> None:
    def shown(item: deploy.OutputItem) -> Any:
        return item.value if (show_secrets or not item.secret) else "[secret]"

    if as_json:
        emit_json({i.name: shown(i) for i in items})
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
    """Check the health of the stack's Redis and Mongo, from this host.

    Every Redis node answers, cluster_state:ok, all slots covered, every replica
    in sync (Sentinel: every Sentinel agrees on one primary per set); Mongo: one
    primary, all members healthy. Exit 1 if a check fails, 6 if nothing is deployed.

    Example:

    \b
      infra status local
    """
    from cli import health

    items = deployed_outputs(deploy.Deployer(find_project(), stack, notify=info))
    checks = health.status({name: item.value for name, item in items.items()})
    if as_json:
        emit_json([c.as_dict() for c in checks])
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
    """Failover drill: kill a Redis Cluster master, time the recovery.

    Kills one master's container, measures the seconds until its replica is
    promoted and until a write to that shard succeeds, checks that 200 replicated
    keys survived, restarts the old master and measures its rejoin. Exit 1 if
    recovery fails, 6 if nothing is deployed.

    Example:

    \b
      infra drill local --yes
    """
    from cli import drill as drills

    deployer = deploy.Deployer(find_project(), stack, notify=info)
    outputs = {name: item.value for name, item in deployed_outputs(deployer).items()}
    if outputs.get("redisMode") != "cluster":
        raise InvalidInput(
            f"stack '{stack}' has no Redis Cluster deployed: the drill needs redis.mode cluster"
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
        emit_json(result.as_dict())
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
    template: Annotated[
        str,
        typer.Option("--template", "-t", metavar="NAME", help="The template: local or production."),
    ] = "local",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing stack file.")
    ] = False,
    secrets_only: Annotated[
        bool,
        typer.Option("--secrets-only", help="Keep the stack file; only generate missing secrets."),
    ] = False,
) -> None:
    """Create a stack file from a template and generate its secrets.

    Writes stacks/Pulumi.<STACK>.yaml from templates/<NAME>.yaml, creates the
    stack in its backend and stores generated secrets encrypted in the file.

    Examples:

    \b
      infra init staging --template production
      infra init staging --secrets-only
    """
    generated = deploy.init_stack(find_project(), stack, template, force, secrets_only)
    info(f"stack '{stack}' ready; generated secrets: {', '.join(generated) or 'none'}")


def report(error: InfraError) -> None:
    style = "bold red" if error.label else None
    err.print(f"{error.label}{error.message}", style=style, highlight=False, markup=False)
    for detail in error.details:
        for line in detail.splitlines():
            err.print(
                f"  - {line}" if not line.startswith("  ") else line, highlight=False, markup=False
            )


def run() -> None:
    """Console-script entry point. Usage errors are Click's (exit 2)."""
    app()
