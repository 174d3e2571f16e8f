#!/usr/bin/env bash
# Relays traffic through the TURN server with coturn's independent client tools (UDP, TCP, TLS, IPv6).
# TURN_SERVER=vc (default) tests build/bin/vc-turn; TURN_SERVER=coturn tests Debian's turnserver.
. "$(dirname "$0")/lib.sh"

for tool in turnutils_uclient turnutils_peer turnutils_stunclient curl ss openssl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install coturn curl iproute2)"
done

pick_ports
start_server "$SUITE" allow
start_peer "$PEER_PORT" "$PEER_ADDR"
out=$TEST_LOGS/$SUITE
echo "# $TURN_SERVER on 127.0.0.1:$TURN_PORT (TLS $TURN_TLS_PORT), peer $PEER_ADDR:$PEER_PORT"

# 1. STUN Binding over UDP reflects our loopback address.
mapped=$(timeout 5 turnutils_stunclient -p "$TURN_PORT" 127.0.0.1 2>&1 |
    sed -nE 's/.*UDP reflexive addr: ([^ ]+)$/\1/p' | head -n1)
check stun_binding_udp_maps_loopback "mapped address '$mapped'" \
    matches '^127\.0\.0\.1:[0-9]+$' "$mapped"

auth_fail_before=$(metric vc_turn_auth_failures_total)

# 2-4. Relayed echo through the peer; every message must come back. uclient runs in its default
# mode: RTP and RTCP allocations, one of each pair redeeming the RESERVATION-TOKEN another got
# with EVEN-PORT R=1 (see uclient in lib.sh). -m N still sends on N sessions, except with -y.
rest_creds interop-udp
relay_check relay_udp_channeldata "$out-udp.log" 800 \
    -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" -w "$TURN_PASS" \
    -n 200 -m 4 -l 170 -z 10 127.0.0.1

rest_creds interop-send
relay_check relay_udp_send_indications "$out-send.log" 200 \
    -s -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" -w "$TURN_PASS" \
    -n 100 -m 2 -l 170 -z 10 127.0.0.1

rest_creds interop-big
relay_check relay_udp_1200_byte_messages "$out-big.log" 100 \
    -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" -w "$TURN_PASS" \
    -n 50 -m 2 -l 1200 -z 10 127.0.0.1

# -c: one allocation per session, with EVEN-PORT R=0 or no EVEN-PORT at all (at random).
rest_creds interop-nortcp
relay_check relay_udp_channeldata_without_rtcp_pairs "$out-nortcp.log" 400 -c \
    -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" -w "$TURN_PASS" \
    -n 100 -m 4 -l 170 -z 10 127.0.0.1

# Every token redeemed got the port after its even port: -v prints each relay address and the
# token answered with it ("rtv=N", 0 for none).
# token_pairs_adjacent LOG: true when each allocation answered with a token that the next one
# redeemed has an even port and the next one its port + 1, and there was at least one such pair.
token_pairs_adjacent() {
    awk '/Received relay addr/ { n = split($NF, a, ":"); port = a[n] + 0 }
        /rtv=/ { tok = $NF; sub(/.*rtv=/, "", tok)
            if (want) { if (port != want) bad = 1; want = 0; pairs++ }
            if (tok != "0") { if (port % 2) bad = 1; want = port + 1 } }
        END { exit (bad || !pairs) }' "$1"
}
rest_creds interop-pairs
relay_check relay_udp_even_port_pairs "$out-pairs.log" 20 -v \
    -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" -w "$TURN_PASS" \
    -n 10 -m 2 -l 100 -z 10 127.0.0.1
check relay_udp_token_redeems_the_next_port "see the relay addresses and rtv= in $out-pairs.log" \
    token_pairs_adjacent "$out-pairs.log"

# uclient's -W computes the REST credentials itself, an independent check of our HMAC helper.
relay_check relay_udp_uclient_rest_secret "$out-rest.log" 50 \
    -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u interop-w -W "$TURN_SECRET" \
    -n 25 -m 2 -l 100 -z 10 127.0.0.1

rest_creds interop-tcp
relay_check relay_tcp_channeldata "$out-tcp.log" 200 \
    -t -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" -w "$TURN_PASS" \
    -n 100 -m 2 -l 170 -z 10 127.0.0.1

# 5. TLS, verifying the server certificate against the dev CA.
rest_creds interop-tls
relay_check relay_tls_channeldata "$out-tls.log" 200 \
    -t -S -E certs/ca.crt -p "$TURN_TLS_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" \
    -u "$TURN_USER" -w "$TURN_PASS" -n 100 -m 2 -l 170 -z 10 127.0.0.1

# 6. IPv6: client and relays on ::1 (REQUESTED-ADDRESS-FAMILY via -x). The clients echo to each
# other's relay addresses (-y), since a ::1 echo peer outside the relay range is the server itself.
# With -y, -m 2 is one pair of clients, each with RTP and RTCP: 4 sessions of 50 messages.
if have_ipv6_loopback; then
    rest_creds interop-v6
    relay_check relay_udp_ipv6_client_to_client "$out-v6.log" 200 \
        -v -y -x -p "$TURN_PORT" -u "$TURN_USER" -w "$TURN_PASS" -n 50 -m 2 -l 170 -z 10 ::1
    check relay_udp_ipv6_relay_address_is_ipv6 "no 'IPv6. Received relay addr: ::1' in $out-v6.log" \
        grep -q 'IPv6. Received relay addr: ::1:' "$out-v6.log"
else
    skip relay_udp_ipv6_client_to_client "no ::1 on lo"
fi

# The server refuses to relay into its own listeners even with 127.0.0.0/8 allowed (vc only:
# coturn's --allow-loopback-peers opens them). CreatePermission (-s) must get 403.
if is_vc; then
    for target in "$TURN_PORT" "$METRICS_PORT"; do
        rest_creds "interop-self-$target"
        uclient "$out-self-$target.log" -s -p "$TURN_PORT" -e 127.0.0.1 -r "$target" \
            -u "$TURN_USER" -w "$TURN_PASS" -n 3 -m 1 -l 100 127.0.0.1
        check "peer_policy_refuses_own_port_$([ "$target" = "$TURN_PORT" ] && echo turn || echo metrics)" \
            "no 403 to CreatePermission for 127.0.0.1:$target; log $out-self-$target.log" \
            grep -q 'create permission error 403' "$out-self-$target.log"
    done
fi

# 8. Refusals: a wrong password, an expired username, a password made with another secret.
# refused_by_auth LOG: the Allocate never succeeded and no error other than 401 was reported.
refused_by_auth() {
    [ "$UC_RC" -ne 0 ] && [ "$UC_RC" -ne 124 ] && grep -q "Cannot complete Allocation" "$1" &&
        ! grep -E 'error [0-9]{3}' "$1" | grep -vq 'error 401'
}
rest_creds interop-bad
uclient "$out-badpass.log" -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" \
    -w "${TURN_PASS%?}A" -n 5 -m 1 -l 100 127.0.0.1
check auth_wrong_password_refused "uclient exit $UC_RC; log $out-badpass.log" \
    refused_by_auth "$out-badpass.log"

rest_creds interop-expired -60
uclient "$out-expired.log" -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" \
    -w "$TURN_PASS" -n 5 -m 1 -l 100 127.0.0.1
check auth_expired_username_refused "uclient exit $UC_RC; log $out-expired.log" \
    refused_by_auth "$out-expired.log"

rest_creds interop-othersecret
uclient "$out-othersecret.log" -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" \
    -w "$(rest_password "$TURN_USER" not-the-secret)" -n 5 -m 1 -l 100 -t 127.0.0.1
check auth_other_secret_refused_over_tcp "uclient exit $UC_RC; log $out-othersecret.log" \
    refused_by_auth "$out-othersecret.log"

# 7. Metrics and the metadata log (vc-turn only).
free_with_counts() {
    grep '"event":"turn.free"' "$1" | grep -E '"packets[a-z_]*":[1-9]' | grep -qE '"bytes[a-z_]*":[1-9]'
}
if is_vc; then
    relayed=$(metric vc_turn_relayed_packets_total)
    check metrics_relayed_packets_counted "vc_turn_relayed_packets_total='$relayed'" \
        gt "$relayed" 399
    auth_fail_after=$(metric vc_turn_auth_failures_total)
    check metrics_auth_failures_counted \
        "vc_turn_auth_failures_total '$auth_fail_before' -> '$auth_fail_after'" \
        gt "$auth_fail_after" "$auth_fail_before"
    allocs=$(metric vc_turn_allocations)
    check metrics_allocations_gauge_present "vc_turn_allocations='$allocs'" \
        matches '^[0-9]+$' "$allocs"
    check metadata_log_has_turn_alloc "no \"event\":\"turn.alloc\" line in $META_LOG" \
        grep -q '"event":"turn.alloc"' "$META_LOG"
    reserved=$(metric vc_turn_reservations_total)
    redeemed=$(metric vc_turn_reservations_redeemed_total)
    check metrics_reservations_counted "vc_turn_reservations_total='$reserved'" gt "$reserved" 0
    # The last reservation of each run is never redeemed; every other one is.
    check metrics_reservations_redeemed "vc_turn_reservations_redeemed_total='$redeemed'" \
        gt "$redeemed" 0
    rejected=$(metric vc_turn_reservation_tokens_rejected_total)
    check metrics_no_token_rejected "vc_turn_reservation_tokens_rejected_total='$rejected'" \
        test "$rejected" = 0
    # The ports nobody redeemed are released 30 s after they were reserved. The timer is user
    # space's alone, so the kernel-path-off rerun (tests/run.sh) does not wait for it again.
    [ "${VC_KERNEL_PATH:-}" = off ] && reserved_wait=0 || reserved_wait=40
    for _ in $(seq 1 "$reserved_wait"); do
        [ "$(metric vc_turn_reservations)" = 0 ] && break
        sleep 1
    done
    held=$(metric vc_turn_reservations)
    expired=$(metric vc_turn_reservations_expired_total)
    [ "$reserved_wait" = 0 ] ||
        check reservations_expire_after_30_s "vc_turn_reservations='$held', expired_total='$expired'" \
            test "$held" = 0 -a "$expired" = $((reserved - redeemed))
fi

stop_server

if is_vc; then
    # TCP/TLS allocations end with their connection and the rest at shutdown at the latest.
    free_lines=$(grep -c '"event":"turn.free"' "$META_LOG")
    check metadata_log_has_turn_free "$free_lines turn.free lines in $META_LOG" gt "$free_lines" 0
    check metadata_turn_free_has_packet_counts "no turn.free line with packets* and bytes* > 0" \
        free_with_counts "$META_LOG"
    check metadata_log_lines_are_json "a line of $META_LOG is not a JSON object" \
        not_grep -v '^{.*}$' "$META_LOG"
    check metadata_log_never_has_credentials "secret or password found in $META_LOG" \
        not_grep -F -e "$TURN_SECRET" -e "$TURN_PASS" "$META_LOG"
fi
check server_log_never_has_secret "TURN secret found in $SERVER_LOG" \
    not_grep -F -e "$TURN_SECRET" "$SERVER_LOG"

finish
