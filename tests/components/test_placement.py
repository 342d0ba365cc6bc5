"""Placement over several Docker hosts: losing any one host loses no shard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.placement import (
    ClusterPlacement,
    PlacementError,
    cluster_hosts_needed,
    lost_with,
    place_cluster,
    place_one_per_host,
)


def hosts(n: int) -> list[str]:
    return [f"h{i}" for i in range(n)]


def survives(placement: ClusterPlacement, names: list[str]) -> bool:
    shards = len(placement.hosts)
    for host in names:
        empty, masters_left = lost_with(placement, host)
        if empty or 2 * masters_left <= shards:
            return False
    return True


def test_three_shards_one_replica_on_three_hosts() -> None:
    placed = place_cluster(3, 1, hosts(3))
    assert placed.hosts == [["h0", "h1"], ["h1", "h2"], ["h2", "h0"]]
    assert placed.warnings == []


def test_four_shards_on_three_hosts_would_lose_the_election_majority() -> None:
    # Every shard keeps a member, but the host with 2 of the 4 masters takes half
    # the voters: no replica could be promoted. 4 hosts are needed.
    assert cluster_hosts_needed(4, 1) == 4
    with pytest.raises(PlacementError, match="need at least 4 hosts"):
        place_cluster(4, 1, hosts(3))


def test_too_few_hosts_may_be_allowed_with_a_warning() -> None:
    placed = place_cluster(3, 1, hosts(1), allow_colocation=True)
    assert {h for shard in placed.hosts for h in shard} == {"h0"}
    assert placed.warnings[0].startswith("co-located: 3 shards x (1 + 1) need at least 3")


def test_a_pin_that_puts_a_shard_on_one_host_is_refused() -> None:
    with pytest.raises(PlacementError, match="shard 0 has two members on h1"):
        place_cluster(3, 1, hosts(3), pins={(0, 0): "h1"})
    with pytest.raises(PlacementError, match="unknown host h9"):
        place_cluster(3, 1, hosts(3), pins={(0, 0): "h9"})
    with pytest.raises(PlacementError, match=r"pin \(5, 0\): no such node"):
        place_cluster(3, 1, hosts(3), pins={(5, 0): "h1"})


def test_a_pin_that_keeps_anti_affinity_is_followed() -> None:
    placed = place_cluster(3, 1, hosts(3), pins={(0, 1): "h2", (1, 1): "h0", (2, 1): "h1"})
    assert [shard[1] for shard in placed.hosts] == ["h2", "h0", "h1"]


def test_fewer_than_three_shards_never_survive_a_lost_master() -> None:
    with pytest.raises(PlacementError, match="use at least 3 shards"):
        place_cluster(2, 1, hosts(5))


def test_sentinels_and_mongo_members_one_per_host() -> None:
    assert place_one_per_host("sentinels", 3, hosts(3)) == (["h0", "h1", "h2"], [])
    with pytest.raises(PlacementError, match="3 mongo members need 3 hosts, one each; 2 given"):
        place_one_per_host("mongo members", 3, hosts(2))
    placed, warnings = place_one_per_host("sentinels", 3, hosts(2), allow_colocation=True)
    assert placed == ["h0", "h1", "h0"] and warnings


def test_repeated_or_no_hosts_are_refused() -> None:
    with pytest.raises(PlacementError, match="given twice: h0"):
        place_cluster(3, 1, ["h0", "h1", "h0"])
    with pytest.raises(PlacementError, match="no hosts"):
        place_one_per_host("sentinels", 3, [])


@given(
    shards=st.integers(3, 12),
    replicas=st.integers(1, 3),
    count=st.integers(1, 10),
)
def test_placement_survives_any_one_host_or_is_refused_naming_the_minimum(
    shards: int, replicas: int, count: int
) -> None:
    needed = cluster_hosts_needed(shards, replicas)
    if count < needed:
        with pytest.raises(PlacementError, match=f"need at least {needed} hosts"):
            place_cluster(shards, replicas, hosts(count))
        return
    placed = place_cluster(shards, replicas, hosts(count))
    assert survives(placed, hosts(count))
    assert all(len(set(members)) == 1 + replicas for members in placed.hosts)
    # the minimum is a minimum: on one host fewer, some shard shares a host or a
    # lost host would take a shard or the masters' majority
    fewer = place_cluster(shards, replicas, hosts(needed - 1), allow_colocation=True)
    distinct = all(len(set(members)) == 1 + replicas for members in fewer.hosts)
    assert not (distinct and survives(fewer, hosts(needed - 1)))
