#!/usr/bin/env bash
# Smoke test of `vc-load relay`: SRTP calls and a flood through the TURN server, plus its errors.
# TURN_SERVER=vc (default) tests build/bin/vc-turn; TURN_SERVER=coturn tests Debian's turnserver.
. "$(dirname "$0")/lib.sh"

load=$VC_BUILD/bin/vc-load
[ -x "$load" ] || die "$load is missing (make $load)"
command -v jq >/dev/null || die "jq is missing"

pick_ports
start_server load allow
server="127.0.0.1:$TURN_PORT"

# run_load NAME ARGS...: one vc-load run bounded to 60 s; sets LOAD_RC, LOAD_OUT, LOAD_ERR.
run_load() {
    LOAD_OUT=$TEST_LOGS/load-$1.out
    LOAD_ERR=$TEST_LOGS/load-$1.err
    shift
    timeout 60 "$load" "$@" >"$LOAD_OUT" 2>"$LOAD_ERR"
    LOAD_RC=$?
}

# jq_true FILE EXPR: the JSON in FILE satisfies EXPR.
jq_true() {
    jq -e "$2" "$1" >/dev/null 2>&1
}

# --- calls: 4 audio calls for 5 s ----------------------------------------------------------------
json=$TEST_LOGS/load-audio.json
csv=$TEST_LOGS/load-audio.csv
rm -f "$json" "$csv"
run_load audio relay --server "$server" --secret "$TURN_SECRET" --calls 4 --duration 5 \
    --json "$json" --csv "$csv" --server-pid "$SERVER_PID"
check load_audio_exits_0 "exit $LOAD_RC: $(head -c 300 "$LOAD_ERR")" test "$LOAD_RC" -eq 0
check load_audio_json_has_contract_fields "see $json" jq_true "$json" \
    'has("calls") and has("duration_s") and has("pps") and has("loss_pct") and
     has("jitter_ms") and (.latency_us | has("p50") and has("p99") and has("p999")) and
     has("auth_failures") and has("server_cpu_s") and has("server_rss_kb") and
     .profile == "audio" and .transport == "udp" and .srtp_suite == "aead_aes_128_gcm"'
check load_audio_all_calls_up "$(jq -c '{calls, calls_failed}' "$json" 2>&1)" \
    jq_true "$json" '.calls == 4 and .calls_failed == 0'
check load_audio_zero_auth_failures "$(jq -c '.auth_failures' "$json" 2>&1)" \
    jq_true "$json" '.auth_failures == 0'
check load_audio_loss_below_1pct "$(jq -c '{sent, received, loss_pct}' "$json" 2>&1)" \
    jq_true "$json" '.received > 0 and .loss_pct < 1'
# 4 calls x 2 directions x 50 pps for 5 s: about 2,000 packets.
check load_audio_rate_is_realistic "$(jq -c '{received, pps}' "$json" 2>&1)" \
    jq_true "$json" '.pps > 300 and .pps < 500'
check load_audio_server_sampled "$(jq -c '{server_cpu_s, server_rss_kb}' "$json" 2>&1)" \
    jq_true "$json" '.server_cpu_s != null and .server_rss_kb > 0'
check load_audio_csv_has_rows "see $csv" test "$(wc -l <"$csv" 2>/dev/null || echo 0)" -ge 5

# --- flood: raw ChannelData for 2 s --------------------------------------------------------------
json=$TEST_LOGS/load-flood.json
rm -f "$json"
run_load flood relay --server "$server" --secret "$TURN_SECRET" --profile flood --calls 1 \
    --duration 2 --json "$json"
check load_flood_exits_0 "exit $LOAD_RC: $(head -c 300 "$LOAD_ERR")" test "$LOAD_RC" -eq 0
check load_flood_delivers "$(jq -c '{pps, loss_pct}' "$json" 2>&1)" \
    jq_true "$json" '.profile == "flood" and .pps > 1000 and has("loss_pct")'

# --- ramp: 2 more calls per 5 s step up to the ceiling of 4 ------------------------------------
json=$TEST_LOGS/load-ramp.json
rm -f "$json"
run_load ramp relay --server "$server" --secret "$TURN_SECRET" --calls 4 --ramp 2 \
    --max-loss 0.5 --max-p99-ms 10000 --duration 40 --json "$json"
check load_ramp_exits_0 "exit $LOAD_RC: $(head -c 300 "$LOAD_ERR")" test "$LOAD_RC" -eq 0
check load_ramp_reaches_ceiling "$(jq -c '.ramp | del(.steps)' "$json" 2>&1)" \
    jq_true "$json" '.ramp.capacity_calls == 4 and .ramp.step == 2 and .ramp.max_p99_ms == 10000'
check load_ramp_step_rows "$(jq -c '[.ramp.steps[] | {calls, loss_pct}]' "$json" 2>&1)" \
    jq_true "$json" '[.ramp.steps[].calls] == [2, 4] and all(.ramp.steps[]; .loss_pct <= 0.5)'
check load_ramp_summary_names_limits "$(grep capacity "$LOAD_OUT")" \
    grep -q 'capacity: 4 concurrent calls at <= 0.50 % loss and one-way p99 <= 10000.0 ms' \
    "$LOAD_OUT"

check load_ramp_says_no_limit_at_the_ceiling "$(jq -c '.ramp | del(.steps)' "$json" 2>&1)" \
    jq_true "$json" '.ramp.stop_reason == "ceiling" and .ramp.limit == "none" and
        all(.ramp.steps[]; .loader_cpu_pct > 0 and has("server_cpu_pct"))'
check load_ramp_summary_says_limit "$(grep 'ramp stopped' "$LOAD_OUT")" \
    grep -q 'ramp stopped: ceiling; limit: none' "$LOAD_OUT"

# --- the batched media path: after ICE, sendmmsg/recvmmsg on the nominated sockets ---------------
# Every packet of the audio run above went out in a sendmmsg on the socket libnice nominated, and
# came back through recvmmsg as ChannelData (after the first few, Send indications until the
# channel libnice bound is known), with nothing lost.
json=$TEST_LOGS/load-audio.json
check load_batched_path_carries_the_media "$(jq -c '{sent, received, batched}' "$json" 2>&1)" \
    jq_true "$json" '.batched.sendmmsg_packets == .sent and .batched.sendmmsg_calls > 0 and
        .batched.sendmmsg_calls <= .sent and .batched.recvmmsg_packets >= .received and
        .batched.send_indications < .sent / 10 and .loss_pct < 1 and .auth_failures == 0'
run_load cmsha1 relay --server "$server" --secret "$TURN_SECRET" --calls 2 --duration 2 \
    --srtp aes_cm_128_hmac_sha1_80 --json "$TEST_LOGS/load-cmsha1.json"
check load_srtp_cm_sha1_suite_works "exit $LOAD_RC: $(jq -c '{srtp_suite, received, loss_pct,
    auth_failures}' "$TEST_LOGS/load-cmsha1.json" 2>&1)" jq_true "$TEST_LOGS/load-cmsha1.json" \
    '.srtp_suite == "aes_cm_128_hmac_sha1_80" and .received > 0 and .loss_pct < 1 and
     .auth_failures == 0 and .batched.sendmmsg_packets == .sent'
check load_json_has_loader_cpu "$(jq -c '{loader_cpu_s, loader_cpus}' "$json" 2>&1)" \
    jq_true "$json" '.loader_cpu_s > 0 and .loader_cpus >= 1'

# --- two load machines: started together with --start-at, then one report with vc-load merge ---
at=$(($(date +%s) + 2))
mpids=()
for m in 1 2; do
    rm -f "$TEST_LOGS/load-m$m.json"
    timeout 60 "$load" relay --server "$server" --secret "$TURN_SECRET" --calls 3 --duration 3 \
        --start-at "$at" --json "$TEST_LOGS/load-m$m.json" >"$TEST_LOGS/load-m$m.out" 2>&1 &
    mpids+=($!)
done
mrc=0
for p in "${mpids[@]}"; do
    wait "$p" || mrc=$?
done
ended=$(date +%s)
check load_two_runs_exit_0 "exit $mrc: $(cat "$TEST_LOGS"/load-m?.out | head -c 400)" test "$mrc" -eq 0
# Neither started before --start-at: 3 s measured after it, so neither ended before at + 3.
check load_start_at_waited "ended $ended, start at $at" test "$ended" -ge $((at + 3))
json=$TEST_LOGS/load-merged.json
rm -f "$json"
run_load merge merge --json "$json" "$TEST_LOGS/load-m1.json" "$TEST_LOGS/load-m2.json"
check load_merge_exits_0 "exit $LOAD_RC: $(head -c 300 "$LOAD_ERR")" test "$LOAD_RC" -eq 0
# hist_total FILE: the packets in FILE's latency histogram.
hist_total() {
    jq '[.latency_histogram.buckets[][2]] | add' "$1"
}
m1=$TEST_LOGS/load-m1.json
m2=$TEST_LOGS/load-m2.json
check load_merge_sums_counts "$(jq -c '{calls, sent, received}' "$json" "$m1" "$m2" 2>&1)" \
    test "$(jq -c '[.calls, .sent, .received, .expected]' "$json")" = \
    "$(jq -s -c '[(map(.calls) | add), (map(.sent) | add), (map(.received) | add),
        (map(.expected) | add)]' "$m1" "$m2")"
check load_merge_sums_histograms "$(hist_total "$json") vs $(hist_total "$m1") + $(hist_total "$m2")" \
    test "$(hist_total "$json")" -eq $(($(hist_total "$m1") + $(hist_total "$m2")))
check load_merge_histogram_counts_received "$(hist_total "$json") vs $(jq .received "$json")" \
    test "$(hist_total "$json")" -eq "$(jq .received "$json")"
check load_merge_same_columns "$(jq -c 'del(.latency_histogram)' "$json" 2>&1 | head -c 300)" \
    jq_true "$json" '.merged_runs == 2 and .calls == 6 and .loss_pct < 1 and
        (.latency_us | has("p50") and has("p99") and has("p999")) and has("pps") and
        has("jitter_ms") and .profile == "audio"'
check load_merge_p99_within_the_runs "$(jq -c '.latency_us.p99' "$json" "$m1" "$m2" | tr '\n' ' ')" \
    test "$(jq -n --slurpfile m "$json" --slurpfile a "$m1" --slurpfile b "$m2" \
        '$m[0].latency_us.p99 <= ([$a[0].latency_us.p99, $b[0].latency_us.p99] | max)')" = true
check load_merge_summary "$(head -1 "$LOAD_OUT")" grep -q '6 calls up, 0 failed.*(2 runs merged)' \
    "$LOAD_OUT"
run_load mergebad merge "$TEST_LOGS/load-audio.csv"
check load_merge_refuses_non_results "exit $LOAD_RC: $(cat "$LOAD_ERR")" test "$LOAD_RC" -eq 1
run_load mergenone merge
check load_merge_without_inputs_exits_2 "exit $LOAD_RC: $(cat "$LOAD_ERR")" test "$LOAD_RC" -eq 2

# --- errors --------------------------------------------------------------------------------------
run_load badarg relay --server "$server" --secret "$TURN_SECRET" --calls many
check load_bad_argument_exits_2 "exit $LOAD_RC" test "$LOAD_RC" -eq 2
check load_bad_argument_names_option "$(cat "$LOAD_ERR")" grep -q "calls: 'many' is not an integer" "$LOAD_ERR"

run_load p99noramp relay --server "$server" --secret "$TURN_SECRET" --max-p99-ms 100
check load_p99_without_ramp_exits_2 "exit $LOAD_RC: $(cat "$LOAD_ERR")" \
    grep -q -- '--max-p99-ms needs --ramp' "$LOAD_ERR"

run_load startpast relay --server "$server" --secret "$TURN_SECRET" --start-at $(($(date +%s) - 60))
check load_start_at_past_exits_2 "exit $LOAD_RC: $(cat "$LOAD_ERR")" test "$LOAD_RC" -eq 2
check load_start_at_past_names_flag "$(cat "$LOAD_ERR")" grep -q -- '--start-at .*in the past' \
    "$LOAD_ERR"
run_load startfar relay --server "$server" --secret "$TURN_SECRET" \
    --start-at $(($(date +%s) + 2 * 86400))
check load_start_at_far_exits_2 "exit $LOAD_RC: $(cat "$LOAD_ERR")" test "$LOAD_RC" -eq 2
check load_start_at_far_names_flag "$(cat "$LOAD_ERR")" grep -q -- '--start-at .*more than a day' \
    "$LOAD_ERR"

run_load noserver relay --secret "$TURN_SECRET"
check load_missing_server_exits_2 "exit $LOAD_RC: $(cat "$LOAD_ERR")" test "$LOAD_RC" -eq 2

run_load badsecret relay --server "$server" --secret "not-$TURN_SECRET" --duration 1
check load_wrong_secret_exits_1 "exit $LOAD_RC" test "$LOAD_RC" -eq 1
check load_wrong_secret_says_401 "$(cat "$LOAD_ERR")" grep -q '401.*check --secret' "$LOAD_ERR"

# Nothing listening: ICMP port unreachable comes back at once.
run_load refused relay --server "127.0.0.1:$PEER_PORT" --secret x --duration 1
check load_refused_exits_1 "exit $LOAD_RC" test "$LOAD_RC" -eq 1
check load_refused_is_explained "$(cat "$LOAD_ERR")" grep -q 'connection refused' "$LOAD_ERR"

# A UDP socket that never answers: the 5 s bound.
silent_port=$PEER6_PORT
python3 -c "import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); \
s.bind(('127.0.0.1',$silent_port)); time.sleep(30)" &
BG_PIDS+=($!)
for _ in $(seq 1 50); do
    ss -Hlnu "sport = :$silent_port" 2>/dev/null | grep -q . && break
    sleep 0.1
done
start=$(date +%s)
run_load silent relay --server "127.0.0.1:$silent_port" --secret x --duration 1
took=$(($(date +%s) - start))
check load_silent_server_exits_1 "exit $LOAD_RC" test "$LOAD_RC" -eq 1
check load_silent_server_times_out_in_5s "took ${took}s: $(cat "$LOAD_ERR")" \
    grep -q 'no TURN response within 5 s' "$LOAD_ERR"
check load_silent_server_bounded "took ${took}s" test "$took" -le 8

run_load signal signal
check load_signal_mode_stub_exits_2 "exit $LOAD_RC" test "$LOAD_RC" -eq 2

# --- relayed pairs: 16 calls over two worker threads ------------------------------------------
# Each call relays between two of the server's own allocations. vc-turn moves one half of every
# pair whose halves landed on different threads (8 of 16 on average; none only with odds of
# 2^-16), and steers its client's datagrams after it: the calls must not notice.
# run_pairs NAME: 16 audio calls for 3 s; sets json and the vc_turn_allocations_moved_total delta.
run_pairs() {
    local before
    json=$TEST_LOGS/load-$1.json
    rm -f "$json"
    before=$(metric vc_turn_allocations_moved_total)
    run_load "$1" relay --server "$server" --secret "$TURN_SECRET" --calls 16 --duration 3 \
        --json "$json"
    moved=$(($(metric vc_turn_allocations_moved_total) - before))
    check "load_$1_calls_carried" "exit $LOAD_RC: $(jq -c '{calls, calls_failed, loss_pct,
        auth_failures}' "$json" 2>&1)" jq_true "$json" \
        '.calls == 16 and .calls_failed == 0 and .auth_failures == 0 and .loss_pct < 1'
}
run_pairs pairs
if is_vc; then
    if grep -q 'relayed pairs stay on separate threads' "$SERVER_LOG"; then
        skip load_pairs_moved_to_one_thread "$(grep -o 'relayed pairs stay.*' "$SERVER_LOG")"
    else
        check load_pairs_moved_to_one_thread "moved $moved" test "$moved" -ge 1
        # Every allocation, moved or not, was deleted by its client (Refresh 0) on exit.
        check load_pairs_all_deleted "$(metric vc_turn_allocations) left" \
            test "$(metric vc_turn_allocations)" -eq 0
        check load_pairs_deletes_logged "$(grep -c turn.alloc "$META_LOG") allocated" \
            test "$(grep -c '"reason":"deleted"' "$META_LOG")" -eq "$(grep -c turn.alloc "$META_LOG")"
    fi
    # An independent client: coturn's uclient, 8 clients relaying to each other's relay
    # addresses (-y), 300 messages each at 1 ms, so datagrams are in flight while an allocation
    # moves. uclient gives all 8 one username, hence the raised user-quota. Each run must lose
    # nothing; up to 3 runs until one moved something. The kernel path is off here: with it, the
    # kernel relays these channels from relay to relay itself, and nothing needs to move.
    if command -v turnutils_uclient >/dev/null &&
        ! grep -q 'relayed pairs stay on separate threads' "$SERVER_LOG"; then
        stop_server
        VC_TURN_ARGS=(--user-quota 100 --kernel-path=false)
        start_server load-uclient allow
        moved=0
        for run in 1 2 3; do
            before=$(metric vc_turn_allocations_moved_total)
            relay_check "load_pairs_uclient_run_${run}_loses_nothing" \
                "$TEST_LOGS/load-pairs-uclient-$run.log" 2400 -y -m 8 -n 300 -l 170 -z 1 \
                -p "$TURN_PORT" -u "pairs-$run" -W "$TURN_SECRET" 127.0.0.1
            moved=$(($(metric vc_turn_allocations_moved_total) - before))
            [ "$moved" -gt 0 ] && break
        done
        check load_pairs_uclient_moved "moved $moved in run $run" test "$moved" -gt 0
        # The same clients with the kernel path as configured (on by default): where it is on,
        # the kernel carries ChannelData from relay to relay, and still nothing is lost.
        stop_server
        VC_TURN_ARGS=(--user-quota 100)
        start_server load-uclient-kernel allow
        relay_check load_pairs_uclient_kernel_loses_nothing "$TEST_LOGS/load-pairs-kernel.log" \
            2400 -y -m 8 -n 300 -l 170 -z 1 -p "$TURN_PORT" -u pairs-k -W "$TURN_SECRET" 127.0.0.1
        if grep -q 'in the kernel (eBPF' "$SERVER_LOG"; then
            check load_pairs_uclient_kernel_relayed "$(metric vc_turn_kernel_relayed_packets_total)" \
                test "$(metric vc_turn_kernel_relayed_packets_total)" -gt 0
        fi
    fi
    stop_server
    VC_TURN_ARGS=(--colocate-pairs=false)
    start_server load-apart allow
    run_pairs apart
    check load_apart_nothing_moved "moved $moved" test "$moved" -eq 0
    check load_apart_logs_nothing_shared "$(grep 'relayed pairs' "$SERVER_LOG")" \
        not_grep 'relayed pairs share a thread' "$SERVER_LOG"
    unset VC_TURN_ARGS
fi

stop_server
finish
