"""Helpers for tests and benchmarks that run on a real Docker engine."""

from __future__ import annotations

import ipaddress
import os
import platform
import random
import secrets
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import docker

from cli.ops import waiting

LOCAL_REDIS_IMAGE = os.environ.get("INFRA_REDIS_IMAGE", "infra-local/redis:debian")


def docker_client() -> docker.DockerClient:
    """A client for the running engine, or a clear error naming the fix."""
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # any failure here means "no engine"
        raise RuntimeError(
            f"no Docker engine answers ({exc}); start one with scripts/setup-docker.sh"
        ) from exc
    return client


def require_image(client: docker.DockerClient, image: str = LOCAL_REDIS_IMAGE) -> str:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound as exc:
        raise RuntimeError(f"image {image} is missing: run scripts/build-redis-image.sh") from exc
    return image


def machine_facts(client: docker.DockerClient, image: str) -> dict[str, object]:
    """What a benchmark's figures were measured on, as its JSON records it."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "docker": client.version()["Version"],
        "image": image,
    }


def run_id() -> str:
    return uuid.uuid4().hex[:8]


def password() -> str:
    return secrets.token_urlsafe(24)


def free_subnet(client: docker.DockerClient) -> str:
    """A /24 in 172.30.0.0/16 that no Docker network on this engine uses."""
    used = []
    for net in client.networks.list():
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet") and ":" not in cfg["Subnet"]:
                used.append(ipaddress.IPv4Network(cfg["Subnet"]))
    candidates = list(ipaddress.IPv4Network("172.30.0.0/16").subnets(new_prefix=24))
    random.shuffle(candidates)
    for cand in candidates:
        if not any(cand.overlaps(u) for u in used):
            return str(cand)
    raise RuntimeError("no free /24 in 172.30.0.0/16")


def free_port_block(count: int, avoid: range = range(0)) -> int:
    """A base port such that base..base+count-1 are free on 127.0.0.1 (and outside
    `avoid`), below the kernel's ephemeral range: tests and benchmarks open many
    short client connections, and one of their source ports can take a published
    port while its container is down (`docker start` then fails: address in use)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randrange(20000, low - count)
        block = range(base, base + count)
        if set(block) & set(avoid):
            continue
        if all(_port_free(p) for p in block):
            return base
    raise RuntimeError("no free port block below the ephemeral port range")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Seconds until `predicate()` held; raises TimeoutError after `timeout`."""
    return waiting.wait_until(predicate, timeout, "the condition", interval=interval)


def run_app_container(
    client: docker.DockerClient,
    image: str,
    network: str,
    ip: str,
    script: str,
    environment: dict[str, str],
    run: str,
) -> list[str]:
    """Run `sh -c script` as an application container at `ip` on the stack's
    network, the way an app would reach the tier; returns its output words."""
    net = client.networks.get(network)
    container = client.containers.create(
        image,
        ["sh", "-c", script],
        environment=environment,
        labels={"infra.test-run": run},
        network=net.name,
    )
    try:
        net.disconnect(container)
        net.connect(container, ipv4_address=ip)
        container.start()
        status = container.wait(timeout=60)["StatusCode"]
        output = container.logs().decode()
        assert status == 0, output
        return output.split()
    finally:
        container.remove(force=True)
