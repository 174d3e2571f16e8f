#!/usr/bin/env bash
# Fault: kill -9 of the vc-signal node that a relay-only Chromium call uses, in the local cluster
# (deploy/local-cluster.sh: Redis, two vc-signal nodes behind haproxy, two vc-turn nodes): both
# sides resume on the other node through the load balancer within 10 s, and the relayed video
# never stalls (media does not depend on signalling). Loopback only.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=tests/faults/common.sh
. tests/faults/common.sh

SUITE=fault_signal_kill
WORK=$LOGS_ABS/$SUITE
CLUSTER=$WORK/cluster
BASE=${CLUSTER_BASE_PORT:-18440}
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'exec 7>&- 2>/dev/null; cleanup; deploy/local-cluster.sh stop --dir "$CLUSTER" >/dev/null 2>&1' EXIT

faults_call_prereqs
ports_free "$BASE" "$((BASE + 60))" || die "ports $BASE-$((BASE + 60)) are busy (set CLUSTER_BASE_PORT)"
deploy/local-cluster.sh start --dir "$CLUSTER" --base-port "$BASE" >"$WORK/cluster.out" 2>&1 ||
    { sed 's/^/#   /' "$WORK/cluster.out"; die "deploy/local-cluster.sh start failed"; }
# shellcheck disable=SC1091
. "$CLUSTER/cluster.env"

# The clinician account, on both nodes (each keeps its accounts in its own SQLite file).
EMAIL=dr@example.org
PASSWORD='correct horse battery'
for i in 1 2; do
    signal_user_add "$CLUSTER/signal-$i" "$EMAIL" "Dr Test" "$PASSWORD"
done
SPORT=$LB_PORT
API_KEY=$(cat "$API_KEY_FILE")
METRICS_PORT=$TURN1_METRICS_PORT
faults_call_start "$WORK" signalkill

# The node holding the call's WebSockets: the one with connections.
conns() {
    curl -fsS -m 2 --cacert certs/ca.crt --resolve "localhost:$1:127.0.0.1" \
        "https://localhost:$1/metrics" | awk '$1 == "vc_signal_connections" { print $2 }'
}
victim=
for i in 1 2; do
    port_var=SIGNAL${i}_PORT pid_var=SIGNAL${i}_PID
    n=$(conns "${!port_var}")
    echo "# signal-$i: ${n:-?} WebSocket connections"
    [ "${n:-0}" -gt 0 ] && [ -z "$victim" ] && victim=${!pid_var}
done
check signal_kill_found_the_calls_node "no node has the call's connections" [ -n "$victim" ]
kill -KILL "${victim:-0}" 2>/dev/null
faults_call_go
faults_call_finish "$WORK"
for i in 1 2; do
    check "signal_kill_node${i}_log_has_no_sanitizer_report" "see $CLUSTER/logs/signal-$i.log" \
        no_sanitizer_report "$CLUSTER/logs/signal-$i.log"
done
finish
