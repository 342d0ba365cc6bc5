"""`infra validate`: the stack file against the typed config, without Pulumi."""

from __future__ import annotations

from cli.app import StackArg, command, err, info, out


@command
def validate(stack: StackArg) -> None:
    """Check a stack file against the typed config.

    Reads stacks/Pulumi.<STACK>.yaml and reports every problem at once, one
    `path: message` line each, naming the fix (exit 2). Never starts Pulumi.
    With `infra:hosts`, prints which node goes on which host.

    Example:

    \b
      infra validate local
    """
    from cli.engine import stackfile
    from cli.engine.project import find_project

    config = stackfile.load(find_project(), stack, info).config
    out.print(f"stacks/Pulumi.{stack}.yaml is valid: {config.describe()}", highlight=False)
    for key, placed in config.placements().items():
        out.print(f"placement of {key}: {placed.describe()}", highlight=False)
    for advice in config.advisories():
        err.print(f"warning: {advice}", highlight=False, markup=False)
