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
import os
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
    `rank(resource_name)` orders the waiting nodes (lowest first), e.g.
    replicas before masters, so a shard is handed over once, not twice.
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
    _condition: asyncio.Condition | None = None
    _holder: str | None = None
    _waiting: set[tuple[Any, str]] = field(default_factory=set)

    def hooks(self, opts: pulumi.ResourceHookOptions | None = None) -> pulumi.ResourceHookBinding:
        before = pulumi.ResourceHook(f"{self.component}-before-delete", self._before_delete, opts)
        after = pulumi.ResourceHook(f"{self.component}-after-create", self._after_create, opts)
        return pulumi.ResourceHookBinding(before_delete=[before], after_create=[after])

    def condition(self) -> asyncio.Condition:
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

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
        me = (await asyncio.to_thread(self.rank, name), name)
        cond = self.condition()
        async with cond:
            self._waiting.add(me)
        await asyncio.sleep(self.settle_s)

        def mine() -> bool:
            return self._holder is None and min(self._waiting) == me

        try:
            async with cond:
                await asyncio.wait_for(cond.wait_for(mine), self.timeout_s)
                self._holder = name
        except TimeoutError:
            raise RuntimeError(
                f"{name}: the previous node ({self._holder}) did not finish rejoining "
                f"within {self.timeout_s:.0f} s; nothing was deleted"
            ) from None
        finally:
            self._waiting.discard(me)

    async def _after_create(self, args: pulumi.ResourceHookArgs) -> None:
        if self._holder != args.name:
            return  # a first creation: the tier forms the node itself
        try:
            await asyncio.to_thread(self.rejoined, args.name)
            self._note(args.name, "rejoined")
        finally:
            await self._release()

    async def _release(self) -> None:
        cond = self.condition()
        async with cond:
            self._holder = None
            cond.notify_all()

    def _note(self, node: str, event: str) -> None:
        pulumi.log.info(f"rolling: {node}: {event}")


def rolling_enabled() -> bool:
    return os.environ.get(ROLLOUT_VAR, "on") != "off"
