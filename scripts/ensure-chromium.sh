#!/usr/bin/env bash
# Debian's Chromium, for the dashboard's headless-browser test
# (tests/integration/test_dashboard_engine.py). Installed only when missing;
# quiet; exits 4 when it is missing and cannot be installed here.
set -euo pipefail

say() { printf 'ensure-chromium: %s\n' "$*" >&2; }

if command -v chromium >/dev/null 2>&1; then
    say "chromium already installed"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "chromium is missing: install Debian's chromium package (the dashboard test needs it)"
    exit 4
fi
say "installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
say "installed $(chromium --version 2>/dev/null || echo chromium)"
