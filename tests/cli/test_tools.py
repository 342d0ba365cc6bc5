"""Recognising missing tools in the engine's own error text."""

from __future__ import annotations

from cli import tools

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
