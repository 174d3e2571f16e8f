/* TURN over TLS for libnice: a loopback TCP listener that wraps each connection in TLS.
 *
 * libnice 0.1.21 has no TLS client for RFC 5245 agents (its TURN_TLS is Google's pseudo-SSL),
 * so with --transport tls the agents speak TURN over TCP to this bridge, and one thread per
 * connection carries the bytes over a real TLS session to the server. The extra loopback hop
 * adds a few microseconds to the measured delay. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/tcp.h>
#include <openssl/ssl.h>

#include "relay_tls.h"

struct relay_tls {
    int listen_fd;
    uint16_t port;
    union vc_addr server;
    SSL_CTX *ctx;
    pthread_t acceptor;
    int stop; /* atomic */
};

/* One bridged connection; the thread owns it. */
struct relay_tls_conn {
    struct relay_tls *b;
    int client_fd;
    int server_fd;
    SSL *ssl;
};

static int relay_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            return -EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies bytes both ways until either side closes or the bridge stops. */
static void relay_tls_pump(struct relay_tls_conn *c)
{
    uint8_t buf[16384];
    struct pollfd p[2] = {{.fd = c->client_fd, .events = POLLIN},
                          {.fd = c->server_fd, .events = POLLIN}};

    while (!__atomic_load_n(&c->b->stop, __ATOMIC_RELAXED)) {
        if (SSL_pending(c->ssl) == 0 && poll(p, 2, 200) <= 0) {
            continue;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(c->client_fd, buf, sizeof(buf));
            if (n <= 0 || SSL_write(c->ssl, buf, (int)n) != (int)n) {
                return;
            }
        }
        if (SSL_pending(c->ssl) > 0 || (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            int n = SSL_read(c->ssl, buf, sizeof(buf));
            if (n <= 0 || relay_write_all(c->client_fd, buf, (size_t)n) < 0) {
                return;
            }
        }
        p[0].revents = p[1].revents = 0;
    }
}

static void *relay_tls_conn_main(void *data)
{
    struct relay_tls_conn *c = data;
    int one = 1;

    c->server_fd = socket(c->b->server.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Small media packets: Nagle would hold them back for tens of milliseconds. */
    (void)setsockopt(c->client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (c->server_fd >= 0 &&
        setsockopt(c->server_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
        connect(c->server_fd, &c->b->server.sa, addr_len(&c->b->server)) == 0 &&
        (c->ssl = SSL_new(c->b->ctx)) != NULL && SSL_set_fd(c->ssl, c->server_fd) == 1 &&
        SSL_connect(c->ssl) == 1) {
        relay_tls_pump(c);
    }
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
    }
    if (c->server_fd >= 0) {
        close(c->server_fd);
    }
    close(c->client_fd);
    free(c);
    return NULL;
}

static void *relay_tls_acceptor(void *data)
{
    struct relay_tls *b = data;
    struct pollfd p = {.fd = b->listen_fd, .events = POLLIN};

    while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
        pthread_t t;
        struct relay_tls_conn *c;
        int fd;

        if (poll(&p, 1, 200) <= 0 || (fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->b = b;
        c->client_fd = fd;
        c->server_fd = -1;
        if (pthread_create(&t, NULL, relay_tls_conn_main, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

struct relay_tls *relay_tls_start(const union vc_addr *server, char *err, size_t errlen)
{
    struct relay_tls *b = calloc(1, sizeof(*b));
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(lo);

    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->server = *server;
    b->ctx = SSL_CTX_new(TLS_client_method());
    b->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (b->ctx == NULL || b->listen_fd < 0 || bind(b->listen_fd, (struct sockaddr *)&lo, len) < 0 ||
        listen(b->listen_fd, 1024) < 0 ||
        getsockname(b->listen_fd, (struct sockaddr *)&lo, &len) < 0 ||
        pthread_create(&b->acceptor, NULL, relay_tls_acceptor, b) != 0) {
        snprintf(err, errlen, "TLS bridge: %s", strerror(errno));
        if (b->listen_fd >= 0) {
            close(b->listen_fd);
        }
        SSL_CTX_free(b->ctx);
        free(b);
        return NULL;
    }
    /* Measuring the relay, not its certificate: dev certificates are self-signed. */
    SSL_CTX_set_verify(b->ctx, SSL_VERIFY_NONE, NULL);
    b->port = ntohs(lo.sin_port);
    return b;
}

uint16_t relay_tls_port(const struct relay_tls *b)
{
    return b->port;
}

void relay_tls_stop(struct relay_tls *b)
{
    if (b == NULL) {
        return;
    }
    __atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
    pthread_join(b->acceptor, NULL);
    close(b->listen_fd);
    /* Connection threads notice stop within 200 ms; give them that before the context goes. */
    usleep(300000);
    SSL_CTX_free(b->ctx);
    free(b);
}
