"""`infra status`: the deployed tier's health, checked from this host."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from cli.app import StackArg, command, emit_json, info, out
from cli.errors import FAILED, OperationFailed


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
    from cli.commands.outputs import deployed_outputs
    from cli.engine import deploy
    from cli.engine.project import find_project
    from cli.ops import health
    from components.config_base import OutputsUnreadable

    deployer = deploy.Deployer(find_project(), stack, notify=info)
    items = deployed_outputs(deployer)
    try:
        checks = health.status({name: item.value for name, item in items.items()})
    except OutputsUnreadable as exc:
        raise OperationFailed(f"cannot check stack '{stack}': {exc}") from None
    half_done = deployer.interruption()
    if half_done:
        from cli.engine import shell

        up = f"`{shell.infra_command('up ' + stack)}` finishes it"
        checks.append(
            health.Check("change", False, f"the last change is half-done: {up}", half_done)
        )
    if as_json:
        emit_json([c.as_dict() for c in checks])
    for check in checks if not as_json else []:
        mark = ("WARN" if check.warnings else "ok  ") if check.ok else "FAIL"
        out.print(Text(f"{mark} {check.component}: {check.summary}"))
        for detail in check.details:
            out.print(Text(f"     - {detail}"))
        for warning in check.warnings:
            out.print(Text(f"     ! {warning}"))
    if not checks:
        info("no component with a health check in this stack's outputs: nothing to check")
    if not all(c.ok for c in checks):
        raise typer.Exit(FAILED)
