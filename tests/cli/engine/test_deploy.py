"""What `infra up local` says about a component whose image is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.engine.deploy import image_hint
from stacks.config import parse_config
from stacks.config.root import read_stack_file

REPO = Path(__file__).resolve().parents[3]


def local_images() -> list[str]:
    config = parse_config(read_stack_file(REPO / "templates" / "local.yaml"))
    return sorted(config.docker_images().values())


@pytest.mark.parametrize("image", [i for i in local_images() if i.startswith("infra-local/")])
def test_infra_local_images_name_the_script_that_builds_them(image: str) -> None:
    hint = image_hint(image)
    script = hint.split("`")[1]
    assert hint == f"build it with `{script}`"
    assert (REPO / script).is_file(), script


def test_other_images_are_pulled() -> None:
    assert image_hint("mongo:8.0.4") == (
        "run `docker pull mongo:8.0.4` where a registry is reachable (or `docker load` it)"
    )
    assert "mongo:8.0.4" in local_images()
