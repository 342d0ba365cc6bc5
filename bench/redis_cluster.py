"""Benchmark: cluster formation and failover of the RedisCluster component.

Runs on a real Docker engine with the specs the program registers (captured
under Pulumi mocks, started by tests/support/dockerapply.py). Writes
bench/results/redis_cluster.json. Usage: python -m bench.redis_cluster [--rounds N]

1. Formation: time from the last node container started to every node
   reporting cluster_state:ok with 16384 slots, (a) with the program's init
   container and (b) with a bare `redis-cli --cluster create` run on the same
   kind of started nodes; reported with their ratio.
2. Failover (the `infra drill` code): kill the container of a master; time
   until its replica is promoted and until a write to a key owned by that shard
   succeeds through redis-py's cluster client, and whether any replicated key
   was lost; with the project's default cluster-node-timeout (3000 ms) and with
   Redis' default (15000 ms).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import docker

from cli import drill
from cli import rediskit as rediscluster
from tests.support import dockerenv
from tests.support.capture import Capture, run_program
from tests.support.dockerapply import Applier, sweep

RESULTS = Path(__file__).parent / "results" / "redis_cluster.json"


class Deployment:
    def __init__(self, client: docker.DockerClient, image: str, node_timeout_ms: int) -> None:
        self.client = client
        self.run = dockerenv.run_id()
        self.stack = f"bench{self.run}"
        self.password = dockerenv.password()
        self.base = dockerenv.free_port_block(6)
        subnet = dockerenv.free_subnet(client)
        self.capture: Capture = run_program(
            self.stack,
            {
                "network": {"subnet": subnet},
                "redis": {
                    "image": image,
                    "hostPortBase": self.base,
                    "nodeTimeoutMs": node_timeout_ms,
                },
            },
            {"redisPassword": self.password},
        )
        self.applier = Applier(client, self.run)
        self.nodes = [n for n in self.capture.outputs["redisNodes"][0]]
        self.remap = self.capture.outputs["redisHostAddressMap"][0]

    def start_nodes(self) -> float:
        """Start network, volumes and nodes; returns the monotonic time the last
        node container was started."""
        names = {r.name for r in self.capture.resources if r.name != "redis-init"}
        self.applier.apply(self.capture, only=names | {"network"})
        return max(self.applier.applied.started_at.values())

    def start_init(self) -> None:
        self.applier.apply(self.capture, only={"redis-init"})

    def all_ok(self) -> bool:
        """cluster_state:ok everywhere and every replica in sync (can fail over)."""
        return all(
            rediscluster.cluster_ok("127.0.0.1", n["hostPort"], self.password)
            and rediscluster.replication_ok("127.0.0.1", n["hostPort"], self.password)
            for n in self.nodes
        )

    def bare_create(self) -> None:
        node0 = self.client.containers.get(self.nodes[0]["name"])
        addrs = " ".join(f"{n['ip']}:6379" for n in self.nodes)
        script = (
            f"for a in {addrs}; do until redis-cli -h ${{a%:*}} --no-auth-warning ping "
            f"2>/dev/null | grep -q PONG; do sleep 0.05; done; done; "
            f"redis-cli --no-auth-warning --cluster create {addrs} "
            f"--cluster-replicas 1 --cluster-yes >/dev/null"
        )
        code, out = node0.exec_run(
            ["sh", "-c", script], environment={"REDISCLI_AUTH": self.password}
        )
        if code != 0:
            raise RuntimeError(f"bare create failed: {out.decode()}")

    def destroy(self) -> None:
        self.applier.applied.destroy()
        sweep(self.client, self.run)


def formation(client: docker.DockerClient, image: str, bare: bool) -> float:
    dep = Deployment(client, image, 3000)
    try:
        started = dep.start_nodes()
        if bare:
            dep.bare_create()
        else:
            dep.start_init()
        dockerenv.wait_for(dep.all_ok, timeout=180, interval=0.05)
        return time.monotonic() - started
    finally:
        dep.destroy()


def failover_round(dep: Deployment) -> dict[str, float]:
    """One `infra drill`: kill a master, measure promotion and the first write."""
    outputs = dep.capture.plain_outputs()
    containers = dep.client.containers
    result = drill.cluster_failover(
        outputs, lambda n: containers.get(n).kill(), lambda n: containers.get(n).start()
    )
    return {
        "promoted_s": result.promoted_s,
        "write_ok_s": result.write_ok_s,
        "rejoined_s": result.rejoined_s,
        "keys_lost": result.keys_lost,
    }


def failover(
    client: docker.DockerClient, image: str, node_timeout_ms: int, rounds: int
) -> dict[str, Any]:
    dep = Deployment(client, image, node_timeout_ms)
    try:
        dep.start_nodes()
        dep.start_init()
        dockerenv.wait_for(dep.all_ok, timeout=120)
        results = [failover_round(dep) for _ in range(rounds)]
    finally:
        dep.destroy()
    writes = [r["write_ok_s"] for r in results]
    return {
        "cluster_node_timeout_ms": node_timeout_ms,
        "rounds": results,
        "write_ok_median_s": round(statistics.median(writes), 3),
        "write_ok_max_s": round(max(writes), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    infra_s = formation(client, image, bare=False)
    bare_s = formation(client, image, bare=True)
    result = {
        "benchmark": "redis_cluster",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
            "docker": client.version()["Version"],
            "image": image,
        },
        "formation": {
            "infra_init_s": round(infra_s, 3),
            "bare_cluster_create_s": round(bare_s, 3),
            "ratio_infra_over_bare": round(infra_s / bare_s, 2),
        },
        "failover": [
            failover(client, image, 3000, args.rounds),
            failover(client, image, 15000, args.rounds),
        ],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
