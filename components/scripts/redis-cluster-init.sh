#!/bin/sh
# Forms the Redis Cluster once, then stays up and reports its health.
#
#   redis-cluster-init.sh          wait for every node, create the cluster if it
#                                  is not formed yet, wait for cluster_state:ok
#                                  on every node, then idle (healthcheck below)
#   redis-cluster-init.sh health   exit 0 when the cluster was formed and a node
#                                  reports cluster_state:ok (Docker healthcheck)
#
# Environment: NODES ("ip:port ip:port ..."), REPLICAS (per master),
# WAIT_SECONDS (default 120), PASSWORD_FILE (default /run/secrets/redis-password);
# SHARDS ("master,replica,... master,replica,..."): form exactly these shards
# (several Docker hosts: the placement decides, not redis-cli's own pairing);
# CLI_TLS (redis.tls): redis-cli's TLS options, e.g. "--tls --cacert /path/ca.crt";
# CLI_USER (redis.defaultUser: disabled): the user the password belongs to.
# Exit codes: 1 a node never answered or the cluster never became ok;
# 3 the nodes already form a cluster whose membership differs from NODES.
set -u

NODES="${NODES:?NODES is required}"
REPLICAS="${REPLICAS:-1}"
WAIT_SECONDS="${WAIT_SECONDS:-120}"
PASSWORD_FILE="${PASSWORD_FILE:-/run/secrets/redis-password}"
FORMED_MARK=/tmp/cluster-formed
CLI_TLS="${CLI_TLS:-}"
CLI_USER="${CLI_USER:-}"
# What every redis-cli call adds (the user name has no spaces: RedisUser's rule).
CLI_TLS="$CLI_TLS${CLI_USER:+ --user $CLI_USER}"
REDISCLI_AUTH="$(cat "$PASSWORD_FILE")"
export REDISCLI_AUTH

log() { echo "redis-cluster-init: $*"; }
cli() {
    addr="$1"; shift
    # shellcheck disable=SC2086
    redis-cli $CLI_TLS -h "${addr%:*}" -p "${addr##*:}" --no-auth-warning "$@" 2>/dev/null
}
info_field() { cli "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }
count() { set -- $1; echo $#; }
first() { set -- $1; echo "$1"; }
deadline=$(( $(date +%s) + WAIT_SECONDS ))
time_left() { [ "$(date +%s)" -lt "$deadline" ]; }

# True for a master, or for a replica whose link to its master is up.
replica_ready() {
    repl="$(cli "$1" info replication | tr -d '\r')"
    echo "$repl" | grep -q '^role:master' && return 0
    echo "$repl" | grep -q '^master_link_status:up'
}

health() {
    [ -f "$FORMED_MARK" ] || return 1
    for n in $NODES; do
        [ "$(info_field "$n" cluster_state)" = ok ] && return 0
    done
    return 1
}

wait_for_nodes() {
    for n in $NODES; do
        until [ "$(cli "$n" ping)" = PONG ]; do
            time_left || { log "node $n did not answer PING within ${WAIT_SECONDS}s"; return 1; }
            sleep 0.2
        done
    done
    log "all $(count "$NODES") nodes answer PING"
}

# Prints the largest cluster_known_nodes any node reports (1 = not formed).
known_nodes() {
    max=0
    for n in $NODES; do
        k="$(info_field "$n" cluster_known_nodes)"
        [ -n "$k" ] && [ "$k" -gt "$max" ] && max="$k"
    done
    echo "$max"
}

create_cluster() {
    log "creating the cluster: $(count "$NODES") nodes, $REPLICAS replica(s) per master"
    if [ -n "${SHARDS:-}" ]; then
        create_placed
        return
    fi
    # shellcheck disable=SC2086
    redis-cli $CLI_TLS --no-auth-warning --cluster create $NODES \
        --cluster-replicas "$REPLICAS" --cluster-yes
}

# The masters first (slots spread evenly), then each replica joined to its own
# shard's master by node id.
create_placed() {
    masters=""
    for shard in $SHARDS; do masters="$masters ${shard%%,*}"; done
    # shellcheck disable=SC2086
    redis-cli $CLI_TLS --no-auth-warning --cluster create $masters --cluster-replicas 0 \
        --cluster-yes || return 1
    for shard in $SHARDS; do
        master="${shard%%,*}"
        id="$(cli "$master" cluster myid | tr -d '\r')"
        for replica in $(echo "${shard#*,}" | tr ',' ' '); do
            [ "$replica" = "$master" ] && continue
            # shellcheck disable=SC2086
            redis-cli $CLI_TLS --no-auth-warning --cluster add-node "$replica" "$master" \
                --cluster-slave --cluster-master-id "$id" || return 1
        done
    done
}

wait_until_ok() {
    for n in $NODES; do
        until [ "$(info_field "$n" cluster_state)" = ok ]; do
            time_left || { log "node $n is not cluster_state:ok after ${WAIT_SECONDS}s"; return 1; }
            sleep 0.2
        done
    done
    # shellcheck disable=SC2086
    until redis-cli $CLI_TLS --no-auth-warning --cluster check "$(first "$NODES")" 2>/dev/null | grep -q 'All 16384 slots covered'; do
        time_left || { log "slots are not all covered after ${WAIT_SECONDS}s"; return 1; }
        sleep 0.5
    done
    # A replica that never finished its first sync cannot be promoted: wait for
    # every replication link, so "ready" means "can fail over".
    for n in $NODES; do
        until replica_ready "$n"; do
            time_left || { log "replica $n did not sync with its master in ${WAIT_SECONDS}s"; return 1; }
            sleep 0.2
        done
    done
    log "cluster_state:ok on every node; all 16384 slots covered; replicas in sync"
}

main() {
    rm -f "$FORMED_MARK"
    wait_for_nodes || exit 1
    known="$(known_nodes)"
    want="$(count "$NODES")"
    if [ "$known" -le 1 ]; then
        create_cluster || exit 1
    elif [ "$known" -ne "$want" ]; then
        log "the nodes already form a cluster of $known nodes but $want are configured;"
        log "growing or shrinking needs 'redis-cli --cluster add-node' / 'del-node' and a rebalance"
        exit 3
    else
        log "cluster already formed ($known nodes); not creating it again"
    fi
    wait_until_ok || exit 1
    touch "$FORMED_MARK"
    trap 'exit 0' TERM INT
    while :; do sleep 3600 & wait $!; done
}

case "${1:-run}" in
    health) health ;;
    run) main ;;
    *) echo "usage: $0 [run|health]" >&2; exit 2 ;;
esac
