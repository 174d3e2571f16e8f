#!/usr/bin/env bash
# Fault: kill -9 of vc-turn under a live relay-only Chromium call, restarted at once on the same
# ports: both sides recover through ICE restart within 10 s (path relayed again, video advancing),
# without a page reload. Loopback only.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=tests/faults/common.sh
. tests/faults/common.sh

faults_call_setup fault_turn_kill recover

allocs=$(metric vc_turn_allocations)
echo "# live allocations before the kill: ${allocs:-?}"
kill_at=$(date +%s%3N)
kill -KILL "$TURN_PID"
faults_call_go
wait "$TURN_PID" 2>/dev/null
forget_pid "$TURN_PID"
# The same ports, the same secret: the browsers' credentials stay valid, their allocations do not.
faults_start_turn "$WORK"
echo "# vc-turn killed and answering again $(($(date +%s%3N) - kill_at)) ms later (pid $TURN_PID)"

faults_call_finish "$WORK"
stop_checked "$SIGNAL_PID" fault_turn_kill_signal_exits_cleanly "$WORK/signal.log"
stop_checked "$TURN_PID" fault_turn_kill_restarted_turn_exits_cleanly "$WORK/turn.log"
finish
