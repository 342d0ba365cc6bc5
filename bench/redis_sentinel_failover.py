"""Benchmark: failover time and write loss of a Redis Sentinel tier deployed by `infra up`.

    python -m bench.redis_sentinel_failover [--rounds N]

For each timing profile (the project's defaults, Redis' defaults, Bitnami's
down-after), one stack in sentinel mode (3 groups x (1 primary + 1 replica),
3 Sentinels) is deployed through the product: `infra up` on the real Pulumi engine
with the offline docker stand-in (INFRA_DOCKER_PROVIDER=standin), in a scratch copy
of the project (tests/support/enginestack.py: the `local` template's Redis settings
with mode sentinel and the profile's downAfterMs/failoverTimeoutMs, on a free subnet
and free ports, Mongo and the edge off), and removed by `infra down` afterwards
(plus a sweep of anything still labelled with the stack). The timings reported per
profile are the ones the deployed Sentinels report (SENTINEL MASTERS). Writes
bench/results/redis_sentinel_failover.json.

A writer on the Docker host sends a steady stream of
SETs (one client, each SET to a new key, waiting for each reply) to group
shard-0 through redis-py's Sentinel client (addresses mapped to the published
ports). Then the shard's primary fails. Measured per round:

- `recovered_s`: failure -> every Sentinel reports the replica as the primary
  (failover rounds) / the same node answers as primary again (crash round);
- `write_ok_s`: failure -> the first write acknowledged after it, through
  Sentinel discovery: the outage a client sees (granularity ~0.5 s: the
  client's socket timeout while the old address does not answer);
- `acked` / `lost`: writes acknowledged during the round, and how many of them
  the primary no longer has afterwards (asynchronous replication: what the old
  primary acknowledged but had not yet shipped to the replica when it died).

Failover rounds `docker kill` the primary's container (SIGKILL; `docker kill`
also keeps the restart policy from bringing it back, so Sentinel has to fail
over); afterwards the node is started again and rejoins as a replica. With the
project's defaults, one more round kills only the redis-server process from the
host: Docker's restart policy restarts the container in place, and
`failed_over` tells whether Sentinel promoted the replica anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import docker
import redis

from cli.ops import sentinel as rs
from tests.engine.conftest import RefusingProxy, refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, sentinel_config

RESULTS = Path(__file__).parent / "results" / "redis_sentinel_failover.json"
PROFILES = [
    # name, redis config overrides (empty: the project's defaults)
    ("infra defaults", {}),
    ("redis defaults", {"downAfterMs": 30000, "failoverTimeoutMs": 180000}),
    ("bitnami defaults", {"downAfterMs": 60000, "failoverTimeoutMs": 180000}),
]
GROUP = "shard-0"
ENV = {"INFRA_DOCKER_PROVIDER": "standin"}


class Deployment:
    """A sentinel-mode stack after `infra up`, seen through its outputs."""

    def __init__(self, stack: TierStack) -> None:
        self.stack = stack
        self.client = stack.docker
        self.outputs = stack.outputs()
        self.password = str(self.outputs["redisPassword"])
        known = rs.masters(self.outputs["redisSentinels"][0]["hostPort"], self.password)[GROUP]
        self.down_after_ms = int(known["down-after-milliseconds"])
        self.failover_timeout_ms = int(known["failover-timeout"])

    def primary(self) -> dict[str, Any]:
        port = self.outputs["redisSentinels"][0]["hostPort"]
        ip = rs.masters(port, self.password)[GROUP]["ip"]
        return next(n for n in self.outputs["redisNodes"] if n["ip"] == ip)

    def all_sentinels_report(self, ip: str) -> bool:
        return all(
            rs.masters(s["hostPort"], self.password)[GROUP]["ip"] == ip
            for s in self.outputs["redisSentinels"]
        )


class Writer(threading.Thread):
    """SETs key w:<n> for n = 0, 1, ...; remembers which were acknowledged, when."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.acked: list[tuple[int, float]] = []
        self.errors: list[float] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop_event.is_set():
            try:
                self.client.set(f"w:{n}", str(n))
                self.acked.append((n, time.monotonic()))
            except redis.RedisError:
                self.errors.append(time.monotonic())
                time.sleep(0.02)
            n += 1

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)


def first_ack_after_outage(writer: Writer, failed_at: float) -> float:
    """When the first write after the outage was acknowledged. The outage starts
    at the first error after the failure: an acknowledgement right after the
    failure may be a reply the old primary sent just before it died."""
    errors = [t for t in writer.errors if t > failed_at]
    if not errors:
        return failed_at  # no write failed: no outage seen by the client
    return next(t for _, t in writer.acked if t > errors[0])


def under_load(
    dep: Deployment,
    victim: dict[str, Any],
    failure: Callable[[dict[str, Any]], None],
    recovered: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """Steady writes to GROUP; `failure(primary)` after 2 s; wait for `recovered`
    and for a write acknowledged after the failure; then count lost writes."""
    sentinel = rs.host_sentinel(dep.outputs, dep.password, socket_timeout=0.5)
    client = sentinel.master_for(GROUP)
    client.flushall()
    writer = Writer(client)
    writer.start()
    time.sleep(2)
    failure(victim)
    failed_at = time.monotonic()
    recovered_s = dockerenv.wait_for(lambda: recovered(victim), timeout=240, interval=0.05)

    def resumed() -> bool:  # a write acknowledged after the failure and the last error
        return writer.acked[-1][1] > max([failed_at, *writer.errors])

    dockerenv.wait_for(resumed, timeout=60)
    time.sleep(2)
    writer.stop()
    keys = [f"w:{n}" for n, _ in writer.acked]
    present = []
    for i in range(0, len(keys), 1000):
        present += sentinel.master_for(GROUP).mget(keys[i : i + 1000])
    sentinel.close()
    before = sum(1 for _, t in writer.acked if t <= failed_at)
    return {
        "recovered_s": round(recovered_s, 3),
        "write_ok_s": round(first_ack_after_outage(writer, failed_at) - failed_at, 3),
        "acked": len(keys),
        "acked_before_failure": before,
        "lost": sum(1 for value in present if value is None),
        "failed_attempts": len(writer.errors),
        "writes_per_s_before_failure": round(before / 2, 0),
    }


def failover_round(dep: Deployment) -> dict[str, Any]:
    """`docker kill` the primary: it stays down, so Sentinel must fail over.
    `recovered_s`: every Sentinel reports the replica as the new primary."""

    def kill(victim: dict[str, Any]) -> None:
        dep.client.containers.get(victim["name"]).kill()

    def promoted(victim: dict[str, Any]) -> bool:
        ip = dep.primary()["ip"]
        return ip != victim["ip"] and dep.all_sentinels_report(ip)

    victim = dep.primary()
    result = under_load(dep, victim, kill, promoted)
    dep.client.containers.get(victim["name"]).start()
    dockerenv.wait_for(lambda: rs.settled(dep.outputs, dep.password), timeout=120)
    return result


def crash_round(dep: Deployment) -> dict[str, Any]:
    """SIGKILL the primary's redis-server from the host: a process crash, which
    Docker's restart policy answers by restarting the container in place.
    `recovered_s`: the same node answers as primary again; `failed_over` says
    whether Sentinel promoted the replica meanwhile (it should not when the
    restart is faster than down-after-milliseconds)."""

    def crash(victim: dict[str, Any]) -> None:
        pid = dep.client.containers.get(victim["name"]).attrs["State"]["Pid"]
        os.kill(pid, signal.SIGKILL)

    def back(victim: dict[str, Any]) -> bool:
        return rs.role(victim["hostPort"], dep.password) == "master"

    victim = dep.primary()
    result = under_load(dep, victim, crash, back)
    time.sleep(dep.down_after_ms / 1000 + 3)  # a failover, if any, would have happened by now
    result["failed_over"] = dep.primary()["ip"] != victim["ip"]
    result["restarts"] = dep.client.containers.get(victim["name"]).attrs["RestartCount"]
    dockerenv.wait_for(lambda: rs.settled(dep.outputs, dep.password), timeout=120)
    return result


def profile(
    root: Path,
    proxy: RefusingProxy,
    client: docker.DockerClient,
    image: str,
    name: str,
    overrides: dict[str, int],
    rounds: int,
    crash: bool,
) -> dict[str, Any]:
    config = sentinel_config(client, image, **overrides)
    with deployed_stack(root, proxy, client, config, ENV) as stack:
        began = time.monotonic()
        stack.ok("up", stack.name, "--yes")
        up_s = time.monotonic() - began
        dep = Deployment(stack)
        dockerenv.wait_for(lambda: rs.settled(dep.outputs, dep.password), timeout=60)
        results = [failover_round(dep) for _ in range(rounds)]
        crashed = crash_round(dep) if crash else None
        stack.ok("down", stack.name, "--yes")
        assert stack.leftovers() == [], stack.leftovers()
    writes = [r["write_ok_s"] for r in results]
    out = {
        "profile": name,
        "down_after_ms": dep.down_after_ms,
        "failover_timeout_ms": dep.failover_timeout_ms,
        "infra_up_s": round(up_s, 2),
        "failover_rounds": results,
        "write_ok_median_s": round(statistics.median(writes), 3),
        "write_ok_max_s": round(max(writes), 3),
        "lost_total": sum(r["lost"] for r in results),
        "acked_total": sum(r["acked"] for r in results),
    }
    if crashed is not None:
        out["process_crash_restarted_in_place"] = crashed
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds with the infra defaults")
    args = parser.parse_args()
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    started = time.monotonic()
    runs = []
    with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
        for i, (name, overrides) in enumerate(PROFILES):
            root = Path(tmp) / str(i)
            root.mkdir()
            rounds = args.rounds if not overrides else 1
            runs.append(
                profile(root, proxy, client, image, name, overrides, rounds, crash=not overrides)
            )
        assert proxy.requests == [], proxy.requests
    result = {
        "benchmark": "redis_sentinel_failover",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": dockerenv.machine_facts(client, image),
        "deployment": "infra up on the real Pulumi engine, offline docker stand-in "
        "(INFRA_DOCKER_PROVIDER=standin); one stack per profile",
        "topology": "3 groups x (1 primary + 1 replica), 3 Sentinels, quorum 2",
        "failure": "docker kill (SIGKILL, container stays down) of shard-0's primary under a "
        "steady write load; for the infra defaults also a SIGKILL of its "
        "redis-server process (Docker's restart policy restarts it in place)",
        "profiles": runs,
        "runtime_s": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
