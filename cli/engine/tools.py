"""Checks for the tools a command needs, each failing with one line and the fix."""

from __future__ import annotations

import os
import re
import shutil

from cli.errors import ToolMissing

PULUMI_INSTALL = (
    "install it (https://www.pulumi.com/docs/install/) or run scripts/ensure-pulumi.sh, "
    "which also builds it offline from the Go module proxy"
)
DOCKER_INSTALL = "start Docker (on Debian as root: scripts/setup-docker.sh installs and starts it)"


def pulumi_cli(path: str | None) -> str:
    """Path of the `pulumi` binary on `path`, or ToolMissing."""
    found = shutil.which("pulumi", path=path)
    if not found:
        raise ToolMissing(f"the Pulumi CLI is not installed: {PULUMI_INSTALL}")
    return found


def docker_engine() -> None:
    """The Docker engine answers at DOCKER_HOST (or the default socket)."""
    import docker

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    client = None
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # docker raises several unrelated types here
        raise ToolMissing(
            f"no Docker engine answers at {where}: {DOCKER_INSTALL}", [str(exc)]
        ) from None
    finally:
        if client is not None:
            client.close()


def docker_image_present(image: str) -> bool:
    """The image is on the local Docker engine (no pull is attempted)."""
    import docker

    client = docker.from_env(timeout=10)
    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()


_LANGUAGE_PATTERN = re.compile(r"no language plugin '([\w-]+)' found")

_PLUGIN_PATTERNS = [
    # "Could not automatically download and install resource plugin
    #  'pulumi-resource-docker' at version v4.11.2" (acquisition failed), or
    # "no resource plugin 'pulumi-resource-docker' found in the workspace at version
    #  v4.11.2 or on your $PATH" (PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true)
    re.compile(
        r"resource plugin '(?:pulumi-resource-)?([a-z0-9-]+?)'(?: found in the workspace)?"
        r"(?: at version (v?\d[\w.+-]*\w))?"
    ),
    re.compile(r"no resource plugin '(?:pulumi-resource-)?([a-z0-9-]+?)'(?: found)?"),
    re.compile(r"could not find plugin for provider (?:resource )?([a-z0-9-]+)"),
]


# Engine diagnostics while it tries to fetch a provider plugin it does not have.
_ACQUISITION_PATTERN = re.compile(
    r"^(error downloading provider\b|Will retry in \S+ \[\d+/\d+\]$"
    # The engine's warning for a plugin found on $PATH: infra's own line already
    # names the docker stand-in it put there.
    r"|using pulumi-resource-docker from \$PATH at .*/providers/docker_standin/bin/)"
)


def plugin_acquisition_noise(message: str) -> bool:
    """An engine diagnostic about a missing tool or a failed plugin download.

    The CLI reports a missing plugin or language host itself, once, with the fix
    (`ToolMissing`, exit 4); echoing the engine's retries and its own error line as
    well buries that one line. With -v progress still shows them.
    """
    text = message.strip()
    return bool(
        _ACQUISITION_PATTERN.match(text) or missing_plugin(text) or missing_language_host(text)
    )


def missing_language_host(stderr: str) -> str | None:
    match = _LANGUAGE_PATTERN.search(stderr)
    return match.group(1) if match else None


def missing_plugin(stderr: str) -> str | None:
    """`name version` of the provider plugin the engine could not find, if that is
    why it failed (version may be empty)."""
    if "plugin" not in stderr:
        return None
    for pattern in _PLUGIN_PATTERNS:
        match = pattern.search(stderr)
        if match:
            groups = [g for g in match.groups() if g]
            return " ".join(groups)
    return None
