/* The Vc-Signature header: t=UNIX_SECONDS,v1=HEX(HMAC-SHA256(secret, t "." body)). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "vc/random.h"
#include "webhook.h"

int whsign_hmac_hex(const uint8_t *key, size_t key_len, const char *prefix, size_t prefix_len,
                    const char *msg, size_t msg_len, char out[WHSIGN_HEX_LEN + 1])
{
    static const uint8_t empty[1];
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    unsigned char md[32];
    size_t mdlen = 0;
    int rc = -EIO;

    /* OpenSSL refuses a NULL key even when it is empty. */
    if (ctx && EVP_MAC_init(ctx, key_len ? key : empty, key_len, params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)prefix, prefix_len) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)msg, msg_len) == 1 &&
        EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) == 1 && mdlen == sizeof(md)) {
        hex_encode(md, sizeof(md), out);
        rc = 0;
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

int whsign_header(const uint8_t *secret, size_t secret_len, int64_t t, const char *body,
                  size_t body_len, char *out, size_t outlen)
{
    char prefix[24], hex[WHSIGN_HEX_LEN + 1];
    int n = snprintf(prefix, sizeof(prefix), "%" PRId64 ".", t), m;

    if (n < 0 || (size_t)n >= sizeof(prefix))
        return -ENOSPC;
    if (whsign_hmac_hex(secret, secret_len, prefix, (size_t)n, body, body_len, hex) < 0)
        return -EIO;
    m = snprintf(out, outlen, "t=%" PRId64 ",v1=%s", t, hex);
    return m < 0 || (size_t)m >= outlen ? -ENOSPC : 0;
}
