"""What `infra status` warns about across hosts, and which shards `rebalance` moves."""

from __future__ import annotations

from cli.ops import placement
from cli.ops.placement import Shard
from components.config_base import NodeOutput
from components.redis_config import RedisClusterExports

HOSTS = ["h1", "h2", "h3", "h2", "h3", "h1"]  # node i: shard i % 3, member i // 3
NODES = [
    NodeOutput(name=f"n{i}", ip=f"10.0.0.{i}", port=7000 + i, host=host)
    for i, host in enumerate(HOSTS)
]


def shard(master: int, *replicas: int) -> Shard:
    return Shard(NODES[master], [NODES[r] for r in replicas])


def test_placed_as_deployed_warns_about_nothing() -> None:
    assert placement.warnings([shard(0, 3), shard(1, 4), shard(2, 5)]) == []


def test_a_host_holding_two_of_three_masters_is_warned_about() -> None:
    # h1 was lost: n3 (h2) took over shard 0, so h2 holds n3 and n1.
    found = placement.warnings([shard(3, 0), shard(1, 4), shard(2, 5)])
    assert found == [
        "host h2 holds 2 of 3 masters: losing it leaves no majority to promote their replicas"
    ]


def test_a_shard_whose_live_members_share_a_host_is_warned_about() -> None:
    lonely = Shard(NODES[0], [NodeOutput(name="x", ip="10.0.0.9", port=7009, host="h1")])
    found = placement.warnings([lonely, shard(1, 4), shard(2, 5)])
    assert found[0].startswith("shard of n0: every live member (n0, x) is on host h1")


def test_the_planned_master_is_the_lowest_numbered_member() -> None:
    exports = RedisClusterExports(
        redis_mode="cluster",
        redis_nodes=NODES,
        redis_host_address_map={},
        redis_url="redis://",
        redis_password="pw",
    )
    assert placement.planned_master(exports, shard(3, 0)).name == "n0"
    assert placement.planned_master(exports, shard(1, 4)).name == "n1"
