"""Typed args of `components.cloudflare_edge`: records, rules and rulesets.

These pydantic models are both what the stack config (`components.edge_config`)
parses from `infra:edge` and what the CloudflareEdge component takes (it
dispatches on their classes). They live here, in the components layer, so the
component never imports from `stacks/`.

Everything is checked before any Cloudflare API call, and values are
normalised (trimmed expressions, sorted lists where order carries no meaning)
so the program sends the same inputs every time and a second preview shows no
diff.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import cloudflare_expressions as expressions
from components.config_base import Model, field_error

HEX32 = re.compile(r"^[0-9a-f]{32}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

YEAR = 31_536_000

# Cloudflare's managed rulesets (same ids in every account).
CLOUDFLARE_MANAGED_RULESET = "efb7b8c949ac4650a09736fc376e9aee"
OWASP_RULESET = "4814384a9e5d4991b9815dcfc25d2f1f"
OWASP_SCORE_RULE = "6179ae15870a4bb7b2d480d4843b323c"  # last rule: acts on the threat score
HTTP_DDOS_RULESET = "4d21379b4f9f4bb088e0729962c8b3cf"
OWASP_THRESHOLDS = {"low": 60, "medium": 40, "high": 25}  # sensitivity -> score threshold

RATE_PERIODS = (10, 60, 120, 300, 600, 3600)
MITIGATION_TIMEOUTS = (0, 10, 60, 120, 300, 600, 3600, 86400)
RATE_CHARACTERISTICS = frozenset(
    {
        "ip.src",
        "ip.src.asnum",
        "ip.src.country",
        "http.host",
        "http.request.uri.path",
        "cf.unique_visitor_id",
        "cf.bot_management.ja3_hash",
        "cf.bot_management.ja4",
    }
)
KEYED_CHARACTERISTIC = re.compile(
    r'^(http\.request\.headers|http\.request\.cookies|http\.request\.uri\.args)\["[^"]+"\]$'
)
COLO = "cf.colo.id"  # Cloudflare requires it in every rate-limit rule's characteristics

BlockingAction = Literal["block", "managed_challenge", "challenge", "js_challenge", "log"]
SkipPhase = Literal["http_ratelimit", "http_request_firewall_managed", "http_request_sbfm"]
SkipProduct = Literal["bic", "hot", "rateLimit", "securityLevel", "uaBlock", "waf", "zoneLockdown"]


def check_hex_id(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not HEX32.match(value):
        raise ValueError(
            f"'{value}' is not a Cloudflare {what} id (32 hex characters; "
            "docs/cloudflare.md, 'Adopting', shows how to find it)"
        )
    return value


def quoted_id(value: Any) -> Any:
    """YAML reads an all-digit id as a number (dropping leading zeros): refuse it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} was read as a number: quote the id in the stack file")
    return value


def _hex_check(what: str) -> AfterValidator:
    return AfterValidator(partial(check_hex_id, what=what))


# Optional 32-hex Cloudflare ids: quoted in YAML, checked, lower-cased.
RulesetId = Annotated[str | None, BeforeValidator(quoted_id), _hex_check("ruleset")]
RecordId = Annotated[str | None, BeforeValidator(quoted_id), _hex_check("DNS record")]
ZoneId = Annotated[str | None, BeforeValidator(quoted_id), _hex_check("zone")]
AccountId = Annotated[str | None, BeforeValidator(quoted_id), _hex_check("account")]


def lower_choice(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# ------------------------------------------------------------------------- records


@dataclass(frozen=True)
class EdgeRecord:
    """A record as sent to Cloudflare: FQDN name, canonical content, defaults filled."""

    key: str
    name: str
    type: str
    content: str
    ttl: int
    proxied: bool | None
    priority: int | None
    comment: str | None
    import_id: str | None
    label: str | None = None  # the name part of `key` (`www`, `apex`), without suffix

    @property
    def caa(self) -> dict[str, Any] | None:
        if self.type != "CAA":
            return None
        flags, tag, value = self.content.split(" ", 2)
        return {"flags": int(flags), "tag": tag, "value": value.strip('"')}


# --------------------------------------------------------------------------- rules


class RuleBase(Model):
    """Fields every rule has. `name` becomes the rule's `ref` unless `ref` is set.

    A ref derived from the name (not the position) lets rules be reordered or
    inserted without Cloudflare seeing every later rule as deleted and re-created.
    """

    name: str
    ref: str | None = None
    description: str | None = None
    expression: str = "true"
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(
                f"'{value}' is not a rule name: use a-z, 0-9, '-' and '_' (max 64); "
                "it becomes the rule's stable ref"
            )
        return value

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9_-]{1,64}$", value):
            raise ValueError(f"'{value}' is not a ref: use letters, digits, '-' and '_'")
        return value

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        return expressions.check(value)

    @field_validator("action", mode="before", check_fields=False)
    @classmethod
    def _lower_action(cls, value: Any) -> Any:
        return lower_choice(value)  # Cloudflare's actions are lower case; accept `Block`

    @property
    def rule_ref(self) -> str:
        return self.ref or self.name


class QueryStringKey(Model):
    """Query string in the cache key: `include` or `exclude` a list, or '*' for all."""

    include: list[str] | Literal["*"] | None = None
    exclude: list[str] | Literal["*"] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> QueryStringKey:
        if (self.include is None) == (self.exclude is None):
            raise field_error("include", "set exactly one of include or exclude (a list or '*')")
        return self


class CacheKeyConfig(Model):
    ignore_query_strings_order: bool = False
    cache_deception_armor: bool = False
    cache_by_device_type: bool = False
    query_string: QueryStringKey | None = None
    headers: list[str] = []
    cookies: list[str] = []

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: list[str]) -> list[str]:
        return sorted({h.strip().lower() for h in value})  # header names are case-insensitive

    @field_validator("cookies")
    @classmethod
    def _cookies(cls, value: list[str]) -> list[str]:
        return sorted({c.strip() for c in value})


class CacheRule(RuleBase):
    """`cache: true` caches (long edge TTLs for versioned assets); `false` bypasses."""

    expression: str
    cache: bool = True
    edge_ttl: int | None = Field(default=None, ge=1, le=YEAR)
    browser_ttl: int | None = Field(default=None, ge=1, le=YEAR)
    cache_key: CacheKeyConfig | None = None
    serve_stale: bool | None = None

    @model_validator(mode="after")
    def _bypass_has_no_ttl(self) -> CacheRule:
        if not self.cache:
            for field in ("edge_ttl", "browser_ttl", "cache_key", "serve_stale"):
                if getattr(self, field) is not None:
                    raise field_error(
                        to_camel(field), "only applies when cache: true (this rule bypasses)"
                    )
        return self


class SkipConfig(Model):
    remaining_custom_rules: bool = False
    phases: list[SkipPhase] = []
    products: list[SkipProduct] = []

    @field_validator("phases", "products")
    @classmethod
    def _sorted(cls, value: list[str]) -> list[str]:
        return sorted(set(value))  # a set in Cloudflare's eyes: order carries no meaning

    @model_validator(mode="after")
    def _something(self) -> SkipConfig:
        if not (self.remaining_custom_rules or self.phases or self.products):
            raise field_error(
                "phases",
                "a skip rule must skip something: remainingCustomRules, phases or products",
            )
        return self


class FirewallRule(RuleBase):
    expression: str
    action: Literal["block", "managed_challenge", "challenge", "js_challenge", "log", "skip"]
    skip: SkipConfig | None = None

    @model_validator(mode="after")
    def _skip(self) -> FirewallRule:
        if self.action == "skip" and self.skip is None:
            raise field_error(
                "skip", "action skip needs `skip:` (remainingCustomRules, phases, products)"
            )
        if self.action != "skip" and self.skip is not None:
            raise field_error("skip", f"only skip rules take `skip:` (this one is {self.action})")
        return self


class ManagedRule(RuleBase):
    """Deploys a Cloudflare managed ruleset; OWASP takes paranoia and sensitivity."""

    ruleset: Literal["cloudflare", "owasp"]
    action: BlockingAction | None = None
    paranoia_level: int | None = Field(default=None, ge=1, le=4)
    sensitivity: Literal["low", "medium", "high"] | None = None

    @field_validator("ruleset", "sensitivity", mode="before")
    @classmethod
    def _lower_choices(cls, value: Any) -> Any:
        return lower_choice(value)

    @model_validator(mode="after")
    def _owasp_only(self) -> ManagedRule:
        if self.ruleset != "owasp":
            for field in ("paranoia_level", "sensitivity"):
                if getattr(self, field) is not None:
                    raise field_error(to_camel(field), "only the owasp ruleset takes it: remove it")
        return self

    @property
    def ruleset_id(self) -> str:
        return OWASP_RULESET if self.ruleset == "owasp" else CLOUDFLARE_MANAGED_RULESET


class RateLimitRule(RuleBase):
    expression: str
    action: BlockingAction = "block"
    characteristics: list[str] = Field(default=["ip.src"], validate_default=True)
    period: int = 10
    requests_per_period: int = Field(ge=1, le=1_000_000)
    mitigation_timeout: int = 10
    counting_expression: str | None = None
    requests_to_origin: bool = False

    @field_validator("characteristics")
    @classmethod
    def _characteristics(cls, value: list[str]) -> list[str]:
        unknown = [
            c
            for c in value
            if c != COLO and c not in RATE_CHARACTERISTICS and not KEYED_CHARACTERISTIC.match(c)
        ]
        if unknown:
            raise ValueError(
                f"unknown {', '.join(repr(c) for c in unknown)}: use "
                f'{", ".join(sorted(RATE_CHARACTERISTICS))} or http.request.headers["name"]'
            )
        # Order carries no meaning; cf.colo.id is mandatory, so always present.
        return sorted({*value, COLO})

    @field_validator("period")
    @classmethod
    def _period(cls, value: int) -> int:
        if value not in RATE_PERIODS:
            raise ValueError(
                f"{value} s is not a period Cloudflare accepts: use one of "
                f"{', '.join(map(str, RATE_PERIODS))} (lower plans allow only 10)"
            )
        return value

    @field_validator("mitigation_timeout")
    @classmethod
    def _timeout(cls, value: int) -> int:
        if value not in MITIGATION_TIMEOUTS:
            raise ValueError(
                f"{value} s is not a mitigation timeout Cloudflare accepts: use one of "
                f"{', '.join(map(str, MITIGATION_TIMEOUTS))} (lower plans allow only 10)"
            )
        return value

    @field_validator("counting_expression")
    @classmethod
    def _counting(cls, value: str | None) -> str | None:
        return None if value is None else expressions.check(value)


class DdosRule(RuleBase):
    """Overrides of the HTTP DDoS managed ruleset (always on; this only tunes it)."""

    sensitivity: Literal["default", "medium", "low", "eoff"] = "default"
    action: Literal["block", "managed_challenge", "challenge", "log"] | None = None

    @field_validator("sensitivity", mode="before")
    @classmethod
    def _lower_sensitivity(cls, value: Any) -> Any:
        return lower_choice(value)


# ------------------------------------------------------------------------ rulesets


def _unique_rules(rules: list[Any]) -> list[Any]:
    for attr, what in (("name", "name"), ("rule_ref", "ref")):
        seen = Counter(getattr(r, attr) for r in rules)
        dupes = sorted(k for k, n in seen.items() if n > 1)
        if dupes:
            raise ValueError(
                f"rule {what}s must be unique within a ruleset (they become stable refs): "
                f"{', '.join(dupes)} used twice"
            )
    return rules


class RulesetBase(Model):
    """The zone's entry-point ruleset of one phase (Cloudflare allows one per phase).

    `importId` adopts a ruleset created in the dashboard instead of failing with
    "exceeded maximum number of zone rulesets for phase".
    """

    name: str = "default"
    import_id: RulesetId = None

    @field_validator("rules", check_fields=False)
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        return _unique_rules(value)


class CacheRuleset(RulesetBase):
    phase: Literal["http_request_cache_settings"]
    rules: list[CacheRule] = []


class FirewallCustomRuleset(RulesetBase):
    phase: Literal["http_request_firewall_custom"]
    rules: list[FirewallRule] = []


class FirewallManagedRuleset(RulesetBase):
    phase: Literal["http_request_firewall_managed"]
    rules: list[ManagedRule] = []


class RateLimitRuleset(RulesetBase):
    phase: Literal["http_ratelimit"]
    rules: list[RateLimitRule] = []


class DdosRuleset(RulesetBase):
    phase: Literal["ddos_l7"]
    rules: list[DdosRule] = []


PHASES = (
    "http_request_cache_settings",
    "http_request_firewall_custom",
    "http_request_firewall_managed",
    "http_ratelimit",
    "ddos_l7",
)


def _phase_of(value: Any) -> str | None:
    phase = value.get("phase") if isinstance(value, dict) else getattr(value, "phase", None)
    return phase if phase in PHASES else None


RulesetConfig = Annotated[
    Annotated[CacheRuleset, Tag("http_request_cache_settings")]
    | Annotated[FirewallCustomRuleset, Tag("http_request_firewall_custom")]
    | Annotated[FirewallManagedRuleset, Tag("http_request_firewall_managed")]
    | Annotated[RateLimitRuleset, Tag("http_ratelimit")]
    | Annotated[DdosRuleset, Tag("ddos_l7")],
    Discriminator(
        _phase_of,
        custom_error_type="phase",
        custom_error_message=f"needs `phase:` set to one of {', '.join(PHASES)}",
    ),
]
