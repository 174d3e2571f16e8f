#!/usr/bin/env bash
# Runs the dev servers for `make run`: vc-turn in the background, vc-signal in the foreground
# (Ctrl-C stops both). Usage: deploy/run-dev.sh BUILD_DIR
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."

# Dev secrets, generated once and kept in the build directory (never printed). Both servers read
# the same TURN secret file, so the credentials vc-signal hands out are the ones vc-turn checks.
secret_file=$build/dev-turn-secret
api_key_file=$build/dev-api-key
mkdir -p "$build"
for f in "$secret_file" "$api_key_file"; do
    if [ ! -s "$f" ]; then
        (umask 077; openssl rand -hex 32 >"$f")
    fi
done

listen=(--listen 127.0.0.1:3478)
# Browsers on this machine gather candidates on its own interface addresses, not on loopback:
# let a relay reach those (each as a single host) so relay-only calls work locally too.
own_peers=()
for ip in $(ip -4 -o addr show scope global 2>/dev/null | awk '{split($4, a, "/"); print a[1]}'); do
    own_peers+=(--allow-peer "$ip/32")
done
# Also listen on IPv6 loopback when the host has it.
if [ -r /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6; then
    listen+=(--listen '[::1]:3478' --relay-ip6 ::1)
fi

# Both run as background jobs (which ignore SIGINT in a script), so the traps stop them with
# SIGTERM whether the script ends by Ctrl-C, by a SIGTERM, or because one of them exited.
turn_pid=
signal_pid=
stop() {
    for pid in $signal_pid $turn_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $signal_pid $turn_pid; do
        wait "$pid" 2>/dev/null || true
    done
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$build/bin/vc-turn" \
    "${listen[@]}" \
    --tls-listen 127.0.0.1:5349 --cert certs/server.crt --key certs/server.key \
    --relay-ip 127.0.0.1 \
    --metrics 127.0.0.1:9641 \
    --secret-file "$secret_file" \
    --allow-peer 127.0.0.0/8 --allow-peer ::1/128 "${own_peers[@]}" \
    --log - &
turn_pid=$!

# Give vc-turn a moment, and stop early if it refused to start.
sleep 0.3
if ! kill -0 "$turn_pid" 2>/dev/null; then
    wait "$turn_pid" || exit $?
fi

echo "run-dev: API key in $api_key_file; add a clinician with:" \
    "$build/bin/vc-signal user add EMAIL --data-dir $build/data" >&2
"$build/bin/vc-signal" \
    --listen 127.0.0.1:8443 \
    --cert certs/server.crt --key certs/server.key \
    --public-url https://localhost:8443 \
    --allowed-origin https://127.0.0.1:8443 \
    --api-key-file "$api_key_file" \
    --turn-secret-file "$secret_file" \
    --ice-server stun:127.0.0.1:3478 \
    --ice-server 'turn:127.0.0.1:3478?transport=udp' \
    --ice-server 'turn:127.0.0.1:3478?transport=tcp' \
    --ice-server 'turns:localhost:5349?transport=tcp' \
    --data-dir "$build/data" \
    --web-root src/web \
    --log - &
signal_pid=$!
# Waiting (rather than exec) keeps this shell alive to stop vc-turn when vc-signal ends, and
# vc-signal when vc-turn ends.
status=0
wait -n "$signal_pid" "$turn_pid" || status=$?
exit "$status"
