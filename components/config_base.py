"""The base of every config model, and the checks several models share.

Component config models live with their components (the lowest layer): a
component takes its validated model, and `stacks/` only composes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError


class Model(BaseModel):
    """Base of every config model: camelCase keys in YAML, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


_MARK = "\u00a7"  # marks a model-level error that belongs to one field


def problems_error(title: str, problems: list[tuple[str, str]]) -> ValidationError:
    """Every model-level problem in one error, each reported at `<model>.<field>`.

    A model validator can only raise once; pydantic-core keeps the line errors of
    a ValidationError raised inside a validator, so the user sees all problems
    in one run instead of fixing them one at a time.
    """
    details = [
        InitErrorDetails(
            type=PydanticCustomError("value_error", str(field_error(field, message))),
            loc=(),
            input=None,
        )
        for field, message in problems
    ]
    return ValidationError.from_exception_data(title, details)


def field_error(field: str, message: str) -> ValueError:
    """An error raised by a model validator but reported at `<model>.<field>`."""
    return ValueError(f"{_MARK}{field}{_MARK}{message}")


def split_field_error(message: str) -> tuple[str | None, str]:
    if message.startswith(_MARK):
        field, _, rest = message[1:].partition(_MARK)
        return field, rest
    return None, message


# A Docker image reference pinned by tag or digest. `latest` and bare names are
# refused: an unpinned image changes under a stack without a diff.
_IMAGE_RE = re.compile(
    r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9._-]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"
)


def check_image(value: str) -> str:
    if not _IMAGE_RE.match(value):
        raise ValueError(
            f"'{value}' is not an image reference pinned by tag or digest "
            "(use e.g. 'redis:7.4.1' or 'name@sha256:...')"
        )
    if value.endswith(":latest"):
        raise ValueError("'latest' is not a pin: use a version tag such as 'redis:7.4.1'")
    return value


class ComponentConfig(Model):
    """The config model of a component (`infra:<key>` in a stack file).

    `enabled` turns it on; `image` (Docker components) names what it runs;
    `advisories` lists allowed but discouraged choices, which `validate` and
    the program print as warnings."""

    enabled: bool = True

    def advisories(self) -> list[str]:
        return []

    def host_ports(self) -> list[tuple[str, int, int]]:
        """The host ports this config publishes: (camelCase field, first, last).
        The stack root refuses two components that publish the same port."""
        return []


def port_problems(key: str, ports: list[tuple[str, int, int]]) -> list[tuple[str, str]]:
    """(field, message) for each published range that runs past port 65535."""
    return [
        (field, f"{first} + {last - first + 1} ports runs past port 65535 (lower {key}.{field})")
        for field, first, last in ports
        if last > 65535
    ]


class OutputsUnreadable(ValueError):
    """A stack's outputs are not what a component exports (missing or renamed)."""


class Exports(BaseModel):
    """The stack outputs one component exports: one field per output, named by
    the field's camelCase alias (`redis_nodes` -> `redisNodes`).

    Producer and readers share the class: the program exports through
    `outputs(...)`, which refuses a missing or unknown name, and readers
    (`infra status`, `cli.ops`, your own code) parse a stack's outputs with
    `read(...)`, so a renamed output is an error that names it instead of an
    empty list read as "0 nodes up".
    """

    # Built on first use: `infra validate` loads these modules but reads no outputs.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        defer_build=True,
    )

    @classmethod
    def names(cls) -> list[str]:
        return [info.alias or name for name, info in cls.model_fields.items()]

    # The stack outputs' shared prefix: field `redis_nodes` is the component's `nodes`.
    prefix: ClassVar[str] = ""

    @classmethod
    def outputs(cls, **values: Any) -> dict[str, Any]:
        """`{output name: value}` for `pulumi.export`, every field given once."""
        missing = set(cls.model_fields) - set(values)
        unknown = set(values) - set(cls.model_fields)
        if missing or unknown:
            raise TypeError(
                f"{cls.__name__}.outputs: missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        return {cls.model_fields[k].alias or k: v for k, v in values.items()}

    @classmethod
    def collect(cls, source: object) -> dict[str, Any]:
        """`outputs(...)` read from `source`'s attributes named like the fields,
        less `prefix`."""
        return cls.outputs(
            **{name: getattr(source, name.removeprefix(cls.prefix)) for name in cls.model_fields}
        )

    @classmethod
    def read(cls, outputs: Mapping[str, Any]) -> Self:
        try:
            return cls.model_validate(dict(outputs))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise OutputsUnreadable(
                f"the stack outputs are not what {cls.__name__} expects ({problems}): the "
                "stack was deployed by another version of infra; run `infra up` on it"
            ) from None


class NodeOutput(Exports):
    """One node in a stack output: container name, announced address, host port,
    and the Docker host it runs on (stacks with `hosts`)."""

    name: str
    ip: str
    port: int
    host_port: int | None = None
    host: str | None = None
