#!/usr/bin/env bash
# Fault: a network partition (ip link down, PARTITION_SECONDS, default 30) between one vc-signal
# node and Redis: node A runs in a network namespace this test creates, with two veth pairs to
# the host, one to Redis (SUBNET.1 host end, SUBNET.2 node A; the one cut) and one to its clients
# (SUBNET.5 host end, SUBNET.6 node A; never cut), SUBNET being an unused 10.199.X on this machine.
# Node B and redis-server run on the host (Redis on 127.0.0.1 and SUBNET.1, with a password).
# tests/faults/partition.mjs drives calls across the two nodes before, during and after the cut;
# then every room must be gone from Redis and both nodes, and their connections, file descriptors
# and (with gdb) hub sessions and cluster links back to where they were. The namespace and both
# veth pairs are deleted at exit; nothing leaves the machine. Needs root and iproute2 (skips if
# `ip netns add` is refused), node, redis-server and the dev certificates; gdb for the session
# count (skipped without it). FD_SLACK (default 0): descriptors a node may keep above baseline.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

SUITE=fault_signal_partition
PARTITION_SECONDS=${PARTITION_SECONDS:-30}
NS=vcpart$$
VK_HOST=vpk$$h VK_NS=vpk$$n # node A <-> Redis: the link this test cuts
VC_HOST=vpc$$h VC_NS=vpc$$n # clients <-> node A
# Descriptors a node may hold above its baseline at the end. 0: everything a node keeps open
# (logs, vc.db with its -wal and -shm, epoll, eventfd, the listener, three Redis connections) is
# open before the baseline is taken, and the end waits for closing connections to be gone, so
# any more is a leak (a slack of 2 would hide a Redis socket lost per partition).
FD_SLACK=${FD_SLACK:-0}
WORK=$(cd "$TEST_LOGS" && pwd)/$SUITE
rm -rf "$WORK"
mkdir -p "$WORK/dataA" "$WORK/dataB"

partition_cleanup() {
    cleanup
    ip netns del "$NS" 2>/dev/null
    ip link del "$VK_HOST" 2>/dev/null
    ip link del "$VC_HOST" 2>/dev/null
}
trap partition_cleanup EXIT

[[ "$FD_SLACK" =~ ^[0-9]+$ ]] || die "FD_SLACK must be a whole number, not '$FD_SLACK'"
[[ "$PARTITION_SECONDS" =~ ^[0-9]+$ ]] && [ "$PARTITION_SECONDS" -ge 10 ] &&
    [ "$PARTITION_SECONDS" -le 600 ] ||
    die "PARTITION_SECONDS must be a whole number of seconds in 10-600, not '$PARTITION_SECONDS'"
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing (make)"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    die "redis-server is not installed (deploy/install-deps.sh test)"
need_node
need_dev_certs
npm_ci tests/signal ws

if ! ip netns add "$NS" 2>"$WORK/netns.err"; then
    skip fault_signal_partition "ip netns add is not permitted here: $(head -n1 "$WORK/netns.err")"
    echo "0 passed, 0 failed"
    exit 0
fi

# pick_subnet: sets SUBNET to a 10.199.X with no address of this machine in it.
pick_subnet() {
    local x
    for _ in $(seq 1 30); do
        x=$((1 + RANDOM % 254))
        if ! ip -4 -o addr show | grep -q " 10\.199\.$x\."; then
            SUBNET=10.199.$x
            return 0
        fi
    done
    die "no unused 10.199.X subnet found after 30 tries"
}

# veth_pair HOST_END NS_END HOST_ADDR NS_ADDR: a /30 link between the host and the namespace.
veth_pair() {
    ip link add "$1" type veth peer name "$2" &&
        ip link set "$2" netns "$NS" &&
        ip addr add "$3/30" dev "$1" &&
        ip link set "$1" up &&
        ip -n "$NS" addr add "$4/30" dev "$2" &&
        ip -n "$NS" link set "$2" up
}

pick_subnet
veth_pair "$VK_HOST" "$VK_NS" "$SUBNET.1" "$SUBNET.2" &&
    veth_pair "$VC_HOST" "$VC_NS" "$SUBNET.5" "$SUBNET.6" &&
    ip -n "$NS" link set lo up || die "cannot set up the veth pairs"
REDIS_ADDR=$SUBNET.1 A_ADDR=$SUBNET.6

rport=$(free_port) && port_a=$(free_port) && port_b=$(free_port) || die "no free TCP port"
API_KEY=key-$(openssl rand -hex 20)
REDISCLI_AUTH=pw-$(openssl rand -hex 16) # the Redis password, for redis-cli too
export REDISCLI_AUTH
GRACE=$((PARTITION_SECONDS + 60)) # the hosts of rooms taken over resume after the heal

redis-server --port "$rport" --bind 127.0.0.1 "$REDIS_ADDR" --requirepass "$REDISCLI_AUTH" \
    --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
BG_PIDS+=("$REDIS_PID")
wait_for redis-server "$REDIS_PID" "$WORK/redis.log" \
    redis-cli --no-auth-warning -h "$REDIS_ADDR" -p "$rport" ping

# signal_args NODE ADDR PORT REDIS_HOST: the command-line options of node NODE (A or B).
signal_args() {
    printf '%s\n' --listen "$2:$3" --cert certs/server.crt --key certs/server.key \
        --public-url "https://localhost:$3" --allowed-origin "https://localhost:$port_a" \
        --allowed-origin "https://localhost:$port_b" --api-key "$API_KEY" \
        --turn-secret "turn-$(openssl rand -hex 8)" --ice-server "turn:127.0.0.1:3478" \
        --redis "redis://:$REDISCLI_AUTH@$4:$rport" --node-id "node$1" --resume-grace "$GRACE" \
        --data-dir "$WORK/data$1" --log "$WORK/meta$1.log" --max-conns-per-ip-per-min 100000 \
        --max-conns-per-ip 100000
}

# ready NODE: true when node NODE answers /readyz with 200.
ready() {
    if [ "$1" = A ]; then
        curl -fsS -m 2 --cacert certs/ca.crt --resolve "localhost:$port_a:$A_ADDR" \
            "https://localhost:$port_a/readyz"
    else
        curl -fsS -m 2 --cacert certs/ca.crt --resolve "localhost:$port_b:127.0.0.1" \
            "https://localhost:$port_b/readyz"
    fi
}

# Node A in the namespace: `ip netns exec` execs vc-signal itself, so $! is its pid. /metrics is
# read from the clients' end of its link.
mapfile -t args < <(signal_args A "$A_ADDR" "$port_a" "$REDIS_ADDR")
ip netns exec "$NS" "$VC_BUILD/bin/vc-signal" "${args[@]}" --metrics-allow "$SUBNET.5/32" \
    >"$WORK/nodeA.log" 2>&1 &
PID_A=$!
BG_PIDS+=("$PID_A")
mapfile -t args < <(signal_args B 127.0.0.1 "$port_b" 127.0.0.1)
"$VC_BUILD/bin/vc-signal" "${args[@]}" >"$WORK/nodeB.log" 2>&1 &
PID_B=$!
BG_PIDS+=("$PID_B")
wait_for "vc-signal node A" "$PID_A" "$WORK/nodeA.log" ready A
wait_for "vc-signal node B" "$PID_B" "$WORK/nodeB.log" ready B
[ "$(readlink "/proc/$PID_A/exe")" = "$(readlink -f "$VC_BUILD/bin/vc-signal")" ] ||
    die "pid $PID_A is $(readlink "/proc/$PID_A/exe"), not vc-signal"

# --- Redis, /metrics, descriptors and the hub, for the checks ------------------------------------

rcli() {
    redis-cli --no-auth-warning -h 127.0.0.1 -p "$rport" "$@"
}

# redis_clients: connections Redis holds, this redis-cli's own left out.
redis_clients() {
    rcli client list | grep -vc 'cmd=client'
}

# metrics NODE: node NODE's /metrics (empty when unreachable).
metrics() {
    local addr=127.0.0.1 port=$port_b
    [ "$1" = A ] && addr=$A_ADDR port=$port_a
    curl -fsS -m 3 --cacert certs/ca.crt --resolve "localhost:$port:$addr" \
        "https://localhost:$port/metrics" 2>/dev/null
}

# gauge NODE NAME: one sample of node NODE's /metrics.
gauge() {
    metrics "$1" | awk -v n="$2" '$1 == n { print $2 }'
}

# fds PID: how many file descriptors PID has open ("gone" when it has exited).
fds() {
    if [ -d "/proc/$1/fd" ]; then
        find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
    else
        echo gone
    fi
}

# fd_targets PID: what PID's descriptors point at (socket:, pipe: without their inode), sorted.
fd_targets() {
    find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | sed 's/:\[[0-9]*\]$//' | sort
}

# fds_within PID BASE: PID is running with at most BASE + FD_SLACK descriptors open.
fds_within() {
    local n
    n=$(fds "$1")
    [ "$n" != gone ] && [ "$n" -le $(($2 + FD_SLACK)) ]
}

# hub_counts PID: "SESSIONS LINKS" (hub sessions, proxied and remote cluster connections) of a
# running vc-signal, read with gdb at its next 1 s tick; empty when gdb cannot tell.
hub_counts() {
    command -v gdb >/dev/null || return 0
    timeout 30 gdb -p "$1" -batch -nx -ex 'set pagination off' -ex 'break cluster_tick' \
        -ex continue -ex 'printf "counts %lu %lu\n", cl->srv->hub->nsessions, cl->nlinks' \
        -ex 'delete' -ex detach 2>/dev/null | awk '/^counts [0-9]+ [0-9]+$/ { print $2, $3 }'
}

# settled: both nodes have no room and their baseline connections, fds within the slack.
settled() {
    [ "$(gauge A vc_signal_rooms)" = 0 ] && [ "$(gauge B vc_signal_rooms)" = 0 ] &&
        [ "$(gauge A vc_signal_connections)" = "$conn_a" ] &&
        [ "$(gauge B vc_signal_connections)" = "$conn_b" ] &&
        fds_within "$PID_A" "$fd_a" && fds_within "$PID_B" "$fd_b"
}

# leak_checks NODE PID BASE_FD BASE_CONN: node NODE is running with no room, its baseline
# connections and descriptors, and (when gdb can tell) no hub session or cluster link left.
leak_checks() {
    local n=$1 pid=$2 base_fd=$3 base_conn=$4 m rooms conns now_fd counts
    m=$(metrics "$n")
    rooms=$(awk '$1 == "vc_signal_rooms" { print $2 }' <<<"$m")
    conns=$(awk '$1 == "vc_signal_connections" { print $2 }' <<<"$m")
    now_fd=$(fds "$pid")
    echo "# node $n: $now_fd fds (baseline $base_fd), ${conns:-?} connections, ${rooms:-?} rooms," \
        "takeovers $(awk '$1 == "vc_signal_takeovers_total" { print $2 }' <<<"$m")"
    check "fault_partition_node_${n}_still_running" "see $WORK/node$n.log" kill -0 "$pid"
    check "fault_partition_node_${n}_no_rooms_left" "vc_signal_rooms ${rooms:-unreadable}" \
        [ "${rooms:-x}" = 0 ]
    check "fault_partition_node_${n}_connections_back_to_baseline" \
        "vc_signal_connections ${conns:-unreadable}, baseline $base_conn" [ "${conns:-x}" = "$base_conn" ]
    check "fault_partition_node_${n}_fds_back_to_baseline" \
        "$now_fd open fds, baseline $base_fd (+$FD_SLACK); new: $(fd_targets "$pid" | comm -13 "$WORK/fds$n" - | tr '\n' ' ')" \
        fds_within "$pid" "$base_fd"
    counts=$(hub_counts "$pid")
    if [ -z "$counts" ]; then
        skip "fault_partition_node_${n}_no_sessions_or_links_left" "gdb could not read the hub of pid $pid"
        return
    fi
    echo "# node $n: ${counts% *} hub sessions, ${counts#* } cluster links"
    check "fault_partition_node_${n}_no_sessions_or_links_left" \
        "${counts% *} hub sessions and ${counts#* } cluster links (proxied or remote connections) left with no client connected" \
        [ "$counts" = "0 0" ]
}

# --- the baseline the leak checks compare with -----------------------------------------------------

sleep 1 # the readiness probes' connections are closed
fd_a=$(fds "$PID_A") fd_b=$(fds "$PID_B")
fd_targets "$PID_A" >"$WORK/fdsA"
fd_targets "$PID_B" >"$WORK/fdsB"
conn_a=$(gauge A vc_signal_connections) conn_b=$(gauge B vc_signal_connections)
keys_before=$(rcli --scan --pattern 'vc:*' | sort | tr '\n' ' ')
clients_before=$(redis_clients)
echo "# baseline: node A $fd_a fds, $conn_a connections; node B $fd_b fds, $conn_b connections;" \
    "Redis keys: $keys_before"

# --- the calls, the partition and the heal --------------------------------------------------------

ca=$PWD/certs/ca.crt
(cd tests/faults && VC_CA=$ca VC_API_KEY=$API_KEY VC_A_ADDR=$A_ADDR VC_A_PORT=$port_a \
    VC_B_PORT=$port_b VC_REDIS_PORT=$rport VC_LINK=$VK_HOST \
    VC_PARTITION_SECONDS=$PARTITION_SECONDS timeout $((PARTITION_SECONDS + 120)) "$NODE" \
    partition.mjs) >"$WORK/partition.out" 2>&1
ip link set "$VK_HOST" up 2>/dev/null # healed even when the driver died mid-partition
cat "$WORK/partition.out"
counts_from "$WORK/partition.out" fault_partition_driver

# --- after: nothing left behind ----------------------------------------------------------------

for _ in $(seq 1 50); do
    settled && break
    sleep 0.2
done
sleep 2 # and it stays so past a tick or two
leak_checks A "$PID_A" "$fd_a" "$conn_a"
leak_checks B "$PID_B" "$fd_b" "$conn_b"
left=$(rcli --scan --pattern 'vc:*' | grep -E '^vc:(room|home|tok|owner):|^vc:rooms$' | sort | tr '\n' ' ')
check fault_partition_no_room_keys_left_in_redis "left: $left" [ -z "$left" ]
echo "# Redis keys now: $(rcli --scan --pattern 'vc:*' | grep -v '^vc:ended:' | sort | tr '\n' ' ')and" \
    "$(rcli --scan --pattern 'vc:ended:*' | wc -l) tombstones (vc:ended:*)"

# Not checked: Redis drops node A's connections from before the partition only when node A's
# retransmitted FIN (on TCP's backed-off timer) reaches it after the heal.
echo "# Redis clients now: $(redis_clients) (baseline $clients_before)"
stop_checked "$PID_A" fault_partition_node_A_exits_cleanly "$WORK/nodeA.log"
stop_checked "$PID_B" fault_partition_node_B_exits_cleanly "$WORK/nodeB.log"
for n in A B; do
    check "fault_partition_node_${n}_log_has_no_sanitizer_report" "see $WORK/node$n.log" \
        no_sanitizer_report "$WORK/node$n.log"
done
finish
