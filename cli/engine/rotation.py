"""Password rotation of Redis application users (`infra rotate`): which users
rotate, checked against the stack file, and the edit that starts or ends it.

A rotation is the two hand edits of README "Application users": start
(`generation` + 1, `keepPrevious: true`), then finish (`keepPrevious: false`).
The edit is made in the stack file's own text, value by value, so its comments
and alignment stay as they are: Pulumi's `config set --path` would re-serialise
the whole file (comments kept, column-aligned ones collapsed) and needs the
stack in its backend. PyYAML's node marks say where each value is; the result
is parsed again and must be the same document with only those values changed,
else nothing is written (exit 2).

Light on purpose: YAML and pydantic, no Pulumi.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cli.engine import localstack
from cli.engine.stackfile import StackFile
from cli.errors import InvalidInput
from components.redis_config import RedisConfig
from components.redis_users import RedisUser
from stacks.config import ConfigInvalid, parse_config
from stacks.config.root import strip_namespace

REDIS_KEY = "infra:redis"
# The YAML key of each field the edit writes, and the names pydantic also accepts.
KEYS = {"generation": ("generation",), "keepPrevious": ("keepPrevious", "keep_previous")}


@dataclass(frozen=True)
class Change:
    """One user's rotation step: its values after the edit."""

    index: int  # position in redis.users
    name: str
    generation: int
    keep_previous: bool


def max_generation() -> int:
    """The highest `generation` RedisUser accepts (its Field's `le`)."""
    for meta in RedisUser.model_fields["generation"].metadata:
        limit = getattr(meta, "le", None)
        if limit is not None:
            return int(limit)
    raise AssertionError("RedisUser.generation has no upper limit")


def plan(stack: str, file: StackFile, names: Sequence[str], finish: bool) -> list[Change]:
    """The changes that start (or, `finish`, end) the rotation of `names` (none:
    every user; with `finish`, every user mid-rotation). Anything that does not
    fit is refused (exit 2), all problems at once, before anything is touched."""
    config = file.config
    if "redis" not in config.enabled_components():
        raise InvalidInput(f"stack '{stack}' has no redis component: no user to rotate")
    users = config.typed("redis", RedisConfig).users
    if not users:
        raise InvalidInput(
            f"stack '{stack}' has no Redis users (redis.users is empty): no user to rotate"
        )
    known = [u.name for u in users]
    unknown = [n for n in dict.fromkeys(names) if n not in known]
    if unknown:
        listed = ", ".join(f"'{n}'" for n in unknown)
        raise InvalidInput(
            f"no user {listed} in redis.users of stack '{stack}' (users: {', '.join(known)})"
        )
    if names:
        chosen = [(i, u) for i, u in enumerate(users) if u.name in names]
    elif finish:
        chosen = [(i, u) for i, u in enumerate(users) if u.keep_previous]
        if not chosen:
            raise InvalidInput(
                f"no user of stack '{stack}' is mid-rotation (keepPrevious: true): "
                "nothing to finish"
            )
    else:
        chosen = list(enumerate(users))
    problems = [p for _, u in chosen if (p := refusal(stack, u, finish))]
    if problems:
        if len(problems) == 1:
            raise InvalidInput(problems[0])
        verb = "finish their rotation" if finish else "start a rotation"
        raise InvalidInput(f"{len(problems)} users cannot {verb}", problems)
    if finish:
        return [Change(i, u.name, u.generation, False) for i, u in chosen]
    return [Change(i, u.name, u.generation + 1, True) for i, u in chosen]


def refusal(stack: str, user: RedisUser, finish: bool) -> str | None:
    """Why `user` cannot take this step, or None."""
    from cli.engine import shell

    name = user.name
    if finish and not user.keep_previous:
        start = shell.infra_command(f"rotate {stack} --user {name}")
        return f"{name} is not mid-rotation (keepPrevious is not set): `{start}` starts one"
    if not finish and user.keep_previous:
        end = shell.infra_command(f"rotate {stack} --user {name} --finish")
        return (
            f"{name} is mid-rotation (generation {user.generation}, keepPrevious: true): "
            f"finish it first with `{end}`"
        )
    if not finish and user.generation >= max_generation():
        return (
            f"{name} is at generation {user.generation}, the highest redis.users accepts: "
            "it cannot rotate again (a user under a new name starts at generation 1)"
        )
    return None


# --- the edit ---------------------------------------------------------------------
def edit(file: StackFile, changes: Sequence[Change]) -> str:
    """The stack file's text with `changes` made in place; checked: parsed again it
    is the same document with only those values changed, and its config is valid."""
    text = file.text
    where = f"stacks/{file.path.name}"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        users = _users_node(root)
        splices = [s for c in changes for s in _user_splices(text, users.value[c.index], c)]
    except (yaml.YAMLError, LookupError, TypeError):
        splices = None
    edited = _splice(text, splices) if splices is not None else None
    if edited is None or not _as_intended(text, edited, changes):
        raise InvalidInput(
            f"cannot edit redis.users in {where} by itself (anchors, aliases or an unusual "
            "layout): edit it by hand",
            [describe_edit(changes)],
        )
    return edited


def describe_edit(changes: Sequence[Change]) -> str:
    """`app: generation 2, keepPrevious: true; ...`: the values the edit writes."""
    return "; ".join(
        f"{c.name}: generation {c.generation}, keepPrevious: {str(c.keep_previous).lower()}"
        for c in changes
    )


def _get(node: Node | None, names: Sequence[str]) -> tuple[ScalarNode, Node] | None:
    if not isinstance(node, MappingNode):
        raise TypeError(f"not a mapping: {type(node).__name__}")
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.value in names:
            return key, value
    return None


def _users_node(root: Node | None) -> SequenceNode:
    node = root
    for names in (("config",), (REDIS_KEY,), ("users",)):
        found = _get(node, names)
        if found is None:
            raise LookupError(names[0])
        node = found[1]
    if not isinstance(node, SequenceNode):
        raise TypeError("users is not a list")
    return node


def _user_splices(text: str, user: Node, change: Change) -> list[tuple[int, int, str]]:
    """(start, end, replacement) spans of the text that set the change's values."""
    values = {
        "generation": str(change.generation),
        "keepPrevious": str(change.keep_previous).lower(),
    }
    splices: list[tuple[int, int, str]] = []
    missing: list[str] = []
    for key, value in values.items():
        found = _get(user, KEYS[key])
        if found is None:
            missing.append(f"{key}: {value}")
            continue
        node = found[1]
        if not isinstance(node, ScalarNode):
            raise TypeError(f"{key} is not a value")
        splices.append(_replace(text, node, value))
    if missing:
        splices.append(_addition(text, user, missing))
    return splices


def _replace(text: str, node: ScalarNode, value: str) -> tuple[int, int, str]:
    """The value's span and its new text; a comment after it keeps its column."""
    start, end = node.start_mark.index, node.end_mark.index
    gap = len(text) - end - len(text[end:].lstrip(" "))
    if gap and text[end + gap : end + gap + 1] == "#":
        shift = len(value) - (end - start)
        return start, end + gap, value + " " * max(1, gap - shift)
    return start, end, value


def _addition(text: str, user: Node, entries: list[str]) -> tuple[int, int, str]:
    """New keys at the end of the user's mapping, in its own style."""
    assert isinstance(user, MappingNode) and user.value
    end = _end(user.value[-1][1])
    if user.flow_style:  # {name: app, keys: [...]}: before the closing brace
        return end, end, "".join(f", {e}" for e in entries)
    # A block mapping: lines after the line of its last value, at its keys' column.
    eol = text.find("\n", end)
    at = len(text) if eol < 0 else eol + 1
    indent = " " * user.value[0][0].start_mark.column
    lines = "".join(f"{indent}{e}\n" for e in entries)
    return at, at, ("\n" if eol < 0 else "") + lines


def _end(node: Node) -> int:
    """Where a value's own text ends: a block collection's end mark is the next
    token's start (past comments and blank lines), so its last value's is used."""
    if not isinstance(node, MappingNode | SequenceNode) or node.flow_style or not node.value:
        return int(node.end_mark.index)
    last = node.value[-1]
    return _end(last[1] if isinstance(node, MappingNode) else last)


def _splice(text: str, splices: list[tuple[int, int, str]]) -> str | None:
    ordered = sorted(splices, reverse=True)
    for (_, end, _), (next_start, _, _) in zip(ordered[1:], ordered, strict=False):
        if end > next_start:
            return None  # overlapping spans: an alias shared between users
    for start, end, replacement in ordered:
        text = text[:start] + replacement + text[end:]
    return text


def _as_intended(before: str, after: str, changes: Sequence[Change]) -> bool:
    """`after` is `before` with exactly the changes' values, and valid config with
    those values typed as the model types them (int, bool)."""
    try:
        expected = yaml.safe_load(before)
        got = yaml.safe_load(after)
    except yaml.YAMLError:
        return False
    users = expected["config"][REDIS_KEY]["users"]
    for change in changes:
        user = users[change.index]
        for key, value in (
            ("generation", change.generation),
            ("keepPrevious", change.keep_previous),
        ):
            name = next((n for n in KEYS[key] if n in user), key)
            user[name] = value
    if got != expected:
        return False
    try:
        config = parse_config(strip_namespace(got["config"]))
    except ConfigInvalid:
        return False
    typed = config.typed("redis", RedisConfig).users
    return all(
        type(typed[c.index].generation) is int
        and typed[c.index].generation == c.generation
        and typed[c.index].keep_previous is c.keep_previous
        for c in changes
    )


def write(path: Path, text: str) -> None:
    """Write the stack file's text (read with universal newlines) in its own line
    endings: a file with CRLF keeps them."""
    newline = "\r\n" if b"\r\n" in path.read_bytes() else "\n"
    path.write_text(text, newline=newline)


def put_back(path: Path, original: str, edited: str) -> bool:
    """Undo the edit when the rotation stops before the engine changed anything
    (a declined preview, a refusal). Pulumi may have added lines meanwhile (stack
    creation, generated secrets): those stay. False: it changed more than that,
    and the file keeps the rotation."""
    current = path.read_text()
    if current == edited:
        write(path, original)
        return True
    try:
        document = yaml.safe_load(current)
        before = yaml.safe_load(original)
        reverted: dict[str, Any] = copy.deepcopy(document)
        reverted["config"][REDIS_KEY]["users"] = before["config"][REDIS_KEY]["users"]
    except (yaml.YAMLError, LookupError, TypeError):
        return False
    merged = localstack.merge_additions(original, yaml.safe_dump(reverted, sort_keys=False))
    if merged is None:
        return False
    write(path, merged)
    return True
