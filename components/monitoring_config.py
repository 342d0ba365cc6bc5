"""Typed config for the monitoring tier (`infra:monitoring`), its exports, and
the scrape targets other components hand it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from components.config_base import ComponentConfig, Exports, check_image, problems_error

_RETENTION_RE = re.compile(r"^[1-9][0-9]*(h|d|w|y)$")


@dataclass(frozen=True)
class ScrapeTarget:
    """One process to scrape, as the component that runs it describes it.

    `exporter` says what can read it: `redis` (Redis nodes and Sentinels,
    through the Redis exporter) or `mongodb` (a mongodb_exporter, which the
    monitoring tier cannot run yet: such targets are listed as unscraped).
    `labels` end up on every series of the target (`node`, `master_set`, ...).
    """

    job: str
    exporter: Literal["redis", "mongodb"]
    address: str
    labels: Mapping[str, str] = field(default_factory=dict)
    # Reached over TLS, verified with the CA the stack gives monitoring.
    tls: bool = False

    def output(self) -> dict[str, Any]:
        return {"job": self.job, "address": self.address, **self.labels}


class MonitoringConfig(ComponentConfig):
    """Prometheus, the Redis exporter and Alertmanager for the stack's data tier.

    Off unless a stack turns it on (`local` does): it needs an image that holds
    all three, which scripts/build-monitoring-image.sh builds from Debian's
    packages. Defaults suit one Docker host: a 5 s scrape interval sees a
    failover (about 6 s) as it happens, and a week of samples for a few dozen
    targets stays well under the Prometheus container's memory.
    """

    enabled: bool = False
    image: str = "infra-local/monitoring:debian"
    scrape_interval_s: int = Field(default=5, ge=1, le=300)
    retention: str = "7d"
    # Prometheus' HTTP API and UI on hostBind; None publishes nothing.
    host_port: int | None = Field(default=9090, ge=1024, le=65535)
    alertmanager_host_port: int | None = Field(default=9093, ge=1024, le=65535)
    # The dashboard page (busybox httpd); None runs no dashboard.
    dashboard_host_port: int | None = Field(default=9091, ge=1024, le=65535)
    memory_mb: int = Field(default=512, ge=128, le=65536)
    # Alert thresholds (docs/monitoring.md).
    replica_lag_bound_s: int = Field(default=10, ge=1, le=3600)
    memory_alert_ratio: float = Field(default=0.9, gt=0, lt=1)
    # How long "a failover happened" keeps firing after a promotion.
    failover_window_s: int = Field(default=300, ge=10, le=86400)
    # Where Alertmanager posts alerts (its webhook format); None: kept in
    # Alertmanager only (its UI and API).
    webhook_url: str | None = None

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image(value)

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        if not _RETENTION_RE.match(value):
            raise ValueError(
                f"'{value}' is not a retention such as '7d', '12h', '2w' or '1y' "
                "(a whole number of hours, days, weeks or years)"
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError(f"'{value}' is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _ports_apart(self) -> MonitoringConfig:
        seen: dict[int, str] = {}
        for name, port, _ in self.host_ports():
            if port in seen:
                raise problems_error(
                    "MonitoringConfig",
                    [
                        (
                            name,
                            f"is monitoring.{seen[port]}'s {port} too (set "
                            f"monitoring.{name} to another port, or null)",
                        )
                    ],
                )
            seen[port] = name
        return self

    def host_ports(self) -> list[tuple[str, int, int]]:
        ports = [
            ("hostPort", self.host_port),
            ("alertmanagerHostPort", self.alertmanager_host_port),
            ("dashboardHostPort", self.dashboard_host_port),
        ]
        return [(name, port, port) for name, port in ports if port is not None]


class MonitoringExports(Exports):
    """Stack outputs of the monitoring tier (components/monitoring.py)."""

    prefix: ClassVar[str] = "monitoring_"
    monitoring_prometheus_url: str | None
    monitoring_alertmanager_url: str | None
    # None also for a stack deployed before the dashboard existed.
    monitoring_dashboard_url: str | None = None
    # The dashboard's container: `infra drill` writes its timeline there.
    monitoring_dashboard_node: str | None = None
    monitoring_targets: list[dict[str, Any]]
    monitoring_unscraped: list[dict[str, Any]]
