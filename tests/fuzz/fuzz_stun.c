/* libFuzzer harness for the STUN codec: parse, decode every attribute, check, rebuild, reparse. */
// fuzz-sources: src/stun/stun.c
// fuzz-libs: -lcrypto
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vc/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[] = "VOkJxbRl1RmTxUk/WvJxBt";
#define FUZZ_KEY_LEN (sizeof(fuzz_key) - 1)

/* Aborts (a crash libFuzzer reports) when an invariant does not hold. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool fuzz_is_special(uint16_t type)
{
    return type == STUN_ATTR_MESSAGE_INTEGRITY || type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
           type == STUN_ATTR_FINGERPRINT;
}

/* Runs every decoder over one attribute; an XOR address that decodes must re-encode the same. */
static void fuzz_decode_attr(const struct stun_msg *m, const struct stun_attr *a)
{
    const uint8_t *v = stun_attr_value(m, a);
    union vc_addr addr, again;
    const char *reason;
    size_t rlen;
    uint32_t u;
    int code;

    REQUIRE(v && v >= m->buf + STUN_HEADER_LEN && v + a->len <= m->buf + m->len);
    REQUIRE((stun_attr_u32(m, a, &u) == 0) == (a->len == 4));
    if (stun_attr_error(m, a, &code, &reason, &rlen) == 0)
        REQUIRE(code >= 300 && code <= 699 && reason + rlen == (const char *)v + a->len);
    if (stun_attr_xor_addr(m, a, &addr) == 0) {
        uint8_t buf[64];
        struct stun_builder b;
        struct stun_msg m2;
        int n;

        stun_build_init(&b, buf, sizeof(buf), m->method, m->cls, m->txid);
        stun_build_xor_addr(&b, a->type, &addr);
        n = stun_build_finish(&b);
        REQUIRE(n > 0);
        REQUIRE(stun_parse(&m2, buf, (size_t)n) == 0 && m2.nattrs == 1);
        REQUIRE(stun_attr_xor_addr(&m2, &m2.attrs[0], &again) == 0);
        REQUIRE(memcmp(&addr, &again, sizeof(addr)) == 0);
    }
}

/* Rebuilds m with the builder (integrity with fuzz_key) and checks the copy parses the same. */
static void fuzz_rebuild(const struct stun_msg *m)
{
    size_t cap = m->len + STUN_SHA256_LEN + 64;
    uint8_t *buf = malloc(cap);
    struct stun_builder b;
    struct stun_msg r;
    int n;

    if (!buf)
        return;
    stun_build_init(&b, buf, cap, m->method, m->cls, m->txid);
    for (unsigned i = 0; i < m->nattrs; i++)
        if (!fuzz_is_special(m->attrs[i].type))
            stun_build_attr(&b, m->attrs[i].type, stun_attr_value(m, &m->attrs[i]),
                            m->attrs[i].len);
    if (m->integrity >= 0)
        stun_build_integrity(&b, fuzz_key, FUZZ_KEY_LEN);
    if (m->integrity_sha256 >= 0)
        stun_build_integrity_sha256(&b, fuzz_key, FUZZ_KEY_LEN);
    if (m->fingerprint >= 0)
        stun_build_fingerprint(&b);
    n = stun_build_finish(&b);
    if (n == -EMSGSIZE) {
        free(buf);
        return; /* a full 32-byte MI-SHA256 can push a 64 KiB message over the cap */
    }
    REQUIRE(n >= STUN_HEADER_LEN);
    REQUIRE(stun_parse(&r, buf, (size_t)n) == 0);
    REQUIRE(r.method == m->method && r.cls == m->cls && r.nattrs == m->nattrs);
    REQUIRE(memcmp(r.txid, m->txid, STUN_TXID_LEN) == 0);
    REQUIRE(r.integrity == m->integrity && r.integrity_sha256 == m->integrity_sha256 &&
            r.fingerprint == m->fingerprint);
    REQUIRE(r.nunknown == m->nunknown &&
            memcmp(r.unknown, m->unknown, m->nunknown * sizeof(m->unknown[0])) == 0);
    for (unsigned i = 0; i < m->nattrs; i++) {
        const struct stun_attr *a = &m->attrs[i], *c = &r.attrs[i];

        REQUIRE(a->type == c->type);
        if (fuzz_is_special(a->type))
            continue;
        REQUIRE(a->len == c->len);
        REQUIRE(memcmp(stun_attr_value(m, a), stun_attr_value(&r, c), a->len) == 0);
    }
    if (r.fingerprint >= 0)
        REQUIRE(stun_check_fingerprint(&r) == 0);
    if (r.integrity >= 0 || r.integrity_sha256 >= 0)
        REQUIRE(stun_check_integrity(&r, fuzz_key, FUZZ_KEY_LEN) == 0);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stun_msg m;
    int ret, fp, in;

    ret = stun_parse(&m, data, size);
    REQUIRE(ret == 0 || ret == -EBADMSG || ret == -EMSGSIZE);
    if (ret != 0)
        return 0;
    REQUIRE(stun_is_message(data, size));
    REQUIRE(m.nattrs <= STUN_MAX_ATTRS && m.nunknown <= 8);
    for (unsigned i = 0; i < m.nattrs; i++)
        fuzz_decode_attr(&m, &m.attrs[i]);
    fp = stun_check_fingerprint(&m);
    REQUIRE(fp == 0 || fp == (m.fingerprint < 0 ? -ENOENT : -EBADMSG));
    in = stun_check_integrity(&m, fuzz_key, FUZZ_KEY_LEN);
    REQUIRE(in == 0 || in == (m.integrity < 0 && m.integrity_sha256 < 0 ? -ENOENT : -EACCES));
    fuzz_rebuild(&m);
    return 0;
}
