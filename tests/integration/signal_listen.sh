#!/usr/bin/env bash
# vc-signal binds exactly the address --listen names (IPv4 or IPv6), and the wildcard addresses
# only when they are asked for: checked with ss, with /healthz, and by binding the same port on
# another loopback address from another process (as vc-turn's TURN/TLS on 443 would).
. "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT
need_node
need_dev_certs
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing"

# listeners PORT: the local addresses listening on TCP PORT, sorted, one a line.
listeners() {
    ss -Hltn "sport = :$1" | awk '{ print $4 }' | sort
}

# other_binds ADDR PORT: another process can listen on ADDR:PORT (and lets go at once).
other_binds() {
    "$NODE" -e 'const s = require("net").createServer();
        s.on("error", (e) => { console.error(e.code); process.exit(1); });
        s.listen(Number(process.argv[2]), process.argv[1], () => s.close(() => process.exit(0)));' \
        "$1" "$2"
}

# healthz IP PORT: /healthz answers over IP.
healthz() {
    curl -fsS -m 2 --cacert certs/ca.crt --resolve "localhost:$2:$1" "https://localhost:$2/healthz" \
        >/dev/null 2>&1
}

unreachable() {
    ! healthz "$@"
}

# serve NAME LISTEN PORT IP: starts vc-signal on LISTEN and waits until /healthz answers over IP.
serve() {
    local log=$TEST_LOGS/signal_listen-$1.log
    "$VC_BUILD/bin/vc-signal" --listen "$2" --cert certs/server.crt --key certs/server.key \
        --public-url "https://localhost:$3" --data-dir "$WORK/data-$1" --log "$WORK/meta-$1.log" \
        >"$log" 2>&1 &
    SIGNAL_PID=$!
    BG_PIDS+=("$SIGNAL_PID")
    wait_for "vc-signal on $2" "$SIGNAL_PID" "$log" healthz "$4" "$3"
}

stop_signal() {
    stop_checked "$SIGNAL_PID" "signal_listen_$1_exits_cleanly" "$TEST_LOGS/signal_listen-$1.log"
}

p=$(free_port) || die "no free TCP port"
serve v4 "127.0.0.1:$p" "$p" 127.0.0.1
got=$(listeners "$p")
check listen_127_0_0_1_binds_only_127_0_0_1 "listening on: $(echo $got)" test "$got" = "127.0.0.1:$p"
check listen_127_0_0_1_not_reachable_on_127_0_0_2 "/healthz answered on 127.0.0.2" \
    unreachable 127.0.0.2 "$p"
check listen_127_0_0_1_leaves_the_port_free_on_127_0_0_2 "bind 127.0.0.2:$p failed" \
    other_binds 127.0.0.2 "$p"
stop_signal v4

p=$(free_port) || die "no free TCP port"
serve any4 "0.0.0.0:$p" "$p" 127.0.0.1
got=$(listeners "$p")
check listen_0_0_0_0_binds_the_ipv4_wildcard "listening on: $(echo $got)" test "$got" = "0.0.0.0:$p"
if have_ipv6_loopback; then
    check listen_0_0_0_0_leaves_ipv6_free "bind [::1]:$p failed" other_binds ::1 "$p"
fi
stop_signal any4

if have_ipv6_loopback; then
    p=$(free_port) || die "no free TCP port"
    serve v6 "[::1]:$p" "$p" ::1
    got=$(listeners "$p")
    check listen_ipv6_loopback_binds_only_it "listening on: $(echo $got)" test "$got" = "[::1]:$p"
    check listen_ipv6_loopback_leaves_127_0_0_1_free "bind 127.0.0.1:$p failed" \
        other_binds 127.0.0.1 "$p"
    stop_signal v6

    p=$(free_port) || die "no free TCP port"
    serve any6 "[::]:$p" "$p" ::1
    got=$(listeners "$p")
    check listen_ipv6_wildcard_binds_every_address "listening on: $(echo $got)" \
        matches "^(\*|\[::\]):$p$" "$got"
    check listen_ipv6_wildcard_answers_ipv4_too "no /healthz over 127.0.0.1" healthz 127.0.0.1 "$p"
    stop_signal any6
else
    skip listen_ipv6 "no IPv6 loopback here"
fi
finish
