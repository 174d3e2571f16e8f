/* The fast path's map entries, shared by src/bpf/relay.bpf.c and its loader src/turnd/fastpath.c.
 * Addresses and ports are in network order, as in the packet; times are CLOCK_MONOTONIC ns. */
#ifndef VC_BPF_RELAY_H
#define VC_BPF_RELAY_H

#include <linux/types.h>

/* ChannelData from a client, by its 5-tuple and channel number: where it goes. */
struct relay_out_key {
    __u32 client_ip, server_ip; /* server: the listening address the client talks to */
    __u16 client_port, server_port;
    __u16 channel; /* network order */
    __u16 pad;
};

struct relay_out {
    __u32 relay_ip, peer_ip;
    __u16 relay_port, peer_port;
    __u32 slot;    /* the allocation's budget and counters */
    __u32 ifindex; /* the device towards the peer; 0: this host */
    __u32 pad;
    __u64 expires_ns; /* the earliest of the channel's, its permission's and the allocation's */
};

/* A datagram from a peer to a relayed address: which client and channel it goes to. */
struct relay_in_key {
    __u32 relay_ip, peer_ip;
    __u16 relay_port, peer_port;
};

struct relay_in {
    __u32 server_ip, client_ip;
    __u16 server_port, client_port;
    __u16 channel; /* network order */
    __u16 pad;
    __u32 slot;
    __u32 ifindex; /* the device towards the client; 0: this host */
    __u64 expires_ns;
};

/* The --bps cap of one allocation, charged by the kernel and by user space alike (the map is
 * mmapped): GCRA, whose theoretical arrival time tat_ns may run at most one second ahead of
 * now, the same as a token bucket holding one second of the rate. */
struct relay_budget {
    __u64 tat_ns;
    __u64 rate; /* bytes per second; 0: no cap */
};
#define RELAY_BURST_NS 1000000000ULL

/* What the kernel relayed for one allocation (per CPU, summed by user space). */
struct relay_count {
    __u64 packets_to_peer, bytes_to_peer;
    __u64 packets_to_client, bytes_to_client;
};

/* What the kernel did in all (per CPU): relayed hops, and datagrams dropped over the cap. */
struct relay_stats {
    __u64 packets, bytes;
    __u64 bps_dropped;
    __u64 passed_expired; /* matched an entry past its expiry: left to user space */
};

#endif
