"""A redis-py Sentinel client for the Docker host, and checks on a running Sentinel topology.

From your own code::

    from cli.ops.sentinel import host_sentinel
    # outputs: `infra outputs STACK --json --show-secrets`, parsed
    sentinel = host_sentinel(outputs, outputs["redisPassword"])
    primary = sentinel.master_for("shard-0")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis
from redis.sentinel import Sentinel

from cli.ops.cluster import ONE_ATTEMPT, Access, access_of, host_endpoint
from components.redis_config import RedisSentinelExports, SentinelNodeOutput


class RemappedSentinel(Sentinel):
    """redis-py's Sentinel client, with every address Sentinel reports mapped
    through `address_map` (announced `ip:port` -> reachable `host:port`).

    Sentinel reports the nodes' fixed container addresses, which the Docker host
    cannot reach; the stack output `redisHostAddressMap` maps them to published
    ports. redis-py has `address_remap` for Redis Cluster only, and Sentinel's
    `force_master_ip` replaces the IP but not the port (redis/redis-py#3483), so
    the two discovery methods are wrapped instead. Failover handling is
    untouched: the pool still re-asks Sentinel on a connection error or a
    READONLY reply, and compares (mapped) addresses to spot a new primary.
    """

    def __init__(self, address_map: Mapping[str, str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.address_map = dict(address_map)

    def remap(self, address: tuple[str, int]) -> tuple[str, int]:
        return host_endpoint(self.address_map, *address)

    def discover_master(self, service_name: str) -> tuple[str, int]:
        return self.remap(super().discover_master(service_name))

    def filter_slaves(self, slaves: Any) -> list[tuple[str, int]]:
        return [self.remap(a) for a in super().filter_slaves(slaves)]


def with_ca(password: str | Access, exports: RedisSentinelExports) -> Access:
    """`password` as Access, with the tier's CA when it runs TLS; a bare
    password is the stack's, whose user the outputs name (`redisAdminUser`)."""
    if isinstance(password, str):
        return Access(password, exports.redis_ca_cert, exports.redis_admin_user)
    access = access_of(password)
    if access.ca_pem is None and exports.redis_ca_cert is not None:
        return Access(access.password, exports.redis_ca_cert, access.username)
    return access


def host_sentinel(
    outputs: Mapping[str, Any], password: str | Access, socket_timeout: float = 1.0
) -> RemappedSentinel:
    """A client on the Docker host from the stack outputs: the Sentinels at
    their published ports, the data nodes through `redisHostAddressMap`; over
    TLS with the stack's CA when the tier has one (`redisCaCert`)."""
    exports = RedisSentinelExports.read(outputs)
    access = with_ca(password, exports)
    remap = exports.redis_host_address_map
    unpublished = [s.name for s in exports.redis_sentinels if f"{s.ip}:{s.port}" not in remap]
    if unpublished:
        raise KeyError(f"Sentinels not published on this host: {', '.join(unpublished)}")
    sentinels = [host_endpoint(remap, s.ip, s.port) for s in exports.redis_sentinels]
    return RemappedSentinel(
        remap,
        sentinels,
        # A Sentinel that does not answer (its host lost) costs one timeout, then
        # discovery asks the next one.
        sentinel_kwargs={
            **access.kwargs(),
            "socket_timeout": socket_timeout,
            "retry": ONE_ATTEMPT,
        },
        **access.kwargs(),
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        decode_responses=True,
    )


def client(port: int, password: str | Access, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        **access_of(password).kwargs(),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
    )


def masters(sentinel_port: int, password: str | Access) -> dict[str, dict[str, Any]]:
    """`SENTINEL MASTERS` of one Sentinel, by master set name."""
    known = client(sentinel_port, password).sentinel_masters()
    assert isinstance(known, dict)  # redis-py parses it into a dict; its annotation is wider
    return known


def replicas(sentinel_port: int, password: str | Access, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client(sentinel_port, password).sentinel_slaves(name)
    return found


def ckquorum(sentinel_port: int, password: str | Access, name: str) -> str:
    """The raw CKQUORUM reply. Sent as two words: redis-py's callback for
    "SENTINEL CKQUORUM" turns the reply ("OK 3 usable Sentinels...") into a
    bool that is False, since it is not exactly "OK"."""
    return str(client(sentinel_port, password).execute_command("SENTINEL", "CKQUORUM", name))


def role(port: int, password: str | Access) -> str:
    """ "master" or "slave", as the node itself reports it."""
    return str(client(port, password).execute_command("ROLE")[0])


def roles_by_group(
    nodes: Sequence[SentinelNodeOutput], password: str | Access
) -> dict[str, dict[str, str]]:
    """master set -> {node ip: role it reports}, asked through the published ports."""
    out: dict[str, dict[str, str]] = {}
    for node in nodes:
        assert node.host_port is not None, f"{node.name} is not published on the host"
        out.setdefault(node.master_set, {})[node.ip] = role(node.host_port, password)
    return out


def settled(outputs: Mapping[str, Any], password: str | Access) -> bool:
    """Every group has exactly one node reporting `master`, every Sentinel names
    that node as the group's primary, and sees its replicas linked (`ok`)."""
    exports = RedisSentinelExports.read(outputs)
    password = with_ca(password, exports)
    roles = roles_by_group(exports.redis_nodes, password)
    for sentinel in exports.redis_sentinels:
        assert sentinel.host_port is not None, f"{sentinel.name} is not published on the host"
        known = masters(sentinel.host_port, password)
        for name, by_ip in roles.items():
            primaries = [ip for ip, r in by_ip.items() if r == "master"]
            if len(primaries) != 1 or known[name]["ip"] != primaries[0]:
                return False
            linked = {
                r["ip"]
                for r in replicas(sentinel.host_port, password, name)
                if r.get("master-link-status") == "ok" and not r["is_sdown"]
            }
            if linked != set(by_ip) - {primaries[0]}:
                return False
    return True
