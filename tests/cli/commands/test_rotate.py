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
