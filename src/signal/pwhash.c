/* Clinicians' passwords as scrypt hashes, and the encodings of session tokens. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "vc/accounts.h"
#include "vc/random.h"
#include "accounts_int.h"

/* scrypt: N = 2^15, r = 8, p = 1 needs 128 * r * N = 32 MiB, just over OpenSSL's default cap. */
#define PWHASH_SCRYPT_LOG_N 15
#define PWHASH_SCRYPT_R 8
#define PWHASH_SCRYPT_P 1
#define PWHASH_SCRYPT_MAXMEM (64u * 1024 * 1024)
#define PWHASH_SALT_LEN 16
#define PWHASH_KEY_LEN 32
#define PWHASH_SALT_B64 24 /* base64 of 16 bytes, padded */
#define PWHASH_KEY_B64 44  /* base64 of 32 bytes, padded */

/* Stored parameters are checked against these bounds, so a tampered row cannot make a login
 * burn unbounded CPU or memory. */
#define PWHASH_SCRYPT_LOG_N_MIN 10
#define PWHASH_SCRYPT_LOG_N_MAX 20
#define PWHASH_SCRYPT_R_MAX 32
#define PWHASH_SCRYPT_P_MAX 16

/* No password yields an all-zero key. */
const char pwhash_dummy[] = "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/* Standard base64 with padding of len bytes into out (4 * ceil(len / 3) + 1 bytes). */
static void pwhash_b64(char *out, const uint8_t *in, size_t len)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* base64url without padding, as used for cookie and CSRF tokens: 32 bytes give 43 characters. */
void pwhash_b64url(char *out, const uint8_t *in, size_t len)
{
    char tmp[64];
    size_t n;

    EVP_EncodeBlock((unsigned char *)tmp, in, (int)len);
    n = strlen(tmp);
    while (n > 0 && tmp[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i];
    out[n] = '\0';
}

/* Decodes exactly inlen padded base64 characters into want bytes. 0 or -EINVAL. */
static int pwhash_unb64(uint8_t *out, size_t want, const char *in, size_t inlen)
{
    uint8_t tmp[64];
    size_t pad = 0;
    int n;

    if (inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > sizeof(tmp))
        return -EINVAL;
    n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)inlen);
    if (n < 0)
        return -EINVAL;
    while (pad < 2 && in[inlen - 1 - pad] == '=')
        pad++;
    if ((size_t)n - pad != want)
        return -EINVAL;
    memcpy(out, tmp, want);
    return 0;
}

void pwhash_sha256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    memset(out, 0, 32);
    if (!ctx)
        return;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, a, alen) == 1 &&
        (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1))
        EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
}

/* Writes "scrypt$15$8$1$<b64 salt>$<b64 key>" for password into out (ACCOUNTS_HASH_MAX). */
int pwhash_make(const char *password, size_t pwlen, char *out)
{
    uint8_t salt[PWHASH_SALT_LEN], key[PWHASH_KEY_LEN];
    char salt64[PWHASH_SALT_B64 + 1], key64[PWHASH_KEY_B64 + 1];
    int rc, n;

    rc = random_bytes(salt, sizeof(salt));
    if (rc < 0)
        return rc;
    if (EVP_PBE_scrypt(password, pwlen, salt, sizeof(salt), 1ull << PWHASH_SCRYPT_LOG_N,
                       PWHASH_SCRYPT_R, PWHASH_SCRYPT_P, PWHASH_SCRYPT_MAXMEM, key,
                       sizeof(key)) != 1)
        return -ENOMEM;
    pwhash_b64(salt64, salt, sizeof(salt));
    pwhash_b64(key64, key, sizeof(key));
    OPENSSL_cleanse(key, sizeof(key));
    n = snprintf(out, ACCOUNTS_HASH_MAX, "scrypt$%d$%d$%d$%s$%s", PWHASH_SCRYPT_LOG_N,
                 PWHASH_SCRYPT_R, PWHASH_SCRYPT_P, salt64, key64);
    return n > 0 && n < ACCOUNTS_HASH_MAX ? 0 : -ENOSPC;
}

/* Parses one decimal field of a stored hash ending at '$'; advances *s past the '$'. */
static int pwhash_parse_uint(const char **s, unsigned min, unsigned max, unsigned *out)
{
    const char *p = *s;
    unsigned long v = 0;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    while (*p >= '0' && *p <= '9' && v <= max)
        v = v * 10 + (unsigned long)(*p++ - '0');
    if (*p != '$' || v < min || v > max)
        return -EINVAL;
    *s = p + 1;
    *out = (unsigned)v;
    return 0;
}

/* True if password matches stored; the key comparison is constant-time. A malformed stored hash
 * never matches (and costs no scrypt run, which only happens to corrupt rows). */
bool pwhash_verify(const char *stored, const char *password, size_t pwlen)
{
    uint8_t salt[PWHASH_SALT_LEN], want[PWHASH_KEY_LEN], got[PWHASH_KEY_LEN];
    unsigned logn, r, p;
    const char *s = stored, *dollar;
    bool ok;

    if (strncmp(s, "scrypt$", 7) != 0)
        return false;
    s += 7;
    if (pwhash_parse_uint(&s, PWHASH_SCRYPT_LOG_N_MIN, PWHASH_SCRYPT_LOG_N_MAX, &logn) < 0 ||
        pwhash_parse_uint(&s, 1, PWHASH_SCRYPT_R_MAX, &r) < 0 ||
        pwhash_parse_uint(&s, 1, PWHASH_SCRYPT_P_MAX, &p) < 0)
        return false;
    dollar = strchr(s, '$');
    if (!dollar || pwhash_unb64(salt, sizeof(salt), s, (size_t)(dollar - s)) < 0 ||
        pwhash_unb64(want, sizeof(want), dollar + 1, strlen(dollar + 1)) < 0)
        return false;
    if (EVP_PBE_scrypt(password ? password : "", password ? pwlen : 0, salt, sizeof(salt),
                       1ull << logn, r, p, (uint64_t)PWHASH_SCRYPT_MAXMEM * 4, got,
                       sizeof(got)) != 1)
        return false;
    ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}
