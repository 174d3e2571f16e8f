/* vc-signal's accepted connections: open connections per client IP, and the header and body
 * deadlines that close a connection whose client sends too slowly. */
#include <stdlib.h>
#include <string.h>

#include "vc/addr.h"
#include "vc/log.h"
#include "server_int.h"

/* The counter of the client at sa (len bytes); NULL for an address family we do not know. */
static uint32_t *server_tcp_counter(struct server *srv, const struct sockaddr *sa, socklen_t len)
{
    union vc_addr a;
    char ip[VC_ADDR_STRLEN];

    if (addr_from_sockaddr(&a, sa, len) < 0)
        return NULL;
    addr_format_ip(&a, ip, sizeof(ip));
    return signald_ipcount_slot(&srv->ipcount, ip, strlen(ip));
}

int server_tcp_filter(struct server *srv, const struct lws_filter_network_conn_args *f)
{
    uint32_t *n = server_tcp_counter(srv, (const struct sockaddr *)&f->cli_addr, f->clilen);

    if (!n || *n < srv->s->max_conns_per_ip)
        return 0;
    srv->refused_per_ip++;
    if (log_enabled(LOG_LEVEL_DEBUG))
        log_msg(LOG_LEVEL_DEBUG, "http: refused a connection: %u open from its IP", *n);
    return -1;
}

struct server_tcp *server_tcp_of(struct lws *wsi)
{
    return lws_get_opaque_user_data(wsi);
}

int server_tcp_open(struct server *srv, struct lws *wsi)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct server_tcp *t;
    int fd = lws_get_socket_fd(wsi);

    if (server_tcp_of(wsi))
        return 0;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    t->wsi = wsi;
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        t->ip_count = server_tcp_counter(srv, (struct sockaddr *)&ss, len);
    if (t->ip_count)
        (*t->ip_count)++;
    srv->n_tcp++;
    lws_set_opaque_user_data(wsi, t);
    server_tcp_deadline(srv, wsi, SERVER_PHASE_HEADERS, srv->s->http_header_timeout * 1000ull);
    return 0;
}

static void server_tcp_unlink(struct server *srv, struct server_tcp *t)
{
    if (t->phase == SERVER_PHASE_NONE)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        srv->timed = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->phase = SERVER_PHASE_NONE;
}

void server_tcp_destroy(struct server *srv, struct lws *wsi)
{
    struct server_tcp *t = server_tcp_of(wsi);

    if (!t)
        return;
    lws_set_opaque_user_data(wsi, NULL);
    server_tcp_unlink(srv, t);
    if (t->ip_count && *t->ip_count > 0)
        (*t->ip_count)--;
    srv->n_tcp--;
    if (t->job)
        server_job_orphan(t->job);
    free(t);
}

void server_tcp_deadline(struct server *srv, struct lws *wsi, enum server_phase phase, uint64_t ms)
{
    struct server_tcp *t = server_tcp_of(wsi);

    if (!t)
        return;
    server_tcp_unlink(srv, t);
    if (phase == SERVER_PHASE_NONE)
        return;
    t->phase = phase;
    t->deadline_ms = server_mono_ms() + ms;
    t->next = srv->timed;
    if (srv->timed)
        srv->timed->prev = t;
    srv->timed = t;
}

void server_tcp_expire(struct server *srv)
{
    uint64_t now = server_mono_ms();
    struct server_tcp *t = srv->timed, *next;

    for (; t; t = next) {
        next = t->next;
        if (now < t->deadline_ms)
            continue;
        srv->timeouts[t->phase]++;
        if (log_enabled(LOG_LEVEL_DEBUG))
            log_msg(LOG_LEVEL_DEBUG, "http: closed a connection: its %s came too slowly",
                    t->phase == SERVER_PHASE_BODY ? "body" : "headers");
        server_tcp_unlink(srv, t);
        /* Closed after this walk, on lws's next turn. */
        lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}
