#!/usr/bin/env bash
# Smoke test of `vc-load signal` against a vc-signal on loopback: a short run, its JSON, clean-up
# of the rooms, and the errors (bad arguments, refused port, wrong key, Origin, untrusted CA).
# With PEERJS_DIR=DIR (holding node_modules/peer) it also drives a PeerJS server.
. "$(dirname "$0")/lib.sh"

load=$VC_BUILD/bin/vc-load
[ -x "$load" ] || die "$load is missing (make $load)"
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing"
command -v jq >/dev/null || die "jq is missing"
need_dev_certs

# run_load NAME ARGS...: one vc-load run bounded to 60 s; sets LOAD_RC, LOAD_OUT, LOAD_ERR.
run_load() {
    LOAD_OUT=$TEST_LOGS/load-signal-$1.out
    LOAD_ERR=$TEST_LOGS/load-signal-$1.err
    shift
    timeout 60 "$load" signal "$@" >"$LOAD_OUT" 2>"$LOAD_ERR"
    LOAD_RC=$?
}

jq_true() {
    jq -e "$2" "$1" >/dev/null 2>&1
}

# --- the server ----------------------------------------------------------------------------------
port=$(free_port) || die "no free TCP port found after 30 tries"
KEY=key-$(openssl rand -hex 16)
DATA_DIR=$(mktemp -d)
trap 'cleanup; rm -rf "$DATA_DIR"' EXIT
SERVER_LOG=$TEST_LOGS/load-signal-server.log
url=https://localhost:$port
start_signal "$SERVER_LOG" "$port" --listen "127.0.0.1:$port" --cert certs/server.crt \
    --key certs/server.key --public-url "$url" --api-key "$KEY" \
    --turn-secret "turn-$(openssl rand -hex 8)" --ice-server stun:127.0.0.1:3478 \
    --data-dir "$DATA_DIR" --max-conns-per-ip-per-min 100000 --max-msg-rate 1000 \
    --max-rooms-per-owner 1000

# --- a short run: 10 rooms, 10 signals/s each, 3 s ------------------------------------------------
json=$TEST_LOGS/load-signal.json
rm -f "$json"
run_load run --url "$url" --api-key "$KEY" --rooms 10 --rate 10 --duration 3 --json "$json" \
    --server-pid "$SIGNAL_PID"
check load_signal_exits_0 "exit $LOAD_RC: $(head -c 300 "$LOAD_ERR")" test "$LOAD_RC" -eq 0
check load_signal_prints_summary "$(head -c 300 "$LOAD_OUT")" \
    grep -qE '^signal vc: rooms 10 .*msg/s.*errors 0' "$LOAD_OUT"
check load_signal_json_has_contract_fields "see $json" jq_true "$json" \
    '.protocol == "vc" and has("rooms") and has("connections") and has("messages_per_s") and
     has("errors") and has("reconnects") and has("server_cpu_s") and has("server_rss_kb") and
     has("rss_per_connection_kb") and (.join_latency_ms | has("p50") and has("p95") and has("p99"))'
check load_signal_all_rooms_joined "$(jq -c '{rooms_active, connections, first_error}' "$json" 2>&1)" \
    jq_true "$json" '.rooms_active == 10 and .connections == 20 and .join_latency_ms.samples == 10'
check load_signal_no_errors "$(jq -c '{errors, errors_by_kind, first_error}' "$json" 2>&1)" \
    jq_true "$json" '.errors == 0 and .reconnects == 0'
check load_signal_every_signal_relayed "$(jq -c '{messages_sent, messages_received}' "$json" 2>&1)" \
    jq_true "$json" '.messages_sent >= 250 and .messages_received == .messages_sent and
     .messages_lost == 0'
# 10 rooms x 10 signals/s: about 100 relayed per second.
check load_signal_rate_is_steady "$(jq -c '.messages_per_s' "$json" 2>&1)" \
    jq_true "$json" '.messages_per_s > 85 and .messages_per_s < 115'
check load_signal_server_sampled "$(jq -c '{server_cpu_s, server_rss_kb}' "$json" 2>&1)" \
    jq_true "$json" '.server_cpu_s != null and .server_cpu_s >= 0 and .server_rss_kb > 0'
live=$(curl -fsS -m 5 --cacert certs/ca.crt --resolve "localhost:$port:127.0.0.1" \
    -H "Authorization: Bearer $KEY" "$url/api/v1/rooms" | jq '.rooms | length')
check load_signal_deletes_its_rooms "live rooms after the run: $live" test "$live" = 0

# --- errors --------------------------------------------------------------------------------------
run_load badarg --url "$url" --api-key "$KEY" --rooms many
check load_signal_bad_argument_exits_2 "exit $LOAD_RC" test "$LOAD_RC" -eq 2
check load_signal_bad_argument_names_option "$(cat "$LOAD_ERR")" grep -q "rooms: 'many' is not an integer" "$LOAD_ERR"

run_load nourl --api-key "$KEY"
check load_signal_missing_url_exits_2 "exit $LOAD_RC: $(cat "$LOAD_ERR")" test "$LOAD_RC" -eq 2

run_load badproto --url "$url" --api-key "$KEY" --protocol sip
check load_signal_bad_protocol_exits_2 "exit $LOAD_RC: $(cat "$LOAD_ERR")" test "$LOAD_RC" -eq 2

closed=$(free_port) || die "no free TCP port"
run_load refused --url "https://localhost:$closed" --api-key "$KEY" --rooms 1 --duration 1
check load_signal_refused_exits_1 "exit $LOAD_RC" test "$LOAD_RC" -eq 1
check load_signal_refused_is_explained "$(cat "$LOAD_ERR")" grep -qi 'connection refused' "$LOAD_ERR"

run_load badkey --url "$url" --api-key "not-$KEY" --rooms 1 --duration 1
check load_signal_wrong_key_exits_1 "exit $LOAD_RC" test "$LOAD_RC" -eq 1
check load_signal_wrong_key_says_401 "$(cat "$LOAD_ERR")" grep -q 'HTTP 401.*--api-key' "$LOAD_ERR"

run_load origin --url "$url" --api-key "$KEY" --rooms 1 --duration 1 --origin https://evil.example
check load_signal_refused_origin_exits_1 "exit $LOAD_RC" test "$LOAD_RC" -eq 1
check load_signal_refused_origin_says_403 "$(cat "$LOAD_ERR")" grep -q 'HTTP 403' "$LOAD_ERR"

run_load untrusted --url "$url" --api-key "$KEY" --rooms 1 --duration 1 --ca certs/server.crt
check load_signal_untrusted_cert_exits_1 "exit $LOAD_RC" test "$LOAD_RC" -eq 1
check load_signal_untrusted_cert_is_explained "$(cat "$LOAD_ERR")" grep -q 'not trusted' "$LOAD_ERR"

run_load help --help
check load_signal_help_exits_0 "exit $LOAD_RC" test "$LOAD_RC" -eq 0
check load_signal_help_lists_options "see $LOAD_OUT" grep -q -- '--protocol vc|peerjs' "$LOAD_OUT"

stop_checked "$SIGNAL_PID" load_signal_server_exits_cleanly "$SERVER_LOG"

# --- PeerJS (optional) ---------------------------------------------------------------------------
PEERJS_DIR=${PEERJS_DIR:-}
if [ -n "$PEERJS_DIR" ] && [ -f "$PEERJS_DIR/node_modules/peer/dist/bin/peerjs.js" ]; then
    pport=$(free_port) || die "no free TCP port"
    node "$PEERJS_DIR/node_modules/peer/dist/bin/peerjs.js" --port "$pport" --host 127.0.0.1 \
        --sslkey certs/server.key --sslcert certs/server.crt >"$TEST_LOGS/load-signal-peerjs.log" 2>&1 &
    PJ_PID=$!
    BG_PIDS+=("$PJ_PID")
    for _ in $(seq 1 50); do
        ss -Hlnt "sport = :$pport" | grep -q . && break
        sleep 0.2
    done
    json=$TEST_LOGS/load-signal-peerjs.json
    run_load peerjs --url "https://localhost:$pport" --protocol peerjs --rooms 5 --duration 2 \
        --json "$json" --server-pid "$PJ_PID"
    check load_signal_peerjs_exits_0 "exit $LOAD_RC: $(head -c 300 "$LOAD_ERR")" test "$LOAD_RC" -eq 0
    check load_signal_peerjs_relays "$(jq -c '{connections, messages_sent, messages_received, errors}' "$json" 2>&1)" \
        jq_true "$json" '.protocol == "peerjs" and .connections == 10 and .errors == 0 and
         .messages_sent > 0 and .messages_received == .messages_sent'
    run_load peerjs-key --url "https://localhost:$pport" --protocol peerjs --peerjs-key nope \
        --rooms 1 --duration 1
    check load_signal_peerjs_wrong_key_exits_1 "exit $LOAD_RC" test "$LOAD_RC" -eq 1
    check load_signal_peerjs_wrong_key_is_explained "$(cat "$LOAD_ERR")" \
        grep -q 'Invalid key' "$LOAD_ERR"
    stop_pid "$PJ_PID"
    forget_pid "$PJ_PID"
else
    skip load_signal_peerjs "set PEERJS_DIR to a directory with node_modules/peer"
fi

finish
