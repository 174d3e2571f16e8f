/* Unit tests for the User-Agent normaliser: real browser strings, garbage, and bounds. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vc/useragent.h"

struct ua_result {
    char browser[16], version[USERAGENT_VERSION_MAX + 1], os[16];
};

/* Parses from an exact-size heap copy without a NUL, so ASan catches any read past len. */
static void ua_parse(const char *ua, size_t len, struct ua_result *r)
{
    char *copy = malloc(len ? len : 1);

    memset(r, 'X', sizeof(*r));
    if (len)
        memcpy(copy, ua, len);
    useragent_parse(copy, len, r->browser, sizeof(r->browser), r->version, sizeof(r->version),
                    r->os, sizeof(r->os));
    free(copy);
}

TEST(useragent_normalises_real_browsers)
{
    static const struct {
        const char *ua, *browser, *version, *os;
    } cases[] = {
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.6099.109 Safari/537.36",
         "chrome", "120.0", "windows"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/119.0.0.0 Safari/537.36",
         "chrome", "119.0", "macos"},
        {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/121.0.0.0 Safari/537.36",
         "chrome", "121.0", "linux"},
        {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/118.0.0.0 Safari/537.36",
         "chrome", "118.0", "chromeos"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
         "firefox", "121.0", "windows"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0",
         "firefox", "120.0", "macos"},
        {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
         "firefox", "115.0", "linux"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Version/17.2.1 Safari/605.1.15",
         "safari", "17.2", "macos"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
         "edge", "120.0", "windows"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.77",
         "edge", "120.0", "macos"},
        {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.6099.144 Mobile Safari/537.36",
         "chrome", "120.0", "android"},
        {"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like "
         "Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
         "samsung", "23.0", "android"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
         "opera", "105.0", "windows"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
         "safari", "17.2", "ios"},
        {"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/16.6 Mobile/15E148 Safari/604.1",
         "safari", "16.6", "ios"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
         "chrome", "120.0", "ios"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
         "firefox", "121.0", "ios"},
        {"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0", "firefox", "121.0",
         "android"},
        {"Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.6099.144 Mobile Safari/537.36 EdgA/120.0.2210.115",
         "edge", "120.0", "android"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
         "edge", "18.19045", "windows"},
        /* a WKWebView in an iOS app: no browser token */
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Mobile/15E148",
         "other", "", "ios"},
        {"curl/8.4.0", "other", "", "other"},
        {"\x01\xff\xfe<script>alert(1)</script> Chrome/ Firefox/x", "firefox", "", "other"},
        {"Chrome/120", "chrome", "120", "other"},
        {"Chrome/120.", "chrome", "120", "other"},
        {"Chrome/120.x", "chrome", "120", "other"},
        {"Chrome/99999999999999999999.1", "chrome", "", "other"},   /* too long: dropped */
        {"Chrome/1234567.123456789", "chrome", "1234567", "other"}, /* minor would not fit */
        {"Chrome/12345678.123456", "chrome", "12345678.123456", "other"},
        {"", "other", "", "other"},
    };
    struct ua_result r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ua_parse(cases[i].ua, strlen(cases[i].ua), &r);
        bool ok = CHECK_STR(r.browser, cases[i].browser);
        ok = CHECK_STR(r.version, cases[i].version) && ok;
        ok = CHECK_STR(r.os, cases[i].os) && ok;
        if (!ok)
            fprintf(stderr, "    case %zu: %s\n", i, cases[i].ua);
    }
}

TEST(useragent_reads_only_len_bytes)
{
    static const char ua[] = "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0.1 Safari/537.36";
    size_t cut = strstr(ua, "Chrome/12") - ua + strlen("Chrome/12");
    struct ua_result r;

    /* cut inside the version and before "Windows": only what is inside len counts */
    ua_parse(ua, cut, &r);
    CHECK_STR(r.browser, "chrome");
    CHECK_STR(r.version, "12");
    CHECK_STR(r.os, "windows");
    ua_parse(ua, strlen("Mozilla/5.0 (Win"), &r);
    CHECK_STR(r.browser, "other");
    CHECK_STR(r.os, "other");
}

TEST(useragent_handles_10k_string_and_null)
{
    size_t n = 10 * 1024;
    char *big = malloc(n);
    struct ua_result r;

    if (!CHECK(big))
        return;
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('!' + i % 90);
    ua_parse(big, n, &r);
    CHECK_STR(r.browser, "other");
    CHECK_STR(r.version, "");
    CHECK_STR(r.os, "other");
    /* a browser token at the very end, digits running up to the last byte */
    memcpy(big + n - 20, "Firefox/12345.678901", 20);
    ua_parse(big, n, &r);
    CHECK_STR(r.browser, "firefox");
    CHECK_STR(r.version, "12345.678901");
    free(big);

    useragent_parse(NULL, 0, r.browser, sizeof(r.browser), r.version, sizeof(r.version), r.os,
                    sizeof(r.os));
    CHECK_STR(r.browser, "other");
    CHECK_STR(r.version, "");
    CHECK_STR(r.os, "other");
}

TEST(useragent_truncates_to_small_buffers)
{
    static const char ua[] = "Mozilla/5.0 (Macintosh) AppleWebKit Version/17.2 Safari/605";
    char b[4], v[3], o[1] = {'Q'};

    useragent_parse(ua, strlen(ua), b, sizeof(b), v, sizeof(v), o, 0);
    CHECK_STR(b, "saf");
    CHECK_STR(v, "17"); /* "17.2" does not fit: the minor is dropped, not cut */
    CHECK_INT(o[0], 'Q');
    useragent_parse(ua, strlen(ua), b, 1, v, 2, o, 1);
    CHECK_STR(b, "");
    CHECK_STR(v, ""); /* "17" does not fit: no partial major */
    CHECK_STR(o, "");
}
