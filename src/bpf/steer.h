/* The steering map's key, shared by src/bpf/steer.bpf.c and its loader src/turnd/steer.c. */
#ifndef VC_BPF_STEER_H
#define VC_BPF_STEER_H

#include <linux/types.h>

/* The client's source address as it appears in the packet (network order). */
struct steer_key {
    __u8 ip[16]; /* an IPv4 address fills the first 4 bytes, the rest stay zero */
    __u16 port;
    __u16 pad;
};

#endif
