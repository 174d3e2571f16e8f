#!/usr/bin/env bash
# Two vc-signal nodes sharing rooms through a real redis-server on loopback (the Redis registry):
# cross-node calls and REST, resume on either node, kill -9 of a room's home, Redis lost and back,
# a bad --redis refused at start-up, and a clean stop leaving its node key behind in no one's way.
# Environment: VC_BUILD (default build), NODE (default node).
. "$(dirname "$0")/lib.sh"

TESTS_DIR=tests/signal
WORK=$(mktemp -d)
REDIS_PIDFILE=$WORK/redis.pid
trap 'cleanup; [ -s "$REDIS_PIDFILE" ] && kill -9 "$(cat "$REDIS_PIDFILE")" 2>/dev/null; rm -rf "$WORK"' EXIT

need_node
command -v redis-server >/dev/null || die "redis-server is not installed (deploy/install-deps.sh test)"
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing"
need_dev_certs
npm_ci "$TESTS_DIR" ws

redis_port=$(free_port) && port1=$(free_port) && port2=$(free_port) || die "no free TCP port"
api_key=key-$(openssl rand -hex 16)

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$WORK/redis.log" 2>&1 &
echo $! >"$REDIS_PIDFILE"
wait_for redis-server "$(cat "$REDIS_PIDFILE")" "$WORK/redis.log" redis-cli -p "$redis_port" ping

# --- a bad --redis is refused, naming the key ----------------------------------------------------

out=$("$VC_BUILD/bin/vc-signal" --api-key "$api_key" --redis http://x 2>&1) && rc=0 || rc=$?
check cluster_bad_redis_url_refused "exit $rc: $out" [ "$rc" -eq 2 ]
check cluster_bad_redis_url_names_key "$out" matches '^vc-signal: (error: )?redis:' "$out"
out=$("$VC_BUILD/bin/vc-signal" --api-key "$api_key" --redis redis://127.0.0.1:1 --node-id 'a b' 2>&1) \
    && rc=0 || rc=$?
check cluster_bad_node_id_refused "exit $rc: $out" matches 'node-id' "$out"

# --- two nodes -----------------------------------------------------------------------------------

metric_is() { [ "$(awk -v n="$2" '$1 == n {print $2}' <<<"$1")" = "$3" ]; }
metric_ge() { [ "$(awk -v n="$2" '$1 == n {print $2}' <<<"$1")" -ge "$3" ]; }

start_node() {
    local n=$1 port=$2
    start_signal "$TEST_LOGS/cluster-node$n.log" "$port" --listen "127.0.0.1:$port" \
        --public-url "https://localhost:$port" --allowed-origin "https://localhost:$port1" \
        --allowed-origin "https://localhost:$port2" --api-key "$api_key" \
        --turn-secret "turn-$(openssl rand -hex 8)" --ice-server "turn:127.0.0.1:3478" \
        --redis "redis://127.0.0.1:$redis_port" --node-id "node$n" --resume-grace 30 \
        --data-dir "$WORK/data$n" --log "$WORK/meta$n.log"
}
# Clinicians: on node 1, a@ is user 1; on node 2, b@ is user 1 and a@ user 2. Both are in the
# team Cardiology, so they share one waiting area across the nodes.
password='correct horse battery'
SUITE=cluster
signal_team_add "$WORK/data1" Cardiology
signal_team_add "$WORK/data2" Cardiology
signal_user_add "$WORK/data1" a@example.org A "$password" --team Cardiology
signal_user_add "$WORK/data2" b@example.org B "$password" --team Cardiology
signal_user_add "$WORK/data2" a@example.org A "$password" --team Cardiology
start_node 1 "$port1"
node1=$SIGNAL_PID
start_node 2 "$port2"
node2=$SIGNAL_PID
for _ in $(seq 1 25); do
    [ "$(redis-cli -p "$redis_port" exists vc:node:node1 vc:node:node2)" = 2 ] && break
    sleep 0.2
done
check cluster_nodes_register_a_heartbeat "$(redis-cli -p "$redis_port" keys 'vc:node:*')" \
    [ "$(redis-cli -p "$redis_port" exists vc:node:node1 vc:node:node2)" = 2 ]
ttl=$(redis-cli -p "$redis_port" pttl vc:node:node1)
check cluster_node_key_expires "pttl $ttl" [ "$ttl" -gt 0 ] && [ "$ttl" -le 4000 ]

out=$WORK/node.out
ca=$PWD/certs/ca.crt
(cd "$TESTS_DIR" && VC_CA=$ca VC_PORT1=$port1 VC_PORT2=$port2 VC_API_KEY=$api_key \
    VC_REDIS_PORT=$redis_port VC_REDIS_PID=$(cat "$REDIS_PIDFILE") VC_NODE1_PID=$node1 \
    VC_REDIS_PIDFILE=$REDIS_PIDFILE VC_PASSWORD=$password timeout 150 "$NODE" cluster.mjs) | tee "$out"
counts_from "$out" cluster_node_tests

m=$(curl -fsS --cacert certs/ca.crt --resolve "localhost:$port2:127.0.0.1" \
    "https://localhost:$port2/metrics")
check cluster_metrics_redis_up "$(grep redis_up <<<"$m")" metric_is "$m" vc_signal_redis_up 1
check cluster_metrics_count_takeovers "$(grep takeovers <<<"$m")" metric_ge "$m" vc_signal_takeovers_total 1
check cluster_metrics_count_proxied_joins "$(grep proxied <<<"$m")" metric_ge "$m" vc_signal_proxied_joins_total 1

# --- a clean stop -------------------------------------------------------------------------------

check cluster_survivor_still_running "node 2 exited" kill -0 "$node2"
stop_pid "$node2"
check cluster_stop_exits_cleanly "exit $STOP_RC" [ "$STOP_RC" -eq 0 ]
check cluster_stop_removes_the_node_key "$(redis-cli -p "$redis_port" keys 'vc:node:*')" \
    [ "$(redis-cli -p "$redis_port" exists vc:node:node2)" = 0 ]
check cluster_takeover_logged_as_resumed_peers "$(grep -c peer.joined "$WORK/meta2.log") joins" \
    [ "$(grep '"event":"peer.joined"' "$WORK/meta2.log" | grep -c '"resumed":true')" -ge 2 ]
for n in 1 2; do
    check "cluster_node${n}_log_has_no_sanitizer_report" "see $TEST_LOGS/cluster-node$n.log" \
        no_sanitizer_report "$TEST_LOGS/cluster-node$n.log"
done
finish
