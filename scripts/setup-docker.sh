#!/usr/bin/env bash
# Make a Docker engine available and build the local Redis image.
#
# - Docker already answering: the engine is left alone.
# - Debian-like machine as root: installs Debian's docker.io when dockerd is
#   missing and starts dockerd in the background when none is running.
# - Anywhere else: says what to install and exits 4 (tool missing).
# Then builds the local Redis and monitoring images (scripts/build-redis-image.sh,
# scripts/build-monitoring-image.sh). Chromium, which only the dashboard test
# needs, is installed by scripts/test.sh, not here: `infra up` does not need it.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
log_dir="${INFRA_LOG_DIR:-/tmp}"

say() { printf 'setup-docker: %s\n' "$*" >&2; }

docker_answers() { docker info >/dev/null 2>&1; }

install_docker() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "Docker is not installed. Install Docker Engine (https://docs.docker.com/engine/install/) and start it."
        exit 4
    fi
    say "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
}

start_dockerd() {
    if [ "$(id -u)" != 0 ]; then
        say "Docker is installed but not running. Start it (e.g. 'sudo systemctl start docker')."
        exit 4
    fi
    say "starting dockerd (log: $log_dir/dockerd.log)"
    nohup dockerd >"$log_dir/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do
        docker_answers && return 0
        sleep 0.5
    done
    say "dockerd did not answer within 30 s; see $log_dir/dockerd.log"
    tail -n 20 "$log_dir/dockerd.log" >&2 || true
    exit 4
}

if docker_answers; then
    say "Docker engine already running; leaving it alone"
else
    command -v dockerd >/dev/null 2>&1 || install_docker
    command -v docker >/dev/null 2>&1 || install_docker
    start_dockerd
fi
say "engine: $(docker version --format '{{.Server.Version}}')"
"$here/build-redis-image.sh"
"$here/build-monitoring-image.sh"
