"""A failover under a read/write loop, while one cache writes a counter and
another reads it: the primary holding the key is stopped cleanly, or killed by
the real `infra drill`. No exception may reach either loop, and no read may
return a value older than the last write acknowledged more than the staleness
bound before it started.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

import cachekit
from cachekit import Cache
from cli.ops import cluster as rediscluster
from tests.cachekit.tier.conftest import Tier
from tests.support import dockerenv

pytestmark = [pytest.mark.integration, pytest.mark.engine]

MAX_STALE_S = 1.0
BOUND_S = MAX_STALE_S + 0.25  # the L1 bound plus room for delivery on a busy machine
NODE_TIMEOUT_S = 1.5  # conftest.NODE_TIMEOUT_MS


@dataclass
class Loop:
    key: str = "counter"
    errors: list[BaseException] = field(default_factory=list)
    acked: list[tuple[float, int]] = field(default_factory=list)  # (ack time, value)
    reads: list[tuple[float, int | None]] = field(default_factory=list)  # (start, value)
    stop: threading.Event = field(default_factory=threading.Event)

    def write(self, cache: Cache) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                cache.set(self.key, i)
                self.acked.append((time.monotonic(), i))
            except Exception as exc:  # the property under test: nothing escapes
                self.errors.append(exc)
            time.sleep(0.01)

    def read(self, cache: Cache) -> None:
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                self.reads.append((start, cache.get(self.key)))
            except Exception as exc:
                self.errors.append(exc)
            time.sleep(0.002)

    @contextmanager
    def running(self, writer: Cache, reader: Cache) -> Iterator[None]:
        """The write and read loops, in threads, for the duration."""
        threads = [
            threading.Thread(target=self.write, args=(writer,)),
            threading.Thread(target=self.read, args=(reader,)),
        ]
        for t in threads:
            t.start()
        try:
            yield
        finally:
            self.stop.set()
            for t in threads:
                t.join()

    def longest_write_gap(self) -> float:
        return max(b[0] - a[0] for a, b in zip(self.acked, self.acked[1:], strict=False))

    def stale_reads(self) -> list[tuple[float, int | None, int]]:
        """Reads older than a write acknowledged BOUND_S before they started."""
        stale = []
        newest = 0
        acked = iter(self.acked)
        pending = next(acked, None)
        for start, value in self.reads:
            while pending is not None and pending[0] < start - BOUND_S:
                newest = pending[1]
                pending = next(acked, None)
            if (value or 0) < newest:
                stale.append((start, value, newest))
        return stale


def writer_and_reader(cluster: Tier, prefix: str) -> tuple[Cache, Cache]:
    """Two caches on one fresh namespace, with the staleness bound under test."""
    namespace = f"{prefix}{uuid.uuid4().hex[:6]}"
    settings = {"namespace": namespace, "max_stale_s": MAX_STALE_S, "failover_timeout_s": 30}
    return (
        cachekit.connect(outputs=cluster.outputs, **settings),
        cachekit.connect(outputs=cluster.outputs, **settings),
    )


def test_reads_and_writes_ride_through_a_failover(cluster: Tier, docker_client) -> None:
    writer, reader = writer_and_reader(cluster, "fo")
    writer.set("counter", 0)
    _, port = writer.client.get_node_from_key(writer.l2.keys.data("counter")).name.split(":")
    victim = next(n for n in cluster.outputs["redisNodes"] if n["hostPort"] == int(port))
    container = docker_client.containers.get(victim["name"])
    loop = Loop()
    try:
        with loop.running(writer, reader):
            time.sleep(1.0)
            stopped_at = time.monotonic()
            container.stop(timeout=10)
            # until writes were accepted again (the replica promoted), then 2 s more
            dockerenv.wait_for(
                lambda: (
                    any(t > stopped_at + 1 for t, _ in loop.acked[-5:])
                    and loop.acked[-1][0] - stopped_at > 4
                ),
                timeout=40,
            )
            time.sleep(2.0)
    finally:
        container.start()
    try:
        assert loop.errors == []
        assert loop.stale_reads() == []
        assert len(loop.reads) > 100
        assert loop.longest_write_gap() > NODE_TIMEOUT_S  # the writes really waited
        assert reader.stats()["retries"] + writer.stats()["retries"] > 0
        after = [v for t, v in loop.reads if t > loop.acked[-1][0] + BOUND_S]
        assert reader.get("counter") == loop.acked[-1][1] and all(
            v == loop.acked[-1][1] for v in after
        )
    finally:
        writer.close()
        reader.close()
        dockerenv.wait_for(lambda: healthy(cluster), timeout=90, interval=0.5)


def drill_victim_key(cache: Cache, cluster: Tier) -> str:
    """A cache key whose slot the drill's victim serves (the drill kills the first
    master in address order: cli/ops/drill.py `pick_victim`)."""
    seed = cluster.outputs["redisNodes"][0]
    password = cluster.password
    master = sorted(rediscluster.topology("127.0.0.1", seed["hostPort"], password))[0]
    victim = next(n for n in cluster.outputs["redisNodes"] if f"{n['ip']}:6379" == master)
    slots = rediscluster.master_slots("127.0.0.1", victim["hostPort"], password)
    for i in range(10_000):
        key = f"counter-{i}"
        if rediscluster.owner_of(slots, cache.client.keyslot(cache.l2.keys.data(key))) == master:
            return key
    raise AssertionError("no key maps to the drill's victim")


def test_reads_and_writes_ride_through_infra_drill(cluster: Tier) -> None:
    writer, reader = writer_and_reader(cluster, "dr")
    key = drill_victim_key(writer, cluster)
    writer.set(key, 0)
    loop = Loop(key=key)
    with loop.running(writer, reader):
        time.sleep(1.0)
        drill = cluster.stack.ok("drill", cluster.stack.name, "--yes", "--json")
        time.sleep(2.0)
    try:
        assert '"keys_lost": 0' in drill.out, drill.out
        assert loop.errors == []
        assert loop.stale_reads() == []
        assert loop.longest_write_gap() > NODE_TIMEOUT_S  # the writes really waited
        assert reader.get(key) == loop.acked[-1][1]
    finally:
        writer.close()
        reader.close()
        dockerenv.wait_for(lambda: healthy(cluster), timeout=90, interval=0.5)


def healthy(cluster: Tier) -> bool:
    """Every node sees the cluster OK, and every replica's link is up (the stopped
    primary came back as a replica of the promoted one)."""
    password = cluster.password
    return all(
        rediscluster.cluster_ok("127.0.0.1", n["hostPort"], password)
        and rediscluster.replication_ok("127.0.0.1", n["hostPort"], password)
        for n in cluster.outputs["redisNodes"]
    )
