/* Randomness from getrandom(2), hex tokens, and constant-time comparison via OpenSSL. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "vc/random.h"

int random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    ssize_t n;

    /* getrandom blocks only until the pool is first seeded; large requests may return short. */
    while (len > 0) {
        n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void hex_encode(const void *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *b = in;

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

int hex_decode(const char *in, unsigned char *out, size_t len)
{
    if (!in || strlen(in) != 2 * len)
        return -EINVAL;
    for (size_t i = 0; i < 2 * len; i++) {
        const char c = in[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -EINVAL;
        out[i / 2] = (unsigned char)(i % 2 ? (out[i / 2] << 4) | v : v);
    }
    return 0;
}

int random_token_hex(char *out, size_t outlen, size_t nbytes)
{
    uint8_t raw[RANDOM_TOKEN_MAX];
    int rc;

    if (nbytes == 0 || nbytes > RANDOM_TOKEN_MAX)
        return -EINVAL;
    if (!out || outlen < 2 * nbytes + 1)
        return -ENOSPC;
    rc = random_bytes(raw, nbytes);
    if (rc < 0)
        return rc;
    hex_encode(raw, nbytes, out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

void token_hash(const char *token, size_t len, unsigned char out[TOKEN_HASH_LEN])
{
    SHA256((const unsigned char *)token, len, out);
}

bool ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
