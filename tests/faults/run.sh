#!/usr/bin/env bash
# Runs the fault scenarios (make test-faults), one script each, and prints "N passed, N failed".
# Usage: tests/faults/run.sh [BUILD_DIR]
# Scenarios 1, 2 and 7 drive Debian's Chromium; 5 needs root, iproute2 and the kernel's
# sch_netem (it skips without them); 6 (a 30 s partition of a vc-signal node from Redis) needs
# root and network namespaces; 7 and 8 run deploy/local-cluster.sh (Redis, haproxy, two nodes
# of each daemon): kill -9 of a signalling node under a Chromium call, and Redis killed and
# restarted under vc-load. tests/integration/cluster.sh (make test) covers the fast cases. Everything stays on loopback or in network
# namespaces the scenarios create.
set -u
build=${1:-build}
export VC_BUILD=$build
cd "$(dirname "$0")/../.." || exit 2
passed=0 failed=0 failures=()
start=$(date +%s)
for t in tests/faults/[0-9]*_*.sh; do
    [ -x "$t" ] || continue
    name=$(basename "$t" .sh)
    out=$(mktemp)
    echo "== $name"
    s=$(date +%s)
    timeout 900 "$t" >"$out" 2>&1
    rc=$?
    cat "$out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*, }
        f=${f%% failed*}
        passed=$((passed + p))
        failed=$((failed + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
    else
        echo "FAIL $name: no summary line (exit $rc)"
        failed=$((failed + 1))
    fi
    [ "$rc" -eq 0 ] || failures+=("$name (exit $rc)")
    echo "# $name: $(($(date +%s) - s)) s"
    rm -f "$out"
done
if [ ${#failures[@]} -gt 0 ]; then
    printf '\nfailed scenarios:\n'
    printf '  %s\n' "${failures[@]}"
fi
echo
echo "# wall time $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
