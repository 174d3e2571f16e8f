/* TURN REST API credentials: the password is base64(HMAC-SHA1(shared secret, username)). */
#include <errno.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "vc/rest_cred.h"

int rest_cred_password(const uint8_t *secret, size_t secret_len, const char *user, size_t user_len,
                       char *out, size_t outlen)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;

    if (outlen < REST_CRED_PASSWORD_LEN)
        return -ENOSPC;
    if (!HMAC(EVP_sha1(), secret, (int)secret_len, (const uint8_t *)user, user_len, mac, &maclen))
        return -EINVAL;
    return EVP_EncodeBlock((uint8_t *)out, mac, (int)maclen);
}
