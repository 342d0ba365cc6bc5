"""Config problems, reported as `path: message` bullets, all at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from components.config_base import split_field_error


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigInvalid(Exception):
    """The stack configuration is invalid; nothing was started or touched."""

    def __init__(self, problems: Iterable[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(f"- {p}" for p in self.problems))


def _message(error: Any) -> tuple[str | None, str]:
    kind = error["type"]
    if kind == "extra_forbidden":
        return None, "unknown key: remove it or check its spelling (see README, Configuration)"
    if kind == "missing":
        return None, "required: add it to the stack file"
    msg = error["msg"]
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif kind == "literal_error":
        msg = msg.replace("Input should be", "must be one of")
    return split_field_error(msg)


def problems_from(exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn pydantic's errors into `a.b.c: message` problems (camelCase paths)."""
    problems = []
    for error in exc.errors(include_url=False):
        field, message = _message(error)
        parts = [prefix] if prefix else []
        parts += [str(p) for p in error["loc"]]
        if field:
            parts.append(field)
        problems.append(Problem(".".join(parts), message))
    return problems
