"""`edge.plan`: what a zone's Cloudflare plan allows, refused before any API
call with the plan that would allow it; defaults valid on Free; the template's
cache-rule order and quoted TXT content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacks.config import ConfigInvalid, parse_config, read_stack_file

REPO = Path(__file__).resolve().parents[2]
ZONE_ID = "0123456789abcdef0123456789abcdef"
RATE = "edge.rulesets.0.http_ratelimit"


def edge(plan: str | None = None, **extra: Any) -> dict[str, Any]:
    config = {"enabled": True, "zone": "example.com", "zoneId": ZONE_ID, **extra}
    if plan is not None:
        config["plan"] = plan
    return {"edge": config}


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        parse_config(raw)
    return {p.path: p.message for p in info.value.problems}


def rate(**extra: Any) -> dict[str, Any]:
    rule = {"name": "login", "expression": 'http.request.uri.path eq "/login"'}
    return {"phase": "http_ratelimit", "rules": [{**rule, "requestsPerPeriod": 5, **extra}]}


def test_the_defaults_are_valid_on_free() -> None:
    config = parse_config(edge())
    assert config.edge.plan == "free"
    values = config.edge.settings.values()
    assert "polish" not in values and "webp" not in values  # Pro features stay unmanaged


def test_polish_and_webp_are_defaults_from_pro_up() -> None:
    values = parse_config(edge("pro")).edge.settings.values()
    assert (values["polish"], values["webp"]) == ("lossless", "on")
    off = parse_config(edge("pro", settings={"polish": "off"})).edge.settings.values()
    assert off["polish"] == "off" and "webp" not in off


def test_polish_and_webp_on_free_name_the_pro_plan() -> None:
    found = problems(edge(settings={"polish": "lossless", "webp": True}))
    assert found["edge.settings.polish"].startswith(
        "Polish needs the Pro plan or higher, and edge.plan is free: set polish: null"
    )
    assert "Pro plan" in found["edge.settings.webp"]


@pytest.mark.parametrize("ruleset", ["cloudflare", "owasp"])
def test_managed_rulesets_need_pro(ruleset: str) -> None:
    managed = {
        "phase": "http_request_firewall_managed",
        "rules": [{"name": "m", "ruleset": ruleset}],
    }
    found = problems(edge(rulesets=[managed]))
    message = found["edge.rulesets.0.http_request_firewall_managed.rules.0.ruleset"]
    assert "needs the Pro plan" in message and "Free Managed Ruleset" in message
    assert parse_config(edge("pro", rulesets=[managed]))


@pytest.mark.parametrize(
    ("plan", "period", "needed"),
    [("free", 60, "Pro"), ("pro", 120, "Business"), ("business", 3600, "Enterprise")],
)
def test_rate_limit_periods_per_plan(plan: str, period: int, needed: str) -> None:
    found = problems(edge(plan, rulesets=[rate(period=period)]))
    assert f"needs the {needed} plan" in found[f"{RATE}.rules.0.period"]


@pytest.mark.parametrize(
    ("plan", "timeout", "needed"),
    [("free", 60, "Pro"), ("pro", 86400, "Business")],
)
def test_mitigation_timeouts_per_plan(plan: str, timeout: int, needed: str) -> None:
    found = problems(edge(plan, rulesets=[rate(mitigationTimeout=timeout)]))
    assert f"needs the {needed} plan" in found[f"{RATE}.rules.0.mitigationTimeout"]


def test_challenge_actions_need_timeout_0_below_enterprise() -> None:
    found = problems(edge("business", rulesets=[rate(action="managed_challenge")]))
    assert "requires mitigationTimeout: 0" in found[f"{RATE}.rules.0.mitigationTimeout"]
    ok = rate(action="managed_challenge", mitigationTimeout=0)
    assert parse_config(edge("free", rulesets=[ok]))


def test_block_with_timeout_0_throttles_which_is_enterprise_only() -> None:
    found = problems(edge("business", rulesets=[rate(mitigationTimeout=0)]))
    assert "needs the Enterprise plan" in found[f"{RATE}.rules.0.mitigationTimeout"]
    assert parse_config(edge("enterprise", rulesets=[rate(mitigationTimeout=0)]))


def test_rate_limit_expression_fields_per_plan() -> None:
    """The template's old rule matched on the method: Business and up."""
    expression = '(http.request.uri.path eq "/login" and http.request.method eq "POST")'
    found = problems(edge("pro", rulesets=[rate(expression=expression)]))
    assert found[f"{RATE}.rules.0.expression"].startswith(
        "matching on http.request.method in a rate-limiting rule needs the Business plan"
    )
    host = rate(expression='http.host eq "example.com"')
    assert (
        "needs the Pro plan"
        in problems(edge("free", rulesets=[host]))[f"{RATE}.rules.0.expression"]
    )
    assert parse_config(edge("business", rulesets=[rate(expression=expression)]))


def test_rate_limit_characteristics_counting_and_rule_count_per_plan() -> None:
    found = problems(
        edge(
            "pro",
            rulesets=[rate(characteristics=["cf.unique_visitor_id"], countingExpression="ssl")],
        )
    )
    assert "needs the Business plan" in found[f"{RATE}.rules.0.characteristics"]
    assert "needs the Business plan" in found[f"{RATE}.rules.0.countingExpression"]
    two = rate()
    two["rules"].append({**two["rules"][0], "name": "api"})
    assert "needs the Pro plan" in problems(edge("free", rulesets=[two]))[f"{RATE}.rules"]


def ddos(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"phase": "ddos_l7", "rules": list(rules)}


def test_ddos_override_is_one_rule_for_every_request_without_advanced_ddos() -> None:
    path = "edge.rulesets.0.ddos_l7"
    two = ddos({"name": "a"}, {"name": "b"})
    assert "allows one" in problems(edge("enterprise", rulesets=[two]))[f"{path}.rules"]
    scoped = ddos({"name": "a", "expression": 'http.host eq "api.example.com"'})
    found = problems(edge("business", rulesets=[scoped]))
    assert "expression: true" in found[f"{path}.rules.0.expression"]
    assert parse_config(edge("free", rulesets=[ddos({"name": "a", "sensitivity": "low"})]))
    advanced = edge(
        "enterprise",
        advancedDdos=True,
        rulesets=[ddos({"name": "a"}, scoped["rules"][0] | {"name": "b"})],
    )
    assert parse_config(advanced)


def test_disabled_edges_are_not_plan_checked() -> None:
    raw = edge(settings={"polish": "lossy"})
    raw["edge"]["enabled"] = False
    assert parse_config(raw)


def test_production_template_is_valid_for_its_plan_and_orders_cache_rules() -> None:
    """Cache rules are last-match-wins: the static-assets rule must come after
    the bypasses, so a static file requested with a session cookie is cached."""
    config = parse_config(read_stack_file(REPO / "templates" / "production.yaml"))
    assert config.edge.plan == "pro"
    cache = next(r for r in config.edge.rulesets if r.phase == "http_request_cache_settings")
    names = [rule.name for rule in cache.rules]
    assert names[-1] == "static-assets"
    assert names.index("bypass-authenticated") < names.index("static-assets")
    txt = next(r for r in config.edge.edge_records() if r.type == "TXT")
    assert txt.content == '"v=spf1 mx -all"'


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("v=spf1 mx -all", '"v=spf1 mx -all"'),
        ('"already quoted"', '"already quoted"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a" * 300, '"' + "a" * 255 + '" "' + "a" * 45 + '"'),
    ],
)
def test_txt_content_is_sent_quoted(written: str, sent: str) -> None:
    records = [{"name": "@", "type": "TXT", "content": written}]
    config = parse_config(edge(records=records))
    assert config.edge.edge_records()[0].content == sent
