#!/usr/bin/env bash
# Reload and drain of vc-turn with a call in flight: SIGHUP rotates the secret and changes the peer
# policy, a bad config is refused, SIGUSR1 drains; the relayed flow loses nothing throughout.
. "$(dirname "$0")/lib.sh"

is_vc || {
    skip turn_reload "reload and drain are vc-turn features (TURN_SERVER=$TURN_SERVER)"
    echo "0 passed, 0 failed"
    exit 0
}
[ -x "$VC_BUILD/bin/vc-turn" ] || die "$VC_BUILD/bin/vc-turn is missing (build it first)"
command -v python3 >/dev/null || die "python3 is needed for the STUN probe"

pick_ports
ALT_PORT=$((TURN_PORT + 18))
WORK=$TEST_LOGS/turn_reload
mkdir -p "$WORK"
CONF=$WORK/vc-turn.json
SECRET_FILE=$WORK/secret
SERVER_LOG=$TEST_LOGS/turn_reload-server.log
META_LOG=$TEST_LOGS/turn_reload-meta.log
OLD_SECRET=$TURN_SECRET
NEW_SECRET="vc-rotated-$RANDOM$RANDOM"

# write_config DENY [EXTRA_JSON]: the config file the daemon re-reads on SIGHUP.
write_config() {
    cat >"$CONF" <<EOF
{
  "listen": ["${LISTEN:-127.0.0.1:$TURN_PORT}"],
  "tls-listen": ["127.0.0.1:$TURN_TLS_PORT"],
  "cert": "certs/server.crt",
  "key": "certs/server.key",
  "relay-ip": "127.0.0.1",
  "ports": "$RELAY_MIN-$RELAY_MAX",
  "realm": "vc",
  "secret-file": "$SECRET_FILE",
  "allow-peer": ["127.0.0.0/8"],
  "deny-peer": [$1],
  "alternate-server": "127.0.0.1:$ALT_PORT",
  "metrics": "127.0.0.1:$METRICS_PORT",
  "log": "$META_LOG",
  "threads": 2${2:-}
}
EOF
}

# probe SECRET [USER_ID]: one Allocate over UDP with REST credentials; prints "0" for success,
# else the error code, then ALTERNATE-SERVER as "alt=IP:PORT" when present.
probe() {
    python3 - "$TURN_PORT" "$1" "${2:-probe$RANDOM}" <<'EOF'
import base64, hashlib, hmac, os, socket, struct, sys, time, zlib
port, secret, ident = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
user = f"{int(time.time()) + 600}:{ident}".encode()
pw = base64.b64encode(hmac.new(secret, user, hashlib.sha1).digest())
COOKIE = 0x2112A442

def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)

def msg(attrs, key=None):
    txid = os.urandom(12)
    body = b"".join(attrs)
    if key:
        head = struct.pack("!HHI", 0x0003, len(body) + 24, COOKIE) + txid
        body += attr(0x0008, hmac.new(key, head + body, hashlib.sha1).digest())
    head = struct.pack("!HHI", 0x0003, len(body) + 8, COOKIE) + txid
    crc = (zlib.crc32(head + body) ^ 0x5354554E) & 0xFFFFFFFF
    return head[:2] + struct.pack("!H", len(body) + 8) + head[4:] + body + attr(0x8028, struct.pack("!I", crc))

def parse(data):
    out, i = {}, 20
    while i + 4 <= len(data):
        t, n = struct.unpack("!HH", data[i:i + 4])
        out.setdefault(t, data[i + 4:i + 4 + n])
        i += 4 + n + (-n % 4)
    return struct.unpack("!H", data[:2])[0], out

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
transport = attr(0x0019, b"\x11\0\0\0")
s.sendto(msg([transport]), ("127.0.0.1", port))
_, a = parse(s.recv(2048))
realm, nonce = a[0x0014], a[0x0015]
key = hashlib.md5(user + b":" + realm + b":" + pw).digest()
s.sendto(msg([transport, attr(0x0006, user), attr(0x0014, realm), attr(0x0015, nonce)], key),
         ("127.0.0.1", port))
kind, a = parse(s.recv(2048))
if kind & 0x0110 == 0x0100:
    print("0")
else:
    e = a.get(0x0009, b"\0\0\0\0")
    print(e[2] * 100 + e[3])
alt = a.get(0x8023)
if alt and alt[1] == 1:
    print("alt=%s:%d" % (socket.inet_ntoa(alt[4:8]), struct.unpack("!H", alt[2:4])[0]))
EOF
}

[ -s certs/server.crt ] || certs/gen-dev-certs.sh >/dev/null || die "cannot create dev certs"
printf '%s\n' "$OLD_SECRET" >"$SECRET_FILE"
write_config '"127.0.0.5/32"'
: >"$META_LOG"
echo "# server: $VC_BUILD/bin/vc-turn --config $CONF"
"$VC_BUILD/bin/vc-turn" --config "$CONF" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
BG_PIDS+=("$SERVER_PID")
for _ in $(seq 1 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited during start-up (see $SERVER_LOG)"
    server_listening && curl -fsS -m 1 "http://127.0.0.1:$METRICS_PORT/healthz" >/dev/null 2>&1 &&
        break
    sleep 0.2
done
server_listening || die "server did not answer within 10 s (see $SERVER_LOG)"
start_peer "$PEER_PORT" "$PEER_ADDR"

check reload_ready_before_drain "/readyz: $(curl -s -m 2 "http://127.0.0.1:$METRICS_PORT/readyz")" \
    test "$(curl -s -m 2 "http://127.0.0.1:$METRICS_PORT/readyz")" = ready

# The call in flight: 750 messages, one every 20 ms (15 s), through a channel to the echo peer, on
# each of uclient's two allocations (RTP, and RTCP on the port its reservation held);
# long enough to still run at the drain on a loaded 2-core machine.
rest_creds reload-flow 3600
FLOW_LOG=$WORK/flow.log
uclient "$FLOW_LOG" -p "$TURN_PORT" -e "$PEER_ADDR" -r "$PEER_PORT" -u "$TURN_USER" \
    -w "$TURN_PASS" -n 750 -z 20 -m 1 -l 100 127.0.0.1 &
FLOW_PID=$!
BG_PIDS+=("$FLOW_PID")
sleep 1.5

# --- SIGHUP: rotated secret, 127.0.0.3 newly denied -----------------------------------------------
printf '%s\n' "$NEW_SECRET" >"$SECRET_FILE"
write_config '"127.0.0.5/32", "127.0.0.3/32"'
kill -HUP "$SERVER_PID"
sleep 0.5
check reload_logged "no 'SIGHUP: reloaded' line in $SERVER_LOG" grep -q 'SIGHUP: reloaded' "$SERVER_LOG"
check reload_new_secret_allocates "probe: $(probe "$NEW_SECRET" | tr '\n' ' ')" \
    test "$(probe "$NEW_SECRET" | head -n1)" = 0
check reload_old_secret_accepted_in_grace "probe: $(probe "$OLD_SECRET" | tr '\n' ' ')" \
    test "$(probe "$OLD_SECRET" | head -n1)" = 0
check reload_wrong_secret_refused "probe: $(probe "not-the-secret" | tr '\n' ' ')" \
    test "$(probe "not-the-secret" | head -n1)" = 401

check reload_tls_handshake_with_the_reloaded_certificate "openssl s_client failed" \
    eval "timeout 5 openssl s_client -brief -connect 127.0.0.1:$TURN_TLS_PORT </dev/null 2>&1 |
        grep -q 'CONNECTION ESTABLISHED'"

denied_before=$(metric vc_turn_peer_denied_total)
TURN_SECRET=$NEW_SECRET rest_creds reload-denied 3600
TURN_PASS=$(rest_password "$TURN_USER" "$NEW_SECRET")
uclient "$WORK/denied.log" -p "$TURN_PORT" -e 127.0.0.3 -r "$PEER_PORT" -u "$TURN_USER" \
    -w "$TURN_PASS" -n 2 -m 1 -l 100 127.0.0.1
check reload_deny_peer_applies "no 403 for the newly denied 127.0.0.3; log $WORK/denied.log" \
    grep -qE '(channel bind|create permission).*error 403' "$WORK/denied.log"
check reload_deny_peer_counted "vc_turn_peer_denied_total $denied_before -> $(metric vc_turn_peer_denied_total)" \
    gt "$(metric vc_turn_peer_denied_total)" "$denied_before"

# --- a bad config is refused, naming the key, and the server carries on ------------------------
write_config '"127.0.0.5/32", "127.0.0.3/32"' ', "max-allocations": 0'
kill -HUP "$SERVER_PID"
sleep 0.5
check reload_bad_config_refused_naming_the_key "see $SERVER_LOG" \
    grep -q 'reload refused.*max-allocations' "$SERVER_LOG"
LISTEN=127.0.0.1:$ALT_PORT write_config '"127.0.0.5/32", "127.0.0.3/32"'
kill -HUP "$SERVER_PID"
sleep 0.5
check reload_reports_restart_only_keys "see $SERVER_LOG" \
    grep -q 'listen changed: needs a restart' "$SERVER_LOG"
check reload_server_alive_after_bad_config "probe after the refused reload" \
    test "$(probe "$NEW_SECRET" | head -n1)" = 0

# --- SIGUSR1: drain -----------------------------------------------------------------------------
check flow_still_running_at_drain "the relayed flow ended before the drain: too fast a machine?" \
    kill -0 "$FLOW_PID"
kill -USR1 "$SERVER_PID"
sleep 0.3
readyz=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/readyz")
check drain_readyz_503 "/readyz answered $readyz" test "$readyz" = 503
check drain_healthz_still_ok "healthz" curl -fsS -m 2 "http://127.0.0.1:$METRICS_PORT/healthz" -o /dev/null
check drain_metric_is_1 "vc_turn_draining=$(metric vc_turn_draining)" test "$(metric vc_turn_draining)" = 1
answer=$(probe "$NEW_SECRET" | tr '\n' ' ')
check drain_allocate_gets_300_alternate "probe: $answer" \
    test "$answer" = "300 alt=127.0.0.1:$ALT_PORT "
post=$(curl -s -m 2 -X POST "http://127.0.0.1:$METRICS_PORT/drain")
check drain_post_from_loopback "POST /drain answered '$post'" test "$post" = draining

# The flow that started before all this ends with nothing lost.
wait "$FLOW_PID"
UC_RC=$?
forget_pid "$FLOW_PID"
why=$(uclient_verdict "$FLOW_LOG" 1500)
if [ -z "$why" ]; then ok flow_lost_nothing_across_reload_and_drain; else
    fail flow_lost_nothing_across_reload_and_drain "$why; log $FLOW_LOG"
fi

stop_server
finish
