#!/usr/bin/env bash
# Calls across hostile networks, in network namespaces this suite builds (netlab.sh): vc-signal
# (HTTPS on 443) and vc-turn (UDP/TCP 3478, TLS 443) on an "internet" namespace, and a Chromium
# for the clinician and one for the patient, each in its own namespace behind its own NAT
# router whose nftables rules each case sets (tests/e2e/test_networks.mjs): friendly and
# symmetric NAT, UDP blocked, TCP 443 only, an uplink switched in the middle of a call, no path at
# all. Nothing is linked to the root namespace: no packet leaves the machine. Skips (with a line
# saying why) where the machine refuses ip netns.
# Environment: VC_BUILD (default build), VC_ONLY=REGEX, CHROMIUM (default /usr/bin/chromium).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/netlab.sh
. "$(dirname "$0")/netlab.sh"

TESTS_DIR=tests/e2e
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
NET=vcn$$
WORK=$(mktemp -d)
ROOT=$PWD
trap 'cleanup; netlab_down; rm -rf "$WORK"' EXIT

# --- prerequisites -------------------------------------------------------------------------------

need_node
[ -x "$CHROMIUM" ] || die "$CHROMIUM is missing (deploy/install-deps.sh test)"
command -v nft >/dev/null || die "nft is missing: install nftables (deploy/install-deps.sh test)"
for b in vc-turn vc-signal; do
    [ -x "$VC_BUILD/bin/$b" ] || die "$VC_BUILD/bin/$b is missing (make $VC_BUILD/bin/$b)"
done
need_dev_certs
npm_ci "$TESTS_DIR" playwright-core
if ! refusal=$(ip netns add "$NET-probe" 2>&1); then
    echo "skip $SUITE (this machine refuses network namespaces: ${refusal:-ip netns add failed})"
    echo "0 passed, 0 failed"
    exit 0
fi
ip netns del "$NET-probe"
netlab_up "$NET" || die "could not build the test network (ip netns, veth, nftables)"

# --- certificates: the servers' addresses, signed by the dev CA ----------------------------------

openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/net.key" 2>/dev/null
openssl req -new -key "$WORK/net.key" -subj "/CN=$SIG_IP" -out "$WORK/net.csr" 2>/dev/null
printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
    'extendedKeyUsage=serverAuth' "subjectAltName=IP:$SIG_IP,IP:$TURN_IP" >"$WORK/net.ext"
openssl x509 -req -in "$WORK/net.csr" -CA certs/ca.crt -CAkey certs/ca.key -CAcreateserial \
    -CAserial "$WORK/ca.srl" -days 2 -sha256 -extfile "$WORK/net.ext" -out "$WORK/net.crt" \
    2>/dev/null || die "could not sign the test certificate with certs/ca.key"
# Chromium trusts the certificate through its key's hash (the servers send no chain, so the CA's
# hash alone would match nothing): for the page, and for TURN over TLS, which must verify.
CA_SPKI=$(openssl x509 -in "$WORK/net.crt" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)

# --- the servers, on the internet namespace -------------------------------------------------------

LOGS_ABS=$(cd "$TEST_LOGS" && pwd)
DATA_DIR=$LOGS_ABS/$SUITE-data
TURN_LOG=$LOGS_ABS/$SUITE-turn-server.log
SIGNAL_LOG=$LOGS_ABS/$SUITE-signal-server.log
rm -rf "$DATA_DIR"
mkdir -p "$DATA_DIR"
API_KEY=key-$(openssl rand -hex 20)
SECRET=turn-$(openssl rand -hex 20)
INET=(ip netns exec "$NET-inet")

# The routers' wan addresses are documentation addresses, which the default peer policy refuses:
# allow the test internet's /24.
"${INET[@]}" "$VC_BUILD/bin/vc-turn" --listen "$TURN_IP:3478" --tls-listen "$TURN_IP:443" \
    --cert "$WORK/net.crt" --key "$WORK/net.key" --relay-ip "$TURN_IP" --ports 40000-40199 \
    --realm vc --secret "$SECRET" --allow-peer 203.0.113.0/24 --metrics 127.0.0.1:9641 \
    --log "$LOGS_ABS/$SUITE-turn-meta.log" --threads 2 >"$TURN_LOG" 2>&1 &
TURN_PID=$!
BG_PIDS+=("$TURN_PID")
wait_for vc-turn "$TURN_PID" "$TURN_LOG" "${INET[@]}" curl -fsS -m 1 http://127.0.0.1:9641/healthz

"${INET[@]}" "$VC_BUILD/bin/vc-signal" --listen "$SIG_IP:443" --cert "$WORK/net.crt" \
    --key "$WORK/net.key" --public-url "https://$SIG_IP" --api-key "$API_KEY" \
    --turn-secret "$SECRET" --ice-server "stun:$TURN_IP:3478" \
    --ice-server "turn:$TURN_IP:3478?transport=udp" --ice-server "turn:$TURN_IP:3478?transport=tcp" \
    --ice-server "turns:$TURN_IP:443?transport=tcp" --data-dir "$DATA_DIR" \
    --log "$LOGS_ABS/$SUITE-signal-meta.log" --max-conns-per-ip-per-min 100000 \
    --resume-grace 30 >"$SIGNAL_LOG" 2>&1 &
SIGNAL_PID=$!
BG_PIDS+=("$SIGNAL_PID")
wait_for vc-signal "$SIGNAL_PID" "$SIGNAL_LOG" "${INET[@]}" curl -fsS -m 1 --cacert certs/ca.crt \
    "https://$SIG_IP/healthz"

# Each browser runs in its own namespace: playwright-core starts it through this wrapper and
# drives it over a pipe, so the test itself needs no address in the test network.
for side in a b; do
    printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NET-$side" "$CHROMIUM" >"$WORK/chromium-$side"
    chmod +x "$WORK/chromium-$side"
done

# --- the browser tests ---------------------------------------------------------------------------

out=$WORK/node.out
(
    cd "$TESTS_DIR" &&
        VC_NET=$NET VC_NET_SIG_IP=$SIG_IP VC_NET_TURN_IP=$TURN_IP VC_NET_API_KEY=$API_KEY \
            VC_NET_CA_SPKI=$CA_SPKI VC_NET_CA=$ROOT/certs/ca.crt \
            VC_NET_CHROMIUM_A=$WORK/chromium-a VC_NET_CHROMIUM_B=$WORK/chromium-b \
            timeout 280 "$NODE" test_networks.mjs
) 2>&1 | tee "$out"
counts_from "$out" "${SUITE}_browser_tests"

stop_checked "$SIGNAL_PID" "${SUITE}_signal_exits_cleanly_on_sigterm" "$SIGNAL_LOG"
stop_checked "$TURN_PID" "${SUITE}_turn_exits_cleanly_on_sigterm" "$TURN_LOG"
finish
