"""The one place that reads a stack's outputs, through the tier's typed exports.

The stack outputs are parsed with the same `Exports` models the components
export them with (components/redis_config.py), so a renamed or missing output
is an error that names it. Everything else in cachekit works on `TierOutputs`.
Reading a deployed stack shells out to `infra outputs` (the repo's own command)
instead of importing Pulumi: cachekit must stay importable by applications that
never touch Pulumi (the exports models are pydantic only).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.ops.cluster import host_endpoint
from components.redis_config import RedisClusterExports, RedisSentinelExports

MODE = "redisMode"


@dataclass(frozen=True)
class TierOutputs:
    """What cachekit needs from a deployed tier, whatever the output names are."""

    mode: str
    password: str | None
    host_address_map: dict[str, str] = field(default_factory=dict)
    sentinels: list[tuple[str, int]] = field(default_factory=list)
    master_sets: list[str] = field(default_factory=list)
    url: str | None = None
    # redis.tls: the CA the nodes' certificates chain to (None: plaintext).
    ca_pem: str | None = None
    # Who `password` logs in as (redis.defaultUser: disabled); None: `default`.
    username: str | None = None


def from_mapping(outputs: Mapping[str, Any]) -> TierOutputs:
    """Read the outputs `infra outputs STACK --json --show-secrets` prints."""
    mode = outputs.get(MODE)
    if mode not in ("cluster", "sentinel"):
        raise ValueError(f"unknown {MODE} {mode!r}: expected 'cluster' or 'sentinel'")
    if mode == "cluster":
        cluster = RedisClusterExports.read(outputs)
        password, remap = cluster.redis_password, cluster.redis_host_address_map
        return TierOutputs(
            "cluster",
            _shown(password),
            dict(remap),
            url=cluster.redis_url,
            ca_pem=cluster.redis_ca_cert,
            username=cluster.redis_admin_user,
        )
    tier = RedisSentinelExports.read(outputs)
    remap = tier.redis_host_address_map
    sentinels = [_host(remap, s.ip, s.port, s.host_port) for s in tier.redis_sentinels]
    return TierOutputs(
        mode="sentinel",
        password=_shown(tier.redis_password),
        host_address_map=dict(remap),
        sentinels=sentinels,
        master_sets=list(tier.redis_master_sets),
        ca_pem=tier.redis_ca_cert,
        username=tier.redis_admin_user,
    )


def _shown(password: str) -> str:
    if password == "[secret]":
        raise ValueError("redisPassword is hidden: read the outputs with --show-secrets")
    return password


def _host(remap: Mapping[str, str], ip: str, port: int, host_port: int | None) -> tuple[str, int]:
    """Where this host reaches a node: the address map, else its published port."""
    if f"{ip}:{port}" in remap:
        return host_endpoint(remap, ip, port)
    if host_port is None:
        raise ValueError(f"{ip}:{port} is not published on this host (hostPort is unset)")
    return "127.0.0.1", host_port


def infra_command() -> str:
    """The repo's `infra` wrapper when run from a checkout, else the console script."""
    wrapper = Path(__file__).resolve().parents[1] / "infra"
    if wrapper.is_file():
        return str(wrapper)
    found = shutil.which("infra")
    if not found:
        raise FileNotFoundError("no `infra` command: install the repo (pip install -e .)")
    return found


def from_stack(stack: str, timeout: float = 120.0) -> TierOutputs:
    """Outputs of a deployed stack, through `infra outputs STACK --json --show-secrets`."""
    done = subprocess.run(
        [infra_command(), "outputs", stack, "--json", "--show-secrets"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`infra outputs {stack}` failed ({done.returncode}): {done.stderr}")
    return from_mapping(json.loads(done.stdout))
