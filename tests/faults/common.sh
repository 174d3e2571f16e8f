# Shared helpers for the fault scenarios (sourced after tests/integration/lib.sh): vc-turn and
# vc-signal from config files for a Chromium call on loopback, and the call driver (call.mjs).
# Everything listens and sends on 127.0.0.1 (and the machine's own address, as tests/e2e does).
# shellcheck shell=bash

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
ROOT=$PWD
# shellcheck disable=SC2034 # used by the scenarios
LOGS_ABS=$(cd "$TEST_LOGS" && pwd)

# faults_call_prereqs: dies unless node, Chromium, the binaries and playwright-core are there.
faults_call_prereqs() {
    need_node
    [ -x "$CHROMIUM" ] || die "$CHROMIUM is missing (deploy/install-deps.sh test)"
    for b in vc-turn vc-signal; do
        [ -x "$VC_BUILD/bin/$b" ] || die "$VC_BUILD/bin/$b is missing (make $VC_BUILD/bin/$b)"
    done
    need_dev_certs
    npm_ci tests/e2e playwright-core
}

# faults_call_config WORK: writes WORK/turn.json and WORK/signal.json (the files both daemons
# read again on SIGHUP) and a clinician account; sets SPORT, API_KEY, SECRET, EMAIL, PASSWORD.
faults_call_config() {
    local work=$1 own=()
    pick_ports
    SPORT=$(free_port) || die "no free TCP port found after 30 tries"
    API_KEY=key-$(openssl rand -hex 20)
    SECRET=turn-$(openssl rand -hex 20)
    EMAIL=dr@example.org
    PASSWORD='correct horse battery'
    # As tests/integration/e2e.sh: Chromium's relayed candidates may talk to this machine's own
    # host candidates, which the default peer policy refuses, so exempt exactly those addresses.
    while read -r cidr; do
        [ -n "$cidr" ] && own+=("${cidr%/*}/32")
    done < <(ip -4 -o addr show scope global 2>/dev/null | awk '{ print $4 }')
    jq -n --arg l "127.0.0.1:$TURN_PORT" --arg p "$RELAY_MIN-$RELAY_MAX" --arg s "$SECRET" \
        --arg m "127.0.0.1:$METRICS_PORT" --arg log "$work/turn-meta.log" \
        --argjson own "$(printf '%s\n' "${own[@]}" | jq -R . | jq -s 'map(select(. != ""))')" \
        '{listen: [$l], "relay-ip": "127.0.0.1", ports: $p, realm: "vc", secret: $s,
          "allow-peer": (["127.0.0.0/8"] + $own), metrics: $m, log: $log, threads: 2}' \
        >"$work/turn.json" || die "cannot write $work/turn.json"
    rm -rf "$work/data"
    mkdir -p "$work/data"
    jq -n --arg l "127.0.0.1:$SPORT" --arg url "https://localhost:$SPORT" --arg k "$API_KEY" \
        --arg s "$SECRET" --arg d "$work/data" --arg log "$work/signal-meta.log" \
        --arg cert "$ROOT/certs/server.crt" --arg key "$ROOT/certs/server.key" \
        --arg t1 "turn:127.0.0.1:$TURN_PORT?transport=udp" --arg t2 "stun:127.0.0.1:$TURN_PORT" \
        '{listen: $l, cert: $cert, key: $key, "public-url": $url, "api-key": $k,
          "turn-secret": $s, "ice-server": [$t1, $t2], "data-dir": $d, log: $log,
          "resume-grace": 30, "max-conns-per-ip-per-min": 100000,
          "max-conns-per-ip": 100000}' \
        >"$work/signal.json" || die "cannot write $work/signal.json"
    # FAULT_WEB_ROOT: serve another copy of the web client (to try a client change).
    if [ -n "${FAULT_WEB_ROOT:-}" ]; then
        jq --arg w "$FAULT_WEB_ROOT" '. + {"web-root": $w}' "$work/signal.json" >"$work/s.json" &&
            mv "$work/s.json" "$work/signal.json"
    fi
    signal_user_add "$work/data" "$EMAIL" "Dr Test" "$PASSWORD"
}

# faults_start_turn WORK: starts vc-turn from WORK/turn.json (log appended to WORK/turn.log),
# sets TURN_PID and waits at most 10 s for /healthz.
faults_start_turn() {
    local work=$1
    "$VC_BUILD/bin/vc-turn" --config "$work/turn.json" >>"$work/turn.log" 2>&1 &
    TURN_PID=$!
    BG_PIDS+=("$TURN_PID")
    wait_for vc-turn "$TURN_PID" "$work/turn.log" \
        curl -fsS -m 1 "http://127.0.0.1:$METRICS_PORT/healthz"
}

# faults_start_signal WORK: starts vc-signal from WORK/signal.json; sets SIGNAL_PID.
faults_start_signal() {
    start_signal "$1/signal.log" "$SPORT" --config "$1/signal.json"
}

# faults_call_start WORK MODE: starts tests/faults/call.mjs MODE with its stdin on a FIFO (fd 7)
# and its output in WORK/call.out; waits at most 90 s for "ready". Sets CALL_PID.
faults_call_start() {
    local work=$1 mode=$2 shots
    shots=$work/screenshots
    mkdir -p "$shots"
    rm -f "$work/call.in"
    mkfifo "$work/call.in" || die "mkfifo failed"
    (
        cd tests/faults &&
            VC_BASE_URL=https://localhost:$SPORT VC_PORT=$SPORT VC_API_KEY=$API_KEY \
                VC_CA=$ROOT/certs/ca.crt VC_METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics \
                VC_EMAIL=$EMAIL VC_PASSWORD=$PASSWORD VC_SCREENSHOTS=$shots \
                VC_CHROMIUM=$CHROMIUM exec timeout 180 "$NODE" call.mjs "$mode"
    ) <"$work/call.in" >"$work/call.out" 2>&1 &
    CALL_PID=$!
    BG_PIDS+=("$CALL_PID")
    exec 7>"$work/call.in"
    for _ in $(seq 1 360); do
        grep -q '^ready' "$work/call.out" && return 0
        kill -0 "$CALL_PID" 2>/dev/null || break
        sleep 0.25
    done
    sed 's/^/#   /' "$work/call.out"
    die "the Chromium call was not set up within 90 s (see $work/call.out)"
}

# faults_call_go: tells the driver the fault happened now (epoch milliseconds).
faults_call_go() {
    echo "go $(date +%s%3N)" >&7
}

# faults_call_finish WORK: waits (bounded by the driver's own timeout) for the driver, shows its
# output and adds its "N passed, N failed" line to the totals.
faults_call_finish() {
    local work=$1
    exec 7>&-
    wait "$CALL_PID" 2>/dev/null
    forget_pid "$CALL_PID"
    grep -v '^ready' "$work/call.out"
    counts_from "$work/call.out" "${SUITE}_call_driver"
}

# faults_call_setup SUITE MODE: fresh work directory, both daemons from config files, and a
# relay-only Chromium call in MODE (recover|steady) already flowing. Sets SUITE and WORK.
faults_call_setup() {
    SUITE=$1
    WORK=$LOGS_ABS/$SUITE
    rm -rf "$WORK"
    mkdir -p "$WORK"
    faults_call_prereqs
    faults_call_config "$WORK"
    faults_start_turn "$WORK"
    faults_start_signal "$WORK"
    faults_call_start "$WORK" "$2"
}
