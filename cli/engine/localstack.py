"""Stack files the CLI writes to: the local one created on first use, comments kept.

`stacks/Pulumi.local.yaml` used to be committed, and the README's main command
dirtied it: the first `infra up local` makes Pulumi add an `encryptionsalt` and
the generated `secure:` secrets, and Pulumi re-serialises the whole file while
doing so, dropping its hand-written, column-aligned comments. Now the tracked
source is templates/local.yaml; the stack file is git-ignored and created from
it the first time a command needs it. And wherever the CLI lets Pulumi write a
stack file (stack creation, generated secrets, `infra init`), the file keeps its
own text and only gains the lines Pulumi added.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from cli.engine.project import LOCAL_STACK, Project

TEMPLATE = "local"
NOTE = (
    "# Created by infra from templates/local.yaml; git-ignored, edit freely "
    "(generated secrets go below).\n"
)
_CONFIG_LINE = re.compile(r"^config:[ \t]*(#.*)?$")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def ensure_stack_file(
    project: Project, stack: str, announce: Callable[[str], None] = _stderr
) -> None:
    """Create stacks/Pulumi.local.yaml from templates/local.yaml if it is missing,
    and say so once (`announce`: the CLI's console)."""
    target = project.stack_file(stack)
    source = project.templates_dir / f"{TEMPLATE}.yaml"
    if stack != LOCAL_STACK or target.exists() or not source.is_file():
        return
    try:
        with target.open("x") as file:  # never clobber one created meanwhile
            file.write(NOTE + source.read_text())
    except FileExistsError:
        return
    announce(
        f"created {target.relative_to(project.root)} from templates/{TEMPLATE}.yaml "
        "(git-ignored: edit it freely)"
    )


@contextmanager
def layout_kept(path: Path, before: str | None) -> Iterator[None]:
    """Around Pulumi writes to a stack file: afterwards, `before` plus what Pulumi added."""
    try:
        yield
    finally:
        restore_layout(path, before)


def restore_layout(path: Path, before: str | None) -> None:
    """Put the file's own text back, with the keys Pulumi added to it.

    Pulumi adds new top-level keys (`encryptionsalt`) and new `config:` entries
    (generated secrets). Anything else (a changed or removed value) means it did
    more than this knows of: its own text is then kept as it is.
    """
    if before is None or not path.exists():
        return
    after = path.read_text()
    if after != before:
        merged = merge_additions(before, after)
        if merged is not None:
            path.write_text(merged)


def merge_additions(before: str, after: str) -> str | None:
    """`before` with the keys `after` adds, or None if that does not give `after`'s content."""
    old, new = _mapping(before), _mapping(after)
    if old is None or new is None:
        return None
    old_config, new_config = old.get("config") or {}, new.get("config") or {}
    if not isinstance(old_config, dict) or not isinstance(new_config, dict):
        return None
    top = {k: v for k, v in new.items() if k != "config" and k not in old}
    config = {k: v for k, v in new_config.items() if k not in old_config}
    lines = before.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if config and _config_index(lines) is None and "config" in old:
        return None  # e.g. `config: {}`: no block to add lines to
    if config:
        lines = _add_config(lines, config)
    if top:
        lines = _add_top(lines, top)
    text = "".join(lines)
    return text if _mapping(text) == new else None


def _mapping(text: str) -> dict[str, Any] | None:
    try:
        value = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return None
    return value if isinstance(value, dict) else None


def _dump(values: dict[str, Any], indent: str) -> list[str]:
    text = yaml.safe_dump(values, sort_keys=False, default_flow_style=False, width=1 << 16)
    return [indent + line + "\n" for line in text.splitlines()]


def _config_index(lines: list[str]) -> int | None:
    return next((i for i, line in enumerate(lines) if _CONFIG_LINE.match(line.rstrip("\n"))), None)


def _add_top(lines: list[str], values: dict[str, Any]) -> list[str]:
    """New top-level keys go just above `config:` (where Pulumi puts them), else at the end."""
    at = _config_index(lines)
    at = len(lines) if at is None else at
    return lines[:at] + _dump(values, "") + lines[at:]


def _add_config(lines: list[str], values: dict[str, Any]) -> list[str]:
    """New config entries go at the end of the `config:` block, in its indentation."""
    start = _config_index(lines)
    if start is None:
        return [*lines, "config:\n", *_dump(values, "  ")]
    end = start + 1
    while end < len(lines) and _in_block(lines[end]):
        end += 1
    # Blank lines and column-0 comments right above the next top-level key are its own.
    while end > start + 1 and _loose(lines[end - 1]):
        end -= 1
    return lines[:end] + _dump(values, _child_indent(lines[start + 1 : end])) + lines[end:]


def _in_block(line: str) -> bool:
    return not line.strip() or line[0] in " \t#"


def _loose(line: str) -> bool:
    return not line.strip() or line.startswith("#")


def _child_indent(block: list[str]) -> str:
    for line in block:
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#") and line[0] in " \t":
            return line[: len(line) - len(stripped)]
    return "  "
