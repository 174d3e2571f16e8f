/* vc-signal's health checker for the vc-turn pool: STUN Binding over UDP on its own thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "vc/log.h"
#include "vc/random.h"
#include "vc/stun.h"
#include "vc/turnpool.h"
#include "turnprobe.h"

/* A Binding request with FINGERPRINT is 28 bytes; answers bigger than this are not ours. */
#define TURNPROBE_BUF 1500

struct turnprobe {
    struct turnpool *pool; /* borrowed */
    pthread_t thread;
    int stop_pipe[2]; /* a byte on [1] stops the thread */
};

/* One probe in flight. */
struct turnprobe_slot {
    unsigned node;
    int fd; /* -1 once the probe has its result */
    uint8_t txid[STUN_TXID_LEN];
};

static uint64_t turnprobe_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Opens a UDP socket connected to node's STUN address (so ICMP port unreachable comes back as
 * ECONNREFUSED, a quick failure) and sends a Binding request. Returns the fd, or -errno. */
static int turnprobe_send(const struct turnpool_node_conf *node, uint8_t txid[STUN_TXID_LEN])
{
    uint8_t buf[64];
    struct stun_builder b;
    int fd, len;

    if (random_bytes(txid, STUN_TXID_LEN) < 0)
        return -EIO;
    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, txid);
    stun_build_fingerprint(&b);
    if ((len = stun_build_finish(&b)) < 0)
        return len;
    fd = socket(node->stun.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, &node->stun.sa, addr_len(&node->stun)) < 0 ||
        send(fd, buf, (size_t)len, 0) != len) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Reads what arrived on a probe's socket: 1 for a Binding success with our transaction id,
 * -1 for a refusal (ICMP), 0 for anything else (ignored: the probe keeps waiting). */
static int turnprobe_read(const struct turnprobe_slot *sl)
{
    uint8_t buf[TURNPROBE_BUF];
    struct stun_msg m;
    ssize_t n = recv(sl->fd, buf, sizeof(buf), 0);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (stun_parse(&m, buf, (size_t)n) < 0 || m.method != STUN_BINDING || m.cls != STUN_SUCCESS ||
        memcmp(m.txid, sl->txid, STUN_TXID_LEN) != 0)
        return 0;
    return 1;
}

static void turnprobe_report(struct turnprobe *tp, struct turnprobe_slot *sl, bool ok)
{
    const struct turnpool_node_conf *node = turnpool_node(tp->pool, sl->node);
    char addr[VC_ADDR_STRLEN];

    if (sl->fd >= 0)
        close(sl->fd);
    sl->fd = -1;
    if (!turnpool_probe_result(tp->pool, sl->node, ok, turnprobe_now()))
        return;
    addr_format(&node->stun, addr, sizeof(addr));
    log_msg(ok ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "turn pool: node %s (region %s) is %s", addr,
            node->region, ok ? "up" : "down: no STUN Binding answer");
}

/* Probes the given nodes at once and waits for their answers, at most the pool's timeout (or
 * until a byte arrives on stop_fd). Every probe gets its result reported. */
static void turnprobe_round(struct turnprobe *tp, const unsigned *idx, size_t n, int stop_fd)
{
    struct turnprobe_slot slots[TURNPOOL_MAX_NODES];
    struct pollfd pfd[TURNPOOL_MAX_NODES + 1];
    uint64_t deadline = turnprobe_now() + TURNPOOL_PROBE_TIMEOUT_MS;
    size_t left = 0;

    for (size_t i = 0; i < n; i++) {
        slots[i].node = idx[i];
        slots[i].fd = turnprobe_send(turnpool_node(tp->pool, idx[i]), slots[i].txid);
        if (slots[i].fd < 0)
            turnprobe_report(tp, &slots[i], false);
        else
            left++;
    }
    while (left > 0) {
        uint64_t now = turnprobe_now();
        size_t np = 0;

        if (now >= deadline)
            break;
        for (size_t i = 0; i < n; i++)
            pfd[np++] = (struct pollfd){.fd = slots[i].fd, .events = POLLIN};
        pfd[np++] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
        if (poll(pfd, np, (int)(deadline - now)) < 0 && errno != EINTR)
            break;
        if (pfd[np - 1].revents)
            break; /* stopping: the rest count as failures below */
        for (size_t i = 0; i < n; i++) {
            int r;
            if (slots[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLERR)))
                continue;
            if ((r = turnprobe_read(&slots[i])) != 0) {
                turnprobe_report(tp, &slots[i], r > 0);
                left--;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (slots[i].fd >= 0)
            turnprobe_report(tp, &slots[i], false);
}

/* One pass: probes whatever the pool says is due. */
static void turnprobe_pass(struct turnprobe *tp)
{
    unsigned idx[TURNPOOL_MAX_NODES];
    size_t n = turnpool_probe_due(tp->pool, turnprobe_now(), idx, TURNPOOL_MAX_NODES);

    if (n > 0)
        turnprobe_round(tp, idx, n, tp->stop_pipe[0]);
}

static void *turnprobe_run(void *arg)
{
    struct turnprobe *tp = arg;

    for (;;) {
        struct pollfd pfd = {.fd = tp->stop_pipe[0], .events = POLLIN};
        uint64_t wait = turnpool_probe_wait(tp->pool, turnprobe_now());

        if (poll(&pfd, 1, (int)wait) > 0)
            break;
        turnprobe_pass(tp);
    }
    return NULL;
}

int turnprobe_start(struct turnpool *pool, struct turnprobe **out, char *err, size_t errlen)
{
    struct turnprobe *tp = calloc(1, sizeof(*tp));
    int r;

    if (!tp) {
        snprintf(err, errlen, "turn-node: out of memory");
        return -ENOMEM;
    }
    tp->pool = pool;
    if (pipe2(tp->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = -errno;
        snprintf(err, errlen, "turn-node: pipe: %s", strerror(errno));
        free(tp);
        return r;
    }
    turnprobe_pass(tp);
    if ((r = pthread_create(&tp->thread, NULL, turnprobe_run, tp)) != 0) {
        snprintf(err, errlen, "turn-node: pthread_create: %s", strerror(r));
        close(tp->stop_pipe[0]);
        close(tp->stop_pipe[1]);
        free(tp);
        return -r;
    }
    *out = tp;
    return 0;
}

void turnprobe_stop(struct turnprobe *tp)
{
    if (!tp)
        return;
    if (write(tp->stop_pipe[1], "x", 1) < 0)
        log_msg(LOG_LEVEL_WARN, "turn pool: cannot stop the prober: %s", strerror(errno));
    pthread_join(tp->thread, NULL);
    close(tp->stop_pipe[0]);
    close(tp->stop_pipe[1]);
    free(tp);
}
