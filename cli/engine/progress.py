"""Live progress of an engine operation: resource steps, counts, elapsed time.

On a terminal: a `rich.progress` line (spinner, counts, and an elapsed time
that ticks on its own, also while the engine waits on a slow resource), with
finished steps printed above it. Without a terminal (pipes, CI): one plain
line per step. Everything goes to stderr so that stdout stays clean for `--json`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from pulumi import automation as auto
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from cli.engine.plan import NO_CHANGE_OPS, op_name, resource_name
from cli.engine.tools import plugin_acquisition_noise

SYMBOLS = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "replace": "+-",
    "create-replacement": "++",
    "delete-replaced": "--",
    "refresh": "r",
    "read": ">",
    "same": " ",
    "import": "=",
}
DONE_WORDS = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "replace": "replaced",
    "create-replacement": "created replacement",
    "delete-replaced": "deleted original",
    "refresh": "refreshed",
    "read": "read",
    "import": "imported",
}


class Progress:
    """Callable `on_event` handler; use as a context manager around the operation."""

    def __init__(self, console: Console, action: str, verbose: int = 0, quiet: bool = False):
        self.console = console
        self.action = action
        self.verbose = verbose
        self.quiet = quiet
        self.started = time.monotonic()
        self.step_started: dict[str, float] = {}
        self.in_flight = 0
        self.done = 0
        self.failed = 0
        self.live: RichProgress | None = None
        self.task: TaskID | None = None
        self.extra: list[Callable[[auto.EngineEvent], None]] = []

    def __enter__(self) -> Progress:
        if self.console.is_terminal and not self.quiet:
            self.live = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.live.start()
            self.task = self.live.add_task(self._status_text(), total=None)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live:
            self.live.stop()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _status_text(self) -> str:
        return (
            f"{self.action}: {self.done} done, {self.in_flight} in progress, {self.failed} failed"
        )

    def _line(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False, markup=False)
        if self.live is not None and self.task is not None:
            self.live.update(self.task, description=self._status_text())

    def __call__(self, event: auto.EngineEvent) -> None:
        for handler in self.extra:
            handler(event)
        if event.resource_pre_event and event.resource_pre_event.metadata:
            self._pre(event.resource_pre_event.metadata)
        elif event.res_outputs_event and event.res_outputs_event.metadata:
            self._done(event.res_outputs_event.metadata)
        elif event.res_op_failed_event and event.res_op_failed_event.metadata:
            self._failed(event.res_op_failed_event.metadata)
        elif event.diagnostic_event:
            self._diagnostic(event.diagnostic_event)

    def _op(self, meta: auto.StepEventMetadata) -> str:
        return op_name(meta.op)

    def _pre(self, meta: auto.StepEventMetadata) -> None:
        op = self._op(meta)
        if meta.type == "pulumi:pulumi:Stack" or (op in NO_CHANGE_OPS and not self.verbose):
            return
        self.step_started[meta.urn] = time.monotonic()
        self.in_flight += 1
        diffs = f" [{', '.join(sorted(meta.diffs))}]" if meta.diffs else ""
        self._line(f"{SYMBOLS.get(op, op)} {op:<8} {meta.type} {resource_name(meta.urn)}{diffs}")

    def _done(self, meta: auto.StepEventMetadata) -> None:
        op = self._op(meta)
        if meta.urn not in self.step_started:
            return
        took = time.monotonic() - self.step_started.pop(meta.urn)
        self.in_flight -= 1
        self.done += 1
        if self.action.startswith("preview "):
            return  # a preview changes nothing: "created redis" would be untrue
        word = DONE_WORDS.get(op, op)
        self._line(f"  {word} {resource_name(meta.urn)} ({took:.1f}s)")

    def _failed(self, meta: auto.StepEventMetadata) -> None:
        if meta.urn in self.step_started:
            self.step_started.pop(meta.urn)
            self.in_flight -= 1
        self.failed += 1
        self._line(f"x failed   {meta.type} {resource_name(meta.urn)}")

    def _diagnostic(self, diag: auto.DiagnosticEvent) -> None:
        if not self.verbose and plugin_acquisition_noise(diag.message):
            return  # the CLI reports the missing tool itself, in one line with the fix
        if diag.severity in ("error", "warning") or (self.verbose and diag.severity == "info"):
            where = f" ({resource_name(diag.urn)})" if diag.urn else ""
            for line in diag.message.strip().splitlines():
                self._line(f"{diag.severity}{where}: {line}")

    def summary_line(self, counts: dict[str, int]) -> str:
        parts = [f"{n} {op}" for op, n in sorted(counts.items()) if n]
        return (
            f"{self.action} finished in {self.elapsed():.1f}s: {', '.join(parts) or 'no resources'}"
        )
