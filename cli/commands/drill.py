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
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="NAME",
            help="Take down a whole Docker host of the stack (every container of the stack "
            "on it) instead of one master.",
        ),
    ] = None,
) -> None:
    """Failover drill: kill a Redis Cluster master, time the recovery.

    Kills one master's container, measures the seconds until its replica is
    promoted and until a write to that shard succeeds, checks that 200 replicated
    keys survived, restarts the old master and measures its rejoin. Exit 1 if
    recovery fails, 6 if nothing is deployed.

    With --host (stacks with hosts): kills every container of the stack on that
    host, measures until every slot is served from the other hosts and writes
    succeed, counts lost keys (written with WAIT 1), then starts them again and
    measures until its nodes have rejoined.

    Examples:

    \b
      infra drill local --yes
      infra drill production --host b --yes
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
    if host is not None:
        host_drill(deployer, outputs, host, as_json)
        return
    get = deploy.node_containers(deployer, outputs)
    try:
        result = drills.cluster_failover(outputs, lambda n: get(n).kill(), lambda n: get(n).start())
    except drills.DrillFailed as exc:
        raise OperationFailed(f"failover drill on '{stack}' failed: {exc}") from None
    hosts = deployer.config.host_names()
    # The dashboard runs on the first host across hosts.
    where = deploy.host_containers(deployer, hosts[0]) if hosts else deploy.local_containers()
    show_on_dashboard(where, outputs, result.as_dict())
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


def host_drill(deployer: Any, outputs: dict[str, Any], host: str, as_json: bool) -> None:
    from cli.engine import deploy
    from cli.ops import drill as drills

    containers = deploy.host_containers(deployer, host)
    label = [f"infra.stack={deployer.stack_name}"]
    victims = containers.list(filters={"label": label})
    try:
        result = drills.host_loss(
            outputs,
            host,
            lambda: [c.kill() for c in victims],
            lambda: [c.start() for c in victims],
        )
    except drills.DrillFailed as exc:
        raise OperationFailed(f"host drill on '{deployer.stack_name}' failed: {exc}") from None
    if as_json:
        emit_json(result.as_dict())
        return
    out.print(
        Text(
            f"host {host} down ({len(victims)} containers killed, masters lost: "
            f"{', '.join(result.masters_lost) or 'none'}); every slot served after "
            f"{result.all_slots_s:.2f}s, writes everywhere after {result.write_ok_s:.2f}s; "
            f"{result.keys_lost}/{result.keys_checked} acknowledged keys lost; its nodes "
            f"rejoined {result.rejoined_s:.2f}s after it came back"
        )
    )
