"""Monitoring through the product: one Redis Cluster stack with monitoring on,
deployed by `infra up` on the real Pulumi engine and Docker; Prometheus' own
HTTP API (published on 127.0.0.1) says what it scrapes and which alerts fire.
The cluster runs with TLS (`redis.tls`, as the templates set it): the exporter
reads every node over TLS, verifying it with the stack's CA.

The tests run in file order on one stack: every target up, `infra status`
names Prometheus, no alert on a healthy tier, then the failover drill (the code
`infra drill` runs) with the old master kept down until the alerts fire, and
everything resolved after it is back. Figures are printed (pytest -s).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from cli.ops import drill, prometheus
from tests.engine.conftest import RefusingProxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, redis_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

IMAGE = "infra-local/monitoring:debian"
NODES = 6
SCRAPE_S = 2
FAILOVER_WINDOW_S = 30
# Prometheus and Alertmanager themselves, plus the six Redis nodes.
TARGETS = NODES + 2
SCREENSHOT = Path(__file__).resolve().parents[2] / ".ci" / "artifacts" / "dashboard.png"


class Tier:
    def __init__(self, stack: TierStack) -> None:
        self.stack = stack
        self.outputs = stack.outputs()
        self.url = str(self.outputs["monitoringPrometheusUrl"])
        self.alertmanager = str(self.outputs["monitoringAlertmanagerUrl"])
        self.dashboard = str(self.outputs["monitoringDashboardUrl"])

    def alerts(self) -> dict[str, list[prometheus.Alert]]:
        found: dict[str, list[prometheus.Alert]] = {}
        for alert in prometheus.alerts(self.url):
            found.setdefault(alert.name, []).append(alert)
        return found

    def firing(self, name: str, instance: str | None = None) -> bool:
        return any(
            a.state == "firing" and instance in (None, a.labels.get("instance"))
            for a in self.alerts().get(name, [])
        )

    def all_up(self) -> bool:
        found = prometheus.targets(self.url)
        return len(found) == TARGETS and all(t.up for t in found)


@pytest.fixture(scope="module")
def tier(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
) -> Iterator[Tier]:
    try:
        dockerenv.require_image(docker_client, IMAGE)
    except RuntimeError as exc:
        pytest.fail(f"{exc} (scripts/build-monitoring-image.sh builds it)", pytrace=False)
    config = redis_config(docker_client, redis_image, tls={"enabled": True}, defaultUser="disabled")
    base = config["redis"]["hostPortBase"]
    port = dockerenv.free_port_block(3, avoid=range(base, base + NODES))
    config["monitoring"] = {
        "enabled": True,
        "image": IMAGE,
        "hostPort": port,
        "alertmanagerHostPort": port + 1,
        "dashboardHostPort": port + 2,
        "scrapeIntervalS": SCRAPE_S,
        "failoverWindowS": FAILOVER_WINDOW_S,
    }
    root = tmp_path_factory.mktemp("monitoring")
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    with deployed_stack(root, proxy, docker_client, config, env) as stack:
        stack.ok("up", stack.name, "--yes")
        yield Tier(stack)


def test_prometheus_scrapes_every_node_and_itself(tier: Tier) -> None:
    took = dockerenv.wait_for(tier.all_up, timeout=60, interval=0.5)
    print(f"\nall {TARGETS} targets up {took:.1f}s after `infra up` returned")
    found = prometheus.targets(tier.url)
    redis = sorted(t.instance for t in found if t.job == "redis")
    assert redis == sorted(f"infra-{tier.stack.name}-redis-{i}" for i in range(NODES))
    assert {t.job for t in found} == {"redis", "prometheus", "alertmanager"}


def test_the_exporter_reads_cluster_metrics_over_tls_with_the_password(tier: Tier) -> None:
    reply = prometheus.query(tier.url, "redis_cluster_slots_ok")
    assert [float(r["value"][1]) for r in reply] == [16384.0] * NODES
    masters = prometheus.query(tier.url, 'count(redis_instance_info{role="master"})')
    assert masters[0]["value"][1] == "3"


def test_status_prints_the_prometheus_address(tier: Tier) -> None:
    out = tier.stack.ok("status", tier.stack.name).out
    line = next(x for x in out.splitlines() if "monitoring:" in x)
    assert line == (
        f"ok   monitoring: prometheus at {tier.url}: {TARGETS}/{TARGETS} targets up, "
        "0 alert(s) firing"
    )
    assert f"dashboard at {tier.dashboard}" in out


def test_a_second_preview_finds_no_change(tier: Tier) -> None:
    tier.stack.ok("preview", tier.stack.name, "--expect-no-changes")


def test_no_secret_in_the_monitoring_containers_settings(tier: Tier) -> None:
    password = str(tier.outputs["redisPassword"])
    for name, container in tier.stack.containers().items():
        if "-monitoring-" in name:
            attrs = container.attrs
            assert password not in repr([attrs["Config"], attrs["HostConfig"], attrs["Args"]])


def test_a_healthy_tier_fires_nothing(tier: Tier) -> None:
    firing = [a.name for alerts in tier.alerts().values() for a in alerts if a.state == "firing"]
    assert firing == []


def alertmanager_alerts(url: str) -> set[str]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as reply:
        return {a["labels"]["alertname"] for a in json.load(reply)}


def test_a_failover_fires_its_alerts_and_they_resolve_after_recovery(tier: Tier) -> None:
    """The drill's own code path; its `start` first waits for the alerts, as a
    master that stays down would let them fire, and for Alertmanager to have them."""
    client = tier.stack.docker
    marks: dict[str, Any] = {}

    def stop(name: str) -> None:
        client.containers.get(name).kill()
        marks["killed"] = time.monotonic()

    def start(name: str) -> None:
        for alert in ("RedisFailover", "RedisDown", "RedisMasterWithoutReplica"):
            try:
                dockerenv.wait_for(lambda a=alert: tier.firing(a), timeout=90, interval=0.25)
            except TimeoutError:
                pytest.fail(f"{alert} did not fire within 90s; alerts: {tier.alerts()}")
            marks[alert] = time.monotonic() - marks["killed"]
        marks["promoted"] = [a.labels["instance"] for a in tier.alerts()["RedisFailover"]]
        wanted = {"RedisFailover", "RedisMasterWithoutReplica"}
        dockerenv.wait_for(lambda: wanted <= alertmanager_alerts(tier.alertmanager), 30)
        client.containers.get(name).start()
        marks["started"] = time.monotonic()

    result = drill.cluster_failover(tier.outputs, stop, start)
    resolved = dockerenv.wait_for(
        lambda: not tier.firing("RedisMasterWithoutReplica") and not tier.firing("RedisDown"),
        timeout=60,
        interval=0.25,
    )
    since_start = time.monotonic() - marks["started"]
    quiet = dockerenv.wait_for(lambda: tier.alerts() == {}, timeout=90, interval=0.5)
    print(
        f"\nkilled {result.victim}; promoted after {result.promoted_s:.1f}s; "
        f"RedisFailover fired {marks['RedisFailover']:.1f}s, RedisDown "
        f"{marks['RedisDown']:.1f}s, RedisMasterWithoutReplica "
        f"{marks['RedisMasterWithoutReplica']:.1f}s after the kill; both resolved "
        f"{since_start:.1f}s after the restart ({resolved:.1f}s after the rejoin); "
        f"no alert left {quiet:.1f}s later"
    )
    names = {f"{n['ip']}:{n['port']}": n["name"] for n in tier.outputs["redisNodes"]}
    assert marks["promoted"] == [names[result.promoted]]
    assert result.keys_lost == 0
    # Promotion (~6 s) + a scrape and an evaluation (2 s each) and slack; + `for` where set.
    assert marks["RedisFailover"] < result.promoted_s + 4 * SCRAPE_S + 2
    assert marks["RedisMasterWithoutReplica"] < result.promoted_s + 20 + 4 * SCRAPE_S + 2
    assert since_start < 30


def chromium(*args: str) -> str:
    """Debian's Chromium, headless; the page's timers and fetches run within
    the virtual time budget (the page refreshes every 5 s)."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is missing (scripts/ensure-chromium.sh installs it)", pytrace=False)
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    command += ["--virtual-time-budget=8000", "--window-size=1400,1000", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def node_states(dom: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-node="([^"]+)" data-state="(up|down)">', dom))


def test_the_dashboard_shows_every_node_with_its_state_and_role(tier: Tier) -> None:
    dom = chromium("--dump-dom", tier.dashboard)
    assert 'data-loaded="yes"' in dom, dom
    names = [f"infra-{tier.stack.name}-redis-{i}" for i in range(NODES)]
    assert node_states(dom) == dict.fromkeys(names, "up")
    roles = re.findall(r'data-state="up"><td>[^<]+</td><td class="up">up</td><td>(\w+)</td>', dom)
    assert sorted(roles) == ["master"] * 3 + ["replica"] * 3
    assert '<span id="error"></span>' in dom  # no error shown
    assert '<td class="num">?</td>' not in dom  # every figure was found in Prometheus
    assert str(tier.outputs["redisPassword"]) not in dom


def test_the_page_only_talks_to_prometheus_which_only_allows_the_page(tier: Tier) -> None:
    """Prometheus answers CORS for the dashboard's origin, not for any page."""

    def allowed(origin: str) -> str | None:
        request = urllib.request.Request(f"{tier.url}/api/v1/query?query=up")
        request.add_header("Origin", origin)
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.headers.get("Access-Control-Allow-Origin")

    assert allowed(tier.dashboard) == tier.dashboard
    assert allowed("http://evil.example") is None


def test_a_drill_shows_up_on_the_dashboard(tier: Tier) -> None:
    """`infra drill` itself (the command), then the page in the browser; the
    screenshot is kept as a CI artifact."""
    out = tier.stack.ok("drill", tier.stack.name, "--yes")
    assert "drill recorded on the dashboard" in out.out + out.err
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    dom = chromium("--dump-dom", tier.dashboard)
    drills = re.findall(r'<tr data-drill="([0-9.]+)"><td>([^<]+)</td><td>([^<]+)</td>', dom)
    assert len(drills) == 1, dom
    killed_at, when, victim = drills[0]
    assert abs(float(killed_at) - time.time()) < 120
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", when)
    assert victim.startswith(f"infra-{tier.stack.name}-redis-")
    assert node_states(dom) == {f"infra-{tier.stack.name}-redis-{i}": "up" for i in range(NODES)}
    promoted = re.findall(r'<li data-promoted="([^"]+)">', dom)
    assert promoted and victim.split(" ")[0] not in promoted
    chromium(f"--screenshot={SCREENSHOT}", tier.dashboard)
    assert SCREENSHOT.stat().st_size > 10_000
    print(f"\ndashboard screenshot: {SCREENSHOT}")


def test_down_leaves_nothing(tier: Tier) -> None:
    """The Prometheus volume and the four containers go with the stack."""
    tier.stack.ok("down", tier.stack.name, "--yes")
    assert tier.stack.leftovers() == []
