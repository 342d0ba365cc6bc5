"""Hand-set stack passwords: weak or shared ones are refused before any resource."""

from __future__ import annotations

import secrets

import pytest

from stacks.config.secret_rules import password_problems
from tests.support.capture import run_program

GOOD = "test-password-0123456789"


def test_generated_passwords_pass() -> None:
    values = {"redisPassword": secrets.token_urlsafe(32), "mongoRootPassword": GOOD}
    assert password_problems(values, "local") == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short-0123", "10 characters, at least 24 are needed"),
        ("has space 0123456789abcdef", "only A-Z, a-z, 0-9"),
        ("pass#word0123456789abcdef", "only A-Z, a-z, 0-9"),
        ("ab" * 15, "only 2 distinct characters"),
    ],
)
def test_weak_passwords_are_refused_naming_the_key_and_the_fix(value: str, message: str) -> None:
    [problem] = password_problems({"redisPassword": value}, "prod")
    assert problem.startswith("infra:redisPassword: ") and message in problem
    assert "-s prod" in problem and "infra up` generates one" in problem
    assert value not in problem  # never print the secret


def test_one_password_for_two_components_is_refused() -> None:
    [problem] = password_problems({"redisPassword": GOOD, "mongoRootPassword": GOOD}, "s")
    assert problem.startswith("infra:mongoRootPassword: the same value as infra:redisPassword")
    assert GOOD not in problem


def test_the_program_stops_before_any_resource() -> None:
    with pytest.raises(Exception, match="refused stack secrets") as refused:
        run_program("unit", {"redis": {}}, {"redisPassword": "weak"})
    assert "infra:redisPassword: 4 characters" in str(refused.value)


def test_infra_reports_the_programs_refusal_as_bad_input() -> None:
    from cli.engine.deploy import refused_secrets

    engine = (
        "stderr: error: refused stack secrets:\n"
        "error:   - infra:redisPassword: 14 characters, at least 24 are needed (fix)\n"
        "error: an unhandled error occurred: program exited with non-zero exit code: 1\n"
    )
    assert refused_secrets(engine) == [
        "infra:redisPassword: 14 characters, at least 24 are needed (fix)"
    ]
    assert refused_secrets("error: something else") == []
