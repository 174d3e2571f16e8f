/* A strict JSON validator that allocates nothing, for the vc.v1 fast path (sigmsg.c). */
#ifndef VC_JSONSCAN_H
#define VC_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Results. UNSURE: input this scanner does not judge (\u escapes, non-ASCII bytes, deep nesting,
 * objects of many keys, very long integers); the caller falls back to jansson, so the scanner
 * only ever accepts what jansson (JSON_REJECT_DUPLICATES) accepts. */
#define JSCAN_OK 0
#define JSCAN_BAD (-1)
#define JSCAN_UNSURE (-2)

/* Most keys in one object whose duplicates are looked for; more is UNSURE. */
#define JSCAN_MAX_KEYS 32

struct jscan {
    const uint8_t *p;
    size_t len, pos;
};

/* Called for each member of an object: the key's raw text (between its quotes) and the raw
 * value. */
typedef void (*jscan_member_fn)(void *arg, const uint8_t *key, size_t klen, size_t voff,
                                size_t vlen);

void jscan_ws(struct jscan *s);
/* The object at pos ('{'), telling fn (if not NULL) of each of its own members. */
int jscan_object(struct jscan *s, unsigned depth_left, jscan_member_fn fn, void *arg);
/* One string at pos ('"'): on JSCAN_OK, pos is past its closing quote. */
int jscan_string(struct jscan *s);
/* One value of any kind at pos, nested at most depth_left levels more. */
int jscan_value(struct jscan *s, unsigned depth_left);

#endif
