"""`infra:monitoring:Stack`: Prometheus, the Redis exporter and Alertmanager on Docker.

The scrape targets are not this component's to know: the stack hands it the
targets every other component declares (stacks/registry.py, `scrape`), so a
new component is scraped without a change here. One Redis exporter serves
every Redis node and Sentinel through its multi-target endpoint
(`/scrape?target=redis://ip:port`): Prometheus passes each target, and the
exporter reads the password for it from a file, so the password is in no
command line, environment variable or Prometheus config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker
import yaml

from components import docker_node as dn
from components import monitoring_rules
from components.base import InfraComponent
from components.monitoring_config import MonitoringConfig, MonitoringExports, ScrapeTarget

PROMETHEUS_PORT = 9090
EXPORTER_PORT = 9121
ALERTMANAGER_PORT = 9093
DASHBOARD_PORT = 8080
DASHBOARD_ROOT = "/srv/dashboard"
DASHBOARD_PAGE = Path(__file__).with_name("dashboard.html")
PROMETHEUS_CONF = "/etc/prometheus/prometheus.yml"
RULES_FILE = "/etc/prometheus/rules/infra.yml"
ALERTMANAGER_CONF = "/etc/alertmanager/alertmanager.yml"
PASSWORD_FILE = "/etc/redis-exporter/passwords.json"
CA_FILE = "/etc/redis-exporter/ca.crt"
# The exporter and Alertmanager keep little: a fixed small limit each.
SIDE_MEMORY_MB = 64


def http_ready(port: int, path: str) -> docker.ContainerHealthcheckArgs:
    return dn.shell_healthcheck(f"wget -qO- http://127.0.0.1:{port}{path} >/dev/null")


def connection_timeout_ms(config: MonitoringConfig) -> int:
    """Half the scrape interval (Prometheus' scrape timeout), at most 3 s.

    A stopped node's address answers nothing, and the exporter's default 15 s
    connect timeout outlasts the scrape: Prometheus would then see the target as
    failing (`up` 0, no `redis_up` at all) instead of reading `redis_up 0`, and
    RedisDown would never fire (seen with a killed master)."""
    return min(config.scrape_interval_s * 500, 3000)


def redis_url(target: ScrapeTarget) -> str:
    return f"{'rediss' if target.tls else 'redis'}://{target.address}"


def scrape_jobs(targets: Sequence[ScrapeTarget], exporter: str) -> list[dict[str, Any]]:
    """One job per kind of Redis target, read through the exporter: the target
    is passed as `?target=`, and `instance` is the node's name (set by the
    target's labels), which alerts and `docker` commands both understand."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    for t in targets:
        if t.exporter == "redis":
            group = {"targets": [redis_url(t)], "labels": {"address": t.address, **t.labels}}
            jobs.setdefault(t.job, []).append(group)
    return [
        {
            "job_name": job,
            "metrics_path": "/scrape",
            "static_configs": groups,
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"target_label": "__address__", "replacement": exporter},
            ],
        }
        for job, groups in jobs.items()
    ]


def static_job(job: str, target: str) -> dict[str, Any]:
    return {"job_name": job, "static_configs": [{"targets": [target]}]}


def prometheus_conf(
    config: MonitoringConfig, targets: Sequence[ScrapeTarget], ips: list[str]
) -> str:
    _, exporter_ip, alertmanager_ip = ips
    interval = f"{config.scrape_interval_s}s"
    alertmanager = f"{alertmanager_ip}:{ALERTMANAGER_PORT}"
    own = [
        static_job("prometheus", f"localhost:{PROMETHEUS_PORT}"),
        static_job("alertmanager", alertmanager),
    ]
    document = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [RULES_FILE],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": own + scrape_jobs(targets, f"{exporter_ip}:{EXPORTER_PORT}"),
    }
    return yaml.safe_dump(document, sort_keys=False)


def rules_text(config: MonitoringConfig) -> str:
    return yaml.safe_dump(monitoring_rules.rules(config), sort_keys=False, width=1000)


def alertmanager_conf(config: MonitoringConfig) -> str:
    """One receiver: the webhook when set, else none (alerts stay visible in
    Alertmanager's UI and API). Resolved alerts are sent too, so a receiver
    sees a failover end."""
    receiver: dict[str, Any] = {"name": "default"}
    if config.webhook_url:
        receiver["webhook_configs"] = [{"url": config.webhook_url, "send_resolved": True}]
    document = {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "instance"],
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": "4h",
        },
        "receivers": [receiver],
    }
    return yaml.safe_dump(document, sort_keys=False)


def password_file(targets: Sequence[ScrapeTarget], password: str) -> str:
    """The exporter's `-redis.password-file`: target URL -> password."""
    return json.dumps({redis_url(t): password for t in targets if t.exporter == "redis"})


def host_url(bind: str, port: int | None) -> str | None:
    if port is None:
        return None
    host = "127.0.0.1" if bind in ("0.0.0.0", "") else bind
    return f"http://{host}:{port}"


def cors_origin(bind: str, port: int | None) -> str:
    """Prometheus' `--web.cors.origin`: only the dashboard's page may read its
    API from a browser. Prometheus 2.42's default, `.*`, lets any page the
    user opens query it; with no dashboard, no origin at all."""
    if port is None:
        return "^$"
    hosts = sorted({"127.0.0.1", "localhost", str(host_url(bind, port))[7:].rsplit(":", 1)[0]})
    return f"http://({'|'.join(re.escape(h) for h in hosts)}):{port}"


def dashboard_settings(prometheus_url: str | None) -> str:
    """What the page reads first: where Prometheus answers (never a secret)."""
    return json.dumps({"prometheus": prometheus_url})


class Monitoring(InfraComponent):
    """Prometheus, its rules and Alertmanager, plus one Redis exporter.

    Prometheus keeps its samples on a named volume (they survive a container
    replacement); Alertmanager keeps only silences and notification state, in
    the container. All three sit at fixed addresses of the stack network's
    monitoring block; Prometheus and Alertmanager are published on `host_bind`.
    """

    exports_model = MonitoringExports
    prometheus_url: pulumi.Output[str | None]
    dashboard_url: pulumi.Output[str | None]
    dashboard_node: pulumi.Output[str | None]
    alertmanager_url: pulumi.Output[str | None]
    targets: pulumi.Output[list[dict[str, Any]]]
    unscraped: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        config: MonitoringConfig,
        site: dn.Site,
        targets: Sequence[ScrapeTarget],
        redis_password: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
        redis_ca: pulumi.Input[str] | None = None,
        redis_user: str | None = None,
    ) -> None:
        super().__init__("infra:monitoring:Stack", name, None, opts)
        self.config, self.site = config, site
        ips = site.ips("monitoring", 4)
        image = dn.node_image(name, config.image, self)
        scraped = [t for t in targets if t.exporter == "redis"]
        if scraped and redis_password is None:
            raise ValueError(f"{name}: Redis targets given without the Redis password")
        if any(t.tls for t in scraped) and redis_ca is None:
            raise ValueError(f"{name}: TLS Redis targets given without the stack's CA")
        self._exporter(name, ips[1], image, scraped, redis_password or "", redis_user, redis_ca)
        self._alertmanager(name, ips[2], image)
        self._prometheus(name, ips[:3], image, targets)
        if config.dashboard_host_port is not None:
            self._dashboard(name, ips[3], image)
        self._set_outputs(name, scraped, [t for t in targets if t not in scraped])

    def _container(
        self, name: str, role: str, ip: str, image: docker.RemoteImage, **spec: Any
    ) -> docker.Container:
        node = f"{self.site.prefix}-{role}"
        spec.setdefault("memory", SIDE_MEMORY_MB)
        return dn.service_container(
            f"{name}-{role}",
            name=node,
            hostname=node,
            image=image.image_id,
            networks_advanced=dn.network_attachment(self.site.network, ip, [node]),
            wait_timeout=60,
            labels={**self.site.labels, "infra.role": f"monitoring-{role}"},
            parent=self,
            **spec,
        )

    def _exporter(
        self,
        name: str,
        ip: str,
        image: docker.RemoteImage,
        targets: list[ScrapeTarget],
        password: pulumi.Input[str],
        user: str | None,
        ca: pulumi.Input[str] | None,
    ) -> docker.Container:
        """With TLS targets the exporter verifies them with the stack's CA (it
        checks the node's address against the certificate's IP SANs). With
        `redis.defaultUser: disabled` it logs in as infra's user (`-redis.user`),
        whose password it is then."""
        secret = pulumi.Output.secret(password)
        passwords = secret.apply(lambda pw: password_file(targets, pw))
        options = [] if ca is None else [f"-tls-ca-cert-file={CA_FILE}"]
        options += [] if user is None else [f"-redis.user={user}"]
        ca_upload = (
            []
            if ca is None
            else [docker.ContainerUploadArgs(file=CA_FILE, content=ca, permissions="0644")]
        )
        return self._container(
            name,
            "exporter",
            ip,
            image,
            command=[
                "prometheus-redis-exporter",
                f"-redis.password-file={PASSWORD_FILE}",
                f"-web.listen-address=:{EXPORTER_PORT}",
                # Its own /metrics would scrape redis://localhost:6379, which is nothing here.
                "-redis.addr=",
                f"-connection-timeout={connection_timeout_ms(self.config)}ms",
                *options,
            ],
            uploads=[
                docker.ContainerUploadArgs(
                    file=PASSWORD_FILE, content=passwords, permissions="0600"
                ),
                *ca_upload,
            ],
            healthcheck=http_ready(EXPORTER_PORT, "/health"),
        )

    def _alertmanager(self, name: str, ip: str, image: docker.RemoteImage) -> docker.Container:
        port = self.config.alertmanager_host_port
        return self._container(
            name,
            "alertmanager",
            ip,
            image,
            command=[
                "prometheus-alertmanager",
                f"--config.file={ALERTMANAGER_CONF}",
                "--storage.path=/alertmanager",
                f"--web.listen-address=:{ALERTMANAGER_PORT}",
                # A single Alertmanager: no gossip port, no peers to look for.
                "--cluster.listen-address=",
            ],
            uploads=[
                docker.ContainerUploadArgs(
                    file=ALERTMANAGER_CONF, content=alertmanager_conf(self.config)
                )
            ],
            ports=dn.Node("alertmanager", ip, ALERTMANAGER_PORT, port).published(
                self.site.host_bind
            ),
            healthcheck=http_ready(ALERTMANAGER_PORT, "/-/ready"),
        )

    def _prometheus(
        self,
        name: str,
        ips: list[str],
        image: docker.RemoteImage,
        targets: Sequence[ScrapeTarget],
    ) -> docker.Container:
        config = self.config
        node = f"{self.site.prefix}-prometheus"
        volume = dn.data_volume(f"{name}-data", node, self.site.labels, self)
        return self._container(
            name,
            "prometheus",
            ips[0],
            image,
            command=[
                "prometheus",
                f"--config.file={PROMETHEUS_CONF}",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={config.retention}",
                f"--web.listen-address=:{PROMETHEUS_PORT}",
                f"--web.cors.origin={cors_origin(self.site.url_host, config.dashboard_host_port)}",
            ],
            uploads=[
                docker.ContainerUploadArgs(
                    file=PROMETHEUS_CONF, content=prometheus_conf(config, targets, ips)
                ),
                docker.ContainerUploadArgs(file=RULES_FILE, content=rules_text(config)),
            ],
            ports=dn.Node(node, ips[0], PROMETHEUS_PORT, config.host_port).published(
                self.site.host_bind
            ),
            volumes=dn.volume_mount(volume, "/prometheus"),
            healthcheck=http_ready(PROMETHEUS_PORT, "/-/ready"),
            memory=config.memory_mb,
            stop_grace_s=30,  # a clean stop writes the head block; a kill replays the WAL
        )

    def _dashboard(self, name: str, ip: str, image: docker.RemoteImage) -> docker.Container:
        """busybox httpd serving one static page and what `infra drill` writes
        next to it (drills.json); it holds nothing else, so no secret."""
        bind = self.site.host_bind
        return self._container(
            name,
            "dashboard",
            ip,
            image,
            command=["busybox", "httpd", "-f", "-p", str(DASHBOARD_PORT), "-h", DASHBOARD_ROOT],
            uploads=[
                docker.ContainerUploadArgs(
                    file=f"{DASHBOARD_ROOT}/index.html", content=DASHBOARD_PAGE.read_text()
                ),
                docker.ContainerUploadArgs(
                    file=f"{DASHBOARD_ROOT}/settings.json",
                    content=dashboard_settings(host_url(self.site.url_host, self.config.host_port)),
                ),
            ],
            ports=dn.Node(
                "dashboard", ip, DASHBOARD_PORT, self.config.dashboard_host_port
            ).published(bind),
            healthcheck=http_ready(DASHBOARD_PORT, "/settings.json"),
            memory=16,
        )

    def _set_outputs(
        self, name: str, scraped: list[ScrapeTarget], unscraped: list[ScrapeTarget]
    ) -> None:
        if unscraped:
            jobs = sorted({t.job for t in unscraped})
            pulumi.log.warn(
                f"{name}: {len(unscraped)} {'/'.join(jobs)} target(s) not scraped: no "
                "exporter for them can be run here (docs/monitoring.md)"
            )
        bind = self.site.url_host
        self.prometheus_url = pulumi.Output.from_input(host_url(bind, self.config.host_port))
        self.alertmanager_url = pulumi.Output.from_input(
            host_url(bind, self.config.alertmanager_host_port)
        )
        dashboard = self.config.dashboard_host_port
        self.dashboard_url = pulumi.Output.from_input(host_url(bind, dashboard))
        node = None if dashboard is None else f"{self.site.prefix}-dashboard"
        self.dashboard_node = pulumi.Output.from_input(node)
        self.targets = pulumi.Output.from_input([t.output() for t in scraped])
        self.unscraped = pulumi.Output.from_input([t.output() for t in unscraped])
        self.register_outputs(
            {
                "prometheusUrl": self.prometheus_url,
                "alertmanagerUrl": self.alertmanager_url,
                "dashboardUrl": self.dashboard_url,
                "dashboardNode": self.dashboard_node,
                "targets": self.targets,
                "unscraped": self.unscraped,
            }
        )
