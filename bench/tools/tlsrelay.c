/* Bench ceiling for signalling: a bare epoll + OpenSSL WebSocket relay speaking the part of
 * PeerJS's protocol that `vc-load signal --protocol peerjs` uses, and nothing else.
 *
 * A client connects with GET /peerjs?...&id=ID, gets {"type":"OPEN"}, and every text frame that
 * names "dst" goes to that client with ,"src":"ID" added. No rooms, tokens, limits, timers or
 * output queues: a write that does not complete at once closes the receiver. That is the least a
 * TLS relay can do per message on this machine, as udpfwd is for TURN; it is not a server. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "vc/addr.h"

#define TLSRELAY_IN 16384    /* decrypted bytes held per connection: HTTP request or frames */
#define TLSRELAY_ID 64       /* longest peer id */
#define TLSRELAY_TABLE 65536 /* id hash buckets (power of two) */
#define TLSRELAY_EVENTS 256
#define TLSRELAY_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum tlsrelay_state { ST_HANDSHAKE, ST_HTTP, ST_WS };

struct tlsrelay_conn {
    int fd;
    SSL *ssl;
    enum tlsrelay_state st;
    bool dead;                  /* closed; freed after the current batch of events */
    struct tlsrelay_conn *next; /* hash chain, then the dead list */
    char id[TLSRELAY_ID];
    size_t id_len;
    size_t in_len;
    uint8_t in[TLSRELAY_IN];
};

static struct tlsrelay_conn *tlsrelay_table[TLSRELAY_TABLE];
static struct tlsrelay_conn *tlsrelay_dead;
static int tlsrelay_epfd;
static volatile sig_atomic_t tlsrelay_stop;

static void tlsrelay_on_signal(int sig)
{
    (void)sig;
    tlsrelay_stop = 1;
}

static size_t tlsrelay_slot(const char *id, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)id[i]) * 16777619u;
    return h & (TLSRELAY_TABLE - 1);
}

/* The link that points at id's connection, or at the end of its chain. */
static struct tlsrelay_conn **tlsrelay_find(const char *id, size_t len)
{
    struct tlsrelay_conn **link = &tlsrelay_table[tlsrelay_slot(id, len)];

    while (*link && !((*link)->id_len == len && memcmp((*link)->id, id, len) == 0))
        link = &(*link)->next;
    return link;
}

/* Unhooks c at once; frees it after the current batch, whose events may still point at it. */
static void tlsrelay_close(struct tlsrelay_conn *c)
{
    if (c->dead)
        return;
    if (c->id_len) {
        struct tlsrelay_conn **link = tlsrelay_find(c->id, c->id_len);

        if (*link == c)
            *link = c->next;
    }
    epoll_ctl(tlsrelay_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->dead = true;
    c->next = tlsrelay_dead;
    tlsrelay_dead = c;
}

static void tlsrelay_reap(void)
{
    while (tlsrelay_dead) {
        struct tlsrelay_conn *c = tlsrelay_dead;

        tlsrelay_dead = c->next;
        SSL_free(c->ssl);
        close(c->fd);
        free(c);
    }
}

/* One unmasked server frame (FIN, opcode op) with payload a then b; 0, or -1 if the write did
 * not complete at once. */
static int tlsrelay_send(struct tlsrelay_conn *c, int op, const void *a, size_t alen, const void *b,
                         size_t blen)
{
    uint8_t frame[TLSRELAY_IN + 16];
    size_t len = alen + blen, h = 0;

    if (len > TLSRELAY_IN)
        return -1;
    frame[h++] = (uint8_t)(0x80 | op);
    if (len < 126) {
        frame[h++] = (uint8_t)len;
    } else {
        frame[h++] = 126;
        frame[h++] = (uint8_t)(len >> 8);
        frame[h++] = (uint8_t)len;
    }
    memcpy(frame + h, a, alen);
    memcpy(frame + h + alen, b, blen);
    return SSL_write(c->ssl, frame, (int)(h + len)) == (int)(h + len) ? 0 : -1;
}

/* A text frame from c: to "dst" with ,"src":"ID" before the closing brace. */
static void tlsrelay_forward(struct tlsrelay_conn *c, uint8_t *p, size_t len)
{
    static const char key[] = "\"dst\":\"";
    char tail[TLSRELAY_ID + 16];
    struct tlsrelay_conn **slot;
    const uint8_t *d, *q;
    int tn;

    d = memmem(p, len, key, sizeof(key) - 1);
    if (!d || len < 2 || p[len - 1] != '}')
        return; /* HEARTBEAT and the like */
    d += sizeof(key) - 1;
    q = memchr(d, '"', len - (size_t)(d - p));
    if (!q || (size_t)(q - d) >= TLSRELAY_ID)
        return;
    slot = tlsrelay_find((const char *)d, (size_t)(q - d));
    if (!*slot || (*slot)->st != ST_WS)
        return;
    tn = snprintf(tail, sizeof(tail), ",\"src\":\"%.*s\"}", (int)c->id_len, c->id);
    if (tlsrelay_send(*slot, 1, p, len - 1, tail, (size_t)tn) < 0)
        tlsrelay_close(*slot);
}

/* The upgrade request: id from the query, Sec-WebSocket-Key answered; -1 on anything else. */
static int tlsrelay_upgrade(struct tlsrelay_conn *c, char *req)
{
    static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
    char *id = strstr(req, "id="), *key = strcasestr(req, "\r\nSec-WebSocket-Key:");
    unsigned char digest[20];
    char kbuf[128], accept[64], resp[256];
    size_t idl, kl;
    struct tlsrelay_conn **slot;
    int n;

    if (strncmp(req, "GET ", 4) != 0 || !id || !key)
        return -1;
    id += 3;
    idl = strcspn(id, "& \r\n");
    key += 20;
    key += strspn(key, " ");
    kl = strcspn(key, " \r\n");
    if (idl == 0 || idl >= TLSRELAY_ID || kl == 0 || kl > 64)
        return -1;
    slot = tlsrelay_find(id, idl);
    if (*slot)
        return -1; /* the id is taken */
    memcpy(c->id, id, idl);
    c->id_len = idl;
    *slot = c;
    n = snprintf(kbuf, sizeof(kbuf), "%.*s%s", (int)kl, key, TLSRELAY_WS_GUID);
    if (!EVP_Digest(kbuf, (size_t)n, digest, NULL, EVP_sha1(), NULL))
        return -1;
    EVP_EncodeBlock((unsigned char *)accept, digest, sizeof(digest));
    n = snprintf(resp, sizeof(resp), "%s%s\r\n\r\n", ok, accept);
    if (SSL_write(c->ssl, resp, n) != n)
        return -1;
    c->st = ST_WS;
    return tlsrelay_send(c, 1, "{\"type\":\"OPEN\"}", 15, "", 0);
}

/* Handles every complete request or frame in c->in; -1 closes c. */
static int tlsrelay_consume(struct tlsrelay_conn *c)
{
    size_t off = 0;

    if (c->st == ST_HTTP) {
        uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);

        if (!end)
            return c->in_len < TLSRELAY_IN ? 0 : -1;
        *end = '\0';
        if (tlsrelay_upgrade(c, (char *)c->in) < 0)
            return -1;
        off = (size_t)(end - c->in) + 4;
    }
    while (c->st == ST_WS && c->in_len - off >= 6) {
        uint8_t *f = c->in + off, *mask, *p;
        size_t len = f[1] & 0x7f, h = 2;
        int op = f[0] & 0x0f;

        if (!(f[0] & 0x80) || !(f[1] & 0x80) || len == 127)
            return -1; /* fragments, unmasked client frames and 64-bit lengths: not used here */
        if (len == 126) {
            if (c->in_len - off < 8)
                break;
            len = (size_t)f[2] << 8 | f[3];
            h = 4;
        }
        if (c->in_len - off < h + 4 + len)
            break;
        mask = f + h;
        p = mask + 4;
        for (size_t i = 0; i < len; i++)
            p[i] ^= mask[i & 3];
        if (op == 8)
            return -1;
        if (op == 9)
            (void)tlsrelay_send(c, 10, p, len, "", 0);
        else if (op == 1)
            tlsrelay_forward(c, p, len);
        off += h + 4 + len;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return c->in_len < TLSRELAY_IN ? 0 : -1;
}

static void tlsrelay_readable(struct tlsrelay_conn *c)
{
    if (c->dead)
        return;
    if (c->st == ST_HANDSHAKE) {
        int r = SSL_accept(c->ssl);

        if (r != 1) {
            if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
                tlsrelay_close(c);
            return;
        }
        c->st = ST_HTTP;
    }
    /* Read-ahead pulls whatever the socket holds in one read(); the records it buffered are
     * drained here, and level-triggered epoll reports anything newer. */
    do {
        int n = SSL_read(c->ssl, c->in + c->in_len, (int)(TLSRELAY_IN - c->in_len));

        if (n <= 0) {
            if (SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ)
                tlsrelay_close(c);
            return;
        }
        c->in_len += (size_t)n;
        if (tlsrelay_consume(c) < 0)
            tlsrelay_close(c);
    } while (!c->dead && SSL_has_pending(c->ssl));
}

static void tlsrelay_accept(int lfd, SSL_CTX *ctx)
{
    int fd, one = 1;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct tlsrelay_conn *c = calloc(1, sizeof(*c));
        struct epoll_event ev = {.events = EPOLLIN};

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!c || !(c->ssl = SSL_new(ctx)) || SSL_set_fd(c->ssl, fd) != 1) {
            if (c)
                SSL_free(c->ssl);
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        ev.data.ptr = c;
        if (epoll_ctl(tlsrelay_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            SSL_free(c->ssl);
            free(c);
            close(fd);
        }
    }
}

static SSL_CTX *tlsrelay_ctx(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

int main(int argc, char **argv)
{
    struct epoll_event ev[TLSRELAY_EVENTS];
    static int listener_tag;
    union vc_addr addr;
    SSL_CTX *ctx;
    int lfd, one = 1;

    if (argc != 4 || addr_parse(&addr, argv[1], 0) < 0 || addr_port(&addr) == 0) {
        fprintf(stderr, "usage: tlsrelay HOST:PORT CERT KEY\n");
        return 2;
    }
    if (!(ctx = tlsrelay_ctx(argv[2], argv[3])))
        return 1;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, tlsrelay_on_signal);
    signal(SIGINT, tlsrelay_on_signal);
    lfd = socket(addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, &addr.sa, addr_len(&addr)) < 0 || listen(lfd, 4096) < 0) {
        fprintf(stderr, "tlsrelay: cannot listen on %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    tlsrelay_epfd = epoll_create1(EPOLL_CLOEXEC);
    epoll_ctl(tlsrelay_epfd, EPOLL_CTL_ADD, lfd,
              &(struct epoll_event){.events = EPOLLIN, .data.ptr = &listener_tag});
    while (!tlsrelay_stop) {
        int n = epoll_wait(tlsrelay_epfd, ev, TLSRELAY_EVENTS, 1000);

        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &listener_tag)
                tlsrelay_accept(lfd, ctx);
            else
                tlsrelay_readable(ev[i].data.ptr);
        }
        tlsrelay_reap();
    }
    SSL_CTX_free(ctx);
    return 0;
}
