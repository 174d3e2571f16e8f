/* A strict JSON validator that allocates nothing, for the vc.v1 fast path (sigmsg.c). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"

void jscan_ws(struct jscan *s)
{
    while (s->pos < s->len) {
        uint8_t c = s->p[s->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        s->pos++;
    }
}

int jscan_string(struct jscan *s)
{
    s->pos++; /* the opening quote */
    while (s->pos < s->len) {
        uint8_t c = s->p[s->pos++];
        if (c == '"')
            return JSCAN_OK;
        if (c < 0x20)
            return JSCAN_BAD; /* control characters must be escaped */
        if (c >= 0x80)
            return JSCAN_UNSURE; /* UTF-8 checks are jansson's */
        if (c == '\\') {
            if (s->pos >= s->len)
                return JSCAN_BAD;
            c = s->p[s->pos++];
            if (c == 'u')
                return JSCAN_UNSURE; /* \u0000 and surrogate pairs are jansson's */
            if (!strchr("\"\\/bfnrt", c) || c == '\0')
                return JSCAN_BAD;
        }
    }
    return JSCAN_BAD;
}

static bool jscan_digit(const struct jscan *s)
{
    return s->pos < s->len && s->p[s->pos] >= '0' && s->p[s->pos] <= '9';
}

/* Digits at pos; how many. */
static size_t jscan_digits(struct jscan *s)
{
    size_t n = 0;

    while (jscan_digit(s)) {
        s->pos++;
        n++;
    }
    return n;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, then as jansson: an integer must fit in
 * 64 bits (UNSURE past 18 digits) and a real must not overflow. */
static int jscan_number(struct jscan *s)
{
    size_t start = s->pos, ndig;
    bool real = false;

    if (s->p[s->pos] == '-')
        s->pos++;
    if (!jscan_digit(s))
        return JSCAN_BAD;
    if (s->p[s->pos] == '0') {
        s->pos++;
        if (jscan_digit(s))
            return JSCAN_BAD; /* a leading zero */
        ndig = 1;
    } else {
        ndig = jscan_digits(s);
    }
    if (s->pos < s->len && s->p[s->pos] == '.') {
        s->pos++;
        real = true;
        if (jscan_digits(s) == 0)
            return JSCAN_BAD;
    }
    if (s->pos < s->len && (s->p[s->pos] == 'e' || s->p[s->pos] == 'E')) {
        s->pos++;
        real = true;
        if (s->pos < s->len && (s->p[s->pos] == '+' || s->p[s->pos] == '-'))
            s->pos++;
        if (jscan_digits(s) == 0)
            return JSCAN_BAD;
    }
    if (!real)
        return ndig <= 18 ? JSCAN_OK : JSCAN_UNSURE;
    char text[64];
    size_t n = s->pos - start;
    if (n >= sizeof(text))
        return JSCAN_UNSURE;
    memcpy(text, s->p + start, n);
    text[n] = '\0';
    return isinf(strtod(text, NULL)) ? JSCAN_BAD : JSCAN_OK;
}

static int jscan_literal(struct jscan *s, const char *word)
{
    size_t n = strlen(word);

    if (s->len - s->pos < n || memcmp(s->p + s->pos, word, n) != 0)
        return JSCAN_BAD;
    s->pos += n;
    return JSCAN_OK;
}

/* Opens a container at pos: true (and pos past close) when it is empty. */
static bool jscan_open_empty(struct jscan *s, uint8_t close)
{
    s->pos++;
    jscan_ws(s);
    if (s->pos < s->len && s->p[s->pos] == close) {
        s->pos++;
        return true;
    }
    return false;
}

/* After a member or element: 1 at close (consumed), 0 after a comma, or JSCAN_BAD. */
static int jscan_next(struct jscan *s, uint8_t close)
{
    jscan_ws(s);
    if (s->pos >= s->len)
        return JSCAN_BAD;
    uint8_t c = s->p[s->pos++];
    return c == close ? 1 : c == ',' ? 0 : JSCAN_BAD;
}

/* The members of an object at pos ('{'), keys checked for duplicates by their raw bytes (a key
 * with an escape is UNSURE: two spellings of one key would look different). */
int jscan_object(struct jscan *s, unsigned depth_left, jscan_member_fn fn, void *arg)
{
    size_t kstart[JSCAN_MAX_KEYS], klen[JSCAN_MAX_KEYS];
    unsigned nkeys = 0;
    int rc;

    if (jscan_open_empty(s, '}'))
        return JSCAN_OK;
    for (;;) {
        jscan_ws(s);
        if (s->pos >= s->len || s->p[s->pos] != '"')
            return JSCAN_BAD;
        size_t k = s->pos + 1;
        if ((rc = jscan_string(s)) != JSCAN_OK)
            return rc;
        size_t kl = s->pos - 1 - k;
        if (memchr(s->p + k, '\\', kl) || nkeys == JSCAN_MAX_KEYS)
            return JSCAN_UNSURE;
        for (unsigned i = 0; i < nkeys; i++)
            if (klen[i] == kl && memcmp(s->p + kstart[i], s->p + k, kl) == 0)
                return JSCAN_BAD;
        kstart[nkeys] = k;
        klen[nkeys++] = kl;
        jscan_ws(s);
        if (s->pos >= s->len || s->p[s->pos++] != ':')
            return JSCAN_BAD;
        jscan_ws(s);
        size_t v = s->pos;
        if ((rc = jscan_value(s, depth_left)) != JSCAN_OK)
            return rc;
        if (fn)
            fn(arg, s->p + k, kl, v, s->pos - v);
        if ((rc = jscan_next(s, '}')) != 0)
            return rc > 0 ? JSCAN_OK : rc;
    }
}

static int jscan_array(struct jscan *s, unsigned depth_left)
{
    int rc;

    if (jscan_open_empty(s, ']'))
        return JSCAN_OK;
    for (;;) {
        jscan_ws(s);
        if ((rc = jscan_value(s, depth_left)) != JSCAN_OK)
            return rc;
        if ((rc = jscan_next(s, ']')) != 0)
            return rc > 0 ? JSCAN_OK : rc;
    }
}

int jscan_value(struct jscan *s, unsigned depth_left)
{
    if (s->pos >= s->len)
        return JSCAN_BAD;
    switch (s->p[s->pos]) {
    case '{':
        return depth_left ? jscan_object(s, depth_left - 1, NULL, NULL) : JSCAN_UNSURE;
    case '[':
        return depth_left ? jscan_array(s, depth_left - 1) : JSCAN_UNSURE;
    case '"':
        return jscan_string(s);
    case 't':
        return jscan_literal(s, "true");
    case 'f':
        return jscan_literal(s, "false");
    case 'n':
        return jscan_literal(s, "null");
    default:
        return jscan_number(s);
    }
}
