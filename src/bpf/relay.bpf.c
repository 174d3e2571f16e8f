/* The kernel fast path of vc-turn (tc ingress): bound channels relayed without user space. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "relay.h"

char LICENSE[] SEC("license") = "GPL";

/* tcx verdicts: NEXT hands the packet on unchanged (to other programs, then the stack). */
#define RELAY_NEXT (-1)
#define RELAY_PASS 0
#define RELAY_DROP 2
#define LOOPBACK_IFINDEX 1
#define ETH_LEN 14
#define IP_LEN 20
#define UDP_LEN 8
#define CHAN_LEN 4
#define UDP_OFF (ETH_LEN + IP_LEN)
#define CSUM_OFF (UDP_OFF + 6)
#define IP_MF_OFFSET 0x3fff
/* skb->ip_summed */
#define CHECKSUM_COMPLETE 2
#define CHECKSUM_PARTIAL 3

/* The kernel's socket buffer, of which only the checksum state is read (CO-RE against the
 * running kernel's BTF, through the bpf_cast_to_kern_ctx kfunc of Linux 6.3). */
struct sk_buff___vc {
    __u8 ip_summed : 2;
} __attribute__((preserve_access_index));
extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym;

/* Every map is declared here; the loader sizes them before loading (bpf_map__set_max_entries). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 1);
    __type(key, struct relay_out_key);
    __type(value, struct relay_out);
} relay_out SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 1);
    __type(key, struct relay_in_key);
    __type(value, struct relay_in);
} relay_in SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct relay_budget);
} relay_budgets SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct relay_count);
} relay_counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct relay_stats);
} relay_stats SEC(".maps");

/* The parsed packet: IPv4 without options, UDP, not a fragment, not GSO. */
struct pkt {
    __u32 saddr, daddr;
    __u32 ports; /* as in the packet: source, destination */
    __u16 ulen;  /* the UDP length, host order */
    __u16 check;
    __u32 word; /* the first 4 payload bytes (a ChannelData header), as in the packet */
};

static __always_inline struct relay_stats *stats(void)
{
    __u32 zero = 0;

    return bpf_map_lookup_elem(&relay_stats, &zero);
}

/* GCRA against the allocation's cap: true if len bytes may go now. A few tries at the swap,
 * since user space and other CPUs charge the same word. */
static __always_inline int budget_take(__u32 slot, __u32 len, __u64 now)
{
    struct relay_budget *b = bpf_map_lookup_elem(&relay_budgets, &slot);
    __u64 rate, cost, tat, base;

    if (!b)
        return 0;
    rate = b->rate;
    if (!rate)
        return 1;
    cost = (__u64)len * 1000000000ULL / rate;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        tat = __sync_fetch_and_add(&b->tat_ns, 0);
        base = tat > now ? tat : now;
        if (base + cost > now + RELAY_BURST_NS)
            return 0;
        if (__sync_val_compare_and_swap(&b->tat_ns, tat, base + cost) == tat)
            return 1;
    }
    return 0;
}

static __always_inline void count(__u32 slot, int to_peer, __u32 len)
{
    struct relay_count *c = bpf_map_lookup_elem(&relay_counts, &slot);
    struct relay_stats *s = stats();

    if (c && to_peer) {
        c->packets_to_peer++;
        c->bytes_to_peer += len;
    } else if (c) {
        c->packets_to_client++;
        c->bytes_to_client += len;
    }
    if (s) {
        s->packets++;
        s->bytes += len;
    }
}

static __always_inline int drop_over_cap(void)
{
    struct relay_stats *s = stats();

    if (s)
        s->bps_dropped++;
    return RELAY_DROP;
}

static __always_inline int pass_expired(void)
{
    struct relay_stats *s = stats();

    if (s)
        s->passed_expired++;
    return RELAY_NEXT;
}

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
    void *data, *end;
    struct ethhdr *eth;
    struct iphdr *ip;
    struct udphdr *udp;

    if (skb->protocol != bpf_htons(ETH_P_IP) || skb->gso_size)
        return -1;
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    if (data + UDP_OFF + UDP_LEN + CHAN_LEN > end) {
        if (skb->len < UDP_OFF + UDP_LEN + CHAN_LEN ||
            bpf_skb_pull_data(skb, UDP_OFF + UDP_LEN + CHAN_LEN) < 0)
            return -1;
        data = (void *)(long)skb->data;
        end = (void *)(long)skb->data_end;
        if (data + UDP_OFF + UDP_LEN + CHAN_LEN > end)
            return -1;
    }
    eth = data;
    ip = data + ETH_LEN;
    udp = data + UDP_OFF;
    if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->version != 4 ||
        ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(IP_MF_OFFSET)))
        return -1;
    p->saddr = ip->saddr;
    p->daddr = ip->daddr;
    p->ports = *(__u32 *)udp;
    p->ulen = bpf_ntohs(udp->len);
    p->check = udp->check;
    p->word = *(__u32 *)(udp + 1);
    if (p->ulen < UDP_LEN || p->ulen != bpf_ntohs(ip->tot_len) - IP_LEN ||
        skb->len != ETH_LEN + IP_LEN + p->ulen)
        return -1;
    return 0;
}

/* May the rewritten packet be handed to ifindex (0: this host) in its checksum state? One whose
 * length changes must not take CHECKSUM_PARTIAL to a device (its csum_start would point at the
 * old UDP header), and one with CHECKSUM_COMPLETE must not come back up the stack through
 * another device than lo (skb->csum no longer matches). */
static __always_inline int deliverable(struct __sk_buff *skb, __u32 ifindex, int resized)
{
    struct sk_buff___vc *kskb = bpf_cast_to_kern_ctx(skb);
    int state = BPF_CORE_READ_BITFIELD(kskb, ip_summed);

    if (ifindex)
        return !resized || state != CHECKSUM_PARTIAL;
    return skb->ingress_ifindex == LOOPBACK_IFINDEX || state != CHECKSUM_COMPLETE;
}

static __always_inline int deliver(struct __sk_buff *skb, __u32 ifindex)
{
    if (ifindex)
        return bpf_redirect_neigh(ifindex, NULL, 0, 0);
    if (skb->ingress_ifindex == LOOPBACK_IFINDEX)
        return RELAY_PASS; /* the route lo's packet carries is local already */
    return bpf_redirect(LOOPBACK_IFINDEX, BPF_F_INGRESS);
}

/* Writes the IPv4 header's addresses and length, and its checksum. */
static __always_inline int rewrite_ip(struct __sk_buff *skb, __u32 saddr, __u32 daddr, __u16 ulen)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct iphdr *ip = data + ETH_LEN;
    __u16 *w = (__u16 *)ip;
    __u32 sum = 0;

    if ((void *)(ip + 1) > end)
        return -1;
    ip->saddr = saddr;
    ip->daddr = daddr;
    ip->tot_len = bpf_htons(IP_LEN + ulen);
    ip->ttl = 64;
    ip->check = 0;
#pragma unroll
    for (int i = 0; i < IP_LEN / 2; i++)
        sum += w[i];
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    ip->check = (__u16)~sum;
    return 0;
}

/* The UDP checksum: the pseudo header's part (addresses, length) and the rest (ports, length
 * field, ChannelData header), each as a diff of 32-bit words; the helper applies only the first
 * to a CHECKSUM_PARTIAL packet, whose field holds the pseudo header's sum alone. */
static __always_inline int fix_udp_csum(struct __sk_buff *skb, __u32 *old_ph, __u32 *new_ph,
                                        __u32 *old_rest, __u32 *new_rest)
{
    __s64 ph = bpf_csum_diff(old_ph, 12, new_ph, 12, 0);
    __s64 rest = bpf_csum_diff(old_rest, 12, new_rest, 12, 0);

    if (ph < 0 || rest < 0)
        return -1;
    if (bpf_l4_csum_replace(skb, CSUM_OFF, 0, ph, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0) < 0)
        return -1;
    return bpf_l4_csum_replace(skb, CSUM_OFF, 0, rest, BPF_F_MARK_MANGLED_0);
}

/* Writes the UDP header (and a ChannelData header after it when chan is set) at UDP_OFF. */
static __always_inline int rewrite_udp(struct __sk_buff *skb, __u32 ports, __u16 ulen, __u16 check,
                                       __u32 chan)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct udphdr *udp = data + UDP_OFF;

    if ((void *)(udp + 1) + CHAN_LEN > end)
        return -1;
    *(__u32 *)udp = ports;
    udp->len = bpf_htons(ulen);
    udp->check = check;
    if (chan)
        *(__u32 *)(udp + 1) = chan;
    return 0;
}

static __always_inline __u32 pseudo_len(__u16 ulen)
{
    return bpf_htonl((IPPROTO_UDP << 16) | ulen);
}

/* A peer's datagram to a relayed address becomes ChannelData from the server to the client. */
static __always_inline int peer_to_client(struct __sk_buff *skb, struct pkt *p, __u64 now)
{
    struct relay_in_key k = {.relay_ip = p->daddr, .peer_ip = p->saddr};
    struct relay_in *in;
    __u16 dlen = p->ulen - UDP_LEN, ulen = p->ulen + CHAN_LEN;
    __u32 ports, chan;

    k.relay_port = (__u16)(p->ports >> 16);
    k.peer_port = (__u16)p->ports;
    in = bpf_map_lookup_elem(&relay_in, &k);
    if (!in)
        return RELAY_NEXT;
    if (now >= in->expires_ns)
        return pass_expired();
    if (!deliverable(skb, in->ifindex, 1))
        return RELAY_NEXT;
    if (in->ifindex && bpf_check_mtu(skb, in->ifindex, &(__u32){0}, CHAN_LEN, 0))
        return RELAY_NEXT; /* user space sends it, fragmented */
    if (!budget_take(in->slot, dlen, now))
        return drop_over_cap();
    ports = ((__u32)in->client_port << 16) | in->server_port;
    chan = ((__u32)bpf_htons(dlen) << 16) | in->channel;
    __u32 old_ph[3] = {p->saddr, p->daddr, pseudo_len(p->ulen)};
    __u32 new_ph[3] = {in->server_ip, in->client_ip, pseudo_len(ulen)};
    __u32 old_rest[3] = {p->ports, bpf_htonl((__u32)p->ulen << 16), 0};
    __u32 new_rest[3] = {ports, bpf_htonl((__u32)ulen << 16), chan};
    __u32 saddr = in->server_ip, daddr = in->client_ip, slot = in->slot, ifindex = in->ifindex;

    if (bpf_skb_adjust_room(skb, CHAN_LEN, BPF_ADJ_ROOM_NET, 0) < 0)
        return RELAY_NEXT;
    if (rewrite_udp(skb, ports, ulen, p->check, chan) < 0 ||
        rewrite_ip(skb, saddr, daddr, ulen) < 0 ||
        fix_udp_csum(skb, old_ph, new_ph, old_rest, new_rest) < 0)
        return RELAY_DROP;
    count(slot, 0, dlen);
    return deliver(skb, ifindex);
}

/* ChannelData from client A whose peer is relay B of this server with a channel back: straight
 * on to B's client, same size (the channel number and addresses change). */
static __always_inline int client_to_client(struct __sk_buff *skb, struct pkt *p,
                                            struct relay_out *out, struct relay_in *in, __u64 now)
{
    __u16 dlen = p->ulen - UDP_LEN - CHAN_LEN;
    __u32 ports = ((__u32)in->client_port << 16) | in->server_port;
    __u32 chan = (p->word & 0xffff0000) | in->channel;
    __u32 old_ph[3] = {p->saddr, p->daddr, 0};
    __u32 new_ph[3] = {in->server_ip, in->client_ip, 0};
    __u32 old_rest[3] = {p->ports, 0, p->word};
    __u32 new_rest[3] = {ports, 0, chan};
    __u32 saddr = in->server_ip, daddr = in->client_ip, ifindex = in->ifindex;

    if (!deliverable(skb, ifindex, 0))
        return RELAY_NEXT;
    if (!budget_take(out->slot, dlen, now) || !budget_take(in->slot, dlen, now))
        return drop_over_cap();
    count(out->slot, 1, dlen);
    count(in->slot, 0, dlen);
    if (rewrite_udp(skb, ports, p->ulen, p->check, chan) < 0 ||
        rewrite_ip(skb, saddr, daddr, p->ulen) < 0 ||
        fix_udp_csum(skb, old_ph, new_ph, old_rest, new_rest) < 0)
        return RELAY_DROP;
    return deliver(skb, ifindex);
}

/* ChannelData from a client becomes a datagram from its relayed address to the peer. */
static __always_inline int client_to_peer(struct __sk_buff *skb, struct pkt *p,
                                          struct relay_out *out, __u64 now)
{
    __u16 dlen = p->ulen - UDP_LEN - CHAN_LEN, ulen = p->ulen - CHAN_LEN;
    struct relay_in_key k = {.relay_ip = out->peer_ip, .peer_ip = out->relay_ip};
    struct relay_in *in;
    __u32 ports = ((__u32)out->peer_port << 16) | out->relay_port;

    k.relay_port = out->peer_port;
    k.peer_port = out->relay_port;
    in = bpf_map_lookup_elem(&relay_in, &k);
    if (in && now < in->expires_ns)
        return client_to_client(skb, p, out, in, now);
    if (!deliverable(skb, out->ifindex, 1))
        return RELAY_NEXT;
    if (!budget_take(out->slot, dlen, now))
        return drop_over_cap();
    __u32 old_ph[3] = {p->saddr, p->daddr, pseudo_len(p->ulen)};
    __u32 new_ph[3] = {out->relay_ip, out->peer_ip, pseudo_len(ulen)};
    __u32 old_rest[3] = {p->ports, bpf_htonl((__u32)p->ulen << 16), p->word};
    __u32 new_rest[3] = {ports, bpf_htonl((__u32)ulen << 16), 0};
    __u32 saddr = out->relay_ip, daddr = out->peer_ip, slot = out->slot, ifindex = out->ifindex;

    /* Drops the 4 bytes after the IP header (the old ports); the new UDP header then goes over
     * the old length, checksum and the ChannelData header, right before the data. */
    if (bpf_skb_adjust_room(skb, -CHAN_LEN, BPF_ADJ_ROOM_NET, 0) < 0)
        return RELAY_NEXT;
    if (rewrite_udp(skb, ports, ulen, p->check, 0) < 0 || rewrite_ip(skb, saddr, daddr, ulen) < 0 ||
        fix_udp_csum(skb, old_ph, new_ph, old_rest, new_rest) < 0)
        return RELAY_DROP;
    count(slot, 1, dlen);
    return deliver(skb, ifindex);
}

SEC("tc")
int vc_relay(struct __sk_buff *skb)
{
    struct pkt p;
    __u64 now;

    if (parse(skb, &p) < 0)
        return RELAY_NEXT;
    now = bpf_ktime_get_ns();
    /* ChannelData starts with 0b01; anything else (STUN starts with 0b00) is a peer's, if any. */
    if ((p.word & 0xc0) == 0x40 && p.ulen >= UDP_LEN + CHAN_LEN) {
        struct relay_out_key k = {.client_ip = p.saddr, .server_ip = p.daddr};
        struct relay_out *out;

        k.client_port = (__u16)p.ports;
        k.server_port = (__u16)(p.ports >> 16);
        k.channel = (__u16)p.word;
        out = bpf_map_lookup_elem(&relay_out, &k);
        if (out) {
            /* Padding, or a short datagram: user space decides. */
            if (bpf_ntohs((__u16)(p.word >> 16)) != p.ulen - UDP_LEN - CHAN_LEN)
                return RELAY_NEXT;
            if (now >= out->expires_ns)
                return pass_expired();
            return client_to_peer(skb, &p, out, now);
        }
    }
    return peer_to_client(skb, &p, now);
}
