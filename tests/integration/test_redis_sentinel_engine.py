"""A Sentinel stack through the product: `infra up/status/down` on the real Pulumi
engine, the docker provider `infra` chooses, and a real Docker engine.

Short Sentinel timeouts (downAfterMs 1500) keep the failover tests fast; the
defaults are checked under mocks (tests/components/test_redis_sentinel.py) and
measured in bench/redis_sentinel_failover.py. The stack runs with TLS
(`redis.tls`): nodes and Sentinels on TLS ports only, replication, Sentinel's
own links and every client here verified with the stack's CA.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker
import pytest
import redis

from cli.ops import sentinel as rs
from cli.ops.waiting import wait_until
from components.redis_config import RedisSentinelExports
from stacks import addressing
from tests.engine.conftest import RefusingProxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, sentinel_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

DOWN_AFTER_MS = 1500
MASTER_SETS = ["shard-0", "shard-1", "shard-2"]


@dataclass
class Deployed:
    tier: TierStack
    outputs: dict[str, Any]
    subnet: str

    @property
    def stack(self) -> str:
        return self.tier.name

    @property
    def run(self) -> str:
        return self.tier.name

    @property
    def secret(self) -> str:
        return str(self.outputs["redisPassword"])

    @property
    def password(self) -> rs.Access:
        """The stack password, over TLS with the stack's CA (the stack runs TLS),
        as infra's user (`default` is disabled)."""
        return rs.Access(self.secret, self.outputs["redisCaCert"], self.outputs["redisAdminUser"])

    def output(self, name: str) -> Any:
        return self.outputs[name]

    def node(self, group: int, member: int) -> dict[str, Any]:
        return self.output("redisNodes")[group * 2 + member]

    def sentinel_ports(self) -> list[int]:
        return [s["hostPort"] for s in self.output("redisSentinels")]


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
) -> Iterator[Deployed]:
    config = sentinel_config(
        docker_client,
        redis_image,
        downAfterMs=DOWN_AFTER_MS,
        failoverTimeoutMs=10000,
        tls={"enabled": True},
        users=[{"name": "cart", "keys": ["cart:*"]}],
        defaultUser="disabled",
    )
    root = tmp_path_factory.mktemp("sentinel")
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    with deployed_stack(root, proxy, docker_client, config, env) as tier:
        tier.ok("up", tier.name, "--yes")
        yield Deployed(tier, tier.outputs(), config["network"]["subnet"])


def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    return dockerenv.wait_for(predicate, timeout=timeout, interval=0.2)


def test_every_sentinel_reports_every_group(deployed: Deployed) -> None:
    # Sentinel refreshes a replica's INFO every 10 s: its link status may read
    # "err" until the first refresh after the replica finished its initial sync.
    wait_for(lambda: rs.settled(deployed.outputs, deployed.password), timeout=20)
    nodes = deployed.output("redisNodes")
    assert deployed.output("redisMasterSets") == MASTER_SETS
    for port in deployed.sentinel_ports():
        known = rs.masters(port, deployed.password)
        assert sorted(known) == MASTER_SETS
        for g, name in enumerate(MASTER_SETS):
            state = known[name]
            assert state["ip"] == deployed.node(g, 0)["ip"] and state["port"] == 6379
            assert state["is_master"] and not state["is_sdown"] and not state["is_odown"]
            assert state["quorum"] == 2 and state["num-other-sentinels"] == 2
            assert state["down-after-milliseconds"] == DOWN_AFTER_MS
            replicas = rs.replicas(port, deployed.password, name)
            assert [(r["ip"], r["port"]) for r in replicas] == [(deployed.node(g, 1)["ip"], 6379)]
            assert replicas[0]["master-link-status"] == "ok"
            assert rs.ckquorum(port, deployed.password, name).startswith("OK 3 usable Sentinels")
    assert len(nodes) == 6


def test_infra_status_reports_the_sentinel_view(deployed: Deployed) -> None:
    result = deployed.tier.ok("status", deployed.stack)
    assert "ok   redis: 3/3 sentinels up, 3/3 master sets with one agreed primary" in result.out


def test_announced_addresses_are_the_fixed_ips_and_map_to_the_host(deployed: Deployed) -> None:
    node_ips = addressing.addresses(deployed.subnet, "redis", 80)
    assert [n["ip"] for n in deployed.output("redisNodes")] == [
        node_ips[i] for i in (0, 1, 6, 7, 12, 13)
    ]
    sentinel_ips = addressing.addresses(deployed.subnet, "sentinel", 3)
    port = deployed.sentinel_ports()[0]
    peers = rs.client(port, deployed.password).sentinel_sentinels("shard-0")
    assert sorted(p["ip"] for p in peers) == sentinel_ips[1:]
    remap = deployed.output("redisHostAddressMap")
    for node in deployed.output("redisNodes"):
        assert remap[f"{node['ip']}:6379"] == f"127.0.0.1:{node['hostPort']}"


def test_the_default_user_can_do_nothing_on_nodes_and_sentinels(deployed: Deployed) -> None:
    """`redis.defaultUser: disabled`: the stack password does not log in as
    `default` on a node or a Sentinel, and `default` has no command; nodes
    replicate and Sentinels watch the nodes and each other as `infra`."""
    access = deployed.password
    tls = rs.Access(None, access.ca_pem).kwargs()
    for port in (deployed.node(0, 0)["hostPort"], deployed.sentinel_ports()[0]):
        as_default = {**tls, "username": "default", "password": access.password}
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(
                host="127.0.0.1", port=port, socket_timeout=2, retry=None, **as_default
            ).ping()
        with redis.Redis(
            host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True, **access.kwargs()
        ) as admin:
            (default,) = [u for u in admin.acl_list() if u.startswith("user default ")]
            assert default.split()[2] == "off" and default.endswith(" -@all"), default
            assert not [r for r in default.split() if r[0] in "#>~%&" or r == "nopass"]
    replica = deployed.node(0, 1)["hostPort"]
    with redis.Redis(
        host="127.0.0.1", port=replica, socket_timeout=2, decode_responses=True, **access.kwargs()
    ) as node:
        assert node.config_get("masteruser") == {"masteruser": "infra"}
        assert node.info("replication")["master_link_status"] == "up"


def test_auth_is_required_on_nodes_and_sentinels(deployed: Deployed) -> None:
    tls = rs.Access(None, deployed.output("redisCaCert")).kwargs()
    for port in (deployed.node(0, 0)["hostPort"], deployed.sentinel_ports()[0]):
        with pytest.raises(redis.AuthenticationError):  # retry=None: redis-py retries it
            redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, retry=None, **tls).ping()


def test_nodes_and_sentinels_refuse_plaintext_and_replicate_over_tls(deployed: Deployed) -> None:
    ports = [n["hostPort"] for n in deployed.output("redisNodes")] + deployed.sentinel_ports()
    for port in ports:
        plain = redis.Redis(
            host="127.0.0.1", port=port, password=deployed.secret, socket_timeout=1, retry=None
        )
        with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
            plain.ping()
    for node in deployed.output("redisNodes"):
        with rs.client(node["hostPort"], deployed.password) as client:
            assert client.config_get("tls-replication")["tls-replication"] == "yes"
            assert client.config_get("port")["port"] == "0"


def test_an_application_user_finds_its_primary_through_sentinel_and_keeps_to_its_keys(
    deployed: Deployed,
) -> None:
    """`cart` asks the Sentinels (discovery only) and writes its keys on the
    primary; other keys, FLUSHALL and changing Sentinel answer NOPERM."""
    cart = deployed.output("redisUsers")["cart"]
    assert cart["url"].startswith("rediss-sentinel://cart:")
    access = rs.Access(cart["password"], deployed.output("redisCaCert"), "cart")
    primary = rs.host_sentinel(deployed.outputs, access).master_for("shard-1")
    primary.set("cart:1", "in")
    assert primary.get("cart:1") == "in"
    for denied in (lambda: primary.set("other:1", "x"), primary.flushall):
        with pytest.raises(redis.exceptions.NoPermissionError):
            denied()
    primary.close()
    with rs.client(deployed.sentinel_ports()[0], access) as sentinel:
        assert sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "shard-1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            sentinel.execute_command("SENTINEL", "RESET", "shard-1")
    with pytest.raises(redis.AuthenticationError):
        rs.client(deployed.sentinel_ports()[0], rs.Access("wrong", access.ca_pem, "cart")).ping()


def test_sentinel_state_lives_on_its_volume(deployed: Deployed, docker_client) -> None:
    container = docker_client.containers.get(f"infra-{deployed.stack}-redis-sentinel-0")
    mounts = {m["Destination"]: m["Name"] for m in container.attrs["Mounts"]}
    assert mounts["/data"] == f"infra-{deployed.stack}-redis-sentinel-0-data"
    conf = container.exec_run(["cat", "/data/sentinel.conf"]).output.decode()
    assert f"sentinel monitor shard-0 {deployed.node(0, 0)['ip']} 6379 2" in conf
    assert "sentinel myid " in conf and "sentinel known-sentinel shard-0 " in conf


def test_container_on_the_stack_network_asks_sentinel(
    deployed: Deployed, docker_client, redis_image: str
) -> None:
    app_ip = addressing.addresses(deployed.subnet, "apps", 1)[0]
    sentinel_ip = deployed.output("redisSentinels")[1]["ip"]
    script = (
        'set -e; echo "$CA" > /tmp/ca.crt; cli() { redis-cli --tls --cacert /tmp/ca.crt'
        ' --user infra --no-auth-warning "$@"; };'
        " addr=$(cli -h $SENTINEL -p 26379 "
        "sentinel get-master-addr-by-name shard-2 | tr '\\n' ' ');"
        " set -- $addr; cli -h $1 -p $2 set app:key from-app >/dev/null;"
        " cli -h $1 -p $2 get app:key; echo $1"
    )
    out = dockerenv.run_app_container(
        docker_client,
        redis_image,
        deployed.output("networkName"),
        app_ip,
        script,
        {
            "SENTINEL": sentinel_ip,
            "REDISCLI_AUTH": deployed.secret,
            "CA": deployed.output("redisCaCert"),
        },
        deployed.run,
    )
    assert out == ["from-app", deployed.node(2, 0)["ip"]]


def write_until_ok(client: redis.Redis, key: str, value: str, timeout: float) -> float:
    """Seconds until a SET through Sentinel discovery is acknowledged."""
    not_yet = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)
    return wait_until(lambda: client.set(key, value), timeout, "a write", 0.1, not_yet)


def test_failover_promotes_the_replica_and_the_old_primary_rejoins(
    deployed: Deployed, docker_client
) -> None:
    sentinel = rs.host_sentinel(deployed.outputs, deployed.password)
    primary = sentinel.master_for("shard-0")
    for i in range(200):
        primary.set(f"before:{i}", str(i))
    old, new = deployed.node(0, 0), deployed.node(0, 1)
    container = docker_client.containers.get(old["name"])
    container.stop(timeout=10)
    seconds = write_until_ok(primary, "after", "failover", timeout=30)
    # 1.5 s down-after + agreement, election and promotion
    assert seconds < 15
    assert sentinel.discover_master("shard-0") == ("127.0.0.1", new["hostPort"])
    assert rs.role(new["hostPort"], deployed.password) == "master"
    promoted = rs.client(new["hostPort"], deployed.password)
    assert promoted.get("after") == "failover"
    assert [promoted.get(f"before:{i}") for i in range(200)] == [str(i) for i in range(200)]
    for port in deployed.sentinel_ports():
        wait_for(lambda p=port: rs.masters(p, deployed.password)["shard-0"]["ip"] == new["ip"], 10)

    container.start()

    def rejoined() -> bool:
        if rs.role(old["hostPort"], deployed.password) != "slave":
            return False
        for port in deployed.sentinel_ports():
            linked = [
                r
                for r in rs.replicas(port, deployed.password, "shard-0")
                if r["ip"] == old["ip"] and r["master-link-status"] == "ok"
            ]
            if not linked or linked[0]["is_sdown"]:
                return False
        return True

    wait_for(rejoined, timeout=60)
    info = rs.client(old["hostPort"], deployed.password).info("replication")
    assert info["master_host"] == new["ip"] and info["master_link_status"] == "up"
    wait_for(lambda: rs.client(old["hostPort"], deployed.password).get("after") == "failover", 10)
    # Sentinel's CONFIG REWRITE recorded the new role on the volume.
    conf = container.exec_run(["cat", "/data/redis.conf"]).output.decode()
    assert f"replicaof {new['ip']} 6379" in conf
    sentinel.close()


def test_full_restart_keeps_acknowledged_keys_and_one_primary_per_group(
    deployed: Deployed, docker_client
) -> None:
    sentinel = rs.host_sentinel(deployed.outputs, deployed.password)
    acked: dict[str, list[str]] = {}
    for name in MASTER_SETS:
        client = sentinel.master_for(name)
        acked[name] = []
        for i in range(300):
            client.set(f"{name}:durable:{i}", str(i))
            acked[name].append(f"{name}:durable:{i}")
    containers = list(deployed.tier.containers().values())
    # Like a host reboot: everything stops at once, then everything starts.
    with ThreadPoolExecutor(len(containers)) as pool:
        list(pool.map(lambda c: c.stop(timeout=10), containers))
        list(pool.map(lambda c: c.start(), containers))
    wait_for(lambda: rs.settled(deployed.outputs, deployed.password), timeout=90)
    nodes = RedisSentinelExports.read(deployed.outputs).redis_nodes
    roles = rs.roles_by_group(nodes, deployed.password)
    assert all(list(by_ip.values()).count("master") == 1 for by_ip in roles.values())
    sentinel = rs.host_sentinel(deployed.outputs, deployed.password)
    for name, keys in acked.items():
        client = sentinel.master_for(name)
        values = client.mget(keys)
        assert values == [str(i) for i in range(300)], name
    sentinel.close()


def test_after_failovers_the_stack_still_has_no_changes(deployed: Deployed) -> None:
    """Roles moved (failover, restart) but nothing the program declares did."""
    deployed.tier.ok("preview", deployed.stack, "--expect-no-changes")


def test_down_removes_everything(deployed: Deployed) -> None:
    deployed.tier.ok("down", deployed.stack, "--yes")
    assert deployed.tier.leftovers() == []
