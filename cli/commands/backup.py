"""`infra backup` and `infra restore`: a deployed Redis tier's data, out and back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from cli.app import StackArg, YesOpt, command, confirm_or_refuse, emit_json, info, out
from cli.errors import InvalidInput, OperationFailed

if TYPE_CHECKING:
    from cli.ops.backup import Docker, Tier

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _deployed_tier(stack: str) -> tuple[Tier, Docker]:
    from cli.commands.outputs import deployed_outputs
    from cli.engine import deploy
    from cli.engine.project import find_project
    from cli.ops.backup import Docker, Tier
    from components.config_base import OutputsUnreadable

    deployer = deploy.Deployer(find_project(), stack, notify=info)
    outputs = {name: item.value for name, item in deployed_outputs(deployer).items()}
    try:
        tier = Tier.read(outputs)
    except LookupError:
        raise InvalidInput(f"stack '{stack}' has no Redis deployed: nothing to back up") from None
    except OutputsUnreadable as exc:
        raise OperationFailed(f"cannot read stack '{stack}': {exc}") from None
    return tier, Docker(deploy.local_containers())


@command
def backup(
    stack: StackArg,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to",
            help="A new directory for the backup [default: backups/STACK/<UTC time>].",
            show_default=False,
        ),
    ] = None,
    keep: Annotated[
        int,
        typer.Option(
            "--keep",
            min=0,
            help="Then delete all but the KEEP newest backups of STACK next to it "
            "(0: delete none).",
        ),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Snapshot the stack's Redis data, one verified file per shard.

    Each shard is saved on an in-sync replica (so masters are not forked under
    load) once it holds every write acknowledged before the backup began, copied
    out through the Docker API, and checked by Redis' RDB checker. A manifest
    records shards, slot ranges, node ids, sizes, SHA-256s, time and versions.
    Exit 1 if a step fails, 2 without Redis, 6 if nothing is deployed.

    Examples:

    \b
      infra backup local
      infra backup production --to /srv/backups/production/$(date -u +%FT%H%MZ) --keep 7
    """
    from cli.ops import backup as backups

    tier, docker = _deployed_tier(stack)
    target = to or backups.default_target(Path.cwd(), stack)
    try:
        manifest = backups.take(stack, tier, docker, target, info)
    except (backups.BackupFailed, TimeoutError) as exc:
        raise OperationFailed(f"backup of '{stack}' failed: {exc}") from None
    pruned = backups.prune(target.parent, stack, keep) if keep else []
    for old in pruned:
        info(f"deleted older backup {old}")
    if as_json:
        removed = [str(p) for p in pruned]
        emit_json({"path": str(target), **manifest.model_dump(), "pruned": removed})
        return
    out.print(
        Text(
            f"backup of '{stack}' in {target}: {len(manifest.shards)} shards, "
            f"{manifest.keys} keys, {manifest.size / 1e6:.1f} MB, verified"
        )
    )


@command
def restore(
    stack: StackArg,
    backup_dir: Annotated[
        Path, typer.Argument(metavar="BACKUP", help="A directory `infra backup` wrote.")
    ],
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Put a backup's keys back into the deployed stack.

    The backup's checksums and its shape are checked first (same mode, same slot
    ranges or master sets; shards map by slot range, not node id); a mismatch is
    refused (exit 2) and nothing is touched. Then it shows what will be
    overwritten and asks (without a TTY it needs --yes). Keys are copied while
    the tier serves; keys with the same name are replaced, others are kept, keys
    expired since the backup are not brought back. Exit 6 if nothing is deployed.

    Example:

    \b
      infra restore local backups/local/20261202T101500Z --yes
    """
    from cli.ops import backup as backups
    from cli.ops import restore as restores

    try:
        manifest = backups.read_manifest(backup_dir)
    except backups.BackupFailed as exc:
        raise InvalidInput(f"cannot restore {backup_dir}: {exc}") from None
    tier, docker = _deployed_tier(stack)
    try:
        pairings = restores.pair(manifest, tier)
    except restores.TopologyMismatch as exc:
        message = f"cannot restore {backup_dir} into '{stack}': {exc}"
        raise InvalidInput(message, exc.details) from None
    _show_plan(manifest, pairings, stack)
    confirm_or_refuse("restore", stack, yes)
    try:
        results = restores.restore(backup_dir, pairings, tier, docker, info)
    except TimeoutError as exc:
        raise OperationFailed(f"restore into '{stack}' failed: {exc}") from None
    restored = sum(r.keys_restored for r in results)
    if as_json:
        emit_json({"restored": restored, "shards": [vars(r) for r in results]})
        return
    out.print(Text(f"restored {restored} keys into '{stack}' from {backup_dir}"))


def _show_plan(manifest: Any, pairings: list[Any], stack: str) -> None:
    info(f"backup of '{manifest.stack}' taken {manifest.taken_at} (redis {manifest.redis_version})")
    for p in pairings:
        info(
            f"  shard {p.backup.key} -> {p.target.master.name}: {p.backup.keys} keys from the "
            f"backup replace keys of the same name; its {p.target_keys} keys now are kept otherwise"
        )
