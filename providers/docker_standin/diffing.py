"""Check and Diff: pure functions over plain property dicts (no Docker, no gRPC)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from providers.docker_standin.schema import (
    CONTAINER,
    FIELDS,
    NESTED_DEFAULTS,
    NESTED_FIELDS,
    Field,
    is_unknown,
)

_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9}
_UNIT_NS["h"] = 3600 * 10**9
_DURATION_KEYS = ("interval", "timeout", "startPeriod")


def duration_ns(text: str) -> int:
    """A Go duration string ("2s", "1m30s", "500ms") in nanoseconds.

    Upstream reads healthcheck durations back with Go's `time.Duration.String()`
    ("120s" comes back as "2m0s"); comparing parsed values keeps that from
    showing as a change on every preview.
    """
    text = text.strip()
    if text in ("", "0"):
        return 0
    parts = _DURATION.findall(text)
    if "".join(a + u for a, u in parts) != text:
        raise ValueError(f"'{text}' is not a duration like 2s, 500ms or 1m30s")
    # Exact decimal arithmetic: 256.823µs is 256823 ns, not 256822.99...
    return int(sum(Fraction(amount) * _UNIT_NS[unit] for amount, unit in parts))


def go_duration(ns: int) -> str:
    """Go's `time.Duration.String()`: 2s, 500ms, 2m0s, 1h0m0s, 1.5s."""
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{_fraction(ns, 1_000)}µs"
    if ns < 10**9:
        return f"{_fraction(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds = f"{_fraction(rest, 10**9)}s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    return f"{minutes}m{seconds}" if minutes else seconds


def _fraction(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = str(part).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


@dataclass
class Failure:
    property: str
    reason: str


def check(type_: str, news: dict[str, Any]) -> tuple[dict[str, Any], list[Failure]]:
    """Validated inputs with upstream defaults filled in, or failures naming each field."""
    fields = FIELDS.get(type_)
    if fields is None:
        return news, [Failure("", f"resource type {type_} is not implemented by the stand-in")]
    failures = [
        Failure(key, f"'{key}' is not implemented by infra's offline docker stand-in")
        for key in sorted(news)
        if key not in fields and not key.startswith("__")
    ]
    failures += _nested_failures(type_, news)
    failures += _value_failures(type_, news)
    inputs = {k: v for k, v in news.items() if not k.startswith("__")}
    for key, spec in fields.items():
        if key not in inputs and spec.default is not None:
            inputs[key] = spec.default
    for (owner, key), defaults in NESTED_DEFAULTS.items():
        value = inputs.get(key) if owner == type_ else None
        if isinstance(value, dict):
            inputs[key] = {**defaults, **value}
        elif isinstance(value, list):
            inputs[key] = [{**defaults, **v} if isinstance(v, dict) else v for v in value]
    return inputs, failures


def _nested_failures(type_: str, news: dict[str, Any]) -> list[Failure]:
    failures = []
    for (owner, key), allowed in NESTED_FIELDS.items():
        value = news.get(key)
        if owner != type_ or value is None or is_unknown(value):
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            for sub in sorted(set(item) - allowed) if isinstance(item, dict) else []:
                failures.append(
                    Failure(
                        f"{key}[{i}].{sub}",
                        f"'{key}.{sub}' is not implemented by infra's offline docker stand-in",
                    )
                )
    return failures


def _value_failures(type_: str, news: dict[str, Any]) -> list[Failure]:
    if type_ != CONTAINER:
        return []
    failures = []
    for i, port in enumerate(news.get("ports") or []):
        if isinstance(port, dict) and port.get("protocol", "tcp") != "tcp":
            failures.append(Failure(f"ports[{i}].protocol", "only tcp ports are implemented"))
    health = news.get("healthcheck")
    if isinstance(health, dict):
        for key in _DURATION_KEYS:
            value = health.get(key)
            if isinstance(value, str) and not is_unknown(value):
                try:
                    duration_ns(value)
                except ValueError as exc:
                    failures.append(Failure(f"healthcheck.{key}", str(exc)))
    return failures


def normalize(key: str, value: Any, spec: Field) -> Any:
    """A comparable form: numbers as numbers, sets sorted, empty as absent.

    Healthcheck durations are compared as strings, as upstream does: it reads them
    back with Go's `time.Duration.String()`, so "120s" would differ from the "2m0s" in
    the state on every preview. The program sends canonical strings (`go_duration`).
    """
    value = _numbers(value)
    if spec.unordered and isinstance(value, list):
        value = sorted(value, key=lambda item: json.dumps(item, sort_keys=True))
    if value in ([], {}, ""):
        return None
    return value


def _numbers(value: Any) -> Any:
    """Integral floats as ints (protobuf Struct carries every number as a double)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


@dataclass
class Diff:
    changed: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    # property -> "add" | "delete" | "update"
    kinds: dict[str, str] = field(default_factory=dict)


def diff(
    type_: str, olds: dict[str, Any], news: dict[str, Any], ignore: tuple[str, ...] = ()
) -> Diff:
    """New inputs against the old outputs, field by field, as upstream plans them.

    An unknown new value counts as a change (upstream plans it as one): a replace
    for a ForceNew field, an update otherwise.
    """
    result = Diff()
    for key, spec in FIELDS[type_].items():
        if key in ignore:
            continue
        new = news.get(key)
        old = olds.get(key)
        if not is_unknown(new) and normalize(key, old, spec) == normalize(key, new, spec):
            continue
        result.changed.append(key)
        result.kinds[key] = "add" if old is None else "delete" if new is None else "update"
        if spec.mode == "replace":
            result.replaces.append(key)
    return result
