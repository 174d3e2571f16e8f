/* Relay sockets for EVEN-PORT pairs, their reserved halves, RESERVATION-TOKEN and DONT-FRAGMENT. */
#include <errno.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "engine_int.h"

/* A reserved socket belongs to no worker: nothing watches it and no relay table points at it,
 * so the core's reservation table (under its lock) decides alone which worker adopts or closes
 * it. Datagrams sent to it meanwhile were for nobody: they are dropped when it is adopted. */

int turnd_relay_open_pair(struct turn_worker *tw, struct turn_alloc *alloc, const union vc_addr *ip,
                          union vc_addr *bound, int *reserved, union vc_addr *reserved_addr)
{
    struct turnd_worker *w = turn_worker_ctx(tw);
    const struct turn_settings *st = turn_server_settings(w->eng->cfg.server);
    int fd = turnd_relay_pair(ip, st->port_min, st->port_max, turnd_worker_rand(w), bound, reserved,
                              reserved_addr);

    if (fd < 0)
        return fd;
    if ((fd = turnd_worker_relay_take(w, fd)) < 0) {
        close(*reserved);
        return fd;
    }
    turnd_worker_relay_serve(w, fd, alloc, bound);
    return fd;
}

int turnd_relay_adopt(struct turn_worker *tw, struct turn_alloc *alloc, int reserved,
                      const union vc_addr *bound)
{
    struct turnd_worker *w = turn_worker_ctx(tw);
    int fd;

    turnd_relay_drain(reserved); /* a flood would meet no permission either */
    fd = turnd_worker_relay_take(w, reserved);
    if (fd >= 0)
        turnd_worker_relay_serve(w, fd, alloc, bound);
    return fd;
}

void turnd_reserved_close(struct turn_worker *tw, int reserved)
{
    (void)tw;
    close(reserved);
}

int turnd_relay_dont_fragment(struct turn_worker *tw, int relay)
{
    struct turnd_worker *w = turn_worker_ctx(tw);
    struct engine_relay *r = &w->relays[relay];
    int v4 = IP_PMTUDISC_DO, v6 = IPV6_PMTUDISC_DO, rc;

    if (r->bound.sa.sa_family == AF_INET6)
        rc = setsockopt(relay, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof(v6));
    else
        rc = setsockopt(relay, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4));
    if (rc < 0)
        return -errno;
    r->df = true;
    return 0;
}
