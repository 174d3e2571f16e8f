#!/usr/bin/env bash
# Fault: SIGHUP reload of vc-turn and vc-signal during a live relay-only Chromium call: both
# daemons log the reload, and the call drops nothing (video keeps advancing on both sides, no
# peer-away, no WebSocket closed, no ICE restart). Loopback only.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=tests/faults/common.sh
. tests/faults/common.sh

faults_call_setup fault_reload_call steady

# A changed limit in each file, so the reload has something to apply.
jq '. + {"max-allocations": 5000}' "$WORK/turn.json" >"$WORK/t.json" && mv "$WORK/t.json" "$WORK/turn.json"
jq '. + {"max-rooms": 5000}' "$WORK/signal.json" >"$WORK/s.json" && mv "$WORK/s.json" "$WORK/signal.json"
kill -HUP "$TURN_PID" "$SIGNAL_PID"
faults_call_go

# wait_log FILE REGEX: true once FILE has a line matching REGEX (at most 5 s).
wait_log() {
    for _ in $(seq 1 25); do
        grep -qE "$2" "$1" && return 0
        sleep 0.2
    done
    return 1
}
check fault_reload_turn_logged_reload "no 'SIGHUP: reloaded' in $WORK/turn.log" \
    wait_log "$WORK/turn.log" 'SIGHUP: reloaded'
check fault_reload_signal_logged_reload "no 'SIGHUP: configuration reloaded' in $WORK/signal.log" \
    wait_log "$WORK/signal.log" 'SIGHUP: configuration reloaded'

faults_call_finish "$WORK"
check fault_reload_daemons_still_running "vc-turn or vc-signal exited" \
    kill -0 "$TURN_PID" "$SIGNAL_PID"
stop_checked "$SIGNAL_PID" fault_reload_signal_exits_cleanly "$WORK/signal.log"
stop_checked "$TURN_PID" fault_reload_turn_exits_cleanly "$WORK/turn.log"
finish
