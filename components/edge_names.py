"""Names of the edge component's children, in one place.

`components/cloudflare_edge.py` names its DNS records, rulesets and zone
settings with `child`; `preview`'s edge section (`cli/engine/edge_plan.py`)
reads a record's type and name, a ruleset's phase or a setting's id back from
those names with `key_of` and `record_identity` when a step carries no inputs.
Both sides use this module, so a change of scheme cannot split them.
"""

from __future__ import annotations

DNS = "dns"
RULESET = "ruleset"
SETTING = "setting"
APEX = "apex"  # the label of the zone apex ("@") in a record key


def child(component: str, kind: str, key: str) -> str:
    """`edge-dns-a-www`, `edge-ruleset-<phase>`, `edge-setting-<id>`."""
    return f"{component}-{kind}-{key}"


def key_of(resource_name: str, kind: str) -> str | None:
    """What follows `-<kind>-` in a child's name (`edge-dns-a-www` -> `a-www`)."""
    token = f"-{kind}-"
    return resource_name.split(token, 1)[1] if token in resource_name else None


def record_key(record_type: str, label: str, suffix: str = "") -> str:
    """`<type>-<label>[-<suffix>]`: the record's identity, so new content updates it."""
    base = f"{record_type.lower()}-{label}"
    return f"{base}-{suffix}" if suffix else base


def record_identity(key: str) -> tuple[str | None, str | None]:
    """(TYPE, name) back from a record key; the apex reads as "@"."""
    if "-" not in key:
        return None, None
    kind, label = key.split("-", 1)
    return kind.upper(), "@" if label == APEX else label
