"""Run the real Pulumi program under Pulumi's mocks and capture every resource.

What the program registers here is exactly what `pulumi up` would send to the
docker and cloudflare providers: same types, same inputs (provider camelCase
names), secrets still marked secret.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

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
    hooks: dict[str, list[str]] = field(default_factory=dict)  # kind -> hook names

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


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, keeping what MockResourceArgs leaves out: the parent,
    the dependencies and the options of each resource (passed to `set_mocks`)."""

    def __init__(self, mocks: CaptureMocks) -> None:
        super().__init__(mocks)
        self.capture = mocks.capture

    def RegisterResource(self, request: Any) -> Any:
        reply = super().RegisterResource(request)
        for res in reversed(self.capture.resources):
            if res.name == request.name and res.type == request.type:
                res.parent = _urn_name(request.parent) if request.parent else None
                res.dependencies = sorted({_urn_name(u) for u in request.dependencies})
                res.delete_before_replace = bool(request.deleteBeforeReplace)
                res.ignore_changes = list(request.ignoreChanges)
                sent = [a.spec.name or a.urn for a in request.aliases] + list(request.aliasURNs)
                res.aliases = [a for a in sent if a]
                res.hooks = hook_names(request)
                break
        return reply


HOOK_KINDS = ("before_create", "after_create", "before_update", "after_update")
HOOK_KINDS += ("before_delete", "after_delete")


def hook_names(request: Any) -> dict[str, list[str]]:
    if not request.HasField("hooks"):
        return {}
    bound = {kind: list(getattr(request.hooks, kind)) for kind in HOOK_KINDS}
    return {kind: names for kind, names in bound.items() if names}


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
    ensure_event_loop()
    mocks = CaptureMocks(capture)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=preview, monitor=RecordingMonitor(mocks)
    )
    all_config = {f"{PROJECT}:{k}": json.dumps(v) for k, v in config.items()}
    all_config.update({f"{PROJECT}:{k}": v for k, v in (secrets or {}).items()})
    pulumi.runtime.set_all_config(all_config, [f"{PROJECT}:{k}" for k in secrets or {}])
    exported: dict[str, Any] = {}
    original = pulumi.export
    pulumi.export = lambda name, value: exported.__setitem__(name, value)  # type: ignore[assignment]

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        from stacks import program

        program.main()
        return resolved(exported, capture.outputs)

    try:
        run()
    finally:
        pulumi.export = original  # type: ignore[assignment]
    return capture


def ensure_event_loop() -> None:
    """Pulumi's runtime runs on the thread's current event loop. `asyncio.run`
    (the asyncio tests of cachekit use it) leaves the main thread with none."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def resolved(exported: Mapping[str, Any], into: dict[str, Any]) -> pulumi.Output[Any]:
    """One Output that, once every export is known, fills `into` with
    `name: (plain value, is_secret)`; `pulumi.runtime.test` waits for it."""
    names = list(exported)
    values = [pulumi.Output.from_input(exported[n]) for n in names]
    secret = [pulumi.Output.from_input(asyncio.ensure_future(v.is_secret())) for v in values]

    def fill(args: list[Any]) -> None:
        for i, name in enumerate(names):
            into[name] = (args[i], bool(args[len(names) + i]))

    return pulumi.Output.all(*values, *secret).apply(fill)
