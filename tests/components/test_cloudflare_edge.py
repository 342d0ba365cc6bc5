"""CloudflareEdge under Pulumi's mocks: exactly what the cloudflare provider would get.

Cloudflare's API is out of reach here, so these tests stop at that boundary:
resource types, input names and nesting are checked against pulumi-cloudflare's
own input types (the SDK the provider's schema generated), and the values
against what the rule/record semantics require.
"""

from __future__ import annotations

import collections.abc
import copy
import inspect
import typing
from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi._types as pulumi_types
import pulumi_cloudflare as cloudflare
import pytest

from components.cloudflare_types import (
    CLOUDFLARE_MANAGED_RULESET,
    HTTP_DDOS_RULESET,
    OWASP_RULESET,
    OWASP_SCORE_RULE,
)
from tests.support import capture as capture_mod
from tests.support.capture import Capture, run_program

RECORD = "cloudflare:index/dnsRecord:DnsRecord"
RULESET = "cloudflare:index/ruleset:Ruleset"
SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
ZONE_ID = "0123456789abcdef0123456789abcdef"
ACCOUNT_ID = "fedcba9876543210fedcba9876543210"
RECORD_ID = "aaaabbbbccccddddeeeeffff00001111"
RULESET_ID = "99998888777766665555444433332222"

CACHE_RULES = [
    {
        "name": "static-assets",
        "expression": ' starts_with(http.request.uri.path, "/assets/")\n',
        "edgeTtl": 31536000,
        "browserTtl": 86400,
        "cacheKey": {
            "ignoreQueryStringsOrder": True,
            "cacheDeceptionArmor": True,
            "queryString": {"include": ["v", "lang", "v"]},
            "headers": ["Accept-Encoding", "X-Variant"],
        },
        "serveStale": True,
    },
    {
        "name": "bypass-api",
        "expression": 'starts_with(http.request.uri.path, "/api/")',
        "cache": False,
    },
    {"name": "default-ttl", "expression": 'http.host eq "example.com"'},
]
CUSTOM_RULES = [
    {
        "name": "skip-monitoring",
        "action": "skip",
        "expression": "ip.src in {198.51.100.7}",
        "skip": {
            "remainingCustomRules": True,
            "phases": ["http_ratelimit"],
            "products": ["waf", "bic"],
        },
    },
    {
        "name": "block-probes",
        "action": "block",
        "expression": 'http.request.uri.path contains "/wp-login.php"',
        "description": "probes",
    },
    {
        "name": "challenge-admin",
        "action": "managed_challenge",
        "enabled": False,
        "expression": 'starts_with(http.request.uri.path, "/admin")',
    },
]
MANAGED_RULES = [
    {"name": "cloudflare-managed", "ruleset": "cloudflare"},
    {
        "name": "owasp",
        "ruleset": "owasp",
        "paranoiaLevel": 2,
        "sensitivity": "high",
        "action": "managed_challenge",
    },
]
RATE_RULES = [
    {
        "name": "login",
        "expression": 'http.request.uri.path eq "/login"',
        "requestsPerPeriod": 5,
        "period": 60,
        "mitigationTimeout": 600,
        "characteristics": ["ip.src"],
    },
    {
        "name": "api",
        "expression": 'starts_with(http.request.uri.path, "/api/")',
        "requestsPerPeriod": 100,
        "action": "log",
        "countingExpression": "http.response.code eq 429",
    },
]
DDOS_RULES = [{"name": "http-ddos", "sensitivity": "low", "action": "managed_challenge"}]

RULESETS: list[dict[str, Any]] = [
    {"phase": "http_request_cache_settings", "rules": CACHE_RULES},
    {"phase": "http_request_firewall_custom", "rules": CUSTOM_RULES},
    {"phase": "http_request_firewall_managed", "rules": MANAGED_RULES},
    {"phase": "http_ratelimit", "rules": RATE_RULES},
    {"phase": "ddos_l7", "rules": DDOS_RULES},
]
RECORDS: list[dict[str, Any]] = [
    {"name": "@", "type": "A", "content": "203.0.113.10", "proxied": True, "comment": "origin"},
    {"name": "@", "type": "AAAA", "content": "2001:DB8::10", "proxied": True},
    {"name": "www", "type": "CNAME", "content": "Example.com.", "proxied": True},
    {"name": "@", "type": "MX", "content": "mail.example.com", "priority": 10, "ttl": 3600},
    {"name": "@", "type": "TXT", "content": "v=spf1 mx -all", "ttl": 3600},
    {"name": "@", "type": "CAA", "content": '0 issue "letsencrypt.org"'},
]


def edge_config(**overrides: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "plan": "enterprise",
        "zone": "example.com",
        "zoneId": ZONE_ID,
        "records": copy.deepcopy(RECORDS),
        "rulesets": copy.deepcopy(RULESETS),
        **overrides,
    }


def run(edge: dict[str, Any], redis: bool = False) -> Capture:
    return run_program(
        "unit",
        {"edge": edge, "redis": {"enabled": redis}},
        {"redisPassword": "test-password-0123456789"} if redis else None,
    )


@pytest.fixture(scope="module")
def capture() -> Capture:
    return run(edge_config())


def rulesets(capture: Capture) -> dict[str, dict[str, Any]]:
    return {r.spec["phase"]: r.spec for r in capture.of_type(RULESET)}


def rules_by_ref(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["ref"]: rule for rule in spec["rules"]}


# ------------------------------------------------- shapes the provider expects


def _element(annotation: Any) -> Any:
    """The Args class (or scalar type) a property holds, through Sequence/Union."""
    origin = typing.get_origin(annotation)
    if origin in (list, collections.abc.Sequence):
        return _element(typing.get_args(annotation)[0])
    if origin is typing.Union:
        return _element(typing.get_args(annotation)[0])
    return annotation


def _required(cls: type) -> set[str]:
    names = pulumi_types.input_type_py_to_pulumi_names(cls)
    params = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    return {
        names[p.name] for p in params if p.default is inspect.Parameter.empty and p.name in names
    }


def assert_shape(value: Any, cls: type, path: str) -> None:
    """Every key is an input of `cls` (camelCase), nested values match their type."""
    assert isinstance(value, dict), f"{path}: expected an object for {cls.__name__}"
    types = pulumi_types.input_type_types(cls)
    unknown = set(value) - set(types)
    assert not unknown, f"{path}: {sorted(unknown)} are not inputs of {cls.__name__}"
    missing = _required(cls) - set(value)
    assert not missing, f"{path}: required inputs {sorted(missing)} of {cls.__name__} missing"
    for key, item in value.items():
        expected = _element(types[key])
        is_list = typing.get_origin(types[key]) is not None and isinstance(item, list)
        for i, element in enumerate(item if is_list else [item]):
            where = f"{path}.{key}" + (f"[{i}]" if is_list else "")
            if pulumi_types.is_input_type(expected):
                assert_shape(element, expected, where)
            elif expected is bool:
                assert isinstance(element, bool), f"{where}: expected a bool"
            elif expected in (int, float):
                assert isinstance(element, int | float) and not isinstance(element, bool), where
                assert expected is float or float(element).is_integer(), f"{where}: not an int"
            elif expected is str:
                assert isinstance(element, str), f"{where}: expected a string"


def test_every_resource_matches_pulumi_cloudflare_input_types(capture: Capture) -> None:
    args = {
        RECORD: cloudflare.DnsRecordArgs,
        RULESET: cloudflare.RulesetArgs,
        SETTING: cloudflare.ZoneSettingArgs,
    }
    cloudflare_resources = [r for r in capture.resources if r.type.startswith("cloudflare:")]
    assert {r.type for r in cloudflare_resources} == set(args)
    for res in cloudflare_resources:
        assert_shape(res.spec, args[res.type], res.name)


def test_shape_check_catches_snake_case_and_unknown_inputs() -> None:
    with pytest.raises(AssertionError, match="not inputs of RulesetRuleArgs"):
        assert_shape(
            {"action": "block", "expression": "ssl", "action_parameters": {}},
            cloudflare.RulesetRuleArgs,
            "rule",
        )
    with pytest.raises(AssertionError, match="required inputs"):
        assert_shape({"action": "block"}, cloudflare.RulesetRuleArgs, "rule")
    with pytest.raises(AssertionError, match="not inputs of RulesetRuleRatelimitArgs"):
        assert_shape(
            {"characteristics": [], "period": 10, "requestsPerMinute": 1},
            cloudflare.RulesetRuleRatelimitArgs,
            "ratelimit",
        )


# ------------------------------------------------------------- component tree


def test_component_and_children(capture: Capture) -> None:
    component = capture.named("edge")
    assert component.type == "infra:cloudflare:Edge" and not component.custom
    children = [r for r in capture.resources if r.parent == "edge"]
    assert {r.type for r in children} == {RECORD, RULESET, SETTING}
    assert len(children) == len(capture.resources) - 1  # everything but the component


def test_edge_only_stack_creates_no_docker_resources(capture: Capture) -> None:
    assert not [r for r in capture.resources if r.type.startswith("docker:")]
    assert capture.outputs["components"] == (["edge"], False)
    assert "networkName" not in capture.outputs


def test_edge_beside_redis_keeps_the_docker_network() -> None:
    both = run(edge_config(), redis=True)
    assert both.of_type("docker:index/network:Network")
    assert both.of_type(RULESET)
    assert both.outputs["components"] == (["redis", "edge"], False)


def test_disabled_edge_creates_nothing_from_cloudflare() -> None:
    off = run({"enabled": False}, redis=True)
    assert not [r for r in off.resources if r.type.startswith("cloudflare:")]
    assert "edgeRecords" not in off.outputs


# --------------------------------------------------------------------- records


def test_records_use_dns_record_with_full_names(capture: Capture) -> None:
    assert not capture.of_type("cloudflare:index/record:Record")  # the deprecated resource
    specs = {r.name: r.spec for r in capture.of_type(RECORD)}
    assert specs == {
        "edge-dns-a-apex": {
            "zoneId": ZONE_ID,
            "name": "example.com",
            "type": "A",
            "content": "203.0.113.10",
            "ttl": 1,
            "proxied": True,
            "comment": "origin",
        },
        "edge-dns-aaaa-apex": {
            "zoneId": ZONE_ID,
            "name": "example.com",
            "type": "AAAA",
            "content": "2001:db8::10",
            "ttl": 1,
            "proxied": True,
        },
        "edge-dns-cname-www": {
            "zoneId": ZONE_ID,
            "name": "www.example.com",
            "type": "CNAME",
            "content": "example.com",
            "ttl": 1,
            "proxied": True,
        },
        "edge-dns-mx-apex": {
            "zoneId": ZONE_ID,
            "name": "example.com",
            "type": "MX",
            "content": "mail.example.com",
            "ttl": 3600,
            "priority": 10,
        },
        "edge-dns-txt-apex": {
            "zoneId": ZONE_ID,
            "name": "example.com",
            "type": "TXT",
            "content": '"v=spf1 mx -all"',
            "ttl": 3600,
        },
        "edge-dns-caa-apex": {
            "zoneId": ZONE_ID,
            "name": "example.com",
            "type": "CAA",
            "ttl": 1,
            "data": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"},
        },
    }


def test_records_and_rulesets_delete_before_replace(capture: Capture) -> None:
    for res in capture.of_type(RECORD) + capture.of_type(RULESET):
        assert res.delete_before_replace, res.name
    assert not any(r.delete_before_replace for r in capture.of_type(SETTING))


# ---------------------------------------------------------------- zone settings


def test_zone_settings_with_secure_defaults(capture: Capture) -> None:
    specs = {r.spec["settingId"]: r.spec for r in capture.of_type(SETTING)}
    assert {k: v["value"] for k, v in specs.items()} == {
        "ssl": "strict",
        "min_tls_version": "1.2",
        "always_use_https": "on",
        "automatic_https_rewrites": "on",
        "http3": "on",
        "polish": "lossless",
        "webp": "on",
    }
    assert all(s["zoneId"] == ZONE_ID for s in specs.values())
    assert {r.name for r in capture.of_type(SETTING)} == {f"edge-setting-{k}" for k in specs}


def test_zone_settings_overrides_and_unmanaged() -> None:
    out = run(edge_config(settings={"ssl": "full", "polish": None, "webp": None, "http3": False}))
    values = {r.spec["settingId"]: r.spec["value"] for r in out.of_type(SETTING)}
    assert values["ssl"] == "full" and values["http3"] == "off"
    assert "polish" not in values and "webp" not in values


# ---------------------------------------------------------------------- rulesets


def test_exactly_one_zone_ruleset_per_phase(capture: Capture) -> None:
    specs = [r.spec for r in capture.of_type(RULESET)]
    phases = [s["phase"] for s in specs]
    assert sorted(phases) == sorted(rs["phase"] for rs in RULESETS)
    assert len(set(phases)) == len(phases)
    assert all(
        s["kind"] == "zone" and s["zoneId"] == ZONE_ID and s["name"] == "default" for s in specs
    )
    assert {r.name for r in capture.of_type(RULESET)} == {f"edge-ruleset-{p}" for p in phases}


def test_every_rule_has_its_config_name_as_ref_and_explicit_defaults(capture: Capture) -> None:
    for phase, spec in rulesets(capture).items():
        source = next(rs["rules"] for rs in RULESETS if rs["phase"] == phase)
        assert [r["ref"] for r in spec["rules"]] == [r["name"] for r in source]
        for rule in spec["rules"]:
            assert isinstance(rule["enabled"], bool) and rule["description"]
            assert rule["expression"] == rule["expression"].strip()


def test_cache_rules(capture: Capture) -> None:
    rules = rules_by_ref(rulesets(capture)["http_request_cache_settings"])
    assert rules["static-assets"] == {
        "ref": "static-assets",
        "description": "static-assets",
        "expression": 'starts_with(http.request.uri.path, "/assets/")',
        "action": "set_cache_settings",
        "enabled": True,
        "actionParameters": {
            "cache": True,
            "edgeTtl": {"mode": "override_origin", "default": 31536000},
            "browserTtl": {"mode": "override_origin", "default": 86400},
            "cacheKey": {
                "ignoreQueryStringsOrder": True,
                "cacheDeceptionArmor": True,
                "cacheByDeviceType": False,
                "customKey": {
                    "queryString": {"include": {"lists": ["lang", "v"]}},
                    "header": {"includes": ["accept-encoding", "x-variant"]},
                },
            },
            "serveStale": {"disableStaleWhileUpdating": False},
        },
    }
    assert rules["bypass-api"]["actionParameters"] == {"cache": False}
    assert rules["default-ttl"]["actionParameters"] == {
        "cache": True,
        "edgeTtl": {"mode": "respect_origin"},
        "browserTtl": {"mode": "respect_origin"},
    }


def test_custom_firewall_rules(capture: Capture) -> None:
    spec = rulesets(capture)["http_request_firewall_custom"]
    rules = rules_by_ref(spec)
    assert rules["skip-monitoring"]["action"] == "skip"
    assert rules["skip-monitoring"]["actionParameters"] == {
        "ruleset": "current",
        "phases": ["http_ratelimit"],
        "products": ["bic", "waf"],
    }
    assert rules["skip-monitoring"]["logging"] == {"enabled": True}
    assert rules["block-probes"] == {
        "ref": "block-probes",
        "description": "probes",
        "action": "block",
        "enabled": True,
        "expression": 'http.request.uri.path contains "/wp-login.php"',
    }
    assert rules["challenge-admin"]["action"] == "managed_challenge"
    assert rules["challenge-admin"]["enabled"] is False
    assert [r["ref"] for r in spec["rules"]] == [
        "skip-monitoring",
        "block-probes",
        "challenge-admin",
    ]


def test_managed_rulesets_and_owasp_overrides(capture: Capture) -> None:
    rules = rules_by_ref(rulesets(capture)["http_request_firewall_managed"])
    assert rules["cloudflare-managed"]["action"] == "execute"
    assert rules["cloudflare-managed"]["expression"] == "true"
    assert rules["cloudflare-managed"]["actionParameters"] == {"id": CLOUDFLARE_MANAGED_RULESET}
    assert rules["owasp"]["actionParameters"] == {
        "id": OWASP_RULESET,
        "overrides": {
            "categories": [
                {"category": "paranoia-level-3", "enabled": False},
                {"category": "paranoia-level-4", "enabled": False},
            ],
            "rules": [
                {"id": OWASP_SCORE_RULE, "scoreThreshold": 25, "action": "managed_challenge"}
            ],
        },
    }


@pytest.mark.parametrize(
    ("level", "sensitivity", "disabled", "threshold"),
    [(1, "low", [2, 3, 4], 60), (3, "medium", [4], 40), (4, None, [], 40)],
)
def test_owasp_paranoia_and_sensitivity(
    level: int, sensitivity: str | None, disabled: list[int], threshold: int
) -> None:
    rule = {"name": "owasp", "ruleset": "owasp", "paranoiaLevel": level}
    if sensitivity:
        rule["sensitivity"] = sensitivity
    out = run(edge_config(rulesets=[{"phase": "http_request_firewall_managed", "rules": [rule]}]))
    params = rulesets(out)["http_request_firewall_managed"]["rules"][0]["actionParameters"]
    assert [c["category"] for c in params["overrides"]["categories"]] == [
        f"paranoia-level-{n}" for n in disabled
    ]
    assert params["overrides"]["rules"] == [
        {"id": OWASP_SCORE_RULE, "scoreThreshold": threshold, "action": "block"}
    ]


def test_cloudflare_managed_action_override() -> None:
    rule = {"name": "cf", "ruleset": "cloudflare", "action": "log"}
    out = run(edge_config(rulesets=[{"phase": "http_request_firewall_managed", "rules": [rule]}]))
    params = rulesets(out)["http_request_firewall_managed"]["rules"][0]["actionParameters"]
    assert params == {"id": CLOUDFLARE_MANAGED_RULESET, "overrides": {"action": "log"}}


def test_rate_limit_rules(capture: Capture) -> None:
    rules = rules_by_ref(rulesets(capture)["http_ratelimit"])
    assert rules["login"]["action"] == "block"
    assert rules["login"]["ratelimit"] == {
        "characteristics": ["cf.colo.id", "ip.src"],
        "period": 60,
        "requestsPerPeriod": 5,
        "mitigationTimeout": 600,
        "requestsToOrigin": False,
    }
    assert "actionParameters" not in rules["login"]
    assert rules["api"]["action"] == "log"
    assert rules["api"]["ratelimit"]["period"] == 10
    assert rules["api"]["ratelimit"]["mitigationTimeout"] == 10
    assert rules["api"]["ratelimit"]["countingExpression"] == "http.response.code eq 429"


def test_ddos_l7_overrides(capture: Capture) -> None:
    rule = rulesets(capture)["ddos_l7"]["rules"][0]
    assert rule["action"] == "execute" and rule["expression"] == "true"
    assert rule["actionParameters"] == {
        "id": HTTP_DDOS_RULESET,
        "overrides": {"sensitivityLevel": "low", "action": "managed_challenge"},
    }


# ---------------------------------------------------------- stability / diffs


def test_refs_are_stable_when_rules_are_reordered() -> None:
    reordered = copy.deepcopy(RULESETS)
    for rs in reordered:
        rs["rules"].reverse()
    a = rulesets(run(edge_config()))
    b = rulesets(run(edge_config(rulesets=reordered)))
    for phase in a:
        assert rules_by_ref(a[phase]) == rules_by_ref(b[phase])
        refs_a = [r["ref"] for r in a[phase]["rules"]]
        assert [r["ref"] for r in b[phase]["rules"]] == refs_a[::-1]  # order is meaningful


def test_inserting_a_rule_leaves_the_other_refs_alone() -> None:
    extended = copy.deepcopy(RULESETS)
    extended[1]["rules"].insert(0, {"name": "new-first", "action": "log", "expression": "ssl"})
    a = rules_by_ref(rulesets(run(edge_config()))["http_request_firewall_custom"])
    b = rules_by_ref(rulesets(run(edge_config(rulesets=extended)))["http_request_firewall_custom"])
    assert set(b) - set(a) == {"new-first"}
    assert all(b[ref] == a[ref] for ref in a)


def equivalent_config() -> dict[str, Any]:
    """The same edge written differently: order of unordered things, case, spacing."""
    cfg = edge_config()
    cfg["zone"] = "EXAMPLE.com."
    cfg["records"] = copy.deepcopy(RECORDS[::-1])
    cfg["records"][-1]["type"] = "a"  # was "A"
    cfg["records"][-1]["name"] = "example.com."
    cache = cfg["rulesets"][0]["rules"][0]
    cache["cacheKey"]["queryString"]["include"] = ["lang", "v"]
    cache["cacheKey"]["headers"] = ["x-variant", "ACCEPT-ENCODING"]
    cache["expression"] = 'starts_with(http.request.uri.path,   "/assets/")'
    custom = cfg["rulesets"][1]["rules"][0]
    custom["skip"]["products"] = ["bic", "waf", "bic"]
    custom["action"] = "SKIP"
    cfg["rulesets"][3]["rules"][0]["characteristics"] = ["cf.colo.id", "ip.src", "ip.src"]
    cfg["rulesets"] = [cfg["rulesets"][i] for i in (4, 2, 0, 3, 1)]
    cfg["rulesets"][0]["phase"] = "DDOS_L7"
    return cfg


def test_equivalent_config_gives_identical_inputs() -> None:
    """What a second preview compares: equal inputs mean no diff."""
    a = run(edge_config())
    b = run(equivalent_config())
    specs_a = {r.name: r.spec for r in a.resources}
    specs_b = {r.name: r.spec for r in b.resources}
    assert specs_a == specs_b


def test_running_twice_gives_identical_inputs() -> None:
    first = {r.name: r.spec for r in run(edge_config()).resources}
    second = {r.name: r.spec for r in run(edge_config()).resources}
    assert first == second


# ----------------------------------------------------------------------- import


@pytest.fixture
def import_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str | None]]:
    """Record each resource's import id (the mock sees it as `resource_id`)."""
    seen: dict[str, str | None] = {}
    original = capture_mod.CaptureMocks.new_resource

    def new_resource(self: Any, args: pulumi.runtime.MockResourceArgs) -> Any:
        seen[args.name] = args.resource_id or None
        return original(self, args)

    monkeypatch.setattr(capture_mod.CaptureMocks, "new_resource", new_resource)
    yield seen


def test_import_ids_are_passed_through(import_ids: dict[str, str | None]) -> None:
    cfg = edge_config()
    cfg["records"][2]["importId"] = RECORD_ID.upper()
    cfg["rulesets"][3]["importId"] = RULESET_ID
    run(cfg)
    assert import_ids["edge-dns-cname-www"] == f"{ZONE_ID}/{RECORD_ID}"
    assert import_ids["edge-ruleset-http_ratelimit"] == f"zones/{ZONE_ID}/{RULESET_ID}"
    others = {
        k: v
        for k, v in import_ids.items()
        if k not in ("edge-dns-cname-www", "edge-ruleset-http_ratelimit")
    }
    assert others and not any(others.values())


# ------------------------------------------------------------------ zone lookup


@pytest.fixture
def zone_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    zones = {"example.com": "1234567890abcdef1234567890abcdef"}

    def call(self: Any, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        calls.append((args.token, dict(args.args)))
        name = args.args.get("name")
        return {"results": [{"id": zones[name], "name": name}] if name in zones else []}

    monkeypatch.setattr(capture_mod.CaptureMocks, "call", call)
    yield calls


def test_zone_looked_up_by_name_and_account(zone_calls: list[Any]) -> None:
    out = run(edge_config(zoneId=None, accountId=ACCOUNT_ID))
    assert zone_calls == [
        (
            "cloudflare:index/getZones:getZones",
            {"name": "example.com", "account": {"id": ACCOUNT_ID}, "match": "all"},
        )
    ]
    looked_up = "1234567890abcdef1234567890abcdef"
    assert all(r.spec["zoneId"] == looked_up for r in out.resources if r.custom)
    assert out.outputs["edgeZoneId"] == (looked_up, False)


def test_unknown_zone_fails_with_the_fix(zone_calls: list[Any]) -> None:
    with pytest.raises(pulumi.RunError, match=r"zone example\.org not found in account"):
        run(
            edge_config(
                zone="example.org", zoneId=None, accountId=ACCOUNT_ID, records=[], rulesets=[]
            )
        )


# ---------------------------------------------------------------------- outputs


def test_outputs_name_records_and_rulesets(capture: Capture) -> None:
    records, secret = capture.outputs["edgeRecords"]
    assert not secret
    assert {(r["key"], r["name"], r["type"], r["id"]) for r in records} == {
        (r.name.removeprefix("edge-dns-"), r.spec["name"], r.spec["type"], f"{r.name}-id")
        for r in capture.of_type(RECORD)
    }
    ids, _ = capture.outputs["edgeRulesetIds"]
    assert ids == {r.spec["phase"]: f"{r.name}-id" for r in capture.of_type(RULESET)}
    assert capture.outputs["edgeZoneId"] == (ZONE_ID, False)


def test_records_only_edge_has_empty_ruleset_ids() -> None:
    out = run(edge_config(rulesets=[]))
    assert not out.of_type(RULESET)
    assert out.outputs["edgeRulesetIds"] == ({}, False)
