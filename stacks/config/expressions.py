"""Re-export of `components.cloudflare_expressions` (the Rules language checker).

The checker moved to the components layer, where the Cloudflare rule args that
use it live; this module keeps `from stacks.config import expressions` working.
"""

from __future__ import annotations

from components.cloudflare_expressions import (
    CLOSERS,
    FIELDS,
    FUNCTIONS,
    KEYWORDS,
    OPENERS,
    OPERATORS,
    ExpressionError,
    Token,
    check,
    fields_used,
    normalise,
    problems,
    tokenize,
)

__all__ = [
    "CLOSERS",
    "FIELDS",
    "FUNCTIONS",
    "KEYWORDS",
    "OPENERS",
    "OPERATORS",
    "ExpressionError",
    "Token",
    "check",
    "fields_used",
    "normalise",
    "problems",
    "tokenize",
]
