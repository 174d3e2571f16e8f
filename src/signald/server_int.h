/* vc-signal's lws I/O layer, shared by server.c (start-up, loop), ws.c (vc.v1) and http.c. */
#ifndef VC_SIGNALD_SERVER_INT_H
#define VC_SIGNALD_SERVER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "vc/hub.h"
#include "vc/sigapi.h"
#include "signald.h"

/* Keepalive: ping a WebSocket silent for 5 s and hang up one silent for 10 s. The server does this
 * itself from its 1 s tick rather than with lws's retry policy: lws 4.1 keeps every connection's
 * validity timer in one sorted list and re-inserts it (a walk of the whole list) on each proof of
 * life, which cost a third of the CPU at 5,000 connections. */
#define SERVER_PING_MS 5000
#define SERVER_HANGUP_MS 10000
/* How long a closing connection may take to drain its queue before lws drops it. */
#define SERVER_CLOSE_DRAIN_SECS 10
/* lws hands received WebSocket data over in chunks of at most this, from a buffer of this size
 * that it allocates for every connection; longer messages are reassembled here. */
#define SERVER_RX_CHUNK 4096
#define SERVER_CSP_MAX 1024

/* One queued outgoing WebSocket text frame, with lws's LWS_PRE headroom before it. */
struct server_frame {
    struct server_frame *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE + len */
};

/* lws's own ceiling for a request's header block: above it lws 4.1 drops the connection without
 * an answer, so it sits well above SERVER_HEADERS_MAX, which vc-signal answers with 431. */
#define SERVER_HEADERS_LWS_MAX (32 * 1024)
#define SERVER_HEADERS_MAX (8 * 1024)
/* Password check workers: one per CPU beyond the event loop's, at least one, at most this. */
#define SERVER_LOGIN_THREADS_MAX 2
/* Password checks queued or running at once; past that a login gets 503. */
#define SERVER_LOGIN_PENDING 64

/* What a connection's deadline is for. */
enum server_phase {
    SERVER_PHASE_NONE,
    SERVER_PHASE_HEADERS, /* from accept, or the previous answer, to the end of the headers */
    SERVER_PHASE_BODY,    /* from the end of the headers to the end of the body */
};

struct server_job;

/* One accepted TCP connection, HTTPS or (after an upgrade) WSS: lws's opaque user data on its
 * wsi, allocated when lws adopts the socket and freed at LWS_CALLBACK_WSI_DESTROY. */
struct server_tcp {
    struct lws *wsi;
    struct server_tcp *prev, *next; /* server.timed, while a deadline is armed */
    uint64_t deadline_ms;
    enum server_phase phase;
    uint32_t *ip_count;     /* its IP's counter in server.ipcount */
    struct server_job *job; /* a login being checked for it (logins.c), or NULL */
};

/* The I/O layer's refusals of HTTP requests, by status, for /metrics. */
enum server_refusal {
    SERVER_REFUSED_400, /* framing */
    SERVER_REFUSED_411,
    SERVER_REFUSED_413,
    SERVER_REFUSED_414,
    SERVER_REFUSED_431,
    SERVER_REFUSALS
};

/* The server: one per process, reached from callbacks through lws_context_user(). */
struct server {
    const struct signald_settings *s;
    struct lws_context *ctx;
    struct ev_loop *loop; /* ours (epoll), lent to lws as a foreign loop */
    struct hub *hub;
    lws_sorted_usec_list_t tick;
    struct signald_signals sig;
    SSL_CTX *ssl_ctx; /* the vhost's, borrowed from lws: a reload puts the new cert in it */
    bool shutting_down;
    size_t n_ws;            /* established WebSocket connections */
    struct hub_conn *conns; /* the established ones, for the keepalive walk */
    uint64_t refused_origin, refused_capacity, refused_rate, too_large, out_overflow;
    char csp[SERVER_CSP_MAX];
    struct lws_protocol_vhost_options headers[SIGNALD_NHEADERS];
    struct signald_iplimit iplimit;
    struct cluster *cluster; /* NULL without --redis */
    struct signald_ipcount ipcount;
    struct server_tcp *timed; /* connections with a deadline armed */
    size_t n_tcp;             /* accepted connections open */
    uint64_t refused_per_ip, timeouts[3], http_refused[SERVER_REFUSALS];
    struct workq *logins; /* password checks */
    struct sigapi_stats api_stats;
};

/* One vc.v1 connection: lws's per-session data (zeroed by lws), opaque to the hub. */
struct hub_conn {
    struct lws *wsi;
    struct hub_session *session;
    struct hub_conn *prev, *next; /* server.conns, while established */
    uint64_t last_rx_ms;          /* when the peer last sent anything, a pong included */
    bool ping_due;                /* the next writable callback sends a ping */
    bool pinged;                  /* a ping went out since last_rx_ms */
    bool established;
    bool dead;    /* CLOSED has begun: nothing more is queued */
    bool closing; /* close once the queue has drained */
    int close_code;
    unsigned char close_reason[124];
    size_t close_reason_len;
    bool rx_active, rx_binary;
    uint8_t *rx; /* reassembly buffer, capped at SIGMSG_MAX_FRAME */
    size_t rx_len, rx_cap;
    struct server_frame *head, *tail;
    size_t out_bytes;
    unsigned out_frames;
    /* Cluster (cluster.c). On this node: a client proxied to its room's home (home set). On the
     * home: a client of node remote_node (remote; not an lws connection). */
    struct hub_client_info info; /* what the upgrade request told */
    char *home;
    bool remote;
    char *remote_node;
    uint64_t cluster_id;
    struct hub_conn *link_next;      /* the cluster's table */
    bool watch_linked;               /* a dashboard in the table, for answers from other nodes */
    bool mute;                       /* a relayed action's connection whose answers go nowhere */
    struct hub_clinician *clinician; /* owned: the signed-in clinician, for proxied joins */
};

#define SERVER_PATH_MAX 512

/* One HTTP connection's current transaction: lws's per-session data for the http protocol. */
struct server_http {
    char method[8];
    char path[SERVER_PATH_MAX];
    bool head, close_after, waiting_body, body_too_large;
    bool api;      /* the path is under /api/: errors are JSON */
    uint8_t *body; /* SIGAPI_MAX_BODY bytes, allocated when a body arrives (wiped when freed) */
    size_t body_len;
    char *out; /* the response body being written */
    size_t out_len, out_off;
    struct sigapi_response *deferred; /* an API answer to send on the next writable callback */
};

/* server.c */
struct server *server_of(struct lws *wsi);
uint64_t server_mono_ms(void);
/* Gives the hub the current time before it handles an event. */
void server_clock(struct server *srv);

/* ws.c */
extern const struct hub_io_ops server_hub_ops;
/* Before an upgrade is accepted (on the http protocol): the path, subprotocol and Origin, the
 * connection cap and the per-IP rate. A refusal answers 403 and returns 1. */
int server_confirm_upgrade(struct server *srv, struct lws *wsi);
int server_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len);
void server_keepalive(struct server *srv);

/* http.c */
int server_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
/* The request's headers against the size cap and the framing rules (httpframe.c): 0, or the
 * status to refuse it with (400, 411 or 431). *length and *has_length: its Content-Length. */
int server_http_framing(struct lws *wsi, uint64_t *length, bool *has_length);
/* Sends resp (taken: freed here) as the answer of wsi's transaction. */
int server_http_send_api(struct lws *wsi, struct server_http *h, struct sigapi_response *resp);

/* conns.c: every accepted connection, its IP's count and its deadline. */
/* LWS_CALLBACK_FILTER_NETWORK_CONNECTION: -1 refuses a connection from an IP that has
 * max-conns-per-ip open already (before any TLS work). */
int server_tcp_filter(struct server *srv, const struct lws_filter_network_conn_args *f);
/* LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: tracks wsi, whose headers are now due. -1 when
 * out of memory (lws then closes it). */
int server_tcp_open(struct server *srv, struct lws *wsi);
/* LWS_CALLBACK_WSI_DESTROY: forgets wsi; a login still being checked for it is orphaned. */
void server_tcp_destroy(struct server *srv, struct lws *wsi);
/* The tracking of wsi, or NULL (not an accepted connection). */
struct server_tcp *server_tcp_of(struct lws *wsi);
/* Arms wsi's deadline for phase, ms from now, or disarms it (SERVER_PHASE_NONE). */
void server_tcp_deadline(struct server *srv, struct lws *wsi, enum server_phase phase, uint64_t ms);
/* From the 1 s tick: closes the connections past their deadline. */
void server_tcp_expire(struct server *srv);

/* logins.c: password checks on the worker pool, answered from the service thread. */
int server_logins_start(struct server *srv);
/* Hands login (taken) to the pool for wsi's transaction; on a full pool answers 503 at once.
 * Returns the callback's value. */
int server_login_submit(struct server *srv, struct lws *wsi, struct server_http *h,
                        struct sigapi_login *login);
/* Between events on the service thread: finishes the checks done, queuing their answers. */
void server_logins_done(struct server *srv);
/* At shutdown, before lws goes: joins the pool; the checks left are counted, answered to nobody. */
void server_logins_stop(struct server *srv);
/* The connection of job has gone: its check still finishes (and counts) but answers nobody. */
void server_job_orphan(struct server_job *job);

#endif
