"""cachekit against what applications assemble today, side by side on one tier.

    python -m bench.cache_kit [--ops 8000] [--outputs OUTPUTS.json]

Deploys a Redis Cluster tier through `infra up` on the real engine (the same
helpers as the tests; or uses a deployed tier's outputs with --outputs), then
measures in one run, on the same keys:

- L1 hit latency: `Cache.get` on an L1 hit against cachetools' LRUCache.get and
  TTLCache.get (goal: within 1.5x of a cachetools get);
- L2 hit latency: `Cache.get` missing L1 and hitting Redis against a plain
  redis-py GET through the same cluster client;
- end-to-end throughput, single thread, three workloads (Zipf reads; Zipf with
  90/10 read/write; a scan-heavy mix), for cachekit, redis-py's built-in
  client-side cache, dogpile.cache's redis_cluster backend and bare redis-py;
- L1 hit ratio of W-TinyLFU against LRU at equal size, on traces of the three
  workloads (goal: >= LRU's on every one);
- invalidation delay across processes, p50/p99 (goal: p99 <= 5 ms on loopback);
- a stampede: 200 threads missing one key.

Writes bench/results/cache_kit.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import pickle
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import cachetools
import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection

import cachekit
from cachekit import Cache, Endpoint, Settings
from cachekit.l1 import L1, Entry
from tests.engine.conftest import refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import deployed_stack, redis_config

RESULTS = Path(__file__).parent / "results" / "cache_kit.json"
KEYS = 10_000
L1_SIZE = 1_000
ZIPF_S = 1.0
SCAN_SPACE = 200_000


# -- workloads ---------------------------------------------------------------------


def zipf_keys(rng: random.Random, n: int) -> list[int]:
    ranks = list(range(1, KEYS + 1))
    weights = [1 / r**ZIPF_S for r in ranks]
    return rng.choices(ranks, weights, k=n)


def workload(name: str, n: int, seed: int = 1) -> list[tuple[str, str]]:
    """[(op, key)]: op is "r" (read, load on miss) or "w" (write)."""
    rng = random.Random(seed)
    keys = zipf_keys(rng, n)
    if name == "zipf_reads":
        return [("r", f"z{k}") for k in keys]
    if name == "zipf_90_10":
        return [("w" if rng.random() < 0.1 else "r", f"z{k}") for k in keys]
    if name == "scan_mix":  # half Zipf reads, half a sequential scan of a large key space
        scan = iter(range(SCAN_SPACE))
        return [("r", f"z{k}") if rng.random() < 0.5 else ("r", f"s{next(scan)}") for k in keys]
    raise ValueError(name)


WORKLOADS = ("zipf_reads", "zipf_90_10", "scan_mix")


def value_of(key: str) -> dict[str, Any]:
    return {"key": key, "payload": "x" * 64, "n": len(key)}


# -- hit ratio by trace ------------------------------------------------------------


def simulated_hit_ratio(policy: str, trace: list[tuple[str, str]]) -> float:
    """The L1 alone, as the cache drives it: reads fill on miss, writes invalidate."""
    l1 = L1(L1_SIZE, 1 << 40, policy)
    hits = reads = 0
    for op, key in trace:
        if op == "w":
            l1.discard(key)
            continue
        reads += 1
        if l1.get(key, 0.0) is not None:
            hits += 1
        else:
            l1.put(key, Entry(key, 100, float("inf")))
    return round(hits / reads, 4)


def hit_ratios(n: int) -> dict[str, Any]:
    out = {}
    for name in WORKLOADS:
        trace = workload(name, n, seed=7)
        lru, tiny = simulated_hit_ratio("lru", trace), simulated_hit_ratio("tinylfu", trace)
        out[name] = {"lru": lru, "tinylfu": tiny, "tinylfu_ge_lru": tiny >= lru}
    return out


# -- latency -----------------------------------------------------------------------


def per_op_ns(fn: Callable[[str], Any], keys: list[str], repeats: int = 5) -> float:
    """Best of `repeats` loops over `keys`, in ns per call (best: least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for key in keys:
            fn(key)
        best = min(best, (time.perf_counter_ns() - start) / len(keys))
    return round(best, 1)


def l1_hit_latency(cache: Cache) -> dict[str, Any]:
    rng = random.Random(3)
    hot = [f"h{k}" for k in range(L1_SIZE // 2)]
    cache.set_many({key: value_of(key) for key in hot})
    deadline = time.monotonic() + 10
    while cache.stats()["invalidations"] < len(hot) and time.monotonic() < deadline:
        time.sleep(0.01)  # our own writes' pushes: L1 fills must come after them
    for key in hot:
        cache.get(key)
    picks = [
        hot[i]
        for i in rng.choices(range(len(hot)), [1 / (r + 1) for r in range(len(hot))], k=50_000)
    ]
    assert all(cache.core.l1.data.get(k) for k in hot), "the keys must all be in L1"
    lru = cachetools.LRUCache(L1_SIZE)
    ttl = cachetools.TTLCache(L1_SIZE, 300)
    for key in hot:
        lru[key] = ttl[key] = value_of(key)
    hits_before = cache.stats()["l1_hits"]
    figures = {
        "cachekit_get_ns": per_op_ns(cache.get, picks),
        "cachetools_lru_get_ns": per_op_ns(lru.get, picks),
        "cachetools_ttl_get_ns": per_op_ns(ttl.get, picks),
        "dict_get_ns": per_op_ns({k: 1 for k in hot}.get, picks),
    }
    assert cache.stats()["l1_hits"] - hits_before == 5 * len(picks), "every get was an L1 hit"
    figures["ratio_vs_lru_get"] = round(
        figures["cachekit_get_ns"] / figures["cachetools_lru_get_ns"], 2
    )
    figures["ratio_vs_ttl_get"] = round(
        figures["cachekit_get_ns"] / figures["cachetools_ttl_get_ns"], 2
    )
    return figures


def samples_us(fn: Callable[[str], Any], keys: list[str]) -> dict[str, float]:
    times = []
    for key in keys:
        start = time.perf_counter_ns()
        fn(key)
        times.append((time.perf_counter_ns() - start) / 1000)
    times.sort()
    return {
        "p50_us": round(times[len(times) // 2], 1),
        "p99_us": round(times[int(len(times) * 0.99)], 1),
        "mean_us": round(statistics.fmean(times), 1),
    }


def l2_hit_latency(endpoint: Endpoint, client: Any) -> dict[str, Any]:
    settings = Settings(namespace="bench-l2", l1_max_entries=1, l1_policy="lru")
    with Cache(endpoint, settings) as cache:
        keys = [f"l2-{i}" for i in range(2000)]
        cache.set_many({k: value_of(k) for k in keys})
        for key in keys:  # warm the connections to every primary
            cache.get(key)
        before = cache.stats()
        ours = samples_us(cache.get, keys)
        after = cache.stats()
        assert after["l2_hits"] - before["l2_hits"] == len(keys), "every get was an L2 hit"
        names = [cache.l2.keys.data(k) for k in keys]
        plain = samples_us(client.get, names)
    return {
        "cachekit_get": ours,
        "redis_py_get": plain,
        "ratio_p50": round(ours["p50_us"] / plain["p50_us"], 2),
    }


# -- end-to-end throughput ------------------------------------------------------------


class Runner:
    """One library, driven through the same read/write trace."""

    name = ""

    def read(self, key: str) -> Any: ...
    def write(self, key: str, value: Any) -> None: ...
    def close(self) -> None: ...
    def l1_hit_ratio(self) -> float | None:
        return None


class CachekitRunner(Runner):
    name = "cachekit"

    def __init__(self, endpoint: Endpoint, namespace: str) -> None:
        self.cache = Cache(endpoint, Settings(namespace=namespace, l1_max_entries=L1_SIZE))

    def read(self, key: str) -> Any:
        return self.cache.get_or_load(key, lambda: value_of(key))

    def write(self, key: str, value: Any) -> None:
        self.cache.set(key, value)

    def l1_hit_ratio(self) -> float | None:
        return round(self.cache.stats()["l1_hit_ratio"], 4)

    def close(self) -> None:
        self.cache.close()


class RedisPyRunner(Runner):
    """redis-py, bare or with its built-in client-side cache (RESP3 tracking)."""

    def __init__(self, endpoint: Endpoint, namespace: str, csc: bool) -> None:
        self.name = "redis_py_client_side_cache" if csc else "redis_py_no_cache"
        extra: dict[str, Any] = {"protocol": 3, "cache_config": CacheConfig(max_size=L1_SIZE)}
        self.client = redis.RedisCluster(
            startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in endpoint.seeds],
            address_remap=endpoint.remap,
            password=endpoint.password,
            **(extra if csc else {}),
        )
        self.prefix = f"{namespace}:"
        self.csc = csc

    def read(self, key: str) -> Any:
        name = self.prefix + key
        data = self.client.get(name)
        if data is None:
            value = value_of(key)
            self.client.set(name, pickle.dumps(value, protocol=5), ex=300)
            return value
        return pickle.loads(data)

    def write(self, key: str, value: Any) -> None:
        self.client.set(self.prefix + key, pickle.dumps(value, protocol=5), ex=300)

    def close(self) -> None:
        self.client.close()


class DogpileRunner(Runner):
    name = "dogpile_cache_redis_cluster"

    def __init__(self, endpoint: Endpoint, namespace: str) -> None:
        from dogpile.cache import make_region

        self.region = make_region(key_mangler=lambda k: f"{namespace}:{k}").configure(
            "dogpile.cache.redis_cluster",
            expiration_time=300,
            arguments={
                "startup_nodes": [redis.cluster.ClusterNode(h, p) for h, p in endpoint.seeds],
                "connection_kwargs": {
                    "password": endpoint.password,
                    "address_remap": endpoint.remap,
                },
                "redis_expiration_time": 330,
            },
        )

    def read(self, key: str) -> Any:
        return self.region.get_or_create(key, lambda: value_of(key))

    def write(self, key: str, value: Any) -> None:
        self.region.set(key, value)


@contextmanager
def redis_py_csc_on_7_0() -> Iterator[None]:
    """redis-py refuses its client-side cache below Redis 7.4 (a product-compatibility
    gate, not a protocol need: it uses CLIENT TRACKING, there since 6.0). The tier
    runs 7.0.15, so the gate is lowered for this comparison only."""
    saved = CacheProxyConnection.MIN_ALLOWED_VERSION
    CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"
    try:
        yield
    finally:
        CacheProxyConnection.MIN_ALLOWED_VERSION = saved


def drive(runner: Runner, trace: list[tuple[str, str]], warmup: int) -> dict[str, Any]:
    for op, key in trace[:warmup]:
        runner.read(key) if op == "r" else runner.write(key, value_of(key))
    measured = trace[warmup:]
    start = time.perf_counter()
    for i, (op, key) in enumerate(measured):
        if op == "r":
            runner.read(key)
        else:
            runner.write(key, {**value_of(key), "v": i})
    seconds = time.perf_counter() - start
    return {
        "ops_per_s": round(len(measured) / seconds),
        "l1_hit_ratio": runner.l1_hit_ratio(),
    }


def throughput(endpoint: Endpoint, ops: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in WORKLOADS:
        trace = workload(name, ops + ops // 4, seed=11)
        rows = {}
        factories: list[Callable[[str], Runner]] = [
            lambda ns: CachekitRunner(endpoint, ns),
            lambda ns: RedisPyRunner(endpoint, ns, csc=True),
            lambda ns: DogpileRunner(endpoint, ns),
            lambda ns: RedisPyRunner(endpoint, ns, csc=False),
        ]
        for make in factories:
            runner = make(f"tp-{name}-{random.randrange(1 << 30)}")
            try:
                rows[runner.name] = drive(runner, trace, ops // 4)
            finally:
                runner.close()
        ours = rows["cachekit"]["ops_per_s"]
        for row in rows.values():
            row["cachekit_speedup"] = round(ours / row["ops_per_s"], 2)
        out[name] = rows
    return out


# -- invalidation delay across processes ----------------------------------------------


def listen(outputs: dict[str, Any], namespace: str, count: int, ready: Any, queue: Any) -> None:
    """In another process: note when each invalidation arrives."""
    cache = cachekit.connect(outputs=outputs, namespace=namespace)
    arrivals: dict[str, float] = {}
    forward = cache.core.invalidator.on_keys

    def on_keys(keys: list[str]) -> None:
        now = time.monotonic()
        for key in keys:
            arrivals.setdefault(key, now)
        forward(keys)

    cache.core.invalidator.on_keys = on_keys
    ready.set()
    deadline = time.monotonic() + 60
    while len(arrivals) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.put(arrivals)
    cache.close()


def invalidation_delay(outputs: dict[str, Any], count: int = 500) -> dict[str, Any]:
    namespace = f"inv-{random.randrange(1 << 30)}"
    ctx = multiprocessing.get_context("spawn")
    ready, queue = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=listen, args=(outputs, namespace, count, ready, queue))
    child.start()
    ready.wait(60)
    time.sleep(0.5)
    sent: dict[str, tuple[float, float]] = {}
    with cachekit.connect(outputs=outputs, namespace=namespace) as writer:
        for i in range(count):
            key = f"k{i}"
            start = time.monotonic()
            writer.set(key, i)
            sent[key] = (start, time.monotonic())
            time.sleep(0.004)
    arrivals = queue.get(timeout=90)
    child.join(30)
    from_ack = sorted((arrivals[k] - sent[k][1]) * 1000 for k in sent if k in arrivals)
    from_send = sorted((arrivals[k] - sent[k][0]) * 1000 for k in sent if k in arrivals)

    def pct(values: list[float], p: float) -> float:
        return round(values[min(len(values) - 1, int(len(values) * p))], 3)

    return {
        "writes": count,
        "received": len(from_ack),
        "from_write_sent_ms": {
            "p50": pct(from_send, 0.5),
            "p99": pct(from_send, 0.99),
            "max": pct(from_send, 1),
        },
        "from_write_acked_ms": {
            "p50": pct(from_ack, 0.5),
            "p99": pct(from_ack, 0.99),
            "max": pct(from_ack, 1),
        },
    }


# -- stampede --------------------------------------------------------------------------


def stampede(endpoint: Endpoint) -> dict[str, Any]:
    def hammer(get: Callable[[Callable[[], str]], Any]) -> dict[str, int]:
        loads = []
        errors = []
        barrier = threading.Barrier(200)

        def load() -> str:
            loads.append(1)
            time.sleep(0.2)
            return "v"

        def caller() -> None:
            barrier.wait()
            try:
                get(load)
            except Exception as exc:  # counted: a caller that got no value
                errors.append(exc)

        threads = [threading.Thread(target=caller) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"loads": len(loads), "caller_errors": len(errors)}

    key = f"stampede-{random.randrange(1 << 30)}"
    with Cache(endpoint, Settings(namespace="bench-stampede")) as cache:
        ours = hammer(lambda load: cache.get_or_load(key, load))
    dogpile = DogpileRunner(endpoint, "bench-stampede-dogpile")
    theirs = hammer(lambda load: dogpile.region.get_or_create(key, load))
    return {"concurrent_misses": 200, "cachekit": ours, "dogpile_cache": theirs}


# -- main ------------------------------------------------------------------------------------


def measure(outputs: dict[str, Any], ops: int, trace_ops: int = 200_000) -> dict[str, Any]:
    endpoint = Endpoint.from_outputs(outputs)
    client = endpoint.client()
    with Cache(endpoint, Settings(namespace="bench-l1", l1_max_entries=L1_SIZE)) as cache:
        l1 = l1_hit_latency(cache)
    l2 = l2_hit_latency(endpoint, client)
    client.close()
    with redis_py_csc_on_7_0():
        tp = throughput(endpoint, ops)
    ratios = hit_ratios(trace_ops)
    delay = invalidation_delay(outputs)
    herd = stampede(endpoint)
    goals = {
        "l1_hit_within_1_5x_of_cachetools_lru_get": {
            "met": l1["ratio_vs_lru_get"] <= 1.5,
            "ratio": l1["ratio_vs_lru_get"],
        },
        "l1_hit_within_1_5x_of_cachetools_ttl_get": {
            "met": l1["ratio_vs_ttl_get"] <= 1.5,
            "ratio": l1["ratio_vs_ttl_get"],
        },
        "invalidation_p99_le_5ms": {
            "met": delay["from_write_acked_ms"]["p99"] <= 5.0,
            "p99_ms_from_write_acked": delay["from_write_acked_ms"]["p99"],
            "p99_ms_from_write_sent": delay["from_write_sent_ms"]["p99"],
        },
        "hit_ratio_ge_lru_on_every_workload": {
            "met": all(r["tinylfu_ge_lru"] for r in ratios.values())
        },
        "stampede_one_load": {
            "met": herd["cachekit"] == {"loads": 1, "caller_errors": 0},
        },
    }
    return {
        "l1_hit_latency": l1,
        "l2_hit_latency": l2,
        "throughput_single_thread": tp,
        "l1_hit_ratio_simulated": ratios,
        "invalidation_delay": delay,
        "stampede": herd,
        "goals": goals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=8_000, help="measured ops per workload")
    parser.add_argument("--outputs", type=Path, help="a deployed tier's outputs (JSON)")
    args = parser.parse_args()
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    started = time.time()
    if args.outputs:
        figures = measure(json.loads(args.outputs.read_text()), args.ops)
        deployment = f"an existing tier ({args.outputs})"
    else:
        env = {"INFRA_DOCKER_PROVIDER": "standin"}
        with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
            config = redis_config(client, image)
            with deployed_stack(Path(tmp), proxy, client, config, env) as stack:
                stack.ok("up", stack.name, "--yes")
                figures = measure(stack.outputs(), args.ops)
        deployment = "infra up on the real Pulumi engine, offline docker stand-in"
    result = {
        "benchmark": "cache_kit",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": dockerenv.machine_facts(client, image),
        "deployment": deployment,
        "tier": "Redis Cluster 3 x (1 primary + 1 replica), Redis 7.0.15, loopback",
        "setup": {
            "keys": KEYS,
            "zipf_s": ZIPF_S,
            "l1_entries": L1_SIZE,
            "ops_per_workload": args.ops,
            "value": "a small dict, pickled (~120 bytes)",
            "redis_py_csc_note": "redis-py gates its client-side cache on Redis >= 7.4; "
            "lowered to 7.0 for this comparison (CLIENT TRACKING exists since 6.0)",
        },
        **figures,
        "seconds": round(time.time() - started, 1),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
