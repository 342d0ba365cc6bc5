"""Typer command classes: help that reads like the Pulumi CLI's, JSON usage errors.

Typer 0.29 prints a type for every parameter: `--yes <bool>`, `-v <int>`,
`STACK <str>`, and `{stack}` for a required argument in the usage line. A flag
takes no value, so a type only makes the reader wonder what to pass it. These
classes drop the type of flags and counters, and show arguments as `STACK`
(required) or `[STACK]`, as Click, Typer's own docs and Pulumi do.

Usage errors (a missing STACK, an unknown option) are raised by the parser,
before the command's own error handling (cli/main.py) runs; with --json they
must still leave a JSON error object on stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# Typer 0.29 vendors Click and re-exports only BadParameter, a subclass of this.
from typer._click.exceptions import UsageError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from cli.errors import INVALID


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"


def tidy(params: list[Any]) -> list[Any]:
    """The same parameters, shown without value types where none is taken."""
    for param in params:
        if isinstance(param, TyperOption) and (param.is_flag or param.count):
            param.metavar = param.metavar or ""
        elif type(param) is TyperArgument:
            param.__class__ = _Argument  # same object, help display overridden
            param.metavar = param.metavar or (param.name or "").upper()
    return params


class InfraCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return tidy(super().get_params(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        json_wanted = "--json" in args
        try:
            return super().parse_args(ctx, args)
        except UsageError as error:
            if json_wanted:  # Click still prints the usage and exits 2
                error_object = {"code": INVALID, "message": error.format_message(), "details": []}
                print(json.dumps({"error": error_object}), file=sys.stdout, flush=True)
            raise


class InfraGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return tidy(super().get_params(ctx))
