/* Clinician accounts and login sessions over the account database (store.h): input checks, the
 * login in three steps (scrypt off the database's thread), limits, and hashed session tokens. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "vc/accounts.h"
#include "vc/random.h"
#include "vc/store.h"
#include "accounts_int.h"

#define ACCOUNTS_RAW_TOKEN 32

_Static_assert(ACCOUNTS_HASH_MAX == STORE_PW_HASH_MAX, "one stored hash size");
_Static_assert(ACCOUNTS_TOKEN_LEN == STORE_CSRF_LEN, "one token size");

struct accounts {
    struct store *store;
    /* Guards the store (one call at a time) and the limits; never held during scrypt. */
    pthread_mutex_t lock;
    struct loginlimit limits;
};

/* ---- input checks ---- */

/* Trims, lower-cases and checks an email into out (ACCOUNTS_EMAIL_MAX + 1 bytes): 3..254
 * printable ASCII characters with exactly one '@' that neither starts nor ends it. */
static int accounts_email_normalise(const char *in, char *out)
{
    size_t start = 0, end, len, ats = 0;

    if (!in)
        return -EINVAL;
    end = strnlen(in, ACCOUNTS_EMAIL_MAX + 64);
    if (end == ACCOUNTS_EMAIL_MAX + 64)
        return -EINVAL; /* far too long even before trimming */
    while (start < end &&
           (in[start] == ' ' || in[start] == '\t' || in[start] == '\r' || in[start] == '\n'))
        start++;
    while (end > start && (in[end - 1] == ' ' || in[end - 1] == '\t' || in[end - 1] == '\r' ||
                           in[end - 1] == '\n'))
        end--;
    len = end - start;
    if (len < 3 || len > ACCOUNTS_EMAIL_MAX)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[start + i];

        if (c <= 0x20 || c >= 0x7f)
            return -EINVAL;
        if (c == '@')
            ats++;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out[len] = '\0';
    if (ats != 1 || out[0] == '@' || out[len - 1] == '@')
        return -EINVAL;
    return 0;
}

/* A display name: at most ACCOUNTS_NAME_MAX bytes of UTF-8 without control characters. */
static int accounts_name_check(const char *name)
{
    size_t len = strnlen(name, ACCOUNTS_NAME_MAX + 1);
    json_t *j;

    if (len > ACCOUNTS_NAME_MAX)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c < 0x20 || c == 0x7f)
            return -EINVAL;
    }
    j = json_stringn(name, len); /* NULL for invalid UTF-8 */
    if (!j)
        return -EINVAL;
    json_decref(j);
    return 0;
}

/* ---- opening ---- */

int accounts_open_conf(const struct store_conf *conf, struct accounts **out, char *err,
                       size_t errlen)
{
    struct accounts *a = calloc(1, sizeof(*a));
    int rc;

    *out = NULL;
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&a->lock, NULL);
    rc = loginlimit_init(&a->limits);
    if (rc < 0)
        snprintf(err, errlen, "getrandom: %s", strerror(-rc));
    else
        rc = store_open(conf, &a->store, err, errlen);
    if (rc < 0) {
        accounts_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

int accounts_open(const char *dir, struct accounts **out, char *err, size_t errlen)
{
    const struct store_conf conf = {.data_dir = dir};

    return accounts_open_conf(&conf, out, err, errlen);
}

void accounts_close(struct accounts *a)
{
    if (!a)
        return;
    store_close(a->store);
    pthread_mutex_destroy(&a->lock);
    OPENSSL_cleanse(&a->limits, sizeof(a->limits));
    free(a);
}

bool accounts_shared(const struct accounts *a)
{
    return a->store->ops->shared;
}

struct store *accounts_lock(struct accounts *a)
{
    pthread_mutex_lock(&a->lock);
    return a->store;
}

void accounts_unlock(struct accounts *a)
{
    pthread_mutex_unlock(&a->lock);
}

/* ---- users ---- */

int accounts_user_add(struct accounts *a, const char *email, const char *name, const char *password,
                      size_t pwlen)
{
    char norm[ACCOUNTS_EMAIL_MAX + 1], hash[ACCOUNTS_HASH_MAX];
    struct store *s;
    int rc;

    if (!name)
        name = "";
    if (accounts_email_normalise(email, norm) < 0 || accounts_name_check(name) < 0 || !password ||
        pwlen < ACCOUNTS_PASSWORD_MIN || pwlen > ACCOUNTS_PASSWORD_MAX)
        return -EINVAL;
    rc = pwhash_make(password, pwlen, hash);
    if (rc < 0)
        return rc;
    s = accounts_lock(a);
    rc = s->ops->users->add(s, norm, name, hash, (int64_t)time(NULL));
    accounts_unlock(a);
    return rc;
}

int accounts_user_del(struct accounts *a, const char *email)
{
    char norm[ACCOUNTS_EMAIL_MAX + 1];
    struct store *s;
    int rc;

    if (accounts_email_normalise(email, norm) < 0)
        return -ENOENT;
    s = accounts_lock(a);
    rc = s->ops->users->del(s, norm);
    accounts_unlock(a);
    return rc;
}

int accounts_login_begin(struct accounts *a, const char *email, const char *ip, int64_t now_s,
                         struct accounts_attempt *at)
{
    char norm[ACCOUNTS_EMAIL_MAX + 1];
    struct store *s;
    int rc = -ENOENT;

    memset(at, 0, sizeof(*at));
    at->valid = accounts_email_normalise(email, norm) == 0;
    if (at->valid)
        loginlimit_account(&a->limits, norm, at->key);

    /* The limits are checked before any scrypt run, so a locked-out guesser costs nothing. */
    s = accounts_lock(a);
    if (loginlimit_ip(&a->limits, ip, now_s)) {
        accounts_unlock(a);
        return -EAGAIN;
    }
    if (at->valid && loginlimit_locked(&a->limits, at->key, now_s)) {
        accounts_unlock(a);
        return -EBUSY;
    }
    if (at->valid)
        rc = s->ops->users->by_email(s, norm, &at->id, at->hash);
    accounts_unlock(a);
    if (rc == -EIO)
        return -EIO;
    if (rc < 0) {
        /* An unknown email costs the same scrypt run as a known one. */
        at->id = 0;
        snprintf(at->hash, sizeof(at->hash), "%s", pwhash_dummy);
    }
    return 0;
}

bool accounts_login_check(const struct accounts_attempt *at, const char *password, size_t pwlen)
{
    bool ok;

    if (pwlen > ACCOUNTS_PASSWORD_MAX)
        pwlen = ACCOUNTS_PASSWORD_MAX + 1; /* still hashed, still wrong: bounds the work */
    ok = pwhash_verify(at->hash, password, pwlen);
    return ok && at->id > 0 && pwlen >= ACCOUNTS_PASSWORD_MIN && pwlen <= ACCOUNTS_PASSWORD_MAX;
}

int64_t accounts_login_end(struct accounts *a, struct accounts_attempt *at, bool ok, int64_t now_s)
{
    int64_t id = ok && at->id > 0 ? at->id : -EACCES;

    pthread_mutex_lock(&a->lock);
    if (at->valid && id > 0)
        loginlimit_reset(&a->limits, at->key);
    else if (at->valid)
        loginlimit_fail(&a->limits, at->key, now_s);
    pthread_mutex_unlock(&a->lock);
    OPENSSL_cleanse(at, sizeof(*at));
    return id;
}

int64_t accounts_login(struct accounts *a, const char *email, const char *password, size_t pwlen,
                       const char *ip, int64_t now_s)
{
    struct accounts_attempt at;
    int rc = accounts_login_begin(a, email, ip, now_s, &at);

    if (rc < 0)
        return rc == -EBUSY ? -EAGAIN : rc;
    return accounts_login_end(a, &at, accounts_login_check(&at, password, pwlen), now_s);
}

int64_t accounts_user_id(struct accounts *a, const char *email)
{
    char norm[ACCOUNTS_EMAIL_MAX + 1], hash[ACCOUNTS_HASH_MAX];
    struct store *s;
    int64_t id = 0;
    int rc;

    if (accounts_email_normalise(email, norm) < 0)
        return -ENOENT;
    s = accounts_lock(a);
    rc = s->ops->users->by_email(s, norm, &id, hash);
    accounts_unlock(a);
    OPENSSL_cleanse(hash, sizeof(hash));
    return rc < 0 ? rc : id;
}

int accounts_user_info(struct accounts *a, int64_t user_id, char *email, size_t email_len,
                       char *name, size_t name_len)
{
    struct store *s = accounts_lock(a);
    int rc = s->ops->users->info(s, user_id, email, email_len, name, name_len);

    accounts_unlock(a);
    return rc;
}

/* ---- sessions ---- */

int accounts_session_new(struct accounts *a, int64_t user_id, int64_t now_s, int64_t ttl_s,
                         char *token, char *csrf)
{
    uint8_t raw[ACCOUNTS_RAW_TOKEN], hash[32];
    struct store *s;
    int rc;

    if (user_id <= 0 || ttl_s <= 0)
        return -EINVAL;
    rc = random_bytes(raw, sizeof(raw));
    if (rc < 0)
        return rc;
    pwhash_b64url(token, raw, sizeof(raw));
    rc = random_bytes(raw, sizeof(raw));
    if (rc < 0)
        return rc;
    pwhash_b64url(csrf, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    pwhash_sha256(hash, token, ACCOUNTS_TOKEN_LEN, NULL, 0);

    s = accounts_lock(a);
    s->ops->sessions->purge(s, now_s); /* opportunistic: a failure here does not stop the login */
    rc = s->ops->sessions->add(s, hash, user_id, csrf, now_s, now_s + ttl_s);
    accounts_unlock(a);
    if (rc < 0)
        token[0] = csrf[0] = '\0';
    return rc;
}

int64_t accounts_session_check(struct accounts *a, const char *token, size_t token_len,
                               int64_t now_s, char *csrf)
{
    char got[ACCOUNTS_TOKEN_LEN + 1];
    uint8_t hash[32];
    int64_t id = 0, expires = 0;
    struct store *s;
    int rc;

    if (!token || token_len != ACCOUNTS_TOKEN_LEN)
        return -ENOENT;
    pwhash_sha256(hash, token, token_len, NULL, 0);
    s = accounts_lock(a);
    rc = s->ops->sessions->get(s, hash, &id, got, &expires);
    if (rc == 0 && expires <= now_s) {
        s->ops->sessions->del(s, hash); /* expired: remove it now */
        rc = -ENOENT;
    }
    accounts_unlock(a);
    if (rc < 0)
        return rc;
    if (csrf)
        memcpy(csrf, got, sizeof(got));
    OPENSSL_cleanse(got, sizeof(got));
    return id;
}

int accounts_session_del(struct accounts *a, const char *token, size_t token_len)
{
    uint8_t hash[32];
    struct store *s;
    int rc;

    if (!token || token_len != ACCOUNTS_TOKEN_LEN)
        return -ENOENT;
    pwhash_sha256(hash, token, token_len, NULL, 0);
    s = accounts_lock(a);
    rc = s->ops->sessions->del(s, hash);
    accounts_unlock(a);
    return rc;
}
