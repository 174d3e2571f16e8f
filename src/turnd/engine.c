/* The vc-turn event engine: one epoll loop per worker thread, UDP batches, relays, TCP accept. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "vc/log.h"
#include "vc/random.h"
#include "engine_int.h"

/* The size of one receive slot: room for the largest datagram plus the headroom and tailroom
 * the core writes headers into. */
#define ENGINE_SLOT (TURN_HEADROOM + TURN_MAX_PAYLOAD + TURN_TAILROOM + 12)
/* Bytes of outgoing client datagrams copied per loop iteration before a forced flush. */
#define ENGINE_ARENA (512 * 1024)
#define ENGINE_EVENTS 256
/* Reads per readiness event on one stream before yielding to the others. */
#define ENGINE_ACCEPTS 64
/* Socket buffer sizes asked for (the kernel caps them at net.core.{r,w}mem_max). */
#define ENGINE_LISTEN_BUF (4 * 1024 * 1024)
#define ENGINE_FD_TABLE_MAX (1u << 20)
/* How long turnd_engine_sync() waits for every worker to pass a quiescent point. */
#define ENGINE_SYNC_MS 5000

static void engine_bump(uint64_t *counter, uint64_t by)
{
    /* Single writer: a plain read and a relaxed store, no locked instruction. */
    __atomic_store_n(counter, *counter + by, __ATOMIC_RELAXED);
}

void turnd_worker_peer_flush(struct turnd_worker *w)
{
    if (w->peerout.n)
        engine_bump(&w->send_drops, turnd_peerout_flush(&w->peerout));
}

uint32_t turnd_worker_rand(struct turnd_worker *w)
{
    /* xorshift64*: only spreads relay port choices, nothing secret depends on it. */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (uint32_t)((w->rng * 2685821657736338717ULL) >> 32);
}

static void engine_clock(struct turnd_worker *w)
{
    struct timespec mono, real;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &mono);
    clock_gettime(CLOCK_REALTIME_COARSE, &real);
    w->now_ms = (uint64_t)mono.tv_sec * 1000 + (uint64_t)mono.tv_nsec / 1000000;
    turn_worker_set_clock(w->core, w->now_ms, (int64_t)real.tv_sec);
}

struct turn_worker *turnd_worker_core(struct turnd_worker *w)
{
    return w->core;
}

uint64_t turnd_worker_now_ms(const struct turnd_worker *w)
{
    return w->now_ms;
}

void turnd_worker_count_drop(struct turnd_worker *w)
{
    engine_bump(&w->send_drops, 1);
}

void turnd_worker_client_input(struct turnd_worker *w, struct turn_stream *s, const uint8_t *buf,
                               size_t len)
{
    w->cur_stream = s;
    turn_worker_client_input(w->core, &s->client, buf, len);
    w->cur_stream = NULL;
    turnd_worker_peer_flush(w); /* the stream's input buffer may move before the next message */
}

int turnd_worker_watch_out(struct turnd_worker *w, struct turn_stream *s, bool want)
{
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = s};

    if (s->want_out == want || s->dead)
        return 0;
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, s->client.fd, &ev) < 0)
        return -errno;
    s->want_out = want;
    return 0;
}

void turnd_worker_stream_dead(struct turnd_worker *w, struct turn_stream *s)
{
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, s->client.fd, NULL);
    if (s->prev)
        s->prev->next = s->next;
    else
        w->live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = NULL;
    s->next = w->dead;
    w->dead = s;
}

void turnd_worker_rerun(struct turnd_worker *w, struct turn_stream *s)
{
    if (s->on_rerun || s->dead)
        return;
    s->on_rerun = true;
    s->rerun_next = w->rerun;
    w->rerun = s;
}

/* The safe point: the core forgets each closed connection, then it is freed. */
static void engine_reap(struct turnd_worker *w)
{
    while (w->dead) {
        struct turn_stream *s = w->dead;

        w->dead = s->next;
        if (s->on_rerun) {
            struct turn_stream **pp = &w->rerun;

            while (*pp && *pp != s)
                pp = &(*pp)->rerun_next;
            if (*pp)
                *pp = s->rerun_next;
        }
        turn_worker_stream_closed(w->core, &s->client);
        atomic_fetch_sub_explicit(&w->eng->conns, 1, memory_order_relaxed);
        turnd_stream_destroy(s);
    }
}

/* --- UDP client datagrams --- */

static void engine_rx_prepare(struct turnd_worker *w, bool ctl)
{
    for (unsigned i = 0; i < ENGINE_BATCH; i++) {
        struct msghdr *h = &w->rx_msg[i].msg_hdr;

        h->msg_namelen = sizeof(w->rx_src[i]);
        h->msg_control = ctl ? w->rx_ctl[i] : NULL;
        h->msg_controllen = ctl ? ENGINE_CMSG : 0;
        h->msg_flags = 0;
    }
}

static void engine_batch_record(struct turnd_worker *w, unsigned n)
{
    unsigned b = 0;

    while ((n >> (b + 1)) != 0 && b < TURN_BATCH_BUCKETS - 1)
        b++;
    engine_bump(&w->stats->batch_hist[b], 1);
    engine_bump(&w->batch_sum, n);
}

/* For a wildcard listener: the destination IP of a datagram, from IP_PKTINFO. */
static void engine_pktinfo_local(struct msghdr *h, union vc_addr *local)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
            local->sa.sa_family == AF_INET) {
            struct in_pktinfo pi;

            memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
            local->v4.sin_addr = pi.ipi_addr;
        } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
                   local->sa.sa_family == AF_INET6) {
            struct in6_pktinfo pi;

            memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
            local->v6.sin6_addr = pi.ipi6_addr;
        }
    }
}

static void engine_udp_input(struct turnd_worker *w, struct engine_udp *u)
{
    struct turn_client c = {.transport = TURN_UDP, .fd = u->fd, .stream = NULL};
    int n;

    engine_rx_prepare(w, u->wildcard);
    n = recvmmsg(u->fd, w->rx_msg, ENGINE_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return;
    engine_batch_record(w, (unsigned)n);
    for (int i = 0; i < n; i++) {
        struct msghdr *h = &w->rx_msg[i].msg_hdr;
        uint8_t *buf = w->rx_iov[i].iov_base;

        if (h->msg_flags & MSG_TRUNC)
            continue;
        if (addr_from_sockaddr(&c.remote, &w->rx_src[i].sa, h->msg_namelen) < 0)
            continue;
        c.local = u->local;
        if (u->wildcard)
            engine_pktinfo_local(h, &c.local);
        if (w->pair && turnd_pair_stray(w, u->index, &c, buf, w->rx_msg[i].msg_len))
            continue;
        turn_worker_client_input(w->core, &c, buf, w->rx_msg[i].msg_len);
    }
    turnd_worker_peer_flush(w); /* before the receive slots are reused */
}

static void engine_udp_flush(struct turnd_worker *w, struct engine_udp *u)
{
    unsigned off = 0;

    while (off < u->out_n) {
        int r = sendmmsg(u->fd, u->out_msg + off, u->out_n - off, MSG_DONTWAIT);

        if (r > 0) {
            off += (unsigned)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
            engine_bump(&w->send_drops, u->out_n - off);
            break;
        } else {
            /* The first datagram failed on its own (unreachable, refused): skip just it. */
            engine_bump(&w->send_drops, 1);
            off++;
        }
    }
    u->out_n = 0;
}

static void engine_flush_all(struct turnd_worker *w)
{
    for (unsigned i = 0; i < w->n_udp; i++)
        if (w->udp[i]->out_n)
            engine_udp_flush(w, w->udp[i]);
    w->arena_used = 0;
}

static void engine_set_source(struct engine_udp *u, unsigned i, const union vc_addr *src)
{
    struct msghdr *h = &u->out_msg[i].msg_hdr;
    struct cmsghdr *cm;

    h->msg_control = NULL;
    h->msg_controllen = 0;
    if (!u->wildcard || src->sa.sa_family != u->local.sa.sa_family)
        return;
    h->msg_control = u->out_ctl[i];
    if (src->sa.sa_family == AF_INET) {
        struct in_pktinfo pi = {.ipi_spec_dst = src->v4.sin_addr};

        h->msg_controllen = CMSG_SPACE(sizeof(pi));
        cm = CMSG_FIRSTHDR(h);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
    } else {
        struct in6_pktinfo pi = {.ipi6_addr = src->v6.sin6_addr};

        h->msg_controllen = CMSG_SPACE(sizeof(pi));
        cm = CMSG_FIRSTHDR(h);
        cm->cmsg_level = IPPROTO_IPV6;
        cm->cmsg_type = IPV6_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
    }
}

static int engine_udp_queue(struct turnd_worker *w, struct engine_udp *u,
                            const struct turn_client *c, const uint8_t *buf, size_t len)
{
    unsigned i;

    if (len > TURN_MAX_PAYLOAD + TURN_HEADROOM)
        return -EMSGSIZE;
    if (w->arena_used + len > ENGINE_ARENA)
        engine_flush_all(w);
    if (u->out_n == ENGINE_BATCH)
        engine_udp_flush(w, u);
    i = u->out_n++;
    memcpy(w->arena + w->arena_used, buf, len);
    u->out_iov[i].iov_base = w->arena + w->arena_used;
    u->out_iov[i].iov_len = len;
    w->arena_used += (len + 7) & ~(size_t)7;
    u->out_dst[i] = c->remote;
    u->out_msg[i].msg_hdr.msg_namelen = addr_len(&c->remote);
    engine_set_source(u, i, &c->local);
    return 0;
}

/* --- relay sockets --- */

static void engine_relay_input(struct turnd_worker *w, int fd)
{
    struct turn_alloc *alloc;
    union vc_addr peer = {.sa.sa_family = AF_UNSPEC};
    int n;

    if (fd < 0 || (unsigned)fd >= w->relays_cap)
        return;
    alloc = w->relays[fd].alloc;
    if (!alloc && !w->relays[fd].spare)
        return;
    engine_rx_prepare(w, false);
    n = recvmmsg(fd, w->rx_msg, ENGINE_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0 || !alloc) /* a spare's datagrams are read only to be dropped */
        return;
    engine_batch_record(w, (unsigned)n);
    for (int i = 0; i < n; i++) {
        struct msghdr *h = &w->rx_msg[i].msg_hdr;

        /* The core may have freed the allocation while handling an earlier datagram. */
        if (w->relays[fd].alloc != alloc)
            return;
        if (h->msg_flags & MSG_TRUNC)
            continue;
        if (addr_from_sockaddr(&peer, &w->rx_src[i].sa, h->msg_namelen) < 0)
            continue;
        turn_worker_peer_input(w->core, alloc, &peer, w->rx_iov[i].iov_base, w->rx_msg[i].msg_len);
    }
    if (w->pair && w->relays[fd].alloc == alloc && peer.sa.sa_family != AF_UNSPEC)
        turnd_pair_note(w, fd, &peer);
}

int turnd_worker_relay_take(struct turnd_worker *w, int fd)
{
    int err;

    if ((unsigned)fd >= w->relays_cap) {
        close(fd);
        return -EMFILE;
    }
    if ((err = turnd_worker_relay_watch(w, fd)) < 0) {
        close(fd);
        return err;
    }
    return fd;
}

/* A new relay socket, bound and watched; its descriptor or -errno. */
static int engine_relay_new(struct turnd_worker *w, const union vc_addr *ip, union vc_addr *bound)
{
    const struct turn_settings *st = turn_server_settings(w->eng->cfg.server);
    int fd = turnd_relay_socket(ip, st->port_min, st->port_max, turnd_worker_rand(w), bound);

    return fd < 0 ? fd : turnd_worker_relay_take(w, fd);
}

int turnd_worker_relay_watch(struct turnd_worker *w, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ENGINE_RELAY_TAG | (uint32_t)fd};

    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void turnd_worker_relay_unwatch(struct turnd_worker *w, int fd)
{
    if (w->peerout.n && w->peerout.fd == fd)
        turnd_worker_peer_flush(w);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Closing a descriptor also removes it from the epoll set (relay sockets are never dup'ed). */
static void engine_relay_discard(struct turnd_worker *w, int fd)
{
    w->relays[fd].spare = false;
    close(fd);
}

/* Fills the spares up while the loop is idle, so allocations find a socket ready. */
static void engine_spares_refill(struct turnd_worker *w)
{
    const struct turn_settings *st = turn_server_settings(w->eng->cfg.server);
    union vc_addr bound;

    if (st->relay_ip4.sa.sa_family != AF_INET)
        return;
    while (!turnd_spares_full(&w->spares)) {
        int fd = engine_relay_new(w, &st->relay_ip4, &bound);

        if (fd < 0)
            return;
        w->relays[fd].spare = true;
        w->relays[fd].bound = bound;
        if (!turnd_spares_put(&w->spares, fd, &bound)) {
            engine_relay_discard(w, fd);
            return;
        }
    }
}

void turnd_worker_relay_serve(struct turnd_worker *w, int fd, struct turn_alloc *alloc,
                              const union vc_addr *bound)
{
    w->relays[fd].alloc = alloc;
    w->relays[fd].bound = *bound;
    w->relays[fd].owner = w->cur_stream;
    if (w->cur_stream)
        w->cur_stream->relays++;
    if (w->pair)
        turnd_pair_opened(w, fd);
}

static int engine_relay_open(struct turn_worker *tw, struct turn_alloc *alloc,
                             const union vc_addr *ip, union vc_addr *bound)
{
    struct turnd_worker *w = turn_worker_ctx(tw);
    int fd, stale;

    while ((fd = turnd_spares_take(&w->spares, ip, bound, &stale)) == -EAGAIN)
        engine_relay_discard(w, stale);
    if (fd >= 0)
        w->relays[fd].spare = false;
    else if ((fd = engine_relay_new(w, ip, bound)) < 0)
        return fd;
    turnd_worker_relay_serve(w, fd, alloc, bound);
    return fd;
}

static void engine_relay_close(struct turn_worker *tw, int relay)
{
    struct turnd_worker *w = turn_worker_ctx(tw);

    if (w->peerout.n && w->peerout.fd == relay)
        turnd_worker_peer_flush(w);
    if (relay < 0 || (unsigned)relay >= w->relays_cap)
        return;
    if (w->relays[relay].owner && w->relays[relay].owner->relays > 0)
        w->relays[relay].owner->relays--;
    if (w->pair && w->relays[relay].alloc)
        turnd_pair_closed(w, relay);
    w->relays[relay].alloc = NULL;
    w->relays[relay].owner = NULL;
    w->relays[relay].settled = w->relays[relay].steered = false;
    bool df = w->relays[relay].df;
    w->relays[relay].df = false;
    /* Kept bound and watched for the next allocation; turnd_spares_take() drains it first. One
     * that sets DF (DONT-FRAGMENT) is not reused: the next allocation did not ask for it. */
    if (!df && turnd_spares_put(&w->spares, relay, &w->relays[relay].bound)) {
        w->relays[relay].spare = true;
        return;
    }
    engine_relay_discard(w, relay);
}

static int engine_send_peer(struct turn_worker *tw, int relay, const union vc_addr *peer,
                            const uint8_t *buf, size_t len)
{
    struct turnd_worker *w = turn_worker_ctx(tw);

    if (w->pair)
        turnd_pair_note(w, relay, peer);
    engine_bump(&w->send_drops, turnd_peerout_queue(&w->peerout, relay, peer, buf, len));
    return 0;
}

static int engine_send_client(struct turn_worker *tw, const struct turn_client *c,
                              const uint8_t *buf, size_t len)
{
    struct turnd_worker *w = turn_worker_ctx(tw);

    if (c->transport != TURN_UDP)
        return c->stream ? turnd_stream_send(c->stream, buf, len) : -EINVAL;
    for (unsigned i = 0; i < w->n_udp; i++)
        if (w->udp[i]->fd == c->fd)
            return engine_udp_queue(w, w->udp[i], c, buf, len);
    return -EBADF;
}

static const struct turn_io_ops engine_ops = {
    .relay_open = engine_relay_open,
    .relay_close = engine_relay_close,
    .relay_open_pair = turnd_relay_open_pair,
    .relay_adopt = turnd_relay_adopt,
    .reserved_close = turnd_reserved_close,
    .relay_dont_fragment = turnd_relay_dont_fragment,
    .send_peer = engine_send_peer,
    .send_client = engine_send_client,
    .fast_sync = turnd_kpath_sync,
    .fast_unbind = turnd_kpath_unbind,
    .fast_free = turnd_kpath_free,
};

/* --- TCP and TLS --- */

static void engine_accept(struct turnd_worker *w, struct engine_listener *l)
{
    struct turnd_engine *e = w->eng;

    for (int k = 0; k < ENGINE_ACCEPTS; k++) {
        struct sockaddr_storage rsa, lsa;
        union vc_addr remote, local;
        socklen_t rlen = sizeof(rsa), llen = sizeof(lsa);
        struct epoll_event ev = {.events = EPOLLIN};
        struct turn_stream *s;
        SSL *ssl = NULL;
        int fd, one = 1;

        fd = accept4(l->fd, (struct sockaddr *)&rsa, &rlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && log_enabled(LOG_LEVEL_WARN))
                log_msg(LOG_LEVEL_WARN, "accept: %s", strerror(errno));
            return;
        }
        if (atomic_load_explicit(&e->conns, memory_order_relaxed) >= e->cfg.max_connections) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (getsockname(fd, (struct sockaddr *)&lsa, &llen) < 0 ||
            addr_from_sockaddr(&local, (struct sockaddr *)&lsa, llen) < 0 ||
            addr_from_sockaddr(&remote, (struct sockaddr *)&rsa, rlen) < 0) {
            close(fd);
            continue;
        }
        if (l->kind == TURND_SRC_TLS_LISTEN) {
            ssl = SSL_new(atomic_load(&e->tls));
            if (!ssl || SSL_set_fd(ssl, fd) != 1) {
                SSL_free(ssl);
                close(fd);
                continue;
            }
            SSL_set_accept_state(ssl);
        }
        s = turnd_stream_new(w, fd, ssl, l->kind == TURND_SRC_TLS_LISTEN ? TURN_TLS : TURN_TCP,
                             &local, &remote);
        if (!s) {
            SSL_free(ssl);
            close(fd);
            continue;
        }
        s->last_rx_ms = w->now_ms;
        ev.data.ptr = s;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            turnd_stream_destroy(s);
            continue;
        }
        atomic_fetch_add_explicit(&e->conns, 1, memory_order_relaxed);
        s->next = w->live;
        if (w->live)
            w->live->prev = s;
        w->live = s;
    }
}

static void engine_idle_sweep(struct turnd_worker *w)
{
    uint64_t limit = (uint64_t)w->eng->cfg.idle_timeout_s * 1000;

    for (struct turn_stream *s = w->live, *next; s; s = next) {
        next = s->next;
        if (s->relays == 0 && w->now_ms - s->last_rx_ms > limit)
            turnd_stream_close(s, "idle");
    }
}

/* --- the loop --- */

static void engine_dispatch(struct turnd_worker *w, struct epoll_event *ev)
{
    enum turnd_src_kind *kind;

    if (ev->data.u64 & ENGINE_RELAY_TAG) {
        engine_relay_input(w, (int)(uint32_t)ev->data.u64);
        return;
    }
    kind = ev->data.ptr;
    switch (*kind) {
    case TURND_SRC_UDP:
        engine_udp_input(w, (struct engine_udp *)kind);
        break;
    case TURND_SRC_TCP_LISTEN:
    case TURND_SRC_TLS_LISTEN:
        engine_accept(w, (struct engine_listener *)kind);
        break;
    case TURND_SRC_STREAM: {
        struct turn_stream *s = (struct turn_stream *)kind;

        if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            turnd_stream_on_readable(s);
        if ((ev->events & EPOLLOUT) && !s->dead)
            turnd_stream_on_writable(s);
        break;
    }
    case TURND_SRC_WAKE: {
        uint64_t v;

        if (read(w->wake.fd, &v, sizeof(v)) < 0)
            break;
        break;
    }
    }
}

static void *engine_run(void *arg)
{
    struct turnd_worker *w = arg;
    struct epoll_event ev[ENGINE_EVENTS];

    atomic_fetch_add(&w->iter, 1);
    engine_clock(w);
    w->next_tick_ms = w->now_ms + 1000;
    while (!atomic_load_explicit(&w->eng->stop, memory_order_relaxed)) {
        int timeout, n;

        if (w->now_ms >= w->next_tick_ms) {
            turn_worker_tick(w->core);
            engine_idle_sweep(w);
            engine_flush_all(w);
            engine_reap(w);
            engine_spares_refill(w);
            w->next_tick_ms = w->now_ms + 1000;
        }
        timeout = w->rerun ? 0 : (int)(w->next_tick_ms - w->now_ms);
        n = epoll_wait(w->epfd, ev, ENGINE_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            log_msg(LOG_LEVEL_ERROR, "worker %u: epoll_wait: %s", w->index, strerror(errno));
            break;
        }
        /* The quiescent point: announced before the clock loads the current settings, so
         * once turnd_engine_sync() sees it, nothing older is in use. */
        atomic_fetch_add(&w->iter, 1);
        engine_clock(w);
        if (w->pair)
            turnd_pair_drain(w);
        if (w->rerun) {
            struct turn_stream *list = w->rerun;

            w->rerun = NULL;
            while (list) {
                struct turn_stream *s = list;

                list = s->rerun_next;
                s->on_rerun = false;
                turnd_stream_on_readable(s);
            }
        }
        for (int i = 0; i < n; i++)
            engine_dispatch(w, &ev[i]);
        if (w->pair)
            turnd_pair_settle(w);
        engine_flush_all(w);
        engine_reap(w);
        if (n == 0)
            engine_spares_refill(w);
    }
    engine_flush_all(w);
    return NULL;
}

/* --- start-up and shutdown --- */

static int engine_watch(struct turnd_worker *w, int fd, void *ptr)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};

    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int engine_add_udp(struct turnd_worker *w, const union vc_addr *a, char *err, size_t errlen)
{
    struct engine_udp *u;
    int fd, one = 1, buf = ENGINE_LISTEN_BUF;

    fd = turnd_sock_listen(a, SOCK_DGRAM, true, err, errlen);
    if (fd < 0)
        return fd;
    u = calloc(1, sizeof(*u));
    if (!u) {
        close(fd);
        return -ENOMEM;
    }
    u->kind = TURND_SRC_UDP;
    u->fd = fd;
    u->index = w->n_udp;
    u->local = *a;
    u->wildcard = addr_is_any(a);
    w->udp[w->n_udp++] = u;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    if (u->wildcard && a->sa.sa_family == AF_INET)
        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    else if (u->wildcard)
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    for (unsigned i = 0; i < ENGINE_BATCH; i++) {
        u->out_msg[i].msg_hdr.msg_name = &u->out_dst[i];
        u->out_msg[i].msg_hdr.msg_iov = &u->out_iov[i];
        u->out_msg[i].msg_hdr.msg_iovlen = 1;
    }
    return engine_watch(w, fd, u);
}

static int engine_add_listener(struct turnd_worker *w, const union vc_addr *a,
                               enum turnd_src_kind kind, char *err, size_t errlen)
{
    struct engine_listener *l = &w->lis[w->n_lis];
    int fd = turnd_sock_listen(a, SOCK_STREAM, true, err, errlen);

    if (fd < 0)
        return fd;
    l->kind = kind;
    l->fd = fd;
    l->local = *a;
    w->n_lis++;
    return engine_watch(w, fd, l);
}

static int engine_worker_new(struct turnd_engine *e, unsigned index, struct turnd_worker **out,
                             char *err, size_t errlen)
{
    const struct turnd_engine_config *cfg = &e->cfg;
    struct turnd_worker *w;
    struct rlimit rl;
    int r;

    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    *out = w;
    w->eng = e;
    w->index = index;
    w->wake.kind = TURND_SRC_WAKE;
    w->wake.fd = -1;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return -errno;
    w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake.fd < 0)
        return -errno;
    if ((r = engine_watch(w, w->wake.fd, &w->wake)) < 0)
        return r;
    w->relays_cap = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        w->relays_cap =
            rl.rlim_cur < ENGINE_FD_TABLE_MAX ? (unsigned)rl.rlim_cur : ENGINE_FD_TABLE_MAX;
    w->relays = calloc(w->relays_cap, sizeof(*w->relays));
    const struct turn_settings *st = turn_server_settings(cfg->server);
    turnd_spares_init(&w->spares, (unsigned)st->port_max - st->port_min + 1, cfg->workers);
    w->rx = malloc((size_t)ENGINE_BATCH * ENGINE_SLOT);
    w->arena = malloc(ENGINE_ARENA);
    if (!w->relays || !w->rx || !w->arena)
        return -ENOMEM;
    for (unsigned i = 0; i < ENGINE_BATCH; i++) {
        w->rx_iov[i].iov_base = w->rx + (size_t)i * ENGINE_SLOT + TURN_HEADROOM;
        w->rx_iov[i].iov_len = TURN_MAX_PAYLOAD;
        w->rx_msg[i].msg_hdr.msg_name = &w->rx_src[i];
        w->rx_msg[i].msg_hdr.msg_iov = &w->rx_iov[i];
        w->rx_msg[i].msg_hdr.msg_iovlen = 1;
    }
    if (random_bytes(&w->rng, sizeof(w->rng)) < 0 || w->rng == 0)
        w->rng = 0x9e3779b97f4a7c15ULL ^ index;
    for (unsigned i = 0; i < cfg->n_listen; i++) {
        if ((r = engine_add_udp(w, &cfg->listen[i], err, errlen)) < 0)
            return r;
        if ((r = engine_add_listener(w, &cfg->listen[i], TURND_SRC_TCP_LISTEN, err, errlen)) < 0)
            return r;
    }
    for (unsigned i = 0; i < cfg->n_tls_listen; i++)
        if ((r = engine_add_listener(w, &cfg->tls_listen[i], TURND_SRC_TLS_LISTEN, err, errlen)) <
            0)
            return r;
    w->core = turn_worker_new(cfg->server, index, &engine_ops, w);
    if (!w->core)
        return -ENOMEM;
    w->stats = turn_worker_stats_mut(w->core);
    engine_clock(w);
    return 0;
}

static void engine_worker_free(struct turnd_worker *w)
{
    if (!w)
        return;
    while (w->live)
        turnd_stream_close(w->live, "shutdown");
    if (w->core) {
        engine_reap(w);
        turn_worker_free(w->core);
    }
    for (int fd; (fd = turnd_spares_pop(&w->spares)) >= 0;)
        close(fd);
    for (unsigned i = 0; i < w->n_udp; i++) {
        close(w->udp[i]->fd);
        free(w->udp[i]);
    }
    for (unsigned i = 0; i < w->n_lis; i++)
        close(w->lis[i].fd);
    if (w->wake.fd >= 0)
        close(w->wake.fd);
    if (w->epfd >= 0)
        close(w->epfd);
    free(w->relays);
    free(w->rx);
    free(w->arena);
    free(w);
}

int turnd_engine_start(const struct turnd_engine_config *cfg, struct turnd_engine **out, char *err,
                       size_t errlen)
{
    struct turnd_engine *e;
    int r = 0;

    if (cfg->workers == 0 || cfg->n_listen + cfg->n_tls_listen == 0 ||
        cfg->n_listen > TURND_LISTEN_MAX || cfg->n_tls_listen > TURND_LISTEN_MAX) {
        snprintf(err, errlen, "engine: bad listener or worker count");
        return -EINVAL;
    }
    for (unsigned i = 0; i < cfg->n_listen && r == 0; i++) {
        r = turnd_sock_probe(&cfg->listen[i], SOCK_DGRAM, err, errlen);
        if (r == 0)
            r = turnd_sock_probe(&cfg->listen[i], SOCK_STREAM, err, errlen);
    }
    for (unsigned i = 0; i < cfg->n_tls_listen && r == 0; i++)
        r = turnd_sock_probe(&cfg->tls_listen[i], SOCK_STREAM, err, errlen);
    if (r < 0)
        return r;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->cfg = *cfg;
    atomic_init(&e->stop, false);
    atomic_init(&e->conns, 0);
    atomic_init(&e->tls, cfg->tls);
    e->workers = calloc(cfg->workers, sizeof(*e->workers));
    if (!e->workers) {
        free(e);
        return -ENOMEM;
    }
    for (e->n = 0; e->n < cfg->workers; e->n++) {
        r = engine_worker_new(e, e->n, &e->workers[e->n], err, errlen);
        if (r < 0) {
            e->n++;
            goto fail;
        }
    }
    turnd_kpath_start(e);
    if (e->n > 1 && cfg->colocate_pairs) {
        char why[256] = "";

        if (turnd_pair_start(e, why, sizeof(why)) < 0)
            log_msg(LOG_LEVEL_INFO, "relayed pairs stay on separate threads: %s", why);
        else
            log_msg(LOG_LEVEL_INFO, "relayed pairs share a thread (eBPF steering on %u UDP %s)",
                    cfg->n_listen, cfg->n_listen == 1 ? "address" : "addresses");
    }
    /* Before any thread starts: none of them ever loads a program. */
    if ((r = turnd_bpf_drop_capabilities()) < 0)
        log_msg(LOG_LEVEL_WARN, "cannot give up CAP_BPF and CAP_NET_ADMIN: %s", strerror(-r));
    for (unsigned i = 0; i < e->n; i++) {
        r = -pthread_create(&e->workers[i]->thread, NULL, engine_run, e->workers[i]);
        if (r < 0) {
            snprintf(err, errlen, "pthread_create: %s", strerror(-r));
            goto fail;
        }
        e->workers[i]->started = true;
    }
    *out = e;
    return 0;
fail:
    if (!err[0])
        snprintf(err, errlen, "engine: %s", strerror(-r));
    turnd_engine_stop(e);
    turnd_engine_free(e);
    return r;
}

void turnd_worker_wake(struct turnd_worker *w)
{
    uint64_t one = 1;

    if (w->wake.fd >= 0 && write(w->wake.fd, &one, sizeof(one)) < 0)
        log_msg(LOG_LEVEL_WARN, "worker %u: wake: %s", w->index, strerror(errno));
}

void turnd_engine_stop(struct turnd_engine *e)
{
    atomic_store(&e->stop, true);
    for (unsigned i = 0; i < e->n; i++)
        if (e->workers[i])
            turnd_worker_wake(e->workers[i]);
    for (unsigned i = 0; i < e->n; i++) {
        if (e->workers[i] && e->workers[i]->started) {
            pthread_join(e->workers[i]->thread, NULL);
            e->workers[i]->started = false;
        }
    }
}

void turnd_engine_free(struct turnd_engine *e)
{
    if (!e)
        return;
    /* Allocations still on their way between workers land first, so they end like the rest. */
    for (unsigned pass = 0; pass < 2 && e->pairing; pass++)
        for (unsigned i = 0; i < e->n; i++)
            turnd_pair_drain(e->workers[i]);
    turnd_pair_free(e);
    for (unsigned i = 0; i < e->n; i++)
        engine_worker_free(e->workers[i]);
    turnd_fast_free(e->fast); /* after the workers: freeing an allocation reads its counters */
    free(e->workers);
    free(e);
}

void turnd_engine_totals(const struct turnd_engine *e, struct turnd_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < e->n; i++) {
        const struct turnd_worker *w = e->workers[i];
        const struct turn_stats *s = w->stats;
        uint64_t *dst = (uint64_t *)&t->core;
        const uint64_t *src = (const uint64_t *)s;

        /* struct turn_stats is all uint64_t counters, summed field by field. */
        for (size_t k = 0; k < sizeof(*s) / sizeof(uint64_t); k++)
            dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
        t->send_drops += __atomic_load_n(&w->send_drops, __ATOMIC_RELAXED);
        t->batch_sum += __atomic_load_n(&w->batch_sum, __ATOMIC_RELAXED);
    }
    t->tcp_connections = atomic_load_explicit(&e->conns, memory_order_relaxed);
    if (e->fast)
        turnd_fast_totals(e->fast, &t->fast);
    t->draining = turn_server_draining(e->cfg.server);
}

struct turn_server *turnd_engine_server(const struct turnd_engine *e)
{
    return e->cfg.server;
}

SSL_CTX *turnd_engine_swap_tls(struct turnd_engine *e, SSL_CTX *tls)
{
    return atomic_exchange(&e->tls, tls);
}

int turnd_engine_sync(struct turnd_engine *e)
{
    unsigned long seen[e->n];

    for (unsigned i = 0; i < e->n; i++) {
        seen[i] = atomic_load(&e->workers[i]->iter);
        /* Cut a worker's wait in epoll short; at worst it would take a tick (1 s). */
        turnd_worker_wake(e->workers[i]);
    }
    for (unsigned i = 0; i < e->n; i++) {
        for (unsigned ms = 0; atomic_load(&e->workers[i]->iter) == seen[i]; ms++) {
            if (ms == ENGINE_SYNC_MS)
                return -ETIMEDOUT;
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}
