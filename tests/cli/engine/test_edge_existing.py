"""`infra preview` names the importId of a phase's existing entry point.

Cloudflare's API is out of reach here: the Rulesets API is played by a local
STAND-IN (http.server on 127.0.0.1) that answers "List zone rulesets" in the
shape of Cloudflare's documentation
(https://developers.cloudflare.com/api/resources/rulesets/methods/list/). The
client takes its base URL from INFRA_CLOUDFLARE_API_URL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from cli.engine import edge_existing
from stacks.config import parse_config

ZONE_ID = "0123456789abcdef0123456789abcdef"
TOKEN = "test-token"
WAF_ID = "2b1f0e8d9c7a4b6e8f0a1b2c3d4e5f60"
CACHE_ID = "aaaabbbbccccddddeeeeffff00001111"
ZONE_RULESETS = [
    # a dashboard-made WAF entry point, not named "default"
    {"id": WAF_ID, "name": "zone", "kind": "zone", "phase": "http_request_firewall_custom"},
    {"id": CACHE_ID, "name": "default", "kind": "zone", "phase": "http_request_cache_settings"},
    # managed rulesets are listed too, and are not entry points
    {
        "id": "efb7b8c949ac4650a09736fc376e9aee",
        "name": "Cloudflare Managed Ruleset",
        "kind": "managed",
        "phase": "http_request_firewall_managed",
    },
]


class StandIn(BaseHTTPRequestHandler):
    requests: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        StandIn.requests.append((self.path, self.headers.get("Authorization")))
        if self.path != f"/client/v4/zones/{ZONE_ID}/rulesets":
            self._reply(404, {"success": False, "errors": [{"code": 7003, "message": "no route"}]})
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(403, {"success": False, "errors": [{"code": 10000, "message": "auth"}]})
        else:
            self._reply(200, {"success": True, "errors": [], "result": ZONE_RULESETS})

    def _reply(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    StandIn.requests = []
    server = HTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/client/v4"
    server.shutdown()
    server.server_close()


def config() -> Any:
    rules = {
        "http_request_cache_settings": [
            {"name": "bypass-api", "expression": 'http.request.uri.path eq "/api"', "cache": False}
        ],
        "http_request_firewall_custom": [
            {"name": "block", "expression": 'http.request.uri.path eq "/x"', "action": "block"}
        ],
        "ddos_l7": [{"name": "http-ddos"}],
    }
    return parse_config(
        {
            "edge": {
                "enabled": True,
                "zone": "example.com",
                "zoneId": ZONE_ID,
                "rulesets": [{"phase": p, "rules": r} for p, r in rules.items()],
            }
        }
    )


def step(op: str, phase: str) -> dict[str, Any]:
    return {"op": op, "type": edge_existing.RULESET_TYPE, "name": f"edge-ruleset-{phase}"}


PLAN = {
    "steps": [
        step("create", "http_request_firewall_custom"),
        step("import", "http_request_cache_settings"),  # already being adopted
        step("create", "ddos_l7"),  # the zone has none: nothing to say
    ]
}


def env(api: str, token: str | None = TOKEN) -> dict[str, str]:
    return {edge_existing.API_URL_VAR: api, **({edge_existing.TOKEN_VAR: token} if token else {})}


def test_an_existing_entry_point_the_plan_would_create_is_named_with_its_import_id(
    api: str,
) -> None:
    notes = edge_existing.existing_entry_points(config(), PLAN, env(api))
    assert notes == [
        "edge.rulesets.1 (http_request_firewall_custom): the zone already has an entry-point "
        f"ruleset for this phase (id {WAF_ID}, name 'zone'); creating another fails "
        f'(Cloudflare error 20217): adopt it with importId: "{WAF_ID}"'
    ]
    assert StandIn.requests == [(f"/client/v4/zones/{ZONE_ID}/rulesets", f"Bearer {TOKEN}")]


def test_without_a_token_nothing_is_asked(api: str) -> None:
    assert edge_existing.existing_entry_points(config(), PLAN, env(api, token=None)) == []
    assert StandIn.requests == []


def test_nothing_is_asked_when_the_plan_creates_no_ruleset(api: str) -> None:
    plan = {"steps": [step("update", "http_request_firewall_custom")]}
    assert edge_existing.existing_entry_points(config(), plan, env(api)) == []
    assert StandIn.requests == []


def test_an_api_error_becomes_a_warning_not_a_failed_preview(api: str) -> None:
    notes = edge_existing.existing_entry_points(config(), PLAN, env(api, token="wrong"))
    assert len(notes) == 1 and notes[0].startswith("could not list the zone's rulesets")


def test_notes_are_plan_diagnostics(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env(api).items():
        monkeypatch.setenv(key, value)
    found = edge_existing.diagnostics(config(), PLAN)
    assert [d["severity"] for d in found] == ["warning"]
    assert WAF_ID in found[0]["message"]
