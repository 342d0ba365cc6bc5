"""Rolling replacement of data nodes, driven by Pulumi resource hooks.

Why hooks: when a change forces the engine to replace containers (a new image,
a `redis.conf` line), it replaces every affected container at once, and each
container is deleted before its replacement exists (fixed names force
delete-before-replace). For a Redis shard that means master and replica down
together. The engine calls a resource's `before_delete` hook before it deletes
it, also as part of a replacement, and `after_create` once the replacement
exists, and a failing `before_*` hook fails that step before anything is
touched (https://www.pulumi.com/docs/iac/concepts/resources/options/hooks/).
So a component binds two hooks to each of its data containers:

- `before_delete` waits for its turn (one node of the component at a time),
  waits until the tier is healthy (every replica in sync), then hands the
  node's role over: a master is never deleted while it is a master, its
  replica takes over first through a manual, lossless failover
  (`CLUSTER FAILOVER`, `SENTINEL FAILOVER`).
- `after_create` of the replacement waits until it has rejoined as a replica
  and finished its sync, then lets the next node go.

The hooks run in the program's process (the engine calls back into it), on the
operator's machine, and reach the nodes on their published ports. They are
async: the callback server shares the program's event loop, so a blocking hook
would stall every other registration; Redis calls run in a worker thread.

Initial creation is untouched (`after_create` of a node that replaced nothing
returns at once), and so is `infra down`: the deploy service sets
`INFRA_ROLLOUT=off` for a destroy, since there is nothing to keep alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import pulumi

ROLLOUT_VAR = "INFRA_ROLLOUT"
# A node waits this long for the previous one to finish (rejoin and sync).
TURN_TIMEOUT_S = 600.0
# The engine starts every replacement of a run together (they are independent
# steps); this pause lets them all arrive, so turns follow `rank`, not chance.
SETTLE_S = 0.5

NodeStep = Callable[[str], None]


@dataclass
class Roller:
    """One node of a component at a time, in `rank` order, with a hand-over
    before each delete.

    `hand_over(resource_name)` runs before a node is deleted (blocking code, in
    a worker thread) and raises to stop the step; `rejoined(resource_name)`
    runs after its replacement exists and returns once it serves again;
    `rank(resource_name)` orders the waiting nodes (lowest first, evaluated
    each time a turn is given), e.g. down nodes, then replicas, then masters,
    so a shard is handed over once, not twice.
    """

    component: str
    hand_over: NodeStep
    rejoined: NodeStep
    rank: Callable[[str], Any] = str
    # The nodes the program declares; a deleted node that is not among them is
    # being scaled away (its data was moved before), so it takes no turn.
    members: Collection[str] | None = None
    timeout_s: float = TURN_TIMEOUT_S
    settle_s: float = SETTLE_S
    _holder: str | None = None
    _waiting: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    _dispatching: asyncio.Lock | None = None
    _last_turn: float = 0.0

    def hooks(self, opts: pulumi.ResourceHookOptions | None = None) -> pulumi.ResourceHookBinding:
        before = pulumi.ResourceHook(f"{self.component}-before-delete", self._before_delete, opts)
        after = pulumi.ResourceHook(f"{self.component}-after-create", self._after_create, opts)
        return pulumi.ResourceHookBinding(before_delete=[before], after_create=[after])

    async def _before_delete(self, args: pulumi.ResourceHookArgs) -> None:
        if not rolling_enabled() or (self.members is not None and args.name not in self.members):
            return
        await self._take_turn(args.name)
        self._note(args.name, "hand over")
        try:
            await asyncio.to_thread(self.hand_over, args.name)
        except BaseException:
            await self._release()
            raise
        self._note(args.name, "delete")

    async def _take_turn(self, name: str) -> None:
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[name] = granted
        self._last_turn = self._last_turn or time.monotonic()
        await asyncio.sleep(self.settle_s)
        await self._dispatch()
        # The timeout bounds one node's turn, not the queue: a large tier rolls
        # for longer than it, and only a turn that never ends is an error.
        while True:
            left = self.timeout_s - (time.monotonic() - self._last_turn)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(granted), max(left, 0.05))
            if granted.done():
                return
            if time.monotonic() - self._last_turn >= self.timeout_s:
                self._waiting.pop(name, None)
                raise RuntimeError(
                    f"{name}: the previous node ({self._holder}) did not finish rejoining "
                    f"within {self.timeout_s:.0f} s; nothing was deleted"
                )

    async def _dispatch(self) -> None:
        """Give a free turn to the waiting node of lowest rank, ranked now: a node
        that went down while others waited (an `up` killed mid-change leaves one)
        must go before anyone's hand-over waits for it to answer."""
        if self._dispatching is None:
            self._dispatching = asyncio.Lock()
        async with self._dispatching:
            if self._holder is not None or not self._waiting:
                return
            names = sorted(self._waiting)
            ranks = await asyncio.gather(*(asyncio.to_thread(self.rank, n) for n in names))
            chosen = min(zip(ranks, names, strict=True))[1]
            self._holder = chosen
            self._last_turn = time.monotonic()
            self._waiting.pop(chosen).set_result(None)

    async def _after_create(self, args: pulumi.ResourceHookArgs) -> None:
        if self._holder != args.name:
            return  # a first creation: the tier forms the node itself
        try:
            await asyncio.to_thread(self.rejoined, args.name)
            self._note(args.name, "rejoined")
        finally:
            await self._release()

    async def _release(self) -> None:
        self._holder = None
        await self._dispatch()

    def _note(self, node: str, event: str) -> None:
        pulumi.log.info(f"rolling: {node}: {event}")


def rolling_enabled() -> bool:
    return os.environ.get(ROLLOUT_VAR, "on") != "off"
