/* accounts.c's helpers: scrypt hashes and token encodings (pwhash.c), and the login limits
 * (loginlimit.c), which stay in each node's memory whatever the database. */
#ifndef VC_ACCOUNTS_INT_H
#define VC_ACCOUNTS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- pwhash.c ---- */

/* Verified against when the email is unknown, so that unknown and known emails cost the same
 * scrypt run; no password matches it. */
extern const char pwhash_dummy[];

/* Writes "scrypt$15$8$1$<b64 salt>$<b64 key>" for password (pwlen bytes) into out
 * (ACCOUNTS_HASH_MAX bytes). 0 or -errno. */
int pwhash_make(const char *password, size_t pwlen, char *out);
/* True if password matches stored; constant-time on the key. A malformed stored hash, or one
 * whose parameters are out of bounds, never matches and costs no scrypt run. */
bool pwhash_verify(const char *stored, const char *password, size_t pwlen);
/* base64url without padding (cookie and CSRF tokens): 32 bytes give 43 characters and a NUL. */
void pwhash_b64url(char *out, const uint8_t *in, size_t len);
/* SHA-256 of a followed by b (blen 0: a alone). */
void pwhash_sha256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen);

/* ---- loginlimit.c ---- */

#define LOGINLIMIT_FAIL_SLOTS 4096
#define LOGINLIMIT_IP_BUCKETS 4096

/* Failures of one account (keyed by a keyed hash of its normalised email) in a fixed window. */
struct loginlimit_fail {
    uint8_t key[16];
    int64_t start;
    uint32_t count; /* 0: slot free */
};

/* Attempts from the IPs hashing to one bucket in the current minute. */
struct loginlimit_ip {
    int64_t window;
    uint32_t count;
};

/* Both tables are fixed-size, so an attacker cannot make them grow. The caller serialises. */
struct loginlimit {
    uint8_t hash_key[32]; /* per-process key for the tables' hashes */
    struct loginlimit_fail fails[LOGINLIMIT_FAIL_SLOTS];
    struct loginlimit_ip ips[LOGINLIMIT_IP_BUCKETS];
};

/* Draws the hash key. 0 or -errno. */
int loginlimit_init(struct loginlimit *l);
/* The account's key in the tables, from its normalised email. */
void loginlimit_account(const struct loginlimit *l, const char *email, uint8_t key[32]);
/* Counts an attempt from ip (NULL: a local tool, never limited); true when its bucket has had
 * 20 this minute. */
bool loginlimit_ip(struct loginlimit *l, const char *ip, int64_t now_s);
/* True when the account has failed 5 times in the last 15 minutes. */
bool loginlimit_locked(struct loginlimit *l, const uint8_t key[32], int64_t now_s);
/* Counts a failure; a new account takes a free or expired slot, else the oldest. */
void loginlimit_fail(struct loginlimit *l, const uint8_t key[32], int64_t now_s);
/* Clears the account's failures after a success. */
void loginlimit_reset(struct loginlimit *l, const uint8_t key[32]);

#endif
