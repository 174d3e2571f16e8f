# Shared helpers for the integration suites: ports, server start/stop (vc-turn or coturn, vc-signal),
# REST credentials, node prerequisites, checks.
# Source it from a suite; it cds to the repository root. Environment:
#   VC_BUILD     build directory (default build)
#   TURN_SERVER  vc (default: $VC_BUILD/bin/vc-turn) | coturn (Debian's turnserver), same tests
#   VC_TURN_BIN  the vc-turn that start_server runs (default $VC_BUILD/bin/vc-turn; make tsan
#                points it at a ThreadSanitizer build while the clients stay uninstrumented)
#   VC_KERNEL_PATH  on (default: vc-turn relays bound channels in the kernel where it can) or off
#                (start_server adds --kernel-path=false): tests/run.sh runs the TURN suites both ways
# Everything listens and sends on loopback only (127.0.0.1, ::1).
# shellcheck shell=bash

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
VC_BUILD=${VC_BUILD:-build}
TURN_SERVER=${TURN_SERVER:-vc}
VC_TURN_BIN=${VC_TURN_BIN:-$VC_BUILD/bin/vc-turn}
TEST_LOGS=$VC_BUILD/test-logs
mkdir -p "$TEST_LOGS"
# A suite run by another (signal.sh under postgres.sh) is named by VC_SUITE, so that its log files
# never clash with its own run in the other lane.
SUITE=${VC_SUITE:-$(basename "$0" .sh)}

passed=0
failed=0
BG_PIDS=()
SERVER_PID=
SERVER_LOG=
META_LOG=

# --- results -------------------------------------------------------------------------------------

ok() {
    echo "ok $1"
    passed=$((passed + 1))
}

# fail NAME WHY
fail() {
    echo "FAIL $1 (${2:-no reason given})"
    failed=$((failed + 1))
}

# skip NAME WHY: not counted either way, but visible in the output.
skip() {
    echo "skip $1 (${2:-})"
}

# check NAME WHY CMD...: ok when CMD succeeds, else FAIL with WHY.
check() {
    local name=$1 why=$2
    shift 2
    if "$@"; then ok "$name"; else fail "$name" "$why"; fi
}

# finish: prints the summary line tests/run.sh sums and exits non-zero on any failure.
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

# die WHY: a setup step failed; counts one failure and ends the suite.
die() {
    fail "${SUITE}_setup" "$1"
    finish
}

is_vc() {
    [ "$TURN_SERVER" = vc ]
}

# --- ports ---------------------------------------------------------------------------------------

# True when no TCP or UDP socket is bound to a port in [lo, hi].
ports_free() {
    local lo=$1 hi=$2
    ss -Hlntu 2>/dev/null | awk -v lo="$lo" -v hi="$hi" '
        { n = split($5, a, ":"); p = a[n] + 0; if (p >= lo && p <= hi) bad = 1 }
        END { exit bad ? 1 : 0 }'
}

# The IPv4 echo peer lives on 127.0.0.2: vc-turn refuses peers on its own address (127.0.0.1)
# outside the relay port range, so that nobody relays into its listeners.
PEER_ADDR=127.0.0.2

# pick_ports: sets TURN_PORT, TURN_TLS_PORT, METRICS_PORT, PEER_PORT, PEER6_PORT and the relay
# range RELAY_MIN..RELAY_MAX from a random base in 20000-29800 whose 200 ports are all unused.
# tests/run.sh runs two lanes of suites at once and gives each its half (VC_PORT_LANE 1 or 2).
pick_ports() {
    local base lo=20000 n=490
    case ${VC_PORT_LANE:-} in
    1) n=245 ;;
    2) lo=25100 n=240 ;;
    esac
    for _ in $(seq 1 30); do
        base=$((lo + (RANDOM % n) * 20))
        if ports_free "$base" $((base + 199)); then
            TURN_PORT=$base
            TURN_TLS_PORT=$((base + 10))
            METRICS_PORT=$((base + 12))
            PEER_PORT=$((base + 14))
            PEER6_PORT=$((base + 16))
            RELAY_MIN=$((base + 100))
            RELAY_MAX=$((base + 199))
            return 0
        fi
    done
    die "no free port range found after 30 tries"
}

have_ipv6_loopback() {
    grep -qi '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}

# --- credentials ---------------------------------------------------------------------------------

TURN_SECRET="vc-test-$RANDOM$RANDOM"

# rest_password USER [SECRET]: base64(HMAC-SHA1(secret, user)), the TURN REST API password.
rest_password() {
    printf %s "$1" | openssl dgst -sha1 -hmac "${2:-$TURN_SECRET}" -binary | base64
}

# rest_creds ID [TTL_SECONDS]: sets TURN_USER ("EXPIRY:ID") and TURN_PASS. A negative TTL gives
# an already expired username.
rest_creds() {
    local ttl=${2:-3600}
    TURN_USER="$(($(date +%s) + ttl)):$1"
    TURN_PASS=$(rest_password "$TURN_USER")
}

# --- background processes ------------------------------------------------------------------------

# stop_pid PID: SIGTERM, then SIGKILL after 5 s; sets STOP_RC to the exit status.
stop_pid() {
    local pid=$1
    STOP_RC=0
    kill -0 "$pid" 2>/dev/null || {
        wait "$pid" 2>/dev/null
        STOP_RC=$?
        return 0
    }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "# pid $pid ignored SIGTERM for 5 s; killing it"
        kill -KILL "$pid" 2>/dev/null
        STOP_RC=137
        wait "$pid" 2>/dev/null
        return 0
    fi
    wait "$pid" 2>/dev/null
    STOP_RC=$?
}

cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        stop_pid "$pid"
    done
    BG_PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
    local keep=() pid
    for pid in "${BG_PIDS[@]}"; do
        [ "$pid" = "$1" ] || keep+=("$pid")
    done
    BG_PIDS=("${keep[@]}")
}

# start_peer PORT ADDR: an echo peer (turnutils_peer) on loopback.
start_peer() {
    local port=$1 addr=$2
    turnutils_peer -p "$port" -L "$addr" >"$TEST_LOGS/$SUITE-peer-$port.log" 2>&1 &
    BG_PIDS+=($!)
    for _ in $(seq 1 50); do
        ss -Hlnu "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    die "echo peer on $addr:$port did not start within 5 s"
}

# --- vc-signal and the node suites ----------------------------------------------------------------

# free_port: prints an unused TCP port in 30000-39999; fails when 30 tries found none.
free_port() {
    local p
    for _ in $(seq 1 30); do
        p=$((10000 + RANDOM % 10000)) # below the ephemeral range, clear of pick_ports
        if ports_free "$p" "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
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

# need_dev_certs: creates the development CA and localhost certificate in certs/ when missing.
need_dev_certs() {
    [ -s certs/server.crt ] && [ -s certs/ca.crt ] && [ -s certs/ca.key ] ||
        certs/gen-dev-certs.sh >/dev/null || die "cannot create dev certs"
}

# need_node: dies unless $NODE (default node) is Node 20 or later.
need_node() {
    local major
    NODE=${NODE:-node}
    command -v "$NODE" >/dev/null || die "node is not installed (Node 20 or later is needed)"
    major=$("$NODE" -p 'process.versions.node.split(".")[0]')
    [ "$major" -ge 20 ] || die "node $("$NODE" --version) is too old (Node 20 or later is needed)"
}

# npm_ci DIR PACKAGE: installs DIR's locked node packages unless DIR/node_modules/PACKAGE is
# there (never a browser download); the log goes to $TEST_LOGS/$SUITE-npm.log. A lock per DIR
# keeps two suites of the two lanes from running npm ci in one folder at once.
npm_ci() {
    local dir=$1 log
    [ -f "$dir/node_modules/$2/package.json" ] && return 0
    log=$(cd "$TEST_LOGS" && pwd)/$SUITE-npm.log
    (
        flock 9
        [ -f "$dir/node_modules/$2/package.json" ] && exit 0
        echo "# npm ci in $dir"
        cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error \
            >"$log" 2>&1
    ) 9>"$TEST_LOGS/npm-$(basename "$dir").lock" || die "npm ci failed (see $log)"
}

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

# start_signal LOG PORT ARGS...: starts $VC_BUILD/bin/vc-signal ARGS... in the background with its
# output in LOG, sets SIGNAL_PID (stopped on exit) and waits at most 10 s until
# https://localhost:PORT/healthz answers under the dev CA; dies, showing LOG, if it never does.
start_signal() {
    local log=$1 port=$2
    shift 2
    "$VC_BUILD/bin/vc-signal" "$@" >"$log" 2>&1 &
    SIGNAL_PID=$!
    BG_PIDS+=("$SIGNAL_PID")
    wait_for vc-signal "$SIGNAL_PID" "$log" curl -fsS -m 1 --cacert certs/ca.crt \
        --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/healthz"
}

# db_args DATA_DIR: the account database options of vc-signal and of its user and team commands,
# one a line: SQLite in DATA_DIR, or, when VC_SIGNAL_DATABASE is set (a postgresql:// URL), that
# PostgreSQL database with VC_SIGNAL_DATABASE_PASSWORD_FILE, if set.
db_args() {
    if [ -z "${VC_SIGNAL_DATABASE:-}" ]; then
        printf '%s\n' --data-dir "$1"
        return 0
    fi
    printf '%s\n' --database "$VC_SIGNAL_DATABASE"
    [ -z "${VC_SIGNAL_DATABASE_PASSWORD_FILE:-}" ] ||
        printf '%s\n' --database-password-file "$VC_SIGNAL_DATABASE_PASSWORD_FILE"
}

# signal_user_add DATA_DIR EMAIL NAME PASSWORD [OPTION...]: adds a vc-signal account to DATA_DIR
# (or VC_SIGNAL_DATABASE: db_args) with OPTIONs such as --team NAME; dies when that fails. Output
# goes to $TEST_LOGS/$SUITE-useradd.log, emptied by the suite's first call.
USERADD_LOGGED=
signal_user_add() {
    local log=$TEST_LOGS/$SUITE-useradd.log dir=$1 email=$2 name=$3 pw=$4 db
    shift 4
    [ -n "$USERADD_LOGGED" ] || : >"$log"
    USERADD_LOGGED=1
    mapfile -t db < <(db_args "$dir")
    printf '%s\n' "$pw" | "$VC_BUILD/bin/vc-signal" user add "$email" --name "$name" \
        "${db[@]}" "$@" >>"$log" 2>&1 || die "vc-signal user add $email failed (see $log)"
}

# signal_team_add DATA_DIR NAME...: adds teams to DATA_DIR's accounts (or VC_SIGNAL_DATABASE's);
# dies when that fails.
signal_team_add() {
    local dir=$1 t db
    shift
    mapfile -t db < <(db_args "$dir")
    for t in "$@"; do
        "$VC_BUILD/bin/vc-signal" team add "$t" "${db[@]}" >>"$TEST_LOGS/$SUITE-useradd.log" 2>&1 ||
            die "vc-signal team add $t failed"
    done
}

# stop_checked PID NAME LOG: stops PID and checks, as test NAME, that it exited 0 on SIGTERM.
stop_checked() {
    stop_pid "$1"
    forget_pid "$1"
    check "$2" "exit status $STOP_RC (see $3)" test "$STOP_RC" -eq 0
}

# no_sanitizer_report LOG...: true when no LOG holds an ASan, LSan or UBSan report.
no_sanitizer_report() {
    not_grep -E 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$@"
}

# --- the server ----------------------------------------------------------------------------------

# server_cmd NAME [allow|noallow]: prints the argv (one per line) to start the chosen server.
server_cmd() {
    local name=$1 policy=${2:-allow}
    if is_vc; then
        printf '%s\n' "$VC_TURN_BIN" --listen "127.0.0.1:$TURN_PORT"
        have_ipv6_loopback && printf '%s\n' --listen "[::1]:$TURN_PORT"
        printf '%s\n' --tls-listen "127.0.0.1:$TURN_TLS_PORT" --cert certs/server.crt \
            --key certs/server.key --relay-ip 127.0.0.1
        have_ipv6_loopback && printf '%s\n' --relay-ip6 ::1
        printf '%s\n' --ports "$RELAY_MIN-$RELAY_MAX" --realm vc --secret "$TURN_SECRET"
        [ "$policy" = allow ] && printf '%s\n' --allow-peer 127.0.0.0/8 --allow-peer ::1/128
        printf '%s\n' --metrics "127.0.0.1:$METRICS_PORT" --log "$META_LOG" --threads 2
        [ "${VC_KERNEL_PATH:-on}" = off ] && printf '%s\n' --kernel-path=false
        [ -z "${VC_TURN_ARGS+x}" ] || printf '%s\n' "${VC_TURN_ARGS[@]}"
    else
        printf '%s\n' turnserver -n --no-cli --log-file=stdout --simple-log --no-dtls \
            --fingerprint -L 127.0.0.1
        have_ipv6_loopback && printf '%s\n' -L ::1
        printf '%s\n' -p "$TURN_PORT" --tls-listening-port "$TURN_TLS_PORT" -E 127.0.0.1
        have_ipv6_loopback && printf '%s\n' -E ::1
        printf '%s\n' --min-port "$RELAY_MIN" --max-port "$RELAY_MAX" -r vc --use-auth-secret \
            --static-auth-secret "$TURN_SECRET" --cert certs/server.crt --pkey certs/server.key \
            --pidfile "$TEST_LOGS/$name-coturn.pid" --no-rfc5780
        [ "$policy" = allow ] && printf '%s\n' --allow-loopback-peers
    fi
    return 0
}

# server_listening: one STUN Binding over UDP answered within 1 s.
server_listening() {
    timeout 2 turnutils_stunclient -p "$TURN_PORT" 127.0.0.1 2>/dev/null | grep -q 'reflexive addr'
}

# start_server NAME [allow|noallow]: starts the server (vc-turn with the VC_TURN_ARGS array, if set) and waits (at most 10 s) until UDP, TCP,
# TLS (and, for vc, /healthz) answer. Logs go to $TEST_LOGS/NAME-server.log (and -meta.log).
start_server() {
    local name=$1 policy=${2:-allow} argv
    SERVER_LOG=$TEST_LOGS/$name-server.log
    META_LOG=$TEST_LOGS/$name-meta.log
    : >"$META_LOG"
    if is_vc && [ ! -x "$VC_TURN_BIN" ]; then
        die "$VC_TURN_BIN is missing (build it first)"
    fi
    [ -s certs/server.crt ] || certs/gen-dev-certs.sh >/dev/null || die "cannot create dev certs"
    mapfile -t argv < <(server_cmd "$name" "$policy")
    echo "# server ($TURN_SERVER): ${argv[*]//$TURN_SECRET/SECRET}"
    "${argv[@]}" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    BG_PIDS+=("$SERVER_PID")
    for _ in $(seq 1 50); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 20 "$SERVER_LOG" | sed 's/^/#   /'
            die "server exited during start-up (see $SERVER_LOG)"
        fi
        if server_listening &&
            ss -Hlnt "sport = :$TURN_PORT" | grep -q . &&
            ss -Hlnt "sport = :$TURN_TLS_PORT" | grep -q . &&
            { ! is_vc || curl -fsS -m 1 "http://127.0.0.1:$METRICS_PORT/healthz" >/dev/null 2>&1; }; then
            return 0
        fi
        sleep 0.2
    done
    tail -n 20 "$SERVER_LOG" | sed 's/^/#   /'
    die "server did not answer STUN/TCP/TLS${TURN_SERVER/coturn/}/healthz within 10 s"
}

# stop_server: stops the server; for vc, checks it exits 0 on SIGTERM and logged no sanitizer error.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    stop_pid "$SERVER_PID"
    forget_pid "$SERVER_PID"
    SERVER_PID=
    if is_vc; then
        check "${SUITE}_server_exits_cleanly_on_sigterm" "exit status $STOP_RC" \
            test "$STOP_RC" -eq 0
        check "${SUITE}_server_log_has_no_sanitizer_report" "see $SERVER_LOG" \
            no_sanitizer_report "$SERVER_LOG"
    fi
}

not_grep() {
    ! grep -q "$@"
}

# matches REGEX STRING: bash regex match, for use with check.
matches() {
    [[ "$2" =~ $1 ]]
}

# metric NAME: prints the sum of every sample of NAME (0 when absent); empty when unreachable.
metric() {
    local body
    body=$(curl -fsS -m 2 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null) || return 0
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%d\n", s }' \
        <<<"$body"
}

# gt A B: true when both are integers and A > B.
gt() {
    [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] && [ "$1" -gt "$2" ]
}

# --- turnutils_uclient ---------------------------------------------------------------------------

# uclient OUTFILE ARGS...: runs turnutils_uclient (bounded to 60 s) with ARGS; sets UC_RC.
# In its default mode (no -c) uclient makes three allocations per two -m sessions, under one
# username: a probe, RTP and RTCP. They alternate an Allocate with EVEN-PORT R=1 and one, from
# another socket, redeeming the RESERVATION-TOKEN just answered (RFC 8656 section 7.2). The RTCP
# session echoes off the peer's port + 1 (turnutils_peer listens on both). With -c: one allocation
# per session, with EVEN-PORT R=0 or no EVEN-PORT at all, at random.
uclient() {
    local out=$1
    shift
    timeout 60 turnutils_uclient "$@" >"$out" 2>&1
    UC_RC=$?
}

# uclient_verdict OUTFILE EXPECTED_SENT: empty when the run sent EXPECTED_SENT messages, received
# them all and reported 0 lost; otherwise prints why not.
uclient_verdict() {
    local out=$1 want=$2 sent recv lost
    if [ "$UC_RC" -eq 124 ]; then
        echo "uclient timed out after 60 s"
        return
    fi
    if [ "$UC_RC" -ne 0 ]; then
        printf 'uclient exit %s: %s' "$UC_RC" "$(grep -m1 -E 'error [0-9]{3}' "$out" || grep -m1 -iE 'cannot|fail' "$out")"
        if grep -qE 'channel bind: error 400' "$out"; then
            printf ' [uclient picks channel numbers in 0x4000-0x7FFF (RFC 5766);'
            printf ' RFC 8656 narrowed the range to 0x4000-0x4FFF]'
        fi
        echo
        return
    fi
    # The last "tot_send_msgs=N, tot_recv_msgs=M" line without byte counts is the final total.
    sent=$(sed -nE 's/.*start_mclient: tot_send_msgs=([0-9]+), tot_recv_msgs=([0-9]+)$/\1/p' \
        "$out" | tail -n1)
    recv=$(sed -nE 's/.*start_mclient: tot_send_msgs=([0-9]+), tot_recv_msgs=([0-9]+)$/\2/p' \
        "$out" | tail -n1)
    lost=$(sed -nE 's/.*Total lost packets ([0-9]+) \(.*/\1/p' "$out" | tail -n1)
    if [ -z "$sent" ] || [ -z "$lost" ]; then
        echo "no totals in uclient output ($out)"
    elif [ "$sent" -ne "$want" ]; then
        echo "sent $sent messages, expected $want"
    elif [ "$recv" -ne "$sent" ] || [ "$lost" -ne 0 ]; then
        echo "sent $sent, received $recv, lost $lost"
    fi
}

# relay_check NAME OUTFILE EXPECTED_SENT UCLIENT_ARGS...: one uclient run that must lose nothing.
relay_check() {
    local name=$1 out=$2 want=$3 why
    shift 3
    uclient "$out" "$@"
    why=$(uclient_verdict "$out" "$want")
    if [ -z "$why" ]; then ok "$name"; else fail "$name" "$why; log $out"; fi
}
