/* vc-load signal: the WSS client loop over libwebsockets (the one vc-load file that includes it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libwebsockets.h>

#include "signal_load.h"

#define SIGLOAD_WS_WRITES_PER_CB 64

struct sigload_outmsg {
    struct sigload_outmsg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the message */
};

struct sigload_ws_conn {
    struct sigload_ws *ws;
    struct lws *wsi;
    void *user;
    struct sigload_ws_conn *prev, *next; /* live list, or dead list (next only) */
    struct sigload_outmsg *head, *tail;
    size_t queued;
    uint8_t *rx;
    size_t rx_len;
    char why[160];
    unsigned open : 1;
    unsigned closing : 1;
    unsigned dead : 1;
    unsigned sync_connect : 1;
    unsigned sync_failed : 1;
};

struct sigload_ws {
    struct lws_context *ctx;
    struct sigload_ws_config cfg;
    struct ev_loop *loop; /* epoll: lws's own poll() loop scans every descriptor each turn */
    ev_timer tick;
    struct sigload_ws_conn *live;
    struct sigload_ws_conn *dead; /* freed at the safe point after lws_service */
};

static void sigload_ws_conn_free(struct sigload_ws_conn *c)
{
    struct sigload_outmsg *m = c->head;

    while (m != NULL) {
        struct sigload_outmsg *n = m->next;
        free(m);
        m = n;
    }
    free(c->rx);
    free(c);
}

static void sigload_ws_unlink(struct sigload_ws_conn *c)
{
    struct sigload_ws *ws = c->ws;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else if (ws->live == c) {
        ws->live = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
}

/* The connection is over: tell the owner once, then park it for freeing at a safe point. */
static void sigload_ws_finish(struct sigload_ws_conn *c, int failed_connect, const char *why)
{
    if (c->dead) {
        return;
    }
    c->dead = 1;
    c->wsi = NULL;
    if (c->why[0] == '\0') {
        snprintf(c->why, sizeof(c->why), "%s", why);
    }
    if (c->sync_connect) {
        c->sync_failed = 1; /* sigload_ws_connect reports it and frees c */
        return;
    }
    sigload_ws_unlink(c);
    c->ws->cfg.ops->close_cb(c, c->user, failed_connect, c->why);
    c->next = c->ws->dead;
    c->ws->dead = c;
}

static int sigload_ws_rx(struct sigload_ws_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->rx == NULL) {
        c->rx = malloc(SIGLOAD_WS_MSG_MAX);
        if (c->rx == NULL) {
            return -1;
        }
    }
    if (len > SIGLOAD_WS_MSG_MAX - c->rx_len) {
        snprintf(c->why, sizeof(c->why), "incoming message over %d bytes", SIGLOAD_WS_MSG_MAX);
        return -1;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!lws_is_final_fragment(wsi)) {
        return 0;
    }
    len = c->rx_len;
    c->rx_len = 0;
    c->ws->cfg.ops->message_cb(c, c->user, c->rx, len);
    return 0;
}

/* Writes queued messages until lws has to buffer one (it keeps what the socket did not take). */
static int sigload_ws_writeable(struct sigload_ws_conn *c, struct lws *wsi)
{
    if (c->closing) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    for (int i = 0; i < SIGLOAD_WS_WRITES_PER_CB && c->head != NULL; i++) {
        struct sigload_outmsg *m = c->head;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        if (n < (int)m->len) {
            snprintf(c->why, sizeof(c->why), "write failed");
            return -1;
        }
        c->head = m->next;
        if (c->head == NULL) {
            c->tail = NULL;
        }
        c->queued -= m->len;
        free(m);
        if (lws_partial_buffered(wsi)) {
            break;
        }
    }
    if (c->head != NULL) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

static int sigload_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                               void *in, size_t len)
{
    struct sigload_ws_conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c == NULL) {
            return -1;
        }
        c->open = 1;
        c->ws->cfg.ops->open_cb(c, c->user);
        if (c->head != NULL || c->closing) {
            lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return c == NULL ? -1 : sigload_ws_rx(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return c == NULL ? -1 : sigload_ws_writeable(c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c != NULL && len >= 2) {
            const unsigned char *b = in;
            snprintf(c->why, sizeof(c->why), "server closed with %u%s%.*s", b[0] << 8 | b[1],
                     len > 2 ? " " : "", (int)(len > 100 ? 98 : len - 2), (const char *)b + 2);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c != NULL) {
            unsigned status = lws_http_client_http_response(wsi);
            if (status != 0 && status != 101) {
                snprintf(c->why, sizeof(c->why), "upgrade refused with HTTP %u (%s)", status,
                         in != NULL ? (const char *)in : "");
            }
            sigload_ws_finish(c, 1, in != NULL ? (const char *)in : "connection failed");
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c != NULL) {
            sigload_ws_finish(c, 0, "connection closed");
        }
        return 0;
    default:
        return 0;
    }
}

/* No lws validity timers (a zero hangup turns them off): each proof of life re-inserted the
 * connection's timer into lws 4.1's one sorted list, a walk over every connection (28% of the
 * loader's CPU at 18,000 connections). Servers ping; lws answers those pongs itself. */
static const lws_retry_bo_t sigload_ws_retry = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

static const struct lws_protocols sigload_ws_protocols[] = {
    {"sigload", sigload_ws_callback, 0, SIGLOAD_WS_MSG_MAX, 0, NULL, 0},
    {"vc.v1", sigload_ws_callback, 0, SIGLOAD_WS_MSG_MAX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void sigload_ws_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct sigload_ws *ws = lws_container_of(w, struct sigload_ws, tick);

    (void)loop;
    (void)revents;
    ws->cfg.ops->tick_cb(ws->cfg.loop_user);
}

int sigload_ws_new(const struct sigload_ws_config *cfg, struct sigload_ws **out)
{
    struct lws_context_creation_info info;
    struct sigload_ws *ws = calloc(1, sizeof(*ws));

    if (ws == NULL) {
        return -ENOMEM;
    }
    ws->cfg = *cfg;
    if (!(ws->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV))) {
        free(ws);
        return -ENOMEM;
    }
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = sigload_ws_protocols;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN |
                   LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = (void *[]){ws->loop};
    if (!cfg->insecure) {
        info.client_ssl_ca_filepath = cfg->ca_file;
    }
    /* No fd_limit_per_thread: with it lws 4.1 finds a socket's connection by scanning every
     * slot (wsi_from_fd, 37% of the loader's CPU at 18,000 connections); without it, its table
     * is sized by the descriptor limit (raised in signal_main.c) and indexed by fd. */
    info.retry_and_idle_policy = &sigload_ws_retry;
    info.timeout_secs = 20; /* connect and handshake bound */
    ws->ctx = lws_create_context(&info);
    if (ws->ctx == NULL) {
        ev_loop_destroy(ws->loop);
        free(ws);
        return -EIO;
    }
    ev_timer_init(&ws->tick, sigload_ws_tick, cfg->tick_ms / 1000.0, cfg->tick_ms / 1000.0);
    ev_timer_start(ws->loop, &ws->tick);
    *out = ws;
    return 0;
}

static void sigload_ws_reap(struct sigload_ws *ws)
{
    while (ws->dead != NULL) {
        struct sigload_ws_conn *c = ws->dead;
        ws->dead = c->next;
        sigload_ws_conn_free(c);
    }
}

void sigload_ws_free(struct sigload_ws *ws)
{
    if (ws == NULL) {
        return;
    }
    ev_timer_stop(ws->loop, &ws->tick);
    lws_context_destroy(ws->ctx); /* CLOSED for every open connection */
    while (ws->live != NULL) {    /* any lws did not report: tell the owner anyway */
        struct sigload_ws_conn *c = ws->live;
        sigload_ws_finish(c, !c->open, "shut down");
    }
    sigload_ws_reap(ws);
    ev_loop_destroy(ws->loop); /* lws has stopped its watchers */
    free(ws);
}

int sigload_ws_connect(struct sigload_ws *ws, const char *path, const char *subprotocol,
                       const char *origin, void *user, struct sigload_ws_conn **out)
{
    struct lws_client_connect_info ci;
    struct sigload_ws_conn *c = calloc(1, sizeof(*c));
    struct lws *wsi;

    if (c == NULL) {
        return -ENOMEM;
    }
    c->ws = ws;
    c->user = user;
    memset(&ci, 0, sizeof(ci));
    ci.context = ws->ctx;
    ci.address = ws->cfg.target->addr;
    ci.port = ws->cfg.target->port;
    ci.ssl_connection = LCCSCF_USE_SSL;
    if (ws->cfg.insecure) {
        ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                             LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    ci.path = path;
    ci.host = ws->cfg.target->host_header;
    ci.origin = origin;
    ci.protocol = subprotocol;
    ci.local_protocol_name = "sigload";
    ci.alpn = "http/1.1";
    ci.userdata = c;
    ci.pwsi = &c->wsi;
    ci.retry_and_idle_policy = &sigload_ws_retry;
    c->sync_connect = 1;
    wsi = lws_client_connect_via_info(&ci);
    c->sync_connect = 0;
    if (wsi == NULL || c->sync_failed) {
        sigload_ws_conn_free(c);
        return wsi == NULL ? -ECONNREFUSED : -EIO;
    }
    c->wsi = wsi;
    c->next = ws->live;
    if (ws->live != NULL) {
        ws->live->prev = c;
    }
    ws->live = c;
    if (out != NULL) {
        *out = c;
    }
    return 0;
}

int sigload_ws_send(struct sigload_ws_conn *c, const char *buf, size_t len)
{
    struct sigload_outmsg *m;

    if (c->dead || c->closing || !c->open) {
        return -ENOTCONN;
    }
    if (len > SIGLOAD_WS_OUTQ_MAX - c->queued) {
        return -ENOBUFS;
    }
    m = malloc(sizeof(*m) + LWS_PRE + len);
    if (m == NULL) {
        return -ENOMEM;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, buf, len);
    if (c->tail != NULL) {
        c->tail->next = m;
    } else {
        c->head = m;
    }
    c->tail = m;
    c->queued += len;
    lws_callback_on_writable(c->wsi);
    return 0;
}

void sigload_ws_close(struct sigload_ws_conn *c)
{
    if (c->dead || c->closing) {
        return;
    }
    c->closing = 1;
    if (c->open) {
        lws_callback_on_writable(c->wsi);
    } else {
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    }
}

int sigload_ws_service(struct sigload_ws *ws)
{
    /* One turn: whatever is ready, or the tick, whichever comes first. */
    ev_run(ws->loop, EVRUN_ONCE);
    sigload_ws_reap(ws);
    return 0;
}
