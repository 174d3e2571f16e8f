/* Steering chosen clients' datagrams to one worker's socket of a SO_REUSEPORT group (sk_reuseport).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "steer.h"

char LICENSE[] SEC("license") = "GPL";

/* Both maps, sized by the loader before the object is loaded (bpf_map__set_max_entries). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 1);
    __type(key, struct steer_key);
    __type(value, __u32); /* the worker's index */
} steer_clients SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);   /* a worker's index */
    __type(value, __u64); /* that worker's socket (a descriptor when written from user space) */
} steer_sockets SEC(".maps");

/* Per datagram: the client's source address and port, looked up; a listed client goes to its
 * worker's socket. With no entry, or any failure, the kernel picks by hash as usual. */
SEC("sk_reuseport")
int vc_steer(struct sk_reuseport_md *md)
{
    struct steer_key key = {};
    __u32 *worker;

    if (md->eth_protocol == bpf_htons(ETH_P_IP)) {
        if (bpf_skb_load_bytes_relative(md, 12, key.ip, 4, BPF_HDR_START_NET) < 0)
            return SK_PASS;
    } else if (md->eth_protocol == bpf_htons(ETH_P_IPV6)) {
        if (bpf_skb_load_bytes_relative(md, 8, key.ip, 16, BPF_HDR_START_NET) < 0)
            return SK_PASS;
    } else {
        return SK_PASS;
    }
    /* The data starts at the UDP header, whose first two bytes are the source port. */
    if (bpf_skb_load_bytes(md, 0, &key.port, 2) < 0)
        return SK_PASS;
    worker = bpf_map_lookup_elem(&steer_clients, &key);
    if (worker)
        bpf_sk_select_reuseport(md, &steer_sockets, worker, 0);
    return SK_PASS;
}
