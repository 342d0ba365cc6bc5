"""Backup and restore of about 1 GB, against a bare `redis-cli --rdb` + copy.

    python -m bench.backup [--mb 1024]

Deploys a Redis Cluster stack (3 x (1 + 1), memoryMb 1024 per node) through
`infra up` on the real engine in a scratch copy of the project, writes MB
megabytes of incompressible 10 KB values (keys spread over all slots), then in
the same run:

- baseline: `redis-cli --rdb` against every master through its published port
  (a full-sync snapshot: the master forks), then a copy of each file to another
  directory; what a hand-written backup does;
- `infra backup` (replica snapshots, copy through the Docker API, redis-check-rdb
  verification, checksums);
- `infra down`, `infra up`, then `infra restore` into the empty tier (a key-level
  copy while the tier serves), and a count of the keys back.

Writes bench/results/backup.json (seconds and MB/s for each).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from cli.ops import cluster as rediskit
from tests.engine.conftest import refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, redis_config

RESULTS = Path(__file__).parent / "results" / "backup.json"
VALUE_BYTES = 10_000
BATCH = 200


def fill(stack: TierStack, megabytes: int) -> int:
    outputs = stack.outputs()
    keys = megabytes * 1_000_000 // VALUE_BYTES
    with rediskit.host_cluster_client(
        outputs["redisHostAddressMap"], outputs["redisPassword"], decode=False
    ) as client:
        for start in range(0, keys, BATCH):
            pipe = client.pipeline()
            for i in range(start, min(start + BATCH, keys)):
                pipe.set(f"bench:{i}", os.urandom(VALUE_BYTES))
            pipe.execute()
    return keys


def baseline(stack: TierStack, target: Path) -> dict[str, Any]:
    """`redis-cli --rdb` from each master, then a copy: a hand-written backup."""
    outputs = stack.outputs()
    remap, password = outputs["redisHostAddressMap"], outputs["redisPassword"]
    first = outputs["redisNodes"][0]
    masters = rediskit.master_slots(
        *rediskit.host_endpoint(remap, first["ip"], first["port"]), password
    )
    target.mkdir()
    (target / "copy").mkdir()
    start = time.monotonic()
    for index, address in enumerate(sorted(masters)):
        ip, port_text = address.rsplit(":", 1)
        host, port = rediskit.host_endpoint(remap, ip, int(port_text))
        path = target / f"master-{index}.rdb"
        subprocess.run(
            ["redis-cli", "-h", host, "-p", str(port), "--no-auth-warning", "--rdb", str(path)],
            check=True,
            capture_output=True,
            env={**os.environ, "REDISCLI_AUTH": password},
        )
        shutil.copy(path, target / "copy" / path.name)
    seconds = time.monotonic() - start
    size = sum(p.stat().st_size for p in target.glob("*.rdb"))
    return figures(seconds, size)


def figures(seconds: float, size: int) -> dict[str, Any]:
    mb = size / 1e6
    return {"seconds": round(seconds, 2), "mb": round(mb, 1), "mb_per_s": round(mb / seconds, 1)}


def timed(stack: TierStack, *args: str) -> tuple[float, dict[str, Any]]:
    start = time.monotonic()
    result = stack.ok(*args, "--json")
    return time.monotonic() - start, json.loads(result.out)


def run(stack: TierStack, tmp: Path, megabytes: int) -> dict[str, Any]:
    fill_start = time.monotonic()
    keys = fill(stack, megabytes)
    print(f"wrote {keys} keys in {time.monotonic() - fill_start:.1f}s", flush=True)
    base = baseline(stack, tmp / "baseline")
    print("baseline", base, flush=True)
    seconds, manifest = timed(stack, "backup", stack.name, "--to", str(tmp / "infra"))
    size = sum(s["size"] for s in manifest["shards"])
    backup = figures(seconds, size) | {"keys": sum(s["keys"] for s in manifest["shards"])}
    print("infra backup", backup, flush=True)
    stack.ok("down", stack.name, "--yes")
    stack.ok("up", stack.name, "--yes")
    seconds, restored = timed(stack, "restore", stack.name, str(tmp / "infra"), "--yes")
    restore = figures(seconds, size) | {"keys": restored["restored"]}
    print("infra restore", restore, flush=True)
    return {
        "keys_written": keys,
        "baseline_rdb_and_copy": base,
        "infra_backup": backup,
        "infra_restore": restore,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=1024)
    args = parser.parse_args()
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
        config = redis_config(client, image, memoryMb=1024)
        with deployed_stack(Path(tmp), proxy, client, config, env) as stack:
            stack.ok("up", stack.name, "--yes")
            results = run(stack, Path(tmp), args.mb)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "docker_provider": "infra offline stand-in",
        "stack": "Redis Cluster 3x(1+1), memoryMb 1024, published ports on 127.0.0.1",
        "data": f"{args.mb} MB of random 10 KB strings",
        "notes": "baseline = redis-cli --rdb from every master (the master forks) + a file copy; "
        "infra backup = replica BGSAVE + Docker API copy + redis-check-rdb + SHA-256; "
        "infra restore = DUMP/RESTORE per key into an empty tier made again by down + up",
        **results,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
