"""Failover windows chosen by data: a sweep of Cluster's and Sentinel's failover window.

    python -m bench.failover_sweep [--kills 10] [--kills-by-value 1000:3,...]
        [--saturation-s 60] [--pauses 2] [--pauses-below 1] [--pause-only]
        [--mode both|cluster|sentinel] [--cluster-values 1000,2000,...]
        [--sentinel-values 1000,2000,...] [--deadline HH:MM] [--out FILE]
    python -m bench.failover_sweep --merge RUN.json ... [--out FILE]

Deploys, through the product (`infra up` on the real Pulumi engine with the
offline docker stand-in, INFRA_DOCKER_PROVIDER=standin, in a scratch copy of the
project; tests/support/enginestack.py), one Redis Cluster stack (3 x (1 + 1)) and
one Sentinel stack (mode sentinel: 3 groups x (1 + 1), 3 Sentinels, quorum 2),
each once. For every window value it sets the value on the live tier and reads
it back:

- Cluster: `CONFIG SET cluster-node-timeout <ms>` on every node (again after a
  killed node restarted: it starts with its redis.conf value);
- Sentinel: `SENTINEL SET <set> down-after-milliseconds <ms> failover-timeout
  <ms>` on every Sentinel for every master set (failover-timeout stays 30000,
  the default, which exceeds every window swept).

Then, per value:

(a) failover time over `--kills` kills: `docker kill` of a current master /
    primary (SIGKILL; the restart policy leaves a killed container down), time
    from the kill to the first write acknowledged by that shard / group. Cluster:
    `cli/ops/drill.py`'s `cluster_failover` (the `infra drill` code: redis-py's
    cluster client, the shard of the first master in address order). Sentinel:
    groups in turn; a probe asks the Sentinels for the group's primary
    (redis-py's discovery, which skips a primary they see down) and SETs a key
    there, every 20 ms. The killed container is then started again and the
    next kill waits until it has rejoined as a replica with its link up and no
    sync in progress (Cluster: every node `cluster_state:ok` and every replica
    linked; Sentinel: every Sentinel agrees on every group's primary and sees
    its replicas linked).
(b) false failovers during `--saturation-s` of full CPU saturation of the host
    (`os.cpu_count() * 2` busy-loop processes, each bounded in time by itself
    and killed afterwards even on error) while one client writes continuously
    to every shard / group, plus the window + 3 s afterwards. Counted:
    promotions seen by polling every node's ROLE, masters with a configEpoch
    newer than any before the run (Cluster) / the master sets' config-epoch
    increase and `+switch-master` events (Sentinel). `+sdown`/`+odown` of a
    master (Sentinel) and `cluster_current_epoch` increases (Cluster: failed
    elections count too) are reported as near misses.
(c) false failovers around a 5 s `docker pause` of one master / primary, then
    `docker unpause`, watched for 2 x the window + 5 s afterwards; `--pauses`
    runs per value at or above the pause length, `--pauses-below` below it (a
    pause longer than the window fails over by construction).

When the largest value still had a false failover, the next 1000 ms up (to
`--extend-to`) is measured too, and the midpoint below the chosen value
(unless `--no-refine`), each only if it fits before `--deadline`.
`--pause-only` runs only the pause runs (more samples at a borderline value);
`--merge` combines result files (an interrupted run, its rest, pause-only runs)
into one, with the decisions recomputed.

The default is then chosen as the smallest value with zero false failovers in
every saturation and pause run, and compared with issue 10's goals. Results,
written after every value (so a failed run leaves its data):
bench/results/failover_sweep.json.

Every wait is bounded; traffic goes to 127.0.0.1 (the stacks' published ports)
and the Docker engine only; the stacks are removed by `infra down` plus a sweep
of anything labelled with them, and the busy loops are killed, also on failure
(SIGTERM/SIGHUP are turned into an exit that runs the clean-up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from tempfile import TemporaryDirectory
from types import FrameType
from typing import Any

import docker
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cli.ops import cluster as rediskit
from cli.ops import drill
from cli.ops import sentinel as rs
from tests.engine.conftest import RefusingProxy, refusing_proxy
from tests.support import dockerenv
from tests.support.enginestack import TierStack, deployed_stack, redis_config, sentinel_config

RESULTS = Path(__file__).parent / "results" / "failover_sweep.json"
ENV = {"INFRA_DOCKER_PROVIDER": "standin"}
DEFAULT_VALUES = [1000, 2000, 3000, 4000, 5000]
TODAY = {"cluster": 3000, "sentinel": 5000}
GOALS = {
    "cluster": {"median_s": 4.5},
    "sentinel": {"median_s": 4.6, "worst_s": 6.0},
}
FAILOVER_TIMEOUT_MS = 30000
PAUSE_S = 5.0
POLL_S = 0.25
SETTLE_TIMEOUT_S = 180
HEAVY = r"pytest|bench\.|\.ci/run|scripts/test.sh"


def now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def other_heavy_work() -> list[str]:
    """Other heavy processes on the machine (tests, CI, benchmarks), not this one."""
    done = subprocess.run(["pgrep", "-af", HEAVY], capture_output=True, text=True, check=False)
    mine = {os.getpid(), os.getppid()}
    lines = []
    for line in done.stdout.splitlines():
        pid, _, cmd = line.partition(" ")
        if int(pid) not in mine and "failover_sweep" not in cmd and "pgrep" not in cmd:
            lines.append(line)
    return lines


def machine_state() -> dict[str, Any]:
    return {"at": now_utc(), "loadavg": load_average(), "other_heavy_work": other_heavy_work()}


def direct(host: str, port: int, password: str, timeout: float) -> redis.Redis:
    """A client that fails at once: redis-py 8 otherwise retries a failed
    connection 10 times with exponential backoff, which would blur the timings."""
    return redis.Redis(
        host=host,
        port=port,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


# --- CPU saturation -----------------------------------------------------------------

BUSY_LOOP = (
    "import time\nend = time.monotonic() + {bound}\nwhile time.monotonic() < end:\n    pass\n"
)


@contextmanager
def cpu_saturation(seconds: float) -> Iterator[int]:
    """`os.cpu_count() * 2` busy loops on the host. Each stops by itself after
    `seconds` + 10 s (should this process die), and all are killed on exit."""
    count = (os.cpu_count() or 1) * 2
    code = BUSY_LOOP.format(bound=seconds + 10)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen([sys.executable, "-c", code], start_new_session=True))
        yield count
    finally:
        for proc in procs:
            with suppress(ProcessLookupError):
                proc.kill()
        for proc in procs:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


# --- load and monitors --------------------------------------------------------------


class Load(threading.Thread):
    """Calls `write(n)` for n = 0, 1, ... until stopped (or `max_s`); counts outcomes."""

    def __init__(self, write: Callable[[int], Any], max_s: float) -> None:
        super().__init__(daemon=True)
        self.write = write
        self.max_s = max_s
        self.acked = 0
        self.errors = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        n = 0
        end = time.monotonic() + self.max_s
        while not self.stop_event.is_set() and time.monotonic() < end:
            try:
                self.write(n)
                self.acked += 1
            except (redis.RedisError, OSError):
                self.errors += 1
                time.sleep(0.02)
            n += 1

    def stop(self) -> dict[str, int]:
        self.stop_event.set()
        self.join(timeout=30)
        return {"writes_acked": self.acked, "write_errors": self.errors}


class RolePoller(threading.Thread):
    """Polls every node's ROLE (published ports) and records role transitions."""

    def __init__(self, nodes: dict[str, tuple[str, int]], password: str, max_s: float) -> None:
        super().__init__(daemon=True)
        self.nodes = nodes
        self.password = password
        self.max_s = max_s
        self.last: dict[str, str] = {}
        self.transitions: list[dict[str, Any]] = []
        self.unanswered = 0
        self.stop_event = threading.Event()
        self.started_at = time.monotonic()

    def role(self, host: str, port: int) -> str:
        with direct(host, port, self.password, 0.5) as client:
            return str(client.execute_command("ROLE")[0])

    def run(self) -> None:
        end = time.monotonic() + self.max_s
        while not self.stop_event.is_set() and time.monotonic() < end:
            for name, (host, port) in self.nodes.items():
                try:
                    role = self.role(host, port)
                except (redis.RedisError, OSError):
                    self.unanswered += 1
                    continue
                before = self.last.get(name)
                if before is not None and before != role:
                    self.transitions.append(
                        {
                            "node": name,
                            "from": before,
                            "to": role,
                            "at_s": round(time.monotonic() - self.started_at, 2),
                        }
                    )
                self.last[name] = role
            self.stop_event.wait(POLL_S)

    def stop(self) -> dict[str, Any]:
        self.stop_event.set()
        self.join(timeout=30)
        return {
            "role_transitions": self.transitions,
            "promotions_polled": sum(1 for t in self.transitions if t["to"] == "master"),
            "unanswered_polls": self.unanswered,
        }


class SentinelEvents:
    """`+switch-master`, `+sdown`, `+odown`, `+try-failover` from every Sentinel."""

    CHANNELS = ("+switch-master", "+sdown", "+odown", "+try-failover")

    def __init__(self, ports: list[int], password: str, max_s: float) -> None:
        self.events: list[dict[str, Any]] = []
        self.stop_event = threading.Event()
        self.max_s = max_s
        self.started_at = time.monotonic()
        self.pubsubs = []
        for port in ports:
            pubsub = rs.client(port, password).pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(*self.CHANNELS)
            self.pubsubs.append((port, pubsub))
        self.threads = [
            threading.Thread(target=self.read, args=(port, pubsub), daemon=True)
            for port, pubsub in self.pubsubs
        ]
        for thread in self.threads:
            thread.start()

    def read(self, port: int, pubsub: Any) -> None:
        end = time.monotonic() + self.max_s
        while not self.stop_event.is_set() and time.monotonic() < end:
            try:
                message = pubsub.get_message(timeout=0.5)
            except (redis.RedisError, OSError):
                time.sleep(0.5)
                continue
            if message and message.get("type") == "message":
                self.events.append(
                    {
                        "sentinel_port": port,
                        "event": message["channel"],
                        "data": message["data"],
                        "at_s": round(time.monotonic() - self.started_at, 2),
                    }
                )

    def stop(self) -> dict[str, Any]:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=5)
        for _, pubsub in self.pubsubs:
            with suppress(Exception):
                pubsub.close()

        def per_sentinel_max(event: str, kind: str = "") -> int:
            counts: dict[int, int] = {}
            for e in self.events:
                if e["event"] == event and str(e["data"]).startswith(kind):
                    counts[e["sentinel_port"]] = counts.get(e["sentinel_port"], 0) + 1
            return max(counts.values(), default=0)

        return {
            "switch_master_events": per_sentinel_max("+switch-master"),
            "sdown_master_events": per_sentinel_max("+sdown", "master "),
            "odown_events": per_sentinel_max("+odown"),
            "try_failover_events": per_sentinel_max("+try-failover"),
            "events": [e for e in self.events if not str(e["data"]).startswith("sentinel ")],
        }


# --- Redis Cluster ------------------------------------------------------------------


class ClusterTier:
    def __init__(self, stack: TierStack) -> None:
        self.stack = stack
        self.outputs = stack.outputs()
        self.view = drill.ClusterView(self.outputs)
        self.password = self.view.password
        self.window_ms = 0
        self.applied: list[dict[str, Any]] = []

    def endpoints(self) -> dict[str, tuple[str, int]]:
        return {n["name"]: self.view.endpoint(n) for n in self.view.nodes}

    def set_window(self, ms: int, why: str) -> None:
        """CONFIG SET cluster-node-timeout on every node, read back."""
        read_back = {}
        for name, (host, port) in self.endpoints().items():
            with rediskit.node_client(host, port, self.password) as client:
                client.config_set("cluster-node-timeout", ms)
                got = client.config_get("cluster-node-timeout")["cluster-node-timeout"]
            read_back[name] = int(got)
        if set(read_back.values()) != {ms}:
            raise RuntimeError(f"cluster-node-timeout not applied: {read_back}")
        self.window_ms = ms
        self.applied.append({"at": now_utc(), "why": why, "cluster-node-timeout": read_back})

    def healthy(self) -> bool:
        """Every node ok and linked (the drill's check), and every node's view
        converged: each master with slots has a replica (right after a rejoin a
        node may still see the rejoined node as a failed master for a moment,
        and the drill would then refuse to run)."""
        if not self.view.healthy():
            return False
        for host, port in self.endpoints().values():
            topo = rediskit.topology(host, port, self.password)
            slots = rediskit.master_slots(host, port, self.password)
            masters = [m for m, ranges in slots.items() if ranges]
            if len(masters) != 3 or any(not topo.get(m) for m in masters):
                return False
        return True

    def wait_healthy(self) -> float:
        return dockerenv.wait_for(self.healthy, timeout=SETTLE_TIMEOUT_S, interval=0.2)

    def snapshot(self) -> dict[str, Any]:
        """Config epochs of the slot-owning masters and the current epoch, asked
        of any node that answers."""
        for host, port in self.endpoints().values():
            try:
                with rediskit.node_client(host, port, self.password) as client:
                    parsed = client.execute_command("CLUSTER NODES")
                info = rediskit.cluster_info(host, port, self.password)
            except (redis.RedisError, OSError):
                continue
            nodes = {str(a).split("@")[0]: v for a, v in parsed.items()}
            # A replica reports its master's config epoch: keep the masters'.
            masters = {
                a: int(v["epoch"])
                for a, v in nodes.items()
                if "master" in v["flags"] and "fail" not in v["flags"] and v["slots"]
            }
            return {
                "current_epoch": int(info["cluster_current_epoch"]),
                "master_epochs": masters,
                "masters": sorted(masters),
            }
        raise RuntimeError("no cluster node answers")

    def victim(self) -> dict[str, Any]:
        master, _ = drill.pick_victim(self.view, self.view.nodes[0])
        return self.view.node_at(master)

    def kill_round(self) -> dict[str, Any]:
        def stop(name: str) -> None:
            self.stack.docker.containers.get(name).kill()

        def start(name: str) -> None:
            self.stack.docker.containers.get(name).start()

        waited_s = self.wait_healthy()
        result = drill.cluster_failover(self.outputs, stop, start, timeout=120).as_dict()
        result["waited_for_convergence_before_kill_s"] = round(waited_s, 2)
        # The restarted node came back with its redis.conf value: set the window again.
        self.set_window(self.window_ms, f"after restarting {result['victim']}")
        return result

    def write_load(self, max_s: float) -> Load:
        client = rediskit.host_cluster_client(self.view.remap, self.password)
        return Load(lambda n: client.set(f"sweep:{n % 10000}", n), max_s)

    def false_failovers(
        self, before: dict[str, Any], after: dict[str, Any], polled: dict[str, Any]
    ) -> dict[str, Any]:
        newest = max(before["master_epochs"].values())
        promoted = sorted(a for a, e in after["master_epochs"].items() if e > newest)
        return {
            "masters_before": before["masters"],
            "masters_after": after["masters"],
            "promoted_with_new_config_epoch": promoted,
            "current_epoch_increase": after["current_epoch"] - before["current_epoch"],
            **polled,
            "false_failovers": max(len(promoted), polled["promotions_polled"]),
        }


# --- Sentinel -----------------------------------------------------------------------


class SentinelTier:
    def __init__(self, stack: TierStack) -> None:
        self.stack = stack
        self.outputs = stack.outputs()
        self.password = str(self.outputs["redisPassword"])
        self.sentinel_ports = [s["hostPort"] for s in self.outputs["redisSentinels"]]
        self.groups = sorted(self.outputs["redisMasterSets"])
        self.window_ms = 0
        self.applied: list[dict[str, Any]] = []

    def endpoints(self) -> dict[str, tuple[str, int]]:
        return {n["name"]: ("127.0.0.1", n["hostPort"]) for n in self.outputs["redisNodes"]}

    def set_window(self, ms: int, why: str) -> None:
        """SENTINEL SET on every Sentinel for every master set, read back."""
        read_back: dict[str, dict[str, list[int]]] = {}
        for port in self.sentinel_ports:
            client = rs.client(port, self.password)
            with client:
                for group in self.groups:
                    client.execute_command(
                        "SENTINEL",
                        "SET",
                        group,
                        "down-after-milliseconds",
                        ms,
                        "failover-timeout",
                        FAILOVER_TIMEOUT_MS,
                    )
            known = rs.masters(port, self.password)
            read_back[str(port)] = {
                g: [int(known[g]["down-after-milliseconds"]), int(known[g]["failover-timeout"])]
                for g in self.groups
            }
        values = {tuple(v) for per in read_back.values() for v in per.values()}
        if values != {(ms, FAILOVER_TIMEOUT_MS)}:
            raise RuntimeError(f"down-after-milliseconds not applied: {read_back}")
        self.window_ms = ms
        self.applied.append(
            {
                "at": now_utc(),
                "why": why,
                "sentinel_port -> set -> [down-after-milliseconds, failover-timeout]": read_back,
            }
        )

    def healthy(self) -> bool:
        return rs.settled(self.outputs, self.password)

    def wait_healthy(self) -> float:
        return dockerenv.wait_for(self.healthy, timeout=SETTLE_TIMEOUT_S, interval=0.2)

    def primary(self, group: str) -> dict[str, Any]:
        ip = rs.masters(self.sentinel_ports[0], self.password)[group]["ip"]
        return next(n for n in self.outputs["redisNodes"] if n["ip"] == ip)

    def snapshot(self) -> dict[str, Any]:
        """Each master set's config-epoch (highest any Sentinel reports) and primary."""
        epochs: dict[str, int] = {}
        primaries: dict[str, str] = {}
        for port in self.sentinel_ports:
            try:
                known = rs.masters(port, self.password)
            except (redis.RedisError, OSError):
                continue
            for group in self.groups:
                epochs[group] = max(epochs.get(group, 0), int(known[group]["config-epoch"]))
                primaries.setdefault(group, str(known[group]["ip"]))
        return {"config_epochs": epochs, "primaries": primaries}

    def first_write(self, group: str, killed_at: float, timeout: float) -> float:
        """Seconds from `killed_at` to a SET acknowledged by the primary the
        Sentinels name (redis-py's discovery skips a primary they see down)."""
        sentinel = rs.host_sentinel(self.outputs, self.password, socket_timeout=0.25)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                host, port = sentinel.discover_master(group)
                with direct(host, port, self.password, 0.25) as client:
                    if client.set("sweep:probe", "1"):
                        return time.monotonic() - killed_at
            except (redis.RedisError, OSError):
                pass
            time.sleep(0.02)
        raise drill.DrillFailed(f"no write to {group} within {timeout:.0f}s of the kill")

    def rejoined(self, victim: dict[str, Any]) -> bool:
        """The node reports itself a replica, its link up and no sync in progress."""
        info = rediskit.replication_info("127.0.0.1", victim["hostPort"], self.password)
        return (
            info["role"] == "slave"
            and info.get("master_link_status") == "up"
            and int(info.get("master_sync_in_progress", 1)) == 0
        )

    def group_settled(self, group: str) -> bool:
        """`rs.settled` for one group: one node reports master, every Sentinel
        names it and sees the group's other nodes as linked replicas."""
        nodes = [n for n in self.outputs["redisNodes"] if n["masterSet"] == group]
        roles = {n["ip"]: rs.role(n["hostPort"], self.password) for n in nodes}
        primaries = [ip for ip, r in roles.items() if r == "master"]
        if len(primaries) != 1:
            return False
        for port in self.sentinel_ports:
            if rs.masters(port, self.password)[group]["ip"] != primaries[0]:
                return False
            linked = {
                r["ip"]
                for r in rs.replicas(port, self.password, group)
                if r.get("master-link-status") == "ok" and not r["is_sdown"]
            }
            if linked != set(roles) - {primaries[0]}:
                return False
        return True

    def kill_round(self, i: int) -> dict[str, Any]:
        """Kill group i's primary (groups in turn). The killed node's own rejoin
        is waited for here; the Sentinels' view of it (refreshed every 10 s) is
        waited for before that group's next kill, 2 rounds later."""
        group = self.groups[i % len(self.groups)]
        waited_s = dockerenv.wait_for(
            lambda: self.group_settled(group), timeout=SETTLE_TIMEOUT_S, interval=0.2
        )
        victim = self.primary(group)
        container = self.stack.docker.containers.get(victim["name"])
        container.kill()
        killed_at = time.monotonic()
        write_ok_s = self.first_write(group, killed_at, timeout=120)
        promoted = self.primary(group)
        container.start()
        started = time.monotonic()
        dockerenv.wait_for(lambda: self.rejoined(victim), timeout=SETTLE_TIMEOUT_S, interval=0.2)
        return {
            "group": group,
            "victim": victim["name"],
            "promoted": promoted["name"],
            "write_ok_s": round(write_ok_s, 3),
            "rejoined_s": round(time.monotonic() - started, 3),
            "waited_for_group_settled_before_kill_s": round(waited_s, 2),
        }

    def write_load(self, max_s: float) -> Load:
        sentinel = rs.host_sentinel(self.outputs, self.password, socket_timeout=1.0)
        clients = [sentinel.master_for(g) for g in self.groups]
        return Load(lambda n: clients[n % len(clients)].set(f"sweep:{n % 10000}", n), max_s)

    def false_failovers(
        self, before: dict[str, Any], after: dict[str, Any], polled: dict[str, Any]
    ) -> dict[str, Any]:
        increase = {g: after["config_epochs"][g] - before["config_epochs"][g] for g in self.groups}
        return {
            "primaries_before": before["primaries"],
            "primaries_after": after["primaries"],
            "config_epoch_increase": increase,
            **polled,
            # config-epoch is the failover leader's epoch, which Sentinel shares
            # across master sets: an increase means a failover, not how many.
            "false_failovers": max(
                sum(1 for v in increase.values() if v > 0),
                polled["promotions_polled"],
                polled["switch_master_events"],
            ),
        }


Tier = ClusterTier | SentinelTier


# --- the three measurements ---------------------------------------------------------


@contextmanager
def watching(tier: Tier, max_s: float) -> Iterator[dict[str, Any]]:
    """Role polling (+ Sentinel events) around a block; fills the yielded dict
    with the false-failover count when the block ends."""
    found: dict[str, Any] = {}
    before = tier.snapshot()
    poller = RolePoller(tier.endpoints(), tier.password, max_s)
    events = (
        SentinelEvents(tier.sentinel_ports, tier.password, max_s)
        if isinstance(tier, SentinelTier)
        else None
    )
    poller.start()
    try:
        yield found
    finally:
        polled = poller.stop()
        if events is not None:
            polled.update(events.stop())
    after = tier.snapshot()
    found.update(tier.false_failovers(before, after, polled))


def kills(tier: Tier, count: int) -> dict[str, Any]:
    rounds = []
    for i in range(count):
        if isinstance(tier, ClusterTier):
            rounds.append(tier.kill_round())
        else:
            rounds.append(tier.kill_round(i))
        print(f"  kill {i + 1}/{count}: {rounds[-1]}", flush=True)
    times = [r["write_ok_s"] for r in rounds]
    return {
        "rounds": rounds,
        "write_ok_median_s": round(statistics.median(times), 3),
        "write_ok_worst_s": round(max(times), 3),
        "write_ok_best_s": round(min(times), 3),
    }


def saturation(tier: Tier, seconds: float) -> dict[str, Any]:
    grace = tier.window_ms / 1000 + 3
    load = tier.write_load(max_s=seconds + grace + 30)
    started = machine_state()
    with watching(tier, max_s=seconds + grace + 60) as found:
        load.start()
        try:
            with cpu_saturation(seconds) as procs:
                time.sleep(seconds)
            time.sleep(grace)  # a failover started at the end completes meanwhile
        finally:
            writes = load.stop()
    settle_s = tier.wait_healthy()
    return {
        "seconds": seconds,
        "busy_loop_processes": procs,
        "watched_after_s": round(grace, 1),
        "machine_before": started,
        "loadavg_after": load_average(),
        **writes,
        **found,
        "settled_after_s": round(settle_s, 2),
    }


def pause(tier: Tier) -> dict[str, Any]:
    victim = tier.victim() if isinstance(tier, ClusterTier) else tier.primary(tier.groups[0])
    container = tier.stack.docker.containers.get(victim["name"])
    watch_after = 2 * tier.window_ms / 1000 + 5
    with watching(tier, max_s=PAUSE_S + watch_after + 60) as found:
        container.pause()
        paused_at = time.monotonic()
        try:
            time.sleep(PAUSE_S)
        finally:
            container.unpause()
        paused_s = time.monotonic() - paused_at
        time.sleep(watch_after)
    settle_s = tier.wait_healthy()
    return {
        "victim": victim["name"],
        "paused_s": round(paused_s, 2),
        "watched_after_s": round(watch_after, 1),
        **found,
        "failed_over": found["false_failovers"] > 0,
        "settled_after_s": round(settle_s, 2),
    }


def measure_value(tier: Tier, value: int, args: argparse.Namespace) -> dict[str, Any]:
    print(f"{type(tier).__name__} window {value} ms", flush=True)
    started = time.monotonic()
    machine = machine_state()
    tier.wait_healthy()
    tier.set_window(value, "sweep value")
    if args.pause_only:
        runs = []
        for _ in range(args.pauses):
            tier.set_window(value, "before a pause run")
            runs.append(pause(tier))
            print(f"  pause: {runs[-1]['false_failovers']} failover(s)", flush=True)
        return {
            "window_ms": value,
            "pause_only": True,
            "machine_at_start": machine,
            "pauses": runs,
            "runtime_s": round(time.monotonic() - started, 1),
        }
    failover = kills(tier, args.kills_by_value.get(value, args.kills))
    tier.set_window(value, "before the saturation run")
    saturated = saturation(tier, args.saturation_s)
    print(f"  saturation: {saturated['false_failovers']} false failover(s)", flush=True)
    pauses = []
    # A pause longer than the window fails over by construction: one run shows it.
    for _ in range(args.pauses_below if value < PAUSE_S * 1000 else args.pauses):
        tier.set_window(value, "before a pause run")
        pauses.append(pause(tier))
        print(f"  pause: {pauses[-1]['false_failovers']} failover(s)", flush=True)
    return {
        "window_ms": value,
        "machine_at_start": machine,
        "failover": failover,
        "saturation": saturated,
        "pauses": pauses,
        "false_failovers_saturation": saturated["false_failovers"],
        "false_failovers_pause": sum(p["false_failovers"] for p in pauses),
        "pause_longer_than_window": value < PAUSE_S * 1000,
        "runtime_s": round(time.monotonic() - started, 1),
    }


def clean(entry: dict[str, Any]) -> bool:
    return entry["false_failovers_saturation"] == 0 and entry["false_failovers_pause"] == 0


def decide(mode: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    values = sorted(entries, key=lambda e: e["window_ms"])
    chosen = next((e for e in values if clean(e)), None)
    out: dict[str, Any] = {
        "rule": "the smallest value with zero false failovers in every saturation and pause run",
        "today": TODAY[mode],
        "swept": [e["window_ms"] for e in values],
    }
    if chosen is None:
        out["chosen_ms"] = None
        out["note"] = "every swept value had a false failover: the rule's value is above the range"
        return out
    failover = chosen["failover"]
    goals = GOALS[mode]
    met = {"median": failover["write_ok_median_s"] <= goals["median_s"]}
    if "worst_s" in goals:
        met["worst"] = failover["write_ok_worst_s"] <= goals["worst_s"]
    out.update(
        chosen_ms=chosen["window_ms"],
        failover_median_s=failover["write_ok_median_s"],
        failover_worst_s=failover["write_ok_worst_s"],
        kills=len(failover["rounds"]),
        goals=goals,
        goals_met=met,
    )
    return out


def estimate_s(mode: str, value: int, args: argparse.Namespace) -> float:
    window = value / 1000
    per_kill = window + (5 if mode == "cluster" else 18)
    per_pause = PAUSE_S + 2 * window + 5 + 15
    kills = args.kills_by_value.get(value, args.kills)
    return kills * per_kill + args.saturation_s + window + 20 + args.pauses * per_pause


def sweep(
    mode: str,
    tier: Tier,
    values: list[int],
    args: argparse.Namespace,
    save: Callable[[], None],
    entries: list[dict[str, Any]],
) -> None:
    for value in values:
        entries.append(measure_value(tier, value, args))
        save()
    # The data may call for more values: above the range when even the largest
    # value had a false failover, and the midpoint below the chosen value.
    extra: list[int] = []
    swept = {e["window_ms"] for e in entries}
    largest = max(entries, key=lambda e: e["window_ms"])
    if not clean(largest) and largest["window_ms"] + 1000 <= args.extend_to:
        extra.append(largest["window_ms"] + 1000)
    chosen = next((e for e in sorted(entries, key=lambda e: e["window_ms"]) if clean(e)), None)
    if args.refine and chosen is not None:
        below = [e["window_ms"] for e in entries if e["window_ms"] < chosen["window_ms"]]
        if below:
            mid = (max(below) + chosen["window_ms"]) // 2
            if mid not in swept and chosen["window_ms"] - max(below) >= 1000:
                extra.append(mid)
    while extra:
        value = extra.pop(0)
        # Keep the time the modes still to come need (args.reserve_s).
        needed = estimate_s(mode, value, args) + args.reserve_s
        if args.deadline and time.time() + needed > args.deadline:
            print(f"  skipping extra value {value} ms: not enough time before the deadline")
            entries.append({"window_ms": value, "skipped": "not enough time before the deadline"})
            save()
            continue
        entries.append(measure_value(tier, value, args))
        save()
        if (
            not clean(entries[-1])
            and value + 1000 <= args.extend_to
            and value > max(e["window_ms"] for e in entries[:-1])
        ):
            extra.append(value + 1000)


def deploy_config(client: docker.DockerClient, image: str, mode: str) -> dict[str, Any]:
    if mode == "cluster":
        return redis_config(client, image, hostPortBase=dockerenv.free_port_block(6))
    return sentinel_config(client, image)


def run_mode(
    mode: str,
    root: Path,
    proxy: RefusingProxy,
    client: docker.DockerClient,
    image: str,
    values: list[int],
    args: argparse.Namespace,
    result: dict[str, Any],
    save: Callable[[], None],
) -> None:
    section: dict[str, Any] = {"values": []}
    result[mode] = section
    with deployed_stack(root, proxy, client, deploy_config(client, image, mode), ENV) as stack:
        began = time.monotonic()
        stack.ok("up", stack.name, "--yes")
        section["stack"] = stack.name
        section["infra_up_s"] = round(time.monotonic() - began, 1)
        tier: Tier = ClusterTier(stack) if mode == "cluster" else SentinelTier(stack)
        try:
            if args.pause_only:
                for value in values:
                    section["values"].append(measure_value(tier, value, args))
                    save()
            else:
                sweep(mode, tier, values, args, save, section["values"])
        finally:
            section["window_applied"] = tier.applied
            save()
        stack.ok("down", stack.name, "--yes")
        section["leftovers_after_down"] = stack.leftovers()
    if not args.pause_only:
        section["decision"] = decide(mode, [e for e in section["values"] if "skipped" not in e])
    save()


def merge(paths: list[Path], out: Path) -> None:
    """One result from several runs (a run that stopped half-way, a re-run of the
    rest, extra pause-only runs): per mode and window, the full measurement, plus
    the pause runs of pause-only runs; decisions recomputed."""
    runs = [json.loads(path.read_text()) for path in paths]
    merged: dict[str, Any] = {**runs[0], "merged_from": []}
    for path, run in zip(paths, runs, strict=True):
        merged["merged_from"].append(
            {
                "file": path.name,
                "date": run["date"],
                "complete": run.get("complete"),
                "machine_at_start": run["machine_at_start"],
                "modes": {
                    m: {
                        "stack": run[m].get("stack"),
                        "values": [e["window_ms"] for e in run[m]["values"]],
                    }
                    for m in ("cluster", "sentinel")
                    if m in run
                },
            }
        )
    for mode in ("cluster", "sentinel"):
        full: dict[int, dict[str, Any]] = {}
        extra: dict[int, list[dict[str, Any]]] = {}
        applied: list[Any] = []
        for path, run in zip(paths, runs, strict=True):
            if mode not in run:
                continue
            applied += run[mode].get("window_applied", [])
            for entry in run[mode]["values"]:
                tagged = {**entry, "stack": run[mode].get("stack"), "file": path.name}
                if entry.get("pause_only"):
                    extra.setdefault(entry["window_ms"], []).extend(
                        {**p, "stack": tagged["stack"], "pause_only_run": True}
                        for p in entry["pauses"]
                    )
                elif "skipped" not in entry:
                    full[entry["window_ms"]] = tagged
        for value, pauses in extra.items():
            if value in full:
                entry = full[value]
                entry["pauses"] = entry["pauses"] + pauses
                entry["false_failovers_pause"] = sum(p["false_failovers"] for p in entry["pauses"])
        values = [full[v] for v in sorted(full)]
        merged[mode] = {
            "values": values,
            "window_applied": applied,
            "decision": decide(mode, values),
        }
    merged["complete"] = all(run.get("complete") for run in runs[1:])
    out.write_text(json.dumps(merged, indent=2) + "\n")
    for mode in ("cluster", "sentinel"):
        print(mode, json.dumps(merged[mode]["decision"], indent=2))
        print(table(merged[mode]["values"]))


def table(entries: list[dict[str, Any]]) -> str:
    """The README's table: window -> failover times, false failovers."""
    rows = [
        "| window | kills | first write after the kill: median (best-worst) "
        "| false failovers, 60 s CPU saturation | failovers, 5 s pause |",
        "| --- | --- | --- | --- | --- |",
    ]
    for e in entries:
        f = e["failover"]
        pauses = e["pauses"]
        failed = sum(1 for p in pauses if p["false_failovers"])
        rows.append(
            f"| {e['window_ms']} ms | {len(f['rounds'])} | {f['write_ok_median_s']:.2f} s "
            f"({f['write_ok_best_s']:.2f}-{f['write_ok_worst_s']:.2f}) "
            f"| {e['false_failovers_saturation']} | {failed} of {len(pauses)} runs |"
        )
    return "\n".join(rows)


def mode_values(mode: str, args: argparse.Namespace) -> list[int]:
    values: list[int] = args.cluster_values if mode == "cluster" else args.sentinel_values
    return values


def values_arg(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def kills_arg(text: str) -> dict[int, int]:
    pairs = (item.split(":") for item in text.split(",") if item.strip())
    return {int(value): int(count) for value, count in pairs}


def deadline_arg(text: str) -> float:
    """HH:MM UTC today -> epoch seconds."""
    hour, minute = (int(x) for x in text.split(":"))
    today = dt.datetime.now(dt.UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return today.timestamp()


def on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mode", choices=["both", "cluster", "sentinel"], default="both")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--saturation-s", type=float, default=60.0)
    parser.add_argument("--pauses", type=int, default=2, help="pause runs per value >= the pause")
    parser.add_argument(
        "--pauses-below", type=int, default=1, help="pause runs per value < the pause"
    )
    parser.add_argument("--kills-by-value", type=kills_arg, default={}, help="e.g. 1000:5,2000:5")
    parser.add_argument("--cluster-values", type=values_arg, default=DEFAULT_VALUES)
    parser.add_argument("--sentinel-values", type=values_arg, default=DEFAULT_VALUES)
    parser.add_argument("--extend-to", type=int, default=8000, help="largest extra value")
    parser.add_argument("--no-refine", dest="refine", action="store_false")
    parser.add_argument("--deadline", type=deadline_arg, default=None, help="HH:MM UTC")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--pause-only", action="store_true", help="only the pause runs (--pauses per value)"
    )
    parser.add_argument(
        "--merge", type=Path, nargs="+", help="merge these result files into --out and exit"
    )
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.out)
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    client = dockerenv.docker_client()
    image = dockerenv.require_image(client)
    started = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "failover_sweep",
        "date": now_utc(),
        "complete": False,
        "machine": {
            **dockerenv.machine_facts(client, image),
            "python": platform.python_version(),
        },
        "machine_at_start": machine_state(),
        "deployment": "infra up on the real Pulumi engine, offline docker stand-in "
        "(INFRA_DOCKER_PROVIDER=standin); one stack per mode, deployed once; the window "
        "set on the live tier for each value",
        "settings": {
            "kills_per_value": args.kills,
            "kills_by_value": args.kills_by_value,
            "saturation_s": args.saturation_s,
            "busy_loop_processes": (os.cpu_count() or 1) * 2,
            "pause_s": PAUSE_S,
            "pauses_per_value": f"{args.pauses} when the window is >= the pause, "
            f"else {args.pauses_below}",
            "sentinel_failover_timeout_ms": FAILOVER_TIMEOUT_MS,
        },
        "goals": GOALS,
    }

    def save() -> None:
        result["runtime_s"] = round(time.monotonic() - started, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    modes = ["cluster", "sentinel"] if args.mode == "both" else [args.mode]
    with TemporaryDirectory() as tmp, refusing_proxy() as proxy:
        for mode in modes:
            root = Path(tmp) / mode
            root.mkdir()
            values = mode_values(mode, args)
            later = modes[modes.index(mode) + 1 :]
            args.reserve_s = sum(
                180 + sum(estimate_s(m, v, args) for v in mode_values(m, args)) for m in later
            )
            run_mode(mode, root, proxy, client, image, values, args, result, save)
        result["internet_requests"] = proxy.requests
    result["machine_at_end"] = machine_state()
    result["complete"] = True
    save()
    for mode in modes:
        if "decision" in result[mode]:
            print(mode, json.dumps(result[mode]["decision"], indent=2))


if __name__ == "__main__":
    main()
