"""A counted write/read load against a Redis tier while something changes it.

One thread writes `load:{t}:n = n` round-robin over `tags` hash tags (so the
writes hit as many slots, spread over every shard), reads back an earlier key
every few writes, and records each acknowledged write. Afterwards:

- `lost`: acknowledged writes whose key is missing or holds another value;
- `longest_gap_s`: the longest time any one slot went without an acknowledged
  write while the load ran, which is the longest window in which that slot
  refused (or stalled) writes, plus one round of the other slots (`round_s`,
  the normal gap, reported alongside);
- `failed_writes` / `failed_reads`: attempts that raised;
- `unreplicated`: with `wait_replicas`, writes that `WAIT` did not confirm on
  that many replicas in time, which are not counted as acknowledged (a client
  that needs a write to survive a failover waits for it the same way).

The client is redis-py's (cluster or Sentinel-backed), whose own retries stay
on: what an application sees is what is measured.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
import redis
from redis.exceptions import RedisClusterException

READ_EVERY = 4
# redis-py raises RedisClusterException (not a RedisError) when no node answers,
# and AttributeError when an ASK redirect (a slot being moved) names a node its
# address_remap has not seen yet (redis-py 8.1 `get_redis_connection(None)`):
# an application would see those errors too, so they count as failures.
FAILURES = (redis.RedisError, RedisClusterException, AttributeError)


@dataclass
class LoadReport:
    writes_acked: int
    failed_writes: int
    reads: int
    failed_reads: int
    wrong_reads: int
    lost: int
    unreplicated: int
    longest_gap_s: float
    round_s: float
    duration_s: float
    errors: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"} | {
            "first_errors": self.errors[:5]
        }


def read_many(reader: Any, keys: list[str]) -> list[Any]:
    """The values of `keys`, in order, in as few round trips as the reader
    allows: a minute of load is some 10^5 keys, one GET each would take minutes.
    A Redis Cluster client groups them by slot (`mget_nonatomic`); a reader with
    `get_many` (tests' sharded Sentinel clients) groups them its own way."""
    if hasattr(reader, "mget_nonatomic"):
        return list(reader.mget_nonatomic(keys))
    if hasattr(reader, "get_many"):
        return list(reader.get_many(keys))
    return [reader.get(k) for k in keys]


class WriteLoad:
    def __init__(
        self,
        connect: Callable[[], Any],
        tags: int = 32,
        prefix: str = "load",
        wait_replicas: int = 0,
    ) -> None:
        self.connect, self.tags, self.prefix = connect, tags, prefix
        self.wait_replicas = wait_replicas
        self.unreplicated = 0
        self.acked: dict[str, str] = {}
        self.last_ok: dict[int, float] = {}
        self.gaps: dict[int, float] = {}
        self.round_gaps: list[float] = []
        self.failed_writes = self.reads = self.failed_reads = self.wrong_reads = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def key(self, n: int) -> str:
        return f"{self.prefix}:{{{n % self.tags}}}:{n}"

    def __enter__(self) -> WriteLoad:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        client = self.connect()
        n = 0
        while not self._stop.is_set():
            self._write(client, n)
            if n % READ_EVERY == 0 and self.acked:
                self._read(client, n)
            n += 1
        client.close()

    def _write(self, client: Any, n: int) -> None:
        key, tag = self.key(n), n % self.tags
        try:
            client.set(key, str(n))
            replicated = self._replicated(client, key)
        except FAILURES as exc:
            self.failed_writes += 1
            self.errors.append(f"write {key}: {exc}")
            time.sleep(0.01)
            return
        if not replicated:
            self.unreplicated += 1
            return
        now = time.monotonic()
        previous = self.last_ok.get(tag)
        if previous is not None:
            gap = now - previous
            self.gaps[tag] = max(self.gaps.get(tag, 0.0), gap)
            self.round_gaps.append(gap)
        self.last_ok[tag] = now
        self.acked[key] = str(n)

    def _replicated(self, client: Any, key: str) -> bool:
        """`WAIT` on the connection that wrote (one thread: the node's pool hands
        back the connection it just got) for `wait_replicas` replicas, 1 s."""
        if not self.wait_replicas:
            return True
        node = client.get_node_from_key(key)
        count = node.redis_connection.execute_command("WAIT", self.wait_replicas, 1000)
        return int(count) >= self.wait_replicas

    def _read(self, client: Any, n: int) -> None:
        m = n - self.tags  # the same slot, one round earlier
        key = self.key(m)
        if key not in self.acked:
            return
        self.reads += 1
        try:
            value = client.get(key)
        except FAILURES as exc:
            self.failed_reads += 1
            self.errors.append(f"read {key}: {exc}")
            return
        if value != self.acked[key]:
            self.wrong_reads += 1

    def report(self, reader: Any) -> LoadReport:
        """Check every acknowledged write with `reader` (after the change)."""
        keys = list(self.acked)
        lost = 0
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            values = read_many(reader, batch)
            lost += sum(v != self.acked[k] for k, v in zip(batch, values, strict=True))
        return LoadReport(
            writes_acked=len(keys),
            failed_writes=self.failed_writes,
            reads=self.reads,
            failed_reads=self.failed_reads,
            wrong_reads=self.wrong_reads,
            lost=lost,
            unreplicated=self.unreplicated,
            longest_gap_s=round(max(self.gaps.values(), default=0.0), 3),
            round_s=round(statistics.median(self.round_gaps), 4) if self.round_gaps else 0.0,
            duration_s=round(time.monotonic() - self.started, 1),
            errors=list(self.errors),
        )


class Downtime:
    """Docker `die`/`start` events of a stack's containers of one `infra.role`
    label while running: the most down at the same moment, and the exit code of
    every stop."""

    def __init__(self, client: docker.DockerClient, stack: str, role: str) -> None:
        self.down: set[str] = set()
        self.most_down = 0
        self.exit_codes: list[str] = []
        filters = {"type": "container", "label": [f"infra.stack={stack}", f"infra.role={role}"]}
        self.stream = client.events(decode=True, filters=filters)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for event in self.stream:
            name = event["Actor"]["Attributes"]["name"]
            if event["status"] == "die":
                self.down.add(name)
                self.exit_codes.append(event["Actor"]["Attributes"].get("exitCode", "?"))
            elif event["status"] == "start":
                self.down.discard(name)
            self.most_down = max(self.most_down, len(self.down))

    def close(self) -> None:
        self.stream.close()
