"""The backup manifest, its checks, retention, and how a restore pairs shards.

No Redis here: what a backup holds and how a restore copies it are proven
through `infra` on the real engine in tests/integration/test_backup_engine.py.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.ops import backup as backups
from cli.ops import restore as restores
from components.config_base import NodeOutput

Slots = list[tuple[int, int]]


def shard_file(index: int, key: str, slots: Slots, data: bytes) -> dict[str, object]:
    return {
        "key": key,
        "slots": slots,
        "file": f"shard-{index}.rdb",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "keys": 3,
        "source": f"node-{index}",
        "source_role": "replica",
        "node_id": f"id{index}",
        "offset": 100,
    }


CLUSTER = [(0, [(0, 5460)]), (1, [(5461, 10922)]), (2, [(10923, 16383)])]


def write_backup(
    directory: Path, stack: str = "s", taken_at: str = "2026-12-02T10:00:00+00:00"
) -> backups.Manifest:
    directory.mkdir(parents=True)
    shards = []
    for index, slots in CLUSTER:
        data = f"REDIS0010 shard {index}".encode()
        (directory / f"shard-{index}.rdb").write_bytes(data)
        key = ",".join(f"{a}-{b}" for a, b in slots)
        shards.append(shard_file(index, key, slots, data))
    manifest = backups.Manifest.model_validate(
        {
            "stack": stack,
            "mode": "cluster",
            "taken_at": taken_at,
            "redis_version": "7.0.15",
            "infra_version": "0.1.0",
            "shards": shards,
        }
    )
    (directory / backups.MANIFEST).write_text(manifest.model_dump_json())
    return manifest


def deployed(slots_per_shard: list[list[tuple[int, int]]]) -> list[backups.Shard]:
    out = []
    for index, slots in enumerate(slots_per_shard):
        node = NodeOutput(name=f"m{index}", ip=f"10.0.0.{index + 2}", port=6379)
        key = ",".join(f"{a}-{b}" for a, b in slots)
        out.append(backups.Shard(key, node, [], slots, f"new{index}"))
    return out


def test_a_backup_reads_back_with_its_totals(tmp_path: Path) -> None:
    written = write_backup(tmp_path / "b")
    read = backups.read_manifest(tmp_path / "b")
    assert read == written
    assert read.keys == 9
    assert read.size == sum(len(f"REDIS0010 shard {i}") for i in range(3))


def test_a_corrupted_file_is_refused_by_checksum(tmp_path: Path) -> None:
    write_backup(tmp_path / "b")
    path = tmp_path / "b" / "shard-1.rdb"
    data = bytearray(path.read_bytes())
    data[3] ^= 0xFF  # same size, other bytes
    path.write_bytes(bytes(data))
    with pytest.raises(backups.BackupFailed, match=r"shard-1\.rdb does not match its checksum"):
        backups.read_manifest(tmp_path / "b")


def test_a_missing_file_or_manifest_is_named(tmp_path: Path) -> None:
    write_backup(tmp_path / "b")
    (tmp_path / "b" / "shard-2.rdb").unlink()
    with pytest.raises(backups.BackupFailed, match=r"shard-2\.rdb is missing"):
        backups.read_manifest(tmp_path / "b")
    with pytest.raises(backups.BackupFailed, match=r"has no manifest\.json"):
        backups.read_manifest(tmp_path)


@pytest.mark.parametrize(
    ("written", "edited", "message"),
    [
        ("shard-0.rdb", "../x.rdb", "outside the backup"),
        ('"format":1', '"format":2', "format 2, this infra reads 1"),
    ],
)
def test_an_edited_manifest_is_refused(
    tmp_path: Path, written: str, edited: str, message: str
) -> None:
    write_backup(tmp_path / "b")
    manifest = tmp_path / "b" / backups.MANIFEST
    manifest.write_text(manifest.read_text().replace(written, edited))
    with pytest.raises(backups.BackupFailed, match=message):
        backups.read_manifest(tmp_path / "b")


def test_prune_keeps_the_newest_backups_of_that_stack_only(tmp_path: Path) -> None:
    for hour in (9, 11, 10, 12):
        write_backup(tmp_path / f"b{hour}", taken_at=f"2026-12-02T{hour:02d}:00:00+00:00")
    write_backup(tmp_path / "other", stack="prod", taken_at="2026-12-01T00:00:00+00:00")
    (tmp_path / "notes").mkdir()
    deleted = backups.prune(tmp_path, "s", keep=2)
    assert deleted == [tmp_path / "b9", tmp_path / "b10"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["b11", "b12", "notes", "other"]


def test_the_default_target_is_per_stack_and_utc_time(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 10, 15, 0, tzinfo=UTC)
    assert backups.default_target(tmp_path, "local", now) == (
        tmp_path / "backups" / "local" / "20261202T101500Z"
    )


def test_restore_pairs_shards_by_slot_range_not_node_id(tmp_path: Path) -> None:
    manifest = write_backup(tmp_path / "b")
    shards = deployed([[(10923, 16383)], [(0, 5460)], [(5461, 10922)]])  # new ids, other order
    paired = restores.match(manifest, "cluster", shards)
    assert {k: s.master.name for k, s in paired.items()} == {
        "0-5460": "m1",
        "5461-10922": "m2",
        "10923-16383": "m0",
    }


@pytest.mark.parametrize(
    ("slots", "mode", "message"),
    [
        ([[(0, 8191)], [(8192, 16383)]], "cluster", "slot ranges do not match"),
        ([[(0, 5460)], [(5461, 10921)], [(10922, 16383)]], "cluster", "slot ranges do not match"),
        ([[(0, 5460)], [(5461, 10922)], [(10923, 16383)]], "sentinel", "backup is of a Redis"),
    ],
)
def test_restore_refuses_another_topology(
    tmp_path: Path, slots: list[list[tuple[int, int]]], mode: str, message: str
) -> None:
    manifest = write_backup(tmp_path / "b")
    with pytest.raises(restores.TopologyMismatch, match=message) as raised:
        restores.match(manifest, mode, deployed(slots))
    assert raised.value.details


def test_sentinel_restore_pairs_by_master_set(tmp_path: Path) -> None:
    manifest = write_backup(tmp_path / "b")
    sets = manifest.model_copy(
        update={
            "mode": "sentinel",
            "shards": [
                s.model_copy(update={"key": f"shard-{i}", "slots": []})
                for i, s in enumerate(manifest.shards)
            ],
        }
    )
    nodes = [
        backups.Shard(f"shard-{i}", NodeOutput(name=f"p{i}", ip="10.0.0.9", port=6379), [])
        for i in (2, 0, 1)
    ]
    assert sorted(restores.match(sets, "sentinel", nodes)) == ["shard-0", "shard-1", "shard-2"]
    with pytest.raises(restores.TopologyMismatch, match="master sets do not match"):
        restores.match(sets, "sentinel", nodes[:2])
