"""Benchmark: cluster formation and failover of a Redis Cluster deployed by `infra up`.

    python -m bench.redis_cluster [--rounds N]

Every stack is deployed through the product: `infra up` on the real Pulumi engine
with the offline docker stand-in (INFRA_DOCKER_PROVIDER=standin), in a scratch copy
of the project (tests/support/enginestack.py: the `local` template's Redis settings
on a free subnet and free ports, Mongo and the edge off), and removed by `infra down`
(plus a sweep of anything still labelled with the stack). Writes
bench/results/redis_cluster.json.

1. Formation, on one stack (cluster-node-timeout 3000 ms):
   (a) the program's init container, on a fresh `infra up`: from the Docker `start`
       event of the last node container to every node reporting
       `cluster_state:ok` with 16384 slots and every replica in sync (polled from
       the host every 50 ms while `infra up` runs). This includes what the product
       does in between: the nodes' health checks (first one 2 s after start), the
       engine creating and starting the init container once every node is
       healthy, and the init script's `redis-cli --cluster create`;
   (b) a bare `redis-cli --cluster create`, on the same deployed nodes afterwards:
       the init container is removed, every master gets FLUSHALL and every node
       CLUSTER RESET HARD (checked: one known node, no keys), then a helper
       container on the stack network runs `redis-cli --cluster create <6 nodes>
       --cluster-replicas 1 --cluster-yes` as soon as every node answers PING;
       timed from starting that (already created) container to the same
       condition. The nodes are already running here, so (b) has no node start-up
       and no engine in it;
   and their ratio (a) / (b).
2. Failover (`infra drill --yes --json`, the product's drill): kill the container
   of a master; seconds until its replica is promoted and until a write to a key
   owned by that shard succeeds through redis-py's cluster client, and whether any
   of 200 replicated keys was lost; `--rounds` drills on the stack above (the
   project's cluster-node-timeout, 3000 ms, deployed with the init container) and
   on a second stack deployed with nodeTimeoutMs 15000 (Redis' default).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import docker

from cli.ops import cluster as rediskit
from stacks import addressing
from tests.engine.conftest import RefusingProxy, Result, finish, refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import STACK_LABEL, TierStack, deployed_stack, redis_config

RESULTS = Path(__file__).parent / "results" / "redis_cluster.json"
ENV = {"INFRA_DOCKER_PROVIDER": "standin"}
NODES = 6
POLL_S = 0.05


class StartEvents:
    """Docker `start` events of one stack's containers: name -> first start (epoch s)."""

    def __init__(self, client: docker.DockerClient, stack: str) -> None:
        self.started: dict[str, float] = {}
        filters = {"type": "container", "event": "start", "label": f"{STACK_LABEL}={stack}"}
        self.stream = client.events(decode=True, filters=filters)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for event in self.stream:
            name = event["Actor"]["Attributes"]["name"]
            self.started.setdefault(name, event["timeNano"] / 1e9)

    def close(self) -> dict[str, float]:
        time.sleep(0.5)  # let the last events arrive
        self.stream.close()
        return dict(self.started)


class Cluster:
    """A Redis Cluster stack, reached from the host at 127.0.0.1:base..base+5."""

    def __init__(self, stack: TierStack, config: dict[str, Any]) -> None:
        self.stack = stack
        self.client = stack.docker
        self.subnet = config["network"]["subnet"]
        self.ports = [config["redis"]["hostPortBase"] + i for i in range(NODES)]
        self.node_names = [f"infra-{stack.name}-redis-{i}" for i in range(NODES)]
        self.init_name = f"infra-{stack.name}-redis-init"
        done = stack.engine.pulumi("config", "get", "redisPassword", "-s", stack.name)
        assert done.code == 0, done
        self.password = done.out.strip()

    def all_ok(self) -> bool:
        """cluster_state:ok with every slot everywhere, every replica in sync."""
        return all(
            rediskit.cluster_ok("127.0.0.1", port, self.password)
            and rediskit.replication_ok("127.0.0.1", port, self.password)
            for port in self.ports
        )

    def node(self, port: int) -> Any:
        return rediskit.node_client("127.0.0.1", port, self.password)

    def up_measuring_formation(self) -> dict[str, float]:
        """`infra up` from nothing; formation (a) measured while it runs."""
        events = StartEvents(self.client, self.stack.name)
        began = time.time()
        proc = self.stack.engine.start("up", self.stack.name, "--yes", extra_env=self.stack.env)
        results: list[Result] = []
        reader = threading.Thread(target=lambda: results.append(finish(proc)), daemon=True)
        reader.start()  # reads its output meanwhile, so a full pipe cannot stall it
        ok_at = None
        deadline = time.monotonic() + 300
        while ok_at is None and time.monotonic() < deadline:
            if not reader.is_alive() and (not results or results[0].code != 0):
                break
            try:
                if self.all_ok():
                    ok_at = time.time()
            except Exception:  # nodes not there or not answering yet
                pass
            time.sleep(POLL_S)
        reader.join()
        up_s = time.time() - began
        assert results and results[0].code == 0, results
        assert ok_at is not None, "infra up returned but the cluster never became ok"
        started = events.close()
        last_node = max(started[name] for name in self.node_names)
        return {
            "infra_init_s": ok_at - last_node,
            "init_container_started_after_last_node_s": started[self.init_name] - last_node,
            "infra_up_s": up_s,
        }

    def reset(self) -> None:
        """Unform the cluster: no init container, FLUSHALL masters, RESET HARD all."""
        self.client.containers.get(self.init_name).remove(force=True)
        for port in self.ports:
            with self.node(port) as node:
                if node.info("replication")["role"] == "master":
                    node.flushall()
        for port in self.ports:
            with self.node(port) as node:
                node.execute_command("CLUSTER RESET HARD")

        def empty_and_alone() -> bool:
            for port in self.ports:
                with self.node(port) as node:
                    info = rediskit.cluster_info("127.0.0.1", port, self.password)
                    if info["cluster_known_nodes"] != "1" or node.dbsize() != 0:
                        return False
            return True

        dockerenv.wait_for(empty_and_alone, timeout=30)

    def bare_create(self, image: str) -> float:
        """Formation (b): `redis-cli --cluster create` from a helper container."""
        ips = addressing.addresses(self.subnet, "redis", NODES)
        addrs = " ".join(f"{ip}:6379" for ip in ips)
        script = (
            f"for a in {addrs}; do until redis-cli -h ${{a%:*}} --no-auth-warning ping "
            f"2>/dev/null | grep -q PONG; do sleep 0.05; done; done; "
            f"redis-cli --no-auth-warning --cluster create {addrs} "
            f"--cluster-replicas 1 --cluster-yes >/dev/null"
        )
        net = self.client.networks.get(self.stack.outputs()["networkName"])
        helper = self.client.containers.create(
            image,
            ["sh", "-c", script],
            environment={"REDISCLI_AUTH": self.password},
            labels={STACK_LABEL: self.stack.name},
            network=net.name,
        )
        try:
            net.disconnect(helper)
            net.connect(helper, ipv4_address=addressing.addresses(self.subnet, "apps", 1)[0])
            began = time.monotonic()
            helper.start()
            seconds = dockerenv.wait_for(self.all_ok, timeout=180, interval=POLL_S)
            elapsed = time.monotonic() - began
            status = helper.wait(timeout=60)["StatusCode"]
            if status != 0:
                raise RuntimeError(f"bare create failed: {helper.logs().decode()}")
            assert seconds <= elapsed
            return elapsed
        finally:
            helper.remove(force=True)

    def drill(self) -> dict[str, Any]:
        """One `infra drill`: kill a master, measure promotion and the first write."""
        figures: dict[str, Any] = json.loads(
            self.stack.ok("drill", self.stack.name, "--yes", "--json").out
        )
        return {
            "promoted_s": figures["promoted_s"],
            "write_ok_s": figures["write_ok_s"],
            "rejoined_s": figures["rejoined_s"],
            "keys_lost": figures["keys_lost"],
        }


def failover_summary(node_timeout_ms: int, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    writes = [r["write_ok_s"] for r in rounds]
    return {
        "cluster_node_timeout_ms": node_timeout_ms,
        "rounds": rounds,
        "write_ok_median_s": round(statistics.median(writes), 3),
        "write_ok_max_s": round(max(writes), 3),
    }


def formation_and_failover(
    root: Path, proxy: RefusingProxy, client: docker.DockerClient, image: str, rounds: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stack 1 (3000 ms): formation (a) on `infra up`, drills, formation (b)."""
    config = redis_config(client, image, nodeTimeoutMs=3000)
    with deployed_stack(root, proxy, client, config, ENV) as stack:
        cluster = Cluster(stack, config)
        formed = cluster.up_measuring_formation()
        drills = [cluster.drill() for _ in range(rounds)]
        dockerenv.wait_for(cluster.all_ok, timeout=120)
        cluster.reset()
        bare_s = cluster.bare_create(image)
        down_s = time.monotonic()
        stack.ok("down", stack.name, "--yes")
        down_s = time.monotonic() - down_s
        assert stack.leftovers() == [], stack.leftovers()
    infra_s = formed["infra_init_s"]
    formation = {
        "infra_init_s": round(infra_s, 3),
        "bare_cluster_create_s": round(bare_s, 3),
        "ratio_infra_over_bare": round(infra_s / bare_s, 2),
        "init_container_started_after_last_node_s": round(
            formed["init_container_started_after_last_node_s"], 3
        ),
        "infra_up_from_nothing_s": round(formed["infra_up_s"], 2),
        "infra_down_s": round(down_s, 2),
    }
    return formation, failover_summary(3000, drills)


def failover_only(
    root: Path,
    proxy: RefusingProxy,
    client: docker.DockerClient,
    image: str,
    node_timeout_ms: int,
    rounds: int,
) -> dict[str, Any]:
    config = redis_config(client, image, nodeTimeoutMs=node_timeout_ms)
    with deployed_stack(root, proxy, client, config, ENV) as stack:
        stack.ok("up", stack.name, "--yes")
        cluster = Cluster(stack, config)
        dockerenv.wait_for(cluster.all_ok, timeout=120)
        drills = [cluster.drill() for _ in range(rounds)]
        stack.ok("down", stack.name, "--yes")
        assert stack.leftovers() == [], stack.leftovers()
    return failover_summary(node_timeout_ms, drills)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    started = time.monotonic()
    with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        formation, default_timeout = formation_and_failover(
            Path(tmp) / "a", proxy, client, image, args.rounds
        )
        redis_timeout = failover_only(Path(tmp) / "b", proxy, client, image, 15000, args.rounds)
        assert proxy.requests == [], proxy.requests
    result = {
        "benchmark": "redis_cluster",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": dockerenv.machine_facts(client, image),
        "deployment": "infra up on the real Pulumi engine, offline docker stand-in "
        "(INFRA_DOCKER_PROVIDER=standin); one stack per cluster-node-timeout",
        "formation": formation,
        "failover": [default_timeout, redis_timeout],
        "runtime_s": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
