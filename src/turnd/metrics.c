/* The metrics endpoint: a tiny HTTP/1.0 server in its own thread: /metrics, /healthz, /readyz and
 * POST /drain (loopback clients only). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "vc/log.h"
#include "vc/prom.h"
#include "turnd.h"

/* A request line and headers larger than this are refused; a client gets this long to send them. */
#define METRICS_REQ_MAX 4096
#define METRICS_DEADLINE_MS 2000
#define METRICS_BODY_MAX 16384

struct turnd_metrics {
    int fd;
    struct turnd_engine *engine;
    pthread_t thread;
    atomic_bool stop;
};

size_t turnd_metrics_format(const struct turnd_totals *t, char *out, size_t outlen)
{
    const struct turn_stats *s = &t->core;
    const struct prom_metric m[] = {
        {"vc_turn_allocations", "gauge", "Live TURN allocations.", s->allocations},
        {"vc_turn_allocations_total", "counter", "Allocations created.", s->allocations_total},
        {"vc_turn_allocations_moved_total", "counter",
         "Allocations moved to the thread of the allocation they relay to.", s->allocations_moved},
        {"vc_turn_reservations", "gauge",
         "Relay ports held for a RESERVATION-TOKEN (EVEN-PORT with R).", s->reservations},
        {"vc_turn_reservations_total", "counter", "Ports reserved by EVEN-PORT with R.",
         s->reservations_total},
        {"vc_turn_reservations_redeemed_total", "counter",
         "Allocations made on a reserved port with its RESERVATION-TOKEN.",
         s->reservations_redeemed},
        {"vc_turn_reservations_expired_total", "counter",
         "Reserved ports released unused after 30 s.", s->reservations_expired},
        {"vc_turn_reservations_refused_total", "counter",
         "EVEN-PORT R=1 refused (508): no reservation slot or no free even/odd port pair.",
         s->reservations_refused},
        {"vc_turn_reservation_tokens_rejected_total", "counter",
         "RESERVATION-TOKENs refused (508): unknown, expired or another credential's.",
         s->reservation_tokens_rejected},
        {"vc_turn_relayed_packets_total", "counter", "Packets relayed (kernel path included).",
         s->relayed_packets + t->fast.packets},
        {"vc_turn_relayed_bytes_total", "counter", "Payload bytes relayed (kernel path included).",
         s->relayed_bytes + t->fast.bytes},
        {"vc_turn_kernel_path", "gauge", "1 when bound channels are relayed in the kernel (eBPF).",
         t->fast.on ? 1 : 0},
        {"vc_turn_kernel_relayed_packets_total", "counter", "Packets relayed by the kernel path.",
         t->fast.packets},
        {"vc_turn_kernel_relayed_bytes_total", "counter",
         "Payload bytes relayed by the kernel path.", t->fast.bytes},
        {"vc_turn_kernel_expired_passed_total", "counter",
         "Packets on a kernel entry past its expiry, left to user space.", t->fast.passed_expired},
        {"vc_turn_auth_failures_total", "counter", "Requests failing authentication.",
         s->auth_failures},
        {"vc_turn_peer_denied_total", "counter", "Peers refused by the peer policy.",
         s->peer_denied},
        {"vc_turn_quota_rejected_total", "counter",
         "Allocations refused by a quota or the server cap.", s->quota_rejected},
        {"vc_turn_rate_limited_total", "counter",
         "Unauthenticated requests dropped by the rate limit.", s->rate_limited},
        {"vc_turn_bandwidth_dropped_total", "counter",
         "Packets dropped by the per-allocation bandwidth cap (kernel path included).",
         s->bandwidth_dropped + t->fast.bps_dropped},
        {"vc_turn_stale_nonces_total", "counter", "438 Stale Nonce answers.", s->stale_nonces},
        {"vc_turn_bad_messages_total", "counter", "Malformed messages received.", s->bad_messages},
        {"vc_turn_requests_total", "counter", "STUN/TURN requests handled.", s->requests},
        {"vc_turn_tcp_connections", "gauge", "Open TCP and TLS client connections.",
         t->tcp_connections},
        {"vc_turn_send_drops_total", "counter",
         "Outgoing packets dropped (socket full or output queue over its cap).", t->send_drops},
        {"vc_turn_draining", "gauge", "1 while draining: new allocations go to the sibling.",
         t->draining ? 1 : 0},
        {"vc_turn_drain_refused_total", "counter",
         "Allocate requests refused (300 Try Alternate or 508) while draining.", s->drain_refused},
    };
    uint64_t le[TURN_BATCH_BUCKETS - 1];
    const struct prom_histogram h = {"vc_turn_recv_batch_size",
                                     "Datagrams returned per recvmmsg call.", le, s->batch_hist,
                                     TURN_BATCH_BUCKETS};
    struct prom_buf b;
    uint64_t count;

    /* Bucket i holds batches of 2^i .. 2^(i+1)-1 datagrams; the last one is open-ended. */
    for (unsigned i = 0; i < TURN_BATCH_BUCKETS - 1; i++)
        le[i] = (2u << i) - 1;
    prom_init(&b, out, outlen);
    prom_metrics(&b, m, sizeof(m) / sizeof(m[0]));
    count = prom_histogram(&b, &h);
    prom_put(&b, "vc_turn_recv_batch_size_sum %" PRIu64 "\n", t->batch_sum);
    prom_put(&b, "vc_turn_recv_batch_size_count %" PRIu64 "\n", count);
    return b.len;
}

static uint64_t metrics_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sends all of buf before the deadline, or gives up. */
static void metrics_send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
    while (len > 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        uint64_t now = metrics_now_ms();
        ssize_t n;

        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
            return;
        n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return;
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
    }
}

static void metrics_reply(int fd, const char *status, const char *type, const char *body,
                          size_t body_len, uint64_t deadline)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, type, body_len);

    if (n < 0 || (size_t)n >= sizeof(head))
        return;
    metrics_send_all(fd, head, (size_t)n, deadline);
    metrics_send_all(fd, body, body_len, deadline);
}

/* True when the request target (ptr, len) names path, ignoring a query string. */
static bool metrics_path_is(const char *target, size_t len, const char *path)
{
    size_t plen = strlen(path);
    const char *q = memchr(target, '?', len);

    if (q)
        len = (size_t)(q - target);
    return len == plen && memcmp(target, path, plen) == 0;
}

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool metrics_is_loopback(const union vc_addr *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *b6 = a->v6.sin6_addr.s6_addr;

    if (a->sa.sa_family == AF_INET)
        return (ntohl(a->v4.sin_addr.s_addr) >> 24) == 127;
    if (a->sa.sa_family != AF_INET6)
        return false;
    if (memcmp(b6, mapped, 12) == 0)
        return b6[12] == 127;
    return memcmp(b6, &in6addr_loopback, 16) == 0;
}

/* POST /drain: only a client on this machine may take the relay out of rotation. */
static void metrics_drain(struct turnd_metrics *m, int fd, const union vc_addr *peer,
                          uint64_t deadline)
{
    static const char text[] = "text/plain; charset=utf-8";

    if (!metrics_is_loopback(peer)) {
        metrics_reply(fd, "403 Forbidden", text, "forbidden\n", 10, deadline);
        return;
    }
    if (!turn_server_draining(turnd_engine_server(m->engine))) {
        turn_server_set_draining(turnd_engine_server(m->engine), true);
        log_msg(LOG_LEVEL_INFO, "POST /drain: draining (new allocations are refused)");
    }
    metrics_reply(fd, "200 OK", text, "draining\n", 9, deadline);
}

static void metrics_serve(struct turnd_metrics *m, int fd, const union vc_addr *peer)
{
    static const char text[] = "text/plain; charset=utf-8";
    char req[METRICS_REQ_MAX];
    size_t len = 0;
    uint64_t deadline = metrics_now_ms() + METRICS_DEADLINE_MS;
    const char *sp, *target, *end;
    bool complete = false;

    /* Read until the end of the headers, the size cap, or the deadline. */
    while (len < sizeof(req)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t now = metrics_now_ms();
        ssize_t n;

        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
            return;
        n = recv(fd, req + len, sizeof(req) - len, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return;
        }
        len += (size_t)n;
        if (memmem(req, len, "\r\n\r\n", 4) || memmem(req, len, "\n\n", 2)) {
            complete = true;
            break;
        }
    }
    if (!complete && len == sizeof(req)) {
        metrics_reply(fd, "431 Request Header Fields Too Large", text, "too large\n", 10, deadline);
        return;
    }
    end = memchr(req, '\n', len);
    if (!end) {
        metrics_reply(fd, "400 Bad Request", text, "bad request\n", 12, deadline);
        return;
    }
    sp = memchr(req, ' ', (size_t)(end - req));
    bool post = sp && sp - req == 4 && memcmp(req, "POST", 4) == 0;
    if (!sp || (!post && (sp - req != 3 || memcmp(req, "GET", 3) != 0))) {
        metrics_reply(fd, "405 Method Not Allowed", text, "method not allowed\n", 19, deadline);
        return;
    }
    target = sp + 1;
    sp = memchr(target, ' ', (size_t)(end - target));
    if (!sp)
        sp = end;
    if (post) {
        if (metrics_path_is(target, (size_t)(sp - target), "/drain"))
            metrics_drain(m, fd, peer, deadline);
        else
            metrics_reply(fd, "405 Method Not Allowed", text, "method not allowed\n", 19, deadline);
    } else if (metrics_path_is(target, (size_t)(sp - target), "/healthz")) {
        metrics_reply(fd, "200 OK", text, "ok\n", 3, deadline);
    } else if (metrics_path_is(target, (size_t)(sp - target), "/readyz")) {
        if (turn_server_draining(turnd_engine_server(m->engine)))
            metrics_reply(fd, "503 Service Unavailable", text, "draining\n", 9, deadline);
        else
            metrics_reply(fd, "200 OK", text, "ready\n", 6, deadline);
    } else if (metrics_path_is(target, (size_t)(sp - target), "/metrics")) {
        char *body = malloc(METRICS_BODY_MAX);
        struct turnd_totals t;
        size_t blen;

        if (!body) {
            metrics_reply(fd, "503 Service Unavailable", text, "busy\n", 5, deadline);
            return;
        }
        turnd_engine_totals(m->engine, &t);
        blen = turnd_metrics_format(&t, body, METRICS_BODY_MAX);
        metrics_reply(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, blen,
                      deadline);
        free(body);
    } else {
        metrics_reply(fd, "404 Not Found", text, "not found\n", 10, deadline);
    }
}

static void *metrics_run(void *arg)
{
    struct turnd_metrics *m = arg;

    while (!atomic_load(&m->stop)) {
        struct pollfd p = {.fd = m->fd, .events = POLLIN};
        struct sockaddr_storage ss;
        socklen_t slen = sizeof(ss);
        union vc_addr peer;
        int fd;

        if (poll(&p, 1, 250) <= 0)
            continue;
        fd = accept4(m->fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (addr_from_sockaddr(&peer, (struct sockaddr *)&ss, slen) < 0)
            memset(&peer, 0, sizeof(peer));
        metrics_serve(m, fd, &peer);
        close(fd);
    }
    return NULL;
}

int turnd_metrics_start(const union vc_addr *addr, struct turnd_engine *e,
                        struct turnd_metrics **out, char *err, size_t errlen)
{
    char text[VC_ADDR_STRLEN];
    struct turnd_metrics *m;
    int one = 1, r;

    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->engine = e;
    atomic_init(&m->stop, false);
    m->fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m->fd < 0)
        goto fail;
    setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(m->fd, &addr->sa, addr_len(addr)) < 0 || listen(m->fd, 64) < 0)
        goto fail;
    r = pthread_create(&m->thread, NULL, metrics_run, m);
    if (r != 0) {
        errno = r;
        goto fail;
    }
    *out = m;
    return 0;
fail:
    r = -errno;
    snprintf(err, errlen, "metrics: bind %s: %s", addr_format(addr, text, sizeof(text)),
             strerror(errno));
    if (m->fd >= 0)
        close(m->fd);
    free(m);
    return r;
}

void turnd_metrics_stop(struct turnd_metrics *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
    close(m->fd);
    free(m);
}
