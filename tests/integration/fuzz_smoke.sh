#!/usr/bin/env bash
# Keeps `make fuzz` honest in `make test`: every harness builds and runs its seed corpus briefly.
set -u
cd "$(dirname "$0")/../.."
exec tests/fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-3}"
