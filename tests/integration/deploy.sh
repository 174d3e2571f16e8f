#!/usr/bin/env bash
# Checks deploy/: the example configs start the real daemons (moved to loopback), a bad value is
# refused naming its key, the units carry the hardening, agree with the configs and pass
# systemd-analyze, the daemons' system calls fit the units' filter, and logrotate applies the
# rotation config. Optional tools (systemd-analyze, strace, logrotate) are skipped when absent.
. "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT
ROOT=$PWD
UNITS=deploy/systemd
ROTATE=deploy/logrotate/vc

command -v jq >/dev/null || die "jq is not installed"
for b in vc-turn vc-signal; do
    [ -x "$VC_BUILD/bin/$b" ] || die "$VC_BUILD/bin/$b is missing (make $VC_BUILD/bin/$b)"
done
[ -s certs/server.crt ] || certs/gen-dev-certs.sh >/dev/null || die "cannot create dev certs"
pick_ports
SIGNAL_PORT=$((TURN_PORT + 20))

# --- the example configs -------------------------------------------------------------------------

# example_ok NAME: valid JSON whose every setting has a "#KEY" comment.
example_ok() {
    local f=deploy/$1.example.json missing
    jq -e 'type == "object"' "$f" >/dev/null || return 1
    missing=$(jq -r 'keys[] as $k | select(($k | startswith("#") | not) and (has("#" + $k) | not))
        | $k' "$f")
    [ -z "$missing" ] || { echo "# $f: no comment for: $missing"; return 1; }
}
for n in vc-turn vc-signal; do
    check "deploy_${n//-/_}_example_is_json_with_a_comment_per_key" "see above" example_ok "$n"
done

# jq_true FILE FILTER: the filter yields true.
jq_true() {
    jq -e "$2" "$1" >/dev/null
}
check deploy_turn_example_has_production_values "listen, TLS 443, ports, metrics, log" jq_true \
    deploy/vc-turn.example.json '.listen == ["0.0.0.0:3478"] and ."tls-listen" == ["0.0.0.0:443"]
    and .ports == "49152-65535" and .metrics == "127.0.0.1:9641" and .threads >= 1
    and (.log | startswith("/var/log/vc/")) and (."secret-file" | startswith("/run/credentials/"))
    and ([."relay-ip", ."external-ip"] | all(test("^(192\\.0\\.2|198\\.51\\.100|203\\.0\\.113)\\.")))'
check deploy_signal_example_has_production_values "listen, URLs, data-dir, log" jq_true \
    deploy/vc-signal.example.json '.listen == "0.0.0.0:443" and ."public-url" == "https://vc.example.org"
    and ."data-dir" == "/var/lib/vc" and (.log | startswith("/var/log/vc/"))
    and (."ice-server" | index("turns:turn.example.org:443?transport=tcp") != null)
    and (."ice-server" | index("turn:turn.example.org:3478?transport=udp") != null)
    and (."ice-server" | any(startswith("stun:")))'

# --- the units ------------------------------------------------------------------------------------

COMMON_DIRECTIVES=(DynamicUser=yes ConfigurationDirectory=vc UMask=0077 NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes
    ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes
    ProtectControlGroups=yes ProtectClock=yes ProtectHostname=yes RestrictNamespaces=yes
    RestrictRealtime=yes RestrictSUIDSGID=yes LockPersonality=yes MemoryDenyWriteExecute=yes
    SystemCallArchitectures=native SystemCallFilter=@system-service
    'SystemCallFilter=~@privileged @resources' Restart=on-failure)

# has_directives UNIT LINE...: every LINE stands alone on a line of UNIT.
has_directives() {
    local unit=$1 line bad=0
    shift
    for line in "$@"; do
        grep -qxF "$line" "$unit" || { echo "# $unit lacks: $line"; bad=1; }
    done
    return $bad
}
# vc-turn also holds CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN and the bpf and capset calls, for its
# start-up only (it drops the capabilities before serving: checked below on the running daemon).
check deploy_turn_unit_is_hardened "see above" has_directives "$UNITS/vc-turn.service" \
    "${COMMON_DIRECTIVES[@]}" LimitNOFILE=1048576 LogsDirectory=vc/turn \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK' \
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_BPF CAP_PERFMON CAP_NET_ADMIN' \
    'AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_BPF CAP_PERFMON CAP_NET_ADMIN' \
    'SystemCallFilter=bpf capset'
check deploy_signal_unit_is_hardened "see above" has_directives "$UNITS/vc-signal.service" \
    "${COMMON_DIRECTIVES[@]}" StateDirectory=vc LogsDirectory=vc/signal \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK' \
    CapabilityBoundingSet=CAP_NET_BIND_SERVICE AmbientCapabilities=CAP_NET_BIND_SERVICE

# unit_value UNIT KEY: the values of KEY= lines, one a line.
unit_value() {
    sed -n "s/^$2=//p" "$1"
}

# creds_agree NAME: every credential the ExecStart line and the example config name is loaded
# with LoadCredential=, from /etc/vc, and the config's log lies in the unit's LogsDirectory.
creds_agree() {
    local n=$1 unit=$UNITS/$1.service cfg=deploy/$1.example.json ids used id bad=0 logs
    ids=$(unit_value "$unit" LoadCredential | cut -d: -f1)
    used=$( (unit_value "$unit" ExecStart | grep -o '\${CREDENTIALS_DIRECTORY}/[a-z-]*' |
        sed 's#.*/##'; jq -r --arg p "/run/credentials/$n.service/" \
        '.. | strings | select(startswith($p)) | ltrimstr($p)' "$cfg") | sort -u)
    for id in $used; do
        grep -qxF "$id" <<<"$ids" || { echo "# $unit: no LoadCredential=$id:"; bad=1; }
    done
    if unit_value "$unit" LoadCredential | grep -v ':/etc/vc/' >/dev/null; then
        echo "# $unit: a credential outside /etc/vc"
        bad=1
    fi
    logs=/var/log/$(unit_value "$unit" LogsDirectory)/
    [[ $(jq -r .log "$cfg") == "$logs"* ]] || { echo "# $cfg: log is not in $logs"; bad=1; }
    grep -qxE "ExecStart=/usr/local/bin/$n --config /etc/vc/$n.json( .*)?" "$unit" ||
        { echo "# $unit: ExecStart is not /usr/local/bin/$n --config /etc/vc/$n.json"; bad=1; }
    return $bad
}
check deploy_turn_unit_matches_config "see above" creds_agree vc-turn
check deploy_signal_unit_matches_config "see above" creds_agree vc-signal
check deploy_signal_data_dir_is_state_directory "data-dir is not /var/lib/StateDirectory" test \
    "$(jq -r '."data-dir"' deploy/vc-signal.example.json)" = \
    "/var/lib/$(unit_value "$UNITS/vc-signal.service" StateDirectory)"

# --- starting the daemons from the examples ------------------------------------------------------

# prepare NAME: writes $WORK/NAME/config.json (the example on loopback, temp paths) and fills
# $WORK/NAME/cred with a file per LoadCredential= id; sets ARGV to the unit's ExecStart with
# the build's binary, that config and the credentials directory.
prepare() {
    local n=$1 d=$WORK/$1 id prod=() filter
    rm -rf "$d"
    mkdir -p "$d/cred" "$d/log" "$d/data"
    for id in $(unit_value "$UNITS/$n.service" LoadCredential | cut -d: -f1); do
        case $id in
        tls-cert) cp certs/server.crt "$d/cred/$id" ;;
        tls-key) cp certs/server.key "$d/cred/$id" ;;
        *) echo "$id-$(openssl rand -hex 16)" >"$d/cred/$id" ;;
        esac
    done
    if [ "$n" = vc-turn ]; then
        prod=(listen tls-listen relay-ip ports metrics log)
        filter='.listen = ["127.0.0.1:\($turn)"] | ."tls-listen" = ["127.0.0.1:\($tls)"]
            | ."relay-ip" = "127.0.0.1" | .ports = $ports | .metrics = "127.0.0.1:\($metrics)"'
    else
        prod=(listen public-url data-dir web-root log)
        filter='.listen = "127.0.0.1:\($signal)" | ."public-url" = "https://localhost:\($signal)"
            | ."data-dir" = $d + "/data" | ."web-root" = $root + "/src/web"'
    fi
    # Only keys the example sets may be moved: a key it lacks must not be added here.
    for k in "${prod[@]}"; do
        jq -e --arg k "$k" 'has($k)' "deploy/$n.example.json" >/dev/null ||
            { echo "# deploy/$n.example.json has no $k"; return 1; }
    done
    jq --arg d "$d" --arg root "$ROOT" --arg turn "$TURN_PORT" --arg tls "$TURN_TLS_PORT" \
        --arg metrics "$METRICS_PORT" --arg ports "$RELAY_MIN-$RELAY_MAX" \
        --arg signal "$SIGNAL_PORT" --arg cred "/run/credentials/$n.service/" \
        "$filter"' | .log = $d + "/log/" + (.log | split("/") | last)
            | walk(if type == "string" and startswith($cred)
                   then $d + "/cred/" + ltrimstr($cred) else . end)' \
        "deploy/$n.example.json" >"$d/config.json" || return 1
    read -ra ARGV <<<"$(unit_value "$UNITS/$n.service" ExecStart)"
    ARGV[0]=$VC_BUILD/bin/$n
    for i in "${!ARGV[@]}"; do
        ARGV[i]=${ARGV[i]//\/etc\/vc\/$n.json/$d/config.json}
        ARGV[i]=${ARGV[i]//\$\{CREDENTIALS_DIRECTORY\}/$d/cred}
    done
}

# healthy NAME: /healthz answers ok.
healthy() {
    if [ "$1" = vc-turn ]; then
        [ "$(curl -fsS -m 1 "http://127.0.0.1:$METRICS_PORT/healthz" 2>/dev/null)" = ok ]
    else
        [ "$(curl -fsSk -m 1 "https://127.0.0.1:$SIGNAL_PORT/healthz" 2>/dev/null)" = ok ]
    fi
}

# launch NAME [WRAPPER...]: starts "${ARGV[@]}" (under WRAPPER) and waits up to 5 s for /healthz.
# Sets PID (the daemon's; a wrapper such as strace is its parent) and LOG.
launch() {
    local n=$1
    shift
    LOG=$WORK/$n/server.log
    "$@" "${ARGV[@]}" >"$LOG" 2>&1 &
    PID=$!
    BG_PIDS+=("$PID")
    for _ in $(seq 1 50); do
        kill -0 "$PID" 2>/dev/null || return 1
        healthy "$n" && return 0
        sleep 0.1
    done
    return 1
}

for n in vc-turn vc-signal; do
    t=${n#vc-}
    if ! prepare "$n"; then
        fail "deploy_${t}_example_starts" "cannot prepare the config"
        continue
    fi
    if launch "$n"; then
        ok "deploy_${t}_example_starts"
        [ "$n" = vc-signal ] && check deploy_signal_example_serves_the_join_page "GET /join" \
            curl -fsSk -m 2 -o /dev/null "https://127.0.0.1:$SIGNAL_PORT/join"
        stop_pid "$PID"
        forget_pid "$PID"
        check "deploy_${t}_example_stops_on_sigterm" "exit status $STOP_RC" test "$STOP_RC" -eq 0
    else
        sed 's/^/#   /' "$LOG" | tail -n 5
        fail "deploy_${t}_example_starts" "no /healthz within 5 s (see above)"
        stop_pid "$PID"
        forget_pid "$PID"
    fi

    # A bad value stops start-up with exit status 2 and a message naming the key.
    if [ "$n" = vc-turn ]; then key=threads; else key=turn-ttl; fi
    jq --arg k "$key" '.[$k] = 0' "$WORK/$n/config.json" >"$WORK/$n/bad.json"
    argv=("${ARGV[@]//$WORK\/$n\/config.json/$WORK/$n/bad.json}")
    timeout 5 "${argv[@]}" >"$WORK/$n/bad.log" 2>&1
    rc=$?
    check "deploy_${t}_refuses_bad_${key//-/_}_naming_it" \
        "exit $rc: $(head -c 200 "$WORK/$n/bad.log")" \
        eval "[ $rc -eq 2 ] && grep -q '$key: 0 is below the minimum' '$WORK/$n/bad.log'"

    # ExecReload must match what SIGHUP does: until reload exists, SIGHUP ends the daemon and
    # the unit must not offer `systemctl reload`.
    if launch "$n"; then
        # (stderr off meanwhile: bash would report the daemon's "Hangup" death there)
        {
            kill -HUP "$PID"
            sleep 0.5
            kill -0 "$PID" || wait "$PID"
        } 2>/dev/null
        if kill -0 "$PID" 2>/dev/null; then
            check "deploy_${t}_unit_reloads_with_sighup" "the daemon survives SIGHUP: enable ExecReload" \
                grep -qxF 'ExecReload=/bin/kill -HUP $MAINPID' "$UNITS/$n.service"
        else
            check "deploy_${t}_unit_has_no_reload_yet" "SIGHUP ends the daemon: ExecReload would stop it" \
                not_grep -q '^ExecReload=' "$UNITS/$n.service"
        fi
        stop_pid "$PID"
        forget_pid "$PID"
    else
        fail "deploy_${t}_sighup_check" "did not start (see $LOG)"
    fi
done

# --- systemd-analyze ------------------------------------------------------------------------------

if command -v systemd-analyze >/dev/null; then
    mkdir -p "$WORK/units" "$WORK/man/man8"
    for n in vc-turn vc-signal; do
        t=${n#vc-}
        # verify wants the ExecStart binary to exist: point it at the build's. It also runs man
        # for the Documentation= pages: give it the build's.
        sed "s#/usr/local/bin/$n#$ROOT/$VC_BUILD/bin/$n#" "$UNITS/$n.service" >"$WORK/units/$n.service"
        cp "$VC_BUILD/man/$n.8" "$WORK/man/man8/" 2>/dev/null
        out=$(cd "$WORK/units" && MANPATH=$WORK/man systemd-analyze verify "$n.service" 2>&1)
        check "deploy_${t}_unit_passes_systemd_analyze_verify" "${out:-exit status}" \
            eval "[ -z \"\$out\" ]"
        # Exposure 2.0 ("OK") or better; the units score 1.5.
        if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
            out=$(cd "$WORK/units" && systemd-analyze security --offline=true --threshold=20 \
                "$n.service" 2>&1 | tail -n 1)
            check "deploy_${t}_unit_exposure_is_low" "$out" \
                eval "(cd '$WORK/units' && systemd-analyze security --offline=true --threshold=20 $n.service >/dev/null 2>&1)"
        fi
    done
else
    skip deploy_units_pass_systemd_analyze "systemd-analyze is not installed"
fi

# --- system calls against the units' filter ------------------------------------------------------

# filter_allows: the system calls in @system-service and in neither @privileged nor @resources,
# one a line, sorted; nested sets expanded from one listing of every set.
filter_allows() {
    systemd-analyze syscall-filter --no-pager 2>/dev/null | awk '
        /^@/ { g = $1; next }
        /^    [^#]/ && g != "" { n[g]++; m[g, n[g]] = $1 }
        function add(set, s,    i) {
            if (s ~ /^@/) { for (i = 1; i <= n[s]; i++) add(set, m[s, i]) }
            else { has[set, s] = 1; seen[s] = 1 }
        }
        END {
            add("allow", "@system-service"); add("deny", "@privileged"); add("deny", "@resources")
            for (s in seen) if (has["allow", s] && !has["deny", s]) print s
        }' | sort
}

# exercise NAME: a little real traffic, so the traced calls include the serving path.
exercise() {
    if [ "$1" = vc-turn ]; then
        curl -fsS -m 2 "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null
        command -v turnutils_stunclient >/dev/null &&
            timeout 2 turnutils_stunclient -p "$TURN_PORT" 127.0.0.1 >/dev/null 2>&1
        timeout 2 openssl s_client -connect "127.0.0.1:$TURN_TLS_PORT" </dev/null >/dev/null 2>&1
    else
        curl -fsSk -m 2 -X POST -H "Authorization: Bearer $(cat "$WORK/vc-signal/cred/api-key")" \
            "https://127.0.0.1:$SIGNAL_PORT/api/v1/rooms" >/dev/null
        curl -fsSk -m 2 -o /dev/null "https://127.0.0.1:$SIGNAL_PORT/join"
    fi
    return 0
}

if ! command -v systemd-analyze >/dev/null; then
    skip deploy_syscalls_fit_the_filter "systemd-analyze is not installed"
elif ! command -v strace >/dev/null || ! strace -f -o /dev/null true 2>/dev/null; then
    skip deploy_syscalls_fit_the_filter "strace is not installed or may not trace here"
elif grep -q __asan_init "$VC_BUILD/bin/vc-turn"; then
    skip deploy_syscalls_fit_the_filter "sanitizer build: its runtime makes calls a release does not"
else
    # The units allow @system-service and deny @privileged and @resources.
    filter_allows >"$WORK/allowed"
    check deploy_filter_listing_is_sane "systemd-analyze syscall-filter gave no usable list" \
        eval "grep -qx sendmmsg '$WORK/allowed' && ! grep -qx setrlimit '$WORK/allowed'"
    for n in vc-turn vc-signal; do
        t=${n#vc-}
        prepare "$n" || { fail "deploy_${t}_syscalls_fit_the_filter" "cannot prepare"; continue; }
        trace=$WORK/$n/strace.txt
        if ! launch "$n" strace -f -qq -o "$trace"; then
            fail "deploy_${t}_syscalls_fit_the_filter" "did not start under strace (see $LOG)"
            stop_pid "$PID"
            forget_pid "$PID"
            continue
        fi
        exercise "$n"
        if [ "$n" = vc-turn ]; then
            # CAP_BPF, CAP_PERFMON (38) and CAP_NET_ADMIN (12) are for start-up: the serving
            # daemon (here root, with every capability before) no longer holds them.
            capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$(pgrep -P "$PID" | head -n 1)/status")
            check deploy_turn_gives_up_cap_bpf "CapEff $capeff" \
                eval "[ -n '$capeff' ] && [ \$(( (0x$capeff >> 39) & 1 )) -eq 0 ]"
            check deploy_turn_gives_up_cap_perfmon_and_net_admin "CapEff $capeff" \
                eval "[ -n '$capeff' ] && [ \$(( (0x$capeff >> 38 | 0x$capeff >> 12) & 1 )) -eq 0 ]"
        fi
        stop_pid "$(pgrep -P "$PID" | head -n 1)"
        stop_pid "$PID"
        forget_pid "$PID"
        # SQLite fchowns its journal only when running as root (euid 0, as here); the unit
        # never runs it as root.
        # Plus what the unit names one by one (vc-turn: bpf and capset, at start-up).
        { cat "$WORK/allowed"; unit_value "$UNITS/$n.service" SystemCallFilter |
            grep -v '^[~@]' | tr ' ' '\n'; } | sort -u >"$WORK/allowed-$n"
        outside=$(awk '{ if (match($2, /^[a-z0-9_]+\(/)) print substr($2, 1, RLENGTH - 1) }' "$trace" |
            sort -u | comm -23 - "$WORK/allowed-$n" | grep -vx fchown | tr '\n' ' ')
        calls=$(awk '{ if (match($2, /^[a-z0-9_]+\(/)) print substr($2, 1, RLENGTH - 1) }' "$trace" |
            sort -u | wc -l)
        check "deploy_${t}_syscalls_fit_the_filter" "outside @system-service minus @privileged @resources: $outside" \
            eval "[ -z '$outside' ] && [ $calls -gt 20 ]"
    done
fi

# --- logrotate ------------------------------------------------------------------------------------

# rotate_ok: the rotation policy the docs promise, for the logs the units write.
rotate_ok() {
    local d
    for d in daily 'rotate 30' compress delaycompress missingok notifempty copytruncate 'su root root'; do
        grep -qE "^\s+$d\s*$" "$ROTATE" || { echo "# $ROTATE lacks: $d"; return 1; }
    done
    grep -qE '^/var/log/vc/\*/\*\.log \{' "$ROTATE"
}
check deploy_logrotate_has_policy "see above" rotate_ok
check deploy_logrotate_covers_both_logs "a config's log is outside /var/log/vc/*/*.log" eval \
    '[[ $(jq -r .log deploy/vc-turn.example.json) == /var/log/vc/*/*.log ]] &&
     [[ $(jq -r .log deploy/vc-signal.example.json) == /var/log/vc/*/*.log ]]'

if command -v logrotate >/dev/null; then
    out=$(logrotate -d -s "$WORK/lr.state" "$ROTATE" 2>&1)
    check deploy_logrotate_parses "$(grep -i error <<<"$out" | head -n 3)" not_grep -qi 'error' <<<"$out"
    # A real forced rotation of a copy aimed at temp files: the live file is emptied in place
    # and the lines move to the rotated copy.
    mkdir -p "$WORK/lr/turn"
    printf '{"event":"turn.alloc"}\n' >"$WORK/lr/turn/turn.log"
    sed "s#^/var/log/vc/#$WORK/lr/#" "$ROTATE" >"$WORK/lr.conf"
    logrotate -f -s "$WORK/lr.state" "$WORK/lr.conf" >"$WORK/lr.out" 2>&1
    rotated=$(ls "$WORK/lr/turn/" | grep -v '^turn.log$' | head -n 1)
    check deploy_logrotate_rotates_in_place "$(head -c 300 "$WORK/lr.out") [$rotated]" eval \
        "[ ! -s '$WORK/lr/turn/turn.log' ] && [ -n '$rotated' ] &&
         grep -q turn.alloc '$WORK/lr/turn/$rotated'"
else
    skip deploy_logrotate_parses "logrotate is not installed (apt-get install logrotate)"
fi

finish
