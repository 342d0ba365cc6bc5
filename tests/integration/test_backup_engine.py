"""Backup and restore through `infra` on the real engine and Docker: write a
dataset of every type (some keys with a TTL), `infra backup`, `infra down`
(volumes gone), `infra up`, `infra restore`, and every key, value and TTL is
back; the tier serves reads all along; a corrupted backup is refused.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import redis

from cli.ops import cluster as rediskit
from cli.ops.backup import Tier
from tests.engine.conftest import RefusingProxy
from tests.support import dataset
from tests.support.enginestack import TierStack, deployed_stack, redis_config, sentinel_config

pytestmark = [pytest.mark.integration, pytest.mark.engine]

KEYS = 600
ENV = {"INFRA_DOCKER_PROVIDER": "standin"}


class Reader:
    """Reads keys in a loop on another thread; counts errors (a missing key is
    not one: the restore is filling the tier)."""

    def __init__(self, read: Callable[[int], Any]) -> None:
        self.read, self.reads, self.errors = read, 0, list[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.read(self.reads)
            except (redis.RedisError, OSError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self.reads += 1


def cluster_client(tier: TierStack) -> redis.RedisCluster:
    outputs = tier.outputs()
    return rediskit.host_cluster_client(
        outputs["redisHostAddressMap"], outputs["redisPassword"], decode=False
    )


def total_keys(client: redis.RedisCluster) -> int:
    """Keys on every master (redis-py sends a bare DBSIZE to one node)."""
    sizes = client.dbsize(target_nodes=redis.RedisCluster.PRIMARIES)
    return int(sizes if isinstance(sizes, int) else sum(sizes.values()))


def primaries(tier: TierStack) -> dict[str, redis.Redis]:
    """Sentinel: master set -> a binary client on the node that is its primary now."""
    view = Tier.read(tier.outputs())
    return {s.key: view.client(s.master, binary=True) for s in view.shards()}


def backup(tier: TierStack, target: Path) -> dict[str, Any]:
    result = tier.ok("backup", tier.name, "--to", str(target), "--json")
    manifest: dict[str, Any] = json.loads(result.out)
    return manifest


def restore(tier: TierStack, source: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        tier.ok("restore", tier.name, str(source), "--yes", "--json").out
    )
    return result


def recreate(tier: TierStack) -> None:
    """`infra down` (volumes gone) and `infra up` again: an empty tier, same shape."""
    tier.ok("down", tier.name, "--yes")
    assert tier.leftovers() == []
    tier.ok("up", tier.name, "--yes")


def corrupted_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    rdb = target / "shard-0.rdb"
    data = bytearray(rdb.read_bytes())
    data[len(data) // 2] ^= 0x01
    rdb.write_bytes(bytes(data))
    return target


def deployed_tier(
    factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    client: docker.DockerClient,
    config: dict[str, Any],
) -> Iterator[TierStack]:
    """A stack with `config` through `infra up`, taken down afterwards."""
    with deployed_stack(factory.mktemp("backup"), proxy, client, config, ENV) as tier:
        tier.ok("up", tier.name, "--yes")
        yield tier


@pytest.fixture(scope="module")
def cluster_tier(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
) -> Iterator[TierStack]:
    config = redis_config(docker_client, redis_image)
    yield from deployed_tier(tmp_path_factory, proxy, docker_client, config)


def test_cluster_backup_down_up_restore_brings_every_key_back(
    cluster_tier: TierStack, tmp_path: Path
) -> None:
    tier = cluster_tier
    written_at = time.monotonic()  # TTLs start running after this
    with cluster_client(tier) as client:
        expected = dataset.fill(client, "data", KEYS)

    manifest = backup(tier, tmp_path / "b1")
    assert len(manifest["shards"]) == 3
    assert sum(s["keys"] for s in manifest["shards"]) == KEYS
    assert {s["source_role"] for s in manifest["shards"]} == {"replica"}  # no master forked
    assert sorted(tuple(s["slots"][0]) for s in manifest["shards"]) == [
        (0, 5460),
        (5461, 10922),
        (10923, 16383),
    ]

    recreate(tier)
    with cluster_client(tier) as client:
        assert total_keys(client) == 0
        broken = corrupted_copy(tmp_path / "b1", tmp_path / "broken")
        refused = tier.infra("restore", tier.name, str(broken), "--yes")
        assert refused.code == 2, refused
        assert "shard-0.rdb does not match its checksum" in refused.err
        no_yes = tier.infra("restore", tier.name, str(tmp_path / "b1"))
        assert no_yes.code == 2 and "needs --yes" in no_yes.err, no_yes
        assert total_keys(client) == 0  # neither touched anything

        keys = list(expected)

        def read(n: int) -> Any:
            key = keys[n % len(keys)]
            return dataset.read(client, key, expected[key].kind)

        with Reader(read) as reader:
            result = restore(tier, tmp_path / "b1")
        assert reader.reads > 0 and reader.errors == []
        assert result["restored"] == KEYS
        assert {s["replicas_acked"] for s in result["shards"]} == {1}
        assert dataset.differences(client, expected, time.monotonic() - written_at) == []
        assert total_keys(client) == KEYS

    # Retention: a backup with --keep 1 deletes the older ones of the stack next to
    # it (b1, and its corrupted copy, taken at the same time).
    kept = tier.ok("backup", tier.name, "--to", str(tmp_path / "b2"), "--keep", "1", "--json")
    assert json.loads(kept.out)["pruned"] == [str(tmp_path / "b1"), str(tmp_path / "broken")]
    assert [p.name for p in tmp_path.iterdir()] == ["b2"]


@pytest.fixture(scope="module")
def sentinel_tier(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
) -> Iterator[TierStack]:
    config = sentinel_config(docker_client, redis_image)
    yield from deployed_tier(tmp_path_factory, proxy, docker_client, config)


def test_sentinel_backup_down_up_restore_brings_every_key_back(
    sentinel_tier: TierStack, tmp_path: Path
) -> None:
    tier = sentinel_tier
    written_at = time.monotonic()  # TTLs start running after this
    expected = {}
    for name, client in primaries(tier).items():
        with client:
            expected[name] = dataset.fill(client, name, KEYS // 3)
            client.wait(1, 5000)

    manifest = backup(tier, tmp_path / "b1")
    assert sorted(s["key"] for s in manifest["shards"]) == sorted(expected)
    assert {s["keys"] for s in manifest["shards"]} == {KEYS // 3}
    assert {s["source_role"] for s in manifest["shards"]} == {"replica"}

    recreate(tier)
    result = restore(tier, tmp_path / "b1")
    assert result["restored"] == KEYS
    elapsed = time.monotonic() - written_at
    for name, client in primaries(tier).items():
        with client:
            assert dataset.differences(client, expected[name], elapsed) == []
            assert total_keys(client) == KEYS // 3
