/* Strict HTTP/1.1 request framing: one decimal Content-Length or none, never Transfer-Encoding. */
#include "vc/httpframe.h"

static bool httpframe_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses one Content-Length field: digits only, spaces or tabs around them. 0 or -1. */
static int httpframe_length(const struct httpframe_field *f, uint64_t *out)
{
    size_t start = 0, end = f->len, digits;
    uint64_t v = 0;

    if (!f->value)
        return -1;
    while (start < end && httpframe_ows(f->value[start]))
        start++;
    while (end > start && httpframe_ows(f->value[end - 1]))
        end--;
    digits = end - start;
    if (digits == 0 || digits > HTTPFRAME_DIGITS_MAX)
        return -1;
    for (size_t i = start; i < end; i++) {
        char c = f->value[i];

        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return 0;
}

enum httpframe_verdict httpframe_check(const struct httpframe_field *cl, size_t n_cl, size_t n_te,
                                       uint64_t *length, bool *has_length)
{
    uint64_t v = 0;

    *length = 0;
    *has_length = false;
    if (n_cl > 1 || (n_cl == 1 && n_te > 0))
        return HTTPFRAME_BAD;
    if (n_te > 0)
        return HTTPFRAME_LENGTH_REQUIRED;
    if (n_cl == 0)
        return HTTPFRAME_OK;
    if (httpframe_length(&cl[0], &v) < 0)
        return HTTPFRAME_BAD;
    *length = v;
    *has_length = true;
    return HTTPFRAME_OK;
}
