"""`infra preview`: what `up` would change, for people and for pipelines."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import typer
from rich.text import Text

from cli.app import StackArg, command, emit_json, err, info, out, state
from cli.errors import ChangesFound


@command
def preview(
    stack: StackArg,
    diff: Annotated[bool, typer.Option("--diff", help="Show property-level diffs.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan as JSON on stdout.")
    ] = False,
    expect_no_changes: Annotated[
        bool, typer.Option("--expect-no-changes", help="Exit 3 if the preview has any change.")
    ] = False,
) -> None:
    """Show what `up` would change, without changing anything.

    For humans a summary (and with --diff the changed properties); for pipelines
    --json prints the plan, or an error object, on stdout.

    Examples:

    \b
      infra preview local --diff
      infra preview production --json
    """
    from cli.engine import deploy
    from cli.engine.progress import Progress
    from cli.engine.project import find_project

    deployer = deploy.Deployer(find_project(), stack, notify=info)
    with Progress(err, f"preview {stack}", state.verbose, quiet=state.quiet or as_json) as progress:
        recorder = deployer.preview(progress, diff=diff)
    plan = recorder.plan()
    from cli.engine.edge_existing import (
        diagnostics as existing_entry_points,  # Cloudflare edge only
    )

    for note in existing_entry_points(deployer.config, plan):
        plan["diagnostics"].append(note)
        if not as_json:
            err.print(f"warning: {note['message']}", highlight=False, markup=False)
    for key, section, lines in redis_sections(deployer, plan):
        plan[key] = section
        if not as_json:
            for line in lines(section):
                info(line)
    if as_json:
        emit_json(plan)
    elif diff and recorder.rendered_diff:
        out.print(Text(recorder.rendered_diff.rstrip()))
        info(progress.summary_line(plan["changeSummary"]))
    else:
        info(progress.summary_line(plan["changeSummary"]))
    if expect_no_changes and plan["hasChanges"]:
        raise ChangesFound(
            f"preview of '{stack}' has changes",
            [f"{s['op']} {s['type']} {s['name']}" for s in plan["steps"]],
        )


def redis_sections(deployer: Any, plan: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """How replaced Redis Cluster nodes roll, and how a scale reshapes the live
    cluster (cli/engine/rollout_plan.py): (plan key, section, its human lines)."""
    from components.redis_config import RedisConfig

    if "redis" not in deployer.config.enabled_components():
        return []
    redis = deployer.config.typed("redis", RedisConfig)
    from cli.engine import rollout_plan as rp

    if redis.mode != "cluster":
        section = rp.sentinel_rollout(plan, redis.rollout)
        return [] if section is None else [("rollout", section, rp.lines)]

    @functools.cache
    def outputs() -> dict[str, Any]:
        return {item.name: item.value for item in deployer.outputs()}

    found = []
    rolling = rp.rollout(plan, redis.rollout, outputs)
    if rolling is not None:
        found.append(("rollout", rolling, rp.lines))
    if rp.touches_topology(plan):
        scale = rp.scale_section_or_note(redis, deployer.config.network.subnet, outputs)
        if scale is not None:
            found.append(("scale", scale, rp.scale_lines))
    return found
