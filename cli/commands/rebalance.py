"""`infra rebalance`: move Redis Cluster masters back where placement put them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from cli.app import StackArg, YesOpt, command, confirm_or_refuse, emit_json, info, out
from cli.errors import InvalidInput, OperationFailed


@command
def rebalance(
    stack: StackArg,
    yes: YesOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the moves as JSON.")] = False,
) -> None:
    """Move each shard's master back to the node placement chose for it.

    After failovers (a lost host that came back, a drill) masters may sit two on
    one host, or with their only replica; `infra status` warns then. For each
    shard whose master is not its planned one, the planned node (in sync) takes
    over with CLUSTER FAILOVER: no write is lost and clients follow the MOVED
    redirects. Exit 1 if a move fails, 6 if nothing is deployed.

    Example:

    \b
      infra rebalance production --yes
    """
    from cli.commands.outputs import deployed_outputs
    from cli.engine import deploy
    from cli.engine.project import find_project
    from cli.ops import placement
    from components.redis_config import RedisClusterExports

    deployer = deploy.Deployer(find_project(), stack, notify=info)
    outputs = {name: item.value for name, item in deployed_outputs(deployer).items()}
    if outputs.get("redisMode") != "cluster":
        raise InvalidInput(f"stack '{stack}' has no Redis Cluster deployed: nothing to rebalance")
    confirm_or_refuse("rebalance", stack, yes)
    try:
        moves = placement.rebalance(RedisClusterExports.read(outputs))
    except (RuntimeError, TimeoutError, OSError) as exc:
        raise OperationFailed(f"rebalance of '{stack}' stopped: {exc}") from None
    if as_json:
        emit_json(moves)
        return
    for move in moves:
        where = f" on host {move['host']}" if move["host"] else ""
        out.print(Text(f"{move['to']}{where} took over from {move['from']} in {move['s']}s"))
    if not moves:
        info("every shard's master is where placement put it: nothing to move")
