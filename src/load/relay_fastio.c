/* The batched media path: threads that own the handed-over sockets of established calls, send
 * each side's due SRTP packets with sendmmsg and drain ready sockets with recvmmsg.
 *
 * Framing: a side sends ChannelData on the channel the server uses towards it (libnice bound it
 * during ICE; learnt from the first ChannelData that arrives), and Send indications until then.
 * Arrival times are the kernel's (SO_TIMESTAMPNS, CLOCK_REALTIME, which also stamps the send
 * time in the packet), so draining a socket late does not add to the measured delay. STUN on
 * a handed-over socket (libnice's keepalives from the other agent, the server's answers to
 * libnice's refreshes) is counted and dropped: the server acts on the refreshes either way. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "relay_fast.h"
#include "vc/stun.h"

#define RELAY_FAST_BATCH 16   /* datagrams per recvmmsg / sendmmsg */
#define RELAY_FAST_ROUNDS 4   /* recvmmsg calls per ready socket per wake-up */
#define RELAY_FAST_EVENTS 256 /* epoll events per wake-up */
#define RELAY_FAST_TICK_NS 2000000
#define RELAY_FAST_LATE_NS                                                                         \
    10000000                  /* a packet this late after its slot: the loader fell behind         \
                               */
#define RELAY_FAST_FRAME 1600 /* framed datagram: SRTP packet plus Send indication headers */
#define RELAY_FAST_CTRL 64

/* Scratch buffers of one thread (heap: 60 KiB). */
struct relay_fbufs {
    struct mmsghdr msg[RELAY_FAST_BATCH];
    struct iovec iov[RELAY_FAST_BATCH];
    uint8_t data[RELAY_FAST_BATCH][RELAY_FAST_FRAME];
    uint8_t ctrl[RELAY_FAST_BATCH][RELAY_FAST_CTRL];
    uint8_t rtp[RELAY_PKT_MAX + SRTP_MAX_TRAILER_LEN];
};

struct relay_fthread {
    struct relay_fast *f;
    pthread_t thread;
    int epfd;
    pthread_mutex_t lock;         /* guards pending and stats */
    struct relay_fcall **pending; /* handed over, not yet taken by the thread */
    size_t npending, cap_pending;
    struct relay_fcall **calls; /* thread only */
    size_t ncalls, cap_calls;
    uint32_t txid; /* Send indication transaction ids: unique, not secret */
    struct relay_fbufs *b;
    struct relay_stats stats;
};

struct relay_fast {
    union vc_addr server;
    double pps;
    size_t packet_len;
    const int *sending;
    int stop; /* atomic */
    unsigned next;
    unsigned n;
    struct relay_fthread **t;
};

static int64_t relay_fast_realtime(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Frames an SRTP packet for the server into out; returns the length or a negative errno. */
static int relay_fast_frame(struct relay_fthread *t, const struct relay_fside *s,
                            const uint8_t *pkt, size_t len, uint8_t *out)
{
    struct stun_builder b;
    uint8_t txid[STUN_TXID_LEN] = {0};

    if (s->channel != 0) {
        turn_put_channel_header(out, s->channel, len);
        memcpy(out + TURN_CHANNEL_HEADER_LEN, pkt, len);
        return (int)(len + TURN_CHANNEL_HEADER_LEN);
    }
    t->txid++;
    t->stats.send_indications++;
    memcpy(txid, &t->txid, sizeof(t->txid));
    stun_build_init(&b, out, RELAY_FAST_FRAME, TURN_SEND, STUN_INDICATION, txid);
    stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &s->peer);
    stun_build_attr(&b, TURN_ATTR_DATA, pkt, len);
    return stun_build_finish(&b);
}

/* Sends what the pacing says is due on one side, in one sendmmsg; counts the packets that go
 * out over RELAY_FAST_LATE_NS after their slot (slot i is due at start + i / pps). */
static void relay_fast_send_side(struct relay_fthread *t, struct relay_fside *s, uint64_t due,
                                 int64_t since_start)
{
    struct relay_fbufs *b = t->b;
    uint64_t skipped = 0;
    uint64_t first = s->t.slot;
    unsigned n = relay_rtp_due(&s->t, due, &skipped);
    unsigned k = 0;
    int sent;

    t->stats.skipped += skipped;
    for (unsigned i = 0; i < n; i++) {
        t->stats.late_sent +=
            since_start - (int64_t)((double)(first + i) * 1e9 / t->f->pps) > RELAY_FAST_LATE_NS;
    }
    for (unsigned i = 0; i < n; i++) {
        int len = relay_rtp_build(&s->t, s->tx, b->rtp, t->f->packet_len, relay_fast_realtime());
        int flen = len < 0 ? len : relay_fast_frame(t, s, b->rtp, (size_t)len, b->data[k]);
        if (flen < 0) {
            t->stats.other_failures++;
            continue;
        }
        b->iov[k] = (struct iovec){.iov_base = b->data[k], .iov_len = (size_t)flen};
        b->msg[k].msg_hdr = (struct msghdr){.msg_name = &t->f->server.sa,
                                            .msg_namelen = addr_len(&t->f->server),
                                            .msg_iov = &b->iov[k],
                                            .msg_iovlen = 1};
        k++;
    }
    if (k == 0) {
        return;
    }
    sent = sendmmsg(s->fd, b->msg, k, MSG_DONTWAIT);
    t->stats.mmsg_send_calls++;
    if (sent > 0) {
        t->stats.sent += (uint64_t)sent;
        t->stats.mmsg_sent += (uint64_t)sent;
    }
}

/* The media payload of a datagram from the server, or NULL for STUN the loader drops. */
static uint8_t *relay_fast_unframe(struct relay_fside *s, uint8_t *buf, size_t len, size_t *plen)
{
    struct stun_msg m;
    const struct stun_attr *a;

    if (turn_is_channel_data(buf, len)) {
        size_t dlen = (size_t)buf[2] << 8 | buf[3];
        if (dlen + TURN_CHANNEL_HEADER_LEN > len) {
            return NULL;
        }
        if (s->channel == 0) {
            s->channel = (uint16_t)(buf[0] << 8 | buf[1]);
        }
        *plen = dlen;
        return buf + TURN_CHANNEL_HEADER_LEN;
    }
    if (stun_parse(&m, buf, len) < 0 || m.method != TURN_DATA || m.cls != STUN_INDICATION ||
        (a = stun_find(&m, TURN_ATTR_DATA)) == NULL) {
        return NULL;
    }
    *plen = a->len;
    return buf + a->off;
}

/* The kernel's arrival time of a received datagram (or now), and the drops on its socket. */
static int64_t relay_fast_cmsg(struct msghdr *h, struct relay_fside *s, struct relay_stats *st)
{
    int64_t at = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            uint32_t drops;
            memcpy(&drops, CMSG_DATA(c), sizeof(drops));
            st->rx_overflow += (uint32_t)(drops - s->overflow);
            s->overflow = drops;
        }
    }
    return at != 0 ? at : relay_fast_realtime();
}

static void relay_fast_account(struct relay_fthread *t, struct relay_fside *s, unsigned i)
{
    struct relay_fbufs *b = t->b;
    size_t plen = 0;
    int64_t at = relay_fast_cmsg(&b->msg[i].msg_hdr, s, &t->stats);
    uint8_t *p = relay_fast_unframe(s, b->data[i], b->msg[i].msg_len, &plen);

    /* RTP is version 2 (top bits 10); STUN (00) here is libnice's keepalive from the peer. */
    if (p == NULL || plen == 0 || (p[0] & 0xC0) != 0x80) {
        t->stats.stun_dropped++;
        return;
    }
    relay_rtp_receive(s->rx, &s->rxstate, &t->stats, p, plen, at);
}

/* Drains a ready socket with a few recvmmsg calls (level-triggered epoll comes back for more). */
static void relay_fast_drain(struct relay_fthread *t, struct relay_fside *s)
{
    struct relay_fbufs *b = t->b;

    for (int round = 0; round < RELAY_FAST_ROUNDS; round++) {
        int n;
        for (unsigned i = 0; i < RELAY_FAST_BATCH; i++) {
            b->iov[i] = (struct iovec){.iov_base = b->data[i], .iov_len = RELAY_FAST_FRAME};
            b->msg[i].msg_hdr = (struct msghdr){.msg_iov = &b->iov[i],
                                                .msg_iovlen = 1,
                                                .msg_control = b->ctrl[i],
                                                .msg_controllen = RELAY_FAST_CTRL};
        }
        n = recvmmsg(s->fd, b->msg, RELAY_FAST_BATCH, MSG_DONTWAIT, NULL);
        t->stats.mmsg_recv_calls++;
        if (n <= 0) {
            return;
        }
        t->stats.mmsg_received += (uint64_t)n;
        for (int i = 0; i < n; i++) {
            relay_fast_account(t, s, (unsigned)i);
        }
        if (n < RELAY_FAST_BATCH) {
            return;
        }
    }
}

/* Moves the calls handed over since the last wake-up into the thread's own list and epoll. */
static void relay_fast_take(struct relay_fthread *t)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->npending; i++) {
        struct relay_fcall *c = t->pending[i];
        if (t->ncalls == t->cap_calls) {
            size_t cap = t->cap_calls ? 2 * t->cap_calls : 64;
            struct relay_fcall **calls = realloc(t->calls, cap * sizeof(*calls));
            if (calls == NULL) {
                t->stats.calls_failed++;
                snprintf(t->stats.last_error, sizeof(t->stats.last_error), "out of memory");
                break;
            }
            t->calls = calls;
            t->cap_calls = cap;
        }
        t->calls[t->ncalls++] = c;
        for (int k = 0; k < 2; k++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->s[k]};
            (void)epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->s[k].fd, &ev);
        }
    }
    t->npending = 0;
    pthread_mutex_unlock(&t->lock);
}

static void relay_fast_send_due(struct relay_fthread *t, int64_t now)
{
    for (size_t i = 0; i < t->ncalls; i++) {
        struct relay_fcall *c = t->calls[i];
        uint64_t due = (uint64_t)((double)(now - c->media_start_ns) * t->f->pps / 1e9) + 1;
        relay_fast_send_side(t, &c->s[0], due, now - c->media_start_ns);
        relay_fast_send_side(t, &c->s[1], due, now - c->media_start_ns);
    }
}

static void *relay_fast_main(void *data)
{
    struct relay_fthread *t = data;
    struct epoll_event ev[RELAY_FAST_EVENTS];
    int64_t next_tick = relay_now_ns();

    while (!__atomic_load_n(&t->f->stop, __ATOMIC_ACQUIRE)) {
        int64_t now = relay_now_ns();
        int wait_ms = next_tick > now ? (int)((next_tick - now + 999999) / 1000000) : 0;
        int n = epoll_wait(t->epfd, ev, RELAY_FAST_EVENTS, wait_ms);

        relay_fast_take(t);
        pthread_mutex_lock(&t->lock);
        for (int i = 0; i < n; i++) {
            relay_fast_drain(t, ev[i].data.ptr);
        }
        now = relay_now_ns();
        if (now >= next_tick) {
            if (__atomic_load_n(t->f->sending, __ATOMIC_ACQUIRE)) {
                relay_fast_send_due(t, now);
            }
            next_tick = now - next_tick > RELAY_FAST_TICK_NS ? now + RELAY_FAST_TICK_NS
                                                             : next_tick + RELAY_FAST_TICK_NS;
        }
        pthread_mutex_unlock(&t->lock);
    }
    return NULL;
}

static void relay_fcall_free(struct relay_fcall *c)
{
    for (int k = 0; k < 2; k++) {
        if (c->s[k].fd >= 0) {
            close(c->s[k].fd);
        }
        if (c->s[k].tx != NULL) {
            srtp_dealloc(c->s[k].tx);
        }
        if (c->s[k].rx != NULL) {
            srtp_dealloc(c->s[k].rx);
        }
    }
    free(c);
}

static void relay_fthread_free(struct relay_fthread *t)
{
    for (size_t i = 0; i < t->ncalls; i++) {
        relay_fcall_free(t->calls[i]);
    }
    for (size_t i = 0; i < t->npending; i++) {
        relay_fcall_free(t->pending[i]);
    }
    if (t->epfd >= 0) {
        close(t->epfd);
    }
    pthread_mutex_destroy(&t->lock);
    free(t->calls);
    free(t->pending);
    free(t->b);
    free(t);
}

/* Creates thread i of f; returns 0 or a negative errno. */
static int relay_fthread_start(struct relay_fast *f, unsigned i)
{
    struct relay_fthread *t = calloc(1, sizeof(*t));
    int rc;

    if (t == NULL) {
        return -ENOMEM;
    }
    t->f = f;
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->b = calloc(1, sizeof(*t->b));
    pthread_mutex_init(&t->lock, NULL);
    if (t->epfd < 0 || t->b == NULL) {
        relay_fthread_free(t);
        return -ENOMEM;
    }
    rc = pthread_create(&t->thread, NULL, relay_fast_main, t);
    if (rc != 0) {
        relay_fthread_free(t);
        return -rc;
    }
    f->t[i] = t;
    return 0;
}

struct relay_fast *relay_fast_create(unsigned nthreads, const union vc_addr *server, double pps,
                                     size_t packet_len, const int *sending, char *err,
                                     size_t errlen)
{
    struct relay_fast *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->t = calloc(nthreads, sizeof(*f->t))) == NULL) {
        free(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->server = *server;
    f->pps = pps;
    f->packet_len = packet_len;
    f->sending = sending;
    for (; f->n < nthreads; f->n++) {
        int rc = relay_fthread_start(f, f->n);
        if (rc < 0) {
            snprintf(err, errlen, "media thread: %s", strerror(-rc));
            relay_fast_destroy(f);
            return NULL;
        }
    }
    return f;
}

void relay_fast_add(struct relay_fast *f, struct relay_fcall *c)
{
    unsigned i = __atomic_fetch_add(&f->next, 1, __ATOMIC_RELAXED) % f->n;
    struct relay_fthread *t = f->t[i];
    int one = 1;

    for (int k = 0; k < 2; k++) {
        (void)setsockopt(c->s[k].fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
        (void)setsockopt(c->s[k].fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
    }
    pthread_mutex_lock(&t->lock);
    if (t->npending == t->cap_pending) {
        size_t cap = t->cap_pending ? 2 * t->cap_pending : 64;
        struct relay_fcall **p = realloc(t->pending, cap * sizeof(*p));
        if (p == NULL) {
            t->stats.calls_failed++;
            pthread_mutex_unlock(&t->lock);
            relay_fcall_free(c);
            return;
        }
        t->pending = p;
        t->cap_pending = cap;
    }
    t->pending[t->npending++] = c;
    pthread_mutex_unlock(&t->lock);
}

void relay_fast_snapshot(struct relay_fast *f, struct relay_stats *out)
{
    for (unsigned i = 0; i < f->n; i++) {
        pthread_mutex_lock(&f->t[i]->lock);
        relay_stats_add(out, out, &f->t[i]->stats);
        pthread_mutex_unlock(&f->t[i]->lock);
    }
}

void relay_fast_destroy(struct relay_fast *f)
{
    if (f == NULL) {
        return;
    }
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < f->n; i++) {
        pthread_join(f->t[i]->thread, NULL);
        relay_fthread_free(f->t[i]);
    }
    free(f->t);
    free(f);
}
