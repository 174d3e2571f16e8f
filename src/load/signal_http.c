/* vc-load signal: parses --url, finds a reachable address, and talks HTTPS to the REST API. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "signal_load.h"

#define SIGLOAD_HTTP_HEAD_MAX 16384
#define SIGLOAD_HTTP_TIMEOUT_S 10
#define SIGLOAD_CONNECT_TIMEOUT_MS 3000
#define SIGLOAD_RESOLVE_MAX 8 /* addresses tried per name */

struct sigload_http {
    const struct sigload_target *t;
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    int insecure;
};

int sigload_target_parse(const char *url, struct sigload_target *t, char *err, size_t errlen)
{
    const char *p, *host, *host_end, *rest;
    size_t hlen;
    int bracket = 0;

    memset(t, 0, sizeof(*t));
    if (strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "--url %s: must start with https://", url);
        return -EINVAL;
    }
    host = url + 8;
    if (*host == '[') {
        bracket = 1;
        host++;
        host_end = strchr(host, ']');
        if (host_end == NULL) {
            snprintf(err, errlen, "--url %s: unterminated [IPv6 address]", url);
            return -EINVAL;
        }
        rest = host_end + 1;
    } else {
        host_end = host + strcspn(host, ":/");
        rest = host_end;
    }
    hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof(t->host)) {
        snprintf(err, errlen, "--url %s: missing or overlong host", url);
        return -EINVAL;
    }
    memcpy(t->host, host, hlen);
    t->host[hlen] = '\0';
    t->port = 443;
    if (*rest == ':') {
        char *end;
        long port;
        p = rest + 1;
        errno = 0;
        port = strtol(p, &end, 10);
        if (end == p || errno != 0 || port < 1 || port > 65535) {
            snprintf(err, errlen, "--url %s: bad port", url);
            return -EINVAL;
        }
        t->port = (int)port;
        rest = end;
    }
    if (*rest != '\0' && strcmp(rest, "/") != 0) {
        snprintf(err, errlen, "--url %s: give only https://HOST:PORT (no path)", url);
        return -EINVAL;
    }
    if (t->port == 443) {
        snprintf(t->host_header, sizeof(t->host_header), bracket ? "[%s]" : "%s", t->host);
    } else {
        snprintf(t->host_header, sizeof(t->host_header), bracket ? "[%s]:%d" : "%s:%d", t->host,
                 t->port);
    }
    snprintf(t->origin, sizeof(t->origin), "https://%s", t->host_header);
    return 0;
}

/* Connects a non-blocking socket to sa within timeout_ms; returns the blocking fd or -errno. */
static int sigload_tcp_connect(const struct sockaddr *sa, socklen_t salen, int timeout_ms)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc, soerr = 0;
    socklen_t slen = sizeof(soerr);
    struct pollfd pfd;

    if (fd < 0) {
        return -errno;
    }
    rc = connect(fd, sa, salen);
    if (rc < 0 && errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (rc < 0) {
        pfd.fd = fd;
        pfd.events = POLLOUT;
        rc = poll(&pfd, 1, timeout_ms);
        if (rc <= 0) {
            close(fd);
            return rc == 0 ? -ETIMEDOUT : -errno;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0 || soerr != 0) {
            close(fd);
            return soerr != 0 ? -soerr : -EIO;
        }
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int sigload_target_resolve(struct sigload_target *t, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char port[16];
    int rc, last = -EHOSTUNREACH, tried = 0;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", t->port);
    rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", t->host, gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    for (ai = res; ai != NULL && tried < SIGLOAD_RESOLVE_MAX; ai = ai->ai_next, tried++) {
        int fd = sigload_tcp_connect(ai->ai_addr, ai->ai_addrlen, SIGLOAD_CONNECT_TIMEOUT_MS);
        if (fd < 0) {
            last = fd;
            continue;
        }
        close(fd);
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, t->addr, sizeof(t->addr), NULL, 0,
                        NI_NUMERICHOST) != 0) {
            continue;
        }
        t->family = ai->ai_family;
        freeaddrinfo(res);
        return 0;
    }
    freeaddrinfo(res);
    snprintf(err, errlen, "cannot connect to %s: %s", t->host_header, strerror(-last));
    return last;
}

int sigload_http_new(const struct sigload_target *t, const char *ca_file, int insecure,
                     struct sigload_http **out, char *err, size_t errlen)
{
    struct sigload_http *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        return -ENOMEM;
    }
    h->t = t;
    h->fd = -1;
    h->insecure = insecure;
    h->ctx = SSL_CTX_new(TLS_client_method());
    if (h->ctx == NULL) {
        free(h);
        snprintf(err, errlen, "SSL_CTX_new failed");
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION);
    if (!insecure) {
        if (SSL_CTX_load_verify_locations(h->ctx, ca_file, NULL) != 1) {
            snprintf(err, errlen, "cannot load CA file %s (--ca, or --insecure)", ca_file);
            SSL_CTX_free(h->ctx);
            free(h);
            return -EINVAL;
        }
        SSL_CTX_set_verify(h->ctx, SSL_VERIFY_PEER, NULL);
    }
    *out = h;
    return 0;
}

static void sigload_http_disconnect(struct sigload_http *h)
{
    if (h->ssl != NULL) {
        SSL_free(h->ssl);
        h->ssl = NULL;
    }
    if (h->fd >= 0) {
        close(h->fd);
        h->fd = -1;
    }
}

void sigload_http_free(struct sigload_http *h)
{
    if (h == NULL) {
        return;
    }
    sigload_http_disconnect(h);
    SSL_CTX_free(h->ctx);
    free(h);
}

static int sigload_http_connect(struct sigload_http *h, char *err, size_t errlen)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct timeval tv = {SIGLOAD_HTTP_TIMEOUT_S, 0};
    int one = 1;
    int fd;

    if (h->t->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)h->t->port);
        inet_pton(AF_INET6, h->t->addr, &s6->sin6_addr);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)h->t->port);
        inet_pton(AF_INET, h->t->addr, &s4->sin_addr);
        sl = sizeof(*s4);
    }
    fd = sigload_tcp_connect((struct sockaddr *)&ss, sl, SIGLOAD_CONNECT_TIMEOUT_MS);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s (%s): %s", h->t->host_header, h->t->addr,
                 strerror(-fd));
        return fd;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    h->fd = fd;
    h->ssl = SSL_new(h->ctx);
    if (h->ssl == NULL) {
        sigload_http_disconnect(h);
        return -ENOMEM;
    }
    SSL_set_fd(h->ssl, fd);
    {
        struct in6_addr tmp;
        int numeric =
            inet_pton(AF_INET, h->t->host, &tmp) == 1 || inet_pton(AF_INET6, h->t->host, &tmp) == 1;
        if (!numeric) {
            SSL_set_tlsext_host_name(h->ssl, h->t->host);
        }
        if (!h->insecure) {
            if (numeric) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h->ssl), h->t->host);
            } else {
                SSL_set1_host(h->ssl, h->t->host);
            }
        }
    }
    if (SSL_connect(h->ssl) != 1) {
        unsigned long e = ERR_get_error();
        long vr = SSL_get_verify_result(h->ssl);
        if (vr != X509_V_OK) {
            snprintf(err, errlen,
                     "TLS to %s: certificate not trusted: %s (--ca FILE or --insecure)",
                     h->t->host_header, X509_verify_cert_error_string(vr));
        } else {
            snprintf(err, errlen, "TLS handshake with %s failed: %s", h->t->host_header,
                     e ? ERR_reason_error_string(e) : "connection closed");
        }
        ERR_clear_error();
        sigload_http_disconnect(h);
        return -EPROTO;
    }
    return 0;
}

static int sigload_write_all(SSL *ssl, const char *buf, size_t len)
{
    while (len > 0) {
        int n = SSL_write(ssl, buf, len > 65536 ? 65536 : (int)len);
        if (n <= 0) {
            return -EIO;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Finds header name (case-insensitive) in head[0..len); returns its value and length. */
static const char *sigload_header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = head, *end = head + len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            eol = end;
        }
        if ((size_t)(eol - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            const char *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) {
                ve--;
            }
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

struct sigload_http_head {
    size_t len;  /* bytes of status line and headers, with the blank line */
    size_t clen; /* body length when have_clen */
    int have_clen;
    int close_after;
};

/* Parses the head once buf[0..got) holds all of it: 1 done, 0 incomplete, or -errno. */
static int sigload_http_head(const struct sigload_http *h, const char *buf, size_t got,
                             size_t body_cap, struct sigload_http_head *hd, char *err,
                             size_t errlen)
{
    const char *m = memmem(buf, got, "\r\n\r\n", 4), *v;
    size_t vlen;

    if (m == NULL) {
        return 0;
    }
    memset(hd, 0, sizeof(*hd));
    hd->len = (size_t)(m - buf) + 4;
    if (hd->len < 16 || memcmp(buf, "HTTP/1.", 7) != 0) {
        snprintf(err, errlen, "%s did not answer HTTP", h->t->host_header);
        return -EPROTO;
    }
    v = sigload_header(buf, hd->len, "connection", &vlen);
    hd->close_after = v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0;
    if (buf[9] == '1' || memcmp(buf + 9, "204", 3) == 0 || memcmp(buf + 9, "304", 3) == 0) {
        hd->have_clen = 1; /* no body, whatever the headers say */
        return 1;
    }
    if (sigload_header(buf, hd->len, "transfer-encoding", &vlen) != NULL) {
        snprintf(err, errlen, "HTTP answer from %s uses Transfer-Encoding (unsupported)",
                 h->t->host_header);
        return -EPROTO;
    }
    v = sigload_header(buf, hd->len, "content-length", &vlen);
    if (v != NULL) {
        char num[24];
        if (vlen == 0 || vlen >= sizeof(num)) {
            return -EPROTO;
        }
        memcpy(num, v, vlen);
        num[vlen] = '\0';
        hd->clen = strtoul(num, NULL, 10);
        hd->have_clen = 1;
        if (hd->clen >= body_cap) {
            snprintf(err, errlen, "HTTP body from %s over %zu bytes", h->t->host_header, body_cap);
            return -EMSGSIZE;
        }
    }
    return 1;
}

/* Reads one whole answer into buf (cap bytes). Returns 0 with *hd filled, or -errno. */
static int sigload_http_read(struct sigload_http *h, char *buf, size_t cap, size_t *got,
                             size_t body_cap, struct sigload_http_head *hd, char *err,
                             size_t errlen)
{
    int have_head = 0, rc;

    *got = 0;
    for (int reads = 0; reads < 1000; reads++) {
        int n;
        if (*got == cap) {
            snprintf(err, errlen, "HTTP answer from %s over %zu bytes", h->t->host_header, cap);
            return -EMSGSIZE;
        }
        n = SSL_read(h->ssl, buf + *got, (int)(cap - *got));
        if (n <= 0) {
            if (have_head && !hd->have_clen) {
                return 0; /* body delimited by the close */
            }
            snprintf(err, errlen, "connection to %s closed before a whole HTTP answer",
                     h->t->host_header);
            return *got == 0 ? -ECONNRESET : -EPROTO;
        }
        *got += (size_t)n;
        if (!have_head) {
            rc = sigload_http_head(h, buf, *got, body_cap, hd, err, errlen);
            if (rc < 0) {
                return rc;
            }
            have_head = rc;
        }
        if (have_head && hd->have_clen && *got - hd->len >= hd->clen) {
            return 0;
        }
    }
    snprintf(err, errlen, "HTTP answer from %s never completed", h->t->host_header);
    return -EPROTO;
}

/* One request on the kept-alive connection. The body (at most body_cap - 1 bytes) is copied
 * NUL-terminated into body. Returns the HTTP status, or a negative errno. */
static int sigload_http_once(struct sigload_http *h, const char *req, size_t req_len, char *body,
                             size_t body_cap, size_t *body_len, int *fresh, char *err,
                             size_t errlen)
{
    size_t got = 0, cap = SIGLOAD_HTTP_HEAD_MAX + body_cap;
    struct sigload_http_head hd;
    char *buf;
    int rc;

    *fresh = 0;
    if (h->ssl == NULL) {
        rc = sigload_http_connect(h, err, errlen);
        if (rc < 0) {
            return rc;
        }
        *fresh = 1;
    }
    if (sigload_write_all(h->ssl, req, req_len) < 0) {
        snprintf(err, errlen, "HTTPS write to %s failed", h->t->host_header);
        sigload_http_disconnect(h);
        return -EPIPE;
    }
    buf = malloc(cap);
    if (buf == NULL) {
        return -ENOMEM;
    }
    rc = sigload_http_read(h, buf, cap, &got, body_cap, &hd, err, errlen);
    if (rc < 0) {
        free(buf);
        sigload_http_disconnect(h);
        return rc;
    }
    rc = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    *body_len = hd.have_clen ? hd.clen : got - hd.len;
    if (*body_len >= body_cap) {
        *body_len = body_cap - 1;
    }
    memcpy(body, buf + hd.len, *body_len);
    body[*body_len] = '\0';
    free(buf);
    if (hd.close_after || !hd.have_clen) {
        sigload_http_disconnect(h);
    }
    return rc;
}

/* A request with one retry when a kept-alive connection turned out to be closed. */
static int sigload_http_request(struct sigload_http *h, const char *method, const char *path,
                                const char *api_key, const char *json, char *body, size_t body_cap,
                                size_t *body_len, char *err, size_t errlen)
{
    char req[2048];
    int n, rc, fresh;
    size_t jlen = json ? strlen(json) : 0;

    n = snprintf(req, sizeof(req),
                 "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                 "User-Agent: vc-load\r\nAccept: application/json\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 method, path, h->t->host_header, api_key, jlen, json ? json : "");
    if (n < 0 || (size_t)n >= sizeof(req)) {
        snprintf(err, errlen, "request too long (API key?)");
        return -EMSGSIZE;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = sigload_http_once(h, req, (size_t)n, body, body_cap, body_len, &fresh, err, errlen);
        if (rc >= 0 || fresh || (rc != -EPIPE && rc != -ECONNRESET)) {
            return rc;
        }
    }
    return rc;
}

/* The fragment of a link: the token after '#'. */
static int sigload_fragment(const char *url, char *out, size_t cap)
{
    const char *h = url ? strchr(url, '#') : NULL;
    size_t len;

    if (h == NULL) {
        return -EBADMSG;
    }
    len = strlen(h + 1);
    if (len == 0 || len >= cap) {
        return -EBADMSG;
    }
    memcpy(out, h + 1, len + 1);
    return 0;
}

/* The message of an {"error":{...}} body, or the body itself, for error lines. */
static void sigload_error_text(const char *body, size_t len, char *out, size_t cap)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *m = NULL, *c = NULL;

    if (j != NULL) {
        json_t *e = json_object_get(j, "error");
        c = json_string_value(json_object_get(e, "code"));
        m = json_string_value(json_object_get(e, "message"));
    }
    if (c != NULL || m != NULL) {
        snprintf(out, cap, "%s: %s", c ? c : "error", m ? m : "");
    } else {
        snprintf(out, cap, "%.*s", (int)(len > 200 ? 200 : len), body);
    }
    json_decref(j);
}

int sigload_http_create_room(struct sigload_http *h, const char *api_key, unsigned ttl_s,
                             struct sigload_room_link *room, char *err, size_t errlen)
{
    char json[128], body[SIGLOAD_HTTP_BODY_MAX], why[256];
    size_t blen = 0;
    json_t *j;
    const char *id;
    int status;

    snprintf(json, sizeof(json), "{\"lobby\":true,\"capacity\":2,\"ttl\":%u}", ttl_s);
    status = sigload_http_request(h, "POST", "/api/v1/rooms", api_key, json, body, sizeof(body),
                                  &blen, err, errlen);
    if (status < 0) {
        return status;
    }
    if (status != 201) {
        sigload_error_text(body, blen, why, sizeof(why));
        snprintf(err, errlen, "POST /api/v1/rooms: HTTP %d (%s)%s", status, why,
                 status == 401 || status == 403 ? "; check --api-key"
                 : status == 429                ? "; raise vc-signal --max-rooms-per-owner"
                                                : "");
        return -EACCES;
    }
    j = json_loadb(body, blen, 0, NULL);
    id = json_string_value(json_object_get(j, "id"));
    if (id == NULL || strlen(id) >= sizeof(room->id) ||
        sigload_fragment(json_string_value(json_object_get(j, "host_url")), room->host_token,
                         sizeof(room->host_token)) < 0 ||
        sigload_fragment(json_string_value(json_object_get(j, "guest_url")), room->guest_token,
                         sizeof(room->guest_token)) < 0) {
        snprintf(err, errlen,
                 "POST /api/v1/rooms: 201 without id, host_url#TOKEN, guest_url#TOKEN");
        json_decref(j);
        return -EBADMSG;
    }
    memcpy(room->id, id, strlen(id) + 1);
    json_decref(j);
    return 0;
}

int sigload_http_delete_room(struct sigload_http *h, const char *api_key, const char *id, char *err,
                             size_t errlen)
{
    char path[128], body[SIGLOAD_HTTP_BODY_MAX];
    size_t blen = 0;
    int status;

    snprintf(path, sizeof(path), "/api/v1/rooms/%s", id);
    status = sigload_http_request(h, "DELETE", path, api_key, NULL, body, sizeof(body), &blen, err,
                                  errlen);
    if (status < 0) {
        return status;
    }
    if (status != 204 && status != 404) {
        snprintf(err, errlen, "DELETE %s: HTTP %d", path, status);
        return -EIO;
    }
    return 0;
}
