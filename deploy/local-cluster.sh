#!/usr/bin/env bash
# Starts, checks and stops a small real vc cluster on loopback for trying vc out and for tests:
# one redis-server, one PostgreSQL (deploy/local-postgres.sh) holding the clinician accounts and
# sessions, two vc-signal nodes sharing rooms through Redis and accounts through PostgreSQL, two
# vc-turn nodes in one pool, and haproxy in TCP mode passing TLS through to the vc-signal nodes.
# Usage: deploy/local-cluster.sh start|stop|status [--dir DIR] [--base-port N]
#
# State (secrets, configs, data, pids, logs) lives in DIR (default build/cluster); after `start`,
# DIR/cluster.env holds ports, pids and file paths as shell assignments for tests to `source`.
# Ports are offsets from the base port N (default 18440): load balancer N, vc-signal N+1 and N+2,
# vc-turn UDP/TCP N+38 and N+48, TLS N+9 and N+19, metrics N+51 and N+52, Redis N+39,
# PostgreSQL N+40; relay
# ports N+21560 to N+23559, a thousand per vc-turn node (40000-41999 by default). A second
# cluster needs its own DIR and a base port at least 53 away; within 2000, relay ranges overlap,
# which vc-turn survives (it skips relay ports in use).
set -eu

NODES=(1 2)
CA_FILE=certs/ca.crt
WAIT_SECONDS=15
STOP_SECONDS=5
REAP_SECONDS=3

die() {
    echo "local-cluster: $*" >&2
    exit 1
}

usage() {
    echo "usage: deploy/local-cluster.sh start|stop|status [--dir DIR] [--base-port N]" >&2
    exit 2
}

# --- arguments and layout ------------------------------------------------------------------------

# parse_args ARGS...: sets ACTION, DIR (absolute) and BASE.
parse_args() {
    [ $# -ge 1 ] || usage
    ACTION=$1
    shift
    case $ACTION in start | stop | status) ;; *) usage ;; esac
    DIR=
    BASE=18440
    while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || usage
        case $1 in
            --dir) DIR=$2 ;;
            --base-port) BASE=$2 ;;
            *) usage ;;
        esac
        shift 2
    done
    if ! [[ $BASE =~ ^[0-9]{4,5}$ ]] || [ "$BASE" -lt 1024 ] || [ "$BASE" -gt 41976 ]; then
        die "--base-port must be a number from 1024 to 41976 (its relay ports end at N+23559)"
    fi
    # A relative --dir is taken from where the script was called; the script then works from the
    # repository root, like deploy/run-dev.sh.
    local repo
    repo=$(cd "$(dirname "$0")/.." && pwd)
    case $DIR in "") DIR=$repo/build/cluster ;; /*) ;; *) DIR=$PWD/$DIR ;; esac
    cd "$repo"
}

# set_layout: every port and path, from BASE and DIR.
set_layout() {
    LB_PORT=$BASE
    REDIS_PORT=$((BASE + 39))
    PG_PORT=$((BASE + 40))
    PG_DIR=$DIR/postgres
    RELAY_BASE=$((BASE + 21560))
    API_KEY_FILE=$DIR/api-key
    TURN_SECRET_FILE=$DIR/turn-secret
    HAPROXY_CFG=$DIR/haproxy.cfg
    ENV_FILE=$DIR/cluster.env
    COMPONENTS=(redis postgres)
    local i
    for i in "${NODES[@]}"; do COMPONENTS+=("turn-$i"); done
    for i in "${NODES[@]}"; do COMPONENTS+=("signal-$i"); done
    COMPONENTS+=(haproxy)
}

signal_port() { echo $((BASE + $1)); }
turn_port() { echo $((BASE + 10 * $1 + 28)); }
turn_tls_port() { echo $((BASE + 10 * $1 - 1)); }
turn_metrics_port() { echo $((BASE + 50 + $1)); }
relay_range() { echo "$((RELAY_BASE + 1000 * ($1 - 1)))-$((RELAY_BASE + 1000 * $1 - 1))"; }

pid_file() { echo "$DIR/pids/$1.pid"; }
log_file() { echo "$DIR/logs/$1.log"; }

# program NAME: the executable's name as /proc/PID/comm shows it.
program() {
    case $1 in
        redis) echo redis-server ;;
        postgres) echo postgres ;;
        haproxy) echo haproxy ;;
        turn-*) echo vc-turn ;;
        signal-*) echo vc-signal ;;
    esac
}

# --- processes -----------------------------------------------------------------------------------

# present PID NAME: PID is component NAME's program, running or exited but not yet reaped.
present() {
    [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$(program "$2")" ]
}

# alive PID NAME: PID runs component NAME's program (not a zombie, not a reused pid).
alive() {
    local stat
    present "$1" "$2" && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

read_pid() { cat "$(pid_file "$1")" 2>/dev/null || true; }

running() { alive "$(read_pid "$1")" "$1"; }

# launch NAME CMD...: runs CMD in its own session (so it outlives this shell and no terminal
# signal reaches it), output to NAME's log, pid to NAME's pid file.
launch() {
    local name=$1
    shift
    setsid "$@" </dev/null >"$(log_file "$name")" 2>&1 &
    echo $! >"$(pid_file "$name")"
}

# stop_all: the load balancer and the vc nodes first, then Redis and PostgreSQL (so that
# vc-signal leaves them cleanly; PostgreSQL with a fast shutdown, which TERM is not), then up to
# REAP_SECONDS until no process is left even as a zombie, so that pgrep right after a stop shows
# none. Harmless when nothing runs.
stop_all() {
    stop_stage "${COMPONENTS[@]:2}"
    stop_stage redis
    deploy/local-postgres.sh stop "$PG_DIR" || stop_stage postgres
    wait_until_none "$REAP_SECONDS" present "${COMPONENTS[@]}"
    rm -f "$DIR"/pids/*.pid "$ENV_FILE"
}

# stop_stage NAME...: TERM to each that still runs, up to STOP_SECONDS for them to exit, then KILL.
stop_stage() {
    local name
    for name in $(components_where alive "$@"); do
        kill -TERM "$(read_pid "$name")" 2>/dev/null || true
    done
    wait_until_none "$STOP_SECONDS" alive "$@"
    for name in $(components_where alive "$@"); do
        echo "local-cluster: $name (pid $(read_pid "$name")) ignored TERM for" \
            "${STOP_SECONDS}s; killing it" >&2
        kill -KILL "$(read_pid "$name")" 2>/dev/null || true
    done
}

# wait_until_none SECONDS present|alive NAME...: waits, at most that long, until none of the named
# components passes that test. Reaps those that are this shell's own children (after a failed
# start); init reaps the others.
wait_until_none() {
    local i name seconds=$1 test=$2
    shift 2
    for ((i = 0; i < seconds * 10; i++)); do
        for name in $(components_where present "$@"); do
            alive "$(read_pid "$name")" "$name" || wait "$(read_pid "$name")" 2>/dev/null || true
        done
        [ -z "$(components_where "$test" "$@")" ] && return 0
        sleep 0.1
    done
}

# components_where present|alive NAME...: those of the named components whose recorded pid
# passes that test.
components_where() {
    local name test=$1
    shift
    for name in "$@"; do
        if "$test" "$(read_pid "$name")" "$name"; then echo "$name"; fi
    done
}

# --- checks --------------------------------------------------------------------------------------

# https_get PORT PATH: the body of https://localhost:PORT/PATH, verified against the dev CA.
https_get() {
    curl -fsS --max-time 2 --cacert "$CA_FILE" --resolve "localhost:$1:127.0.0.1" \
        "https://localhost:$1$2" 2>/dev/null
}

# https_answer PORT PATH: "CODE BODY" of https://localhost:PORT/PATH, or "no answer".
https_answer() {
    local out
    out=$(curl -sS --max-time 2 --cacert "$CA_FILE" --resolve "localhost:$1:127.0.0.1" \
        -w ' %{http_code}' "https://localhost:$1$2" 2>/dev/null) || out=
    if [ -n "$out" ]; then echo "${out##* } ${out% *}"; else echo "no answer"; fi
}

redis_ok() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
postgres_ok() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -d vc 2>/dev/null; }
turn_ok() {
    local url
    url=http://127.0.0.1:$(turn_metrics_port "$1")/healthz
    [ "$(curl -fsS --max-time 2 "$url" 2>/dev/null)" = ok ]
}
signal_ok() { [ "$(https_get "$(signal_port "$1")" /healthz)" = ok ]; }
lb_ok() { [ "$(https_get "$LB_PORT" /healthz)" = ok ]; }

# healthy NAME: the component's own health check passes.
healthy() {
    case $1 in
        redis) redis_ok ;;
        postgres) postgres_ok ;;
        haproxy) lb_ok ;;
        turn-*) turn_ok "${1#turn-}" ;;
        signal-*) signal_ok "${1#signal-}" ;;
    esac
}

# port_taken PORT: something on 127.0.0.1 accepts TCP connections on PORT.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

all_tcp_ports() {
    local i
    echo "$LB_PORT" "$REDIS_PORT" "$PG_PORT"
    for i in "${NODES[@]}"; do
        signal_port "$i"
        turn_port "$i"
        turn_tls_port "$i"
        turn_metrics_port "$i"
    done
}

# --- start ---------------------------------------------------------------------------------------

check_prerequisites() {
    local bin up port
    for bin in build/bin/vc-signal build/bin/vc-turn; do
        [ -x "$bin" ] || die "$bin is missing: run 'make' first"
    done
    deploy/install-deps.sh cluster
    [ -s "$CA_FILE" ] || certs/gen-dev-certs.sh
    up=$(components_where alive "${COMPONENTS[@]}" | tr '\n' ' ')
    [ -z "$up" ] || die "a cluster is already running in $DIR (${up% }); stop it first"
    for port in $(all_tcp_ports); do
        port_taken "$port" && die "port $port on 127.0.0.1 is in use; pick another --base-port"
    done
    return 0
}

make_state_dir() {
    mkdir -p "$DIR/pids" "$DIR/logs" "$DIR/redis"
    rm -f "$DIR"/pids/*.pid "$ENV_FILE"
    local f
    for f in "$API_KEY_FILE" "$TURN_SECRET_FILE"; do
        [ -s "$f" ] || (umask 077 && openssl rand -hex 32 >"$f")
        chmod 600 "$f"
    done
}

# start_postgres: the accounts database (its first start makes it: initdb, the vc role with a
# generated password in PG_DIR/password, the vc database); pg_ctl runs it in the background,
# and its postmaster's pid is recorded like the others'.
start_postgres() {
    deploy/local-postgres.sh start "$PG_DIR" "$PG_PORT" >"$(log_file postgres)" 2>&1 ||
        start_failed postgres "did not start"
    head -n 1 "$PG_DIR/pgdata/postmaster.pid" >"$(pid_file postgres)"
}

start_redis() {
    launch redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --dir "$DIR/redis" --daemonize no --logfile ''
}

# own_peer_flags: --allow-peer for each of this machine's IPv4 addresses, one host each, where
# browsers here gather candidates (as deploy/run-dev.sh does).
own_peer_flags() {
    local ip
    for ip in $(ip -4 -o addr show scope global 2>/dev/null |
        awk '{split($4, a, "/"); print a[1]}'); do
        printf '%s\n' --allow-peer "$ip/32"
    done
}

# start_turn I: vc-turn node I; while it drains, new allocations go to the next node.
start_turn() {
    local i=$1 next=$(($1 % ${#NODES[@]} + 1)) own
    mapfile -t own < <(own_peer_flags)
    launch "turn-$i" build/bin/vc-turn --listen "127.0.0.1:$(turn_port "$i")" \
        --tls-listen "127.0.0.1:$(turn_tls_port "$i")" \
        --cert certs/server.crt --key certs/server.key \
        --relay-ip 127.0.0.1 --ports "$(relay_range "$i")" \
        --metrics "127.0.0.1:$(turn_metrics_port "$i")" \
        --secret-file "$TURN_SECRET_FILE" --alternate-server "127.0.0.1:$(turn_port "$next")" \
        --allow-peer 127.0.0.0/8 "${own[@]}" --threads 1 --log "$DIR/logs/turn-$i-meta.log"
}

# turn_node_spec I: vc-signal's --turn-node value for vc-turn node I, in region "local".
turn_node_spec() {
    local port tls urls
    port=$(turn_port "$1")
    tls=$(turn_tls_port "$1")
    urls="turn:127.0.0.1:$port?transport=udp|turn:127.0.0.1:$port?transport=tcp"
    echo "region=local,weight=100,stun=127.0.0.1:$port,urls=$urls|turns:localhost:$tls?transport=tcp"
}

start_signal() {
    local i=$1 pool=() n
    for n in "${NODES[@]}"; do pool+=(--turn-node "$(turn_node_spec "$n")"); done
    mkdir -p "$DIR/signal-$i"
    launch "signal-$i" build/bin/vc-signal --listen "127.0.0.1:$(signal_port "$i")" \
        --redis "redis://127.0.0.1:$REDIS_PORT" --node-id "signal-$i" \
        --cert certs/server.crt --key certs/server.key \
        --public-url "https://localhost:$LB_PORT" --allowed-origin "https://127.0.0.1:$LB_PORT" \
        --api-key-file "$API_KEY_FILE" --turn-secret-file "$TURN_SECRET_FILE" \
        --database "$(cat "$PG_DIR/url")" --database-password-file "$PG_DIR/password" \
        --ice-server "stun:127.0.0.1:$(turn_port "${NODES[0]}")" \
        "${pool[@]}" --default-region local \
        --data-dir "$DIR/signal-$i" --web-root src/web --log "$DIR/logs/signal-$i-meta.log"
}

# write_haproxy_cfg: TCP mode, TLS passed through, source-address affinity over the vc-signal
# nodes with an HTTPS GET /readyz check each second; a refused connection is retried on the other.
write_haproxy_cfg() {
    local i
    cat >"$HAPROXY_CFG" <<EOF
# Generated by deploy/local-cluster.sh: the load balancer in front of the vc-signal nodes.
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode tcp
    log global
    option tcplog
    # A failed connection is retried on another node at once (1: every retry, not just the last).
    option redispatch 1
    retries 3
    timeout connect 2s
    # WebSockets stay open for a whole call.
    timeout client 1h
    timeout server 1h

frontend vc
    bind 127.0.0.1:$LB_PORT
    default_backend vc_signal

backend vc_signal
    # A browser's connections stay on one node (by source address) until that node fails: rooms
    # are shared through Redis and clinician sessions through PostgreSQL, so this only keeps
    # things together.
    balance source
    hash-type consistent
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
    default-server check check-ssl verify none inter 1s fall 2 rise 1
EOF
    for i in "${NODES[@]}"; do
        echo "    server signal-$i 127.0.0.1:$(signal_port "$i")" >>"$HAPROXY_CFG"
    done
    haproxy -c -q -f "$HAPROXY_CFG" >"$(log_file haproxy)" 2>&1 ||
        start_failed haproxy "refused $HAPROXY_CFG"
}

start_haproxy() {
    write_haproxy_cfg
    launch haproxy haproxy -f "$HAPROXY_CFG" -db
}

# start_component NAME: starts it, then waits for its health check.
start_component() {
    case $1 in
        redis) start_redis ;;
        postgres) start_postgres ;;
        haproxy) start_haproxy ;;
        turn-*) start_turn "${1#turn-}" ;;
        signal-*) start_signal "${1#signal-}" ;;
    esac
    wait_healthy "$1"
}

# wait_healthy NAME: up to WAIT_SECONDS for NAME's health check; on failure, or if NAME exits,
# shows the end of its log and exits non-zero (do_start's EXIT trap stops the rest).
wait_healthy() {
    local name=$1 i
    for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
        healthy "$name" && return 0
        running "$name" || start_failed "$name" "exited"
        sleep 0.2
    done
    start_failed "$name" "did not answer its health check within ${WAIT_SECONDS}s"
}

start_failed() {
    local log
    log=$(log_file "$1")
    echo "local-cluster: $1 $2; the end of $log:" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
}

# env_line NAME VALUE: one `source`-able assignment.
env_line() { printf '%s=%q\n' "$1" "$2"; }

write_env() {
    local i p tmp=$ENV_FILE.tmp
    {
        env_line CLUSTER_DIR "$DIR"
        env_line LB_PORT "$LB_PORT"
        env_line LB_URL "https://localhost:$LB_PORT"
        env_line LB_PID "$(read_pid haproxy)"
        env_line REDIS_PORT "$REDIS_PORT"
        env_line REDIS_URL "redis://127.0.0.1:$REDIS_PORT"
        env_line REDIS_PID "$(read_pid redis)"
        env_line PG_PORT "$PG_PORT"
        env_line PG_URL "$(cat "$PG_DIR/url")"
        env_line PG_PASSWORD_FILE "$PG_DIR/password"
        env_line PG_PID "$(read_pid postgres)"
        for i in "${NODES[@]}"; do
            p=SIGNAL$i
            env_line "${p}_PORT" "$(signal_port "$i")"
            env_line "${p}_URL" "https://localhost:$(signal_port "$i")"
            env_line "${p}_PID" "$(read_pid "signal-$i")"
            env_line "${p}_LOG" "$(log_file "signal-$i")"
            p=TURN$i
            env_line "${p}_PORT" "$(turn_port "$i")"
            env_line "${p}_TLS_PORT" "$(turn_tls_port "$i")"
            env_line "${p}_METRICS_PORT" "$(turn_metrics_port "$i")"
            env_line "${p}_RELAY_PORTS" "$(relay_range "$i")"
            env_line "${p}_PID" "$(read_pid "turn-$i")"
            env_line "${p}_LOG" "$(log_file "turn-$i")"
        done
        env_line API_KEY_FILE "$API_KEY_FILE"
        env_line TURN_SECRET_FILE "$TURN_SECRET_FILE"
        env_line CA_FILE "$PWD/$CA_FILE"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

print_summary() {
    local i
    echo "local-cluster: up in $DIR"
    echo "  dashboard      https://localhost:$LB_PORT/  (haproxy; trust $CA_FILE)"
    echo "  API key file   $API_KEY_FILE"
    for i in "${NODES[@]}"; do
        echo "  signal-$i       https://localhost:$(signal_port "$i")  (node id signal-$i)"
    done
    for i in "${NODES[@]}"; do
        echo "  turn-$i         turn:127.0.0.1:$(turn_port "$i") (UDP/TCP)," \
            "turns:localhost:$(turn_tls_port "$i"), metrics http://127.0.0.1:$(turn_metrics_port "$i")," \
            "relay $(relay_range "$i")"
    done
    echo "  redis          redis://127.0.0.1:$REDIS_PORT"
    echo "  postgresql     $(cat "$PG_DIR/url") (password in $PG_DIR/password)"
    echo "  a clinician    build/bin/vc-signal user add EMAIL --name NAME" \
        "--database $(cat "$PG_DIR/url") --database-password-file $PG_DIR/password"
    echo "  ports, pids    $ENV_FILE"
    echo "  logs           $DIR/logs/"
    echo "status: deploy/local-cluster.sh status$(cluster_flags)"
    echo "stop:   deploy/local-cluster.sh stop$(cluster_flags)"
}

# cluster_flags: the flags that name this cluster again in a later command, when not the defaults.
cluster_flags() {
    [ "$DIR" = "$PWD/build/cluster" ] || printf ' --dir %q' "$DIR"
    [ "$BASE" = 18440 ] || printf ' --base-port %s' "$BASE"
}

# on_start_exit: when start ends before everything is up (a failed check, Ctrl-C, TERM), stops
# what it started. An EXIT trap, because bash 5.2 can fail to run an INT trap that lands while
# it parses a $(...) and then exits without it; the EXIT trap still runs.
# shellcheck disable=SC2317 # run by a trap
on_start_exit() {
    if [ -z "$STARTED" ]; then
        echo "local-cluster: stopping what was started" >&2
        stop_all
    fi
}

# shellcheck disable=SC2317 # run by a trap
on_signal() { exit 130; }

do_start() {
    check_prerequisites
    make_state_dir
    STARTED=
    trap on_start_exit EXIT
    trap on_signal INT TERM
    local name
    for name in "${COMPONENTS[@]}"; do start_component "$name"; done
    write_env
    STARTED=yes
    print_summary
}

# --- status --------------------------------------------------------------------------------------

do_status() {
    local name state down=0 i ready
    for name in "${COMPONENTS[@]}"; do
        if running "$name" && healthy "$name"; then
            state="up (pid $(read_pid "$name"))"
        elif running "$name"; then
            state="unhealthy (pid $(read_pid "$name"))"
            down=1
        else
            state=down
            down=1
        fi
        printf '%-10s %s\n' "$name" "$state"
    done
    for i in "${NODES[@]}"; do
        ready=$(https_answer "$(signal_port "$i")" /readyz)
        printf '%-10s /readyz: %s\n' "signal-$i" "$ready"
    done
    return "$down"
}

main() {
    parse_args "$@"
    set_layout
    case $ACTION in
        start) do_start ;;
        stop) stop_all && echo "local-cluster: stopped (state kept in $DIR)" ;;
        status) do_status ;;
    esac
}

# Exit right here: bash reads a script as it runs it, so a run that outlived an edit of this
# file would otherwise go on reading the new text.
main "$@"
exit
