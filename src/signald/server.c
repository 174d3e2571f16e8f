/* vc-signal's I/O layer: the one file using libwebsockets (HTTPS routing, the vc.v1 WebSocket). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "vc/hub.h"
#include "vc/log.h"
#include "vc/sigapi.h"
#include "vc/sigmsg.h"
#include "vc/useragent.h"
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
/* HTTP bodies go out in writes of at most this. */
#define SERVER_HTTP_CHUNK 16384
#define SERVER_METRICS_MAX 8192
#define SERVER_PATH_MAX 512
#define SERVER_UA_MAX 512
#define SERVER_CSP_MAX 1024

/* One queued outgoing WebSocket text frame, with lws's LWS_PRE headroom before it. */
struct server_frame {
    struct server_frame *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE + len */
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
};

/* One HTTP connection's current transaction: lws's per-session data for the http protocol. */
struct server_http {
    char method[8];
    char path[SERVER_PATH_MAX];
    bool head, close_after, waiting_body, body_too_large;
    uint8_t *body; /* SIGAPI_MAX_BODY bytes, allocated when a body arrives */
    size_t body_len;
    char *out; /* the response body being written */
    size_t out_len, out_off;
};

static struct server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static uint64_t server_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Gives the hub the current time before it handles an event. */
static void server_clock(struct server *srv)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    hub_set_clock(srv->hub, server_mono_ms(),
                  (int64_t)ts.tv_sec * 1000 + (int64_t)ts.tv_nsec / 1000000);
}

/* ---- WebSocket output queue and the hub's ops ---- */

static int server_ws_send(void *ctx, struct hub_conn *c, const char *buf, size_t len)
{
    struct server *srv = ctx;
    struct server_frame *f;

    /* A connection on its way out takes no more frames; dropping them is not an error. */
    if (c->dead || c->closing || srv->shutting_down)
        return 0;
    if (c->out_frames >= SIGNALD_OUT_MAX_FRAMES || c->out_bytes + len > SIGNALD_OUT_MAX_BYTES) {
        srv->out_overflow++;
        return -ENOBUFS;
    }
    f = malloc(sizeof(*f) + LWS_PRE + len);
    if (!f)
        return -ENOBUFS;
    f->next = NULL;
    f->len = len;
    memcpy(f->data + LWS_PRE, buf, len);
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    c->out_bytes += len;
    c->out_frames++;
    lws_callback_on_writable(c->wsi);
    return 0;
}

static void server_ws_close(void *ctx, struct hub_conn *c, int code, const char *reason)
{
    size_t len = reason ? strlen(reason) : 0;

    (void)ctx;
    if (c->dead || c->closing)
        return;
    c->closing = true;
    c->close_code = code;
    if (len > sizeof(c->close_reason))
        len = sizeof(c->close_reason);
    memcpy(c->close_reason, reason, len);
    c->close_reason_len = len;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, SERVER_CLOSE_DRAIN_SECS);
    lws_callback_on_writable(c->wsi);
}

static const struct hub_io_ops server_hub_ops = {
    .send = server_ws_send,
    .close = server_ws_close,
};

/* Queues an error frame the I/O layer itself decides on (too_large, bad_request). */
static void server_ws_error(struct server *srv, struct hub_conn *c, const char *code,
                            const char *message)
{
    struct sigmsg_buf b;

    sigmsg_buf_init(&b, 1024);
    if (sigmsg_encode_error(&b, code, message) == 0)
        server_ws_send(srv, c, b.data, b.len);
    sigmsg_buf_free(&b);
}

static void server_ws_free(struct hub_conn *c)
{
    while (c->head) {
        struct server_frame *f = c->head;

        c->head = f->next;
        free(f);
    }
    c->tail = NULL;
    c->out_bytes = 0;
    c->out_frames = 0;
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
}

/* ---- WebSocket callbacks ---- */

static bool server_origin_allowed(const struct signald_settings *s, struct lws *wsi)
{
    char origin[SIGNALD_ORIGIN_MAX];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);

    if (n <= 0 || n >= (int)sizeof(origin) ||
        lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) != n)
        return false;
    for (unsigned i = 0; i < s->n_origins; i++)
        if (strcmp(origin, s->origins[i]) == 0)
            return true;
    return false;
}

/* True if the Sec-WebSocket-Protocol list (comma-separated) offers vc.v1. */
static bool server_offers_vc(struct lws *wsi)
{
    char list[256];
    const char *p = list;
    int n = lws_hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL);

    if (n <= 0)
        return false;
    while (*p) {
        size_t len;

        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len == 5 && memcmp(p, "vc.v1", 5) == 0)
            return true;
        p += len;
    }
    return false;
}

/* The checks that both upgrade hooks make: the path, the subprotocol and the Origin. */
static bool server_upgrade_ok(struct server *srv, struct lws *wsi)
{
    char uri[8];

    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) != 3 || strcmp(uri, "/ws") != 0)
        return false;
    if (!server_offers_vc(wsi))
        return false;
    return server_origin_allowed(srv->s, wsi);
}

/* Before an upgrade is accepted (on the http protocol): the path, subprotocol and Origin, the
 * connection cap and the per-IP rate. A refusal answers 403 and returns 1. */
static int server_confirm_upgrade(struct server *srv, struct lws *wsi)
{
    char ip[64];

    if (!server_upgrade_ok(srv, wsi)) {
        srv->refused_origin++;
        goto refuse;
    }
    if (srv->n_ws >= srv->s->max_connections) {
        srv->refused_capacity++;
        if (log_enabled(LOG_LEVEL_DEBUG))
            log_msg(LOG_LEVEL_DEBUG, "ws: refused: %zu connections", srv->n_ws);
        goto refuse;
    }
    lws_get_peer_simple(wsi, ip, sizeof(ip));
    if (!signald_iplimit_take(&srv->iplimit, ip, strlen(ip), server_mono_ms())) {
        srv->refused_rate++;
        if (log_enabled(LOG_LEVEL_DEBUG))
            log_msg(LOG_LEVEL_DEBUG, "ws: refused %s: new-connection rate", ip);
        goto refuse;
    }
    return 0;
refuse:
    lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "forbidden");
    return 1;
}

/* The vc.v1 protocol's own check, in case an upgrade reached it some other way. Refusing here
 * makes lws hang up. */
static int server_ws_filter(struct server *srv, struct lws *wsi)
{
    return server_upgrade_ok(srv, wsi) ? 0 : -1;
}

static int server_ws_established(struct server *srv, struct lws *wsi, struct hub_conn *c)
{
    struct hub_client_info info;
    char ua[SERVER_UA_MAX];
    int n;

    memset(&info, 0, sizeof(info));
    c->wsi = wsi;
    c->established = true;
    c->last_rx_ms = server_mono_ms();
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_ws++;
    lws_get_peer_simple(wsi, info.ip, sizeof(info.ip));
    n = lws_hdr_copy(wsi, ua, sizeof(ua), WSI_TOKEN_HTTP_USER_AGENT);
    if (n < 0)
        n = 0;
    useragent_parse(ua, (size_t)n, info.browser, sizeof(info.browser), info.browser_version,
                    sizeof(info.browser_version), info.os, sizeof(info.os));
    server_clock(srv);
    c->session = hub_session_open(srv->hub, c, &info);
    if (!c->session) {
        log_msg(LOG_LEVEL_ERROR, "ws: %s: cannot open a session (out of memory)", info.ip);
        return -1;
    }
    return 0;
}

/* Starts the 1009 close for a message over SIGMSG_MAX_FRAME: error first, then the close. */
static void server_ws_too_large(struct server *srv, struct hub_conn *c)
{
    srv->too_large++;
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    server_ws_error(srv, c, "too_large", "message over 65536 bytes");
    server_ws_close(srv, c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "too large");
}

static int server_ws_receive(struct server *srv, struct lws *wsi, struct hub_conn *c,
                             const uint8_t *in, size_t len)
{
    bool final = lws_is_final_fragment(wsi);
    const uint8_t *msg = in;
    size_t msg_len = len;

    c->last_rx_ms = server_mono_ms();
    c->pinged = false;
    if (c->closing || c->dead)
        return 0;
    if (!c->rx_active) {
        c->rx_active = true;
        c->rx_binary = lws_frame_is_binary(wsi);
        c->rx_len = 0;
    }
    if (c->rx_len + len > SIGMSG_MAX_FRAME) {
        server_ws_too_large(srv, c);
        return 0;
    }
    if (!final || c->rx_len > 0) {
        /* A message in several pieces: reassemble, growing the buffer up to the cap. */
        if (c->rx_len + len > c->rx_cap) {
            size_t cap = c->rx_cap ? c->rx_cap : 4096;
            uint8_t *p;

            while (cap < c->rx_len + len)
                cap *= 2;
            if (cap > SIGMSG_MAX_FRAME)
                cap = SIGMSG_MAX_FRAME;
            p = realloc(c->rx, cap);
            if (!p)
                return -1;
            c->rx = p;
            c->rx_cap = cap;
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (!final)
            return 0;
        msg = c->rx;
        msg_len = c->rx_len;
    }
    c->rx_active = false;
    c->rx_len = 0;
    if (c->rx_binary) {
        server_ws_error(srv, c, "bad_request", "binary frames are not accepted");
    } else {
        server_clock(srv);
        hub_session_message(srv->hub, c->session, msg, msg_len);
    }
    /* Keep a small buffer for the next fragmented message; give a large one back. */
    if (c->rx_cap > 4096) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    return 0;
}

/* Writes one queued frame (or a due ping first) per writable callback; closes once drained if
 * asked to. */
static int server_ws_writable(struct lws *wsi, struct hub_conn *c)
{
    struct server_frame *f = c->head;

    if (c->ping_due && !c->closing) {
        /* One byte of payload: lws 4.1 does not report an empty pong to the protocol. */
        unsigned char ping[LWS_PRE + 1];

        ping[LWS_PRE] = 'k';
        c->ping_due = false;
        if (lws_write(wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0)
            return -1;
        if (c->head)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (f) {
        int n = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);

        c->head = f->next;
        if (!c->head)
            c->tail = NULL;
        c->out_bytes -= f->len;
        c->out_frames--;
        free(f);
        if (n < 0)
            return -1;
        if (c->head || c->closing)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->closing) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code, c->close_reason,
                         c->close_reason_len);
        return -1;
    }
    return 0;
}

static void server_ws_closed(struct server *srv, struct hub_conn *c)
{
    c->dead = true;
    if (c->session) {
        server_clock(srv);
        hub_session_closed(srv->hub, c->session);
        c->session = NULL;
    }
    if (c->established) {
        c->established = false;
        if (c->prev)
            c->prev->next = c->next;
        else
            srv->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->prev = c->next = NULL;
        srv->n_ws--;
    }
    server_ws_free(c);
}

static int server_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct server *srv = server_of(wsi);
    struct hub_conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return server_ws_filter(srv, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return server_ws_established(srv, wsi, c);
    case LWS_CALLBACK_RECEIVE:
        return server_ws_receive(srv, wsi, c, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        c->last_rx_ms = server_mono_ms();
        c->pinged = false;
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return server_ws_writable(wsi, c);
    case LWS_CALLBACK_CLOSED:
        server_ws_closed(srv, c);
        return 0;
    default:
        return 0;
    }
}

/* ---- HTTP ---- */

static void server_http_reset(struct server_http *h)
{
    free(h->body);
    free(h->out);
    memset(h, 0, sizeof(*h));
}

/* The transaction is over: keep the connection for the next request, or close it. */
static int server_http_done(struct lws *wsi, struct server_http *h)
{
    bool close_after = h->close_after;

    server_http_reset(h);
    if (close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Sends the status line and headers now and the body on writable callbacks. Takes body (may be
 * NULL). The vhost adds the security headers to every response. Returns the callback's value. */
static int server_http_respond(struct lws *wsi, struct server_http *h, unsigned status,
                               const char *ctype, char *body, size_t len, const char *cache,
                               const char *set_cookie)
{
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);

    if (lws_add_http_header_status(wsi, status, &p, end) ||
        (ctype &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                      (const unsigned char *)ctype, (int)strlen(ctype), &p, end)) ||
        (status != 204 && lws_add_http_header_content_length(wsi, len, &p, end)) ||
        (cache &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                      (const unsigned char *)cache, (int)strlen(cache), &p, end)) ||
        (set_cookie && set_cookie[0] &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SET_COOKIE,
                                      (const unsigned char *)set_cookie, (int)strlen(set_cookie),
                                      &p, end)) ||
        (h->close_after &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                      &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end)) {
        free(body);
        return -1;
    }
    if (h->head || len == 0 || status == 204) {
        free(body);
        return server_http_done(wsi, h);
    }
    free(h->out);
    h->out = body;
    h->out_len = len;
    h->out_off = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

/* A short text/plain answer. */
static int server_http_text(struct lws *wsi, struct server_http *h, unsigned status,
                            const char *text)
{
    char *body = strdup(text);

    if (!body)
        return -1;
    return server_http_respond(wsi, h, status, "text/plain; charset=utf-8", body, strlen(text),
                               "no-store", NULL);
}

static int server_http_writable(struct lws *wsi, struct server_http *h)
{
    unsigned char buf[LWS_PRE + SERVER_HTTP_CHUNK];
    size_t n = h->out_len - h->out_off;
    bool last;

    if (!h->out)
        return 0;
    if (n > SERVER_HTTP_CHUNK)
        n = SERVER_HTTP_CHUNK;
    last = h->out_off + n == h->out_len;
    memcpy(buf + LWS_PRE, h->out + h->out_off, n);
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    h->out_off += n;
    if (last)
        return server_http_done(wsi, h);
    lws_callback_on_writable(wsi);
    return 0;
}

/* Copies header h into buf; NULL when absent or longer than buf. */
static const char *server_hdr(struct lws *wsi, enum lws_token_indexes tok, char *buf, int len)
{
    return lws_hdr_total_length(wsi, tok) > 0 && lws_hdr_copy(wsi, buf, len, tok) >= 0 ? buf : NULL;
}

static int server_http_api(struct server *srv, struct lws *wsi, struct server_http *h)
{
    char auth[1024], cookie[4096], csrf[128], ctype[128], ip[64];
    struct sigapi_request rq;
    struct sigapi_response resp;
    struct timespec ts;
    int n;

    memset(&rq, 0, sizeof(rq));
    memset(&resp, 0, sizeof(resp));
    lws_get_peer_simple(wsi, ip, sizeof(ip));
    clock_gettime(CLOCK_REALTIME, &ts);
    rq.method = h->method;
    rq.path = h->path;
    rq.authorization = server_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth));
    rq.cookie = server_hdr(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie));
    rq.content_type = server_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ctype, sizeof(ctype));
    n = lws_hdr_custom_length(wsi, "x-csrf-token:", 13);
    if (n > 0 && n < (int)sizeof(csrf) &&
        lws_hdr_custom_copy(wsi, csrf, sizeof(csrf), "x-csrf-token:", 13) >= 0)
        rq.csrf = csrf;
    rq.body = h->body;
    rq.body_len = h->body_len;
    rq.ip = ip;
    rq.now_s = ts.tv_sec;
    sigmsg_buf_init(&resp.body, SIGAPI_MAX_BODY * 8);
    server_clock(srv);
    sigapi_handle(srv->s->api, &rq, &resp);
    explicit_bzero(auth, sizeof(auth));
    explicit_bzero(cookie, sizeof(cookie));
    explicit_bzero(csrf, sizeof(csrf));
    /* The response takes a copy: sigmsg_buf's memory is the API module's to free. */
    char *body = NULL;
    size_t len = resp.body.len;

    if (len > 0) {
        body = malloc(len);
        if (!body) {
            sigmsg_buf_free(&resp.body);
            return -1;
        }
        memcpy(body, resp.body.data, len);
    }
    sigmsg_buf_free(&resp.body);
    n = server_http_respond(wsi, h, (unsigned)(resp.status ? resp.status : 500),
                            len ? "application/json" : NULL, body, len, "no-store",
                            resp.set_cookie);
    explicit_bzero(resp.set_cookie, sizeof(resp.set_cookie));
    return n;
}

static int server_http_metrics(struct server *srv, struct lws *wsi, struct server_http *h)
{
    const struct signald_io_counts io = {
        srv->n_ws,      srv->refused_origin, srv->refused_capacity, srv->refused_rate,
        srv->too_large, srv->out_overflow,   hub_draining(srv->hub)};
    char ip[64], *body;

    lws_get_peer_simple(wsi, ip, sizeof(ip));
    if (!cidr_match(srv->s->metrics_allow, srv->s->n_metrics_allow, ip))
        return server_http_text(wsi, h, 403, "forbidden\n");
    body = malloc(SERVER_METRICS_MAX);
    if (!body)
        return server_http_text(wsi, h, 503, "busy\n");
    size_t len = signald_metrics_format(hub_get_stats(srv->hub), hub_room_count(srv->hub), &io,
                                        body, SERVER_METRICS_MAX);
    return server_http_respond(wsi, h, 200, "text/plain; version=0.0.4; charset=utf-8", body, len,
                               "no-store", NULL);
}

static int server_http_static(struct server *srv, struct lws *wsi, struct server_http *h)
{
    const char *mime = NULL;
    char *body = NULL;
    size_t len = 0;
    int r = signald_static_load(srv->s->web_root, h->path, &body, &len, &mime);

    if (r == -ENOENT)
        return server_http_text(wsi, h, 404, "not found\n");
    if (r < 0) {
        log_msg(LOG_LEVEL_WARN, "http: %s: %s", h->path, strerror(-r));
        return server_http_text(wsi, h, r == -EFBIG ? 500 : 503, "cannot serve this file\n");
    }
    return server_http_respond(wsi, h, 200, mime, body, len, "no-cache", NULL);
}

/* Which method the request line carried; lws keeps the URI under a per-method token. */
static const char *server_http_method(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } methods[] = {
        {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_HEAD_URI, "HEAD"},       {WSI_TOKEN_DELETE_URI, "DELETE"},
        {WSI_TOKEN_PUT_URI, "PUT"},         {WSI_TOKEN_PATCH_URI, "PATCH"},
        {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    };

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
            return methods[i].name;
    return NULL;
}

static int server_http_request(struct server *srv, struct lws *wsi, struct server_http *h,
                               const char *in, size_t len)
{
    const char *method = server_http_method(wsi);
    char cl[24];

    server_http_reset(h);
    if (!method || len == 0 || len >= sizeof(h->path)) {
        h->close_after = true;
        return server_http_text(wsi, h, len >= sizeof(h->path) ? 414 : 400, "bad request\n");
    }
    snprintf(h->method, sizeof(h->method), "%s", method);
    memcpy(h->path, in, len);
    h->path[len] = '\0';
    h->head = strcmp(method, "HEAD") == 0;
    if (sigapi_handles(h->path)) {
        if (server_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl))) {
            unsigned long long n = strtoull(cl, NULL, 10);

            if (n > SIGAPI_MAX_BODY) {
                h->close_after = true;
                return server_http_text(wsi, h, 413, "request body too large\n");
            }
            if (n > 0) {
                h->waiting_body = true;
                return 0;
            }
        } else if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
            /* lws 4.1 does not decode chunked request bodies: ask for a Content-Length. */
            h->close_after = true;
            return server_http_text(wsi, h, 411, "length required\n");
        }
        return server_http_api(srv, wsi, h);
    }
    if (strcmp(method, "GET") != 0 && !h->head)
        return server_http_text(wsi, h, 405, "method not allowed\n");
    if (strcmp(h->path, "/healthz") == 0)
        return server_http_text(wsi, h, 200, "ok\n");
    if (strcmp(h->path, "/readyz") == 0)
        return hub_draining(srv->hub) ? server_http_text(wsi, h, 503, "draining\n")
                                      : server_http_text(wsi, h, 200, "ready\n");
    if (strcmp(h->path, "/metrics") == 0)
        return server_http_metrics(srv, wsi, h);
    return server_http_static(srv, wsi, h);
}

static int server_http_body(struct server_http *h, const void *in, size_t len)
{
    if (!h->waiting_body || h->body_too_large)
        return 0;
    if (h->body_len + len > SIGAPI_MAX_BODY) {
        h->body_too_large = true;
        return 0;
    }
    if (!h->body) {
        h->body = malloc(SIGAPI_MAX_BODY);
        if (!h->body)
            return -1;
    }
    memcpy(h->body + h->body_len, in, len);
    h->body_len += len;
    return 0;
}

static int server_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct server *srv = server_of(wsi);
    struct server_http *h = user;

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* user is the vhost's SSL_CTX: TLS 1.2 is the floor, whatever the library default. */
        if (user && !SSL_CTX_set_min_proto_version((SSL_CTX *)user, TLS1_2_VERSION))
            return -1;
        /* OpenSSL then frees a connection's 16+ KiB read and write buffers whenever they are
         * empty, which for signalling is nearly always: the largest cut per idle connection. */
        if (user)
            SSL_CTX_set_mode((SSL_CTX *)user, SSL_MODE_RELEASE_BUFFERS);
        if (srv)
            srv->ssl_ctx = user;
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return server_confirm_upgrade(srv, wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* an upgrade without the vc.v1 subprotocol */
    case LWS_CALLBACK_HTTP:
        return server_http_request(srv, wsi, h, in, len);
    case LWS_CALLBACK_HTTP_BODY:
        return server_http_body(h, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!h->waiting_body)
            return 0;
        h->waiting_body = false;
        if (h->body_too_large) {
            h->close_after = true;
            return server_http_text(wsi, h, 413, "request body too large\n");
        }
        return server_http_api(srv, wsi, h);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return server_http_writable(wsi, h);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (h)
            server_http_reset(h);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- Start-up, the loop and shutdown ---- */

/* Once a second: ping each connection silent for SERVER_PING_MS, and hang up (without a close
 * handshake, as on a dead network) each one silent for SERVER_HANGUP_MS. lws closes those after
 * this walk, so the list is not changed under it. */
static void server_keepalive(struct server *srv)
{
    uint64_t now = server_mono_ms();

    for (struct hub_conn *c = srv->conns; c; c = c->next) {
        uint64_t idle = now - c->last_rx_ms;

        if (c->closing || c->dead || idle < SERVER_PING_MS)
            continue;
        if (idle >= SERVER_HANGUP_MS) {
            c->closing = true;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        } else if (!c->pinged) {
            c->pinged = true;
            c->ping_due = true;
            lws_callback_on_writable(c->wsi);
        }
    }
}

static void server_tick(lws_sorted_usec_list_t *sul)
{
    struct server *srv = lws_container_of(sul, struct server, tick);

    server_clock(srv);
    hub_tick(srv->hub);
    server_keepalive(srv);
    lws_sul_schedule(srv->ctx, 0, &srv->tick, server_tick, LWS_US_PER_SEC);
}

static void server_lws_log(int level, const char *line)
{
    size_t len = strcspn(line, "\n");

    log_msg(level == LLL_ERR ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "lws: %.*s", (int)len, line);
}

static void server_wake(void *arg)
{
    lws_cancel_service(((struct server *)arg)->ctx);
}

/* SIGHUP, on the service thread: the new configuration, then the certificate for new
 * handshakes (an SSL object copies the context's certificate when it is created, so open
 * connections keep theirs), then the per-IP limit. Nothing is dropped; a refusal keeps all. */
static void server_reload(struct server *srv)
{
    const struct signald_settings *s = srv->s;
    char err[512] = "";

    if (!s->reload) {
        log_msg(LOG_LEVEL_WARN, "SIGHUP: reload is not available; ignored");
        return;
    }
    if (s->reload(s->reload_state, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "SIGHUP: reload refused, the running configuration stays: %s",
                err);
        return;
    }
    /* signald_tls_check() passed in the hook, so this only fails on a race with the files. */
    if (srv->ssl_ctx && signald_tls_load(srv->ssl_ctx, s->cert, s->key, err, sizeof(err)) < 0)
        log_msg(LOG_LEVEL_ERROR, "SIGHUP: %s (new connections may fail until fixed)", err);
    srv->iplimit.burst = s->max_conns_per_ip_per_min;
    srv->iplimit.per_ms = s->max_conns_per_ip_per_min / 60000.0;
    log_msg(LOG_LEVEL_INFO, "SIGHUP: configuration reloaded");
}

/* SIGUSR1, on the service thread: no new rooms, /readyz fails; everything else carries on. */
static void server_drain(struct server *srv)
{
    if (hub_draining(srv->hub))
        return;
    hub_set_draining(srv->hub, true);
    log_msg(LOG_LEVEL_INFO, "SIGUSR1: draining (%zu rooms, %zu connections carry on)",
            hub_room_count(srv->hub), srv->n_ws);
}

static void server_headers(struct server *srv)
{
    const char *names[SIGNALD_NHEADERS], *values[SIGNALD_NHEADERS];

    signald_security_headers(srv->s, srv->csp, sizeof(srv->csp), names, values);
    for (int i = 0; i < SIGNALD_NHEADERS; i++) {
        srv->headers[i].next = i + 1 < SIGNALD_NHEADERS ? &srv->headers[i + 1] : NULL;
        srv->headers[i].name = names[i];
        srv->headers[i].value = values[i];
    }
}

/* No lws validity timers (a zero hangup turns them off): server_keepalive() does their work. */
static const lws_retry_bo_t server_retry = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

static int server_start(struct server *srv, char *err, size_t errlen)
{
    static const struct lws_protocols protocols[] = {
        {"http", server_http_cb, sizeof(struct server_http), 0, 0, NULL, 0},
        {"vc.v1", server_ws_cb, sizeof(struct hub_conn), SERVER_RX_CHUNK, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    const struct signald_settings *s = srv->s;
    struct lws_context_creation_info info;

    server_headers(srv);
    /* lws's own poll() loop walks every descriptor each turn (70% of the CPU at 5,000
     * connections), so lws runs on our epoll loop through its libev plugin instead. */
    if (!(srv->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV))) {
        snprintf(err, errlen, "cannot create the epoll event loop (ev_loop_new)");
        return -ENOMEM;
    }
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = (void *[]){srv->loop};
    info.port = s->port;
    info.iface = s->iface[0] ? s->iface : NULL;
    info.protocols = protocols;
    info.ssl_cert_filepath = s->cert;
    info.ssl_private_key_filepath = s->key;
    /* TLS 1.2 with ECDHE and AEAD ciphers only; TLS 1.3 keeps OpenSSL's (all AEAD) suites. */
    info.ssl_cipher_list = "ECDHE+AESGCM:ECDHE+CHACHA20";
    info.ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                           SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
    /* HTTP/1.1 only: the WebSocket upgrade and the simple response path assume it. */
    info.alpn = "http/1.1";
    info.headers = srv->headers;
    info.retry_and_idle_policy = &server_retry;
    info.server_string = "vc-signal";
    info.max_http_header_data = 8192;
    info.user = srv;
    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        ev_loop_destroy(srv->loop);
        snprintf(err, errlen, "listen: cannot serve https on %s:%d (%s)",
                 s->iface[0] ? s->iface : "*", s->port,
                 "address in use, a bad cert/key, or lws's libev plugin missing?");
        return -EADDRINUSE;
    }
    return 0;
}

int signald_server_run(const struct signald_settings *s, char *err, size_t errlen)
{
    struct server *srv = calloc(1, sizeof(*srv));
    int r;

    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    srv->s = s;
    if ((r = signald_iplimit_init(&srv->iplimit, s->max_conns_per_ip_per_min)) < 0) {
        snprintf(err, errlen, "getrandom: %s", strerror(-r));
        free(srv);
        return r;
    }
    srv->hub = hub_new(s->hub_settings, &server_hub_ops, srv);
    if (!srv->hub) {
        snprintf(err, errlen, "cannot create the hub (out of memory)");
        free(srv);
        return -ENOMEM;
    }
    s->api->hub = srv->hub;
    lws_set_log_level(log_enabled(LOG_LEVEL_DEBUG) ? LLL_ERR | LLL_WARN : LLL_ERR, server_lws_log);
    if ((r = server_start(srv, err, errlen)) < 0) {
        hub_free(srv->hub);
        free(srv);
        return r;
    }
    if ((r = signald_signals_start(&srv->sig, server_wake, srv)) < 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(-r));
        lws_context_destroy(srv->ctx);
        ev_loop_destroy(srv->loop);
        hub_free(srv->hub);
        free(srv);
        return r;
    }
    server_clock(srv);
    lws_sul_schedule(srv->ctx, 0, &srv->tick, server_tick, LWS_US_PER_SEC);
    lws_cancel_service(srv->ctx); /* lws 4.1 arms its libev timer (the tick) after I/O only */
    fprintf(stderr, "vc-signal: listening on https://%s:%d (public URL %s)\n",
            s->iface[0] ? s->iface : "*", s->port, s->public_url);
    /* A turn handles what is ready, blocking until something is; lws_cancel_service() from the
     * signal thread is such an event, so the flags are acted on here, between events. */
    while (!atomic_load(&srv->sig.stop)) {
        if (!ev_run(srv->loop, EVRUN_ONCE))
            break;
        if (atomic_exchange(&srv->sig.reload, false))
            server_reload(srv);
        if (atomic_exchange(&srv->sig.drain, false))
            server_drain(srv);
    }
    signald_signals_stop(&srv->sig);
    srv->shutting_down = true;
    lws_sul_cancel(&srv->tick);
    lws_context_destroy(srv->ctx); /* lws has stopped its watchers: the loop is ours again */
    ev_loop_destroy(srv->loop);
    hub_free(srv->hub);
    s->api->hub = NULL;
    free(srv);
    return 0;
}
