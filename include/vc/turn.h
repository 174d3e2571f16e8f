/* The TURN protocol core (RFC 8656): allocations, permissions, channels, auth; I/O through ops. */
#ifndef VC_TURN_H
#define VC_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/addr.h"

struct peer_policy;
struct event_log;

/* Bytes the I/O layer leaves free before a received payload, and after it, so the core can add
 * a ChannelData header or a Data indication around peer data in place. */
#define TURN_HEADROOM 64
#define TURN_TAILROOM 4
/* Largest payload relayed (a UDP datagram). */
#define TURN_MAX_PAYLOAD 65507

enum turn_transport { TURN_UDP = 0, TURN_TCP = 1, TURN_TLS = 2 };

/* Settings shared by all workers, filled from the config before turn_server_new(). */
struct turn_settings {
    const char *realm;
    const uint8_t *secret; /* borrowed; the TURN REST API shared secret */
    size_t secret_len;
    struct peer_policy *policy; /* borrowed */
    struct event_log *log;      /* borrowed; may be NULL */
    union vc_addr relay_ip4;    /* family AF_UNSPEC if no IPv4 relaying */
    union vc_addr relay_ip6;    /* family AF_UNSPEC if no IPv6 relaying */
    union vc_addr external_ip4; /* advertised instead of relay_ip4 when set (NAT in front) */
    union vc_addr external_ip6;
    uint16_t port_min, port_max;
    unsigned max_allocations;       /* whole server */
    unsigned user_quota;            /* allocations per credential */
    uint64_t bps;                   /* per-allocation relay cap, bits per second; 0 = none */
    unsigned max_lifetime;          /* seconds; requested lifetimes are clamped to it */
    unsigned nonce_lifetime;        /* seconds before 438 Stale Nonce */
    unsigned unauth_rate;           /* unauthenticated requests per second per source IP */
    unsigned workers;               /* number of turn_worker instances that will be created */
    union vc_addr alternate_server; /* answered while draining; family AF_UNSPEC if none */
    unsigned secret_grace;          /* seconds: see turn_server_reload() */
};

/* Counters one worker owns and writes without atomics; the metrics reader sums workers with
 * relaxed loads. */
#define TURN_BATCH_BUCKETS 8 /* batch sizes 1, 2-3, 4-7, ... 64+ */
struct turn_stats {
    uint64_t allocations; /* gauge */
    uint64_t allocations_total;
    uint64_t relayed_packets;
    uint64_t relayed_bytes;
    uint64_t auth_failures;
    uint64_t peer_denied;
    uint64_t quota_rejected;
    uint64_t rate_limited;
    uint64_t bandwidth_dropped;
    uint64_t stale_nonces;
    uint64_t bad_messages;
    uint64_t requests;
    uint64_t drain_refused;     /* Allocates answered 300 or 508 while draining */
    uint64_t allocations_moved; /* taken over from another worker (turn_worker_attach) */
    /* EVEN-PORT R=1 reservations (RFC 8656 7.2). The gauge goes up on the worker that reserved
     * and down on the one that redeemed or expired, so only the sum over workers means much. */
    uint64_t reservations; /* gauge: ports held in reserve */
    uint64_t reservations_total;
    uint64_t reservations_redeemed; /* allocations made with a RESERVATION-TOKEN */
    uint64_t reservations_expired;  /* released unused after TURN_RESERVATION_MS */
    uint64_t
        reservations_refused; /* R=1 refused: the reservation table or the port pairs ran out */
    uint64_t reservation_tokens_rejected; /* tokens unknown, expired or of another credential */
    uint64_t batch_hist[TURN_BATCH_BUCKETS];
};

/* Where a client message came from and how to answer it. For UDP, fd is the listening socket
 * and stream is NULL; for TCP/TLS, stream is the I/O layer's connection. */
struct turn_stream;
struct turn_client {
    enum turn_transport transport;
    int fd;
    struct turn_stream *stream;
    union vc_addr local;
    union vc_addr remote;
};

struct turn_server;
struct turn_worker;
struct turn_alloc;

/* For an I/O layer that relays bound channels in the kernel (the fast path): one allocation's
 * relaying state. Only peers the peer policy allowed are ever in it (a channel is bound only
 * after the check), and user space stays the authority: the kernel forwards a channel only
 * until expires_ms and leaves everything else to the core. */
#define TURN_FAST_CHANNELS 16
struct turn_fast_view {
    uint64_t id;                      /* the allocation's, as logged */
    const struct turn_client *client; /* borrowed */
    union vc_addr relay;              /* the relay socket's own address */
    uint64_t bps;                     /* the cap now (0: none) */
    int slot;                         /* the I/O layer's handle from fast_sync, or -1 */
    unsigned n;
    struct turn_fast_chan {
        uint16_t number;
        union vc_addr peer;
        uint64_t expires_ms; /* the earliest of the channel's, its permission's and the
                                allocation's expiry (monotonic ms); 0 without a permission */
    } chans[TURN_FAST_CHANNELS];
};

/* What the kernel relayed for an allocation, added to its turn.free counts. */
struct turn_fast_counts {
    uint64_t packets_to_peer, bytes_to_peer, packets_to_client, bytes_to_client;
};

/* What the core needs from the I/O layer. Every call is made on the worker's own thread. */
struct turn_io_ops {
    /* Opens a UDP socket of family bound to ip and a free port in [port_min, port_max], and
     * watches it for alloc, which turn_worker_peer_input() then receives. Returns a handle >= 0
     * (a file descriptor for the real engine) and fills bound, or a negative errno. */
    int (*relay_open)(struct turn_worker *w, struct turn_alloc *alloc, const union vc_addr *ip,
                      union vc_addr *bound);
    void (*relay_close)(struct turn_worker *w, int relay);
    /* EVEN-PORT with the R bit: like relay_open, at an even port whose successor is free too.
     * The successor is bound as well, to a reserved socket that nobody watches: its handle goes
     * to *reserved and its address to *reserved_addr. Returns the relay handle or -errno. */
    int (*relay_open_pair)(struct turn_worker *w, struct turn_alloc *alloc, const union vc_addr *ip,
                           union vc_addr *bound, int *reserved, union vc_addr *reserved_addr);
    /* RESERVATION-TOKEN: the reserved socket (from relay_open_pair on any worker) becomes
     * alloc's relay socket, watched by w. Returns it as a relay handle, or -errno (then the
     * socket is closed). */
    int (*relay_adopt)(struct turn_worker *w, struct turn_alloc *alloc, int reserved,
                       const union vc_addr *bound);
    /* Closes a reserved socket nobody redeemed. Called on any worker's thread. */
    void (*reserved_close)(struct turn_worker *w, int reserved);
    /* DONT-FRAGMENT: datagrams from this relay socket to peers carry DF. 0 or -errno. */
    int (*relay_dont_fragment)(struct turn_worker *w, int relay);
    /* Sends one datagram from a relay socket to a peer. */
    int (*send_peer)(struct turn_worker *w, int relay, const union vc_addr *peer,
                     const uint8_t *buf, size_t len);
    /* Sends a STUN message or ChannelData to a client (may queue; the bytes are copied). */
    int (*send_client)(struct turn_worker *w, const struct turn_client *c, const uint8_t *buf,
                       size_t len);
    /* The fast path, all optional (NULL: everything is relayed here). fast_sync: v's channels,
     * permissions, lifetime or cap changed; returns the slot of its kernel state (>= 0) and
     * points *budget at the cap's word the kernel charges too (see turn_alloc_charge), or -1
     * when the kernel does not relay for it. fast_unbind: channel number to peer left the
     * allocation (rebound or pruned). fast_free: the allocation ends; forget its kernel state
     * and add what the kernel relayed for it to *c. */
    int (*fast_sync)(struct turn_worker *w, const struct turn_fast_view *v, uint64_t **budget);
    void (*fast_unbind)(struct turn_worker *w, const struct turn_fast_view *v, uint16_t number,
                        const union vc_addr *peer);
    void (*fast_free)(struct turn_worker *w, const struct turn_fast_view *v,
                      struct turn_fast_counts *c);
};

/* Creates the shared state. Takes a copy of settings (the pointers in it stay borrowed).
 * Returns NULL on ENOMEM or if the CSPRNG fails. */
struct turn_server *turn_server_new(const struct turn_settings *settings);
void turn_server_free(struct turn_server *s);
/* The settings the server started with (what turn_server_reload() later changes is not
 * reflected here): realm, relay addresses and ports never change while it runs. */
const struct turn_settings *turn_server_settings(const struct turn_server *s);

/* SIGHUP: publishes new values of the settings that may change while workers run (secret,
 * policy, user_quota, bps, max_lifetime, unauth_rate, alternate_server, secret_grace, and
 * max_allocations up to the start-up value, which sized the pools); every other field of set is
 * ignored. Workers pick the new values up at their next turn_worker_set_clock(), so there is no
 * lock on the packet path. When the secret changes, the previous one stays accepted for
 * credentials whose EXPIRY is at most now_unix + set->secret_grace: every credential issued
 * before the rotation keeps working to its own end (a refresh included), and none issued with
 * the old secret afterwards outlives the window. Takes set->policy on success (the server frees
 * it); the secret is copied. Call from one thread at a time. Returns 0, -EINVAL (a
 * max_allocations above the start-up value) or -ENOMEM; on error nothing changed. */
int turn_server_reload(struct turn_server *s, const struct turn_settings *set, int64_t now_unix);
/* Frees the settings replaced by earlier reloads. Call only once every worker has called
 * turn_worker_set_clock() after the last turn_server_reload() returned (or has stopped). */
void turn_server_reclaim(struct turn_server *s);

/* Drain: while on, a new Allocate gets 300 Try Alternate with ALTERNATE-SERVER (or 508 when no
 * alternate_server is set); existing allocations keep working. Safe from any thread. */
void turn_server_set_draining(struct turn_server *s, bool on);
bool turn_server_draining(const struct turn_server *s);

/* Creates worker index (0-based), with pools sized for its share of max_allocations.
 * ctx is the I/O layer's own pointer, returned by turn_worker_ctx(). */
struct turn_worker *turn_worker_new(struct turn_server *s, unsigned index,
                                    const struct turn_io_ops *ops, void *ctx);
/* Frees every allocation (logging turn.free), releases the port reservations this worker made
 * that nobody redeemed, and frees the worker. */
void turn_worker_free(struct turn_worker *w);
void *turn_worker_ctx(const struct turn_worker *w);
const struct turn_stats *turn_worker_stats(const struct turn_worker *w);
struct turn_stats *turn_worker_stats_mut(struct turn_worker *w);

/* The clock: the I/O layer sets it once per loop iteration (a fuzzer sets a fake one).
 * mono_ms is monotonic milliseconds; unix_s is wall-clock seconds, for credential expiry.
 * This is also the worker's quiescent point: it loads the current settings here. */
void turn_worker_set_clock(struct turn_worker *w, uint64_t mono_ms, int64_t unix_s);

/* A message from a client: a STUN message or ChannelData (several, for a stream, are fed one
 * at a time; see turn_stream_frame_len()). The buffer is borrowed for the call. */
void turn_worker_client_input(struct turn_worker *w, const struct turn_client *c,
                              const uint8_t *buf, size_t len);

/* A datagram received on alloc's relay socket from peer. payload has TURN_HEADROOM writable
 * bytes before it and TURN_TAILROOM after it. */
void turn_worker_peer_input(struct turn_worker *w, struct turn_alloc *alloc,
                            const union vc_addr *peer, uint8_t *payload, size_t len);

/* A TCP/TLS connection closed: frees the allocation it owned, if any. */
void turn_worker_stream_closed(struct turn_worker *w, const struct turn_client *c);

/* Moving an allocation between workers of one server, for the I/O layer (which carries the
 * relay socket over and keeps it open). turn_worker_detach() takes a out of w, its relay socket
 * and quota untouched, and returns a copy (NULL on ENOMEM, and a stays); turn_worker_attach()
 * links that copy into w, answering its client through client_fd from now on, and frees it.
 * Returns the allocation in w, or NULL if w's pool is full (the server-wide cap prevents it):
 * then the allocation has ended and the caller closes its relay socket. Each on its worker's
 * thread. */
struct turn_alloc *turn_worker_detach(struct turn_worker *w, struct turn_alloc *a);
struct turn_alloc *turn_worker_attach(struct turn_worker *w, struct turn_alloc *moved,
                                      int client_fd);
const struct turn_client *turn_alloc_client(const struct turn_alloc *a);
/* True if w holds an allocation for c's 5-tuple. */
bool turn_worker_serves(struct turn_worker *w, const struct turn_client *c);
uint16_t turn_alloc_relay_port(const struct turn_alloc *a);

/* Expires allocations, permissions, channels and (on any worker) port reservations. Call
 * about once a second. */
void turn_worker_tick(struct turn_worker *w);

/* For a stream transport: how long the first message in buf is (STUN: 20 + length;
 * ChannelData: 4 + length padded to 4). Returns 0 if more bytes are needed to tell, the length,
 * or -EBADMSG if the bytes are neither. */
long turn_stream_frame_len(const uint8_t *buf, size_t len);

#endif
