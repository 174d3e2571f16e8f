#!/usr/bin/env bash
# The race (make bench): vc-turn against coturn and a bare UDP forwarder, and vc-signal against a
# PeerJS server (npm `peer`, both over TLS), on loopback, same loads.
#
# Servers run one configuration at a time; every workload runs against each server in alternation
# (A B A B ...) for BENCH_ROUNDS rounds, and bench/report.py takes medians and prints one table,
# saved as bench/results/latest.md (raw JSON and logs in bench/results/raw/, git-ignored).
#
# Environment:
#   BENCH_ROUNDS    rounds per workload (default 3, at least 3 for the published table)
#   BENCH_DURATION  seconds per load run (default 5)
#   BENCH_LOADER    auto (default: vc-load if it has --profile flood, else the stand-in),
#                   vc-load, or flood (bench/tools/flood.c)
#   BENCH_CALLS_CAP seconds one vc-load call ramp may take (default 90)
#   BENCH_ONLY      space-separated subset of: flows allocrate flood rate latency alloc memory
#                   calls budget kernel signal conns joins watch
#   BENCH_CALLS_CPU the `budget` workload's CPU share for each server, in % of one core
#                   (default 10)
#   BENCH_SIGNAL_CONNS  WebSocket clients held per round of `conns` (default 5000)
#   BENCH_SIGNAL_BIG    clients for the one large `conns` run (default 20000; 0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_ROUNDS:-3}
DUR=${BENCH_DURATION:-5}
CALLS_CAP=${BENCH_CALLS_CAP:-90}
ONLY=${BENCH_ONLY:-flows allocrate flood rate latency alloc memory calls budget kernel signal conns joins watch}
CALLS_CPU=${BENCH_CALLS_CPU:-10}
SIG_CONNS=${BENCH_SIGNAL_CONNS:-5000}
SIG_BIG=${BENCH_SIGNAL_BIG:-20000}
RESULTS=bench/results
RAW=$RESULTS/raw
TOOLS=build/bench
VC_LOAD=build/bin/vc-load
HOST=127.0.0.1
# Disjoint loopback ports: vc-turn, coturn, the forwarder; relay ranges do not overlap.
VC_PORT=34780
VC_RELAY=35000-40999
CO_PORT=44780
CO_RELAY_MIN=45000
CO_RELAY_MAX=50999
FWD_IN=33000
FWD_MID=33001
FWD_SINK=33002
SECRET=bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
# Signalling: vc-signal and PeerJS over TLS with the development certificate.
SIG_PORT=34443
PJ_PORT=44443
TLSR_PORT=33443 # the bare TLS relay (bench/tools/tlsrelay.c), the signalling ceiling
API_KEY=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PEERJS_DIR=$TOOLS/peerjs
PEERJS_BIN=$PEERJS_DIR/node_modules/peer/dist/bin/peerjs.js

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    cage_drop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -----------------------------------------------------------------------------------------

build_tools() {
    local cflags=(-std=gnu11 -O2 -g -D_GNU_SOURCE -Iinclude -Wall -Wextra -Wshadow -Wformat=2
        -Wmissing-prototypes -Wno-missing-field-initializers)
    mkdir -p "$TOOLS"
    cc "${cflags[@]}" -o "$TOOLS/flood" bench/tools/flood.c bench/tools/turnc.c src/stun/stun.c \
        src/common/rest_cred.c src/common/addr.c -lcrypto
    cc "${cflags[@]}" -o "$TOOLS/flows" bench/tools/flows.c bench/tools/turnc.c src/stun/stun.c \
        src/common/rest_cred.c src/common/addr.c -lcrypto -lpthread
    cc "${cflags[@]}" -o "$TOOLS/udpfwd" bench/tools/udpfwd.c src/common/addr.c
    cc "${cflags[@]}" -o "$TOOLS/tlsrelay" bench/tools/tlsrelay.c src/common/addr.c -lssl -lcrypto
}

check_prereqs() {
    [ -x build/bin/vc-turn ] || die "build/bin/vc-turn is missing (make all)"
    command -v turnserver >/dev/null || die "coturn's turnserver is missing (apt-get install coturn)"
    command -v turnutils_stunclient >/dev/null || die "turnutils_stunclient (coturn) is missing"
    command -v python3 >/dev/null || die "python3 is needed for the report"
    command -v ss >/dev/null || die "ss (iproute2) is missing"
}

pick_loader() {
    local want=${BENCH_LOADER:-auto}
    case $want in
        flood) LOADER=flood ;;
        vc-load)
            [ -x "$VC_LOAD" ] || die "BENCH_LOADER=vc-load but $VC_LOAD is missing"
            LOADER=vc-load
            ;;
        auto)
            LOADER=flood
            if [ -x "$VC_LOAD" ] && "$VC_LOAD" relay --help 2>&1 | grep -q flood; then
                LOADER=vc-load
            fi
            ;;
        *) die "BENCH_LOADER must be auto, vc-load or flood" ;;
    esac
    log "flood loader: $LOADER"
}

# install_peerjs: npm's `peer` into build/bench/peerjs (never committed), once.
install_peerjs() {
    [ -f "$PEERJS_BIN" ] && return 0
    command -v node >/dev/null || die "node is missing (apt-get install nodejs npm)"
    command -v npm >/dev/null || die "npm is missing (apt-get install npm)"
    mkdir -p "$PEERJS_DIR"
    [ -f "$PEERJS_DIR/package.json" ] || echo '{"private": true}' >"$PEERJS_DIR/package.json"
    log "installing PeerJS (npm peer) into $PEERJS_DIR"
    (cd "$PEERJS_DIR" && timeout 300 npm install --no-audit --no-fund peer) >>"$RAW/npm.log" 2>&1 ||
        die "npm install peer failed (see $RAW/npm.log)"
    [ -f "$PEERJS_BIN" ] || die "npm installed peer without $PEERJS_BIN"
}

# --- servers ---------------------------------------------------------------------------------------

# wait_stun PORT PID: the server answers a STUN Binding on UDP within 10 s.
wait_stun() {
    local port=$1 pid=$2
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 1
        if timeout 2 turnutils_stunclient -p "$port" "$HOST" 2>/dev/null | grep -q 'reflexive addr'; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# start_vc THREADS [MODE [ARGS...]]: vc-turn on $VC_PORT; sets VC_PID. THREADS empty = the default
# (one per CPU); MODE below; ARGS are added (the kernel race turns the kernel path off with them,
# which is otherwise on wherever the machine allows it).
start_vc() {
    local threads=$1 mode=${2:-} argv
    shift
    [ $# -gt 0 ] && shift
    argv=(build/bin/vc-turn --listen "$HOST:$VC_PORT" --relay-ip "$HOST" --ports "$VC_RELAY"
        --realm vc --secret "$SECRET" --allow-peer 127.0.0.0/8 --log "$RAW/vc-turn-meta.log")
    # "defaults": vc-turn as shipped (its limits on); else coturn's defaults (no limits).
    [ "$mode" = defaults ] || argv+=(--bps 0 --unauth-rate 1000000 --user-quota 1000000)
    argv+=("$@")
    [ -n "$threads" ] && argv+=(--threads "$threads")
    "${argv[@]}" >>"$RAW/vc-turn.log" 2>&1 &
    VC_PID=$!
    PIDS+=("$VC_PID")
    wait_stun "$VC_PORT" "$VC_PID" || die "vc-turn did not start (see $RAW/vc-turn.log)"
}

# start_coturn THREADS: Debian's turnserver with the same realm, secret, relay range size and
# peer policy (loopback allowed), no TLS/DTLS; sets CO_PID. THREADS empty = its default.
start_coturn() {
    local threads=$1 argv
    argv=(turnserver -n --no-cli --no-tls --no-dtls --no-rfc5780 --fingerprint -L "$HOST"
        -p "$CO_PORT" -E "$HOST" --min-port "$CO_RELAY_MIN" --max-port "$CO_RELAY_MAX" -r vc
        --use-auth-secret --static-auth-secret "$SECRET" --allow-loopback-peers
        --log-file="$RAW/coturn.log" --simple-log --no-stdout-log
        --pidfile "$RAW/coturn.pid")
    [ -n "$threads" ] && argv+=(--relay-threads "$threads")
    "${argv[@]}" >/dev/null 2>&1 &
    CO_PID=$!
    PIDS+=("$CO_PID")
    wait_stun "$CO_PORT" "$CO_PID" || die "coturn did not start (see $RAW/coturn.log)"
}

# start_fwd: the two-stage forwarder (in -> mid -> sink), so a datagram costs it two receives and
# two sends, as a TURN relay's client -> relay A -> relay B -> client path does.
start_fwd() {
    "$TOOLS/udpfwd" "$HOST:$FWD_IN" "$HOST:$FWD_MID" "$HOST:$FWD_MID" "$HOST:$FWD_SINK" \
        >>"$RAW/udpfwd.log" 2>&1 &
    FWD_PID=$!
    PIDS+=("$FWD_PID")
    for _ in $(seq 1 50); do
        ss -Hlnu "sport = :$FWD_MID" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    die "udpfwd did not start"
}

# wait_tcp PORT PID: something listens on TCP PORT within 10 s.
wait_tcp() {
    local port=$1 pid=$2
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# start_sig: a fresh vc-signal on $SIG_PORT with the load limits raised (rooms per owner,
# new connections per IP, knocks, message rate); sets SIG_PID.
start_sig() {
    rm -rf "$RAW/signal-data"
    mkdir -p "$RAW/signal-data"
    build/bin/vc-signal --listen "$HOST:$SIG_PORT" --public-url "https://$HOST:$SIG_PORT" \
        --cert certs/server.crt --key certs/server.key --api-key "$API_KEY" \
        --data-dir "$RAW/signal-data" --log "$RAW/vc-signal-meta.log" --log-level warn \
        --max-rooms 1000000 --max-rooms-per-owner 1000000 --max-conns-per-ip-per-min 1000000 \
        --max-conns-per-ip 1000000 \
        --max-connections 1000000 --max-knocks-per-min 10000 --max-msg-rate 100000 \
        >>"$RAW/vc-signal.log" 2>&1 &
    SIG_PID=$!
    PIDS+=("$SIG_PID")
    wait_tcp "$SIG_PORT" "$SIG_PID" || die "vc-signal did not start (see $RAW/vc-signal.log)"
}

# start_tlsrelay: the signalling ceiling on $TLSR_PORT with the same certificate; sets TLSR_PID.
start_tlsrelay() {
    "$TOOLS/tlsrelay" "$HOST:$TLSR_PORT" certs/server.crt certs/server.key \
        >>"$RAW/tlsrelay.log" 2>&1 &
    TLSR_PID=$!
    PIDS+=("$TLSR_PID")
    wait_tcp "$TLSR_PORT" "$TLSR_PID" || die "tlsrelay did not start (see $RAW/tlsrelay.log)"
}

# start_peerjs: a fresh PeerJS server on $PJ_PORT over TLS, its concurrent limit raised; sets
# PJ_PID.
start_peerjs() {
    node "$PEERJS_BIN" --port "$PJ_PORT" --host "$HOST" --sslkey certs/server.key \
        --sslcert certs/server.crt --concurrent_limit 1000000 >>"$RAW/peerjs.log" 2>&1 &
    PJ_PID=$!
    PIDS+=("$PJ_PID")
    wait_tcp "$PJ_PORT" "$PJ_PID" || die "PeerJS did not start (see $RAW/peerjs.log)"
}

stop_pid() {
    local pid=$1 keep=() p
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

stop_servers() {
    cleanup
}

# --- workloads: each runs one load command and leaves one JSON file ---------------------------------

# load_flood OUT ADDR PID [stand-in args...]: ChannelData flood through the server at ADDR.
load_flood() {
    local out=$1 addr=$2 pid=$3
    shift 3
    if [ "$LOADER" = vc-load ] && [ $# -eq 0 ]; then
        timeout $((DUR + 60)) "$VC_LOAD" relay --server "$addr" --secret "$SECRET" \
            --transport udp --profile flood --calls 1 --duration "$DUR" --server-pid "$pid" \
            --json "$out" >>"$RAW/loader.log" 2>&1
    else
        timeout $((DUR + 30)) "$TOOLS/flood" flood --server "$addr" --secret "$SECRET" \
            --duration "$DUR" --server-pid "$pid" --json "$out" "$@" >>"$RAW/loader.log" 2>&1
    fi
}

# load_fwd OUT [args...]: the same flood through the bare forwarder (always the stand-in: vc-load
# speaks TURN only).
load_fwd() {
    local out=$1
    shift
    timeout $((DUR + 30)) "$TOOLS/flood" flood --direct "$HOST:$FWD_IN" --sink "$HOST:$FWD_SINK" \
        --duration "$DUR" --server-pid "$FWD_PID" --json "$out" "$@" >>"$RAW/loader.log" 2>&1
}

json_get() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# load_rate_search OUT ADDR PID [CALLS]: highest paced rate (packets/s) delivered at <= 0.5% loss
# over CALLS pairs (default 4). Starts from the unpaced capacity, then bisects; each trial is 2 s.
# Writes the best trial's JSON to OUT.
load_rate_search() {
    local out=$1 addr=$2 pid=$3 cap lo hi mid i trial=$RAW/trial.json best=
    local args=(--calls "${4:-4}")
    timeout 30 "$TOOLS/flood" flood --server "$addr" --secret "$SECRET" --duration 2 \
        --server-pid "$pid" --json "$trial" "${args[@]}" >>"$RAW/loader.log" 2>&1 || return 1
    cap=$(json_get "$trial" pps)
    lo=$(python3 -c "print(int($cap * 0.3))")
    hi=$(python3 -c "print(int($cap * 1.1))")
    for i in 1 2 3 4 5; do
        if [ "$i" = 1 ]; then mid=$hi; else mid=$(((lo + hi) / 2)); fi
        timeout 30 "$TOOLS/flood" flood --server "$addr" --secret "$SECRET" --duration 2 \
            --rate "$mid" --server-pid "$pid" --json "$trial" "${args[@]}" \
            >>"$RAW/loader.log" 2>&1 || return 1
        if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
sys.exit(0 if d['loss_pct'] <= 0.5 and d['sent_pps'] >= 0.9 * $mid else 1)" "$trial"; then
            cp "$trial" "$out"
            best=$mid
            lo=$mid
            [ "$i" = 1 ] && break
        else
            hi=$mid
        fi
    done
    if [ -z "$best" ]; then
        # Nothing passed: record the lowest bound tried, flagged as failing.
        cp "$trial" "$out"
    fi
}

# The many-flow workloads (tools/flows.c): name, flows, packets per second per flow (0: a flood),
# payload bytes. One credential and source address per flow, a channel to one peer sink, one hop
# client -> relay -> peer. The single flow is one row among them, never the headline.
FLOWS_WORKLOADS=("flood100 100 0 160" "audio1000 1000 50 160" "video300 300 100 1000"
    "audio5000 5000 20 160" "single 1 0 160")

# load_flows OUT ADDR PID FLOWS RATE SIZE: one run of tools/flows.
load_flows() {
    timeout $((DUR + 90)) "$TOOLS/flows" --server "$2" --secret "$SECRET" --flows "$4" \
        --rate "$5" --size "$6" --duration "$DUR" --server-pid "$3" --json "$1" \
        >>"$RAW/loader.log" 2>&1
}

# load_allocrate OUT ADDR PID: 5,000 allocations from one source address, the flows sharing a
# cached nonce as RFC 8489 allows; allocations per second and RSS per allocation.
load_allocrate() {
    timeout 120 "$TOOLS/flows" --server "$2" --secret "$SECRET" --flows 5000 --setup-only \
        --one-ip --reuse-nonce --server-pid "$3" --json "$1" >>"$RAW/loader.log" 2>&1
}

# load_alloc OUT ADDR PID: allocate/delete loops from 32 parallel clients for DUR seconds.
load_alloc() {
    timeout $((DUR + 30)) "$TOOLS/flood" alloc --server "$2" --secret "$SECRET" --parallel 32 \
        --duration "$DUR" --server-pid "$3" --json "$1" >>"$RAW/loader.log" 2>&1
}

# load_hold OUT ADDR PID: 2000 allocations held; the server's RSS before and after.
load_hold() {
    timeout 90 "$TOOLS/flood" hold --server "$2" --secret "$SECRET" --count 2000 --parallel 32 \
        --duration 60 --server-pid "$3" --json "$1" >>"$RAW/loader.log" 2>&1
}

# load_calls OUT ADDR PID PLOT: vc-load's realistic audio calls, 50 more every 5 s until loss
# passes 0.5% (or CALLS_CAP seconds, or 3000 calls).
load_calls() {
    timeout 150 "$VC_LOAD" relay --server "$2" --secret "$SECRET" --transport udp \
        --profile audio --calls 3000 --ramp 50 --max-loss 0.5 --duration "$CALLS_CAP" \
        --server-pid "$3" --json "$1" --plot "$4" >>"$RAW/loader.log" 2>&1
}

# load_budget OUT ADDR PID: the same calls, 10 more every 5 s, until loss passes 0.5% or one-way
# p99 passes 400 ms (ITU-T G.114's limit for planning; under a CPU cap a relay queues media before
# it drops any, and the cap's 10 ms periods alone put tens of ms into the tail).
load_budget() {
    timeout 150 taskset -c 0 "$VC_LOAD" relay --server "$2" --secret "$SECRET" --transport udp \
        --profile audio --calls 3000 --ramp 10 --max-loss 0.5 --max-p99-ms 400 \
        --duration "$CALLS_CAP" --server-pid "$3" --json "$1" >>"$RAW/loader.log" 2>&1
}

# The kernel race: vc-turn with its kernel path (vck), vc-turn in user space (vcu: the same binary
# with --kernel-path=false) and coturn, each fresh per run, on the issue-22 loads: a flood over
# 100 allocations (50 pairs), 1,000 allocations (500 pairs) of audio at 50 pps each, and the rate
# over 100 allocations at <= 0.5% loss. flood reports the machine's CPU (all cores, softirq
# included, /proc/stat) and its own, so report.py can take packets per machine CPU-second less the
# loader's.
kernel_server() {
    case $1 in
    vck) start_vc "" && KPID=$VC_PID KADDR=$HOST:$VC_PORT ;;
    vcu) start_vc "" - --kernel-path=false && KPID=$VC_PID KADDR=$HOST:$VC_PORT ;;
    coturn) start_coturn "" && KPID=$CO_PID KADDR=$HOST:$CO_PORT ;;
    esac
    sleep 0.5
}

kernel_round() {
    local r=$1 kind
    for kind in vck vcu coturn; do
        kernel_server "$kind"
        timeout $((DUR + 60)) "$TOOLS/flood" flood --server "$KADDR" --secret "$SECRET" \
            --calls 50 --duration "$DUR" --server-pid "$KPID" --json "$RAW/kflood-$kind-$r.json" \
            >>"$RAW/loader.log" 2>&1 || log "kernel flood against $kind failed in round $r"
        timeout $((DUR + 90)) "$TOOLS/flood" flood --server "$KADDR" --secret "$SECRET" \
            --calls 500 --rate 25000 --size 172 --duration "$DUR" --server-pid "$KPID" \
            --json "$RAW/kaudio-$kind-$r.json" >>"$RAW/loader.log" 2>&1 ||
            log "kernel audio against $kind failed in round $r"
        load_rate_search "$RAW/krate-$kind-$r.json" "$KADDR" "$KPID" 50 ||
            log "kernel rate against $kind failed in round $r"
        stop_pid "$KPID"
    done
}

# CPU_CAGE: a cpu cgroup that holds a server to CALLS_CPU % of one core in 10 ms periods (cgroup
# v2 cpu.max, or v1 cfs quota); cage_make creates it (false when neither is writable), cage_put
# PID moves a process (all its threads) in, cage_drop removes it.
CPU_CAGE=
cage_make() {
    local quota=$((CALLS_CPU * 100))
    if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        CPU_CAGE=/sys/fs/cgroup/vc-bench-$$
        mkdir -p "$CPU_CAGE" 2>/dev/null && echo "$quota 10000" >"$CPU_CAGE/cpu.max" 2>/dev/null &&
            return 0
    elif [ -w /sys/fs/cgroup/cpu ]; then
        CPU_CAGE=/sys/fs/cgroup/cpu/vc-bench-$$
        mkdir -p "$CPU_CAGE" 2>/dev/null && echo 10000 >"$CPU_CAGE/cpu.cfs_period_us" &&
            echo "$quota" >"$CPU_CAGE/cpu.cfs_quota_us" 2>/dev/null && return 0
    fi
    [ -n "$CPU_CAGE" ] && rmdir "$CPU_CAGE" 2>/dev/null
    CPU_CAGE=
    return 1
}
cage_put() {
    echo "$1" >"$CPU_CAGE/cgroup.procs"
    # CPU 1 alone (vc-load keeps to CPU 0): its threads cannot spend the quota in parallel, and
    # no loader thread competes with it for the share it is allowed.
    if [ "$(nproc)" -ge 2 ]; then taskset -a -p -c 1 "$1" >/dev/null; fi
}
cage_drop() { [ -n "$CPU_CAGE" ] && rmdir "$CPU_CAGE" 2>/dev/null; CPU_CAGE=; }

# cpu_ticks PID: the process's utime+stime in clock ticks.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# load_sig OUT KIND PID [vc-load args...]: vc-load signal against vc-signal (KIND vc) or PeerJS
# (KIND peerjs). Adds server_cpu_total_s to OUT: the server's CPU over the whole run, set-up
# included, for new connections per server CPU-second.
load_sig() {
    local out=$1 kind=$2 pid=$3 c0 c1 r=0
    shift 3
    local argv=("$VC_LOAD" signal --server-pid "$pid" --json "$out" --setup-timeout 240)
    case $kind in
    vc) argv+=(--url "https://$HOST:$SIG_PORT" --api-key "$API_KEY") ;;
    peerjs) argv+=(--protocol peerjs --url "https://$HOST:$PJ_PORT") ;;
    tlsrelay) argv+=(--protocol peerjs --url "https://$HOST:$TLSR_PORT") ;;
    esac
    c0=$(cpu_ticks "$pid")
    timeout 400 "${argv[@]}" "$@" >>"$RAW/loader.log" 2>&1 || r=$?
    c1=$(cpu_ticks "$pid")
    [ -f "$out" ] && python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p))
d["server_cpu_total_s"]=int(sys.argv[2])/int(sys.argv[3]); json.dump(d,open(p,"w"),indent=2)' \
        "$out" $((c1 - c0)) "$(getconf CLK_TCK)"
    return "$r"
}

# sig_conns_round WORKLOAD ROUND CONNS: one fresh server of each kind in turn (for `conns`, the
# bare TLS relay too), CONNS clients held (two per room), 2 s of one signal per room per second;
# the figures are the set-up rate and RSS growth per connection.
sig_conns_round() {
    local wl=$1 r=$2 conns=$3 kinds=(vc peerjs) kind pid
    [ "$wl" = conns ] && kinds+=(tlsrelay) # the ceiling: its handshakes and nothing else
    for kind in "${kinds[@]}"; do
        case $kind in
        vc) start_sig && pid=$SIG_PID ;;
        peerjs) start_peerjs && pid=$PJ_PID ;;
        tlsrelay) start_tlsrelay && pid=$TLSR_PID ;;
        esac
        sleep 0.5
        load_sig "$RAW/$wl-$kind-$r.json" "$kind" "$pid" --rooms $((conns / 2)) --duration 2 \
            --rate 1 || log "$wl against $kind failed in round $r (see $RAW/loader.log)"
        stop_pid "$pid"
    done
}

# run_pair WORKLOAD: one round of WORKLOAD against vc-turn then coturn (the caller alternates).
run_pair() {
    local wl=$1 round=$2 kind addr pid
    for kind in vc coturn; do
        if [ "$kind" = vc ]; then addr=$HOST:$VC_PORT pid=$VC_PID; else addr=$HOST:$CO_PORT pid=$CO_PID; fi
        "load_$wl" "$RAW/$wl-$kind-$round.json" "$addr" "$pid" ||
            log "$wl against $kind failed in round $round (see $RAW/loader.log)"
    done
}

wants() {
    case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}

# --- the race --------------------------------------------------------------------------------------

main() {
    local r start=$SECONDS
    check_prereqs
    mkdir -p "$RAW"
    rm -f "$RAW"/*.json "$RAW"/*.log "$RESULTS"/*.png
    build_tools
    pick_loader
    uptime >"$RAW/load-before.txt"
    log "rounds $ROUNDS, $DUR s per run, $(nproc) CPUs, load: $(cut -d, -f3- "$RAW/load-before.txt")"

    if wants flood; then
        log "flood, one server thread (per-CPU efficiency, vc-turn in user space), with the forwarder ceiling"
        # Server CPU per packet: with its kernel path vc-turn's process would spend none.
        start_vc 1 - --kernel-path=false
        start_coturn 1
        start_fwd
        for r in $(seq 1 "$ROUNDS"); do
            load_flood "$RAW/flood-vc-$r.json" "$HOST:$VC_PORT" "$VC_PID" || log "flood vc failed"
            load_flood "$RAW/flood-coturn-$r.json" "$HOST:$CO_PORT" "$CO_PID" ||
                log "flood coturn failed"
            load_fwd "$RAW/flood-fwd-$r.json" || log "flood fwd failed"
        done
        stop_servers
    fi

    if wants flows; then
        log "many flows: ${FLOWS_WORKLOADS[*]} (vc-turn at its defaults, --bps 0 for the floods)"
        for r in $(seq 1 "$ROUNDS"); do
            for wl in "${FLOWS_WORKLOADS[@]}"; do
                read -r name n rate size <<<"$wl"
                # vc-turn twice: its kernel path on (vc), then off (vcu).
                for kind in vc vcu; do
                    local extra=()
                    [ "$kind" = vcu ] && extra=(--kernel-path=false)
                    if [ "$rate" = 0 ]; then mode=-; else mode=defaults; fi
                    start_vc "" "$mode" "${extra[@]}"
                    load_flows "$RAW/flows_$name-$kind-$r.json" "$HOST:$VC_PORT" "$VC_PID" "$n" \
                        "$rate" "$size" || log "flows $name $kind failed in round $r"
                    stop_pid "$VC_PID"
                done
                start_coturn ""
                load_flows "$RAW/flows_$name-coturn-$r.json" "$HOST:$CO_PORT" "$CO_PID" "$n" \
                    "$rate" "$size" || log "flows $name coturn failed in round $r"
                stop_pid "$CO_PID"
            done
        done
    fi

    if wants allocrate; then
        log "allocations from one source address, vc-turn at its defaults (unauth-rate 50)"
        for r in $(seq 1 "$ROUNDS"); do
            start_vc "" defaults
            load_allocrate "$RAW/allocrate-vc-$r.json" "$HOST:$VC_PORT" "$VC_PID" ||
                log "allocrate vc failed in round $r"
            stop_pid "$VC_PID"
            start_coturn ""
            load_allocrate "$RAW/allocrate-coturn-$r.json" "$HOST:$CO_PORT" "$CO_PID" ||
                log "allocrate coturn failed in round $r"
            stop_pid "$CO_PID"
        done
    fi

    if wants rate || wants latency || wants alloc; then
        log "default thread counts: throughput at <= 0.5% loss, latency at 20k pps, set-up rate"
        start_vc ""
        start_coturn ""
        for r in $(seq 1 "$ROUNDS"); do
            if wants rate; then run_pair rate_search "$r"; fi
            if wants latency; then
                load_flood "$RAW/latency-vc-$r.json" "$HOST:$VC_PORT" "$VC_PID" --rate 20000 \
                    --calls 4 || log "latency vc failed"
                load_flood "$RAW/latency-coturn-$r.json" "$HOST:$CO_PORT" "$CO_PID" --rate 20000 \
                    --calls 4 || log "latency coturn failed"
            fi
            if wants alloc; then run_pair alloc "$r"; fi
        done
        stop_servers
    fi

    if wants kernel; then
        log "kernel path: vc-turn kernel / user space / coturn, 100-allocation flood, 1,000 x 50 pps"
        for r in $(seq 1 "$ROUNDS"); do kernel_round "$r"; done
        grep -h "relaying" "$RAW/vc-turn.log" | sort | uniq -c >"$RAW/kernel-path.txt" || true
    fi

    if wants memory; then
        log "memory per allocation (2000 held, fresh servers each round)"
        for r in $(seq 1 "$ROUNDS"); do
            start_vc ""
            sleep 0.5
            load_hold "$RAW/memory-vc-$r.json" "$HOST:$VC_PORT" "$VC_PID" || log "hold vc failed"
            stop_pid "$VC_PID"
            start_coturn ""
            sleep 0.5
            load_hold "$RAW/memory-coturn-$r.json" "$HOST:$CO_PORT" "$CO_PID" ||
                log "hold coturn failed"
            stop_pid "$CO_PID"
        done
    fi

    if wants calls && [ -x "$VC_LOAD" ]; then
        log "realistic audio calls (vc-load --ramp), one round (each ramp is long)"
        start_vc ""
        start_coturn ""
        load_calls "$RAW/calls-vc-1.json" "$HOST:$VC_PORT" "$VC_PID" "$RESULTS/calls-vc.png" ||
            log "calls vc failed"
        load_calls "$RAW/calls-coturn-1.json" "$HOST:$CO_PORT" "$CO_PID" \
            "$RESULTS/calls-coturn.png" || log "calls coturn failed"
        stop_servers
    fi

    if wants budget && [ -x "$VC_LOAD" ]; then
        if cage_make; then
            log "calls with each server held to $CALLS_CPU% of one core ($CPU_CAGE), $ROUNDS rounds"
            echo "$CALLS_CPU" >"$RAW/budget-cpu-pct.txt"
            for r in $(seq 1 "$ROUNDS"); do
                # In user space: the kernel path relays in softirq, which no cgroup holds.
                start_vc "" - --kernel-path=false
                cage_put "$VC_PID"
                load_budget "$RAW/budget-vc-$r.json" "$HOST:$VC_PORT" "$VC_PID" ||
                    log "budget vc failed in round $r"
                stop_pid "$VC_PID"
                start_coturn ""
                cage_put "$CO_PID"
                load_budget "$RAW/budget-coturn-$r.json" "$HOST:$CO_PORT" "$CO_PID" ||
                    log "budget coturn failed in round $r"
                stop_pid "$CO_PID"
            done
            cage_drop
        else
            log "budget: skipped (no writable cpu cgroup: needs root and cgroup v2 or v1 cpu)"
        fi
    fi

    if { wants signal || wants conns || wants joins; } && [ -x build/bin/vc-signal ] &&
        [ -x "$VC_LOAD" ]; then
        install_peerjs
        # vc-load raises its own descriptor limit; the servers inherit this one.
        ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    elif wants signal || wants conns || wants joins; then
        log "signalling skipped: needs build/bin/vc-signal and $VC_LOAD"
        ONLY=${ONLY//signal/}
        ONLY=${ONLY//conns/}
        ONLY=${ONLY//joins/}
    fi

    if wants signal; then
        log "signalling: 100 rooms x 100 signals/s over WSS, vc-signal against PeerJS and the bare TLS relay"
        start_sig
        start_peerjs
        start_tlsrelay
        for r in $(seq 1 "$ROUNDS"); do
            load_sig "$RAW/signal-vc-$r.json" vc "$SIG_PID" --rooms 100 --rate 100 \
                --duration "$DUR" || log "signal vc failed in round $r"
            load_sig "$RAW/signal-peerjs-$r.json" peerjs "$PJ_PID" --rooms 100 --rate 100 \
                --duration "$DUR" || log "signal peerjs failed in round $r"
            load_sig "$RAW/signal-tlsrelay-$r.json" tlsrelay "$TLSR_PID" --rooms 100 --rate 100 \
                --duration "$DUR" || log "signal tlsrelay failed in round $r"
        done
        stop_servers
    fi

    if wants conns; then
        log "signalling: $SIG_CONNS connections held (fresh servers each round)"
        for r in $(seq 1 "$ROUNDS"); do
            sig_conns_round conns "$r" "$SIG_CONNS"
        done
        # Each side needs a descriptor per client plus its own; where the hard limit cannot be
        # raised (containers), hold what fits rather than let the last clients hang unaccepted.
        local nofile
        nofile=$(ulimit -n)
        if [ "$nofile" != unlimited ] && [ "$SIG_BIG" -gt $((nofile - 300)) ]; then
            log "signalling: $nofile open files at most here, so $(((nofile - 300) / 2 * 2)) clients, not $SIG_BIG"
            SIG_BIG=$(((nofile - 300) / 2 * 2))
        fi
        if [ "$SIG_BIG" -gt 0 ]; then
            log "signalling: $SIG_BIG connections held, one round"
            sig_conns_round conns_big 1 "$SIG_BIG"
        fi
    fi

    if wants joins; then
        log "signalling: join latency at 500 joins/s (1000 rooms)"
        for r in $(seq 1 "$ROUNDS"); do
            start_sig
            start_peerjs
            load_sig "$RAW/joins-vc-$r.json" vc "$SIG_PID" --rooms 1000 --join-rate 500 \
                --duration 2 --rate 1 || log "joins vc failed in round $r"
            load_sig "$RAW/joins-peerjs-$r.json" peerjs "$PJ_PID" --rooms 1000 --join-rate 500 \
                --duration 2 --rate 1 || log "joins peerjs failed in round $r"
            stop_servers
        done
    fi

    if wants watch && [ -x build/bin/vc-signal ]; then
        log "dashboard: 50 rooms, 200 patients waiting, their checks changing at 100/s and 500/s"
        (cd tests/signal && npm ci --no-audit --no-fund --silent) || die "npm ci in tests/signal"
        for r in $(seq 1 "$ROUNDS"); do
            start_sig
            build/bin/vc-signal team add Bench --data-dir "$RAW/signal-data" >/dev/null 2>&1
            printf '%s\n' "bench-$API_KEY" | build/bin/vc-signal user add bench@example.org \
                --name Bench --team Bench --data-dir "$RAW/signal-data" >/dev/null 2>&1
            for rate in 100 500; do
                VC_ORIGIN="https://$HOST:$SIG_PORT" node bench/tools/watch.mjs "$SIG_PORT" \
                    bench@example.org "bench-$API_KEY" \
                    certs/ca.crt 50 200 "$rate" "$((DUR * 2))" "$SIG_PID" \
                    >"$RAW/watch$rate-vc-$r.json" 2>>"$RAW/watch.log" ||
                    log "watch at $rate/s failed in round $r (see $RAW/watch.log)"
            done
            stop_servers
        done
    fi

    uptime >"$RAW/load-after.txt"
    python3 bench/report.py --raw "$RAW" --rounds "$ROUNDS" --duration "$DUR" --loader "$LOADER" \
        --elapsed $((SECONDS - start)) --out "$RESULTS/latest.md"
    cat "$RESULTS/latest.md"
}

main "$@"
