#!/usr/bin/env bash
# Starts vc-signal on loopback and runs the node integration tests (tests/signal) against it:
# REST, vc.v1 over WebSocket, limits, the canary call; then scans logs and database once more.
# Environment: VC_BUILD (default build); VC_ONLY=REGEX runs only the node tests whose names match.
. "$(dirname "$0")/lib.sh"

NODE=${NODE:-node}
TESTS_DIR=tests/signal
RESUME_GRACE=5
WORK=$(mktemp -d)
ROOT=$PWD
trap 'cleanup; rm -rf "$WORK"' EXIT

# counts_from FILE: adds the last "N passed, N failed" line of FILE to the suite's totals; a
# missing line counts as one failure.
counts_from() {
    local line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        fail "$2" "no summary line (see above)"
        return
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed*}
    passed=$((passed + p))
    failed=$((failed + f))
}

# --- prerequisites -------------------------------------------------------------------------------

command -v "$NODE" >/dev/null || die "node is not installed (Node 20 or later is needed)"
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "node $("$NODE" --version) is too old (Node 20 or later is needed)"
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing (make $VC_BUILD/bin/vc-signal)"
[ -s certs/server.crt ] && [ -s certs/ca.crt ] || certs/gen-dev-certs.sh >/dev/null ||
    die "cannot create dev certs"
if [ ! -f "$TESTS_DIR/node_modules/ws/package.json" ]; then
    echo "# npm ci in $TESTS_DIR"
    (cd "$TESTS_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$TEST_LOGS/signal-npm.log" 2>&1 ||
        die "npm ci failed (see $TEST_LOGS/signal-npm.log)"
fi

# --- the server ----------------------------------------------------------------------------------

port=
for _ in $(seq 1 30); do
    p=$((30000 + RANDOM % 10000))
    if ports_free "$p" "$p"; then
        port=$p
        break
    fi
done
[ -n "$port" ] || die "no free TCP port found after 30 tries"

API_KEY=key-$(openssl rand -hex 20)
SIGNAL_TURN_SECRET=turn-$(openssl rand -hex 20)
LOGS_ABS=$(cd "$TEST_LOGS" && pwd)
DATA_DIR=$LOGS_ABS/signal-data
META_LOG=$LOGS_ABS/signal-meta.log
SERVER_LOG=$LOGS_ABS/signal-server.log
rm -rf "$DATA_DIR"
mkdir -p "$DATA_DIR"
: >"$META_LOG"
: >"$SERVER_LOG"

canary=$(openssl rand -hex 6)
ALICE_EMAIL=alice-$canary@example.test
ALICE_PASSWORD=alice-pw-$(openssl rand -hex 12)
CANARY_EMAIL=canary-$canary@example.test
CANARY_PASSWORD=CANARY-ACCOUNT-PW-$(openssl rand -hex 12)
CANARY_NAME="Dr Canary CANARY-DISPLAYNAME-$canary"

# user_add EMAIL NAME PASSWORD
user_add() {
    printf '%s\n' "$3" | "$VC_BUILD/bin/vc-signal" user add "$1" --name "$2" --data-dir "$DATA_DIR" \
        >>"$TEST_LOGS/signal-useradd.log" 2>&1 || die "vc-signal user add $1 failed (see $TEST_LOGS/signal-useradd.log)"
}
: >"$TEST_LOGS/signal-useradd.log"
user_add "$ALICE_EMAIL" "Alice Example" "$ALICE_PASSWORD"
user_add "$CANARY_EMAIL" "$CANARY_NAME" "$CANARY_PASSWORD"

# --max-conns-per-ip-per-min: every test client comes from 127.0.0.1; the default 60 would
# refuse the suite's ~100 WebSocket connections a minute.
argv=("$VC_BUILD/bin/vc-signal" --listen "127.0.0.1:$port" --cert certs/server.crt
    --key certs/server.key --public-url "https://localhost:$port" --api-key "$API_KEY"
    --turn-secret "$SIGNAL_TURN_SECRET" --ice-server stun:127.0.0.1:3478
    --ice-server 'turn:127.0.0.1:3478?transport=udp' --data-dir "$DATA_DIR" --log "$META_LOG"
    --resume-grace "$RESUME_GRACE" --max-msg-rate 50 --max-conns-per-ip-per-min 100000
    --allowed-origin https://app.example.test)
echo "# server: ${argv[*]//$API_KEY/KEY}" | sed "s/$SIGNAL_TURN_SECRET/SECRET/"
"${argv[@]}" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
BG_PIDS+=("$SERVER_PID")
up=
for _ in $(seq 1 50); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        tail -n 20 "$SERVER_LOG" | sed 's/^/#   /'
        die "vc-signal exited during start-up (see $SERVER_LOG)"
    fi
    if curl -fsS -m 1 --cacert certs/ca.crt --resolve "localhost:$port:127.0.0.1" \
        "https://localhost:$port/healthz" >/dev/null 2>&1; then
        up=1
        break
    fi
    sleep 0.2
done
[ -n "$up" ] || {
    tail -n 20 "$SERVER_LOG" | sed 's/^/#   /'
    die "vc-signal did not answer https://localhost:$port/healthz within 10 s"
}

# --- the node tests ------------------------------------------------------------------------------

out=$WORK/node.out
(
    cd "$TESTS_DIR" &&
        VC_PORT=$port VC_API_KEY=$API_KEY VC_TURN_SECRET=$SIGNAL_TURN_SECRET VC_CA=$ROOT/certs/ca.crt \
            VC_META_LOG=$META_LOG VC_SERVER_LOG=$SERVER_LOG VC_DATA_DIR=$DATA_DIR \
            VC_CANARY_FILE=$WORK/canaries.json VC_RESUME_GRACE=$RESUME_GRACE \
            VC_ALICE_EMAIL=$ALICE_EMAIL VC_ALICE_PASSWORD=$ALICE_PASSWORD \
            VC_CANARY_EMAIL=$CANARY_EMAIL VC_CANARY_PASSWORD=$CANARY_PASSWORD VC_CANARY_NAME=$CANARY_NAME \
            timeout 150 "$NODE" run.mjs
) 2>&1 | tee "$out"
counts_from "$out" signal_node_tests

stop_pid "$SERVER_PID"
forget_pid "$SERVER_PID"
check signal_server_exits_cleanly_on_sigterm "exit status $STOP_RC (see $SERVER_LOG)" test "$STOP_RC" -eq 0
check signal_server_log_has_no_sanitizer_report "see $SERVER_LOG" \
    not_grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$SERVER_LOG"

# After shutdown SQLite has checkpointed its WAL: search the files once more.
if [ -s "$WORK/canaries.json" ]; then
    "$NODE" "$TESTS_DIR/scan.mjs" "$WORK/canaries.json" >"$out" 2>&1
    cat "$out"
    counts_from "$out" canary_absent_after_shutdown
elif [ -z "${VC_ONLY:-}" ]; then
    fail canary_absent_after_shutdown "the canary call wrote no list of canaries"
fi

finish
