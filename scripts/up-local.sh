#!/usr/bin/env bash
# One command for a fresh machine: set everything up, then `infra up local`.
#   Python venv + pinned packages -> Docker engine + local Redis image ->
#   Pulumi CLI (on PATH, official installer, or built offline) -> infra up local --yes
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/bootstrap.sh
scripts/setup-docker.sh >/dev/null
bin_dir="$(scripts/ensure-pulumi.sh | sed -n 's/^PULUMI_BIN_DIR=//p')"
export PATH="$bin_dir:$root/.venv/bin:$PATH"
exec infra up local --yes "$@"
