/* Unit tests for addr: parse/format round trips, malformed input, equality and hashing. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "test.h"
#include "vc/addr.h"

TEST(addr_round_trips_v4_v6_and_bracketed)
{
    static const struct {
        const char *in, *out;
        int family;
        unsigned port;
    } cases[] = {
        {"1.2.3.4:5", "1.2.3.4:5", AF_INET, 5},
        {"127.0.0.1:3478", "127.0.0.1:3478", AF_INET, 3478},
        {"0.0.0.0:0", "0.0.0.0:0", AF_INET, 0},
        {"255.255.255.255:65535", "255.255.255.255:65535", AF_INET, 65535},
        {"[::1]:5", "[::1]:5", AF_INET6, 5},
        {"[2001:DB8::1]:443", "[2001:db8::1]:443", AF_INET6, 443},
        {"[::ffff:1.2.3.4]:9", "[::ffff:1.2.3.4]:9", AF_INET6, 9},
        {"[fe80::1%1]:7", "[fe80::1%1]:7", AF_INET6, 7},
    };
    char buf[VC_ADDR_STRLEN];
    union vc_addr a, b;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!CHECK_INT(addr_parse(&a, cases[i].in, 0), 0))
            continue;
        CHECK_INT(a.sa.sa_family, cases[i].family);
        CHECK_INT(addr_port(&a), cases[i].port);
        CHECK_STR(addr_format(&a, buf, sizeof(buf)), cases[i].out);
        CHECK_INT(addr_parse(&b, buf, 0), 0);
        CHECK(addr_equal(&a, &b));
        CHECK_INT(addr_len(&a), cases[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                           : sizeof(struct sockaddr_in6));
    }
}

TEST(addr_bare_ip_takes_default_port)
{
    char buf[VC_ADDR_STRLEN];
    union vc_addr a;

    CHECK_INT(addr_parse(&a, "10.0.0.1", 3478), 0);
    CHECK_STR(addr_format(&a, buf, sizeof(buf)), "10.0.0.1:3478");
    CHECK_INT(addr_parse(&a, "::1", 3478), 0);
    CHECK_STR(addr_format(&a, buf, sizeof(buf)), "[::1]:3478");
    CHECK_INT(addr_parse(&a, "[::1]", 80), 0);
    CHECK_STR(addr_format(&a, buf, sizeof(buf)), "[::1]:80");
    CHECK_INT(addr_parse(&a, "1.2.3.4:0", 3478), 0);
    CHECK_INT(addr_port(&a), 0);

    CHECK_INT(addr_parse_ip(&a, "192.0.2.7"), 0);
    CHECK_STR(addr_format_ip(&a, buf, sizeof(buf)), "192.0.2.7");
    CHECK_INT(addr_parse_ip(&a, "2001:db8::7"), 0);
    CHECK_STR(addr_format_ip(&a, buf, sizeof(buf)), "2001:db8::7");
}

TEST(addr_rejects_malformed_input)
{
    static const char *bad[] = {
        "",
        "abc",
        "1.2.3.4:99999",
        "1.2.3.4:65536",
        "1.2.3.4:",
        "1.2.3.4:-1",
        "1.2.3.4:+5",
        "1.2.3.4: 5",
        "1.2.3.4:5x",
        "1.2.3:5",
        "1.2.3.256:5",
        "[::1",
        "[::1]5",
        "[::1]:",
        "[::1]:70000",
        "[1.2.3.4]:5",
        "[]:5",
        "[::1%]:5",
        "[fe80::1%no-such-if0]:5",
        ":5",
        "::1::2",
        " 1.2.3.4:5",
        "1.2.3.4:5 ",
        "host.example:5",
        "[1111:2222:3333:4444:5555:6666:7777:8888:9999]:5",
    };
    union vc_addr a;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (addr_parse(&a, bad[i], 1) != -EINVAL)
            test_fail(__FILE__, __LINE__, "addr_parse accepted \"%s\"", bad[i]);
    }
    CHECK_INT(addr_parse(&a, NULL, 1), -EINVAL);

    /* Over-long text is refused, not truncated into something valid. */
    char longtext[200];
    memset(longtext, '0', sizeof(longtext));
    memcpy(longtext, "1.2.3.4:", 8);
    longtext[sizeof(longtext) - 2] = '5';
    longtext[sizeof(longtext) - 1] = '\0';
    CHECK_INT(addr_parse(&a, longtext, 1), -EINVAL);
    CHECK_INT(addr_parse_ip(&a, "1.2.3.4:5"), -EINVAL);
    CHECK_INT(addr_parse_ip(&a, "[::1]"), -EINVAL);
    CHECK_INT(addr_parse_ip(&a, ""), -EINVAL);
}

TEST(addr_equal_and_hash_agree)
{
    union vc_addr a, b, c, d, e;

    CHECK_INT(addr_parse(&a, "192.0.2.1:1000", 0), 0);
    CHECK_INT(addr_parse(&b, "192.0.2.1:1000", 0), 0);
    CHECK_INT(addr_parse(&c, "192.0.2.1:1001", 0), 0);
    CHECK_INT(addr_parse(&d, "192.0.2.2:1000", 0), 0);
    CHECK_INT(addr_parse(&e, "[::ffff:192.0.2.1]:1000", 0), 0);

    CHECK(addr_equal(&a, &b));
    CHECK_INT(addr_hash(&a), addr_hash(&b));
    CHECK(!addr_equal(&a, &c));
    CHECK(addr_equal_ip(&a, &c));
    CHECK(!addr_equal(&a, &d));
    CHECK(!addr_equal_ip(&a, &d));
    CHECK(!addr_equal(&a, &e));
    CHECK(!addr_equal_ip(&a, &e));
    /* Not guaranteed in general, but these neighbours must not all collide with a good mix. */
    CHECK(addr_hash(&a) != addr_hash(&c) || addr_hash(&a) != addr_hash(&d));

    /* Equal addresses hash alike even when unused bytes (sin_zero) differ. */
    memset(b.v4.sin_zero, 0xAA, sizeof(b.v4.sin_zero));
    CHECK(addr_equal(&a, &b));
    CHECK_INT(addr_hash(&a), addr_hash(&b));

    /* Ports spread: 1024 consecutive ports on one IP fill most of 256 buckets. */
    unsigned char used[256] = {0};
    int buckets = 0;
    for (unsigned p = 0; p < 1024; p++) {
        addr_set_port(&a, (uint16_t)(40000 + p));
        used[addr_hash(&a) & 0xff] = 1;
    }
    for (int i = 0; i < 256; i++)
        buckets += used[i];
    CHECK(buckets > 200);
}

TEST(addr_from_sockaddr_copies_both_families)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(3478)};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(5349)};
    struct sockaddr_storage ss = {.ss_family = AF_UNIX};
    char buf[VC_ADDR_STRLEN];
    union vc_addr a;

    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    inet_pton(AF_INET6, "::1", &sin6.sin6_addr);

    CHECK_INT(addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)), 0);
    CHECK_STR(addr_format(&a, buf, sizeof(buf)), "127.0.0.1:3478");
    CHECK_INT(addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
    CHECK_STR(addr_format(&a, buf, sizeof(buf)), "[::1]:5349");
    CHECK_INT(addr_from_sockaddr(&a, (struct sockaddr *)&ss, sizeof(ss)), -EAFNOSUPPORT);
    CHECK(addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin)) < 0);
}

TEST(addr_format_truncates_safely)
{
    char small[8];
    union vc_addr a;

    CHECK_INT(addr_parse(&a, "[2001:db8::1234]:65535", 0), 0);
    memset(small, 'x', sizeof(small));
    addr_format(&a, small, sizeof(small));
    CHECK(memchr(small, '\0', sizeof(small)) != NULL);
    CHECK_STR(small, "[2001:d");
}
