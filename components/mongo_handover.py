"""What a rolling replacement does to MongoDB replica set members before and
after each one (`components.rolling.Roller` runs these in a worker thread).

Before a member goes (`hand_over`): the set must be ready to lose it, i.e.
`replSetGetStatus` shows a PRIMARY, every other member is up (health 1) and
serving (PRIMARY or SECONDARY; an arbiter ARBITER), and every secondary's
optime is within `MAX_LAG_S` of the primary's (plus its `secondaryDelaySecs`,
for a delayed member). The step waits for that (bounded), then fails naming
the member and the reason; nothing is deleted. A member that does not answer
has nothing to hand over (the set already does without it).

A primary is then stepped down: `replSetStepDown` makes it stop taking writes
and wait (`secondaryCatchUpPeriodSecs`) until an electable secondary has its
last write before it steps down, so that secondary wins the election and no
write acknowledged with majority concern is lost. A set whose only electable
members are this one refuses (priority 0 elsewhere: replacing it means no
primary). It is deleted only once another member is PRIMARY and it is SECONDARY.

After its replacement starts (`rejoined`): it answers, and the set (as the
primary sees it) lists it with health 1 as SECONDARY (or PRIMARY: the preferred
primary takes over again once caught up), its optime caught up. The data volume
is kept, so it resumes from its own oplog rather than an initial sync.

Turn order (`rank`): members that do not answer first, then secondaries and
the arbiter, then the primary, so the set elects once per change.

The decisions are pure functions over `replSetGetStatus` documents (members[]
with name, stateStr, health, optimeDate, self:
https://www.mongodb.com/docs/manual/reference/command/replSetGetStatus/); the
pymongo calls are the three methods of `MongoMembers` that talk to a server.
They connect the way `infra status` does: to one member (`directConnection`),
on its published host port, as the root user. An arbiter holds no users, so it
is only pinged (no authentication needed), and its state comes from the
others' view. With `mongo.tls` they connect over TLS, verifying each member's
certificate with the set's CA.
"""

from __future__ import annotations

import atexit
import functools
import os
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pymongo
import pymongo.errors

HANDOVER_TIMEOUT_S = 120.0  # the set getting ready, an election after a step-down
REJOIN_TIMEOUT_S = 300.0  # a replaced mongod starting, recovering and catching up
POLL_S = 1.0
MAX_LAG_S = 10.0  # a secondary this far behind the primary is not "in sync"
STEP_DOWN_S = 60  # the old primary is not electable again for this long
CATCH_UP_S = 10  # how long the primary waits for an electable secondary to catch up
CONNECT_TIMEOUT_MS = 3000
# Longer than replSetStepDown may hold its reply (secondaryCatchUpPeriodSecs).
SOCKET_TIMEOUT_MS = (CATCH_UP_S + 20) * 1000
SERVING = ("PRIMARY", "SECONDARY")

Status = Mapping[str, Any]  # a replSetGetStatus reply


class HandOverRefused(RuntimeError):
    """A member cannot be deleted now without losing the primary or data."""


# --- decisions over replSetGetStatus documents (pure) ---------------------------
def members_of(status: Status) -> dict[str, Mapping[str, Any]]:
    """members[] by name (`host:port`, as the set config names them)."""
    return {str(m["name"]): m for m in status.get("members", [])}


def asker(status: Status) -> str:
    """The member that produced this view (`self: true`)."""
    return next((str(m["name"]) for m in status.get("members", []) if m.get("self")), "?")


def primary_of(status: Status) -> str | None:
    """The one healthy PRIMARY of the view, if there is exactly one."""
    found = [
        str(m["name"])
        for m in status.get("members", [])
        if m.get("stateStr") == "PRIMARY" and m.get("health") == 1
    ]
    return found[0] if len(found) == 1 else None


def is_primary(status: Status | None, host: str) -> bool:
    return status is not None and primary_of(status) == host


def lag_s(status: Status, host: str) -> float | None:
    """How far `host`'s last applied op (optimeDate) is behind the primary's,
    in seconds (None: no primary, or no optime to compare)."""
    primary = primary_of(status)
    members = members_of(status)
    if primary is None or host not in members:
        return None
    theirs, ours = members[primary].get("optimeDate"), members[host].get("optimeDate")
    if not isinstance(theirs, datetime) or not isinstance(ours, datetime):
        return None
    return (theirs - ours).total_seconds()


def behind(status: Status, host: str, delays: Mapping[str, float], max_lag_s: float) -> str | None:
    """Why `host` (a SECONDARY) does not count as caught up (None: it does)."""
    lag = lag_s(status, host)
    if lag is None:
        return f"{host} reports no optime to compare with the primary's"
    allowed = max_lag_s + delays.get(host, 0)
    if lag > allowed:
        return f"{host} is {lag:.0f} s behind the primary (at most {allowed:.0f} s)"
    return None


def not_serving(member: Mapping[str, Any], seen_by: str) -> str | None:
    """Why a member of the view does not serve (None: it does)."""
    name, state = member["name"], member.get("stateStr", "?")
    if member.get("health") != 1:
        return f"{name} is down as {seen_by} sees it ({state})"
    if state not in (*SERVING, "ARBITER"):
        return f"{name} is {state}"
    return None


def not_ready(
    status: Status | None,
    leaving: str,
    delays: Mapping[str, float] | None = None,
    max_lag_s: float = MAX_LAG_S,
) -> str | None:
    """Why the set cannot lose member `leaving` now (None: it can): it needs a
    primary, every other member up and serving, every secondary caught up."""
    if status is None:
        return "no member answers replSetGetStatus"
    seen_by = asker(status)
    if primary_of(status) is None:
        return f"the set has no primary as {seen_by} sees it"
    for name, member in members_of(status).items():
        if name == leaving:
            continue
        reason = not_serving(member, seen_by)
        if reason is None and member.get("stateStr") == "SECONDARY":
            reason = behind(status, name, delays or {}, max_lag_s)
        if reason is not None:
            return reason
    return None


def no_successor(
    status: Status,
    leaving: str,
    electable: Collection[str],
    delays: Mapping[str, float] | None = None,
    max_lag_s: float = MAX_LAG_S,
) -> str | None:
    """Why no other member could take over from primary `leaving` (None: one can):
    an electable (priority > 0) SECONDARY that is up and caught up."""
    members = members_of(status)
    candidates = [h for h in electable if h != leaving]
    if not candidates:
        return "no other member can become primary (they all have priority 0)"
    for host in candidates:
        member = members.get(host)
        if member is None or not_serving(member, asker(status)) is not None:
            continue
        if (
            member.get("stateStr") == "SECONDARY"
            and behind(status, host, delays or {}, max_lag_s) is None
        ):
            return None
    return f"no electable secondary ({', '.join(sorted(candidates))}) is up and caught up"


def not_handed_over(status: Status | None, host: str) -> str | None:
    """Why the step-down of `host` is not done (None: another member is PRIMARY
    and `host` is SECONDARY)."""
    if status is None:
        return "no member answers replSetGetStatus"
    primary = primary_of(status)
    if primary is None:
        return "no member is PRIMARY yet (election in progress)"
    if primary == host:
        return f"{host} is still PRIMARY"
    state = members_of(status).get(host, {}).get("stateStr", "not in the set")
    return None if state == "SECONDARY" else f"{host} is {state}, not SECONDARY"


def not_rejoined(
    status: Status | None,
    host: str,
    delays: Mapping[str, float] | None = None,
    arbiter: bool = False,
    max_lag_s: float = MAX_LAG_S,
) -> str | None:
    """Why replaced member `host` does not serve yet (None: it does): up in the
    set's view, SECONDARY or PRIMARY (an arbiter: ARBITER), optime caught up."""
    if status is None:
        return "no member answers replSetGetStatus"
    member = members_of(status).get(host)
    if member is None:
        return f"{host} is not in the set's config as {asker(status)} sees it"
    seen_by = asker(status)
    if member.get("health") != 1:
        return f"{host} is down as {seen_by} sees it"
    state = member.get("stateStr")
    if arbiter:
        return None if state == "ARBITER" else f"{host} is {state}, not ARBITER"
    if state not in SERVING:
        return f"{host} is {state}, not SECONDARY"
    if primary_of(status) is None:
        return f"the set has no primary as {seen_by} sees it"
    return None if state == "PRIMARY" else behind(status, host, delays or {}, max_lag_s)


def rank_of(status: Status | None, host: str, answers: bool) -> int:
    """Turn order: not answering (0), secondaries and arbiters (1), the primary (2)."""
    if not answers:
        return 0
    return 2 if is_primary(status, host) else 1


# --- talking to the members (pymongo, blocking) --------------------------------
@functools.cache
def ca_file(pem: str) -> str:
    """A file holding the CA certificate `pem`, for pymongo's `tlsCAFile` (it
    takes no in-memory CA). Created by this process (mkstemp: a name nobody
    else could have planted a CA under), removed at exit; one per CA."""
    fd, path = tempfile.mkstemp(prefix="infra-mongo-ca-", suffix=".pem")
    with os.fdopen(fd, "w") as out:
        out.write(pem)
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    with suppress(OSError):
        os.unlink(path)


def tls_options(ca_pem: str | None) -> dict[str, Any]:
    """MongoClient options for a member verified with `ca_pem` (None: plaintext)."""
    if ca_pem is None:
        return {}
    return {"tls": True, "tlsCAFile": ca_file(ca_pem)}


@dataclass
class MongoMembers:
    """The members of one replica set component, by resource name.

    `endpoints`: resource name -> (host, port) reachable from this process (the
    published port); `hosts`: resource name -> the member's `host:port` in the
    set config (how replSetGetStatus names it); `arbiters`: resource names of
    arbiters; `electable`: member hosts with priority > 0; `delays`: member host
    -> secondaryDelaySecs."""

    endpoints: Mapping[str, tuple[str, int]]
    hosts: Mapping[str, str]
    user: str
    auth_source: str
    arbiters: Collection[str] = ()
    electable: Collection[str] = ()
    delays: Mapping[str, float] = field(default_factory=dict)
    secret: list[str] = field(default_factory=list)  # filled by an Output.apply
    ca_pem: list[str] = field(default_factory=list)  # mongo.tls: the set's CA, likewise
    timeout_s: float = HANDOVER_TIMEOUT_S
    rejoin_timeout_s: float = REJOIN_TIMEOUT_S

    def client_options(self, name: str, auth: bool = True) -> dict[str, Any]:
        """MongoClient arguments for member `name` alone (directConnection),
        as root unless `auth` is False."""
        host, port = self.endpoints[name]
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            "directConnection": True,
            "serverSelectionTimeoutMS": CONNECT_TIMEOUT_MS,
            "connectTimeoutMS": CONNECT_TIMEOUT_MS,
            "socketTimeoutMS": SOCKET_TIMEOUT_MS,
            "appname": "infra-rollout",
            **tls_options(self.ca_pem[0] if self.ca_pem else None),
        }
        if auth:
            options |= {
                "username": self.user,
                "password": self.secret[0] if self.secret else None,
                "authSource": self.auth_source,
            }
        return options

    @contextmanager
    def client(self, name: str, auth: bool = True) -> Iterator[pymongo.MongoClient[Any]]:
        conn: pymongo.MongoClient[Any] = pymongo.MongoClient(**self.client_options(name, auth))
        try:
            yield conn
        finally:
            conn.close()

    def answers(self, name: str) -> bool:
        """`ping` needs no authentication (an arbiter has no users)."""
        try:
            with self.client(name, auth=False) as conn:
                conn.admin.command("ping")
        except pymongo.errors.PyMongoError:
            return False
        return True

    def status(self, name: str) -> dict[str, Any] | None:
        """replSetGetStatus from member `name` (None: no answer)."""
        try:
            with self.client(name) as conn:
                return dict(conn.admin.command("replSetGetStatus"))
        except pymongo.errors.PyMongoError:
            return None

    def step_down(self, name: str) -> str | None:
        """replSetStepDown on `name`; None once it stepped down (or its
        connection dropped, as servers before 4.2 do on a step-down, or it is
        no longer primary), else the server's refusal."""
        try:
            with self.client(name) as conn:
                conn.admin.command(
                    "replSetStepDown", STEP_DOWN_S, secondaryCatchUpPeriodSecs=CATCH_UP_S
                )
        except pymongo.errors.ConnectionFailure:  # incl. NotPrimaryError
            return None
        except pymongo.errors.OperationFailure as exc:
            return str(exc)
        return None

    # --- built on the three calls above ---
    def data_members(self) -> list[str]:
        return [n for n in self.endpoints if n not in self.arbiters]

    def resource_of(self, host: str) -> str | None:
        return next((r for r, h in self.hosts.items() if h == host), None)

    def view(self) -> dict[str, Any] | None:
        """The set as its primary sees it (its optimes are the reference), else
        as the first data member that answers (None: none does)."""
        answering = (s for n in self.data_members() if (s := self.status(n)) is not None)
        status = next(answering, None)
        if status is None:
            return None
        primary = primary_of(status)
        if primary is None or primary == asker(status):
            return status
        owner = self.resource_of(primary)
        if owner is not None and owner in self.endpoints:
            theirs = self.status(owner)
            if theirs is not None and primary_of(theirs) == asker(theirs):
                return theirs
        return status

    def wait(
        self, what: str, check: Callable[[], str | None], timeout_s: float | None = None
    ) -> None:
        """Poll `check` (None = done, else the reason) until done or the timeout."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + limit
        reason = check()
        while reason is not None:
            if time.monotonic() > deadline:
                raise HandOverRefused(f"{what}: {reason} (still after {limit:.0f} s)")
            time.sleep(POLL_S)
            reason = check()


# --- the Roller's three steps ------------------------------------------------------
def hand_over(members: MongoMembers, name: str) -> None:
    """Before member `name` goes: a ready set, and `name` no longer the primary."""
    if name not in members.endpoints or not members.answers(name):
        return  # scaled away, or down already: the set does without it
    host = members.hosts[name]
    members.wait(
        f"{name} was not replaced (nothing was deleted)",
        lambda: not_ready(members.view(), host, members.delays),
    )
    if name in members.arbiters:
        return
    status = members.view()
    if status is None or not is_primary(status, host):
        return  # a secondary: the set keeps its primary
    reason = no_successor(status, host, members.electable, members.delays)
    if reason is not None:
        raise HandOverRefused(
            f"{name} is the primary and {reason}: replacing it would leave the set without "
            "a primary (nothing was deleted); give another member a priority above 0, or set "
            "mongo.rollout: all-at-once to accept the outage"
        )
    refused = members.step_down(name)
    if refused is not None and is_primary(members.view(), host):
        raise HandOverRefused(
            f"{name} refused to step down ({refused}); it is still the primary and nothing "
            "was deleted"
        )
    members.wait(f"handing {name} over", lambda: not_handed_over(members.view(), host))


def rejoined(members: MongoMembers, name: str) -> None:
    """After `name`'s replacement is created: wait until it serves, caught up."""
    if name not in members.endpoints:
        return
    host, arbiter = members.hosts[name], name in members.arbiters

    def check() -> str | None:
        if not members.answers(name):
            return f"{name} does not answer"
        return not_rejoined(members.view(), host, members.delays, arbiter)

    members.wait(f"waiting for {name} to rejoin", check, members.rejoin_timeout_s)


def rank(members: MongoMembers, name: str) -> int:
    if name not in members.endpoints:
        return 0  # no longer declared (scaled away): nothing to hand over
    answers = members.answers(name)
    return rank_of(members.view() if answers else None, members.hosts[name], answers)
