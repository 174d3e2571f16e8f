/* The engine's own structures, shared by engine.c and pair.c (nothing else includes this). */
#ifndef VC_TURND_ENGINE_INT_H
#define VC_TURND_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "turnd.h"

/* Datagrams per recvmmsg/sendmmsg call. */
#define ENGINE_BATCH 64
#define ENGINE_CMSG 64
/* Relay sockets are told apart from pointers by this bit in epoll_data.u64 (user-space
 * pointers never have it set); the low 32 bits then hold the descriptor. */
#define ENGINE_RELAY_TAG (1ULL << 63)

struct engine_udp {
    enum turnd_src_kind kind; /* TURND_SRC_UDP; first */
    int fd;
    bool wildcard;  /* bound to 0.0.0.0 or ::, so the source IP is chosen per packet */
    unsigned index; /* of its --listen address; every worker has one socket per address */
    union vc_addr local;
    unsigned out_n;
    struct mmsghdr out_msg[ENGINE_BATCH];
    struct iovec out_iov[ENGINE_BATCH];
    union vc_addr out_dst[ENGINE_BATCH];
    uint8_t out_ctl[ENGINE_BATCH][ENGINE_CMSG] __attribute__((aligned(8)));
};

struct engine_listener {
    enum turnd_src_kind kind; /* TURND_SRC_TCP_LISTEN or TURND_SRC_TLS_LISTEN; first */
    int fd;
    union vc_addr local;
};

struct engine_relay {
    struct turn_alloc *alloc;  /* NULL: slot unused */
    struct turn_stream *owner; /* the connection that allocated it, for the idle timeout */
    union vc_addr bound;       /* the socket's own address, kept for reuse as a spare */
    bool spare;                /* bound and watched, waiting in the worker's spares */
    bool settled;              /* its allocation stays on this worker (a stream's, or moved) */
    bool steered;              /* its client's datagrams are steered here (pair.c) */
    bool df;                   /* sets DF for DONT-FRAGMENT (reserve.c): closed, never a spare */
};

struct engine_wake {
    enum turnd_src_kind kind; /* TURND_SRC_WAKE; first */
    int fd;
};

struct turnd_worker {
    struct turnd_engine *eng;
    unsigned index;
    int epfd;
    struct engine_wake wake;
    struct turn_worker *core;
    struct turn_stats *stats;
    pthread_t thread;
    bool started;
    atomic_ulong iter; /* loop iterations: a change is a quiescent point (turnd_engine_sync) */
    struct engine_udp *udp[TURND_LISTEN_MAX];
    unsigned n_udp;
    struct engine_listener lis[2 * TURND_LISTEN_MAX];
    unsigned n_lis;
    struct engine_relay *relays; /* indexed by descriptor */
    unsigned relays_cap;
    struct turnd_spares spares;
    uint8_t *rx; /* ENGINE_BATCH slots of ENGINE_SLOT bytes */
    struct mmsghdr rx_msg[ENGINE_BATCH];
    struct iovec rx_iov[ENGINE_BATCH];
    union vc_addr rx_src[ENGINE_BATCH];
    uint8_t rx_ctl[ENGINE_BATCH][ENGINE_CMSG] __attribute__((aligned(8)));
    uint8_t *arena;
    size_t arena_used;
    struct turnd_peerout peerout;   /* points into rx or a stream's input: flushed before reuse */
    struct turn_stream *cur_stream; /* the connection whose input the core is handling */
    struct turn_stream *live;       /* doubly linked */
    struct turn_stream *dead;       /* singly linked through next, freed at the loop's end */
    struct turn_stream *rerun;      /* through rerun_next */
    uint64_t now_ms, next_tick_ms;
    uint64_t send_drops; /* written by this thread only, read relaxed by metrics */
    uint64_t batch_sum;
    uint64_t rng;
    struct pair_worker *pair; /* NULL unless relayed pairs are co-located */
};

struct turnd_engine {
    struct turnd_engine_config cfg;
    struct turnd_worker **workers;
    unsigned n;
    atomic_bool stop;
    atomic_ulong conns;
    _Atomic(SSL_CTX *) tls;        /* what new TLS connections use; replaced on reload */
    struct turnd_pairing *pairing; /* NULL unless relayed pairs are co-located */
    struct turnd_fast *fast;       /* NULL: everything is relayed in user space */
};

/* engine.c, for pair.c: watching a relay socket (level-triggered, so datagrams queued while no
 * worker watched it are read at once), unwatching it after sending what was queued on it,
 * sending every queued peer datagram, and waking a worker from its wait. */
int turnd_worker_relay_watch(struct turnd_worker *w, int fd);
/* engine.c: spreads relay port choices (not secret). */
uint32_t turnd_worker_rand(struct turnd_worker *w);
/* engine.c: a bound socket becomes one of w's relay sockets (watched): fd, or -errno after
 * closing it. Then turnd_worker_relay_serve() points it at alloc, as relay_open does. */
int turnd_worker_relay_take(struct turnd_worker *w, int fd);
void turnd_worker_relay_serve(struct turnd_worker *w, int fd, struct turn_alloc *alloc,
                              const union vc_addr *bound);
void turnd_worker_relay_unwatch(struct turnd_worker *w, int fd);
void turnd_worker_peer_flush(struct turnd_worker *w);
void turnd_worker_wake(struct turnd_worker *w);

/* reserve.c: the relay ops behind EVEN-PORT with R, RESERVATION-TOKEN and DONT-FRAGMENT (see
 * struct turn_io_ops). */
int turnd_relay_open_pair(struct turn_worker *tw, struct turn_alloc *alloc, const union vc_addr *ip,
                          union vc_addr *bound, int *reserved, union vc_addr *reserved_addr);
int turnd_relay_adopt(struct turn_worker *tw, struct turn_alloc *alloc, int reserved,
                      const union vc_addr *bound);
void turnd_reserved_close(struct turn_worker *tw, int reserved);
int turnd_relay_dont_fragment(struct turn_worker *tw, int relay);

/* kpath.c: loads the kernel fast path unless the config turned it off, logging which path
 * vc-turn relays on and why; then the core's fast-path ops (struct turn_io_ops). */
void turnd_kpath_start(struct turnd_engine *e);
int turnd_kpath_sync(struct turn_worker *tw, const struct turn_fast_view *v, uint64_t **budget);
void turnd_kpath_unbind(struct turn_worker *tw, const struct turn_fast_view *v, uint16_t number,
                        const union vc_addr *peer);
void turnd_kpath_free(struct turn_worker *tw, const struct turn_fast_view *v,
                      struct turn_fast_counts *c);

/* pair.c. Start-up gives every worker an inbox and steers each listening address with eBPF:
 * 0, or -errno with the reason in err (then nothing is co-located). */
int turnd_pair_start(struct turnd_engine *e, char *err, size_t errlen);
void turnd_pair_free(struct turnd_engine *e);
/* The relay socket fd now serves relays[fd].alloc, or is about to stop serving it. */
void turnd_pair_opened(struct turnd_worker *w, int fd);
void turnd_pair_closed(struct turnd_worker *w, int fd);
/* Relay socket fd received from or sent to peer. If peer is another worker's relay socket and
 * this half of the pair is the one to move, the move is noted; turnd_pair_settle() makes it at
 * the end of the loop iteration, where no allocation is in use. */
void turnd_pair_note(struct turnd_worker *w, int fd, const union vc_addr *peer);
void turnd_pair_settle(struct turnd_worker *w);
/* A client datagram on listening address listen: true if its client has just moved away and
 * the datagram went after it. */
bool turnd_pair_stray(struct turnd_worker *w, unsigned listen, const struct turn_client *c,
                      const uint8_t *buf, size_t len);
/* Takes what other workers handed this one: allocations and their clients' datagrams. */
void turnd_pair_drain(struct turnd_worker *w);

#endif
