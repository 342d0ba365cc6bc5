"""The alert rules and the generated configs, checked by the tools that will load
them: promtool (`test rules`, `check config`) and amtool from the monitoring
image (scripts/build-monitoring-image.sh), on the real Docker engine.

The promtool unit tests (fixtures/monitoring/*.test.yml) run against the
generated rules with the annotations left out, so that a reworded runbook does
not need a fixture change; the annotations themselves are checked by
`promtool check config` (templates parse) and by one expansion test below.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from components import monitoring, monitoring_rules
from components.monitoring_config import MonitoringConfig, ScrapeTarget
from tests.support import dockerenv

IMAGE = "infra-local/monitoring:debian"
FIXTURES = Path(__file__).parent / "fixtures" / "monitoring"
TEST_FILES = sorted(FIXTURES.glob("*.test.yml"))
CONFIG = MonitoringConfig(enabled=True)


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    try:
        made = dockerenv.docker_client()
        dockerenv.require_image(made, IMAGE)
    except RuntimeError as exc:
        pytest.fail(f"{exc} (scripts/build-monitoring-image.sh builds it)", pytrace=False)
    yield made
    made.close()


def run_tool(client: docker.DockerClient, workdir: Path, *command: str) -> tuple[int, str]:
    """`command` in the monitoring image with `workdir` at /work; exit code and output."""
    container = client.containers.run(
        IMAGE,
        list(command),
        volumes={str(workdir): {"bind": "/work", "mode": "rw"}},
        working_dir="/work",
        labels={"infra.test-run": "monitoring-rules"},
        detach=True,
    )
    try:
        code = container.wait(timeout=60)["StatusCode"]
        return code, container.logs().decode()
    finally:
        container.remove(force=True)


def without_annotations(rules: dict[str, Any]) -> dict[str, Any]:
    groups = [
        {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
        for g in rules["groups"]
    ]
    return {"groups": groups}


def write_yaml(path: Path, document: Any) -> None:
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1000))


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(
    client: docker.DockerClient, tmp_path: Path, test_file: Path
) -> None:
    write_yaml(tmp_path / "rules.yml", without_annotations(monitoring_rules.rules(CONFIG)))
    shutil.copy(test_file, tmp_path)
    code, out = run_tool(client, tmp_path, "promtool", "test", "rules", test_file.name)
    assert code == 0, out
    assert "SUCCESS" in out


def test_every_alert_has_a_test_that_fires_it_and_one_that_does_not() -> None:
    fired, quiet = set(), set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {a.name for a in monitoring_rules.all_alerts(CONFIG)}
    assert names - fired == set()
    # Persistence alerts have no `for`: their quiet case is the healthy value before.
    assert names - quiet == {"RedisAofWriteFailed", "RedisAofRewriteFailed"}


def test_every_alert_has_a_summary_a_runbook_and_a_severity() -> None:
    alerts = monitoring_rules.all_alerts(CONFIG)
    assert len({a.name for a in alerts}) == len(alerts)
    for alert in alerts:
        assert alert.severity in ("critical", "warning"), alert.name
        assert len(alert.summary) > 20 and len(alert.runbook) > 40, alert.name


def test_thresholds_follow_the_config() -> None:
    config = MonitoringConfig(
        enabled=True, replica_lag_bound_s=3, memory_alert_ratio=0.75, failover_window_s=60
    )
    exprs = {a.name: a.expr for a in monitoring_rules.all_alerts(config)}
    assert exprs["RedisReplicaLagging"] == "redis_connected_slave_lag_seconds > 3"
    assert "> 0.75" in exprs["RedisMemoryNearMax"]
    assert "[60s]" in exprs["RedisFailover"]
    assert exprs["MongoReplicationLag"].endswith("> 3")


def test_annotations_expand_with_the_alert_labels(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    """The one place the annotations are compared: TargetDown's, as Alertmanager gets them."""
    write_yaml(tmp_path / "full.yml", monitoring_rules.rules(CONFIG))
    [alert] = [a for a in monitoring_rules.target_alerts() if a.name == "TargetDown"]
    test = {
        "rule_files": ["full.yml"],
        "evaluation_interval": "5s",
        "tests": [
            {
                "interval": "5s",
                "input_series": [{"series": 'up{job="sentinel", instance="s0"}', "values": "0x10"}],
                "alert_rule_test": [
                    {
                        "eval_time": "40s",
                        "alertname": "TargetDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "critical",
                                    "job": "sentinel",
                                    "instance": "s0",
                                },
                                "exp_annotations": {
                                    "summary": "Prometheus cannot scrape sentinel target s0",
                                    "runbook": alert.runbook,
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    write_yaml(tmp_path / "expand.test.yml", test)
    code, out = run_tool(client, tmp_path, "promtool", "test", "rules", "expand.test.yml")
    assert code == 0, out


def sample_targets() -> list[ScrapeTarget]:
    return [
        ScrapeTarget("redis", "redis", "172.28.0.10:6379", {"instance": "infra-t-redis-0"}),
        ScrapeTarget("sentinel", "redis", "172.28.0.90:26379", {"instance": "infra-t-s-0"}),
        ScrapeTarget("mongodb", "mongodb", "172.28.0.100:27017", {"instance": "infra-t-mongo-0"}),
    ]


def test_promtool_accepts_the_generated_config_and_rules(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    """The config as the component uploads it, with the rule file at its path."""
    ips = ["172.28.0.250", "172.28.0.251", "172.28.0.252"]
    conf = yaml.safe_load(monitoring.prometheus_conf(CONFIG, sample_targets(), ips))
    conf["rule_files"] = ["rules.yml"]
    write_yaml(tmp_path / "prometheus.yml", conf)
    (tmp_path / "rules.yml").write_text(monitoring.rules_text(CONFIG))
    code, out = run_tool(client, tmp_path, "promtool", "check", "config", "prometheus.yml")
    assert code == 0, out
    alerts = len(monitoring_rules.all_alerts(CONFIG))
    assert f"SUCCESS: {alerts + 1} rules found" in out  # and the recording rule


@pytest.mark.parametrize("webhook", [None, "http://127.0.0.1:5001/hook"])
def test_amtool_accepts_the_alertmanager_config(
    client: docker.DockerClient, tmp_path: Path, webhook: str | None
) -> None:
    config = MonitoringConfig(enabled=True, webhook_url=webhook)
    (tmp_path / "alertmanager.yml").write_text(monitoring.alertmanager_conf(config))
    code, out = run_tool(client, tmp_path, "amtool", "check-config", "alertmanager.yml")
    assert code == 0, out
    assert "SUCCESS" in out and " - 1 receivers" in out
    [receiver] = yaml.safe_load(monitoring.alertmanager_conf(config))["receivers"]
    hooks = receiver.get("webhook_configs", [])
    assert hooks == ([{"url": webhook, "send_resolved": True}] if webhook else [])
