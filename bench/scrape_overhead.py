"""Benchmark: what the monitoring component's scraping costs Redis' throughput.

    python -m bench.scrape_overhead [--rounds N] [--seconds S]

One Redis Cluster stack with monitoring on (scrapeIntervalS 1, the most
frequent scraping the config allows, five times the default), deployed by
`infra up` on the real Pulumi engine with the offline docker stand-in, removed
by `infra down`. In the same run, rounds alternate between

- scraped: the monitoring containers running, Prometheus reading every node
  through the exporter every second;
- not scraped: Prometheus and the exporter paused (`docker pause`: no scrape
  reaches any node), the rest of the stack unchanged;

and each round measures, from the host through the node's published port, how
many commands per second one master serves to a redis-py client running
pipelines of 100 commands (SET and GET alternately, 64-byte values, keys with a
hash tag that node owns). Medians per side and their ratio are written to
bench/results/scrape_overhead.json. Single client, one host: the figure is the
slowdown a busy client sees, not the cluster's capacity.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import docker
import redis

from cli.ops import cluster as rediskit
from components.config_base import NodeOutput
from components.redis_config import RedisClusterExports
from tests.engine.conftest import refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import deployed_stack, redis_config

RESULTS = Path(__file__).parent / "results" / "scrape_overhead.json"
IMAGE = "infra-local/monitoring:debian"
PIPELINE = 100
VALUE = b"v" * 64


def own_tag(client: redis.Redis, slots: list[tuple[int, int]]) -> str:
    """A hash tag whose slot the node serves, so no key is MOVED."""
    for i in range(100_000):
        slot = int(client.execute_command("CLUSTER KEYSLOT", f"{{t{i}}}"))
        if any(low <= slot <= high for low, high in slots):
            return f"t{i}"
    raise RuntimeError("no hash tag found for the node's slots")


def throughput(client: redis.Redis, tag: str, seconds: float) -> float:
    """Commands per second over `seconds` of back-to-back pipelines."""
    done, i = 0, 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        pipe = client.pipeline(transaction=False)
        for _ in range(PIPELINE // 2):
            key = f"{{{tag}}}:{i % 1000}"
            pipe.set(key, VALUE)
            pipe.get(key)
            i += 1
        pipe.execute()
        done += PIPELINE
    return done / (time.monotonic() - start)


@contextmanager
def scraping_paused(containers: list[Any]) -> Iterator[None]:
    for container in containers:
        container.pause()
    try:
        yield
    finally:
        for container in containers:
            container.unpause()


def scrapes_in(url: str, seconds: float) -> float:
    """Scrapes Prometheus made of the node's job over the last `seconds` (a check
    that the paused side really was not scraped and the other side was)."""
    from cli.ops import prometheus

    reply = prometheus.query(url, f'sum(count_over_time(up{{job="redis"}}[{int(seconds)}s]))')
    return float(reply[0]["value"][1]) if reply else 0.0


def first_master(exports: RedisClusterExports) -> tuple[NodeOutput, list[tuple[int, int]]]:
    seed = exports.redis_nodes[0]
    host = rediskit.host_endpoint(exports.redis_host_address_map, seed.ip, seed.port)
    slots = rediskit.master_slots(*host, exports.redis_password)
    address = sorted(slots)[0]
    node = next(n for n in exports.redis_nodes if f"{n.ip}:{n.port}" == address)
    return node, slots[address]


def measure(
    outputs: dict[str, Any], stack: str, client: docker.DockerClient, args: Any
) -> dict[str, Any]:
    exports = RedisClusterExports.read(outputs)
    node, slots = first_master(exports)
    host, port = rediskit.host_endpoint(exports.redis_host_address_map, node.ip, node.port)
    conn = rediskit.node_client(host, port, exports.redis_password)
    tag = own_tag(conn, slots)
    prefix = f"infra-{stack}-monitoring"
    paused = [client.containers.get(f"{prefix}-{r}") for r in ("prometheus", "exporter")]
    url = str(outputs["monitoringPrometheusUrl"])
    throughput(conn, tag, 2)  # warm-up
    sides: dict[str, list[float]] = {"scraped": [], "not_scraped": []}
    scrapes: dict[str, list[float]] = {"scraped": [], "not_scraped": []}
    for _ in range(args.rounds):
        with scraping_paused(paused):
            sides["not_scraped"].append(throughput(conn, tag, args.seconds))
        # Paused, Prometheus wrote nothing: the window it just spent paused is empty.
        scrapes["not_scraped"].append(scrapes_in(url, args.seconds - 1))
        sides["scraped"].append(throughput(conn, tag, args.seconds))
        scrapes["scraped"].append(scrapes_in(url, args.seconds - 1))
    conn.close()
    medians = {side: round(statistics.median(v)) for side, v in sides.items()}
    return {
        "node": node.name,
        "ops_per_s": {side: [round(x) for x in v] for side, v in sides.items()},
        "median_ops_per_s": medians,
        "scraped_vs_not": round(medians["scraped"] / medians["not_scraped"], 4),
        "redis_scrapes_in_window": scrapes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    dockerenv.require_image(client, IMAGE)
    started = time.monotonic()
    config = redis_config(client, image)
    base = config["redis"]["hostPortBase"]
    port = dockerenv.free_port_block(3, avoid=range(base, base + 6))
    config["monitoring"] = {
        "enabled": True,
        "image": IMAGE,
        "hostPort": port,
        "alertmanagerHostPort": port + 1,
        "dashboardHostPort": port + 2,
        "scrapeIntervalS": 1,
    }
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
        with deployed_stack(Path(tmp), proxy, client, config, env) as stack:
            stack.ok("up", stack.name, "--yes")
            figures = measure(stack.outputs(), stack.name, client, args)
        assert proxy.requests == [], proxy.requests
    result = {
        "benchmark": "scrape_overhead",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": dockerenv.machine_facts(client, image),
        "deployment": "infra up on the real Pulumi engine, offline docker stand-in; "
        "Redis Cluster 3 masters + 3 replicas, monitoring scrapeIntervalS 1",
        "method": f"{args.rounds} alternating rounds of {args.seconds:g} s per side; "
        f"one redis-py client, pipelines of {PIPELINE} (SET/GET, 64-byte values) to one "
        "master through its published port; not scraped = Prometheus and the exporter "
        "paused",
        **figures,
        "runtime_s": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
