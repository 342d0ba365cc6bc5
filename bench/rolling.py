"""Changing a live Redis Cluster under load: rolling against all at once.

    python -m bench.rolling

Deploys a Redis Cluster stack (3 x (1 + 1), the defaults, node timeout 4000 ms)
through `infra up` on the real engine in a scratch copy of the project, then, with
a counted write/read load running (tests/support/writeload.py: one client writing
round-robin over 32 hash tags, reading back every 4th write), applies one change
per `infra up` and records, for each:

- acknowledged writes, writes lost (acknowledged, then missing or different),
  failed writes and reads, wrong reads;
- the longest time any slot went without an acknowledged write (`longest_gap_s`,
  goal <= 2 s: one manual failover), next to the normal gap between two writes
  to one slot (`round_s`);
- the most data nodes down at the same moment (Docker events) and the `up` time.

Changes, in order: a `redis.conf` change (maxmemoryPolicy) rolling, the same kind
of change with `rollout: all-at-once` (what the engine does without the hooks:
the baseline), an image change (a second locally built tag) rolling and all at
once, then shards 3 -> 4 -> 3 and replicas 1 -> 2 -> 1 (rolling).

Writes bench/results/rolling.json.
"""

from __future__ import annotations

import json
import os
import platform
from contextlib import suppress
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import docker

from tests.engine.conftest import refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import deployed_stack, redis_config
from tests.support.livecluster import LiveCluster, build_second_image

RESULTS = Path(__file__).parent / "results" / "rolling.json"


def step(live: LiveCluster, client: docker.DockerClient, label: str, **redis: Any) -> dict:
    report, most_down = live.change(client, **redis)
    figures = report.figures() | {"most_nodes_down_at_once": most_down}
    figures["up_s"] = round(live.last_up_s, 1)
    print(label, json.dumps(figures), flush=True)
    return {"change": label, **figures}


def set_rollout(live: LiveCluster, rollout: str) -> None:
    live.stack.set_config("redis", {**live.stack.config()["infra:redis"], "rollout": rollout})
    live.stack.ok("up", live.stack.name, "--yes")  # hooks bound or unbound; no node changes


def run(live: LiveCluster, client: docker.DockerClient, image: str, second: str) -> list[dict]:
    runs = [step(live, client, "redis.conf change, rolling", maxmemoryPolicy="noeviction")]
    set_rollout(live, "all-at-once")
    runs.append(step(live, client, "redis.conf change, all at once", maxmemoryPolicy="allkeys-lru"))
    set_rollout(live, "rolling")
    runs.append(step(live, client, "image change, rolling", image=second))
    set_rollout(live, "all-at-once")
    runs.append(step(live, client, "image change, all at once", image=image))
    set_rollout(live, "rolling")
    runs.append(step(live, client, "shards 3 -> 4", shards=4))
    runs.append(step(live, client, "shards 4 -> 3", shards=3))
    runs.append(step(live, client, "replicas 1 -> 2", replicas=2))
    runs.append(step(live, client, "replicas 2 -> 1", replicas=1))
    return runs


def main() -> None:
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    second = build_second_image(client, image)
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    try:
        with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
            config = redis_config(client, image)
            with deployed_stack(Path(tmp), proxy, client, config, env) as stack:
                stack.ok("up", stack.name, "--yes")
                runs = run(LiveCluster(stack), client, image, second)
    finally:
        with suppress(docker.errors.ImageNotFound):
            client.images.remove(second, force=True)
    figures = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "docker_provider": "infra offline stand-in",
        "stack": "Redis Cluster 3x(1+1), nodeTimeoutMs 4000, published ports on 127.0.0.1",
        "load": "1 client, SET round-robin over 32 hash tags, GET every 4th, redis-py 8.1",
        "goal": "longest_gap_s <= 2.0 (one manual failover) and lost == 0 for rolling changes",
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
