"""`infra outputs`, and the reading of a deployed stack's outputs other commands share."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.app import StackArg, command, emit_json, info, out, state
from cli.errors import NothingDeployed

if TYPE_CHECKING:
    from cli.engine.deploy import Deployer, OutputItem


def deployed_outputs(deployer: Deployer) -> dict[str, OutputItem]:
    """The outputs of a deployed stack. A deployed stack always has outputs; none
    means nothing is deployed, which is said as such (exit 6), not as an empty
    table or "nothing to check" that a script would read as success."""
    from cli.engine import shell

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
    from cli.engine import deploy
    from cli.engine.project import find_project

    items = deployed_outputs(deploy.Deployer(find_project(), stack, notify=info))
    print_outputs(list(items.values()), as_json, show_secrets)


def print_outputs(items: list[OutputItem], as_json: bool, show_secrets: bool) -> None:
    def shown(item: OutputItem) -> Any:
        return item.value if (show_secrets or not item.secret) else "[secret]"

    if as_json:
        emit_json({i.name: shown(i) for i in items})
        return
    table = Table("output", "value", box=None, show_header=not state.quiet)
    for item in items:
        value = shown(item)
        text = value if isinstance(value, str) else json.dumps(value)
        table.add_row(Text(item.name), Text(one_line(text)))
    out.print(table)


def one_line(text: str) -> str:
    """A multi-line value (a PEM certificate) as its first line and a pointer
    to the whole of it, so that the table stays a table."""
    lines = text.strip().splitlines()
    if len(lines) <= 1:
        return text
    return f"{lines[0]} ... ({len(lines)} lines; `--json` prints all of it)"
