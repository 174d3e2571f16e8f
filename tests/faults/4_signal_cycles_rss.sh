#!/usr/bin/env bash
# Fault: create/join/leave cycles against vc-signal, with rooms in the process and then in Redis (cycles.mjs: POST /api/v1/rooms, host
# join over a fresh vc.v1 WebSocket, leave, DELETE; 16 at once), with VmRSS flat within 1 MB
# after a 10,000-cycle warm-up. vc-load signal holds its rooms for a measured window and cannot
# loop create/join/leave, hence the node client (the ws package from tests/signal/node_modules).
# Count: the issue asks for 100,000, but this 2-core machine does 215-300 cycles/s (each cycle a
# fresh TLS handshake and WebSocket, node client and server sharing the CPU; 16 or 32 at once
# makes no difference: 40,000 took 134.8 s, 296/s; 100,000 took 361 s, 276/s, RSS flat), so the
# full figure takes about 6 minutes. The default
# is 40,000 (~2.5 minutes) after a 10,000 warm-up; FAULT_SIGNAL_CYCLES=100000 runs the full figure
# (the node client is bounded to 15 minutes; FAULT_SIGNAL_WORKERS sets the concurrency). Loopback
# only.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

SUITE=fault_signal_cycles_rss
CYCLES=${FAULT_SIGNAL_CYCLES:-40000}
WARMUP=$((CYCLES / 4 < 10000 ? CYCLES / 4 : 10000))
WORK=$(cd "$TEST_LOGS" && pwd)/$SUITE
rm -rf "$WORK"
mkdir -p "$WORK/data"

need_node
need_dev_certs
npm_ci tests/signal ws
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing"
# run_cycles MODE: the cycles against one vc-signal; MODE "memory" keeps rooms in the process,
# "redis" shares them through a redis-server started here (and checks no room key is left).
run_cycles() {
    local mode=$1 redis_args=() rport
    if [ "$mode" = redis ]; then
        rport=$(free_port) || die "no free TCP port found after 30 tries"
        redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
            >"$WORK/redis.log" 2>&1 &
        BG_PIDS+=("$!")
        wait_for redis-server "$!" "$WORK/redis.log" redis-cli -p "$rport" ping
        redis_args=(--redis "redis://127.0.0.1:$rport" --node-id cycles)
    fi
    port=$(free_port) || die "no free TCP port found after 30 tries"
    API_KEY=key-$(openssl rand -hex 20)
    start_signal "$WORK/signal-$mode.log" "$port" --listen "127.0.0.1:$port" --cert certs/server.crt \
        --key certs/server.key --public-url "https://localhost:$port" --api-key "$API_KEY" \
        --turn-secret "s-$RANDOM$RANDOM" --ice-server "turn:127.0.0.1:3478?transport=udp" \
        --data-dir "$WORK/data" --log "$WORK/meta.log" --max-conns-per-ip-per-min 1000000 \
        --max-conns-per-ip 1000000 \
        --resume-grace 1 "${redis_args[@]}"

    rss_kb() {
        awk '/^VmRSS:/ { print $2 }' "/proc/$SIGNAL_PID/status" 2>/dev/null
    }

    rm -f "$WORK/in"
    mkfifo "$WORK/in"
    (cd tests/faults && VC_WORKERS=${FAULT_SIGNAL_WORKERS:-16} VC_PORT=$port VC_API_KEY=$API_KEY VC_CA=$PWD/../../certs/ca.crt \
        exec timeout 900 "$NODE" cycles.mjs "$CYCLES" "$WARMUP") <"$WORK/in" >"$WORK/cycles-$mode.out" 2>&1 &
    CYC_PID=$!
    BG_PIDS+=("$CYC_PID")
    exec 7>"$WORK/in"
    for _ in $(seq 1 1200); do # the warm-up: at most 10 minutes
        grep -q '^mark' "$WORK/cycles-$mode.out" && break
        kill -0 "$CYC_PID" 2>/dev/null || break
        sleep 0.5
    done
    read -r _ wdone wfail wms < <(grep '^mark' "$WORK/cycles-$mode.out") ||
        die "no warm-up mark from cycles.mjs: $(tail -n 3 "$WORK/cycles-$mode.out")"
    sleep 1 # let the last sockets close
    rss0=$(rss_kb)
    echo "# $mode: warm-up: $wdone cycles ($wfail failed) in $wms ms, VmRSS $rss0 kB"
    echo go >&7
    exec 7>&-
    wait "$CYC_PID"
    forget_pid "$CYC_PID"
    sleep 1
    rss1=$(rss_kb)
    read -r _ ndone nfail ms rest < <(grep '^done' "$WORK/cycles-$mode.out") ||
        die "cycles.mjs did not finish: $(tail -n 3 "$WORK/cycles-$mode.out")"
    echo "# $mode: $ndone cycles, $nfail failed, in $ms ms ($((ndone * 1000 / (ms > 0 ? ms : 1)))/s); VmRSS $rss0 kB -> $rss1 kB ($((rss1 - rss0)) kB) ${rest:-}"
    check fault_signal_${mode}_cycles_complete "$ndone of $CYCLES cycles" test "$ndone" -ge "$CYCLES"
    check fault_signal_${mode}_cycles_few_failures "$nfail of $ndone failed ${rest:-}" test "$nfail" -le $((ndone / 1000))
    check fault_signal_${mode}_rss_flat_within_1mb "VmRSS $rss0 kB after warm-up -> $rss1 kB after $ndone cycles" \
        test $((rss1 - rss0)) -le 1024
    rooms=$(curl -fsS -m 2 --cacert certs/ca.crt --resolve "localhost:$port:127.0.0.1" \
        "https://localhost:$port/metrics" 2>/dev/null | awk '$1 == "vc_signal_rooms" { print $2 }')
    check fault_signal_${mode}_no_rooms_left "vc_signal_rooms ${rooms:-?} after every DELETE" test "${rooms:-1}" = 0
    stop_checked "$SIGNAL_PID" "fault_signal_${mode}_cycles_server_exits_cleanly" "$WORK/signal-$mode.log"
    if [ "$mode" = redis ]; then
        keys=$(redis-cli -p "$rport" --scan --pattern 'vc:*' | grep -Ev '^vc:(node|ended):' | head -n 5)
        check fault_signal_redis_no_room_keys_left "keys left: $keys" test -z "$keys"
    fi
}

for mode in memory redis; do
    [ "$mode" = redis ] && ! command -v redis-server >/dev/null && { skip fault_signal_redis_cycles "no redis-server"; continue; }
    run_cycles "$mode"
done
finish
