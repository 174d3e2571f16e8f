/* Transport addresses: parse and format "ip:port" text, compare and hash IPv4/IPv6 addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vc/addr.h"

/* Longest text we accept: a v6 literal with scope and port fits well inside. */
#define ADDR_TEXT_MAX 96

/* Parses a decimal port "0".."65535" of exactly len bytes: digits only, no sign or spaces. */
static int addr_parse_port(const char *s, size_t len, uint16_t *port)
{
    unsigned long v = 0;

    if (len == 0 || len > 5)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

/* Parses an IPv6 scope ("2" or "eth0") into an interface index. */
static int addr_parse_scope(const char *s, uint32_t *scope)
{
    char *end;
    unsigned long v;

    if (*s == '\0')
        return -EINVAL;
    if (s[0] >= '0' && s[0] <= '9') {
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end != '\0' || v > UINT32_MAX)
            return -EINVAL;
        *scope = (uint32_t)v;
        return 0;
    }
    v = if_nametoindex(s);
    if (v == 0)
        return -EINVAL;
    *scope = (uint32_t)v;
    return 0;
}

int addr_parse_ip(union vc_addr *out, const char *text)
{
    char buf[ADDR_TEXT_MAX];
    size_t len;
    char *pct;

    memset(out, 0, sizeof(*out));
    if (!text)
        return -EINVAL;
    len = strnlen(text, sizeof(buf));
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, text, len + 1);

    if (inet_pton(AF_INET, buf, &out->v4.sin_addr) == 1) {
        out->v4.sin_family = AF_INET;
        return 0;
    }
    pct = strchr(buf, '%');
    if (pct)
        *pct = '\0';
    if (inet_pton(AF_INET6, buf, &out->v6.sin6_addr) != 1) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    out->v6.sin6_family = AF_INET6;
    if (pct && addr_parse_scope(pct + 1, &out->v6.sin6_scope_id) < 0) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

int addr_parse(union vc_addr *out, const char *text, uint16_t default_port)
{
    char ip[ADDR_TEXT_MAX];
    const char *colon, *close, *port_text = NULL;
    size_t len, ip_len, port_len = 0;
    uint16_t port = default_port;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!text)
        return -EINVAL;
    len = strnlen(text, ADDR_TEXT_MAX);
    if (len == 0 || len >= ADDR_TEXT_MAX)
        return -EINVAL;

    if (text[0] == '[') {
        /* "[v6]" or "[v6]:port"; the brackets only ever hold IPv6. */
        close = memchr(text, ']', len);
        if (!close)
            return -EINVAL;
        ip_len = (size_t)(close - text - 1);
        memcpy(ip, text + 1, ip_len);
        ip[ip_len] = '\0';
        if (close[1] == ':') {
            port_text = close + 2;
            port_len = len - (size_t)(port_text - text);
        } else if (close[1] != '\0') {
            return -EINVAL;
        }
        if (!strchr(ip, ':'))
            return -EINVAL;
    } else {
        /* One colon: "v4:port". Several: a bare v6 literal. None: a bare v4 literal. */
        colon = strchr(text, ':');
        if (colon && !strchr(colon + 1, ':')) {
            ip_len = (size_t)(colon - text);
            port_text = colon + 1;
            port_len = len - ip_len - 1;
        } else {
            ip_len = len;
        }
        memcpy(ip, text, ip_len);
        ip[ip_len] = '\0';
    }

    if (port_text) {
        rc = addr_parse_port(port_text, port_len, &port);
        if (rc < 0)
            return rc;
    }
    rc = addr_parse_ip(out, ip);
    if (rc < 0)
        return rc;
    addr_set_port(out, port);
    return 0;
}

char *addr_format_ip(const union vc_addr *a, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN];

    if (outlen == 0)
        return out;
    switch (a->sa.sa_family) {
    case AF_INET:
        if (!inet_ntop(AF_INET, &a->v4.sin_addr, ip, sizeof(ip)))
            break;
        snprintf(out, outlen, "%s", ip);
        return out;
    case AF_INET6:
        if (!inet_ntop(AF_INET6, &a->v6.sin6_addr, ip, sizeof(ip)))
            break;
        if (a->v6.sin6_scope_id)
            snprintf(out, outlen, "%s%%%u", ip, (unsigned)a->v6.sin6_scope_id);
        else
            snprintf(out, outlen, "%s", ip);
        return out;
    }
    snprintf(out, outlen, "?");
    return out;
}

char *addr_format(const union vc_addr *a, char *out, size_t outlen)
{
    char ip[VC_ADDR_STRLEN];

    if (outlen == 0)
        return out;
    addr_format_ip(a, ip, sizeof(ip));
    switch (a->sa.sa_family) {
    case AF_INET:
        snprintf(out, outlen, "%s:%u", ip, (unsigned)addr_port(a));
        break;
    case AF_INET6:
        snprintf(out, outlen, "[%s]:%u", ip, (unsigned)addr_port(a));
        break;
    default:
        snprintf(out, outlen, "?");
        break;
    }
    return out;
}

socklen_t addr_len(const union vc_addr *a)
{
    switch (a->sa.sa_family) {
    case AF_INET:
        return sizeof(struct sockaddr_in);
    case AF_INET6:
        return sizeof(struct sockaddr_in6);
    }
    return 0;
}

uint16_t addr_port(const union vc_addr *a)
{
    switch (a->sa.sa_family) {
    case AF_INET:
        return ntohs(a->v4.sin_port);
    case AF_INET6:
        return ntohs(a->v6.sin6_port);
    }
    return 0;
}

void addr_set_port(union vc_addr *a, uint16_t port)
{
    switch (a->sa.sa_family) {
    case AF_INET:
        a->v4.sin_port = htons(port);
        break;
    case AF_INET6:
        a->v6.sin6_port = htons(port);
        break;
    }
}

/* IPv4-mapped IPv6 (::ffff:1.2.3.4) is not folded into IPv4: sockets of one family see one form. */
bool addr_equal_ip(const union vc_addr *a, const union vc_addr *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return false;
    switch (a->sa.sa_family) {
    case AF_INET:
        return a->v4.sin_addr.s_addr == b->v4.sin_addr.s_addr;
    case AF_INET6:
        return memcmp(&a->v6.sin6_addr, &b->v6.sin6_addr, sizeof(a->v6.sin6_addr)) == 0;
    }
    return false;
}

bool addr_equal(const union vc_addr *a, const union vc_addr *b)
{
    return addr_equal_ip(a, b) && addr_port(a) == addr_port(b);
}

/* FNV-1a over family, IP and port, then the murmur3 finalizer to spread the low bits. Scope ids
 * are left out, as in addr_equal(), so equal addresses always hash alike. */
uint32_t addr_hash(const union vc_addr *a)
{
    uint32_t h = 2166136261u;
    const uint8_t *ip;
    size_t iplen;
    uint16_t port = addr_port(a);

    switch (a->sa.sa_family) {
    case AF_INET:
        ip = (const uint8_t *)&a->v4.sin_addr;
        iplen = sizeof(a->v4.sin_addr);
        break;
    case AF_INET6:
        ip = (const uint8_t *)&a->v6.sin6_addr;
        iplen = sizeof(a->v6.sin6_addr);
        break;
    default:
        ip = NULL;
        iplen = 0;
        break;
    }
    h = (h ^ (uint8_t)a->sa.sa_family) * 16777619u;
    for (size_t i = 0; i < iplen; i++)
        h = (h ^ ip[i]) * 16777619u;
    h = (h ^ (uint8_t)(port >> 8)) * 16777619u;
    h = (h ^ (uint8_t)port) * 16777619u;

    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

int addr_from_sockaddr(union vc_addr *out, const struct sockaddr *sa, socklen_t len)
{
    union vc_addr tmp; /* out may alias sa */

    memset(&tmp, 0, sizeof(tmp));
    if (!sa || len < (socklen_t)sizeof(sa_family_t)) {
        *out = tmp;
        return -EAFNOSUPPORT;
    }
    switch (sa->sa_family) {
    case AF_INET:
        if (len < (socklen_t)sizeof(struct sockaddr_in))
            break;
        memcpy(&tmp.v4, sa, sizeof(struct sockaddr_in));
        memset(tmp.v4.sin_zero, 0, sizeof(tmp.v4.sin_zero));
        *out = tmp;
        return 0;
    case AF_INET6:
        if (len < (socklen_t)sizeof(struct sockaddr_in6))
            break;
        memcpy(&tmp.v6, sa, sizeof(struct sockaddr_in6));
        *out = tmp;
        return 0;
    default:
        *out = tmp;
        return -EAFNOSUPPORT;
    }
    *out = tmp;
    return -EINVAL;
}

bool addr_is_any(const union vc_addr *a)
{
    static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

    if (a->sa.sa_family == AF_INET)
        return a->v4.sin_addr.s_addr == htonl(INADDR_ANY);
    return memcmp(&a->v6.sin6_addr, &any6, sizeof(any6)) == 0;
}
