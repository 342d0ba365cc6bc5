"""The stack's Docker network: one user-defined bridge with a fixed subnet."""

from __future__ import annotations

import ipaddress

from pydantic import field_validator

from components.config_base import Model


class NetworkConfig(Model):
    """Fixed subnet so that every node keeps its address across restarts.

    Redis Cluster and Sentinel announce IP addresses; an address that changes on
    restart leaves a stale `nodes.conf` and a cluster that never becomes ok
    again. A fixed subnet with fixed per-node addresses removes that failure.
    """

    name: str | None = None
    subnet: str = "172.28.0.0/24"
    host_bind: str = "127.0.0.1"

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(
                f"'{value}' is not an IPv4 network such as 172.28.0.0/24 ({exc})"
            ) from None
        if not net.is_private:
            raise ValueError(f"{value} is not a private range: use e.g. 172.28.0.0/24")
        if net.prefixlen > 24:
            raise ValueError(
                f"{value} is too small: use a /24 or larger (the address plan needs 200 hosts)"
            )
        return value

    @field_validator("host_bind")
    @classmethod
    def _host_bind(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(
                f"'{value}' is not an IP address: use 127.0.0.1 (host only) or 0.0.0.0"
            ) from None
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"'{value}' is not a valid network name: use letters, digits, - and _")
        return value
