"""Run the real Pulumi program under Pulumi's mocks and capture every resource.

What the program registers here is exactly what `pulumi up` would send to the
docker and cloudflare providers: same types, same inputs (provider camelCase
names), secrets still marked secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

SECRET_SIG = "4dabf18193072939515e22adb298388d"
PROJECT = "infra"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270"


def plain(value: Any) -> Any:
    """The value with every secret wrapper removed."""
    if is_secret(value):
        return plain(value["value"])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # alias names or URNs, as sent

    @property
    def spec(self) -> dict[str, Any]:
        return plain(self.inputs)


@dataclass
class Capture:
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Resource:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name}"
        return matches[0]

    def containers(self) -> list[Resource]:
        return self.of_type("docker:index/container:Container")


# Computed state the real providers would return, so dependent inputs resolve.
def _computed_state(typ: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    if typ == "docker:index/remoteImage:RemoteImage":
        return {"imageId": inputs["name"], "repoDigest": inputs["name"]}
    return {}


class CaptureMocks(pulumi.runtime.Mocks):
    def __init__(self, capture: Capture) -> None:
        self.capture = capture

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.capture.resources.append(Resource(args.typ, args.name, dict(args.inputs), args.custom))
        state = {**args.inputs, **_computed_state(args.typ, args.inputs)}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _record_options(capture: Capture) -> Callable[[], None]:
    """Wrap the mock monitor to keep what MockResourceArgs leaves out: the
    parent, the dependencies and `delete_before_replace` of each resource."""
    original = pulumi_mocks.MockMonitor.RegisterResource

    def register(monitor: Any, request: Any) -> Any:
        reply = original(monitor, request)
        for res in reversed(capture.resources):
            if res.name == request.name and res.type == request.type:
                res.parent = _urn_name(request.parent) if request.parent else None
                res.dependencies = sorted({_urn_name(u) for u in request.dependencies})
                res.delete_before_replace = bool(request.deleteBeforeReplace)
                res.ignore_changes = list(request.ignoreChanges)
                sent = [a.spec.name or a.urn for a in request.aliases] + list(request.aliasURNs)
                res.aliases = [a for a in sent if a]
                break
        return reply

    pulumi_mocks.MockMonitor.RegisterResource = register  # type: ignore[method-assign]

    def restore() -> None:
        pulumi_mocks.MockMonitor.RegisterResource = original  # type: ignore[method-assign]

    return restore


def run_program(
    stack: str,
    config: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    preview: bool = False,
) -> Capture:
    """Run `stacks.program.main` with `infra:*` config; returns what it registered.

    `config` maps keys without namespace (`redis`, `network`) to plain values;
    `secrets` maps secret keys (`redisPassword`) to their plaintext.
    Stack outputs are resolved and kept in `capture.outputs` as
    `(value, is_secret)` pairs.
    """
    capture = Capture()
    pulumi.runtime.set_mocks(CaptureMocks(capture), project=PROJECT, stack=stack, preview=preview)
    all_config = {f"{PROJECT}:{k}": json.dumps(v) for k, v in config.items()}
    all_config.update({f"{PROJECT}:{k}": v for k, v in (secrets or {}).items()})
    pulumi.runtime.set_all_config(all_config, [f"{PROJECT}:{k}" for k in secrets or {}])
    exported: dict[str, Any] = {}
    restore = _record_options(capture)
    original = pulumi.export
    pulumi.export = lambda name, value: exported.__setitem__(name, value)  # type: ignore[assignment]
    try:
        from stacks import program

        _sync_await(run_pulumi_func(program.main))
    finally:
        pulumi.export = original  # type: ignore[assignment]
        restore()
    capture.outputs = {k: resolve(v) for k, v in exported.items()}
    return capture


def resolve(value: Any) -> tuple[Any, bool]:
    """(plain value, is_secret) of an Output or a plain value."""
    output = pulumi.Output.from_input(value)
    plain_value = _sync_await(output.future())
    secret = _sync_await(output.is_secret())
    return plain_value, bool(secret)
