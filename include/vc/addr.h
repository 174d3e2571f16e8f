/* Transport addresses: a compact IPv4/IPv6 socket address with parse, format, compare and hash. */
#ifndef VC_ADDR_H
#define VC_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* 28 bytes: small enough to embed in allocation, permission and channel records. */
union vc_addr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

/* Longest text addr_format() writes, "[v6%scope]:port" included. */
#define VC_ADDR_STRLEN 64

/* Parses "1.2.3.4:5", "[::1]:5", or a bare IP (port 0 unless default_port is given).
 * Returns 0 or -EINVAL. */
int addr_parse(union vc_addr *out, const char *text, uint16_t default_port);

/* Parses a bare IP literal (no port). Returns 0 or -EINVAL. */
int addr_parse_ip(union vc_addr *out, const char *text);

/* Writes "ip:port" or "[ip]:port" into out (at least VC_ADDR_STRLEN bytes); returns out. */
char *addr_format(const union vc_addr *a, char *out, size_t outlen);

/* Writes the IP alone; returns out. */
char *addr_format_ip(const union vc_addr *a, char *out, size_t outlen);

socklen_t addr_len(const union vc_addr *a);
uint16_t addr_port(const union vc_addr *a);
void addr_set_port(union vc_addr *a, uint16_t port);

/* Same family, IP and port. */
bool addr_equal(const union vc_addr *a, const union vc_addr *b);

/* Same family and IP; ports ignored. */
bool addr_equal_ip(const union vc_addr *a, const union vc_addr *b);

/* True for the wildcard address 0.0.0.0 or ::. */
bool addr_is_any(const union vc_addr *a);

/* Fast non-cryptographic hash of family, IP and port (for per-worker tables). */
uint32_t addr_hash(const union vc_addr *a);

/* Copies a sockaddr of either family into out (which may alias sa). Returns 0, -EINVAL for a
 * short length, or -EAFNOSUPPORT. */
int addr_from_sockaddr(union vc_addr *out, const struct sockaddr *sa, socklen_t len);

#endif
