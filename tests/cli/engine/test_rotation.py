"""The stack-file edit of a rotation in layouts other than the templates':
flow mappings, snake_case keys, CRLF, no final newline; and putting it back.
Both kinds: an application user's (redis.users) and infra's own (redis.admin)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cli.engine import rotation, stackfile
from cli.engine.project import Project
from cli.errors import InvalidInput
from components.redis_config import AdminConfig, RedisConfig
from components.redis_users import RedisUser

HEAD = "# my stack\nconfig:\n  infra:redis:\n    mode: cluster   # aligned\n"


def stack(tmp_path: Path, text: str) -> stackfile.StackFile:
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "stacks" / "Pulumi.s.yaml").write_bytes(text.encode())
    return stackfile.load(Project(tmp_path), "s")


def rotated(tmp_path: Path, text: str, names: list[str], finish: bool = False) -> str:
    file = stack(tmp_path, text)
    return rotation.edit(file, rotation.plan("s", file, names, finish))


def test_the_highest_generation_is_the_models() -> None:
    assert rotation.max_generation() == 10_000
    assert RedisUser.model_fields["generation"].metadata  # read from there, not copied
    assert rotation.max_generation(AdminConfig) == 10_000


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        (
            "    users: [{name: app, keys: ['a:*']}, {name: b}]\n",
            "    users: [{name: app, keys: ['a:*'], generation: 2, keepPrevious: true},"
            " {name: b}]\n",
        ),
        (
            "    users:\n      - {name: app, generation: 4 }   # flow\n",
            "    users:\n      - {name: app, generation: 5, keepPrevious: true }   # flow\n",
        ),
        (
            "    users:\n      - name: app\n        keep_previous: false  # snake\n"
            "        keys:\n          - 'a:*'   # list\n\n        # a comment\n",
            "    users:\n      - name: app\n        keep_previous: true   # snake\n"
            "        keys:\n          - 'a:*'   # list\n        generation: 2\n"
            "\n        # a comment\n",
        ),
        (
            '    users:\n    - name: app\n      generation: "1"',  # no final newline, quoted
            "    users:\n    - name: app\n      generation: 2\n      keepPrevious: true\n",
        ),
    ],
    ids=["flow-list", "flow-item", "snake-and-block-list", "no-final-newline"],
)
def test_start_in_other_layouts(tmp_path: Path, users: str, expected: str) -> None:
    assert rotated(tmp_path, HEAD + users, ["app"]) == HEAD + expected


def test_crlf_stays_crlf(tmp_path: Path) -> None:
    text = (HEAD + "    users:\n      - name: app\n").replace("\n", "\r\n")
    file = stack(tmp_path, text)
    edited = rotation.edit(file, rotation.plan("s", file, ["app"], False))
    rotation.write(file.path, edited)
    added = "        generation: 2\r\n        keepPrevious: true\r\n"
    assert file.path.read_bytes() == (text + added).encode()
    assert rotation.put_back(file.path, file.text, edited)
    assert file.path.read_bytes() == text.encode()


def test_types_come_back_as_the_model_types_them(tmp_path: Path) -> None:
    after = rotated(tmp_path, HEAD + "    users:\n      - name: app\n", ["app"])
    raw = yaml.safe_load(after)["config"]["infra:redis"]["users"][0]
    assert type(raw["generation"]) is int and raw["keepPrevious"] is True
    user = stack(tmp_path, after).config.typed("redis", RedisConfig).users[0]
    assert (type(user.generation), user.keep_previous) == (int, True)


def test_an_alias_shared_by_the_users_is_refused(tmp_path: Path) -> None:
    users = "    users:\n      - {name: app, generation: &g 3}\n      - {name: b, generation: *g}\n"
    text = HEAD + users
    with pytest.raises(InvalidInput, match=r"cannot edit redis\.users"):
        rotated(tmp_path, text, [])


def test_put_back_keeps_what_pulumi_added_meanwhile(tmp_path: Path) -> None:
    original = HEAD + "    users:   # aligned too\n      - name: app\n"
    file = stack(tmp_path, original)
    edited = rotated(tmp_path, original, ["app"])
    added = "  infra:redisPassword:\n    secure: v1:abc\nencryptionsalt: v1:salt\n"
    file.path.write_text(edited + added)
    assert rotation.put_back(file.path, original, edited)
    after = file.path.read_text()
    assert yaml.safe_load(after) == yaml.safe_load(original + added)
    assert "  # aligned\n    users:   # aligned too\n      - name: app\n  infra:redisP" in after

    file.path.write_text(edited)
    assert rotation.put_back(file.path, original, edited)
    assert file.path.read_text() == original


# --- redis.admin ----------------------------------------------------------------------
ADMIN_HEAD = HEAD + "    defaultUser: disabled\n"


def admin_edited(tmp_path: Path, text: str) -> str:
    file = stack(tmp_path, text)
    plan = rotation.admin_plan("s", file)
    return rotation.edit_admin(file, plan.steps[0])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "config:\n  infra:redis: {defaultUser: disabled}   # flow\n",
            "config:\n  infra:redis: {defaultUser: disabled, admin: {generation: 2, "
            "rotation: accept}}   # flow\n",
        ),
        (
            ADMIN_HEAD + "    users:\n      - name: app   # last\n\n# the end\n",
            ADMIN_HEAD + "    users:\n      - name: app   # last\n"
            "    admin: {generation: 2, rotation: accept}\n\n# the end\n",
        ),
        (
            ADMIN_HEAD + "    admin: {}\n",
            ADMIN_HEAD + "    admin: {generation: 2, rotation: accept}\n",
        ),
        (
            ADMIN_HEAD + "    admin: {rotation: done, generation: 5}",  # no final newline
            ADMIN_HEAD + "    admin: {rotation: accept, generation: 6}",
        ),
        (
            ADMIN_HEAD
            + "    admin:\n        generation: 7   # seventh\n    tls: {enabled: true}\n",
            ADMIN_HEAD + "    admin:\n        generation: 8   # seventh\n"
            "        rotation: accept\n    tls: {enabled: true}\n",
        ),
    ],
    ids=["flow-redis", "block-redis", "empty-admin", "flow-admin", "block-admin"],
)
def test_admin_in_other_layouts(tmp_path: Path, text: str, expected: str) -> None:
    assert admin_edited(tmp_path, text) == expected


def test_admin_plan_starts_or_continues(tmp_path: Path) -> None:
    steps = ("accept", "switch", "done")
    plan = rotation.admin_plan("s", stack(tmp_path, ADMIN_HEAD))
    assert not plan.resumed
    assert [(c.generation, c.rotation, c.step) for c in plan.steps] == [
        (2, s, i) for i, s in enumerate(steps, 1)
    ]
    for at, left in (("accept", steps), ("switch", steps[1:])):
        text = ADMIN_HEAD + f"    admin: {{generation: 9, rotation: {at}}}\n"
        plan = rotation.admin_plan("s", stack(tmp_path, text))
        assert plan.resumed and [(c.generation, c.rotation) for c in plan.steps] == [
            (9, s) for s in left
        ]


def test_admin_steps_are_the_models() -> None:
    assert set(rotation.ADMIN_STEPS) == {"accept", "switch", "done"}
    assert AdminConfig().rotation == rotation.ADMIN_STEPS[-1]  # at rest


def test_admin_crlf_and_put_back_removes_an_added_admin(tmp_path: Path) -> None:
    text = (ADMIN_HEAD + "    users:\n      - name: app\n").replace("\n", "\r\n")
    file = stack(tmp_path, text)
    edited = rotation.edit_admin(file, rotation.admin_plan("s", file).steps[0])
    rotation.write(file.path, edited)
    added = "    admin: {generation: 2, rotation: accept}\r\n"
    assert file.path.read_bytes() == (text + added).encode()
    # Pulumi added a secret meanwhile: it stays, the admin mapping goes
    file.path.write_text(edited + "  infra:redisPassword:\n    secure: v1:abc\n")
    assert rotation.put_back(file.path, file.text, edited, rotation.ADMIN_KEY)
    document = yaml.safe_load(file.path.read_text())["config"]
    assert "admin" not in document["infra:redis"] and "infra:redisPassword" in document


def test_admin_typed_as_the_model_types_it(tmp_path: Path) -> None:
    after = admin_edited(tmp_path, ADMIN_HEAD + '    admin: {generation: "3"}\n')
    raw = yaml.safe_load(after)["config"]["infra:redis"]["admin"]
    assert raw == {"generation": 4, "rotation": "accept"} and type(raw["generation"]) is int
    admin = stack(tmp_path, after).config.typed("redis", RedisConfig).admin
    assert (type(admin.generation), admin.rotation) == (int, "accept")


def test_admin_an_alias_it_cannot_edit_alone_is_refused(tmp_path: Path) -> None:
    text = ADMIN_HEAD + "    shards: &n 3\n    admin: {generation: *n}\n"
    with pytest.raises(InvalidInput, match=r"cannot edit redis\.admin") as caught:
        admin_edited(tmp_path, text)
    assert caught.value.details == ["redis.admin: {generation: 4, rotation: accept}"]
