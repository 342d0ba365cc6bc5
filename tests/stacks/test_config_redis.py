"""Typed config: the cluster topology, network and stack-file handling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.redis_config import MAX_REDIS_NODES
from stacks.config import ConfigInvalid, parse_config, read_stack_file

REPO = Path(__file__).resolve().parents[2]


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        parse_config(raw)
    return {p.path: p.message for p in info.value.problems}


def test_defaults_are_the_design_documents_six_nodes() -> None:
    config = parse_config({})
    assert config.redis.mode == "cluster"
    assert (config.redis.shards, config.redis.replicas, config.redis.node_count) == (3, 1, 6)
    assert config.redis.node_timeout_ms == 4000
    assert config.network.subnet == "172.28.0.0/24"


def test_camel_case_keys_from_the_stack_file() -> None:
    config = parse_config(
        {"redis": {"nodeTimeoutMs": 5000, "hostPortBase": None, "maxmemoryPolicy": "noeviction"}}
    )
    assert config.redis.node_timeout_ms == 5000
    assert config.redis.host_port_base is None
    assert config.redis.maxmemory_policy == "noeviction"


def test_fewer_than_three_masters_is_refused_with_the_fix() -> None:
    found = problems({"redis": {"shards": 2}})
    assert found == {
        "redis.shards": "a Redis Cluster needs at least 3 masters (set redis.shards to 3 or more)"
    }


def test_cluster_without_replicas_is_refused() -> None:
    found = problems({"redis": {"replicas": 0}})
    assert "redis.replicas" in found and "at least 1 replica" in found["redis.replicas"]


def test_every_error_is_reported_at_once() -> None:
    found = problems(
        {
            "redis": {"image": "redis", "mode": "ring", "memoryMb": 1, "bogus": True},
            "network": {"subnet": "8.8.8.0/24", "hostBind": "localhost"},
            "redisPassword": "plaintext-password",
        }
    )
    assert set(found) == {
        "redis.image",
        "redis.mode",
        "redis.memoryMb",
        "redis.bogus",
        "network.subnet",
        "network.hostBind",
        "redisPassword",
    }
    assert "pinned by tag" in found["redis.image"]
    assert "'cluster' or 'sentinel'" in found["redis.mode"]
    assert "unknown key" in found["redis.bogus"]
    assert "plain text" in found["redisPassword"]


@pytest.mark.parametrize("image", ["redis:latest", "redis", "Redis:7", "redis:7.4.1 "])
def test_unpinned_or_malformed_images_are_refused(image: str) -> None:
    assert "redis.image" in problems({"redis": {"image": image}})


@pytest.mark.parametrize(
    "image",
    [
        "redis:7.4.1",
        "infra-local/redis:debian",
        "registry.example.com:5000/team/redis:7.2",
        "redis@sha256:" + "a" * 64,
    ],
)
def test_pinned_images_are_accepted(image: str) -> None:
    assert parse_config({"redis": {"image": image}}).redis.image == image


@pytest.mark.parametrize(
    ("subnet", "fragment"),
    [
        ("172.28.0.0/25", "too small"),
        ("172.28.0.1/24", "IPv4 network"),
        ("nonsense", "IPv4"),
    ],
)
def test_bad_subnets(subnet: str, fragment: str) -> None:
    assert fragment in problems({"network": {"subnet": subnet}})["network.subnet"]


def test_port_block_must_fit_below_65536() -> None:
    found = problems({"redis": {"hostPortBase": 65533}})
    assert "redis.hostPortBase" in found


def test_too_many_nodes_for_the_address_plan() -> None:
    found = problems({"redis": {"shards": 41, "replicas": 1}})
    assert "address plan" in found["redis.shards"]


def test_encrypted_secret_is_accepted() -> None:
    config = parse_config({"redisPassword": {"secure": "v1:abc"}})
    assert config.redis_password is not None


def test_stack_file_namespace_handling(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  infra:redis:\n    shards: 4\n  docker:host: unix:///x\n")
    assert read_stack_file(path) == {"redis": {"shards": 4}}
    path.write_text("config:\n  redis: {}\n")
    with pytest.raises(ConfigInvalid, match="namespace"):
        read_stack_file(path)


def test_missing_and_broken_stack_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match="infra init"):
        read_stack_file(tmp_path / "Pulumi.none.yaml")
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config: [unclosed\n")
    with pytest.raises(ConfigInvalid, match="not valid YAML"):
        read_stack_file(bad)


@pytest.mark.parametrize("name", ["local.yaml", "production.yaml"])
def test_templates_validate(name: str) -> None:
    config = parse_config(read_stack_file(REPO / "templates" / name))
    assert "redis" in config.enabled_components()


def test_local_stack_template_validates() -> None:
    """templates/local.yaml is what stacks/Pulumi.local.yaml (git-ignored) starts as."""
    config = parse_config(read_stack_file(REPO / "templates" / "local.yaml"))
    assert config.redis.image == "infra-local/redis:debian"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 100000) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
redis_like = st.fixed_dictionaries(
    {},
    optional={
        "mode": st.sampled_from(["cluster", "sentinel", "x", 1]),
        "shards": st.integers(-2, 100) | json_values,
        "replicas": st.integers(-1, 7) | json_values,
        "image": st.sampled_from(["redis:7.4.1", "redis", "", "a/b:c"]) | json_values,
        "nodeTimeoutMs": st.integers(0, 100000) | json_values,
        "hostPortBase": st.none() | st.integers(0, 70000),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    raw=st.dictionaries(
        st.sampled_from(["redis", "network", "redisPassword", "other"]),
        redis_like | json_values,
        max_size=4,
    )
)
def test_arbitrary_input_is_valid_or_a_validation_error(raw: dict[str, Any]) -> None:
    try:
        config = parse_config(raw)
    except ConfigInvalid as exc:
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        # What was accepted keeps the promises the components rely on.
        r = config.redis
        assert r.replicas >= 1 and r.node_count <= MAX_REDIS_NODES
        if r.mode == "cluster":
            assert r.shards >= 3
            assert r.host_port_base is None or r.host_port_base + r.node_count - 1 <= 65535
        else:
            assert r.sentinels % 2 == 1 and r.sentinels >= 3
            assert r.sentinels // 2 < r.sentinel_quorum <= r.sentinels
            assert r.failover_timeout_ms > r.down_after_ms


def test_plain_text_provider_token_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  cloudflare:apiToken: abc123\n")
    with pytest.raises(ConfigInvalid) as info:
        read_stack_file(path)
    assert "CLOUDFLARE_API_TOKEN" in str(info.value)
    path.write_text("config:\n  cloudflare:apiToken:\n    secure: v1:xyz\n")
    assert read_stack_file(path) == {}
