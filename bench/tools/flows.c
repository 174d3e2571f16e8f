/* Bench many-flow loader: N TURN allocations (a credential and a source address each), each with
 * a permission and a channel to a peer sink; paced ChannelData (or a flood) client -> relay ->
 * peer; one-way delay, loss, and the server's, the machine's and the loader's own CPU. */
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "turnc.h"

#define FLOWS_MAX 20000
#define FLOWS_BATCH 64
#define FLOWS_MAX_PKT 1400
#define FLOWS_HDR 16 /* flow u32, seq u32, send time u64 (ns) */
#define FLOWS_MAX_SAMPLES (8u << 20)
#define FLOWS_NS 1000000000LL
#define FLOWS_SOCKBUF (32 << 20)
#define FLOWS_TXN_NS 500000000LL
#define FLOWS_TRIES 8

enum flows_step { STEP_ALLOC, STEP_PERM, STEP_BIND, STEP_READY, STEP_FAILED };

struct flows_opts {
    union vc_addr server;
    const char *secret;
    unsigned flows, size, window, parallel;
    double rate; /* per flow; 0: flood */
    double duration;
    int server_pid;
    bool setup_only, one_ip, reuse_nonce;
    const char *json;
};

struct flow {
    struct turnc t;
    enum flows_step step;
    unsigned tries;
    int64_t sent_at;
    union vc_addr src; /* the flow's source address */
    int fd;            /* one_ip: its own socket; else -1 (the shared socket) */
};

struct flows_run {
    const struct flows_opts *o;
    struct flow *f;
    int cs; /* the clients' shared socket (per-packet source addresses) */
    int sink;
    union vc_addr peer;
    atomic_bool stop;
    atomic_uint_fast64_t received;
    uint32_t *lat; /* receiver thread's samples, ns */
    size_t nlat;
    uint64_t refused; /* paced packets the loader's own socket could not take */
    bool nonce_known; /* --reuse-nonce: a challenge gave the nonce every later flow starts with */
};

static int64_t flows_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * FLOWS_NS + ts.tv_nsec;
}

/* ---- CPU accounting ---- */

/* The machine's busy CPU seconds over all cores (user, nice, system, irq, softirq, steal). */
static double flows_machine_cpu(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");

    if (!f)
        return -1;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return -1;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double flows_self_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double flows_proc_cpu(int pid)
{
    char path[64], buf[2048];
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (pid <= 0 || !(f = fopen(path, "r")))
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long flows_proc_rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (pid <= 0 || !(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof(line), f) && sscanf(line, "VmRSS: %ld kB", &kb) != 1)
        ;
    fclose(f);
    return kb;
}

/* ---- sockets ---- */

static int flows_socket(const union vc_addr *bind_to)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    int sz = FLOWS_SOCKBUF;

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    if (bind(fd, &bind_to->sa, addr_len(bind_to)) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Flow i's source: 127.20.0.0/14 by index (so each is a client of its own), or, with one_ip,
 * 127.20.0.1 with its own port. */
static void flows_source(const struct flows_opts *o, unsigned i, union vc_addr *out)
{
    memset(out, 0, sizeof(*out));
    out->v4.sin_family = AF_INET;
    out->v4.sin_addr.s_addr = htonl(o->one_ip ? 0x7F140001u : 0x7F140000u + i + 1);
}

/* Sends len bytes of buf from f's source to the server. */
static int flows_send_one(struct flows_run *r, struct flow *f, const void *buf, size_t len)
{
    char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_name = (void *)&r->o->server.sa,
                       .msg_namelen = addr_len(&r->o->server),
                       .msg_iov = &iov,
                       .msg_iovlen = 1};

    if (f->fd >= 0)
        return sendmsg(f->fd, &m, 0) < 0 ? -errno : 0;
    memset(cbuf, 0, sizeof(cbuf));
    m.msg_control = cbuf;
    m.msg_controllen = sizeof(cbuf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    ((struct in_pktinfo *)CMSG_DATA(c))->ipi_spec_dst = f->src.v4.sin_addr;
    return sendmsg(r->cs, &m, 0) < 0 ? -errno : 0;
}

/* ---- set-up: allocate, permit and bind a channel to the peer, many flows at once ---- */

static int flows_request(struct flows_run *r, struct flow *f)
{
    struct turnc_req q = {.method = TURN_ALLOCATE, .lifetime = 600, .transport = true};
    uint8_t buf[1500];

    if (f->step == STEP_PERM)
        q = (struct turnc_req){.method = TURN_CREATE_PERMISSION, .peer = &r->peer, .lifetime = -1};
    else if (f->step == STEP_BIND)
        q = (struct turnc_req){.method = TURN_CHANNEL_BIND,
                               .peer = &r->peer,
                               .channel = TURN_CHANNEL_MIN,
                               .lifetime = -1};
    int len = turnc_build(&f->t, &q, buf, sizeof(buf));
    f->sent_at = flows_now();
    f->tries++;
    return len < 0 ? len : flows_send_one(r, f, buf, (size_t)len);
}

/* The flow an answer on the shared socket is for: by the local address it came to. */
static struct flow *flows_of_answer(struct flows_run *r, int fd, uint8_t *buf, ssize_t *n)
{
    char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct iovec iov = {buf, 1500};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};

    if ((*n = recvmsg(fd, &m, 0)) <= 0)
        return NULL;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO)
            continue;
        uint32_t a = ntohl(((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr.s_addr);
        unsigned i = a - 0x7F140001u;
        return i < r->o->flows ? &r->f[i] : NULL;
    }
    return NULL;
}

/* Takes an answer for f: the next step, the same again (a challenge), or failure. */
static void flows_answer(struct flows_run *r, struct flow *f, const uint8_t *buf, size_t len)
{
    int rc = turnc_handle(&f->t, buf, len);

    if (rc == -ENOENT)
        return;
    if (rc == -EAGAIN && r->o->reuse_nonce && f->t.nonce_len) { /* later flows start with it */
        r->nonce_known = true;
        for (unsigned i = 0; i < r->o->flows; i++) {
            struct turnc *t = &r->f[i].t;
            if (t->nonce_len)
                continue;
            memcpy(t->nonce, f->t.nonce, f->t.nonce_len);
            t->nonce_len = f->t.nonce_len;
            memcpy(t->realm, f->t.realm, f->t.realm_len);
            t->realm_len = f->t.realm_len;
            int kl =
                stun_long_term_key(STUN_PWALG_MD5, t->user, t->user_len, (const char *)t->realm,
                                   t->realm_len, t->pass, strlen(t->pass), t->key);
            t->keylen = kl > 0 ? (size_t)kl : 0;
        }
    }
    if (rc == 0) {
        f->step = r->o->setup_only && f->step == STEP_ALLOC ? STEP_READY : f->step + 1;
        f->tries = 0;
    }
    f->sent_at = rc == 0 || rc == -EAGAIN ? 0 : f->sent_at; /* send the next (or again) now */
    if (rc == -EPROTO)
        f->step = STEP_FAILED;
}

/* With one_ip every flow has its own socket: waits for answers on those still setting up. */
static void flows_poll_own(struct flows_run *r, unsigned next)
{
    static struct pollfd p[FLOWS_MAX];
    static unsigned idx[FLOWS_MAX];
    uint8_t buf[1500];
    unsigned n = 0;

    for (unsigned i = 0; i < next; i++)
        if (r->f[i].step < STEP_READY) {
            p[n] = (struct pollfd){.fd = r->f[i].fd, .events = POLLIN};
            idx[n++] = i;
        }
    if (n == 0 || poll(p, n, 20) <= 0)
        return;
    for (unsigned k = 0; k < n; k++) {
        ssize_t len;
        while ((p[k].revents & POLLIN) && (len = recv(p[k].fd, buf, sizeof(buf), 0)) > 0)
            flows_answer(r, &r->f[idx[k]], buf, (size_t)len);
    }
}

/* Drives every flow to ready (or failed); returns how many are ready. */
static unsigned flows_setup(struct flows_run *r)
{
    const struct flows_opts *o = r->o;
    unsigned ready = 0, done = 0, next = 0, busy = 0;
    uint8_t buf[1500];

    while (done < o->flows) {
        int64_t now = flows_now();
        busy = 0;
        for (unsigned i = 0; i < next; i++) {
            struct flow *f = &r->f[i];
            if (f->step >= STEP_READY)
                continue;
            busy++;
            if (f->sent_at == 0 || now - f->sent_at > FLOWS_TXN_NS) {
                if (f->tries >= FLOWS_TRIES)
                    f->step = STEP_FAILED;
                else
                    flows_request(r, f);
            }
        }
        /* With --reuse-nonce one flow goes first and learns the nonce, as a client that caches
         * it would: the others' first requests are then authenticated, not anonymous ones that
         * --unauth-rate drops and that wait FLOWS_TXN_NS to be sent again. */
        unsigned cap = o->reuse_nonce && !r->nonce_known ? 1 : o->parallel;
        while (busy < cap && next < o->flows) {
            flows_request(r, &r->f[next++]);
            busy++;
        }
        if (o->one_ip) {
            flows_poll_own(r, next);
        } else {
            struct pollfd p = {.fd = r->cs, .events = POLLIN};
            ssize_t n;
            struct flow *f;
            if (poll(&p, 1, 20) > 0)
                while ((f = flows_of_answer(r, r->cs, buf, &n)) || n > 0)
                    if (f)
                        flows_answer(r, f, buf, (size_t)n);
        }
        done = ready = 0;
        for (unsigned i = 0; i < next; i++) {
            done += r->f[i].step >= STEP_READY;
            ready += r->f[i].step == STEP_READY;
        }
    }
    return ready;
}

/* ---- the media: paced or flood sends, one receiver thread at the peer ---- */

static void *flows_receiver(void *arg)
{
    struct flows_run *r = arg;
    struct mmsghdr msgs[FLOWS_BATCH];
    struct iovec iov[FLOWS_BATCH];
    static uint8_t bufs[FLOWS_BATCH][FLOWS_MAX_PKT];

    for (int i = 0; i < FLOWS_BATCH; i++) {
        iov[i] = (struct iovec){bufs[i], FLOWS_MAX_PKT};
        msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {.fd = r->sink, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int n = recvmmsg(r->sink, msgs, FLOWS_BATCH, MSG_DONTWAIT, NULL);
        int64_t now = flows_now();
        for (int i = 0; i < n; i++) {
            uint64_t sent;
            if (msgs[i].msg_len < FLOWS_HDR)
                continue;
            memcpy(&sent, bufs[i] + 8, 8);
            if (r->nlat < FLOWS_MAX_SAMPLES && now > (int64_t)sent)
                r->lat[r->nlat++] =
                    (uint32_t)((uint64_t)(now - (int64_t)sent) > UINT32_MAX ? UINT32_MAX
                                                                            : (uint64_t)now - sent);
        }
        if (n > 0)
            atomic_fetch_add(&r->received, (uint64_t)n);
    }
    return NULL;
}

/* Sends packets seq_from..seq_to-1 (packet j: flow j % flows, its j / flows-th) in batches. */
static uint64_t flows_send_range(struct flows_run *r, uint64_t from, uint64_t to)
{
    static uint8_t pkts[FLOWS_BATCH][FLOWS_MAX_PKT];
    static char cbufs[FLOWS_BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct mmsghdr msgs[FLOWS_BATCH];
    struct iovec iov[FLOWS_BATCH];
    const struct flows_opts *o = r->o;
    uint64_t sent = 0;

    while (from < to) {
        unsigned k = 0;
        int64_t now = flows_now();
        for (; k < FLOWS_BATCH && from < to; k++, from++) {
            uint32_t flow = (uint32_t)(from % o->flows), seq = (uint32_t)(from / o->flows);
            uint8_t *p = pkts[k];
            p[0] = TURN_CHANNEL_MIN >> 8;
            p[1] = TURN_CHANNEL_MIN & 0xFF;
            p[2] = (uint8_t)(o->size >> 8);
            p[3] = (uint8_t)o->size;
            memcpy(p + 4, &flow, 4);
            memcpy(p + 8, &seq, 4);
            memcpy(p + 12, &now, 8);
            iov[k] = (struct iovec){p, 4 + o->size};
            memset(cbufs[k], 0, sizeof(cbufs[k]));
            msgs[k].msg_hdr = (struct msghdr){.msg_name = (void *)&o->server.sa,
                                              .msg_namelen = addr_len(&o->server),
                                              .msg_iov = &iov[k],
                                              .msg_iovlen = 1,
                                              .msg_control = cbufs[k],
                                              .msg_controllen = sizeof(cbufs[k])};
            struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[k].msg_hdr);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
            ((struct in_pktinfo *)CMSG_DATA(c))->ipi_spec_dst = r->f[flow].src.v4.sin_addr;
        }
        int n = sendmmsg(r->cs, msgs, k, 0);
        if (n <= 0)
            break; /* a full socket buffer: the rest counts as not sent */
        sent += (uint64_t)n;
        from -= k - (unsigned)n;
        if ((unsigned)n < k)
            break;
    }
    return sent;
}

/* Runs the media for the duration: returns packets sent. */
static uint64_t flows_media(struct flows_run *r)
{
    const struct flows_opts *o = r->o;
    int64_t start = flows_now(), end = start + (int64_t)(o->duration * FLOWS_NS);
    uint64_t next = 0, sent = 0;

    while (flows_now() < end) {
        uint64_t target;
        if (o->rate > 0) {
            target = (uint64_t)((double)(flows_now() - start) / FLOWS_NS * o->rate * o->flows);
        } else {
            uint64_t got = atomic_load(&r->received);
            target = got + o->window > next ? got + o->window : next;
        }
        if (target > next) {
            uint64_t n = flows_send_range(r, next, target);
            sent += n;
            /* Paced: what the socket refused is skipped, not sent late (it counts as refused). */
            r->refused += o->rate > 0 ? target - next - n : 0;
            next = o->rate > 0 ? target : next + n;
        }
        if (o->rate > 0)
            usleep(500);
    }
    return sent;
}

/* ---- results ---- */

static int flows_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static double flows_pct(const struct flows_run *r, double q)
{
    if (!r->nlat)
        return -1;
    size_t i = (size_t)(q * (double)(r->nlat - 1));
    return r->lat[i] / 1e3;
}

static void flows_json(FILE *out, const struct flows_run *r, const double cpu[3], uint64_t sent,
                       double secs)
{
    const struct flows_opts *o = r->o;
    uint64_t got = atomic_load(&r->received);
    double machine = cpu[1] - cpu[2]; /* every core's busy time less the loader's own */

    fprintf(out,
            "{\"flows\":%u,\"rate\":%g,\"size\":%u,\"seconds\":%.3f,\"sent\":%" PRIu64
            ",\"received\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"loss_pct\":%.4f,"
            "\"delivered_pps\":%.1f,\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,"
            "\"p999\":%.1f,\"max\":%.1f},\"server_cpu_s\":%.3f,\"machine_cpu_s\":%.3f,"
            "\"loader_cpu_s\":%.3f,\"per_machine_cpu_s\":%.1f,\"per_server_cpu_s\":%.1f}\n",
            o->flows, o->rate, o->size, secs, sent, got, r->refused,
            sent ? 100.0 * (double)(sent - (got < sent ? got : sent)) / (double)sent : 0,
            (double)got / secs, flows_pct(r, 0.5), flows_pct(r, 0.99), flows_pct(r, 0.999),
            flows_pct(r, 1.0), cpu[0], machine, cpu[2], machine > 0 ? (double)got / machine : 0,
            cpu[0] > 0 ? (double)got / cpu[0] : 0);
}

/* The media run: CPU around it (server, machine, loader), then the figures. */
static int flows_mode_media(struct flows_run *r, FILE *out)
{
    pthread_t rx;
    double cpu0[3] = {flows_proc_cpu(r->o->server_pid), flows_machine_cpu(), flows_self_cpu()};
    int64_t t0 = flows_now();

    if (pthread_create(&rx, NULL, flows_receiver, r) != 0)
        return -EAGAIN;
    uint64_t sent = flows_media(r);
    usleep(500000); /* the last packets drain */
    atomic_store(&r->stop, true);
    pthread_join(rx, NULL);
    double secs = (double)(flows_now() - t0) / FLOWS_NS - 0.5;
    double cpu[3] = {flows_proc_cpu(r->o->server_pid) - cpu0[0], flows_machine_cpu() - cpu0[1],
                     flows_self_cpu() - cpu0[2]};
    qsort(r->lat, r->nlat, sizeof(*r->lat), flows_cmp);
    flows_json(out, r, cpu, sent, secs);
    return 0;
}

static void flows_usage(FILE *f)
{
    fprintf(f, "usage: flows --server HOST:PORT --secret S [--flows N] [--rate PPS] [--size B]\n"
               "             [--duration S] [--window N] [--parallel N] [--server-pid PID]\n"
               "             [--json F] [--setup-only [--one-ip] [--reuse-nonce]]\n"
               "N allocations, each with a channel to one peer sink on loopback; --rate is per\n"
               "flow (0: a flood, --window packets in flight). --setup-only measures allocations\n"
               "per second (--one-ip: every flow from 127.20.0.1, a port each; --reuse-nonce:\n"
               "the flows share the first nonce, as RFC 8489 lets a client cache it).\n");
}

static int flows_parse(struct flows_opts *o, int argc, char **argv)
{
    *o = (struct flows_opts){
        .flows = 100, .size = 160, .window = 1024, .parallel = 256, .duration = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool flag = strcmp(a, "--setup-only") == 0 || strcmp(a, "--one-ip") == 0 ||
                    strcmp(a, "--reuse-nonce") == 0;
        if (!flag && !v)
            return -EINVAL;
        if (strcmp(a, "--server") == 0 && addr_parse(&o->server, v, 0) < 0)
            return -EINVAL;
        else if (strcmp(a, "--secret") == 0)
            o->secret = v;
        else if (strcmp(a, "--flows") == 0)
            o->flows = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--rate") == 0)
            o->rate = strtod(v, NULL);
        else if (strcmp(a, "--size") == 0)
            o->size = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--duration") == 0)
            o->duration = strtod(v, NULL);
        else if (strcmp(a, "--window") == 0)
            o->window = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--parallel") == 0)
            o->parallel = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--server-pid") == 0)
            o->server_pid = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--json") == 0)
            o->json = v;
        else if (flag)
            *(strcmp(a, "--setup-only") == 0 ? &o->setup_only
              : strcmp(a, "--one-ip") == 0   ? &o->one_ip
                                             : &o->reuse_nonce) = true;
        else if (strcmp(a, "--server") != 0)
            return -EINVAL;
        i += !flag;
    }
    bool ok = o->secret && o->server.sa.sa_family == AF_INET && o->flows >= 1 &&
              o->flows <= FLOWS_MAX && o->size >= FLOWS_HDR && o->size <= FLOWS_MAX_PKT - 4 &&
              o->duration > 0 && o->duration <= 600 && o->window >= 1 && o->parallel >= 1;
    return ok ? 0 : -EINVAL;
}

/* The set-up run: allocations per second, and the server's RSS per allocation. */
static int flows_mode_setup(struct flows_run *r, FILE *out)
{
    long rss0 = flows_proc_rss_kb(r->o->server_pid);
    double cpu0[2] = {flows_proc_cpu(r->o->server_pid), flows_self_cpu()};
    int64_t t0 = flows_now();
    unsigned ready = flows_setup(r);
    double secs = (double)(flows_now() - t0) / FLOWS_NS;
    double cpu[2] = {flows_proc_cpu(r->o->server_pid) - cpu0[0], flows_self_cpu() - cpu0[1]};
    long rss1 = flows_proc_rss_kb(r->o->server_pid);

    unsigned errors[700] = {0};
    for (unsigned i = 0; i < r->o->flows; i++)
        if (r->f[i].step == STEP_FAILED && r->f[i].t.last_error > 0 && r->f[i].t.last_error < 700)
            errors[r->f[i].t.last_error]++;
    fprintf(out,
            "{\"allocations\":%u,\"ready\":%u,\"seconds\":%.3f,\"per_s\":%.1f,"
            "\"one_ip\":%s,\"rss_per_allocation_kb\":%.2f,\"server_cpu_s\":%.3f,"
            "\"loader_cpu_s\":%.3f,\"per_server_cpu_s\":%.1f,\"failed_by_code\":{",
            r->o->flows, ready, secs, ready / secs, r->o->one_ip ? "true" : "false",
            rss0 >= 0 && rss1 >= 0 && ready ? (double)(rss1 - rss0) / ready : -1.0, cpu[0], cpu[1],
            cpu[0] > 0 ? ready / cpu[0] : 0);
    for (int c = 0, first = 1; c < 700; c++)
        if (errors[c]) {
            fprintf(out, "%s\"%d\":%u", first ? "" : ",", c, errors[c]);
            first = 0;
        }
    fprintf(out, "}}\n");
    return ready == r->o->flows ? 0 : -EPROTO;
}

static int flows_open(struct flows_run *r, struct flows_opts *o)
{
    union vc_addr any = {.v4 = {.sin_family = AF_INET}}, lo = any;

    /* Not the server's own address (127.0.0.1): a TURN server refuses to relay to itself. */
    lo.v4.sin_addr.s_addr = htonl(0x7F000009u);
    r->o = o;
    r->f = calloc(o->flows, sizeof(*r->f));
    r->lat = malloc(FLOWS_MAX_SAMPLES * sizeof(*r->lat));
    if (!r->f || !r->lat || (r->cs = flows_socket(&any)) < 0 || (r->sink = flows_socket(&lo)) < 0)
        return -ENOMEM;
    socklen_t len = sizeof(r->peer);
    getsockname(r->sink, &r->peer.sa, &len);
    for (unsigned i = 0; i < o->flows; i++) {
        struct flow *f = &r->f[i];
        if (turnc_init(&f->t, o->secret, i) < 0)
            return -EINVAL;
        f->t.quiet = true;
        flows_source(o, i, &f->src);
        f->fd = o->one_ip ? flows_socket(&f->src) : -1;
        if (o->one_ip && f->fd < 0)
            return f->fd;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct flows_opts o;
    struct flows_run r = {0};
    struct rlimit rl = {FLOWS_MAX + 64, FLOWS_MAX + 64};

    if (flows_parse(&o, argc, argv) < 0) {
        flows_usage(stderr);
        return 2;
    }
    setrlimit(RLIMIT_NOFILE, &rl);
    if (flows_open(&r, &o) < 0) {
        fprintf(stderr, "flows: cannot open the sockets: %s\n", strerror(errno));
        return 1;
    }
    FILE *out = o.json ? fopen(o.json, "w") : stdout;
    if (!out)
        return 1;
    int rc;
    if (o.setup_only) {
        rc = flows_mode_setup(&r, out);
    } else if (flows_setup(&r) < o.flows) {
        fprintf(stderr, "flows: not every allocation was set up\n");
        rc = -EPROTO;
    } else {
        rc = flows_mode_media(&r, out);
    }
    if (out != stdout)
        fclose(out);
    return rc == 0 ? 0 : 1;
}
