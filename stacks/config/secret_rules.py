"""What a hand-set stack password must be, checked by the program before any
resource is registered (so a refused password touches nothing).

Generated passwords (`secrets.token_urlsafe(32)`: 43 characters) always pass.
A password set by hand must be as long and use the same alphabet: it is written
into `redis.conf` and shell scripts, where a space or `#` would break the node
config, and the stack's TLS keys and user passwords are derived from it. Two
components sharing one password are refused too: a leak of one would open both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# The passwords this applies to (keyFile and a user's CA key have their own formats).
PASSWORD_KEYS = ("redisPassword", "mongoRootPassword")
# How the program's refusal begins: `infra` finds it in the engine's output and
# reports bad input (exit 2) instead of an engine failure.
REFUSED_SECRETS = "refused stack secrets:"
MIN_LENGTH = 24
_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")
GENERATE = (
    "remove it from the stack file and `infra up` generates one, or set one with "
    "`pulumi config set --secret {key} \"$(python3 -c 'import secrets; "
    "print(secrets.token_urlsafe(32))')\" -s {stack}`"
)


def password_problems(values: Mapping[str, str | None], stack: str) -> list[str]:
    """`infra:<key>: <problem> (<fix>)` for each weak or shared password."""
    problems = []
    for key in PASSWORD_KEYS:
        value = values.get(key)
        if value is None:
            continue
        problem = _weakness(value)
        if problem:
            fix = GENERATE.format(key=key, stack=stack)
            problems.append(f"infra:{key}: {problem} ({fix})")
    given = [(k, v) for k in PASSWORD_KEYS if (v := values.get(k))]
    if len(given) == 2 and given[0][1] == given[1][1]:
        problems.append(
            f"infra:{given[1][0]}: the same value as infra:{given[0][0]}; each component "
            f"needs its own ({GENERATE.format(key=given[1][0], stack=stack)})"
        )
    return problems


def _weakness(value: str) -> str | None:
    if not _ALPHABET.match(value):
        return "only A-Z, a-z, 0-9, '_' and '-' may be used (it is written into config files)"
    if len(value) < MIN_LENGTH:
        return f"{len(value)} characters, at least {MIN_LENGTH} are needed"
    if len(set(value)) < 8:
        return f"only {len(set(value))} distinct characters: not a random password"
    return None
