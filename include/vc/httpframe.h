/* Strict HTTP/1.1 request framing: Content-Length and Transfer-Encoding checked as values, no I/O.
 */
#ifndef VC_HTTPFRAME_H
#define VC_HTTPFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest Content-Length value accepted, in digits: 10^18 - 1 fits in 64 bits with room. */
#define HTTPFRAME_DIGITS_MAX 18

/* One occurrence of a header: its value as received (borrowed, not NUL-terminated). A header
 * sent twice is two fields; a comma list in one field is one. */
struct httpframe_field {
    const char *value;
    size_t len;
};

enum httpframe_verdict {
    HTTPFRAME_OK,              /* no body, or exactly one well-formed Content-Length */
    HTTPFRAME_BAD,             /* 400: a duplicate or malformed Content-Length, or CL with TE */
    HTTPFRAME_LENGTH_REQUIRED, /* 411: Transfer-Encoding without Content-Length (not decoded) */
};

/* The framing of one request from its Content-Length fields (cl, n_cl) and the number of its
 * Transfer-Encoding fields (n_te). A Content-Length is 1 to HTTPFRAME_DIGITS_MAX ASCII digits
 * with optional spaces or tabs around them: no sign, no exponent, no list, no empty value, and
 * only once. A Transfer-Encoding of any value leaves the request without a framing we read: 411
 * alone, 400 with a Content-Length (RFC 9112 section 6.3: the two together are how requests are
 * smuggled past a proxy). On HTTPFRAME_OK, *length is the body's length (0 without
 * Content-Length) and *has_length says whether one was given. */
enum httpframe_verdict httpframe_check(const struct httpframe_field *cl, size_t n_cl, size_t n_te,
                                       uint64_t *length, bool *has_length);

#endif
