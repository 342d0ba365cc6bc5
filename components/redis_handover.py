"""What a rolling replacement does to Redis nodes before and after each one.

Blocking redis-py code, run by `components.rolling.Roller` in a worker thread
of the Pulumi program (on the operator's machine, so nodes are reached on
their published ports; an unpublished node at its container address, which
only a Linux Docker host routes).

Before a node goes (`hand_over`): the tier must be healthy, i.e. every node
that should answer answers, and every replica is linked to its master with no
sync in progress; otherwise the step fails and nothing is deleted. A master is
then handed to an in-sync replica: Cluster `CLUSTER FAILOVER` on the replica
(the master stops writes, the replica catches up to its offset, then takes
over, so no acknowledged write is lost); Sentinel `SENTINEL FAILOVER` (the
Sentinels promote the best replica). Either way, the node is deleted only once
it reports `role:slave`.

After its replacement starts (`rejoined`): it answers, the cluster is ok from
its view, and it is a replica whose link is up and whose sync is done (the
volume kept `nodes.conf`, so it rejoins with its old id).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

HANDOVER_TIMEOUT_S = 60.0
POLL_S = 0.1


def tls_kwargs(ca_pem: str | None) -> dict[str, Any]:
    """redis-py's options for a TLS node verified with `ca_pem` (none: plaintext)."""
    if ca_pem is None:
        return {}
    return {"ssl": True, "ssl_ca_data": ca_pem, "ssl_check_hostname": True}


class HandOverRefused(RuntimeError):
    """A node cannot be deleted now without losing data or availability."""


@dataclass
class RedisNodes:
    """The data nodes of one Redis component, by resource name.

    `endpoints`: resource name -> (host, port) reachable from this process;
    `announced`: announced "ip:port" -> resource name (Cluster replies and
    Sentinel replies name nodes by their announced address)."""

    endpoints: Mapping[str, tuple[str, int]]
    announced: Mapping[str, str]
    secret: list[str] = field(default_factory=list)  # filled by an Output.apply
    timeout_s: float = HANDOVER_TIMEOUT_S
    ca_pem: list[str] = field(default_factory=list)  # redis.tls: the stack's CA
    username: str | None = None  # redis.defaultUser: disabled: infra's own user

    def client(self, name: str) -> redis.Redis:
        host, port = self.endpoints[name]
        return redis.Redis(
            host=host,
            port=port,
            username=self.username,
            password=self.secret[0] if self.secret else None,
            socket_timeout=5,
            socket_connect_timeout=3,
            decode_responses=True,
            **tls_kwargs(self.ca_pem[0] if self.ca_pem else None),
        )

    def replication(self, name: str) -> dict[str, Any] | None:
        """INFO replication of a node, or None when it does not answer."""
        try:
            with self.client(name) as conn:
                return dict(conn.info("replication"))
        except redis.RedisError:
            return None

    def wait(self, what: str, check: Callable[[], str | None]) -> None:
        """Poll `check` (None = done, else the reason) until done or the timeout."""
        deadline = time.monotonic() + self.timeout_s
        reason = check()
        while reason is not None:
            if time.monotonic() > deadline:
                raise HandOverRefused(f"{what}: {reason} after {self.timeout_s:.0f} s")
            time.sleep(POLL_S)
            reason = check()


def synced(info: Mapping[str, Any] | None) -> bool:
    """A replica whose link is up and whose sync is done (a master counts too)."""
    if info is None:
        return False
    if info.get("role") == "master":
        return True
    return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")


def rank(nodes: RedisNodes, name: str) -> int:
    """Turn order: nodes already down first (nothing to hand over), then
    replicas, then masters, which by then have fresh replicas to hand over to,
    so each shard fails over once."""
    info = nodes.replication(name)
    if info is None:
        return 0
    return 2 if info.get("role") == "master" else 1


def unhealthy(nodes: RedisNodes, skip: str | None = None) -> str | None:
    """Why the tier is not ready to lose a node now (None: it is)."""
    for name in nodes.endpoints:
        if name == skip:
            continue
        info = nodes.replication(name)
        if info is None:
            return f"{name} does not answer"
        if not synced(info):
            return f"{name} is a replica that is not in sync with its master"
    return None


# --- Redis Cluster -------------------------------------------------------------
def cluster_view(nodes: RedisNodes, name: str) -> dict[str, dict[str, Any]]:
    """CLUSTER NODES from one node, keyed by announced address."""
    with nodes.client(name) as conn:
        parsed = conn.execute_command("CLUSTER NODES")
    return {str(addr).split("@")[0]: info for addr, info in parsed.items()}


def cluster_state(nodes: RedisNodes, name: str) -> str | None:
    """cluster_state as one node sees it (None: it does not answer)."""
    try:
        with nodes.client(name) as conn:
            raw = conn.execute_command("CLUSTER INFO")
    except redis.RedisError:
        return None
    if isinstance(raw, dict):
        return str(raw.get("cluster_state"))
    fields = dict(line.split(":", 1) for line in str(raw).split() if ":" in line)
    return fields.get("cluster_state")


def cluster_unhealthy(nodes: RedisNodes, skip: str | None = None) -> str | None:
    reason = unhealthy(nodes, skip)
    if reason is not None:
        return reason
    asker = next(n for n in nodes.endpoints if n != skip)
    state = cluster_state(nodes, asker)
    return None if state == "ok" else f"cluster_state is {state} on {asker}"


def cluster_hand_over(nodes: RedisNodes, name: str) -> None:
    if nodes.replication(name) is None:
        return  # gone already: nothing to hand over; its replica took over
    nodes.wait(f"before replacing {name}", lambda: cluster_unhealthy(nodes))
    view = cluster_view(nodes, name)
    me = next(v for v in view.values() if "myself" in v["flags"])
    if "master" not in me["flags"] or not me["slots"]:
        return
    replicas = [
        nodes.announced[addr]
        for addr, v in view.items()
        if v["master_id"] == me["node_id"] and v["connected"] and addr in nodes.announced
    ]
    ready = [r for r in replicas if synced(nodes.replication(r))]
    if not ready:
        raise HandOverRefused(
            f"{name} is the master of {slot_text(me['slots'])} and has no replica in sync: "
            "replacing it would lose those slots' data; set redis.replicas >= 1, "
            "or redis.rollout: all-at-once to accept the outage"
        )
    with nodes.client(ready[0]) as conn:
        conn.execute_command("CLUSTER FAILOVER")
    nodes.wait(
        f"handing {name} over to {ready[0]}",
        lambda: role_is(nodes, name, "slave") or role_is(nodes, ready[0], "master"),
    )


def cluster_rejoined(nodes: RedisNodes, name: str) -> None:
    def check() -> str | None:
        info = nodes.replication(name)
        if info is None:
            return f"{name} does not answer"
        if not synced(info):
            return f"{name} has not finished its sync"
        state = cluster_state(nodes, name)
        return None if state == "ok" else f"{name} sees cluster_state {state}"

    nodes.wait(f"waiting for {name} to rejoin", check)


def role_is(nodes: RedisNodes, name: str, role: str) -> str | None:
    info = nodes.replication(name)
    actual = None if info is None else info.get("role")
    return None if actual == role else f"{name} is {actual or 'unreachable'}, not {role}"


def slot_text(slots: list[Any]) -> str:
    ranges = [f"{a}-{b}" if a != b else str(a) for a, b in (map(int, s) for s in slots)]
    return "slots " + ",".join(ranges)
