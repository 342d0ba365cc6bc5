"""`infra:cloudflare:Edge`: DNS records, zone settings and rulesets of one zone.

Everything Cloudflare calls a "rule" (cache rules, WAF custom and managed rules,
rate limits, DDoS overrides) lives in the zone's entry-point ruleset of a
phase, and a zone has exactly one of those per phase. This component therefore
creates exactly one `cloudflare.Ruleset(kind="zone")` per configured phase and
puts all of that phase's rules in it, each with a stable `ref` taken from the
rule's config name. A second ruleset for a phase would fail at apply time with
"exceeded maximum number of zone rulesets for phase".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

from components import edge_names
from components.base import InfraComponent
from components.cloudflare_types import (
    HTTP_DDOS_RULESET,
    OWASP_SCORE_RULE,
    OWASP_THRESHOLDS,
    CacheKeyConfig,
    CacheRule,
    DdosRule,
    EdgeRecord,
    FirewallRule,
    ManagedRule,
    RateLimitRule,
    RuleBase,
    RulesetConfig,
)
from components.edge_config import EdgeConfig, EdgeExports

# Settings that must be applied after others: WebP is part of Polish.
SETTING_AFTER: dict[str, tuple[str, ...]] = {"webp": ("polish",)}


def zone_id_by_name(zone: str, account_id: str) -> pulumi.Output[str]:
    """The id of `zone` in `account_id`, or a clear error if it is not there."""
    found = cloudflare.get_zones_output(name=zone, account={"id": account_id}, match="all")

    def pick(results: Any) -> str:
        ids = [z.get("id") for z in results or [] if z.get("name") in (None, zone)]
        if len(ids) != 1 or not ids[0]:
            raise pulumi.RunError(
                f"zone {zone} not found in account {account_id} ({len(ids)} matches): "
                "check edge.zone and edge.accountId, or set edge.zoneId"
            )
        return str(ids[0])

    return found.results.apply(pick)


# ------------------------------------------------------------------ rule shapes
# Plain dicts in pulumi-cloudflare's RulesetRuleArgsDict form (snake_case keys;
# the SDK sends them camelCased). Defaults are always filled in and lists that
# Cloudflare treats as sets are sorted, so equal config gives equal inputs.


def rule_args(rule: RuleBase, action: str, params: dict[str, Any] | None) -> dict[str, Any]:
    args: dict[str, Any] = {
        "ref": rule.rule_ref,
        "description": rule.description or rule.name,
        "expression": rule.expression,
        "action": action,
        "enabled": rule.enabled,
    }
    if params:
        args["action_parameters"] = params
    return args


def ttl_args(seconds: int | None) -> dict[str, Any]:
    if seconds is None:
        return {"mode": "respect_origin"}
    return {"mode": "override_origin", "default": seconds}


def cache_key_args(key: CacheKeyConfig) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if key.query_string is not None:
        side = "include" if key.query_string.include is not None else "exclude"
        value = getattr(key.query_string, side)
        custom["query_string"] = {
            side: {"all": True} if value == "*" else {"lists": sorted(set(value))}
        }
    if key.headers:
        custom["header"] = {"includes": key.headers}
    if key.cookies:
        custom["cookie"] = {"includes": key.cookies}
    args: dict[str, Any] = {
        "ignore_query_strings_order": key.ignore_query_strings_order,
        "cache_deception_armor": key.cache_deception_armor,
        "cache_by_device_type": key.cache_by_device_type,
    }
    if custom:
        args["custom_key"] = custom
    return args


def cache_rule_args(rule: CacheRule) -> dict[str, Any]:
    """Cache (long edge TTL for versioned assets) or bypass (API, logged-in paths)."""
    params: dict[str, Any] = {"cache": rule.cache}
    if rule.cache:
        params["edge_ttl"] = ttl_args(rule.edge_ttl)
        params["browser_ttl"] = ttl_args(rule.browser_ttl)
        if rule.cache_key is not None:
            params["cache_key"] = cache_key_args(rule.cache_key)
        if rule.serve_stale is not None:
            params["serve_stale"] = {"disable_stale_while_updating": not rule.serve_stale}
    return rule_args(rule, "set_cache_settings", params)


def firewall_rule_args(rule: FirewallRule) -> dict[str, Any]:
    if rule.action != "skip" or rule.skip is None:
        return rule_args(rule, rule.action, None)
    params: dict[str, Any] = {}
    if rule.skip.remaining_custom_rules:
        params["ruleset"] = "current"
    if rule.skip.phases:
        params["phases"] = list(rule.skip.phases)
    if rule.skip.products:
        params["products"] = list(rule.skip.products)
    args = rule_args(rule, "skip", params)
    args["logging"] = {"enabled": True}  # Cloudflare's default for skip rules, made explicit
    return args


def managed_rule_args(rule: ManagedRule) -> dict[str, Any]:
    """Execute a managed ruleset; OWASP gets its paranoia level and threshold.

    Paranoia level N is set by disabling the tags paranoia-level-(N+1)..4; the
    threshold and the action sit on the ruleset's last rule, which acts on the
    accumulated threat score.
    """
    params: dict[str, Any] = {"id": rule.ruleset_id}
    if rule.ruleset == "owasp":
        level = rule.paranoia_level or 1
        score_rule: dict[str, Any] = {
            "id": OWASP_SCORE_RULE,
            "score_threshold": OWASP_THRESHOLDS[rule.sensitivity or "medium"],
            "action": rule.action or "block",
        }
        params["overrides"] = {
            "categories": [
                {"category": f"paranoia-level-{n}", "enabled": False} for n in range(level + 1, 5)
            ],
            "rules": [score_rule],
        }
    elif rule.action is not None:
        params["overrides"] = {"action": rule.action}
    return rule_args(rule, "execute", params)


def rate_limit_rule_args(rule: RateLimitRule) -> dict[str, Any]:
    args = rule_args(rule, rule.action, None)
    limit: dict[str, Any] = {
        "characteristics": list(rule.characteristics),
        "period": rule.period,
        "requests_per_period": rule.requests_per_period,
        "mitigation_timeout": rule.mitigation_timeout,
        "requests_to_origin": rule.requests_to_origin,
    }
    if rule.counting_expression is not None:
        limit["counting_expression"] = rule.counting_expression
    args["ratelimit"] = limit
    return args


def ddos_rule_args(rule: DdosRule) -> dict[str, Any]:
    overrides: dict[str, Any] = {"sensitivity_level": rule.sensitivity}
    if rule.action is not None:
        overrides["action"] = rule.action
    return rule_args(rule, "execute", {"id": HTTP_DDOS_RULESET, "overrides": overrides})


def ruleset_rules(ruleset: RulesetConfig) -> list[dict[str, Any]]:
    """The rules of one phase in order (order is meaningful: first match wins)."""
    build = {
        CacheRule: cache_rule_args,
        FirewallRule: firewall_rule_args,
        ManagedRule: managed_rule_args,
        RateLimitRule: rate_limit_rule_args,
        DdosRule: ddos_rule_args,
    }
    return [build[type(rule)](rule) for rule in ruleset.rules]  # type: ignore[operator]


def record_args(record: EdgeRecord) -> dict[str, Any]:
    """DnsRecord inputs; CAA goes in `data` (Cloudflare computes its content)."""
    args: dict[str, Any] = {"name": record.name, "type": record.type, "ttl": record.ttl}
    caa = record.caa
    if caa is not None:
        args["data"] = caa
    else:
        args["content"] = record.content
    if record.proxied is not None:
        args["proxied"] = record.proxied
    if record.priority is not None:
        args["priority"] = record.priority
    if record.comment:
        args["comment"] = record.comment
    return args


def record_aliases(records: Sequence[EdgeRecord]) -> dict[str, list[str]]:
    """Previous keys a record may have had, so that changing the type at one name
    between CNAME and A/AAAA is the same Pulumi resource changing (replaced
    delete-first) instead of a new record created while the old one still
    exists, which Cloudflare refuses (error 81053: a CNAME must be alone at its
    name). A CNAME may have been the A or AAAA record at its name; the first A
    or AAAA at a name may have been its CNAME. Round-robin (suffixed) records
    keep their own identity, and going from A + AAAA to a CNAME still takes two
    steps (docs/cloudflare.md)."""
    out: dict[str, list[str]] = {}
    seen: set[str] = set()
    for record in records:
        kind = record.type.lower()
        first = record.name not in seen
        if kind in ("a", "aaaa", "cname"):
            seen.add(record.name)
        if record.label is None or record.key != f"{kind}-{record.label}":
            continue
        if kind == "cname":
            out[record.key] = [f"a-{record.label}", f"aaaa-{record.label}"]
        elif kind in ("a", "aaaa") and first:
            out[record.key] = [f"cname-{record.label}"]
    return out


def address_successors(records: Sequence[EdgeRecord]) -> dict[str, str]:
    """key -> key of the record at the same name that must be applied first: a
    second A/AAAA waits for the one that may take over the name's CNAME."""
    first: dict[str, str] = {}
    after: dict[str, str] = {}
    for record in records:
        if record.type not in ("A", "AAAA"):
            continue
        if record.name in first:
            after[record.key] = first[record.name]
        else:
            first[record.name] = record.key
    return after


def record_output(record: EdgeRecord, resource: cloudflare.DnsRecord) -> pulumi.Output[Any]:
    return resource.id.apply(
        lambda rid: {"key": record.key, "name": record.name, "type": record.type, "id": rid}
    )


# -------------------------------------------------------------------- component


class CloudflareEdge(InfraComponent):
    """DNS records, zone settings and one entry-point ruleset per phase.

    Replacements delete first: a record or ruleset cannot exist twice (same
    name CNAME, second entry-point ruleset), so create-before-delete would fail.
    Zone settings always exist: "creating" one edits it, deleting it from the
    stack leaves Cloudflare's value as it is.
    """

    exports_model = EdgeExports
    zone_id: pulumi.Output[str]
    records: pulumi.Output[list[dict[str, Any]]]
    ruleset_ids: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        config: EdgeConfig,
        zone_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`zone_id` is `config.zone_id`, or an Output when the stack looks the
        zone up by name (`zone_id_by_name`); imports need the literal
        `config.zone_id`, since an import id must be known before the program
        runs and cannot wait for a lookup."""
        super().__init__("infra:cloudflare:Edge", name, None, opts)
        self.config, self._zone_id = config, zone_id
        self._records = config.edge_records()
        aliases = record_aliases(self._records)
        waits = address_successors(self._records)
        records: dict[str, cloudflare.DnsRecord] = {}
        for r in self._records:
            after = [records[waits[r.key]]] if waits.get(r.key) in records else []
            records[r.key] = self._record(name, r, aliases.get(r.key, []), after)
        self._settings(name, config.settings.values())
        rulesets: dict[str, cloudflare.Ruleset] = {
            rs.phase: self._ruleset(name, rs) for rs in config.rulesets
        }
        self._set_outputs(records, rulesets)

    def _import(self, kind: str, object_id: str | None) -> str | None:
        if object_id is None:
            return None
        zone = self.config.zone_id
        if zone is None:  # the config model refuses this; keep the component honest
            raise ValueError(f"importing a {kind} needs the literal zone id (edge.zoneId)")
        return f"zones/{zone}/{object_id}" if kind == "ruleset" else f"{zone}/{object_id}"

    def _settings(self, name: str, settings: Mapping[str, str]) -> None:
        """One ZoneSetting per setting; `webp` waits for `polish`: Cloudflare refuses
        WebP while Polish is off (error 1020), and Pulumi would otherwise send
        both at once."""
        made: dict[str, cloudflare.ZoneSetting] = {}
        for setting_id, value in settings.items():
            after = [made[d] for d in SETTING_AFTER.get(setting_id, ()) if d in made]
            made[setting_id] = cloudflare.ZoneSetting(
                edge_names.child(name, edge_names.SETTING, setting_id),
                zone_id=self._zone_id,
                setting_id=setting_id,
                value=value,
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )

    def _record(
        self,
        name: str,
        record: EdgeRecord,
        aliases: list[str],
        after: list[cloudflare.DnsRecord],
    ) -> cloudflare.DnsRecord:
        return cloudflare.DnsRecord(
            edge_names.child(name, edge_names.DNS, record.key),
            zone_id=self._zone_id,
            **record_args(record),
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                import_=self._import("record", record.import_id),
                aliases=[
                    pulumi.Alias(name=edge_names.child(name, edge_names.DNS, a)) for a in aliases
                ],
                depends_on=after,
            ),
        )

    def _ruleset(self, name: str, ruleset: RulesetConfig) -> cloudflare.Ruleset:
        return cloudflare.Ruleset(
            edge_names.child(name, edge_names.RULESET, ruleset.phase),
            zone_id=self._zone_id,
            kind="zone",
            phase=ruleset.phase,
            name=ruleset.name,
            rules=ruleset_rules(ruleset),  # type: ignore[arg-type]
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                import_=self._import("ruleset", ruleset.import_id),
                # `name` forces a replacement, and entry points made in the
                # dashboard are not always called "default" (Cloudflare's own
                # OWASP docs show "zone"): never diff on it, so adopting a live
                # WAF with importId can never turn into delete-then-create.
                ignore_changes=["name"],
            ),
        )

    def _set_outputs(
        self, records: dict[str, cloudflare.DnsRecord], rulesets: dict[str, cloudflare.Ruleset]
    ) -> None:
        by_key = {r.key: r for r in self._records}
        self.zone_id = pulumi.Output.from_input(self._zone_id)
        self.records = pulumi.Output.all(
            *[record_output(by_key[key], res) for key, res in records.items()]
        )
        phases = sorted(rulesets)
        self.ruleset_ids = pulumi.Output.all(*[rulesets[p].id for p in phases]).apply(
            lambda ids: dict(zip(phases, ids, strict=True))
        )
        self.register_outputs(
            {"zoneId": self.zone_id, "records": self.records, "rulesetIds": self.ruleset_ids}
        )
