"""`infra`: stand up a highly available data tier with Pulumi.

The application and its error boundary are in `cli/app.py`, the commands in
`cli/commands/` (one module each), the engine service in `cli/engine/` and the
operations clients in `cli/ops/`.
"""

from __future__ import annotations

import os

# pydantic looks for plugins in every installed distribution's entry points the
# first time a model is built (about 0.1 s here); infra uses none. Set the
# variable yourself to have pydantic load them anyway.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import cli.commands  # noqa: F401  (registers every command on the app)
from cli.app import app


def run() -> None:
    """Console-script entry point. Usage errors are Click's (exit 2)."""
    app()
