"""What a rolling replacement does to a Redis Sentinel topology before and after
each container (`components.rolling.Roller` runs these in a worker thread).

Data nodes. Before one goes, the tier must be healthy: every node answers,
every replica is linked and not syncing, and every Sentinel names the same
primary for every master set. A replica then just goes. A primary is handed
over first, and Sentinel's own failover is not lossless on its own: it promotes
a replica without waiting for it to catch up, and reconfigures the old primary
only after it has reported `master` for 4 hello periods (8 s, sentinel.c), a
window in which clients still connected to it get their writes acknowledged
and then discarded. So the hand-over wraps `SENTINEL FAILOVER` in the steps a
Cluster's `CLUSTER FAILOVER` takes by itself:

1. `CLIENT PAUSE WRITE` on the old primary (writes wait, reads go on);
2. wait until its replicas have its last write (replication offsets);
3. `SENTINEL FAILOVER <set>` on one Sentinel: it promotes a replica;
4. wait until every Sentinel names the new primary, and it says `master`;
5. on the old primary, what Sentinel would send 8 s later: `REPLICAOF` the new
   one, `CONFIG REWRITE` (its replacement starts as a replica: the start script
   keeps the rewritten `replicaof`), `CLIENT KILL TYPE normal` (the paused
   writes are dropped unexecuted; clients reconnect through Sentinel);
6. `CLIENT UNPAUSE`, always.

A group with no replica in sync is refused: nothing is deleted. After a
replacement starts (`rejoined`) it must be a replica, linked and synced, that
every Sentinel lists as up.

Sentinels. One goes only while the others answer, agree on every primary and
can authorize a failover of every master set (`SENTINEL CKQUORUM`); its
replacement keeps `sentinel.conf` on the volume (id, epochs, known peers), and
counts as back once it answers, reaches the quorum for every set, names the
same primaries as the others, and they list it as up.

Groups added and removed (`redis.shards`). The Sentinels' template lists
every master set, so a change of `shards` replaces each Sentinel, in turns like
above. Adding a group: the engine creates its nodes first (the Sentinels depend
on every data node), but the Sentinels still running do not know its master
set, so each Sentinel's hand-over waited in vain for the others to reach the
quorum of the new set (`CKQUORUM shard-3`: "No such master with that name")
and `up` failed after 3 x 60 s with nothing replaced (observed); and a
replacement monitoring the set could not have reached that quorum alone (its
healthcheck is `CKQUORUM` of every set). So before a Sentinel goes, every
Sentinel that answers is told to monitor any declared set it lacks (`SENTINEL
MONITOR` at the group's primary, then `SENTINEL SET` with the template's
settings; Sentinel saves both in its config file, which the replacement starts
from), and they discover each other through the new primary's hello channel.

Removing a group needs no command: the engine deletes the resources a program
no longer declares only after the program has registered all the others, so
every Sentinel has been replaced by one whose template no longer names the set
(the start script drops its learned state) before the group's nodes go; no
Sentinel is left that could see them down and try to fail the group over
(tested: tests/integration/test_sentinel_groups_engine.py). The group's nodes
are not members of the program, so they take no turn and no hand-over: removing
a group deletes its data by definition.

Sentinels name nodes and peers by their announced (container) addresses;
`RedisNodes.announced` maps those to resource names, whose endpoints are
reachable from the operator's machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass

import redis

from components import redis_handover as ho
from components.redis_handover import HandOverRefused, RedisNodes, role_is, synced, unhealthy


@dataclass(frozen=True)
class Monitoring:
    """The settings every master set gets in the Sentinels' template
    (`components.redis_sentinel.sentinel_conf`), for one registered at runtime."""

    quorum: int
    down_after_ms: int
    failover_timeout_ms: int
    parallel_syncs: int

    user: str | None = None  # redis.defaultUser: disabled: infra's own user

    def options(self, password: str) -> list[str]:
        """`SENTINEL SET <set>` arguments: option, value, ..."""
        login = [] if self.user is None else ["auth-user", self.user]
        return [
            *login,
            "auth-pass",
            password,
            "down-after-milliseconds",
            str(self.down_after_ms),
            "failover-timeout",
            str(self.failover_timeout_ms),
            "parallel-syncs",
            str(self.parallel_syncs),
        ]


@dataclass
class SentinelTier:
    """A Sentinel component by resource name: `nodes` (data nodes), `sentinels`
    (sharing the nodes' password box), `master_sets` (data node -> the master
    set it belongs to) and `monitoring` (each set's Sentinel settings)."""

    nodes: RedisNodes
    sentinels: RedisNodes
    master_sets: Mapping[str, str]
    monitoring: Monitoring

    def sets(self) -> list[str]:
        return sorted(set(self.master_sets.values()))

    def members(self, master_set: str) -> list[str]:
        return [n for n, s in self.master_sets.items() if s == master_set]

    def address(self, name: str) -> str:
        """The announced `ip:port` of a data node or Sentinel."""
        announced = {**self.nodes.announced, **self.sentinels.announced}
        return next(addr for addr, n in announced.items() if n == name)


# --- asking Sentinels -----------------------------------------------------------
# Commands go as separate words: redis-py's callbacks for "SENTINEL ..." would
# reshape the replies (CKQUORUM into a bool that is False for "OK 3 usable ...").
def ask(tier: SentinelTier, sentinel: str, *args: str) -> object:
    with tier.sentinels.client(sentinel) as conn:
        return conn.execute_command("SENTINEL", *args)


def named_primary(tier: SentinelTier, sentinel: str, master_set: str) -> str | None:
    """The announced `ip:port` a Sentinel names as the set's primary (None: no answer)."""
    try:
        reply = ask(tier, sentinel, "GET-MASTER-ADDR-BY-NAME", master_set)
    except redis.RedisError:
        return None
    if not isinstance(reply, list | tuple) or len(reply) != 2:
        return None
    return f"{reply[0]}:{reply[1]}"


def agreed_primary(
    tier: SentinelTier, master_set: str, skip: str | None = None
) -> tuple[str | None, str | None]:
    """(the primary every Sentinel but `skip` names, None) or (None, why not)."""
    named = {s: named_primary(tier, s, master_set) for s in tier.sentinels.endpoints if s != skip}
    silent = [s for s, addr in named.items() if addr is None]
    if silent:
        return None, f"{silent[0]} does not answer"
    views = set(named.values())
    if len(views) != 1:
        return (
            None,
            f"the Sentinels disagree on the primary of {master_set}: {sorted(named.items())}",
        )
    return views.pop(), None


def disagreement(tier: SentinelTier, skip: str | None = None) -> str | None:
    for master_set in tier.sets():
        _, reason = agreed_primary(tier, master_set, skip)
        if reason is not None:
            return reason
    return None


def listed(tier: SentinelTier, sentinel: str, kind: str, master_set: str) -> dict[str, bool]:
    """`ip:port` -> up, of the replicas (kind "replicas") or peer Sentinels
    (kind "sentinels") a Sentinel knows in a master set. redis-py parses these
    replies (their shape depends on the protocol) into `is_*` flags."""
    with tier.sentinels.client(sentinel) as conn:
        known = conn.sentinel_slaves if kind == "replicas" else conn.sentinel_sentinels
        entries = known(master_set)
    return {
        f"{e['ip']}:{e['port']}": not (e["is_sdown"] or e["is_odown"] or e["is_disconnected"])
        for e in entries or []
    }


def unlisted(tier: SentinelTier, name: str, kind: str, sentinels: Sequence[str]) -> str | None:
    """Why not every one of `sentinels` lists `name` as up (kind: "replicas"
    or "sentinels") in every master set it belongs to (None: they do)."""
    address = tier.address(name)
    sets = [tier.master_sets[name]] if name in tier.master_sets else tier.sets()
    for sentinel in sentinels:
        for master_set in sets:
            try:
                up = listed(tier, sentinel, kind, master_set).get(address)
            except redis.RedisError as exc:
                return f"{sentinel} does not answer ({exc})"
            if not up:
                state = "unknown" if up is None else "down"
                return f"{sentinel} lists {name} as {state} in {master_set}"
    return None


def no_quorum(tier: SentinelTier, sentinel: str) -> str | None:
    """Why `sentinel` could not authorize a failover of some set (None: it could)."""
    for master_set in tier.sets():
        try:
            reply = str(ask(tier, sentinel, "CKQUORUM", master_set))
        except redis.RedisError as exc:
            return f"{sentinel}: CKQUORUM {master_set}: {exc}"
        if not reply.startswith("OK"):
            return f"{sentinel}: CKQUORUM {master_set}: {reply}"
    return None


# --- data nodes -------------------------------------------------------------------
def data_unhealthy(tier: SentinelTier) -> str | None:
    return unhealthy(tier.nodes) or disagreement(tier)


def in_sync_replica(info: Mapping[str, object] | None) -> bool:
    return info is not None and info.get("role") == "slave" and synced(info)


def hand_over(tier: SentinelTier, name: str) -> None:
    """Before data node `name` goes: a healthy tier, and no longer the primary."""
    nodes = tier.nodes
    if name not in tier.master_sets or nodes.replication(name) is None:
        return  # scaled away, or gone already (a primary: Sentinel fails it over)
    nodes.wait(f"before replacing {name}", lambda: data_unhealthy(tier))
    master_set = tier.master_sets[name]
    primary, _ = agreed_primary(tier, master_set)
    if primary != tier.address(name):
        return  # a replica: nothing to hand over
    others = [n for n in tier.members(master_set) if n != name]
    ready = [n for n in others if in_sync_replica(nodes.replication(n))]
    if not ready:
        raise HandOverRefused(
            f"{name} is the primary of {master_set} and has no replica in sync: replacing "
            "it would lose that group's data; set redis.replicas >= 1, or "
            "redis.rollout: all-at-once to accept the outage"
        )
    sentinels = list(tier.sentinels.endpoints)
    nodes.wait(
        f"the Sentinels seeing a replica of {name}",  # or SENTINEL FAILOVER: NOGOODSLAVE
        lambda: unlisted(tier, ready[0], "replicas", sentinels),
    )
    fail_over(tier, name, master_set, ready)


def fail_over(tier: SentinelTier, name: str, master_set: str, ready: list[str]) -> None:
    """Steps 1-6 of the module docstring. The pause outlasts every wait: should
    this process die half-way, the old primary stays paused until Sentinel
    demotes it itself, rather than taking writes that would be discarded."""
    nodes = tier.nodes
    with nodes.client(name) as conn:
        conn.execute_command("CLIENT", "PAUSE", int(nodes.timeout_s * 4000), "WRITE")
    try:
        nodes.wait(f"replicas catching up with {name}", lambda: lagging(nodes, name, ready))
        start_failover(tier, master_set)
        nodes.wait(f"handing {name} over", lambda: promoted(tier, master_set, name))
        new, reason = agreed_primary(tier, master_set)
        if new is None:
            raise HandOverRefused(f"handing {name} over: {reason}")
        demote(nodes, name, new)
        nodes.wait(f"{name} becoming a replica", lambda: role_is(nodes, name, "slave"))
    finally:
        with suppress(redis.RedisError), nodes.client(name) as conn:
            conn.execute_command("CLIENT", "UNPAUSE")


def lagging(nodes: RedisNodes, primary: str, replicas: list[str]) -> str | None:
    """Which replica has not yet processed the (paused) primary's last write."""
    info = nodes.replication(primary)
    if info is None:
        return f"{primary} does not answer"
    for replica in replicas:
        theirs = nodes.replication(replica) or {}
        if int(theirs.get("slave_repl_offset", -1)) < int(info["master_repl_offset"]):
            return f"{replica} is behind {primary}"
    return None


def start_failover(tier: SentinelTier, master_set: str) -> None:
    """`SENTINEL FAILOVER` on the first Sentinel (any will do: a forced
    failover needs no vote), retried while it refuses (NOGOODSLAVE)."""
    sentinel = next(iter(tier.sentinels.endpoints))

    def attempt() -> str | None:
        try:
            ask(tier, sentinel, "FAILOVER", master_set)
        except redis.ResponseError as exc:
            return f"{sentinel} refuses to fail {master_set} over: {exc}"
        return None

    tier.nodes.wait(f"starting a failover of {master_set}", attempt)


def promoted(tier: SentinelTier, master_set: str, old: str) -> str | None:
    """Why not yet: every Sentinel names one new primary, and it says `master`."""
    primary, reason = agreed_primary(tier, master_set)
    if primary is None:
        return reason
    if primary == tier.address(old):
        return f"the Sentinels still name {old}"
    return role_is(tier.nodes, tier.nodes.announced.get(primary, primary), "master")


def demote(nodes: RedisNodes, name: str, primary: str) -> None:
    """What Sentinel sends an old primary (sentinelSendSlaveOf), in one MULTI."""
    host, port = primary.rsplit(":", 1)
    with nodes.client(name) as conn:
        pipe = conn.pipeline(transaction=True)
        pipe.execute_command("REPLICAOF", host, port)
        pipe.execute_command("CONFIG", "REWRITE")
        pipe.execute_command("CLIENT", "KILL", "TYPE", "normal")
        pipe.execute()


def rank(tier: SentinelTier, name: str) -> int:
    """`redis_handover.rank` (down, replicas, primaries); a node the program no
    longer declares (a scale-in removes it) goes first: it has nothing to hand over."""
    return ho.rank(tier.nodes, name) if name in tier.master_sets else 0


def rejoined(tier: SentinelTier, name: str) -> None:
    def check() -> str | None:
        info = tier.nodes.replication(name)
        if info is None:
            return f"{name} does not answer"
        if not in_sync_replica(info):
            return f"{name} is not (yet) a replica in sync"
        return unlisted(tier, name, "replicas", list(tier.sentinels.endpoints))

    tier.nodes.wait(f"waiting for {name} to rejoin", check)


# --- Sentinels ----------------------------------------------------------------------
def answers(nodes: RedisNodes, name: str) -> bool:
    try:
        with nodes.client(name) as conn:
            return bool(conn.ping())
    except redis.RedisError:
        return False


def sentinels_unhealthy(tier: SentinelTier, leaving: str) -> str | None:
    """Why the Sentinels other than `leaving` could not do without it now."""
    others = [s for s in tier.sentinels.endpoints if s != leaving]
    for sentinel in others:
        reason = no_quorum(tier, sentinel)
        if reason is not None:
            return reason
    return disagreement(tier, skip=leaving)


def sentinel_hand_over(tier: SentinelTier, name: str) -> None:
    """A Sentinel holds no data: it may go once the others can fail over
    without it, for every declared master set (a new one registered first)."""
    register_new_sets(tier)
    if name not in tier.sentinels.endpoints or not answers(tier.sentinels, name):
        return
    tier.sentinels.wait(f"before replacing {name}", lambda: sentinels_unhealthy(tier, name))


def sentinel_rejoined(tier: SentinelTier, name: str) -> None:
    others = [s for s in tier.sentinels.endpoints if s != name]

    def check() -> str | None:
        return (
            no_quorum(tier, name) or disagreement(tier) or unlisted(tier, name, "sentinels", others)
        )

    tier.sentinels.wait(f"waiting for {name} to rejoin", check)


def sentinel_rank(tier: SentinelTier, name: str) -> int:
    """Sentinels removed or already down first; the others in name order."""
    return 1 if name in tier.sentinels.endpoints and answers(tier.sentinels, name) else 0


# --- groups added --------------------------------------------------------------------
def monitors(tier: SentinelTier, sentinel: str, master_set: str) -> bool | None:
    """Whether a Sentinel monitors a master set (None: it does not answer).
    GET-MASTER-ADDR-BY-NAME answers nil for a set it does not know."""
    try:
        return ask(tier, sentinel, "GET-MASTER-ADDR-BY-NAME", master_set) is not None
    except redis.RedisError:
        return None


def unregistered(tier: SentinelTier) -> dict[str, list[str]]:
    """Declared master set -> the answering Sentinels that do not monitor it."""
    missing: dict[str, list[str]] = {}
    for master_set in tier.sets():
        for sentinel in tier.sentinels.endpoints:
            if monitors(tier, sentinel, master_set) is False:
                missing.setdefault(master_set, []).append(sentinel)
    return missing


def current_primary(tier: SentinelTier, master_set: str) -> tuple[str | None, str | None]:
    """(announced address, None) of a set's primary, or (None, why not): what
    a Sentinel that monitors the set names, else the one member that reports
    `master` (a new group: its member 0, which its replicas follow)."""
    for sentinel in tier.sentinels.endpoints:
        if monitors(tier, sentinel, master_set):
            named = named_primary(tier, sentinel, master_set)
            if named is not None:
                return named, None
    members = tier.members(master_set)
    masters = [n for n in members if (tier.nodes.replication(n) or {}).get("role") == "master"]
    if len(masters) != 1:
        return None, f"{master_set} has {len(masters)} members reporting master: {masters}"
    return tier.address(masters[0]), None


def wait_primary(tier: SentinelTier, master_set: str) -> str:
    found: list[str] = []

    def check() -> str | None:
        address, reason = current_primary(tier, master_set)
        found[:] = [address] if address else []
        return reason

    tier.nodes.wait(f"finding the primary of {master_set}", check)
    return found[0]


def register_new_sets(tier: SentinelTier) -> None:
    """Every answering Sentinel monitors every declared master set (see the
    module docstring: a group added by `redis.shards`). `SENTINEL MONITOR`
    with the template's quorum, then `SENTINEL SET` with its other settings
    (until auth-pass is set the Sentinel's connections to the primary are
    refused, which only delays its discovery by a moment)."""
    for master_set, sentinels in unregistered(tier).items():
        host, port = wait_primary(tier, master_set).rsplit(":", 1)
        password = tier.nodes.secret[0] if tier.nodes.secret else ""
        for sentinel in sentinels:
            ask(tier, sentinel, "MONITOR", master_set, host, port, str(tier.monitoring.quorum))
            ask(tier, sentinel, "SET", master_set, *tier.monitoring.options(password))
