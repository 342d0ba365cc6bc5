"""`infra rotate`: a Redis application user's password rotation, without an auth
failure: the stack-file edit of each step (cli/engine/rotation.py), then `up`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import app
from cli.app import StackArg, YesOpt, command, confirm_or_refuse, info
from cli.errors import InfraError, Interrupted


@command
def rotate(
    stack: StackArg,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            "-u",
            metavar="NAME",
            help="The user to rotate (repeat for several); default: every user in redis.users "
            "(with --finish: every user mid-rotation).",
        ),
    ] = None,
    finish: Annotated[
        bool,
        typer.Option(
            "--finish",
            help="End the rotation: the previous password stops working (keepPrevious: false).",
        ),
    ] = False,
    yes: YesOpt = False,
) -> None:
    """Rotate Redis application users' passwords, then run `up`.

    Starts a rotation: the user's generation goes up by one with keepPrevious:
    true in stacks/Pulumi.<STACK>.yaml, and `up` makes every node accept the new
    and the old password (the redisUsers output then has the new one). Once every
    client uses the new password, --finish sets keepPrevious: false and `up`
    makes the old one stop working. The same as editing the stack file by hand;
    `up` asks as `infra up` does (on a terminal: preview, then ask; without one,
    or with CI set: --yes).

    Examples:

    \b
      infra rotate local --user app
      infra rotate local --user app --finish
      infra rotate production --yes
    """
    from cli.commands.lifecycle import ready_to_up, run_up
    from cli.engine import deploy, rotation, shell, stackfile
    from cli.engine.project import engine_env, find_project

    names = list(dict.fromkeys(user or []))
    project = find_project()
    file = stackfile.load(project, stack, info)
    changes = rotation.plan(stack, file, names, finish)
    edited = rotation.edit(file, changes)
    engine_env(project, stack)  # a stack without its backend named: refused before the edit
    chosen = "".join(f" --user {n}" for n in names)
    if not yes and not app.interactive():  # refused before the file is edited
        confirm_or_refuse("rotate", f"{stack}{chosen}{' --finish' if finish else ''}", yes)
    who = ", ".join(c.name for c in changes)
    ends = shell.infra_command(f"rotate {stack}{chosen} --finish")
    if len(changes) == 1:
        generations = f"generation {changes[0].generation}"
    else:
        generations = "generations " + ", ".join(f"{c.name} {c.generation}" for c in changes)
    if finish:
        info(
            f"finishing the rotation of {who} ({generations}): the previous password stops "
            "working after this up"
        )
    else:
        info(f"rotating {who}: {generations}, both passwords accepted until `{ends}`")
    rotation.write(file.path, edited)
    try:
        deployer = deploy.Deployer(project, stack, notify=info)
        go = ready_to_up(deployer, yes, action="rotate")
    except BaseException as error:  # nothing deployed: the file goes back as it was
        if not rotation.put_back(file.path, file.text, edited) and isinstance(error, InfraError):
            error.details.append(
                f"stacks/{file.path.name} keeps the rotation ({rotation.describe_edit(changes)})"
            )
        raise
    if not go:
        return
    kept = (
        f"stacks/{file.path.name} keeps the rotation ({rotation.describe_edit(changes)}): "
        f"`{shell.infra_command(f'up {stack}')}` finishes it"
    )
    try:
        run_up(deployer)
    except KeyboardInterrupt:
        raise Interrupted("interrupted", [kept]) from None
    except InfraError as error:
        error.details.append(kept)
        raise
    if not finish:
        outputs = shell.infra_command(f"outputs {stack} --json --show-secrets")
        info(
            f"next: move the clients of {who} to their new password (redisUsers in "
            f"`{outputs}`), then `{ends}`"
        )
