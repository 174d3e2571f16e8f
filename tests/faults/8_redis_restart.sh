#!/usr/bin/env bash
# Fault: Redis killed (kill -9) and restarted empty under signalling load, in the local cluster
# (deploy/local-cluster.sh): vc-load signal keeps 20 rooms exchanging signals through haproxy
# while Redis is away for 6 s. Both nodes fail /readyz during the outage and recover by
# themselves; the calls carry on with no message lost; the rooms are written back, and once
# vc-load deletes them no room key is left in Redis. Loopback only.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

SUITE=fault_redis_restart
WORK=$(cd "$TEST_LOGS" && pwd)/$SUITE
CLUSTER=$WORK/cluster
BASE=${CLUSTER_BASE_PORT:-18440}
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'cleanup; deploy/local-cluster.sh stop --dir "$CLUSTER" >/dev/null 2>&1' EXIT

need_dev_certs
[ -x "$VC_BUILD/bin/vc-load" ] || die "$VC_BUILD/bin/vc-load is missing"
ports_free "$BASE" "$((BASE + 60))" || die "ports $BASE-$((BASE + 60)) are busy (set CLUSTER_BASE_PORT)"
deploy/local-cluster.sh start --dir "$CLUSTER" --base-port "$BASE" >"$WORK/cluster.out" 2>&1 ||
    { sed 's/^/#   /' "$WORK/cluster.out"; die "deploy/local-cluster.sh start failed"; }
# shellcheck disable=SC1091
. "$CLUSTER/cluster.env"

readyz() {
    curl -s -o /dev/null -w '%{http_code}' -m 2 --cacert certs/ca.crt \
        --resolve "localhost:$1:127.0.0.1" "https://localhost:$1/readyz"
}
# wait_ready PORT CODE SECONDS: true once /readyz answers CODE.
wait_ready() {
    for _ in $(seq 1 $(($3 * 5))); do
        [ "$(readyz "$1")" = "$2" ] && return 0
        sleep 0.2
    done
    return 1
}

"$VC_BUILD/bin/vc-load" signal --url "https://localhost:$LB_PORT" --api-key "$(cat "$API_KEY_FILE")" \
    --rooms 20 --rate 10 --duration 20 --json "$WORK/load.json" >"$WORK/load.out" 2>&1 &
LOAD_PID=$!
BG_PIDS+=("$LOAD_PID")
sleep 6 # set-up (20 rooms take about a second) and a few seconds of the measured window
kill -KILL "$REDIS_PID"
echo "# Redis killed"
for i in 1 2; do
    port_var=SIGNAL${i}_PORT
    check "redis_restart_node${i}_not_ready_while_redis_is_away" "/readyz $(readyz "${!port_var}")" \
        wait_ready "${!port_var}" 503 5
done
sleep 5
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    >>"$WORK/redis.log" 2>&1 &
BG_PIDS+=("$!")
echo "# Redis restarted, empty (pid $!)"
for i in 1 2; do
    port_var=SIGNAL${i}_PORT
    check "redis_restart_node${i}_ready_again_by_itself" "/readyz $(readyz "${!port_var}")" \
        wait_ready "${!port_var}" 200 10
done
wait "$LOAD_PID"
rc=$?
forget_pid "$LOAD_PID"
sed 's/^/#   /' "$WORK/load.out" | tail -n 12
check redis_restart_load_exits_0 "vc-load exit $rc" [ "$rc" -eq 0 ]
lost=$(jq -r '.messages_lost // "?"' "$WORK/load.json" 2>/dev/null)
sent=$(jq -r '.messages_sent // 0' "$WORK/load.json" 2>/dev/null)
active=$(jq -r '.rooms_active // 0' "$WORK/load.json" 2>/dev/null)
echo "# messages sent $sent, lost $lost, rooms active at the end $active"
check redis_restart_calls_carry_on_all_rooms "rooms_active $active of 20" [ "$active" = 20 ]
check redis_restart_no_message_lost "messages_lost $lost of $sent" [ "$lost" = 0 ]
check redis_restart_messages_flowed "messages_sent $sent" [ "$sent" -gt 3000 ]
sleep 1
keys=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'vc:*' | grep -Ev '^vc:(node|ended):' | head -n 5)
check redis_restart_no_room_key_left "keys left: $keys" [ -z "$keys" ]
finish
