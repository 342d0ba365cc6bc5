"""One module per command (or group of commands); importing this package
registers them all on `cli.app.app`.

Command modules import only Typer, Rich and the CLI's own light modules at the
top; the engine service (`cli.engine`, which imports Pulumi's Automation API),
the operations clients (`cli.ops`) and the stack config are imported inside the
command functions that need them.
"""

from cli.commands import (
    backup,
    drill,
    init,
    lifecycle,
    outputs,
    preview,
    rebalance,
    rotate,
    status,
    validate,
)

__all__ = [
    "backup",
    "drill",
    "init",
    "lifecycle",
    "outputs",
    "preview",
    "rebalance",
    "rotate",
    "status",
    "validate",
]
