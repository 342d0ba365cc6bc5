"""`infra` on the real engine: up from nothing, the no-op second up, preview overhead.

    python -m bench.engine_stack [--samples 3]

Deploys a Redis Cluster stack (the `local` template's Redis settings on a free subnet
and free ports, Mongo and the edge off) in a scratch copy of the project, with the
docker provider `infra` chooses (the offline stand-in where the official plugin
cannot be had), then measures, in this one run:

- `infra up` from nothing until it returns (the cluster is healthy by then: the
  init container's health gate), and `infra status` right after;
- a second `infra up` with nothing to change;
- `infra preview` against `pulumi preview` on the same deployed stack, same engine,
  same provider, alternating, `--samples` times each: the ratio of the medians
  (goal <= 1.1);
- `infra down`.

Writes bench/results/engine_stack.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from cli.engine.docker_provider import STANDIN_BIN
from tests.engine.conftest import refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import deployed_stack, redis_config

RESULTS = Path(__file__).parent / "results" / "engine_stack.json"


def timed(action: Any) -> tuple[float, Any]:
    start = time.monotonic()
    value = action()
    return time.monotonic() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
        config = redis_config(client, image)
        with deployed_stack(Path(tmp), proxy, client, config, env) as stack:
            up_s, _ = timed(lambda: stack.ok("up", stack.name, "--yes"))
            status_s, status = timed(lambda: stack.infra("status", stack.name))
            noop_s, _ = timed(lambda: stack.ok("up", stack.name, "--yes"))
            pulumi_env = {
                "PATH": f"{STANDIN_BIN}{os.pathsep}{stack.engine.env['PATH']}",
                "INFRA_STANDIN_PYTHON": sys.executable,
            }
            stack.engine.env.update(pulumi_env)
            infra_runs, pulumi_runs = [], []
            for _ in range(args.samples):
                infra_runs.append(timed(lambda: stack.ok("preview", stack.name))[0])
                seconds, done = timed(lambda: stack.engine.pulumi("preview", "-s", stack.name))
                assert done.code == 0, done
                pulumi_runs.append(seconds)
            down_s, _ = timed(lambda: stack.ok("down", stack.name, "--yes"))
    figures = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "docker_provider": "infra offline stand-in",
        "stack": "Redis Cluster 3x(1+1) + init container, local template settings",
        "up_from_nothing_s": round(up_s, 2),
        "status_after_up": {"exit": status.code, "seconds": round(status_s, 2)},
        "noop_second_up_s": round(noop_s, 2),
        "preview": {
            "infra_s": [round(s, 2) for s in infra_runs],
            "pulumi_s": [round(s, 2) for s in pulumi_runs],
            "infra_median_s": round(statistics.median(infra_runs), 2),
            "pulumi_median_s": round(statistics.median(pulumi_runs), 2),
            "ratio": round(statistics.median(infra_runs) / statistics.median(pulumi_runs), 3),
            "goal_ratio": 1.1,
        },
        "down_s": round(down_s, 2),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
