"""Several Docker hosts (`infra:hosts`): where a stack's nodes may run.

A stack without `hosts` runs on one engine (the local one, or `docker:host`),
as before. With `hosts`, each entry becomes one docker provider; nodes are
placed over them so that losing any one host loses no shard
(components/placement.py), and they announce their host's `address` with
their published ports, which every host and the operator's machine reach.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from components.config_base import Model

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
SCHEMES = ("unix", "ssh", "tcp")


class HostConfig(Model):
    """One Docker host.

    `docker`: its engine's endpoint, as Docker spells it (`unix:///var/run/docker.sock`,
    `ssh://deploy@10.0.0.11`, `tcp://10.0.0.11:2376` with `certPath`);
    `address`: where the other hosts and the clients reach the ports it
    publishes (nodes announce it); `publishOn`: the local address its ports
    listen on, when that is not `address` (a host behind NAT: `0.0.0.0`).
    """

    name: str
    docker: str
    address: str
    publish_on: str | None = None
    # A directory holding ca.pem, cert.pem and key.pem (tcp:// only), as the docker
    # provider's `certPath` and the Docker CLI's DOCKER_CERT_PATH read it.
    cert_path: str | None = Field(default=None, min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"'{value}' is not a host name infra can use in resource and container "
                "names: lower-case letters, digits and -, starting with a letter, at most 16"
            )
        return value

    @field_validator("address", "publish_on")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(
                f"'{value}' is not an IP address: Redis announces IPs "
                "(cluster-announce-ip), so give the host's address, e.g. 10.0.0.11"
            ) from None
        if ip.version != 4:
            raise ValueError(f"{value}: only IPv4 host addresses are supported")
        return value

    @field_validator("docker")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in SCHEMES:
            raise ValueError(
                f"'{value}' is not a Docker endpoint: use unix:///path/docker.sock, "
                "ssh://user@host or tcp://host:2376 (with certPath)"
            )
        return value

    @model_validator(mode="after")
    def _tls(self) -> HostConfig:
        scheme = urlsplit(self.docker).scheme
        if scheme == "tcp" and self.cert_path is None:
            raise ValueError(
                f"{self.docker}: a tcp:// Docker endpoint without TLS gives anyone on the "
                "network root on that host; set certPath (ca.pem, cert.pem, key.pem), or "
                "use ssh://"
            )
        if scheme != "tcp" and self.cert_path is not None:
            raise ValueError("certPath is only used with a tcp:// endpoint: remove it")
        return self

    @property
    def bind(self) -> str:
        return self.publish_on or self.address


def host_problems(hosts: list[HostConfig]) -> list[tuple[str, str]]:
    """Two hosts with one name, engine or address: placement would count one
    machine twice, and anti-affinity would hold on paper only."""
    problems = []
    for attr, what in (("name", "name"), ("docker", "Docker endpoint"), ("address", "address")):
        counts = Counter(getattr(h, attr) for h in hosts)
        problems += [
            ("hosts", f"two hosts have the {what} {value}: each host must be its own machine")
            for value, n in counts.items()
            if n > 1
        ]
    return problems
