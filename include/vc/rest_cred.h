/* TURN REST API credentials, shared by vc-turn (to check them) and vc-signal (to issue them). */
#ifndef VC_REST_CRED_H
#define VC_REST_CRED_H

#include <stddef.h>
#include <stdint.h>

/* Room for the base64 of a 20-byte HMAC-SHA1 and its NUL. */
#define REST_CRED_PASSWORD_LEN 29

/* Writes base64(HMAC-SHA1(secret, user)) and a NUL into out (at least REST_CRED_PASSWORD_LEN
 * bytes). The username is "EXPIRY:ID". Returns the length (28), -ENOSPC or -EINVAL. */
int rest_cred_password(const uint8_t *secret, size_t secret_len, const char *user, size_t user_len,
                       char *out, size_t outlen);

#endif
