"""Before a preview creates a phase's ruleset, ask Cloudflare whether the zone
already has one.

A zone has one entry-point ruleset per phase, and every phase can already have
one (made in the dashboard, by Terraform, by Cloudflare itself): creating a
second fails mid-apply (Cloudflare error 20217, "exceeded maximum number of
zone rulesets for phase"). When `infra preview` plans to create a phase's
ruleset and a token is at hand, this lists the zone's entry points (Cloudflare's
"List zone rulesets", GET /zones/{zone_id}/rulesets, read-only) and names the
`importId` to set. Without a token, or for a stack without a literal zone id,
it stays silent: the preview itself is unchanged.

The base URL comes from INFRA_CLOUDFLARE_API_URL (default Cloudflare's v4 API),
so tests point it at a local stand-in of the Rulesets API.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from components.cloudflare_types import PHASES
from components.edge_config import EdgeConfig
from stacks.config import StackConfig

API_URL_VAR = "INFRA_CLOUDFLARE_API_URL"
DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"
TOKEN_VAR = "CLOUDFLARE_API_TOKEN"
RULESET_TYPE = "cloudflare:index/ruleset:Ruleset"
RULESET_PREFIX = "edge-ruleset-"
TIMEOUT_S = 10


def phases_to_create(plan: Mapping[str, Any]) -> set[str]:
    """Phases whose ruleset the plan creates (an `import` step is already adopted)."""
    return {
        step["name"].removeprefix(RULESET_PREFIX)
        for step in plan.get("steps", [])
        if step.get("type") == RULESET_TYPE
        and step.get("op") == "create"
        and str(step.get("name", "")).startswith(RULESET_PREFIX)
    }


def zone_entry_points(zone_id: str, token: str, base_url: str) -> list[dict[str, Any]]:
    """The zone's entry-point rulesets of the phases infra manages."""
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/zones/{zone_id}/rulesets",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
        body = json.load(reply)
    if not body.get("success", False):
        errors = "; ".join(str(e.get("message", e)) for e in body.get("errors", []))
        raise ValueError(errors or "the API answered success: false")
    return [
        r for r in body.get("result") or [] if r.get("kind") == "zone" and r.get("phase") in PHASES
    ]


def existing_entry_points(
    config: StackConfig, plan: Mapping[str, Any], env: Mapping[str, str] = os.environ
) -> list[str]:
    """One warning per phase the plan would create although the zone has it."""
    edge, token = config.typed("edge", EdgeConfig), env.get(TOKEN_VAR)
    wanted = phases_to_create(plan)
    if not (edge.enabled and edge.zone_id and token and wanted):
        return []
    try:
        found = zone_entry_points(edge.zone_id, token, env.get(API_URL_VAR) or DEFAULT_API_URL)
    except (urllib.error.URLError, OSError, ValueError) as error:
        return [f"could not list the zone's rulesets to look for existing entry points: {error}"]
    index = {rs.phase: i for i, rs in enumerate(edge.rulesets)}
    return [
        f"edge.rulesets.{index[r['phase']]} ({r['phase']}): the zone already has an entry-point "
        f"ruleset for this phase (id {r['id']}, name '{r.get('name', '')}'); creating another "
        f'fails (Cloudflare error 20217): adopt it with importId: "{r["id"]}"'
        for r in found
        if r["phase"] in wanted and r["phase"] in index
    ]


def diagnostics(config: StackConfig, plan: Mapping[str, Any]) -> list[dict[str, str]]:
    """The warnings above as plan diagnostics (`preview --json`)."""
    return [{"severity": "warning", "message": m} for m in existing_entry_points(config, plan)]
