"""The component registry: every entry resolves, and a new component is one entry.

The recipe in docs/components.md holds: a tiny component registered through the
registry alone (its model, exports, build and status living in this module) is
a stack setting `validate` describes, a component the program builds and
exports, and something `status` checks, with no other file touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker
import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.ops import health
from components.config_base import ComponentConfig, Exports, OutputsUnreadable
from components.docker_node import Site
from stacks.config import ConfigInvalid, parse_config
from stacks.registry import REGISTRY, Component
from tests.cli.conftest import make_project
from tests.support.capture import run_program


# --- a fifth component, all of it --------------------------------------------------
class EchoConfig(ComponentConfig):
    enabled: bool = False
    greeting: str = "hello"
    copies: int = 1


class EchoExports(Exports):
    echo_greeting: str
    echo_volumes: list[str]


class Echo(pulumi.ComponentResource):
    """One Docker volume per copy, on the stack's site; exports what it says."""

    def __init__(self, name: str, config: EchoConfig, site: Site) -> None:
        super().__init__("test:echo:Echo", name, None, None)
        volumes = [
            docker.Volume(
                f"{name}-data-{i}",
                name=f"{site.prefix}-{i}",
                opts=pulumi.ResourceOptions(parent=self),
            )
            for i in range(config.copies)
        ]
        self.greeting = pulumi.Output.from_input(config.greeting)
        self.volumes = pulumi.Output.all(*[v.name for v in volumes])
        self.register_outputs({"greeting": self.greeting})

    def exports(self) -> dict[str, Any]:
        return EchoExports.outputs(echo_greeting=self.greeting, echo_volumes=self.volumes)


def build_echo(name: str, config: EchoConfig, wiring: Any) -> Echo:
    return Echo(name, config, wiring.site(name))


def check_echo(exports: EchoExports) -> health.Check:
    ok = exports.echo_greeting == "hello"
    return health.Check(
        "echo", ok, f"{len(exports.echo_volumes)} volumes, says {exports.echo_greeting}"
    )


ECHO = Component(
    key="echo",
    model=f"{__name__}:EchoConfig",
    exports=f"{__name__}:EchoExports",
    build=f"{__name__}:build_echo",
    describe=lambda c: f"echo x{c.copies}",
    image=lambda c: "infra-local/redis:debian",
    status=f"{__name__}:check_echo",
    secrets={"echoToken": lambda: "t" * 8},
    on_by_default=False,
)


@pytest.fixture
def echo() -> Iterator[Component]:
    with REGISTRY.extended(ECHO):
        yield ECHO


# --- the recipe holds -----------------------------------------------------------------
def test_validate_describes_the_new_component(
    echo: Component, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, monkeypatch)
    stack = project / "stacks" / "Pulumi.recipe.yaml"
    stack.write_text("config:\n  infra:echo:\n    enabled: true\n    copies: 2\n")
    result = CliRunner().invoke(app, ["validate", "recipe"])
    assert result.exit_code == 0, result.output
    assert "is valid: redis cluster 3x(1+1), echo x2" in result.output


def test_its_config_errors_are_reported_like_any_other(echo: Component) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config({"echo": {"enabled": True, "copies": "many", "colour": "red"}})
    assert {p.path for p in caught.value.problems} == {"echo.copies", "echo.colour"}


def test_the_program_builds_and_exports_it(echo: Component) -> None:
    capture = run_program(
        "recipe",
        {"redis": {"enabled": False}, "echo": {"enabled": True, "copies": 2}},
        {"redisPassword": "test-password-0123456789", "echoToken": "t" * 8},
    )
    assert [r.name for r in capture.of_type("test:echo:Echo")] == ["echo"]
    volumes = capture.of_type("docker:index/volume:Volume")
    # registered concurrently (each volume waits on its own outputs): in no set order
    assert sorted((v.name, v.parent) for v in volumes) == [
        ("echo-data-0", "echo"),
        ("echo-data-1", "echo"),
    ]
    assert capture.outputs["components"] == (["echo"], False)
    assert capture.outputs["echoGreeting"] == ("hello", False)
    assert capture.outputs["echoVolumes"] == (["infra-recipe-echo-0", "infra-recipe-echo-1"], False)
    assert "networkName" in capture.outputs  # its site put it on the stack network


def test_status_checks_it_from_the_outputs(echo: Component) -> None:
    outputs = {"components": ["echo"], "echoGreeting": "hello", "echoVolumes": ["a", "b"]}
    [check] = health.status(outputs)
    assert (check.component, check.ok, check.summary) == ("echo", True, "2 volumes, says hello")
    with pytest.raises(OutputsUnreadable, match="echoVolumes"):
        health.status({"components": ["echo"], "echoGreeting": "hello"})


def test_its_secret_and_image_join_the_stack(echo: Component) -> None:
    config = parse_config({"echo": {"enabled": True}})
    assert config.docker_images()["echo"] == "infra-local/redis:debian"
    assert "echoToken" in REGISTRY.secrets()
    with pytest.raises(ConfigInvalid, match="echoToken: stored in plain text"):
        parse_config({"echo": {"enabled": True}, "echoToken": "plain"})


def test_without_the_entry_the_key_is_unknown() -> None:
    with pytest.raises(ConfigInvalid, match="echo: unknown key"):
        parse_config({"echo": {"enabled": True}})


# --- every entry of the project's registry --------------------------------------------
@pytest.mark.parametrize("entry", REGISTRY.entries, ids=lambda e: f"{e.key}:{e.exports}")
def test_every_reference_resolves_to_what_the_entry_says(entry: Component) -> None:
    model = entry.config_model()
    assert issubclass(model, ComponentConfig)
    assert issubclass(entry.exports_model(), Exports)
    assert callable(entry.builder())
    assert entry.checker() is None or callable(entry.checker())
    assert entry.scraper() is None or callable(entry.scraper())
    assert model().enabled is entry.on_by_default
    assert isinstance(entry.describe(model()), str)
    assert all(gen() != gen() for gen in entry.secrets.values())  # random, not constant


def test_entries_sharing_a_key_share_the_model_and_never_apply_together() -> None:
    for key in REGISTRY.component_keys():
        same = [e for e in REGISTRY.entries if e.key == key]
        assert len({e.model for e in same}) == 1
        if len(same) > 1:
            selectors = [tuple(sorted(e.deployed_when.items())) for e in same]
            assert len(set(selectors)) == len(same) and all(selectors)


def test_the_docker_gate_reads_the_registry() -> None:
    assert parse_config({"redis": {"enabled": False}}).uses_docker() is False
    assert parse_config({}).uses_docker() is True
    assert parse_config({"redis": {"enabled": False}, "mongo": {"enabled": True}}).uses_docker()


def test_two_components_may_not_publish_the_same_host_port() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config({"redis": {"hostPortBase": 27015}, "mongo": {"enabled": True}})
    [problem] = caught.value.problems
    assert problem.path == "mongo.portBase"
    assert "27017-27019 overlap redis.hostPortBase's 27015-27020" in problem.message
    # Unpublished, or apart: fine.
    parse_config({"redis": {"hostPortBase": 27015}, "mongo": {"enabled": True, "publish": False}})
    sentinel = {"mode": "sentinel", "sentinelHostPortBase": 27018}
    with pytest.raises(ConfigInvalid, match=r"mongo\.portBase: host ports 27017-27019 overlap"):
        parse_config({"redis": sentinel, "mongo": {"enabled": True}})
