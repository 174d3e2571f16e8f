/* Which device the kernel would send an IPv4 datagram through (rtnetlink RTM_GETROUTE). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "turnd.h"

#define ROUTE_REPLY_MAX 1024

int turnd_route_open(void)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

    if (fd < 0)
        return -errno;
    /* A route lookup is answered at once; never let one hold a worker up for long. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void route_attr(struct nlmsghdr *h, unsigned short type, const void *v, unsigned short len)
{
    struct rtattr *rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), v, len);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* The reply's route: 0 with *ifindex (0 for this host), or -EHOSTUNREACH for any other kind. */
static int route_parse(struct nlmsghdr *h, ssize_t n, uint32_t seq, unsigned *ifindex)
{
    for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_seq != seq)
            continue;
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return e->error ? e->error : -EHOSTUNREACH;
        }
        if (h->nlmsg_type != RTM_NEWROUTE)
            continue;
        const struct rtmsg *rt = NLMSG_DATA(h);
        if (rt->rtm_type == RTN_LOCAL) {
            *ifindex = 0;
            return 0;
        }
        if (rt->rtm_type != RTN_UNICAST)
            return -EHOSTUNREACH;
        int len = (int)RTM_PAYLOAD(h);
        for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == sizeof(int)) {
                int oif;
                memcpy(&oif, RTA_DATA(a), sizeof(oif));
                *ifindex = (unsigned)oif;
                return oif > 0 ? 0 : -EHOSTUNREACH;
            }
        }
        return -EHOSTUNREACH;
    }
    return -EAGAIN;
}

int turnd_route_get(int fd, uint32_t src, uint32_t dst, unsigned *ifindex)
{
    static uint32_t seq_base;
    struct {
        struct nlmsghdr h;
        struct rtmsg rt;
        char attrs[64];
    } req;
    union {
        struct nlmsghdr h;
        char buf[ROUTE_REPLY_MAX];
    } reply;
    uint32_t seq = __atomic_add_fetch(&seq_base, 1, __ATOMIC_RELAXED);

    memset(&req, 0, sizeof(req));
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.h.nlmsg_type = RTM_GETROUTE;
    req.h.nlmsg_flags = NLM_F_REQUEST;
    req.h.nlmsg_seq = seq;
    req.rt.rtm_family = AF_INET;
    req.rt.rtm_dst_len = 32;
    req.rt.rtm_src_len = 32;
    route_attr(&req.h, RTA_DST, &dst, sizeof(dst));
    route_attr(&req.h, RTA_SRC, &src, sizeof(src));
    if (send(fd, &req, req.h.nlmsg_len, 0) < 0)
        return -errno;
    for (int tries = 0; tries < 4; tries++) {
        ssize_t n = recv(fd, &reply, sizeof(reply), 0);
        if (n < 0)
            return -errno;
        int r = route_parse(&reply.h, n, seq, ifindex);
        if (r != -EAGAIN)
            return r;
    }
    return -EAGAIN;
}
