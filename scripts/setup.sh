#!/usr/bin/env bash
# Everything infra and its tests need, each step idempotent:
#   Python venv + pinned packages -> Docker engine + local Redis image ->
#   Pulumi CLI (on PATH, official installer, or built offline).
# Prints `PATH=...` as its last line: the PATH to run infra with.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/bootstrap.sh"
"$root/scripts/setup-docker.sh" >/dev/null
bin_dir="$("$root/scripts/ensure-pulumi.sh" | sed -n 's/^PULUMI_BIN_DIR=//p')"
echo "PATH=$bin_dir:$root/.venv/bin:$PATH"
