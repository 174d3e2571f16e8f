#!/usr/bin/env bash
# Runs the unit test binaries and the integration suites; prints one "N passed, N failed" line.
# Usage: tests/run.sh BUILD_DIR [unit|integration]
set -u
build=${1:-build}
only=${2:-all}
export VC_BUILD=$build
cd "$(dirname "$0")/.."
passed=0 failed=0 failures=()

# Runs one suite; a suite that prints "N passed, N failed" adds those counts, else it counts as one.
run_suite() {
    local name=$1; shift
    local out rc t0=$SECONDS
    out=$(mktemp)
    echo "== $name"
    "$@" >"$out" 2>&1
    rc=$?
    cat "$out"
    echo "   ($name: $((SECONDS - t0)) s)"
    local line
    line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        local p f
        p=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
        f=$(sed -E 's/^([A-Za-z-]+: )?[0-9]+ passed, ([0-9]+) failed.*/\2/' <<<"$line")
        passed=$((passed + p)); failed=$((failed + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
    elif [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    if [ "$rc" -ne 0 ]; then failures+=("$name (exit $rc)"); fi
    rm -f "$out"
}

if [ "$only" != integration ]; then
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        run_suite "unit: $(basename "$t")" "$t"
    done
fi
if [ "$only" != unit ]; then
    for t in tests/integration/*.sh; do
        [ -x "$t" ] || continue
        run_suite "integration: $(basename "$t")" timeout 300 "$t"
    done
    # The TURN suites ran with vc-turn's kernel path on (where the machine allows it); they must
    # pass the same with it off (tests/integration/turn_kernel.sh compares the two directly).
    for t in turn_interop turn_nice turn_refusals; do
        run_suite "integration: $t.sh, kernel path off" env VC_KERNEL_PATH=off timeout 300 \
            "tests/integration/$t.sh"
    done
fi

if [ ${#failures[@]} -gt 0 ]; then
    printf '\nfailed suites:\n'; printf '  %s\n' "${failures[@]}"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
