"""Password rotations (`infra rotate`), checked against the stack file, and the
edits that make their steps.

A Redis application user's rotation is the two hand edits of README
"Application users": start (`generation` + 1, `keepPrevious: true`), then finish
(`keepPrevious: false`). infra's own password (`redis.admin`, with
`defaultUser: disabled`) takes three: `generation` + 1 with `rotation: accept`,
then `switch`, then `done`, each followed by its own rolling `up`
(components/redis_users.py admin_login).

Each edit is made in the stack file's own text, value by value, so its comments
and alignment stay as they are: Pulumi's `config set --path` would re-serialise
the whole file (comments kept, column-aligned ones collapsed) and needs the
stack in its backend. PyYAML's node marks say where each value is; the result
is parsed again and must be the same document with only those values changed,
else nothing is written (exit 2).

Light on purpose: YAML and pydantic, no Pulumi.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cli.engine import localstack
from cli.engine.stackfile import StackFile
from cli.errors import InvalidInput
from components.redis_config import AdminConfig, RedisConfig
from components.redis_users import AdminStep, RedisUser
from stacks.config import ConfigInvalid, parse_config
from stacks.config.root import strip_namespace

REDIS_KEY = "infra:redis"
ADMIN_KEY = "admin"
# The YAML key of each field the edit writes, and the names pydantic also accepts.
KEYS = {"generation": ("generation",), "keepPrevious": ("keepPrevious", "keep_previous")}
# The steps of a rotation of infra's password, in order (the last one is at rest).
ADMIN_STEPS: tuple[AdminStep, ...] = ("accept", "switch", "done")
assert set(ADMIN_STEPS) == set(get_args(AdminStep)), "AdminStep changed"

Splice = tuple[int, int, str]


@dataclass(frozen=True)
class Change:
    """One user's rotation step: its values after the edit."""

    index: int  # position in redis.users
    name: str
    generation: int
    keep_previous: bool


def max_generation(model: type[BaseModel] = RedisUser) -> int:
    """The highest `generation` the model accepts (its Field's `le`)."""
    for meta in model.model_fields["generation"].metadata:
        limit = getattr(meta, "le", None)
        if limit is not None:
            return int(limit)
    raise AssertionError(f"{model.__name__}.generation has no upper limit")


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


# --- infra's own password (redis.admin) -------------------------------------------
@dataclass(frozen=True)
class AdminChange:
    """One step of a rotation of infra's password: `redis.admin` after its edit."""

    generation: int
    rotation: AdminStep

    @property
    def step(self) -> int:
        """1, 2 or 3."""
        return ADMIN_STEPS.index(self.rotation) + 1


@dataclass(frozen=True)
class AdminPlan:
    """The steps a run of `infra rotate STACK --admin` takes, in order. `resumed`:
    the stack file already holds the first one (an earlier run stopped at it,
    maybe before its `up` finished), so that step's `up` runs again unedited."""

    steps: tuple[AdminChange, ...]
    resumed: bool


def admin_plan(stack: str, file: StackFile) -> AdminPlan:
    """A new rotation of infra's password (generation + 1, all three steps), or
    the rest of one the stack file is in the middle of. Refused (exit 2) when
    the stack has no such password or it cannot rotate again."""
    config = file.config
    if "redis" not in config.enabled_components():
        raise InvalidInput(
            f"stack '{stack}' has no redis component: infra has no Redis password to rotate"
        )
    redis = config.typed("redis", RedisConfig)
    if redis.admin_user is None:
        raise InvalidInput(
            f"stack '{stack}' has redis.defaultUser: {redis.default_user}: infra logs in as "
            "Redis' `default` user, whose one password (`requirepass`) cannot rotate without "
            "an outage; infra's own password rotates only with defaultUser: disabled "
            '(README, "Security model")'
        )
    generation, current = redis.admin.generation, redis.admin.rotation
    if current != "done":
        left = ADMIN_STEPS[ADMIN_STEPS.index(current) :]
        return AdminPlan(tuple(AdminChange(generation, s) for s in left), resumed=True)
    limit = max_generation(AdminConfig)
    if generation >= limit:
        raise InvalidInput(
            f"infra's password of stack '{stack}' is at generation {generation}, the highest "
            "redis.admin accepts: it cannot rotate again"
        )
    return AdminPlan(tuple(AdminChange(generation + 1, s) for s in ADMIN_STEPS), resumed=False)


def describe_admin(change: AdminChange) -> str:
    """`redis.admin: {generation: 2, rotation: accept}`: the value the edit writes."""
    return f"redis.{ADMIN_KEY}: {_flow(_admin_values(change))}"


def edit_admin(file: StackFile, change: AdminChange) -> str:
    """The stack file's text with `redis.admin` set to `change` in place (the
    mapping added after the redis mapping's last entry when it has none);
    checked: parsed again only `redis.admin` changed, to an int generation and
    the intended rotation."""
    values = _admin_values(change)

    def splices(text: str, root: Node | None) -> list[Splice]:
        redis = _node_at(root, ("config", REDIS_KEY))
        found = _get(redis, (ADMIN_KEY,))
        if found is None:
            return [_addition(text, redis, [f"{ADMIN_KEY}: {_flow(values)}"])]
        return _set_values(text, found[1], values)

    def as_intended(after: str) -> bool:
        def expect(redis: dict[str, Any]) -> None:
            admin = redis.setdefault(ADMIN_KEY, {})
            admin.update(generation=change.generation, rotation=change.rotation)

        typed = _same_but(file.text, after, expect)
        return (
            typed is not None
            and type(typed.admin.generation) is int
            and typed.admin.generation == change.generation
            and typed.admin.rotation == change.rotation
        )

    return _edited(file, f"redis.{ADMIN_KEY}", splices, as_intended, describe_admin(change))


def _admin_values(change: AdminChange) -> dict[str, str]:
    return {"generation": str(change.generation), "rotation": change.rotation}


def _flow(values: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}"


# --- the edit ---------------------------------------------------------------------
def edit(file: StackFile, changes: Sequence[Change]) -> str:
    """The stack file's text with `changes` made in place; checked: parsed again it
    is the same document with only those values changed, and its config is valid."""

    def splices(text: str, root: Node | None) -> list[Splice]:
        users = _node_at(root, ("config", REDIS_KEY, "users"))
        if not isinstance(users, SequenceNode):
            raise TypeError("users is not a list")
        return [s for c in changes for s in _set_values(text, users.value[c.index], _values(c))]

    def as_intended(after: str) -> bool:
        def expect(redis: dict[str, Any]) -> None:
            for change in changes:
                user = redis["users"][change.index]
                for key, value in (
                    ("generation", change.generation),
                    ("keepPrevious", change.keep_previous),
                ):
                    name = next((n for n in KEYS[key] if n in user), key)
                    user[name] = value

        typed = _same_but(file.text, after, expect)
        return typed is not None and all(
            type(typed.users[c.index].generation) is int
            and typed.users[c.index].generation == c.generation
            and typed.users[c.index].keep_previous is c.keep_previous
            for c in changes
        )

    return _edited(file, "redis.users", splices, as_intended, describe_edit(changes))


def describe_edit(changes: Sequence[Change]) -> str:
    """`app: generation 2, keepPrevious: true; ...`: the values the edit writes."""
    return "; ".join(
        f"{c.name}: generation {c.generation}, keepPrevious: {str(c.keep_previous).lower()}"
        for c in changes
    )


def _values(change: Change) -> dict[str, str]:
    return {
        "generation": str(change.generation),
        "keepPrevious": str(change.keep_previous).lower(),
    }


def _edited(
    file: StackFile,
    what: str,
    splices_of: Callable[[str, Node | None], list[Splice]],
    as_intended: Callable[[str], bool],
    by_hand: str,
) -> str:
    """The file's text with the splices made, if the result is as intended; else
    refused (exit 2) with what to write by hand."""
    text = file.text
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        splices: list[Splice] | None = splices_of(text, root)
    except (yaml.YAMLError, LookupError, TypeError):
        splices = None
    edited = _splice(text, splices) if splices is not None else None
    if edited is None or not as_intended(edited):
        raise InvalidInput(
            f"cannot edit {what} in stacks/{file.path.name} by itself (anchors, aliases or an "
            "unusual layout): edit it by hand",
            [by_hand],
        )
    return edited


def _get(node: Node | None, names: Sequence[str]) -> tuple[ScalarNode, Node] | None:
    if not isinstance(node, MappingNode):
        raise TypeError(f"not a mapping: {type(node).__name__}")
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.value in names:
            return key, value
    return None


def _node_at(root: Node | None, path: Sequence[str]) -> Node:
    """The value at `path`, key by key from the document's root mapping."""
    node = root
    for name in path:
        found = _get(node, (name,))
        if found is None:
            raise LookupError(name)
        node = found[1]
    assert node is not None
    return node


def _set_values(
    text: str, mapping: Node, values: Mapping[str, str], names: Mapping[str, Sequence[str]] = KEYS
) -> list[Splice]:
    """(start, end, replacement) spans of the text that set `values` in `mapping`:
    each one in place, the missing ones added at its end (`names`: the other
    spellings pydantic accepts for a key)."""
    splices: list[Splice] = []
    missing: list[str] = []
    for key, value in values.items():
        found = _get(mapping, names.get(key, (key,)))
        if found is None:
            missing.append(f"{key}: {value}")
            continue
        node = found[1]
        if not isinstance(node, ScalarNode):
            raise TypeError(f"{key} is not a value")
        splices.append(_replace(text, node, value))
    if missing:
        splices.append(_addition(text, mapping, missing))
    return splices


def _replace(text: str, node: ScalarNode, value: str) -> Splice:
    """The value's span and its new text; a comment after it keeps its column."""
    start, end = node.start_mark.index, node.end_mark.index
    gap = len(text) - end - len(text[end:].lstrip(" "))
    if gap and text[end + gap : end + gap + 1] == "#":
        shift = len(value) - (end - start)
        return start, end + gap, value + " " * max(1, gap - shift)
    return start, end, value


def _addition(text: str, mapping: Node, entries: list[str]) -> Splice:
    """New keys at the end of a mapping, in its own style."""
    if not isinstance(mapping, MappingNode):
        raise TypeError(f"not a mapping: {type(mapping).__name__}")
    if not mapping.value:  # `{}`: inside the braces (a block mapping is never empty)
        at = mapping.end_mark.index - 1
        if not mapping.flow_style or text[at : at + 1] != "}":
            raise TypeError("an empty mapping that is not `{}`")
        return at, at, ", ".join(entries)
    end = _end(mapping.value[-1][1])
    if mapping.flow_style:  # {name: app, keys: [...]}: before the closing brace
        return end, end, "".join(f", {e}" for e in entries)
    # A block mapping: lines after the line of its last value, at its keys' column.
    eol = text.find("\n", end)
    at = len(text) if eol < 0 else eol + 1
    indent = " " * mapping.value[0][0].start_mark.column
    lines = "".join(f"{indent}{e}\n" for e in entries)
    return at, at, ("\n" if eol < 0 else "") + lines


def _end(node: Node) -> int:
    """Where a value's own text ends: a block collection's end mark is the next
    token's start (past comments and blank lines), so its last value's is used."""
    if not isinstance(node, MappingNode | SequenceNode) or node.flow_style or not node.value:
        return int(node.end_mark.index)
    last = node.value[-1]
    return _end(last[1] if isinstance(node, MappingNode) else last)


def _splice(text: str, splices: list[Splice]) -> str | None:
    ordered = sorted(splices, reverse=True)
    for (_, end, _), (next_start, _, _) in zip(ordered[1:], ordered, strict=False):
        if end > next_start:
            return None  # overlapping spans: an alias shared between users
    for start, end, replacement in ordered:
        text = text[:start] + replacement + text[end:]
    return text


def _same_but(
    before: str, after: str, expect: Callable[[dict[str, Any]], None]
) -> RedisConfig | None:
    """The typed redis config of `after`, if `after` is `before` with exactly the
    change `expect` makes to `before`'s redis mapping, and valid config; else None."""
    try:
        expected = yaml.safe_load(before)
        got = yaml.safe_load(after)
        expect(expected["config"][REDIS_KEY])
    except (yaml.YAMLError, LookupError, TypeError, AttributeError):
        return None
    if got != expected:
        return None
    try:
        config = parse_config(strip_namespace(got["config"]))
    except ConfigInvalid:
        return None
    return config.typed("redis", RedisConfig)


def write(path: Path, text: str) -> None:
    """Write the stack file's text (read with universal newlines) in its own line
    endings: a file with CRLF keeps them."""
    newline = "\r\n" if b"\r\n" in path.read_bytes() else "\n"
    path.write_text(text, newline=newline)


def put_back(path: Path, original: str, edited: str, key: str = "users") -> bool:
    """Undo the edit of `redis.<key>` when the step stops before the engine changed
    anything (a declined preview, a refusal). Pulumi may have added lines meanwhile
    (stack creation, generated secrets): those stay. False: it changed more than
    that, and the file keeps the edit."""
    current = path.read_text()
    if current == edited:
        write(path, original)
        return True
    try:
        document = yaml.safe_load(current)
        before = yaml.safe_load(original)
        reverted: dict[str, Any] = copy.deepcopy(document)
        redis, was = reverted["config"][REDIS_KEY], before["config"][REDIS_KEY]
        if key in was:
            redis[key] = was[key]
        else:
            redis.pop(key, None)
    except (yaml.YAMLError, LookupError, TypeError, AttributeError):
        return False
    merged = localstack.merge_additions(original, yaml.safe_dump(reverted, sort_keys=False))
    if merged is None:
        return False
    write(path, merged)
    return True
