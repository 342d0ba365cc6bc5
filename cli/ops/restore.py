"""`infra restore`: a backup's keys back into a deployed tier of the same shape.

The tier keeps serving while it runs: each shard's file is loaded into a
throwaway Redis, and every key is copied with DUMP and RESTORE ... REPLACE
(expiry as an absolute time, ABSTTL, so a TTL counts the time since the
backup) to the master that serves it now. Shards map by slot range (Cluster)
or master set name (Sentinel), never by node id, so a restore into a stack
destroyed and created again finds its shards. A key that has expired since the
backup is not brought back; keys the backup does not hold are left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.crc import key_slot

from cli.ops import scratch_redis
from cli.ops.backup import Docker, Manifest, Shard, ShardFile, Tier, slot_ranges
from components.config_base import NodeOutput

BATCH = 500
REPLICA_ACK_MS = 10_000


class TopologyMismatch(Exception):
    def __init__(self, message: str, details: list[str]) -> None:
        super().__init__(message)
        self.details = details


@dataclass
class Pairing:
    """A backup shard and the deployed shard its keys go back to."""

    backup: ShardFile
    target: Shard
    target_keys: int  # keys the target master holds now


def pair(manifest: Manifest, tier: Tier) -> list[Pairing]:
    """Backup shards matched to the deployed ones, with their key counts now."""
    by_key = match(manifest, tier.mode, tier.shards())
    return [Pairing(s, by_key[s.key], _dbsize(tier, by_key[s.key])) for s in manifest.shards]


def match(manifest: Manifest, mode: str, shards: list[Shard]) -> dict[str, Shard]:
    """Deployed shards by backup shard key, or TopologyMismatch: the same mode,
    and the same slot ranges (Cluster) or master set names (Sentinel)."""
    if manifest.mode != mode:
        raise TopologyMismatch(
            f"the backup is of a Redis {manifest.mode}, the stack runs Redis {mode}",
            [f"deploy redis.mode {manifest.mode} to restore it"],
        )
    backup_keys = sorted(s.key for s in manifest.shards)
    deployed_keys = sorted(s.key for s in shards)
    if mode == "cluster" and slot_ranges(manifest.shards) != slot_ranges(shards):
        fix = (
            "deploy as many shards as the backup has (redis.shards) on a fresh stack, "
            "or move the slots back"
        )
        what = "slot ranges"
    elif mode == "sentinel" and backup_keys != deployed_keys:
        fix = "set redis.shards as when the backup was taken"
        what = "master sets"
    else:
        return {s.key: s for s in shards}
    raise TopologyMismatch(
        f"the backup's {what} do not match the deployed ones",
        [f"backup: {', '.join(backup_keys)}", f"deployed: {', '.join(deployed_keys)}", fix],
    )


def _dbsize(tier: Tier, shard: Shard) -> int:
    with tier.client(shard.master) as client:
        return int(client.dbsize())


@dataclass
class ShardResult:
    key: str
    keys_restored: int
    keys_expired: int
    replicas_acked: int
    seconds: float


def restore(
    directory: Path,
    pairings: list[Pairing],
    tier: Tier,
    docker: Docker,
    say: Callable[[str], None] = lambda _: None,
) -> list[ShardResult]:
    results = []
    for pairing in pairings:
        result = _restore_shard(directory, pairing, pairings, tier, docker)
        say(
            f"shard {result.key}: {result.keys_restored} keys restored "
            f"({result.keys_expired} expired since the backup) in {result.seconds:.1f}s, "
            f"{result.replicas_acked} replica(s) acknowledged"
        )
        results.append(result)
    return results


def _restore_shard(
    directory: Path, pairing: Pairing, pairings: list[Pairing], tier: Tier, docker: Docker
) -> ShardResult:
    start = time.monotonic()
    image = docker.image_of(pairing.target.master)
    # Cluster: keys go by slot to any master; the pairings hold every deployed
    # shard (their slot ranges matched), so the topology is not asked again.
    writer = Writer(tier, pairing.target, [p.target for p in pairings])
    restored = expired = 0
    with (
        scratch_redis.loader(docker.containers, image, directory / pairing.backup.file) as source,
        writer,
    ):
        for batch in _batches(source):
            payloads = _dump(source, batch)
            live = [(k, p, at) for k, p, at in payloads if p is not None and at != -2]
            expired += len(batch) - len(live)
            restored += writer.write(live)
        acked = writer.wait_replicas()
    return ShardResult(
        pairing.backup.key, restored, expired, acked, round(time.monotonic() - start, 3)
    )


def _batches(source: redis.Redis) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for key in source.scan_iter(count=1000):
        batch.append(key)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _dump(source: redis.Redis, keys: list[bytes]) -> list[tuple[bytes, Any, int]]:
    """(key, DUMP payload or None, absolute expiry in ms: -1 none, -2 gone)."""
    pipe = source.pipeline(transaction=False)
    for key in keys:
        pipe.dump(key)
        pipe.execute_command("PEXPIRETIME", key)
    replies = pipe.execute()
    return [(k, replies[2 * i], int(replies[2 * i + 1])) for i, k in enumerate(keys)]


class Writer:
    """RESTORE commands, pipelined per master that serves the key now (Cluster:
    by slot; Sentinel: the set's primary), on connections kept for the shard,
    so WAIT can then count the replicas that have every restored key."""

    def __init__(self, tier: Tier, target: Shard, deployed: list[Shard]) -> None:
        self.tier = tier
        self.clients: dict[str, redis.Redis] = {}
        shards = deployed if tier.mode == "cluster" else [target]
        self.replicas = {s.master.name: len(s.replicas) for s in shards}
        by_slot = {
            slot: shard.master
            for shard in shards
            for low, high in shard.slots
            for slot in range(low, high + 1)
        }
        if tier.mode == "cluster":
            self.owner: Callable[[bytes], NodeOutput] = lambda key: by_slot[key_slot(key)]
        else:
            self.owner = lambda key: target.master

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *_: object) -> None:
        for client in self.clients.values():
            client.close()

    def _client(self, node: NodeOutput) -> redis.Redis:
        if node.name not in self.clients:
            self.clients[node.name] = self.tier.client(node, binary=True)
        return self.clients[node.name]

    def write(self, items: list[tuple[bytes, Any, int]]) -> int:
        groups: dict[str, tuple[NodeOutput, list[tuple[bytes, Any, int]]]] = {}
        for item in items:
            node = self.owner(item[0])
            groups.setdefault(node.name, (node, []))[1].append(item)
        for node, group in groups.values():
            pipe = self._client(node).pipeline(transaction=False)
            for key, payload, expire_at in group:
                if expire_at > 0:
                    pipe.restore(key, expire_at, payload, replace=True, absttl=True)
                else:
                    pipe.restore(key, 0, payload, replace=True)
            pipe.execute()
        return len(items)

    def wait_replicas(self) -> int:
        """The fewest replicas that acknowledged a master's restored keys (WAIT
        on the connection that wrote them)."""
        counts = [
            int(client.wait(self.replicas[name], REPLICA_ACK_MS))
            for name, client in self.clients.items()
        ]
        return min(counts) if counts else 0
