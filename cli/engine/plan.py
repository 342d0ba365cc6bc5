"""A machine-readable plan from the engine's preview events.

Shape (stable; CI jobs post it on pull requests):
{
  "stack": "production",
  "changeSummary": {"create": 2, "update": 1, "same": 14},
  "hasChanges": true,
  "steps": [{"op": "create", "urn": ..., "type": ..., "name": ..., "diffs": [...],
             "replaceKeys": [...]}],
  "diagnostics": [{"severity": "warning", "message": ...}]
}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto

NO_CHANGE_OPS = {"same", "read", "refresh"}


def resource_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def op_name(op: Any) -> str:
    """A plain op name ("create"), whether the engine gave an OpType or a string."""
    return op.value if isinstance(op, auto.OpType) else str(op)


def step_of(meta: auto.StepEventMetadata) -> dict[str, Any]:
    op = op_name(meta.op)
    step: dict[str, Any] = {
        "op": op,
        "urn": meta.urn,
        "type": meta.type,
        "name": resource_name(meta.urn),
        "diffs": sorted(meta.diffs or []),
        "replaceKeys": sorted(meta.keys or []) if op in ("replace", "create-replacement") else [],
    }
    if meta.type.startswith("cloudflare:"):
        # Edge reviews need rule-level detail (which rule, which field). The
        # engine masks secret inputs as "[secret]" in events, and the edge's
        # records and rules hold none.
        step["old"] = {"inputs": dict(meta.old.inputs or {})} if meta.old else None
        step["new"] = {"inputs": dict(meta.new.inputs or {})} if meta.new else None
    return step


@dataclass
class PlanRecorder:
    """Collects steps and diagnostics; used as (part of) the `on_event` callback."""

    stack: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, int] | None = None
    rendered_diff: str = ""

    def __call__(self, event: auto.EngineEvent) -> None:
        if event.resource_pre_event and event.resource_pre_event.metadata:
            meta = event.resource_pre_event.metadata
            if meta.type != "pulumi:pulumi:Stack":
                self.steps.append(step_of(meta))
        elif event.diagnostic_event:
            diag = event.diagnostic_event
            if diag.severity in ("warning", "error"):
                self.diagnostics.append(
                    {"severity": diag.severity, "message": diag.message.strip()}
                )
        elif event.summary_event:
            self.summary = op_counts(event.summary_event.resource_changes)

    def change_summary(self) -> dict[str, int]:
        if self.summary is not None:
            return {k: int(v) for k, v in sorted(self.summary.items())}
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step["op"]] = counts.get(step["op"], 0) + 1
        return dict(sorted(counts.items()))

    def plan(self) -> dict[str, Any]:
        summary = self.change_summary()
        plan: dict[str, Any] = {
            "stack": self.stack,
            "changeSummary": summary,
            "hasChanges": has_changes(summary),
            "steps": [s for s in self.steps if s["op"] not in NO_CHANGE_OPS],
            "diagnostics": self.diagnostics,
        }
        edge = edge_section(self.steps)
        if edge is not None:
            plan["edge"] = edge
        return plan


def op_counts(changes: Mapping[Any, int] | None) -> dict[str, int]:
    """Engine change counts keyed by plain op names ("create", not OpType.CREATE)."""
    return {op_name(op): int(n) for op, n in (changes or {}).items()}


def has_changes(summary: dict[str, int]) -> bool:
    return any(count for op, count in summary.items() if op not in NO_CHANGE_OPS)


def edge_section(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Cloudflare edge changes (records, rules) when the stack has an edge."""
    if not any(s["type"].startswith("cloudflare:") for s in steps):
        return None
    from cli.engine.edge_plan import edge_changes

    return edge_changes(steps)
