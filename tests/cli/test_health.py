"""`infra status` checks that need no running tier."""

from __future__ import annotations

import socket

from cli import health, rediskit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_host_endpoint_follows_the_address_map() -> None:
    remap = {"172.28.0.10:6379": "127.0.0.1:7000"}
    assert rediskit.host_endpoint(remap, "172.28.0.10", 6379) == ("127.0.0.1", 7000)
    assert rediskit.host_endpoint(remap, "172.28.0.11", 6379) == ("172.28.0.11", 6379)


def test_unreachable_cluster_is_not_ok() -> None:
    port = free_port()
    outputs = {
        "components": ["redis"],
        "redisMode": "cluster",
        "redisPassword": "x" * 20,
        "redisNodes": [{"name": "n0", "ip": "172.28.0.10", "port": 6379}],
        "redisHostAddressMap": {"172.28.0.10:6379": f"127.0.0.1:{port}"},
    }
    [check] = health.status(outputs)
    assert not check.ok
    assert check.summary.startswith("0/1 nodes up")
    assert check.details[0].startswith("n0 (172.28.0.10): unreachable")


def test_unreachable_mongo_is_not_ok() -> None:
    port = free_port()
    outputs = {
        "components": ["mongo"],
        "mongoHostDirectUrl": f"mongodb://127.0.0.1:{port}/?directConnection=true",
    }
    [check] = health.status(outputs)
    assert check.component == "mongo" and not check.ok
    assert check.summary.startswith("unreachable")


def test_nothing_to_check() -> None:
    assert health.status({"components": ["edge"]}) == []
