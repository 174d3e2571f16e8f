#!/usr/bin/env bash
# Starts vc-turn and vc-signal on loopback and runs the browser tests (tests/e2e) against the web
# pages in headless Debian Chromium driven by playwright-core; screenshots go to $VC_BUILD/screenshots.
# Environment: VC_BUILD (default build); VC_ONLY=REGEX runs only the browser tests whose names match;
# CHROMIUM (default /usr/bin/chromium). A suite that runs other test files through this script
# (e2e_mesh.sh) sets E2E_SUITE, E2E_FILES (test files in tests/e2e) and E2E_SHOTS (a subfolder of
# the screenshots, its own).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2034 # read by lib.sh
SUITE=${E2E_SUITE:-e2e}
E2E_FILES=${E2E_FILES:-test_call.mjs test_clinic.mjs test_reports.mjs test_screens.mjs}
TESTS_DIR=tests/e2e
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
RESUME_GRACE=30
WORK=$(mktemp -d)
ROOT=$PWD
trap 'cleanup; rm -rf "$WORK"' EXIT

# --- prerequisites -------------------------------------------------------------------------------

need_node
[ -x "$CHROMIUM" ] ||
    die "$CHROMIUM is missing: install Debian's chromium (deploy/install-deps.sh test, or apt-get install chromium)"
"$CHROMIUM" --version >/dev/null 2>&1 || die "$CHROMIUM --version fails"
for b in vc-turn vc-signal; do
    [ -x "$VC_BUILD/bin/$b" ] || die "$VC_BUILD/bin/$b is missing (make $VC_BUILD/bin/$b)"
done
command -v curl >/dev/null || die "curl is not installed"
need_dev_certs
npm_ci "$TESTS_DIR" playwright-core
npm_ci "$TESTS_DIR" axe-core
npm_ci "$TESTS_DIR" puppeteer-core

# --- ports and configuration ---------------------------------------------------------------------

pick_ports
sport=$(free_port) || die "no free TCP port found after 30 tries"

LOGS_ABS=$(cd "$TEST_LOGS" && pwd)
SHOTS=$(mkdir -p "$VC_BUILD/screenshots/${E2E_SHOTS:-}" && cd "$VC_BUILD/screenshots/${E2E_SHOTS:-}" && pwd)
rm -f "$SHOTS"/*.png
DATA_DIR=$LOGS_ABS/$SUITE-data
TURN_META=$LOGS_ABS/$SUITE-turn-meta.log
TURN_LOG=$LOGS_ABS/$SUITE-turn-server.log
SIGNAL_META=$LOGS_ABS/$SUITE-signal-meta.log
SIGNAL_LOG=$LOGS_ABS/$SUITE-signal-server.log
rm -rf "$DATA_DIR"
mkdir -p "$DATA_DIR"
: >"$TURN_META"
: >"$SIGNAL_META"
API_KEY=key-$(openssl rand -hex 20)
SECRET=turn-$(openssl rand -hex 20)
EMAIL=dr@example.org
AMES_EMAIL=ames@example.org
BELL_EMAIL=bell@example.org
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

signal_user_add "$DATA_DIR" "$EMAIL" "Dr Test" "$PASSWORD"
# The clinic day's tests (test_clinic.mjs) have their own team, so the rooms the call tests leave
# behind stay out of their waiting area: Dr Ames works in two teams, Dr Bell in one of them.
signal_team_add "$DATA_DIR" Clinic Renal
signal_user_add "$DATA_DIR" "$AMES_EMAIL" "Dr Ames" "$PASSWORD" --team Clinic --team Renal
signal_user_add "$DATA_DIR" "$BELL_EMAIL" "Dr Bell" "$PASSWORD" --team Clinic

# --max-conns-per-ip-per-min: every browser connects from 127.0.0.1, and reconnect tests open more
# WebSockets than the default 60 a minute allows.
signal_argv=(--listen "127.0.0.1:$sport" --cert certs/server.crt
    --key certs/server.key --public-url "https://localhost:$sport" --api-key "$API_KEY"
    --turn-secret "$SECRET" --ice-server "turn:127.0.0.1:$TURN_PORT?transport=udp"
    --ice-server "stun:127.0.0.1:$TURN_PORT" --data-dir "$DATA_DIR" --log "$SIGNAL_META"
    --resume-grace "$RESUME_GRACE" --max-conns-per-ip-per-min 100000)
# E2E_BRANDING=FILE (e2e_access.sh): the organisation's branding on the patient's pages.
[ -n "${E2E_BRANDING:-}" ] && signal_argv+=(--branding "$E2E_BRANDING")
echo "# vc-signal: ${signal_argv[*]//$API_KEY/KEY}" | sed "s/$SECRET/SECRET/"
start_signal "$SIGNAL_LOG" "$sport" "${signal_argv[@]}"

# --- the browser tests ---------------------------------------------------------------------------

out=$WORK/node.out
(
    cd "$TESTS_DIR" &&
        VC_BASE_URL=https://localhost:$sport VC_PORT=$sport VC_API_KEY=$API_KEY \
            VC_CA=$ROOT/certs/ca.crt VC_METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics \
            VC_EMAIL=$EMAIL VC_PASSWORD=$PASSWORD VC_SCREENSHOTS=$SHOTS VC_CHROMIUM=$CHROMIUM \
            VC_AMES_EMAIL=$AMES_EMAIL VC_BELL_EMAIL=$BELL_EMAIL \
            VC_SIGNAL_META=$SIGNAL_META VC_TURN_META=$TURN_META VC_RESUME_GRACE=$RESUME_GRACE \
            VC_SIGNAL_LOG=$SIGNAL_LOG VC_DATA_DIR=$DATA_DIR VC_E2E_FILES=$E2E_FILES \
            timeout 280 "$NODE" run.mjs
) 2>&1 | tee "$out"
counts_from "$out" "${SUITE}_browser_tests"

stop_checked "$SIGNAL_PID" "${SUITE}_signal_exits_cleanly_on_sigterm" "$SIGNAL_LOG"
stop_checked "$TURN_PID" "${SUITE}_turn_exits_cleanly_on_sigterm" "$TURN_LOG"
check "${SUITE}_server_logs_have_no_sanitizer_report" "see $SIGNAL_LOG and $TURN_LOG" \
    no_sanitizer_report "$SIGNAL_LOG" "$TURN_LOG"

finish
