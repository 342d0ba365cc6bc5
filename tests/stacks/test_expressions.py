"""The Rules language checker: what it accepts, what it refuses and why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stacks.config import expressions
from stacks.config.expressions import ExpressionError, check, fields_used, normalise, problems

VALID = [
    "true",
    'http.request.uri.path eq "/login"',
    '(http.request.uri.path eq "/login" and http.request.method eq "POST")',
    'starts_with(http.request.uri.path, "/api/")',
    'http.request.uri.path.extension in {"js" "css" "woff2"}',
    "ip.src in {192.0.2.0/24 198.51.100.7 2001:db8::/32}",
    "ip.src in $cf.open_proxies",
    'http.request.headers["x-api-key"][0] eq "secret"',
    'any(http.request.headers["authorization"][*] ne "")',
    'len(http.request.headers["authorization"]) > 0',
    'http.request.uri.query contains "a\\"b"',  # escaped quote inside a string
    'r#"raw "quoted" text"# eq http.host',
    "not ssl or cf.client.bot",
    'cf.threat_score ge 10 && ip.geoip.country in {"CN" "RU"}',
    'lower(http.host) matches "^www\\\\."',
]


@pytest.mark.parametrize("expression", VALID)
def test_valid_expressions_pass(expression: str) -> None:
    assert problems(expression) == []
    assert check(expression) == normalise(expression)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('http.host eq "x', "the string starting at column 14 is never closed"),
        ('r#"never closed"', "the string starting at column 1 is never closed"),
        ('(http.host eq "x"', "'(' at column 1 is never closed (add ')')"),
        ('http.host eq "x")', "unmatched ')' at column 17"),
        ('http.request.headers["a"', "'[' at column 21 is never closed (add ']')"),
        ("ip.src in {1.2.3.4", "'{' at column 11 is never closed (add '}')"),
        ('(http.host eq "x"]', "unmatched ']' at column 18"),
        ('http.hots eq "x"', "unknown field 'http.hots' at column 1 (did you mean 'http.host'?)"),
        ('ip.src.contry eq "FR"', "did you mean 'ip.src.country'?"),
        ('foo(http.host) eq "x"', "unknown function 'foo' at column 1"),
        ('http.host eq "a" AND ssl', "'AND' at column 18 must be lower case ('and')"),
        ('http.host eq "a" @ ssl', "unexpected character '@' at column 18"),
    ],
)
def test_invalid_expressions_name_the_problem_and_column(expression: str, expected: str) -> None:
    found = problems(expression)
    assert any(expected in p for p in found), found
    with pytest.raises(ExpressionError) as info:
        check(expression)
    assert info.value.problems == found


def test_every_problem_is_reported_at_once() -> None:
    found = problems('(http.hots eq "x" and foo(ip.src)')
    assert len(found) == 3
    assert found[0].startswith("'(' at column 1 is never closed")
    assert "unknown field 'http.hots'" in found[1]
    assert "unknown function 'foo'" in found[2]


def test_words_inside_strings_are_not_fields() -> None:
    assert problems('http.request.uri.path eq "not.a.field and (unbalanced"') == []


def test_normalise_trims_and_collapses_whitespace_outside_strings_only() -> None:
    text = '\n  (http.host   eq "a  b")\n\tand   ssl  '
    assert normalise(text) == '(http.host eq "a  b") and ssl'
    assert normalise(normalise(text)) == normalise(text)


def test_normalise_keeps_adjacent_tokens_adjacent() -> None:
    assert normalise('lower(http.host)eq"x"') == 'lower(http.host)eq"x"'


def test_fields_used_lists_fields_not_functions() -> None:
    assert fields_used('lower(http.host) eq "x" and ip.src in {1.2.3.4}') == ["http.host", "ip.src"]


def test_known_names_do_not_overlap() -> None:
    assert not expressions.FIELDS & expressions.OPERATORS
    assert not expressions.FUNCTIONS & expressions.OPERATORS
    assert all(f == f.lower() for f in expressions.FIELDS)


@given(st.text(max_size=80))
def test_any_text_gives_a_verdict_never_a_crash(text: str) -> None:
    found = problems(text)
    if found:
        with pytest.raises(ExpressionError):
            check(text)
    else:
        assert check(text) == normalise(text)


@given(
    st.lists(
        st.sampled_from(sorted(expressions.FIELDS)).map(lambda f: f'{f} eq "v"'),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([" and ", " or ", " && "]),
)
def test_known_fields_combined_are_valid(parts: list[str], joiner: str) -> None:
    expression = "(" + joiner.join(parts) + ")"
    assert problems(expression) == []
    assert check("  " + expression + "\n") == expression
