"""The stack network's address plan: a fixed block of host numbers per role.

Fixed blocks (rather than one running counter) keep every container's address
stable when another component grows, so growing Redis never readdresses Mongo.
"""

from __future__ import annotations

import ipaddress

GATEWAY = 1
BLOCKS: dict[str, tuple[int, int]] = {
    # role: (first host number, size)
    "redis-init": (9, 1),
    "redis": (10, 80),
    "sentinel": (90, 9),  # MAX_SENTINELS; .99 is the Mongo init container's
    "mongo-init": (99, 1),
    "mongo": (100, 60),
    "mongo-arbiter": (160, 1),  # its own address: never one a data member had
    "apps": (200, 50),  # left free for application containers
    "monitoring": (250, 4),  # Prometheus, the Redis exporter, Alertmanager, the dashboard
}


def gateway(subnet: str) -> str:
    return str(ipaddress.IPv4Network(subnet)[GATEWAY])


def addresses(subnet: str, role: str, count: int) -> list[str]:
    first, size = BLOCKS[role]
    if count > size:
        raise ValueError(f"{role}: {count} addresses requested, the block holds {size}")
    net = ipaddress.IPv4Network(subnet)
    return [str(net[first + i]) for i in range(count)]
