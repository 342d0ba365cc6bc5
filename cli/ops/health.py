"""`infra status`: is the provisioned tier healthy, seen from the Docker host?

Works from a stack's outputs only (addresses, host address map, passwords), so
it checks what clients see: every node answers, the cluster/Sentinel view is
consistent, and every master has a replica ready to take over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from cli.ops.cluster import TIMEOUT_S, Access, host_endpoint, node_client

if TYPE_CHECKING:
    from components.config_base import NodeOutput
    from components.mongo_config import MongoExports
    from components.monitoring_config import MonitoringExports
    from components.redis_config import RedisClusterExports, RedisSentinelExports
    from stacks.registry import Registry


@dataclass
class Check:
    component: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)
    # Healthy now, but weaker than deployed (e.g. a host whose loss would now
    # lose a shard): shown, and not a failure (exit 0).
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "ok": self.ok,
            "summary": self.summary,
            "details": self.details,
            "warnings": self.warnings,
        }


def ask(
    exports: RedisClusterExports | RedisSentinelExports,
    node: NodeOutput,
    question: Callable[[redis.Redis], Any],
    details: list[str],
) -> Any | None:
    """`question`'s answer from `node` through the host address map, or None
    with the reason added to `details`."""
    remap = exports.redis_host_address_map
    client = node_client(*host_endpoint(remap, node.ip, node.port), Access.of(exports))
    try:
        return question(client)
    except redis.RedisError as exc:
        details.append(f"{node.name} ({node.ip}): unreachable: {exc}")
        return None
    finally:
        client.close()


def cluster_view(client: redis.Redis) -> tuple[Any, Any]:
    return client.execute_command("CLUSTER INFO"), client.info("replication")


def redis_cluster(exports: RedisClusterExports) -> Check:
    nodes = exports.redis_nodes
    details: list[str] = []
    up, masters, replicas, slots_ok = 0, 0, 0, 0
    states = set()
    for node in nodes:
        answer = ask(
            exports,
            node,
            lambda c: (c.execute_command("CLUSTER INFO"), c.info("replication")),
            details,
        )
        if answer is None:
            continue
        info, repl = answer
        up += 1
        states.add(str(info.get("cluster_state")))
        slots_ok = max(slots_ok, int(info.get("cluster_slots_ok", 0)))
        if repl["role"] == "master":
            masters += 1
        elif repl.get("master_link_status") == "up":
            replicas += 1
        else:
            details.append(f"{node.name}: replica without a live link to its master")
    ok = up == len(nodes) > 0 and states == {"ok"} and slots_ok == 16384 and replicas >= masters
    summary = (
        f"{up}/{len(nodes)} nodes up, {masters} masters, {replicas} replicas in sync, "
        f"slots {slots_ok}/16384, cluster_state {'/'.join(sorted(states)) or 'unknown'}"
    )
    check = Check("redis", ok, summary, details)
    if any(n.host for n in nodes) and up:
        add_placement(check, exports)
    if exports.redis_ca_cert is not None and up:
        add_certificates(check, exports)
    return check


def add_certificates(check: Check, exports: RedisClusterExports) -> None:
    """TLS: when the certificates the nodes present expire, and a warning when
    one is in the last third of its life (the default renewal window: `infra up`
    would have re-issued it)."""
    import ssl
    from datetime import UTC, datetime

    from cryptography import x509

    now, soonest = datetime.now(UTC), None
    for node in exports.redis_nodes:
        host, port = host_endpoint(exports.redis_host_address_map, node.ip, node.port)
        try:
            pem = ssl.get_server_certificate((host, port), timeout=TIMEOUT_S)
        except OSError:
            continue
        cert = x509.load_pem_x509_certificate(pem.encode())
        if soonest is None or cert.not_valid_after_utc < soonest.not_valid_after_utc:
            soonest = cert
    if soonest is None:
        return
    left = soonest.not_valid_after_utc - now
    life = soonest.not_valid_after_utc - soonest.not_valid_before_utc
    check.summary += f", TLS (certificates valid {left.days} more days)"
    if left < life / 3:
        check.warnings.append(
            f"a node certificate expires in {left.days} days: `infra up` re-issues them "
            "(rolling) once they are in their renewal window"
        )


def add_placement(check: Check, exports: RedisClusterExports) -> None:
    """Across hosts: which node runs where in which role, and a warning when
    failovers have left a host whose loss would now lose a shard."""
    from cli.ops import placement

    try:
        found = placement.report(exports)
    except (redis.RedisError, OSError) as exc:
        check.details.append(f"placement not read: {exc}")
        return
    check.details += [f"host {line}" for line in found.lines]
    if found.warnings:
        check.warnings += [
            *found.warnings,
            "`infra rebalance <stack>` moves the masters back where placement put them",
        ]


def redis_sentinel(exports: RedisSentinelExports) -> Check:
    sentinels, sets = exports.redis_sentinels, exports.redis_master_sets
    up, details = 0, list[str]()
    primaries: dict[str, set[str]] = {}
    for sentinel in sentinels:
        reply = ask(exports, sentinel, lambda c: c.sentinel_masters(), details)
        if reply is None:
            continue
        up += 1
        masters = reply if isinstance(reply, dict) else {m["name"]: m for m in reply}
        for name in sets:
            state = masters.get(name)
            if not state:
                details.append(f"{sentinel.name}: does not monitor {name}")
                continue
            primaries.setdefault(name, set()).add(f"{state['ip']}:{state['port']}")
            if state.get("is_odown") or state.get("is_sdown"):
                details.append(f"{sentinel.name}: {name} primary is down")
            if int(state.get("num-slaves", 0)) < 1:
                details.append(f"{sentinel.name}: {name} has no replica")
    split = [n for n, seen in primaries.items() if len(seen) > 1]
    details += [f"sentinels disagree on the primary of {n}" for n in split]
    ok = up == len(sentinels) > 0 and not details and len(primaries) == len(sets)
    return Check(
        "redis",
        ok,
        f"{up}/{len(sentinels)} sentinels up, "
        f"{len(primaries)}/{len(sets)} master sets with one agreed primary",
        details,
    )


# MongoDB's `ping` ({ping: 1, $db: "admin"}) as one OP_MSG, the bytes
# components/scripts/mongo-ping.sh sends: header (length, requestID 1,
# responseTo 0, opCode 2013), flagBits 0, one kind-0 section with the BSON.
OP_MSG = 2013
MONGO_PING = bytes.fromhex(
    "33000000 01000000 00000000 dd070000"  # length 51, requestID 1, responseTo 0, OP_MSG
    " 00000000 00"  # flagBits, section kind 0
    " 1e000000 10 70696e6700 01000000 02 2464620006000000 61646d696e00 00"  # the BSON
)


def mongo_tls_ping(host: str, port: int, ca_pem: str, timeout: float = TIMEOUT_S) -> str | None:
    """None when the mongod at `host:port` answers `ping` over TLS with a
    certificate that `ca_pem` signed for `host` (name or IP); else why not.
    `ping` needs no login. The stdlib's ssl, so that a bad certificate is named
    as such rather than as a driver's server-selection timeout."""
    import socket
    import ssl

    context = ssl.create_default_context(cadata=ca_pem)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as conn,
        ):
            conn.sendall(MONGO_PING)
            reply = _op_msg_reply(conn)
    except ssl.SSLCertVerificationError as exc:
        return f"certificate not accepted: {exc.verify_message}"
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        return f"no TLS answer: {exc}"
    return None if reply.get("ok") == 1 else f"ping answered {reply}"


def _op_msg_reply(conn: Any) -> dict[str, Any]:
    import struct

    import bson

    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ValueError("connection closed mid-reply")
            data += chunk
        return data

    length, _, _, opcode = struct.unpack("<iiii", exactly(16))
    if opcode != OP_MSG or not 21 < length < 48 * 1024 * 1024:
        raise ValueError(f"not an OP_MSG reply (opCode {opcode}, length {length})")
    body = exactly(length - 16)
    if body[4] != 0:
        raise ValueError("reply without a kind-0 section")
    return dict(bson.decode(body[5:]))


def mongo_endpoints(exports: MongoExports) -> list[tuple[str, str, int]]:
    """(member, host, port) where this host reaches each published member: its
    host's address across hosts, else the address the direct URL uses
    (`hostBind`, loopback for 0.0.0.0), which every member certificate names."""
    from pymongo import uri_parser

    direct = exports.mongo_host_direct_url
    bind = uri_parser.parse_uri(direct)["nodelist"][0][0] if direct else "127.0.0.1"
    found = []
    for m in exports.mongo_members:
        if m.get("hostPort") is None:
            continue
        host = str(m["ip"]) if m.get("dockerHost") else str(bind)
        found.append((str(m["name"]), host, int(m["hostPort"])))
    return found


def mongo(exports: MongoExports) -> Check:
    """Replica set status through the host URL; with `mongo.tls`, every
    published member first answers `ping` over TLS with a certificate the
    stack's CA (`mongoCaCert`) signed for the address used. Not run against a
    live mongod on the project's build machines (none is available there): the
    TLS probe is tested against a local TLS listener only."""
    import pymongo

    from components.mongo_handover import tls_options

    url = exports.mongo_host_direct_url or exports.mongo_host_url
    if not url:
        return Check("mongo", False, "no host URL in the stack outputs")
    ca, details = exports.mongo_ca_cert, []
    if ca is not None:
        for name, host, port in mongo_endpoints(exports):
            problem = mongo_tls_ping(host, port, ca)
            if problem is not None:
                details.append(f"{name} ({host}:{port}): {problem}")
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        url, serverSelectionTimeoutMS=int(TIMEOUT_S * 1000), **tls_options(ca)
    )
    try:
        status = client.admin.command("replSetGetStatus")
    except pymongo.errors.PyMongoError as exc:
        return Check("mongo", False, f"unreachable: {exc}", details)
    finally:
        client.close()
    members = status.get("members", [])
    healthy = [m for m in members if m.get("health") == 1]
    primary = [m["name"] for m in members if m.get("stateStr") == "PRIMARY"]
    ok = len(primary) == 1 and len(healthy) == len(members) and not details
    summary = (
        f"{len(healthy)}/{len(members)} members healthy, "
        f"primary {primary[0] if primary else 'none'}"
    )
    if ca is not None:
        summary += ", TLS verified with mongoCaCert" if not details else ", TLS not verified"
    return Check("mongo", ok, summary, details)


def monitoring(exports: MonitoringExports) -> Check:
    """Prometheus answers and every target is up (a Redis target: the exporter
    answered and reached the node); firing alerts are listed, not failed on:
    the other checks say what is wrong with the tier."""
    from cli.ops import prometheus

    url = exports.monitoring_prometheus_url
    dashboard = exports.monitoring_dashboard_url
    where = [f"dashboard at {dashboard}"] if dashboard else []
    if not url:
        # A deliberate setting (monitoring.hostPort: null), not a fault.
        return Check(
            "monitoring", True, "prometheus is not published on the host: not checked", where
        )
    try:
        targets = prometheus.targets(url)
        firing = [a for a in prometheus.alerts(url) if a.state == "firing"]
    except prometheus.PrometheusUnreachable as exc:
        return Check("monitoring", False, f"prometheus at {url}: unreachable: {exc}", where)
    down = [t for t in targets if not t.up]
    details = where + [f"{t.job} {t.instance}: down ({t.error})" for t in down]
    details += [f"alert firing: {a.name} {a.labels.get('instance', '')}".rstrip() for a in firing]
    details += [f"not scraped (no exporter): {t['instance']}" for t in exports.monitoring_unscraped]
    summary = (
        f"prometheus at {url}: {len(targets) - len(down)}/{len(targets)} targets up, "
        f"{len(firing)} alert(s) firing"
    )
    return Check("monitoring", bool(targets) and not down, summary, details)


def status(outputs: Mapping[str, Any], registry: Registry | None = None) -> list[Check]:
    """One check per deployed component that has one (stacks/registry.py), on
    its typed exports: outputs that are missing or renamed raise
    `OutputsUnreadable`, which names them, instead of checking nothing."""
    from stacks.registry import REGISTRY

    checks = []
    for entry in (registry or REGISTRY).deployed(outputs):
        check = entry.checker()
        if check is not None:
            checks.append(check(entry.exports_model().read(outputs)))
    return checks
