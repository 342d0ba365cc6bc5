"""Changing a live Redis Cluster with `infra up` on the real engine, under load.

A counted write/read load (tests/support/writeload.py) runs while `up` applies a
change that replaces every node; Docker's own events tell how many nodes were
down at once. Rolling (the default) must keep that at one, lose no acknowledged
write and keep every slot writable within less than an automatic failover.

The stack runs with TLS (`redis.tls`, as the templates set it): the hand-overs,
the scaling (MIGRATE between nodes) and the load's clients all go over TLS, and
a certificate renewal is one of the rolling changes.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import redis
from cryptography import x509

from cli.ops import cluster as rediscluster
from components.redis_config import RedisConfig
from components.redis_users import user_password
from tests.engine.conftest import RefusingProxy, finish
from tests.support import dockerenv
from tests.support.enginestack import deployed_stack, redis_config
from tests.support.livecluster import NODE_ROLE, LiveCluster
from tests.support.writeload import Downtime, LoadReport, WriteLoad

pytestmark = [pytest.mark.integration, pytest.mark.engine]

CART = {"name": "cart", "keys": ["cart:*"]}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
    second_image: str,
) -> Iterator[LiveCluster]:
    config = redis_config(
        docker_client, redis_image, tls={"enabled": True}, users=[CART], defaultUser="disabled"
    )
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    root = tmp_path_factory.mktemp("rolling")
    with deployed_stack(root, proxy, docker_client, config, env) as stack:
        stack.ok("up", stack.name, "--yes")
        yield LiveCluster(stack)


def assert_rolled(report: LoadReport, most_down: int) -> None:
    assert most_down == 1, "more than one node was down at the same time"
    assert report.lost == 0 and report.wrong_reads == 0, report.figures()
    assert report.writes_acked > 500, report.figures()
    # Every slot took writes again sooner than an automatic failover could have
    # happened: each master was handed over before it went (a manual failover).
    assert report.longest_gap_s < RedisConfig().node_timeout_ms / 1000, report.figures()


def test_a_replacing_change_is_previewed_as_a_rolling_replacement(live: LiveCluster) -> None:
    """maxmemoryPolicy lives in redis.conf (an upload): every node is replaced, and
    preview says in which order, who is a master, and who takes over."""
    base = live.stack.config()["infra:redis"]
    live.stack.set_config("redis", {**base, "maxmemoryPolicy": "noeviction"})
    try:
        diff = live.stack.ok("preview", live.stack.name, "--diff")
        plan = json.loads(live.stack.ok("preview", live.stack.name, "--json").out)
    finally:
        live.stack.set_config("redis", base)
    assert "+-docker:index/container:Container: (replace)" in diff.out
    assert "~ uploads: [secret] => [secret]" in diff.out  # the password is in redis.conf
    assert "one at a time" in diff.err and "handed to redis-node-" in diff.err
    replaced = sorted(s["name"] for s in plan["steps"] if s["op"] == "replace")
    assert replaced == sorted(f"redis-node-{i}" for i in range(6))
    assert all("uploads" in s["replaceKeys"] for s in plan["steps"] if s["op"] == "replace")
    steps = plan["rollout"]["steps"]
    assert [s["role"] for s in steps] == ["replica"] * 3 + ["master"] * 3
    masters = steps[3:]
    assert sorted(slot for s in masters for slot in s["slots"]) != []
    assert all(s["handOverTo"] == next(r["node"] for r in steps if r.get("of") == s["node"])
               for s in masters)  # fmt: skip


def test_an_image_change_rolls_every_node_onto_the_new_image(
    live: LiveCluster, docker_client: docker.DockerClient, second_image: str
) -> None:
    report, most_down = live.change(docker_client, image=second_image)
    assert_rolled(report, most_down)
    # SIGTERM within the grace period: Redis shut down cleanly (exit 0), not killed (137).
    assert live.last_exit_codes == ["0"] * 6
    assert live.images(docker_client) == {docker_client.images.get(second_image).id}
    live.stack.ok("preview", live.stack.name, "--expect-no-changes")


def served_certificates(live: LiveCluster) -> dict[str, x509.Certificate]:
    """The certificate each node presents, by its host endpoint."""
    found = {}
    for address in live.remap.values():
        host, port = address.rsplit(":", 1)
        pem = ssl.get_server_certificate((host, int(port)))
        found[address] = x509.load_pem_x509_certificate(pem.encode())
    return found


def cart_password(live: LiveCluster) -> str:
    return str(live.stack.outputs()["redisUsers"]["cart"]["password"])


def auth_failures(report: LoadReport) -> list[str]:
    return [e for e in report.errors if "WRONGPASS" in e or "uthentication" in e]


def logs_in_everywhere(live: LiveCluster, password: str) -> bool:
    """Whether `cart` with `password` is accepted by every node."""
    for address in live.remap.values():
        host, port = address.rsplit(":", 1)
        access = rediscluster.Access(password, live.access.ca_pem, "cart")
        try:
            with rediscluster.node_client(host, int(port), access) as node:
                node.ping()
        except redis.AuthenticationError:
            return False
    return True


def test_renewal_and_rotation_start_roll_every_node_with_no_auth_failure(
    live: LiveCluster, docker_client: docker.DockerClient
) -> None:
    """One `infra rotate --user cart` (an `up`), two changes, under a load
    logged in as the application user `cart` with its current password:
    - a shorter certDays moves the stack into another renewal period, exactly as
      the calendar does: every node gets a new key and certificate from the same
      CA, one node at a time, while clients that trust the CA keep working;
    - cart's password is rotated (generation 2, keepPrevious): every node then
      accepts both passwords, and the output publishes the new one."""
    old, before = cart_password(live), served_certificates(live)
    assert len({c.serial_number for c in before.values()}) == 6
    base = live.stack.config()["infra:redis"]
    live.stack.set_config("redis", {**base, "tls": {"enabled": True, "certDays": 60}})
    report, most_down = live.change(
        docker_client,
        lambda: live.user_load_client("cart", old),
        "cart:",
        command=("rotate", "--user", "cart"),
    )
    assert live.stack.config()["infra:redis"]["users"] == [
        {**CART, "generation": 2, "keepPrevious": True}
    ]
    assert_rolled(report, most_down)
    assert auth_failures(report) == [], report.figures()
    after = served_certificates(live)
    for address, cert in after.items():  # a new key and certificate on every node
        assert cert.serial_number != before[address].serial_number
        assert cert.public_key() != before[address].public_key()
        assert cert.issuer == before[address].issuer
    new = cart_password(live)
    assert new != old
    assert logs_in_everywhere(live, old) and logs_in_everywhere(live, new)
    live.stack.ok("preview", live.stack.name, "--expect-no-changes")


def test_rotation_end_retires_the_old_password_with_no_auth_failure(
    live: LiveCluster, docker_client: docker.DockerClient
) -> None:
    """Clients moved to the new password; `infra rotate --user cart --finish`
    (`keepPrevious: false`) rolls the nodes under their load; afterwards the old
    password is refused everywhere."""
    users = live.stack.config()["infra:redis"]["users"]
    assert users[0]["generation"] == 2
    new = cart_password(live)
    old = user_password(live.password, "cart", 1)
    report, most_down = live.change(
        docker_client,
        lambda: live.user_load_client("cart", new),
        "cart:",
        command=("rotate", "--user", "cart", "--finish"),
    )
    assert live.stack.config()["infra:redis"]["users"] == [{**users[0], "keepPrevious": False}]
    assert_rolled(report, most_down)
    assert auth_failures(report) == [], report.figures()
    assert logs_in_everywhere(live, new) and not logs_in_everywhere(live, old)


def refused_up(live: LiveCluster, **redis: Any) -> Any:
    """`infra up` with `redis` settings, which must be refused with exit 2 and
    touch no container; the stack file is put back afterwards."""
    base = live.stack.config()["infra:redis"]
    before = live.stack.container_ids()
    live.stack.set_config("redis", {**base, **redis})
    try:
        refused = live.stack.infra("up", live.stack.name, "--yes")
    finally:
        live.stack.set_config("redis", base)
    assert refused.code == 2, refused
    assert live.stack.container_ids() == before
    return refused


def test_switching_tls_off_is_refused_before_anything_is_touched(live: LiveCluster) -> None:
    refused = refused_up(live, tls={"enabled": False})
    assert "redis.tls.enabled: turns TLS off on a tier deployed with TLS on" in refused.err


def test_enabling_the_default_user_again_is_refused_before_anything_is_touched(
    live: LiveCluster,
) -> None:
    refused = refused_up(live, defaultUser="admin")
    assert "redis.defaultUser: admin on a tier deployed with disabled" in refused.err


def shape(live: LiveCluster) -> list[int]:
    """Replicas per master, sorted, as the live cluster reports it."""
    host, port = next(iter(live.remap.values())).rsplit(":", 1)
    return sorted(len(r) for r in rediscluster.topology(host, int(port), live.access).values())


def test_preview_of_a_scale_says_which_slots_and_keys_move(live: LiveCluster) -> None:
    base = live.stack.config()["infra:redis"]
    live.stack.set_config("redis", {**base, "shards": 4})
    try:
        plan = json.loads(live.stack.ok("preview", live.stack.name, "--json").out)
        human = live.stack.ok("preview", live.stack.name)
    finally:
        live.stack.set_config("redis", base)
    scale = plan["scale"]
    new_master = scale["join"][0]
    assert len(scale["join"]) == 2 and scale["remove"] == []
    assert {m["to"] for m in scale["moves"]} == {new_master}
    assert sum(m["count"] for m in scale["moves"]) == 16384 // 4
    assert sum(m["keys"] for m in scale["moves"]) > 0  # the earlier loads' keys
    assert "slots (" in human.err and f"-> {new_master}" in human.err


@pytest.mark.parametrize(
    ("setting", "shape_after"),
    [
        ({"shards": 4}, [1, 1, 1, 1]),
        ({"shards": 3}, [1, 1, 1]),
        ({"replicas": 2}, [2, 2, 2]),
    ],
    ids=["shards-3-to-4", "shards-4-to-3", "replicas-1-to-2"],
)
def test_scaling_moves_slots_and_replicas_without_losing_a_write(
    live: LiveCluster,
    docker_client: docker.DockerClient,
    setting: dict[str, int],
    shape_after: list[int],
) -> None:
    scale_under_load(live, docker_client, setting, shape_after)


def test_an_unsafe_scale_is_refused_before_anything_is_touched(live: LiveCluster) -> None:
    """3 x (1 + 2) -> 4 x (1 + 1) in one run: no node can become the 4th master
    without losing data (a replica cannot turn into an empty master)."""
    assert shape(live) == [2, 2, 2]
    refused = refused_up(live, shards=4, replicas=1)
    assert "change shards and replicas in two runs" in refused.err


def test_replicas_two_to_one_keeps_a_replica_on_every_master(
    live: LiveCluster, docker_client: docker.DockerClient
) -> None:
    scale_under_load(live, docker_client, {"replicas": 1}, [1, 1, 1])


def scale_under_load(
    live: LiveCluster,
    docker_client: docker.DockerClient,
    setting: dict[str, int],
    shape_after: list[int],
) -> None:
    report, _ = live.change(docker_client, **setting)
    assert report.lost == 0 and report.wrong_reads == 0, report.figures()
    assert report.longest_gap_s < RedisConfig().node_timeout_ms / 1000, report.figures()
    assert shape(live) == shape_after
    live.stack.ok("preview", live.stack.name, "--expect-no-changes")


def test_an_interrupted_rolling_change_is_finished_by_the_next_up(
    live: LiveCluster, docker_client: docker.DockerClient
) -> None:
    """`infra up` stopped by SIGINT to its process group (as Ctrl-C does) after
    two nodes were replaced, the next `up` killed by SIGKILL of its group (as a
    lost CI runner) after two more: each time `status` says the change is
    half-done, and the third `up` finishes it; nothing is lost."""
    base = live.stack.config()["infra:redis"]
    live.stack.set_config("redis", {**base, "maxmemoryPolicy": "volatile-lru"})
    downtime = Downtime(docker_client, live.stack.name, NODE_ROLE)
    load = WriteLoad(live.load_client, prefix=f"cut{time.monotonic_ns()}")
    try:
        with load:
            for sig, replaced in ((signal.SIGINT, 2), (signal.SIGKILL, 4)):
                stop_up_after(live, downtime, sig, replaced)
            live.stack.ok("up", live.stack.name, "--yes")
    finally:
        downtime.close()
    live.refresh()
    live.wait_ok()
    reader = live.client()
    report = load.report(reader)
    reader.close()
    assert report.lost == 0 and report.wrong_reads == 0, report.figures()
    for address in live.remap.values():
        host, port = address.rsplit(":", 1)
        with rediscluster.node_client(host, int(port), live.access) as node:
            assert node.config_get("maxmemory-policy")["maxmemory-policy"] == "volatile-lru"
    live.stack.ok("preview", live.stack.name, "--expect-no-changes")
    live.stack.ok("status", live.stack.name)


def stop_up_after(live: LiveCluster, downtime: Downtime, sig: int, replaced: int) -> None:
    proc = live.stack.engine.start("up", live.stack.name, "--yes", extra_env=live.stack.env)
    dockerenv.wait_for(lambda: len(downtime.exit_codes) >= replaced, timeout=180)
    os.killpg(proc.pid, sig)
    stopped = finish(proc)
    assert stopped.code != 0, stopped
    status = live.stack.infra("status", live.stack.name)
    assert status.code == 1 and "half-done" in status.out, status


def test_all_at_once_takes_several_nodes_down_together(
    live: LiveCluster, docker_client: docker.DockerClient
) -> None:
    """The opt-out does what the engine does by default: the comparison the
    benchmark measures (bench/rolling.py)."""
    live.stack.set_config("redis", {**live.stack.config()["infra:redis"], "rollout": "all-at-once"})
    live.stack.ok("up", live.stack.name, "--yes")  # no node changes: hooks unbound
    report, most_down = live.change(docker_client, maxmemoryPolicy="allkeys-lru")
    assert most_down > 1
    assert report.writes_acked > 0


def test_down_runs_no_hand_over_and_leaves_nothing(live: LiveCluster) -> None:
    live.stack.set_config("redis", {**live.stack.config()["infra:redis"], "rollout": "rolling"})
    live.stack.ok("up", live.stack.name, "--yes")
    down = live.stack.ok("down", live.stack.name, "--yes")
    assert "hand over" not in down.out + down.err
    assert live.stack.leftovers() == []
