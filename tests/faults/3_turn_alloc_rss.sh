#!/usr/bin/env bash
# Fault: 100,000 allocate/delete cycles against vc-turn (bench/tools/flood.c alloc mode: Allocate
# with the 401 challenge answered, then Refresh lifetime 0, i.e. the RFC 8656 delete, each on a
# fresh 5-tuple from 127.2.0.0/16), with the server's VmRSS flat within 1 MB after a 10,000-cycle
# warm-up. flood.c has no count limit, so it runs in a few timed slices whose counts are summed:
# a 1 s warm-up slice, then slices sized from the measured rate (at most 8 slices, each <= 120 s).
# Few slices matter: each ends with up to 32 cycles in flight, which flood closes without a delete,
# and those allocations hold relay ports (100 here) until their lifetime ends.
# Loopback only. FAULT_ALLOC_CYCLES overrides the 100,000.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

SUITE=fault_turn_alloc_rss
CYCLES=${FAULT_ALLOC_CYCLES:-100000}
WARMUP=10000
FLOOD=build/bench/flood
WORK=$TEST_LOGS/$SUITE
rm -rf "$WORK"
mkdir -p "$WORK"

# Built as bench/run.sh builds it, into build/bench/ (rebuilt when a source is newer).
flood_srcs=(bench/tools/flood.c src/stun/stun.c src/common/rest_cred.c src/common/addr.c)
need_build=
[ -x "$FLOOD" ] || need_build=1
for s in "${flood_srcs[@]}"; do [ "$s" -nt "$FLOOD" ] && need_build=1; done
if [ -n "$need_build" ]; then
    mkdir -p build/bench
    cc -std=gnu11 -O2 -g -D_GNU_SOURCE -Iinclude -Wall -Wextra -Wshadow -Wformat=2 \
        -Wmissing-prototypes -Wno-missing-field-initializers -o "$FLOOD" "${flood_srcs[@]}" \
        -lcrypto >"$WORK/build.log" 2>&1 || die "cannot build $FLOOD (see $WORK/build.log)"
fi

pick_ports
start_server "$SUITE"

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null
}

# run_until N: flood slices until the total reaches N (at most 8 slices); sums into DONE.
DONE=0
FAILED=0
SLICES=0
run_until() {
    local n fl secs rate
    while [ "$DONE" -lt "$1" ] && [ "$SLICES" -lt 8 ]; do
        SLICES=$((SLICES + 1))
        secs=1
        if [ "$DONE" -gt 0 ]; then
            rate=$(jq -r '.alloc_per_s | floor' "$WORK/slice.json")
            secs=$((($1 - DONE) / (rate > 100 ? rate : 100) + 1))
            [ "$secs" -le 120 ] || secs=120
        fi
        "$FLOOD" alloc --server "127.0.0.1:$TURN_PORT" --secret "$TURN_SECRET" \
            --duration "$secs" --parallel 32 --json "$WORK/slice.json" >>"$WORK/flood.log" 2>&1
        n=$(jq -r .allocations "$WORK/slice.json" 2>/dev/null)
        fl=$(jq -r .failed "$WORK/slice.json" 2>/dev/null)
        [[ "$n" =~ ^[0-9]+$ ]] || return 1
        DONE=$((DONE + n))
        FAILED=$((FAILED + fl))
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
    done
    [ "$DONE" -ge "$1" ]
}

t0=$(date +%s)
run_until "$WARMUP" || die "flood failed during warm-up after $DONE cycles (see $WORK/flood.log)"
rss0=$(rss_kb)
echo "# warm-up: $DONE cycles in $(($(date +%s) - t0)) s, VmRSS ${rss0} kB"
check fault_alloc_cycles_complete "only $DONE of $CYCLES cycles in $SLICES slices (see $WORK/flood.log)" \
    run_until "$CYCLES"
rss1=$(rss_kb)
secs=$(($(date +%s) - t0))
echo "# $DONE cycles in $secs s ($((DONE / (secs > 0 ? secs : 1)))/s), $FAILED failed; VmRSS ${rss0} kB -> ${rss1} kB ($((rss1 - rss0)) kB)"
check fault_alloc_few_failures "$FAILED of $DONE cycles failed" test "$FAILED" -le $((DONE / 1000))
check fault_alloc_rss_flat_within_1mb "VmRSS ${rss0} kB after warm-up -> ${rss1} kB after $DONE cycles" \
    test $((rss1 - rss0)) -le 1024
# Not checked: each slice ends with up to 32 cycles in flight, which flood closes without a
# delete, so those allocations live on until their lifetime runs out.
echo "# vc_turn_allocations at the end: $(metric vc_turn_allocations) (in flight when slices ended)"
stop_server
finish
