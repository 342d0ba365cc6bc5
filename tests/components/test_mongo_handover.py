"""Rolling replacement of Mongo members (components/mongo_handover.py), without a server.

No mongod runs on the project's build machines (none is installed, none can be
downloaded), so these tests stop at the server boundary: the decisions are
tested on `replSetGetStatus` documents built by hand after the documented shape
(https://www.mongodb.com/docs/manual/reference/command/replSetGetStatus/:
members[] with name, health, state, stateStr, optimeDate, self), and the steps
(`hand_over`, `rejoined`, `rank`) on a fake whose answers replace the three
methods that call pymongo. Those calls themselves (`ping`, `replSetGetStatus`,
`replSetStepDown` through a direct connection as root) are unverified here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from components import mongo_handover as ho

T0 = datetime(2025, 1, 1, 12, 0, 0)  # pymongo decodes BSON dates as naive UTC
EPOCH = datetime(1970, 1, 1)
HOSTS = [f"infra-unit-mongo-{i}:{27017 + i}" for i in range(3)]
ARBITER = "infra-unit-mongo-arbiter:27067"
STATE_CODES = {"PRIMARY": 1, "SECONDARY": 2, "RECOVERING": 3, "STARTUP2": 5, "ARBITER": 7}
DOWN = "(not reachable/healthy)"


def member(
    host: str, state: str, *, lag: float = 0.0, health: int = 1, me: bool = False
) -> dict[str, Any]:
    """One members[] entry; `lag`: seconds its optimeDate is behind T0."""
    entry: dict[str, Any] = {
        "_id": HOSTS.index(host) if host in HOSTS else 3,
        "name": host,
        "health": health,
        "state": STATE_CODES.get(state, 8),
        "stateStr": state,
        "optimeDate": EPOCH if state in (DOWN, "ARBITER") else T0 - timedelta(seconds=lag),
    }
    if me:
        entry["self"] = True
    return entry


def down(host: str) -> dict[str, Any]:
    return member(host, DOWN, health=0)


def status(*members: dict[str, Any]) -> dict[str, Any]:
    """A replSetGetStatus reply; the first member is the one asked (`self`)."""
    first, *rest = members
    first = {**first, "self": True}
    return {"set": "rs0", "date": T0, "myState": first["state"], "members": [first, *rest], "ok": 1}


def healthy(asker: int = 0) -> dict[str, Any]:
    entries = [
        member(HOSTS[0], "PRIMARY"),
        member(HOSTS[1], "SECONDARY", lag=1),
        member(HOSTS[2], "SECONDARY", lag=2),
    ]
    return status(entries[asker], *(e for i, e in enumerate(entries) if i != asker))


# --- the gate before a member goes ---------------------------------------------------
def test_a_healthy_set_may_lose_any_member() -> None:
    view = healthy()
    assert ho.primary_of(view) == HOSTS[0] and ho.asker(view) == HOSTS[0]
    assert [ho.not_ready(view, host) for host in HOSTS] == [None] * 3
    assert ho.lag_s(view, HOSTS[2]) == 2.0


def test_a_lagging_secondary_blocks_the_others_but_may_go_itself() -> None:
    view = status(
        member(HOSTS[0], "PRIMARY"),
        member(HOSTS[1], "SECONDARY"),
        member(HOSTS[2], "SECONDARY", lag=35),
    )
    reason = ho.not_ready(view, HOSTS[1])
    assert reason == f"{HOSTS[2]} is 35 s behind the primary (at most 10 s)"
    assert ho.not_ready(view, HOSTS[0]) == reason
    assert ho.not_ready(view, HOSTS[2]) is None


def test_a_delayed_member_is_allowed_its_delay() -> None:
    view = status(
        member(HOSTS[0], "PRIMARY"),
        member(HOSTS[1], "SECONDARY"),
        member(HOSTS[2], "SECONDARY", lag=3605),
    )
    assert ho.not_ready(view, HOSTS[1], {HOSTS[2]: 3600}) is None
    assert "3605 s behind" in str(ho.not_ready(view, HOSTS[1], {HOSTS[2]: 60}))


def test_no_primary_blocks_every_member() -> None:
    view = status(member(HOSTS[1], "SECONDARY"), member(HOSTS[2], "SECONDARY"), down(HOSTS[0]))
    for host in HOSTS:
        assert ho.not_ready(view, host) == f"the set has no primary as {HOSTS[1]} sees it"
    assert ho.not_ready(None, HOSTS[0]) == "no member answers replSetGetStatus"


def test_two_primaries_in_one_view_count_as_none() -> None:
    view = status(
        member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "PRIMARY"), member(HOSTS[2], "SECONDARY")
    )
    assert ho.primary_of(view) is None
    assert ho.not_ready(view, HOSTS[2]) is not None


def test_a_member_down_blocks_the_others_but_may_go_itself() -> None:
    view = status(member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY"), down(HOSTS[2]))
    assert ho.not_ready(view, HOSTS[1]) == f"{HOSTS[2]} is down as {HOSTS[0]} sees it ({DOWN})"
    assert ho.not_ready(view, HOSTS[2]) is None


@pytest.mark.parametrize("state", ["STARTUP2", "RECOVERING", "ROLLBACK"])
def test_a_member_up_but_not_serving_blocks_the_others(state: str) -> None:
    view = status(member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY"))
    view["members"].append(member(HOSTS[2], state))
    assert ho.not_ready(view, HOSTS[1]) == f"{HOSTS[2]} is {state}"


def test_an_arbiter_counts_when_up_and_blocks_when_down() -> None:
    """Primary-secondary-arbiter: losing a data member while the arbiter is down
    leaves one vote of three, so no primary."""
    up = status(
        member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY"), member(ARBITER, "ARBITER")
    )
    assert ho.not_ready(up, HOSTS[1]) is None and ho.not_ready(up, ARBITER) is None
    gone = status(member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY"), down(ARBITER))
    assert ho.not_ready(gone, HOSTS[1]) == f"{ARBITER} is down as {HOSTS[0]} sees it ({DOWN})"
    assert ho.not_ready(gone, ARBITER) is None


# --- handing a primary over ----------------------------------------------------------
def test_a_primary_hands_over_to_an_electable_caught_up_secondary() -> None:
    view = healthy()
    assert ho.is_primary(view, HOSTS[0]) and not ho.is_primary(view, HOSTS[1])
    assert ho.no_successor(view, HOSTS[0], HOSTS) is None
    assert ho.no_successor(view, HOSTS[0], [HOSTS[0], HOSTS[2]]) is None


def test_a_primary_without_an_electable_member_is_refused() -> None:
    view = healthy()
    assert ho.no_successor(view, HOSTS[0], [HOSTS[0]]) == (
        "no other member can become primary (they all have priority 0)"
    )
    lagging = status(
        member(HOSTS[0], "PRIMARY"),
        member(HOSTS[1], "SECONDARY", lag=30),
        member(HOSTS[2], "SECONDARY"),
    )
    assert ho.no_successor(lagging, HOSTS[0], [HOSTS[0], HOSTS[1]]) == (
        f"no electable secondary ({HOSTS[1]}) is up and caught up"
    )
    gone = status(member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY"), down(HOSTS[2]))
    assert ho.no_successor(gone, HOSTS[0], [HOSTS[0], HOSTS[2]]) is not None
    assert ho.no_successor(gone, HOSTS[0], HOSTS) is None


def test_a_step_down_is_done_once_another_member_is_primary_and_it_is_secondary() -> None:
    assert ho.not_handed_over(healthy(), HOSTS[0]) == f"{HOSTS[0]} is still PRIMARY"
    electing = status(
        member(HOSTS[0], "SECONDARY"), member(HOSTS[1], "SECONDARY"), member(HOSTS[2], "SECONDARY")
    )
    assert ho.not_handed_over(electing, HOSTS[0]) == (
        "no member is PRIMARY yet (election in progress)"
    )
    done = status(
        member(HOSTS[1], "PRIMARY"), member(HOSTS[0], "SECONDARY"), member(HOSTS[2], "SECONDARY")
    )
    assert ho.not_handed_over(done, HOSTS[0]) is None
    odd = status(member(HOSTS[1], "PRIMARY"), member(HOSTS[0], "RECOVERING"))
    assert ho.not_handed_over(odd, HOSTS[0]) == f"{HOSTS[0]} is RECOVERING, not SECONDARY"
    assert ho.not_handed_over(None, HOSTS[0]) == "no member answers replSetGetStatus"


# --- the replacement rejoining -------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (None, f"{HOSTS[2]} is not in the set's config as {HOSTS[0]} sees it"),
        (down(HOSTS[2]), f"{HOSTS[2]} is down as {HOSTS[0]} sees it"),
        (member(HOSTS[2], "STARTUP2"), f"{HOSTS[2]} is STARTUP2, not SECONDARY"),
        (member(HOSTS[2], "RECOVERING"), f"{HOSTS[2]} is RECOVERING, not SECONDARY"),
        (
            member(HOSTS[2], "SECONDARY", lag=50),
            f"{HOSTS[2]} is 50 s behind the primary (at most 10 s)",
        ),
        (member(HOSTS[2], "SECONDARY", lag=3), None),
    ],
)
def test_rejoin_states(entry: dict[str, Any] | None, reason: str | None) -> None:
    members = [member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY")]
    view = status(*members, *([entry] if entry else []))
    assert ho.not_rejoined(view, HOSTS[2]) == reason


def test_a_rejoined_member_may_already_be_primary_again() -> None:
    """The preferred primary (priority 2) calls an election once caught up."""
    view = status(
        member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY"), member(HOSTS[2], "SECONDARY")
    )
    assert ho.not_rejoined(view, HOSTS[0]) is None


def test_rejoining_needs_a_primary_to_compare_with_and_an_answer() -> None:
    electing = status(member(HOSTS[1], "SECONDARY"), member(HOSTS[2], "SECONDARY"))
    assert ho.not_rejoined(electing, HOSTS[2]) == f"the set has no primary as {HOSTS[1]} sees it"
    assert ho.not_rejoined(None, HOSTS[2]) == "no member answers replSetGetStatus"


def test_a_rejoining_arbiter_must_be_arbiter_and_up() -> None:
    base = [member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY")]
    assert ho.not_rejoined(status(*base, member(ARBITER, "ARBITER")), ARBITER, arbiter=True) is None
    starting = status(*base, member(ARBITER, "STARTUP"))
    assert ho.not_rejoined(starting, ARBITER, arbiter=True) == f"{ARBITER} is STARTUP, not ARBITER"
    assert ho.not_rejoined(status(*base, down(ARBITER)), ARBITER, arbiter=True) is not None


def test_a_delayed_member_rejoins_within_its_delay() -> None:
    view = status(member(HOSTS[0], "PRIMARY"), member(HOSTS[2], "SECONDARY", lag=3000))
    assert ho.not_rejoined(view, HOSTS[2], {HOSTS[2]: 3600}) is None
    assert ho.not_rejoined(view, HOSTS[2]) is not None


def test_rank_down_first_then_secondaries_then_the_primary() -> None:
    view = healthy()
    assert ho.rank_of(view, HOSTS[0], answers=True) == 2
    assert ho.rank_of(view, HOSTS[1], answers=True) == 1
    assert ho.rank_of(None, HOSTS[0], answers=False) == 0
    assert ho.rank_of(None, HOSTS[1], answers=True) == 1  # no view: not known as primary


# --- the steps, on a fake set ----------------------------------------------------------
RESOURCES = [f"mongo-member-{i}" for i in range(3)]


class FakeSet(ho.MongoMembers):
    """MongoMembers whose three server calls answer from `views` (resource ->
    its replSetGetStatus, or a callable giving the next one), with `down`
    members not answering at all."""

    def __init__(self, views: dict[str, Any], electable: list[str] | None = None) -> None:
        super().__init__(
            endpoints={r: ("127.0.0.1", 27017 + i) for i, r in enumerate(RESOURCES)},
            hosts=dict(zip(RESOURCES, HOSTS, strict=True)),
            user="root",
            auth_source="admin",
            electable=HOSTS if electable is None else electable,
            timeout_s=0.05,
            rejoin_timeout_s=0.05,
        )
        self.views = views
        self.down: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.refusal: str | None = None
        self.after_step_down: dict[str, Any] | None = None

    def answers(self, name: str) -> bool:
        self.calls.append(("ping", name))
        return name not in self.down

    def status(self, name: str) -> dict[str, Any] | None:
        self.calls.append(("status", name))
        if name in self.down:
            return None
        view = self.views.get(name)
        return view() if callable(view) else view

    def step_down(self, name: str) -> str | None:
        self.calls.append(("step down", name))
        if self.after_step_down is not None:
            self.views = self.after_step_down
        return self.refusal


def views_of(*entries: dict[str, Any]) -> dict[str, Any]:
    """Every answering member's view of the same set."""
    found = {}
    for i, entry in enumerate(entries):
        if entry["health"] == 1:
            found[RESOURCES[HOSTS.index(entry["name"])]] = status(
                entry, *(e for j, e in enumerate(entries) if j != i)
            )
    return found


PRIMARY_0 = [
    member(HOSTS[0], "PRIMARY"),
    member(HOSTS[1], "SECONDARY"),
    member(HOSTS[2], "SECONDARY"),
]
PRIMARY_1 = [
    member(HOSTS[0], "SECONDARY"),
    member(HOSTS[1], "PRIMARY"),
    member(HOSTS[2], "SECONDARY"),
]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ho, "POLL_S", 0.001)


def test_view_is_the_primarys() -> None:
    fake = FakeSet(views_of(*PRIMARY_1))
    view = fake.view()
    assert view is not None and ho.asker(view) == HOSTS[1]
    assert fake.calls == [("status", "mongo-member-0"), ("status", "mongo-member-1")]
    fake.down = {"mongo-member-0", "mongo-member-1"}
    view = fake.view()
    assert view is not None and ho.asker(view) == HOSTS[2]  # the primary does not answer


def test_a_secondary_goes_after_the_gate_without_a_step_down() -> None:
    fake = FakeSet(views_of(*PRIMARY_0))
    ho.hand_over(fake, "mongo-member-1")
    assert ("step down", "mongo-member-1") not in fake.calls
    assert not any(kind == "step down" for kind, _ in fake.calls)


def test_the_primary_is_stepped_down_and_deleted_only_once_secondary() -> None:
    fake = FakeSet(views_of(*PRIMARY_0))
    fake.after_step_down = views_of(*PRIMARY_1)
    ho.hand_over(fake, "mongo-member-0")
    assert [c for c in fake.calls if c[0] == "step down"] == [("step down", "mongo-member-0")]


def test_a_member_that_does_not_answer_has_nothing_to_hand_over() -> None:
    fake = FakeSet({})
    fake.down = {"mongo-member-2"}
    ho.hand_over(fake, "mongo-member-2")
    assert fake.calls == [("ping", "mongo-member-2")]
    ho.hand_over(fake, "mongo-member-7")  # not declared (scaled away)
    assert fake.calls == [("ping", "mongo-member-2")]


def test_the_gate_waits_then_refuses_naming_the_member_and_why() -> None:
    fake = FakeSet(
        views_of(
            member(HOSTS[0], "PRIMARY"),
            member(HOSTS[1], "SECONDARY"),
            member(HOSTS[2], "SECONDARY", lag=40),
        )
    )
    with pytest.raises(ho.HandOverRefused) as info:
        ho.hand_over(fake, "mongo-member-0")
    message = str(info.value)
    assert message.startswith("mongo-member-0 was not replaced (nothing was deleted): ")
    assert f"{HOSTS[2]} is 40 s behind the primary" in message
    assert not any(kind == "step down" for kind, _ in fake.calls)


def test_the_gate_passes_once_the_set_recovers() -> None:
    lagging = views_of(
        member(HOSTS[0], "PRIMARY"),
        member(HOSTS[1], "SECONDARY"),
        member(HOSTS[2], "SECONDARY", lag=40),
    )
    ready = views_of(*PRIMARY_0)
    answers = iter([lagging["mongo-member-0"]] * 3 + [ready["mongo-member-0"]] * 10)
    fake = FakeSet({"mongo-member-0": lambda: next(answers)})
    fake.timeout_s = 5
    ho.hand_over(fake, "mongo-member-1")


def test_a_primary_no_one_can_succeed_is_refused_before_any_step_down() -> None:
    fake = FakeSet(views_of(*PRIMARY_0), electable=[HOSTS[0]])
    with pytest.raises(ho.HandOverRefused, match=r"mongo\.rollout: all-at-once") as info:
        ho.hand_over(fake, "mongo-member-0")
    assert "mongo-member-0 is the primary and no other member can become primary" in str(info.value)
    assert not any(kind == "step down" for kind, _ in fake.calls)


def test_a_refused_step_down_fails_the_step() -> None:
    fake = FakeSet(views_of(*PRIMARY_0))
    fake.refusal = "No electable secondaries caught up as of ..., full error: {code: 262}"
    with pytest.raises(ho.HandOverRefused, match=r"refused to step down \(.*code: 262"):
        ho.hand_over(fake, "mongo-member-0")


def test_a_step_down_that_never_completes_times_out() -> None:
    fake = FakeSet(views_of(*PRIMARY_0))  # stays PRIMARY, e.g. a dropped connection
    with pytest.raises(ho.HandOverRefused, match=f"handing mongo-member-0 over: {HOSTS[0]} is"):
        ho.hand_over(fake, "mongo-member-0")


def sequence(*views: dict[str, Any] | None) -> Callable[[], dict[str, Any] | None]:
    """A member's successive answers; the last one repeats."""
    items: Iterator[dict[str, Any] | None] = iter(views)
    last: list[dict[str, Any] | None] = [None]

    def next_view() -> dict[str, Any] | None:
        last[0] = next(items, last[0])
        return last[0]

    return next_view


def test_rejoined_waits_until_the_member_serves_caught_up() -> None:
    base = [member(HOSTS[0], "PRIMARY"), member(HOSTS[1], "SECONDARY")]
    fake = FakeSet(
        {
            "mongo-member-0": sequence(
                status(*base, member(HOSTS[2], "STARTUP2")),
                status(*base, member(HOSTS[2], "SECONDARY", lag=120)),
                status(*base, member(HOSTS[2], "SECONDARY", lag=1)),
            )
        }
    )
    fake.rejoin_timeout_s = 5
    ho.rejoined(fake, "mongo-member-2")
    assert [c for c in fake.calls if c[0] == "status"] == [("status", "mongo-member-0")] * 3


def test_rejoined_times_out_naming_the_member() -> None:
    fake = FakeSet({})
    fake.down = {"mongo-member-2"}
    with pytest.raises(
        ho.HandOverRefused, match="waiting for mongo-member-2 to rejoin: mongo-member-2 does not"
    ):
        ho.rejoined(fake, "mongo-member-2")


def test_rank_asks_the_member_then_the_set() -> None:
    fake = FakeSet(views_of(*PRIMARY_0))
    fake.down = {"mongo-member-2"}
    assert [ho.rank(fake, r) for r in RESOURCES] == [2, 1, 0]
    assert ho.rank(fake, "mongo-member-9") == 0


def test_clients_connect_directly_to_one_member_as_root() -> None:
    fake = ho.MongoMembers(
        endpoints={"mongo-member-1": ("127.0.0.1", 27018)},
        hosts={"mongo-member-1": HOSTS[1]},
        user="root",
        auth_source="admin",
        secret=["pw"],
    )
    options = fake.client_options("mongo-member-1")
    assert options["host"] == "127.0.0.1" and options["port"] == 27018
    assert options["directConnection"] is True
    assert (options["username"], options["password"], options["authSource"]) == (
        "root",
        "pw",
        "admin",
    )
    # replSetStepDown may hold its reply for secondaryCatchUpPeriodSecs
    assert options["socketTimeoutMS"] > ho.CATCH_UP_S * 1000
    anonymous = fake.client_options("mongo-member-1", auth=False)
    assert "username" not in anonymous and anonymous["directConnection"] is True
