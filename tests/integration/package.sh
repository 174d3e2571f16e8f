#!/usr/bin/env bash
# Builds the Debian package (make deb), installs it on this machine with dpkg -i, starts both
# daemons from the installed units (systemctl when systemd is PID 1, else by hand as the units
# say: their user, credentials, directories and capabilities), relays a TURN allocation and a
# signalling call through them on loopback, then purges the package and checks nothing is left.
# Needs root. Runs one at a time on a machine (a lock), since it installs a system package.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "needs root (dpkg -i)"
for tool in jq curl openssl setpriv runuser turnutils_uclient turnutils_peer man groff; do
    command -v "$tool" >/dev/null || die "$tool is not installed (deploy/install-deps.sh test)"
done
need_dev_certs
exec 9>/run/lock/vc-package-test.lock
flock -w 600 9 || die "another package test held the lock for 10 minutes"

UNITS=/lib/systemd/system
OUT=$TEST_LOGS/package
mkdir -p "$OUT"
PIDS_BY_UNIT=()
declare -A UNIT_PID=()
BY_HAND=

# dpkg_run ARGS...: dpkg, waiting (at most 5 min) while apt or another dpkg holds its lock.
dpkg_run() {
    local log=$OUT/dpkg.log
    for _ in $(seq 1 150); do
        dpkg "$@" >>"$log" 2>&1 && return 0
        grep -q 'lock' <(tail -n 3 "$log") || return 1
        sleep 2
    done
    return 1
}

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' vc 2>/dev/null)" = installed ]
}

# unit_value NAME KEY: the values of KEY= lines of the installed unit NAME, one a line.
unit_value() {
    sed -n "s/^$2=//p" "$UNITS/$1.service"
}

# stop_units: stops what start_units started; sets STOPPED_OK when each exited with status 0.
stop_units() {
    local pid
    STOPPED_OK=1
    if [ -z "$BY_HAND" ]; then
        systemctl stop vc-signal vc-turn 2>/dev/null || STOPPED_OK=
        return
    fi
    for pid in "${PIDS_BY_UNIT[@]}"; do
        stop_pid "$pid"
        forget_pid "$pid"
        [ "$STOP_RC" -eq 0 ] || STOPPED_OK=
    done
    PIDS_BY_UNIT=()
    rm -rf /run/credentials/vc-turn.service /run/credentials/vc-signal.service
}

pkg_cleanup() {
    stop_units
    rm -f /etc/vc/tls/turn.* /etc/vc/tls/vc.*
    installed && dpkg_run --purge vc
}
trap 'pkg_cleanup; cleanup' EXIT

# A package left by an interrupted run goes; files of a hand installation are not ours to touch.
installed && { dpkg_run --purge vc || die "cannot purge the vc package left by an earlier run"; }
for f in /etc/vc /var/lib/vc /var/log/vc; do
    [ ! -e "$f" ] || die "$f exists and is not from the vc package: refusing to install over it"
done
getent passwd vc >/dev/null && die "a user vc exists and is not from the vc package"

# --- build ---------------------------------------------------------------------------------------

before=$(git status --porcelain 2>/dev/null)
started=$(date +%s)
if ! timeout 280 make --no-print-directory deb BUILD="$VC_BUILD" >"$OUT/build.log" 2>&1; then
    tail -n 20 "$OUT/build.log" | sed 's/^#/#   /'
    die "make deb failed (see $OUT/build.log)"
fi
DEB=$(ls "$VC_BUILD"/deb/vc_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
check package_builds "no .deb in $VC_BUILD/deb" test -s "$DEB"
echo "# built $DEB in $(($(date +%s) - started)) s"
check package_build_leaves_the_tree_clean "git status changed: $(git status --porcelain | head -c 300)" \
    test "$(git status --porcelain 2>/dev/null)" = "$before"
[ -s "$DEB" ] || finish

# --- install -------------------------------------------------------------------------------------

dpkg_run -i "$DEB" || { tail -n 20 "$OUT/dpkg.log" | sed 's/^/#   /'; die "dpkg -i failed"; }
check package_installs "dpkg says $(dpkg-query -W -f='${db:Status-Status}' vc 2>&1)" installed
version=$("$VC_BUILD/bin/vc-turn" --version | awk '{print $2}')
check package_version_is_the_release "package $(dpkg-query -W -f='${Version}' vc), vc-turn $version" \
    test "$(dpkg-query -W -f='${Version}' vc)" = "$version"

all_exist() {
    local f
    for f in "$@"; do [ -e "$f" ] || { echo "# missing: $f"; return 1; }; done
}
check package_installs_the_layout "see above" all_exist /usr/sbin/vc-turn /usr/sbin/vc-signal \
    /usr/bin/vc-load /usr/share/vc/web/join.html /usr/share/vc/web/index.html \
    /usr/share/man/man8/vc-turn.8.gz /usr/share/man/man8/vc-signal.8.gz \
    /usr/share/man/man1/vc-load.1.gz /usr/share/doc/vc/production.md \
    /etc/vc/vc-turn.json /etc/vc/vc-signal.json /etc/logrotate.d/vc \
    $UNITS/vc-turn.service $UNITS/vc-signal.service
conffiles=$(dpkg-query -W -f='${Conffiles}\n' vc | awk '{print $1}' | sort | tr '\n' ' ')
check package_configs_are_conffiles "conffiles: $conffiles" test \
    "$conffiles" = "/etc/logrotate.d/vc /etc/vc/vc-signal.json /etc/vc/vc-turn.json "
check package_config_names_installed_web_root "web-root $(jq -r '."web-root"' /etc/vc/vc-signal.json)" \
    test "$(jq -r '."web-root"' /etc/vc/vc-signal.json)" = /usr/share/vc/web
man_clean() {
    local out
    out=$(MANWIDTH=100 man "$1" 2>&1 >/dev/null) && [ -z "$out" ] && man -w "$1" | grep -q "^/usr/share/man/"
}
for p in vc-turn vc-signal vc-load; do
    check "package_man_${p//-/_}_renders" "man $p: $(MANWIDTH=100 man "$p" 2>&1 >/dev/null | head -c 200)" \
        man_clean "$p"
done

system_user() {
    local uid shell
    uid=$(getent passwd vc | cut -d: -f3)
    shell=$(getent passwd vc | cut -d: -f7)
    [ -n "$uid" ] && [ "$uid" -lt 1000 ] && [[ $shell == */nologin || $shell == */false ]] &&
        getent group vc >/dev/null
}
check package_creates_system_user_vc "passwd: $(getent passwd vc)" system_user
secret_ok() {
    [ "$(stat -c '%U %a' "$1")" = "root 600" ] && [ "$(wc -c <"$1")" -ge 33 ]
}
check package_generates_root_only_secrets "$(stat -c '%n %U %a %s' /etc/vc/turn-secret /etc/vc/api-key 2>&1)" \
    eval 'secret_ok /etc/vc/turn-secret && secret_ok /etc/vc/api-key'
for n in vc-turn vc-signal; do
    check "package_${n//-/_}_unit_runs_as_vc_from_usr_sbin" "$(grep -E '^(User|Group|ExecStart|DynamicUser)=' $UNITS/$n.service)" \
        eval "[ \"\$(unit_value $n User)\" = vc ] && [ \"\$(unit_value $n Group)\" = vc ] &&
              [ -z \"\$(unit_value $n DynamicUser)\" ] &&
              unit_value $n ExecStart | grep -q '^/usr/sbin/$n --config /etc/vc/$n.json'"
    if command -v systemd-analyze >/dev/null; then
        out=$(systemd-analyze verify "$UNITS/$n.service" 2>&1)
        check "package_${n//-/_}_unit_passes_systemd_analyze_verify" "$out" test -z "$out"
    fi
done

# --- configure for loopback ----------------------------------------------------------------------

pick_ports
SIGNAL_PORT=$((TURN_PORT + 20))
edit_json() {
    local f=$1
    shift
    jq "$@" "$f" >"$f.new" && cat "$f.new" >"$f" && rm -f "$f.new"
}
# The installed configs, moved to loopback and this test's ports; nothing else is changed.
edit_json /etc/vc/vc-turn.json --arg t "$TURN_PORT" --arg tls "$TURN_TLS_PORT" \
    --arg m "$METRICS_PORT" --arg ports "$RELAY_MIN-$RELAY_MAX" \
    '.listen = ["127.0.0.1:\($t)"] | ."tls-listen" = ["127.0.0.1:\($tls)"] | ."relay-ip" = "127.0.0.1"
     | del(."external-ip", ."alternate-server") | .ports = $ports | .metrics = "127.0.0.1:\($m)"
     | ."allow-peer" = ["127.0.0.0/8"] | .threads = 2 | .realm = "vc"' ||
    die "cannot edit /etc/vc/vc-turn.json"
edit_json /etc/vc/vc-signal.json --arg s "$SIGNAL_PORT" --arg t "$TURN_PORT" \
    '.listen = "127.0.0.1:\($s)" | ."public-url" = "https://localhost:\($s)"
     | ."ice-server" = ["stun:127.0.0.1:\($t)", "turn:127.0.0.1:\($t)?transport=udp"]
     | ."allowed-origin" = []' || die "cannot edit /etc/vc/vc-signal.json"
install -m 0600 certs/server.crt /etc/vc/tls/turn.crt
install -m 0600 certs/server.key /etc/vc/tls/turn.key
install -m 0600 certs/server.crt /etc/vc/tls/vc.crt
install -m 0600 certs/server.key /etc/vc/tls/vc.key

# --- start the units -----------------------------------------------------------------------------

# caps_of NAME KEY: "+cap_a,+cap_b" for setpriv from the unit's KEY= capability list.
caps_of() {
    unit_value "$1" "$2" | tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd, -
}

# run_by_hand NAME: what systemd does for the unit before its ExecStart, then ExecStart itself:
# LoadCredential= copies into /run/credentials/NAME.service for the unit's user alone,
# StateDirectory= and LogsDirectory= owned by that user, UMask=, LimitNOFILE=, the user and
# group, CapabilityBoundingSet= and AmbientCapabilities=, NoNewPrivileges=. The sandbox directives
# (ProtectSystem=, SystemCallFilter= ...) need systemd; deploy.sh checks the calls against them.
run_by_hand() {
    local n=$1 user group creds id path d mode exec caps bound umask nofile pid
    user=$(unit_value "$n" User)
    group=$(unit_value "$n" Group)
    creds=/run/credentials/$n.service
    rm -rf "$creds"
    install -d -o "$user" -g "$group" -m 0500 "$creds"
    while IFS=: read -r id path; do
        install -o "$user" -g "$group" -m 0400 "$path" "$creds/$id" || return 1
    done < <(unit_value "$n" LoadCredential)
    mode=$(unit_value "$n" StateDirectoryMode)
    for d in $(unit_value "$n" StateDirectory); do
        install -d -o "$user" -g "$group" -m "${mode:-0755}" "/var/lib/$d"
    done
    mode=$(unit_value "$n" LogsDirectoryMode)
    for d in $(unit_value "$n" LogsDirectory); do
        install -d -o "$user" -g "$group" -m "${mode:-0755}" "/var/log/$d"
    done
    read -ra exec <<<"$(unit_value "$n" ExecStart)"
    exec=("${exec[@]//\$\{CREDENTIALS_DIRECTORY\}/$creds}")
    caps=$(caps_of "$n" AmbientCapabilities)
    bound=$(caps_of "$n" CapabilityBoundingSet)
    umask=$(unit_value "$n" UMask)
    nofile=$(unit_value "$n" LimitNOFILE)
    [ "$(unit_value "$n" NoNewPrivileges)" = yes ] || return 1
    # LimitNOFILE= past what this machine allows is held at its hard limit, and said.
    if [ -n "$nofile" ] && ! (ulimit -n "$nofile") 2>/dev/null; then
        echo "#   $n: LimitNOFILE=$nofile is more than this machine allows; using $(ulimit -Hn)"
        nofile=$(ulimit -Hn)
    fi
    (umask "${umask:-0022}" && ulimit -n "${nofile:-1024}" && CREDENTIALS_DIRECTORY=$creds exec setpriv --reuid="$user" \
        --regid="$group" --init-groups --inh-caps="-all,$caps" --ambient-caps="-all,$caps" \
        --bounding-set="-all,$bound" --no-new-privs -- "${exec[@]}") >"$OUT/$n.log" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    PIDS_BY_UNIT+=("$pid")
    UNIT_PID[$n]=$pid
    echo "#   $n: pid $pid as $user:$group, caps ${caps:-none}: ${exec[*]}"
}

signal_health() {
    curl -fsS -m 1 --cacert certs/ca.crt --resolve "localhost:$SIGNAL_PORT:127.0.0.1" \
        "https://localhost:$SIGNAL_PORT/healthz" 2>/dev/null | grep -qx ok
}
turn_health() {
    curl -fsS -m 1 "http://127.0.0.1:$METRICS_PORT/healthz" 2>/dev/null | grep -qx ok
}
wait_health() {
    for _ in $(seq 1 50); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}
main_pid() {
    if [ -n "$BY_HAND" ]; then
        echo "${UNIT_PID[$1]}"
    else
        systemctl show -p MainPID --value "$1"
    fi
}

pid1=$(ps -p 1 -o comm=)
if [ "$pid1" = systemd ]; then
    echo "# systemd is PID 1: starting vc-turn and vc-signal with systemctl"
    systemctl daemon-reload
    systemctl start vc-turn vc-signal || echo "# systemctl start failed"
else
    BY_HAND=1
    echo "# systemd is not PID 1 here (PID 1 is '$pid1'): starting vc-turn and vc-signal by hand,"
    echo "# as their installed units would (ExecStart=, User=, LoadCredential=, directories, caps)"
    run_by_hand vc-turn || die "cannot start vc-turn as its unit says"
    run_by_hand vc-signal || die "cannot start vc-signal as its unit says"
fi
wait_health turn_health || { tail -n 5 "$OUT/vc-turn.log" 2>/dev/null | sed 's/^/#   /'; }
check package_turn_starts "no /healthz on 127.0.0.1:$METRICS_PORT (see $OUT/vc-turn.log)" turn_health
wait_health signal_health || { tail -n 5 "$OUT/vc-signal.log" 2>/dev/null | sed 's/^/#   /'; }
check package_signal_answers_healthz_over_tls "no /healthz on https://localhost:$SIGNAL_PORT" signal_health
for n in vc-turn vc-signal; do
    pid=$(main_pid "$n")
    check "package_${n//-/_}_runs_as_vc" "pid '$pid' runs as '$(ps -o user= -p "${pid:-0}")'" \
        test "$(ps -o user= -p "${pid:-0}" 2>/dev/null | tr -d ' ')" = vc
done

# --- calls through them --------------------------------------------------------------------------

TURN_SECRET=$(head -n 1 /etc/vc/turn-secret)
start_peer "$PEER_PORT" "$PEER_ADDR"
rest_creds package-udp
relay_check package_turn_relays_udp_with_installed_secret "$OUT/uclient-udp.log" 100 \
    -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" -w "$TURN_PASS" \
    -n 50 -m 2 -l 170 -z 10 127.0.0.1
rest_creds package-tls
relay_check package_turn_relays_over_tls_with_installed_cert "$OUT/uclient-tls.log" 50 \
    -t -S -E certs/ca.crt -p "$TURN_TLS_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" \
    -u "$TURN_USER" -w "$TURN_PASS" -n 25 -m 2 -l 170 -z 10 127.0.0.1

URL=https://localhost:$SIGNAL_PORT
API_KEY=$(head -n 1 /etc/vc/api-key)
room=$(curl -fsS -m 5 --cacert certs/ca.crt --resolve "localhost:$SIGNAL_PORT:127.0.0.1" -X POST \
    -H "Authorization: Bearer $API_KEY" -H 'content-type: application/json' -d '{}' \
    "$URL/api/v1/rooms" 2>&1)
check package_signal_creates_room_with_installed_api_key "answer: ${room:0:200}" \
    eval 'jq -e --arg u "$URL/join#" ".host_url | startswith(\$u)" <<<"$room" >/dev/null 2>&1'
check package_signal_serves_installed_web_pages "GET /join differs from /usr/share/vc/web/join.html" \
    eval 'curl -fsS -m 5 --cacert certs/ca.crt --resolve "localhost:$SIGNAL_PORT:127.0.0.1" \
        "$URL/join" | cmp -s - /usr/share/vc/web/join.html'
# The installed vc-load: a host and a guest per room join over WSS and exchange signals.
timeout 60 /usr/bin/vc-load signal --url "$URL" --api-key "$API_KEY" --ca certs/ca.crt \
    --rooms 2 --rate 5 --duration 2 --json "$OUT/load.json" >"$OUT/load.out" 2>&1
check package_signal_call_two_clients_exchange_signals "$(head -c 300 "$OUT/load.out")" \
    jq -e '.rooms_active == 2 and .connections == 4 and .messages_received > 0 and
        .messages_received == .messages_sent and .errors == 0' "$OUT/load.json" \
    >/dev/null
# Without web-root, the installed vc-signal serves /usr/share/vc/web (beside /usr/sbin), from
# any working directory.
port=$(free_port) || die "no free TCP port"
root=$PWD
(cd / && exec /usr/sbin/vc-signal --listen "127.0.0.1:$port" --public-url "https://localhost:$port" \
    --cert "$root/certs/server.crt" --key "$root/certs/server.key" --data-dir "$root/$OUT/data" \
    --log /dev/null) >"$OUT/default-root.log" 2>&1 &
pid=$!
BG_PIDS+=("$pid")
default_root() {
    curl -fsS -m 1 --cacert certs/ca.crt --resolve "localhost:$port:127.0.0.1" \
        "https://localhost:$port/join" 2>/dev/null | cmp -s - /usr/share/vc/web/join.html
}
wait_health default_root
check package_signal_default_web_root_is_the_installed_one "see $OUT/default-root.log" default_root
stop_pid "$pid"
forget_pid "$pid"
printf '%s\n' 'package test password' | runuser -u vc -- /usr/sbin/vc-signal user add \
    pkg@example.org --name Pkg --data-dir /var/lib/vc >"$OUT/useradd.log" 2>&1
check package_user_add_as_vc_works "see $OUT/useradd.log" \
    eval '[ "$(stat -c %U /var/lib/vc/vc.db 2>/dev/null)" = vc ] && grep -q added "$OUT/useradd.log"'

logged() {
    [ "$(stat -c %U "$1" 2>/dev/null)" = vc ] && grep -q "\"$2\"" "$1"
}
check package_turn_logs_to_var_log "no turn.alloc owned by vc in /var/log/vc/turn/turn.log" \
    logged /var/log/vc/turn/turn.log turn.alloc
check package_signal_logs_to_var_log "no room.created owned by vc in /var/log/vc/signal/signal.log" \
    logged /var/log/vc/signal/signal.log room.created

stop_units
check package_daemons_stop_cleanly "a daemon did not exit 0 on stop (see $OUT/*.log)" test -n "$STOPPED_OK"

# --- purge ---------------------------------------------------------------------------------------

# The certificates are the administrator's: purge keeps them, as it should. This test put them.
rm -f /etc/vc/tls/turn.* /etc/vc/tls/vc.*
dpkg_run --purge vc || { tail -n 10 "$OUT/dpkg.log" | sed 's/^/#   /'; }
check package_purges "dpkg says $(dpkg-query -W -f='${db:Status-Status}' vc 2>&1)" \
    eval '! installed'
none_exist() {
    local f
    for f in "$@"; do [ ! -e "$f" ] || { echo "# left: $f"; return 1; }; done
}
check package_purge_removes_every_file "see above" none_exist /usr/sbin/vc-turn \
    /usr/sbin/vc-signal /usr/bin/vc-load /usr/share/vc /usr/share/doc/vc \
    /usr/share/man/man8/vc-turn.8.gz /usr/share/man/man1/vc-load.1.gz /etc/vc /etc/logrotate.d/vc \
    /var/lib/vc /var/log/vc $UNITS/vc-turn.service $UNITS/vc-signal.service
check package_purge_removes_user_and_group "$(getent passwd vc; getent group vc)" \
    eval '! getent passwd vc >/dev/null && ! getent group vc >/dev/null'
left_units=$(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
    /var/lib/systemd/deb-systemd-helper-masked -name 'vc-*' 2>/dev/null)
check package_purge_leaves_no_unit_state "left: $left_units" test -z "$left_units"

finish
