"""The rolling-replacement hooks' turn-taking, without an engine: the engine calls
`before_delete` of every replaced node at once; the hooks must let one node go at
a time, and only after the previous one rejoined."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from components import rolling


def hook_args(name: str) -> Any:
    return SimpleNamespace(name=name, urn=f"urn::{name}")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def hand_over(self, node: str) -> None:
        self.events.append(("hand over", node))
        time.sleep(0.01)

    def rejoined(self, node: str) -> None:
        time.sleep(0.01)
        self.events.append(("rejoined", node))


async def replace(roller: rolling.Roller, node: str) -> None:
    """What the engine does for one delete-before-replace container."""
    await roller._before_delete(hook_args(node))
    await asyncio.sleep(0.02)  # delete, create, health
    await roller._after_create(hook_args(node))


def make_roller(recorder: Recorder, **kw: Any) -> rolling.Roller:
    kw.setdefault("settle_s", 0.05)
    roller = rolling.Roller("redis", recorder.hand_over, recorder.rejoined, **kw)
    roller._note = lambda node, event: None  # type: ignore[method-assign]
    return roller


def test_replacements_run_one_at_a_time_each_after_the_previous_rejoined() -> None:
    recorder = Recorder()
    roller = make_roller(recorder)

    async def main() -> None:
        await asyncio.gather(*(replace(roller, f"node-{i}") for i in range(4)))

    asyncio.run(main())
    kinds = [kind for kind, _ in recorder.events]
    assert kinds == ["hand over", "rejoined"] * 4
    pairs = list(zip(recorder.events[::2], recorder.events[1::2], strict=True))
    assert all(a[1] == b[1] for a, b in pairs)
    assert sorted(node for _, node in recorder.events[::2]) == [f"node-{i}" for i in range(4)]


def test_turns_follow_rank_not_arrival() -> None:
    """Replicas (rank 1) before masters (rank 2): each shard is handed over once."""
    recorder = Recorder()
    ranks = {"node-0": 2, "node-1": 2, "node-2": 1, "node-3": 1}
    roller = make_roller(recorder, rank=ranks.__getitem__)

    async def main() -> None:
        await asyncio.gather(*(replace(roller, f"node-{i}") for i in range(4)))

    asyncio.run(main())
    order = [node for kind, node in recorder.events if kind == "hand over"]
    assert order == ["node-2", "node-3", "node-0", "node-1"]


def test_rank_is_taken_when_a_turn_is_given_so_a_node_gone_down_meanwhile_goes_next() -> None:
    recorder = Recorder()
    ranks = {"node-0": 1, "node-1": 1, "node-2": 1}

    def hand_over(node: str) -> None:
        recorder.hand_over(node)
        if node == "node-0":
            ranks["node-2"] = 0  # node-2 stops answering while node-0 rolls

    roller = rolling.Roller("redis", hand_over, recorder.rejoined, rank=ranks.__getitem__)
    roller.settle_s = 0.05
    roller._note = lambda node, event: None  # type: ignore[method-assign]

    async def main() -> None:
        await asyncio.gather(*(replace(roller, f"node-{i}") for i in range(3)))

    asyncio.run(main())
    order = [node for kind, node in recorder.events if kind == "hand over"]
    assert order == ["node-0", "node-2", "node-1"]


def test_a_first_creation_does_not_wait_or_take_a_turn() -> None:
    recorder = Recorder()
    roller = make_roller(recorder)
    asyncio.run(roller._after_create(hook_args("node-0")))
    assert recorder.events == []
    assert roller._holder is None


def test_a_refused_hand_over_frees_the_turn_and_fails_the_step() -> None:
    def refuse(node: str) -> None:
        raise RuntimeError(f"{node} has no replica in sync")

    recorder = Recorder()
    roller = rolling.Roller("redis", refuse, recorder.rejoined, settle_s=0.0)
    roller._note = lambda node, event: None  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="node-0 has no replica in sync"):
        asyncio.run(roller._before_delete(hook_args("node-0")))
    assert roller._holder is None and not roller._waiting


def test_a_turn_never_given_back_times_out_with_the_holder_named() -> None:
    recorder = Recorder()
    roller = make_roller(recorder, timeout_s=0.2)

    async def main() -> None:
        await roller._before_delete(hook_args("node-0"))  # its replacement never comes
        await roller._before_delete(hook_args("node-1"))

    with pytest.raises(RuntimeError, match=r"previous node \(node-0\) did not finish"):
        asyncio.run(main())
    assert recorder.events == [("hand over", "node-0")]


def test_the_timeout_bounds_one_turn_not_the_whole_queue() -> None:
    """Four turns of 0.15 s each under a 0.3 s timeout: the last node waits
    0.45 s in all, and that is no error."""
    recorder = Recorder()

    def slow(node: str) -> None:
        time.sleep(0.15)
        recorder.rejoined(node)

    roller = rolling.Roller("redis", recorder.hand_over, slow, timeout_s=0.3, settle_s=0.0)
    roller._note = lambda node, event: None  # type: ignore[method-assign]

    async def main() -> None:
        await asyncio.gather(*(replace(roller, f"node-{i}") for i in range(4)))

    asyncio.run(main())
    assert [kind for kind, _ in recorder.events].count("rejoined") == 4


def test_off_for_a_destroy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(rolling.ROLLOUT_VAR, "off")
    recorder = Recorder()
    roller = make_roller(recorder)

    async def main() -> None:
        await asyncio.gather(*(replace(roller, f"node-{i}") for i in range(3)))

    asyncio.run(main())
    assert recorder.events == []
