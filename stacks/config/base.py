"""Shared pieces of the typed stack configuration."""

from __future__ import annotations

import re

# The generic model base and field errors live with the components (the lowest
# layer), whose typed args use them too; re-exported here for the config models.
from components.typed_args import Model as Model
from components.typed_args import field_error as field_error
from components.typed_args import split_field_error as split_field_error

PROJECT = "infra"
NAMESPACE = f"{PROJECT}:"

# A Docker image reference pinned by tag or digest. `latest` and bare names are
# refused: an unpinned image changes under a stack without a diff.
_IMAGE_RE = re.compile(
    r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9._-]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"
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
