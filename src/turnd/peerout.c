/* Batches datagrams from relay sockets to peers into one sendmmsg per run of the same socket. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "turnd.h"

/* Sends what is queued. A datagram the kernel refuses on its own (unreachable, refused) is
 * skipped; a full socket buffer drops the rest. Returns how many were dropped. */
unsigned turnd_peerout_flush(struct turnd_peerout *q)
{
    unsigned off = 0, dropped = 0;

    while (off < q->n) {
        int r = sendmmsg(q->fd, q->msg + off, q->n - off, MSG_DONTWAIT);

        if (r > 0) {
            off += (unsigned)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
            dropped += q->n - off;
            break;
        } else {
            dropped++;
            off++;
        }
    }
    q->n = 0;
    return dropped;
}

/* Queues one datagram. buf is borrowed until the next flush: the caller flushes before the
 * receive buffers it points into are reused. Returns how many were dropped by a flush. */
unsigned turnd_peerout_queue(struct turnd_peerout *q, int fd, const union vc_addr *peer,
                             const uint8_t *buf, size_t len)
{
    unsigned dropped = 0;

    if (q->n && (q->fd != fd || q->n == TURND_PEEROUT_BATCH))
        dropped = turnd_peerout_flush(q);
    unsigned i = q->n++;
    q->fd = fd;
    q->dst[i] = *peer;
    q->iov[i].iov_base = (void *)buf;
    q->iov[i].iov_len = len;
    memset(&q->msg[i], 0, sizeof(q->msg[i]));
    q->msg[i].msg_hdr.msg_name = &q->dst[i];
    q->msg[i].msg_hdr.msg_namelen = addr_len(peer);
    q->msg[i].msg_hdr.msg_iov = &q->iov[i];
    q->msg[i].msg_hdr.msg_iovlen = 1;
    return dropped;
}
