/* Randomness from the kernel CSPRNG, hex tokens for ids, and constant-time comparison. */
#ifndef VC_RANDOM_H
#define VC_RANDOM_H

#include <stdbool.h>
#include <stddef.h>

/* Largest nbytes random_token_hex() accepts (a 512-bit token). */
#define RANDOM_TOKEN_MAX 64

/* Fills buf (borrowed) with len bytes from getrandom(2). Returns 0 or a negative errno. */
int random_bytes(void *buf, size_t len);

/* Writes 2 * nbytes lowercase hex digits of fresh random bytes and a NUL into out (borrowed;
 * outlen must be at least 2 * nbytes + 1). Use nbytes = 16 for 128-bit ids.
 * Returns 0, -ENOSPC if out is too small, -EINVAL if nbytes is 0 or above RANDOM_TOKEN_MAX. */
int random_token_hex(char *out, size_t outlen, size_t nbytes);

/* Writes 2 * len lowercase hex digits of in and a NUL into out (borrowed). */
void hex_encode(const void *in, size_t len, char *out);
/* Reads exactly 2 * len lowercase hex digits (the whole string in) into out: 0 or -EINVAL. */
int hex_decode(const char *in, unsigned char *out, size_t len);

/* SHA-256 of a secret token, so that only its hash is kept (in memory and in Redis). */
#define TOKEN_HASH_LEN 32
void token_hash(const char *token, size_t len, unsigned char out[TOKEN_HASH_LEN]);

/* Compares len bytes in time that depends only on len (for MACs, tokens, passwords). */
bool ct_equal(const void *a, const void *b, size_t len);

#endif
