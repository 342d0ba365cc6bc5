"""cachekit on a real Redis Cluster tier: connect, L2 batches across slots,
invalidation across processes (tracking and pub/sub), stampedes, staleness
bound, tags, prefixes, decorators, asyncio, warmer and metrics."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import cachekit
from cachekit import AsyncCache, AsyncWarmer, Cache, Endpoint, Settings, Warmer
from tests.cachekit.tier.conftest import Tier
from tests.engine.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.engine]

BOUND_S = 0.25  # what the tests allow an invalidation to take (the benchmark measures it)


def ns() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def namespace() -> str:
    return ns()


@pytest.fixture
def pair(cluster: Tier, namespace: str) -> Iterator[tuple[Cache, Cache]]:
    """Two caches of one namespace: two processes' worth of L1 and invalidation links."""
    a = cachekit.connect(outputs=cluster.outputs, namespace=namespace)
    b = cachekit.connect(outputs=cluster.outputs, namespace=namespace)
    yield a, b
    a.close()
    b.close()


def test_connect_by_stack_name(cluster: Tier, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**cluster.stack.engine.env, **cluster.stack.env}.items():
        monkeypatch.setenv(name, str(value))
    endpoint = Endpoint.from_stack(cluster.stack.name)
    assert endpoint.mode == "cluster" and endpoint.password == cluster.password
    with Cache(endpoint, Settings(namespace=ns())) as cache:
        assert cache.linked and cache.core.invalidator.mode == "tracking"
        assert len(cache.core.invalidator.listeners) == 3  # one per primary
        cache.set("k", {"v": 1})
        assert cache.get("k") == {"v": 1}


def test_l1_serves_repeat_reads_and_l2_holds_values(pair: tuple[Cache, Cache]) -> None:
    a, b = pair
    a.set("user:1", {"name": "Ada"})
    settle(b, 1)
    assert b.get("user:1") == {"name": "Ada"}
    assert b.get("user:1") == {"name": "Ada"}
    stats = b.stats()
    assert (stats["l2_hits"], stats["l1_hits"]) == (1, 1)
    assert b.get("absent", "default") == "default"


def test_batches_span_every_primary(pair: tuple[Cache, Cache]) -> None:
    a, b = pair
    values = {f"item:{i}": i for i in range(200)}
    a.set_many(values, tags=["items"])
    settle(b, 200)
    owners = {a.client.get_node_from_key(a.l2.keys.data(k)).name for k in values}
    assert len(owners) == 3
    assert b.get_many([*values, "item:none"]) == values
    assert b.get_many(list(values)) == values  # now from L1
    assert b.stats()["l1_hits"] == 200


def test_a_write_in_another_process_invalidates_l1(cluster: Tier, tmp_path: Path) -> None:
    check_across_processes(cluster, tmp_path, "auto")


def test_pubsub_fallback_invalidates_across_processes(cluster: Tier, tmp_path: Path) -> None:
    check_across_processes(cluster, tmp_path, "pubsub")


def check_across_processes(cluster: Tier, tmp_path: Path, mode: str) -> None:
    namespace = ns()
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(cluster.outputs))
    writer = cachekit.connect(outputs=cluster.outputs, namespace=namespace, invalidation=mode)
    writer.set("shared", 0)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.cachekit.tier.reader",
            str(outputs),
            namespace,
            "shared",
            "6",
            mode,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None
    assert json.loads(reader.stdout.readline()) == {"ready": True}
    time.sleep(0.3)
    acked = {}
    for i in range(1, 41):
        writer.set("shared", i)
        acked[i] = time.monotonic()
        time.sleep(0.05)
    writer.close()
    lines = [json.loads(line) for line in reader.stdout]
    assert reader.wait(timeout=30) == 0
    changes = [line for line in lines if "value" in line]
    stats = next(line["stats"] for line in lines if "stats" in line)
    values = [c["value"] for c in changes]
    # Never an older value after a newer one, and the last write seen. A reader
    # descheduled for more than one 50 ms write interval (a loaded machine) may
    # miss a value: that is a read it did not make, not a stale one.
    assert values == sorted(set(values)) and values[-1] == 40, values
    assert len(values) >= 20, values  # the reader really followed the writes
    previous = 0
    for change in changes:
        # the old value was returned only by reads that started before the write
        # that replaced it (the next one) was acknowledged + BOUND_S
        assert change["t_last_old"] <= acked[previous + 1] + BOUND_S
        previous = change["value"]
    assert stats["l1_hits"] > 10 * stats["l2_hits"]  # it was L1 that had to be invalidated
    assert stats["invalidations"] >= 40


def test_writes_by_any_redis_client_invalidate(pair: tuple[Cache, Cache]) -> None:
    a, _ = pair
    a.set("k", "old")
    assert a.get("k") == "old" and a.get("k") == "old"
    a.client.delete(a.l2.keys.data("k"))
    assert wait_until(lambda: a.get("k") is None)


def test_200_concurrent_misses_make_one_load(cluster: Tier, namespace: str) -> None:
    caches = [cachekit.connect(outputs=cluster.outputs, namespace=namespace) for _ in range(2)]
    loads = []
    barrier = threading.Barrier(200)
    results: list[object] = []

    def load() -> str:
        loads.append(1)
        time.sleep(0.3)
        return "computed"

    def caller(cache: Cache) -> None:
        barrier.wait()
        results.append(cache.get_or_load("hot", load))

    threads = [threading.Thread(target=caller, args=(caches[0],)) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and results == ["computed"] * 200
    assert caches[1].get_or_load("hot", load) == "computed" and len(loads) == 1
    for cache in caches:
        cache.close()


def test_l1_is_not_served_once_the_link_is_down_beyond_the_bound(
    cluster: Tier, namespace: str
) -> None:
    settings = Settings(namespace=namespace, heartbeat_s=0.1, max_stale_s=0.5)
    with Cache(Endpoint.from_outputs(cluster.outputs), settings) as cache:
        cache.set("k", "v1")
        settle(cache, 1)
        assert cache.get("k") == "v1" and cache.get("k") == "v1"
        assert cache.stats()["l1_hits"] == 1
        cache.core.invalidator.close()  # the link is gone; nothing reconnects it
        cut = time.monotonic()
        cache.client.set(cache.l2.keys.data("k"), cache.core.encode("k", "v2", 60, 0)[0])
        while time.monotonic() - cut < 0.3:
            assert cache.get("k") in ("v1", "v2")
        time.sleep(0.5)
        assert cache.get("k") == "v2"
        assert cache.stats()["l1_unfresh"] >= 1 and cache.stats()["invalidation_link_fresh"] == 0


def test_tags_and_prefixes_invalidate_everywhere(pair: tuple[Cache, Cache]) -> None:
    a, b = pair
    a.set_many({"p:1": 1, "p:2": 2}, tags=["t1"])
    a.set_many({"q:1": 1, "q:2": 2})
    assert b.get_many(["p:1", "p:2", "q:1", "q:2"]) == {"p:1": 1, "p:2": 2, "q:1": 1, "q:2": 2}
    assert a.invalidate_tag("t1") == 2
    assert wait_until(lambda: b.get_many(["p:1", "p:2"]) == {})
    assert a.invalidate_prefix("q:") == 2
    assert wait_until(lambda: b.get_many(["q:1", "q:2"]) == {})


def test_decorator_caches_by_arguments(pair: tuple[Cache, Cache]) -> None:
    a, b = pair
    calls: list[tuple[int, int]] = []

    def add(x: int, y: int) -> int:
        calls.append((x, y))
        return x + y

    add_a, add_b = a.cached(ttl=30)(add), b.cached(ttl=30)(add)
    assert add_a(1, 2) == 3 and add_b(1, 2) == 3 and add_a(1, 2) == 3 and add_a(2, 2) == 4
    assert calls == [(1, 2), (2, 2)]
    add_a.invalidate(1, 2)  # type: ignore[attr-defined]
    assert wait_until(lambda: add_b(1, 2) == 3 and calls[-1] == (1, 2))


def test_stale_while_revalidate_serves_then_refreshes(cluster: Tier, namespace: str) -> None:
    settings = Settings(namespace=namespace, stale_while_revalidate_s=10, xfetch_beta=0)
    versions = iter(range(100))

    def load() -> int:
        time.sleep(0.1)
        return next(versions)

    with Cache(Endpoint.from_outputs(cluster.outputs), settings) as cache:
        assert cache.get_or_load("k", load, ttl=0.5) == 0
        time.sleep(0.6)
        start = time.monotonic()
        assert cache.get_or_load("k", load, ttl=0.5) == 0  # stale, without waiting
        assert time.monotonic() - start < 0.1
        assert cache.stats()["stale_served"] == 1
        assert wait_until(lambda: cache.get_or_load("k", load, ttl=0.5) == 1)
        assert cache.stats()["loads"] == 2


def test_xfetch_recomputes_a_hot_key_before_it_expires(cluster: Tier, namespace: str) -> None:
    settings = Settings(namespace=namespace, xfetch_beta=3.0)
    seen: list[object] = []

    def slow() -> float:
        time.sleep(0.1)
        return time.time()

    with Cache(Endpoint.from_outputs(cluster.outputs), settings) as cache:
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            seen.append(cache.get_or_load("k", slow, ttl=0.5))
        stats = cache.stats()
    assert stats["early_recomputes"] >= 2 and stats["loads"] >= 3
    assert stats["l2_misses"] == 1  # never found expired after the first load


def test_async_api_has_the_same_semantics(cluster: Tier, namespace: str) -> None:
    async def main() -> None:
        endpoint = Endpoint.from_outputs(cluster.outputs)
        a = await AsyncCache.open(endpoint, Settings(namespace=namespace))
        b = await cachekit.connect_async(outputs=cluster.outputs, namespace=namespace)
        loads = 0

        async def load() -> str:
            nonlocal loads
            loads += 1
            await asyncio.sleep(0.2)
            return "v"

        assert await asyncio.gather(*(a.get_or_load("k", load) for _ in range(200))) == ["v"] * 200
        assert loads == 1
        assert await b.get("k") == "v" and await b.get("k") == "v"
        await a.set("k", "w")
        assert await wait_until_async(lambda: b.get("k"), "w")
        await a.set_many({f"m{i}": i for i in range(50)}, tags=["m"])
        assert len(await b.get_many([f"m{i}" for i in range(50)])) == 50
        assert await a.invalidate_tag("m") == 50

        calls = []

        @b.cached()
        async def double(x: int) -> int:
            calls.append(x)
            return 2 * x

        assert [await double(21) for _ in range(3)] == [42, 42, 42] and calls == [21]
        assert await a.get(double.cache_key(21)) == 42  # type: ignore[attr-defined]
        await a.close()
        await b.close()

    asyncio.run(main())


def test_warmer_preloads_and_refreshes_hot_keys(cluster: Tier, namespace: str) -> None:
    loaded: list[str] = []

    def loader(key: str) -> str:
        loaded.append(key)
        return key.upper()

    with cachekit.connect(outputs=cluster.outputs, namespace=namespace) as cache:
        warmer = Warmer(cache, loader, top_n=2, ahead_s=60, ttl=30)
        assert warmer.preload(["a", "b", "c"]) == 3
        assert warmer.preload(["a", "b", "c", "d"]) == 1  # only what L2 lacks
        for _ in range(5):
            cache.get("a")
            cache.get("b")
        cache.get("c")
        loaded.clear()
        assert warmer.refresh_once() == 2
        assert sorted(loaded) == ["a", "b"]

    async def run_async() -> int:
        cache = await cachekit.connect_async(outputs=cluster.outputs, namespace=namespace)

        async def aloader(key: str) -> str:
            return key * 2

        warmer = AsyncWarmer(cache, aloader)
        loaded_count = await warmer.preload(["x", "y", "a"])
        await cache.close()
        return loaded_count

    assert asyncio.run(run_async()) == 2


def test_metrics_in_prometheus_format(pair: tuple[Cache, Cache]) -> None:
    a, _ = pair
    a.get_or_load("k", lambda: 1)
    settle(a, 1)
    a.get("k")  # from L2
    a.get("k")  # from L1
    text = a.metrics.exposition().decode()
    label = f'cache="{a.settings.namespace}"'
    assert f'cachekit_lookups_total{{{label},level="l1",result="hit"}} 1.0' in text
    assert f'cachekit_lookups_total{{{label},level="l2",result="miss"}} 1.0' in text
    assert f"cachekit_load_seconds_count{{{label}}} 1.0" in text
    assert f"cachekit_l1_entries{{{label}}} 1.0" in text


def settle(cache: Cache, invalidations: int) -> None:
    """Wait for the pushes of writes just made: one arriving after a read filled
    L1 would (rightly) empty it again, and the test would count an L2 read."""
    assert wait_until(lambda: cache.stats()["invalidations"] >= invalidations)


def wait_until(check, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.01)
    return False


async def wait_until_async(read, expected: object, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if await read() == expected:
            return True
        await asyncio.sleep(0.01)
    return False
