"""`infra init`: a stack file from a template, with its secrets generated."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import StackArg, command, info


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
    from cli.engine import deploy
    from cli.engine.project import find_project

    generated = deploy.init_stack(find_project(), stack, template, force, secrets_only)
    info(f"stack '{stack}' ready; generated secrets: {', '.join(generated) or 'none'}")
