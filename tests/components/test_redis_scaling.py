"""Scale plans for a live Redis Cluster (components/redis_scaling.py), from topologies
written out by hand and generated ones: the plan must end in `shards` masters with
even slot shares and `replicas` replicas each, on exactly the kept nodes."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.redis_scaling import SLOTS, Member, ScalePlan, ScaleRefused, plan, ranges


def addr(i: int) -> str:
    return f"10.0.0.{10 + i}:6379"


def cluster(masters: int, follows: dict[int, int]) -> dict[str, Member]:
    """Nodes 0..masters-1 are masters with even slot shares; node r follows follows[r]."""
    view = {}
    start = 0
    for i in range(masters):
        count = SLOTS // masters + (1 if i < SLOTS % masters else 0)
        view[addr(i)] = Member(addr(i), f"id{i}", True, None, list(range(start, start + count)))
        start += count
    for r, m in follows.items():
        view[addr(r)] = Member(addr(r), f"id{r}", False, f"id{m}")
    return view


def apply(view: dict[str, Member], todo: ScalePlan, kept: list[str]) -> dict[str, list[str]]:
    """Simulate the plan: {master: replicas} and slot owners afterwards."""
    owner = {s: a for a, m in view.items() if m.master for s in m.slots}
    follows = {a: next(b for b, n in view.items() if n.id == m.master_id)
               for a, m in view.items() if not m.master}  # fmt: skip
    for node, master in todo.adopt:
        follows[node] = master
    for leaving, heir in todo.failovers:
        for s, a in owner.items():
            if a == leaving:
                owner[s] = heir
        follows = {a: (heir if b == leaving else b) for a, b in follows.items() if a != heir}
        follows[leaving] = heir
    for node, master in todo.replicate_first + todo.replicate_after:
        follows[node] = master
    for source, target, slots in todo.moves:
        for s in slots:
            assert owner[s] == source
            owner[s] = target
    for addr_ in todo.meet:
        assert addr_ in kept
    masters = set(owner.values())
    assert masters <= set(kept), "a slot stays on a leaving node"
    out: dict[str, list[str]] = {m: [] for m in masters}
    for node in kept:
        if node not in masters:
            out[follows[node]].append(node)
    return out | {"__shares__": sorted(Counter(owner.values()).values())}  # type: ignore[dict-item]


def check(view: dict[str, Member], shards: int, replicas: int) -> ScalePlan:
    kept = [addr(i) for i in range(shards * (1 + replicas))]
    todo = plan(view, kept, shards, replicas)
    result = apply(view, todo, kept)
    shares = result.pop("__shares__")
    assert len(result) == shards
    assert max(shares) - min(shares) <= 1 and sum(shares) == SLOTS  # type: ignore[arg-type]
    assert all(len(r) == replicas for r in result.values()), result
    assert sorted(todo.forget) == sorted(a for a in view if a not in kept)
    return todo


def test_nothing_to_do_on_the_same_topology() -> None:
    view = cluster(3, {3: 0, 4: 1, 5: 2})
    assert plan(view, [addr(i) for i in range(6)], 3, 1).empty


def test_three_to_four_shards_joins_a_master_and_its_replica_and_gives_it_a_share() -> None:
    todo = check(cluster(3, {3: 0, 4: 1, 5: 2}), 4, 1)
    assert todo.meet == [addr(6), addr(7)]
    assert todo.replicate_first == [(addr(7), addr(6))]
    assert {t for _, t, _ in todo.moves} == {addr(6)}
    assert todo.moved_slots() == SLOTS // 4


def test_four_to_three_shards_drains_the_leaving_shard_then_removes_it() -> None:
    view = cluster(3, {3: 0, 4: 1, 5: 2})
    view[addr(6)] = Member(addr(6), "id6", True, None, [])
    view[addr(7)] = Member(addr(7), "id7", False, "id6")
    moved = {s: addr(0) for s in range(0, 1000)}  # node 6 got a share earlier
    view[addr(0)].slots = [s for s in view[addr(0)].slots if s not in moved]
    view[addr(6)].slots = sorted(moved)
    todo = check(view, 3, 1)
    assert {f for f, _, _ in todo.moves} >= {addr(6)}
    assert todo.forget == [addr(6), addr(7)] and not todo.failovers


def test_replicas_two_to_one_hands_a_leaving_master_to_a_kept_replica_and_moves_no_slot() -> None:
    # After failovers node 6 (leaving) became master of shard 0; 0 and 3 follow it.
    view = cluster(3, {})
    view[addr(6)] = Member(addr(6), "id6", True, None, view.pop(addr(0)).slots)
    view[addr(0)] = Member(addr(0), "id0", False, "id6")
    for r, m in {3: 6, 1: 1, 4: 1, 7: 1, 2: 2, 5: 2, 8: 2}.items():
        if r not in (1, 2):
            view[addr(r)] = Member(addr(r), f"id{r}", False, f"id{m}")
    view[addr(1)].master = view[addr(2)].master = True
    todo = check(view, 3, 1)
    assert todo.failovers == [(addr(6), addr(0))]
    assert todo.moves == []


def test_replicas_one_to_two_adds_one_replica_to_every_master() -> None:
    todo = check(cluster(3, {3: 0, 4: 1, 5: 2}), 3, 2)
    assert sorted(m for _, m in todo.replicate_first) == [addr(0), addr(1), addr(2)]
    assert todo.moves == [] and todo.forget == []


def test_more_shards_and_fewer_replicas_at_once_is_refused_with_the_way_out() -> None:
    view = cluster(3, {3: 0, 4: 1, 5: 2})
    with pytest.raises(ScaleRefused, match="one `up` for shards, another for replicas"):
        plan(view, [addr(i) for i in range(4)], 4, 0)


def test_ranges_are_compact() -> None:
    assert ranges([5, 1, 2, 3, 9]) == ["1-3", "5", "9"]


@st.composite
def topologies(draw: st.DrawFn) -> tuple[dict[str, Member], int, int]:
    shards = draw(st.integers(3, 5))
    replicas = draw(st.integers(0, 2))
    nodes = shards * (1 + replicas)
    order = draw(st.permutations(range(nodes)))
    masters, rest = order[:shards], order[shards:]
    view = {}
    start = 0
    for k, i in enumerate(masters):
        count = SLOTS // shards + (1 if k < SLOTS % shards else 0)
        view[addr(i)] = Member(addr(i), f"id{i}", True, None, list(range(start, start + count)))
        start += count
    for k, i in enumerate(rest):
        view[addr(i)] = Member(addr(i), f"id{i}", False, f"id{masters[k % shards]}")
    if draw(st.booleans()):  # one of the two changes per run (both at once is refused)
        return view, draw(st.integers(3, 5)), replicas
    return view, shards, draw(st.integers(0, 2))


@settings(max_examples=150, deadline=None)
@given(topologies())
def test_any_scale_ends_in_the_wanted_topology(case: tuple[dict[str, Member], int, int]) -> None:
    view, shards, replicas = case
    check(view, shards, replicas)
