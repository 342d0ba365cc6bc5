#!/bin/sh
# Starts and probes the containers of a Redis Sentinel topology.
#
#   redis-sentinel-ha.sh node             render the data node's config, exec redis-server
#   redis-sentinel-ha.sh sentinel         render the Sentinel's config, exec redis-sentinel
#   redis-sentinel-ha.sh render-node      print the data node's config (no start)
#   redis-sentinel-ha.sh render-sentinel  print the Sentinel's config (no start)
#   redis-sentinel-ha.sh node-health      exit 0 when redis-server answers (Docker healthcheck)
#   redis-sentinel-ha.sh sentinel-health  exit 0 when SENTINEL CKQUORUM is OK for every master set
#
# Why a script: Sentinel rewrites its config file with what it learned (the
# current primary of each group, epochs, known replicas and Sentinels), and
# Sentinel reconfigures data nodes with REPLICAOF + CONFIG REWRITE. That state
# must survive restarts and container replacement, so the live config files sit
# on the data volume. The template (uploaded by Pulumi) must still win for
# everything else, or a changed setting would be ignored after a replacement.
# So each start renders: template settings + the learned state of the old file.
#
# Environment: TEMPLATE (the uploaded template), CONF (the live config on the
# volume), PORT (6379 for nodes, 26379 for Sentinels).
set -eu
set -f  # config lines are split into words below: never glob them

TEMPLATE="${TEMPLATE:?TEMPLATE is required}"
CONF="${CONF:?CONF is required}"
PORT="${PORT:-6379}"

log() { echo "redis-sentinel-ha: $*" >&2; }

# The images differ: Debian-based ones have mv, the local busybox one may not.
move() { mv -f "$1" "$2" 2>/dev/null || busybox mv -f "$1" "$2"; }

# Data node: template settings, but the replication role Sentinel last set
# (REPLICAOF + CONFIG REWRITE) instead of the template's initial one. No
# `replicaof` line in an existing config means this node was last a primary.
render_node() {
    if [ -f "$CONF" ]; then
        grep -v -E '^(replicaof|slaveof) ' "$TEMPLATE" || true
        grep -E '^(replicaof|slaveof) ' "$CONF" || true
    else
        cat "$TEMPLATE"
    fi
}

# The address Sentinel last recorded for master set $1 ("ip port"), if any.
learned_master() {
    [ -f "$CONF" ] || return 0
    sed -n "/^sentinel monitor $1 /{s/^sentinel monitor $1 \([^ ]*\) \([^ ]*\) .*/\1 \2/p;q;}" "$CONF"
}

master_sets() { sed -n 's/^sentinel monitor \([^ ]*\) .*/\1/p' "$TEMPLATE"; }

# Sentinel: template settings; each monitored master at the address Sentinel
# last recorded (it may have failed over); then Sentinel's own state: its id,
# the epochs (so a restarted Sentinel does not undo a newer failover) and the
# replicas and Sentinels it knows (so it can fail over even if the primary is
# down when it starts). State of master sets no longer in the template is dropped.
render_sentinel() {
    while IFS= read -r line; do
        case "$line" in
            "sentinel monitor "*)
                # shellcheck disable=SC2086
                set -- $line
                addr="$(learned_master "$3")"
                if [ -n "$addr" ]; then
                    printf '%s\n' "sentinel monitor $3 $addr $6"
                else
                    printf '%s\n' "$line"
                fi
                ;;
            *) printf '%s\n' "$line" ;;
        esac
    done <"$TEMPLATE"
    [ -f "$CONF" ] || return 0
    grep -E '^sentinel (myid|current-epoch) ' "$CONF" || true
    for name in $(master_sets); do
        grep -E "^sentinel (config-epoch|leader-epoch|known-replica|known-sentinel) $name " \
            "$CONF" || true
    done
}

write_conf() {
    "$1" >"$CONF.new"
    move "$CONF.new" "$CONF"
}

password() { sed -n 's/^requirepass //p' "$TEMPLATE"; }

cli() {
    REDISCLI_AUTH="$(password)" redis-cli --no-auth-warning -p "$PORT" "$@" 2>/dev/null
}

# Liveness: LOADING (replaying the AOF) and MASTERDOWN (a replica without its
# primary) are states of a healthy process; restarting it would not help.
node_health() { cli ping | grep -Eq 'PONG|LOADING|MASTERDOWN'; }

sentinel_health() {
    for name in $(master_sets); do
        cli sentinel ckquorum "$name" | grep -q '^OK' || return 1
    done
}

case "${1:-}" in
    node)
        write_conf render_node
        log "starting redis-server with $(grep -E '^replicaof ' "$CONF" || echo 'no replicaof (primary)')"
        exec redis-server "$CONF"
        ;;
    sentinel)
        write_conf render_sentinel
        log "starting redis-sentinel monitoring: $(master_sets | tr '\n' ' ')"
        exec redis-sentinel "$CONF"
        ;;
    render-node) render_node ;;
    render-sentinel) render_sentinel ;;
    node-health) node_health ;;
    sentinel-health) sentinel_health ;;
    *)
        echo "usage: $0 node|sentinel|render-node|render-sentinel|node-health|sentinel-health" >&2
        exit 2
        ;;
esac
