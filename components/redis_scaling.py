"""Scaling a live Redis Cluster: `shards` and `replicas` changed in the stack file.

The engine only creates and deletes containers; what the cluster must do in
between (join the new nodes, hand slots and their keys over, re-point
replicas, forget the nodes that go) is planned here from the live topology and
carried out by the init container's `before_create` hook (the init container
is replaced whenever the node list changes, after every new node is up and
before any removed node is deleted: the engine deletes what the program no
longer declares only once the program has finished).

Order of a plan, chosen so that no acknowledged write is lost and no master is
left without a replica while the change runs:

1. new nodes join (`CLUSTER MEET`);
2. a leaving master whose replica stays is handed to it (`CLUSTER FAILOVER`,
   lossless), so replicas 2 -> 1 moves no slot; one whose replicas all leave
   first gets a kept replica from the master with the most (it follows,
   syncs, then takes over);
3. new replicas follow their masters (`CLUSTER REPLICATE`) and sync before
   any slot moves to those masters;
4. slots move one at a time with Redis' migration protocol (`SETSLOT
   IMPORTING/MIGRATING`, `MIGRATE` in batches, `SETSLOT NODE` on every
   master), the one `redis-cli --cluster reshard` uses: clients are redirected
   with ASK while a slot moves, nothing is refused;
5. replicas of drained masters are re-pointed, and sync;
6. leaving nodes are forgotten by every node within Redis' 60 s ban window,
   then reset, so they cannot gossip their way back before the engine deletes
   their containers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SLOTS = 16384
MIGRATE_BATCH = 200
SLOT_BATCH = 128
MIGRATE_TIMEOUT_MS = 10000
# Syncing a new replica or moving slots with their keys takes as long as the
# data is large; this bounds each wait (a failing wait fails `up`).
SCALE_TIMEOUT_S = 600.0


@dataclass
class Member:
    """One node of the live cluster as CLUSTER NODES shows it."""

    addr: str
    id: str
    master: bool
    master_id: str | None
    slots: list[int] = field(default_factory=list)


@dataclass
class ScalePlan:
    meet: list[str] = field(default_factory=list)
    adopt: list[tuple[str, str]] = field(default_factory=list)  # (kept replica, leaving master)
    failovers: list[tuple[str, str]] = field(default_factory=list)  # (leaving, heir)
    replicate_first: list[tuple[str, str]] = field(default_factory=list)  # (node, master)
    moves: list[tuple[str, str, list[int]]] = field(default_factory=list)  # (from, to, slots)
    replicate_after: list[tuple[str, str]] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        steps = (self.meet, self.adopt, self.failovers, self.replicate_first, self.moves)
        return not any(steps) and not self.replicate_after and not self.forget

    def moved_slots(self) -> int:
        return sum(len(slots) for _, _, slots in self.moves)

    def summary(self) -> str:
        parts = [
            f"{len(self.meet)} node(s) joined" if self.meet else "",
            f"{len(self.failovers)} master(s) handed over" if self.failovers else "",
            f"{self.moved_slots()} slots moved" if self.moves else "",
            f"{len(self.forget)} node(s) removed" if self.forget else "",
        ]
        return ", ".join(p for p in parts if p) or "nothing to change"

    def as_dict(self) -> dict[str, Any]:
        return {
            "join": self.meet,
            "adopt": [{"node": n, "master": m} for n, m in self.adopt],
            "handOver": [{"from": a, "to": b} for a, b in self.failovers],
            "replicate": [
                {"node": n, "master": m} for n, m in self.replicate_first + self.replicate_after
            ],
            "moves": [
                {"from": a, "to": b, "slots": ranges(slots), "count": len(slots)}
                for a, b, slots in self.moves
            ],
            "remove": self.forget,
        }


class ScaleRefused(ValueError):
    """The change cannot be made safely from this topology."""


def members(parsed: Mapping[str, Mapping[str, Any]]) -> dict[str, Member]:
    """Members from redis-py's parsed CLUSTER NODES ({addr: info}); nodes in
    handshake or marked failed are left out (they serve nothing)."""
    out = {}
    for raw_addr, info in parsed.items():
        flags = info["flags"]
        if "handshake" in flags or "noaddr" in flags:
            continue
        addr = str(raw_addr).split("@")[0]
        slots = [s for bounds in info["slots"] for s in range(int(bounds[0]), int(bounds[-1]) + 1)]
        master_id = None if info["master_id"] in ("-", "") else info["master_id"]
        out[addr] = Member(addr, info["node_id"], "master" in flags, master_id, slots)
    return out


def plan(view: Mapping[str, Member], kept: list[str], shards: int, replicas: int) -> ScalePlan:
    """What turns the live `view` into `shards` masters with `replicas` replicas
    each on exactly the `kept` addresses (some of which may not exist yet)."""
    result = ScalePlan(meet=[a for a in kept if a not in view])
    result.forget = sorted(a for a in view if a not in kept)
    by_id = {m.id: a for a, m in view.items()}
    masters = [a for a, m in view.items() if m.master and m.slots]
    followers = {
        m: [a for a, n in view.items() if by_id.get(n.master_id or "") == m] for m in masters
    }
    slots = {a: list(m.slots) for a, m in view.items()}
    heads = [m for m in masters if m in kept]
    for m in sorted(set(masters) - set(heads)):
        if len(heads) >= shards:
            continue
        heir = next((r for r in followers[m] if r in kept), None)
        if heir is None:
            heir = adoptable(view, kept, heads, followers)
            if heir is None:
                continue
            result.adopt.append((heir, m))
            for rs in followers.values():
                if heir in rs:
                    rs.remove(heir)
            followers[m].append(heir)
        result.failovers.append((m, heir))
        heads.append(heir)
        followers[heir] = [r for r in followers[m] if r != heir] + [m]
        followers[m] = []
        slots[heir], slots[m] = slots[m], []
    heads.sort(key=lambda a: -len(slots[a]))
    draining = [m for m in masters if m not in heads[:shards] and slots[m]]
    heads = heads[:shards]
    empty = [a for a in kept if a not in view or (view[a].master and not view[a].slots)]
    fresh = [a for a in empty if a not in heads][: max(0, shards - len(heads))]
    if len(heads) + len(fresh) < shards:
        raise ScaleRefused(
            f"{shards} masters are needed but only {len(heads) + len(fresh)} nodes can be "
            "one without losing data: change shards and replicas in two runs "
            "(one `up` for shards, another for replicas)"
        )
    final = heads + fresh
    owned = {a: slots.get(a, []) for a in final + draining}
    result.moves = slot_moves(owned, final, draining)
    assign_replicas(result, view, kept, final, followers, draining, replicas)
    return result


def adoptable(
    view: Mapping[str, Member],
    kept: list[str],
    heads: list[str],
    followers: Mapping[str, list[str]],
) -> str | None:
    """A kept replica that can take over a leaving master's slots without moving
    them (it follows that master, syncs, then fails over): one whose master has
    the most kept replicas, so no master is left without one."""
    busy = {r: m for m, rs in followers.items() for r in rs}
    candidates = [a for a in kept if a in view and a not in heads and a in busy]
    if not candidates:
        return None

    def spare(a: str) -> tuple[int, str]:
        return (-sum(r in kept for r in followers[busy[a]]), a)

    return min(candidates, key=spare)


def slot_moves(
    owned: Mapping[str, list[int]], final: list[str], draining: list[str]
) -> list[tuple[str, str, list[int]]]:
    """Even shares for `final` (the first masters get the remainder), taken
    first from `draining` masters, then from masters above their share."""
    share = {
        m: SLOTS // len(final) + (1 if i < SLOTS % len(final) else 0) for i, m in enumerate(final)
    }
    spare: list[tuple[str, int]] = [(d, s) for d in draining for s in owned[d]]
    for m in final:
        extra = len(owned[m]) - share[m]
        if extra > 0:
            spare += [(m, s) for s in sorted(owned[m])[-extra:]]
    moves: dict[tuple[str, str], list[int]] = {}
    for m in final:
        need = share[m] - len(owned[m])
        for source, slot in spare[: max(0, need)]:
            moves.setdefault((source, m), []).append(slot)
        spare = spare[max(0, need) :]
    return [(a, b, sorted(slots)) for (a, b), slots in moves.items()]


def assign_replicas(
    result: ScalePlan,
    view: Mapping[str, Member],
    kept: list[str],
    final: list[str],
    followers: Mapping[str, list[str]],
    draining: list[str],
    replicas: int,
) -> None:
    """Every kept non-master follows a final master, at most `replicas` each;
    a replica already in place stays where it is."""
    pool = [a for a in kept if a not in final]
    current = {r: m for m, rs in followers.items() for r in rs}
    count = dict.fromkeys(final, 0)
    moves: list[tuple[str, str]] = []
    homeless = []
    for node in pool:
        master = current.get(node)
        if master in count and count[master] < replicas:
            count[master] += 1
        else:
            homeless.append(node)
    for node in homeless:
        target = min(final, key=lambda m: (count[m], final.index(m)))
        count[target] += 1
        moves.append((node, target))
    for node, master in moves:
        late = current.get(node) in draining
        (result.replicate_after if late else result.replicate_first).append((node, master))


def state_of(cluster_info: Any) -> str | None:
    """cluster_state from CLUSTER INFO, parsed by redis-py or raw."""
    if isinstance(cluster_info, Mapping):
        return str(cluster_info.get("cluster_state"))
    fields = dict(line.split(":", 1) for line in str(cluster_info).split() if ":" in line)
    return fields.get("cluster_state")


def ranges(slots: Iterable[int]) -> list[str]:
    out: list[str] = []
    ordered = sorted(slots)
    start = prev = None
    for s in ordered:
        if start is None:
            start = prev = s
        elif s == prev + 1:  # type: ignore[operator]
            prev = s
        else:
            out.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = s
    if start is not None:
        out.append(f"{start}-{prev}" if start != prev else str(start))
    return out


# --- carrying a plan out (blocking redis-py, in the init container's hook) ------
class Scaler:
    """Runs a `ScalePlan` on the live cluster. `reach(addr)`: a redis-py client
    for an announced address (the operator's machine reaches nodes on their
    published ports); `wait(what, check)`: poll until `check()` is None."""

    def __init__(self, reach: Any, wait: Any, password: str, user: str | None = None) -> None:
        self.reach, self.wait, self.password = reach, wait, password
        # MIGRATE logs in to the target as the source cannot: AUTH2 names the user.
        self.auth = ["AUTH", password] if user is None else ["AUTH2", user, password]
        self.conns: dict[str, Any] = {}

    def call(self, addr: str, *args: Any) -> Any:
        """One command on one node, over a connection kept for the whole run
        (thousands of slot moves: a connection and AUTH per command would
        dominate)."""
        if addr not in self.conns:
            self.conns[addr] = self.reach(addr)
        return self.conns[addr].execute_command(*args)

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()

    def view(self, seed: str) -> dict[str, Member]:
        return members(self.call(seed, "CLUSTER NODES"))

    def run(self, kept: list[str], shards: int, replicas: int) -> ScalePlan | None:
        try:
            return self._run(kept, shards, replicas)
        finally:
            self.close()

    def _run(self, kept: list[str], shards: int, replicas: int) -> ScalePlan | None:
        seed = kept[0]
        view = self.view(seed)
        if len(view) <= 1:
            return None  # not formed yet: the init container creates it
        todo = plan(view, kept, shards, replicas)
        if todo.empty:
            return todo
        self.join(seed, todo.meet, kept)
        self.replicate(seed, todo.adopt, kept)
        for _, heir in todo.failovers:
            self.hand_over(heir)
        self.replicate(seed, todo.replicate_first, kept)
        view = self.view(seed)
        ids = {a: m.id for a, m in view.items()}
        masters = [a for a in view if self.role(a, "master") is None]  # as each node says
        for source, target, slots in todo.moves:
            for start in range(0, len(slots), SLOT_BATCH):
                self.move_slots(slots[start : start + SLOT_BATCH], source, target, ids, masters)
        self.replicate(seed, todo.replicate_after, kept)
        self.remove(todo.forget, ids, kept)
        return todo

    def join(self, seed: str, new: list[str], kept: list[str]) -> None:
        for addr in new:
            ip, port = addr.rsplit(":", 1)
            self.call(seed, "CLUSTER", "MEET", ip, port)

        def unknown() -> str | None:
            for node in kept:  # gossip: every node must know every other one
                missing = [a for a in kept if a not in self.view(node)]
                if missing:
                    return f"{node} does not know {', '.join(missing)} yet"
                # A new node refuses keys (CLUSTERDOWN) until it sees every slot served.
                if state_of(self.call(node, "CLUSTER", "INFO")) != "ok":
                    return f"{node} does not see the cluster ok yet"
            return None

        self.wait("joining the new nodes", unknown)

    def hand_over(self, heir: str) -> None:
        self.call(heir, "CLUSTER", "FAILOVER")
        self.wait(f"handing a leaving master to {heir}", lambda: self.role(heir, "master"))

    def replicate(self, seed: str, pairs: list[tuple[str, str]], kept: list[str]) -> None:
        if not pairs:
            return
        ids = {a: m.id for a, m in self.view(seed).items()}
        for node, master in pairs:
            self.call(node, "CLUSTER", "REPLICATE", ids[master])
        self.wait("replicas syncing with their masters", lambda: self.unsynced(kept))

    def move_slots(
        self, slots: list[int], source: str, target: str, ids: Mapping[str, str], masters: list[str]
    ) -> None:
        """Redis' migration protocol (the cluster specification's "Live
        reconfiguration"), for a batch of slots at once: each step is pipelined
        over the batch, in the protocol's order for every slot. While a slot is
        MIGRATING, a key the source lacks is redirected (ASK) to the target, so
        no new key lands behind the move; SETSLOT NODE goes to the target first."""
        self.batch(target, [("CLUSTER", "SETSLOT", s, "IMPORTING", ids[source]) for s in slots])
        self.batch(source, [("CLUSTER", "SETSLOT", s, "MIGRATING", ids[target]) for s in slots])
        ip, port = target.rsplit(":", 1)
        first = self.batch(source, [("CLUSTER", "GETKEYSINSLOT", s, MIGRATE_BATCH) for s in slots])
        for slot, keys in zip(slots, first, strict=True):
            while keys:
                self.call(
                    source, "MIGRATE", ip, port, "", 0, MIGRATE_TIMEOUT_MS,
                    *self.auth, "KEYS", *keys,
                )  # fmt: skip
                keys = self.call(source, "CLUSTER", "GETKEYSINSLOT", slot, MIGRATE_BATCH)
        assign = [("CLUSTER", "SETSLOT", s, "NODE", ids[target]) for s in slots]
        self.batch(target, assign)
        for addr in [source] + [a for a in masters if a not in (target, source)]:
            # Redis 7: a master that lost its last slot turns into a replica of
            # the node that took it, and a replica keeps no slot table.
            self.batch(addr, assign, tolerate="only with masters")

    def batch(self, addr: str, commands: list[tuple[Any, ...]], tolerate: str = "") -> list[Any]:
        """Commands pipelined on one node; errors raised unless they contain
        `tolerate`."""
        if addr not in self.conns:
            self.conns[addr] = self.reach(addr)
        pipe = self.conns[addr].pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception) and not (tolerate and tolerate in str(reply)):
                raise reply
        return replies

    def remove(self, leaving: list[str], ids: Mapping[str, str], kept: list[str]) -> None:
        for addr in leaving:
            for other in kept:
                self.call(other, "CLUSTER", "FORGET", ids[addr])
        for addr in leaving:
            self.call(addr, "CLUSTER", "RESET", "HARD")

    def role(self, addr: str, role: str) -> str | None:
        actual = self.info(addr).get("role")
        return None if actual == role else f"{addr} is {actual}, not {role}"

    def info(self, addr: str) -> dict[str, Any]:
        if addr not in self.conns:
            self.conns[addr] = self.reach(addr)
        return dict(self.conns[addr].info("replication"))

    def unsynced(self, kept: list[str]) -> str | None:
        for addr in kept:
            info = self.info(addr)
            if info.get("role") != "master" and (
                info.get("master_link_status") != "up" or info.get("master_sync_in_progress")
            ):
                return f"{addr} has not finished its sync"
        return None
