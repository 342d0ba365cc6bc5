"""Recognising missing tools in the engine's own error text."""

from __future__ import annotations

import io

from pulumi import automation as auto
from rich.console import Console

from cli.engine import tools
from cli.engine.progress import Progress

DOWNLOAD_FAILED = (
    "error (default_4_11_2): Could not automatically download and install resource plugin "
    "'pulumi-resource-docker' at version v4.11.2, install the plugin using `pulumi plugin "
    "install resource docker v4.11.2`: error downloading provider docker to file: failed to "
    "download plugin: docker-4.11.2: failed all 5 attempts"
)


def test_plugin_download_failure() -> None:
    assert tools.missing_plugin(DOWNLOAD_FAILED) == "docker v4.11.2"


def test_no_resource_plugin_found() -> None:
    text = "error: no resource plugin 'pulumi-resource-cloudflare' found in the workspace"
    assert tools.missing_plugin(text) == "cloudflare"


def test_unrelated_errors_are_not_plugins() -> None:
    assert tools.missing_plugin("error: container exited with code 1") is None
    assert tools.missing_language_host("error: container exited") is None


def test_language_host() -> None:
    text = (
        "error: failed to load language plugin python: no language plugin "
        "'pulumi-language-python' found in the workspace or on your $PATH"
    )
    assert tools.missing_language_host(text) == "pulumi-language-python"


# What the engine (v3.274.0) prints for the local stack's docker provider when
# PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true (seen by tests/engine).
NOT_IN_WORKSPACE = (
    "no resource plugin 'pulumi-resource-docker' found in the workspace at version v4.11.2 "
    "or on your $PATH"
)
RETRY_NOISE = [
    'error downloading provider: Get "https://get.pulumi.com/releases/plugins/'
    'pulumi-resource-docker-v4.11.2-linux-amd64.tar.gz": no such host',
    "Will retry in 80ms [1/5]",
    "Will retry in 1.28s [5/5]\n",
]


def test_no_plugin_in_workspace_keeps_the_version() -> None:
    assert tools.missing_plugin(f"error (default_4_11_2): {NOT_IN_WORKSPACE}") == "docker v4.11.2"


def test_version_stops_at_sentence_end() -> None:
    text = "Could not automatically download and install resource plugin 'docker' at version v4.1."
    assert tools.missing_plugin(text) == "docker v4.1"


def test_acquisition_noise_is_recognised() -> None:
    for message in [*RETRY_NOISE, NOT_IN_WORKSPACE, DOWNLOAD_FAILED]:
        assert tools.plugin_acquisition_noise(message), message
    assert tools.plugin_acquisition_noise(
        "no language plugin 'pulumi-language-python' found in the workspace"
    )


def test_other_diagnostics_are_not_noise() -> None:
    for message in [
        "error: container exited with code 1",
        "Will retry the health check later",
        "warning: image mongo:8.0.4 could not be pulled",
        "the provider plugin has no schema for this resource",
    ]:
        assert not tools.plugin_acquisition_noise(message), message


def diagnostic(message: str, severity: str) -> auto.EngineEvent:
    return auto.EngineEvent(
        sequence=1,
        timestamp=0,
        diagnostic_event=auto.DiagnosticEvent(message=message, color="never", severity=severity),
    )


def test_progress_leaves_missing_plugins_to_the_cli_error() -> None:
    def shown(verbose: int) -> str:
        buffer = io.StringIO()
        progress = Progress(Console(file=buffer, width=200), "preview local", verbose=verbose)
        for message in RETRY_NOISE:
            progress(diagnostic(message, "warning"))
        progress(diagnostic(NOT_IN_WORKSPACE, "error"))
        progress(diagnostic("container redis-0 is unhealthy", "error"))
        return buffer.getvalue()

    assert shown(verbose=0).splitlines() == ["error: container redis-0 is unhealthy"]
    everything = shown(verbose=1)
    assert "Will retry in 80ms [1/5]" in everything and NOT_IN_WORKSPACE in everything
