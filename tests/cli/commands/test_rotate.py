"""`infra rotate` through Typer's runner: the stack-file edit of each step, every
refusal (exit 2, nothing touched), and the `up` it runs (replaced at the engine
boundary, `Deployer.up`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from pulumi import automation as auto
from typer.testing import CliRunner

from cli import app as cli_app
from cli import errors
from cli.engine import deploy, stackfile
from cli.engine.project import Project
from cli.main import app
from components.redis_config import RedisConfig
from tests.cli.conftest import files_under


def invoke(runner: CliRunner, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def ups(monkeypatch: pytest.MonkeyPatch, no_pulumi: None) -> list[dict[str, Any]]:
    """`Deployer.up` replaced: records the users each up deployed (as the deployer
    read them from the stack file) and returns a result with a secret output."""
    done: list[dict[str, Any]] = []

    def up(self: deploy.Deployer, on_event: Any) -> Any:
        users = self.config.typed("redis", RedisConfig).users
        done.append({u.name: (u.generation, u.keep_previous) for u in users})
        secret = auto.OutputValue(value={"app": {"password": "s3cret-pw"}}, secret=True)
        return SimpleNamespace(
            summary=SimpleNamespace(resource_changes={"update": 6}),
            outputs={"redisUsers": secret},
        )

    monkeypatch.setattr(deploy.Deployer, "up", up)
    return done


def stack_file(project: Path, name: str = "local") -> Path:
    return project / "stacks" / f"Pulumi.{name}.yaml"


def users_of(project: Path, name: str = "local") -> dict[str, tuple[Any, Any]]:
    """name -> (generation, keepPrevious) as the typed config has them."""
    loaded = stackfile.load(Project(project), name)
    users = loaded.config.typed("redis", RedisConfig).users
    return {u.name: (u.generation, u.keep_previous) for u in users}


def raw_users(project: Path, name: str = "local") -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = yaml.safe_load(stack_file(project, name).read_text())["config"][
        "infra:redis"
    ]["users"]
    return users


def added_lines(before: str, after: str) -> list[str]:
    """`after`'s lines that are not in `before`, checking that `before`'s lines are
    all still there, in order and unchanged."""
    old, new = before.splitlines(), after.splitlines()
    it = iter(new)
    assert all(any(line == n for n in it) for line in old), "a line of the file changed"
    return [line for line in new if line not in old]


def set_users(project: Path, users_yaml: str) -> None:
    """The local stack file with its `users:` block (up to infra:mongo) replaced."""
    path = stack_file(project)
    text = path.read_text()
    start, end = text.index("    users:"), text.index("  infra:mongo:")
    path.write_text(text[:start] + users_yaml + text[end:])


# --- the steps ------------------------------------------------------------------------
def test_start_raises_generation_sets_keep_previous_and_runs_up(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]]
) -> None:
    before = stack_file(project).read_text()
    code, out, err = invoke(runner, "rotate", "local", "--user", "app", "--yes")
    assert code == 0, err
    after = stack_file(project).read_text()
    # Only two lines added, under app's, at its keys' column: every comment and its
    # column alignment kept.
    assert added_lines(before, after) == ["        generation: 2", "        keepPrevious: true"]
    assert '        keys: ["app:*"]\n        generation: 2\n        keepPrevious: true\n' in after
    raw = raw_users(project)[0]
    assert type(raw["generation"]) is int and raw["keepPrevious"] is True
    assert users_of(project) == {"app": (2, True), "reports": (1, False)}
    assert ups == [{"app": (2, True), "reports": (1, False)}]  # up ran on the edited file
    assert (
        "rotating app: generation 2, both passwords accepted until "
        "`infra rotate local --user app --finish`"
    ) in err
    assert err.index("rotating app") < err.index("update")  # said before the up
    assert "s3cret-pw" not in out + err and "[secret]" in out


def test_finish_clears_keep_previous_in_place(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]]
) -> None:
    set_users(
        project,
        "    users:\n"
        "      - name: app\n"
        "        generation: 3       # rotated twice\n"
        "        keepPrevious: yes   # until the clients moved\n"
        '        keys: ["app:*"]\n',
    )
    before = stack_file(project).read_text()
    code, _, err = invoke(runner, "rotate", "local", "--user", "app", "--finish", "--yes")
    assert code == 0, err
    after = stack_file(project).read_text()
    # the value replaced in place, its comment at the same column
    assert after == before.replace("keepPrevious: yes   #", "keepPrevious: false #")
    assert users_of(project) == {"app": (3, False)}
    assert ups == [{"app": (3, False)}]
    assert (
        "finishing the rotation of app (generation 3): the previous password stops working "
        "after this up"
    ) in err


def test_every_user_without_user(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]]
) -> None:
    code, _, err = invoke(runner, "rotate", "local", "--yes")
    assert code == 0, err
    assert users_of(project) == {"app": (2, True), "reports": (2, True)}
    assert (
        "rotating app, reports: generations app 2, reports 2, both passwords accepted until "
        "`infra rotate local --finish`"
    ) in err
    code, _, err = invoke(runner, "rotate", "local", "--finish", "--yes")
    assert code == 0, err
    assert users_of(project) == {"app": (2, False), "reports": (2, False)}
    assert len(ups) == 2


def test_finish_without_user_finishes_the_users_mid_rotation(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]]
) -> None:
    assert invoke(runner, "rotate", "local", "--user", "reports", "--yes")[0] == 0
    code, _, err = invoke(runner, "rotate", "local", "--finish", "--yes")
    assert code == 0, err
    assert users_of(project) == {"app": (1, False), "reports": (2, False)}


def test_a_start_and_its_finish_leave_only_the_generation(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]]
) -> None:
    before = stack_file(project).read_text()
    for args in (["--user", "app"], ["--user", "app", "--finish"]):
        assert invoke(runner, "rotate", "local", *args, "--yes")[0] == 0
    after = stack_file(project).read_text()
    assert added_lines(before, after) == ["        generation: 2", "        keepPrevious: false"]


# --- refusals: exit 2, nothing touched, no engine ---------------------------------------
REDIS_ONLY = "config:\n  infra:redis:\n    mode: cluster\n"


@pytest.mark.parametrize(
    ("users", "args", "message"),
    [
        (
            None,
            ["--user", "nobody"],
            "no user 'nobody' in redis.users of stack 'local' (users: app, reports)",
        ),
        (
            None,
            ["--user", "app", "--finish"],
            "app is not mid-rotation (keepPrevious is not set): "
            "`infra rotate local --user app` starts one",
        ),
        (
            None,
            ["--finish"],
            "no user of stack 'local' is mid-rotation (keepPrevious: true): nothing to finish",
        ),
        (
            "    users:\n      - {name: app, generation: 2, keepPrevious: true}\n",
            ["--user", "app"],
            "app is mid-rotation (generation 2, keepPrevious: true): finish it first with "
            "`infra rotate local --user app --finish`",
        ),
        (
            "    users:\n      - {name: app, generation: 2, keepPrevious: true}\n"
            "      - {name: cart, generation: 10000}\n",
            [],
            "2 users cannot start a rotation",
        ),
        (
            "    users:\n      - {name: app, generation: 10000}\n",
            ["--user", "app"],
            "app is at generation 10000, the highest redis.users accepts",
        ),
        (
            None,
            ["--user", "app"],
            "`infra rotate local --user app` needs --yes when not run from a terminal",
        ),
    ],
    ids=["unknown", "finish-not-mid", "finish-none-mid", "mid", "several", "max", "no-yes"],
)
def test_refusals_are_exit_2_and_touch_nothing(
    runner: CliRunner,
    project: Path,
    ups: list[dict[str, Any]],
    users: str | None,
    args: list[str],
    message: str,
) -> None:
    if users is not None:
        set_users(project, users)
    yes = [] if message.endswith("terminal") else ["--yes"]
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "local", *args, *yes)
    assert code == errors.INVALID, err
    assert f"error: {message}" in err
    assert files_under(project) == before
    assert ups == []


def test_several_refusals_are_listed_together(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]]
) -> None:
    set_users(
        project,
        "    users:\n      - {name: app, generation: 2, keepPrevious: true}\n"
        "      - {name: cart, generation: 10000}\n",
    )
    _, _, err = invoke(runner, "rotate", "local", "--yes")
    assert "  - app is mid-rotation" in err and "  - cart is at generation 10000" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("config:\n  infra:redis:\n    enabled: false\n", "stack 'other' has no redis component"),
        (REDIS_ONLY, "stack 'other' has no Redis users (redis.users is empty)"),
    ],
    ids=["no-redis", "no-users"],
)
def test_a_stack_without_users_is_exit_2(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]], text: str, message: str
) -> None:
    stack_file(project, "other").write_text(text)
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "other", "--yes")
    assert code == errors.INVALID and f"error: {message}" in err
    assert files_under(project) == before and ups == []


def test_a_layout_it_cannot_edit_safely_is_exit_2(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]]
) -> None:
    # app's mapping is merged into b's: a key added to app's would change b too.
    set_users(
        project,
        '    users:\n      - &base {name: app, keys: ["a:*"]}\n      - {<<: *base, name: b}\n',
    )
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "local", "--user", "app", "--yes")
    assert code == errors.INVALID, err
    assert "cannot edit redis.users in stacks/Pulumi.local.yaml by itself" in err
    assert "  - app: generation 2, keepPrevious: true" in err  # what to write by hand
    assert files_under(project) == before and ups == []


# --- after the edit -------------------------------------------------------------------
def test_a_failed_up_keeps_the_edit_and_says_how_to_finish(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, no_pulumi: None
) -> None:
    def locked(self: deploy.Deployer, on_event: Any) -> None:
        with deploy.engine_errors("local"):
            raise auto.ConcurrentUpdateError(
                auto.CommandResult(stdout="", stderr="error: the stack is locked", code=255)
            )

    monkeypatch.setattr(deploy.Deployer, "up", locked)
    code, _, err = invoke(runner, "rotate", "local", "--user", "app", "--yes")
    assert code == errors.STACK_LOCKED
    assert (
        "stacks/Pulumi.local.yaml keeps the rotation (app: generation 2, keepPrevious: true): "
        "`infra up local` finishes it"
    ) in err
    assert users_of(project) == {"app": (2, True), "reports": (1, False)}


def test_declined_after_the_preview_puts_the_file_back(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, ups: list[dict[str, Any]]
) -> None:
    from tests.cli.test_cli import fake_preview, pre_event

    seen: list[dict[str, Any]] = []
    preview = fake_preview(
        [pre_event("update", "redis-node-0", "docker:index/container:Container")]
    )

    def recorded(self: deploy.Deployer, on_event: Any, diff: bool = False) -> Any:
        users = self.config.typed("redis", RedisConfig).users
        seen.append({u.name: (u.generation, u.keep_previous) for u in users})
        return preview(self, on_event, diff)

    monkeypatch.setattr(cli_app, "interactive", lambda: True)
    monkeypatch.setattr(deploy.Deployer, "preview", recorded)
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "local", "--user", "app", stdin="n\n")
    assert code == errors.CANCELLED, err
    assert "rotate stack 'local'?" in err and "cancelled, nothing changed" in err
    assert seen == [{"app": (2, True), "reports": (1, False)}]  # the preview of the rotation
    assert files_under(project) == before and ups == []

    code, _, err = invoke(runner, "rotate", "local", "--user", "app", stdin="y\n")
    assert code == 0, err
    assert ups == [{"app": (2, True), "reports": (1, False)}]


def test_a_stack_without_a_backend_is_refused_before_the_edit(
    runner: CliRunner, project: Path, ups: list[dict[str, Any]]
) -> None:
    """No backend named: refused before the edit, as `infra up` refuses it."""
    production = stack_file(project, "production")
    production.write_text((project / "templates" / "production.yaml").read_text())
    assert raw_users(project, "production"), "the production template has users"
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "production", "--yes")
    assert code == errors.INVALID, err
    assert "stack 'production' needs an explicit backend and secrets" in err
    assert "rotating" not in err
    assert files_under(project) == before and ups == []


# --- infra's own password: --admin ------------------------------------------------------
ACCEPT, SWITCH, DONE = (
    {"generation": 2, "rotation": "accept"},
    {"generation": 2, "rotation": "switch"},
    {"generation": 2, "rotation": "done"},
)
AFTER_USERS = "        preset: readonly      # reads, never writes\n"


def raw_admin(project: Path, name: str = "local") -> Any:
    redis = yaml.safe_load(stack_file(project, name).read_text())["config"]["infra:redis"]
    return redis.get("admin")


@pytest.fixture
def admin_ups(monkeypatch: pytest.MonkeyPatch, no_pulumi: None) -> list[Any]:
    """`Deployer.up` replaced: records the stack file's `redis.admin` at each call
    (and checks the deployer read the same, typed) and returns a secret output."""
    done: list[Any] = []

    def up(self: deploy.Deployer, on_event: Any) -> Any:
        raw = raw_admin(self.project.root, self.stack_name)
        typed = self.config.typed("redis", RedisConfig).admin
        assert raw is not None and (typed.generation, typed.rotation) == (
            raw["generation"],
            raw["rotation"],
        )
        done.append(raw)
        secret = auto.OutputValue(value="s3cret-admin-pw", secret=True)
        return SimpleNamespace(
            summary=SimpleNamespace(resource_changes={"update": 6}),
            outputs={"redisPassword": secret},
        )

    monkeypatch.setattr(deploy.Deployer, "up", up)
    return done


def set_admin(project: Path, admin_yaml: str) -> None:
    """The local stack file with `admin_yaml` after the redis mapping's last line."""
    path = stack_file(project)
    text = path.read_text()
    assert AFTER_USERS in text
    path.write_text(text.replace(AFTER_USERS, AFTER_USERS + admin_yaml))


def test_admin_runs_the_three_steps_each_with_its_up(
    runner: CliRunner, project: Path, admin_ups: list[Any]
) -> None:
    before = stack_file(project).read_text()
    code, out, err = invoke(runner, "rotate", "local", "--admin", "--yes")
    assert code == 0, err
    assert admin_ups == [ACCEPT, SWITCH, DONE]  # the file at each up, in order
    after = stack_file(project).read_text()
    # One line added, at the redis mapping's key column after its last entry; every
    # comment and its column kept.
    assert added_lines(before, after) == ["    admin: {generation: 2, rotation: done}"]
    assert AFTER_USERS + "    admin: {generation: 2, rotation: done}\n  infra:mongo:" in after
    lines = [
        "infra's password, step 1 of 3 (accept): generation 2; every node accepts the new "
        "password and the old one; everything still logs in with the old",
        "infra's password, step 2 of 3 (switch): every node now logs in with the new password",
        "infra's password, step 3 of 3 (done): the old password stops working",
        "infra's password rotated (generation 2): the redisPassword output has the new one "
        "(`infra outputs local --json --show-secrets`)",
    ]
    assert [err.index(line) for line in lines] == sorted(err.index(line) for line in lines)
    assert err.count("update") == 3  # one summary line per up
    assert "s3cret" not in out + err and "[secret]" in out


def test_admin_on_a_terminal_asks_once_before_the_first_up(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, admin_ups: list[Any]
) -> None:
    from tests.cli.test_cli import fake_preview, pre_event

    previewed: list[Any] = []
    preview = fake_preview(
        [pre_event("update", "redis-node-0", "docker:index/container:Container")]
    )

    def recorded(self: deploy.Deployer, on_event: Any, diff: bool = False) -> Any:
        previewed.append(raw_admin(project))
        return preview(self, on_event, diff)

    monkeypatch.setattr(cli_app, "interactive", lambda: True)
    monkeypatch.setattr(deploy.Deployer, "preview", recorded)
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "local", "--admin", stdin="n\n")
    assert code == errors.CANCELLED, err
    assert "cancelled, nothing changed" in err and "keeps step" not in err
    assert previewed == [ACCEPT] and admin_ups == []
    assert files_under(project) == before  # the edit put back

    previewed.clear()
    code, _, err = invoke(runner, "rotate", "local", "--admin", stdin="y\n")
    assert code == 0, err
    assert err.count("rotate stack 'local'?") == 1 and previewed == [ACCEPT]
    assert admin_ups == [ACCEPT, SWITCH, DONE]


@pytest.mark.parametrize(
    ("admin", "expected", "step"),
    [
        ("    admin: {generation: 2, rotation: accept}\n", [ACCEPT, SWITCH, DONE], 1),
        ("    admin: {generation: 2, rotation: switch}\n", [SWITCH, DONE], 2),
    ],
    ids=["accept", "switch"],
)
def test_admin_continues_a_rotation_stopped_midway(
    runner: CliRunner,
    project: Path,
    admin_ups: list[Any],
    admin: str,
    expected: list[Any],
    step: int,
) -> None:
    set_admin(project, admin)
    before = stack_file(project).read_text()
    code, _, err = invoke(runner, "rotate", "local", "--admin", "--yes")
    assert code == 0, err
    assert admin_ups == expected  # the stopped step's up again, then the next ones
    rotation = expected[0]["rotation"]
    assert (
        "stacks/Pulumi.local.yaml is in the middle of a rotation of infra's password "
        f"(generation 2, rotation: {rotation}): continuing from step {step} of 3, whose up "
        "runs again first"
    ) in err
    assert f"step {step} of 3 ({rotation})" not in err  # no edit: the resumed step's line
    assert stack_file(project).read_text() == before.replace(admin, admin.replace(rotation, "done"))


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        (
            "    admin: {generation: 3}   # rotated twice\n",
            "    admin: {generation: 4, rotation: done}   # rotated twice\n",
        ),
        (
            "    admin:\n      generation: 3      # rotated twice\n      rotation: done\n",
            "    admin:\n      generation: 4      # rotated twice\n      rotation: done\n",
        ),
        (
            "    admin:   # infra's own\n      rotation: done   # at rest\n",
            "    admin:   # infra's own\n      rotation: done   # at rest\n      generation: 2\n",
        ),
    ],
    ids=["flow", "block", "block-without-generation"],
)
def test_admin_edits_an_admin_mapping_in_place(
    runner: CliRunner, project: Path, admin_ups: list[Any], admin: str, expected: str
) -> None:
    set_admin(project, admin)
    before = stack_file(project).read_text()
    code, _, err = invoke(runner, "rotate", "local", "--admin", "--yes")
    assert code == 0, err
    generation = admin_ups[0]["generation"]
    assert admin_ups == [
        {"generation": generation, "rotation": step} for step in ("accept", "switch", "done")
    ]
    assert stack_file(project).read_text() == before.replace(admin, expected)


@pytest.mark.parametrize(
    ("args", "edit", "message"),
    [
        (
            ["--user", "app"],
            None,
            "--admin cannot be combined with --user: it rotates infra's own password",
        ),
        (["--finish"], None, "--admin cannot be combined with --finish"),
        (["--user", "app", "--finish"], None, "--admin cannot be combined with --user or --finish"),
        (
            [],
            ("defaultUser: disabled", "defaultUser: admin   "),
            "stack 'local' has redis.defaultUser: admin: infra logs in as Redis' `default` user, "
            "whose one password (`requirepass`) cannot rotate without an outage",
        ),
        (
            [],
            (AFTER_USERS, AFTER_USERS + "    admin: {generation: 10000}\n"),
            "infra's password of stack 'local' is at generation 10000, the highest redis.admin "
            "accepts: it cannot rotate again",
        ),
        (
            [],
            (AFTER_USERS, AFTER_USERS + "    admin: {generation: *n}\n"),
            "cannot edit redis.admin in stacks/Pulumi.local.yaml by itself",
        ),
        ([], None, "`infra rotate local --admin` needs --yes when not run from a terminal"),
        (
            [],
            (AFTER_USERS, AFTER_USERS + "    admin: {generation: 2, rotation: switch}\n"),
            "`infra rotate local --admin` needs --yes when not run from a terminal",
        ),
    ],
    ids=["user", "finish", "both", "default-user", "max", "alias", "no-yes", "resume-no-yes"],
)
def test_admin_refusals_are_exit_2_and_touch_nothing(
    runner: CliRunner,
    project: Path,
    admin_ups: list[Any],
    args: list[str],
    edit: tuple[str, str] | None,
    message: str,
) -> None:
    path = stack_file(project)
    text = path.read_text().replace("shards: 3 ", "shards: &n 3")  # an anchor for "alias"
    if edit is not None:
        assert edit[0] in text
        text = text.replace(*edit)
    path.write_text(text)
    yes = [] if message.endswith("terminal") else ["--yes"]
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "local", "--admin", *args, *yes)
    assert code == errors.INVALID, err
    assert f"error: {message}" in err
    assert files_under(project) == before and admin_ups == []
    if edit is not None and "*n" in edit[1]:  # what to write by hand
        assert "  - redis.admin: {generation: 4, rotation: accept}" in err


def test_admin_on_a_stack_without_redis_is_exit_2(
    runner: CliRunner, project: Path, admin_ups: list[Any]
) -> None:
    stack_file(project, "other").write_text("config:\n  infra:redis:\n    enabled: false\n")
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "other", "--admin", "--yes")
    assert code == errors.INVALID
    assert "error: stack 'other' has no redis component: infra has no Redis password" in err
    assert files_under(project) == before and admin_ups == []


@pytest.mark.parametrize(
    ("failing", "kept", "then"),
    [
        (1, ACCEPT, "`infra rotate local --admin` continues it"),
        (2, SWITCH, "`infra rotate local --admin` continues it"),
        (3, DONE, "`infra up local` finishes it"),
    ],
    ids=["accept", "switch", "done"],
)
def test_a_failed_up_keeps_its_step_and_says_how_to_carry_on(
    runner: CliRunner,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    admin_ups: list[Any],
    failing: int,
    kept: dict[str, Any],
    then: str,
) -> None:
    recorded = deploy.Deployer.up

    def up(self: deploy.Deployer, on_event: Any) -> Any:
        result = recorded(self, on_event)
        if len(admin_ups) == failing:
            with deploy.engine_errors("local"):
                raise auto.ConcurrentUpdateError(
                    auto.CommandResult(stdout="", stderr="error: the stack is locked", code=255)
                )
        return result

    monkeypatch.setattr(deploy.Deployer, "up", up)
    code, _, err = invoke(runner, "rotate", "local", "--admin", "--yes")
    assert code == errors.STACK_LOCKED, err
    assert admin_ups == [ACCEPT, SWITCH, DONE][:failing]
    step = f"step {failing} of 3 of infra's password rotation"
    described = f"redis.admin: {{generation: 2, rotation: {kept['rotation']}}}"
    assert f"stacks/Pulumi.local.yaml keeps {step} ({described}): {then}" in err
    assert raw_admin(project) == kept

    if failing < 3:  # the same command carries on: that step's up again, then the rest
        admin_ups.clear()
        monkeypatch.setattr(deploy.Deployer, "up", recorded)
        code, _, err = invoke(runner, "rotate", "local", "--admin", "--yes")
        assert code == 0, err
        assert admin_ups == [ACCEPT, SWITCH, DONE][failing - 1 :]
        assert raw_admin(project) == DONE


def test_admin_twice_rotates_twice(runner: CliRunner, project: Path, admin_ups: list[Any]) -> None:
    for _ in range(2):
        assert invoke(runner, "rotate", "local", "--admin", "--yes")[0] == 0
    assert raw_admin(project) == {"generation": 3, "rotation": "done"}
    assert [a["generation"] for a in admin_ups] == [2, 2, 2, 3, 3, 3]


def test_a_step_declined_after_an_up_with_nothing_to_do_goes_back_a_step(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch, admin_ups: list[Any]
) -> None:
    """Resumed at accept on a terminal: that up has nothing left to do (no
    question), so the switch is the first to ask; declined, the file goes back
    to accept, which the same command continues."""
    from tests.cli.test_cli import fake_preview, pre_event

    container = "docker:index/container:Container"
    previews = iter(
        [
            fake_preview([pre_event("same", "redis-node-0", container)]),
            fake_preview([pre_event("update", "redis-node-0", container)]),
        ]
    )
    previewed: list[Any] = []

    def preview(self: deploy.Deployer, on_event: Any, diff: bool = False) -> Any:
        previewed.append(raw_admin(project))
        return next(previews)(self, on_event, diff)

    monkeypatch.setattr(cli_app, "interactive", lambda: True)
    monkeypatch.setattr(deploy.Deployer, "preview", preview)
    set_admin(project, "    admin: {generation: 2, rotation: accept}\n")
    before = files_under(project)
    code, _, err = invoke(runner, "rotate", "local", "--admin", stdin="n\n")
    assert code == errors.CANCELLED, err
    assert previewed == [ACCEPT, SWITCH] and admin_ups == []
    assert err.index("no changes") < err.index("step 2 of 3 (switch)")
    assert err.count("rotate stack 'local'?") == 1
    assert (
        "stacks/Pulumi.local.yaml keeps step 1 of 3 of infra's password rotation "
        "(redis.admin: {generation: 2, rotation: accept}): `infra rotate local --admin` "
        "continues it"
    ) in err
    assert files_under(project) == before
