"""`infra status` checks that need no running tier."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from cli.ops import cluster as rediskit
from cli.ops import health
from components.config_base import OutputsUnreadable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_host_endpoint_follows_the_address_map() -> None:
    remap = {"172.28.0.10:6379": "127.0.0.1:7000"}
    assert rediskit.host_endpoint(remap, "172.28.0.10", 6379) == ("127.0.0.1", 7000)
    assert rediskit.host_endpoint(remap, "172.28.0.11", 6379) == ("172.28.0.11", 6379)


def cluster_outputs(port: int) -> dict[str, Any]:
    return {
        "components": ["redis"],
        "redisMode": "cluster",
        "redisPassword": "x" * 20,
        "redisUrl": "redis://:x@172.28.0.10:6379",
        "redisNodes": [{"name": "n0", "ip": "172.28.0.10", "port": 6379, "hostPort": port}],
        "redisHostAddressMap": {"172.28.0.10:6379": f"127.0.0.1:{port}"},
    }


def test_unreachable_cluster_is_not_ok() -> None:
    [check] = health.status(cluster_outputs(free_port()))
    assert not check.ok
    assert check.summary.startswith("0/1 nodes up")
    assert check.details[0].startswith("n0 (172.28.0.10): unreachable")


def test_unreachable_mongo_is_not_ok() -> None:
    port = free_port()
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    outputs = {
        "components": ["mongo"],
        "mongoMembers": [],
        "mongoUrl": url,
        "mongoHostUrl": url,
        "mongoHostDirectUrl": url,
        "mongoHostsEntry": "127.0.0.1 m0",
        "mongoRootPassword": "x",
    }
    [check] = health.status(outputs)
    assert check.component == "mongo" and not check.ok
    assert check.summary.startswith("unreachable")


def test_nothing_to_check() -> None:
    assert health.status({"components": ["edge"]}) == []


def test_a_renamed_output_is_an_error_that_names_it_not_zero_nodes() -> None:
    outputs = cluster_outputs(free_port())
    outputs["redisNodeList"] = outputs.pop("redisNodes")
    with pytest.raises(OutputsUnreadable, match="redisNodes: Field required"):
        health.status(outputs)


def test_the_check_follows_the_deployed_mode() -> None:
    outputs = {**cluster_outputs(free_port()), "redisMode": "sentinel"}
    with pytest.raises(OutputsUnreadable, match="RedisSentinelExports"):
        health.status(outputs)
