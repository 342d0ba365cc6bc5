"""Shared pieces of the typed stack configuration."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

PROJECT = "infra"
NAMESPACE = f"{PROJECT}:"

# A Docker image reference pinned by tag or digest. `latest` and bare names are
# refused: an unpinned image changes under a stack without a diff.
_IMAGE_RE = re.compile(
    r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9._-]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"
)


class Model(BaseModel):
    """Base of every config model: camelCase keys in YAML, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


def check_image(value: str) -> str:
    if not _IMAGE_RE.match(value):
        raise ValueError(
            f"'{value}' is not an image reference pinned by tag or digest "
            "(use e.g. 'redis:7.4.1' or 'name@sha256:...')"
        )
    if value.endswith(":latest"):
        raise ValueError("'latest' is not a pin: use a version tag such as 'redis:7.4.1'")
    return value


PASSWORD_RE = re.compile(r"^[A-Za-z0-9._~-]{16,128}$")


def check_password(value: str) -> str:
    """Passwords land in config files and shell scripts: keep them to a safe alphabet."""
    if not PASSWORD_RE.match(value):
        raise ValueError(
            "must be 16-128 characters of A-Z a-z 0-9 . _ ~ - "
            "(leave it unset and `infra up` generates one)"
        )
    return value


_MARK = "\u00a7"  # marks a model-level error that belongs to one field


def field_error(field: str, message: str) -> ValueError:
    """An error raised by a model validator but reported at `<model>.<field>`."""
    return ValueError(f"{_MARK}{field}{_MARK}{message}")


def split_field_error(message: str) -> tuple[str | None, str]:
    if message.startswith(_MARK):
        field, _, rest = message[1:].partition(_MARK)
        return field, rest
    return None, message
