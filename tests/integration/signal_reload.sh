#!/usr/bin/env bash
# vc-signal's SIGHUP reload and SIGUSR1 drain against a live host+guest call on loopback: new API
# key, TURN secret, TURN TTL and certificate apply without dropping a socket; a bad config is
# refused naming its key; draining fails /readyz and room creation while the call carries on.
# Environment: VC_BUILD (default build), NODE (default node).
. "$(dirname "$0")/lib.sh"

TESTS_DIR=tests/signal
WORK=$(mktemp -d)
ROOT=$PWD
CALL_PID=
trap 'exec 7>&- 8<&- 2>/dev/null; [ -n "$CALL_PID" ] && kill "$CALL_PID" 2>/dev/null; cleanup; rm -rf "$WORK"' EXIT

# --- prerequisites -------------------------------------------------------------------------------

need_node
command -v jq >/dev/null || die "jq is not installed"
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing (make $VC_BUILD/bin/vc-signal)"
need_dev_certs
npm_ci "$TESTS_DIR" ws

port=$(free_port) || die "no free TCP port found after 30 tries"

# --- config, secrets and a second certificate ----------------------------------------------------

OLD_KEY=key-old-$(openssl rand -hex 16)
NEW_KEY=key-new-$(openssl rand -hex 16)
OLD_SECRET=turn-old-$(openssl rand -hex 16)
NEW_SECRET=turn-new-$(openssl rand -hex 16)
SERVER_LOG=$(cd "$TEST_LOGS" && pwd)/signal_reload-server.log
: >"$SERVER_LOG"
mkdir -p "$WORK/data" "$WORK/data2"
printf '%s\n' "$OLD_KEY" >"$WORK/api-key"
printf '%s\n' "$OLD_SECRET" >"$WORK/turn-secret"

# A second localhost certificate from the dev CA, told apart by its subject.
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/new.key" 2>/dev/null &&
    openssl req -new -key "$WORK/new.key" -subj "/CN=localhost/O=vc reload test" \
        -out "$WORK/new.csr" 2>/dev/null &&
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
        "extendedKeyUsage=serverAuth" >"$WORK/ext.cnf" &&
    openssl x509 -req -in "$WORK/new.csr" -CA certs/ca.crt -CAkey certs/ca.key -CAcreateserial \
        -CAserial "$WORK/ca.srl" -days 2 -sha256 -extfile "$WORK/ext.cnf" \
        -out "$WORK/new.crt" 2>/dev/null || die "cannot create a second certificate"

# write_config CERT KEY TURN_TTL DATA_DIR: the config file the server reads (again on SIGHUP).
write_config() {
    jq -n --arg listen "127.0.0.1:$port" --arg url "https://localhost:$port" \
        --arg cert "$1" --arg key "$2" --argjson ttl "$3" --arg data "$4" --arg work "$WORK" \
        '{listen: $listen, "public-url": $url, cert: $cert, key: $key,
          "api-key-file": ($work + "/api-key"), "turn-secret-file": ($work + "/turn-secret"),
          "ice-server": ["stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp"],
          "turn-ttl": $ttl, "data-dir": $data, log: ($work + "/meta.log"),
          "resume-grace": 10, "max-conns-per-ip-per-min": 100000}' >"$WORK/config.json.new" &&
        mv "$WORK/config.json.new" "$WORK/config.json"
}
write_config "$ROOT/certs/server.crt" "$ROOT/certs/server.key" 14400 "$WORK/data"

# --- helpers -------------------------------------------------------------------------------------

CURL=(curl -sS -m 3 --cacert certs/ca.crt --resolve "localhost:$port:127.0.0.1")
BASE=https://localhost:$port

# create_room KEY: prints "STATUS BODY" of POST /api/v1/rooms (no lobby).
create_room() {
    "${CURL[@]}" -o "$WORK/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' --data '{"lobby":false}' "$BASE/api/v1/rooms"
    printf ' %s\n' "$(cat "$WORK/body" 2>/dev/null)"
}

# token_of URL: the fragment.
token_of() {
    printf '%s\n' "${1#*#}"
}

# served_subject: the subject of the certificate a new TLS handshake gets.
served_subject() {
    openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -subject 2>/dev/null
}

# wait_log REGEX: true once the server log matches (within 5 s).
wait_log() {
    for _ in $(seq 1 50); do
        grep -qE "$1" "$SERVER_LOG" && return 0
        sleep 0.1
    done
    return 1
}

# call_cmd CMD: sends CMD to the call and prints its answer ("ok CMD" or "error ..."); lines
# about closed sockets seen meanwhile are collected in $WORK/closed.
call_cmd() {
    local line
    printf '%s\n' "$1" >&7
    while read -r -t 10 line <&8; do
        case $line in
        closed*) echo "$line" >>"$WORK/closed" ;;
        *)
            printf '%s\n' "$line"
            return
            ;;
        esac
    done
    echo "error no answer within 10 s"
}

# call_ok CMD: the call answered "ok CMD".
call_ok() {
    local got
    got=$(call_cmd "$1")
    [ "$got" = "ok $1" ] || { echo "# $1: $got"; return 1; }
}

# readyz_is STATUS BODY: GET /readyz answers STATUS with BODY (and a newline).
readyz_is() {
    local got
    got=$("${CURL[@]}" -w '%{http_code}' "$BASE/readyz")
    [ "$got" = "$2"$'\n'"$1" ] || { echo "# /readyz: ${got//$'\n'/ }"; return 1; }
}

no_closed_sockets() {
    [ ! -s "$WORK/closed" ] || { sed 's/^/# /' "$WORK/closed"; return 1; }
}

# turn_cred_ok TOKEN SECRET TTL: a join with TOKEN gets a TURN credential that verifies under
# SECRET (and not under the other one) and expires within TTL seconds.
turn_cred_ok() {
    local out user cred now
    out=$(cd "$TESTS_DIR" && VC_PORT=$port VC_CA=$ROOT/certs/ca.crt timeout 10 "$NODE" reload_call.mjs join "$1")
    read -r user cred <<<"$out"
    now=$(date +%s)
    if [ "$user" = error ] || [ -z "$cred" ]; then
        echo "# join: $out"
        return 1
    fi
    [ "$(rest_password "$user" "$2")" = "$cred" ] || { echo "# $user: not under the expected secret"; return 1; }
    [ "${user%%:*}" -le $((now + $3 + 5)) ] || { echo "# $user: expires after the TTL $3"; return 1; }
}

# --- start ---------------------------------------------------------------------------------------

start_signal "$SERVER_LOG" "$port" --config "$WORK/config.json"

read -r status body < <(create_room "$OLD_KEY")
[ "$status" = 201 ] || die "POST /api/v1/rooms with the key: $status $body"
HOST_TOKEN=$(token_of "$(jq -r .host_url <<<"$body")")
GUEST_TOKEN=$(token_of "$(jq -r .guest_url <<<"$body")")

mkfifo "$WORK/in" "$WORK/out"
(cd "$TESTS_DIR" && VC_PORT=$port VC_CA=$ROOT/certs/ca.crt exec "$NODE" reload_call.mjs call \
    "$HOST_TOKEN" "$GUEST_TOKEN" <"$WORK/in" >"$WORK/out" 2>&1) &
CALL_PID=$!
exec 7>"$WORK/in" 8<"$WORK/out"
read -r -t 10 line <&8
[ "$line" = ready ] || die "the call did not start: ${line:-nothing within 10 s}"
check reload_call_relays_before_reload "see above" call_ok relay
check reload_readyz_is_ready "not 200 ready" readyz_is 200 ready
old_subject=$(served_subject)

# --- SIGHUP with a new key, secret, TTL and certificate -------------------------------------------

printf '%s\n' "$NEW_KEY" >"$WORK/api-key"
printf '%s\n' "$NEW_SECRET" >"$WORK/turn-secret"
write_config "$WORK/new.crt" "$WORK/new.key" 600 "$WORK/data2"
kill -HUP "$SIGNAL_PID"
check reload_sighup_reloads "no 'configuration reloaded' line in $SERVER_LOG" \
    wait_log 'SIGHUP: configuration reloaded'
check reload_server_survives_sighup "vc-signal exited" kill -0 "$SIGNAL_PID"
check reload_restart_only_key_is_reported "no 'data-dir changed: needs a restart' line" \
    grep -q 'data-dir changed: needs a restart' "$SERVER_LOG"
check reload_open_call_still_relays "see above" call_ok relay
read -r status body < <(create_room "$OLD_KEY")
check reload_old_api_key_is_refused "got $status" test "$status" = 401
read -r status body < <(create_room "$NEW_KEY")
check reload_new_api_key_is_accepted "got $status $body" test "$status" = 201
ROOM2_HOST=$(token_of "$(jq -r .host_url <<<"$body")")
ROOM2_GUEST=$(token_of "$(jq -r .guest_url <<<"$body")")
check reload_new_turn_secret_and_ttl_mint_credentials "see above" \
    turn_cred_ok "$ROOM2_HOST" "$NEW_SECRET" 600
new_subject=$(served_subject)
check reload_new_certificate_is_served "before: $old_subject; after: $new_subject" \
    matches 'vc reload test' "$new_subject"
check reload_old_certificate_was_served_before "before: $old_subject" \
    not_grep -q 'vc reload test' <<<"$old_subject"

# --- a bad config is refused and the running one stays --------------------------------------------

write_config "$WORK/new.crt" "$WORK/new.key" 0 "$WORK/data2"
printf '%s\n' "key-bad-$(openssl rand -hex 16)" >"$WORK/api-key"
kill -HUP "$SIGNAL_PID"
check reload_bad_config_is_refused_naming_the_key "no refusal naming turn-ttl in $SERVER_LOG" \
    wait_log 'reload refused.*turn-ttl'
check reload_server_survives_a_bad_config "vc-signal exited" kill -0 "$SIGNAL_PID"
read -r status body < <(create_room "$NEW_KEY")
check reload_refused_reload_keeps_the_running_key "got $status $body" test "$status" = 201
check reload_call_relays_after_a_refused_reload "see above" call_ok relay
printf '%s\n' "$NEW_KEY" >"$WORK/api-key"
write_config "$WORK/new.crt" "$WORK/new.key" 600 "$WORK/data2"

# --- SIGUSR1: draining ----------------------------------------------------------------------------

kill -USR1 "$SIGNAL_PID"
check reload_sigusr1_starts_draining "no draining line in $SERVER_LOG" wait_log 'SIGUSR1: draining'
check reload_readyz_fails_while_draining "not 503 draining" readyz_is 503 draining
read -r status body < <(create_room "$NEW_KEY")
check reload_no_new_rooms_while_draining "got $status $body" \
    test "$status $(jq -r .error.code <<<"$body" 2>/dev/null)" = "503 draining"
check reload_draining_metric_is_1 "see /metrics" \
    grep -qx 'vc_signal_draining 1' <(curl -sS -m 3 -k "https://127.0.0.1:$port/metrics")
check reload_call_relays_while_draining "see above" call_ok relay
check reload_resume_works_while_draining "see above" call_ok resume
check reload_join_into_an_existing_room_works_while_draining "see above" \
    turn_cred_ok "$ROOM2_GUEST" "$NEW_SECRET" 600
check reload_no_socket_was_dropped "see above" no_closed_sockets

# --- stop ----------------------------------------------------------------------------------------

printf 'quit\n' >&7
exec 7>&- 8<&-
wait "$CALL_PID" 2>/dev/null
CALL_PID=
stop_checked "$SIGNAL_PID" reload_server_exits_cleanly_on_sigterm "$SERVER_LOG"
check reload_server_log_has_no_sanitizer_report "see $SERVER_LOG" no_sanitizer_report "$SERVER_LOG"

finish
