#!/usr/bin/env bash
# The kernel fast path (issue 22): relaying, counters, the --bps cap, checksums and the peer policy
# with it on and off (the results must agree), expiry while user space is stopped, the fallback
# without capabilities, and allocation cycles that leave no map entry behind.
#   KERNEL_SOAK_CYCLES  allocate/bind/delete cycles of the soak (default 20000, about 4 s here;
#                       make test-kernel-soak runs 100,000)
#   KERNEL_EXPIRY=0     skips the 62 s expiry test
# Traffic stays on loopback, or inside network namespaces (TEST-NET addresses) this suite makes.
. "$(dirname "$0")/lib.sh"

TC=tests/integration/turnclient.py
SOAK=${KERNEL_SOAK_CYCLES:-20000}
is_vc || {
    skip turn_kernel "coturn has no kernel path"
    echo "0 passed, 0 failed"
    exit 0
}
for tool in python3 curl ip ethtool setpriv; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

# json FILE KEY: one field of the JSON line in FILE.
json() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"
}

# free_counts: "to_peer/to_client" of the last turn.free in the metadata log.
free_counts() {
    grep '"turn.free"' "$META_LOG" | grep '"deleted"' | tail -n 1 | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
print("%d/%d" % (d["packets_to_peer"], d["packets_to_client"]))'
}

# map_entries PID: entries in the relay_out and relay_in maps that process PID holds.
map_entries() {
    local pid=$1 fd id total=0 n
    for fd in /proc/"$pid"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:bpf-map" ] || continue
        id=$(awk '/^map_id:/ {print $2}' "/proc/$pid/fdinfo/${fd##*/}")
        bpftool -j map show id "$id" 2>/dev/null | grep -qE '"name":"relay_(out|in)"' || continue
        n=$(bpftool -j map dump id "$id" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
        total=$((total + n))
    done
    echo "$total"
}

# relay_round MODE NAME [client args...]: a vc-turn (kernel path on or off) on loopback, an echo peer
# on 127.0.0.2, and one client run; leaves the client's JSON in $OUT/NAME-MODE.json, the peer's in
# $OUT/NAME-MODE-peer.json, and the metrics in $OUT/NAME-MODE.metrics.
OUT=$TEST_LOGS/kernel
mkdir -p "$OUT"
relay_round() {
    local mode=$1 name=$2
    shift 2
    [ "$mode" = off ] && VC_TURN_ARGS+=(--kernel-path=false)
    start_server "kernel-$name-$mode" allow
    python3 "$TC" peer --bind "$PEER_ADDR:$PEER_PORT" --duration 6 --echo \
        >"$OUT/$name-$mode-peer.json" &
    local peer=$!
    sleep 0.3
    timeout 20 python3 "$TC" relay --server "127.0.0.1:$TURN_PORT" --secret "$TURN_SECRET" \
        --peer "$PEER_ADDR:$PEER_PORT" "$@" >"$OUT/$name-$mode.json" 2>>"$OUT/$name-$mode.err"
    wait "$peer"
    curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" >"$OUT/$name-$mode.metrics"
    grep -h relaying "$SERVER_LOG" >"$OUT/$name-$mode.path"
    stop_server
}

m() { awk -v k="$2" '$1 == k {print $2}' "$1"; }

# 1. Relaying both ways on loopback; the paths must agree on what arrived and what was counted.
pick_ports
for mode in on off; do
    VC_TURN_ARGS=()
    relay_round "$mode" relay --count 300 --refused "127.0.0.1:$TURN_PORT"
    f=$OUT/relay-$mode
    check "relay_${mode}_client_gets_every_echo" "$(cat "$f.json")" \
        test "$(json "$f.json" echoed)" = 300 -a "$(json "$f.json" bad)" = 0
    check "relay_${mode}_peer_gets_every_packet" "$(cat "$f-peer.json")" \
        test "$(json "$f-peer.json" received)" = 300 -a "$(json "$f-peer.json" bad)" = 0
    check "relay_${mode}_own_listener_refused_as_peer" "bind $(json "$f.json" refused_bind)" \
        test "$(json "$f.json" refused_bind)" = 403
    check "relay_${mode}_relayed_total_counts_both_hops" "$(m "$f.metrics" vc_turn_relayed_packets_total)" \
        test "$(m "$f.metrics" vc_turn_relayed_packets_total)" = 600
    check "relay_${mode}_turn_free_counts" "$(free_counts)" test "$(free_counts)" = 300/300
done
check relay_on_log_says_kernel "$(cat "$OUT/relay-on.path")" grep -q "in the kernel (eBPF" "$OUT/relay-on.path"
check relay_on_kernel_relayed_everything "$(m "$OUT/relay-on.metrics" vc_turn_kernel_relayed_packets_total)" \
    test "$(m "$OUT/relay-on.metrics" vc_turn_kernel_relayed_packets_total)" = 600
check relay_off_log_says_user_space "$(cat "$OUT/relay-off.path")" \
    grep -q "relaying in user space: the kernel path is off" "$OUT/relay-off.path"
check relay_off_kernel_relayed_nothing "$(m "$OUT/relay-off.metrics" vc_turn_kernel_path)" \
    test "$(m "$OUT/relay-off.metrics" vc_turn_kernel_path)" = 0 -a \
    "$(m "$OUT/relay-off.metrics" vc_turn_kernel_relayed_packets_total)" = 0

# 2. The --bps cap: 80 kbit/s lets one second's 10 kB through at once, both directions together;
# 40 x 1000 bytes in a burst, echoed, leave about 10 relayed in all (up to 14: the bucket refills
# one packet's worth every 100 ms while a slow, sanitized build still handles the burst; no cap at
# all would relay 80). Both paths alike.
for mode in on off; do
    VC_TURN_ARGS=(--bps 80000)
    relay_round "$mode" bps --count 40 --size 1000 --burst
    f=$OUT/bps-$mode
    got=$(($(json "$f-peer.json" received) + $(json "$f.json" echoed)))
    check "bps_${mode}_cap_lets_one_second_through" "$got relayed of 40 and their echoes" \
        test "$got" -ge 9 -a "$got" -le 14
    check "bps_${mode}_drops_counted" "$(m "$f.metrics" vc_turn_bandwidth_dropped_total)" \
        test "$(m "$f.metrics" vc_turn_bandwidth_dropped_total)" -ge 28
done

# 3. Without CAP_BPF and CAP_NET_ADMIN the same binary says why and relays in user space.
wrapper=$OUT/vc-turn-nocaps
printf '#!/bin/sh\nexec setpriv --bounding-set -bpf,-net_admin,-sys_admin,-perfmon --inh-caps=-all -- %s "$@"\n' \
    "$(realpath "$VC_TURN_BIN")" >"$wrapper"
chmod +x "$wrapper"
saved_bin=$VC_TURN_BIN
VC_TURN_BIN=$wrapper
VC_TURN_ARGS=()
relay_round on nocaps --count 100
VC_TURN_BIN=$saved_bin
f=$OUT/nocaps-on
check fallback_log_says_missing_capability "$(cat "$f.path")" \
    grep -q "relaying in user space: no kernel path: missing capability CAP_BPF" "$f.path"
check fallback_relays_in_user_space "$(cat "$f.json")" \
    test "$(json "$f.json" echoed)" = 100 -a "$(m "$f.metrics" vc_turn_kernel_path)" = 0

# 4. Expiry in the kernel: with vc-turn stopped (SIGSTOP) the kernel relays, and stops on time when
# the allocation (max-lifetime 60 s) expires, although user space never ran to delete anything.
if [ "${KERNEL_EXPIRY:-1}" != 0 ]; then
    VC_TURN_ARGS=(--max-lifetime 60)
    start_server kernel-expiry allow
    python3 "$TC" peer --bind "$PEER_ADDR:$PEER_PORT" --duration 65 --echo >"$OUT/expiry-peer.json" &
    peer=$!
    sleep 0.3
    timeout 90 python3 "$TC" relay --server "127.0.0.1:$TURN_PORT" --secret "$TURN_SECRET" \
        --peer "$PEER_ADDR:$PEER_PORT" --count 100 --pause 2 --ready "$OUT/expiry.ready" \
        --then 62 >"$OUT/expiry.json" 2>>"$OUT/expiry.err" &
    client=$!
    # The client writes the file once its channel is bound; a loaded machine can take seconds.
    for _ in $(seq 1 300); do [ -e "$OUT/expiry.ready" ] && break; sleep 0.1; done
    check expiry_client_bound_its_channel "$(cat "$OUT/expiry.err")" test -e "$OUT/expiry.ready"
    kill -STOP "$SERVER_PID"
    wait "$client"
    wait "$peer" # before user space runs again and relays what waited for it
    kill -CONT "$SERVER_PID"
    check expiry_kernel_relays_while_user_space_is_stopped "$(cat "$OUT/expiry.json")" \
        test "$(json "$OUT/expiry.json" echoed)" = 100
    check expiry_kernel_stops_when_the_allocation_expires "$(cat "$OUT/expiry.json")" \
        test "$(json "$OUT/expiry.json" echoed_after)" = 0
    check expiry_peer_got_nothing_after_expiry "$(cat "$OUT/expiry-peer.json")" \
        test "$(json "$OUT/expiry-peer.json" received)" = 100
    stop_server
    rm -f "$OUT/expiry.ready"
fi

# 5. In namespaces over veth: relay (R), client (C) and peer (P), with checksum offload off in C
# and P so that every datagram is checksummed by its sender and verified by its receiver. P also
# holds an address the policy refuses; the client only asks for a channel to it.
NS=vck$$
R=${NS}r C=${NS}c P=${NS}p
netns_cleanup() {
    ip netns del "$R" 2>/dev/null
    ip netns del "$C" 2>/dev/null
    ip netns del "$P" 2>/dev/null
}
netns_setup() {
    ip netns add "$R" && ip netns add "$C" && ip netns add "$P" || return 1
    ip link add "${NS}c0" netns "$C" type veth peer name "${NS}c1" netns "$R" || return 1
    ip link add "${NS}p0" netns "$P" type veth peer name "${NS}p1" netns "$R" || return 1
    ip -n "$R" addr add 192.0.2.1/24 dev "${NS}c1"
    ip -n "$R" addr add 198.51.100.1/24 dev "${NS}p1"
    ip -n "$C" addr add 192.0.2.2/24 dev "${NS}c0"
    ip -n "$P" addr add 198.51.100.2/24 dev "${NS}p0"
    ip -n "$P" addr add 198.51.100.66/24 dev "${NS}p0"
    for ns in "$R" "$C" "$P"; do ip -n "$ns" link set lo up; done
    ip -n "$R" link set "${NS}c1" up && ip -n "$R" link set "${NS}p1" up
    ip -n "$C" link set "${NS}c0" up && ip -n "$P" link set "${NS}p0" up
    ip netns exec "$C" ethtool -K "${NS}c0" tx off rx off >/dev/null 2>&1
    ip netns exec "$P" ethtool -K "${NS}p0" tx off rx off >/dev/null 2>&1
}
csum_errors() {
    ip netns exec "$1" awk '/^Udp:/ { if (h) { print $8 } else { h = 1 } }' /proc/net/snmp
}
ns_round() {
    local mode=$1 args=() pid peer refused f
    f=$OUT/ns-$mode
    [ "$mode" = off ] && args=(--kernel-path=false)
    ip netns exec "$R" "$VC_TURN_BIN" --listen 192.0.2.1:3478 --relay-ip 198.51.100.1 \
        --ports 40000-40099 --secret "$TURN_SECRET" --allow-peer 198.51.100.0/24 \
        --deny-peer 198.51.100.66/32 --metrics 127.0.0.1:9641 --log "$f-meta.log" --threads 2 \
        "${args[@]}" >"$f-server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do
        ip netns exec "$R" curl -fsS -m 1 http://127.0.0.1:9641/healthz >/dev/null 2>&1 && break
        sleep 0.2
    done
    ip netns exec "$P" python3 "$TC" peer --bind 198.51.100.2:5000 --duration 6 --echo >"$f-peer.json" &
    peer=$!
    ip netns exec "$P" python3 "$TC" peer --bind 198.51.100.66:5000 --duration 6 >"$f-refused.json" &
    refused=$!
    sleep 0.3
    timeout 20 ip netns exec "$C" python3 "$TC" relay --server 192.0.2.1:3478 \
        --secret "$TURN_SECRET" --peer 198.51.100.2:5000 --refused 198.51.100.66:5000 \
        --count 300 --size 1000 >"$f.json" 2>>"$f.err"
    wait "$peer" "$refused"
    ip netns exec "$R" curl -fsS http://127.0.0.1:9641/metrics >"$f.metrics"
    kill "$pid"
    wait "$pid"
    check "ns_${mode}_server_exits_cleanly" "see $f-server.log" test $? -eq 0
    check "ns_${mode}_client_gets_every_echo_intact" "$(cat "$f.json")" \
        test "$(json "$f.json" echoed)" = 300 -a "$(json "$f.json" bad)" = 0
    check "ns_${mode}_peer_gets_every_packet_intact" "$(cat "$f-peer.json")" \
        test "$(json "$f-peer.json" received)" = 300 -a "$(json "$f-peer.json" bad)" = 0
    check "ns_${mode}_refused_peer_is_refused" "bind $(json "$f.json" refused_bind)" \
        test "$(json "$f.json" refused_bind)" = 403
    check "ns_${mode}_refused_address_never_gets_a_packet" "$(cat "$f-refused.json")" \
        test "$(json "$f-refused.json" received)" = 0 -a "$(json "$f-refused.json" bad)" = 0
    check "ns_${mode}_no_udp_checksum_errors" "client $(csum_errors "$C"), peer $(csum_errors "$P")" \
        test "$(csum_errors "$C")" = 0 -a "$(csum_errors "$P")" = 0
}
trap 'netns_cleanup; cleanup' EXIT
if netns_setup; then
    ns_round on
    check ns_on_attached_to_both_veths "$(grep relaying "$OUT/ns-on-server.log")" \
        grep -q "on lo, ${NS}c1, ${NS}p1" "$OUT/ns-on-server.log"
    check ns_on_kernel_relayed_everything "$(m "$OUT/ns-on.metrics" vc_turn_kernel_relayed_packets_total)" \
        test "$(m "$OUT/ns-on.metrics" vc_turn_kernel_relayed_packets_total)" = 600
    ns_round off
else
    fail ns_setup "cannot create network namespaces and veth pairs"
fi
netns_cleanup

# 6. Allocation cycles with the kernel path on leave no map entry behind (and a restart starts from
# fresh maps: nothing is pinned, so they go with the process).
VC_TURN_ARGS=()
start_server kernel-soak allow
timeout 20 python3 "$TC" relay --server "127.0.0.1:$TURN_PORT" --secret "$TURN_SECRET" \
    --peer "$PEER_ADDR:$PEER_PORT" --count 10 --keep 3 >"$OUT/soak-live.json" 2>&1 &
live=$!
sleep 1.5
during=$(map_entries "$SERVER_PID")
wait "$live"
check soak_a_live_channel_has_both_entries "$during entries while one channel was bound" \
    test "$during" = 2
timeout 1200 python3 "$TC" cycles --server "127.0.0.1:$TURN_PORT" --secret "$TURN_SECRET" \
    --peer "$PEER_ADDR:$PEER_PORT" --count "$SOAK" >"$OUT/soak.json" 2>>"$OUT/soak.err"
check soak_cycles_all_succeed "$(cat "$OUT/soak.json")" \
    test "$(json "$OUT/soak.json" cycles)" = "$SOAK" -a "$(json "$OUT/soak.json" failed)" = 0
left=$(map_entries "$SERVER_PID")
check soak_leaves_no_map_entry "$left entries left in relay_out/relay_in" test "$left" = 0
check soak_kernel_path_was_on "$(grep relaying "$SERVER_LOG")" grep -q "in the kernel" "$SERVER_LOG"
stop_server
finish
