/* CIDR ranges ("10.0.0.0/8", "::1/128", or a bare address) and matching an address against them. */
#ifndef VC_CIDR_H
#define VC_CIDR_H

#include <stdbool.h>
#include <stdint.h>

/* One range: the first prefix bits of addr (network byte order; 4 bytes used for IPv4). */
struct cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
};

/* Parses "a.b.c.d/n", "v6/n" or a bare address (a /32 or /128). Host bits may be set; they are
 * ignored when matching. Returns 0 or -EINVAL. */
int cidr_parse(const char *text, struct cidr *out);

/* True if ip (a NUL-terminated address literal; IPv4-mapped IPv6 counts as IPv4) lies in one of
 * the n ranges of list (borrowed). An unparsable ip matches nothing. */
bool cidr_match(const struct cidr *list, unsigned n, const char *ip);

#endif
