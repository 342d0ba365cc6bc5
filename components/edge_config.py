"""Typed config for the Cloudflare edge (`infra:edge`).

Everything here is checked before any Cloudflare API call: a DNS conflict, a
TTL Cloudflare refuses or a typo in a rule expression would otherwise surface
half-way through `infra up`, after part of the edge was already changed.

Values are also normalised (FQDN record names, canonical IPv6, lower-case
hosts, trimmed expressions, sorted lists where order carries no meaning) so the
program sends the same inputs every time and a second preview shows no diff.

The record, rule and ruleset models that are also the CloudflareEdge
component's typed args live in `components.cloudflare_types`; this module holds
the stack-config models around them (`EdgeConfig`, `DnsRecordConfig`,
`ZoneSettingsConfig`) and turns DNS records into the component's `EdgeRecord`s.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import Counter
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from components import edge_names
from components.cloudflare_types import (
    SLUG,
    AccountId,
    EdgeRecord,
    RecordId,
    RulesetConfig,
    ZoneId,
    lower_choice,
)
from components.config_base import ComponentConfig, Exports, Model, field_error
from components.edge_plans import Plan, plan_problems, rank

LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")

RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "CAA", "NS")
PROXIABLE = ("A", "AAAA", "CNAME")
HOST_CONTENT = ("CNAME", "MX", "NS")
CAA_TAGS = ("issue", "issuewild", "iodef")
TXT_MAX = 2048
TTL_AUTO = 1
TTL_MIN, TTL_MAX = 60, 86400


def check_hostname(value: str, what: str = "host name") -> str:
    """A lower-case host name without the trailing dot (Cloudflare stores it so)."""
    host = value.strip().lower().rstrip(".")
    labels = host.split(".")
    if not host or len(host) > 253 or not all(LABEL.match(label) for label in labels):
        raise ValueError(f"'{value}' is not a valid {what} (letters, digits, '-', dots)")
    return host


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
    import_id: RecordId = None

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
    return txt_content(text)


TXT_STRING_MAX = 255  # one DNS character-string (RFC 1035 3.3)


def txt_content(text: str) -> str:
    """TXT content in quotes, as Cloudflare's dashboard asks for it ("TXT content
    should be wrapped in quotation marks") and shows it: unquoted content draws
    a warning and can come back quoted, a diff on every preview. Content already
    quoted is kept; longer text is split into 255-character strings."""
    if text.startswith('"') and text.endswith('"') and len(text) > 1:
        return text
    chunks = [text[i : i + TXT_STRING_MAX] for i in range(0, len(text), TXT_STRING_MAX)]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


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


def fqdn(name: str, zone: str) -> str:
    """Cloudflare stores full names; sending short ones ('www', '@') diffs forever."""
    if name == "@":
        return zone
    if name == zone or name.endswith("." + zone):
        return name
    return f"{name}.{zone}"


def record_label(name: str, zone: str) -> str:
    relative = edge_names.APEX if name == zone else name.removesuffix("." + zone)
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
        suffix = ""
        if counts[(record.type, name)] > 1:
            suffix = record.key or hashlib.sha1(record.content.encode()).hexdigest()[:8]
        elif record.key:
            suffix = record.key
        proxied = bool(record.proxied) if record.type in PROXIABLE else None
        out.append(
            EdgeRecord(
                key=edge_names.record_key(record.type, record_label(name, zone), suffix),
                name=name,
                type=record.type,
                content=record.content,
                ttl=record.ttl,
                proxied=proxied,
                priority=record.priority,
                comment=record.comment.strip() if record.comment else None,
                import_id=record.import_id,
                label=record_label(name, zone),
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
        for k, n in keys.items()
        if n > 1
    ]
    return problems


# ------------------------------------------------------------------------ settings


OnOff = bool | None


class ZoneSettingsConfig(Model):
    """Zone settings with secure defaults; `null` leaves a setting unmanaged.

    Field names are Cloudflare's setting ids (camelCase only in the YAML).
    `polish` and `webp` need the Pro plan: unset, they default to `lossless`
    and `true` on Pro and up and stay unmanaged on Free (`EdgeConfig`).
    """

    ssl: Literal["off", "flexible", "full", "strict"] | None = "strict"
    min_tls_version: Literal["1.0", "1.1", "1.2", "1.3"] | None = "1.2"
    always_use_https: OnOff = True
    automatic_https_rewrites: OnOff = True
    http3: OnOff = True
    polish: Literal["off", "lossless", "lossy"] | None = None
    webp: OnOff = None

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
        return lower_choice(value)

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


# ---------------------------------------------------------------------------- root


class EdgeConfig(ComponentConfig):
    """The Cloudflare edge of one zone. Disabled by default (local stacks)."""

    enabled: bool = False
    # The zone's Cloudflare plan: what it allows is checked before any API call.
    # Default free, the plan every zone has at least: a config that needs more
    # says so, naming the plan.
    plan: Plan = "free"
    advanced_ddos: bool = False  # Advanced DDoS Protection (Enterprise add-on)
    zone: str | None = None
    zone_id: ZoneId = None
    account_id: AccountId = None
    records: list[DnsRecordConfig] = []
    settings: ZoneSettingsConfig = ZoneSettingsConfig()
    rulesets: list[RulesetConfig] = []

    @field_validator("plan", mode="before")
    @classmethod
    def _plan_lower(cls, value: Any) -> Any:
        return lower_choice(value)

    @model_validator(mode="after")
    def _plan_defaults(self) -> EdgeConfig:
        """Polish and WebP (Pro and up) are on by default where the plan has them."""
        unset = {"polish", "webp"} - self.settings.model_fields_set
        if rank(self.plan) >= rank("pro") and unset:
            # webp stays unmanaged when polish is explicitly off (WebP is part of Polish)
            webp = True if self.settings.polish != "off" else None
            defaults = {"polish": "lossless", "webp": webp}
            settings = self.settings.model_copy(update={k: defaults[k] for k in unset})
            object.__setattr__(self, "settings", settings)
        return self

    @model_validator(mode="after")
    def _plan_allows(self) -> EdgeConfig:
        """Everything the plan does not include, at its field, with the plan needed."""
        found = plan_problems(self) if self.enabled else []
        if found:
            raise ValidationError.from_exception_data(
                "EdgeConfig",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("value_error", message), loc=loc, input=None
                    )
                    for loc, message in found
                ],
            )
        return self

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        zone = check_hostname(value, "zone name")
        if "." not in zone:
            raise ValueError(f"'{value}' is not a zone: use the domain, e.g. example.com")
        return zone

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
                {**item, "phase": lower_choice(item["phase"])}
                if isinstance(item, dict) and "phase" in item
                else item
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


class EdgeExports(Exports):
    """Stack outputs of the Cloudflare edge (components/cloudflare_edge.py)."""

    prefix: ClassVar[str] = "edge_"

    edge_zone_id: str
    edge_records: list[dict[str, Any]]
    edge_ruleset_ids: dict[str, str]
