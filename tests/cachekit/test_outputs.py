import subprocess
import sys

import pytest

from cachekit import endpoint
from cachekit.endpoint import Endpoint
from cachekit.outputs import from_mapping

CLUSTER = {
    "components": ["redis"],
    "redisMode": "cluster",
    "redisNodes": [{"name": "n0", "ip": "172.30.1.10", "port": 6379, "hostPort": 7000}],
    "redisHostAddressMap": {
        "172.30.1.10:6379": "127.0.0.1:7000",
        "172.30.1.11:6379": "127.0.0.1:7001",
    },
    "redisPassword": "pw",
    "redisUrl": "redis://172.30.1.10:6379",
}
SENTINEL = {
    "redisMode": "sentinel",
    "redisNodes": [],
    "redisHostAddressMap": {"172.30.1.10:6379": "127.0.0.1:7000"},
    "redisPassword": "pw",
    "redisSentinels": [{"name": "s0", "ip": "172.30.1.50", "port": 26379, "hostPort": 7100}],
    "redisMasterSets": ["shard-0", "shard-1"],
}


def test_cluster_outputs() -> None:
    ep = Endpoint.from_outputs(CLUSTER)
    assert ep.mode == "cluster" and ep.password == "pw"
    assert ep.seeds == [("127.0.0.1", 7000), ("127.0.0.1", 7001)]
    assert ep.remap(("172.30.1.11", 6379)) == ("127.0.0.1", 7001)
    assert ep.remap(("10.0.0.1", 6379)) == ("10.0.0.1", 6379)


def test_sentinel_outputs_pick_a_master_set() -> None:
    ep = Endpoint.from_outputs(SENTINEL)
    assert (ep.mode, ep.master_set, ep.seeds) == ("sentinel", "shard-0", [("127.0.0.1", 7100)])
    assert Endpoint.from_outputs(SENTINEL, master_set="shard-1").master_set == "shard-1"
    with pytest.raises(ValueError, match="not in"):
        Endpoint.from_outputs(SENTINEL, master_set="shard-9")


def test_hidden_secret_and_unknown_mode_are_refused() -> None:
    with pytest.raises(ValueError, match="--show-secrets"):
        from_mapping({**CLUSTER, "redisPassword": "[secret]"})
    with pytest.raises(ValueError, match="unknown redisMode"):
        from_mapping({**CLUSTER, "redisMode": "memcached"})


def test_urls() -> None:
    ep = endpoint(url="redis://:s%40cret@10.0.0.5:7001,10.0.0.6", mode="cluster")
    assert ep.password == "s@cret" and ep.seeds == [("10.0.0.5", 7001), ("10.0.0.6", 6379)]
    with pytest.raises(ValueError, match="exactly one"):
        endpoint("local", url="redis://x")


def test_importing_cachekit_does_not_import_pulumi() -> None:
    code = "import sys, cachekit; print('pulumi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_renamed_output_is_an_error_that_names_it() -> None:
    renamed = {k: v for k, v in CLUSTER.items() if k != "redisHostAddressMap"}
    renamed["redisAddressMap"] = CLUSTER["redisHostAddressMap"]
    with pytest.raises(ValueError, match="redisHostAddressMap: Field required"):
        from_mapping(renamed)


def test_the_admin_user_and_a_url_user_log_in_by_name() -> None:
    """`redis.defaultUser: disabled`: the password is `redisAdminUser`'s, and
    every connection cachekit opens (the invalidation link too) names it."""
    ep = Endpoint.from_outputs({**CLUSTER, "redisAdminUser": "infra"})
    assert ep.username == "infra" and ep.login() == {"username": "infra", "password": "pw"}
    assert Endpoint.from_outputs(SENTINEL).username is None
    ep = endpoint(url="redis://cart:s%40cret@10.0.0.5:7001", mode="cluster")
    assert (ep.username, ep.password) == ("cart", "s@cret")


def test_the_invalidation_link_over_tls_carries_the_ca() -> None:
    pem = "-----BEGIN CERTIFICATE-----\n..."
    login = Endpoint.from_outputs({**CLUSTER, "redisCaCert": pem}).login()
    assert login == {
        "username": None,
        "password": "pw",
        "ssl_ca_data": pem,
        "ssl_check_hostname": True,
    }
