"""`infra backup`: a snapshot per shard of a deployed Redis tier, with a manifest.

Each shard (a Cluster master's slot ranges, or a Sentinel master set) is saved
on an in-sync replica where it has one, so no master forks under load; the
replica first catches up to the offset its master had when the backup began,
so every write acknowledged before that moment is in the file. The file comes
out through the Docker API, gets a SHA-256 in the manifest, and is read back by
Redis' own RDB checker before the backup counts as taken.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import redis
from pydantic import BaseModel

from cli.ops import cluster as rediskit
from cli.ops import scratch_redis, waiting
from components.config_base import NodeOutput
from components.redis_config import RedisClusterExports, RedisSentinelExports

FORMAT = 1
MANIFEST = "manifest.json"
CATCH_UP_S = 30.0
SAVE_S = 600.0


class BackupFailed(Exception):
    pass


@dataclass
class Shard:
    """One unit of data: a Cluster master's slot ranges, or a Sentinel master set."""

    key: str  # "0-5460" (slot ranges) or the master set's name
    master: NodeOutput
    replicas: list[NodeOutput]
    slots: list[tuple[int, int]] = field(default_factory=list)
    node_id: str = ""


class ShardFile(BaseModel):
    key: str
    slots: list[tuple[int, int]]
    file: str
    size: int
    sha256: str
    keys: int
    source: str  # the container the snapshot was taken on
    source_role: Literal["replica", "master"]
    node_id: str  # Cluster: the shard's master id at backup time ("" for Sentinel)
    offset: int  # the master's replication offset the snapshot includes


class Manifest(BaseModel):
    format: int = FORMAT
    stack: str
    mode: Literal["cluster", "sentinel"]
    taken_at: str  # UTC, ISO 8601
    redis_version: str
    infra_version: str
    shards: list[ShardFile]

    @property
    def keys(self) -> int:
        return sum(s.keys for s in self.shards)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.shards)


@dataclass
class Tier:
    """A deployed Redis tier as its stack outputs describe it, reached from the host."""

    mode: Literal["cluster", "sentinel"]
    nodes: list[NodeOutput]
    remap: dict[str, str]
    password: str
    master_sets: list[str] = field(default_factory=list)
    ca_pem: str | None = None
    username: str | None = None  # None: Redis' `default` user

    @classmethod
    def read(cls, outputs: Mapping[str, Any]) -> Tier:
        if outputs.get("redisMode") == "cluster":
            c = RedisClusterExports.read(outputs)
            remap, password = c.redis_host_address_map, c.redis_password
            return cls(
                "cluster",
                c.redis_nodes,
                remap,
                password,
                ca_pem=c.redis_ca_cert,
                username=c.redis_admin_user,
            )
        if outputs.get("redisMode") == "sentinel":
            s = RedisSentinelExports.read(outputs)
            nodes: list[NodeOutput] = list(s.redis_nodes)
            return cls(
                "sentinel",
                nodes,
                s.redis_host_address_map,
                s.redis_password,
                s.redis_master_sets,
                s.redis_ca_cert,
                s.redis_admin_user,
            )
        raise LookupError("no Redis tier is deployed in this stack")

    @property
    def access(self) -> rediskit.Access:
        return rediskit.Access(self.password, self.ca_pem, self.username)

    def endpoint(self, node: NodeOutput) -> tuple[str, int]:
        return rediskit.host_endpoint(self.remap, node.ip, node.port)

    def client(self, node: NodeOutput, binary: bool = False) -> redis.Redis:
        host, port = self.endpoint(node)
        return redis.Redis(
            host=host, port=port, **self.access.kwargs(), socket_timeout=30,
            decode_responses=not binary,
        )  # fmt: skip

    def replication(self, node: NodeOutput) -> dict[str, Any]:
        return rediskit.replication_info(*self.endpoint(node), self.access)

    def node_at(self, address: str) -> NodeOutput:
        found = [n for n in self.nodes if f"{n.ip}:{n.port}" == address]
        if not found:
            raise BackupFailed(f"node {address} is not in the stack outputs: run infra refresh")
        return found[0]

    def shards(self) -> list[Shard]:
        return self._cluster_shards() if self.mode == "cluster" else self._sentinel_shards()

    def _cluster_shards(self) -> list[Shard]:
        nodes, masters = rediskit.live_masters(*self.endpoint(self.nodes[0]), self.access)
        out = []
        for address, info in masters.items():
            slots = sorted((int(b[0]), int(b[-1])) for b in info["slots"])
            if not slots:
                continue  # a master with no slots holds no data
            replicas = [
                self.node_at(a)
                for a, i in nodes.items()
                if "slave" in i["flags"] and i["master_id"] == info["node_id"]
                and "fail" not in i["flags"]
            ]  # fmt: skip
            key = ",".join(f"{a}-{b}" for a, b in slots)
            out.append(Shard(key, self.node_at(address), replicas, slots, info["node_id"]))
        return sorted(out, key=lambda s: s.slots)

    def _sentinel_shards(self) -> list[Shard]:
        out = []
        for name in self.master_sets:
            group = [n for n in self.nodes if getattr(n, "master_set", None) == name]
            roles = {n.name: self.replication(n)["role"] for n in group}
            primaries = [n for n in group if roles[n.name] == "master"]
            if len(primaries) != 1:
                raise BackupFailed(f"{name}: {len(primaries)} nodes report role master, not 1")
            replicas = [n for n in group if roles[n.name] == "slave"]
            out.append(Shard(name, primaries[0], replicas))
        return out


def source_for(tier: Tier, shard: Shard) -> tuple[NodeOutput, int]:
    """The node to snapshot (a linked replica if any) once it holds every write
    its master had acknowledged now; and that master offset."""
    offset = int(tier.replication(shard.master)["master_repl_offset"])
    for replica in shard.replicas:
        if tier.replication(replica).get("master_link_status") != "up":
            continue
        caught_up = lambda r=replica: (  # noqa: E731
            int(tier.replication(r).get("slave_repl_offset", -1)) >= offset
        )
        try:
            waiting.wait_until(caught_up, CATCH_UP_S, f"{replica.name} caught up", interval=0.05)
        except TimeoutError:
            continue
        return replica, offset
    return shard.master, offset


def snapshot(client: redis.Redis) -> None:
    """BGSAVE and wait for it to finish; a save already running is waited for
    first (its data may predate the backup)."""
    with client:
        saves = lambda: int(client.info("persistence")["rdb_saves"])  # noqa: E731
        idle = lambda: int(client.info("persistence")["rdb_bgsave_in_progress"]) == 0  # noqa: E731
        waiting.wait_until(idle, SAVE_S, "the running BGSAVE to end", interval=0.05)
        before = saves()
        client.bgsave()
        waiting.wait_until(
            lambda: idle() and saves() > before, SAVE_S, "BGSAVE to end", interval=0.05
        )
        status = client.info("persistence")["rdb_last_bgsave_status"]
        if status != "ok":
            raise BackupFailed(f"BGSAVE failed on the node (rdb_last_bgsave_status:{status})")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Docker:
    """The engine the tier's containers run on (containers API)."""

    containers: Any

    def image_of(self, node: NodeOutput) -> str:
        return str(self.containers.get(node.name).attrs["Config"]["Image"])


def take(
    stack: str,
    tier: Tier,
    docker: Docker,
    target: Path,
    say: Callable[[str], None] = lambda _: None,
) -> Manifest:
    """Snapshot every shard into `target` (created; must not exist) and verify it."""
    from cli import __version__

    if target.exists():
        raise BackupFailed(f"{target} exists: give --to a new directory")
    target.mkdir(parents=True)
    taken_at = datetime.now(UTC).isoformat(timespec="seconds")
    shards = tier.shards()
    with tier.client(shards[0].master) as client:
        version = str(client.info("server")["redis_version"])
    files = [_take_shard(i, tier, docker, shard, target, say) for i, shard in enumerate(shards)]
    manifest = Manifest(
        stack=stack,
        mode=tier.mode,
        taken_at=taken_at,
        redis_version=version,
        infra_version=__version__,
        shards=files,
    )
    (target / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n")
    return manifest


def _take_shard(
    index: int, tier: Tier, docker: Docker, shard: Shard, target: Path, say: Callable[[str], None]
) -> ShardFile:
    start = time.monotonic()
    source, offset = source_for(tier, shard)
    snapshot(tier.client(source))
    path = target / f"shard-{index}.rdb"
    scratch_redis.copy_out(docker.containers.get(source.name), "/data/dump.rdb", path)
    try:
        keys = scratch_redis.check_rdb(docker.containers, docker.image_of(source), path)
    except scratch_redis.RdbInvalid as exc:
        raise BackupFailed(str(exc)) from None
    role: Literal["replica", "master"] = "master" if source is shard.master else "replica"
    size = path.stat().st_size
    say(
        f"shard {shard.key}: {keys} keys, {size / 1e6:.1f} MB from {role} {source.name} "
        f"in {time.monotonic() - start:.1f}s"
    )
    return ShardFile(
        key=shard.key,
        slots=shard.slots,
        file=path.name,
        size=size,
        sha256=sha256(path),
        keys=keys,
        source=source.name,
        source_role=role,
        node_id=shard.node_id,
        offset=offset,
    )


def read_manifest(directory: Path) -> Manifest:
    """The backup's manifest, after checking every file's size and SHA-256."""
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupFailed(f"{directory} is not a backup: it has no {MANIFEST}")
    try:
        manifest = Manifest.model_validate_json(path.read_text())
    except ValueError as exc:
        raise BackupFailed(f"{path} is not a manifest infra can read: {exc}") from None
    if manifest.format != FORMAT:
        raise BackupFailed(f"{path}: format {manifest.format}, this infra reads {FORMAT}")
    for shard in manifest.shards:
        _check_file(directory / shard.file, shard)
    return manifest


def _check_file(path: Path, shard: ShardFile) -> None:
    if path.parent.resolve() != path.resolve().parent or "/" in shard.file:
        raise BackupFailed(f"manifest names a file outside the backup: {shard.file}")
    if not path.is_file():
        raise BackupFailed(f"{path} is missing")
    if path.stat().st_size != shard.size or sha256(path) != shard.sha256:
        raise BackupFailed(
            f"{path.name} does not match its checksum in the manifest: the file is corrupted "
            "or was changed; restore another backup"
        )


def backups_of(parent: Path, stack: str) -> list[Path]:
    """The backups of `stack` directly under `parent`, oldest first."""
    found = []
    for directory in parent.iterdir() if parent.is_dir() else []:
        try:
            manifest = Manifest.model_validate_json((directory / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        if manifest.stack == stack:
            found.append((manifest.taken_at, directory.name, directory))
    return [d for *_, d in sorted(found)]


def prune(parent: Path, stack: str, keep: int) -> list[Path]:
    """Delete all but the `keep` newest backups of `stack` under `parent`."""
    old = backups_of(parent, stack)[:-keep] if keep > 0 else []
    for directory in old:
        shutil.rmtree(directory)
    return old


def default_target(root: Path, stack: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return root / "backups" / stack / stamp


def slot_ranges(shards: Sequence[ShardFile] | Sequence[Shard]) -> list[list[tuple[int, int]]]:
    return sorted([list(s.slots) for s in shards])
