/* vc-signal's HTTPS side: REST API, health and readiness, metrics and static pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vc/cidr.h"
#include "vc/httpframe.h"
#include "vc/hub.h"
#include "vc/log.h"
#include "vc/sigapi.h"
#include "vc/sigmsg.h"
#include "branding.h"
#include "cluster.h"
#include "server_int.h"
#include "webhook.h"

/* The query string an API request may carry, and its parameters. */
#define SERVER_QUERY_MAX 512
#define SERVER_QUERY_ARGS_MAX 16
/* HTTP bodies go out in writes of at most this. */
#define SERVER_HTTP_CHUNK 16384
#define SERVER_METRICS_MAX 12288
/* Content-Length fields looked at, and the bytes of each: past either the request is refused. */
#define SERVER_FIELDS_MAX 4
#define SERVER_FIELD_MAX 64

static void server_http_free_api(struct sigapi_response *resp)
{
    if (!resp)
        return;
    sigmsg_buf_free(&resp->body);
    explicit_bzero(resp->set_cookie, sizeof(resp->set_cookie));
    free(resp);
}

/* An empty API answer (status 500 until set), or NULL. The caller frees it. */
static struct sigapi_response *server_http_new_api(void)
{
    struct sigapi_response *resp = calloc(1, sizeof(*resp));

    if (resp)
        sigmsg_buf_init(&resp->body, SIGAPI_MAX_ANSWER);
    return resp;
}

static void server_http_reset(struct server_http *h)
{
    if (h->body) {
        explicit_bzero(h->body, h->body_len); /* a login's body holds a password */
        free(h->body);
    }
    free(h->out);
    server_http_free_api(h->deferred);
    memset(h, 0, sizeof(*h));
}

/* The transaction is over: keep the connection for the next request, whose headers are due
 * within http-header-timeout, or close it. */
static int server_http_done(struct lws *wsi, struct server_http *h)
{
    struct server *srv = server_of(wsi);
    bool close_after = h->close_after;

    server_http_reset(h);
    if (close_after || lws_http_transaction_completed(wsi))
        return -1;
    server_tcp_deadline(srv, wsi, SERVER_PHASE_HEADERS, srv->s->http_header_timeout * 1000ull);
    return 0;
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

int server_http_send_api(struct lws *wsi, struct server_http *h, struct sigapi_response *resp)
{
    size_t len = resp->body.len;
    char *body = len ? malloc(len) : NULL;
    int n = -1;

    /* The response takes a copy: sigmsg_buf's memory is the API module's to free. */
    if (!len || body) {
        if (len)
            memcpy(body, resp->body.data, len);
        n = server_http_respond(wsi, h, (unsigned)(resp->status ? resp->status : 500),
                                !len                 ? NULL
                                : resp->content_type ? resp->content_type
                                                     : "application/json",
                                body, len, "no-store", resp->set_cookie);
    }
    server_http_free_api(resp);
    return n;
}

/* Refuses the request with status and closes the connection after the answer, so nothing sent
 * after the request runs: the API's JSON error on /api/ paths, message as text elsewhere.
 * Returns the callback's value. */
static int server_api_error(struct lws *wsi, unsigned status, const char *code, const char *message)
{
    static const unsigned statuses[SERVER_REFUSALS] = {400, 411, 413, 414, 431};
    struct server_http *h = lws_wsi_user(wsi);
    struct server *srv = server_of(wsi);
    struct sigapi_response *resp;
    char text[160];

    for (int i = 0; i < SERVER_REFUSALS; i++)
        if (statuses[i] == status)
            srv->http_refused[i]++;
    h->close_after = true;
    if (!h->api) {
        snprintf(text, sizeof(text), "%s\n", message);
        return server_http_text(wsi, h, status, text);
    }
    if (!(resp = server_http_new_api()))
        return -1;
    sigapi_error_response(resp, (int)status, code, message);
    return server_http_send_api(wsi, h, resp);
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

/* The query string as lws split it ("a=1", "b=2": each decoded), joined again with '&' into
 * buf; NULL without one. A query over SERVER_QUERY_MAX bytes or SERVER_QUERY_ARGS_MAX parameters
 * is cut there (the API refuses what it does not know). */
static const char *server_http_query(struct lws *wsi, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int i = 0; i < SERVER_QUERY_ARGS_MAX && off + 1 < len; i++) {
        int n = lws_hdr_copy_fragment(wsi, buf + off + (off > 0), (int)(len - off - (off > 0)),
                                      WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (off > 0)
            buf[off] = '&';
        off += (size_t)n + (off > 0);
    }
    return off ? buf : NULL;
}

static int server_http_api(struct server *srv, struct lws *wsi, struct server_http *h)
{
    char auth[1024], cookie[4096], csrf[128], ctype[128], ip[64], accept[256];
    char query[SERVER_QUERY_MAX];
    struct sigapi_request rq;
    struct sigapi_response *resp = server_http_new_api();
    struct sigapi_login *login;
    struct timespec ts;
    int n;

    if (!resp)
        return -1;
    memset(&rq, 0, sizeof(rq));
    lws_get_peer_simple(wsi, ip, sizeof(ip));
    clock_gettime(CLOCK_REALTIME, &ts);
    rq.method = h->method;
    rq.path = h->path;
    rq.authorization = server_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth));
    rq.cookie = server_hdr(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof(cookie));
    rq.content_type = server_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ctype, sizeof(ctype));
    rq.accept = server_hdr(wsi, WSI_TOKEN_HTTP_ACCEPT, accept, sizeof(accept));
    rq.query = server_http_query(wsi, query, sizeof(query));
    n = lws_hdr_custom_length(wsi, "x-csrf-token:", 13);
    if (n > 0 && n < (int)sizeof(csrf) &&
        lws_hdr_custom_copy(wsi, csrf, sizeof(csrf), "x-csrf-token:", 13) >= 0)
        rq.csrf = csrf;
    rq.body = h->body;
    rq.body_len = h->body_len;
    rq.ip = ip;
    rq.now_s = ts.tv_sec;
    server_clock(srv);
    sigapi_handle(srv->s->api, &rq, resp);
    explicit_bzero(auth, sizeof(auth));
    explicit_bzero(cookie, sizeof(cookie));
    explicit_bzero(csrf, sizeof(csrf));
    if (h->body)
        explicit_bzero(h->body, h->body_len);
    if (resp->login) {
        /* The password check runs on the pool; the answer follows when it is done. */
        login = resp->login;
        server_http_free_api(resp);
        return server_login_submit(srv, wsi, h, login);
    }
    return server_http_send_api(wsi, h, resp);
}

static int server_http_metrics(struct server *srv, struct lws *wsi, struct server_http *h)
{
    const struct cluster *cl = srv->cluster;
    const struct signald_io_counts io = {
        .connections = srv->n_ws,
        .watchers = hub_watcher_count(srv->hub),
        .refused_origin = srv->refused_origin,
        .refused_capacity = srv->refused_capacity,
        .refused_rate = srv->refused_rate,
        .too_large = srv->too_large,
        .out_overflow = srv->out_overflow,
        .draining = hub_draining(srv->hub),
        .clustered = cl != NULL,
        .redis_up = cl && cluster_ready(cl),
        .cluster_published = cl ? cl->published : 0,
        .cluster_received = cl ? cl->received : 0,
        .proxied_joins = cl ? cl->proxied_joins : 0,
        .takeovers = cl ? cl->takeovers : 0,
        .tcp_connections = srv->n_tcp,
        .refused_per_ip = srv->refused_per_ip,
        .timeouts_headers = srv->timeouts[SERVER_PHASE_HEADERS],
        .timeouts_body = srv->timeouts[SERVER_PHASE_BODY],
        .http_refused = srv->http_refused,
        .logins = srv->api_stats.logins,
        .webhooks = srv->s->webhook ? webhook_get_stats(srv->s->webhook) : NULL,
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
    int r = signald_static_load(srv->s->web_root_fd, h->path, &body, &len, &mime);

    if (r == -ENOENT)
        return server_http_text(wsi, h, 404, "not found\n");
    if (r < 0) {
        log_msg(LOG_LEVEL_WARN, "http: %s: %s", h->path, strerror(-r));
        return server_http_text(wsi, h, r == -EFBIG ? 500 : 503, "cannot serve this file\n");
    }
    return server_http_respond(wsi, h, 200, mime, body, len, "no-cache", NULL);
}

/* The organisation's branding, from memory: its JSON, or its logo (404 without one). */
static int server_http_branding(struct server *srv, struct lws *wsi, struct server_http *h,
                                bool logo)
{
    const struct branding *b = srv->s->branding;
    const void *src = logo ? (const void *)b->logo : b->json;
    size_t len = logo ? b->logo_len : b->json_len;
    char *body;

    if (!src && logo)
        return server_http_text(wsi, h, 404, "not found\n");
    if (!src) { /* no --branding: the pages stay neutral, and ask without a 404 in the console */
        src = "{}\n";
        len = 3;
    }
    if (!(body = malloc(len)))
        return server_http_text(wsi, h, 503, "busy\n");
    memcpy(body, src, len);
    return server_http_respond(wsi, h, 200, logo ? b->logo_type : "application/json", body, len,
                               "no-cache", NULL);
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

/* True when the request carries header tok, even with an empty value. */
static bool server_hdr_present(struct lws *wsi, enum lws_token_indexes tok)
{
    char b[1];

    return lws_hdr_total_length(wsi, tok) > 0 || lws_hdr_copy_fragment(wsi, b, 1, tok, 0) == 0;
}

/* The fields of header tok into f, their values copied into bufs. Returns their number, or -1
 * when there are more than SERVER_FIELDS_MAX or one is SERVER_FIELD_MAX bytes or more. lws keeps
 * a repeated header as fragments of one token; an empty one is present with length 0. */
static int server_hdr_fields(struct lws *wsi, enum lws_token_indexes tok, struct httpframe_field *f,
                             char bufs[][SERVER_FIELD_MAX])
{
    int n = 0;

    if (!server_hdr_present(wsi, tok))
        return 0;
    for (;; n++) {
        int len = lws_hdr_fragment_length(wsi, tok, n);

        if (n > 0 && len == 0)
            return n; /* a repeat starts with a space, so only the first can be empty */
        if (n == SERVER_FIELDS_MAX ||
            lws_hdr_copy_fragment(wsi, bufs[n], SERVER_FIELD_MAX, tok, n) < 0)
            return -1;
        f[n].value = bufs[n];
        f[n].len = (size_t)len;
    }
}

int server_http_framing(struct lws *wsi, uint64_t *length, bool *has_length)
{
    struct httpframe_field cl[SERVER_FIELDS_MAX];
    char bufs[SERVER_FIELDS_MAX][SERVER_FIELD_MAX];
    size_t bytes = 0;
    int n;

    *length = 0;
    *has_length = false;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++)
        bytes += (size_t)lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
    if (bytes > SERVER_HEADERS_MAX)
        return 431;
    n = server_hdr_fields(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, bufs);
    if (n < 0)
        return 400;
    switch (httpframe_check(cl, (size_t)n,
                            server_hdr_present(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) ? 1 : 0,
                            length, has_length)) {
    case HTTPFRAME_OK:
        return 0;
    case HTTPFRAME_LENGTH_REQUIRED:
        return 411;
    case HTTPFRAME_BAD:
        break;
    }
    return 400;
}

/* The request line and headers are in: refuses what is oversized or badly framed. True when
 * the request was refused, with the callback's value in *rc. */
static bool server_http_refused(struct lws *wsi, struct server_http *h, const char *method,
                                size_t len, uint64_t *length, bool *has_length, int *rc)
{
    int status = server_http_framing(wsi, length, has_length);

    if (status == 431)
        *rc = server_api_error(wsi, 431, "header_fields_too_large", "request headers over 8 KiB");
    else if (!method || len == 0)
        *rc = server_api_error(wsi, 400, "bad_request", "bad request");
    else if (len >= sizeof(h->path))
        *rc = server_api_error(wsi, 414, "uri_too_long", "request path over 511 bytes");
    else if (status == 411)
        *rc = server_api_error(wsi, 411, "length_required",
                               "a Content-Length is required: chunked bodies are not accepted");
    else if (status == 400)
        *rc = server_api_error(wsi, 400, "bad_request",
                               "a malformed or repeated Content-Length, or one with "
                               "Transfer-Encoding");
    else if (h->api && *length > SIGAPI_MAX_BODY)
        *rc = server_api_error(wsi, 413, "payload_too_large", "request body over 16 KiB");
    else
        return false;
    return true;
}

/* POST, PUT and PATCH: lws 4.1 waits for a body even without a Content-Length. */
static bool server_http_has_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

static int server_http_request(struct server *srv, struct lws *wsi, struct server_http *h,
                               const char *in, size_t len)
{
    const char *method = server_http_method(wsi);
    uint64_t length;
    bool has_length;
    int rc;

    server_http_reset(h);
    server_tcp_deadline(srv, wsi, SERVER_PHASE_NONE, 0);
    h->api = len >= 5 && strncmp(in, "/api/", 5) == 0;
    if (server_http_refused(wsi, h, method, len, &length, &has_length, &rc))
        return rc;
    snprintf(h->method, sizeof(h->method), "%s", method);
    memcpy(h->path, in, len);
    h->path[len] = '\0';
    h->head = strcmp(method, "HEAD") == 0;
    /* Without a Content-Length lws would take what follows as the body: answer, then close. */
    if (has_length ? length > 0 : server_http_has_body(method))
        h->close_after = !(h->api && has_length);
    if (h->api) {
        if (length > 0) {
            h->waiting_body = true;
            /* At least 1 KiB/s after the first http-body-timeout seconds. */
            server_tcp_deadline(srv, wsi, SERVER_PHASE_BODY,
                                srv->s->http_body_timeout * 1000ull + length * 1000 / 1024);
            return 0;
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
    if (strcmp(h->path, "/branding.json") == 0)
        return server_http_branding(srv, wsi, h, false);
    if (strcmp(h->path, "/branding/logo") == 0)
        return server_http_branding(srv, wsi, h, true);
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

/* The body is in: the API answers it (the Content-Length was checked against the cap). */
static int server_http_body_done(struct server *srv, struct lws *wsi, struct server_http *h)
{
    if (!h->waiting_body)
        return 0;
    h->waiting_body = false;
    server_tcp_deadline(srv, wsi, SERVER_PHASE_NONE, 0);
    if (h->body_too_large)
        return server_api_error(wsi, 413, "payload_too_large", "request body over 16 KiB");
    return server_http_api(srv, wsi, h);
}

int server_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct server *srv = server_of(wsi);
    struct server_http *h = user;
    struct sigapi_response *resp;

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
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return srv && user ? server_tcp_filter(srv, user) : 0;
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        return server_tcp_open(srv, wsi);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return server_confirm_upgrade(srv, wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* an upgrade without the vc.v1 subprotocol */
    case LWS_CALLBACK_HTTP:
        return server_http_request(srv, wsi, h, in, len);
    case LWS_CALLBACK_HTTP_BODY:
        return server_http_body(h, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return server_http_body_done(srv, wsi, h);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!h->deferred)
            return server_http_writable(wsi, h);
        resp = h->deferred;
        h->deferred = NULL;
        return server_http_send_api(wsi, h, resp);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (h)
            server_http_reset(h);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* Every connection ends here, whatever became of it; user is its protocol's. */
        if (h && lws_get_protocol(wsi) && lws_get_protocol(wsi)->callback == server_http_cb)
            server_http_reset(h);
        if (srv)
            server_tcp_destroy(srv, wsi);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
