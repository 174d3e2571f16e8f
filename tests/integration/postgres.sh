#!/usr/bin/env bash
# The account database on a real PostgreSQL (Debian's, started by deploy/local-postgres.sh in a
# temporary directory on a loopback port; never a system-wide server): the accounts, teams, store
# and reports unit tests on it; start-up refusals naming the key; the node suite of signal.sh with
# its accounts and consultation reports there; two nodes on one PostgreSQL and one Redis (a
# clinician added by the command logs in on the other node, a session outlives kill -9 of its
# node, a call across both is reported once); the database stopped and frozen under a running
# node (bounded 503s, then back); and no password or cookie in a dump.
# Environment: VC_BUILD (default build), NODE (default node).
. "$(dirname "$0")/lib.sh"

TESTS_DIR=tests/signal
ROOT=$PWD
WORK=$(mktemp -d)
chmod 755 "$WORK" # the postgres user reaches its data directory through it
PG=$WORK/pg
REDIS_PIDFILE=$WORK/redis.pid
PG_FROZEN=
# shellcheck disable=SC2317 # run by the trap
on_exit() {
    [ -z "$PG_FROZEN" ] || pg_signal CONT
    cleanup
    [ -s "$REDIS_PIDFILE" ] && kill -9 "$(cat "$REDIS_PIDFILE")" 2>/dev/null
    deploy/local-postgres.sh stop "$PG" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap on_exit EXIT

need_node
command -v redis-server >/dev/null || die "redis-server is not installed (deploy/install-deps.sh test)"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
    die "PostgreSQL is not installed (deploy/install-deps.sh test)"
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing"
for t in accounts teams store reports; do
    [ -x "$VC_BUILD/tests/test_$t" ] || die "$VC_BUILD/tests/test_$t is missing (make tests-build)"
done
need_dev_certs
npm_ci "$TESTS_DIR" ws

pg_port=$(free_port) && redis_port=$(free_port) && port1=$(free_port) && port2=$(free_port) &&
    hole_port=$(free_port) || die "no free TCP port"
deploy/local-postgres.sh start "$PG" "$pg_port" >"$WORK/pg.out" 2>&1 ||
    { sed 's/^/#   /' "$WORK/pg.out"; die "PostgreSQL did not start"; }
PW_FILE=$PG/password
BASE_URL=postgresql://vc@127.0.0.1:$pg_port

# pg_createdb NAME: an empty database NAME owned by vc, made over the server's unix socket.
pg_createdb() {
    psql -q -h "$PG/sock" -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE $1 OWNER vc" ||
        die "cannot create database $1"
}
# pg_signal SIG: sends SIG to the server and its backends (processes this suite started).
pg_signal() {
    local main
    main=$(head -n 1 "$PG/pgdata/postmaster.pid" 2>/dev/null) || return 0
    kill "-$1" "$main" $(pgrep -P "$main") 2>/dev/null
}
pg_createdb vc_unit
pg_createdb vc_nodes

# --- the unit tests on PostgreSQL ----------------------------------------------------------------

for t in accounts teams store reports; do
    out=$WORK/unit-$t.out
    VC_TEST_DATABASE="postgresql://vc:$(cat "$PW_FILE")@127.0.0.1:$pg_port/vc_unit" \
        timeout 120 "$VC_BUILD/tests/test_$t" pg >"$out" 2>&1
    grep -E '^(ok|FAIL|skip) |^    ' "$out" | sed "s/^/unit $t: /"
    grep -q '^skip ' "$out" && fail "postgres_unit_${t}_skipped_nothing" "see $out"
    counts_from "$out" "postgres_unit_$t"
done

# --- start-up refusals that need the server ------------------------------------------------------

# refused NAME KEY COMMAND...: exit 2 within 5 s, stderr naming KEY and never the password.
refused() {
    local name=$1 key=$2 out rc
    shift 2
    out=$(timeout 5 "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -eq 2 ] && grep -q -- "^vc-signal: error: $key:" <<<"$out" &&
        ! grep -qF -- "$(cat "$PW_FILE")" <<<"$out"; then
        ok "$name"
    else
        fail "$name" "exit $rc, stderr: $(head -c 300 <<<"$out")"
    fi
}
s=(--listen "127.0.0.1:$port1" --public-url "https://localhost:$port1" --api-key "key-$(openssl rand -hex 16)"
    --log "$WORK/refused.log")
refused postgres_missing_password_refused database "$VC_BUILD/bin/vc-signal" "${s[@]}" \
    --database "$BASE_URL/vc_nodes"
refused postgres_wrong_password_refused database "$VC_BUILD/bin/vc-signal" "${s[@]}" \
    --database "postgresql://vc:not-the-password@127.0.0.1:$pg_port/vc_nodes"
refused postgres_missing_database_refused database "$VC_BUILD/bin/vc-signal" "${s[@]}" \
    --database "$BASE_URL/no_such_db" --database-password-file "$PW_FILE"
# A server that accepts connections and never answers: refused after database-timeout.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(60)' \
    "$hole_port" &
BG_PIDS+=($!)
sleep 0.3
t0=$(date +%s%N)
refused postgres_silent_server_refused_after_the_timeout database "$VC_BUILD/bin/vc-signal" \
    "${s[@]}" --database "postgresql://vc@127.0.0.1:$hole_port/vc" --database-timeout 300
took=$((($(date +%s%N) - t0) / 1000000))
check postgres_silent_server_refused_within_a_second "took $took ms" [ "$took" -lt 1000 ]
out=$(printf 'a long password\n' | timeout 5 "$VC_BUILD/bin/vc-signal" user add x@example.org \
    --database "postgresql://vc@127.0.0.1:1/vc" 2>&1) && rc=0 || rc=$?
check postgres_user_add_unreachable_names_the_key "exit $rc: $out" \
    matches '^vc-signal: error: database: connection to server at "127.0.0.1", port 1 failed' "$out"

# --- the node suite with its accounts on PostgreSQL ----------------------------------------------

# Everything but the canary call, which searches SQLite's files (the dump is searched below).
out=$WORK/signal.out
VC_SIGNAL_DATABASE=$BASE_URL/vc_nodes VC_SIGNAL_DATABASE_PASSWORD_FILE=$PW_FILE VC_SUITE=postgres-signal \
    VC_ONLY='^(?!canary_call|metadata_log_events_of_the_canary)' timeout 200 tests/integration/signal.sh \
    >"$out" 2>&1
grep -E '^(ok|FAIL) ' "$out" | sed 's/^/signal.sh on postgresql: /'
counts_from "$out" postgres_signal_suite

# --- two nodes on one PostgreSQL and one Redis ---------------------------------------------------

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$WORK/redis.log" 2>&1 &
echo $! >"$REDIS_PIDFILE"
wait_for redis-server "$(cat "$REDIS_PIDFILE")" "$WORK/redis.log" redis-cli -p "$redis_port" ping

SUITE=postgres
export VC_SIGNAL_DATABASE=$BASE_URL/vc VC_SIGNAL_DATABASE_PASSWORD_FILE=$PW_FILE
password='correct horse battery'
signal_team_add unused Cardiology
signal_user_add unused a@example.org "Dr A" "$password" --team Cardiology
signal_user_add unused b@example.org "Dr B" "$password" --team Cardiology
api_key=key-$(openssl rand -hex 16)
start_node() {
    start_signal "$TEST_LOGS/postgres-node$1.log" "$2" --listen "127.0.0.1:$2" \
        --public-url "https://localhost:$2" --allowed-origin "https://localhost:$port1" \
        --allowed-origin "https://localhost:$port2" --api-key "$api_key" \
        --redis "redis://127.0.0.1:$redis_port" --node-id "pg$1" --database "$VC_SIGNAL_DATABASE" \
        --database-password-file "$PW_FILE" --database-timeout 500 --log "$WORK/meta$1.log" \
        --data-dir "$WORK/data$1"
}
start_node 1 "$port1"
node1=$SIGNAL_PID
start_node 2 "$port2"
node2=$SIGNAL_PID

out=$WORK/node.out
(cd "$TESTS_DIR" && VC_CA=$ROOT/certs/ca.crt VC_PORT1=$port1 VC_PORT2=$port2 VC_API_KEY=$api_key \
    VC_REDIS_PORT=$redis_port VC_NODE1_PID=$node1 VC_PASSWORD=$password \
    VC_SIGNAL_BIN=$ROOT/$VC_BUILD/bin/vc-signal VC_DATABASE=$VC_SIGNAL_DATABASE \
    VC_DATABASE_PASSWORD_FILE=$PW_FILE VC_SECRETS_FILE=$WORK/secrets.json \
    VC_SESSION_FILE=$WORK/session.json timeout 100 "$NODE" postgres.mjs) | tee "$out"
counts_from "$out" postgres_node_tests
forget_pid "$node1"

# --- the database stopped and frozen under node 2 ------------------------------------------------

# me: "STATUS SECONDS" of GET /api/v1/me on node 2 with the session that outlived node 1.
me() {
    local cookie
    cookie=$(jq -r .cookie "$WORK/session.json" 2>/dev/null) || cookie=
    curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -m 5 --cacert certs/ca.crt \
        --resolve "localhost:$port2:127.0.0.1" -b "$cookie" "https://localhost:$port2/api/v1/me"
}
healthz_ms() {
    curl -sS -o /dev/null -w '%{time_total}\n' -m 5 --cacert certs/ca.crt \
        --resolve "localhost:$port2:127.0.0.1" "https://localhost:$port2/healthz" |
        awk '{printf "%d\n", $1 * 1000}'
}
# until_me STATUS: polls me for at most 5 s until it answers STATUS.
until_me() {
    for _ in $(seq 1 25); do
        [ "$(me | cut -d' ' -f1)" = "$1" ] && return 0
        sleep 0.2
    done
    return 1
}
check postgres_session_answers_before_the_outage "$(me)" until_me 200
deploy/local-postgres.sh stop "$PG" >/dev/null
r=$(me)
check postgres_stopped_database_gives_503_at_once "$r" awk -v r="$r" 'BEGIN { split(r, a, " "); exit !(a[1] == 503 && a[2] < 0.5) }'
deploy/local-postgres.sh start "$PG" "$pg_port" >/dev/null || die "PostgreSQL did not start again"
check postgres_session_answers_again_after_a_restart "$(me)" until_me 200

PG_FROZEN=1
pg_signal STOP
r=$(me)
check postgres_frozen_database_gives_503_within_the_timeout "$r (database-timeout 500 ms)" \
    awk -v r="$r" 'BEGIN { split(r, a, " "); exit !(a[1] == 503 && a[2] >= 0.4 && a[2] < 1.5) }'
r=$(me)
check postgres_frozen_database_then_fails_fast_during_the_backoff "$r" \
    awk -v r="$r" 'BEGIN { split(r, a, " "); exit !(a[1] == 503 && a[2] < 0.3) }'
h=$(healthz_ms)
check postgres_healthz_fast_while_the_database_is_frozen "${h} ms" [ "${h:-9999}" -lt 300 ]
pg_signal CONT
PG_FROZEN=
check postgres_session_answers_again_after_the_freeze "$(me)" until_me 200
check postgres_lost_and_restored_connection_logged "see $TEST_LOGS/postgres-node2.log" \
    grep -q 'database: connected again' "$TEST_LOGS/postgres-node2.log"
check postgres_lost_connection_logged "see $TEST_LOGS/postgres-node2.log" \
    grep -q 'database: connection lost' "$TEST_LOGS/postgres-node2.log"

# --- no password and no session cookie in the database --------------------------------------------

pg_dump -h "$PG/sock" -p "$pg_port" -U postgres vc >"$WORK/dump.sql" 2>"$WORK/dump.err" ||
    fail postgres_dump "see $WORK/dump.err"
found=
while IFS= read -r secret; do
    grep -qF -- "$secret" "$WORK/dump.sql" && found="$found '$secret'"
done < <(jq -r '.passwords[], .tokens[]' "$WORK/secrets.json" 2>/dev/null)
check postgres_dump_has_sessions "no sessions table rows" grep -q '^COPY public.sessions' "$WORK/dump.sql"
check postgres_dump_holds_no_password_or_cookie "found:$found" \
    test -z "$found" -a "$(jq '.tokens | length' "$WORK/secrets.json" 2>/dev/null)" -gt 3

stop_checked "$node2" postgres_node2_exits_cleanly "$TEST_LOGS/postgres-node2.log"
for n in 1 2; do
    check "postgres_node${n}_log_has_no_sanitizer_report" "see $TEST_LOGS/postgres-node$n.log" \
        no_sanitizer_report "$TEST_LOGS/postgres-node$n.log"
done
finish
