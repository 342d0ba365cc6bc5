"""Start captured pulumi-docker specs on a real Docker engine (Docker SDK).

This is a faithful, deliberately small stand-in for the docker provider, which
cannot be installed on these machines. Every input the program sets is either
translated or refused: a spec field this module does not understand fails the
test instead of being silently dropped.
"""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.types import Healthcheck, IPAMConfig, IPAMPool, LogConfig

from tests.support.capture import Capture, Resource

NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"

CONTAINER_FIELDS = {
    "name",
    "hostname",
    "image",
    "command",
    "entrypoints",
    "envs",
    "uploads",
    "networksAdvanced",
    "ports",
    "volumes",
    "healthcheck",
    "restart",
    "maxRetryCount",
    "memory",
    "mustRun",
    "wait",
    "waitTimeout",
    "logDriver",
    "logOpts",
    "labels",
    "user",
    "workingDir",
    "init",
    "destroyGraceSeconds",
    "attach",
    "logs",
}
TEST_LABEL = "infra.test-run"


class UnsupportedSpec(AssertionError):
    pass


def duration_ns(text: str) -> int:
    total = 0.0
    for amount, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", text):
        total += float(amount) * {"ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return int(total * 1e9)


def _labels(items: Iterable[dict[str, str]] | None, run_id: str) -> dict[str, str]:
    out = {item["label"]: item["value"] for item in items or []}
    out[TEST_LABEL] = run_id
    return out


def _tar(uploads: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for upload in uploads:
            if "source" in upload or "contentBase64" in upload:
                raise UnsupportedSpec(f"upload field not supported: {sorted(upload)}")
            data = upload["content"].encode()
            info = tarfile.TarInfo(upload["file"].lstrip("/"))
            info.size = len(data)
            mode = int(upload.get("permissions", "0644"), 8)
            info.mode = 0o755 if upload.get("executable") else mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class Applied:
    """What was started; `destroy()` removes all of it."""

    client: docker.DockerClient
    run_id: str
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    started_at: dict[str, float] = field(default_factory=dict)

    def destroy(self) -> None:
        for name in reversed(self.containers):
            _ignore_missing(lambda n=name: self.client.containers.get(n).remove(force=True, v=True))
        for name in self.volumes:
            _ignore_missing(lambda n=name: self.client.volumes.get(n).remove(force=True))
        for name in self.networks:
            _ignore_missing(lambda n=name: self.client.networks.get(n).remove())


def _ignore_missing(action: Any) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        action()


class Applier:
    def __init__(self, client: docker.DockerClient, run_id: str) -> None:
        self.client = client
        self.applied = Applied(client, run_id)
        self.run_id = run_id
        self.pending: dict[str, tuple[float, str]] = {}

    def wait_pending(self, only: list[str] | None = None) -> None:
        for name, (timeout, logical) in list(self.pending.items()):
            if only is None or logical in only:
                self.wait_healthy(name, timeout)
                del self.pending[name]

    def apply(self, capture: Capture, only: set[str] | None = None) -> Applied:
        """Create resources in registration order, waiting where `wait` is set."""
        for res in capture.resources:
            if not res.custom or (only is not None and res.name not in only):
                continue
            handler = {
                NETWORK: self.network,
                VOLUME: self.volume,
                IMAGE: self.image,
                CONTAINER: self.container,
            }.get(res.type)
            if handler is None:
                raise UnsupportedSpec(f"{res.name}: resource type {res.type} is not applied")
            handler(res)
        self.wait_pending()
        return self.applied

    def network(self, res: Resource) -> None:
        spec = res.spec
        ipam = None
        if spec.get("ipamConfigs"):
            pools = [
                IPAMPool(subnet=c["subnet"], gateway=c.get("gateway")) for c in spec["ipamConfigs"]
            ]
            ipam = IPAMConfig(pool_configs=pools)
        self.client.networks.create(
            spec["name"],
            driver=spec.get("driver", "bridge"),
            ipam=ipam,
            labels=_labels(spec.get("labels"), self.run_id),
        )
        self.applied.networks.append(spec["name"])

    def volume(self, res: Resource) -> None:
        spec = res.spec
        self.client.volumes.create(spec["name"], labels=_labels(spec.get("labels"), self.run_id))
        self.applied.volumes.append(spec["name"])

    def image(self, res: Resource) -> None:
        # The provider pulls when the image is missing; no registry is reachable
        # here, so the image must have been built locally.
        self.client.images.get(res.spec["name"])

    def container(self, res: Resource) -> None:
        spec = res.spec
        unknown = set(spec) - CONTAINER_FIELDS
        if unknown:
            raise UnsupportedSpec(f"{res.name}: container fields not applied: {sorted(unknown)}")
        api = self.client.api
        name = spec["name"]
        nets = spec.get("networksAdvanced") or []
        networking = None
        if nets:
            first = nets[0]
            networking = api.create_networking_config(
                {
                    first["name"]: api.create_endpoint_config(
                        ipv4_address=first.get("ipv4Address"), aliases=first.get("aliases")
                    )
                }
            )
        ports = spec.get("ports") or []
        host_config = api.create_host_config(
            port_bindings={
                int(p["internal"]): (p.get("ip", "0.0.0.0"), int(p["external"]))
                for p in ports
                if p.get("external")
            },
            binds={
                v["volumeName"]: {"bind": v["containerPath"], "mode": "rw"}
                for v in spec.get("volumes") or []
            },
            restart_policy=self._restart(spec),
            mem_limit=f"{int(spec['memory'])}m" if spec.get("memory") else None,
            log_config=LogConfig(
                type=spec.get("logDriver", "json-file"), config=spec.get("logOpts") or {}
            ),
            init=spec.get("init"),
        )
        created = api.create_container(
            spec["image"],
            command=spec.get("command"),
            entrypoint=spec.get("entrypoints"),
            name=name,
            hostname=spec.get("hostname"),
            environment=spec.get("envs"),
            labels=_labels(spec.get("labels"), self.run_id),
            ports=[int(p["internal"]) for p in ports],
            host_config=host_config,
            networking_config=networking,
            healthcheck=self._healthcheck(spec.get("healthcheck")),
            user=spec.get("user"),
            working_dir=spec.get("workingDir"),
        )
        self.applied.containers.append(name)
        for extra in nets[1:]:
            self.client.networks.get(extra["name"]).connect(
                name, ipv4_address=extra.get("ipv4Address"), aliases=extra.get("aliases")
            )
        if spec.get("uploads"):
            api.put_archive(created["Id"], "/", _tar(spec["uploads"]))
        # Like the engine: a resource starts once what it depends on is ready
        # (for a container with `wait`, healthy).
        self.wait_pending(res.dependencies)
        api.start(created["Id"])
        self.applied.started_at[name] = time.monotonic()
        if spec.get("wait"):
            self.pending[name] = (float(spec.get("waitTimeout", 60)), res.name)

    @staticmethod
    def _restart(spec: dict[str, Any]) -> dict[str, Any] | None:
        policy = spec.get("restart", "no")
        if policy == "no":
            return None
        out: dict[str, Any] = {"Name": policy}
        if policy == "on-failure" and spec.get("maxRetryCount"):
            out["MaximumRetryCount"] = int(spec["maxRetryCount"])
        return out

    @staticmethod
    def _healthcheck(spec: dict[str, Any] | None) -> Healthcheck | None:
        if not spec:
            return None
        return Healthcheck(
            test=spec["tests"],
            interval=duration_ns(spec.get("interval", "30s")),
            timeout=duration_ns(spec.get("timeout", "30s")),
            retries=int(spec.get("retries", 3)),
            start_period=duration_ns(spec.get("startPeriod", "0s")),
        )

    def wait_healthy(self, name: str, timeout: float) -> None:
        """Like the provider's `wait`: healthy within the timeout, or fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.client.api.inspect_container(name)["State"]
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy":
                return
            if not state.get("Running"):
                logs = self.client.api.logs(name, tail=30).decode(errors="replace")
                raise AssertionError(f"{name} exited ({state.get('ExitCode')}):\n{logs}")
            time.sleep(0.2)
        logs = self.client.api.logs(name, tail=30).decode(errors="replace")
        raise AssertionError(f"{name} not healthy after {timeout:.0f}s:\n{logs}")


def sweep(client: docker.DockerClient, run_id: str | None = None) -> None:
    """Remove everything a test run labelled (one run, or every run)."""
    filters = {"label": f"{TEST_LABEL}={run_id}" if run_id else TEST_LABEL}
    for c in client.containers.list(all=True, filters=filters):
        c.remove(force=True, v=True)
    for v in client.volumes.list(filters=filters):
        _ignore_missing(lambda v=v: v.remove(force=True))
    for n in client.networks.list(filters=filters):
        _ignore_missing(n.remove)
