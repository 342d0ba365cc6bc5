#!/usr/bin/env bash
# One command for a fresh machine: set everything up (scripts/setup.sh), then
# `infra up local --yes`. Extra arguments go to `infra up`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export "$(scripts/setup.sh | tail -n 1)"
exec infra up local --yes "$@"
