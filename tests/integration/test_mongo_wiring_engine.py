"""The MongoReplicaSet through `infra up` on the real engine, with a STAND-IN image.

The official `mongo` image cannot be pulled on these machines and no mongod
binary exists here, so this test does not run MongoDB. `infra up` deploys the
stack (the exact container specs the program registers: command, uploads, network
aliases, fixed addresses, published ports, healthchecks, dependency order) with
`mongo.image` set to an image built from the local Redis image, where:

- `docker-entrypoint.sh` behaves like the official entrypoint for non-mongo
  commands (runs them as root) and, for `mongod`, records its arguments and
  listens on the `--port` it was given (a redis-server, NOT a mongod);
- `mongosh` answers the member healthcheck by pinging that listener and, in the
  init container, checks the uploaded files and reaches every member by the
  `name:port` the replica set config would advertise, then keeps the health
  file fresh (it does NOT run mongo-rs-init.js).

What this proves is Docker-level wiring only: the keyFile ends up owned by the
mongod user (uid 999) with mode 0400, mongod's flags survive the `sh -c`
wrapper, member names resolve to the fixed addresses from the init container,
ports are published 1:1 and the init container's health logic works.
"""

from __future__ import annotations

import base64
import contextlib
import io
import socket
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from components import mongo_replicaset as mrs
from stacks import addressing
from tests.engine.conftest import RefusingProxy
from tests.support import dockerenv
from tests.support.enginestack import deployed_stack

pytestmark = [pytest.mark.integration, pytest.mark.engine]

KEY = base64.b64encode(bytes(range(200)) * 3).decode()

ENTRYPOINT = r"""#!/bin/sh
# STAND-IN for the mongo image's docker-entrypoint.sh + mongod (see the test).
[ "$1" = mongod ] || exec "$@"
shift
port=27017
prev=""
for a in "$@"; do
    [ "$prev" = --port ] && port="$a"
    prev="$a"
done
echo "args=$*" > /tmp/standin-started
exec redis-server --port "$port" --save "" --appendonly no --protected-mode no
"""

MONGOSH = r"""#!/bin/sh
# STAND-IN for mongosh (see the test).
case " $* " in
    *" --nodb "*) ;;
    *)
        port=27017
        prev=""
        for a in "$@"; do
            [ "$prev" = --port ] && port="$a"
            prev="$a"
        done
        redis-cli -p "$port" ping | grep -q PONG
        exit $?
        ;;
esac
for f in "$KEYFILE" "$ROOT_PASSWORD_FILE" "$PLAN_JS"; do
    echo "standin-init: file $(stat -c '%n %u %a' "$f")"
done
for h in $(echo "$RS_SPEC" | grep -o '"host": "[^"]*"' | cut -d'"' -f4); do
    until redis-cli -h "${h%:*}" -p "${h##*:}" ping 2>/dev/null | grep -q PONG; do sleep 0.5; done
    echo "standin-init: reached $h"
done
while :; do
    touch "$HEALTH_FILE"
    sleep 2
done
"""

BASH = r"""#!/bin/sh
# STAND-IN for bash, only to run the member healthcheck (see the test): the probe
# must be where the program uploads it, and be given the member's port, where the
# stand-in mongod (a redis-server) answers. The probe's own wire-protocol logic
# is tested against a fake mongod in tests/components/test_mongo_ping_probe.py.
case "$1" in
    */mongo-ping.sh)
        [ -f "$1" ] || exit 2
        echo "probe $1 $2" > /tmp/standin-probe
        redis-cli -p "$2" ping | grep -q PONG
        exit $?
        ;;
esac
exec sh "$@"
"""

DOCKERFILE = """FROM {base}
COPY standin/ /usr/local/bin/
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN printf 'root:x:0:0:root:/root:/bin/sh\\nmongodb:x:999:999::/data/db:/bin/sh\\n' > /etc/passwd \\
 && printf 'root:x:0:\\nmongodb:x:999:\\n' > /etc/group
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENTRYPOINT ["docker-entrypoint.sh"]
"""


def build_standin(client: docker.DockerClient, base: str, tag: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text, mode in [
            ("Dockerfile", DOCKERFILE.format(base=base), 0o644),
            ("standin/docker-entrypoint.sh", ENTRYPOINT, 0o755),
            ("standin/mongosh", MONGOSH, 0o755),
            ("standin/bash", BASH, 0o755),
        ]:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, pull=False)


@dataclass
class Deployed:
    client: docker.DockerClient
    stack: str
    subnet: str
    port_base: int

    def container(self, suffix: str) -> Any:
        return self.client.containers.get(f"infra-{self.stack}-mongo-{suffix}")

    def sh(self, suffix: str, script: str) -> tuple[int, str]:
        code, out = self.container(suffix).exec_run(["sh", "-c", script])
        return code, out.decode()


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory,
    proxy: RefusingProxy,
    docker_client: docker.DockerClient,
    redis_image: str,
) -> Iterator[Deployed]:
    tag = f"infra-test/mongo-standin:{dockerenv.run_id()}"
    subnet = dockerenv.free_subnet(docker_client)
    base = dockerenv.free_port_block(3)
    config = {
        "network": {"subnet": subnet},
        "redis": {"enabled": False},
        "mongo": {"enabled": True, "image": tag, "portBase": base},
        "edge": {"enabled": False},
    }
    build_standin(docker_client, redis_image, tag)
    root = tmp_path_factory.mktemp("mongo")
    env = {"INFRA_DOCKER_PROVIDER": "standin"}
    try:
        with deployed_stack(root, proxy, docker_client, config, env) as tier:
            set_key = tier.engine.pulumi(
                "config", "set", "--secret", "infra:mongoKeyFile", KEY, "-s", tier.name
            )
            assert set_key.code == 0, set_key
            tier.ok("up", tier.name, "--yes")
            yield Deployed(docker_client, tier.name, subnet, base)
            tier.ok("down", tier.name, "--yes")
            assert tier.leftovers() == []
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)


def test_members_and_init_container_become_healthy(deployed: Deployed) -> None:
    for suffix in ["0", "1", "2", "init"]:
        state = deployed.container(suffix).attrs["State"]
        assert state["Health"]["Status"] == "healthy", suffix


def test_keyfile_lands_owned_by_the_mongod_user_with_mode_0400(deployed: Deployed) -> None:
    for i in range(3):
        code, out = deployed.sh(
            str(i), "stat -c '%u:%g %a' /etc/mongo-keyfile /run/secrets/mongo-keyfile"
        )
        assert code == 0 and out.split("\n")[:2] == ["999:999 400", "0:0 400"], out
        code, out = deployed.sh(str(i), "cat /etc/mongo-keyfile")
        assert code == 0 and out == KEY + "\n"


def test_mongod_flags_survive_the_wrapper(deployed: Deployed) -> None:
    code, out = deployed.sh("1", "cat /tmp/standin-started")
    assert code == 0
    assert out.strip() == (
        f"args=--replSet rs0 --keyFile /etc/mongo-keyfile --bind_ip_all "
        f"--port {deployed.port_base + 1} --wiredTigerCacheSizeGB 0.25"
    )


def test_init_container_reaches_every_member_by_its_advertised_name(deployed: Deployed) -> None:
    logs = deployed.container("init").logs().decode()
    for i in range(3):
        assert (
            f"standin-init: reached infra-{deployed.stack}-mongo-{i}:{deployed.port_base + i}"
            in logs
        )
    assert "standin-init: file /run/secrets/mongo-keyfile 0 400" in logs
    assert "standin-init: file /run/secrets/mongo-root-password 0 400" in logs
    ips = addressing.addresses(deployed.subnet, "mongo", 3)
    for i, ip in enumerate(ips):
        code, out = deployed.sh("init", f"nslookup infra-{deployed.stack}-mongo-{i}")
        assert code == 0 and ip in out, out


def test_member_healthcheck_runs_the_uploaded_ping_probe_on_its_port(deployed: Deployed) -> None:
    for i in range(3):
        code, out = deployed.sh(str(i), "cat /tmp/standin-probe")
        assert code == 0 and out.strip() == f"probe {mrs.PING_SH} {deployed.port_base + i}"


def test_members_are_published_one_to_one_on_the_host(deployed: Deployed) -> None:
    for i in range(3):
        with socket.create_connection(("127.0.0.1", deployed.port_base + i), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(16) == b"+PONG\r\n"


def test_init_health_needs_a_fresh_health_file(deployed: Deployed) -> None:
    check = mrs.INIT_HEALTH.replace(mrs.HEALTH_FILE, "/tmp/probe")
    assert deployed.sh("init", f"touch /tmp/probe && {check}")[0] == 0
    assert deployed.sh("init", f"touch -d '2020-01-01 00:00:00' /tmp/probe && {check}")[0] != 0
    assert deployed.sh("init", f"rm -f /tmp/probe; {check}")[0] != 0
