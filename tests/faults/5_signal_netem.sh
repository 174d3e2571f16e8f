#!/usr/bin/env bash
# Fault: 5% loss and 200 ms delay (tc netem, both ends of a veth pair) on the signalling path:
# vc-signal runs in a network namespace this test creates (vcfault-sig, 10.77.0.1/24; the host end
# is 10.77.0.2/24), and 100 vc-load signal rooms join through it; join p95 must be <= 3 s. The
# server certificate for 10.77.0.1 is made here with the dev CA. Both veth ends and the namespace
# are deleted at exit; nothing is sent outside 10.77.0.0/24. Needs root and iproute2 (skips if
# `ip netns add` is refused).
# Without the sch_netem kernel module the same impairment is built from two parts: nftables drops
# 5% of the packets in each direction inside the namespace (real loss, recovered by TCP), and
# delay_proxy.mjs on 127.0.0.1 holds every chunk 200 ms each way between vc-load and the veth.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

SUITE=fault_signal_netem
NS=vcfault-sig
VETH=vcfault-h
VETH_NS=vcfault-n
NS_IP=10.77.0.1
HOST_IP=10.77.0.2
ROOMS=100
WORK=$(cd "$TEST_LOGS" && pwd)/$SUITE
rm -rf "$WORK"
mkdir -p "$WORK/data"

netns_cleanup() {
    cleanup
    ip netns del "$NS" 2>/dev/null
    ip link del "$VETH" 2>/dev/null
}
trap netns_cleanup EXIT

[ -x "$VC_BUILD/bin/vc-signal" ] && [ -x "$VC_BUILD/bin/vc-load" ] ||
    die "$VC_BUILD/bin/vc-signal and vc-load are needed"
need_dev_certs
ip netns del "$NS" 2>/dev/null # a namespace of an earlier, interrupted run of this test
if ! ip netns add "$NS" 2>"$WORK/netns.err"; then
    skip fault_signal_netem "ip netns add is not permitted here: $(head -n1 "$WORK/netns.err")"
    echo "0 passed, 0 failed"
    exit 0
fi
ip link add "$VETH" type veth peer name "$VETH_NS" &&
    ip link set "$VETH_NS" netns "$NS" &&
    ip addr add "$HOST_IP/24" dev "$VETH" &&
    ip link set "$VETH" up &&
    ip -n "$NS" addr add "$NS_IP/24" dev "$VETH_NS" &&
    ip -n "$NS" link set "$VETH_NS" up &&
    ip -n "$NS" link set lo up || die "cannot set up the veth pair"
IMPAIR=netem
if ! tc qdisc add dev "$VETH" root netem loss 5% delay 200ms 2>"$WORK/tc.err" ||
    ! ip netns exec "$NS" tc qdisc add dev "$VETH_NS" root netem loss 5% delay 200ms 2>>"$WORK/tc.err"; then
    echo "# tc netem is unavailable ($(head -n1 "$WORK/tc.err")): nftables loss and a delaying relay"
    IMPAIR=nft
    tc qdisc del dev "$VETH" root 2>/dev/null
    command -v nft >/dev/null || die "nft is missing (deploy/install-deps.sh test installs nftables)"
    ip netns exec "$NS" nft -f - <<'NFT' || die "cannot add the nftables loss rules"
table inet vcloss {
    chain in { type filter hook input priority 0; policy accept; iifname != "lo" counter; numgen random mod 100 < 5 counter drop; }
    chain out { type filter hook output priority 0; policy accept; oifname != "lo" counter; numgen random mod 100 < 5 counter drop; }
}
NFT
fi

# A certificate for the namespace's address, signed by the dev CA (nothing written to certs/).
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/ns.key" 2>/dev/null &&
    openssl req -new -key "$WORK/ns.key" -subj "/CN=$NS_IP" -out "$WORK/ns.csr" 2>/dev/null &&
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:%s,IP:127.0.0.1\n' \
        "$NS_IP" >"$WORK/ext.cnf" &&
    openssl x509 -req -in "$WORK/ns.csr" -CA certs/ca.crt -CAkey certs/ca.key \
        -set_serial "0x$(openssl rand -hex 8)" -days 2 -sha256 -extfile "$WORK/ext.cnf" \
        -out "$WORK/ns.crt" 2>/dev/null || die "cannot make a certificate for $NS_IP"

port=$(free_port) && proxy_port=$(free_port) || die "no free TCP port found after 30 tries"
API_KEY=key-$(openssl rand -hex 20)
url="https://$NS_IP:$port"
if [ "$IMPAIR" = nft ]; then
    need_node
    "$NODE" tests/faults/delay_proxy.mjs "$proxy_port" "$NS_IP" "$port" 200 >"$WORK/proxy.log" 2>&1 &
    BG_PIDS+=("$!")
    url="https://127.0.0.1:$proxy_port"
fi
ip netns exec "$NS" "$VC_BUILD/bin/vc-signal" --listen "$NS_IP:$port" --cert "$WORK/ns.crt" \
    --key "$WORK/ns.key" --public-url "https://$NS_IP:$port" --api-key "$API_KEY" \
    --turn-secret "s-$RANDOM$RANDOM" --ice-server "turn:$NS_IP:3478?transport=udp" \
    --data-dir "$WORK/data" --log "$WORK/meta.log" --max-conns-per-ip-per-min 100000 \
    --max-conns-per-ip 100000 \
    --max-rooms-per-owner 1000 --max-knocks-per-min 1000 --allowed-origin "$url" \
    >"$WORK/signal.log" 2>&1 &
SIGNAL_PID=$!
BG_PIDS+=("$SIGNAL_PID")
wait_for vc-signal "$SIGNAL_PID" "$WORK/signal.log" \
    curl -fsS -m 3 --cacert certs/ca.crt "https://$NS_IP:$port/healthz"

wait_for "vc-signal at $url" "$SIGNAL_PID" "$WORK/signal.log" curl -fsS -m 3 --cacert certs/ca.crt "$url/healthz"
echo "# impairment: $IMPAIR; vc-load talks to $url"
timeout 180 "$VC_BUILD/bin/vc-load" signal --url "$url" --api-key "$API_KEY" \
    --ca certs/ca.crt --rooms "$ROOMS" --join-rate 20 --duration 2 --rate 1 \
    --setup-timeout 120 --json "$WORK/load.json" >"$WORK/load.out" 2>&1
rc=$?
cat "$WORK/load.out" | sed 's/^/#   /'
check fault_netem_vc_load_ran "vc-load exit $rc (see $WORK/load.out)" test "$rc" -eq 0
p95=$(jq -r '.join_latency_ms.p95 // empty' "$WORK/load.json" 2>/dev/null)
n=$(jq -r '.join_latency_ms.samples // 0' "$WORK/load.json" 2>/dev/null)
echo "# join p95 ${p95:-?} ms over ${n:-0} joins (guest join -> joined, knock and admit included);" \
    "connect p95 $(jq -r '.connect_latency_ms.p95 // "?"' "$WORK/load.json" 2>/dev/null) ms"
check fault_netem_all_rooms_joined "$n of $ROOMS joins measured" test "${n:-0}" -ge "$ROOMS"
check fault_netem_join_p95_within_3s "join p95 ${p95:-?} ms, want <= 3000" \
    awk -v p="${p95:-99999}" 'BEGIN { exit !(p + 0 <= 3000) }'
if [ "$IMPAIR" = nft ]; then
    # Per chain: packets seen, then packets dropped.
    read -r seen_in drop_in seen_out drop_out < <(ip netns exec "$NS" nft list table inet vcloss |
        awk '/counter packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") printf "%s ", $(i + 1) }')
    echo "# nftables: dropped $drop_in of $seen_in packets in, $drop_out of $seen_out out"
    check fault_netem_loss_was_applied "in $drop_in/$seen_in, out $drop_out/$seen_out" \
        awk -v a="$drop_in" -v b="$seen_in" -v c="$drop_out" -v d="$seen_out" \
        'BEGIN { exit !(a > 0 && c > 0 && a / b > 0.02 && a / b < 0.08 && c / d > 0.02 && c / d < 0.08) }'
fi
stop_checked "$SIGNAL_PID" fault_netem_signal_exits_cleanly "$WORK/signal.log"
finish
