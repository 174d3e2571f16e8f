/* Unit tests for the STUN codec: RFC 5769 and RFC 8489 vectors, mutations, malformed input. */
#include <errno.h>
#include <arpa/inet.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "test.h"
#include "vc/stun.h"

/* clang-format off */

/* RFC 5769 section 2.1: sample request. USERNAME is padded with spaces (0x20), which RFC 5389
 * allowed; our builder pads with zeros, so the rebuild test patches those bytes. */
static const uint8_t rfc5769_request[] = {
    0x00, 0x01, 0x00, 0x58, /* Request type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, /* Transaction ID */
    0x80, 0x22, 0x00, 0x10, /* SOFTWARE "STUN test client" */
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
    0x00, 0x24, 0x00, 0x04, /* PRIORITY */
    0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, /* ICE-CONTROLLED */
    0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, /* USERNAME "evtj:h6vY" and 3 bytes of padding */
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20,
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
    0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT */
    0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 section 2.2: IPv4 response (SOFTWARE "test vector" padded with a space). */
static const uint8_t rfc5769_response_v4[] = {
    0x01, 0x01, 0x00, 0x3c,
    0x21, 0x12, 0xa4, 0x42,
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x0b, /* SOFTWARE */
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, /* XOR-MAPPED-ADDRESS 192.0.2.1:32853 */
    0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
    0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74,
    0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT */
    0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 section 2.3: IPv6 response. */
static const uint8_t rfc5769_response_v6[] = {
    0x01, 0x01, 0x00, 0x48,
    0x21, 0x12, 0xa4, 0x42,
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    0x80, 0x22, 0x00, 0x0b, /* SOFTWARE */
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, /* XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853 */
    0x00, 0x02, 0xa1, 0x47,
    0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84,
    0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT */
    0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 section 2.4: request with long-term authentication (no FINGERPRINT). */
static const uint8_t rfc5769_request_lt[] = {
    0x00, 0x01, 0x00, 0x60,
    0x21, 0x12, 0xa4, 0x42,
    0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
    0x00, 0x06, 0x00, 0x12, /* USERNAME (18 bytes) and 2 bytes of padding */
    0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3,
    0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00,
    0x00, 0x15, 0x00, 0x1c, /* NONCE "f//499k954d6OL34oL9FSTvy64sA" */
    0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c,
    0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73, 0x41,
    0x00, 0x14, 0x00, 0x0b, /* REALM "example.org" and 1 byte of padding */
    0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00,
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY */
    0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8,
    0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

/* RFC 8489 Appendix B.1 (MESSAGE-INTEGRITY-SHA256 and USERHASH) as corrected by Errata 6268.
 * The published vector was wrong in three ways, and the erratum fixes each:
 *  - its header length was 0x9c, the length of the whole message including the 20-byte header;
 *    the corrected message body is 0x90 bytes;
 *  - it had no PASSWORD-ALGORITHM attribute, although the key is SHA-256 (not the MD5 default),
 *    so the erratum inserts PASSWORD-ALGORITHM 0x0002 (SHA-256, no parameters) after REALM;
 *  - its MESSAGE-INTEGRITY-SHA256 value (e4 68 6c 8f ...) did not verify; the erratum
 *    recomputes it (b5 c7 bf 00 ...) over the corrected message.
 * Key: SHA-256("<user>:example.org:TheMatrIX"); USERHASH is SHA-256("<user>:example.org"). The
 * tests below recompute both, so these bytes are checked, not just copied. */
static const uint8_t rfc8489_request_sha256[] = {
    0x00, 0x01, 0x00, 0x90,
    0x21, 0x12, 0xa4, 0x42,
    0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
    0x00, 0x1e, 0x00, 0x20, /* USERHASH */
    0x4a, 0x3c, 0xf3, 0x8f, 0xef, 0x69, 0x92, 0xbd, 0xa9, 0x52, 0xc6, 0x78, 0x04, 0x17, 0xda, 0x0f,
    0x24, 0x81, 0x94, 0x15, 0x56, 0x9e, 0x60, 0xb2, 0x05, 0xc4, 0x6e, 0x41, 0x40, 0x7f, 0x17, 0x04,
    0x00, 0x15, 0x00, 0x29, /* NONCE (41 bytes) and 3 bytes of padding */
    0x6f, 0x62, 0x4d, 0x61, 0x74, 0x4a, 0x6f, 0x73, 0x32, 0x41, 0x41, 0x41, 0x43, 0x66, 0x2f, 0x2f,
    0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39,
    0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73, 0x41, 0x00, 0x00, 0x00,
    0x00, 0x14, 0x00, 0x0b, /* REALM "example.org" */
    0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00,
    0x00, 0x1d, 0x00, 0x04, /* PASSWORD-ALGORITHM: SHA-256, no parameters */
    0x00, 0x02, 0x00, 0x00,
    0x00, 0x1c, 0x00, 0x20, /* MESSAGE-INTEGRITY-SHA256 */
    0xb5, 0xc7, 0xbf, 0x00, 0x5b, 0x6c, 0x52, 0xa2, 0x1c, 0x51, 0xc5, 0xe8, 0x92, 0xf8, 0x19, 0x24,
    0x13, 0x62, 0x96, 0xcb, 0x92, 0x7c, 0x43, 0x14, 0x93, 0x09, 0x27, 0x8c, 0xc6, 0x51, 0x8e, 0x65,
};

/* clang-format on */

static const char short_term_pass[] = "VOkJxbRl1RmTxUk/WvJxBt";
/* U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9 in UTF-8. */
static const char lt_user[] =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
static const char lt_realm[] = "example.org";
/* "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep/OpaqueString. */
static const char lt_pass[] = "TheMatrIX";
static const char lt_nonce_5769[] = "f//499k954d6OL34oL9FSTvy64sA";
static const char lt_nonce_8489[] = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";

#define SLEN(s) (sizeof(s) - 1)

/* USERHASH of the RFC 8489 vector: SHA-256("<user>:<realm>") into out. True on success. */
static bool lt_userhash(uint8_t out[32])
{
    char input[64];
    unsigned n = 0;

    memcpy(input, lt_user, SLEN(lt_user));
    input[SLEN(lt_user)] = ':';
    memcpy(input + SLEN(lt_user) + 1, lt_realm, SLEN(lt_realm));
    return EVP_Digest(input, SLEN(lt_user) + 1 + SLEN(lt_realm), out, &n, EVP_sha256(), NULL) == 1;
}

/* One published vector and how to check it. alg 0 means a short-term key (the password). */
struct vector {
    const char *name;
    const uint8_t *bytes;
    size_t len;
    uint16_t method;
    uint8_t cls;
    int alg;
    bool has_fingerprint;
    bool sha256;
    int family; /* of XOR-MAPPED-ADDRESS, or 0 if none */
};

static const struct vector vectors[] = {
    {"rfc5769 2.1 request", rfc5769_request, sizeof(rfc5769_request), STUN_BINDING, STUN_REQUEST, 0,
     true, false, 0},
    {"rfc5769 2.2 ipv4 response", rfc5769_response_v4, sizeof(rfc5769_response_v4), STUN_BINDING,
     STUN_SUCCESS, 0, true, false, AF_INET},
    {"rfc5769 2.3 ipv6 response", rfc5769_response_v6, sizeof(rfc5769_response_v6), STUN_BINDING,
     STUN_SUCCESS, 0, true, false, AF_INET6},
    {"rfc5769 2.4 long-term request", rfc5769_request_lt, sizeof(rfc5769_request_lt), STUN_BINDING,
     STUN_REQUEST, STUN_PWALG_MD5, false, false, 0},
    {"rfc8489 B.1 sha256 request", rfc8489_request_sha256, sizeof(rfc8489_request_sha256),
     STUN_BINDING, STUN_REQUEST, STUN_PWALG_SHA256, false, true, 0},
};
#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

/* The key a vector's integrity is computed with. Returns its length. */
static size_t vector_key(const struct vector *v, uint8_t *key)
{
    int n;

    if (v->alg == 0) {
        memcpy(key, short_term_pass, SLEN(short_term_pass));
        return SLEN(short_term_pass);
    }
    n = stun_long_term_key(v->alg, lt_user, SLEN(lt_user), lt_realm, SLEN(lt_realm), lt_pass,
                           SLEN(lt_pass), key);
    CHECK(n > 0);
    return n > 0 ? (size_t)n : 0;
}

/* The attribute holding the vector's integrity value. */
static const struct stun_attr *vector_mac_attr(const struct vector *v, const struct stun_msg *m)
{
    int idx = v->sha256 ? m->integrity_sha256 : m->integrity;

    return idx >= 0 ? &m->attrs[idx] : NULL;
}

static void expected_addr(int family, union vc_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        a->v4.sin_family = AF_INET;
        a->v4.sin_port = htons(32853);
        inet_pton(AF_INET, "192.0.2.1", &a->v4.sin_addr);
    } else {
        a->v6.sin6_family = AF_INET6;
        a->v6.sin6_port = htons(32853);
        inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &a->v6.sin6_addr);
    }
}

TEST(stun_parses_and_verifies_published_vectors)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        const struct vector *v = &vectors[i];
        uint8_t key[STUN_MAX_KEY_LEN];
        size_t keylen = vector_key(v, key);
        struct stun_msg m;

        fprintf(stderr, "  vector %s\n", v->name);
        CHECK(stun_is_message(v->bytes, v->len));
        if (!CHECK_INT(stun_parse(&m, v->bytes, v->len), 0))
            continue;
        CHECK_INT(m.method, v->method);
        CHECK_INT(m.cls, v->cls);
        CHECK_MEM(m.txid, v->bytes + 8, STUN_TXID_LEN);
        CHECK_INT(m.nunknown, 0);
        CHECK_INT(stun_check_fingerprint(&m), v->has_fingerprint ? 0 : -ENOENT);
        CHECK_INT(stun_check_integrity(&m, key, keylen), 0);
        CHECK_INT(m.integrity >= 0, !v->sha256);
        CHECK_INT(m.integrity_sha256 >= 0, v->sha256);
        if (v->family) {
            const struct stun_attr *a = stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
            union vc_addr got, want;

            expected_addr(v->family, &want);
            if (CHECK(a) && CHECK_INT(stun_attr_xor_addr(&m, a, &got), 0))
                CHECK_MEM(&got, &want, sizeof(want));
        }
    }
}

TEST(stun_rfc5769_request_attributes_decode)
{
    struct stun_msg m;
    const struct stun_attr *a;
    uint32_t prio = 0;

    if (!CHECK_INT(stun_parse(&m, rfc5769_request, sizeof(rfc5769_request)), 0))
        return;
    CHECK_INT(m.nattrs, 6);
    a = stun_find(&m, STUN_ATTR_USERNAME);
    if (CHECK(a) && CHECK_INT(a->len, 9))
        CHECK_MEM(stun_attr_value(&m, a), "evtj:h6vY", 9);
    a = stun_find(&m, STUN_ATTR_SOFTWARE);
    if (CHECK(a) && CHECK_INT(a->len, 16))
        CHECK_MEM(stun_attr_value(&m, a), "STUN test client", 16);
    CHECK_INT(stun_attr_u32(&m, stun_find(&m, STUN_ATTR_PRIORITY), &prio), 0);
    CHECK_INT(prio, 0x6e0001ff);
    CHECK(stun_find(&m, STUN_ATTR_ICE_CONTROLLED) != NULL);
    CHECK(stun_find(&m, STUN_ATTR_ICE_CONTROLLING) == NULL);
    CHECK_INT(m.integrity, 4);
    CHECK_INT(m.fingerprint, 5);
}

TEST(stun_rfc8489_userhash_matches_sha256_of_user_and_realm)
{
    uint8_t want[32], key[STUN_MAX_KEY_LEN];
    struct stun_msg m;
    const struct stun_attr *a;
    uint32_t alg = 0;

    CHECK(lt_userhash(want));
    if (!CHECK_INT(stun_parse(&m, rfc8489_request_sha256, sizeof(rfc8489_request_sha256)), 0))
        return;
    a = stun_find(&m, STUN_ATTR_USERHASH);
    if (CHECK(a) && CHECK_INT(a->len, 32))
        CHECK_MEM(stun_attr_value(&m, a), want, 32);
    CHECK_INT(stun_attr_u32(&m, stun_find(&m, STUN_ATTR_PASSWORD_ALGORITHM), &alg), 0);
    CHECK_INT(alg, 0x00020000); /* algorithm 2, parameter length 0 */
    /* The MD5 key of the same credentials must not verify the SHA-256 integrity. */
    CHECK_INT(stun_long_term_key(STUN_PWALG_MD5, lt_user, SLEN(lt_user), lt_realm, SLEN(lt_realm),
                                 lt_pass, SLEN(lt_pass), key),
              16);
    CHECK_INT(stun_check_integrity(&m, key, 16), -EACCES);
}

/* Overwrites the last n padding bytes with spaces, as the RFC 5769 vectors were padded. */
static void pad_with_spaces(struct stun_builder *b, size_t n)
{
    if (b->err == 0)
        memset(b->buf + b->len - n, ' ', n);
}

static int rebuild_vector(size_t i, uint8_t *out, size_t cap)
{
    const struct vector *v = &vectors[i];
    uint8_t key[STUN_MAX_KEY_LEN];
    size_t keylen = vector_key(v, key);
    struct stun_builder b;
    union vc_addr addr;

    stun_build_init(&b, out, cap, v->method, v->cls, v->bytes + 8);
    switch (i) {
    case 0: {
        static const uint8_t tie[8] = {0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36};

        stun_build_attr(&b, STUN_ATTR_SOFTWARE, "STUN test client", 16);
        stun_build_u32(&b, STUN_ATTR_PRIORITY, 0x6e0001ff);
        stun_build_attr(&b, STUN_ATTR_ICE_CONTROLLED, tie, sizeof(tie));
        stun_build_attr(&b, STUN_ATTR_USERNAME, "evtj:h6vY", 9);
        pad_with_spaces(&b, 3);
        break;
    }
    case 1:
    case 2:
        stun_build_attr(&b, STUN_ATTR_SOFTWARE, "test vector", 11);
        pad_with_spaces(&b, 1);
        expected_addr(v->family, &addr);
        stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &addr);
        break;
    case 3:
        stun_build_attr(&b, STUN_ATTR_USERNAME, lt_user, SLEN(lt_user));
        stun_build_attr(&b, STUN_ATTR_NONCE, lt_nonce_5769, SLEN(lt_nonce_5769));
        stun_build_attr(&b, STUN_ATTR_REALM, lt_realm, SLEN(lt_realm));
        break;
    case 4: {
        uint8_t userhash[32];

        lt_userhash(userhash);
        stun_build_attr(&b, STUN_ATTR_USERHASH, userhash, sizeof(userhash));
        stun_build_attr(&b, STUN_ATTR_NONCE, lt_nonce_8489, SLEN(lt_nonce_8489));
        stun_build_attr(&b, STUN_ATTR_REALM, lt_realm, SLEN(lt_realm));
        stun_build_u32(&b, STUN_ATTR_PASSWORD_ALGORITHM, (uint32_t)STUN_PWALG_SHA256 << 16);
        break;
    }
    }
    if (v->sha256)
        stun_build_integrity_sha256(&b, key, keylen);
    else
        stun_build_integrity(&b, key, keylen);
    if (v->has_fingerprint)
        stun_build_fingerprint(&b);
    return stun_build_finish(&b);
}

TEST(stun_builder_reproduces_published_vectors_byte_for_byte)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        uint8_t out[512];
        int n;

        memset(out, 0xAA, sizeof(out));
        fprintf(stderr, "  vector %s\n", vectors[i].name);
        n = rebuild_vector(i, out, sizeof(out));
        if (CHECK_INT(n, vectors[i].len))
            CHECK_MEM(out, vectors[i].bytes, vectors[i].len);
    }
}

enum mutation {
    MUT_MAC_BIT,     /* one bit of the integrity value */
    MUT_BODY_BIT,    /* one bit of the first attribute, covered by integrity */
    MUT_FP_BIT,      /* one bit of the FINGERPRINT value */
    MUT_WRONG_PASS,  /* verify with another password */
    MUT_TRUNCATE_4,  /* drop the last 4 bytes */
    MUT_TRUNCATE_1,  /* drop the last byte */
    MUT_LEN_PLUS_4,  /* header length 4 too large */
    MUT_LEN_MINUS_4, /* header length 4 too small */
    MUT_COOKIE,      /* one bit of the magic cookie */
    MUT_COUNT,
};

/* Applies one mutation and checks the errno of the check it must break. */
static void check_mutation(const struct vector *v, enum mutation mut)
{
    uint8_t buf[512], key[STUN_MAX_KEY_LEN];
    size_t keylen = vector_key(v, key), len = v->len;
    struct stun_msg m, orig;
    int ret;

    if (!CHECK_INT(stun_parse(&orig, v->bytes, v->len), 0))
        return;
    memcpy(buf, v->bytes, v->len);
    switch (mut) {
    case MUT_MAC_BIT:
        buf[vector_mac_attr(v, &orig)->off + 7] ^= 0x10;
        break;
    case MUT_BODY_BIT:
        buf[orig.attrs[0].off] ^= 0x01;
        break;
    case MUT_FP_BIT:
        if (!v->has_fingerprint)
            return;
        buf[orig.attrs[orig.fingerprint].off + 3] ^= 0x80;
        break;
    case MUT_WRONG_PASS:
        key[0] ^= 0x01;
        break;
    case MUT_TRUNCATE_4:
        len -= 4;
        break;
    case MUT_TRUNCATE_1:
        len -= 1;
        break;
    case MUT_LEN_PLUS_4:
        buf[3] += 4;
        break;
    case MUT_LEN_MINUS_4:
        buf[3] -= 4;
        break;
    case MUT_COOKIE:
        buf[5] ^= 0x02;
        break;
    case MUT_COUNT:
        return;
    }
    ret = stun_parse(&m, buf, len);
    switch (mut) {
    case MUT_MAC_BIT:
    case MUT_BODY_BIT:
    case MUT_WRONG_PASS:
        if (!CHECK_INT(ret, 0))
            return;
        CHECK_INT(stun_check_integrity(&m, key, keylen), -EACCES);
        /* FINGERPRINT covers everything before it, integrity included. */
        CHECK_INT(stun_check_fingerprint(&m), !v->has_fingerprint     ? -ENOENT
                                              : mut == MUT_WRONG_PASS ? 0
                                                                      : -EBADMSG);
        break;
    case MUT_FP_BIT:
        if (!CHECK_INT(ret, 0))
            return;
        CHECK_INT(stun_check_fingerprint(&m), -EBADMSG);
        CHECK_INT(stun_check_integrity(&m, key, keylen), 0);
        break;
    default:
        CHECK_INT(ret, -EBADMSG);
        CHECK(!stun_is_message(buf, len));
        break;
    }
}

TEST(stun_rejects_mutated_vectors_with_the_right_errno)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        fprintf(stderr, "  vector %s\n", vectors[i].name);
        for (int mut = 0; mut < MUT_COUNT; mut++)
            check_mutation(&vectors[i], (enum mutation)mut);
    }
}

/* Writes an attribute header at p. */
static void put_attr_hdr(uint8_t *p, uint16_t type, uint16_t len)
{
    p[0] = (uint8_t)(type >> 8);
    p[1] = (uint8_t)type;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
}

/* A Binding request header with body length body_len at buf. */
static void put_header(uint8_t *buf, uint16_t body_len)
{
    static const uint8_t hdr[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                                    3,    4,    5,    6,    7,    8,    9,    10,   11, 12};

    memcpy(buf, hdr, sizeof(hdr));
    buf[2] = (uint8_t)(body_len >> 8);
    buf[3] = (uint8_t)body_len;
}

TEST(stun_rejects_malformed_input)
{
    uint8_t buf[64];
    struct stun_msg m;

    memset(buf, 0, sizeof(buf));
    CHECK_INT(stun_parse(&m, buf, 0), -EBADMSG);
    put_header(buf, 0);
    CHECK_INT(stun_parse(&m, buf, 19), -EBADMSG);
    CHECK_INT(stun_parse(&m, buf, 20), 0); /* a bare header is a valid message */
    CHECK_INT(m.nattrs, 0);
    CHECK_INT(m.integrity, -1);
    CHECK_INT(m.fingerprint, -1);

    /* Odd total length, and a header length that is not a multiple of 4. */
    put_header(buf, 1);
    CHECK_INT(stun_parse(&m, buf, 21), -EBADMSG);
    put_header(buf, 2);
    CHECK_INT(stun_parse(&m, buf, 22), -EBADMSG);

    /* Top two bits set (ChannelData-like). */
    put_header(buf, 0);
    buf[0] = 0x40;
    CHECK_INT(stun_parse(&m, buf, 20), -EBADMSG);
    CHECK(turn_is_channel_data(buf, 20));

    /* Attribute length runs past the end of the message. */
    put_header(buf, 8);
    put_attr_hdr(buf + 20, STUN_ATTR_SOFTWARE, 5);
    CHECK_INT(stun_parse(&m, buf, 28), -EBADMSG);
    put_attr_hdr(buf + 20, STUN_ATTR_SOFTWARE, 0xFFFF);
    CHECK_INT(stun_parse(&m, buf, 28), -EBADMSG);
    /* ... but a length of 4 with zero padding fits. */
    put_attr_hdr(buf + 20, STUN_ATTR_SOFTWARE, 4);
    CHECK_INT(stun_parse(&m, buf, 28), 0);
    CHECK_INT(m.nattrs, 1);
    /* Length 1 still occupies 4 bytes with its padding. */
    put_header(buf, 12);
    put_attr_hdr(buf + 20, STUN_ATTR_SOFTWARE, 1);
    put_attr_hdr(buf + 28, STUN_ATTR_SOFTWARE, 1);
    CHECK_INT(stun_parse(&m, buf, 32), -EBADMSG); /* the second one's padding is missing */
    put_attr_hdr(buf + 28, STUN_ATTR_SOFTWARE, 0);
    CHECK_INT(stun_parse(&m, buf, 32), 0);
    CHECK_INT(m.nattrs, 2);

    /* MESSAGE-INTEGRITY and FINGERPRINT of the wrong size. */
    put_header(buf, 8);
    put_attr_hdr(buf + 20, STUN_ATTR_FINGERPRINT, 2);
    CHECK_INT(stun_parse(&m, buf, 28), -EBADMSG);
    put_attr_hdr(buf + 20, STUN_ATTR_MESSAGE_INTEGRITY, 4);
    CHECK_INT(stun_parse(&m, buf, 28), -EBADMSG);
}

TEST(stun_caps_attribute_count)
{
    uint8_t buf[20 + 4 * (STUN_MAX_ATTRS + 1)];
    struct stun_msg m;

    for (unsigned n = STUN_MAX_ATTRS; n <= STUN_MAX_ATTRS + 1; n++) {
        put_header(buf, (uint16_t)(4 * n));
        for (unsigned i = 0; i < n; i++)
            put_attr_hdr(buf + 20 + 4 * i, STUN_ATTR_SOFTWARE, 0);
        CHECK_INT(stun_parse(&m, buf, 20 + 4 * n), n > STUN_MAX_ATTRS ? -EMSGSIZE : 0);
    }
}

TEST(stun_rejects_attribute_after_fingerprint)
{
    uint8_t buf[128];
    struct stun_builder b;
    struct stun_msg m;
    int n;

    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, rfc5769_request + 8);
    stun_build_fingerprint(&b);
    stun_build_attr(&b, STUN_ATTR_SOFTWARE, "x", 1);
    n = stun_build_finish(&b);
    if (!CHECK(n > 0))
        return;
    CHECK_INT(stun_parse(&m, buf, (size_t)n), -EBADMSG);
}

TEST(stun_ignores_attributes_after_integrity_except_fingerprint)
{
    static const uint8_t key[] = "secret";
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;
    int n;

    stun_build_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, rfc5769_request + 8);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    stun_build_integrity(&b, key, 6);
    stun_build_attr(&b, STUN_ATTR_SOFTWARE, "after", 5);
    stun_build_attr(&b, 0x7FF0, "unknown", 7); /* ignored, so not reported for 420 either */
    stun_build_fingerprint(&b);
    n = stun_build_finish(&b);
    if (!CHECK(n > 0) || !CHECK_INT(stun_parse(&m, buf, (size_t)n), 0))
        return;
    CHECK_INT(m.nattrs, 3);
    CHECK(stun_find(&m, STUN_ATTR_SOFTWARE) == NULL);
    CHECK_INT(m.nunknown, 0);
    CHECK_INT(m.integrity, 1);
    CHECK_INT(m.fingerprint, 2);
    CHECK_INT(stun_check_fingerprint(&m), 0);
    /* The integrity ends at its own attribute, so the ignored ones do not disturb it. */
    CHECK_INT(stun_check_integrity(&m, key, 6), 0);
    CHECK_INT(m.method, TURN_ALLOCATE);
}

TEST(stun_checks_sha256_when_both_integrity_attributes_present)
{
    static const uint8_t key_sha1[] = "one", key_sha256[] = "two";
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;
    int n;

    stun_build_init(&b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST, rfc5769_request + 8);
    stun_build_u32(&b, TURN_ATTR_LIFETIME, 600);
    stun_build_integrity(&b, key_sha1, 3);
    stun_build_integrity_sha256(&b, key_sha256, 3);
    stun_build_fingerprint(&b);
    n = stun_build_finish(&b);
    if (!CHECK(n > 0) || !CHECK_INT(stun_parse(&m, buf, (size_t)n), 0))
        return;
    CHECK_INT(m.integrity, 1);
    CHECK_INT(m.integrity_sha256, 2);
    CHECK_INT(stun_check_integrity(&m, key_sha256, 3), 0);
    CHECK_INT(stun_check_integrity(&m, key_sha1, 3), -EACCES);
    CHECK_INT(stun_check_fingerprint(&m), 0);
}

/* Builds a message whose MESSAGE-INTEGRITY-SHA256 is truncated to maclen bytes, with the
 * header length ending at the truncated attribute as RFC 8489 section 14.6 requires. */
static size_t build_truncated_sha256(uint8_t *buf, size_t maclen, const uint8_t *key, size_t keylen)
{
    uint8_t mac[32];
    unsigned n = 0;

    put_header(buf, (uint16_t)(8 + 4 + maclen));
    put_attr_hdr(buf + 20, TURN_ATTR_LIFETIME, 4);
    memcpy(buf + 24, "\x00\x00\x02\x58", 4);
    put_attr_hdr(buf + 28, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, (uint16_t)maclen);
    HMAC(EVP_sha256(), key, (int)keylen, buf, 28, mac, &n);
    memcpy(buf + 32, mac, maclen);
    return 32 + maclen;
}

TEST(stun_accepts_truncated_sha256_integrity_of_16_to_32_bytes)
{
    static const uint8_t key[] = "k3y";
    uint8_t buf[128];
    struct stun_msg m;

    for (size_t maclen = 16; maclen <= 32; maclen += 4) {
        size_t len = build_truncated_sha256(buf, maclen, key, 3);

        if (!CHECK_INT(stun_parse(&m, buf, len), 0))
            continue;
        CHECK_INT(stun_check_integrity(&m, key, 3), 0);
        buf[len - 1] ^= 1;
        CHECK_INT(stun_check_integrity(&m, key, 3), -EACCES);
    }
    /* Shorter than 16, over 32, or not a multiple of 4: malformed. */
    CHECK_INT(stun_parse(&m, buf, build_truncated_sha256(buf, 12, key, 3)), -EBADMSG);
    put_header(buf, 8 + 4 + 36);
    put_attr_hdr(buf + 28, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 36);
    CHECK_INT(stun_parse(&m, buf, 20 + 8 + 4 + 36), -EBADMSG);
    put_header(buf, 8 + 4 + 20);
    put_attr_hdr(buf + 28, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 18);
    CHECK_INT(stun_parse(&m, buf, 20 + 8 + 4 + 20), -EBADMSG);
}

TEST(stun_integrity_with_empty_key_round_trips)
{
    uint8_t buf[128];
    struct stun_builder b;
    struct stun_msg m;
    int n;

    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, rfc5769_request + 8);
    stun_build_integrity(&b, NULL, 0);
    n = stun_build_finish(&b);
    if (!CHECK(n > 0) || !CHECK_INT(stun_parse(&m, buf, (size_t)n), 0))
        return;
    CHECK_INT(stun_check_integrity(&m, NULL, 0), 0);
    CHECK_INT(stun_check_integrity(&m, (const uint8_t *)"k", 1), -EACCES);
}

TEST(stun_integrity_and_fingerprint_absent_report_enoent)
{
    uint8_t buf[20];
    struct stun_msg m;

    put_header(buf, 0);
    if (!CHECK_INT(stun_parse(&m, buf, sizeof(buf)), 0))
        return;
    CHECK_INT(stun_check_integrity(&m, (const uint8_t *)"k", 1), -ENOENT);
    CHECK_INT(stun_check_fingerprint(&m), -ENOENT);
}

TEST(stun_records_unknown_comprehension_required_attributes)
{
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;
    int n;

    stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, rfc5769_request + 8);
    stun_build_attr(&b, 0x7FFF, "a", 1);
    stun_build_attr(&b, STUN_ATTR_SOFTWARE, "s", 1);
    stun_build_attr(&b, 0xC001, "optional", 8);
    stun_build_attr(&b, 0x0030, NULL, 0);
    stun_build_attr(&b, 0x7FFF, "again", 5);
    stun_build_attr(&b, STUN_ATTR_PRIORITY, "\0\0\0\1", 4);
    n = stun_build_finish(&b);
    if (!CHECK(n > 0) || !CHECK_INT(stun_parse(&m, buf, (size_t)n), 0))
        return;
    CHECK_INT(m.nattrs, 6);
    CHECK_INT(m.nunknown, 2);
    CHECK_INT(m.unknown[0], 0x7FFF);
    CHECK_INT(m.unknown[1], 0x0030);
}

TEST(stun_xor_address_round_trips_and_rejects_bad_values)
{
    static const char *const ips[] = {"0.0.0.0", "203.0.113.77", "::1", "2001:db8::ff:1"};
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;
    int n;

    for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
        union vc_addr in, out;

        memset(&in, 0, sizeof(in));
        if (strchr(ips[i], ':')) {
            in.v6.sin6_family = AF_INET6;
            in.v6.sin6_port = htons((uint16_t)(1000 + i));
            inet_pton(AF_INET6, ips[i], &in.v6.sin6_addr);
        } else {
            in.v4.sin_family = AF_INET;
            in.v4.sin_port = htons(65535);
            inet_pton(AF_INET, ips[i], &in.v4.sin_addr);
        }
        stun_build_init(&b, buf, sizeof(buf), TURN_CREATE_PERMISSION, STUN_REQUEST,
                        rfc8489_request_sha256 + 8);
        stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &in);
        n = stun_build_finish(&b);
        if (!CHECK(n > 0) || !CHECK_INT(stun_parse(&m, buf, (size_t)n), 0))
            continue;
        if (CHECK_INT(stun_attr_xor_addr(&m, &m.attrs[0], &out), 0))
            CHECK_MEM(&in, &out, sizeof(in));
    }

    /* Unknown family, wrong sizes. */
    put_header(buf, 12);
    put_attr_hdr(buf + 20, TURN_ATTR_XOR_PEER_ADDRESS, 8);
    memcpy(buf + 24, "\x00\x03\x00\x00\x00\x00\x00\x00", 8);
    if (CHECK_INT(stun_parse(&m, buf, 32), 0)) {
        union vc_addr out;

        CHECK_INT(stun_attr_xor_addr(&m, &m.attrs[0], &out), -EAFNOSUPPORT);
        buf[25] = 0x02; /* IPv6 needs 20 bytes */
        CHECK_INT(stun_attr_xor_addr(&m, &m.attrs[0], &out), -EBADMSG);
    }
    put_header(buf, 8);
    put_attr_hdr(buf + 20, TURN_ATTR_XOR_PEER_ADDRESS, 3);
    if (CHECK_INT(stun_parse(&m, buf, 28), 0)) {
        union vc_addr out;

        CHECK_INT(stun_attr_xor_addr(&m, &m.attrs[0], &out), -EBADMSG);
    }

    /* The builder refuses an address family it cannot encode. */
    {
        union vc_addr un;

        memset(&un, 0, sizeof(un));
        un.sa.sa_family = AF_UNIX;
        stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, rfc5769_request + 8);
        stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &un);
        CHECK_INT(stun_build_finish(&b), -EAFNOSUPPORT);
    }
}

TEST(stun_error_code_round_trips)
{
    static const struct {
        int code;
        const char *reason; /* NULL: the standard phrase */
        const char *want;
    } cases[] = {
        {401, NULL, "Unauthorized"},  {438, NULL, "Stale Nonce"},    {300, NULL, "Try Alternate"},
        {699, NULL, "Unknown Error"}, {486, "Too many", "Too many"}, {420, "", ""},
    };
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *reason = NULL;
        size_t rlen = 0;
        int code = 0, n;

        stun_build_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_ERROR, rfc5769_request + 8);
        stun_build_error(&b, cases[i].code, cases[i].reason);
        n = stun_build_finish(&b);
        if (!CHECK(n > 0) || !CHECK_INT(stun_parse(&m, buf, (size_t)n), 0))
            continue;
        CHECK_INT(m.cls, STUN_ERROR);
        CHECK_INT(m.method, TURN_ALLOCATE);
        CHECK_INT((buf[0] << 8) | buf[1], 0x0113);
        if (!CHECK_INT(stun_attr_error(&m, &m.attrs[0], &code, &reason, &rlen), 0))
            continue;
        CHECK_INT(code, cases[i].code);
        CHECK_INT(rlen, strlen(cases[i].want));
        CHECK_MEM(reason, cases[i].want, rlen);
    }
    for (int bad = 0; bad < 2; bad++) {
        stun_build_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_ERROR, rfc5769_request + 8);
        stun_build_error(&b, bad ? 700 : 299, NULL);
        CHECK_INT(stun_build_finish(&b), -EINVAL);
    }
    /* Class 2 is not an error class. */
    put_header(buf, 8);
    put_attr_hdr(buf + 20, STUN_ATTR_ERROR_CODE, 4);
    memcpy(buf + 24, "\x00\x00\x02\x00", 4);
    if (CHECK_INT(stun_parse(&m, buf, 28), 0)) {
        const char *reason;
        size_t rlen;
        int code;

        CHECK_INT(stun_attr_error(&m, &m.attrs[0], &code, &reason, &rlen), -EBADMSG);
    }
}

TEST(stun_u32_attribute_requires_four_bytes)
{
    uint8_t buf[64];
    struct stun_builder b;
    struct stun_msg m;
    uint32_t v = 0;
    int n;

    stun_build_init(&b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST, rfc5769_request + 8);
    stun_build_u32(&b, TURN_ATTR_LIFETIME, 0xDEADBEEF);
    stun_build_attr(&b, TURN_ATTR_CHANNEL_NUMBER, "\x40\x00", 2);
    n = stun_build_finish(&b);
    if (!CHECK_INT(n, 20 + 8 + 8) || !CHECK_INT(stun_parse(&m, buf, (size_t)n), 0))
        return;
    CHECK_INT(stun_attr_u32(&m, stun_find(&m, TURN_ATTR_LIFETIME), &v), 0);
    CHECK_INT(v, 0xDEADBEEF);
    CHECK_INT(stun_attr_u32(&m, stun_find(&m, TURN_ATTR_CHANNEL_NUMBER), &v), -EBADMSG);
    CHECK_INT(stun_attr_u32(&m, stun_find(&m, TURN_ATTR_DATA), &v), -EBADMSG);
}

TEST(stun_builder_pads_with_zero_bytes)
{
    uint8_t buf[64];
    struct stun_builder b;

    memset(buf, 0xAA, sizeof(buf));
    stun_build_init(&b, buf, sizeof(buf), TURN_SEND, STUN_INDICATION, rfc5769_request + 8);
    stun_build_attr(&b, TURN_ATTR_DATA, "\xff", 1);
    CHECK_INT(stun_build_finish(&b), 28);
    CHECK_MEM(buf + 20, "\x00\x13\x00\x01\xff\x00\x00\x00", 8);
    CHECK_INT((buf[0] << 8) | buf[1], 0x0016); /* Send indication */
    CHECK_INT((buf[2] << 8) | buf[3], 8);      /* header length kept current */
}

TEST(stun_builder_errors_are_sticky)
{
    uint8_t buf[64];
    struct stun_builder b;

    stun_build_init(&b, buf, 32, STUN_BINDING, STUN_REQUEST, rfc5769_request + 8);
    stun_build_attr(&b, STUN_ATTR_SOFTWARE, "12345678", 8); /* exactly fills 32 bytes */
    CHECK_INT(stun_build_finish(&b), 32);
    stun_build_attr(&b, STUN_ATTR_SOFTWARE, "x", 1); /* does not fit */
    CHECK_INT(stun_build_finish(&b), -EMSGSIZE);
    stun_build_attr(&b, STUN_ATTR_SOFTWARE, NULL, 0); /* would fit, but the error stays */
    stun_build_fingerprint(&b);
    CHECK_INT(stun_build_finish(&b), -EMSGSIZE);
    CHECK_INT(b.len, 32);

    stun_build_init(&b, buf, 19, STUN_BINDING, STUN_REQUEST, rfc5769_request + 8);
    CHECK_INT(stun_build_finish(&b), -EMSGSIZE);
    stun_build_init(&b, buf, sizeof(buf), 0x1000, STUN_REQUEST, rfc5769_request + 8);
    CHECK_INT(stun_build_finish(&b), -EINVAL);

    /* Integrity that does not fit leaves the builder failed, not half-written. */
    stun_build_init(&b, buf, 40, STUN_BINDING, STUN_REQUEST, rfc5769_request + 8);
    stun_build_integrity(&b, (const uint8_t *)"k", 1);
    CHECK_INT(stun_build_finish(&b), -EMSGSIZE);
}

TEST(stun_decodes_method_and_class_from_type)
{
    static const struct {
        uint16_t type, method;
        uint8_t cls;
    } cases[] = {
        {0x0001, STUN_BINDING, STUN_REQUEST},
        {0x0101, STUN_BINDING, STUN_SUCCESS},
        {0x0111, STUN_BINDING, STUN_ERROR},
        {0x0003, TURN_ALLOCATE, STUN_REQUEST},
        {0x0103, TURN_ALLOCATE, STUN_SUCCESS},
        {0x0113, TURN_ALLOCATE, STUN_ERROR},
        {0x0016, TURN_SEND, STUN_INDICATION},
        {0x0017, TURN_DATA, STUN_INDICATION},
        {0x0009, TURN_CHANNEL_BIND, STUN_REQUEST},
        {0x3EEF, 0xFFF, STUN_REQUEST},
        {0x0108, TURN_CREATE_PERMISSION, STUN_SUCCESS},
    };
    uint8_t buf[20];
    struct stun_msg m;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stun_builder b;

        put_header(buf, 0);
        buf[0] = (uint8_t)(cases[i].type >> 8);
        buf[1] = (uint8_t)cases[i].type;
        if (!CHECK_INT(stun_parse(&m, buf, 20), 0))
            continue;
        CHECK_INT(m.method, cases[i].method);
        CHECK_INT(m.cls, cases[i].cls);
        /* And the builder encodes the same type. */
        uint8_t out[20];
        stun_build_init(&b, out, sizeof(out), m.method, m.cls, m.txid);
        CHECK_INT(stun_build_finish(&b), 20);
        CHECK_MEM(out, buf, 20);
    }
}

TEST(stun_long_term_key_matches_digest_of_user_realm_pass)
{
    uint8_t key[STUN_MAX_KEY_LEN], want[32];
    unsigned n = 0;

    CHECK_INT(stun_long_term_key(STUN_PWALG_MD5, "user", 4, "realm", 5, "pass", 4, key), 16);
    CHECK(EVP_Digest("user:realm:pass", 15, want, &n, EVP_md5(), NULL));
    CHECK_MEM(key, want, 16);
    CHECK_INT(stun_long_term_key(STUN_PWALG_SHA256, "user", 4, "realm", 5, "pass", 4, key), 32);
    CHECK(EVP_Digest("user:realm:pass", 15, want, &n, EVP_sha256(), NULL));
    CHECK_MEM(key, want, 32);
    CHECK_INT(stun_long_term_key(3, "user", 4, "realm", 5, "pass", 4, key), -EINVAL);
    CHECK_INT(stun_long_term_key(0, "user", 4, "realm", 5, "pass", 4, key), -EINVAL);
}

TEST(stun_reason_phrases_match_the_rfcs)
{
    static const struct {
        int code;
        const char *reason;
    } cases[] = {
        {300, "Try Alternate"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {405, "Mobility Forbidden"},
        {420, "Unknown Attribute"},
        {437, "Allocation Mismatch"},
        {438, "Stale Nonce"},
        {440, "Address Family not Supported"},
        {441, "Wrong Credentials"},
        {442, "Unsupported Transport Protocol"},
        {443, "Peer Address Family Mismatch"},
        {446, "Connection Already Exists"},
        {447, "Connection Timeout or Failure"},
        {486, "Allocation Quota Reached"},
        {487, "Role Conflict"},
        {500, "Server Error"},
        {508, "Insufficient Capacity"},
        {599, "Unknown Error"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_STR(stun_reason(cases[i].code), cases[i].reason);
}

TEST(stun_is_message_demultiplexes)
{
    uint8_t buf[24];

    put_header(buf, 4);
    CHECK(stun_is_message(buf, 24));
    CHECK(!stun_is_message(buf, 20));
    CHECK(!stun_is_message(buf, 19));
    CHECK(!stun_is_message(NULL, 0));
    buf[7] ^= 1;
    CHECK(!stun_is_message(buf, 24));
    buf[7] ^= 1;
    buf[0] = 0x40;
    CHECK(!stun_is_message(buf, 24));
    CHECK(turn_is_channel_data(buf, 24));
}
