/* Clinician accounts and sessions in the account database (SQLite for one node, PostgreSQL for
 * many: store.h); scrypt password hashes. */
#ifndef VC_ACCOUNTS_H
#define VC_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct accounts;
struct store;
struct store_conf;

#define ACCOUNTS_TOKEN_LEN 43 /* base64url of 32 random bytes, no padding */
#define ACCOUNTS_EMAIL_MAX 254
#define ACCOUNTS_NAME_MAX 128
#define ACCOUNTS_PASSWORD_MIN 10
#define ACCOUNTS_PASSWORD_MAX 1024
#define ACCOUNTS_HASH_MAX 128 /* a stored "scrypt$N$r$p$salt$key" hash */

/* Opens the database conf names (store_open(): SQLite's DIR/vc.db, with DIR mode 0700 and the
 * file 0600, or PostgreSQL), migrated to this build's schema. Returns 0, or a negative errno
 * with a message in err. *out is owned by the caller: accounts_close(). */
int accounts_open_conf(const struct store_conf *conf, struct accounts **out, char *err,
                       size_t errlen);
/* The same for SQLite in dir. */
int accounts_open(const char *dir, struct accounts **out, char *err, size_t errlen);
void accounts_close(struct accounts *a);
/* True when every vc-signal node shares this database (and so its sessions). */
bool accounts_shared(const struct accounts *a);

/* Adds a clinician. The email is lower-cased; the password (pwlen bytes, not NUL-terminated)
 * is stored only as an scrypt hash. Returns 0, -EEXIST, or -EINVAL (bad email, password too
 * short or long, name too long). */
int accounts_user_add(struct accounts *a, const char *email, const char *name, const char *password,
                      size_t pwlen);
/* Deletes a clinician and their sessions. 0 or -ENOENT.
 * Here and below, -EIO means the database failed or did not answer in time. */
int accounts_user_del(struct accounts *a, const char *email);

/* Checks a login. Returns the user id (> 0); -EACCES for an unknown email or a wrong password
 * alike (the same work is done for both); -EAGAIN when the account or the client IP has failed
 * too often recently (per account: 5 failures in 15 minutes; per IP: 20 attempts a minute). */
int64_t accounts_login(struct accounts *a, const char *email, const char *password, size_t pwlen,
                       const char *ip, int64_t now_s);

/* The same check in three steps, so that the scrypt run can leave the thread that owns the
 * database: accounts_login_begin() and accounts_login_end() on that thread, and
 * accounts_login_check() on any thread (it touches neither the database nor the limits).
 * Between them, an attempt holds the stored hash (or, for an unknown or malformed email, a
 * dummy that costs the same scrypt run) and the account's key in the limit table. */
struct accounts_attempt {
    char hash[ACCOUNTS_HASH_MAX];
    uint8_t key[32];
    int64_t id; /* the account, 0 when the email is unknown */
    bool valid; /* the email is well-formed, so its failures are counted */
};
/* Checks the limits and looks the account up into at. 0; -EAGAIN when ip has made 20 attempts
 * this minute; -EBUSY when the account has failed 5 times in 15 minutes; -EIO. */
int accounts_login_begin(struct accounts *a, const char *email, const char *ip, int64_t now_s,
                         struct accounts_attempt *at);
/* True when password (pwlen bytes) matches at's hash and names a real account. */
bool accounts_login_check(const struct accounts_attempt *at, const char *password, size_t pwlen);
/* Counts a failure against the account, or clears its count after a success, and wipes at.
 * Returns the user id (> 0) when ok, else -EACCES. */
int64_t accounts_login_end(struct accounts *a, struct accounts_attempt *at, bool ok, int64_t now_s);

/* Starts a session for user_id lasting ttl_s: writes its cookie token and its CSRF token
 * (ACCOUNTS_TOKEN_LEN + 1 bytes each). Only a SHA-256 of the token is stored. 0 or -errno. */
int accounts_session_new(struct accounts *a, int64_t user_id, int64_t now_s, int64_t ttl_s,
                         char *token, char *csrf);
/* The session's user id (> 0) and its CSRF token, or -ENOENT (unknown or expired). The token
 * is compared in constant time by its hash. */
int64_t accounts_session_check(struct accounts *a, const char *token, size_t token_len,
                               int64_t now_s, char *csrf);
/* Ends a session. 0 or -ENOENT. */
int accounts_session_del(struct accounts *a, const char *token, size_t token_len);
/* A user's id by email (normalised as at login): the id (> 0), -ENOENT, or -EIO. */
int64_t accounts_user_id(struct accounts *a, const char *email);
/* The display name and email of a user, for the dashboard (never logged). 0 or -ENOENT. */
int accounts_user_info(struct accounts *a, int64_t user_id, char *email, size_t email_len,
                       char *name, size_t name_len);

/* The store, for modules whose tables live beside the accounts (teams.c), locked: one call at a
 * time, then accounts_unlock(). */
struct store *accounts_lock(struct accounts *a);
void accounts_unlock(struct accounts *a);

#endif
