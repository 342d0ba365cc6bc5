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

from cli.errors import InfraError, InvalidInput
from cli.ops import cluster as ops
from components import redis_scaling as scaling
from components.mongo_config import MongoConfig
from components.redis_config import RedisClusterExports, RedisConfig
from stacks import addressing

CONTAINER = "docker:index/container:Container"
NODE_PREFIX = "redis-node-"
SENTINEL_PREFIX = "redis-sentinel-"
REPLACING = {"replace", "create-replacement", "delete-replaced"}


def replaced_nodes(plan: Mapping[str, Any], prefix: str = NODE_PREFIX) -> list[str]:
    names = {
        s["name"]
        for s in plan["steps"]
        if s["type"] == CONTAINER and s["op"] in REPLACING and s["name"].startswith(prefix)
    }
    return sorted(names)


def sentinel_rollout(plan: Mapping[str, Any], mode: str) -> dict[str, Any] | None:
    """Sentinel mode: which data nodes and Sentinels are replaced. Who is primary
    is read when each node's turn comes (Sentinel decides), so the order is the
    rule, not a list: nodes down first, then replicas, then primaries (each
    handed over with SENTINEL FAILOVER); Sentinels one at a time."""
    nodes, sentinels = replaced_nodes(plan), replaced_nodes(plan, SENTINEL_PREFIX)
    if not nodes and not sentinels:
        return None
    steps = [{"node": n, "role": "data node"} for n in nodes]
    steps += [{"node": n, "role": "sentinel"} for n in sentinels]
    how = "a primary is handed over first (writes paused, SENTINEL FAILOVER); Sentinels last"
    return {"component": "redis", "mode": mode, "nodes": len(steps), "steps": steps, "how": how}


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
    remap, access = exports.redis_host_address_map, ops.Access.of(exports)
    resource = {f"{n.ip}:{n.port}": f"{NODE_PREFIX}{i}" for i, n in enumerate(exports.redis_nodes)}
    seed = next(iter(remap.values()), None)
    if seed is None:
        raise LookupError("no published Redis port to read the live cluster from")
    host, port = seed.rsplit(":", 1)
    nodes, _ = ops.live_masters(host, int(port), access)
    by_id = {info["node_id"]: addr for addr, info in nodes.items()}
    roles: dict[str, dict[str, Any]] = {}
    for addr, info in nodes.items():
        name = resource.get(addr)
        if name is None:
            continue
        roles[name] = describe(addr, info, nodes, by_id, resource, remap, access)
    return roles


def describe(
    addr: str,
    info: Mapping[str, Any],
    nodes: Mapping[str, Any],
    by_id: Mapping[str, str],
    resource: Mapping[str, str],
    remap: Mapping[str, str],
    access: ops.Access,
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
    with ops.node_client(host, port, access) as client:
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
        how = section.get("how", "a master is handed to its replica first (CLUSTER FAILOVER)")
        head = (
            f"redis: {count} nodes replaced one at a time, each after the previous one "
            f"rejoined and synced; {how}"
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


# --- scaling: shards / replicas changed on a live cluster ------------------------
def live_members(exports: RedisClusterExports) -> dict[str, scaling.Member]:
    host, port = next(iter(exports.redis_host_address_map.values())).rsplit(":", 1)
    with ops.node_client(host, int(port), ops.Access.of(exports)) as client:
        return scaling.members(client.execute_command("CLUSTER NODES"))


def scale_plan(
    config: RedisConfig, subnet: str, exports: RedisClusterExports
) -> tuple[scaling.ScalePlan, dict[str, scaling.Member]]:
    """What `up` will do to the live cluster for this config (ScaleRefused when
    it cannot be done safely)."""
    view = live_members(exports)
    ips = addressing.addresses(subnet, "redis", config.node_count)
    kept = [f"{ip}:{ops_port(exports)}" for ip in ips]
    return scaling.plan(view, kept, config.shards, config.replicas), view


def ops_port(exports: RedisClusterExports) -> int:
    return exports.redis_nodes[0].port


def scale_section(
    config: RedisConfig, subnet: str, exports: RedisClusterExports
) -> dict[str, Any] | None:
    """The `scale` section of a plan: nodes joining/leaving, slots and keys moving."""
    todo, view = scale_plan(config, subnet, exports)
    if todo.empty:
        return None
    section = todo.as_dict()
    remap, access = exports.redis_host_address_map, ops.Access.of(exports)
    for move, (source, _, slots) in zip(section["moves"], todo.moves, strict=True):
        move["keys"] = keys_in(remap, access, source, slots)
    section["summary"] = todo.summary()
    section["masters"] = {"now": sum(m.master and bool(m.slots) for m in view.values())}
    section["masters"]["after"] = config.shards
    return section


def keys_in(remap: Mapping[str, str], access: ops.Access, source: str, slots: list[int]) -> int:
    ip, port = source.rsplit(":", 1)
    host, host_port = ops.host_endpoint(remap, ip, int(port))
    with ops.node_client(host, host_port, access) as client:
        pipe = client.pipeline(transaction=False)
        for slot in slots:
            pipe.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)
        return sum(int(n) for n in pipe.execute())


def refuse_unsafe_scale(
    config: RedisConfig, subnet: str, outputs: Callable[[], Mapping[str, Any]]
) -> None:
    """Before `up` touches anything: a scale the live cluster cannot take safely
    is refused (exit 2). A stack not deployed, or a cluster that does not
    answer, is left to the engine (the hook refuses then, before any delete)."""
    try:
        exports = RedisClusterExports.read(outputs())
        scale_plan(config, subnet, exports)
    except scaling.ScaleRefused as exc:
        raise InvalidInput(f"redis: {exc}") from None
    except (InfraError, redis.RedisError, OSError, ValueError, LookupError, StopIteration):
        return


MOVE_THE_DATA = (
    "`infra backup`, `infra down`, `infra up`, `infra restore` (clients then connect "
    "with the new settings)"
)


def refuse_unrollable_switch(config: RedisConfig, outputs: Callable[[], Mapping[str, Any]]) -> None:
    """Switches no rolling replacement can make, refused before the engine on a
    deployed tier of either mode (exit 2), since every client must switch too:
    - `redis.tls` on or off: a TLS node and a plaintext node can neither
      replicate nor talk on the cluster bus;
    - `redis.defaultUser`: a replica logs in to its primary as `default` or as
      `infra`, and a node of the other setting has no such login."""
    try:
        deployed = outputs()
    except InfraError:
        return  # not deployed yet
    if deployed.get("redisMode") not in ("cluster", "sentinel"):
        return
    refuse_tls_switch(
        "redis",
        deployed.get("redisCaCert") is not None,
        config.tls.enabled,
        "a tier deployed with TLS {then}; its nodes cannot be switched one at a time (TLS "
        "and plaintext nodes do not replicate to each other)",
        MOVE_THE_DATA,
    )
    had_user = "disabled" if deployed.get("redisAdminUser") else "admin"
    if had_user != config.default_user:
        raise InvalidInput(
            f"redis.defaultUser: {config.default_user} on a tier deployed with {had_user}; "
            "its nodes cannot be switched one at a time (replicas log in to their "
            "primary as `default` or as `infra`, which the other setting lacks), and "
            "every client that logs in with the stack password must switch too",
            [f"keep redis.defaultUser: {had_user}, or move the data: {MOVE_THE_DATA}"],
        )


def refuse_mongo_tls_switch(config: MongoConfig, outputs: Callable[[], Mapping[str, Any]]) -> None:
    """Turning `mongo.tls` on or off on a deployed replica set is refused before
    the engine (exit 2): a `requireTLS` member and a plaintext one cannot
    replicate, so no member-by-member roll can switch it, and every client must
    switch too (`tls=true` and the `mongoCaCert`)."""
    try:
        deployed = outputs()
    except InfraError:
        return  # not deployed yet
    if "mongoUrl" not in deployed:
        return  # no replica set deployed
    refuse_tls_switch(
        "mongo",
        deployed.get("mongoCaCert") is not None,
        config.tls.enabled,
        "a replica set deployed with TLS {then}; its members cannot be switched one at a "
        "time (a TLS-only member and a plaintext one do not replicate)",
        "mongodump, `infra down`, `infra up`, mongorestore",
    )


def refuse_tls_switch(component: str, had_tls: bool, enabled: bool, why: str, route: str) -> None:
    """`<component>.tls.enabled` differing from what is deployed: exit 2, with
    `why` (its `{then}`: what the tier was deployed with) and the `route` that
    moves the data instead."""
    if had_tls == enabled:
        return
    now, then = ("on", "off") if enabled else ("off", "on")
    raise InvalidInput(
        f"{component}.tls.enabled: turns TLS {now} on {why.format(then=then)}, and every "
        "client must switch too",
        [f"keep {component}.tls.enabled: {str(not enabled).lower()}, or move the data: {route}"],
    )


def refuse_host_moves(
    config: RedisConfig, hosts: list[str], outputs: Callable[[], Mapping[str, Any]]
) -> None:
    """Across hosts, a cluster keeps its shape and its placement: a node that
    changed host or count would announce a new address, which the live-scaling
    and rolling hand-overs do not move yet. Refused before the engine (exit 2)."""
    from components.placement import place_redis

    try:
        deployed = RedisClusterExports.read(outputs()).redis_nodes
    except (InfraError, ValueError):
        return  # not deployed yet, or not a cluster: nothing to keep
    wanted = place_redis(config, hosts).nodes
    had = [n.host for n in deployed]
    if had == wanted:
        return
    moved = [
        f"{n.name}: {n.host or 'the single engine'} -> {h}"
        for n, h in zip(deployed, wanted, strict=False)
        if n.host != h
    ]
    raise InvalidInput(
        f"redis: this change moves nodes between hosts or changes their number "
        f"({len(had)} deployed, {len(wanted)} configured); across hosts that is not "
        "supported yet",
        [
            *moved[:6],
            "keep shards, replicas, hosts and pins as deployed, or move the data: "
            "`infra backup`, `infra down`, `infra up`, `infra restore`",
        ],
    )


def touches_topology(plan: Mapping[str, Any]) -> bool:
    """Redis nodes created or deleted outright (not replaced): a scale."""
    return any(
        s["type"] == CONTAINER
        and s["op"] in ("create", "delete")
        and s["name"].startswith(NODE_PREFIX)
        for s in plan["steps"]
    )


def scale_section_or_note(
    config: RedisConfig, subnet: str, outputs: Callable[[], Mapping[str, Any]]
) -> dict[str, Any] | None:
    try:
        return scale_section(config, subnet, RedisClusterExports.read(outputs()))
    except scaling.ScaleRefused as exc:
        return {"refused": str(exc)}
    except (InfraError, redis.RedisError, OSError, ValueError, LookupError, StopIteration) as exc:
        return {"liveError": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}


def scale_lines(section: Mapping[str, Any]) -> list[str]:
    if "refused" in section:
        return [f"redis: `up` will refuse this scale: {section['refused']}"]
    if "liveError" in section:
        return [
            f"redis: nodes join or leave; the live cluster was not read ({section['liveError']})"
        ]
    out = [f"redis: scaling the live cluster: {section['summary']}"]
    out += [f"  join {a}" for a in section["join"]]
    out += [f"  {h['from']} hands its slots to {h['to']}" for h in section["handOver"]]
    for move in section["moves"]:
        out.append(
            f"  {move['count']} slots ({move['keys']} keys) move {move['from']} -> {move['to']}"
        )
    out += [f"  {r['node']} replicates {r['master']}" for r in section["replicate"]]
    out += [f"  remove {a} (after its slots moved)" for a in section["remove"]]
    return out
