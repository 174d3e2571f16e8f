/* STUN message codec: parses, checks and builds messages (RFC 8489, RFC 8656 attributes). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "vc/stun.h"

#define STUN_FINGERPRINT_XOR 0x5354554eu
#define STUN_FAMILY_IPV4 0x01
#define STUN_FAMILY_IPV6 0x02
/* Longest ERROR-CODE reason phrase (RFC 8489 section 14.8: under 128 characters, 763 bytes). */
#define STUN_MAX_REASON 763

/* Known attribute types, comprehension-required range only: any other type below 0x8000 is
 * recorded in stun_msg.unknown so the caller can answer 420 with UNKNOWN-ATTRIBUTES. */
static const uint16_t stun_known_required[] = {
    STUN_ATTR_MAPPED_ADDRESS,
    STUN_ATTR_USERNAME,
    STUN_ATTR_MESSAGE_INTEGRITY,
    STUN_ATTR_ERROR_CODE,
    STUN_ATTR_UNKNOWN_ATTRIBUTES,
    TURN_ATTR_CHANNEL_NUMBER,
    TURN_ATTR_LIFETIME,
    TURN_ATTR_XOR_PEER_ADDRESS,
    TURN_ATTR_DATA,
    STUN_ATTR_REALM,
    STUN_ATTR_NONCE,
    TURN_ATTR_XOR_RELAYED_ADDRESS,
    TURN_ATTR_REQUESTED_ADDRESS_FAMILY,
    TURN_ATTR_EVEN_PORT,
    TURN_ATTR_REQUESTED_TRANSPORT,
    TURN_ATTR_DONT_FRAGMENT,
    STUN_ATTR_MESSAGE_INTEGRITY_SHA256,
    STUN_ATTR_PASSWORD_ALGORITHM,
    STUN_ATTR_USERHASH,
    STUN_ATTR_XOR_MAPPED_ADDRESS,
    TURN_ATTR_RESERVATION_TOKEN,
    STUN_ATTR_PRIORITY,
    STUN_ATTR_USE_CANDIDATE,
};

/* CRC-32 (the zlib/IEEE 802.3 polynomial, reflected 0xEDB88320), one table lookup per byte. */
static const uint32_t stun_crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u,
    0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu,
    0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du,
    0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu,
    0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu,
    0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau,
    0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu,
    0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u,
    0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u,
    0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u, 0x8708a3d2u, 0x1e01f268u,
    0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u,
    0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u,
    0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u,
    0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu,
    0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u, 0x88085ae6u,
    0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du,
    0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u,
    0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

static uint32_t stun_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = stun_crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* The FINGERPRINT value of the first n bytes of msg, whose header length field is taken to be
 * hdr_len (the caller's bytes are not modified). */
static uint32_t stun_fingerprint_value(const uint8_t *msg, size_t n, uint16_t hdr_len)
{
    uint8_t lenb[2] = {(uint8_t)(hdr_len >> 8), (uint8_t)hdr_len};
    uint32_t crc;

    crc = stun_crc32(0, msg, 2);
    crc = stun_crc32(crc, lenb, 2);
    crc = stun_crc32(crc, msg + 4, n - 4);
    return crc ^ STUN_FINGERPRINT_XOR;
}

/* OpenSSL's HMAC implementation, fetched once for the process: a fetch costs more than the MAC
 * of a STUN message. Set once under pthread_once and never changed or freed afterwards. */
static EVP_MAC *stun_hmac_impl;
static pthread_once_t stun_hmac_once = PTHREAD_ONCE_INIT;
/* Each thread's HMAC contexts, one per digest (SHA1, SHA256), created with their digest set:
 * setting it by name fetches the digest, a lock and a search per message otherwise. Freed when
 * the thread ends. */
static pthread_key_t stun_hmac_key;
static bool stun_hmac_key_ok;

struct stun_hmac_ctxs {
    EVP_MAC_CTX *ctx[2];
};

static void stun_hmac_ctxs_free(void *p)
{
    struct stun_hmac_ctxs *c = p;

    EVP_MAC_CTX_free(c->ctx[0]);
    EVP_MAC_CTX_free(c->ctx[1]);
    free(c);
}

static void stun_hmac_fetch(void)
{
    stun_hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
    stun_hmac_key_ok = pthread_key_create(&stun_hmac_key, stun_hmac_ctxs_free) == 0;
}

/* This thread's context for digest ("SHA1" or "SHA256"), or NULL on ENOMEM. */
static EVP_MAC_CTX *stun_hmac_ctx(const char *digest)
{
    unsigned i = strcmp(digest, "SHA1") == 0 ? 0 : 1;
    struct stun_hmac_ctxs *c;
    OSSL_PARAM params[2];

    pthread_once(&stun_hmac_once, stun_hmac_fetch);
    if (!stun_hmac_impl || !stun_hmac_key_ok)
        return NULL;
    c = pthread_getspecific(stun_hmac_key);
    if (!c) {
        if (!(c = calloc(1, sizeof(*c))))
            return NULL;
        if (pthread_setspecific(stun_hmac_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    if (!c->ctx[i]) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(stun_hmac_impl);

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (!ctx || !EVP_MAC_CTX_set_params(ctx, params)) {
            EVP_MAC_CTX_free(ctx);
            return NULL;
        }
        c->ctx[i] = ctx;
    }
    return c->ctx[i];
}

/* HMAC (digest "SHA1" or "SHA256") of the first n bytes of msg, with the header length field
 * read as hdr_len. Writes the full digest to out (at least STUN_SHA256_LEN bytes). 0 or -ENOMEM. */
static int stun_hmac(const char *digest, const uint8_t *key, size_t keylen, const uint8_t *msg,
                     size_t n, uint16_t hdr_len, uint8_t *out)
{
    uint8_t lenb[2] = {(uint8_t)(hdr_len >> 8), (uint8_t)hdr_len};
    EVP_MAC_CTX *ctx = stun_hmac_ctx(digest);
    size_t outl = 0;
    static const uint8_t empty_key[1];

    /* EVP_MAC_init reads a NULL key as "keep the last one": pass a real empty one. */
    if (!key || keylen == 0) {
        key = empty_key;
        keylen = 0;
    }
    if (ctx && EVP_MAC_init(ctx, key, keylen, NULL) && EVP_MAC_update(ctx, msg, 2) &&
        EVP_MAC_update(ctx, lenb, 2) && EVP_MAC_update(ctx, msg + 4, n - 4) &&
        EVP_MAC_final(ctx, out, &outl, STUN_SHA256_LEN))
        return 0;
    return -ENOMEM;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The XOR-*-ADDRESS mask: the magic cookie then the transaction id (RFC 8489 section 14.2). */
static void stun_xor_mask(uint8_t mask[16], const uint8_t txid[STUN_TXID_LEN])
{
    mask[0] = (uint8_t)(STUN_MAGIC_COOKIE >> 24);
    mask[1] = (uint8_t)(STUN_MAGIC_COOKIE >> 16);
    mask[2] = (uint8_t)(STUN_MAGIC_COOKIE >> 8);
    mask[3] = (uint8_t)STUN_MAGIC_COOKIE;
    memcpy(mask + 4, txid, STUN_TXID_LEN);
}

bool stun_is_message(const uint8_t *buf, size_t len)
{
    size_t body;

    if (!buf || len < STUN_HEADER_LEN)
        return false;
    body = rd16(buf + 2);
    return (buf[0] & 0xC0) == 0 && rd32(buf + 4) == STUN_MAGIC_COOKIE && body % 4 == 0 &&
           body + STUN_HEADER_LEN == len;
}

static bool stun_type_known(uint16_t type)
{
    for (size_t i = 0; i < sizeof(stun_known_required) / sizeof(stun_known_required[0]); i++)
        if (stun_known_required[i] == type)
            return true;
    return false;
}

static void stun_note_unknown(struct stun_msg *m, uint16_t type)
{
    const unsigned cap = sizeof(m->unknown) / sizeof(m->unknown[0]);

    if (type >= 0x8000 || stun_type_known(type))
        return;
    for (unsigned i = 0; i < m->nunknown; i++)
        if (m->unknown[i] == type)
            return;
    if (m->nunknown < cap)
        m->unknown[m->nunknown++] = type;
}

/* The integrity and fingerprint attributes have fixed value sizes; reject others here so the
 * check functions never see a short value. */
static bool stun_special_len_ok(uint16_t type, uint16_t len)
{
    switch (type) {
    case STUN_ATTR_MESSAGE_INTEGRITY:
        return len == STUN_SHA1_LEN;
    case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
        return len >= 16 && len <= STUN_SHA256_LEN && len % 4 == 0;
    case STUN_ATTR_FINGERPRINT:
        return len == 4;
    default:
        return true;
    }
}

/* Decides what to do with the next attribute of the given type: 1 record it, 0 skip it (it
 * follows MESSAGE-INTEGRITY), or a negative errno. */
static int stun_attr_accept(const struct stun_msg *m, uint16_t type)
{
    if (m->fingerprint >= 0)
        return -EBADMSG; /* FINGERPRINT must be last */
    if (m->integrity_sha256 >= 0)
        return type == STUN_ATTR_FINGERPRINT;
    if (m->integrity >= 0)
        return type == STUN_ATTR_FINGERPRINT || type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256;
    return 1;
}

int stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
    uint16_t type;
    size_t pos;

    memset(m, 0, sizeof(*m));
    m->integrity = m->integrity_sha256 = m->fingerprint = -1;
    if (!stun_is_message(buf, len))
        return -EBADMSG;
    if (len > STUN_MAX_MSG)
        return -EMSGSIZE; /* attribute offsets are 16-bit */
    m->buf = buf;
    m->len = len;
    type = rd16(buf);
    m->cls = (uint8_t)(((type >> 4) & 1) | ((type >> 7) & 2));
    m->method = (uint16_t)((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
    memcpy(m->txid, buf + 8, STUN_TXID_LEN);

    for (pos = STUN_HEADER_LEN; pos < len;) {
        uint16_t atype, alen;
        size_t voff, padded;
        int act;

        if (len - pos < 4)
            return -EBADMSG;
        atype = rd16(buf + pos);
        alen = rd16(buf + pos + 2);
        voff = pos + 4;
        padded = ((size_t)alen + 3) & ~(size_t)3;
        if (padded > len - voff)
            return -EBADMSG;
        pos = voff + padded;

        act = stun_attr_accept(m, atype);
        if (act < 0)
            return act;
        if (act == 0)
            continue; /* after MESSAGE-INTEGRITY: ignored, as RFC 8489 section 14.5 says */
        if (!stun_special_len_ok(atype, alen))
            return -EBADMSG;
        if (m->nattrs >= STUN_MAX_ATTRS)
            return -EMSGSIZE;
        if (atype == STUN_ATTR_MESSAGE_INTEGRITY)
            m->integrity = (int)m->nattrs;
        else if (atype == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
            m->integrity_sha256 = (int)m->nattrs;
        else if (atype == STUN_ATTR_FINGERPRINT)
            m->fingerprint = (int)m->nattrs;
        else
            stun_note_unknown(m, atype);
        m->attrs[m->nattrs++] = (struct stun_attr){atype, alen, (uint16_t)voff};
    }
    return 0;
}

const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type)
{
    for (unsigned i = 0; i < m->nattrs && i < STUN_MAX_ATTRS; i++)
        if (m->attrs[i].type == type)
            return &m->attrs[i];
    return NULL;
}

/* True if a's header and value lie inside the message (a struct filled by hand could lie). */
static bool stun_attr_in_bounds(const struct stun_msg *m, const struct stun_attr *a)
{
    return m->buf && a && a->off >= STUN_HEADER_LEN + 4 && (size_t)a->off + a->len <= m->len;
}

const uint8_t *stun_attr_value(const struct stun_msg *m, const struct stun_attr *a)
{
    if (!stun_attr_in_bounds(m, a))
        return NULL;
    return m->buf + a->off;
}

int stun_attr_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *out)
{
    if (!stun_attr_in_bounds(m, a) || a->len != 4)
        return -EBADMSG;
    *out = rd32(m->buf + a->off);
    return 0;
}

int stun_attr_xor_addr(const struct stun_msg *m, const struct stun_attr *a, union vc_addr *out)
{
    const uint8_t *v;
    uint16_t port;

    if (!stun_attr_in_bounds(m, a) || a->len < 4)
        return -EBADMSG;
    v = m->buf + a->off;
    port = rd16(v + 2) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16);
    memset(out, 0, sizeof(*out));
    switch (v[1]) {
    case STUN_FAMILY_IPV4: {
        uint32_t ip;

        if (a->len != 8)
            return -EBADMSG;
        ip = rd32(v + 4) ^ STUN_MAGIC_COOKIE;
        out->v4.sin_family = AF_INET;
        out->v4.sin_port = htons(port);
        out->v4.sin_addr.s_addr = htonl(ip);
        return 0;
    }
    case STUN_FAMILY_IPV6: {
        uint8_t mask[16];

        if (a->len != 20)
            return -EBADMSG;
        stun_xor_mask(mask, m->txid);
        out->v6.sin6_family = AF_INET6;
        out->v6.sin6_port = htons(port);
        for (int i = 0; i < 16; i++)
            out->v6.sin6_addr.s6_addr[i] = v[4 + i] ^ mask[i];
        return 0;
    }
    default:
        return -EAFNOSUPPORT;
    }
}

int stun_attr_error(const struct stun_msg *m, const struct stun_attr *a, int *code,
                    const char **reason, size_t *reason_len)
{
    const uint8_t *v;
    int cls, num;

    if (!stun_attr_in_bounds(m, a) || a->len < 4)
        return -EBADMSG;
    v = m->buf + a->off;
    cls = v[2] & 0x07;
    num = v[3];
    if (cls < 3 || cls > 6 || num > 99)
        return -EBADMSG;
    *code = cls * 100 + num;
    *reason = (const char *)(v + 4);
    *reason_len = a->len - 4u;
    return 0;
}

/* Returns the attribute at index idx if it is in range and in bounds, else NULL. */
static const struct stun_attr *stun_attr_at(const struct stun_msg *m, int idx)
{
    const struct stun_attr *a;

    if (idx < 0 || (unsigned)idx >= m->nattrs || idx >= STUN_MAX_ATTRS)
        return NULL;
    a = &m->attrs[idx];
    return stun_attr_in_bounds(m, a) ? a : NULL;
}

int stun_check_fingerprint(const struct stun_msg *m)
{
    const struct stun_attr *a;
    size_t covered;

    if (m->fingerprint < 0)
        return -ENOENT;
    a = stun_attr_at(m, m->fingerprint);
    if (!a || a->len != 4)
        return -EBADMSG;
    /* CRC over everything before the attribute, the length field counting the FINGERPRINT. */
    covered = a->off - 4u;
    if (stun_fingerprint_value(m->buf, covered, (uint16_t)(a->off + 4u - STUN_HEADER_LEN)) !=
        rd32(m->buf + a->off))
        return -EBADMSG;
    return 0;
}

int stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t keylen)
{
    const struct stun_attr *a;
    const char *digest;
    uint8_t mac[STUN_SHA256_LEN];
    size_t want;
    int ret;

    if (m->integrity_sha256 >= 0) {
        a = stun_attr_at(m, m->integrity_sha256);
        digest = "SHA256";
        /* RFC 8489 section 14.6: a truncated value of 16 to 32 bytes, in 4-byte steps. */
        if (!a || a->len < 16 || a->len > STUN_SHA256_LEN || a->len % 4)
            return -EACCES;
        want = a->len;
    } else if (m->integrity >= 0) {
        a = stun_attr_at(m, m->integrity);
        digest = "SHA1";
        if (!a || a->len != STUN_SHA1_LEN)
            return -EACCES;
        want = STUN_SHA1_LEN;
    } else {
        return -ENOENT;
    }
    /* HMAC over everything before the attribute, the length field ending at the attribute. */
    ret = stun_hmac(digest, key, keylen, m->buf, a->off - 4u,
                    (uint16_t)(a->off + a->len - STUN_HEADER_LEN), mac);
    if (ret < 0)
        return ret;
    if (CRYPTO_memcmp(mac, m->buf + a->off, want) != 0)
        return -EACCES;
    return 0;
}

int stun_long_term_key(int alg, const char *user, size_t user_len, const char *realm,
                       size_t realm_len, const char *pass, size_t pass_len, uint8_t *out)
{
    const EVP_MD *md;
    EVP_MD_CTX *ctx;
    unsigned outl = 0;
    int ok;

    if (alg == STUN_PWALG_MD5)
        md = EVP_md5();
    else if (alg == STUN_PWALG_SHA256)
        md = EVP_sha256();
    else
        return -EINVAL;
    if (!out || (!user && user_len) || (!realm && realm_len) || (!pass && pass_len))
        return -EINVAL;
    ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    ok = EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, user, user_len) &&
         EVP_DigestUpdate(ctx, ":", 1) && EVP_DigestUpdate(ctx, realm, realm_len) &&
         EVP_DigestUpdate(ctx, ":", 1) && EVP_DigestUpdate(ctx, pass, pass_len) &&
         EVP_DigestFinal_ex(ctx, out, &outl);
    EVP_MD_CTX_free(ctx);
    if (!ok || outl > STUN_MAX_KEY_LEN)
        return -EINVAL;
    return (int)outl;
}

/* Reason phrases from RFC 8489 section 14.8, RFC 8656 section 19, RFC 6062 and RFC 8445. */
static const struct {
    int code;
    const char *reason;
} stun_reasons[] = {
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
};

const char *stun_reason(int code)
{
    for (size_t i = 0; i < sizeof(stun_reasons) / sizeof(stun_reasons[0]); i++)
        if (stun_reasons[i].code == code)
            return stun_reasons[i].reason;
    return "Unknown Error";
}

/* ---- Builder ---- */

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void stun_build_fail(struct stun_builder *b, int err)
{
    if (!b->err)
        b->err = err;
}

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                     const uint8_t txid[STUN_TXID_LEN])
{
    uint16_t type;

    b->buf = buf;
    /* The header length field is 16 bits and attribute offsets too: never build past that. */
    b->cap = cap > STUN_MAX_MSG ? STUN_MAX_MSG : cap;
    b->len = 0;
    b->err = 0;
    if (!buf || b->cap < STUN_HEADER_LEN) {
        b->err = -EMSGSIZE;
        return;
    }
    if (method > 0x0FFF || cls > STUN_ERROR || !txid) {
        b->err = -EINVAL;
        return;
    }
    type = (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                      ((cls & 1) << 4) | ((cls & 2) << 7));
    wr16(buf, type);
    wr16(buf + 2, 0);
    wr32(buf + 4, STUN_MAGIC_COOKIE);
    memcpy(buf + 8, txid, STUN_TXID_LEN);
    b->len = STUN_HEADER_LEN;
}

/* Appends an attribute header and len value bytes (zeroed, padding included) and keeps the
 * header length field current. Returns the value bytes to fill, or NULL (error recorded). */
static uint8_t *stun_build_reserve(struct stun_builder *b, uint16_t type, size_t len)
{
    size_t padded = (len + 3) & ~(size_t)3;
    uint8_t *p;

    if (b->err)
        return NULL;
    if (len > 0xFFFF || 4 + padded > b->cap - b->len) {
        stun_build_fail(b, -EMSGSIZE);
        return NULL;
    }
    p = b->buf + b->len;
    wr16(p, type);
    wr16(p + 2, (uint16_t)len);
    memset(p + 4, 0, padded);
    b->len += 4 + padded;
    wr16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
    return p + 4;
}

void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len)
{
    uint8_t *p;

    if (!val && len) {
        stun_build_fail(b, -EINVAL);
        return;
    }
    p = stun_build_reserve(b, type, len);
    if (p && len)
        memcpy(p, val, len);
}

void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t val)
{
    uint8_t *p = stun_build_reserve(b, type, 4);

    if (p)
        wr32(p, val);
}

void stun_build_xor_addr(struct stun_builder *b, uint16_t type, const union vc_addr *addr)
{
    uint8_t mask[16];
    uint8_t *p;

    if (b->err)
        return;
    if (!addr || (addr->sa.sa_family != AF_INET && addr->sa.sa_family != AF_INET6)) {
        stun_build_fail(b, -EAFNOSUPPORT);
        return;
    }
    stun_xor_mask(mask, b->buf + 8);
    if (addr->sa.sa_family == AF_INET) {
        p = stun_build_reserve(b, type, 8);
        if (!p)
            return;
        p[1] = STUN_FAMILY_IPV4;
        wr16(p + 2, ntohs(addr->v4.sin_port) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
        wr32(p + 4, ntohl(addr->v4.sin_addr.s_addr) ^ STUN_MAGIC_COOKIE);
    } else {
        p = stun_build_reserve(b, type, 20);
        if (!p)
            return;
        p[1] = STUN_FAMILY_IPV6;
        wr16(p + 2, ntohs(addr->v6.sin6_port) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
        for (int i = 0; i < 16; i++)
            p[4 + i] = addr->v6.sin6_addr.s6_addr[i] ^ mask[i];
    }
}

void stun_build_error(struct stun_builder *b, int code, const char *reason)
{
    size_t rlen;
    uint8_t *p;

    if (code < 300 || code > 699) {
        stun_build_fail(b, -EINVAL);
        return;
    }
    if (!reason)
        reason = stun_reason(code);
    rlen = strnlen(reason, STUN_MAX_REASON + 1);
    if (rlen > STUN_MAX_REASON) {
        stun_build_fail(b, -EINVAL);
        return;
    }
    p = stun_build_reserve(b, STUN_ATTR_ERROR_CODE, 4 + rlen);
    if (!p)
        return;
    p[2] = (uint8_t)(code / 100);
    p[3] = (uint8_t)(code % 100);
    memcpy(p + 4, reason, rlen);
}

/* Appends a MESSAGE-INTEGRITY(-SHA256) attribute of maclen bytes. The header length is fixed up
 * to end at the new attribute (stun_build_reserve does it) before the HMAC is computed. */
static void stun_build_mac(struct stun_builder *b, uint16_t type, const char *digest, size_t maclen,
                           const uint8_t *key, size_t keylen)
{
    uint8_t mac[STUN_SHA256_LEN];
    size_t covered = b->len;
    uint8_t *p;
    int ret;

    if (!key && keylen) {
        stun_build_fail(b, -EINVAL);
        return;
    }
    p = stun_build_reserve(b, type, maclen);
    if (!p)
        return;
    ret =
        stun_hmac(digest, key, keylen, b->buf, covered, (uint16_t)(b->len - STUN_HEADER_LEN), mac);
    if (ret < 0) {
        stun_build_fail(b, ret);
        return;
    }
    memcpy(p, mac, maclen);
}

void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
    stun_build_mac(b, STUN_ATTR_MESSAGE_INTEGRITY, "SHA1", STUN_SHA1_LEN, key, keylen);
}

void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
    stun_build_mac(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "SHA256", STUN_SHA256_LEN, key, keylen);
}

void stun_build_fingerprint(struct stun_builder *b)
{
    size_t covered = b->len;
    uint8_t *p = stun_build_reserve(b, STUN_ATTR_FINGERPRINT, 4);

    if (p)
        wr32(p, stun_fingerprint_value(b->buf, covered, (uint16_t)(b->len - STUN_HEADER_LEN)));
}

int stun_build_finish(struct stun_builder *b)
{
    if (b->err)
        return b->err;
    return (int)b->len;
}
