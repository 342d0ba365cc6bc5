"""The `infra` Typer application: options shared by every command, the consoles,
and the one place where errors become a message and an exit code (`command`).

Command modules (`cli/commands/`) register themselves with `@command`; this
module imports nothing heavier than Typer and Rich, so `infra --help` stays fast.
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

from cli import __version__
from cli.errors import Cancelled, InfraError, InternalError, Interrupted, InvalidInput
from cli.typer_classes import InfraCommand, InfraGroup

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

        from cli.engine import shell

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


def info(message: str) -> None:
    if not state.quiet:
        err.print(message, highlight=False)


def confirm_or_refuse(action: str, stack: str, yes: bool) -> None:
    """Ask on a terminal; refuse without one. A "no" (or Ctrl-C/Ctrl-D at the prompt)
    is not a failure: nothing was attempted, so it has its own exit code (7)."""
    if yes:
        return
    if not interactive():
        from cli.engine import shell

        command = shell.infra_command(f"{action} {stack}")
        raise InvalidInput(f"`{command}` needs --yes when not run from a terminal")
    try:
        confirmed = typer.confirm(f"{action} stack '{stack}'?", err=True)
    except typer.Abort:  # the prompt's line was not ended by the user
        err.print()
        confirmed = False
    if not confirmed:
        raise Cancelled("cancelled, nothing changed")


def report(error: InfraError) -> None:
    style = "bold red" if error.label else None
    err.print(f"{error.label}{error.message}", style=style, highlight=False, markup=False)
    for detail in error.details:
        for line in detail.splitlines():
            err.print(
                f"  - {line}" if not line.startswith("  ") else line, highlight=False, markup=False
            )
