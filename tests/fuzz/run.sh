#!/usr/bin/env bash
# Builds and runs every libFuzzer harness tests/fuzz/fuzz_*.c for SECONDS each; fails on a crash.
# Usage: tests/fuzz/run.sh [SECONDS]
#
# A harness names what it links in comment lines near its top:
#   // fuzz-sources: src/stun/stun.c src/common/addr.c
#   // fuzz-libs: -lcrypto
# Its seed corpus is tests/fuzz/corpus/NAME (fuzz_NAME.c); it is copied to build/fuzz/corpus/NAME
# so the inputs libFuzzer adds never touch the committed seeds. Crash inputs land in
# build/fuzz/artifacts/NAME/: turn them into unit-test regression cases.
set -u
seconds=${1:-60}
cd "$(dirname "$0")/../.." || exit 1
out=build/fuzz
CC=${FUZZ_CC:-clang}
passed=0 failed=0

if ! command -v "$CC" >/dev/null; then
    echo "fuzz: $CC not found (apt-get install -y clang libclang-rt-14-dev, or make deps DEPS_GROUP=fuzz)"
    echo "0 passed, 1 failed"
    exit 1
fi

# Prints the value of "// KEY: value" from the first 20 lines of a harness.
header_field() {
    sed -n '1,20{s|^// *'"$2"': *||p}' "$1" | head -n 1
}

mkdir -p "$out"
for src in tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    bin=$out/fuzz_$name
    sources=$(header_field "$src" fuzz-sources)
    libs=$(header_field "$src" fuzz-libs)
    echo "== fuzz $name (${seconds}s)"
    # shellcheck disable=SC2086,SC2046 # sources, libs and pkg-config output are word lists
    if ! "$CC" -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -std=gnu11 -Iinclude -D_GNU_SOURCE \
        $(pkg-config --cflags openssl 2>/dev/null) -o "$bin" "$src" $sources $libs; then
        echo "FAIL fuzz $name: build failed"
        failed=$((failed + 1))
        continue
    fi
    corpus=$out/corpus/$name
    artifacts=$out/artifacts/$name
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -f "tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
    fi
    log=$out/$name.log
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=abort_on_error=0 \
        "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$corpus" >"$log" 2>&1
    rc=$?
    crashes=$(find "$artifacts" -type f | wc -l)
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ +DONE)' "$log" || true
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        echo "FAIL fuzz $name: exit $rc, $crashes crash input(s) in $artifacts (log: $log)"
        grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 20
        failed=$((failed + 1))
    else
        echo "ok   fuzz $name"
        passed=$((passed + 1))
    fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
