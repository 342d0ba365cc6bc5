"""`infra:edge` config: every rule refused with its field and fix, values normalised."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.cloudflare_types import (
    COLO,
    MITIGATION_TIMEOUTS,
    PHASES,
    RATE_PERIODS,
    FirewallRule,
    RateLimitRule,
)
from components.edge_config import RECORD_TYPES, EdgeConfig
from stacks.config import ConfigInvalid, parse_config, read_stack_file

REPO = Path(__file__).resolve().parents[2]
ZONE_ID = "0123456789abcdef0123456789abcdef"
ACCOUNT_ID = "fedcba9876543210fedcba9876543210"


def edge(**overrides: Any) -> dict[str, Any]:
    """An enabled edge on the Enterprise plan (every value some plan accepts);
    plan limits have their own tests below."""
    return {
        "edge": {
            "enabled": True,
            "plan": "enterprise",
            "zone": "example.com",
            "zoneId": ZONE_ID,
            **overrides,
        }
    }


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        parse_config(raw)
    return {p.path: p.message for p in info.value.problems}


def record(name: str, type_: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "content": content, **extra}


def ruleset(phase: str, *rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"phase": phase, "rules": list(rules), **extra}


def rate(**extra: Any) -> dict[str, Any]:
    return {
        "name": "login",
        "expression": 'http.request.uri.path eq "/login"',
        "requestsPerPeriod": 5,
        **extra,
    }


# ------------------------------------------------------------------ defaults


def test_edge_is_disabled_by_default_and_not_a_component() -> None:
    config = parse_config({})
    assert config.edge.enabled is False
    assert "edge" not in config.enabled_components()


def test_enabled_edge_is_a_component() -> None:
    assert "edge" in parse_config(edge()).enabled_components()


def test_secure_zone_settings_by_default() -> None:
    assert parse_config(edge()).edge.settings.values() == {
        "always_use_https": "on",
        "automatic_https_rewrites": "on",
        "http3": "on",
        "min_tls_version": "1.2",
        "polish": "lossless",
        "ssl": "strict",
        "webp": "on",
    }


def test_settings_are_overridable_and_null_leaves_them_unmanaged() -> None:
    config = parse_config(
        edge(
            settings={
                "ssl": "Full",
                "minTlsVersion": 1.3,
                "http3": False,
                "polish": None,
                "webp": None,
            }
        )
    )
    values = config.edge.settings.values()
    assert values["ssl"] == "full" and values["min_tls_version"] == "1.3"
    assert values["http3"] == "off"
    assert "polish" not in values and "webp" not in values


# ----------------------------------------------------------------- templates


def test_production_template_validates_with_a_complete_edge() -> None:
    config = parse_config(read_stack_file(REPO / "templates" / "production.yaml"))
    assert config.edge.enabled and "edge" in config.enabled_components()
    assert config.edge.zone_id and len(config.edge.zone_id) == 32
    assert {r.type for r in config.edge.records} == {"A", "AAAA", "CNAME", "MX", "TXT", "CAA"}
    assert sorted(r.phase for r in config.edge.rulesets) == sorted(PHASES)


# stacks/Pulumi.local.yaml is git-ignored, created from templates/local.yaml on first use.
@pytest.mark.parametrize("path", ["templates/local.yaml"])
def test_local_stacks_have_the_edge_disabled(path: str) -> None:
    raw = read_stack_file(REPO / path)
    assert raw["edge"] == {"enabled": False}
    assert "edge" not in parse_config(raw).enabled_components()


# ------------------------------------------------------------- normalisation


def test_records_are_normalised_to_what_cloudflare_stores() -> None:
    config = parse_config(
        edge(
            zone="Example.COM.",
            records=[
                record("@", "a", " 203.0.113.10 ", proxied=True),
                record("WWW", "CNAME", "Example.com.", proxied=True),
                record("v6.example.com.", "aaaa", "2001:DB8:0:0:0:0:0:10"),
                record("@", "MX", "Mail.Example.com", priority=10, ttl=3600),
                record("@", "CAA", '0 ISSUE "letsencrypt.org"'),
                record("_dmarc", "TXT", "  v=DMARC1; p=reject  "),
            ],
        )
    )
    recs = {(r.type, r.name): r for r in config.edge.edge_records()}
    assert set(recs) == {
        ("A", "example.com"),
        ("CNAME", "www.example.com"),
        ("AAAA", "v6.example.com"),
        ("MX", "example.com"),
        ("CAA", "example.com"),
        ("TXT", "_dmarc.example.com"),
    }
    assert recs[("A", "example.com")].content == "203.0.113.10"
    assert recs[("CNAME", "www.example.com")].content == "example.com"
    assert recs[("AAAA", "v6.example.com")].content == "2001:db8::10"
    assert recs[("MX", "example.com")].content == "mail.example.com"
    assert recs[("CAA", "example.com")].caa == {
        "flags": 0,
        "tag": "issue",
        "value": "letsencrypt.org",
    }
    assert recs[("TXT", "_dmarc.example.com")].content == '"v=DMARC1; p=reject"'
    # proxied is explicit for proxiable types (false by default), absent for the rest
    assert recs[("AAAA", "v6.example.com")].proxied is False
    assert recs[("MX", "example.com")].proxied is None


@pytest.mark.parametrize(
    ("written", "canonical", "value"),
    [
        ("0 issue letsencrypt.org", '0 issue "letsencrypt.org"', "letsencrypt.org"),
        ('0 ISSUEWILD "pki.goog"', '0 issuewild "pki.goog"', "pki.goog"),
        (
            '0 issue "letsencrypt.org; validationmethods=dns-01"',
            '0 issue "letsencrypt.org; validationmethods=dns-01"',
            "letsencrypt.org; validationmethods=dns-01",
        ),
        ('0 issue ";"', '0 issue ";"', ";"),
        (
            '128 iodef "mailto:sec@example.com"',
            '128 iodef "mailto:sec@example.com"',
            "mailto:sec@example.com",
        ),
    ],
)
def test_caa_values_in_zone_file_form(written: str, canonical: str, value: str) -> None:
    rec = parse_config(edge(records=[record("@", "CAA", written)])).edge.edge_records()[0]
    assert rec.content == canonical
    assert rec.caa is not None and rec.caa["value"] == value


def test_record_keys_follow_identity_not_position() -> None:
    records = [
        record("www", "A", "192.0.2.1"),
        record("@", "A", "192.0.2.2"),
        record("*", "CNAME", "example.com"),
    ]
    forward = parse_config(edge(records=records)).edge.edge_records()
    backward = parse_config(edge(records=records[::-1])).edge.edge_records()
    assert [r.key for r in forward] == ["a-www", "a-apex", "cname-wildcard"]
    assert sorted(forward, key=lambda r: r.key) == sorted(backward, key=lambda r: r.key)


def test_round_robin_records_get_distinct_keys() -> None:
    recs = parse_config(
        edge(records=[record("@", "A", "192.0.2.1"), record("@", "A", "192.0.2.2", key="b")])
    ).edge.edge_records()
    assert recs[0].key.startswith("a-apex-") and recs[0].key != "a-apex"
    assert recs[1].key == "a-apex-b"


def test_rules_are_normalised() -> None:
    config = parse_config(
        edge(
            rulesets=[
                ruleset(
                    "HTTP_RATELIMIT",
                    rate(
                        characteristics=["ip.src", "ip.src.asnum", "ip.src"],
                        action="Managed_Challenge",
                        expression='  (http.request.uri.path   eq "/login")\n',
                    ),
                ),
                ruleset(
                    "http_request_firewall_custom",
                    {
                        "name": "s",
                        "action": "skip",
                        "expression": "ssl",
                        "skip": {"products": ["waf", "bic", "waf"], "phases": ["http_ratelimit"]},
                    },
                ),
            ]
        )
    )
    limit, skip = config.edge.rulesets[0].rules[0], config.edge.rulesets[1].rules[0]
    assert isinstance(limit, RateLimitRule) and isinstance(skip, FirewallRule)
    assert config.edge.rulesets[0].phase == "http_ratelimit"
    assert limit.characteristics == sorted(["ip.src", "ip.src.asnum", COLO])
    assert limit.action == "managed_challenge"
    assert limit.expression == '(http.request.uri.path eq "/login")'
    assert skip.skip is not None and skip.skip.products == ["bic", "waf"]


def test_zone_can_be_looked_up_by_name_with_an_account() -> None:
    config = parse_config(edge(zoneId=None, accountId=ACCOUNT_ID.upper()))
    assert config.edge.zone_id is None and config.edge.account_id == ACCOUNT_ID


# ------------------------------------------------------------- zone identity


def test_enabled_edge_needs_a_zone() -> None:
    found = problems({"edge": {"enabled": True, "zoneId": ZONE_ID}})
    assert found == {"edge.zone": "required: the zone's domain, e.g. example.com"}


def test_enabled_edge_needs_a_zone_id_or_account() -> None:
    found = problems(edge(zoneId=None))
    assert "edge.zoneId" in found and "edge.accountId" in found["edge.zoneId"]


@pytest.mark.parametrize("bad", ["123", "0123456789abcdef0123456789abcdeg", ZONE_ID + "0"])
def test_zone_id_must_be_32_hex(bad: str) -> None:
    assert "32 hex characters" in problems(edge(zoneId=bad))["edge.zoneId"]


def test_an_all_digit_id_read_as_a_number_asks_for_quotes() -> None:
    found = problems(edge(zoneId=12345678901234567890123456789012))
    assert found["edge.zoneId"].endswith("quote the id in the stack file")


def test_zone_must_be_a_domain() -> None:
    assert "not a zone" in problems(edge(zone="localhost"))["edge.zone"]
    assert "not a valid zone name" in problems(edge(zone="exa mple.com"))["edge.zone"]


def test_import_needs_the_literal_zone_id() -> None:
    found = problems(
        edge(
            zoneId=None,
            accountId=ACCOUNT_ID,
            records=[record("www", "A", "192.0.2.1", importId=ZONE_ID)],
        )
    )
    assert "importId needs the literal zone id" in found["edge.zoneId"]


def test_import_ids_must_be_cloudflare_ids() -> None:
    found = problems(
        edge(
            records=[record("www", "A", "192.0.2.1", importId="nope")],
            rulesets=[ruleset("ddos_l7", importId="also-nope")],
        )
    )
    assert "DNS record id" in found["edge.records.0.importId"]
    assert "ruleset id" in found["edge.rulesets.0.ddos_l7.importId"]


# ------------------------------------------------------------------- records


def test_cname_beside_another_record_is_refused() -> None:
    found = problems(
        edge(records=[record("www", "CNAME", "example.com"), record("www", "TXT", "x")])
    )
    assert found["edge.records"] == (
        "records.0 is a CNAME for www.example.com beside records.1 (TXT): a CNAME must be the "
        "only record at its name (remove the others or use another name)"
    )


def test_short_and_full_names_are_the_same_record() -> None:
    found = problems(
        edge(
            records=[record("www", "A", "192.0.2.1"), record("www.example.com.", "A", "192.0.2.1")]
        )
    )
    assert "records.1 duplicates records.0" in found["edge.records"]


def test_two_cnames_for_one_name_are_refused() -> None:
    found = problems(
        edge(records=[record("a", "CNAME", "x.example.net"), record("a", "CNAME", "y.example.net")])
    )
    assert "must be the only record" in found["edge.records"]


def test_records_with_the_same_explicit_key_are_refused() -> None:
    found = problems(
        edge(
            records=[record("@", "A", "192.0.2.1", key="k"), record("@", "A", "192.0.2.2", key="k")]
        )
    )
    assert "share the key 'a-apex-k'" in found["edge.records"]


@pytest.mark.parametrize("ttl", [1, 60, 3600, 86400])
def test_ttl_auto_or_60_to_86400(ttl: int) -> None:
    assert parse_config(edge(records=[record("www", "A", "192.0.2.1", ttl=ttl)]))


@pytest.mark.parametrize("ttl", [0, 2, 30, 59, 86401])
def test_ttl_out_of_range(ttl: int) -> None:
    found = problems(edge(records=[record("www", "A", "192.0.2.1", ttl=ttl)]))
    assert found == {"edge.records.0.ttl": f"{ttl} is out of range: use 1 (automatic) or 60-86400"}


def test_proxied_records_use_automatic_ttl() -> None:
    found = problems(edge(records=[record("www", "A", "192.0.2.1", proxied=True, ttl=300)]))
    assert found == {
        "edge.records.0.ttl": "proxied records always use the automatic TTL: "
        "set ttl: 1 (or proxied: false)"
    }


@pytest.mark.parametrize(
    ("type_", "content", "extra"),
    [
        ("TXT", "x", {}),
        ("MX", "mx.example.com", {"priority": 1}),
        ("CAA", '0 issue "x.org"', {}),
        ("NS", "ns1.example.net", {}),
    ],
)
def test_only_a_aaaa_cname_can_be_proxied(type_: str, content: str, extra: dict[str, Any]) -> None:
    found = problems(edge(records=[record("sub", type_, content, proxied=True, **extra)]))
    assert found["edge.records.0.proxied"].startswith(f"{type_} records cannot be proxied")


@pytest.mark.parametrize(
    ("type_", "content", "message"),
    [
        ("A", "192.0.2.300", "is not an IPv4 address"),
        ("A", "2001:db8::1", "is not an IPv4 address"),
        ("AAAA", "192.0.2.1", "is not an IPv6 address"),
        ("CNAME", "not a host", "is not a valid target host name"),
        ("CNAME", "-bad-.example.com", "is not a valid target host name"),
        ("NS", "", "is not a valid target host name"),
        ("CAA", "issue letsencrypt.org", "is not a CAA value"),
        ("CAA", '256 issue "x.org"', "is not a CAA value"),
        ("CAA", '0 issuer "x.org"', "CAA tag 'issuer' is not one of"),
        ("TXT", "   ", "empty: TXT records need content"),
        ("TXT", "x" * 2049, "more than the 2048 Cloudflare accepts"),
    ],
)
def test_content_is_checked_per_type(type_: str, content: str, message: str) -> None:
    found = problems(edge(records=[record("sub", type_, content)]))
    assert message in found["edge.records.0.content"]


def test_mx_needs_a_priority_and_others_take_none() -> None:
    found = problems(
        edge(
            records=[
                record("@", "MX", "mx.example.com"),
                record("www", "A", "192.0.2.1", priority=5),
                record("@", "MX", "mx2.example.com", priority=70000),
            ]
        )
    )
    assert found == {
        "edge.records.0.priority": "MX records need a priority (0-65535, lower is preferred)",
        "edge.records.1.priority": "A records take no priority: remove it",
        "edge.records.2.priority": "70000 is out of range 0-65535",
    }


def test_unsupported_type_and_bad_names() -> None:
    found = problems(
        edge(
            records=[
                record("x", "SRV", "y"),
                record("a..b", "A", "192.0.2.1"),
                record("a.*", "A", "192.0.2.1"),
            ]
        )
    )
    assert found["edge.records.0.type"].startswith("'SRV' is not supported: use one of A, AAAA")
    assert "is not a record name" in found["edge.records.1.name"]
    assert "is not a record name" in found["edge.records.2.name"]


def test_records_need_a_zone_even_when_disabled() -> None:
    found = problems({"edge": {"records": [record("www", "A", "192.0.2.1")]}})
    assert "edge.zone" in found


# ------------------------------------------------------------------ rulesets


def test_one_ruleset_per_phase() -> None:
    found = problems(edge(rulesets=[ruleset("ddos_l7"), ruleset("DDOS_L7")]))
    assert found == {
        "edge.rulesets": "more than one ruleset for phase ddos_l7: a zone has one entry-point "
        "ruleset per phase, so merge their rules into one entry"
    }


@pytest.mark.parametrize("entry", [{"phase": "http_request_transform"}, {"rules": []}])
def test_unknown_or_missing_phase(entry: dict[str, Any]) -> None:
    found = problems(edge(rulesets=[entry]))
    assert found["edge.rulesets.0"].startswith("needs `phase:` set to one of ")


def test_rule_names_are_unique_within_a_ruleset() -> None:
    found = problems(edge(rulesets=[ruleset("http_ratelimit", rate(), rate())]))
    assert "login used twice" in found["edge.rulesets.0.http_ratelimit.rules"]


def test_rule_names_must_be_slugs() -> None:
    found = problems(edge(rulesets=[ruleset("http_ratelimit", rate(name="Log in"))]))
    assert "becomes the rule's stable ref" in found["edge.rulesets.0.http_ratelimit.rules.0.name"]


@pytest.mark.parametrize(
    ("phase", "rule"),
    [
        ("http_request_cache_settings", {"name": "c"}),
        ("http_request_firewall_custom", {"name": "f", "action": "block"}),
        ("http_ratelimit", {"name": "r", "requestsPerPeriod": 1}),
    ],
)
def test_bad_expression_in_any_phase_is_reported(phase: str, rule: dict[str, Any]) -> None:
    found = problems(edge(rulesets=[ruleset(phase, {**rule, "expression": '(http.hots eq "x"'})]))
    message = found[f"edge.rulesets.0.{phase}.rules.0.expression"]
    assert "never closed" in message and "did you mean 'http.host'?" in message


@pytest.mark.parametrize("period", RATE_PERIODS)
def test_accepted_rate_limit_periods(period: int) -> None:
    assert parse_config(edge(rulesets=[ruleset("http_ratelimit", rate(period=period))]))


@pytest.mark.parametrize("period", [0, 1, 30, 90, 86400])
def test_refused_rate_limit_periods(period: int) -> None:
    found = problems(edge(rulesets=[ruleset("http_ratelimit", rate(period=period))]))
    assert found["edge.rulesets.0.http_ratelimit.rules.0.period"].startswith(
        f"{period} s is not a period Cloudflare accepts: use one of 10, 60, 120, 300, 600, 3600"
    )


@pytest.mark.parametrize("timeout", MITIGATION_TIMEOUTS)
def test_accepted_mitigation_timeouts(timeout: int) -> None:
    assert parse_config(edge(rulesets=[ruleset("http_ratelimit", rate(mitigationTimeout=timeout))]))


@pytest.mark.parametrize("timeout", [5, 30, 7200])
def test_refused_mitigation_timeouts(timeout: int) -> None:
    found = problems(edge(rulesets=[ruleset("http_ratelimit", rate(mitigationTimeout=timeout))]))
    assert (
        "is not a mitigation timeout"
        in (found["edge.rulesets.0.http_ratelimit.rules.0.mitigationTimeout"])
    )


def test_rate_limit_characteristics_are_checked() -> None:
    ok = rate(characteristics=['http.request.headers["x-api-key"]', "ip.src"])
    assert parse_config(edge(rulesets=[ruleset("http_ratelimit", ok)]))
    found = problems(
        edge(rulesets=[ruleset("http_ratelimit", rate(characteristics=["ip.source"]))])
    )
    assert "unknown 'ip.source'" in found["edge.rulesets.0.http_ratelimit.rules.0.characteristics"]


def test_skip_rules_need_something_to_skip() -> None:
    base = {"name": "s", "expression": "ssl"}
    found = problems(
        edge(
            rulesets=[
                ruleset(
                    "http_request_firewall_custom",
                    {**base, "action": "skip"},
                    {**base, "name": "b", "action": "block", "skip": {"products": ["waf"]}},
                    {**base, "name": "e", "action": "skip", "skip": {}},
                )
            ]
        )
    )
    prefix = "edge.rulesets.0.http_request_firewall_custom.rules"
    assert "action skip needs `skip:`" in found[f"{prefix}.0.skip"]
    assert "only skip rules take `skip:`" in found[f"{prefix}.1.skip"]
    assert "must skip something" in found[f"{prefix}.2.skip.phases"]


def test_custom_rule_actions() -> None:
    found = problems(
        edge(
            rulesets=[
                ruleset(
                    "http_request_firewall_custom",
                    {"name": "x", "action": "deny", "expression": "ssl"},
                )
            ]
        )
    )
    assert found["edge.rulesets.0.http_request_firewall_custom.rules.0.action"].startswith(
        "must be one of 'block', 'managed_challenge'"
    )


def test_owasp_settings_only_on_owasp() -> None:
    prefix = "edge.rulesets.0.http_request_firewall_managed.rules"
    found = problems(
        edge(
            rulesets=[
                ruleset(
                    "http_request_firewall_managed",
                    {"name": "cf", "ruleset": "cloudflare", "paranoiaLevel": 2},
                    {"name": "owasp", "ruleset": "owasp", "paranoiaLevel": 5},
                )
            ]
        )
    )
    assert found[f"{prefix}.0.paranoiaLevel"] == "only the owasp ruleset takes it: remove it"
    assert f"{prefix}.1.paranoiaLevel" in found


def test_bypass_cache_rules_take_no_ttl() -> None:
    found = problems(
        edge(
            rulesets=[
                ruleset(
                    "http_request_cache_settings",
                    {"name": "api", "expression": "ssl", "cache": False, "edgeTtl": 60},
                )
            ]
        )
    )
    assert found["edge.rulesets.0.http_request_cache_settings.rules.0.edgeTtl"] == (
        "only applies when cache: true (this rule bypasses)"
    )


def test_cache_key_query_string_is_include_or_exclude() -> None:
    found = problems(
        edge(
            rulesets=[
                ruleset(
                    "http_request_cache_settings",
                    {
                        "name": "s",
                        "expression": "ssl",
                        "cacheKey": {"queryString": {"include": ["v"], "exclude": "*"}},
                    },
                )
            ]
        )
    )
    key = "edge.rulesets.0.http_request_cache_settings.rules.0.cacheKey.queryString.include"
    assert "exactly one of include or exclude" in found[key]


def test_webp_needs_polish() -> None:
    found = problems(edge(settings={"polish": "off", "webp": True}))
    assert found == {
        "edge.settings.webp": "WebP conversion is part of Polish: set edge.settings.polish to "
        "lossless or lossy, or webp: false"
    }


def test_unknown_keys_are_refused() -> None:
    found = problems(edge(records=[record("www", "A", "192.0.2.1", proxy=True)]))
    assert "edge.records.0.proxy" in found


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {
            "edge": {
                "enabled": True,
                "zone": "example.com",
                "zoneId": "bad",
                "records": [record("www", "A", "nope"), record("x", "TXT", "t", ttl=5)],
                "settings": {"ssl": "sometimes"},
                "rulesets": [ruleset("http_ratelimit", rate(period=7))],
            }
        }
    )
    assert set(found) == {
        "edge.zoneId",
        "edge.records.0.content",
        "edge.records.1.ttl",
        "edge.settings.ssl",
        "edge.rulesets.0.http_ratelimit.rules.0.period",
    }


# ---------------------------------------------------------------- properties

names = st.one_of(
    st.sampled_from(["@", "www", "api", "*", "*.app", "WWW", "www.example.com.", "mail"]),
    st.text(alphabet="abc-_.*@ ", max_size=12),
)
contents = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(
        [
            "example.com",
            "mail.example.com",
            '0 issue "letsencrypt.org"',
            "v=spf1 -all",
            "",
            "not a host",
            "999.1.1.1",
        ]
    ),
    st.text(max_size=20),
)
records = st.fixed_dictionaries(
    {
        "name": names,
        "type": st.one_of(
            st.sampled_from([*RECORD_TYPES, "a", "cname", "SRV"]), st.text(max_size=5)
        ),
        "content": contents,
    },
    optional={
        "proxied": st.booleans(),
        "ttl": st.one_of(st.sampled_from([1, 60, 300, 86400, 86401, 0]), st.integers()),
        "priority": st.integers(-1, 70000),
        "key": st.sampled_from(["a", "b", "Bad Key"]),
    },
)

HOSTS = st.sampled_from(["example.com", "Mail.Example.com.", "origin.example.net"])
CONTENT_FOR = {
    "A": st.ip_addresses(v=4).map(str),
    "AAAA": st.ip_addresses(v=6).map(str),
    "CNAME": HOSTS,
    "NS": HOSTS,
    "MX": HOSTS,
    "TXT": st.text(min_size=1, max_size=30),
    "CAA": st.sampled_from(['0 issue "letsencrypt.org"', '128 iodef "mailto:x@example.com"']),
}


def well_formed(type_: str) -> st.SearchStrategy[dict[str, Any]]:
    required: dict[str, st.SearchStrategy[Any]] = {
        "name": st.sampled_from(["@", "www", "api", "*", "mail"]),
        "type": st.just(type_),
        "content": CONTENT_FOR[type_],
    }
    if type_ == "MX":
        required["priority"] = st.integers(0, 65535)
    return st.fixed_dictionaries(
        required,
        optional={"proxied": st.booleans(), "ttl": st.sampled_from([1, 60, 300, 86400])},
    )


plausible_records = st.sampled_from(RECORD_TYPES).flatmap(well_formed)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(plausible_records, plausible_records, records), max_size=6))
def test_any_record_set_is_valid_or_refused_never_a_crash(recs: list[dict[str, Any]]) -> None:
    try:
        config = parse_config(edge(records=recs))
    except ConfigInvalid as exc:
        assert exc.problems and all(p.path.startswith("edge.records") for p in exc.problems)
        return
    # Whatever was accepted obeys the rules Cloudflare enforces at apply time.
    out = config.edge.edge_records()
    assert all(r.name == "example.com" or r.name.endswith(".example.com") for r in out)
    assert all(r.ttl == 1 or 60 <= r.ttl <= 86400 for r in out)
    assert all(r.ttl == 1 for r in out if r.proxied)
    assert all(r.proxied is None for r in out if r.type not in ("A", "AAAA", "CNAME"))
    assert all(ipaddress.ip_address(r.content).version == 4 for r in out if r.type == "A")
    assert len({r.key for r in out}) == len(out)
    for r in out:
        if r.type == "CNAME":
            assert [o.name for o in out].count(r.name) == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["block", "log", "managed_challenge"]))
def test_any_expression_is_valid_or_refused_never_a_crash(text: str, action: str) -> None:
    rule = {"name": "r", "action": action, "expression": text}
    try:
        config = parse_config(edge(rulesets=[ruleset("http_request_firewall_custom", rule)]))
    except ConfigInvalid as exc:
        assert {p.path for p in exc.problems} == {
            "edge.rulesets.0.http_request_firewall_custom.rules.0.expression"
        }
        return
    stored = config.edge.rulesets[0].rules[0].expression
    assert stored == stored.strip() and stored


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100_000),
    st.text(max_size=8),
    st.sampled_from(
        [
            "A",
            "MX",
            "block",
            "skip",
            "owasp",
            "http_ratelimit",
            "ddos_l7",
            "http_request_cache_settings",
            "example.com",
            "www",
            "1.2.3.4",
            "true",
        ]
    ),
)
config_keys = st.sampled_from(
    [
        "name",
        "expression",
        "action",
        "ruleset",
        "phase",
        "rules",
        "skip",
        "cacheKey",
        "period",
        "requestsPerPeriod",
        "characteristics",
        "importId",
        "type",
        "content",
        "ttl",
        "proxied",
        "priority",
        "paranoiaLevel",
        "sensitivity",
        "edgeTtl",
        "cache",
        "queryString",
        "include",
    ]
)
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(config_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["enabled", "zone", "zoneId", "accountId", "records", "settings", "rulesets"]
        ),
        anything,
        max_size=6,
    )
)
def test_any_edge_block_is_valid_or_refused_never_a_crash(block: dict[str, Any]) -> None:
    try:
        parse_config({"edge": block})
    except ConfigInvalid as exc:
        assert exc.problems and all(p.path.startswith("edge") for p in exc.problems)


def test_edge_config_model_is_importable_alone() -> None:
    assert EdgeConfig().enabled is False
