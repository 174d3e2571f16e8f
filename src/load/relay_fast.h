/* The batched media path: once ICE has completed, a call's two sockets leave libnice for a few
 * threads that send with sendmmsg and receive with recvmmsg (relay_fastio.c). */
#ifndef VC_LOAD_RELAY_FAST_H
#define VC_LOAD_RELAY_FAST_H

#include <stdbool.h>

#include "relay_rtp.h"
#include "vc/addr.h"

/* One side of a call on the batched path. Filled by the call, then owned by a fast thread. */
struct relay_fside {
    int fd;                /* dup of libnice's base socket to the TURN server: ours to close */
    union vc_addr peer;    /* the other side's relayed address (XOR-PEER-ADDRESS) */
    uint16_t channel;      /* learnt from the server's ChannelData; 0: Send indications */
    uint32_t overflow;     /* the socket's drop count (SO_RXQ_OVFL) last seen */
    srtp_t tx;             /* owned: protects what this side sends */
    srtp_t rx;             /* owned: unprotects what the other side sends */
    struct relay_rtp_tx t; /* carried over from the libnice path */
    struct relay_rx rxstate;
};

/* A call handed over: both sides and the moment its media started (CLOCK_MONOTONIC). */
struct relay_fcall {
    struct relay_fside s[2];
    int64_t media_start_ns;
};

struct relay_fast;

/* Starts nthreads threads sending pps packets of packet_len bytes per side to server while
 * *sending is non-zero (read atomically). Returns NULL with err set. */
struct relay_fast *relay_fast_create(unsigned nthreads, const union vc_addr *server, double pps,
                                     size_t packet_len, const int *sending, char *err,
                                     size_t errlen);
/* Hands c (heap, ownership passes) to the least loaded thread. Thread-safe. */
void relay_fast_add(struct relay_fast *f, struct relay_fcall *c);
/* Adds every thread's statistics into out (counters and histogram only). */
void relay_fast_snapshot(struct relay_fast *f, struct relay_stats *out);
/* Stops the threads, closes the sockets, frees the SRTP sessions. f may be NULL. */
void relay_fast_destroy(struct relay_fast *f);

#endif
