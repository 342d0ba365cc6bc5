"""The address plan: role blocks never overlap, and each holds its component's maximum."""

from __future__ import annotations

import itertools

import pytest

from components.mongo_config import MAX_MEMBERS
from components.redis_config import MAX_REDIS_NODES, MAX_SENTINELS
from stacks import addressing


def block_range(role: str) -> range:
    first, size = addressing.BLOCKS[role]
    return range(first, first + size)


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(addressing.BLOCKS, 2)))
def test_blocks_never_overlap(a: str, b: str) -> None:
    assert not set(block_range(a)) & set(block_range(b)), f"{a} and {b} share addresses"


def test_blocks_fit_a_24_and_leave_the_gateway_alone() -> None:
    for role in addressing.BLOCKS:
        hosts = block_range(role)
        assert addressing.GATEWAY not in hosts
        assert hosts.start >= 2 and hosts.stop <= 255


@pytest.mark.parametrize(
    ("role", "largest"),
    [("redis", MAX_REDIS_NODES), ("sentinel", MAX_SENTINELS), ("mongo", MAX_MEMBERS)],
)
def test_each_block_holds_the_largest_config_the_models_accept(role: str, largest: int) -> None:
    assert len(addressing.addresses("172.28.0.0/24", role, largest)) == largest
    too_many = len(block_range(role)) + 1
    with pytest.raises(ValueError, match=f"{role}: {too_many} addresses requested"):
        addressing.addresses("172.28.0.0/24", role, too_many)
