/* Bench stand-in loader: TURN ChannelData flood through two relays, allocation rate and memory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/rand.h>

#include "vc/addr.h"
#include "vc/rest_cred.h"
#include "vc/stun.h"
#include "turnc.h"

#define FLOOD_BATCH 64
#define FLOOD_MAX_PAIRS 512
#define FLOOD_MAX_PARALLEL 256
#define FLOOD_MAX_HOLD 20000
#define FLOOD_MAX_SAMPLES (4u << 20)
#define FLOOD_MAX_PKT 1400
#define FLOOD_TXN_TIMEOUT_NS 1000000000LL
#define FLOOD_SOCKBUF (8 << 20)
#define FLOOD_NS 1000000000LL
/* Flood mode: packets in flight at most (enough to keep a batching server busy). */
#define FLOOD_WINDOW 2048

struct flood_opts {
    const char *mode;
    union vc_addr server; /* TURN server, or the forwarder in direct mode */
    union vc_addr sink;   /* direct mode: where the forwarder delivers */
    bool direct;
    const char *secret;
    double duration;
    double rate; /* packets per second over all pairs; 0 = as fast as possible */
    unsigned size;
    unsigned pairs;
    unsigned parallel;
    unsigned count;
    int server_pid;
    const char *json;
};

/* One TURN client 5-tuple: its credential state and socket. */
struct flood_client {
    struct turnc t;
    int fd;
    /* Async state (alloc and hold modes). */
    int state;
    int64_t sent_at;
    int64_t started_at;
};

struct flood_stats {
    uint64_t sent;
    uint64_t received;
    double seconds;
    uint32_t *lat_ns;
    size_t nlat;
};

static int64_t flood_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * FLOOD_NS + ts.tv_nsec;
}

/* Server CPU (utime + stime, seconds) from /proc/PID/stat; -1 if unreadable. */
/* This process's own user+system CPU seconds so far. */
static double flood_self_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double flood_proc_cpu(int pid)
{
    char path[64], buf[2048];
    unsigned long ut = 0, st = 0;
    const char *p;
    ssize_t n;
    int fd;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    p = strrchr(buf, ')');
    /* After ") " come state(3) ... utime(14) stime(15): skip 11 fields. */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The machine's busy CPU seconds so far, every core (user, nice, system, irq, softirq, steal),
 * from /proc/stat; -1 if unreadable. */
static double flood_machine_cpu(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n;

    if (!f)
        return -1;
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return -1;
    /* Not idle (3) or iowait (4). */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* Resident set size of PID in KiB from /proc/PID/status; -1 if unreadable. */
static long flood_proc_rss(int pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int flood_socket(const union vc_addr *bind_to, const union vc_addr *connect_to);

/* A socket from a distinct loopback source address (127.net.0.0/16, by id), so that allocations
 * look like separate clients and a 5-tuple a server may still remember is not reused at once. */
static int flood_socket_from(unsigned net, unsigned id, const union vc_addr *connect_to)
{
    union vc_addr src;

    memset(&src, 0, sizeof(src));
    src.v4.sin_family = AF_INET;
    src.v4.sin_addr.s_addr = htonl(0x7F000000u + ((net & 0xFFu) << 16) + (id & 0xFFFFu));
    return flood_socket(&src, connect_to);
}

static int flood_socket(const union vc_addr *bind_to, const union vc_addr *connect_to)
{
    union vc_addr any;
    int fd, sz = FLOOD_SOCKBUF;

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    /* SO_RCVBUFFORCE lifts the rmem_max cap when we are root; ignore failure. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
    if (!bind_to) {
        memset(&any, 0, sizeof(any));
        any.v4.sin_family = AF_INET;
        any.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind_to = &any;
    }
    if (bind(fd, &bind_to->sa, addr_len(bind_to)) < 0 ||
        (connect_to && connect(fd, &connect_to->sa, addr_len(connect_to)) < 0)) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Gives the client a fresh REST username (unique id) and its password. */
static int flood_client_init(struct flood_client *c, const struct flood_opts *o, unsigned id)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    return turnc_init(&c->t, o->secret, id);
}

static int flood_build(struct flood_client *c, const struct turnc_req *r, uint8_t *buf, size_t cap)
{
    return turnc_build(&c->t, r, buf, cap);
}

static int flood_handle(struct flood_client *c, const uint8_t *buf, size_t len)
{
    return turnc_handle(&c->t, buf, len);
}

/* One request, waited for synchronously (setup of the flood pairs). */
static int flood_txn(struct flood_client *c, const struct turnc_req *r)
{
    uint8_t buf[1500];
    int attempt, len, rc = -ETIMEDOUT;

    for (attempt = 0; attempt < 6; attempt++) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int64_t deadline;

        len = flood_build(c, r, buf, sizeof(buf));
        if (len < 0)
            return len;
        if (send(c->fd, buf, (size_t)len, 0) < 0)
            return -errno;
        deadline = flood_now() + 500000000LL;
        rc = -ETIMEDOUT;
        while (flood_now() < deadline) {
            ssize_t n;

            if (poll(&pfd, 1, 50) <= 0)
                continue;
            n = recv(c->fd, buf, sizeof(buf), 0);
            if (n <= 0)
                continue;
            rc = flood_handle(c, buf, (size_t)n);
            if (rc != -ENOENT)
                break;
        }
        if (rc == 0 || rc == -EPROTO)
            return rc;
    }
    return rc;
}

/* One direction of traffic: client a sends through its relay to b's relay, which delivers to b. */
static int flood_setup_pair(struct flood_client *a, struct flood_client *b,
                            const struct flood_opts *o, unsigned id)
{
    struct turnc_req alloc = {.method = TURN_ALLOCATE, .lifetime = 600, .transport = true};
    struct flood_client *side[2] = {a, b};
    int i, rc;

    for (i = 0; i < 2; i++) {
        if ((rc = flood_client_init(side[i], o, id * 2 + (unsigned)i)) < 0)
            return rc;
        /* 127.3.0.0/16, varied by pid: trials in a row never reuse a 5-tuple. */
        side[i]->fd =
            flood_socket_from(3, (unsigned)getpid() * 64 + id * 2 + (unsigned)i, &o->server);
        if (side[i]->fd < 0)
            return side[i]->fd;
        if ((rc = flood_txn(side[i], &alloc)) < 0) {
            fprintf(stderr, "flood: allocate failed: %s\n", strerror(-rc));
            return rc;
        }
    }
    for (i = 0; i < 2; i++) {
        struct flood_client *other = side[1 - i];
        struct turnc_req perm = {
            .method = TURN_CREATE_PERMISSION, .peer = &other->t.relay, .lifetime = -1};
        struct turnc_req bind = {.method = TURN_CHANNEL_BIND,
                                 .peer = &other->t.relay,
                                 .channel = TURN_CHANNEL_MIN,
                                 .lifetime = -1};

        if ((rc = flood_txn(side[i], &perm)) < 0 || (rc = flood_txn(side[i], &bind)) < 0) {
            fprintf(stderr, "flood: permission/channel failed: %s\n", strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static void flood_put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint64_t flood_get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Drains every receiver without blocking; records counts and one-way delays. */
/* Reads what the receivers hold: those epoll (epfd) reports readable, waiting at most wait_ns. */
static void flood_drain(int epfd, const int *rx, unsigned hdr, struct flood_stats *st,
                        int64_t wait_ns)
{
    struct epoll_event ev[FLOOD_MAX_PAIRS];
    struct timespec ts = {wait_ns / FLOOD_NS, wait_ns % FLOOD_NS};
    int nev = epoll_pwait2(epfd, ev, FLOOD_MAX_PAIRS, &ts, NULL);
    static __thread uint8_t bufs[FLOOD_BATCH][FLOOD_MAX_PKT + 64];
    struct mmsghdr msgs[FLOOD_BATCH];
    struct iovec iov[FLOOD_BATCH];
    unsigned i;
    int k, got;

    for (k = 0; k < FLOOD_BATCH; k++) {
        iov[k].iov_base = bufs[k];
        iov[k].iov_len = sizeof(bufs[k]);
        memset(&msgs[k], 0, sizeof(msgs[k]));
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
    }
    for (int e = 0; e < nev; e++) {
        i = ev[e].data.u32;
        while ((got = recvmmsg(rx[i], msgs, FLOOD_BATCH, MSG_DONTWAIT, NULL)) > 0) {
            int64_t now = flood_now();

            for (k = 0; k < got; k++) {
                if (msgs[k].msg_len < hdr + 16)
                    continue;
                if (hdr && !turn_is_channel_data(bufs[k], msgs[k].msg_len))
                    continue;
                st->received++;
                if (st->nlat < FLOOD_MAX_SAMPLES) {
                    int64_t d = now - (int64_t)flood_get64(bufs[k] + hdr + 8);
                    st->lat_ns[st->nlat++] = d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
                }
            }
            if (got < FLOOD_BATCH)
                break;
        }
    }
}

/* Sends up to want packets on fd (ChannelData when hdr is 4). Returns how many the kernel took. */
static unsigned flood_send(int fd, unsigned hdr, unsigned size, unsigned want, uint64_t *seq)
{
    static __thread uint8_t bufs[FLOOD_BATCH][FLOOD_MAX_PKT];
    struct mmsghdr msgs[FLOOD_BATCH];
    struct iovec iov[FLOOD_BATCH];
    int64_t now = flood_now();
    unsigned k;
    int got;

    if (want > FLOOD_BATCH)
        want = FLOOD_BATCH;
    for (k = 0; k < want; k++) {
        uint8_t *p = bufs[k];

        if (hdr) {
            p[0] = TURN_CHANNEL_MIN >> 8;
            p[1] = TURN_CHANNEL_MIN & 0xFF;
            p[2] = (uint8_t)((size - hdr) >> 8);
            p[3] = (uint8_t)((size - hdr) & 0xFF);
        }
        flood_put64(p + hdr, *seq + k);
        flood_put64(p + hdr + 8, (uint64_t)now);
        iov[k].iov_base = p;
        iov[k].iov_len = size;
        memset(&msgs[k], 0, sizeof(msgs[k]));
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
    }
    got = sendmmsg(fd, msgs, want, MSG_DONTWAIT);
    if (got <= 0)
        return 0;
    *seq += (unsigned)got;
    return (unsigned)got;
}

/* The traffic loop. Paced (rate > 0): small bursts on schedule. Flood (rate 0): as fast as the
 * server takes it, keeping at most FLOOD_WINDOW packets in flight, so the client never outruns its
 * own receiver; a window that stops moving for 10 ms is written off as lost. Then a short drain. */
static void flood_run(const int *tx, const int *rx, unsigned n, unsigned hdr,
                      const struct flood_opts *o, struct flood_stats *st)
{
    int64_t start = flood_now(), end = start + (int64_t)(o->duration * FLOOD_NS), now;
    int64_t last_progress = start;
    unsigned burst = o->rate > 0 ? 8 : 32, next = 0;
    uint64_t seq = 0, written_off = 0, last_received = 0;
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    unsigned i;

    for (i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

        epoll_ctl(epfd, EPOLL_CTL_ADD, rx[i], &ev);
    }
    while ((now = flood_now()) < end) {
        if (o->rate > 0) {
            uint64_t due = (uint64_t)((double)(now - start) * o->rate / FLOOD_NS);

            if (due > st->sent) {
                unsigned want = due - st->sent > burst ? burst : (unsigned)(due - st->sent);

                st->sent += flood_send(tx[next], hdr, o->size, want, &seq);
                next = (next + 1) % n;
            } else {
                int64_t wait =
                    (int64_t)((double)(st->sent + burst) * FLOOD_NS / o->rate) - (now - start);

                flood_drain(epfd, rx, hdr, st, wait > 200000 ? 200000 : wait > 0 ? wait : 0);
                continue;
            }
        } else if (st->sent - st->received - written_off + burst <= FLOOD_WINDOW) {
            st->sent += flood_send(tx[next], hdr, o->size, burst, &seq);
            next = (next + 1) % n;
        } else {
            flood_drain(epfd, rx, hdr, st, 1000000);
            if (st->received != last_received) {
                last_received = st->received;
                last_progress = flood_now();
            } else if (flood_now() - last_progress > 10000000LL) {
                written_off = st->sent - st->received;
                last_progress = flood_now();
            }
        }
        flood_drain(epfd, rx, hdr, st, 0);
    }
    st->seconds = (double)(flood_now() - start) / FLOOD_NS;
    /* Let queued packets arrive: up to 300 ms, or 50 ms of silence. */
    end = flood_now() + 300000000LL;
    while (flood_now() < end) {
        uint64_t before = st->received;

        flood_drain(epfd, rx, hdr, st, 50000000);
        if (st->received == before)
            break;
    }
    close(epfd);
}

/* Deletes c's allocation (Refresh, lifetime 0) without waiting for the answer, and closes it. */
static void flood_release(struct flood_client *c)
{
    struct turnc_req r = {.method = TURN_REFRESH, .lifetime = 0};
    uint8_t buf[512];
    int len;

    if (c->fd < 0)
        return;
    len = flood_build(c, &r, buf, sizeof(buf));
    if (len > 0)
        send(c->fd, buf, (size_t)len, 0);
    close(c->fd);
    c->fd = -1;
}

static int flood_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static double flood_pct(const struct flood_stats *st, double q)
{
    size_t i;

    if (!st->nlat)
        return 0;
    i = (size_t)(q * (double)(st->nlat - 1));
    return st->lat_ns[i] / 1000.0;
}

static FILE *flood_out(const struct flood_opts *o)
{
    FILE *f = o->json ? fopen(o->json, "w") : stdout;

    if (!f) {
        fprintf(stderr, "flood: cannot write %s: %s\n", o->json, strerror(errno));
        return NULL;
    }
    return f;
}

static void flood_close_out(FILE *f)
{
    if (f != stdout)
        fclose(f);
    else
        fflush(f);
}

static int flood_mode_flood(const struct flood_opts *o)
{
    static struct flood_client a[FLOOD_MAX_PAIRS], b[FLOOD_MAX_PAIRS];
    int tx[FLOOD_MAX_PAIRS], rx[FLOOD_MAX_PAIRS];
    struct flood_stats st = {0};
    double cpu0, cpu1, mach0, mach1, self0, self1;
    unsigned i, hdr = o->direct ? 0 : TURN_CHANNEL_HEADER_LEN;
    long rss;
    FILE *f;
    int rc;

    for (i = 0; i < o->pairs; i++) {
        if (o->direct) {
            union vc_addr sink = o->sink;

            addr_set_port(&sink, (uint16_t)(addr_port(&o->sink) + i));
            tx[i] = flood_socket(NULL, &o->server);
            rx[i] = flood_socket(&sink, NULL);
            if (tx[i] < 0 || rx[i] < 0) {
                fprintf(stderr, "flood: socket: %s\n", strerror(-(tx[i] < 0 ? tx[i] : rx[i])));
                return 1;
            }
            continue;
        }
        if ((rc = flood_setup_pair(&a[i], &b[i], o, i)) < 0)
            return 1;
        tx[i] = a[i].fd;
        rx[i] = b[i].fd;
    }
    st.lat_ns = malloc(sizeof(uint32_t) * FLOOD_MAX_SAMPLES);
    if (!st.lat_ns)
        return 1;
    cpu0 = flood_proc_cpu(o->server_pid);
    mach0 = flood_machine_cpu();
    self0 = flood_self_cpu();
    flood_run(tx, rx, o->pairs, hdr, o, &st);
    cpu1 = flood_proc_cpu(o->server_pid);
    mach1 = flood_machine_cpu();
    self1 = flood_self_cpu();
    rss = flood_proc_rss(o->server_pid);
    qsort(st.lat_ns, st.nlat, sizeof(uint32_t), flood_cmp_u32);
    f = flood_out(o);
    if (!f)
        return 1;
    fprintf(f,
            "{\"mode\":\"flood\",\"calls\":%u,\"rate\":%.0f,\"seconds\":%.3f,\"sent\":%" PRIu64
            ",\"received\":%" PRIu64 ",\"pps\":%.1f,\"sent_pps\":%.1f,\"loss_pct\":%.4f,"
            "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f},\"server_cpu_s\":%.3f,"
            "\"server_rss_kb\":%ld,\"machine_cpu_s\":%.3f,\"loader_cpu_s\":%.3f}\n",
            o->pairs, o->rate, st.seconds, st.sent, st.received, st.received / st.seconds,
            st.sent / st.seconds,
            st.sent ? 100.0 * (double)(st.sent - (st.received > st.sent ? st.sent : st.received)) /
                          (double)st.sent
                    : 100.0,
            flood_pct(&st, 0.5), flood_pct(&st, 0.99), flood_pct(&st, 0.999),
            cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1.0, rss,
            mach0 >= 0 && mach1 >= 0 ? mach1 - mach0 : -1.0, self1 - self0);
    flood_close_out(f);
    free(st.lat_ns);
    for (i = 0; i < o->pairs && !o->direct; i++) {
        flood_release(&a[i]);
        flood_release(&b[i]);
    }
    return 0;
}

enum { FLOOD_ST_IDLE, FLOOD_ST_UNAUTH, FLOOD_ST_AUTH, FLOOD_ST_DELETE, FLOOD_ST_HELD };

/* Starts (or restarts) an allocation on a fresh 5-tuple. */
static int flood_alloc_start(struct flood_client *c, const struct flood_opts *o, unsigned id,
                             int64_t now)
{
    struct turnc_req r = {.method = TURN_ALLOCATE, .lifetime = 600, .transport = true};
    uint8_t buf[512];
    int rc, len;

    if (c->fd >= 0)
        close(c->fd);
    if ((rc = flood_client_init(c, o, id)) < 0)
        return rc;
    c->t.quiet = true;
    c->fd = flood_socket_from(2, id, &o->server);
    if (c->fd < 0)
        return c->fd;
    len = flood_build(c, &r, buf, sizeof(buf));
    if (len < 0 || send(c->fd, buf, (size_t)len, 0) < 0)
        return len < 0 ? len : -errno;
    c->state = FLOOD_ST_UNAUTH;
    c->sent_at = c->started_at = now;
    return 0;
}

/* Advances one client on a received datagram. Returns 1 when an allocation completed (hold mode:
 * allocated; alloc mode: allocated and deleted), 0 otherwise, or a negative errno. */
static int flood_alloc_step(struct flood_client *c, const uint8_t *buf, size_t len, bool hold,
                            int64_t now)
{
    struct turnc_req r = {.method = TURN_ALLOCATE, .lifetime = 600, .transport = true};
    uint8_t out[512];
    int rc, olen;

    rc = flood_handle(c, buf, len);
    if (rc == -ENOENT)
        return 0;
    if (rc == -EPROTO)
        return rc;
    if (rc == 0 && c->state == FLOOD_ST_DELETE) {
        c->state = FLOOD_ST_IDLE;
        return 1;
    }
    if (rc == 0 && hold) {
        c->state = FLOOD_ST_HELD;
        return 1;
    }
    if (rc == 0) {
        r.method = TURN_REFRESH;
        r.lifetime = 0;
        r.transport = false;
        c->state = FLOOD_ST_DELETE;
    } else {
        c->state = c->state == FLOOD_ST_DELETE ? FLOOD_ST_DELETE : FLOOD_ST_AUTH;
        if (c->state == FLOOD_ST_DELETE) {
            r.method = TURN_REFRESH;
            r.lifetime = 0;
            r.transport = false;
        }
    }
    olen = flood_build(c, &r, out, sizeof(out));
    if (olen < 0 || send(c->fd, out, (size_t)olen, 0) < 0)
        return olen < 0 ? olen : -errno;
    c->sent_at = now;
    return 0;
}

/* alloc: P parallel clients loop allocate/delete on fresh 5-tuples for the duration.
 * hold: allocate count allocations and keep them, to measure the server's RSS per allocation. */
static int flood_mode_alloc(const struct flood_opts *o, bool hold)
{
    unsigned n = hold ? o->count : o->parallel, par = o->parallel, i, next_id = 0, done = 0,
             active = 0, failed = 0, timeouts = 0;
    struct flood_client *cl = calloc(n, sizeof(*cl));
    struct pollfd *pfd = calloc(n, sizeof(*pfd));
    int64_t start, end, now;
    double cpu0, cpu1, secs, self0;
    long rss0, rss1;
    uint8_t buf[1500];
    struct rlimit rl;
    FILE *f;

    if (!cl || !pfd)
        return 1;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < n + 256) {
        rl.rlim_cur = n + 256;
        if (rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            fprintf(stderr, "flood: need %u file descriptors\n", n + 64);
            return 1;
        }
    }
    for (i = 0; i < n; i++)
        cl[i].fd = -1;
    rss0 = flood_proc_rss(o->server_pid);
    cpu0 = flood_proc_cpu(o->server_pid);
    self0 = flood_self_cpu();
    start = now = flood_now();
    end = start + (int64_t)(o->duration * FLOOD_NS);
    while (now < end && (!hold || done < n)) {
        /* Keep par requests in flight: hold mode starts new slots, alloc mode reuses them. */
        for (i = 0; i < n && active < par; i++) {
            if (cl[i].state != FLOOD_ST_IDLE || (hold && cl[i].fd >= 0))
                continue;
            if (flood_alloc_start(&cl[i], o, next_id++, now) < 0) {
                failed++;
                break;
            }
            active++;
        }
        for (i = 0; i < n; i++) {
            pfd[i].fd =
                cl[i].state == FLOOD_ST_IDLE || cl[i].state == FLOOD_ST_HELD ? -1 : cl[i].fd;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        poll(pfd, n, 20);
        now = flood_now();
        for (i = 0; i < n; i++) {
            int rc = 0;

            if (pfd[i].fd < 0)
                continue;
            if (pfd[i].revents & POLLIN) {
                ssize_t len = recv(cl[i].fd, buf, sizeof(buf), 0);

                if (len > 0)
                    rc = flood_alloc_step(&cl[i], buf, (size_t)len, hold, now);
            } else if (now - cl[i].sent_at > FLOOD_TXN_TIMEOUT_NS) {
                timeouts++;
                rc = -ETIMEDOUT;
            }
            if (rc == 1) {
                done++;
                active--;
                if (!hold) {
                    close(cl[i].fd);
                    cl[i].fd = -1;
                }
            } else if (rc < 0) {
                failed += rc != -ETIMEDOUT;
                active--;
                close(cl[i].fd);
                cl[i].fd = -1;
                cl[i].state = FLOOD_ST_IDLE;
            }
        }
        if (failed > 1000) {
            fprintf(stderr, "flood: too many failures\n");
            break;
        }
    }
    secs = (double)(now - start) / FLOOD_NS;
    cpu1 = flood_proc_cpu(o->server_pid);
    if (hold)
        usleep(500000);
    rss1 = flood_proc_rss(o->server_pid);
    f = flood_out(o);
    if (!f)
        return 1;
    fprintf(f,
            "{\"mode\":\"%s\",\"parallel\":%u,\"seconds\":%.3f,\"allocations\":%u,"
            "\"alloc_per_s\":%.1f,\"failed\":%u,\"timeouts\":%u,\"server_cpu_s\":%.3f,"
            "\"loader_cpu_s\":%.3f,\"server_rss_kb_before\":%ld,\"server_rss_kb\":%ld,"
            "\"rss_per_alloc_bytes\":%.0f}\n",
            hold ? "hold" : "alloc", par, secs, done, done / secs, failed, timeouts,
            cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1.0, flood_self_cpu() - self0, rss0, rss1,
            done && rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) * 1024.0 / done : -1.0);
    flood_close_out(f);
    /* Release held allocations politely (no wait for answers). */
    for (i = 0; i < n; i++) {
        if (cl[i].state == FLOOD_ST_HELD)
            flood_release(&cl[i]);
        else if (cl[i].fd >= 0)
            close(cl[i].fd);
    }
    free(cl);
    free(pfd);
    return hold && done < n ? 1 : 0;
}

static void flood_usage(FILE *f)
{
    fprintf(
        f, "usage: flood flood --server IP:PORT --secret S [--duration S] [--rate PPS] [--size B]\n"
           "                   [--calls N] [--server-pid PID] [--json F]\n"
           "       flood flood --direct IP:PORT --sink IP:PORT [...]   (raw UDP via a forwarder)\n"
           "       flood alloc --server IP:PORT --secret S [--duration S] [--parallel P] [...]\n"
           "       flood hold --server IP:PORT --secret S --count N [--parallel P] [...]\n"
           "Bench stand-in loader: ChannelData through two relays (client A -> relay A -> relay B\n"
           "-> client B), allocate/delete rate, and server RSS per held allocation. JSON out.\n");
}

static int flood_num(const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int flood_parse(struct flood_opts *o, int argc, char **argv)
{
    int i;

    o->duration = 5;
    o->size = 160;
    o->pairs = 1;
    o->parallel = 32;
    o->count = 2000;
    if (argc < 2)
        return -EINVAL;
    o->mode = argv[1];
    for (i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;

        if (!strcmp(k, "--help"))
            return -EINVAL;
        if (!v)
            return -EINVAL;
        i++;
        if (!strcmp(k, "--server") || !strcmp(k, "--direct")) {
            if (addr_parse(&o->server, v, 0) < 0 || o->server.sa.sa_family != AF_INET)
                return -EINVAL;
            o->direct = !strcmp(k, "--direct");
        } else if (!strcmp(k, "--sink")) {
            if (addr_parse(&o->sink, v, 0) < 0 || o->sink.sa.sa_family != AF_INET)
                return -EINVAL;
        } else if (!strcmp(k, "--secret")) {
            o->secret = v;
        } else if (!strcmp(k, "--json")) {
            o->json = v;
        } else if (flood_num(v, 0, 1e9, &d) < 0) {
            return -EINVAL;
        } else if (!strcmp(k, "--duration")) {
            o->duration = d;
        } else if (!strcmp(k, "--rate")) {
            o->rate = d;
        } else if (!strcmp(k, "--size") && d >= 4 + 16 && d <= FLOOD_MAX_PKT) {
            o->size = (unsigned)d;
        } else if (!strcmp(k, "--calls") && d >= 1 && d <= FLOOD_MAX_PAIRS) {
            o->pairs = (unsigned)d;
        } else if (!strcmp(k, "--parallel") && d >= 1 && d <= FLOOD_MAX_PARALLEL) {
            o->parallel = (unsigned)d;
        } else if (!strcmp(k, "--count") && d >= 1 && d <= FLOOD_MAX_HOLD) {
            o->count = (unsigned)d;
        } else if (!strcmp(k, "--server-pid")) {
            o->server_pid = (int)d;
        } else {
            return -EINVAL;
        }
    }
    if (!o->server.sa.sa_family || (o->direct ? !o->sink.sa.sa_family : !o->secret))
        return -EINVAL;
    if (o->duration <= 0 || o->duration > 600)
        return -EINVAL;
    return 0;
}

int main(int argc, char **argv)
{
    struct flood_opts o = {0};

    if (flood_parse(&o, argc, argv) < 0) {
        flood_usage(stderr);
        return 2;
    }
    if (!strcmp(o.mode, "flood"))
        return flood_mode_flood(&o);
    if (!o.direct && !strcmp(o.mode, "alloc"))
        return flood_mode_alloc(&o, false);
    if (!o.direct && !strcmp(o.mode, "hold"))
        return flood_mode_alloc(&o, true);
    flood_usage(stderr);
    return 2;
}
