"""What a replacing change will do to a live Redis Cluster, in its own terms.

The engine's plan says "replace redis-node-0..5"; an operator reading it before
a cutover needs which node goes when, which of them are masters, which slots
and how many keys they serve, and who takes over. This reads the live cluster
(through the stack's outputs, when it answers) and orders the nodes exactly as
the rolling hooks will (`components.redis_handover.rank`: nodes already down,
then replicas, then masters, ties by name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis

from cli.errors import InfraError
from cli.ops import cluster as ops
from components.redis_config import RedisClusterExports

CONTAINER = "docker:index/container:Container"
NODE_PREFIX = "redis-node-"
REPLACING = {"replace", "create-replacement", "delete-replaced"}


def replaced_nodes(plan: Mapping[str, Any]) -> list[str]:
    names = {
        s["name"]
        for s in plan["steps"]
        if s["type"] == CONTAINER and s["op"] in REPLACING and s["name"].startswith(NODE_PREFIX)
    }
    return sorted(names)


def rollout(
    plan: Mapping[str, Any], mode: str, outputs: Callable[[], Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The `rollout` section of a plan, or None when no Redis node is replaced.
    `outputs` is called only then (it costs an engine call)."""
    names = replaced_nodes(plan)
    if not names:
        return None
    section: dict[str, Any] = {"component": "redis", "mode": mode, "nodes": len(names)}
    try:
        live = live_roles(RedisClusterExports.read(outputs()))
    except (InfraError, redis.RedisError, OSError, ValueError, LookupError) as exc:
        live, section["liveError"] = {}, str(exc).splitlines()[0][:200]
    steps = [step(name, live.get(name)) for name in names]
    if mode == "rolling":
        steps.sort(key=lambda s: (s["rank"], s["node"]))
    for s in steps:
        s.pop("rank")
    section["steps"] = steps
    return section


def step(name: str, live: Mapping[str, Any] | None) -> dict[str, Any]:
    if live is None:
        return {"node": name, "role": "unknown", "rank": 0}
    return {"node": name, **live}


def live_roles(exports: RedisClusterExports) -> dict[str, dict[str, Any]]:
    """resource name -> role, slots, keys, the replica a master goes to."""
    remap, password = exports.redis_host_address_map, exports.redis_password
    resource = {f"{n.ip}:{n.port}": f"{NODE_PREFIX}{i}" for i, n in enumerate(exports.redis_nodes)}
    seed = next(iter(remap.values()), None)
    if seed is None:
        raise LookupError("no published Redis port to read the live cluster from")
    host, port = seed.rsplit(":", 1)
    nodes, _ = ops.live_masters(host, int(port), password)
    by_id = {info["node_id"]: addr for addr, info in nodes.items()}
    roles: dict[str, dict[str, Any]] = {}
    for addr, info in nodes.items():
        name = resource.get(addr)
        if name is None:
            continue
        roles[name] = describe(addr, info, nodes, by_id, resource, remap, password)
    return roles


def describe(
    addr: str,
    info: Mapping[str, Any],
    nodes: Mapping[str, Any],
    by_id: Mapping[str, str],
    resource: Mapping[str, str],
    remap: Mapping[str, str],
    password: str,
) -> dict[str, Any]:
    if "fail" in info["flags"] or (not info["connected"] and "myself" not in info["flags"]):
        return {"role": "down", "rank": 0}
    if "slave" in info["flags"]:
        master = resource.get(by_id.get(info["master_id"], ""), "?")
        return {"role": "replica", "of": master, "rank": 1}
    ranges = [(int(b[0]), int(b[-1])) for b in info["slots"]]
    replicas = [
        resource.get(a, a)
        for a, other in nodes.items()
        if other["master_id"] == info["node_id"] and "fail" not in other["flags"]
    ]
    ip, announced_port = addr.rsplit(":", 1)
    host, port = ops.host_endpoint(remap, ip, int(announced_port))
    with ops.node_client(host, port, password) as client:
        keys = int(client.dbsize())
    return {
        "role": "master",
        "slots": [f"{a}-{b}" if a != b else str(a) for a, b in ranges],
        "keys": keys,
        "handOverTo": replicas[0] if replicas else None,
        "rank": 2,
    }


def lines(section: Mapping[str, Any]) -> list[str]:
    """The human form of the section."""
    count = section["nodes"]
    if section["mode"] != "rolling":
        head = (
            f"redis: {count} nodes replaced all at once (rollout: all-at-once): every "
            "shard whose nodes are all among them is down until they restart"
        )
    else:
        head = (
            f"redis: {count} nodes replaced one at a time, each after the previous one "
            "rejoined and synced; a master is handed to its replica first (CLUSTER FAILOVER)"
        )
    out = [head]
    if "liveError" in section:
        out.append(f"  live cluster not read ({section['liveError']}): roles unknown")
    for i, s in enumerate(section["steps"], 1):
        out.append(f"  {i}. {s['node']}: {role_text(s)}")
    return out


def role_text(s: Mapping[str, Any]) -> str:
    if s["role"] == "replica":
        return f"replica of {s['of']}"
    if s["role"] == "master":
        slots = ",".join(s["slots"]) or "no slots"
        to = f", handed to {s['handOverTo']} first" if s.get("handOverTo") else ", NO replica"
        return f"master of slots {slots} ({s['keys']} keys){to}"
    return str(s["role"])
