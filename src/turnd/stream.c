/* TCP and TLS client connections: capped input framing, capped output queue, TLS handshake. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "vc/log.h"
#include "turnd.h"

/* Reads per readiness event before yielding to other connections. */
#define STREAM_READS_PER_EVENT 32

struct turn_stream *turnd_stream_new(struct turnd_worker *w, int fd, SSL *ssl,
                                     enum turn_transport transport, const union vc_addr *local,
                                     const union vc_addr *remote)
{
    struct turn_stream *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->in = malloc(TURND_STREAM_IN_START);
    if (!s->in) {
        free(s);
        return NULL;
    }
    s->in_cap = TURND_STREAM_IN_START;
    s->kind = TURND_SRC_STREAM;
    s->worker = w;
    s->client.transport = transport;
    s->client.fd = fd;
    s->client.stream = s;
    s->client.local = *local;
    s->client.remote = *remote;
    s->ssl = ssl;
    s->handshaking = ssl != NULL;
    return s;
}

void turnd_stream_close(struct turn_stream *s, const char *why)
{
    char text[VC_ADDR_STRLEN];

    if (s->dead)
        return;
    if (log_enabled(LOG_LEVEL_DEBUG))
        log_msg(LOG_LEVEL_DEBUG, "%s %s: closed: %s",
                s->client.transport == TURN_TLS ? "tls" : "tcp",
                addr_format(&s->client.remote, text, sizeof(text)), why);
    if (s->ssl && !s->handshaking)
        SSL_shutdown(s->ssl); /* best effort close_notify; never waited for */
    turnd_worker_stream_dead(s->worker, s);
    s->dead = true;
}

void turnd_stream_destroy(struct turn_stream *s)
{
    SSL_free(s->ssl);
    close(s->client.fd);
    free(s->in);
    free(s->out);
    free(s);
}

/* Returns > 0 bytes read, 0 if no more for now, or a negative errno when the connection ends. */
static ssize_t stream_read(struct turn_stream *s, uint8_t *buf, size_t len)
{
    ssize_t n;

    if (!s->ssl) {
        n = recv(s->client.fd, buf, len, MSG_DONTWAIT);
        if (n > 0)
            return n;
        if (n == 0)
            return -ECONNRESET;
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    }
    ERR_clear_error();
    n = SSL_read(s->ssl, buf, (int)len);
    if (n > 0)
        return n;
    switch (SSL_get_error(s->ssl, (int)n)) {
    case SSL_ERROR_WANT_READ:
        return 0;
    case SSL_ERROR_WANT_WRITE:
        s->read_wants_write = true;
        turnd_worker_watch_out(s->worker, s, true);
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return -ECONNRESET;
    default:
        return -EPROTO;
    }
}

/* Writes as much of the output queue as the socket takes. */
static void stream_flush(struct turn_stream *s)
{
    while (s->out_pos < s->out_len) {
        size_t len = s->out_len - s->out_pos;
        ssize_t n;

        if (s->ssl) {
            ERR_clear_error();
            n = SSL_write(s->ssl, s->out + s->out_pos, len > INT32_MAX ? INT32_MAX : (int)len);
            if (n <= 0) {
                int e = SSL_get_error(s->ssl, (int)n);

                if (e == SSL_ERROR_WANT_WRITE)
                    turnd_worker_watch_out(s->worker, s, true);
                else if (e != SSL_ERROR_WANT_READ)
                    turnd_stream_close(s, "tls write failed");
                return;
            }
        } else {
            n = send(s->client.fd, s->out + s->out_pos, len, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    turnd_worker_watch_out(s->worker, s, true);
                else
                    turnd_stream_close(s, "write failed");
                return;
            }
        }
        s->out_pos += (size_t)n;
    }
    s->out_pos = s->out_len = 0;
    if (!s->read_wants_write)
        turnd_worker_watch_out(s->worker, s, false);
}

/* Appends len bytes to the output queue, growing it up to the cap (plus one frame, so a frame
 * already partly written can always be finished). */
static int stream_queue(struct turn_stream *s, const uint8_t *buf, size_t len)
{
    size_t need;

    if (s->out_pos > 0 && s->out_len + len > s->out_cap) {
        memmove(s->out, s->out + s->out_pos, s->out_len - s->out_pos);
        s->out_len -= s->out_pos;
        s->out_pos = 0;
    }
    need = s->out_len + len;
    if (need > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap * 2 : 4096;
        uint8_t *p;

        while (cap < need)
            cap *= 2;
        if (cap > TURND_STREAM_OUT_MAX + TURND_STREAM_IN_MAX)
            cap = need;
        p = realloc(s->out, cap);
        if (!p)
            return -ENOMEM;
        s->out = p;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, buf, len);
    s->out_len += len;
    return 0;
}

int turnd_stream_send(struct turn_stream *s, const uint8_t *buf, size_t len)
{
    int r;

    if (s->dead)
        return -EPIPE;
    if (!s->ssl && s->out_pos == s->out_len) {
        /* Common case: nothing queued, so write straight from the caller's buffer. */
        ssize_t n = send(s->client.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n == (ssize_t)len)
            return 0;
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            r = -errno;
            turnd_stream_close(s, "write failed");
            return r;
        }
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
        /* The rest of a started frame must follow, whatever the cap says. */
        if (stream_queue(s, buf, len) < 0) {
            turnd_stream_close(s, "out of memory");
            return -ENOMEM;
        }
        turnd_worker_watch_out(s->worker, s, true);
        return 0;
    }
    if (s->out_len - s->out_pos + len > TURND_STREAM_OUT_MAX) {
        turnd_worker_count_drop(s->worker);
        return -ENOBUFS;
    }
    if ((r = stream_queue(s, buf, len)) < 0) {
        turnd_worker_count_drop(s->worker);
        return r;
    }
    if (s->handshaking)
        return 0;
    if (s->ssl)
        stream_flush(s);
    else
        turnd_worker_watch_out(s->worker, s, true);
    return 0;
}

/* Drives the TLS handshake. Returns 1 when done, 0 to wait, -1 when the connection closed. */
static int stream_handshake(struct turn_stream *s)
{
    int r, e;

    ERR_clear_error();
    r = SSL_accept(s->ssl);
    if (r == 1) {
        s->handshaking = false;
        if (s->out_pos < s->out_len)
            stream_flush(s);
        else
            turnd_worker_watch_out(s->worker, s, false);
        return s->dead ? -1 : 1;
    }
    e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        turnd_worker_watch_out(s->worker, s, false);
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        turnd_worker_watch_out(s->worker, s, true);
        return 0;
    }
    turnd_stream_close(s, "tls handshake failed");
    return -1;
}

/* Hands every complete frame in the input buffer to the core, then keeps the partial rest. */
static void stream_frames(struct turn_stream *s)
{
    size_t off = 0;

    while (!s->dead) {
        long n = turn_stream_frame_len(s->in + off, s->in_len - off);

        if (n < 0) {
            struct turn_stats *st = turn_worker_stats_mut(turnd_worker_core(s->worker));

            st->bad_messages++;
            turnd_stream_close(s, "bad framing");
            return;
        }
        if (n == 0)
            break;
        if ((size_t)n > TURND_STREAM_IN_MAX) {
            turnd_stream_close(s, "frame too large");
            return;
        }
        if ((size_t)n > s->in_len - off) {
            if ((size_t)n > s->in_cap) {
                uint8_t *p = malloc(TURND_STREAM_IN_MAX);

                if (!p) {
                    turnd_stream_close(s, "out of memory");
                    return;
                }
                memcpy(p, s->in + off, s->in_len - off);
                free(s->in);
                s->in = p;
                s->in_cap = TURND_STREAM_IN_MAX;
                s->in_len -= off;
                off = 0;
            }
            break;
        }
        turnd_worker_client_input(s->worker, s, s->in + off, (size_t)n);
        off += (size_t)n;
    }
    if (off > 0 && !s->dead) {
        memmove(s->in, s->in + off, s->in_len - off);
        s->in_len -= off;
    }
}

void turnd_stream_on_readable(struct turn_stream *s)
{
    int pass;

    if (s->dead)
        return;
    if (s->handshaking && stream_handshake(s) <= 0)
        return;
    for (pass = 0; pass < STREAM_READS_PER_EVENT && !s->dead; pass++) {
        ssize_t n;

        if (s->in_len == s->in_cap) {
            turnd_stream_close(s, "input buffer full");
            return;
        }
        n = stream_read(s, s->in + s->in_len, s->in_cap - s->in_len);

        if (n == 0)
            break;
        if (n < 0) {
            turnd_stream_close(s, n == -ECONNRESET ? "closed by peer" : "read failed");
            return;
        }
        s->in_len += (size_t)n;
        s->last_rx_ms = turnd_worker_now_ms(s->worker);
        stream_frames(s);
    }
    if (s->dead)
        return;
    /* TLS may hold decrypted bytes the socket no longer signals; come back for them. */
    if (pass == STREAM_READS_PER_EVENT)
        turnd_worker_rerun(s->worker, s);
    if (s->out_pos < s->out_len && !s->want_out)
        stream_flush(s);
}

void turnd_stream_on_writable(struct turn_stream *s)
{
    if (s->dead)
        return;
    if (s->handshaking) {
        if (stream_handshake(s) > 0)
            turnd_stream_on_readable(s);
        return;
    }
    if (s->read_wants_write) {
        s->read_wants_write = false;
        turnd_stream_on_readable(s);
        if (s->dead)
            return;
    }
    stream_flush(s);
}
