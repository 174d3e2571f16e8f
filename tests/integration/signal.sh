#!/usr/bin/env bash
# Starts vc-signal on loopback and runs the node integration tests (tests/signal) against it:
# REST, vc.v1 over WebSocket, limits, the HTTP edge, the consultation reports, the canary call;
# then scans logs and database once more.
# Environment: VC_BUILD (default build); VC_ONLY=REGEX runs only the node tests whose names match;
# VC_SIGNAL_DATABASE (and VC_SIGNAL_DATABASE_PASSWORD_FILE) put the accounts in that PostgreSQL
# database instead of SQLite (tests/integration/postgres.sh does).
. "$(dirname "$0")/lib.sh"

TESTS_DIR=tests/signal
RESUME_GRACE=5
WORK=$(mktemp -d)
ROOT=$PWD
trap 'cleanup; rm -rf "$WORK"' EXIT

# --- prerequisites -------------------------------------------------------------------------------

need_node
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing (make $VC_BUILD/bin/vc-signal)"
need_dev_certs
npm_ci "$TESTS_DIR" ws

# --- the server ----------------------------------------------------------------------------------

port=$(free_port) || die "no free TCP port found after 30 tries"

API_KEY=key-$(openssl rand -hex 20)
SIGNAL_TURN_SECRET=turn-$(openssl rand -hex 20)
LOGS_ABS=$(cd "$TEST_LOGS" && pwd)
DATA_DIR=$LOGS_ABS/$SUITE-data
META_LOG=$LOGS_ABS/$SUITE-meta.log
SERVER_LOG=$LOGS_ABS/$SUITE-server.log
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

BOB_EMAIL=bob-$canary@example.test
BOB_PASSWORD=bob-pw-$(openssl rand -hex 12)
CAROL_EMAIL=carol-$canary@example.test
CAROL_PASSWORD=carol-pw-$(openssl rand -hex 12)
DANA_EMAIL=dana-$canary@example.test
DANA_PASSWORD=dana-pw-$(openssl rand -hex 12)
ERIN_EMAIL=erin-$canary@example.test
ERIN_PASSWORD=erin-pw-$(openssl rand -hex 12)

signal_team_add "$DATA_DIR" Cardiology Renal Reports Audit
signal_user_add "$DATA_DIR" "$ALICE_EMAIL" "Alice Example" "$ALICE_PASSWORD" --team Cardiology
signal_user_add "$DATA_DIR" "$BOB_EMAIL" "Dr Bob" "$BOB_PASSWORD" --team Cardiology
signal_user_add "$DATA_DIR" "$CAROL_EMAIL" "Dr Carol" "$CAROL_PASSWORD" --team Renal
signal_user_add "$DATA_DIR" "$DANA_EMAIL" "Dr Dana" "$DANA_PASSWORD" --team Reports
signal_user_add "$DATA_DIR" "$ERIN_EMAIL" "Dr Erin" "$ERIN_PASSWORD" --team Audit
signal_user_add "$DATA_DIR" "$CANARY_EMAIL" "$CANARY_NAME" "$CANARY_PASSWORD"

# The pages are served from a copy of src/web with symbolic links in it (to /etc, to
# /etc/passwd, to a file and a directory inside the root): none may be followed.
WEB_ROOT=$WORK/web
cp -r src/web "$WEB_ROOT"
ln -s /etc "$WEB_ROOT/etc-link"
ln -s /etc/passwd "$WEB_ROOT/passwd.txt"
ln -s index.html "$WEB_ROOT/alias.html"
ln -s js "$WEB_ROOT/js-link"

# --max-conns-per-ip-per-min: every test client comes from 127.0.0.1; the default 60 would
# refuse the suite's ~100 WebSocket connections a minute. The HTTP edge's limits are small so
# that slow clients are seen closed within seconds (tests/signal/test_edge.mjs).
HEADER_TIMEOUT=4
BODY_TIMEOUT=3
MAX_CONNS_PER_IP=64
mapfile -t db < <(db_args "$DATA_DIR")
argv=(--listen "127.0.0.1:$port" --cert certs/server.crt
    --key certs/server.key --public-url "https://localhost:$port" --api-key "$API_KEY"
    --turn-secret "$SIGNAL_TURN_SECRET" --ice-server stun:127.0.0.1:3478
    --ice-server 'turn:127.0.0.1:3478?transport=udp' "${db[@]}" --log "$META_LOG"
    --resume-grace "$RESUME_GRACE" --max-msg-rate 50 --max-conns-per-ip-per-min 100000
    --allowed-origin https://app.example.test --web-root "$WEB_ROOT"
    --http-header-timeout "$HEADER_TIMEOUT" --http-body-timeout "$BODY_TIMEOUT"
    --max-conns-per-ip "$MAX_CONNS_PER_IP")
echo "# server: ${argv[*]//$API_KEY/KEY}" | sed "s/$SIGNAL_TURN_SECRET/SECRET/"
start_signal "$SERVER_LOG" "$port" "${argv[@]}"

# --- the node tests ------------------------------------------------------------------------------

out=$WORK/node.out
(
    cd "$TESTS_DIR" &&
        VC_PORT=$port VC_API_KEY=$API_KEY VC_TURN_SECRET=$SIGNAL_TURN_SECRET VC_CA=$ROOT/certs/ca.crt \
            VC_META_LOG=$META_LOG VC_SERVER_LOG=$SERVER_LOG VC_DATA_DIR=$DATA_DIR \
            VC_CANARY_FILE=$WORK/canaries.json VC_RESUME_GRACE=$RESUME_GRACE \
            VC_ALICE_EMAIL=$ALICE_EMAIL VC_ALICE_PASSWORD=$ALICE_PASSWORD \
            VC_BOB_EMAIL=$BOB_EMAIL VC_BOB_PASSWORD=$BOB_PASSWORD \
            VC_CAROL_EMAIL=$CAROL_EMAIL VC_CAROL_PASSWORD=$CAROL_PASSWORD \
            VC_DANA_EMAIL=$DANA_EMAIL VC_DANA_PASSWORD=$DANA_PASSWORD \
            VC_ERIN_EMAIL=$ERIN_EMAIL VC_ERIN_PASSWORD=$ERIN_PASSWORD \
            VC_CANARY_EMAIL=$CANARY_EMAIL VC_CANARY_PASSWORD=$CANARY_PASSWORD VC_CANARY_NAME=$CANARY_NAME \
            VC_HTTP_HEADER_TIMEOUT=$HEADER_TIMEOUT VC_HTTP_BODY_TIMEOUT=$BODY_TIMEOUT \
            VC_MAX_CONNS_PER_IP=$MAX_CONNS_PER_IP \
            timeout 150 "$NODE" run.mjs
) 2>&1 | tee "$out"
counts_from "$out" signal_node_tests

stop_checked "$SIGNAL_PID" signal_server_exits_cleanly_on_sigterm "$SERVER_LOG"
check signal_server_log_has_no_sanitizer_report "see $SERVER_LOG" no_sanitizer_report "$SERVER_LOG"

# After shutdown SQLite has checkpointed its WAL: search the files once more.
if [ -s "$WORK/canaries.json" ]; then
    "$NODE" "$TESTS_DIR/scan.mjs" "$WORK/canaries.json" >"$out" 2>&1
    cat "$out"
    counts_from "$out" canary_absent_after_shutdown
elif [ -z "${VC_ONLY:-}" ]; then
    fail canary_absent_after_shutdown "the canary call wrote no list of canaries"
fi

finish
