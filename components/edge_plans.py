"""What each Cloudflare plan allows, checked before any API call (`edge.plan`).

A zone on a lower plan than its config needs fails half-way through `infra up`
(Cloudflare refuses the setting or the ruleset after other changes went
through). Each rule here names the plan it needs. Sources (verified against
the documentation only; no Cloudflare API is reachable from the build machines):

- rate limiting availability table and footnotes,
  https://developers.cloudflare.com/waf/rate-limiting-rules/#availability
  (expression fields, counting characteristics, custom counting expression,
  periods, mitigation timeouts, number of rules);
- `mitigation_timeout` must be 0 with a challenge action below Enterprise, and
  throttling (0 with block) is Enterprise only:
  https://developers.cloudflare.com/waf/rate-limiting-rules/parameters/#for-duration;
- Polish (and WebP) on Pro and up: https://developers.cloudflare.com/images/polish/;
- Cloudflare Managed and OWASP Core rulesets on Pro and up (Free zones get the
  Free Managed Ruleset, deployed by Cloudflare):
  https://developers.cloudflare.com/waf/managed-rules/#availability;
- HTTP DDoS overrides: one rule with expression `true` unless the zone has
  Advanced DDoS Protection (Enterprise):
  https://developers.cloudflare.com/ddos-protection/managed-rulesets/http/http-overrides/.
"""

from __future__ import annotations

from typing import Any, Literal

from components import cloudflare_expressions as expressions
from components.cloudflare_types import (
    COLO,
    DdosRule,
    ManagedRule,
    RateLimitRule,
    RulesetConfig,
)

Plan = Literal["free", "pro", "business", "enterprise"]
PLANS: tuple[Plan, ...] = ("free", "pro", "business", "enterprise")

# Rate limiting, per plan (the documentation's availability table).
RATE_RULES_MAX = {"free": 1, "pro": 2, "business": 5, "enterprise": 100}
RATE_PERIOD_MAX = {"free": 10, "pro": 60, "business": 600, "enterprise": 65535}
RATE_TIMEOUT_MAX = {"free": 10, "pro": 3600, "business": 86400, "enterprise": 86400}
RATE_FIELDS: dict[str, frozenset[str]] = {
    "free": frozenset({"http.request.uri.path", "cf.bot_management.verified_bot"}),
    "pro": frozenset(
        {
            "http.host",
            "http.request.uri",
            "http.request.uri.path",
            "http.request.full_uri",
            "http.request.uri.query",
            "cf.bot_management.verified_bot",
        }
    ),
}
RATE_FIELDS["business"] = RATE_FIELDS["pro"] | {"http.request.method", "ip.src", "http.user_agent"}
RATE_CHARACTERISTICS = {
    "free": frozenset({"ip.src"}),
    "pro": frozenset({"ip.src"}),
    "business": frozenset({"ip.src", "cf.unique_visitor_id"}),
}
CHALLENGES = ("managed_challenge", "challenge", "js_challenge")

Problem = tuple[tuple[str | int, ...], str]


def rank(plan: str) -> int:
    return PLANS.index(plan)


def lowest(plan_ok: Any) -> str:
    """The lowest plan for which `plan_ok(plan)` holds."""
    return next((p for p in PLANS if plan_ok(p)), "enterprise")


def needs(what: str, plan: str, current: str, fix: str) -> str:
    return (
        f"{what} needs the {plan.capitalize()} plan or higher, and edge.plan is {current}: "
        f"{fix}, or set edge.plan to the zone's plan if it is higher"
    )


def settings_problems(settings: Any, plan: str) -> list[Problem]:
    if rank(plan) >= rank("pro"):
        return []
    found: list[Problem] = []
    if settings.polish not in (None, "off"):
        found.append((("settings", "polish"), needs("Polish", "pro", plan, "set polish: null")))
    if settings.webp:
        what = "WebP (part of Polish)"
        found.append((("settings", "webp"), needs(what, "pro", plan, "set webp: null")))
    return found


def rate_rule_problems(rule: RateLimitRule, plan: str) -> list[tuple[str, str]]:
    """(field, message) for one rate-limiting rule."""
    found: list[tuple[str, str]] = []
    if rule.period > RATE_PERIOD_MAX[plan]:
        need = lowest(lambda p: RATE_PERIOD_MAX[p] >= rule.period)
        found.append(("period", needs(f"a {rule.period} s period", need, plan, "lower period")))
    found += _timeout_problems(rule, plan)
    if plan in RATE_FIELDS:
        extra = sorted(set(expressions.fields_used(rule.expression)) - RATE_FIELDS[plan])
        if extra:
            need = lowest(lambda p: p == "enterprise" or not set(extra) - RATE_FIELDS[p])
            what = f"matching on {', '.join(extra)} in a rate-limiting rule"
            found.append(("expression", needs(what, need, plan, "match on other fields")))
    if plan in RATE_CHARACTERISTICS:
        extra = sorted(set(rule.characteristics) - {COLO} - RATE_CHARACTERISTICS[plan])
        if extra:
            need = lowest(lambda p: p == "enterprise" or not set(extra) - RATE_CHARACTERISTICS[p])
            what = f"counting by {', '.join(extra)}"
            found.append(("characteristics", needs(what, need, plan, "count by ip.src")))
    if rule.counting_expression is not None and rank(plan) < rank("business"):
        what = "a custom counting expression"
        found.append(("countingExpression", needs(what, "business", plan, "remove it")))
    return found


def _timeout_problems(rule: RateLimitRule, plan: str) -> list[tuple[str, str]]:
    timeout, enterprise = rule.mitigation_timeout, plan == "enterprise"
    if rule.action in CHALLENGES and timeout != 0 and not enterprise:
        return [
            (
                "mitigationTimeout",
                f"with action {rule.action} Cloudflare requires mitigationTimeout: 0 below the "
                "Enterprise plan (a challenge throttles instead of blocking for a duration): "
                "set mitigationTimeout: 0",
            )
        ]
    if timeout == 0 and rule.action not in CHALLENGES and not enterprise:
        what = f"mitigationTimeout: 0 with action {rule.action} (throttling)"
        return [("mitigationTimeout", needs(what, "enterprise", plan, "use 10 or more"))]
    if timeout > RATE_TIMEOUT_MAX[plan]:
        need = lowest(lambda p: RATE_TIMEOUT_MAX[p] >= timeout)
        what = f"a {timeout} s mitigation timeout"
        return [("mitigationTimeout", needs(what, need, plan, "lower mitigationTimeout"))]
    return []


def ruleset_problems(ruleset: RulesetConfig, plan: str, advanced_ddos: bool) -> list[Problem]:
    """Problems of one phase's rules, located under `rules.<j>.<field>`."""
    found: list[Problem] = []
    rules: list[Any] = list(ruleset.rules)
    if ruleset.phase == "http_ratelimit" and len(rules) > RATE_RULES_MAX[plan]:
        need = lowest(lambda p: RATE_RULES_MAX[p] >= len(rules))
        what = f"{len(rules)} rate-limiting rules (this plan allows {RATE_RULES_MAX[plan]})"
        found.append((("rules",), needs(what, need, plan, "remove rules")))
    for j, rule in enumerate(rules):
        if isinstance(rule, RateLimitRule):
            found += [(("rules", j, f), m) for f, m in rate_rule_problems(rule, plan)]
        elif isinstance(rule, ManagedRule) and rank(plan) < rank("pro"):
            what = f"the {rule.ruleset} managed ruleset"
            fix = "remove the rule (Free zones run Cloudflare's Free Managed Ruleset already)"
            found.append((("rules", j, "ruleset"), needs(what, "pro", plan, fix)))
    if ruleset.phase == "ddos_l7" and not (advanced_ddos and plan == "enterprise"):
        found += ddos_problems(rules)
    return found


def ddos_problems(rules: list[DdosRule]) -> list[Problem]:
    """Without Advanced DDoS Protection a zone gets one override rule, `true` only."""
    found: list[Problem] = []
    if len(rules) > 1:
        found.append(
            (
                ("rules",),
                f"{len(rules)} HTTP DDoS override rules: without Advanced DDoS Protection "
                "(Enterprise) a zone allows one; merge them, or set edge.advancedDdos: true "
                "with edge.plan: enterprise",
            )
        )
    for j, rule in enumerate(rules):
        if rule.expression != "true":
            found.append(
                (
                    ("rules", j, "expression"),
                    "an HTTP DDoS override must apply to every request (expression: true) "
                    "without Advanced DDoS Protection: remove the expression, or set "
                    "edge.advancedDdos: true with edge.plan: enterprise",
                )
            )
    return found


def plan_problems(edge: Any) -> list[Problem]:
    """Every entitlement problem of an edge config, located under `edge`."""
    plan = edge.plan
    found = settings_problems(edge.settings, plan)
    for i, ruleset in enumerate(edge.rulesets):
        prefix: tuple[str | int, ...] = ("rulesets", i, ruleset.phase)
        found += [
            (prefix + loc, m) for loc, m in ruleset_problems(ruleset, plan, edge.advanced_ddos)
        ]
    return found
