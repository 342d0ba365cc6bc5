"""MongoReplicaSet across three Docker hosts (`infra:hosts`), under Pulumi's mocks.

Wiring only (no mongod image runs here): every member runs on its placed
host, the set config names it `<host address>:<port>`, published 1:1 there,
and the init container (on the first host) and the URLs use those."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pymongo import uri_parser

from components import docker_node as dn
from components import mongo_replicaset as mrs
from components.mongo_config import MongoConfig
from components.placement import PlacementError
from tests.components.hosts_support import (
    ADDRESS,
    BIND,
    Placed,
    fake_site,
    host_network,
    run_on_hosts,
)

PASSWORD = "mongo-root-password-0123456789"
KEY = base64.b64encode(bytes(range(256)) * 3).decode()
SECRETS = {"mongoRootPassword": PASSWORD, "mongoKeyFile": KEY}
HOST_OF = ["h1", "h2", "h3"]  # member i on host i: one member per host
SET_HOSTS = [f"{ADDRESS[h]}:{27017 + i}" for i, h in enumerate(HOST_OF)]


def program(**mongo: Any) -> Placed:
    config = {"redis": {"enabled": False}, "mongo": {"enabled": True, **mongo}}
    return run_on_hosts(config, SECRETS)


@pytest.fixture(scope="module")
def placed() -> Placed:
    return program()


def test_each_member_runs_on_its_own_host(placed: Placed) -> None:
    for i, host in enumerate(HOST_OF):
        res = placed.capture.named(f"mongo-member-{i}")
        assert placed.host_of(res.name) == host
        assert placed.host_of(f"mongo-data-{i}") == host
        assert host_network(res) == host
        assert f"mongo-image-{host}" in res.dependencies
        assert res.spec["networksAdvanced"][0]["ipv4Address"] == f"172.28.0.{100 + i}"
    assert len({placed.host_of(f"mongo-member-{i}") for i in range(3)}) == 3


def test_members_listen_on_the_port_they_publish_1_to_1(placed: Placed) -> None:
    for i, host in enumerate(HOST_OF):
        spec = placed.capture.named(f"mongo-member-{i}").spec
        port = 27017 + i
        assert spec["ports"] == [{"internal": port, "external": port, "ip": BIND[host]}]
        assert f"--port {port}" in spec["command"][2]
        assert spec["healthcheck"]["tests"][1].endswith(f" {port}")


def test_init_container_on_the_first_host_reaches_members_at_host_addresses(
    placed: Placed,
) -> None:
    init = placed.capture.named("mongo-init")
    assert placed.host_of("mongo-init") == "h1"
    assert host_network(init) == "h1"
    assert "mongo-image-h1" in init.dependencies
    env = next(e for e in init.spec["envs"] if e.startswith("RS_SPEC="))
    spec = json.loads(env.removeprefix("RS_SPEC="))
    assert [m["host"] for m in spec["members"]] == SET_HOSTS


def test_urls_name_the_host_addresses(placed: Placed) -> None:
    outputs = placed.capture.outputs
    url, _ = outputs["mongoUrl"]
    assert uri_parser.parse_uri(url)["nodelist"] == [
        (ADDRESS[h], 27017 + i) for i, h in enumerate(HOST_OF)
    ]
    assert outputs["mongoHostUrl"][0] == url
    direct = uri_parser.parse_uri(outputs["mongoHostDirectUrl"][0])
    assert direct["nodelist"] == [(ADDRESS["h1"], 27017)]
    assert direct["options"]["directConnection"] is True
    assert outputs["mongoHostsEntry"] == ("", False)


def test_member_outputs_name_their_host(placed: Placed) -> None:
    members, _ = placed.capture.outputs["mongoMembers"]
    assert [(m["host"], m["ip"], m["hostPort"], m["dockerHost"]) for m in members] == [
        (SET_HOSTS[i], ADDRESS[h], 27017 + i, h) for i, h in enumerate(HOST_OF)
    ]


def test_the_arbiter_gets_its_own_host() -> None:
    placed = program(members=2, arbiter=True)
    assert placed.host_of("mongo-arbiter") == "h3"
    spec = placed.capture.named("mongo-arbiter").spec
    assert spec["ports"] == [{"internal": 27067, "external": 27067, "ip": BIND["h3"]}]
    init = placed.capture.named("mongo-init").spec
    env = next(e for e in init["envs"] if e.startswith("RS_SPEC="))
    hosts = [m["host"] for m in json.loads(env.removeprefix("RS_SPEC="))["members"]]
    assert hosts == [*SET_HOSTS[:2], f"{ADDRESS['h3']}:27067"]


def layout(**mongo: Any) -> mrs.Layout:
    config = MongoConfig.model_validate({"enabled": True, **mongo})
    ips = lambda role, n: [f"172.28.0.{i}" for i in range(n)]  # noqa: E731
    return mrs.Layout.of(config, fake_site("infra-unit-mongo", ips))


def test_rolling_hooks_reach_members_at_their_host_address() -> None:
    handover = mrs.handover_members("mongo", layout())
    assert list(handover.endpoints.values()) == [
        (ADDRESS[h], 27017 + i) for i, h in enumerate(HOST_OF)
    ]
    assert list(handover.hosts.values()) == SET_HOSTS
    node = layout().node(1)
    assert (node.host, node.container_ip, node.host_port) == ("h2", "172.28.0.1", None)
    assert dn.host_endpoint(node, "127.0.0.1") == (ADDRESS["h2"], 27018)


def test_unpublished_members_cannot_span_hosts() -> None:
    with pytest.raises(PlacementError, match="publish must be true"):
        layout(publish=False).member_host(0)


def test_without_hosts_members_keep_their_names() -> None:
    single = run_on_hosts(
        {"redis": {"enabled": False}, "mongo": {"enabled": True}}, SECRETS, hosts=[]
    )
    assert {single.host_of(r.name) for r in single.capture.resources} == {None}
    members, _ = single.capture.outputs["mongoMembers"]
    assert [m["host"] for m in members] == [f"infra-unit-mongo-{i}:{27017 + i}" for i in range(3)]
    assert all("dockerHost" not in m for m in members)
    assert single.capture.outputs["mongoHostsEntry"][0].startswith("127.0.0.1 infra-unit-mongo-0")
