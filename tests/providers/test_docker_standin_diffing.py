"""Check and Diff of the docker stand-in, as upstream plans changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.docker_standin.diffing import check, diff, duration_ns, go_duration
from providers.docker_standin.schema import CONTAINER, IMAGE, NETWORK, UNKNOWN

LABELS = [{"label": "a", "value": "1"}, {"label": "b", "value": "2"}]


def container(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "n0",
        "image": "sha256:abc",
        "restart": "unless-stopped",
        "memory": 256,
        "labels": LABELS,
        "healthcheck": {"tests": ["CMD", "true"], "interval": "2s"},
    }
    return {**base, **extra}


def test_check_refuses_a_field_it_does_not_implement() -> None:
    _, failures = check(CONTAINER, container(privileged=True))
    assert [(f.property, f.reason) for f in failures] == [
        ("privileged", "'privileged' is not implemented by infra's offline docker stand-in")
    ]


def test_check_refuses_a_nested_field_it_does_not_implement() -> None:
    uploads = [{"file": "/x", "source": "/etc/passwd"}]
    _, failures = check(CONTAINER, container(uploads=uploads))
    assert [f.property for f in failures] == ["uploads[0].source"]


def test_check_refuses_udp_ports_and_bad_durations() -> None:
    ports = [{"internal": 53, "protocol": "udp"}]
    health = {"tests": ["CMD", "true"], "interval": "two seconds"}
    _, failures = check(CONTAINER, container(ports=ports, healthcheck=health))
    assert sorted(f.property for f in failures) == ["healthcheck.interval", "ports[0].protocol"]


def test_check_refuses_an_unknown_resource_type() -> None:
    _, failures = check("docker:index/service:Service", {"name": "x"})
    assert failures and "not implemented" in failures[0].reason


def test_check_fills_upstream_defaults() -> None:
    inputs, failures = check(CONTAINER, {"name": "n0", "image": "i"})
    assert not failures
    assert inputs["restart"] == "no"
    assert inputs["mustRun"] is True
    assert inputs["wait"] is False
    assert inputs["waitTimeout"] == 60


def test_unchanged_inputs_have_no_diff() -> None:
    old = check(CONTAINER, container())[0]
    new = check(CONTAINER, container(labels=list(reversed(LABELS)), memory=256.0))[0]
    assert diff(CONTAINER, old, new).changed == []


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"image": "sha256:def"}, ["image"]),
        ({"labels": [*LABELS, {"label": "c", "value": "3"}]}, ["labels"]),
        ({"envs": ["A=1"]}, ["envs"]),
        ({"memory": 512}, []),
        ({"restart": "always"}, []),
        ({"healthcheck": {"tests": ["CMD", "false"], "interval": "2s"}}, []),
        ({"destroyGraceSeconds": 10}, []),
    ],
)
def test_replace_or_update_as_upstream(change: dict[str, object], replaces: list[str]) -> None:
    old = check(CONTAINER, container())[0]
    new = check(CONTAINER, container(**change))[0]
    result = diff(CONTAINER, old, new)
    assert result.changed == list(change)
    assert result.replaces == replaces


def test_an_unknown_value_is_a_change() -> None:
    old = check(CONTAINER, container())[0]
    new = check(CONTAINER, container(image=UNKNOWN))[0]
    assert diff(CONTAINER, old, new).replaces == ["image"]


def test_kinds_of_change() -> None:
    old = check(CONTAINER, container())[0]
    new = check(CONTAINER, container(envs=["A=1"]))[0]
    del new["labels"]
    assert diff(CONTAINER, old, new).kinds == {"envs": "add", "labels": "delete"}


def test_ignore_changes() -> None:
    old = check(CONTAINER, container())[0]
    new = check(CONTAINER, container(image="sha256:def"))[0]
    assert diff(CONTAINER, old, new, ignore=("image",)).changed == []


def test_a_non_canonical_duration_differs_from_what_upstream_reads_back() -> None:
    """Upstream reads healthchecks back as Go durations: "120s" is "2m0s" in the state."""
    old = container(healthcheck={"tests": ["CMD", "true"], "startPeriod": "2m0s"})
    new = container(healthcheck={"tests": ["CMD", "true"], "startPeriod": "120s"})
    assert diff(CONTAINER, old, new).changed == ["healthcheck"]


def test_image_and_network_fields() -> None:
    assert diff(IMAGE, {"name": "a", "keepLocally": True}, {"name": "a"}).replaces == []
    assert diff(IMAGE, {"name": "a"}, {"name": "b"}).replaces == ["name"]
    old = {"name": "n", "ipamConfigs": [{"subnet": "10.0.0.0/24"}]}
    new = {"name": "n", "ipamConfigs": [{"subnet": "10.0.1.0/24"}]}
    assert diff(NETWORK, old, new).replaces == ["ipamConfigs"]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2s", "2s"),
        ("120s", "2m0s"),
        ("500ms", "500ms"),
        ("1m30s", "1m30s"),
        ("0s", "0s"),
        ("1.5s", "1.5s"),
        ("3600s", "1h0m0s"),
        ("4m0s", "4m0s"),
        ("10us", "10µs"),
    ],
)
def test_go_duration(text: str, canonical: str) -> None:
    assert go_duration(duration_ns(text)) == canonical


@given(st.integers(min_value=0, max_value=10**14))
def test_go_duration_round_trips(ns: int) -> None:
    assert duration_ns(go_duration(ns)) == ns


def test_duration_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_ns("5 seconds")


def test_nested_defaults_match_what_is_read_back() -> None:
    """A healthcheck without `timeout` reads back as "0s": no change on the next preview."""
    given = container(healthcheck={"tests": ["CMD", "true"], "interval": "2s"})
    read_back = container(
        healthcheck={
            "tests": ["CMD", "true"],
            "interval": "2s",
            "timeout": "0s",
            "startPeriod": "0s",
            "retries": 0,
        }
    )
    old = check(CONTAINER, read_back)[0]
    assert diff(CONTAINER, old, check(CONTAINER, given)[0]).changed == []
