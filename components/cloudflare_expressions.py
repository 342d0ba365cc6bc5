"""A small checker for Cloudflare Rules language expressions.

Cloudflare only parses an expression when the ruleset is written, i.e. in the
middle of `infra up`, after other edge changes may already have been applied.
This checker catches the common mistakes before any API call: unbalanced
quotes, parentheses, brackets and braces; misspelt field names; unknown
functions; upper-case operators. It is deliberately not a full parser: an
expression it accepts can still be refused by Cloudflare (wrong operand types,
plan-restricted fields), but one it refuses would certainly be refused.

Field names come from Cloudflare's Rules language fields reference
(developers.cloudflare.com/ruleset-engine/rules-language/fields/); the list is
kept small on purpose and can grow when a rule needs another field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

FIELDS: frozenset[str] = frozenset(
    {
        # request basics
        "http.host",
        "http.cookie",
        "http.referer",
        "http.user_agent",
        "http.x_forwarded_for",
        "http.request.method",
        "http.request.version",
        "http.request.full_uri",
        "http.request.uri",
        "http.request.uri.path",
        "http.request.uri.path.extension",
        "http.request.uri.query",
        "http.request.uri.args",
        "http.request.uri.args.names",
        "http.request.uri.args.values",
        "http.request.headers",
        "http.request.headers.names",
        "http.request.headers.values",
        "http.request.headers.truncated",
        "http.request.cookies",
        "http.request.accepted_languages",
        "http.request.timestamp.sec",
        "http.request.timestamp.msec",
        "http.request.body.raw",
        "http.request.body.size",
        "http.request.body.truncated",
        "http.request.body.mime",
        "http.request.body.form",
        "http.request.body.form.names",
        "http.request.body.form.values",
        # raw (not normalised) request fields
        "raw.http.request.full_uri",
        "raw.http.request.uri",
        "raw.http.request.uri.path",
        "raw.http.request.uri.path.extension",
        "raw.http.request.uri.query",
        "raw.http.request.uri.args",
        "raw.http.request.uri.args.names",
        "raw.http.request.uri.args.values",
        "raw.http.request.headers",
        "raw.http.request.headers.names",
        "raw.http.request.headers.values",
        # response fields (response phases only)
        "http.response.code",
        "http.response.headers",
        "http.response.headers.names",
        "http.response.headers.values",
        "http.response.content_type.media_type",
        # client address and geography
        "ip.src",
        "ip.src.asnum",
        "ip.src.city",
        "ip.src.continent",
        "ip.src.country",
        "ip.src.is_in_european_union",
        "ip.src.lat",
        "ip.src.lon",
        "ip.src.metro_code",
        "ip.src.postal_code",
        "ip.src.region",
        "ip.src.region_code",
        "ip.src.subdivision_1_iso_code",
        "ip.src.subdivision_2_iso_code",
        "ip.geoip.asnum",
        "ip.geoip.continent",
        "ip.geoip.country",
        "ip.geoip.is_in_european_union",
        "ip.geoip.subdivision_1_iso_code",
        "ip.geoip.subdivision_2_iso_code",
        "ssl",
        # Cloudflare-computed fields
        "cf.client.bot",
        "cf.verified_bot_category",
        "cf.threat_score",
        "cf.bot_management.score",
        "cf.bot_management.verified_bot",
        "cf.bot_management.static_resource",
        "cf.bot_management.corporate_proxy",
        "cf.bot_management.detection_ids",
        "cf.bot_management.ja3_hash",
        "cf.bot_management.ja4",
        "cf.bot_management.js_detection.passed",
        "cf.colo.id",
        "cf.colo.name",
        "cf.edge.server_ip",
        "cf.edge.server_port",
        "cf.hostname.metadata",
        "cf.ray_id",
        "cf.tls_cipher",
        "cf.tls_version",
        "cf.tls_client_auth.cert_presented",
        "cf.tls_client_auth.cert_verified",
        "cf.unique_visitor_id",
        "cf.waf.auth_detected",
        "cf.waf.credential_check.password_leaked",
        "cf.waf.credential_check.username_and_password_leaked",
        "cf.waf.score",
        "cf.waf.score.class",
        "cf.waf.score.rce",
        "cf.waf.score.sqli",
        "cf.waf.score.xss",
        "cf.zone.name",
        "cf.zone.plan",
    }
)

FUNCTIONS: frozenset[str] = frozenset(
    {
        "all",
        "any",
        "bit_slice",
        "cidr",
        "cidr6",
        "concat",
        "decode_base64",
        "ends_with",
        "has_key",
        "has_value",
        "is_timed_hmac_valid_v0",
        "join",
        "len",
        "lookup_json_integer",
        "lookup_json_string",
        "lower",
        "regex_replace",
        "remove_bytes",
        "remove_query_args",
        "sha256",
        "split",
        "starts_with",
        "substring",
        "to_string",
        "upper",
        "url_decode",
        "uuidv4",
        "wildcard_replace",
    }
)

OPERATORS: frozenset[str] = frozenset(
    {
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "contains",
        "matches",
        "wildcard",
        "strict",
        "in",
        "and",
        "or",
        "not",
        "xor",
    }
)
KEYWORDS: frozenset[str] = frozenset({"true", "false"})

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<raw>r(?P<hashes>\#*)")
  | (?P<string>")
  | (?P<list>\$[A-Za-z0-9_.]+)
  | (?P<ipv6>(?:[0-9A-Fa-f]{0,4}:){2,}[0-9A-Fa-f.:]*(?:/\d{1,3})?)
  | (?P<number>\d[\d.]*(?:/\d{1,3})?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<symbol>==|!=|<=|>=|&&|\|\||\^\^|[()\[\]{}<>,~!*])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, list, ipv6, number, ident, symbol
    text: str
    start: int
    end: int


class ExpressionError(ValueError):
    """One or more problems in an expression, each with its column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _string_end(text: str, start: int) -> int | None:
    """Index after the closing quote of a "..." string opening at `start`."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return None


def tokenize(text: str) -> tuple[list[Token], list[str]]:
    """Tokens of an expression, plus problems for text it cannot split."""
    tokens: list[Token] = []
    problems: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            problems.append(f"unexpected character {text[pos]!r} at column {pos + 1}")
            pos += 1
            continue
        kind = match.lastgroup or ""
        if kind == "space":
            pos = match.end()
            continue
        if kind in ("string", "raw"):
            end = _literal_end(text, pos, match)
            if end is None:
                problems.append(
                    f'the string starting at column {pos + 1} is never closed (add the closing ")'
                )
                break
            tokens.append(Token("string", text[pos:end], pos, end))
            pos = end
            continue
        tokens.append(Token(kind, match.group(), pos, match.end()))
        pos = match.end()
    return tokens, problems


def _literal_end(text: str, pos: int, match: re.Match[str]) -> int | None:
    if match.lastgroup == "string":
        return _string_end(text, pos)
    closing = '"' + (match.group("hashes") or "")
    end = text.find(closing, match.end())
    return None if end < 0 else end + len(closing)


def _bracket_problems(tokens: list[Token]) -> list[str]:
    problems = []
    stack: list[Token] = []
    for tok in tokens:
        if tok.kind != "symbol":
            continue
        if tok.text in OPENERS:
            stack.append(tok)
        elif tok.text in CLOSERS:
            if stack and stack[-1].text == CLOSERS[tok.text]:
                stack.pop()
            else:
                problems.append(f"unmatched '{tok.text}' at column {tok.start + 1}")
    problems += [
        f"'{tok.text}' at column {tok.start + 1} is never closed (add '{OPENERS[tok.text]}')"
        for tok in stack
    ]
    return problems


def _suggest(name: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _name_problems(tokens: list[Token]) -> list[str]:
    problems = []
    for i, tok in enumerate(tokens):
        if tok.kind != "ident":
            continue
        name = tok.text
        is_call = i + 1 < len(tokens) and tokens[i + 1].text == "("
        where = f"at column {tok.start + 1}"
        if name in OPERATORS or name in KEYWORDS:
            continue
        if name.lower() in OPERATORS | KEYWORDS:
            problems.append(f"'{name}' {where} must be lower case ('{name.lower()}')")
        elif is_call:
            if name not in FUNCTIONS:
                problems.append(f"unknown function '{name}' {where}{_suggest(name, FUNCTIONS)}")
        elif name not in FIELDS:
            problems.append(
                f"unknown field '{name}' {where}{_suggest(name, FIELDS)} "
                "(see Cloudflare's Rules language fields reference)"
            )
    return problems


def problems(expression: str) -> list[str]:
    """Everything wrong with an expression, or [] when it looks valid."""
    if not expression.strip():
        return ['empty: write a match expression, e.g. (http.request.uri.path eq "/login")']
    tokens, found = tokenize(expression)
    if not tokens and not found:
        return ["empty: write a match expression"]
    return found + _bracket_problems(tokens) + _name_problems(tokens)


def normalise(expression: str) -> str:
    """Trim and collapse whitespace outside string literals.

    Cloudflare stores the expression as sent; sending the same canonical text
    every time keeps a second preview free of spurious diffs.
    """
    tokens, found = tokenize(expression)
    if found:
        return expression.strip()
    parts: list[str] = []
    previous: Token | None = None
    for tok in tokens:
        if previous is not None and tok.start > previous.end:
            parts.append(" ")
        parts.append(tok.text)
        previous = tok
    return "".join(parts)


def check(expression: str) -> str:
    """The normalised expression, or ExpressionError listing every problem."""
    found = problems(expression)
    if found:
        raise ExpressionError(found)
    return normalise(expression)


def fields_used(expression: str) -> list[str]:
    """Field names an expression refers to (for reports and tests)."""
    tokens, _ = tokenize(expression)
    names = []
    for i, tok in enumerate(tokens):
        is_call = i + 1 < len(tokens) and tokens[i + 1].text == "("
        if tok.kind == "ident" and tok.text in FIELDS and not is_call:
            names.append(tok.text)
    return names
