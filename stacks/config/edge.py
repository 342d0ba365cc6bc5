"""Typed config for the Cloudflare edge (`infra:edge`).

Everything here is checked before any Cloudflare API call: a DNS conflict, a
TTL Cloudflare refuses or a typo in a rule expression would otherwise surface
half-way through `infra up`, after part of the edge was already changed.

Values are also normalised (FQDN record names, canonical IPv6, lower-case
hosts, trimmed expressions, sorted lists where order carries no meaning) so the
program sends the same inputs every time and a second preview shows no diff.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from stacks.config import expressions
from stacks.config.base import Model, field_error

HEX32 = re.compile(r"^[0-9a-f]{32}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")

RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "CAA", "NS")
PROXIABLE = ("A", "AAAA", "CNAME")
HOST_CONTENT = ("CNAME", "MX", "NS")
CAA_TAGS = ("issue", "issuewild", "iodef")
TXT_MAX = 2048
TTL_AUTO = 1
TTL_MIN, TTL_MAX = 60, 86400
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
        "ip.src", "ip.src.asnum", "ip.src.country", "http.host", "http.request.uri.path",
        "cf.unique_visitor_id", "cf.bot_management.ja3_hash", "cf.bot_management.ja4",
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


def check_hostname(value: str, what: str = "host name") -> str:
    """A lower-case host name without the trailing dot (Cloudflare stores it so)."""
    host = value.strip().lower().rstrip(".")
    labels = host.split(".")
    if not host or len(host) > 253 or not all(LABEL.match(label) for label in labels):
        raise ValueError(f"'{value}' is not a valid {what} (letters, digits, '-', dots)")
    return host


def _quoted_id(value: Any) -> Any:
    """YAML reads an all-digit id as a number (dropping leading zeros): refuse it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} was read as a number: quote the id in the stack file")
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# ----------------------------------------------------------------------------- DNS


class DnsRecordConfig(Model):
    """One DNS record. `name` is relative to the zone ('www', '@') or a FQDN."""

    type: str
    name: str
    content: str
    proxied: bool | None = None
    ttl: int = TTL_AUTO
    priority: int | None = None
    comment: str | None = Field(default=None, max_length=100)
    key: str | None = None
    import_id: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in RECORD_TYPES:
                raise ValueError(
                    f"'{value}' is not supported: use one of {', '.join(RECORD_TYPES)}"
                )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        name = value.strip().lower().rstrip(".")
        if name in ("", "@"):
            return "@"
        labels = name.split(".")
        wildcard_ok = labels[0] == "*"
        if not all(LABEL.match(label) for label in labels[1 if wildcard_ok else 0 :]):
            raise ValueError(
                f"'{value}' is not a record name: use '@' for the apex, 'www', '*.app' "
                "or a FQDN inside the zone"
            )
        return name

    @field_validator("content")
    @classmethod
    def _content(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        return normalise_content(kind, value) if kind else value

    @field_validator("proxied")
    @classmethod
    def _proxied(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        kind = info.data.get("type")
        if value and kind and kind not in PROXIABLE:
            raise ValueError(
                f"{kind} records cannot be proxied (only A, AAAA and CNAME): remove proxied"
            )
        return value

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: int, info: ValidationInfo) -> int:
        if value != TTL_AUTO and not TTL_MIN <= value <= TTL_MAX:
            raise ValueError(f"{value} is out of range: use 1 (automatic) or {TTL_MIN}-{TTL_MAX}")
        if info.data.get("proxied") and value != TTL_AUTO:
            raise ValueError(
                "proxied records always use the automatic TTL: set ttl: 1 (or proxied: false)"
            )
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("type")
        if kind == "MX" and value is None:
            raise ValueError("MX records need a priority (0-65535, lower is preferred)")
        if value is not None and kind and kind != "MX":
            raise ValueError(f"{kind} records take no priority: remove it")
        if value is not None and not 0 <= value <= 65535:
            raise ValueError(f"{value} is out of range 0-65535")
        return value

    @model_validator(mode="before")
    @classmethod
    def _mx_needs_priority(cls, data: Any) -> Any:
        # A missing priority never reaches the field validator: add it explicitly.
        is_mx = isinstance(data, dict) and str(data.get("type", "")).strip().upper() == "MX"
        if is_mx and data.get("priority") is None:
            data = {**data, "priority": None}
        return data

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not SLUG.match(value):
            raise ValueError(f"'{value}' is not a key: use a-z, 0-9, '-' and '_' (max 64)")
        return value

    @field_validator("import_id", mode="before")
    @classmethod
    def _import_id_quoted(cls, value: Any) -> Any:
        return _quoted_id(value)

    @field_validator("import_id")
    @classmethod
    def _import_id(cls, value: str | None) -> str | None:
        return check_hex_id(value, "DNS record")


def normalise_content(kind: str, value: str) -> str:
    """Content in the form Cloudflare returns it, or ValueError naming the fix."""
    text = value.strip()
    if kind == "A":
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise ValueError(f"'{value}' is not an IPv4 address (A records need one)") from None
    if kind == "AAAA":
        try:
            return ipaddress.IPv6Address(text).compressed
        except ValueError:
            raise ValueError(f"'{value}' is not an IPv6 address (AAAA records need one)") from None
    if kind in HOST_CONTENT:
        return check_hostname(text, f"target host name for a {kind} record")
    if kind == "CAA":
        return caa_content(text)
    if not text:
        raise ValueError("empty: TXT records need content")
    if len(text) > TXT_MAX:
        raise ValueError(f"{len(text)} characters, more than the {TXT_MAX} Cloudflare accepts")
    return text


CAA_RE = re.compile(r'^(\d{1,3})\s+([A-Za-z]+)\s+(?:"([^"]*)"|([^"\s]+))$')


def caa_content(text: str) -> str:
    """`flags tag "value"` (zone-file form), canonicalised."""
    match = CAA_RE.match(text)
    if not match or int(match.group(1)) > 255:
        raise ValueError(
            f"'{text}' is not a CAA value: write it as in a zone file, e.g. "
            "'0 issue \"letsencrypt.org\"'"
        )
    flags, tag = int(match.group(1)), match.group(2).lower()
    target = match.group(3) if match.group(3) is not None else match.group(4)
    if tag not in CAA_TAGS:
        raise ValueError(f"CAA tag '{tag}' is not one of {', '.join(CAA_TAGS)}")
    return f'{flags} {tag} "{target}"'


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

    @property
    def caa(self) -> dict[str, Any] | None:
        if self.type != "CAA":
            return None
        flags, tag, value = self.content.split(" ", 2)
        return {"flags": int(flags), "tag": tag, "value": value.strip('"')}


def fqdn(name: str, zone: str) -> str:
    """Cloudflare stores full names; sending short ones ('www', '@') diffs forever."""
    if name == "@":
        return zone
    if name == zone or name.endswith("." + zone):
        return name
    return f"{name}.{zone}"


def record_label(name: str, zone: str) -> str:
    relative = "apex" if name == zone else name.removesuffix("." + zone)
    return relative.replace("*", "wildcard").replace(".", "-")


def normalise_records(records: list[DnsRecordConfig], zone: str) -> list[EdgeRecord]:
    """Records with FQDN names and stable keys (resource names) derived from identity.

    The key is `<type>-<name>`, so editing a record's content updates it in
    place. Several records sharing type and name (round-robin A records) are
    told apart by their `key:` or, failing that, a hash of their content.
    """
    names = [fqdn(r.name, zone) for r in records]
    counts = Counter((r.type, n) for r, n in zip(records, names, strict=True))
    out = []
    for record, name in zip(records, names, strict=True):
        base = f"{record.type.lower()}-{record_label(name, zone)}"
        suffix = ""
        if counts[(record.type, name)] > 1:
            suffix = record.key or hashlib.sha1(record.content.encode()).hexdigest()[:8]
        elif record.key:
            suffix = record.key
        proxied = bool(record.proxied) if record.type in PROXIABLE else None
        out.append(
            EdgeRecord(
                key=f"{base}-{suffix}" if suffix else base,
                name=name,
                type=record.type,
                content=record.content,
                ttl=record.ttl,
                proxied=proxied,
                priority=record.priority,
                comment=record.comment.strip() if record.comment else None,
                import_id=record.import_id,
            )
        )
    return out


def record_conflicts(records: list[EdgeRecord]) -> list[str]:
    """DNS conflicts Cloudflare would refuse mid-apply, as `records.<i>: ...` messages."""
    problems = []
    first_seen: dict[tuple[Any, ...], int] = {}
    by_name: dict[str, list[int]] = {}
    unique: list[EdgeRecord] = []
    for i, rec in enumerate(records):
        identity = (rec.name, rec.type, rec.content, rec.priority)
        if identity in first_seen:
            problems.append(
                f"records.{i} duplicates records.{first_seen[identity]} "
                f"({rec.type} {rec.name} {rec.content}): remove one"
            )
        else:
            unique.append(rec)
        first_seen.setdefault(identity, i)
        by_name.setdefault(rec.name, []).append(i)
    for name, indexes in by_name.items():
        cnames = [i for i in indexes if records[i].type == "CNAME"]
        if cnames and len(indexes) > 1:
            others = ", ".join(
                f"records.{i} ({records[i].type})" for i in indexes if i != cnames[0]
            )
            problems.append(
                f"records.{cnames[0]} is a CNAME for {name} beside {others}: a CNAME must "
                "be the only record at its name (remove the others or use another name)"
            )
    keys = Counter(r.key for r in unique)
    problems += [
        f"two records share the key '{k}': give them different `key:` values"
        for k, n in keys.items() if n > 1
    ]
    return problems


# ------------------------------------------------------------------------ settings


OnOff = bool | None


class ZoneSettingsConfig(Model):
    """Zone settings with secure defaults; `null` leaves a setting unmanaged.

    Field names are Cloudflare's setting ids (camelCase only in the YAML).
    """

    ssl: Literal["off", "flexible", "full", "strict"] | None = "strict"
    min_tls_version: Literal["1.0", "1.1", "1.2", "1.3"] | None = "1.2"
    always_use_https: OnOff = True
    automatic_https_rewrites: OnOff = True
    http3: OnOff = True
    polish: Literal["off", "lossless", "lossy"] | None = "lossless"
    webp: OnOff = True

    @field_validator("min_tls_version", mode="before")
    @classmethod
    def _tls(cls, value: Any) -> Any:
        # YAML reads `1.2` as a float.
        if isinstance(value, float | int) and not isinstance(value, bool):
            return f"{value:.1f}"
        return value

    @field_validator("ssl", "polish", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return _lower(value)

    @model_validator(mode="after")
    def _webp_needs_polish(self) -> ZoneSettingsConfig:
        if self.webp and self.polish == "off":
            raise field_error(
                "webp",
                "WebP conversion is part of Polish: set edge.settings.polish to lossless "
                "or lossy, or webp: false",
            )
        return self

    def values(self) -> dict[str, str]:
        """setting_id -> value, in Cloudflare's vocabulary ("on"/"off")."""
        out: dict[str, str] = {}
        for field, value in self.model_dump().items():
            if value is None:
                continue
            out[field] = ("on" if value else "off") if isinstance(value, bool) else value
        return dict(sorted(out.items()))


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
        return _lower(value)  # Cloudflare's actions are lower case; accept `Block`

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
        return _lower(value)

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
            c for c in value
            if c != COLO and c not in RATE_CHARACTERISTICS and not KEYED_CHARACTERISTIC.match(c)
        ]
        if unknown:
            raise ValueError(
                f"unknown {', '.join(repr(c) for c in unknown)}: use "
                f"{', '.join(sorted(RATE_CHARACTERISTICS))} or http.request.headers[\"name\"]"
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
        return _lower(value)


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
    import_id: str | None = None

    @field_validator("import_id", mode="before")
    @classmethod
    def _import_id_quoted(cls, value: Any) -> Any:
        return _quoted_id(value)

    @field_validator("import_id")
    @classmethod
    def _import_id(cls, value: str | None) -> str | None:
        return check_hex_id(value, "ruleset")

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


# ---------------------------------------------------------------------------- root


class EdgeConfig(Model):
    """The Cloudflare edge of one zone. Disabled by default (local stacks)."""

    enabled: bool = False
    zone: str | None = None
    zone_id: str | None = None
    account_id: str | None = None
    records: list[DnsRecordConfig] = []
    settings: ZoneSettingsConfig = ZoneSettingsConfig()
    rulesets: list[RulesetConfig] = []

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        zone = check_hostname(value, "zone name")
        if "." not in zone:
            raise ValueError(f"'{value}' is not a zone: use the domain, e.g. example.com")
        return zone

    @field_validator("zone_id", "account_id", mode="before")
    @classmethod
    def _ids_quoted(cls, value: Any) -> Any:
        return _quoted_id(value)

    @field_validator("zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        return check_hex_id(value, "zone")

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, value: str | None) -> str | None:
        return check_hex_id(value, "account")

    @field_validator("records")
    @classmethod
    def _records(cls, value: list[DnsRecordConfig], info: ValidationInfo) -> list[DnsRecordConfig]:
        zone = info.data.get("zone")
        if value and zone:
            found = record_conflicts(normalise_records(value, zone))
            if found:
                raise ValueError("; ".join(found))
        return value

    @field_validator("rulesets", mode="before")
    @classmethod
    def _phase_lower(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [
                {**item, "phase": _lower(item["phase"])}
                if isinstance(item, dict) and "phase" in item else item
                for item in value
            ]
        return value

    @field_validator("rulesets")
    @classmethod
    def _one_per_phase(cls, value: list[Any]) -> list[Any]:
        phases = Counter(r.phase for r in value)
        dupes = [p for p, n in phases.items() if n > 1]
        if dupes:
            raise ValueError(
                f"more than one ruleset for phase {', '.join(dupes)}: a zone has one "
                "entry-point ruleset per phase, so merge their rules into one entry"
            )
        return value

    @model_validator(mode="after")
    def _zone_known(self) -> EdgeConfig:
        if (self.enabled or self.records) and self.zone is None:
            raise field_error("zone", "required: the zone's domain, e.g. example.com")
        if self.enabled and not (self.zone_id or self.account_id):
            raise field_error(
                "zoneId",
                "set edge.zoneId (32 hex, dashboard > Overview > API) or edge.accountId "
                "to look the zone up by name",
            )
        if self.zone_id is None and self.import_ids():
            raise field_error(
                "zoneId",
                "importId needs the literal zone id (a lookup by name resolves too late "
                "for an import): set edge.zoneId",
            )
        return self

    def import_ids(self) -> list[str]:
        ids = [r.import_id for r in self.records] + [r.import_id for r in self.rulesets]
        return [i for i in ids if i]

    def edge_records(self) -> list[EdgeRecord]:
        return normalise_records(self.records, self.zone) if self.zone else []
