"""The subset of pulumi-docker's schema the stand-in implements, with upstream semantics.

Each field says how a change is applied, as the official provider (pulumi-docker
5.2.0, bridging kreuzwerker/terraform-provider-docker v3) does it:

- `replace`: ForceNew upstream; a change replaces the resource;
- `update`: applied in place (Container `restart`, `memory`: a ContainerUpdate call);
- `state`: recorded in the state only (`mustRun`, `wait`, `waitTimeout`,
  `destroyGraceSeconds`, `keepLocally`, and `healthcheck`, which upstream shows as an
  update but never applies to a running container).

Sources (kreuzwerker/terraform-provider-docker v3, internal/provider/):
`resource_docker_container.go` (schema: ForceNew, defaults), `..._container_funcs.go`
(create/read/update/delete), `resource_docker_network*.go`, `resource_docker_volume.go`,
`resource_docker_image_funcs.go`; pulumi-docker `provider/resources.go` (Container is
delete-before-replace; `networks_advanced` -> `networksAdvanced`).

A field outside these tables is refused by Check, so the program can never rely on
something the stand-in would silently ignore. `tests/providers/` compares the tables
with `pulumi_docker`'s own input types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["replace", "update", "state"]

NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"

# The engine's marker for a value not known yet (e.g. an image id in a first preview).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class Field:
    mode: Mode
    default: Any = None
    # Set-typed upstream (TypeSet): order does not matter when diffing.
    unordered: bool = False


NETWORK_FIELDS: dict[str, Field] = {
    "name": Field("replace"),
    "driver": Field("replace"),
    "ipamConfigs": Field("replace", unordered=True),
    "labels": Field("replace", unordered=True),
}

VOLUME_FIELDS: dict[str, Field] = {
    "name": Field("replace"),
    "driver": Field("replace"),
    "labels": Field("replace", unordered=True),
}

IMAGE_FIELDS: dict[str, Field] = {
    "name": Field("replace"),
    "keepLocally": Field("state", False),
}

CONTAINER_FIELDS: dict[str, Field] = {
    "name": Field("replace"),
    "hostname": Field("replace"),
    "image": Field("replace"),
    "command": Field("replace"),
    "entrypoints": Field("replace"),
    "envs": Field("replace", unordered=True),
    "uploads": Field("replace", unordered=True),
    "networksAdvanced": Field("replace", unordered=True),
    "ports": Field("replace"),
    "volumes": Field("replace", unordered=True),
    "labels": Field("replace", unordered=True),
    "logDriver": Field("replace"),
    "logOpts": Field("replace"),
    "user": Field("replace"),
    "workingDir": Field("replace"),
    "stopSignal": Field("replace"),
    "stopTimeout": Field("replace"),
    "healthcheck": Field("state"),
    "restart": Field("update", "no"),
    "maxRetryCount": Field("update"),
    "memory": Field("update"),
    "memorySwap": Field("update"),
    "mustRun": Field("state", True),
    "wait": Field("state", False),
    "waitTimeout": Field("state", 60),
    "destroyGraceSeconds": Field("state"),
}

# Nested fields, checked like top-level ones: a nested field we do not translate is
# refused too (e.g. an upload's `source`, a port's `protocol` other than tcp).
NESTED_FIELDS: dict[tuple[str, str], set[str]] = {
    (NETWORK, "ipamConfigs"): {"subnet", "gateway"},
    (NETWORK, "labels"): {"label", "value"},
    (VOLUME, "labels"): {"label", "value"},
    (CONTAINER, "uploads"): {"file", "content", "executable", "permissions"},
    (CONTAINER, "networksAdvanced"): {"name", "ipv4Address", "aliases"},
    (CONTAINER, "ports"): {"internal", "external", "ip", "protocol"},
    (CONTAINER, "volumes"): {"volumeName", "containerPath", "readOnly"},
    (CONTAINER, "labels"): {"label", "value"},
    (CONTAINER, "healthcheck"): {"tests", "interval", "timeout", "retries", "startPeriod"},
}

# Nested schema defaults upstream fills in (healthcheck durations, port ip/protocol):
# without them a healthcheck read back as "0s" would differ from an input without it.
NESTED_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    (CONTAINER, "healthcheck"): {
        "interval": "0s",
        "timeout": "0s",
        "startPeriod": "0s",
        "retries": 0,
    },
    (CONTAINER, "ports"): {"ip": "0.0.0.0", "protocol": "tcp"},
}

FIELDS: dict[str, dict[str, Field]] = {
    NETWORK: NETWORK_FIELDS,
    VOLUME: VOLUME_FIELDS,
    IMAGE: IMAGE_FIELDS,
    CONTAINER: CONTAINER_FIELDS,
}

# Provider configuration keys the stand-in understands: `host` (unix://, tcp://,
# ssh://) and `certPath` (a directory with ca.pem, cert.pem and key.pem for a
# tcp:// host, upstream `cert_path`); the engine adds `version`.
PROVIDER_CONFIG = {"host", "certPath", "version"}


def is_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return False
