/* CIDR ranges ("10.0.0.0/8", "::1/128", or a bare address) and matching an address against them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "vc/cidr.h"

int cidr_parse(const char *text, struct cidr *out)
{
    char ip[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t iplen = slash ? (size_t)(slash - text) : strlen(text);
    unsigned long prefix;
    char *end;

    if (iplen == 0 || iplen >= sizeof(ip))
        return -EINVAL;
    memcpy(ip, text, iplen);
    ip[iplen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, ip, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, ip, out->addr) == 1)
        out->family = AF_INET6;
    else
        return -EINVAL;
    out->prefix = out->family == AF_INET ? 32 : 128;
    if (slash) {
        if (slash[1] < '0' || slash[1] > '9')
            return -EINVAL;
        prefix = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || prefix > out->prefix)
            return -EINVAL;
        out->prefix = (unsigned)prefix;
    }
    return 0;
}

static bool cidr_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;

    if (memcmp(a, b, bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool cidr_match(const struct cidr *list, unsigned n, const char *ip)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t a[16];
    int family;

    if (inet_pton(AF_INET, ip, a) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        family = AF_INET6;
        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (unsigned i = 0; i < n; i++)
        if (list[i].family == family && cidr_prefix_equal(a, list[i].addr, list[i].prefix))
            return true;
    return false;
}
