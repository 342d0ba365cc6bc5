#!/usr/bin/env bash
# One command for a fresh machine: set everything up (scripts/setup.sh), then
# `infra up local --yes`. Extra arguments go to `infra up`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# setup.sh's last line is a PATH for scripts; ./infra needs none (infra puts
# .tools/pulumi/bin on the engine's PATH), and keeping the user's PATH keeps the
# commands infra suggests pasteable in the user's shell.
scripts/setup.sh >/dev/null
exec ./infra up local --yes "$@"
