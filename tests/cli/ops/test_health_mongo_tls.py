"""`infra status`'s Mongo check with `mongo.tls`: MongoDB's `ping` over TLS,
verified with the stack's CA, against a local TLS listener started here on
127.0.0.1 with a member certificate from components/tls.py (a real TLS
handshake). The listener is a stand-in that speaks OP_MSG, NOT a mongod: no
mongod exists on these machines.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import bson
import pytest

from cli.ops import health
from components import tls
from tests.support.mongo_wire import op_msg, read_exactly

PROBE = Path(__file__).resolve().parents[3] / "components" / "scripts" / "mongo-ping.sh"
SECRET = "mongo-keyfile-text-0123456789abcdefghij"
CONFIG = tls.TlsConfig(enabled=True)


def member_cert(
    sans: list[str], secret: str = SECRET, ca_name: str = "infra-unit-mongo"
) -> tls.NodeCert:
    ca = tls.generated_ca(secret, ca_name)
    period = tls.period_of(date.today(), CONFIG)
    return tls.node_cert(ca, secret, "infra-unit-mongo-0", sans, period)


class TlsStandIn:
    """A TLS listener on 127.0.0.1 answering each OP_MSG with `reply`
    (a mongod's `ping` reply unless told otherwise); `tls_on=False`: plaintext."""

    def __init__(self, cert: tls.NodeCert, reply: dict[str, Any], tls_on: bool = True) -> None:
        self.reply, self.received, self.tls_on = reply, list[dict[str, Any]](), tls_on
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
            pem.write(cert.cert_pem + cert.key_pem)
            pem.flush()
            self.context.load_cert_chain(pem.name)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn = self.context.wrap_socket(raw, server_side=True) if self.tls_on else raw
                with conn:
                    length, request_id, _, opcode = struct.unpack("<iiii", read_exactly(conn, 16))
                    body = read_exactly(conn, length - 16)
                    assert opcode == health.OP_MSG
                    self.received.append(bson.decode(body[5:]))
                    conn.sendall(op_msg(self.reply, 7, request_id))
            except (OSError, ValueError, AssertionError, struct.error):
                continue  # the client gave up (refused the certificate) or spoke no OP_MSG

    def close(self) -> None:
        self.sock.close()


MEMBER_SANS = ["infra-unit-mongo-0", "172.28.0.100", "127.0.0.1", "localhost"]


@pytest.fixture
def member() -> Iterator[TlsStandIn]:
    server = TlsStandIn(member_cert(MEMBER_SANS), {"ok": 1.0})
    yield server
    server.close()


def ca_pem(secret: str = SECRET, name: str = "infra-unit-mongo") -> str:
    return tls.generated_ca(secret, name).pem


def test_the_ping_is_the_healthchecks_bytes() -> None:
    """The same OP_MSG as components/scripts/mongo-ping.sh (one definition of
    the wire bytes, checked both ways)."""
    text = PROBE.read_text()
    quoted = re.search(r"printf '(.*?)' >&3", text, re.S)
    assert quoted is not None
    escaped = quoted.group(1).replace("''", "")
    raw = re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), escaped)
    assert raw.encode("latin-1") == health.MONGO_PING
    assert bson.decode(health.MONGO_PING[21:]) == {"ping": 1, "$db": "admin"}


def test_a_member_with_a_certificate_from_the_ca_answers(member: TlsStandIn) -> None:
    assert health.mongo_tls_ping("127.0.0.1", member.port, ca_pem()) is None
    assert health.mongo_tls_ping("localhost", member.port, ca_pem()) is None
    assert member.received == [{"ping": 1, "$db": "admin"}] * 2


def test_a_certificate_from_another_ca_is_refused(member: TlsStandIn) -> None:
    other = ca_pem("another-keyfile-0123456789abcdefghijkl")
    problem = health.mongo_tls_ping("127.0.0.1", member.port, other)
    assert problem is not None and problem.startswith("certificate not accepted")
    assert member.received == []  # nothing was sent to an unverified peer


def test_a_certificate_that_does_not_name_the_address_is_refused() -> None:
    server = TlsStandIn(member_cert(["infra-unit-mongo-0", "172.28.0.100"]), {"ok": 1.0})
    try:
        problem = health.mongo_tls_ping("127.0.0.1", server.port, ca_pem())
        assert problem is not None and "certificate not accepted" in problem
        assert "127.0.0.1" in problem or "mismatch" in problem
    finally:
        server.close()


def test_a_plaintext_listener_or_nothing_is_no_tls_answer() -> None:
    plain = TlsStandIn(member_cert(MEMBER_SANS), {"ok": 1.0}, tls_on=False)
    try:
        problem = health.mongo_tls_ping("127.0.0.1", plain.port, ca_pem(), timeout=2)
        assert problem is not None and problem.startswith("no TLS answer")
    finally:
        plain.close()
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    assert (health.mongo_tls_ping("127.0.0.1", port, ca_pem()) or "").startswith("no TLS answer")


def test_ok_0_is_reported() -> None:
    server = TlsStandIn(member_cert(MEMBER_SANS), {"ok": 0.0, "errmsg": "x"})
    try:
        assert "ping answered" in (health.mongo_tls_ping("127.0.0.1", server.port, ca_pem()) or "")
    finally:
        server.close()


def outputs(port: int, ca: str | None) -> dict[str, Any]:
    url = f"mongodb://root:x@127.0.0.1:{port}/?authSource=admin&directConnection=true&tls=true"
    member = {"name": "infra-unit-mongo-0", "host": "infra-unit-mongo-0:27017"}
    member |= {"ip": "172.28.0.100", "hostPort": port}
    found = {
        "components": ["mongo"],
        "mongoMembers": [member],
        "mongoUrl": url,
        "mongoHostUrl": url,
        "mongoHostDirectUrl": url,
        "mongoHostsEntry": "127.0.0.1 infra-unit-mongo-0",
        "mongoRootPassword": "x",
    }
    return found if ca is None else {**found, "mongoCaCert": ca}


class FakeClient:
    """pymongo.MongoClient's place: records its options, answers replSetGetStatus."""

    seen: list[dict[str, Any]] = []

    def __init__(self, url: str, **options: Any) -> None:
        FakeClient.seen.append({"url": url, **options})
        self.admin = self

    def command(self, name: str) -> dict[str, Any]:
        assert name == "replSetGetStatus"
        return {
            "members": [{"name": "infra-unit-mongo-0:27017", "health": 1, "stateStr": "PRIMARY"}]
        }

    def close(self) -> None:
        pass


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    import pymongo

    FakeClient.seen = []
    monkeypatch.setattr(pymongo, "MongoClient", FakeClient)
    return FakeClient


def test_status_pings_every_member_over_tls_and_gives_the_driver_the_ca(
    member: TlsStandIn, fake_client: type[FakeClient]
) -> None:
    [check] = health.status(outputs(member.port, ca_pem()))
    assert check.ok, check
    assert (
        check.summary
        == "1/1 members healthy, primary infra-unit-mongo-0:27017, TLS verified with mongoCaCert"
    )
    assert member.received == [{"ping": 1, "$db": "admin"}]
    [options] = fake_client.seen
    assert options["tls"] is True
    assert Path(options["tlsCAFile"]).read_text() == ca_pem()


def test_status_fails_naming_the_member_whose_certificate_is_not_the_stacks(
    member: TlsStandIn, fake_client: type[FakeClient]
) -> None:
    other = ca_pem("another-keyfile-0123456789abcdefghijkl")
    [check] = health.status(outputs(member.port, other))
    assert not check.ok
    assert check.summary.endswith("TLS not verified")
    [detail] = check.details
    assert detail.startswith(f"infra-unit-mongo-0 (127.0.0.1:{member.port}): certificate not")


def test_plaintext_stacks_are_checked_as_before(fake_client: type[FakeClient]) -> None:
    [check] = health.status(outputs(27017, None))
    assert check.ok and "TLS" not in check.summary
    [options] = fake_client.seen
    assert "tls" not in options and "tlsCAFile" not in options


def test_endpoints_follow_the_direct_url_or_the_members_host() -> None:
    from components.mongo_config import MongoExports

    found = outputs(27017, None)
    found["mongoHostDirectUrl"] = "mongodb://root:x@192.168.1.5:27017/?directConnection=true"
    found["mongoMembers"] = [
        {"name": "m0", "ip": "172.28.0.100", "hostPort": 27017},
        {"name": "m1", "ip": "10.0.0.12", "hostPort": 27018, "dockerHost": "h2"},
        {"name": "m2", "ip": "172.28.0.102", "hostPort": None},
    ]
    exports = MongoExports.read(found)
    assert health.mongo_endpoints(exports) == [
        ("m0", "192.168.1.5", 27017),
        ("m1", "10.0.0.12", 27018),
    ]
