"""Pydantic base pieces shared by typed component args and the stack config.

They live here, in the lowest layer, so components can declare typed args
without importing from `stacks/`; `stacks.config.base` re-exports them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base of every config model: camelCase keys in YAML, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


_MARK = "\u00a7"  # marks a model-level error that belongs to one field


def field_error(field: str, message: str) -> ValueError:
    """An error raised by a model validator but reported at `<model>.<field>`."""
    return ValueError(f"{_MARK}{field}{_MARK}{message}")


def split_field_error(message: str) -> tuple[str | None, str]:
    if message.startswith(_MARK):
        field, _, rest = message[1:].partition(_MARK)
        return field, rest
    return None, message
