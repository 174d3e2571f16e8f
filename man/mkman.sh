#!/usr/bin/env bash
# Writes a man page to stdout: TEMPLATE's hand-written roff, with each "@options [SUBCOMMAND]@"
# line replaced by the option table of BINARY [SUBCOMMAND] (its hidden --man-options, the same
# table and text --help prints) and "@version@" by the release.
# Usage: man/mkman.sh TEMPLATE BINARY VERSION
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 TEMPLATE BINARY VERSION" >&2; exit 2; }
template=$1 bin=$2 version=$3
while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line =~ ^@options(\ ([a-z]+))?@$ ]]; then
        # A subcommand (vc-signal user, vc-load relay) comes before the flag.
        "$bin" ${BASH_REMATCH[2]:+"${BASH_REMATCH[2]}"} --man-options
    else
        printf '%s\n' "${line//@version@/$version}"
    fi
done <"$template"
