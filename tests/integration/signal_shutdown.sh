#!/usr/bin/env bash
# vc-signal stops cleanly (exit 0, no sanitizer report) while password checks are still queued
# and running on its worker threads, and while their clients wait for the answers.
. "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT
need_dev_certs
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing"

port=$(free_port) || die "no free TCP port"
LOG=$TEST_LOGS/signal_shutdown-server.log
start_signal "$LOG" "$port" --listen "127.0.0.1:$port" --cert certs/server.crt \
    --key certs/server.key --public-url "https://localhost:$port" --data-dir "$WORK/data" \
    --log "$WORK/meta.log"

# Twenty failed logins (each an scrypt run of tens of milliseconds) from twenty addresses.
for i in $(seq 1 20); do
    curl -s -o /dev/null -m 10 --cacert certs/ca.crt --resolve "localhost:$port:127.0.0.1" \
        --interface "127.0.1.$i" -H 'Content-Type: application/json' \
        -d "{\"email\":\"nobody$i@example.invalid\",\"password\":\"not-the-password\"}" \
        "https://localhost:$port/api/v1/session" &
done
sleep 0.3
metrics=$(curl -fsS -m 2 --cacert certs/ca.crt --resolve "localhost:$port:127.0.0.1" \
    "https://localhost:$port/metrics")
done_logins=$(awk '/^vc_signal_logins_total\{outcome="wrong"\}/ { print $2 }' <<<"$metrics")
check signal_shutdown_logins_still_in_flight "all 20 were done before the stop ($done_logins)" \
    test "${done_logins:-20}" -lt 20
stop_checked "$SIGNAL_PID" signal_shutdown_with_logins_in_flight_exits_0 "$LOG"
check signal_shutdown_no_sanitizer_report "see $LOG" no_sanitizer_report "$LOG"
wait
finish
