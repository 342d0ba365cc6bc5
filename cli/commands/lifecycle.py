"""`infra up`, `infra down`, `infra refresh`: the engine operations that change a stack."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from cli import app
from cli.app import StackArg, YesOpt, command, confirm_or_refuse, err, info, state

if TYPE_CHECKING:
    from cli.engine.deploy import Deployer


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
    from cli.engine import deploy
    from cli.engine.project import find_project

    deployer = deploy.Deployer(find_project(), stack, notify=info)
    if ready_to_up(deployer, yes):
        run_up(deployer)


def ready_to_up(deployer: Deployer, yes: bool, action: str = "up") -> bool:
    """What `up` does before the engine changes anything (shared with `infra
    rotate`): without a TTY it needs --yes, an unsafe scale is refused (exit 2),
    and on a terminal it previews and asks (`action` names the question).
    False: the preview found nothing to change (and said so)."""
    from cli.engine.progress import Progress

    stack = deployer.stack_name
    if not yes and not app.interactive():
        confirm_or_refuse(action, stack, yes)  # refuses (needs --yes) before any engine call
    refuse_unrollable(deployer)
    if not yes and app.interactive():
        with Progress(err, f"preview {stack}", state.verbose, state.quiet) as progress:
            plan = deployer.preview(progress).plan()
        info(progress.summary_line(plan["changeSummary"]))
        if not plan["hasChanges"]:
            info("no changes")
            return False
    confirm_or_refuse(action, stack, yes)
    return True


def run_up(deployer: Deployer) -> None:
    """The engine's `up`, its summary line, then the outputs (secrets hidden)."""
    from cli.commands.outputs import print_outputs
    from cli.engine import deploy
    from cli.engine.plan import op_counts
    from cli.engine.progress import Progress

    stack = deployer.stack_name
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
    from cli.engine import deploy
    from cli.engine.plan import op_counts
    from cli.engine.progress import Progress
    from cli.engine.project import find_project

    deployer = deploy.Deployer(find_project(), stack, notify=info)
    confirm_or_refuse("down", stack, yes)
    with Progress(err, f"down {stack}", state.verbose, state.quiet) as progress:
        result = deployer.destroy(progress)
    # `down` runs the program (delete hooks need it): the resources it registers
    # again count as "same"; only the deletes say what `down` did.
    counts = op_counts(result.summary.resource_changes)
    info(progress.summary_line({"delete": counts.get("delete", 0)}))


@command
def refresh(stack: StackArg) -> None:
    """Read the real state of the stack's resources into its state.

    Example:

    \b
      infra refresh local
    """
    from cli.engine import deploy
    from cli.engine.plan import op_counts
    from cli.engine.progress import Progress
    from cli.engine.project import find_project

    deployer = deploy.Deployer(find_project(), stack, notify=info)
    with Progress(err, f"refresh {stack}", state.verbose, state.quiet) as progress:
        result = deployer.refresh(progress)
    info(progress.summary_line(op_counts(result.summary.resource_changes)))


def refuse_unrollable(deployer: Any) -> None:
    """What no rolling `up` can do is refused before the engine starts (exit 2,
    cli/engine/rollout_plan.py): a Redis Cluster scale that cannot be done
    safely, a node moved across hosts, switching TLS (Redis or Mongo) or Redis'
    `defaultUser` on a deployed tier."""
    from cli.engine import rollout_plan as plan
    from components.mongo_config import MongoConfig
    from components.redis_config import RedisConfig

    @functools.cache
    def outputs() -> dict[str, Any]:
        return {item.name: item.value for item in deployer.outputs()}

    components = deployer.config.enabled_components()
    if "mongo" in components:
        plan.refuse_mongo_tls_switch(deployer.config.typed("mongo", MongoConfig), outputs)
    if "redis" not in components:
        return
    redis = deployer.config.typed("redis", RedisConfig)
    plan.refuse_unrollable_switch(redis, outputs)
    if redis.mode != "cluster":
        return
    if deployer.config.hosts:
        plan.refuse_host_moves(redis, deployer.config.host_names(), outputs)
        return
    plan.refuse_unsafe_scale(redis, deployer.config.network.subnet, outputs)
