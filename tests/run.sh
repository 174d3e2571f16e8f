#!/usr/bin/env bash
# Runs the unit test binaries and the integration suites; prints one "N passed, N failed" line.
# Usage: tests/run.sh BUILD_DIR [unit|integration]
#
# The integration suites run in two lanes and then the browser suites (e2e*) alone:
#   lane 1: the suites that mostly wait (a 30 s reservation expiry, a 60 s allocation expiry in the
#           kernel, paced relay runs, a PostgreSQL server), listed in WAITING below;
#   lane 2: every other suite that drives no browser, at the same time as lane 1;
#   then:   the browser suites that time calls (e2e*), one after another on a machine that does
#           nothing else, because their media timings are what they measure. A browser suite
#           that times no call (listed in UNTIMED) runs in lane 2.
# Each suite's output is printed whole when it ends, under a lock, so lanes never interleave.
set -u
build=${1:-build}
only=${2:-all}
export VC_BUILD=$build
cd "$(dirname "$0")/.."
WAITING="turn_kernel turn_interop postgres"
UNTIMED="e2e_access"
results=$(mktemp)
lock=$(mktemp)
trap 'rm -f "$results" "$lock"' EXIT

# run_suite NAME CMD...: runs one suite, prints its output, and records "passed failed rc name" in
# $results; a suite that prints "N passed, N failed" adds those counts, else it counts as one.
run_suite() {
    local name=$1; shift
    local out rc t0=$SECONDS line p=0 f=0
    out=$(mktemp)
    "$@" >"$out" 2>&1
    rc=$?
    line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
        f=$(sed -E 's/^([A-Za-z-]+: )?[0-9]+ passed, ([0-9]+) failed.*/\2/' <<<"$line")
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    elif [ "$rc" -eq 0 ]; then
        p=1
    else
        f=1
    fi
    {
        flock 9
        echo "== $name"
        cat "$out"
        echo "   ($name: $((SECONDS - t0)) s)"
        echo "$p $f $rc $name" >>"$results"
    } 9>"$lock"
    rm -f "$out"
}

# in_list WORD LIST: true when WORD is one of LIST's space-separated words.
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

# The waiting lane; the TURN suites must also pass with vc-turn's kernel path off
# (tests/integration/turn_kernel.sh compares the two directly).
waiting_lane() {
    local t
    export VC_PORT_LANE=1
    for t in $WAITING; do
        run_suite "integration: $t.sh" timeout 300 "tests/integration/$t.sh"
    done
    for t in turn_interop turn_nice turn_refusals; do
        run_suite "integration: $t.sh, kernel path off" env VC_KERNEL_PATH=off \
            VC_SUITE="$t-kernel-off" timeout 300 \
            "tests/integration/$t.sh"
    done
}

if [ "$only" != integration ]; then
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        run_suite "unit: $(basename "$t")" "$t"
    done
fi
if [ "$only" != unit ]; then
    waiting_lane &
    lane=$!
    export VC_PORT_LANE=2
    browsers=()
    for t in tests/integration/*.sh; do
        [ -x "$t" ] || continue
        name=$(basename "$t" .sh)
        in_list "$name" "$WAITING" && continue
        case $name in e2e*) in_list "$name" "$UNTIMED" || { browsers+=("$t"); continue; } ;; esac
        run_suite "integration: $name.sh" timeout 300 "$t"
    done
    wait "$lane"
    for t in "${browsers[@]}"; do
        run_suite "integration: $(basename "$t")" timeout 300 "$t"
    done
fi

passed=0 failed=0
failures=$(awk '$3 != 0 { $1 = $2 = ""; sub(/^  /, ""); rc = $1; $1 = ""; sub(/^ /, "");
    print "  " $0 " (exit " rc ")" }' "$results")
read -r passed failed < <(awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }' "$results")
if [ -n "$failures" ]; then
    printf '\nfailed suites:\n%s\n' "$failures"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
