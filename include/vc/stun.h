/* STUN message codec (RFC 8489, RFC 8656 attributes): parse, build, integrity, fingerprint. No I/O.
 */
#ifndef VC_STUN_H
#define VC_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/addr.h"

#define STUN_HEADER_LEN 20
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_TXID_LEN 12
#define STUN_MAX_ATTRS 40
/* Largest STUN message we accept or build (fits any UDP datagram we relay). */
#define STUN_MAX_MSG 65535u
#define STUN_SHA1_LEN 20
#define STUN_SHA256_LEN 32
/* The long-term key: MD5 (16 bytes) or SHA-256 (32 bytes) of "user:realm:pass". */
#define STUN_MAX_KEY_LEN 32

enum stun_method {
    STUN_BINDING = 0x001,
    TURN_ALLOCATE = 0x003,
    TURN_REFRESH = 0x004,
    TURN_SEND = 0x006,
    TURN_DATA = 0x007,
    TURN_CREATE_PERMISSION = 0x008,
    TURN_CHANNEL_BIND = 0x009,
};

enum stun_class {
    STUN_REQUEST = 0,
    STUN_INDICATION = 1,
    STUN_SUCCESS = 2,
    STUN_ERROR = 3,
};

enum stun_attr_type {
    STUN_ATTR_MAPPED_ADDRESS = 0x0001,
    STUN_ATTR_USERNAME = 0x0006,
    STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    STUN_ATTR_ERROR_CODE = 0x0009,
    STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    TURN_ATTR_CHANNEL_NUMBER = 0x000C,
    TURN_ATTR_LIFETIME = 0x000D,
    TURN_ATTR_XOR_PEER_ADDRESS = 0x0012,
    TURN_ATTR_DATA = 0x0013,
    STUN_ATTR_REALM = 0x0014,
    STUN_ATTR_NONCE = 0x0015,
    TURN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
    TURN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
    TURN_ATTR_EVEN_PORT = 0x0018,
    TURN_ATTR_REQUESTED_TRANSPORT = 0x0019,
    TURN_ATTR_DONT_FRAGMENT = 0x001A,
    STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
    STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
    STUN_ATTR_USERHASH = 0x001E,
    STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    TURN_ATTR_RESERVATION_TOKEN = 0x0022,
    STUN_ATTR_PRIORITY = 0x0024,
    STUN_ATTR_USE_CANDIDATE = 0x0025,
    /* Comprehension-optional range starts at 0x8000. */
    TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000,
    TURN_ATTR_ADDRESS_ERROR_CODE = 0x8001,
    STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
    STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
    TURN_ATTR_ICMP = 0x8004,
    STUN_ATTR_SOFTWARE = 0x8022,
    STUN_ATTR_ALTERNATE_SERVER = 0x8023,
    STUN_ATTR_FINGERPRINT = 0x8028,
    STUN_ATTR_ICE_CONTROLLED = 0x8029,
    STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

/* PASSWORD-ALGORITHM values (RFC 8489 section 18.5). */
enum stun_password_alg {
    STUN_PWALG_MD5 = 0x0001,
    STUN_PWALG_SHA256 = 0x0002,
};

/* One attribute: its type, value length and the value's offset in the message buffer. */
struct stun_attr {
    uint16_t type;
    uint16_t len;
    uint16_t off;
};

/* A parsed message. It borrows buf: the bytes must outlive it. */
struct stun_msg {
    const uint8_t *buf;
    size_t len; /* total length, header included */
    uint16_t method;
    uint8_t cls;
    uint8_t txid[STUN_TXID_LEN];
    unsigned nattrs;
    struct stun_attr attrs[STUN_MAX_ATTRS];
    /* Index into attrs of MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, or -1. */
    int integrity;
    int integrity_sha256;
    int fingerprint;
    /* Comprehension-required attribute types we do not know (for 420), in order seen. */
    unsigned nunknown;
    uint16_t unknown[8];
};

/* True if buf could be a STUN message: top two bits zero, magic cookie present, length
 * a multiple of 4 and consistent with len. Cheap; used to demultiplex from ChannelData. */
bool stun_is_message(const uint8_t *buf, size_t len);

/* Parses a whole STUN message. Attributes after MESSAGE-INTEGRITY(-SHA256) other than
 * FINGERPRINT are ignored, as RFC 8489 requires; anything after FINGERPRINT is an error.
 * Returns 0, or -EBADMSG for malformed bytes, or -EMSGSIZE if it has too many attributes. */
int stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len);

/* First attribute of the given type, or NULL. */
const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type);

/* Pointer to an attribute's value bytes (borrowed from the message buffer). */
const uint8_t *stun_attr_value(const struct stun_msg *m, const struct stun_attr *a);

/* Decodes a 4-byte attribute. Returns 0 or -EBADMSG. */
int stun_attr_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *out);

/* Decodes an XOR-*-ADDRESS attribute. Returns 0, -EBADMSG, or -EAFNOSUPPORT for an unknown
 * family. */
int stun_attr_xor_addr(const struct stun_msg *m, const struct stun_attr *a, union vc_addr *out);

/* Decodes ERROR-CODE: code 300..699 and a pointer to its reason (not NUL-terminated). */
int stun_attr_error(const struct stun_msg *m, const struct stun_attr *a, int *code,
                    const char **reason, size_t *reason_len);

/* 0 if the FINGERPRINT attribute is present and correct; -ENOENT if absent; -EBADMSG if wrong. */
int stun_check_fingerprint(const struct stun_msg *m);

/* Checks MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY, against key.
 * The comparison is constant-time. Returns 0, -ENOENT if neither attribute is present, or
 * -EACCES on a mismatch. */
int stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t keylen);

/* The long-term credential key: MD5 (alg STUN_PWALG_MD5, 16 bytes) or SHA-256
 * (STUN_PWALG_SHA256, 32 bytes) of "username:realm:password". Returns the key length, or
 * -EINVAL. The strings are (pointer, length) pairs; out holds STUN_MAX_KEY_LEN bytes. */
int stun_long_term_key(int alg, const char *user, size_t user_len, const char *realm,
                       size_t realm_len, const char *pass, size_t pass_len, uint8_t *out);

/* Builds a message into a caller-owned buffer. Errors are sticky: once an append does not fit,
 * the builder stays failed and stun_build_finish() reports -EMSGSIZE. */
struct stun_builder {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
};

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                     const uint8_t txid[STUN_TXID_LEN]);
void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len);
void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t val);
void stun_build_xor_addr(struct stun_builder *b, uint16_t type, const union vc_addr *addr);
/* ERROR-CODE with the RFC's standard reason phrase for code (or reason if non-NULL). */
void stun_build_error(struct stun_builder *b, int code, const char *reason);
/* Appends MESSAGE-INTEGRITY (HMAC-SHA1) computed over everything so far. */
void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen);
/* Appends MESSAGE-INTEGRITY-SHA256 (full 32 bytes) computed over everything so far. */
void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t keylen);
void stun_build_fingerprint(struct stun_builder *b);
/* Returns the message length, or the first error: -EMSGSIZE (did not fit), -EINVAL (bad
 * method, class, error code or value), -EAFNOSUPPORT (address family) or -ENOMEM. */
int stun_build_finish(struct stun_builder *b);

/* The standard reason phrase for a STUN/TURN error code ("Unauthorized", ...). */
const char *stun_reason(int code);

/* ChannelData (RFC 8656 section 12.4). */
#define TURN_CHANNEL_MIN 0x4000
#define TURN_CHANNEL_MAX 0x4FFF
/* RFC 5766 allowed up to 0x7FFF, and clients written to it (coturn's, restund's) still pick
 * numbers there; the first two bits still mark ChannelData, so the server accepts them. */
#define TURN_CHANNEL_LEGACY_MAX 0x7FFF
#define TURN_CHANNEL_HEADER_LEN 4

/* Writes the 4-byte ChannelData header (channel number, data length) at p. */
static inline void turn_put_channel_header(uint8_t *p, uint16_t channel, size_t len)
{
    p[0] = (uint8_t)(channel >> 8);
    p[1] = (uint8_t)channel;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
}

/* True if the first two bits are 01 (a ChannelData message rather than STUN). */
static inline bool turn_is_channel_data(const uint8_t *buf, size_t len)
{
    return len >= TURN_CHANNEL_HEADER_LEN && (buf[0] & 0xC0) == 0x40;
}

#endif
