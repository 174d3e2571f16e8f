/* Tests of the strict request framing: Content-Length values, duplicates, Transfer-Encoding. */
#include <string.h>

#include "vc/httpframe.h"
#include "test.h"

/* Runs one check on the given Content-Length values (NULL-terminated) and TE count. */
static enum httpframe_verdict frame(const char *const *cls, size_t n_te, uint64_t *len, bool *has)
{
    struct httpframe_field f[4] = {{NULL, 0}};
    size_t n = 0;

    while (cls && cls[n] && n < 4) {
        f[n].value = cls[n];
        f[n].len = strlen(cls[n]);
        n++;
    }
    return httpframe_check(f, n, n_te, len, has);
}

TEST(httpframe_accepts_one_decimal_length)
{
    static const struct {
        const char *v;
        uint64_t want;
    } ok[] = {{"0", 0},   {"10", 10}, {" 60 ", 60},
              {"\t7", 7}, {"007", 7}, {"999999999999999999", 999999999999999999ULL}};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const char *cls[] = {ok[i].v, NULL};
        uint64_t len = 1234;
        bool has = false;

        CHECK_INT(frame(cls, 0, &len, &has), HTTPFRAME_OK);
        CHECK_INT(len, ok[i].want);
        CHECK(has);
    }
}

TEST(httpframe_refuses_malformed_lengths)
{
    static const char *const bad[] = {
        "abc",
        "+10",
        "-1",
        "1e1",
        "",
        " ",
        "10,10",
        "10 10",
        "0x10",
        "1.0",
        "1000000000000000000",
        "99999999999999999999999",
        "10\r",
        "\xd9\xa1\xd9\xa0",
        "10a",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *cls[] = {bad[i], NULL};
        uint64_t len = 5;
        bool has = true;

        if (!CHECK_INT(frame(cls, 0, &len, &has), HTTPFRAME_BAD))
            fprintf(stderr, "    value \"%s\"\n", bad[i]);
        CHECK_INT(len, 0);
        CHECK(!has);
    }
}

TEST(httpframe_refuses_duplicates_even_when_equal)
{
    const char *differ[] = {"10", "60", NULL}, *same[] = {"10", "10", NULL};
    uint64_t len;
    bool has;

    CHECK_INT(frame(differ, 0, &len, &has), HTTPFRAME_BAD);
    CHECK_INT(frame(same, 0, &len, &has), HTTPFRAME_BAD);
}

TEST(httpframe_transfer_encoding_needs_a_length_and_never_goes_with_one)
{
    const char *cl[] = {"5", NULL};
    uint64_t len;
    bool has;

    CHECK_INT(frame(NULL, 1, &len, &has), HTTPFRAME_LENGTH_REQUIRED);
    CHECK_INT(frame(NULL, 2, &len, &has), HTTPFRAME_LENGTH_REQUIRED);
    CHECK_INT(frame(cl, 1, &len, &has), HTTPFRAME_BAD);
}

TEST(httpframe_no_headers_means_no_body)
{
    uint64_t len = 9;
    bool has = true;

    CHECK_INT(frame(NULL, 0, &len, &has), HTTPFRAME_OK);
    CHECK_INT(len, 0);
    CHECK(!has);
}

TEST(httpframe_a_null_value_is_malformed)
{
    struct httpframe_field f = {NULL, 3};
    uint64_t len;
    bool has;

    CHECK_INT(httpframe_check(&f, 1, 0, &len, &has), HTTPFRAME_BAD);
}
