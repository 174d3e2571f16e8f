#!/usr/bin/env bash
# The TURN pool from outside: vc-signal health-checks vc-turn nodes with STUN Binding and hands a
# room's peers only healthy nodes of the room's region. Three vc-turn processes on loopback (a1
# and a2 in region a, b1 in region b) and a dead port (region a, nothing listening): region a
# needs two live nodes so that killing one still leaves a healthy node to hand out; with none
# healthy the region's nodes go out anyway, by design (data stays in the chosen region).
. "$(dirname "$0")/lib.sh"
# The checks pass single-quoted conditions to eval on purpose, so they expand when run.
# shellcheck disable=SC2016

TESTS_DIR=tests/signal
ROOT=$PWD
WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT

need_node
npm_ci "$TESTS_DIR" ws
need_dev_certs
[ -x "$VC_BUILD/bin/vc-signal" ] && [ -x "$VC_BUILD/bin/vc-turn" ] ||
    die "build $VC_BUILD/bin/vc-signal and $VC_BUILD/bin/vc-turn first"

# Ports: four for the nodes (the dead one stays unbound) and one for vc-signal, each checked
# free; relay ranges come from pick_ports' block of 200.
pick_ports
P_A1=$(free_port) && P_A2=$(free_port) && P_B1=$(free_port) && P_DEAD=$(free_port) &&
    SIG_PORT=$(free_port) || die "no free ports"
[ "$(printf '%s\n' "$P_A1" "$P_A2" "$P_B1" "$P_DEAD" "$SIG_PORT" | sort -u | wc -l)" -eq 5 ] ||
    die "free_port gave the same port twice; run again"

# start_turn NAME PORT RELAY_MIN: a vc-turn on 127.0.0.1:PORT (UDP and TCP); its pid goes in
# TURN_PIDS[NAME].
declare -A TURN_PIDS
start_turn() {
    local name=$1 port=$2 lo=$3
    "$VC_BUILD/bin/vc-turn" --listen "127.0.0.1:$port" --relay-ip 127.0.0.1 \
        --ports "$lo-$((lo + 29))" --realm vc --secret "$TURN_SECRET" --threads 1 \
        --log "$TEST_LOGS/$SUITE-$name-meta.log" >"$TEST_LOGS/$SUITE-$name.log" 2>&1 &
    BG_PIDS+=($!)
    TURN_PIDS[$name]=$!
    wait_for "vc-turn $name" $! "$TEST_LOGS/$SUITE-$name.log" \
        sh -c "ss -Hlnu 'sport = :$port' | grep -q ."
}
start_turn a1 "$P_A1" "$RELAY_MIN"
start_turn a2 "$P_A2" $((RELAY_MIN + 30))
start_turn b1 "$P_B1" $((RELAY_MIN + 60))

API_KEY=key-$(openssl rand -hex 20)
SIG_LOG=$TEST_LOGS/$SUITE-signal.log
node_spec() { # REGION PORT
    echo "region=$1,weight=100,stun=127.0.0.1:$2,urls=turn:127.0.0.1:$2?transport=udp|turn:127.0.0.1:$2?transport=tcp"
}
start_signal "$SIG_LOG" "$SIG_PORT" --listen "127.0.0.1:$SIG_PORT" \
    --public-url "https://localhost:$SIG_PORT" --api-key "$API_KEY" --turn-secret "$TURN_SECRET" \
    --data-dir "$WORK/data" --log "$TEST_LOGS/$SUITE-signal-meta.log" \
    --ice-server stun:127.0.0.1:3478 \
    --turn-node "$(node_spec a "$P_A1")" --turn-node "$(node_spec a "$P_A2")" \
    --turn-node "$(node_spec b "$P_B1")" --turn-node "$(node_spec a "$P_DEAD")" \
    --default-region a

# join REGION|-: prints the helper's one line ("urls ..." or "status N CODE").
join() {
    VC_CA=$ROOT/certs/ca.crt timeout 10 "$NODE" "$TESTS_DIR/pool_join.mjs" "$SIG_PORT" "$API_KEY" "$1" 2>&1 |
        tail -n 1
}
has() { [[ " $1 " == *":$2?"* ]]; } # has LINE PORT: a URL of the node on PORT is in LINE

# The first probe round runs before vc-signal listens, so the very first join already knows.
out=$(join -)
check pool_default_region_gets_both_live_a_nodes "$out" \
    eval 'has "$out" "$P_A1" && has "$out" "$P_A2"'
check pool_default_region_gets_no_other_region "$out" eval '! has "$out" "$P_B1"'
check pool_dead_node_not_handed_out "$out" eval '! has "$out" "$P_DEAD"'
check pool_turn_urls_carry_credentials "$out" \
    eval '[[ "$out" == *"turn:127.0.0.1:$P_A1?transport=udp+cred"* ]]'
check pool_stun_ice_server_kept "$out" eval '[[ "$out" == *" stun:127.0.0.1:3478 "* ]]'

out=$(join b)
check pool_region_b_gets_only_b1 "$out" \
    eval 'has "$out" "$P_B1" && ! has "$out" "$P_A1" && ! has "$out" "$P_A2" && ! has "$out" "$P_DEAD"'
out=$(join a)
check pool_region_a_gets_only_a_nodes "$out" \
    eval 'has "$out" "$P_A1" && has "$out" "$P_A2" && ! has "$out" "$P_B1"'
out=$(join mars)
check pool_unknown_region_refused_with_400 "$out" test "$out" = "status 400 bad_request"

# Kill a2: within two missed probes (at most ~12 s) new joins no longer get it.
kill -KILL "${TURN_PIDS[a2]}"
wait "${TURN_PIDS[a2]}" 2>/dev/null
forget_pid "${TURN_PIDS[a2]}"
t0=$SECONDS
gone=
dead_seen=
while [ $((SECONDS - t0)) -le 13 ]; do
    out=$(join a)
    has "$out" "$P_DEAD" && dead_seen=$out
    if [[ "$out" == urls* ]] && ! has "$out" "$P_A2"; then
        gone=$((SECONDS - t0))
        break
    fi
    sleep 0.5
done
check pool_killed_node_dropped_within_12s "last: $out" test -n "$gone"
echo "# a2 no longer handed out after ${gone:-?} s"
check pool_survivor_still_handed_out "$out" eval 'has "$out" "$P_A1"'
check pool_dead_node_never_handed_out "$dead_seen" test -z "$dead_seen"
check pool_dead_node_logged_down_after_two_probes "see $SIG_LOG" \
    grep -q "node 127.0.0.1:$P_DEAD (region a) is down" "$SIG_LOG"
check pool_killed_node_logged_down "see $SIG_LOG" \
    grep -q "node 127.0.0.1:$P_A2 (region a) is down" "$SIG_LOG"
check pool_no_degraded_warning "see $SIG_LOG" not_grep -q "no healthy node" "$SIG_LOG"

stop_checked "$SIGNAL_PID" pool_signal_exits_cleanly "$SIG_LOG"
check pool_signal_log_has_no_sanitizer_report "see $SIG_LOG" no_sanitizer_report "$SIG_LOG"
finish
