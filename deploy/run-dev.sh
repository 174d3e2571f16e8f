#!/usr/bin/env bash
# Runs the dev servers in the foreground for `make run` (Ctrl-C stops them).
# Usage: deploy/run-dev.sh BUILD_DIR
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."

# A dev TURN secret, generated once and kept in the build directory (never printed).
secret_file=$build/dev-turn-secret
if [ ! -s "$secret_file" ]; then
    mkdir -p "$build"
    (umask 077; openssl rand -hex 32 >"$secret_file")
fi

listen=(--listen 127.0.0.1:3478)
# Also listen on IPv6 loopback when the host has it.
if [ -r /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6; then
    listen+=(--listen '[::1]:3478' --relay-ip6 ::1)
fi

exec "$build/bin/vc-turn" \
    "${listen[@]}" \
    --tls-listen 127.0.0.1:5349 --cert certs/server.crt --key certs/server.key \
    --relay-ip 127.0.0.1 \
    --metrics 127.0.0.1:9641 \
    --secret-file "$secret_file" \
    --allow-peer 127.0.0.0/8 --allow-peer ::1/128 \
    --log -
