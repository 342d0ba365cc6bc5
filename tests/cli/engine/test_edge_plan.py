"""The edge section of a plan: records and rules added / changed / removed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.engine.edge_plan import (
    RECORD_TYPE,
    RULESET_TYPE,
    SETTING_TYPE,
    edge_changes,
    edge_changes_markdown,
)
from cli.engine.plan import edge_section
from tests.support.capture import Capture, run_program

URN = "urn:pulumi:production::infra::infra:cloudflare:Edge${type}::{name}"


def step(
    op: str,
    type_: str,
    name: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    diffs: list[str] | None = None,
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "op": op,
        "urn": URN.format(type=type_, name=name),
        "type": type_,
        "name": name,
        "diffs": diffs or [],
    }
    if old is not None:
        s["old"] = {"inputs": old}
    if new is not None:
        s["new"] = {"inputs": new}
    return s


def a_record(content: str = "203.0.113.10", **extra: Any) -> dict[str, Any]:
    return {
        "zoneId": "z",
        "name": "example.com",
        "type": "A",
        "content": content,
        "ttl": 1,
        "proxied": True,
        **extra,
    }


def rule(ref: str, expression: str = "ssl", action: str = "block") -> dict[str, Any]:
    return {
        "ref": ref,
        "description": ref,
        "expression": expression,
        "action": action,
        "enabled": True,
    }


def ruleset(*rules: dict[str, Any], phase: str = "http_request_firewall_custom") -> dict[str, Any]:
    return {"zoneId": "z", "kind": "zone", "name": "default", "phase": phase, "rules": list(rules)}


# -------------------------------------------------------------------- records


def test_record_added_changed_removed_with_inputs() -> None:
    section = edge_changes(
        [
            step("create", RECORD_TYPE, "edge-dns-a-apex", new=a_record()),
            step(
                "update",
                RECORD_TYPE,
                "edge-dns-cname-www",
                old={"name": "www.example.com", "type": "CNAME", "content": "old.example.com"},
                new={"name": "www.example.com", "type": "CNAME", "content": "new.example.com"},
                diffs=["content"],
            ),
            step(
                "delete",
                RECORD_TYPE,
                "edge-dns-txt-apex",
                old={"name": "example.com", "type": "TXT", "content": "v=spf1 -all"},
            ),
        ]
    )
    records = section["records"]
    assert records["added"] == [
        {
            "name": "example.com",
            "type": "A",
            "content": "203.0.113.10",
            "proxied": True,
            "resource": "edge-dns-a-apex",
        }
    ]
    assert records["changed"] == [
        {
            "name": "www.example.com",
            "type": "CNAME",
            "content": "new.example.com",
            "proxied": None,
            "resource": "edge-dns-cname-www",
            "fields": ["content"],
            "replaced": False,
            "changes": {"content": {"old": "old.example.com", "new": "new.example.com"}},
        }
    ]
    assert records["removed"][0]["type"] == "TXT"
    assert records["removed"][0]["content"] == "v=spf1 -all"
    assert section["hasChanges"] is True


def test_caa_content_is_shown_from_data() -> None:
    caa = {
        "name": "example.com",
        "type": "CAA",
        "ttl": 1,
        "data": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"},
    }
    section = edge_changes([step("create", RECORD_TYPE, "edge-dns-caa-apex", new=caa)])
    assert section["records"]["added"][0]["content"] == '0 issue "letsencrypt.org"'


def test_replace_is_one_change_and_its_companion_steps_are_ignored() -> None:
    old, new = a_record(), a_record(zoneId="other")
    steps = [
        step("create-replacement", RECORD_TYPE, "edge-dns-a-apex", old=old, new=new),
        step("replace", RECORD_TYPE, "edge-dns-a-apex", old=old, new=new, diffs=["zoneId"]),
        step("delete-replaced", RECORD_TYPE, "edge-dns-a-apex", old=old, new=new),
    ]
    records = edge_changes(steps)["records"]
    assert len(records["changed"]) == 1 and records["changed"][0]["replaced"] is True
    assert records["changed"][0]["fields"] == ["zoneId"]
    assert records["added"] == records["removed"] == []


def test_imported_record() -> None:
    section = edge_changes([step("import", RECORD_TYPE, "edge-dns-a-apex", new=a_record())])
    assert [r["name"] for r in section["records"]["imported"]] == ["example.com"]


# ---------------------------------------------------------------------- rules


def test_rules_matched_by_ref_added_changed_removed_moved() -> None:
    old = ruleset(rule("a"), rule("b"), rule("c", "ip.src eq 1.2.3.4"), rule("gone"))
    new = ruleset(rule("b"), rule("a"), rule("c", "ip.src eq 5.6.7.8"), rule("fresh", action="log"))
    section = edge_changes(
        [
            step(
                "update",
                RULESET_TYPE,
                "edge-ruleset-http_request_firewall_custom",
                old,
                new,
                ["rules"],
            )
        ]
    )
    rules = section["rules"]
    assert [r["ref"] for r in rules["added"]] == ["fresh"]
    assert rules["added"][0]["action"] == "log"
    assert [r["ref"] for r in rules["removed"]] == ["gone"]
    changed = {r["ref"]: r for r in rules["changed"]}
    assert changed["a"]["fields"] == ["position"] and changed["b"]["fields"] == ["position"]
    assert changed["c"]["fields"] == ["expression"]
    assert changed["c"]["changes"] == {
        "expression": {"old": "ip.src eq 1.2.3.4", "new": "ip.src eq 5.6.7.8"}
    }
    assert all(r["phase"] == "http_request_firewall_custom" for r in rules["changed"])


def test_unchanged_rules_are_not_listed() -> None:
    same = ruleset(rule("a"), rule("b"))
    section = edge_changes(
        [
            step(
                "update",
                RULESET_TYPE,
                "edge-ruleset-x",
                same,
                {**same, "name": "renamed"},
                ["name"],
            )
        ]
    )
    assert section["rules"]["changed"] == []


def test_new_ruleset_lists_all_its_rules_as_added_deleted_as_removed() -> None:
    section = edge_changes(
        [
            step(
                "create",
                RULESET_TYPE,
                "edge-ruleset-http_ratelimit",
                new=ruleset(rule("login"), rule("api"), phase="http_ratelimit"),
            ),
            step(
                "delete",
                RULESET_TYPE,
                "edge-ruleset-ddos_l7",
                old=ruleset(rule("http-ddos", "true", "execute"), phase="ddos_l7"),
            ),
        ]
    )
    assert [(r["phase"], r["ref"]) for r in section["rules"]["added"]] == [
        ("http_ratelimit", "login"),
        ("http_ratelimit", "api"),
    ]
    assert [(r["phase"], r["ref"]) for r in section["rules"]["removed"]] == [
        ("ddos_l7", "http-ddos")
    ]


def test_imported_ruleset_lists_its_rules() -> None:
    section = edge_changes(
        [
            step(
                "import",
                RULESET_TYPE,
                "edge-ruleset-ddos_l7",
                new=ruleset(rule("x"), phase="ddos_l7"),
            )
        ]
    )
    assert section["rules"]["imported"][0]["ref"] == "x"


# ------------------------------------------------------------------- settings


def test_settings_changed_and_released() -> None:
    section = edge_changes(
        [
            step(
                "update",
                SETTING_TYPE,
                "edge-setting-ssl",
                old={"zoneId": "z", "settingId": "ssl", "value": "full"},
                new={"zoneId": "z", "settingId": "ssl", "value": "strict"},
                diffs=["value"],
            ),
            step(
                "delete",
                SETTING_TYPE,
                "edge-setting-polish",
                old={"zoneId": "z", "settingId": "polish", "value": "lossless"},
            ),
        ]
    )
    assert section["settings"] == {
        "changed": [{"setting": "ssl", "old": "full", "new": "strict"}],
        "released": [{"setting": "polish", "old": "lossless", "new": None}],
    }


# ----------------------------------------------- steps as cli/engine/plan.py builds them


def test_steps_without_inputs_fall_back_on_resource_names() -> None:
    steps = [
        {
            "op": "create",
            "urn": "u1",
            "type": RECORD_TYPE,
            "name": "edge-dns-a-apex",
            "diffs": [],
            "replaceKeys": [],
        },
        {
            "op": "update",
            "urn": "u2",
            "type": RECORD_TYPE,
            "name": "edge-dns-cname-www",
            "diffs": ["content"],
            "replaceKeys": [],
        },
        {
            "op": "update",
            "urn": "u3",
            "type": RULESET_TYPE,
            "name": "edge-ruleset-http_ratelimit",
            "diffs": ["rules"],
            "replaceKeys": [],
        },
        {
            "op": "create",
            "urn": "u4",
            "type": SETTING_TYPE,
            "name": "edge-setting-ssl",
            "diffs": [],
            "replaceKeys": [],
        },
    ]
    section = edge_changes(steps)
    assert [(r["type"], r["name"]) for r in section["records"]["added"]] == [("A", "@")]
    assert section["records"]["changed"][0]["fields"] == ["content"]
    assert section["rules"]["changed"] == [
        {"phase": "http_ratelimit", "ref": None, "fields": ["rules"]}
    ]
    assert section["settings"]["changed"][0]["setting"] == "ssl"


def test_nothing_to_do_means_no_changes() -> None:
    steps = [
        step("same", RECORD_TYPE, "edge-dns-a-apex", a_record(), a_record()),
        step("same", RULESET_TYPE, "edge-ruleset-ddos_l7", ruleset(), ruleset()),
        {
            "op": "create",
            "urn": "u",
            "type": "docker:index/container:Container",
            "name": "redis-node-0",
            "diffs": [],
        },
    ]
    section = edge_changes(steps)
    assert section["hasChanges"] is False
    assert section["markdown"] == "### Cloudflare edge\n\nNo Cloudflare edge changes.\n"
    assert edge_changes([])["hasChanges"] is False


def test_section_is_json_serialisable_and_what_plan_py_embeds() -> None:
    steps = [step("create", RECORD_TYPE, "edge-dns-a-apex", new=a_record())]
    section = edge_section(steps)
    assert section == edge_changes(steps)
    assert json.loads(json.dumps(section)) == section


# ------------------------------------------------------------------- markdown


def test_markdown_tables() -> None:
    section = edge_changes(
        [
            step("create", RECORD_TYPE, "edge-dns-a-apex", new=a_record()),
            step(
                "update",
                RULESET_TYPE,
                "edge-ruleset-http_request_firewall_custom",
                ruleset(rule("a", 'http.host eq "x"')),
                ruleset(rule("a", 'http.host eq "y"')),
            ),
            step(
                "update",
                SETTING_TYPE,
                "edge-setting-ssl",
                {"settingId": "ssl", "value": "full"},
                {"settingId": "ssl", "value": "strict"},
            ),
        ]
    )
    text = edge_changes_markdown(section)
    assert section["markdown"] == text
    assert "Planned: 1 DNS record change(s), 1 rule change(s), 1 zone setting change(s)." in text
    assert "| added | A | example.com | `203.0.113.10` | yes |  |" in text
    assert (
        '| changed | http_request_firewall_custom | a | block | `http.host eq "y"` | '
        'expression: http.host eq "x" → http.host eq "y" |'
    ) in text
    assert "| ssl | full | strict |" in text


def test_markdown_escapes_pipes_and_truncates_long_expressions() -> None:
    long_expr = "(" + " or ".join(f'http.host eq "h{i}"' for i in range(40)) + ") || ssl"
    section = edge_changes(
        [step("create", RULESET_TYPE, "edge-ruleset-x", new=ruleset(rule("r", long_expr)))]
    )
    row = next(line for line in section["markdown"].splitlines() if line.startswith("| added"))
    assert "\\|" not in long_expr and "||" in long_expr
    assert row.count("|") - row.count("\\|") == 7  # the table's own 7 separators only
    assert "…" in row and len(row) < 400


def test_markdown_survives_backticks() -> None:
    section = edge_changes(
        [
            step(
                "create",
                RECORD_TYPE,
                "edge-dns-txt-x",
                new={"name": "x.example.com", "type": "TXT", "content": "a`b"},
            )
        ]
    )
    assert "`` a`b ``" in section["markdown"]


# ----------------------------------- from the real program: one rule edit, one change


def spec_steps(before: Capture, after: Capture) -> list[dict[str, Any]]:
    """Engine-like steps between two runs of the program (create/update/delete/same)."""
    old = {r.name: r for r in before.resources if r.custom}
    new = {r.name: r for r in after.resources if r.custom}
    steps = []
    for name in sorted(old.keys() | new.keys()):
        o, n = old.get(name), new.get(name)
        res = n or o
        assert res is not None
        if o is None:
            op = "create"
        elif n is None:
            op = "delete"
        else:
            op = "same" if o.spec == n.spec else "update"
        diffs = sorted(
            k
            for k in {**(o.spec if o else {}), **(n.spec if n else {})}
            if (o.spec if o else {}).get(k) != (n.spec if n else {}).get(k)
        )
        steps.append(step(op, res.type, name, o.spec if o else None, n.spec if n else None, diffs))
    return steps


@pytest.fixture(scope="module")
def base_edge() -> dict[str, Any]:
    return {
        "enabled": True,
        "zone": "example.com",
        "zoneId": "0123456789abcdef0123456789abcdef",
        "records": [{"name": "www", "type": "CNAME", "content": "example.com", "proxied": True}],
        "rulesets": [
            {
                "phase": "http_request_firewall_custom",
                "rules": [
                    {
                        "name": "block-probes",
                        "action": "block",
                        "expression": 'http.request.uri.path contains "/wp-login.php"',
                    },
                    {
                        "name": "challenge-admin",
                        "action": "managed_challenge",
                        "expression": 'starts_with(http.request.uri.path, "/admin")',
                    },
                ],
            }
        ],
    }


def test_editing_one_rule_in_config_shows_exactly_that_rule(base_edge: dict[str, Any]) -> None:
    edited = copy.deepcopy(base_edge)
    edited["rulesets"][0]["rules"][1]["action"] = "block"
    edited["records"].append({"name": "api", "type": "A", "content": "192.0.2.10"})
    before = run_program("unit", {"edge": base_edge, "redis": {"enabled": False}})
    after = run_program("unit", {"edge": edited, "redis": {"enabled": False}})
    section = edge_changes(spec_steps(before, after))
    assert [r["ref"] for r in section["rules"]["changed"]] == ["challenge-admin"]
    assert section["rules"]["changed"][0]["changes"] == {
        "action": {"old": "managed_challenge", "new": "block"}
    }
    assert section["rules"]["added"] == section["rules"]["removed"] == []
    assert [(r["type"], r["name"]) for r in section["records"]["added"]] == [
        ("A", "api.example.com")
    ]
    assert section["settings"] == {"changed": [], "released": []}


def test_same_config_twice_shows_no_edge_changes(base_edge: dict[str, Any]) -> None:
    one = run_program("unit", {"edge": base_edge, "redis": {"enabled": False}})
    two = run_program("unit", {"edge": copy.deepcopy(base_edge), "redis": {"enabled": False}})
    assert edge_changes(spec_steps(one, two))["hasChanges"] is False


# ------------------------------------------------------------ the CI example

REPO = Path(__file__).resolve().parents[3]


def ci_runs() -> tuple[dict[Any, Any], list[str]]:
    doc = yaml.safe_load((REPO / "ci-examples" / "github-actions.yml").read_text())
    lines = [
        line.strip()
        for job in doc["jobs"].values()
        for s in job["steps"]
        for line in s.get("run", "").splitlines()
    ]
    return doc, lines


def test_ci_example_previews_on_pull_requests_and_deploys_on_main() -> None:
    doc, lines = ci_runs()
    assert set(doc[True]) == {"pull_request", "push"}  # YAML 1.1 reads the `on` key as True
    assert doc[True]["push"]["branches"] == ["main"]
    preview, deploy = doc["jobs"]["preview"], doc["jobs"]["deploy"]
    assert "pull_request" in preview["if"] and "refs/heads/main" in deploy["if"]
    assert [ln for ln in lines if ln.startswith("infra ")] == [
        "infra validate production",
        "infra preview production --json > plan.json",
        "infra validate production",
        "infra up production --yes",
    ]
    assert not [ln for ln in lines if ln.startswith("pulumi ")]  # only infra touches the stack


def test_ci_example_posts_the_sections_markdown() -> None:
    _, lines = ci_runs()
    assert any(".edge.markdown" in ln for ln in lines)
    assert any(ln.startswith('gh pr comment "$PR" --body-file comment.md') for ln in lines)
    assert "markdown" in edge_changes([])
