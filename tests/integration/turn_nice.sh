#!/usr/bin/env bash
# Connects two libnice ICE agents through the TURN server only (relay candidates, UDP and TCP).
# TURN_SERVER=vc (default) tests build/bin/vc-turn; TURN_SERVER=coturn tests Debian's turnserver.
. "$(dirname "$0")/lib.sh"

nice_bin=$VC_BUILD/tests/nice_relay
[ -x "$nice_bin" ] || die "$nice_bin is missing (make $nice_bin)"

pick_ports
start_server "$SUITE" allow

# run_nice NAME ARGS...: one nice_relay run (bounded to 90 s); its ok/FAIL lines count here.
run_nice() {
    local name=$1 log=$TEST_LOGS/$SUITE-$1.log rc
    shift
    rest_creds "nice-$name"
    timeout 90 "$nice_bin" --server "127.0.0.1:$TURN_PORT" --user "$TURN_USER" --pass "$TURN_PASS" \
        --count 100 --timeout 15 "$@" >"$log" 2>&1
    rc=$?
    grep -E '^(ok|FAIL) ' "$log"
    passed=$((passed + $(grep -c '^ok ' "$log")))
    failed=$((failed + $(grep -c '^FAIL ' "$log")))
    if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
        fail "nice_$name" "nice_relay exit $rc without a FAIL line; log $log"
    fi
    if ! grep -qE '^[0-9]+ passed, [0-9]+ failed' "$log"; then
        tail -n 5 "$log" | sed 's/^/#   /'
    fi
}

relayed_before=$(metric vc_turn_relayed_packets_total)
run_nice udp
run_nice tcp --tcp
if is_vc; then
    relayed_after=$(metric vc_turn_relayed_packets_total)
    check nice_traffic_counted_in_metrics \
        "vc_turn_relayed_packets_total '$relayed_before' -> '$relayed_after'" \
        gt "$relayed_after" "$((relayed_before + 400))"
fi
stop_server
finish
