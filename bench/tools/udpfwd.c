/* Bench ceiling: a minimal recvmmsg/sendmmsg UDP forwarder, socket to one fixed address. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "vc/addr.h"

#define UDPFWD_BATCH 64
#define UDPFWD_MAX_PIPES 16
#define UDPFWD_PKT 2048
#define UDPFWD_SOCKBUF (8 << 20)

/* One pipe: datagrams arriving on fd go to dst. */
struct udpfwd_pipe {
    int fd;
    union vc_addr dst;
};

/* The batch buffers, one set for the whole process (single thread). */
struct udpfwd_loop {
    struct udpfwd_pipe pipes[UDPFWD_MAX_PIPES];
    unsigned npipes;
    uint8_t bufs[UDPFWD_BATCH][UDPFWD_PKT];
    struct iovec iov[UDPFWD_BATCH];
    struct mmsghdr msgs[UDPFWD_BATCH];
};

static volatile sig_atomic_t udpfwd_stop;

static void udpfwd_on_signal(int sig)
{
    (void)sig;
    udpfwd_stop = 1;
}

static int udpfwd_open(const union vc_addr *listen_on)
{
    int fd, sz = UDPFWD_SOCKBUF;

    fd = socket(listen_on->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    if (bind(fd, &listen_on->sa, addr_len(listen_on)) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Moves everything queued on one pipe; returns datagrams forwarded. */
static unsigned udpfwd_pump(struct udpfwd_loop *l, struct udpfwd_pipe *p)
{
    unsigned total = 0;
    int got, k;

    for (;;) {
        for (k = 0; k < UDPFWD_BATCH; k++) {
            l->iov[k].iov_base = l->bufs[k];
            l->iov[k].iov_len = UDPFWD_PKT;
            memset(&l->msgs[k].msg_hdr, 0, sizeof(l->msgs[k].msg_hdr));
            l->msgs[k].msg_hdr.msg_iov = &l->iov[k];
            l->msgs[k].msg_hdr.msg_iovlen = 1;
        }
        got = recvmmsg(p->fd, l->msgs, UDPFWD_BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0)
            return total;
        for (k = 0; k < got; k++) {
            l->iov[k].iov_len = l->msgs[k].msg_len;
            l->msgs[k].msg_hdr.msg_name = &p->dst;
            l->msgs[k].msg_hdr.msg_namelen = addr_len(&p->dst);
        }
        /* A full destination buffer drops, as a relay would; do not retry. */
        sendmmsg(p->fd, l->msgs, (unsigned)got, MSG_DONTWAIT);
        total += (unsigned)got;
        if (got < UDPFWD_BATCH)
            return total;
    }
}

int main(int argc, char **argv)
{
    static struct udpfwd_loop loop;
    struct pollfd pfd[UDPFWD_MAX_PIPES];
    struct sigaction sa;
    unsigned i;
    int a;

    if (argc < 3 || (argc - 1) % 2 || (argc - 1) / 2 > UDPFWD_MAX_PIPES) {
        fprintf(stderr, "usage: udpfwd LISTEN_IP:PORT TO_IP:PORT [LISTEN TO]...\n"
                        "Forwards every datagram arriving on LISTEN to TO (recvmmsg/sendmmsg,\n"
                        "one thread) until SIGTERM or SIGINT.\n");
        return 2;
    }
    for (a = 1; a < argc; a += 2) {
        union vc_addr lis;
        struct udpfwd_pipe *p = &loop.pipes[loop.npipes];

        if (addr_parse(&lis, argv[a], 0) < 0 || addr_parse(&p->dst, argv[a + 1], 0) < 0) {
            fprintf(stderr, "udpfwd: bad address in '%s %s'\n", argv[a], argv[a + 1]);
            return 2;
        }
        p->fd = udpfwd_open(&lis);
        if (p->fd < 0) {
            fprintf(stderr, "udpfwd: bind %s: %s\n", argv[a], strerror(-p->fd));
            return 1;
        }
        pfd[loop.npipes].fd = p->fd;
        pfd[loop.npipes].events = POLLIN;
        loop.npipes++;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = udpfwd_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!udpfwd_stop) {
        if (poll(pfd, loop.npipes, 200) <= 0)
            continue;
        for (i = 0; i < loop.npipes; i++)
            if (pfd[i].revents & POLLIN)
                udpfwd_pump(&loop, &loop.pipes[i]);
    }
    return 0;
}
