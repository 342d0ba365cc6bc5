"""A Redis Cluster stack through the product: `infra up/preview/refresh/down` on the
real Pulumi engine, the docker provider `infra` chooses (the offline stand-in where the
official plugin cannot be had), and a real Docker engine.

The stack is set up as the templates set `local` and `production` up: TLS on every
link (`redis.tls`) and application users, so every check below also proves the TLS
path (status, drill, redirects from a container, drift, restarts).

The tests run in file order on one stack: deploy, check, change, break, repair, tear down.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import redis

from cli.ops import cluster as rediscluster
from components import tls
from components.redis_config import RedisClusterExports, RedisConfig
from providers.docker_standin import VERSION
from stacks import addressing
from tests.engine.conftest import RefusingProxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, redis_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

CONTAINER = "docker:index/container:Container"
USERS = [{"name": "cart", "keys": ["cart:*"]}, {"name": "reports", "preset": "readonly"}]


class Cluster:
    def __init__(self, stack: TierStack) -> None:
        self.stack = stack
        self.values = stack.outputs()

    @property
    def name(self) -> str:
        return self.stack.name

    @property
    def password(self) -> str:
        return str(self.values["redisPassword"])

    @property
    def ca(self) -> str:
        return str(self.values["redisCaCert"])

    @property
    def access(self) -> rediscluster.Access:
        return rediscluster.Access.of(RedisClusterExports.read(self.values))

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.values["redisNodes"])

    def node_ports(self) -> list[int]:
        return [n["hostPort"] for n in self.nodes()]

    def client(self) -> Any:
        return rediscluster.host_cluster_client(self.values["redisHostAddressMap"], self.access)

    def user_client(self, user: str, password: str | None = None) -> Any:
        found = self.values["redisUsers"][user]
        return rediscluster.host_cluster_client(
            self.values["redisHostAddressMap"],
            rediscluster.Access(password or found["password"], self.ca, user),
        )

    def wait_ok(self, timeout: float = 90) -> None:
        for port in self.node_ports():
            dockerenv.wait_for(
                lambda p=port: rediscluster.cluster_ok("127.0.0.1", p, self.access), timeout
            )


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
) -> Iterator[Cluster]:
    config = redis_config(
        docker_client, redis_image, users=USERS, tls={"enabled": True}, defaultUser="disabled"
    )
    with deployed_stack(tmp_path_factory.mktemp("cluster"), proxy, docker_client, config) as stack:
        # No INFRA_DOCKER_PROVIDER: `infra` tries to install the official plugin (the
        # test proxy refuses the download) and only then falls back to the stand-in.
        first = stack.ok(
            "up", stack.name, "--yes", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=None
        )
        stack.env["INFRA_DOCKER_PROVIDER"] = "standin"
        made = Cluster(stack)
        made.first_up = first  # type: ignore[attr-defined]
        yield made


def test_up_names_the_stand_in_in_one_line(cluster: Cluster) -> None:
    first = cluster.first_up  # type: ignore[attr-defined]
    lines = [line for line in first.err_lines() if line.startswith("docker provider:")]
    assert len(lines) == 1, first
    assert f"infra's offline docker stand-in {VERSION}" in lines[0]
    assert "could not be" in lines[0]


def test_the_stand_in_never_enters_the_plugin_cache(cluster: Cluster) -> None:
    home = Path(cluster.stack.engine.env["PULUMI_HOME"])
    assert not list((home / "plugins").glob("resource-docker*"))


def test_init_container_forms_the_cluster(cluster: Cluster, docker_client) -> None:
    logs = docker_client.containers.get(f"infra-{cluster.name}-redis-init").logs().decode()
    assert "creating the cluster: 6 nodes, 1 replica(s) per master" in logs
    assert "all 16384 slots covered; replicas in sync" in logs


def test_every_node_reports_cluster_ok(cluster: Cluster) -> None:
    for port in cluster.node_ports():
        info = rediscluster.cluster_info("127.0.0.1", port, cluster.access)
        assert info["cluster_state"] == "ok"
        assert info["cluster_slots_ok"] == "16384"
        assert info["cluster_known_nodes"] == "6"
        assert info["cluster_size"] == "3"


def test_one_replica_per_master_at_announced_addresses(cluster: Cluster) -> None:
    subnet = cluster.stack.config()["infra:network"]["subnet"]
    topo = rediscluster.topology("127.0.0.1", cluster.node_ports()[0], cluster.access)
    assert len(topo) == 3 and all(len(replicas) == 1 for replicas in topo.values())
    announced = {addr for m, r in topo.items() for addr in [m, *r]}
    assert announced == {f"{ip}:6379" for ip in addressing.addresses(subnet, "redis", 6)}


def test_auth_is_required(cluster: Cluster) -> None:
    with pytest.raises(redis.AuthenticationError):
        tls_node(cluster, cluster.node_ports()[0], password=None).ping()


def tls_node(cluster: Cluster, port: int, **options: Any) -> redis.Redis:
    """One node on its host port over TLS, verified with the stack's CA."""
    kwargs = {**cluster.access.kwargs(), **options}
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, **kwargs)


def test_plaintext_is_refused_on_every_node(cluster: Cluster) -> None:
    """No plaintext port: a plaintext client gets no reply (the node waits for
    a TLS handshake, then drops it)."""
    for port in cluster.node_ports():
        plain = redis.Redis(
            host="127.0.0.1", port=port, password=cluster.password, socket_timeout=1, retry=None
        )
        with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
            plain.ping()
        with tls_node(cluster, port) as node:
            assert node.ping()


def test_redis_cli_on_the_host_connects_with_the_stacks_ca_only(
    cluster: Cluster, tmp_path: Path
) -> None:
    """`redis-cli --tls --cacert` (Debian's, on this machine) as an operator would."""
    ours, other = tmp_path / "ca.crt", tmp_path / "other.crt"
    ours.write_text(cluster.ca)
    other.write_text(tls.generated_ca("another stack's secret", "other").pem)
    port = str(cluster.node_ports()[0])

    def cli(ca: Path) -> subprocess.CompletedProcess[str]:
        command = ["redis-cli", "--tls", "--cacert", str(ca), "--user", "infra", "-p", port]
        command.append("--no-auth-warning")
        env = {**os.environ, "REDISCLI_AUTH": cluster.password}
        return subprocess.run(
            [*command, "ping"], capture_output=True, text=True, timeout=10, env=env
        )

    assert cli(ours).stdout.strip() == "PONG"
    refused = cli(other)
    assert "PONG" not in refused.stdout
    assert "certificate verify failed" in refused.stdout + refused.stderr


def test_a_client_trusting_another_ca_is_rejected(cluster: Cluster) -> None:
    other = tls.generated_ca("another stack's secret", "other")
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        tls_node(cluster, cluster.node_ports()[0], ssl_ca_data=other.pem).ping()


def test_replication_and_the_cluster_bus_run_over_tls_on_every_node(cluster: Cluster) -> None:
    for port in cluster.node_ports():
        with tls_node(cluster, port, decode_responses=True) as node:
            settings = {
                key: node.config_get(key)[key]
                for key in ("port", "tls-port", "tls-replication", "tls-cluster")
            }
            assert settings == {
                "port": "0",
                "tls-port": "6379",
                "tls-replication": "yes",
                "tls-cluster": "yes",
            }
            assert node.info("replication")["connected_slaves"] in (0, 1)
    # Each replica's link to its master is up: it can only be, over TLS.
    topo = rediscluster.topology("127.0.0.1", cluster.node_ports()[0], cluster.access)
    assert all(len(replicas) == 1 for replicas in topo.values())


def test_each_node_presents_its_own_certificate_naming_its_addresses(cluster: Cluster) -> None:
    for node in cluster.nodes():
        pem = ssl.get_server_certificate(("127.0.0.1", node["hostPort"]))
        assert tls.san_gaps(pem, [node["ip"], node["name"], "127.0.0.1"]) == []


def test_an_application_user_is_held_to_its_keys_and_commands(cluster: Cluster) -> None:
    """`cart` (readwrite on cart:*) writes its keys on every shard; other keys,
    FLUSHALL, CONFIG and KEYS answer NOPERM, as on any one node."""
    cart = cluster.user_client("cart")
    for i in range(100):  # over every shard
        cart.set(f"cart:{{{i}}}", str(i))
    assert cart.get("cart:{7}") == "7"
    for denied in (lambda: cart.set("other:1", "x"), lambda: cart.get("other:1")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            denied()
    cart.close()
    port = cluster.node_ports()[0]
    password = cluster.values["redisUsers"]["cart"]["password"]
    with tls_node(cluster, port, username="cart", password=password) as node:
        # DEBUG is refused to every client (enable-debug-command no) before the
        # ACL is consulted; the preset would refuse it too (-@dangerous).
        with pytest.raises(redis.exceptions.ResponseError, match="DEBUG command not allowed"):
            node.execute_command("DEBUG", "SLEEP", "0")
        denied = (("FLUSHALL",), ("CONFIG", "SET", "maxmemory", "1mb"), ("KEYS", "*"))
        for command in denied:
            with pytest.raises(redis.exceptions.NoPermissionError):
                node.execute_command(*command)
    with pytest.raises(redis.exceptions.AuthenticationError):
        tls_node(cluster, port, username="cart", password=cluster.password).ping()


def test_a_read_only_user_reads_and_cannot_write(cluster: Cluster) -> None:
    reports = cluster.user_client("reports")
    cluster.user_client("cart").set("cart:{ro}", "seen")
    assert reports.get("cart:{ro}") == "seen"
    with pytest.raises(redis.exceptions.NoPermissionError):
        reports.set("cart:{ro}", "changed")
    reports.close()


def test_user_passwords_are_only_hashed_on_the_nodes(cluster: Cluster, docker_client) -> None:
    password = cluster.values["redisUsers"]["cart"]["password"]
    node = docker_client.containers.get(cluster.nodes()[0]["name"])
    conf = node.exec_run(["cat", "/usr/local/etc/redis/redis.conf"]).output.decode()
    assert f"#{hashlib.sha256(password.encode()).hexdigest()}" in conf
    assert password not in conf + json.dumps(node.attrs)
    key = node.exec_run(["cat", "/usr/local/etc/redis/tls/node.key"]).output.decode()
    assert "PRIVATE KEY" in key and key not in json.dumps(node.attrs)


def test_host_client_follows_redirects(cluster: Cluster) -> None:
    client = cluster.client()
    for i in range(500):
        client.set(f"host:{i}", str(i))
    assert [client.get(f"host:{i}") for i in range(500)] == [str(i) for i in range(500)]
    per_master = [n.redis_connection.dbsize() for n in client.get_primaries()]
    assert len(per_master) == 3 and all(count > 0 for count in per_master)
    client.close()


def test_container_on_the_stack_network_follows_redirects(
    cluster: Cluster, docker_client, redis_image: str
) -> None:
    subnet = cluster.stack.config()["infra:network"]["subnet"]
    script = (
        'echo "$CA" > /tmp/ca.crt;'
        " cli() { redis-cli --tls --cacert /tmp/ca.crt --user infra -c -h $SEED"
        ' --no-auth-warning "$@"; };'
        " for i in $(seq 1 50); do cli set app:$i v$i >/dev/null; done;"
        " for i in $(seq 1 50); do cli get app:$i; done"
    )
    out = dockerenv.run_app_container(
        docker_client,
        redis_image,
        cluster.values["networkName"],
        addressing.addresses(subnet, "apps", 1)[0],
        script,
        {"SEED": cluster.nodes()[0]["ip"], "REDISCLI_AUTH": cluster.password, "CA": cluster.ca},
        cluster.name,
    )
    assert out == [f"v{i}" for i in range(1, 51)]


def test_the_cache_kit_reaches_the_tls_cluster_from_the_outputs(cluster: Cluster) -> None:
    """cachekit builds its clients from the outputs alone: the CA comes with them."""
    import asyncio

    from cachekit.endpoint import Endpoint

    endpoint = Endpoint.from_outputs(cluster.values)
    assert endpoint.ca_pem == cluster.ca
    client = endpoint.client()
    client.set("kit:{1}", b"v")
    assert client.get("kit:{1}") == b"v"
    client.close()

    async def read() -> bytes:
        aclient = endpoint.async_client()
        try:
            return bytes(await aclient.get("kit:{1}"))
        finally:
            await aclient.aclose()

    assert asyncio.run(read()) == b"v"


def test_the_cache_kits_invalidation_link_runs_over_tls_as_infra(cluster: Cluster) -> None:
    """Two caches on the tier: a write through one evicts the other's L1 copy
    (the invalidation link is a TLS connection logged in as `infra`)."""
    from cachekit.cache import Cache
    from cachekit.endpoint import Endpoint

    endpoint = Endpoint.from_outputs(cluster.values)
    assert endpoint.username == "infra"
    first, second = Cache(endpoint), Cache(endpoint)
    try:
        assert first.linked and second.linked
        first.set("linked", 1)
        assert second.get("linked") == 1  # now in second's L1
        first.set("linked", 2)
        dockerenv.wait_for(lambda: second.get("linked") == 2, 5)
    finally:
        first.close()
        second.close()


def test_the_default_user_can_do_nothing_and_infra_replicates(cluster: Cluster) -> None:
    """`redis.defaultUser: disabled`: on every node, a connection that has not
    logged in is refused, the stack password does not log in as `default`, and
    `default` has no command; replicas log in to their primary as `infra`."""
    for port in cluster.node_ports():
        with pytest.raises(redis.AuthenticationError):
            tls_node(cluster, port, username=None, password=None).ping()
        with pytest.raises(redis.AuthenticationError):
            tls_node(cluster, port, username="default").ping()
        with tls_node(cluster, port, decode_responses=True) as node:
            (default,) = [u for u in node.acl_list() if u.startswith("user default ")]
            assert default.split()[2] == "off" and default.endswith(" -@all"), default
            assert not [r for r in default.split() if r[0] in "#>~%&" or r == "nopass"]
            assert node.config_get("masteruser") == {"masteruser": "infra"}
            assert node.config_get("requirepass") == {"requirepass": ""}
            role = node.info("replication")
            if role["role"] == "slave":
                assert role["master_link_status"] == "up"


def test_infra_status_is_ok(cluster: Cluster) -> None:
    result = cluster.stack.ok("status", cluster.name)
    assert "ok   redis: 6/6 nodes up, 3 masters, 3 replicas in sync" in result.out
    # Issued for this renewal period (90-day life, re-issued 30 days before it
    # ends): 30 to 90 days left.
    days = int(result.out.split("TLS (certificates valid ")[1].split()[0])
    assert 30 <= days <= 90, result.out
    assert "expires in" not in result.out
    assert cluster.password not in result.out + result.err


def test_second_preview_and_up_change_nothing(cluster: Cluster) -> None:
    before = cluster.stack.container_ids()
    assert len(before) == 7  # 6 nodes + the init container
    cluster.stack.ok("preview", cluster.name, "--expect-no-changes")
    cluster.stack.ok("up", cluster.name, "--yes")
    assert cluster.stack.container_ids() == before


def test_a_silent_switch_of_docker_provider_is_refused(cluster: Cluster) -> None:
    before = cluster.stack.container_ids()
    refused = cluster.stack.infra("up", cluster.name, "--yes", INFRA_DOCKER_PROVIDER="official")
    assert refused.code == 2, refused
    assert (
        f"error: stack '{cluster.name}' was deployed with the offline stand-in docker provider, "
        "but infra would now use the official one"
    ) in refused.err
    assert "INFRA_DOCKER_PROVIDER_SWITCH=yes" in refused.err
    assert cluster.stack.container_ids() == before


def test_no_plaintext_secret_in_state_outputs_or_plan(cluster: Cluster, docker_client) -> None:
    stack = cluster.stack
    state = stack.engine.state_file(stack.name).read_text()
    hidden = stack.ok("outputs", stack.name, "--json").out
    plan = stack.ok("preview", stack.name, "--json").out
    users = cluster.values["redisUsers"]
    node = docker_client.containers.get(cluster.nodes()[0]["name"])
    key = node.exec_run(["cat", "/usr/local/etc/redis/tls/node.key"]).output.decode()
    key_body = "".join(key.strip().splitlines()[1:-1])
    assert len(key_body) > 100
    for text in (state, hidden, plan):
        assert cluster.password not in text
        assert all(u["password"] not in text for u in users.values())
        assert key_body[:64] not in text.replace("\\n", "")
    assert json.loads(hidden)["redisCaCert"].startswith("-----BEGIN CERTIFICATE-----")
    assert json.loads(hidden)["redisPassword"] == "[secret]"
    assert json.loads(hidden)["redisUsers"] == "[secret]"


def test_drift_a_removed_node_is_refreshed_away_and_recreated_with_its_data(
    cluster: Cluster, docker_client
) -> None:
    client = cluster.client()
    for i in range(300):
        client.set(f"drift:{i}", str(i))
    client.close()
    victim = f"infra-{cluster.name}-redis-5"
    old = docker_client.containers.get(victim)
    address = old.attrs["NetworkSettings"]["Networks"][cluster.values["networkName"]]["IPAddress"]
    old.remove(force=True)
    cluster.stack.ok("refresh", cluster.name)
    changed = cluster.stack.infra("preview", cluster.name, "--json", "--expect-no-changes")
    assert changed.code == 3, changed
    steps = json.loads(changed.out)["steps"]
    assert [(s["op"], s["name"]) for s in steps] == [("create", "redis-node-5")]
    cluster.stack.ok("up", cluster.name, "--yes")
    new = docker_client.containers.get(victim)
    assert new.id != old.id
    assert (
        new.attrs["NetworkSettings"]["Networks"][cluster.values["networkName"]]["IPAddress"]
        == address
    )
    cluster.wait_ok()
    client = cluster.client()
    assert [client.get(f"drift:{i}") for i in range(300)] == [str(i) for i in range(300)]
    client.close()
    cluster.stack.ok("preview", cluster.name, "--expect-no-changes")


def test_restart_of_every_container_keeps_cluster_and_data(cluster: Cluster, docker_client) -> None:
    client = cluster.client()
    for i in range(1000):
        client.set(f"durable:{i}", str(i))
    client.close()
    containers = list(cluster.stack.containers().values())
    for c in containers:
        c.stop(timeout=10)
    for c in containers:
        c.start()
    cluster.wait_ok()
    client = cluster.client()
    assert [client.get(f"durable:{i}") for i in range(1000)] == [str(i) for i in range(1000)]
    client.close()
    init = docker_client.containers.get(f"infra-{cluster.name}-redis-init")
    dockerenv.wait_for(lambda: "not creating it again" in init.logs().decode(), timeout=60)


def test_infra_drill_measures_recovery_without_losing_replicated_keys(cluster: Cluster) -> None:
    refused = cluster.stack.infra("drill", cluster.name)
    assert refused.code == 2 and "needs --yes" in refused.err
    result = cluster.stack.ok("drill", cluster.name, "--yes", "--json")
    figures = json.loads(result.out)
    assert figures["keys_checked"] == 200 and figures["keys_lost"] == 0
    # Promotion cannot come before cluster-node-timeout (the default: the stack sets none).
    window_s = RedisConfig().node_timeout_ms / 1000
    assert window_s <= figures["promoted_s"] <= figures["write_ok_s"] <= window_s + 27.0
    cluster.wait_ok()
    dockerenv.wait_for(lambda: cluster.stack.infra("status", cluster.name).code == 0, timeout=60)


def test_down_removes_everything_and_a_second_down_is_a_no_op(cluster: Cluster) -> None:
    cluster.stack.ok("down", cluster.name, "--yes")
    assert cluster.stack.leftovers() == []
    again = cluster.stack.ok("down", cluster.name, "--yes")
    assert "finished" in again.err
