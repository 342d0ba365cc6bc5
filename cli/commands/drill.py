"""`infra drill`: a measured failover drill on a deployed Redis Cluster."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from cli.app import StackArg, YesOpt, command, confirm_or_refuse, emit_json, info, out
from cli.errors import InvalidInput, OperationFailed


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
    from cli.commands.outputs import deployed_outputs
    from cli.engine import deploy
    from cli.engine.project import find_project
    from cli.ops import drill as drills

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
    show_on_dashboard(containers, outputs, result.as_dict())
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


def show_on_dashboard(containers: Any, outputs: dict[str, Any], result: dict[str, Any]) -> None:
    """With monitoring's dashboard deployed, the drill's timeline goes on its
    page; a failure to write it is reported, not fatal: the drill itself passed."""
    from cli.ops import dashboard

    node = outputs.get("monitoringDashboardNode")
    if not node:
        return
    try:
        entry = dashboard.drill_entry(result, list(outputs.get("redisNodes") or []))
        dashboard.record_drill(containers.get(node), entry)
    except Exception as exc:  # Docker or archive errors alike
        info(f"the drill is not on the dashboard: {node}: {exc}")
        return
    info(f"drill recorded on the dashboard: {outputs.get('monitoringDashboardUrl')}")
