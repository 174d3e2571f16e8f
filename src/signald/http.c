/* vc-signal's HTTPS side: REST API, health and readiness, metrics and static pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vc/cidr.h"
#include "vc/hub.h"
#include "vc/log.h"
#include "vc/sigapi.h"
#include "vc/sigmsg.h"
#include "cluster.h"
#include "server_int.h"

/* HTTP bodies go out in writes of at most this. */
#define SERVER_HTTP_CHUNK 16384
#define SERVER_METRICS_MAX 8192

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
    const struct cluster *cl = srv->cluster;
    const struct signald_io_counts io = {
        srv->n_ws,
        hub_watcher_count(srv->hub),
        srv->refused_origin,
        srv->refused_capacity,
        srv->refused_rate,
        srv->too_large,
        srv->out_overflow,
        hub_draining(srv->hub),
        cl != NULL,
        cl && cluster_ready(cl),
        cl ? cl->published : 0,
        cl ? cl->received : 0,
        cl ? cl->proxied_joins : 0,
        cl ? cl->takeovers : 0,
    };
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
               : srv->cluster && !cluster_ready(srv->cluster)
                   ? server_http_text(wsi, h, 503, "redis unreachable\n")
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

int server_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
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
