#!/usr/bin/env bash
# Starts vc-turn and vc-signal on loopback and runs the browser tests (tests/e2e) against the web
# pages in headless Debian Chromium driven by playwright-core; screenshots go to $VC_BUILD/screenshots.
# Environment: VC_BUILD (default build); VC_ONLY=REGEX runs only the browser tests whose names match;
# CHROMIUM (default /usr/bin/chromium).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2034 # read by lib.sh
SUITE=e2e
NODE=${NODE:-node}
TESTS_DIR=tests/e2e
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
RESUME_GRACE=30
WORK=$(mktemp -d)
ROOT=$PWD
trap 'cleanup; rm -rf "$WORK"' EXIT

# counts_from FILE NAME: adds the last "N passed, N failed" line of FILE to the suite's totals; a
# missing line counts as one failure named NAME.
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

# wait_for NAME PID LOG CMD...: polls CMD for at most 10 s while PID lives; else shows LOG and dies.
wait_for() {
    local name=$1 pid=$2 log=$3
    shift 3
    for _ in $(seq 1 50); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log" | sed 's/^/#   /'
            die "$name exited during start-up (see $log)"
        fi
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tail -n 20 "$log" | sed 's/^/#   /'
    die "$name did not come up within 10 s (see $log)"
}

# --- prerequisites -------------------------------------------------------------------------------

command -v "$NODE" >/dev/null || die "node is not installed (Node 20 or later is needed)"
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "node $("$NODE" --version) is too old (Node 20 or later is needed)"
[ -x "$CHROMIUM" ] ||
    die "$CHROMIUM is missing: install Debian's chromium (deploy/install-deps.sh test, or apt-get install chromium)"
"$CHROMIUM" --version >/dev/null 2>&1 || die "$CHROMIUM --version fails"
for b in vc-turn vc-signal; do
    [ -x "$VC_BUILD/bin/$b" ] || die "$VC_BUILD/bin/$b is missing (make $VC_BUILD/bin/$b)"
done
command -v curl >/dev/null || die "curl is not installed"
[ -s certs/server.crt ] && [ -s certs/ca.crt ] || certs/gen-dev-certs.sh >/dev/null ||
    die "cannot create dev certs"
if [ ! -f "$TESTS_DIR/node_modules/playwright-core/package.json" ]; then
    echo "# npm ci in $TESTS_DIR"
    (cd "$TESTS_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) \
        >"$TEST_LOGS/e2e-npm.log" 2>&1 || die "npm ci failed (see $TEST_LOGS/e2e-npm.log)"
fi

# --- ports and configuration ---------------------------------------------------------------------

pick_ports
sport=
for _ in $(seq 1 30); do
    p=$((30000 + RANDOM % 10000))
    if ports_free "$p" "$p"; then
        sport=$p
        break
    fi
done
[ -n "$sport" ] || die "no free TCP port found after 30 tries"

LOGS_ABS=$(cd "$TEST_LOGS" && pwd)
SHOTS=$(mkdir -p "$VC_BUILD/screenshots" && cd "$VC_BUILD/screenshots" && pwd)
rm -f "$SHOTS"/*.png
DATA_DIR=$LOGS_ABS/e2e-data
TURN_META=$LOGS_ABS/e2e-turn-meta.log
TURN_LOG=$LOGS_ABS/e2e-turn-server.log
SIGNAL_META=$LOGS_ABS/e2e-signal-meta.log
SIGNAL_LOG=$LOGS_ABS/e2e-signal-server.log
rm -rf "$DATA_DIR"
mkdir -p "$DATA_DIR"
: >"$TURN_META"
: >"$SIGNAL_META"
API_KEY=key-$(openssl rand -hex 20)
SECRET=turn-$(openssl rand -hex 20)
EMAIL=dr@example.org
PASSWORD='correct horse battery'

# Chromium gathers no candidates on loopback, so a direct call between two local pages runs over
# this machine's own interface address, and in a relayed call a relay may talk to such a host
# candidate. vc-turn's default peer policy refuses private and documentation ranges, so exempt
# exactly this machine's own IPv4 addresses (looked up now: they differ from machine to machine).
own_peers=()
while read -r cidr; do
    [ -n "$cidr" ] && own_peers+=(--allow-peer "${cidr%/*}/32")
done < <(ip -4 -o addr show scope global 2>/dev/null | awk '{ print $4 }')

# --- the servers ---------------------------------------------------------------------------------

turn_argv=("$VC_BUILD/bin/vc-turn" --listen "127.0.0.1:$TURN_PORT" --relay-ip 127.0.0.1
    --ports "$RELAY_MIN-$RELAY_MAX" --realm vc --secret "$SECRET" --allow-peer 127.0.0.0/8
    "${own_peers[@]}" --metrics "127.0.0.1:$METRICS_PORT" --log "$TURN_META" --threads 2)
echo "# vc-turn: ${turn_argv[*]//$SECRET/SECRET}"
"${turn_argv[@]}" >"$TURN_LOG" 2>&1 &
TURN_PID=$!
BG_PIDS+=("$TURN_PID")
wait_for vc-turn "$TURN_PID" "$TURN_LOG" curl -fsS -m 1 "http://127.0.0.1:$METRICS_PORT/healthz"

printf '%s\n' "$PASSWORD" | "$VC_BUILD/bin/vc-signal" user add "$EMAIL" --name "Dr Test" \
    --data-dir "$DATA_DIR" >"$TEST_LOGS/e2e-useradd.log" 2>&1 ||
    die "vc-signal user add failed (see $TEST_LOGS/e2e-useradd.log)"

# --max-conns-per-ip-per-min: every browser connects from 127.0.0.1, and reconnect tests open more
# WebSockets than the default 60 a minute allows.
signal_argv=("$VC_BUILD/bin/vc-signal" --listen "127.0.0.1:$sport" --cert certs/server.crt
    --key certs/server.key --public-url "https://localhost:$sport" --api-key "$API_KEY"
    --turn-secret "$SECRET" --ice-server "turn:127.0.0.1:$TURN_PORT?transport=udp"
    --ice-server "stun:127.0.0.1:$TURN_PORT" --data-dir "$DATA_DIR" --log "$SIGNAL_META"
    --resume-grace "$RESUME_GRACE" --max-conns-per-ip-per-min 100000)
echo "# vc-signal: ${signal_argv[*]//$API_KEY/KEY}" | sed "s/$SECRET/SECRET/"
"${signal_argv[@]}" >"$SIGNAL_LOG" 2>&1 &
SIGNAL_PID=$!
BG_PIDS+=("$SIGNAL_PID")
wait_for vc-signal "$SIGNAL_PID" "$SIGNAL_LOG" curl -fsS -m 1 --cacert certs/ca.crt \
    --resolve "localhost:$sport:127.0.0.1" "https://localhost:$sport/healthz"

# --- the browser tests ---------------------------------------------------------------------------

out=$WORK/node.out
(
    cd "$TESTS_DIR" &&
        VC_BASE_URL=https://localhost:$sport VC_PORT=$sport VC_API_KEY=$API_KEY \
            VC_CA=$ROOT/certs/ca.crt VC_METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics \
            VC_EMAIL=$EMAIL VC_PASSWORD=$PASSWORD VC_SCREENSHOTS=$SHOTS VC_CHROMIUM=$CHROMIUM \
            VC_SIGNAL_META=$SIGNAL_META VC_TURN_META=$TURN_META \
            timeout 240 "$NODE" run.mjs
) 2>&1 | tee "$out"
counts_from "$out" e2e_browser_tests

stop_pid "$SIGNAL_PID"
forget_pid "$SIGNAL_PID"
check e2e_signal_exits_cleanly_on_sigterm "exit status $STOP_RC (see $SIGNAL_LOG)" test "$STOP_RC" -eq 0
stop_pid "$TURN_PID"
forget_pid "$TURN_PID"
check e2e_turn_exits_cleanly_on_sigterm "exit status $STOP_RC (see $TURN_LOG)" test "$STOP_RC" -eq 0
check e2e_server_logs_have_no_sanitizer_report "see $SIGNAL_LOG and $TURN_LOG" \
    not_grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$SIGNAL_LOG" "$TURN_LOG"

finish
