"""Prometheus' HTTP API as `infra status` reads it, from a real HTTP server on
127.0.0.1 that answers with replies shaped like Prometheus 2.42's."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from cli.ops import health, prometheus
from components.monitoring_config import MonitoringExports


def target(job: str, instance: str, health: str = "up", error: str = "") -> dict[str, Any]:
    return {"labels": {"job": job, "instance": instance}, "health": health, "lastError": error}


class FakePrometheus:
    def __init__(self) -> None:
        self.targets = [target("redis", "r0"), target("redis", "r1"), target("prometheus", "p")]
        self.redis_down: list[str] = []
        self.alerts: list[dict[str, Any]] = []
        self.queries: list[str] = []

    def reply(self, path: str, params: dict[str, list[str]]) -> Any:
        if path == "/api/v1/targets":
            return {"activeTargets": self.targets, "droppedTargets": []}
        if path == "/api/v1/query":
            self.queries.append(params["query"][0])
            result = [{"metric": {"instance": i}, "value": [0, "0"]} for i in self.redis_down]
            return {"resultType": "vector", "result": result}
        if path == "/api/v1/alerts":
            return {"alerts": self.alerts}
        return None


@pytest.fixture
def fake() -> Iterator[tuple[FakePrometheus, str]]:
    state = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            data = state.reply(url.path, parse_qs(url.query))
            body = {"status": "success", "data": data} if data is not None else {}
            payload = json.dumps(body).encode()
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def exports(url: str | None, unscraped: list[dict[str, Any]] | None = None) -> MonitoringExports:
    return MonitoringExports.read(
        {
            "monitoringPrometheusUrl": url,
            "monitoringAlertmanagerUrl": None,
            "monitoringTargets": [],
            "monitoringUnscraped": unscraped or [],
        }
    )


def test_every_target_up(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    check = health.monitoring(exports(url))
    assert check.ok and check.details == []
    assert check.summary == f"prometheus at {url}: 3/3 targets up, 0 alert(s) firing"
    assert state.queries == ["redis_up == 0"]


def test_a_node_the_exporter_cannot_reach_is_down(fake: tuple[FakePrometheus, str]) -> None:
    state, url = fake
    state.redis_down = ["r1"]
    state.targets.append(target("sentinel", "s0", "down", 'Get "http://x/scrape": timeout'))
    state.alerts = [
        {"labels": {"alertname": "RedisDown", "instance": "r1"}, "state": "firing"},
        {"labels": {"alertname": "TargetDown", "instance": "s0"}, "state": "pending"},
    ]
    check = health.monitoring(exports(url, [{"job": "mongodb", "instance": "m0"}]))
    assert not check.ok
    assert check.summary == f"prometheus at {url}: 2/4 targets up, 1 alert(s) firing"
    assert check.details == [
        "redis r1: down (redis_up is 0)",
        'sentinel s0: down (Get "http://x/scrape": timeout)',
        "alert firing: RedisDown r1",
        "not scraped (no exporter): m0",
    ]


def test_unreachable_prometheus_is_not_ok() -> None:
    with pytest.raises(prometheus.PrometheusUnreachable):
        prometheus.targets("http://127.0.0.1:9")
    check = health.monitoring(exports("http://127.0.0.1:9"))
    assert not check.ok and "unreachable" in check.summary


def test_an_api_error_is_unreachable(fake: tuple[FakePrometheus, str]) -> None:
    _, url = fake
    with pytest.raises(prometheus.PrometheusUnreachable, match="/api/v1/nothing"):
        prometheus.api(url, "/api/v1/nothing")


def test_unpublished_prometheus_is_not_checked() -> None:
    check = health.monitoring(exports(None))
    assert check.ok and check.summary == "prometheus is not published on the host: not checked"
