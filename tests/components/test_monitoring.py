"""Monitoring under Pulumi's mocks: what the docker provider would get, and the
scrape targets it takes from the other components through the registry."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
import yaml

from components.config_base import ComponentConfig, Exports
from components.docker_node import Site
from components.monitoring_config import MonitoringConfig, ScrapeTarget
from stacks.config import ConfigInvalid, parse_config
from stacks.registry import REGISTRY, Component
from tests.support.capture import Capture, Resource, is_secret, run_program

PASSWORD = "test-password-0123456789"
MONITORING = {"enabled": True, "image": "infra-local/monitoring:debian"}
REDIS = {"image": "infra-local/redis:debian"}


@pytest.fixture(scope="module")
def cluster() -> Capture:
    return run_program(
        "unit", {"redis": REDIS, "monitoring": MONITORING}, {"redisPassword": PASSWORD}
    )


@pytest.fixture(scope="module")
def sentinel() -> Capture:
    redis = {**REDIS, "mode": "sentinel"}
    return run_program(
        "unit", {"redis": redis, "monitoring": MONITORING}, {"redisPassword": PASSWORD}
    )


def upload(res: Resource, path: str) -> dict:
    return next(u for u in res.spec["uploads"] if u["file"] == path)


def prometheus_conf(capture: Capture) -> dict:
    res = capture.named("monitoring-prometheus")
    return yaml.safe_load(upload(res, "/etc/prometheus/prometheus.yml")["content"])


def jobs(capture: Capture) -> dict[str, dict]:
    return {j["job_name"]: j for j in prometheus_conf(capture)["scrape_configs"]}


def test_component_and_children(cluster: Capture) -> None:
    component = cluster.named("monitoring")
    assert component.type == "infra:monitoring:Stack" and not component.custom
    children = {r.name for r in cluster.resources if r.parent == "monitoring"}
    assert children == {
        "monitoring-image",
        "monitoring-prometheus",
        "monitoring-exporter",
        "monitoring-alertmanager",
        "monitoring-dashboard",
        "monitoring-data",
    }


def test_fixed_names_addresses_and_published_ports(cluster: Capture) -> None:
    specs = {r.name: r.spec for r in cluster.containers() if r.parent == "monitoring"}
    assert {n: s["name"] for n, s in specs.items()} == {
        "monitoring-prometheus": "infra-unit-monitoring-prometheus",
        "monitoring-exporter": "infra-unit-monitoring-exporter",
        "monitoring-alertmanager": "infra-unit-monitoring-alertmanager",
        "monitoring-dashboard": "infra-unit-monitoring-dashboard",
    }
    ips = {n: s["networksAdvanced"][0]["ipv4Address"] for n, s in specs.items()}
    assert ips == {
        "monitoring-prometheus": "172.28.0.250",
        "monitoring-exporter": "172.28.0.251",
        "monitoring-alertmanager": "172.28.0.252",
        "monitoring-dashboard": "172.28.0.253",
    }
    assert specs["monitoring-prometheus"]["ports"] == [
        {"internal": 9090, "external": 9090, "ip": "127.0.0.1"}
    ]
    assert specs["monitoring-alertmanager"]["ports"] == [
        {"internal": 9093, "external": 9093, "ip": "127.0.0.1"}
    ]
    assert specs["monitoring-dashboard"]["ports"] == [
        {"internal": 8080, "external": 9091, "ip": "127.0.0.1"}
    ]
    assert specs["monitoring-exporter"].get("ports") in (None, [])
    assert all(s["image"] == "infra-local/monitoring:debian" for s in specs.values())
    assert all(s["wait"] is True and s["restart"] == "unless-stopped" for s in specs.values())


def test_the_exporter_gives_up_on_a_dead_node_within_a_scrape(cluster: Capture) -> None:
    """Else Prometheus times out the scrape and never reads `redis_up 0`."""
    command = cluster.named("monitoring-exporter").spec["command"]
    assert "-connection-timeout=2500ms" in command  # half the 5 s scrape interval
    assert "-redis.addr=" in command
    assert not [c for c in command if "password=" in c]


def test_prometheus_keeps_its_samples_on_a_volume(cluster: Capture) -> None:
    spec = cluster.named("monitoring-prometheus").spec
    assert spec["volumes"] == [
        {"volumeName": "infra-unit-monitoring-prometheus-data", "containerPath": "/prometheus"}
    ]
    assert "--storage.tsdb.retention.time=7d" in spec["command"]
    assert spec["memory"] == 512 and spec["destroyGraceSeconds"] == 30


def test_every_cluster_node_is_scraped_through_the_exporter(cluster: Capture) -> None:
    redis = jobs(cluster)["redis"]
    groups = redis["static_configs"]
    assert [g["targets"] for g in groups] == [[f"redis://172.28.0.{10 + i}:6379"] for i in range(6)]
    assert [g["labels"]["instance"] for g in groups] == [f"infra-unit-redis-{i}" for i in range(6)]
    assert redis["metrics_path"] == "/scrape"
    assert {"target_label": "__address__", "replacement": "172.28.0.251:9121"} in redis[
        "relabel_configs"
    ]
    assert set(jobs(cluster)) == {"prometheus", "alertmanager", "redis"}


def test_sentinel_mode_scrapes_data_nodes_and_sentinels(sentinel: Capture) -> None:
    found = jobs(sentinel)
    nodes = found["redis"]["static_configs"]
    assert len(nodes) == 6
    assert {g["labels"]["master_set"] for g in nodes} == {"shard-0", "shard-1", "shard-2"}
    sentinels = found["sentinel"]["static_configs"]
    assert [g["targets"] for g in sentinels] == [
        [f"redis://172.28.0.{90 + j}:26379"] for j in range(3)
    ]


def test_alerting_goes_to_alertmanager_and_rules_are_loaded(cluster: Capture) -> None:
    conf = prometheus_conf(cluster)
    assert conf["global"] == {"scrape_interval": "5s", "evaluation_interval": "5s"}
    assert conf["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "172.28.0.252:9093"
    ]
    rules = upload(cluster.named("monitoring-prometheus"), conf["rule_files"][0])
    names = [g["name"] for g in yaml.safe_load(rules["content"])["groups"]]
    assert names == [
        "redis-roles",
        "targets",
        "redis",
        "redis-cluster",
        "redis-sentinel",
        "mongodb",
    ]


def test_the_password_is_only_in_the_exporters_secret_file(cluster: Capture) -> None:
    exporter = cluster.named("monitoring-exporter")
    assert is_secret(exporter.inputs["uploads"])
    passwords = upload(exporter, "/etc/redis-exporter/passwords.json")
    assert passwords["permissions"] == "0600"
    table = json.loads(passwords["content"])
    assert table == {f"redis://172.28.0.{10 + i}:6379": PASSWORD for i in range(6)}
    for res in cluster.containers():
        if res.parent != "monitoring":
            continue
        visible = {k: v for k, v in res.spec.items() if k != "uploads"}
        assert PASSWORD not in json.dumps(visible), res.name
        if res.name != "monitoring-exporter":
            assert PASSWORD not in json.dumps(res.spec["uploads"]), res.name


def test_outputs(cluster: Capture) -> None:
    out = cluster.outputs
    assert out["components"] == (["redis", "monitoring"], False)
    assert out["monitoringPrometheusUrl"] == ("http://127.0.0.1:9090", False)
    assert out["monitoringAlertmanagerUrl"] == ("http://127.0.0.1:9093", False)
    assert out["monitoringDashboardUrl"] == ("http://127.0.0.1:9091", False)
    assert out["monitoringDashboardNode"] == ("infra-unit-monitoring-dashboard", False)
    targets, secret = out["monitoringTargets"]
    assert not secret and len(targets) == 6
    assert targets[0] == {
        "job": "redis",
        "address": "172.28.0.10:6379",
        "instance": "infra-unit-redis-0",
    }
    assert out["monitoringUnscraped"] == ([], False)


def test_mongo_members_are_listed_as_unscraped_and_need_no_redis_password() -> None:
    capture = run_program(
        "unit",
        {"redis": {"enabled": False}, "mongo": {"enabled": True}, "monitoring": MONITORING},
        {"mongoRootPassword": "mongo-root-password-0123456789", "mongoKeyFile": "k" * 1008},
    )
    unscraped, _ = capture.outputs["monitoringUnscraped"]
    assert [t["instance"] for t in unscraped] == [f"infra-unit-mongo-{i}" for i in range(3)]
    assert {t["job"] for t in unscraped} == {"mongodb"}
    assert set(jobs(capture)) == {"prometheus", "alertmanager"}
    table = upload(capture.named("monitoring-exporter"), "/etc/redis-exporter/passwords.json")
    assert json.loads(table["content"]) == {}


def test_unpublished_prometheus_has_no_host_url() -> None:
    capture = run_program(
        "unit",
        {"redis": REDIS, "monitoring": {**MONITORING, "hostPort": None}},
        {"redisPassword": PASSWORD},
    )
    assert capture.named("monitoring-prometheus").spec.get("ports") in (None, [])
    assert capture.outputs["monitoringPrometheusUrl"] == (None, False)


def test_the_dashboard_serves_a_page_and_where_prometheus_answers(cluster: Capture) -> None:
    """busybox httpd and two files; the page learns Prometheus' host URL, no secret."""
    spec = cluster.named("monitoring-dashboard").spec
    assert spec["command"] == ["busybox", "httpd", "-f", "-p", "8080", "-h", "/srv/dashboard"]
    settings = upload(cluster.named("monitoring-dashboard"), "/srv/dashboard/settings.json")
    assert json.loads(settings["content"]) == {"prometheus": "http://127.0.0.1:9090"}
    page = upload(cluster.named("monitoring-dashboard"), "/srv/dashboard/index.html")
    assert "/api/v1/query" in page["content"] and "drills.json" in page["content"]
    assert "http://" not in page["content"].split("<script>")[1]  # nothing fetched from outside


def test_prometheus_allows_only_the_dashboards_origin(cluster: Capture) -> None:
    """Prometheus' default `--web.cors.origin` is `.*`: any page could read it."""
    command = cluster.named("monitoring-prometheus").spec["command"]
    assert r"--web.cors.origin=http://(127\.0\.0\.1|localhost):9091" in command


def test_no_dashboard_port_runs_no_dashboard() -> None:
    capture = run_program(
        "unit",
        {"redis": REDIS, "monitoring": {**MONITORING, "dashboardHostPort": None}},
        {"redisPassword": PASSWORD},
    )
    assert "monitoring-dashboard" not in {r.name for r in capture.resources}
    assert capture.outputs["monitoringDashboardUrl"] == (None, False)
    assert capture.outputs["monitoringDashboardNode"] == (None, False)
    assert "--web.cors.origin=^$" in capture.named("monitoring-prometheus").spec["command"]


def test_off_by_default() -> None:
    assert MonitoringConfig().enabled is False
    assert "monitoring" not in parse_config({}).enabled_components()


@pytest.mark.parametrize(
    ("settings", "path", "message"),
    [
        ({"retention": "7 days"}, "monitoring.retention", "not a retention"),
        ({"retention": "90m"}, "monitoring.retention", "not a retention"),
        ({"image": "prom:latest"}, "monitoring.image", "'latest' is not a pin"),
        ({"scrapeIntervalS": 0}, "monitoring.scrapeIntervalS", "greater than or equal to 1"),
        ({"memoryAlertRatio": 1.5}, "monitoring.memoryAlertRatio", "less than 1"),
        ({"webhookUrl": "ftp://x"}, "monitoring.webhookUrl", "not an http(s) URL"),
        ({"alertmanagerHostPort": 9090}, "monitoring.alertmanagerHostPort", "hostPort's 9090"),
        ({"dashboardHostPort": 9093}, "monitoring.dashboardHostPort", "alertmanagerHostPort's"),
        ({"hostPort": 7001}, "monitoring.hostPort", "overlap redis.hostPortBase's 7000-7005"),
        ({"scrapeInterval": 5}, "monitoring.scrapeInterval", "unknown key"),
    ],
)
def test_bad_input_names_the_field(settings: dict, path: str, message: str) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config({"monitoring": {"enabled": True, **settings}})
    assert [(p.path, message in p.message) for p in caught.value.problems] == [(path, True)]


# --- a new component brings its own targets ------------------------------------------
class PingConfig(ComponentConfig):
    enabled: bool = False


class PingExports(Exports):
    ping_address: str


class Ping(pulumi.ComponentResource):
    def __init__(self, name: str, config: PingConfig, site: Site) -> None:
        super().__init__("test:ping:Ping", name, None, None)
        self.ip = site.ips("apps", 1)[0]
        self.register_outputs({})

    def exports(self) -> dict[str, Any]:
        return PingExports.outputs(ping_address=self.ip)


def build_ping(name: str, config: PingConfig, wiring: Any) -> Ping:
    return Ping(name, config, wiring.site(name))


def ping_targets(ping: Ping) -> list[ScrapeTarget]:
    return [ScrapeTarget("ping", "redis", f"{ping.ip}:6379", {"instance": "ping-0"})]


PING = Component(
    key="ping",
    model=f"{__name__}:PingConfig",
    exports=f"{__name__}:PingExports",
    build=f"{__name__}:build_ping",
    describe=lambda c: "ping",
    scrape=f"{__name__}:ping_targets",
    on_by_default=False,
)


def test_a_registered_component_is_scraped_with_no_other_change() -> None:
    """Registered after monitoring, still built before it and scraped."""
    with REGISTRY.extended(PING):
        capture = run_program(
            "unit",
            {"redis": {"enabled": False}, "ping": {"enabled": True}, "monitoring": MONITORING},
            {"redisPassword": PASSWORD},
        )
    assert jobs(capture)["ping"]["static_configs"] == [
        {
            "targets": ["redis://172.28.0.200:6379"],
            "labels": {"address": "172.28.0.200:6379", "instance": "ping-0"},
        }
    ]
    assert capture.outputs["components"] == (["monitoring", "ping"], False)
