/* vc-signal's vc.v1 WebSocket connections: Origin checks, framing, output queues, keepalive. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vc/hub.h"
#include "vc/sigapi.h"
#include "vc/log.h"
#include "vc/sigmsg.h"
#include "vc/useragent.h"
#include "cluster.h"
#include "server_int.h"

#define SERVER_UA_MAX 512

/* ---- WebSocket output queue and the hub's ops ---- */

static int server_ws_send(void *ctx, struct hub_conn *c, const char *buf, size_t len)
{
    struct server *srv = ctx;
    struct server_frame *f;

    if (c->remote)
        return cluster_remote_send(srv->cluster, c, buf, len);
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
    struct server *srv = ctx;

    if (c->remote)
        return cluster_remote_close(srv->cluster, c, code, reason);
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

const struct hub_io_ops server_hub_ops = {
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
    free(c->clinician);
    c->clinician = NULL;
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

/* Before an upgrade is accepted (on the http protocol): the framing and size of the request,
 * then the path, subprotocol and Origin, the connection cap and the per-IP rate. A refusal of
 * the first kind answers and hangs up (-1: what follows the request must not be read as
 * another); of the second, answers 403 and returns 1 (the connection may carry on). */
int server_confirm_upgrade(struct server *srv, struct lws *wsi)
{
    uint64_t length;
    bool has_length;
    int status = server_http_framing(wsi, &length, &has_length);
    char ip[64];

    if (status == 0 && length > 0)
        status = 400; /* an upgrade has no body: what follows is the WebSocket's */
    if (status) {
        srv->http_refused[status == 431   ? SERVER_REFUSED_431
                          : status == 411 ? SERVER_REFUSED_411
                                          : SERVER_REFUSED_400]++;
        lws_return_http_status(wsi, (unsigned)status, NULL);
        return -1;
    }
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
    server_tcp_deadline(srv, wsi, SERVER_PHASE_NONE, 0);
    return 0;
refuse:
    /* The connection stays for another request, whose headers are due in the usual time. */
    server_tcp_deadline(srv, wsi, SERVER_PHASE_HEADERS, srv->s->http_header_timeout * 1000ull);
    lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "forbidden");
    return 1;
}

/* The vc.v1 protocol's own check, in case an upgrade reached it some other way. Refusing here
 * makes lws hang up. */
static int server_ws_filter(struct server *srv, struct lws *wsi)
{
    return server_upgrade_ok(srv, wsi) ? 0 : -1;
}

/* A dashboard's socket carries the clinician's session cookie (same origin, checked above): the
 * session then belongs to that clinician. Without a valid one it stays anonymous. */
static int server_ws_clinician(struct server *srv, struct lws *wsi, struct hub_conn *c)
{
    char cookie[4096];
    struct hub_clinician who;
    struct timespec now;
    int rc = 0;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE) <= 0 ||
        lws_hdr_copy(wsi, cookie, sizeof(cookie), WSI_TOKEN_HTTP_COOKIE) < 0)
        return 0;
    clock_gettime(CLOCK_REALTIME, &now);
    if (sigapi_clinician_of_cookie(srv->s->api, cookie, c->info.ip, now.tv_sec, &who) == 0) {
        c->clinician = malloc(sizeof(*c->clinician)); /* a proxied join carries it on */
        if (c->clinician)
            *c->clinician = who;
        rc = !c->clinician || hub_session_set_clinician(srv->hub, c->session, &who) < 0 ? -1 : 0;
    }
    explicit_bzero(cookie, sizeof(cookie));
    return rc;
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
    c->info = info;
    c->session = hub_session_open(srv->hub, c, &info);
    if (!c->session) {
        log_msg(LOG_LEVEL_ERROR, "ws: %s: cannot open a session (out of memory)", info.ip);
        return -1;
    }
    return server_ws_clinician(srv, wsi, c);
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
        if (!srv->cluster || !cluster_client_frame(srv->cluster, c, msg, msg_len))
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
    if (srv->cluster)
        cluster_client_closed(srv->cluster, c);
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

int server_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
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

/* Once a second: ping each connection silent for SERVER_PING_MS, and hang up (without a close
 * handshake, as on a dead network) each one silent for SERVER_HANGUP_MS. lws closes those after
 * this walk, so the list is not changed under it. */
void server_keepalive(struct server *srv)
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
