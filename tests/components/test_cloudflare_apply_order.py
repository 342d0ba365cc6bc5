"""What the Cloudflare API would refuse mid-apply, under Pulumi's mocks:
the order of dependent settings, adopted rulesets' names, and a record that
changes type at one name. (The API itself is out of reach here.)"""

from __future__ import annotations

from typing import Any

from components.cloudflare_edge import record_aliases
from stacks.config import parse_config
from tests.support.capture import Capture, run_program

ZONE_ID = "0123456789abcdef0123456789abcdef"
RULESET_ID = "99998888777766665555444433332222"


def run(**edge: Any) -> Capture:
    config = {"enabled": True, "plan": "pro", "zone": "example.com", "zoneId": ZONE_ID, **edge}
    return run_program("unit", {"edge": config, "redis": {"enabled": False}})


def test_webp_is_applied_after_polish() -> None:
    """Cloudflare refuses WebP while Polish is off (error 1020): not in parallel."""
    out = run()
    assert "edge-setting-polish" in out.named("edge-setting-webp").dependencies
    assert not out.named("edge-setting-polish").dependencies


def test_a_ruleset_never_diffs_on_its_name() -> None:
    """`name` forces a replacement; an adopted dashboard ruleset ("zone") must
    never be deleted and re-created to rename it."""
    rulesets = [
        {
            "phase": "http_request_firewall_custom",
            "importId": RULESET_ID,
            "rules": [
                {"name": "b", "expression": 'http.request.uri.path eq "/x"', "action": "block"}
            ],
        }
    ]
    out = run(rulesets=rulesets)
    ruleset = out.named("edge-ruleset-http_request_firewall_custom")
    assert ruleset.ignore_changes == ["name"]


def records(*specs: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"name": n, "type": t, "content": c} for n, t, c in specs]


def test_a_cname_is_the_same_resource_as_the_address_record_it_replaces() -> None:
    """A -> CNAME at one name: the CNAME aliases the old A record's resource,
    so Pulumi replaces it (delete first) instead of creating the CNAME beside
    the A record, which Cloudflare refuses (81053)."""
    before = run(records=records(("www", "A", "203.0.113.1")))
    after = run(records=records(("www", "CNAME", "example.com")))
    old = before.named("edge-dns-a-www")
    new = after.named("edge-dns-cname-www")
    assert old.name in new.aliases
    assert new.delete_before_replace
    back = run(records=records(("www", "A", "203.0.113.1"), ("www", "AAAA", "2001:db8::1")))
    assert "edge-dns-cname-www" in back.named("edge-dns-a-www").aliases
    # the second address record waits for the one that takes over the CNAME
    assert back.named("edge-dns-aaaa-www").dependencies == ["edge-dns-a-www"]
    assert back.named("edge-dns-aaaa-www").aliases == []


def test_only_one_record_claims_each_old_resource() -> None:
    """Two resources may not alias one old resource (the engine refuses)."""
    config = parse_config(
        {
            "edge": {
                "enabled": True,
                "zone": "example.com",
                "zoneId": ZONE_ID,
                "records": records(
                    ("@", "A", "203.0.113.1"),
                    ("@", "A", "203.0.113.2"),
                    ("@", "AAAA", "2001:db8::1"),
                    ("www", "CNAME", "example.com"),
                    ("@", "TXT", "x"),
                ),
            }
        }
    )
    aliases = record_aliases(config.edge.edge_records())
    claimed = [a for names in aliases.values() for a in names]
    assert len(claimed) == len(set(claimed))
    assert aliases == {"cname-www": ["a-www", "aaaa-www"]}  # round-robin A keeps its identity
