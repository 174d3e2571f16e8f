/* The engine's sockets: listeners, relay sockets bound in the port range, and spare relays. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "turnd.h"

/* Socket buffer sizes asked for (the kernel caps them at net.core.{r,w}mem_max). */
#define SOCK_RELAY_BUF (256 * 1024)
/* Datagrams read from a spare before it is given up as flooded (closed instead of reused). */
#define SOCK_RELAY_DRAIN_MAX 64

int turnd_sock_listen(const union vc_addr *a, int type, bool reuseport, char *err, size_t errlen)
{
    char text[VC_ADDR_STRLEN];
    int fd, one = 1, e;

    fd = socket(a->sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (a->sa.sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, &a->sa, addr_len(a)) < 0)
        goto fail;
    if (type == SOCK_STREAM && listen(fd, 1024) < 0)
        goto fail;
    return fd;
fail:
    e = errno;
    snprintf(err, errlen, "%s %s %s: %s", type == SOCK_STREAM ? "tcp" : "udp",
             fd < 0 ? "socket" : "bind", addr_format(a, text, sizeof(text)), strerror(e));
    if (fd >= 0)
        close(fd);
    return -e;
}

int turnd_sock_probe(const union vc_addr *a, int type, char *err, size_t errlen)
{
    int fd = turnd_sock_listen(a, type, false, err, errlen);

    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

int turnd_relay_socket(const union vc_addr *ip, unsigned port_min, unsigned port_max,
                       unsigned start, union vc_addr *bound)
{
    union vc_addr a = *ip;
    unsigned span = port_max - port_min + 1, i;
    int fd, one = 1, buf = SOCK_RELAY_BUF, err = EADDRINUSE;

    fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (a.sa.sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    start %= span;
    for (i = 0; i < span; i++) {
        addr_set_port(&a, (uint16_t)(port_min + (start + i) % span));
        if (bind(fd, &a.sa, addr_len(&a)) == 0)
            break;
        if (errno != EADDRINUSE) {
            err = errno;
            break;
        }
    }
    if (i == span || err != EADDRINUSE) {
        close(fd);
        return -err;
    }
    *bound = a;
    return fd;
}

void turnd_spares_init(struct turnd_spares *p, unsigned span, unsigned workers)
{
    /* Spares hold ports other workers cannot bind: at most an eighth of the range in all. */
    unsigned cap = span / (8 * (workers ? workers : 1));

    p->n = 0;
    p->head = 0;
    p->cap = cap < TURND_SPARES_MAX ? cap : TURND_SPARES_MAX;
}

bool turnd_spares_full(const struct turnd_spares *p)
{
    return p->n >= p->cap;
}

bool turnd_spares_put(struct turnd_spares *p, int fd, const union vc_addr *bound)
{
    unsigned tail;

    if (p->n >= p->cap)
        return false;
    tail = (p->head + p->n) % TURND_SPARES_MAX;
    p->fd[tail] = fd;
    p->addr[tail] = *bound;
    p->n++;
    return true;
}

/* Reads and drops whatever a spare received. false if it kept receiving (or failed). */
static bool spares_drain(int fd)
{
    uint8_t sink[1];

    for (unsigned i = 0; i < SOCK_RELAY_DRAIN_MAX; i++) {
        if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT | MSG_TRUNC) < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED;
    }
    return false;
}

int turnd_spares_take(struct turnd_spares *p, const union vc_addr *ip, union vc_addr *bound,
                      int *stale)
{
    *stale = -1;
    /* Oldest first, so a freed port rests as long as possible before it is handed out. */
    for (unsigned k = 0; k < p->n; k++) {
        unsigned i = (p->head + k) % TURND_SPARES_MAX;
        int fd = p->fd[i];

        if (!addr_equal_ip(&p->addr[i], ip))
            continue;
        *bound = p->addr[i];
        /* Remove slot i, keeping the order of the others. */
        for (unsigned j = k; j > 0; j--) {
            unsigned to = (p->head + j) % TURND_SPARES_MAX;
            unsigned from = (p->head + j - 1) % TURND_SPARES_MAX;
            p->fd[to] = p->fd[from];
            p->addr[to] = p->addr[from];
        }
        p->head = (p->head + 1) % TURND_SPARES_MAX;
        p->n--;
        /* Datagrams still queued came from the previous allocation's peers: never pass them
         * on. A socket that is still being flooded goes back to the caller to close. */
        if (!spares_drain(fd)) {
            *stale = fd;
            return -EAGAIN;
        }
        return fd;
    }
    return -ENOENT;
}

int turnd_spares_pop(struct turnd_spares *p)
{
    int fd;

    if (p->n == 0)
        return -1;
    fd = p->fd[p->head];
    p->head = (p->head + 1) % TURND_SPARES_MAX;
    p->n--;
    return fd;
}
