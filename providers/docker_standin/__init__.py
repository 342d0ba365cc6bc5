"""infra's offline stand-in for the Pulumi docker provider plugin.

Used only where the official `pulumi-resource-docker` is not installed and cannot be
installed (no network to its download). It implements the resource types and fields
`infra`'s program registers, with the official provider's semantics, and refuses
every other field. See docs/docker-standin.md.
"""

# The pulumi-docker release whose behaviour this mirrors; must equal the pinned
# `pulumi_docker` package (a test checks), so an SDK bump is a deliberate change here.
MIRRORS = "5.2.0"
# Build metadata says what it is; the engine does not warn about it (not lower).
VERSION = f"{MIRRORS}+infra-standin"
NAME = "infra's offline docker stand-in"
