/* Private interfaces of the vc-turn daemon's I/O layer: engine, streams, TLS and metrics. */
#ifndef VC_TURND_H
#define VC_TURND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <linux/capability.h>

#include <openssl/ssl.h>

#include "vc/addr.h"
#include "vc/turn.h"
#include "vc/version.h"

#define TURND_VERSION VC_VERSION

/* Caps of one TCP/TLS connection: the largest frame it may send (a STUN message or ChannelData
 * never exceeds 20 + 65535 bytes) and the most bytes queued for a slow reader. */
#define TURND_STREAM_IN_MAX (65536 + 64)
#define TURND_STREAM_IN_START 4096
#define TURND_STREAM_OUT_MAX (256 * 1024)
/* Most --listen (and, separately, --tls-listen) addresses; the config list cap. */
#define TURND_LISTEN_MAX 32

/* What an epoll registration points at; the first member of every watched struct. */
enum turnd_src_kind {
    TURND_SRC_UDP = 1,
    TURND_SRC_TCP_LISTEN,
    TURND_SRC_TLS_LISTEN,
    TURND_SRC_STREAM,
    TURND_SRC_WAKE,
};

struct turnd_worker;

/* Datagrams to peers, queued per relay socket and sent with one sendmmsg (peerout.c). */
#define TURND_PEEROUT_BATCH 64
struct turnd_peerout {
    int fd;
    unsigned n;
    struct mmsghdr msg[TURND_PEEROUT_BATCH];
    struct iovec iov[TURND_PEEROUT_BATCH];
    union vc_addr dst[TURND_PEEROUT_BATCH];
};
unsigned turnd_peerout_flush(struct turnd_peerout *q);
unsigned turnd_peerout_queue(struct turnd_peerout *q, int fd, const union vc_addr *peer,
                             const uint8_t *buf, size_t len);
/* sock.c: a non-blocking socket of type bound to a (listening, for SOCK_STREAM), with
 * SO_REUSEPORT when reuseport; the descriptor, or -errno with a message naming a in err. */
int turnd_sock_listen(const union vc_addr *a, int type, bool reuseport, char *err, size_t errlen);
/* SO_REUSEPORT would let us share a port with another instance run by the same user and steal
 * half its traffic, so start-up first checks that nobody holds the address: 0 or -errno. */
int turnd_sock_probe(const union vc_addr *a, int type, char *err, size_t errlen);
/* sock.c: a non-blocking UDP socket bound to ip at a port in [port_min, port_max], probing
 * upwards from port_min + start % span. Returns the descriptor (the caller owns it) or -errno. */
int turnd_relay_socket(const union vc_addr *ip, unsigned port_min, unsigned port_max,
                       unsigned start, union vc_addr *bound);
/* sock.c: two such sockets bound to an even port of the range and the port after it, probing
 * pairs upwards from pair start % pairs. Returns the even one and fills *odd (both owned by the
 * caller), or -errno (-EADDRINUSE when no pair is free). */
int turnd_relay_pair(const union vc_addr *ip, unsigned port_min, unsigned port_max, unsigned start,
                     union vc_addr *bound, int *odd, union vc_addr *odd_bound);

/* sock.c: reads and drops what a relay socket received while nobody served it; false if it kept
 * receiving (or failed). */
bool turnd_relay_drain(int fd);

/* sock.c: relay sockets of freed allocations, kept bound (and registered with the worker's
 * epoll) to be handed to the next allocation without socket, bind, epoll_ctl and close calls. */
#define TURND_SPARES_MAX 64
struct turnd_spares {
    unsigned n, head, cap; /* a FIFO ring of n entries from head */
    int fd[TURND_SPARES_MAX];
    union vc_addr addr[TURND_SPARES_MAX];
};
/* Sizes the FIFO for a relay range of span ports shared by workers. */
void turnd_spares_init(struct turnd_spares *p, unsigned span, unsigned workers);
bool turnd_spares_full(const struct turnd_spares *p);
/* Takes fd (bound to bound) if there is room; false: the caller still owns it and closes it. */
bool turnd_spares_put(struct turnd_spares *p, int fd, const union vc_addr *bound);
/* The oldest spare bound to ip's address, emptied of queued datagrams; the caller owns it. Returns
 * it, -ENOENT if there is none, or -EAGAIN with *stale set to a spare that would not drain (the
 * caller closes it and may try again). */
int turnd_spares_take(struct turnd_spares *p, const union vc_addr *ip, union vc_addr *bound,
                      int *stale);
/* Removes and returns the oldest spare (for shutdown), or -1. */
int turnd_spares_pop(struct turnd_spares *p);

/* steer.c: a SO_REUSEPORT group of UDP sockets (fds[i] is worker i's) whose clients can be sent
 * to a chosen worker by an eBPF program; unlisted clients are spread by the kernel's hash as
 * before. Returns 0, or -errno with the reason in err (no privilege, an old kernel). */
struct turnd_steer;
int turnd_steer_new(const int *fds, unsigned n, unsigned max_clients, struct turnd_steer **out,
                    char *err, size_t errlen);
/* From now on client's datagrams go to worker's socket: 0 or -errno (the map is full). */
int turnd_steer_set(struct turnd_steer *s, const union vc_addr *client, unsigned worker);
/* client goes back to the hash. */
void turnd_steer_clear(struct turnd_steer *s, const union vc_addr *client);
void turnd_steer_free(struct turnd_steer *s);

/* bpfload.c: what the eBPF loaders (steer.c, fastpath.c) share. turnd_bpf_quiet() routes
 * libbpf's messages into a buffer whose last line turnd_bpf_last_error() returns (for the
 * start-up log); start-up only. */
void turnd_bpf_quiet(void);
const char *turnd_bpf_last_error(void);
/* Older kernel headers lack the capabilities that split from CAP_SYS_ADMIN in Linux 5.8. */
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
/* True if this thread holds capability cap (CAP_BPF, CAP_NET_ADMIN ...) in its effective set. */
bool turnd_bpf_capable(unsigned cap);
/* Gives up CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (which only loading and attaching programs
 * needs) for this thread and the threads it starts afterwards: 0, or -errno. */
int turnd_bpf_drop_capabilities(void);

/* route.c: a rtnetlink socket (the caller owns it), and the device the kernel would send an
 * IPv4 datagram from src to dst (network order) through: 0 with *ifindex (0 when dst is this
 * host), or -errno (-EHOSTUNREACH: no unicast route). */
int turnd_route_open(void);
int turnd_route_get(int fd, uint32_t src, uint32_t dst, unsigned *ifindex);

/* fastpath.c: the kernel fast path (src/bpf/relay.bpf.c at tc ingress, through tcx links). */
#define TURND_FAST_WORKERS 256
#define TURND_FAST_LINKS 32
struct turnd_fast;
struct turnd_fast_config {
    unsigned workers, max_allocations;
    const union vc_addr *listen; /* borrowed: the UDP listening addresses */
    unsigned n_listen;
    union vc_addr relay_ip4; /* AF_UNSPEC: none */
};
/* What the kernel relayed in all, for the metrics. */
struct turnd_fast_totals {
    bool on;
    uint64_t packets, bytes, bps_dropped, passed_expired;
};
/* Loads and attaches the program to lo and each interface holding one of the relay's IPv4
 * addresses (every one, for a wildcard listener): 0, or -errno with why it cannot (an old
 * kernel, a missing capability, the verifier's complaint) in why. */
int turnd_fast_start(const struct turnd_fast_config *cfg, struct turnd_fast **out, char *why,
                     size_t whylen);
/* The interfaces it is attached to, for the log ("lo, eth0"). */
const char *turnd_fast_interfaces(const struct turnd_fast *f);
/* Detaches and unloads: with vc-turn's last reference the maps go too. */
void turnd_fast_free(struct turnd_fast *f);
/* The core's fast-path ops (struct turn_io_ops), from worker thread worker: see there. */
int turnd_fast_sync(struct turnd_fast *f, unsigned worker, const struct turn_fast_view *v,
                    uint64_t **budget);
void turnd_fast_unbind(struct turnd_fast *f, const struct turn_fast_view *v, uint16_t number,
                       const union vc_addr *peer);
void turnd_fast_release(struct turnd_fast *f, const struct turn_fast_view *v,
                        struct turn_fast_counts *c);
/* Sums the kernel's counters (any thread). */
void turnd_fast_totals(const struct turnd_fast *f, struct turnd_fast_totals *t);

struct turnd_engine;

/* One TCP or TLS connection (the core sees it as the opaque struct turn_stream). Owned by its
 * worker; destroyed in two steps: turnd_stream_close() marks and unlinks it, and the worker frees
 * it at the end of the loop iteration, after turn_worker_stream_closed(). */
struct turn_stream {
    enum turnd_src_kind kind; /* TURND_SRC_STREAM; must stay first */
    struct turnd_worker *worker;
    struct turn_client client; /* client.stream points back here */
    SSL *ssl;                  /* owned; NULL for plain TCP */
    bool handshaking;
    bool dead;
    bool want_out;         /* EPOLLOUT currently requested */
    bool read_wants_write; /* TLS read returned SSL_ERROR_WANT_WRITE */
    bool on_rerun;         /* queued for another read pass (TLS data buffered in SSL) */
    unsigned relays;       /* relay sockets opened by this connection's allocation */
    uint64_t last_rx_ms;
    uint8_t *in; /* owned; frames being assembled */
    size_t in_len, in_cap;
    uint8_t *out; /* owned; bytes not yet written, out[out_pos..out_len) */
    size_t out_pos, out_len, out_cap;
    struct turn_stream *prev, *next; /* worker's live list, or its dead list */
    struct turn_stream *rerun_next;
};

/* Counters the I/O layer keeps besides the core's turn_stats, summed over workers. */
struct turnd_totals {
    struct turn_stats core;
    uint64_t send_drops;
    uint64_t batch_sum; /* datagrams received by recvmmsg, for the histogram's _sum */
    uint64_t tcp_connections;
    bool draining;
    struct turnd_fast_totals fast; /* what the kernel relayed (on: the kernel path is on) */
};

struct turnd_engine_config {
    struct turn_server *server;  /* borrowed */
    unsigned workers;            /* threads */
    const union vc_addr *listen; /* borrowed; UDP + TCP */
    unsigned n_listen;
    const union vc_addr *tls_listen; /* borrowed */
    unsigned n_tls_listen;
    SSL_CTX *tls; /* borrowed; NULL when there are no TLS listeners; see turnd_engine_swap_tls */
    unsigned max_connections;
    unsigned idle_timeout_s; /* a connection without an allocation closes after this */
    bool colocate_pairs;     /* move one half of a relayed pair to the other's worker */
    bool kernel_path;        /* relay bound channels in the kernel where it can (fastpath.c) */
};

/* engine.c: creates the workers and binds every listening socket (so a bind error stops start-up,
 * with the address in err), then starts one thread per worker. */
int turnd_engine_start(const struct turnd_engine_config *cfg, struct turnd_engine **out, char *err,
                       size_t errlen);
/* Asks every worker to leave its loop and joins the threads. */
void turnd_engine_stop(struct turnd_engine *e);
/* After turnd_engine_stop(): frees the workers (logging turn.free) and closes every socket. */
void turnd_engine_free(struct turnd_engine *e);
/* Sums the workers' counters with relaxed loads; safe from any thread while workers run. */
void turnd_engine_totals(const struct turnd_engine *e, struct turnd_totals *t);
/* The TURN core the engine serves (borrowed), for drain and reload. */
struct turn_server *turnd_engine_server(const struct turnd_engine *e);
/* Reload: new TLS connections use tls (borrowed) from now on; connections already accepted keep
 * the context they started with (OpenSSL counts its references). Returns the previous context,
 * which workers may still be about to use: free it only after turnd_engine_sync(). */
SSL_CTX *turnd_engine_swap_tls(struct turnd_engine *e, SSL_CTX *tls);
/* Waits until every worker has started a new loop iteration (its quiescent point), so that
 * nothing replaced before the call (settings, TLS context) is still in use. From the main thread
 * only. Returns 0, or -ETIMEDOUT after 5 s (then free nothing). */
int turnd_engine_sync(struct turnd_engine *e);

/* engine.c, for stream.c: the worker's core, clock and epoll interest of a connection. */
struct turn_worker *turnd_worker_core(struct turnd_worker *w);
uint64_t turnd_worker_now_ms(const struct turnd_worker *w);
int turnd_worker_watch_out(struct turnd_worker *w, struct turn_stream *s, bool want);
/* Hands one frame from connection s to the core (remembering s for relay_open). */
void turnd_worker_client_input(struct turnd_worker *w, struct turn_stream *s, const uint8_t *buf,
                               size_t len);
/* Counts a dropped outgoing packet. */
void turnd_worker_count_drop(struct turnd_worker *w);
/* Moves s from the live list to the dead list (called once, by turnd_stream_close()). */
void turnd_worker_stream_dead(struct turnd_worker *w, struct turn_stream *s);
/* Queues s for another read pass in the next loop iteration. */
void turnd_worker_rerun(struct turnd_worker *w, struct turn_stream *s);

/* stream.c: takes fd and ssl (may be NULL); returns NULL on ENOMEM (the caller closes both). */
struct turn_stream *turnd_stream_new(struct turnd_worker *w, int fd, SSL *ssl,
                                     enum turn_transport transport, const union vc_addr *local,
                                     const union vc_addr *remote);
void turnd_stream_on_readable(struct turn_stream *s);
void turnd_stream_on_writable(struct turn_stream *s);
/* Queues one whole frame (copied), or drops it if the output cap would be exceeded. */
int turnd_stream_send(struct turn_stream *s, const uint8_t *buf, size_t len);
/* Marks s dead and unlinks it; safe from callbacks. Idempotent. */
void turnd_stream_close(struct turn_stream *s, const char *why);
/* The safe-point half: closes the socket and frees s (after turn_worker_stream_closed()). */
void turnd_stream_destroy(struct turn_stream *s);

/* tls.c: a server context with TLS >= 1.2, AEAD ciphers, no compression or renegotiation.
 * Returns NULL and writes a message naming the key into err. */
SSL_CTX *turnd_tls_new(const char *cert, const char *key, char *err, size_t errlen);

/* metrics.c: serves /metrics, /healthz, /readyz (503 "draining" while draining) and, to loopback
 * clients only, POST /drain on addr in a thread of its own. */
struct turnd_metrics;
int turnd_metrics_start(const union vc_addr *addr, struct turnd_engine *e,
                        struct turnd_metrics **out, char *err, size_t errlen);
void turnd_metrics_stop(struct turnd_metrics *m);
/* Writes the Prometheus text for t into out; returns its length (truncated at outlen - 1). */
size_t turnd_metrics_format(const struct turnd_totals *t, char *out, size_t outlen);

#endif
