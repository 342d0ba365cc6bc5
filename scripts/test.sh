#!/usr/bin/env bash
# One command for a fresh machine: set everything up (scripts/setup.sh), then
# run ruff, mypy and every test. Extra arguments go to pytest
# (e.g. scripts/test.sh -m "not integration").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
path_line="$(scripts/setup.sh | tail -n 1)" # fails with setup's exit code
export "$path_line"
scripts/ensure-chromium.sh # the dashboard test's headless browser (Debian's chromium)
ruff check .
ruff format --check .
mypy
exec python -m pytest "$@"
