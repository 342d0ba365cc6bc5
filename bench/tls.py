"""Benchmark: what `redis.tls` costs a Redis Cluster deployed by `infra up`, against plaintext.

    python -m bench.tls

Two stacks, deployed through the product one after the other in the same run: `infra up`
on the real Pulumi engine with the offline docker stand-in (INFRA_DOCKER_PROVIDER=standin)
in a scratch copy of the project (tests/support/enginestack.py: the `local` template's
Redis settings, 3 x (1 + 1), on a free subnet and free ports, Mongo and the edge off).
Stack A has `redis.tls: {enabled: true}` (nodes listen on TLS only; replication and the
cluster bus on TLS too); stack B is plaintext. Each is measured, then removed by
`infra down` (plus a sweep of anything labelled with it, also on failure or SIGTERM).

Per stack:
- infra_up_s: `infra up STACK --yes`, command start to exit, fresh stack;
  ready_after_up_s: then until every node reports cluster_state:ok and every replica
  is in sync (one round of checks when `up` already waited for it); infra_down_s:
  `infra down STACK --yes`, start to exit;
- set_* / get_*: one redis-py cluster client on the host (published ports,
  `address_remap`), 500 warm-up SETs + GETs, then 5000 sequential SETs, then 5000
  GETs of 100-byte values on keys spread over the slots (`tls:<i>`): ops/s over the
  whole sequence and p50/p99 of each call's latency in ms;
- pipeline_ops_s: 20 cluster pipelines (`client.pipeline()`) of 500 SETs each, run
  one after the other: 10 000 SETs over the total seconds;
- connect_p50_ms / connect_p99_ms: 100 times a fresh non-cluster `redis.Redis` to the
  first node, timed from creating it to PING's reply, closed afterwards (untimed).
  That includes TCP connect, with TLS the handshake (and redis-py building a new
  SSLContext from the CA PEM for every connection), AUTH, CLIENT SETINFO and PING.
  This is where the handshake shows.

redis-benchmark is not in the image (only redis-server and redis-cli), so there is no
in-network figure: redis-py on the host is the measuring client, and its own CPU cost
(Python, and the client side of TLS) is in every figure, on the same 2-CPU machine as
the six nodes. The load average and other heavy processes (tests) are recorded
before each stack. Writes bench/results/tls.json (`ratio`: TLS / plaintext).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import ssl
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from types import FrameType
from typing import Any

import docker
import redis

from cli.ops import cluster as rediskit
from tests.engine.conftest import RefusingProxy, refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, redis_config

RESULTS = Path(__file__).parent / "results" / "tls.json"
ENV = {"INFRA_DOCKER_PROVIDER": "standin"}
OPS = 5000
WARMUP = 500
PIPELINES = 20
PIPELINE_SIZE = 500
CONNECTS = 100
VALUE = "v" * 100
HEAVY = r"pytest|bench\.|\.ci/run|scripts/test.sh"  # as bench/failover_sweep.py


def ms_percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of `samples` (seconds), in ms."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return round(cuts[49] * 1000, 3), round(cuts[98] * 1000, 3)


def timed_calls(call: Callable[[str], Any], keys: list[str]) -> tuple[float, list[float]]:
    """Seconds of `call(key)` for every key in turn, and each call's seconds."""
    each = []
    began = time.perf_counter()
    for key in keys:
        start = time.perf_counter()
        call(key)
        each.append(time.perf_counter() - start)
    return time.perf_counter() - began, each


def sequential(client: Any) -> dict[str, float]:
    """Warm-up, then OPS sequential SETs, then OPS GETs."""
    for i in range(WARMUP):
        client.set(f"warm:{i}", VALUE)
        client.get(f"warm:{i}")
    keys = [f"tls:{i}" for i in range(OPS)]
    figures: dict[str, float] = {}
    ops: dict[str, Callable[[str], Any]] = {
        "set": lambda key: client.set(key, VALUE),
        "get": client.get,
    }
    for name, call in ops.items():
        total, each = timed_calls(call, keys)
        p50, p99 = ms_percentiles(each)
        figures |= {f"{name}_ops_s": round(OPS / total), f"{name}_p50_ms": p50}
        figures[f"{name}_p99_ms"] = p99
    assert client.get(keys[-1]) == VALUE
    return figures


def pipelined(client: Any) -> float:
    """SETs per second through PIPELINES cluster pipelines of PIPELINE_SIZE."""
    began = time.perf_counter()
    for batch in range(PIPELINES):
        pipe = client.pipeline()
        for i in range(PIPELINE_SIZE):
            pipe.set(f"pipe:{batch}:{i}", VALUE)
        assert all(pipe.execute())
    return round(PIPELINES * PIPELINE_SIZE / (time.perf_counter() - began))


def connects(host: str, port: int, access: rediskit.Access) -> tuple[float, float]:
    """p50/p99 ms of a fresh connection's first PING."""
    each = []
    for _ in range(CONNECTS):
        start = time.perf_counter()
        node = redis.Redis(host=host, port=port, socket_timeout=2.0, **access.kwargs())
        assert node.ping()
        each.append(time.perf_counter() - start)
        node.close()
    return ms_percentiles(each)


def tls_session(host: str, port: int, ca_pem: str) -> dict[str, Any]:
    """The protocol and cipher a node negotiates with this machine's OpenSSL."""
    context = ssl.create_default_context(cadata=ca_pem)
    with (
        socket.create_connection((host, port), timeout=2.0) as raw,
        context.wrap_socket(raw, server_hostname=host) as wrapped,
    ):
        cipher = wrapped.cipher()
        return {"version": wrapped.version(), "cipher": cipher[0] if cipher else None}


def ready(outputs: dict[str, Any], access: rediskit.Access) -> bool:
    endpoints = [a.rsplit(":", 1) for a in outputs["redisHostAddressMap"].values()]
    return all(
        rediskit.cluster_ok(host, int(port), access)
        and rediskit.replication_ok(host, int(port), access)
        for host, port in endpoints
    )


def timed(stack: TierStack, command: str) -> float:
    start = time.monotonic()
    stack.ok(command, stack.name, "--yes")
    return round(time.monotonic() - start, 2)


def measure(stack: TierStack) -> dict[str, Any]:
    """Everything but `down`, on a deployed stack."""
    outputs = stack.outputs()
    access = rediskit.Access(outputs["redisPassword"], outputs.get("redisCaCert"))
    waited = round(dockerenv.wait_for(lambda: ready(outputs, access), timeout=120), 2)
    host, port = next(iter(outputs["redisHostAddressMap"].values())).rsplit(":", 1)
    with rediskit.node_client(host, int(port), access) as node:
        version = node.info("server")["redis_version"]
    with rediskit.host_cluster_client(outputs["redisHostAddressMap"], access) as client:
        figures: dict[str, Any] = {"ready_after_up_s": waited} | sequential(client)
        figures["pipeline_ops_s"] = pipelined(client)
    p50, p99 = connects(host, int(port), access)
    figures |= {"connect_p50_ms": p50, "connect_p99_ms": p99, "redis_version": version}
    if access.ca_pem:
        figures["tls_session"] = tls_session(host, int(port), access.ca_pem)
    return figures


def machine_state() -> dict[str, Any]:
    """Load average and other heavy processes (tests, benchmarks), not this one."""
    found = subprocess.run(["pgrep", "-af", HEAVY], capture_output=True, text=True, check=False)
    mine = {str(os.getpid()), str(os.getppid())}
    others = [line[:120] for line in found.stdout.splitlines() if line.split()[0] not in mine]
    return {"loadavg": [round(x, 2) for x in os.getloadavg()], "other_heavy_work": others}


def variant(
    root: Path, proxy: RefusingProxy, client: docker.DockerClient, image: str, tls: bool
) -> dict[str, Any]:
    """One stack: deployed, measured, removed."""
    settings = {"tls": {"enabled": True}} if tls else {}
    config = redis_config(client, image, **settings)
    before = machine_state()
    with deployed_stack(root, proxy, client, config, ENV) as stack:
        figures = {"infra_up_s": timed(stack, "up")} | measure(stack)
        figures["infra_down_s"] = timed(stack, "down")
        assert stack.leftovers() == [], stack.leftovers()
    print(f"{'tls' if tls else 'plaintext'}: {json.dumps(figures)}", flush=True)
    return figures | {"machine_before": before}


def ratios(tls: dict[str, Any], plain: dict[str, Any]) -> dict[str, float]:
    return {
        key: round(value / plain[key], 2)
        for key, value in tls.items()
        if isinstance(value, int | float) and plain.get(key)
    }


def table(tls: dict[str, Any], plain: dict[str, Any], ratio: dict[str, float]) -> str:
    lines = [f"{'figure':<18}{'tls':>12}{'plaintext':>12}{'tls/plain':>11}"]
    lines += [f"{k:<18}{tls[k]:>12}{plain[k]:>12}{v:>11}" for k, v in ratio.items()]
    return "\n".join(lines)


NOTES = (
    "Both stacks: Redis Cluster 3 x (1 + 1), the project's defaults otherwise, docker "
    "provider the offline stand-in; TLS first, then plaintext, each deployed, measured "
    "and removed before the other. The client is redis-py on the host through the "
    "published ports (no redis-benchmark in the image): its Python and TLS CPU cost is "
    "in every figure, and it shares the machine's CPUs with the six nodes and whatever "
    "else runs (machine_before: load average and other heavy processes when each stack "
    "started). One run, no repetition: single figures, not distributions across runs. "
    "connect_*: fresh redis.Redis to one node until PING's reply (TCP, TLS handshake "
    "with a new SSLContext per connection in redis-py, AUTH, CLIENT SETINFO, PING)."
)


def on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)  # the stacks' clean-up runs on `timeout` too
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    started = time.monotonic()
    with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
        (Path(tmp) / "tls").mkdir()
        (Path(tmp) / "plain").mkdir()
        tls = variant(Path(tmp) / "tls", proxy, client, image, tls=True)
        plain = variant(Path(tmp) / "plain", proxy, client, image, tls=False)
        assert proxy.requests == [], proxy.requests
    ratio = ratios(tls, plain)
    machine = dockerenv.machine_facts(client, image) | {
        "python": platform.python_version(),
        "redis_py": redis.__version__,
        "openssl": ssl.OPENSSL_VERSION,
        "redis_server": plain["redis_version"],
    }
    result = {
        "benchmark": "tls",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine,
        "tls": tls,
        "plaintext": plain,
        "ratio": ratio,
        "notes": NOTES,
        "runtime_s": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(table(tls, plain, ratio))
    print(f"wrote {RESULTS} ({result['runtime_s']} s)")


if __name__ == "__main__":
    main()
