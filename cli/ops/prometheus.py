"""Prometheus' HTTP API, read from the Docker host (stdlib only).

What `infra status` and the monitoring tests ask a deployed Prometheus: its
targets and whether each is up, and the alerts it evaluates.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from cli.ops.cluster import TIMEOUT_S


class PrometheusUnreachable(Exception):
    pass


def api(base_url: str, path: str, **params: str) -> Any:
    """`data` of a Prometheus API reply; `PrometheusUnreachable` on any failure."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    try:
        with urllib.request.urlopen(f"{base_url}{path}{query}", timeout=TIMEOUT_S) as reply:
            body = json.load(reply)
    except (OSError, ValueError) as exc:
        raise PrometheusUnreachable(f"{base_url}{path}: {exc}") from None
    if body.get("status") != "success":
        raise PrometheusUnreachable(f"{base_url}{path}: {body.get('error', body)}")
    return body["data"]


def query(base_url: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's series: `{"metric": {labels}, "value": [time, "value"]}`."""
    found: list[dict[str, Any]] = api(base_url, "/api/v1/query", query=promql)["result"]
    return found


@dataclass(frozen=True)
class Target:
    job: str
    instance: str
    up: bool
    error: str


def targets(base_url: str) -> list[Target]:
    """Every active target; a Redis target counts as up only when both the
    exporter answered and the exporter reached Redis (`redis_up`)."""
    active = api(base_url, "/api/v1/targets", state="active")["activeTargets"]
    redis_down = {r["metric"].get("instance") for r in query(base_url, "redis_up == 0")}
    found = []
    for t in active:
        instance = t["labels"].get("instance", "")
        down = instance in redis_down
        up = t.get("health") == "up" and not down
        error = "redis_up is 0" if down else t.get("lastError", "")
        found.append(Target(t["labels"].get("job", ""), instance, up, error))
    return found


@dataclass(frozen=True)
class Alert:
    name: str
    state: str  # pending or firing
    labels: dict[str, str]


def alerts(base_url: str) -> list[Alert]:
    found = api(base_url, "/api/v1/alerts")["alerts"]
    return [Alert(a["labels"]["alertname"], a["state"], a["labels"]) for a in found]
