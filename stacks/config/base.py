"""Names shared by the stack root: the Pulumi project and its config namespace."""

from __future__ import annotations

PROJECT = "infra"
NAMESPACE = f"{PROJECT}:"
