/* Socket side of the minimal TURN client: connect over UDP, TCP or TLS, send, receive one frame. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "relay_turn_int.h"

static int relay_turn_tls_open(struct relay_turn *t, char *err, size_t errlen)
{
    t->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (t->ssl_ctx == NULL) {
        snprintf(err, errlen, "TLS context: out of memory");
        return -ENOMEM;
    }
    /* A load tool measures the relay, not its certificate: dev certificates are self-signed. */
    SSL_CTX_set_verify(t->ssl_ctx, SSL_VERIFY_NONE, NULL);
    t->ssl = SSL_new(t->ssl_ctx);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, t->fd) != 1) {
        snprintf(err, errlen, "TLS session: out of memory");
        return -ENOMEM;
    }
    if (SSL_connect(t->ssl) != 1) {
        unsigned long e = ERR_get_error();
        snprintf(err, errlen, "%s: TLS handshake failed: %s", t->server_text,
                 e ? ERR_reason_error_string(e) : "connection closed");
        return -ECONNREFUSED;
    }
    return 0;
}

/* Connects a TCP socket with a 5 s bound. */
static int relay_turn_tcp_connect(struct relay_turn *t, char *err, size_t errlen)
{
    struct pollfd pfd = {.fd = t->fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    int flags = fcntl(t->fd, F_GETFL);

    (void)fcntl(t->fd, F_SETFL, flags | O_NONBLOCK);
    if (connect(t->fd, &t->server.sa, addr_len(&t->server)) < 0 && errno != EINPROGRESS) {
        soerr = errno;
    } else if (poll(&pfd, 1, RELAY_TURN_TIMEOUT_MS) <= 0) {
        snprintf(err, errlen, "%s: TCP connect timed out after 5 s", t->server_text);
        return -ETIMEDOUT;
    } else {
        (void)getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    }
    if (soerr != 0) {
        snprintf(err, errlen, "%s: connect: %s", t->server_text, strerror(soerr));
        return -soerr;
    }
    (void)fcntl(t->fd, F_SETFL, flags);
    return 0;
}

int relay_turn_connect(struct relay_turn *t, char *err, size_t errlen)
{
    int type = t->transport == RELAY_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int rc;

    addr_format(&t->server, t->server_text, sizeof(t->server_text));
    t->fd = socket(t->server.sa.sa_family, type | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return rc;
    }
    if (t->transport == RELAY_UDP) {
        if (connect(t->fd, &t->server.sa, addr_len(&t->server)) < 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: connect: %s", t->server_text, strerror(errno));
            return rc;
        }
        return 0;
    }
    rc = relay_turn_tcp_connect(t, err, errlen);
    if (rc == 0 && t->transport == RELAY_TLS) {
        rc = relay_turn_tls_open(t, err, errlen);
    }
    return rc;
}

int relay_turn_send(struct relay_turn *t, const uint8_t *buf, size_t len)
{
    ssize_t n;

    if (t->ssl != NULL) {
        return SSL_write(t->ssl, buf, (int)len) == (int)len ? 0 : -EIO;
    }
    n = send(t->fd, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
        return -errno;
    }
    return (size_t)n == len ? 0 : -EIO;
}

/* Length of the first complete frame (STUN or ChannelData, padded) in the stream buffer, or 0. */
static size_t relay_turn_frame_len(const struct relay_turn *t)
{
    size_t need;

    if (t->rlen < 4) {
        return 0;
    }
    need = (size_t)((t->rbuf[2] << 8) | t->rbuf[3]);
    need = turn_is_channel_data(t->rbuf, t->rlen) ? 4 + ((need + 3) & ~(size_t)3) : 20 + need;
    return t->rlen >= need ? need : 0;
}

static ssize_t relay_turn_read_some(struct relay_turn *t, uint8_t *buf, size_t cap)
{
    if (t->ssl != NULL) {
        int n = SSL_read(t->ssl, buf, (int)cap);
        return n > 0 ? n : -ECONNRESET;
    }
    ssize_t n = recv(t->fd, buf, cap, 0);
    if (n == 0) {
        return -ECONNRESET;
    }
    return n < 0 ? -errno : n;
}

int relay_turn_recv(struct relay_turn *t, uint8_t *buf, size_t cap, int timeout_ms)
{
    struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
    size_t flen;
    ssize_t n;

    for (;;) {
        if (t->transport != RELAY_UDP && (flen = relay_turn_frame_len(t)) > 0) {
            size_t copy = flen < cap ? flen : cap;
            memcpy(buf, t->rbuf, copy);
            memmove(t->rbuf, t->rbuf + flen, t->rlen - flen);
            t->rlen -= flen;
            return (int)copy;
        }
        if ((t->ssl == NULL || SSL_pending(t->ssl) == 0) && poll(&pfd, 1, timeout_ms) <= 0) {
            return -ETIMEDOUT;
        }
        if (t->transport == RELAY_UDP) {
            n = relay_turn_read_some(t, buf, cap);
            return n < 0 ? (int)n : (int)n;
        }
        if (t->rlen == sizeof(t->rbuf)) {
            return -EMSGSIZE;
        }
        n = relay_turn_read_some(t, t->rbuf + t->rlen, sizeof(t->rbuf) - t->rlen);
        if (n < 0) {
            return (int)n;
        }
        t->rlen += (size_t)n;
    }
}

void relay_turn_close(struct relay_turn *t)
{
    if (t->ssl != NULL) {
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    if (t->ssl_ctx != NULL) {
        SSL_CTX_free(t->ssl_ctx);
        t->ssl_ctx = NULL;
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
}
