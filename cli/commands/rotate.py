"""`infra rotate`: a password rotation without an auth failure: a Redis
application user's (two steps) or, with --admin, infra's own (three steps). Each
step is an edit of the stack file (cli/engine/rotation.py), then `up`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli import app
from cli.app import StackArg, YesOpt, command, confirm_or_refuse, info
from cli.errors import InfraError, Interrupted, InvalidInput

if TYPE_CHECKING:
    from cli.engine.rotation import AdminChange


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
    admin: Annotated[
        bool,
        typer.Option(
            "--admin",
            help="Rotate infra's own password instead (replication, Sentinel; defaultUser: "
            "disabled): three rolling ups; continues one that stopped midway.",
        ),
    ] = False,
    yes: YesOpt = False,
) -> None:
    """Rotate Redis application users' passwords, or infra's own, then run `up`.

    Starts a rotation: the user's generation goes up by one with keepPrevious:
    true in stacks/Pulumi.<STACK>.yaml, and `up` makes every node accept the new
    and the old password (the redisUsers output then has the new one). Once every
    client uses the new password, --finish sets keepPrevious: false and `up`
    makes the old one stop working. The same as editing the stack file by hand;
    `up` asks as `infra up` does (on a terminal: preview, then ask; without one,
    or with CI set: --yes).

    --admin rotates infra's own password (redis.admin; replicas and Sentinels log
    in with it) in three steps, each an edit then an `up` (asked once, before the
    first): accept (every node accepts the new and the old), switch (everything
    uses the new), done (the old is forgotten). A rotation that stopped midway is
    continued from its step.

    Examples:

    \b
      infra rotate local --user app
      infra rotate local --user app --finish
      infra rotate production --yes
      infra rotate production --admin --yes
    """
    from cli.commands.lifecycle import ready_to_up, run_up
    from cli.engine import deploy, rotation, shell, stackfile
    from cli.engine.project import engine_env, find_project

    names = list(dict.fromkeys(user or []))
    if admin:
        given = [option for option, on in (("--user", bool(names)), ("--finish", finish)) if on]
        if given:
            raise InvalidInput(
                f"--admin cannot be combined with {' or '.join(given)}: it rotates infra's own "
                "password, in three steps of its own (application users: --user, then --finish)"
            )
        rotate_admin(stack, yes)
        return
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


# What each step of infra's password rotation does, said before its `up`.
ADMIN_STEP_LINES = {
    "accept": "every node accepts the new password and the old one; everything still logs "
    "in with the old",
    "switch": "every node now logs in with the new password",
    "done": "the old password stops working",
}


def rotate_admin(stack: str, yes: bool) -> None:
    """`infra rotate STACK --admin`: the steps of a rotation of infra's password
    that are left, each an edit of `redis.admin` then an `up`. Only the first `up`
    asks; a step that stops leaves the file at it, and the same command carries on
    from there (its `up` again first, since it may not have finished)."""
    from cli.commands.lifecycle import ready_to_up, run_up
    from cli.engine import deploy, rotation, shell, stackfile
    from cli.engine.project import engine_env, find_project

    project = find_project()
    file = stackfile.load(project, stack, info)
    plan = rotation.admin_plan(stack, file)
    first = plan.steps[0]
    first_edit = None if plan.resumed else rotation.edit_admin(file, first)
    engine_env(project, stack)  # a stack without its backend named: refused before the edit
    if not yes and not app.interactive():  # refused before the file is edited
        confirm_or_refuse("rotate", f"{stack} --admin", yes)
    where = f"stacks/{file.path.name}"

    def kept(change: AdminChange) -> str:
        """Where the file stays, and what carries on from there."""
        held = f"{where} keeps step {change.step} of 3 of infra's password rotation"
        if change.rotation == "done":  # `rotate --admin` would start a new rotation
            return f"{held} ({rotation.describe_admin(change)}): `{up}` finishes it"
        return f"{held} ({rotation.describe_admin(change)}): `{again}` continues it"

    up = shell.infra_command(f"up {stack}")
    again = shell.infra_command(f"rotate {stack} --admin")
    if plan.resumed:
        info(
            f"{where} is in the middle of a rotation of infra's password (generation "
            f"{first.generation}, rotation: {first.rotation}): continuing from step "
            f"{first.step} of 3, whose up runs again first"
        )
    held = first if plan.resumed else None  # the step the file is at (None: at rest)
    confirmed = yes  # once the first up ran, the next ones do not ask
    for change in plan.steps:
        try:
            if change == first:
                edited = first_edit
            else:
                file = stackfile.load(project, stack)
                edited = rotation.edit_admin(file, change)
            if edited is not None:
                generation = f"generation {change.generation}; " if change.step == 1 else ""
                info(
                    f"infra's password, step {change.step} of 3 ({change.rotation}): "
                    f"{generation}{ADMIN_STEP_LINES[change.rotation]}"
                )
                rotation.write(file.path, edited)
            try:
                deployer = deploy.Deployer(project, stack, notify=info)
                go = ready_to_up(deployer, confirmed, action="rotate")
            except BaseException:  # nothing deployed by this step: the file goes back
                if edited is None or not rotation.put_back(
                    file.path, file.text, edited, rotation.ADMIN_KEY
                ):
                    held = change
                raise
            held = change
            if go:
                run_up(deployer)
                confirmed = True
        except KeyboardInterrupt:
            raise Interrupted("interrupted", [kept(held)] if held else []) from None
        except InfraError as error:
            if held is not None:
                error.details.append(kept(held))
            raise
    outputs = shell.infra_command(f"outputs {stack} --json --show-secrets")
    info(
        f"infra's password rotated (generation {first.generation}): the redisPassword "
        f"output has the new one (`{outputs}`)"
    )
