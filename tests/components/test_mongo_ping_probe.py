"""scripts/mongo-ping.sh, the members' Docker healthcheck, against a stand-in
mongod that speaks the wire protocol (OP_MSG) on 127.0.0.1.

No mongod exists here, so the stand-in decodes the probe's bytes with pymongo's
own BSON implementation (an independent encoder/decoder) and answers with a
reply shaped like mongod's `ping` reply. What a real mongod 8.0 answers is
verified only against MongoDB's wire-protocol documentation.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
import pytest
from bson.timestamp import Timestamp

from tests.support.mongo_wire import OP_MSG, op_msg, read_exactly

PROBE = Path(__file__).resolve().parents[2] / "components" / "scripts" / "mongo-ping.sh"


class StandIn:
    """Accepts one connection per probe, decodes its OP_MSG, answers `reply`."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.received: list[dict[str, Any]] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                length, request_id, _, opcode = struct.unpack("<iiii", read_exactly(conn, 16))
                body = read_exactly(conn, length - 16)
                assert opcode == OP_MSG
                flags, kind = struct.unpack("<iB", body[:5])
                assert (flags, kind) == (0, 0)
                self.received.append(bson.decode(body[5:]))
                conn.sendall(op_msg(self.reply, 99, request_id))

    def close(self) -> None:
        self.sock.close()


def probe(port: int) -> int:
    return subprocess.run(["bash", str(PROBE), str(port)], timeout=10).returncode


MONGOD_PING_REPLY = {
    "ok": 1.0,
    "$clusterTime": {
        "clusterTime": Timestamp(1764000000, 1),
        "signature": {"hash": bson.Binary(b"\0" * 20), "keyId": 0},
    },
    "operationTime": Timestamp(1764000000, 1),
}


@pytest.fixture
def healthy() -> Iterator[StandIn]:
    server = StandIn(MONGOD_PING_REPLY)
    yield server
    server.close()


def test_the_probe_sends_a_well_formed_ping_and_accepts_ok_1(healthy: StandIn) -> None:
    assert probe(healthy.port) == 0
    assert healthy.received == [{"ping": 1, "$db": "admin"}]


def test_the_probe_fails_on_ok_0() -> None:
    server = StandIn({"ok": 0.0, "errmsg": "x", "code": 13, "codeName": "Unauthorized"})
    try:
        assert probe(server.port) != 0
    finally:
        server.close()


def test_the_probe_fails_when_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    assert probe(port) != 0


TIME = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)


def test_the_probe_needs_a_few_megabytes_not_a_node_runtime(healthy: StandIn) -> None:
    """Peak RSS of the probe (bash and the head/od/tr/grep it waits for: GNU
    time reports wait4's RUSAGE_BOTH maximum). Measured here: about 3-4 MB.
    GNU time, not Python: a child forked from pytest counts pytest's own memory
    in its peak. Never skipped: scripts/build-redis-image.sh installs it."""
    if TIME is None:
        pytest.fail("GNU time (/usr/bin/time) is missing: run scripts/setup.sh", pytrace=False)
    done = subprocess.run(
        [TIME, "-f", "%M", "bash", str(PROBE), str(healthy.port)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    assert peak_kb < 16 * 1024
