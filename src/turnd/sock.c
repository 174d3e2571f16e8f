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

/* An unbound non-blocking UDP socket of ip's family with the relay buffer sizes, or -errno. */
static int relay_socket_new(const union vc_addr *ip)
{
    int fd, one = 1, buf = SOCK_RELAY_BUF;

    fd = socket(ip->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (ip->sa.sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    return fd;
}

/* Binds fd to a's address at port: 0, or -errno (-EADDRINUSE when the port is taken). */
static int relay_bind(int fd, union vc_addr *a, unsigned port)
{
    addr_set_port(a, (uint16_t)port);
    return bind(fd, &a->sa, addr_len(a)) == 0 ? 0 : -errno;
}

int turnd_relay_socket(const union vc_addr *ip, unsigned port_min, unsigned port_max,
                       unsigned start, union vc_addr *bound)
{
    union vc_addr a = *ip;
    unsigned span = port_max - port_min + 1, i;
    int fd = relay_socket_new(ip), err = -EADDRINUSE;

    if (fd < 0)
        return fd;
    start %= span;
    for (i = 0; i < span && err == -EADDRINUSE; i++)
        err = relay_bind(fd, &a, port_min + (start + i) % span);
    if (err < 0) {
        close(fd);
        return err;
    }
    *bound = a;
    return fd;
}

int turnd_relay_pair(const union vc_addr *ip, unsigned port_min, unsigned port_max, unsigned start,
                     union vc_addr *bound, int *odd, union vc_addr *odd_bound)
{
    union vc_addr a = *ip, b = *ip;
    unsigned first = port_min + (port_min & 1), pairs, i;
    int even = -1, next = -1, err = -EADDRINUSE;

    if (port_max < first + 1)
        return -EADDRINUSE;
    pairs = (port_max - first + 1) / 2;
    start %= pairs;
    for (i = 0; i < pairs && err == -EADDRINUSE; i++) {
        unsigned port = first + 2 * ((start + i) % pairs);
        if ((even < 0 && (err = even = relay_socket_new(ip)) < 0) ||
            (next < 0 && (err = next = relay_socket_new(ip)) < 0))
            break;
        if ((err = relay_bind(even, &a, port)) < 0)
            continue; /* still unbound: try the next pair with it */
        if ((err = relay_bind(next, &b, port + 1)) < 0) {
            close(even); /* bound to port now: a new socket for the next pair */
            even = -1;
        }
    }
    if (err < 0) {
        if (even >= 0)
            close(even);
        if (next >= 0)
            close(next);
        return err;
    }
    *bound = a;
    *odd = next;
    *odd_bound = b;
    return even;
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

bool turnd_relay_drain(int fd)
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
        if (!turnd_relay_drain(fd)) {
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
