#!/usr/bin/env bash
# Checks from outside that the default peer policy refuses relaying to loopback peers.
# The server starts without --allow-peer 127.0.0.0/8 (coturn: without --allow-loopback-peers).
# TURN_SERVER=vc (default) tests build/bin/vc-turn; TURN_SERVER=coturn tests Debian's turnserver.
. "$(dirname "$0")/lib.sh"

pick_ports
start_server "$SUITE" noallow
start_peer "$PEER_PORT" "$PEER_ADDR"
have_ipv6_loopback && start_peer "$PEER6_PORT" ::1
out=$TEST_LOGS/$SUITE
denied_before=$(metric vc_turn_peer_denied_total)

# relay_refused NAME LOG: the allocation succeeded, the permission got 403 (RFC 8656 section 9)
# and nothing came back from the peer.
relay_refused() {
    local name=$1 log=$2 recv
    recv=$(sed -nE 's/.*start_mclient: tot_send_msgs=[0-9]+, tot_recv_msgs=([0-9]+)$/\1/p' "$log" |
        tail -n1)
    if [ "$UC_RC" -eq 124 ]; then
        fail "$name" "uclient timed out; log $log"
    elif ! grep -q 'Received relay addr' "$log"; then
        fail "$name" "the allocation itself failed, so the policy was not what refused; log $log"
    elif [ "$UC_RC" -eq 0 ] && [ "${recv:-0}" -gt 0 ]; then
        fail "$name" "$recv messages came back through the relay from a loopback peer; log $log"
    elif ! grep -qE '(channel bind|create permission).*error 403' "$log"; then
        fail "$name" "no 403 answer to ChannelBind/CreatePermission, got '$(grep -m1 -E 'error [0-9]{3}' "$log")'; log $log"
    else
        ok "$name"
    fi
}

rest_creds refusals-udp
uclient "$out-udp.log" -v -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" \
    -w "$TURN_PASS" -n 10 -m 2 -l 100 127.0.0.1
relay_refused peer_loopback_v4_refused_channels "$out-udp.log"

rest_creds refusals-send
uclient "$out-send.log" -v -s -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" \
    -w "$TURN_PASS" -n 10 -m 2 -l 100 127.0.0.1
relay_refused peer_loopback_v4_refused_send_indications "$out-send.log"

rest_creds refusals-tcp
uclient "$out-tcp.log" -v -t -s -p "$TURN_PORT" -e 127.0.0.3 -r "$PEER_PORT" -u "$TURN_USER" \
    -w "$TURN_PASS" -n 10 -m 2 -l 100 127.0.0.1
relay_refused peer_loopback_127_0_0_3_refused_over_tcp "$out-tcp.log"

if have_ipv6_loopback; then
    rest_creds refusals-v6
    uclient "$out-v6.log" -v -s -x -p "$TURN_PORT" -e ::1 -r "$PEER6_PORT" -u "$TURN_USER" \
        -w "$TURN_PASS" -n 10 -m 2 -l 100 ::1
    relay_refused peer_loopback_v6_refused "$out-v6.log"
fi

if is_vc; then
    denied_after=$(metric vc_turn_peer_denied_total)
    check metrics_peer_denied_counted \
        "vc_turn_peer_denied_total '$denied_before' -> '$denied_after'" \
        gt "$denied_after" "$denied_before"
    relayed=$(metric vc_turn_relayed_packets_total)
    check metrics_nothing_relayed_to_denied_peers "vc_turn_relayed_packets_total='$relayed'" \
        test "$relayed" = 0
fi
stop_server
finish
