"""Typed config of the MongoDB replica set: defaults, MongoDB's rules, secrets."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stacks.config import ConfigInvalid, parse_config, read_stack_file
from stacks.config.root import SECRET_GENERATORS, SECRET_KEYS

REPO = Path(__file__).resolve().parents[2]


def mongo(**values: Any) -> dict[str, Any]:
    return {"mongo": {"enabled": True, **values}}


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        parse_config(raw)
    return {p.path: p.message for p in info.value.problems}


def test_disabled_by_default_so_existing_stacks_are_unaffected() -> None:
    config = parse_config({})
    assert config.mongo.enabled is False
    assert "mongo" not in config.enabled_components()
    assert "mongo" in parse_config(mongo()).enabled_components()


def test_defaults_are_three_members_with_a_preferred_primary() -> None:
    m = parse_config(mongo()).mongo
    assert (m.image, m.replica_set, m.members, m.arbiter) == ("mongo:8.0.4", "rs0", 3, False)
    assert [r.priority for r in m.member_roles()] == [2.0, 1.0, 1.0]
    assert [r.votes for r in m.member_roles()] == [1, 1, 1]
    assert (m.voters, m.member_count, m.port_base, m.read_preference) == (3, 3, 27017, "primary")
    assert m.advisories() == []


def test_hidden_and_delayed_members_get_priority_0_and_delayed_ones_no_vote() -> None:
    m = parse_config(
        mongo(
            members=6,
            memberSettings=[
                {"priority": 5},
                {},
                {},
                {},
                {"hidden": True},
                {"hidden": True, "secondaryDelaySecs": 3600},
            ],
        )
    ).mongo
    roles = m.member_roles()
    assert [r.priority for r in roles] == [5.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert [r.votes for r in roles] == [1, 1, 1, 1, 1, 0]  # hidden votes, delayed does not
    assert roles[5].secondary_delay_secs == 3600 and roles[5].hidden
    assert m.voters == 5


def test_even_number_of_voters_is_refused_with_the_fix() -> None:
    found = problems(mongo(members=4))
    assert list(found) == ["mongo.members"]
    assert "4 voting members" in found["mongo.members"]
    assert "odd number between 3 and 7" in found["mongo.members"]


@pytest.mark.parametrize("members", [1, 2, 9])
def test_voters_outside_3_to_7_are_refused(members: int) -> None:
    assert "odd number between 3 and 7" in problems(mongo(members=members))["mongo.members"]


def test_more_than_seven_members_work_when_the_extra_ones_do_not_vote() -> None:
    settings_: list[dict[str, int]] = [{}] * 7 + [{"votes": 0}, {"votes": 0}]
    m = parse_config(mongo(members=9, memberSettings=settings_)).mongo
    assert m.voters == 7
    assert [r.priority for r in m.member_roles()][7:] == [0.0, 0.0]


def test_more_than_fifty_members_is_refused() -> None:
    assert "mongo.members" in problems(mongo(members=51))


@pytest.mark.parametrize(
    ("entry", "field", "fragment"),
    [
        ({"hidden": True, "priority": 1}, "priority", "priority must be 0"),
        ({"secondaryDelaySecs": 60}, "hidden", "must be hidden"),
        ({"hidden": True, "secondaryDelaySecs": 60, "votes": 1}, "votes", "must not vote"),
        ({"hidden": True, "secondaryDelaySecs": 60, "priority": 2}, "priority", "priority must"),
        ({"votes": 0, "priority": 1}, "priority", "non-voting members to have priority 0"),
    ],
)
def test_member_settings_follow_mongodbs_role_rules(
    entry: dict[str, Any], field: str, fragment: str
) -> None:
    found = problems(mongo(members=5, memberSettings=[{}, {}, entry]))
    assert fragment in found[f"mongo.memberSettings.2.{field}"]


def test_more_settings_than_members_is_refused() -> None:
    found = problems(mongo(members=3, memberSettings=[{}, {}, {}, {}]))
    assert "4 entries but mongo.members is 3" in found["mongo.memberSettings"]


def test_a_set_where_nobody_can_become_primary_is_refused() -> None:
    found = problems(mongo(memberSettings=[{"priority": 0}, {"priority": 0}, {"priority": 0}]))
    assert "no member can become primary" in found["mongo.memberSettings"]


def test_arbiter_with_an_odd_number_of_data_voters_is_refused_with_the_reason() -> None:
    found = problems(mongo(members=3, arbiter=True))
    assert list(found) == ["mongo.arbiter"]
    assert "only breaks ties" in found["mongo.arbiter"]
    assert "would make it even (4)" in found["mongo.arbiter"]


def test_psa_is_allowed_with_warnings_about_write_concern() -> None:
    m = parse_config(mongo(members=2, arbiter=True)).mongo
    assert (m.voters, m.member_count) == (3, 3)
    notes = m.advisories()
    assert len(notes) == 2
    assert "advises against arbiters" in notes[0]
    assert "drops to w:1" in notes[1] and "writes wait" in notes[1]


def test_arbiter_with_four_data_members_keeps_majority_and_only_gets_the_general_warning() -> None:
    m = parse_config(mongo(members=4, arbiter=True)).mongo
    assert m.voters == 5
    assert len(m.advisories()) == 1


def test_port_block_must_fit() -> None:
    found = problems(mongo(portBase=65534))
    assert "runs past port 65535 (lower mongo.portBase)" in found["mongo.portBase"]


def test_every_error_is_reported_at_once() -> None:
    found = problems(
        {
            "mongo": {
                "image": "mongo",
                "replicaSet": "rs 0",
                "memoryMb": 100,
                "readPreference": "fastest",
                "authSource": "local",
                "rootUser": "root user",
                "bogus": 1,
            },
            "mongoRootPassword": "plain-text-password",
            "mongoKeyFile": "plain",
        }
    )
    assert set(found) == {
        "mongo.image",
        "mongo.replicaSet",
        "mongo.memoryMb",
        "mongo.readPreference",
        "mongo.authSource",
        "mongo.rootUser",
        "mongo.bogus",
        "mongoRootPassword",
        "mongoKeyFile",
    }
    assert "pulumi config set --secret mongoKeyFile" in found["mongoKeyFile"]
    assert "pulumi config set --secret mongoRootPassword" in found["mongoRootPassword"]
    assert "'primary', 'primaryPreferred'" in found["mongo.readPreference"]


def test_topology_problems_are_reported_together() -> None:
    found = problems(mongo(members=4, memberSettings=[{}] * 5, portBase=65534))
    assert set(found) == {"mongo.memberSettings", "mongo.members", "mongo.portBase"}


def test_secrets_are_declared_and_generated() -> None:
    assert {"redisPassword", "mongoRootPassword", "mongoKeyFile"} <= set(SECRET_KEYS)
    password = SECRET_GENERATORS["mongoRootPassword"]()
    assert len(password) >= 32 and password != SECRET_GENERATORS["mongoRootPassword"]()
    key = SECRET_GENERATORS["mongoKeyFile"]()
    assert len(key) == 1008 and len(base64.b64decode(key, validate=True)) == 756
    config = parse_config(
        {"mongoRootPassword": {"secure": "v1:x"}, "mongoKeyFile": {"secure": "v"}}
    )
    assert config.mongo_root_password is not None and config.mongo_key_file is not None


@pytest.mark.parametrize("name", ["templates/local.yaml", "templates/production.yaml"])
def test_templates_enable_the_pinned_official_image(name: str) -> None:
    config = parse_config(read_stack_file(REPO / name))
    assert config.mongo.enabled and config.mongo.image == "mongo:8.0.4"


def test_local_stack_enables_mongo_and_says_up_local_never_pulls() -> None:
    path = REPO / "templates" / "local.yaml"  # what stacks/Pulumi.local.yaml starts as
    assert parse_config(read_stack_file(path)).mongo.enabled
    assert "`infra up local` never pulls" in path.read_text()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 100000)
    | st.floats(-5, 2000)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
member_like = st.fixed_dictionaries(
    {},
    optional={
        "priority": st.none() | st.floats(-1, 1001) | json_values,
        "votes": st.sampled_from([0, 1, 2, None, "1"]),
        "hidden": st.booleans() | json_values,
        "secondaryDelaySecs": st.integers(-1, 100000) | json_values,
        "bogus": json_values,
    },
)
mongo_like = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.booleans() | json_values,
        "members": st.integers(-1, 60) | json_values,
        "memberSettings": st.lists(member_like, max_size=9) | json_values,
        "arbiter": st.booleans() | json_values,
        "image": st.sampled_from(["mongo:8.0.4", "mongo", "mongo:latest"]) | json_values,
        "portBase": st.integers(0, 70000) | json_values,
        "replicaSet": st.sampled_from(["rs0", "", "a b"]) | json_values,
        "readPreference": st.sampled_from(["nearest", "x"]) | json_values,
        "memoryMb": st.integers(0, 5000) | json_values,
        "users": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["app", "root", "App", "x.y"]) | json_values},
                optional={
                    "preset": st.sampled_from(["readwrite", "monitoring", "admin", "x"]),
                    "databases": st.lists(st.sampled_from(["app", "admin", "a b"]), max_size=2)
                    | json_values,
                    "generation": st.integers(-1, 3),
                    "keepPrevious": st.booleans(),
                },
            ),
            max_size=3,
        )
        | json_values,
        "tls": st.fixed_dictionaries(
            {},
            optional={
                "enabled": st.booleans() | json_values,
                "certDays": st.integers(0, 900),
                "renewBeforeDays": st.integers(0, 900),
            },
        )
        | json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(
    raw=st.dictionaries(
        st.sampled_from(["mongo", "mongoRootPassword", "mongoKeyFile", "other"]),
        mongo_like | json_values,
        max_size=3,
    )
)
def test_arbitrary_input_is_a_valid_config_or_a_validation_error(raw: dict[str, Any]) -> None:
    try:
        config = parse_config(raw)
    except ConfigInvalid as exc:
        assert exc.problems and all(p.path and p.message for p in exc.problems)
    else:
        m = config.mongo
        assert m.voters % 2 == 1 and 3 <= m.voters <= 7
        assert len(m.member_roles()) == m.members <= 50
        assert any(r.priority > 0 for r in m.member_roles())
        for role in m.member_roles():
            if role.hidden or role.secondary_delay_secs or role.votes == 0:
                assert role.priority == 0
        names = [u.name for u in m.users]
        assert len(set(names)) == len(names) and m.root_user not in names
        assert not any(u.keep_previous for u in m.users)
        assert m.tls.renew_before_days < m.tls.cert_days


# --- mongo.tls and mongo.users (wiring only: no mongod runs here) -------------------
def test_tls_and_users_are_off_and_empty_by_default() -> None:
    m = parse_config(mongo()).mongo
    assert m.tls.enabled is False and m.users == []
    assert (m.tls.cert_days, m.tls.renew_before_days) == (90, 30)


@pytest.mark.parametrize(
    ("values", "path", "fix"),
    [
        ({"users": [{"name": "a", "keepPrevious": True}]}, "mongo.users.0.keepPrevious", "app-v2"),
        ({"users": [{"name": "a"}, {"name": "a"}]}, "mongo.users", "each user once"),
        ({"users": [{"name": "root"}]}, "mongo.users", "another name"),
        (
            {"users": [{"name": "x", "preset": "monitoring", "databases": ["d"]}]},
            "mongo.users.0.databases",
            "remove databases",
        ),
        ({"users": [{"name": "x", "databases": ["config"]}]}, "mongo.users.0.databases", "name"),
        (
            {"tls": {"enabled": True, "certDays": 10, "renewBeforeDays": 20}},
            "mongo.tls",
            "certDays: 90",
        ),
    ],
)
def test_bad_tls_and_users_are_refused_at_their_field_with_the_fix(
    values: dict[str, Any], path: str, fix: str
) -> None:
    found = problems(mongo(**values))
    assert path in found, found
    assert fix in found[path]


def test_bring_your_own_ca_is_refused_at_its_field() -> None:
    from components import tls

    ca = tls.generated_ca("x" * 40, "mine").pem
    found = problems(mongo(tls={"enabled": True, "caCert": ca}))
    assert list(found) == ["mongo.tls.caCert"]
    assert "remove mongo.tls.caCert" in found["mongo.tls.caCert"]


def test_the_production_template_runs_tls_and_has_example_users() -> None:
    m = parse_config(read_stack_file(REPO / "templates" / "production.yaml")).mongo
    assert m.tls.enabled
    assert [(u.name, u.kind, u.roles()) for u in m.users] == [
        ("app", "readwrite", [{"role": "readWrite", "db": "app"}]),
        ("reports", "readonly", [{"role": "read", "db": "app"}]),
    ]


def test_the_local_template_turns_tls_on_since_local_runs_no_mongod_here() -> None:
    """`infra up local` leaves MongoDB out when its image is not on the engine
    (no mongod image can be had on these machines), so TLS on in `local` starts
    nothing here; the template says the TLS wiring is unverified."""
    path = REPO / "templates" / "local.yaml"
    m = parse_config(read_stack_file(path)).mongo
    assert m.tls.enabled and [u.name for u in m.users] == ["app"]
    assert "wiring only, never run against a mongod" in path.read_text()
