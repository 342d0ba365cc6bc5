#!/usr/bin/env bash
# One command for a fresh machine: set everything up, then run every test.
#   Python venv + pinned packages -> Docker engine + local Redis image ->
#   Pulumi CLI (built offline when needed) -> ruff, mypy, pytest (all markers).
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not integration").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/bootstrap.sh
scripts/setup-docker.sh >/dev/null
bin_dir="$(scripts/ensure-pulumi.sh | sed -n 's/^PULUMI_BIN_DIR=//p')"
export PATH="$bin_dir:$root/.venv/bin:$PATH"
ruff check .
mypy
exec python -m pytest "$@"
