#!/usr/bin/env bash
# Create .venv and install infra with its pinned dependencies (constraints.txt).
# Re-running is cheap: pip only installs what changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
say() { printf 'bootstrap: %s\n' "$*" >&2; }

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "Python 3.11 or newer is required (found: $("$python" --version 2>&1)); set PYTHON=..."
    exit 4
fi
if [ ! -x "$root/.venv/bin/python" ]; then
    say "creating $root/.venv"
    "$python" -m venv "$root/.venv"
fi
"$root/.venv/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$root/constraints.txt" -e "$root[dev]"
versions='from importlib.metadata import version as v; print("infra", v("infra"), "(pulumi SDK", v("pulumi") + ")")'
say "installed $("$root/.venv/bin/python" -c "$versions") in .venv"
