/* Tests of CIDR parsing and matching: prefixes of both families, mapped IPv4, refused text. */
#include <errno.h>
#include <sys/socket.h>

#include "vc/cidr.h"
#include "test.h"

TEST(cidr_parses_prefixes_and_bare_addresses)
{
    struct cidr c;

    CHECK_INT(cidr_parse("10.0.0.0/8", &c), 0);
    CHECK_INT(c.family, AF_INET);
    CHECK_INT(c.prefix, 8);
    CHECK_INT(cidr_parse("::1", &c), 0);
    CHECK_INT(c.family, AF_INET6);
    CHECK_INT(c.prefix, 128);
    CHECK_INT(cidr_parse("192.0.2.7", &c), 0);
    CHECK_INT(c.prefix, 32);
}

TEST(cidr_rejects_bad_text)
{
    static const char *const bad[] = {"",          "/8",         "10.0.0.0/33", "::/129",
                                      "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/8x", "host/8",
                                      "1.2.3/8",   "10.0.0.0/-1"};
    struct cidr c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (!CHECK_INT(cidr_parse(bad[i], &c), -EINVAL))
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
}

TEST(cidr_matches_by_prefix_and_family)
{
    struct cidr l[3];

    if (!CHECK_INT(cidr_parse("127.0.0.0/8", &l[0]), 0) ||
        !CHECK_INT(cidr_parse("2001:db8::/33", &l[1]), 0) ||
        !CHECK_INT(cidr_parse("192.0.2.128/25", &l[2]), 0))
        return;
    CHECK(cidr_match(l, 3, "127.1.2.3"));
    CHECK(!cidr_match(l, 3, "128.0.0.1"));
    CHECK(cidr_match(l, 3, "2001:db8:7fff::1"));
    CHECK(!cidr_match(l, 3, "2001:db8:8000::1"));
    CHECK(cidr_match(l, 3, "192.0.2.200"));
    CHECK(!cidr_match(l, 3, "192.0.2.127"));
    CHECK(!cidr_match(l, 2, "192.0.2.200")); /* only the first n count */
    CHECK(!cidr_match(l, 3, "::127.0.0.1")); /* IPv4-compatible is not IPv4-mapped */
    CHECK(!cidr_match(l, 3, "not an ip"));
}

TEST(cidr_treats_mapped_ipv6_as_ipv4)
{
    struct cidr c;

    if (!CHECK_INT(cidr_parse("127.0.0.0/8", &c), 0))
        return;
    CHECK(cidr_match(&c, 1, "::ffff:127.0.0.1"));
    CHECK(!cidr_match(&c, 1, "::ffff:10.0.0.1"));
}
