"""Run the program on a stack with three Docker hosts, recording which
provider (host) every resource was registered with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from components.docker_node import HostSite, Site
from tests.support import capture as cap

# h3 publishes on every interface (a host behind NAT): its nodes still
# announce its address, but their ports listen on 0.0.0.0.
HOSTS = [
    {"name": "h1", "docker": "ssh://deploy@10.0.0.11", "address": "10.0.0.11"},
    {"name": "h2", "docker": "ssh://deploy@10.0.0.12", "address": "10.0.0.12"},
    {
        "name": "h3",
        "docker": "ssh://deploy@10.0.0.13",
        "address": "10.0.0.13",
        "publishOn": "0.0.0.0",
    },
]
ADDRESS = {h["name"]: h["address"] for h in HOSTS}
BIND = {h["name"]: h.get("publishOn", h["address"]) for h in HOSTS}


@dataclass
class Placed:
    """What the program registered, and for each resource the host whose
    provider it was registered with (None: the default provider)."""

    capture: cap.Capture
    providers: dict[str, str | None]

    def host_of(self, resource: str) -> str | None:
        return self.providers[resource]


def provider_host(reference: str | None) -> str | None:
    """`urn:...::host-h2::host-h2-id` -> `h2`."""
    if not reference:
        return None
    name = reference.split("::")[-2]
    return name.removeprefix("host-")


def run_on_hosts(
    config: Mapping[str, Any], secrets: Mapping[str, str], hosts: list[dict] = HOSTS
) -> Placed:
    providers: dict[str, str | None] = {}
    original = cap.CaptureMocks.new_resource

    def new_resource(self: cap.CaptureMocks, args: Any) -> Any:
        providers[args.name] = provider_host(args.provider)
        return original(self, args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cap.CaptureMocks, "new_resource", new_resource)
        capture = cap.run_program("unit", {"hosts": hosts, **config}, secrets)
    return Placed(capture, providers)


def fake_site(prefix: str, ips: Any) -> Site:
    """A Site with the three hosts and no engine (pure layout tests): the
    provider and network are never looked at there."""
    hosts = {
        h["name"]: HostSite(h["name"], h["address"], BIND[h["name"]], None, f"net-{h['name']}")  # type: ignore[arg-type]
        for h in HOSTS
    }
    return Site("net-h1", prefix, "127.0.0.1", {}, ips, hosts)


def host_network(resource: cap.Resource) -> str:
    """The per-host network a container joined (every host's network has the
    stack's name, so the dependency tells them apart)."""
    found = [d for d in resource.dependencies if d.startswith("network-")]
    assert len(found) == 1, (resource.name, resource.dependencies)
    return found[0].removeprefix("network-")
