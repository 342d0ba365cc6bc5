"""The Cloudflare part of a preview, in a shape a CI job can post on a pull request.

`edge_changes(steps)` is pure: it reads the plan steps `cli/engine/plan.py` builds from
Pulumi's engine events and returns which DNS records, rules and zone settings
a cutover would add, change or remove. Each step is a dict with at least
`op`, `urn`, `type` and `name`; `diffs` (changed top-level properties) and
`old`/`new` (each `{"inputs": {...}}`, provider camelCase names, as in the
engine's step metadata) make the report precise down to single rules. Without
`old`/`new` the report falls back on the component's resource names
(`edge-dns-<type>-<name>`, `edge-ruleset-<phase>`, `edge-setting-<id>`): every
changed record, ruleset and setting is still listed, with its changed fields.
The section also carries its own `markdown` rendering, ready to post.

Rules are matched by their `ref` (the rule's config name), so a reordered
ruleset shows moved rules, not every rule deleted and re-created.
"""

from __future__ import annotations

from typing import Any

from components import edge_names

RECORD_TYPE = "cloudflare:index/dnsRecord:DnsRecord"
RULESET_TYPE = "cloudflare:index/ruleset:Ruleset"
SETTING_TYPE = "cloudflare:index/zoneSetting:ZoneSetting"

# Steps that change nothing by themselves: `replace` already stands for the
# create-replacement / delete-replaced pair the engine emits around it.
QUIET_OPS = frozenset(
    {
        "same",
        "read",
        "refresh",
        "read-replacement",
        "read-discard",
        "discard",
        "discard-replaced",
        "remove-pending-replace",
        "create-replacement",
        "delete-replaced",
    }
)
RULE_FIELDS = (
    "action",
    "expression",
    "description",
    "enabled",
    "actionParameters",
    "ratelimit",
    "logging",
)
EXPRESSION_CHARS = 200


def _inputs(step: dict[str, Any], side: str) -> dict[str, Any]:
    state = step.get(side)
    inputs = state.get("inputs") if isinstance(state, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def _changed_fields(step: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if old and new:
        return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return sorted(str(d) for d in step.get("diffs") or [])


def _empty() -> dict[str, Any]:
    return {
        "hasChanges": False,
        "records": {"added": [], "changed": [], "removed": [], "imported": []},
        "rules": {"added": [], "changed": [], "removed": [], "imported": []},
        "settings": {"changed": [], "released": []},
    }


def _category(op: str) -> str | None:
    if op == "create":
        return "added"
    if op == "delete":
        return "removed"
    if op in ("update", "replace"):
        return "changed"
    if op in ("import", "import-replacement"):
        return "imported"
    return None


# ------------------------------------------------------------------- records


def _name_part(step: dict[str, Any], kind: str) -> str | None:
    return edge_names.key_of(str(step.get("name") or ""), kind)


def _record_identity(step: dict[str, Any]) -> tuple[str | None, str | None]:
    """(type, name) from the resource name when the step carries no inputs."""
    kind, name = edge_names.record_identity(_name_part(step, edge_names.DNS) or "")
    return (kind, name) if kind else (None, step.get("name"))


def _record_entry(step: dict[str, Any], category: str) -> dict[str, Any]:
    old, new = _inputs(step, "old"), _inputs(step, "new")
    current = new or old
    kind, name = _record_identity(step)
    entry: dict[str, Any] = {
        "name": current.get("name") or name,
        "type": current.get("type") or kind,
        "content": _record_content(current),
        "proxied": current.get("proxied"),
        "resource": step.get("name"),
    }
    if category == "changed":
        fields = _changed_fields(step, old, new)
        entry["fields"] = fields
        entry["replaced"] = step.get("op") == "replace"
        if old and new:
            entry["changes"] = {f: {"old": old.get(f), "new": new.get(f)} for f in fields}
    return entry


def _record_content(inputs: dict[str, Any]) -> Any:
    data = inputs.get("data")
    if isinstance(data, dict) and "tag" in data:  # CAA: Cloudflare computes `content`
        return f'{data.get("flags", 0)} {data["tag"]} "{data.get("value", "")}"'
    return inputs.get("content")


# --------------------------------------------------------------------- rules


def _phase(step: dict[str, Any]) -> str | None:
    inputs = _inputs(step, "new") or _inputs(step, "old")
    if inputs.get("phase"):
        return str(inputs["phase"])
    return _name_part(step, edge_names.RULESET)


def _rules(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    rules = inputs.get("rules")
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _rule_entry(phase: str | None, rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "phase": phase,
        "ref": rule.get("ref"),
        "description": rule.get("description"),
        "action": rule.get("action"),
        "expression": rule.get("expression"),
        "enabled": rule.get("enabled", True),
    }


def _moved(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> set[str]:
    """Refs whose position among the rules kept on both sides changed."""
    kept = {r.get("ref") for r in old} & {r.get("ref") for r in new}
    before = [r.get("ref") for r in old if r.get("ref") in kept]
    after = [r.get("ref") for r in new if r.get("ref") in kept]
    return {str(a) for a, b in zip(before, after, strict=False) if a != b}


def _ruleset_diff(step: dict[str, Any], out: dict[str, list[Any]]) -> None:
    phase = _phase(step)
    old_rules, new_rules = _rules(_inputs(step, "old")), _rules(_inputs(step, "new"))
    if not old_rules and not new_rules:
        out["changed"].append(
            {"phase": phase, "ref": None, "fields": _changed_fields(step, {}, {})}
        )
        return
    old_by_ref = {r.get("ref"): r for r in old_rules}
    new_by_ref = {r.get("ref"): r for r in new_rules}
    moved = _moved(old_rules, new_rules)
    for rule in new_rules:
        ref = rule.get("ref")
        if ref not in old_by_ref:
            out["added"].append(_rule_entry(phase, rule))
            continue
        fields = [f for f in RULE_FIELDS if old_by_ref[ref].get(f) != rule.get(f)]
        if ref in moved:
            fields.append("position")
        if fields:
            entry = _rule_entry(phase, rule)
            entry["fields"] = fields
            entry["changes"] = {
                f: {"old": old_by_ref[ref].get(f), "new": rule.get(f)}
                for f in fields
                if f != "position"
            }
            out["changed"].append(entry)
    out["removed"] += [_rule_entry(phase, r) for r in old_rules if r.get("ref") not in new_by_ref]


def _ruleset_entries(step: dict[str, Any], category: str, out: dict[str, list[Any]]) -> None:
    phase = _phase(step)
    if category == "changed":
        _ruleset_diff(step, out)
        return
    side = "old" if category == "removed" else "new"
    rules = _rules(_inputs(step, side))
    if rules:
        out[category] += [_rule_entry(phase, r) for r in rules]
    else:  # no inputs in the step: report the ruleset itself
        out[category].append({"phase": phase, "ref": None})


# ------------------------------------------------------------------ settings


def _setting_entry(step: dict[str, Any], category: str) -> tuple[str, dict[str, Any]]:
    old, new = _inputs(step, "old"), _inputs(step, "new")
    setting = (
        (new or old).get("settingId") or _name_part(step, edge_names.SETTING) or step.get("name")
    )
    entry = {"setting": setting, "old": old.get("value"), "new": new.get("value")}
    return ("released" if category == "removed" else "changed"), entry


# ---------------------------------------------------------------------- main


def edge_changes(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Planned Cloudflare edge changes: records, rules and settings by category."""
    section = _empty()
    seen: set[tuple[str, str]] = set()
    for step in steps:
        op = str(step.get("op", ""))
        category = None if op in QUIET_OPS else _category(op)
        key = (str(step.get("urn") or step.get("name")), op)
        if category is None or key in seen:
            continue
        seen.add(key)
        kind = step.get("type")
        if kind == RECORD_TYPE:
            section["records"][category].append(_record_entry(step, category))
        elif kind == RULESET_TYPE:
            _ruleset_entries(step, category, section["rules"])
        elif kind == SETTING_TYPE and category != "imported":
            bucket, entry = _setting_entry(step, category)
            section["settings"][bucket].append(entry)
    section["hasChanges"] = any(
        items for group in ("records", "rules", "settings") for items in section[group].values()
    )
    section["markdown"] = edge_changes_markdown(section)
    return section


# ------------------------------------------------------------------ markdown


def _cell(value: Any, limit: int = EXPRESSION_CHARS) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def _code(value: Any) -> str:
    text = _cell(value)
    if not text:
        return ""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _changes_cell(entry: dict[str, Any]) -> str:
    changes = entry.get("changes") or {}
    parts = []
    for field in entry.get("fields") or []:
        if field in changes:
            change = changes[field]
            parts.append(f"{field}: {_cell(change['old'], 60)} → {_cell(change['new'], 60)}")
        else:
            parts.append(field)
    if entry.get("replaced"):
        parts.append("(replaced)")
    return "; ".join(parts)


def _record_rows(section: dict[str, Any]) -> list[str]:
    rows = []
    for category in ("added", "changed", "removed", "imported"):
        for r in section["records"][category]:
            rows.append(
                f"| {category} | {_cell(r['type'])} | {_cell(r['name'])} | "
                f"{_code(r['content'])} | {_cell(r['proxied'])} | {_changes_cell(r)} |"
            )
    return rows


def _rule_rows(section: dict[str, Any]) -> list[str]:
    rows = []
    for category in ("added", "changed", "removed", "imported"):
        for r in section["rules"][category]:
            rule = _cell(r.get("ref")) or "(whole ruleset)"
            rows.append(
                f"| {category} | {_cell(r.get('phase'))} | {rule} | {_cell(r.get('action'))} | "
                f"{_code(r.get('expression'))} | {_changes_cell(r)} |"
            )
    return rows


def _setting_rows(section: dict[str, Any]) -> list[str]:
    rows = [
        f"| {_cell(s['setting'])} | {_cell(s['old'])} | {_cell(s['new'])} |"
        for s in section["settings"]["changed"]
    ]
    rows += [
        f"| {_cell(s['setting'])} | {_cell(s['old'])} | (no longer managed; value kept) |"
        for s in section["settings"]["released"]
    ]
    return rows


def _count(section: dict[str, Any], group: str) -> int:
    return sum(len(items) for items in section[group].values())


def edge_changes_markdown(section: dict[str, Any]) -> str:
    """A pull-request comment body for the section `edge_changes` returned."""
    if not section.get("hasChanges"):
        return "### Cloudflare edge\n\nNo Cloudflare edge changes.\n"
    lines = [
        "### Cloudflare edge",
        "",
        f"Planned: {_count(section, 'records')} DNS record change(s), "
        f"{_count(section, 'rules')} rule change(s), "
        f"{_count(section, 'settings')} zone setting change(s).",
    ]
    records, rules, settings = _record_rows(section), _rule_rows(section), _setting_rows(section)
    if records:
        lines += [
            "",
            "#### DNS records",
            "",
            "| change | type | name | content | proxied | what changes |",
            "|---|---|---|---|---|---|",
            *records,
        ]
    if rules:
        lines += [
            "",
            "#### Rules",
            "",
            "| change | phase | rule (ref) | action | expression | what changes |",
            "|---|---|---|---|---|---|",
            *rules,
        ]
    if settings:
        lines += [
            "",
            "#### Zone settings",
            "",
            "| setting | now | planned |",
            "|---|---|---|",
            *settings,
        ]
    return "\n".join(lines) + "\n"
