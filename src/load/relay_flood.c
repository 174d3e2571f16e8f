/* Flood generator: raw ChannelData over our own UDP sockets, as fast as the relay carries it.
 *
 * Each pair is two allocations that permit and channel-bind each other's relayed address, so
 * every packet crosses the server twice (client -> relay A -> relay B -> client). One thread
 * sends with sendmmsg, keeping at most --window packets in flight per direction (a direction
 * that makes no progress for 20 ms has its window written off as lost); one thread receives
 * with recvmmsg. No SRTP here: this measures the relay's packet rate, not the media path. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "relay_turn.h"

#define RELAY_FLOOD_BATCH 32
#define RELAY_FLOOD_STALL_NS 20000000
#define RELAY_FLOOD_CHANNEL 0x4000
#define RELAY_FLOOD_HDR 16 /* sequence number, send time */
#define RELAY_FLOOD_MAX 1400
#define RELAY_FLOOD_SOCKBUF (4 << 20)

/* One direction of a pair: sent on tx_fd, received on the other allocation's socket. */
struct relay_dir {
    int tx_fd;
    int rx_fd;
    uint64_t next_seq; /* sender thread only */
    uint64_t skip_to;  /* sender thread only */
    int64_t stall_since;
    uint64_t max_rx;    /* highest sequence + 1 seen; written by the receiver, atomically */
    struct relay_rx rx; /* receiver thread only */
};

struct relay_pair {
    struct relay_turn a;
    struct relay_turn b;
    struct relay_dir ab;
    struct relay_dir ba;
};

struct relay_flood {
    const struct relay_opts *opts;
    struct relay_pair *pairs;
    unsigned npairs;
    int epfd;
    int stop;  /* atomic */
    int quiet; /* atomic: stop sending */
    bool started;
    pthread_t sender;
    pthread_t receiver;
    pthread_mutex_t lock;
    struct relay_stats stats;
};

static void relay_put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8); /* both ends are this process: host order is fine */
}

static uint64_t relay_get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

/* Sends up to one batch on d; returns how many packets the kernel took. */
static unsigned relay_flood_send_dir(struct relay_flood *f, struct relay_dir *d, int64_t now)
{
    static __thread uint8_t bufs[RELAY_FLOOD_BATCH][4 + RELAY_FLOOD_MAX];
    struct mmsghdr msgs[RELAY_FLOOD_BATCH];
    struct iovec iov[RELAY_FLOOD_BATCH];
    uint64_t acked = __atomic_load_n(&d->max_rx, __ATOMIC_ACQUIRE);
    uint64_t base = acked > d->skip_to ? acked : d->skip_to;
    uint64_t inflight = d->next_seq - base;
    size_t len = 4 + f->opts->size;
    unsigned n;
    unsigned i;
    int rc;

    if (inflight >= f->opts->window) {
        if (d->stall_since == 0) {
            d->stall_since = now;
        } else if (now - d->stall_since > RELAY_FLOOD_STALL_NS) {
            d->skip_to = d->next_seq; /* written off: counted as loss by sent - received */
            d->stall_since = 0;
        }
        return 0;
    }
    d->stall_since = 0;
    n = f->opts->window - (unsigned)inflight;
    n = n > RELAY_FLOOD_BATCH ? RELAY_FLOOD_BATCH : n;
    memset(msgs, 0, sizeof(msgs[0]) * n);
    for (i = 0; i < n; i++) {
        uint8_t *p = bufs[i];
        turn_put_channel_header(p, RELAY_FLOOD_CHANNEL, f->opts->size);
        relay_put64(p + 4, d->next_seq + i);
        relay_put64(p + 12, (uint64_t)now);
        iov[i].iov_base = p;
        iov[i].iov_len = len;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    rc = sendmmsg(d->tx_fd, msgs, n, MSG_DONTWAIT);
    if (rc <= 0) {
        return 0;
    }
    d->next_seq += (unsigned)rc;
    return (unsigned)rc;
}

static void *relay_flood_sender(void *data)
{
    struct relay_flood *f = data;
    const struct timespec nap = {.tv_nsec = 20000};

    while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
        int64_t now = relay_now_ns();
        uint64_t sent = 0;
        unsigned i;

        if (__atomic_load_n(&f->quiet, __ATOMIC_RELAXED)) {
            nanosleep(&nap, NULL);
            continue;
        }
        for (i = 0; i < f->npairs; i++) {
            sent += relay_flood_send_dir(f, &f->pairs[i].ab, now);
            sent += relay_flood_send_dir(f, &f->pairs[i].ba, now);
        }
        if (sent == 0) {
            nanosleep(&nap, NULL); /* every window full: give the relay the CPU */
            continue;
        }
        pthread_mutex_lock(&f->lock);
        f->stats.sent += sent;
        pthread_mutex_unlock(&f->lock);
    }
    return NULL;
}

/* Drains one socket; every packet on it belongs to direction d. */
static void relay_flood_drain(struct relay_flood *f, int fd, struct relay_dir *d)
{
    static __thread uint8_t bufs[64][4 + RELAY_FLOOD_MAX + 4];
    struct mmsghdr msgs[64];
    struct iovec iov[64];
    int rc;
    int i;

    do {
        for (i = 0; i < 64; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = sizeof(bufs[i]);
            memset(&msgs[i], 0, sizeof(msgs[i]));
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        rc = recvmmsg(fd, msgs, 64, MSG_DONTWAIT, NULL);
        if (rc <= 0) {
            return;
        }
        int64_t now = relay_now_ns();
        uint64_t top = d->max_rx;
        pthread_mutex_lock(&f->lock);
        for (i = 0; i < rc; i++) {
            const uint8_t *p = bufs[i];
            if (msgs[i].msg_len < 4 + RELAY_FLOOD_HDR || !turn_is_channel_data(p, 4)) {
                f->stats.other_failures++;
                continue;
            }
            uint64_t seq = relay_get64(p + 4);
            top = seq + 1 > top ? seq + 1 : top;
            relay_rx_account(&d->rx, &f->stats, seq, (int64_t)relay_get64(p + 12), now,
                             msgs[i].msg_len);
        }
        pthread_mutex_unlock(&f->lock);
        __atomic_store_n(&d->max_rx, top, __ATOMIC_RELEASE);
    } while (rc == 64);
}

static void *relay_flood_receiver(void *data)
{
    struct relay_flood *f = data;
    struct epoll_event ev[64];

    while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
        int n = epoll_wait(f->epfd, ev, 64, 100);
        for (int i = 0; i < n; i++) {
            struct relay_dir *d = ev[i].data.ptr;
            relay_flood_drain(f, d->rx_fd, d);
        }
    }
    return NULL;
}

static void relay_flood_tune(int fd)
{
    int size = RELAY_FLOOD_SOCKBUF;

    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Allocates both sides of pair i and binds each to the other's relayed address. */
static int relay_pair_open(struct relay_flood *f, unsigned i, char *err, size_t errlen)
{
    struct relay_pair *p = &f->pairs[i];
    struct epoll_event ev = {.events = EPOLLIN};
    int rc;

    p->a.fd = p->b.fd = -1;
    rc = relay_turn_open(&p->a, f->opts, 2 * i + 1, err, errlen);
    rc = rc ? rc : relay_turn_open(&p->b, f->opts, 2 * i + 2, err, errlen);
    rc = rc ? rc : relay_turn_allocate(&p->a, err, errlen);
    rc = rc ? rc : relay_turn_allocate(&p->b, err, errlen);
    rc = rc ? rc : relay_turn_permit(&p->a, &p->b.relayed, err, errlen);
    rc = rc ? rc : relay_turn_permit(&p->b, &p->a.relayed, err, errlen);
    rc = rc ? rc : relay_turn_bind(&p->a, &p->b.relayed, RELAY_FLOOD_CHANNEL, err, errlen);
    rc = rc ? rc : relay_turn_bind(&p->b, &p->a.relayed, RELAY_FLOOD_CHANNEL, err, errlen);
    if (rc < 0) {
        return rc;
    }
    relay_flood_tune(p->a.fd);
    relay_flood_tune(p->b.fd);
    p->ab.tx_fd = p->a.fd;
    p->ba.tx_fd = p->b.fd;
    p->ab.rx_fd = p->b.fd; /* a -> b arrives on b's socket */
    p->ba.rx_fd = p->a.fd;
    ev.data.ptr = &p->ab;
    rc = epoll_ctl(f->epfd, EPOLL_CTL_ADD, p->b.fd, &ev);
    ev.data.ptr = &p->ba;
    if (rc == 0) {
        rc = epoll_ctl(f->epfd, EPOLL_CTL_ADD, p->a.fd, &ev);
    }
    if (rc < 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

struct relay_flood *relay_flood_create(const struct relay_opts *o, char *err, size_t errlen)
{
    struct relay_flood *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->opts = o;
    f->epfd = epoll_create1(EPOLL_CLOEXEC);
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

int relay_flood_add(struct relay_flood *f, unsigned n, char *err, size_t errlen)
{
    unsigned i;
    int rc = 0;

    if (f->started) {
        snprintf(err, errlen, "the flood profile cannot add pairs while running");
        return -EBUSY;
    }
    f->pairs = calloc(n, sizeof(*f->pairs));
    if (f->pairs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (i = 0; i < n && rc == 0; i++) {
        rc = relay_pair_open(f, i, err, errlen);
        f->npairs = i + 1;
    }
    f->stats.calls_up = rc == 0 ? n : 0;
    if (rc == 0 && (pthread_create(&f->receiver, NULL, relay_flood_receiver, f) != 0 ||
                    pthread_create(&f->sender, NULL, relay_flood_sender, f) != 0)) {
        snprintf(err, errlen, "cannot start flood threads");
        rc = -EAGAIN;
    }
    f->started = rc == 0;
    return rc;
}

void relay_flood_snapshot(struct relay_flood *f, struct relay_stats *out)
{
    pthread_mutex_lock(&f->lock);
    memcpy(out, &f->stats, sizeof(*out));
    pthread_mutex_unlock(&f->lock);
}

void relay_flood_quiesce(struct relay_flood *f)
{
    __atomic_store_n(&f->quiet, 1, __ATOMIC_RELAXED);
}

void relay_flood_destroy(struct relay_flood *f)
{
    unsigned i;

    __atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
    if (f->started) {
        pthread_join(f->sender, NULL);
        pthread_join(f->receiver, NULL);
    }
    for (i = 0; i < f->npairs; i++) {
        relay_turn_release(&f->pairs[i].a);
        relay_turn_release(&f->pairs[i].b);
    }
    if (f->epfd >= 0) {
        close(f->epfd);
    }
    pthread_mutex_destroy(&f->lock);
    free(f->pairs);
    free(f);
}
