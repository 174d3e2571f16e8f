/* vc-signal's server: the lws context on our libev loop, the 1 s tick, reload, drain, shutdown. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "vc/accounts.h"
#include "vc/hub.h"
#include "vc/log.h"
#include "vc/reports.h"
#include "vc/sigapi.h"
#include "cluster.h"
#include "server_int.h"
#include "webhook.h"

struct server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

uint64_t server_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void server_clock(struct server *srv)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    hub_set_clock(srv->hub, server_mono_ms(),
                  (int64_t)ts.tv_sec * 1000 + (int64_t)ts.tv_nsec / 1000000);
}

/* ---- Start-up, the loop and shutdown ---- */

static void server_tick(lws_sorted_usec_list_t *sul)
{
    struct server *srv = lws_container_of(sul, struct server, tick);

    server_clock(srv);
    server_tcp_expire(srv);
    hub_tick(srv->hub);
    if (srv->cluster)
        cluster_tick(srv->cluster);
    server_keepalive(srv);
    if (srv->s->reports)
        reports_tick(srv->s->reports, (int64_t)time(NULL));
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
    /* lws 4.1 binds an AF_INET6 socket whenever IPv6 is on, and writes an IPv4 iface into it as
     * a sockaddr_in (so 127.0.0.1 lands in sin6_flowinfo and the socket binds "::", every
     * address). An IPv4 address therefore needs IPv6 off, which makes the socket AF_INET. */
    if (!s->listen_v6)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = (void *[]){srv->loop};
    info.port = s->port;
    info.iface = s->iface;
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
    /* vc-signal answers headers over SERVER_HEADERS_MAX with 431 itself (server_http_framing);
     * lws only drops a connection, without an answer, past its own ceiling. */
    info.max_http_header_data = SERVER_HEADERS_LWS_MAX;
    info.user = srv;
    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        ev_loop_destroy(srv->loop);
        srv->loop = NULL;
        snprintf(err, errlen, "listen: cannot serve https on %s%s%s:%d (%s)",
                 s->listen_v6 ? "[" : "", s->iface, s->listen_v6 ? "]" : "", s->port,
                 "address in use, a bad cert/key, or lws's libev plugin missing?");
        return -EADDRINUSE;
    }
    return 0;
}

/* With --redis: rooms are shared with the other nodes through Redis. */
static int server_cluster_start(struct server *srv, char *err, size_t errlen)
{
    int r;

    srv->cluster = calloc(1, sizeof(*srv->cluster));
    if (!srv->cluster) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r = cluster_start(srv->cluster, srv, srv->loop, srv->s->redis_url, srv->s->node_id,
                      srv->s->hub_settings->turn_margin, err, errlen);
    if (r < 0) {
        free(srv->cluster);
        srv->cluster = NULL;
        return r;
    }
    hub_set_registry(srv->hub, &cluster_registry_ops, srv->cluster);
    /* A shared account database holds the sessions already: Redis need not. */
    if (!srv->s->api->accounts || !accounts_shared(srv->s->api->accounts)) {
        srv->s->api->sessions = &cluster_session_ops;
        srv->s->api->sessions_ctx = srv->cluster;
    }
    return 0;
}

static void server_cluster_stop(struct server *srv)
{
    if (!srv->cluster)
        return;
    server_clock(srv);
    cluster_stop(srv->cluster);
    hub_set_registry(srv->hub, NULL, NULL);
    srv->s->api->sessions = NULL;
    srv->s->api->sessions_ctx = NULL;
    free(srv->cluster);
    srv->cluster = NULL;
}

/* Undoes signald_server_run()'s set-up in reverse; safe after a partial start. */
static void server_teardown(struct server *srv)
{
    const struct signald_settings *s = srv->s;

    srv->shutting_down = true;
    /* The workers first: a finished check wakes the loop through lws, which must still exist.
     * Checks still running are counted; their connections get no answer. */
    if (srv->logins)
        server_logins_stop(srv);
    if (srv->ctx) {
        lws_sul_cancel(&srv->tick);
        server_cluster_stop(srv);      /* before the hub: remote sessions are closed into it */
        lws_context_destroy(srv->ctx); /* lws has stopped its watchers: the loop is ours again */
    }
    webhook_stop(s->webhook); /* before the loop goes; the hub's last events are only stored */
    if (srv->loop)
        ev_loop_destroy(srv->loop);
    hub_free(srv->hub);
    s->api->hub = NULL;
    s->api->stats = NULL;
    s->api->defer_login = false;
    free(srv);
}

/* Everything up to the first turn of the loop: the hub, lws, Redis, the login pool, signals. */
static int server_setup(struct server *srv, char *err, size_t errlen)
{
    const struct signald_settings *s = srv->s;
    int r;

    if ((r = signald_iplimit_init(&srv->iplimit, s->max_conns_per_ip_per_min)) < 0 ||
        (r = signald_ipcount_init(&srv->ipcount)) < 0) {
        snprintf(err, errlen, "getrandom: %s", strerror(-r));
        return r;
    }
    srv->hub = hub_new(s->hub_settings, &server_hub_ops, srv);
    if (!srv->hub) {
        snprintf(err, errlen, "cannot create the hub (out of memory)");
        return -ENOMEM;
    }
    s->api->hub = srv->hub;
    hub_set_directory(srv->hub, &signald_directory_ops, s->api->accounts);
    s->api->stats = &srv->api_stats;
    s->api->defer_login = true;
    lws_set_log_level(log_enabled(LOG_LEVEL_DEBUG) ? LLL_ERR | LLL_WARN : LLL_ERR, server_lws_log);
    if ((r = server_start(srv, err, errlen)) < 0 ||
        (s->redis_url && (r = server_cluster_start(srv, err, errlen)) < 0))
        return r;
    if ((r = server_logins_start(srv)) < 0) {
        snprintf(err, errlen, "login workers: %s", strerror(-r));
        return r;
    }
    if (s->webhook && (r = webhook_start(s->webhook, srv->loop)) < 0) {
        snprintf(err, errlen, "webhook-url: %s", strerror(-r));
        return r;
    }
    if ((r = signald_signals_start(&srv->sig, server_wake, srv)) < 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(-r));
        return r;
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
    if ((r = server_setup(srv, err, errlen)) < 0) {
        server_teardown(srv);
        return r;
    }
    server_clock(srv);
    lws_sul_schedule(srv->ctx, 0, &srv->tick, server_tick, LWS_US_PER_SEC);
    lws_cancel_service(srv->ctx); /* lws 4.1 arms its libev timer (the tick) after I/O only */
    fprintf(stderr, "vc-signal: listening on https://%s%s%s:%d (public URL %s)\n",
            s->listen_v6 ? "[" : "", s->iface, s->listen_v6 ? "]" : "", s->port, s->public_url);
    /* A turn handles what is ready, blocking until something is; lws_cancel_service() from the
     * signal thread or a login worker is such an event, so their results are taken here,
     * between events. */
    while (!atomic_load(&srv->sig.stop)) {
        if (!ev_run(srv->loop, EVRUN_ONCE))
            break;
        server_logins_done(srv);
        if (atomic_exchange(&srv->sig.reload, false))
            server_reload(srv);
        if (atomic_exchange(&srv->sig.drain, false))
            server_drain(srv);
    }
    signald_signals_stop(&srv->sig);
    server_teardown(srv);
    return 0;
}
