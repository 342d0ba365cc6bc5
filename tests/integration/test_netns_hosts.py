"""tests/support/netns_hosts.py gives real "several Docker hosts" on one machine.

Proves, on two hosts in their own network namespaces: each engine answers; a
port a container publishes on host1's address is reachable from the machine
and from a container on host2 (so hosts reach each other); cut() makes host1
unreachable and restore() brings it back; stop_engine() (power-loss-like)
takes the container down and start_engine() brings it back through its
restart policy. Then that remove_hosts leaves nothing behind: no namespace,
link, bridge, process, dir, mount or iptables rule.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import dockerenv
from tests.support.netns_hosts import (
    NETNS_DIR,
    NetnsHost,
    bridge_name,
    create_hosts,
    load_image,
    prefix_dir,
    remove_hosts,
)

pytestmark = pytest.mark.integration

PREFIX = "itest"
PORT = 7100
IMAGE = dockerenv.LOCAL_REDIS_IMAGE


@pytest.fixture(scope="module")
def hosts(redis_image: str) -> Iterator[list[NetnsHost]]:
    created = create_hosts(2, prefix=PREFIX, subnet_index=3)
    try:
        yield created
    finally:
        remove_hosts(created)


def answers(address: str, timeout: float = 2.0) -> bool:
    client = redis.Redis(
        host=address,
        port=PORT,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),  # one attempt: the test times how long failing takes
    )
    try:
        return bool(client.ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return False
    finally:
        client.close()


def wait_answers(address: str, timeout: float) -> float:
    return dockerenv.wait_for(lambda: answers(address), timeout, interval=0.2)


def run_server(host: NetnsHost) -> None:
    load_image(host, IMAGE)
    client = host.client()
    client.containers.run(
        IMAGE,
        ["redis-server", "--port", str(PORT), "--protected-mode", "no"],
        name="server",
        detach=True,
        ports={f"{PORT}/tcp": (host.address, PORT)},
        restart_policy={"Name": "unless-stopped"},
    )
    client.close()


def ping_from(host: NetnsHost, target: str) -> str:
    load_image(host, IMAGE)
    client = host.client()
    try:
        out = client.containers.run(
            IMAGE, ["redis-cli", "-h", target, "-p", str(PORT), "ping"], remove=True
        )
    finally:
        client.close()
    return bytes(out).decode().strip()


def test_hosts_reach_each_other_fail_and_recover(hosts: list[NetnsHost]) -> None:
    h1, h2 = hosts
    for host in hosts:
        client = host.client()
        assert client.ping()
        client.close()
    run_server(h1)
    wait_answers(h1.address, 15)

    assert ping_from(h2, h1.address) == "PONG"

    h1.cut()
    started = time.monotonic()
    assert not answers(h1.address)
    assert time.monotonic() - started < 5
    h1.restore()
    wait_answers(h1.address, 10)

    h1.stop_engine()
    assert not answers(h1.address)
    h1.start_engine()
    wait_answers(h1.address, 30)


def test_remove_hosts_leaves_nothing(hosts: list[NetnsHost]) -> None:
    remove_hosts(hosts)
    remove_hosts(hosts)  # idempotent
    for host in hosts:
        assert not (NETNS_DIR / host.netns).exists()
        assert not host.root.exists()
        assert not processes_mentioning(str(host.root))
    assert not [name for name in link_names() if name.startswith("ih") and PREFIX in name]
    assert bridge_name(PREFIX) not in link_names()
    assert bridge_name(PREFIX) not in forward_rules()
    assert str(prefix_dir(PREFIX)) not in Path("/proc/mounts").read_text()
    assert not prefix_dir(PREFIX).exists()


def link_names() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def forward_rules() -> str:
    return subprocess.run(
        ["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=True
    ).stdout


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids
