#!/usr/bin/env bash
# A throw-away PostgreSQL server in a directory, on loopback, for the local cluster and the tests:
# never a system-wide one. Debian's postgresql package (initdb, pg_ctl), run as the postgres user
# when called as root.
# Usage: deploy/local-postgres.sh start DIR PORT   (creates DIR/pgdata on first start)
#        deploy/local-postgres.sh stop DIR         (fast shutdown; safe to repeat)
#
# start listens on 127.0.0.1:PORT and on a unix socket in DIR/sock, with a database "vc" owned by
# a role "vc" whose password (generated once, mode 0600) is in DIR/password. It writes the URL
# without the password to DIR/url (give the password with vc-signal's database-password-file),
# and prints it. fsync is off: the data are for trying vc out and for tests.
set -eu

die() {
    echo "local-postgres: $*" >&2
    exit 1
}

usage() {
    echo "usage: deploy/local-postgres.sh start DIR PORT | stop DIR" >&2
    exit 2
}

# The newest server installed by Debian's postgresql packages.
bindir() {
    local d
    d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] || die "no PostgreSQL server found (deploy/install-deps.sh cluster)"
    echo "$d"
}

# as_owner CMD...: runs CMD as the data directory's owner (postgres when we are root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# init_cluster: initdb, the settings, then the vc role and database over the unix socket.
init_cluster() {
    local bin=$1
    mkdir -p "$DIR/pgdata" "$DIR/sock"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$DIR/pgdata" "$DIR/sock"
    chmod 700 "$DIR/pgdata"
    [ -s "$DIR/password" ] || (umask 077 && openssl rand -hex 16 >"$DIR/password")
    as_owner "$bin/initdb" -D "$DIR/pgdata" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 ||
        { tail -n 20 "$DIR/initdb.log" >&2; die "initdb failed"; }
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$DIR/sock'"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
        echo "max_connections = 60"
    } | as_owner tee -a "$DIR/pgdata/postgresql.conf" >/dev/null
    INIT=1
}

create_role() {
    local pw
    pw=$(cat "$DIR/password")
    "$PSQL" -q -v ON_ERROR_STOP=1 -h "$DIR/sock" -p "$PORT" -U postgres -d postgres \
        -c "CREATE ROLE vc LOGIN PASSWORD '$pw'" -c "CREATE DATABASE vc OWNER vc" >/dev/null ||
        die "cannot create the vc role and database"
}

do_start() {
    local bin
    bin=$(bindir)
    PSQL=$bin/psql
    INIT=
    [ -s "$DIR/pgdata/PG_VERSION" ] || init_cluster "$bin"
    if ! as_owner "$bin/pg_ctl" -D "$DIR/pgdata" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$DIR/pgdata" -l "$DIR/pgdata/postgres.log" -w -t 30 \
            -o "-p $PORT" start >/dev/null || { tail -n 20 "$DIR/pgdata/postgres.log" >&2; die "pg_ctl start failed"; }
    fi
    [ -z "$INIT" ] || create_role
    echo "postgresql://vc@127.0.0.1:$PORT/vc" >"$DIR/url"
    cat "$DIR/url"
}

do_stop() {
    local bin
    [ -d "$DIR/pgdata" ] || return 0
    bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$DIR/pgdata" status >/dev/null 2>&1 || return 0
    as_owner "$bin/pg_ctl" -D "$DIR/pgdata" -m fast -w -t 10 stop >/dev/null ||
        as_owner "$bin/pg_ctl" -D "$DIR/pgdata" -m immediate -w -t 10 stop >/dev/null
}

[ $# -ge 2 ] || usage
ACTION=$1
[ "$ACTION" != start ] || mkdir -p "$2"
DIR=$(cd "$2" 2>/dev/null && pwd) || exit 0 # nothing there to stop
case $ACTION in
    start)
        [ $# -eq 3 ] && [[ $3 =~ ^[0-9]{4,5}$ ]] || usage
        PORT=$3
        do_start
        ;;
    stop) do_stop ;;
    *) usage ;;
esac
exit
