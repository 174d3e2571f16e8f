#!/usr/bin/env bash
# Flags the way people type them, on the real binaries: every form of a true-or-false flag
# (--flag, --flag=WORD, --flag WORD, --no-flag, over a config file) starts vc-turn with that
# value and is accepted by vc-load; a bad value or an unknown flag exits 2 naming the flag, in
# vc-turn, vc-signal (and its user and team subcommands) and vc-load; the README's synopses list exactly
# the options --help prints, with the same value names.
. "$(dirname "$0")/lib.sh"

TURN=$VC_BUILD/bin/vc-turn
SIGNAL=$VC_BUILD/bin/vc-signal
LOAD=$VC_BUILD/bin/vc-load
for b in "$TURN" "$SIGNAL" "$LOAD"; do
    [ -x "$b" ] || die "$b is missing (make)"
done
need_dev_certs
WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT

# --- vc-turn: each form of --colocate-pairs -------------------------------------------------------

pick_ports
TURN_ARGS=(--listen "127.0.0.1:$TURN_PORT" --relay-ip 127.0.0.1 --ports "$RELAY_MIN-$RELAY_MAX"
    --secret "$TURN_SECRET" --metrics "127.0.0.1:$METRICS_PORT" --log "$WORK/turn-meta.log")

# turn_colocates FORM...: starts vc-turn with two threads and FORM between its other flags, waits
# for /healthz, stops it; prints "true" when it tried to keep relayed pairs on one thread (its
# "relayed pairs ..." line), "false" when not, "exit N" when it did not start.
turn_colocates() {
    local log=$WORK/turn.log pid
    "$TURN" --threads 2 "$@" "${TURN_ARGS[@]}" >"$log" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        curl -fsS -m 1 "http://127.0.0.1:$METRICS_PORT/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    stop_pid "$pid"
    forget_pid "$pid"
    if ! grep -q 'listening' "$log"; then
        echo "exit $STOP_RC: $(head -c 200 "$log")"
    elif grep -q 'relayed pairs' "$log"; then
        echo true
    else
        echo false
    fi
}

# turn_form NAME WANT FORM...: vc-turn started with FORM colocates (true) or not (false).
turn_form() {
    local name=$1 want=$2 got
    shift 2
    got=$(turn_colocates "$@")
    check "flags_turn_$name" "vc-turn $* gave colocate-pairs=$got, want $want" test "$got" = "$want"
}
turn_form default true
turn_form bare true --colocate-pairs
turn_form equals_true true --colocate-pairs=true
turn_form equals_false false --colocate-pairs=false
turn_form space_false false --colocate-pairs false
turn_form space_true true --colocate-pairs true
turn_form space_off false --colocate-pairs off
turn_form space_no_upper false --colocate-pairs NO
turn_form space_zero false --colocate-pairs 0
turn_form equals_yes true --colocate-pairs=yes
turn_form no_prefix false --no-colocate-pairs
turn_form last_wins true --no-colocate-pairs --colocate-pairs on
echo '{"colocate-pairs": false}' >"$WORK/off.json"
echo '{"colocate-pairs": true}' >"$WORK/on.json"
turn_form file_false false --config "$WORK/off.json"
turn_form flag_over_file_false true --config "$WORK/off.json" --colocate-pairs
turn_form no_flag_over_file_true false --config "$WORK/on.json" --no-colocate-pairs

# --- bad values and unknown flags: exit 2, naming the flag ---------------------------------------

# refused NAME WANT CMD...: CMD exits 2 within 10 s and its output holds WANT.
refused() {
    local name=$1 want=$2 out rc
    shift 2
    out=$(timeout 10 "$@" </dev/null 2>&1)
    rc=$?
    check "flags_$name" "exit $rc, want 2 and \"$want\" in: ${out:0:200}" \
        eval '[ "$rc" -eq 2 ] && grep -qF -- "$want" <<<"$out"'
}
refused turn_bad_bool_word "colocate-pairs: 'maybe' is not true or false" \
    "$TURN" "${TURN_ARGS[@]}" --colocate-pairs maybe
refused turn_bad_bool_equals "colocate-pairs: 'sometimes' is not true or false" \
    "$TURN" "${TURN_ARGS[@]}" --colocate-pairs=sometimes
refused turn_no_flag_takes_no_value "colocate-pairs: --no-colocate-pairs takes no value" \
    "$TURN" "${TURN_ARGS[@]}" --no-colocate-pairs=false
refused turn_no_prefix_only_for_booleans "unknown option '--no-threads'" \
    "$TURN" "${TURN_ARGS[@]}" --no-threads
refused turn_unknown_flag "unknown option '--colocate'" "$TURN" "${TURN_ARGS[@]}" --colocate
refused turn_bad_number "threads: 'two' is not an integer" "$TURN" "${TURN_ARGS[@]}" --threads two
refused turn_missing_value "realm: missing value" "$TURN" "${TURN_ARGS[@]}" --realm
refused turn_file_bool_must_be_json_bool "colocate-pairs: expected true or false, not a string" \
    "$TURN" "${TURN_ARGS[@]}" --config <(echo '{"colocate-pairs": "no"}')

refused signal_unknown_flag "unknown option '--no-such-flag'" "$SIGNAL" --no-such-flag
refused signal_no_prefix_only_for_booleans "unknown option '--no-redis'" "$SIGNAL" --no-redis
refused signal_bad_number_equals "max-rooms: 'lots' is not an integer" "$SIGNAL" --max-rooms=lots
refused signal_bad_value "listen: 'nowhere' is invalid" "$SIGNAL" --listen nowhere
refused signal_stray_word "unexpected argument 'extra'" "$SIGNAL" --max-rooms 5 extra
refused signal_user_unknown_flag "unknown option '--admin'" "$SIGNAL" user add a@example.org --admin
refused signal_user_missing_value "name: missing value" "$SIGNAL" user add a@example.org --name
refused signal_user_bad_verb "user: want" "$SIGNAL" user make a@example.org
refused signal_team_unknown_flag "unknown option '--all'" "$SIGNAL" team list --all
refused signal_team_bad_verb "team: want" "$SIGNAL" team rename Cardiology

refused load_signal_bad_bool "insecure: 'perhaps' is not true or false" \
    "$LOAD" signal --url https://127.0.0.1:1 --api-key k --insecure perhaps
refused load_signal_no_flag_value "keep-rooms: --no-keep-rooms takes no value" \
    "$LOAD" signal --url https://127.0.0.1:1 --api-key k --no-keep-rooms=1
refused load_relay_unknown_flag "unknown option '--no-calls'" \
    "$LOAD" relay --server 127.0.0.1:1 --secret s --no-calls
refused load_unknown_mode "unknown mode" "$LOAD" flood

# --- vc-signal and vc-load accept the good forms ---------------------------------------------------

# A refused port makes vc-load signal exit 1 after parsing: 2 would mean a flag was refused.
for form in "--insecure" "--insecure=true" "--insecure true" "--insecure yes" "--no-insecure" \
    "--keep-rooms false" "--keep-rooms=off" "--no-keep-rooms --insecure 1"; do
    read -ra words <<<"$form"
    timeout 20 "$LOAD" signal --url https://127.0.0.1:1 --api-key k "${words[@]}" --rooms 1 \
        --duration 1 >"$WORK/load.out" 2>&1
    rc=$?
    name=$(tr -c 'a-z0-9\n' _ <<<"${form//=/_is_}" | sed 's/^_*//; s/__*/_/g')
    check "flags_load_signal_accepts_$name" "exit $rc: $(head -c 200 "$WORK/load.out")" \
        test "$rc" -eq 1
done

SIGNAL_PORT=$((TURN_PORT + 20))
start_signal "$WORK/signal.log" "$SIGNAL_PORT" --listen="127.0.0.1:$SIGNAL_PORT" \
    --cert certs/server.crt --key=certs/server.key --public-url "https://localhost:$SIGNAL_PORT" \
    --data-dir="$WORK/data" --max-rooms=7 --log-level debug
ok flags_signal_starts_with_both_value_forms
stop_checked "$SIGNAL_PID" flags_signal_stops_cleanly "$WORK/signal.log"

# --- the README's synopses -----------------------------------------------------------------------

# help_options BIN...: "--key ARG" (or "--key" for a flag without a value) for every option
# that `BIN --help` prints, one a line; --[no-]key becomes --key.
help_options() {
    "$@" --help | sed -nE 's/^  --(\[no-\])?([a-z0-9-]+)( ([^ ]+))?.*/--\2 \4/p' | sed 's/ $//'
}

# readme_block HEADING: the first ``` block after the README line "## HEADING".
readme_block() {
    awk -v h="## $1" '$0 == h { in_s = 1; next } in_s && /^```/ { if (blk) exit; blk = 1; next }
        blk { print }' README.md
}

# synopsis_matches HEADING BIN...: every option of the union of the BINs' --help is in the
# README block, with the same value name, and the block names no other option.
synopsis_matches() {
    local heading=$1 block want have bad=0 opt key arg
    shift
    block=$(readme_block "$heading")
    want=$(for cmd in "$@"; do read -ra c <<<"$cmd"; help_options "${c[@]}"; done | sort -u)
    [ -n "$block" ] && [ -n "$want" ] || { echo "# no synopsis or no help for $heading"; return 1; }
    while read -r key arg; do
        if ! grep -qE -- "$key( |\]|$)" <<<"$block"; then
            echo "# README $heading synopsis lacks $key"
            bad=1
        elif [ -n "$arg" ] && ! grep -qF -- "$key $arg" <<<"$block"; then
            echo "# README $heading synopsis: $key does not take $arg there"
            bad=1
        fi
    done <<<"$want"
    for opt in $(grep -oE -- '--[a-z0-9-]+' <<<"$block" | sort -u); do
        key=${opt#--no-}
        grep -qE -- "^(--${opt#--}|--$key)( |$)" <<<"$want" || {
            echo "# README $heading synopsis names $opt, which is not an option"
            bad=1
        }
    done
    return $bad
}
check flags_readme_turn_synopsis_matches_help "see above" synopsis_matches vc-turn "$TURN"
check flags_readme_signal_synopsis_matches_help "see above" synopsis_matches vc-signal \
    "$SIGNAL" "$SIGNAL user" "$SIGNAL team"

finish
