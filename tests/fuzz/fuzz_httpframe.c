/* libFuzzer harness for the request framing rules: header lines in, the verdict checked against a
 * plain reference (strtoull on the trimmed digits) and against the rules' own invariants. */
// fuzz-sources: src/signald/httpframe.c
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vc/httpframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a crash libFuzzer reports) when an invariant does not hold. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define FUZZ_FIELDS 8

/* The reference: is this one field a valid length, and which. */
static bool fuzz_ref_length(const struct httpframe_field *f, uint64_t *out)
{
    char buf[64];
    size_t s = 0, e = f->len;

    while (s < e && (f->value[s] == ' ' || f->value[s] == '\t'))
        s++;
    while (e > s && (f->value[e - 1] == ' ' || f->value[e - 1] == '\t'))
        e--;
    if (e == s || e - s > HTTPFRAME_DIGITS_MAX)
        return false;
    for (size_t i = s; i < e; i++)
        if (!isdigit((unsigned char)f->value[i]))
            return false;
    memcpy(buf, f->value + s, e - s);
    buf[e - s] = '\0';
    *out = strtoull(buf, NULL, 10);
    return true;
}

/* Splits the input into "name: value" lines: Content-Length values into cl, the count of
 * Transfer-Encoding lines into *n_te; other lines are other headers. */
static size_t fuzz_fields(const uint8_t *data, size_t size, struct httpframe_field *cl,
                          size_t *n_te)
{
    const char *p = (const char *)data, *end = p + size;
    size_t n_cl = 0;

    *n_te = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon;

        if (!eol)
            eol = end;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t nlen = (size_t)(colon - p);

            if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0 && n_cl < FUZZ_FIELDS) {
                cl[n_cl].value = colon + 1;
                cl[n_cl++].len = (size_t)(eol - colon - 1);
            } else if (nlen == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
                (*n_te)++;
            }
        }
        p = eol + 1;
    }
    return n_cl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct httpframe_field cl[FUZZ_FIELDS];
    size_t n_te, n_cl = fuzz_fields(data, size, cl, &n_te);
    uint64_t len = 42, ref = 0;
    bool has = true;
    enum httpframe_verdict v = httpframe_check(cl, n_cl, n_te, &len, &has);

    if (v != HTTPFRAME_OK)
        REQUIRE(len == 0 && !has);
    if (n_cl > 1 || (n_cl == 1 && n_te > 0))
        REQUIRE(v == HTTPFRAME_BAD);
    else if (n_te > 0)
        REQUIRE(v == HTTPFRAME_LENGTH_REQUIRED);
    else if (n_cl == 0)
        REQUIRE(v == HTTPFRAME_OK && len == 0 && !has);
    else if (fuzz_ref_length(&cl[0], &ref))
        REQUIRE(v == HTTPFRAME_OK && has && len == ref);
    else
        REQUIRE(v == HTTPFRAME_BAD);
    return 0;
}
