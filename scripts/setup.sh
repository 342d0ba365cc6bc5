#!/usr/bin/env bash
# Everything infra and its tests need, each step idempotent:
#   Python venv + pinned packages -> Docker engine + local Redis and monitoring images ->
#   Pulumi CLI (on PATH, official installer, or built offline).
#
# One line per phase on stderr, with its elapsed seconds. The raw output of each
# phase (pip, apt, dockerd, 180-odd `go: downloading` lines) goes to
# .tools/logs/<phase>.log (git-ignored); a failed phase names its log, shows its
# last lines and setup.sh exits with the phase's exit code (4: a tool is missing).
# Prints `PATH=...` as its last line on stdout: the PATH to run infra with.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
logs="$root/.tools/logs"
mkdir -p "$logs"
export INFRA_LOG_DIR="$logs" # scripts/setup-docker.sh writes dockerd.log there
started=$SECONDS

# The last `<script>: message` line of a log, as a short summary of the phase.
summary() {
    local line
    line="$(grep -E '^[a-z-]+: ' "$1" | tail -n 1 || true)"
    [ -n "$line" ] && printf ': %s' "${line#*: }"
}

# phase <step> <log name> <what> <command...>
phase() {
    local step="$1" log="$logs/$2.log" what="$3" start=$SECONDS rc=0
    shift 3
    printf 'setup: [%s] %s ... ' "$step" "$what" >&2
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        printf 'FAILED after %ss (exit %s); full log: %s\n' \
            "$((SECONDS - start))" "$rc" "${log#"$root"/}" >&2
        tail -n 15 "$log" | sed 's/^/    /' >&2
        exit "$rc"
    fi
    printf 'ok in %ss%s\n' "$((SECONDS - start))" "$(summary "$log")" >&2
}

phase 1/3 bootstrap "Python venv and pinned packages" "$root/scripts/bootstrap.sh"
phase 2/3 docker "Docker engine and the local images" "$root/scripts/setup-docker.sh"
phase 3/3 pulumi "Pulumi CLI (a cold build from source takes 8-14 min on 2 cores)" \
    "$root/scripts/ensure-pulumi.sh"
bin_dir="$(sed -n 's/^PULUMI_BIN_DIR=//p' "$logs/pulumi.log" | tail -n 1)"
printf 'setup: ready in %ss: %s (logs: .tools/logs/)\n' \
    "$((SECONDS - started))" "$(PATH="$bin_dir:$PATH" "$root/.venv/bin/infra" --version)" >&2
echo "PATH=$bin_dir:$root/.venv/bin:$PATH"
