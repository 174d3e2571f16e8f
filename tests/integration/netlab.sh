# A small network of namespaces for the browser tests of hostile networks (e2e_networks.sh): an
# "internet" with vc-signal and vc-turn on it, and two homes (a: the clinician, b: the patient),
# each a browser namespace with two uplinks (wifi, mobile), each uplink through its own router
# namespace that NATs onto the internet. Nothing is linked to the root namespace, so no packet of
# these namespaces can leave the machine; every address is one this file assigns (documentation
# ranges, RFC 5737).
#
#   NET-inet: bridge br0 with SIG_IP (vc-signal) and TURN_IP (vc-turn), and every router's wan
#   NET-rt-a-wifi, NET-rt-a-mobile, NET-rt-b-wifi, NET-rt-b-mobile: wan 203.0.113.1xx, lan .1 of
#       a /28 of 198.51.100.0/24, forwarding on, nftables table "ip vc" (masquerade on wan)
#   NET-a, NET-b: the browsers' namespaces, links "wifi" (up, default route) and "mobile" (down)
#
# Source it after lib.sh; netlab_up NET builds it (false when the machine refuses ip netns),
# netlab_down removes it. Needs root, iproute2 and nftables.
# shellcheck shell=bash

SIG_IP=203.0.113.10
TURN_IP=203.0.113.20
NETLAB_NAMES=()

# netlab_uplink NET SIDE KIND WAN_HOST LAN_BASE: one router namespace and its two links.
netlab_uplink() {
    local net=$1 side=$2 kind=$3 wan=203.0.113.$4 base=$5
    local rt=$net-rt-$side-$kind cli=$net-$side tmp=vl$$${side}${kind:0:1}
    ip netns add "$rt" || return 1
    NETLAB_NAMES+=("$rt")
    ip -n "$rt" link set lo up
    ip link add "${tmp}w" type veth peer name "${tmp}i" || return 1
    ip link set "${tmp}w" netns "$rt" name wan
    ip link set "${tmp}i" netns "$net-inet" name "i$side${kind:0:1}"
    ip -n "$net-inet" link set "i$side${kind:0:1}" master br0 up
    ip -n "$rt" addr add "$wan/24" dev wan
    ip -n "$rt" link set wan up
    ip link add "${tmp}l" type veth peer name "${tmp}c" || return 1
    ip link set "${tmp}l" netns "$rt" name lan
    ip link set "${tmp}c" netns "$cli" name "$kind"
    ip -n "$rt" addr add "198.51.100.$((base + 1))/28" dev lan
    ip -n "$rt" link set lan up
    ip netns exec "$rt" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$rt" nft -f - <<NFT || return 1
table ip vc {
    chain post { type nat hook postrouting priority srcnat; policy accept; oifname "wan" masquerade; }
    chain filt { type filter hook forward priority filter; policy accept; }
    chain in { type filter hook input priority filter; policy accept; iifname "wan" ct state new drop; }
}
NFT
}

# netlab_up NET: builds the namespaces; prints what failed and returns 1 when it cannot.
netlab_up() {
    local net=$1
    ip netns add "$net-inet" || return 1
    NETLAB_NAMES+=("$net-inet")
    ip -n "$net-inet" link set lo up
    ip -n "$net-inet" link add br0 type bridge || return 1
    ip -n "$net-inet" addr add "$SIG_IP/24" dev br0
    ip -n "$net-inet" addr add "$TURN_IP/24" dev br0
    ip -n "$net-inet" link set br0 up
    for side in a b; do
        ip netns add "$net-$side" || return 1
        NETLAB_NAMES+=("$net-$side")
        ip -n "$net-$side" link set lo up
    done
    netlab_uplink "$net" a wifi 101 0 || return 1
    netlab_uplink "$net" a mobile 111 16 || return 1
    netlab_uplink "$net" b wifi 102 32 || return 1
    netlab_uplink "$net" b mobile 112 48 || return 1
    # Each browser starts on its wifi; its mobile link is up too, as a phone's mobile data stays
    # connected under the Wi-Fi, but the default route goes through the wifi until a test
    # switches.
    ip -n "$net-a" addr add 198.51.100.2/28 dev wifi
    ip -n "$net-a" link set wifi up
    ip -n "$net-a" addr add 198.51.100.18/28 dev mobile
    ip -n "$net-a" link set mobile up
    ip -n "$net-a" route add default via 198.51.100.1
    ip -n "$net-b" addr add 198.51.100.34/28 dev wifi
    ip -n "$net-b" link set wifi up
    ip -n "$net-b" addr add 198.51.100.50/28 dev mobile
    ip -n "$net-b" link set mobile up
    ip -n "$net-b" route add default via 198.51.100.33
}

netlab_down() {
    local ns
    for ns in "${NETLAB_NAMES[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    NETLAB_NAMES=()
}
