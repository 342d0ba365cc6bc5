"""A stack file, read once per command: its text, its document and its typed config.

Light on purpose (YAML and pydantic, no Pulumi): `infra validate` is this and
nothing else. The text is kept because Pulumi rewrites the file when it creates
the stack or stores a secret, and `localstack.layout_kept` puts the user's own
layout back afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.engine import localstack
from cli.engine.project import Project, check_stack_name
from cli.errors import InvalidInput
from stacks.config import ConfigInvalid, StackConfig, parse_config
from stacks.config.root import read_stack_text, strip_namespace


@dataclass(frozen=True)
class StackFile:
    path: Path
    text: str
    document: dict[str, Any]
    config: StackConfig

    @property
    def uses_local_docker(self) -> bool:
        """Docker components on the local engine (no `docker:host` in the stack
        file, no `infra:hosts`)."""
        if not self.config.uses_docker() or self.config.hosts:
            return False
        return "docker:host" not in self.document["config"] and not os.environ.get(
            "INFRA_SKIP_DOCKER_CHECK"
        )


def load(project: Project, stack: str, notify: Callable[[str], None] | None = None) -> StackFile:
    """The stack file and its validated config; invalid config is exit 2, nothing touched."""
    check_stack_name(stack)
    if notify is None:
        localstack.ensure_stack_file(project, stack)
    else:
        localstack.ensure_stack_file(project, stack, notify)
    path = project.stack_file(stack)
    try:
        text, document = read_stack_text(path)
        config = parse_config(strip_namespace(document["config"]))
    except ConfigInvalid as exc:
        raise InvalidInput(
            f"invalid config in stacks/Pulumi.{stack}.yaml", [str(p) for p in exc.problems]
        ) from None
    return StackFile(path, text, document, config)
