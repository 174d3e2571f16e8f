/* Clinician accounts and login sessions in SQLite: scrypt password hashes and login rate limits. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "vc/accounts.h"
#include "vc/datafile.h"
#include "vc/teams.h"
#include "vc/random.h"

#define ACCOUNTS_SCHEMA_VERSION 2
#define ACCOUNTS_DB_NAME "vc.db"
#define ACCOUNTS_BUSY_MS 2000

/* scrypt: N = 2^15, r = 8, p = 1 needs 128 * r * N = 32 MiB, just over OpenSSL's default cap. */
#define ACCOUNTS_SCRYPT_LOG_N 15
#define ACCOUNTS_SCRYPT_R 8
#define ACCOUNTS_SCRYPT_P 1
#define ACCOUNTS_SCRYPT_MAXMEM (64u * 1024 * 1024)
#define ACCOUNTS_SALT_LEN 16
#define ACCOUNTS_KEY_LEN 32
#define ACCOUNTS_SALT_B64 24 /* base64 of 16 bytes, padded */
#define ACCOUNTS_KEY_B64 44  /* base64 of 32 bytes, padded */
#define ACCOUNTS_RAW_TOKEN 32

/* Stored parameters are checked against these bounds, so a tampered row cannot make a login
 * burn unbounded CPU or memory. */
#define ACCOUNTS_SCRYPT_LOG_N_MIN 10
#define ACCOUNTS_SCRYPT_LOG_N_MAX 20
#define ACCOUNTS_SCRYPT_R_MAX 32
#define ACCOUNTS_SCRYPT_P_MAX 16

/* Login limits. Both tables are fixed-size: an attacker cannot make them grow. */
#define ACCOUNTS_FAIL_MAX 5
#define ACCOUNTS_FAIL_WINDOW 900
#define ACCOUNTS_FAIL_SLOTS 4096
#define ACCOUNTS_IP_MAX 20
#define ACCOUNTS_IP_WINDOW 60
#define ACCOUNTS_IP_BUCKETS 4096

/* Verified against when the email is unknown, so unknown and known emails cost the same scrypt
 * run. No password yields an all-zero key. */
static const char accounts_dummy_hash[] = "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
                                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/* Failures of one account (keyed by a keyed hash of its normalised email) in a fixed window. */
struct accounts_fail {
    uint8_t key[16];
    int64_t start;
    uint32_t count; /* 0: slot free */
};

/* Attempts from the IPs hashing to one bucket in the current minute. */
struct accounts_ip_bucket {
    int64_t window;
    uint32_t count;
};

enum accounts_stmt {
    ACCOUNTS_ST_USER_ADD,
    ACCOUNTS_ST_USER_DEL,
    ACCOUNTS_ST_USER_BY_EMAIL,
    ACCOUNTS_ST_USER_INFO,
    ACCOUNTS_ST_SESS_ADD,
    ACCOUNTS_ST_SESS_GET,
    ACCOUNTS_ST_SESS_DEL,
    ACCOUNTS_ST_SESS_PURGE,
    ACCOUNTS_ST_COUNT
};

static const char *const accounts_sql[ACCOUNTS_ST_COUNT] = {
    [ACCOUNTS_ST_USER_ADD] =
        "INSERT INTO users(email, name, pw_hash, created_at) VALUES(?1, ?2, ?3, ?4)",
    [ACCOUNTS_ST_USER_DEL] = "DELETE FROM users WHERE email = ?1",
    [ACCOUNTS_ST_USER_BY_EMAIL] = "SELECT id, pw_hash FROM users WHERE email = ?1",
    [ACCOUNTS_ST_USER_INFO] = "SELECT email, name FROM users WHERE id = ?1",
    [ACCOUNTS_ST_SESS_ADD] = "INSERT INTO sessions(token_hash, user_id, csrf, created_at, "
                             "expires_at) VALUES(?1, ?2, ?3, ?4, ?5)",
    [ACCOUNTS_ST_SESS_GET] = "SELECT user_id, csrf, expires_at FROM sessions WHERE token_hash = ?1",
    [ACCOUNTS_ST_SESS_DEL] = "DELETE FROM sessions WHERE token_hash = ?1",
    [ACCOUNTS_ST_SESS_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1",
};

/* Version 1 of the schema; accounts_migrate() applies it to an empty database. */
static const char accounts_schema_v1[] =
    "CREATE TABLE users("
    " id INTEGER PRIMARY KEY,"
    " email TEXT UNIQUE NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " pw_hash TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE sessions("
    " token_hash BLOB PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " csrf TEXT NOT NULL,"
    " created_at INTEGER,"
    " expires_at INTEGER);"
    "CREATE INDEX sessions_user ON sessions(user_id);"
    "CREATE INDEX sessions_expiry ON sessions(expires_at);"
    "PRAGMA user_version = 1;";

struct accounts {
    sqlite3 *db;
    sqlite3_stmt *st[ACCOUNTS_ST_COUNT];
    /* Guards the statements and the limit tables; never held during scrypt. */
    pthread_mutex_t lock;
    uint8_t hash_key[32]; /* per-process key for the limit tables' hashes */
    struct accounts_fail fails[ACCOUNTS_FAIL_SLOTS];
    struct accounts_ip_bucket ips[ACCOUNTS_IP_BUCKETS];
};

/* ---- encoding helpers ---- */

/* Standard base64 with padding of len bytes into out (4 * ceil(len / 3) + 1 bytes). */
static void accounts_b64(char *out, const uint8_t *in, size_t len)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* base64url without padding, as used for cookie and CSRF tokens: 32 bytes give 43 characters. */
static void accounts_b64url(char *out, const uint8_t *in, size_t len)
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
static int accounts_unb64(uint8_t *out, size_t want, const char *in, size_t inlen)
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

static void accounts_sha256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
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

/* ---- passwords ---- */

/* Writes "scrypt$15$8$1$<b64 salt>$<b64 key>" for password into out (ACCOUNTS_HASH_MAX). */
static int accounts_pw_hash(const char *password, size_t pwlen, char *out)
{
    uint8_t salt[ACCOUNTS_SALT_LEN], key[ACCOUNTS_KEY_LEN];
    char salt64[ACCOUNTS_SALT_B64 + 1], key64[ACCOUNTS_KEY_B64 + 1];
    int rc, n;

    rc = random_bytes(salt, sizeof(salt));
    if (rc < 0)
        return rc;
    if (EVP_PBE_scrypt(password, pwlen, salt, sizeof(salt), 1ull << ACCOUNTS_SCRYPT_LOG_N,
                       ACCOUNTS_SCRYPT_R, ACCOUNTS_SCRYPT_P, ACCOUNTS_SCRYPT_MAXMEM, key,
                       sizeof(key)) != 1)
        return -ENOMEM;
    accounts_b64(salt64, salt, sizeof(salt));
    accounts_b64(key64, key, sizeof(key));
    OPENSSL_cleanse(key, sizeof(key));
    n = snprintf(out, ACCOUNTS_HASH_MAX, "scrypt$%d$%d$%d$%s$%s", ACCOUNTS_SCRYPT_LOG_N,
                 ACCOUNTS_SCRYPT_R, ACCOUNTS_SCRYPT_P, salt64, key64);
    return n > 0 && n < ACCOUNTS_HASH_MAX ? 0 : -ENOSPC;
}

/* Parses one decimal field of a stored hash ending at '$'; advances *s past the '$'. */
static int accounts_parse_uint(const char **s, unsigned min, unsigned max, unsigned *out)
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
static bool accounts_pw_verify(const char *stored, const char *password, size_t pwlen)
{
    uint8_t salt[ACCOUNTS_SALT_LEN], want[ACCOUNTS_KEY_LEN], got[ACCOUNTS_KEY_LEN];
    unsigned logn, r, p;
    const char *s = stored, *dollar;
    bool ok;

    if (strncmp(s, "scrypt$", 7) != 0)
        return false;
    s += 7;
    if (accounts_parse_uint(&s, ACCOUNTS_SCRYPT_LOG_N_MIN, ACCOUNTS_SCRYPT_LOG_N_MAX, &logn) < 0 ||
        accounts_parse_uint(&s, 1, ACCOUNTS_SCRYPT_R_MAX, &r) < 0 ||
        accounts_parse_uint(&s, 1, ACCOUNTS_SCRYPT_P_MAX, &p) < 0)
        return false;
    dollar = strchr(s, '$');
    if (!dollar || accounts_unb64(salt, sizeof(salt), s, (size_t)(dollar - s)) < 0 ||
        accounts_unb64(want, sizeof(want), dollar + 1, strlen(dollar + 1)) < 0)
        return false;
    if (EVP_PBE_scrypt(password ? password : "", password ? pwlen : 0, salt, sizeof(salt),
                       1ull << logn, r, p, (uint64_t)ACCOUNTS_SCRYPT_MAXMEM * 4, got,
                       sizeof(got)) != 1)
        return false;
    ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

/* ---- login limits (called with a->lock held) ---- */

static struct accounts_fail *accounts_fail_find(struct accounts *a, const uint8_t key[16])
{
    for (size_t i = 0; i < ACCOUNTS_FAIL_SLOTS; i++)
        if (a->fails[i].count && memcmp(a->fails[i].key, key, 16) == 0)
            return &a->fails[i];
    return NULL;
}

static bool accounts_fail_locked(struct accounts *a, const uint8_t key[16], int64_t now_s)
{
    struct accounts_fail *f = accounts_fail_find(a, key);

    if (!f)
        return false;
    if (now_s - f->start >= ACCOUNTS_FAIL_WINDOW) {
        f->count = 0;
        return false;
    }
    return f->count >= ACCOUNTS_FAIL_MAX;
}

/* Counts a failure. A new account takes a free or expired slot, else the oldest one. */
static void accounts_fail_record(struct accounts *a, const uint8_t key[16], int64_t now_s)
{
    struct accounts_fail *f = accounts_fail_find(a, key), *victim = NULL;

    if (f && now_s - f->start < ACCOUNTS_FAIL_WINDOW) {
        f->count++;
        return;
    }
    if (!f) {
        for (size_t i = 0; i < ACCOUNTS_FAIL_SLOTS; i++) {
            struct accounts_fail *c = &a->fails[i];

            if (!c->count || now_s - c->start >= ACCOUNTS_FAIL_WINDOW) {
                victim = c;
                break;
            }
            if (!victim || c->start < victim->start)
                victim = c;
        }
        f = victim;
    }
    memcpy(f->key, key, 16);
    f->start = now_s;
    f->count = 1;
}

static void accounts_fail_reset(struct accounts *a, const uint8_t key[16])
{
    struct accounts_fail *f = accounts_fail_find(a, key);

    if (f)
        f->count = 0;
}

/* Counts an attempt from ip; true when its bucket is over the limit for this minute. */
static bool accounts_ip_limited(struct accounts *a, const char *ip, int64_t now_s)
{
    uint8_t h[32];
    struct accounts_ip_bucket *b;
    int64_t window = now_s / ACCOUNTS_IP_WINDOW;

    if (!ip)
        return false; /* local tools (the CLI) have no client address */
    accounts_sha256(h, a->hash_key, sizeof(a->hash_key), ip, strnlen(ip, 64));
    b = &a->ips[((size_t)h[0] << 8 | h[1]) % ACCOUNTS_IP_BUCKETS];
    if (b->window != window) {
        b->window = window;
        b->count = 0;
    }
    if (b->count >= ACCOUNTS_IP_MAX)
        return true;
    b->count++;
    return false;
}

/* ---- opening ---- */

static int accounts_exec(struct accounts *a, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;

    if (sqlite3_exec(a->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", msg ? msg : sqlite3_errmsg(a->db));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

/* The schema, version by version: accounts_migrate() runs every step past the file's version. */
static const char *const accounts_schema[ACCOUNTS_SCHEMA_VERSION] = {
    accounts_schema_v1,
    teams_schema_v2,
};

static int accounts_migrate(struct accounts *a, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int version = -1, rc = 0;

    if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(a->db));
        return -EIO;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version == ACCOUNTS_SCHEMA_VERSION)
        return 0;
    if (version < 0 || version > ACCOUNTS_SCHEMA_VERSION) {
        snprintf(err, errlen, "database schema version %d is not supported (want %d)", version,
                 ACCOUNTS_SCHEMA_VERSION);
        return -EPROTO;
    }
    rc = accounts_exec(a, "BEGIN IMMEDIATE", err, errlen);
    if (rc < 0)
        return rc;
    for (int v = version; v < ACCOUNTS_SCHEMA_VERSION && rc == 0; v++)
        rc = accounts_exec(a, accounts_schema[v], err, errlen);
    if (rc < 0) {
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return accounts_exec(a, "COMMIT", err, errlen);
}

int accounts_open(const char *dir, struct accounts **out, char *err, size_t errlen)
{
    static const char pragmas[] = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;";
    struct accounts *a;
    char path[4096];
    int rc;

    *out = NULL;
    rc = datafile_prepare(dir, ACCOUNTS_DB_NAME, path, sizeof(path), err, errlen);
    if (rc < 0)
        return rc;
    a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&a->lock, NULL);
    rc = random_bytes(a->hash_key, sizeof(a->hash_key));
    if (rc < 0) {
        snprintf(err, errlen, "getrandom: %s", strerror(-rc));
        goto fail;
    }
    if (sqlite3_open_v2(path, &a->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite open %s: %s", path,
                 a->db ? sqlite3_errmsg(a->db) : "out of memory");
        rc = -EIO;
        goto fail;
    }
    sqlite3_busy_timeout(a->db, ACCOUNTS_BUSY_MS);
    rc = accounts_exec(a, pragmas, err, errlen);
    if (rc == 0)
        rc = accounts_migrate(a, err, errlen);
    if (rc < 0)
        goto fail;
    for (int i = 0; i < ACCOUNTS_ST_COUNT; i++) {
        if (sqlite3_prepare_v3(a->db, accounts_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &a->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(a->db));
            rc = -EIO;
            goto fail;
        }
    }
    *out = a;
    return 0;
fail:
    accounts_close(a);
    return rc;
}

void accounts_close(struct accounts *a)
{
    if (!a)
        return;
    for (int i = 0; i < ACCOUNTS_ST_COUNT; i++)
        sqlite3_finalize(a->st[i]);
    sqlite3_close(a->db);
    pthread_mutex_destroy(&a->lock);
    OPENSSL_cleanse(a->hash_key, sizeof(a->hash_key));
    free(a);
}

struct sqlite3 *accounts_db(struct accounts *a)
{
    return a->db;
}

void accounts_lock(struct accounts *a)
{
    pthread_mutex_lock(&a->lock);
}

void accounts_unlock(struct accounts *a)
{
    pthread_mutex_unlock(&a->lock);
}

/* ---- users ---- */

/* Resets a statement after use so it holds no lock and no borrowed bindings. */
static void accounts_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int accounts_user_add(struct accounts *a, const char *email, const char *name, const char *password,
                      size_t pwlen)
{
    char norm[ACCOUNTS_EMAIL_MAX + 1], hash[ACCOUNTS_HASH_MAX];
    sqlite3_stmt *st = a->st[ACCOUNTS_ST_USER_ADD];
    int rc;

    if (!name)
        name = "";
    if (accounts_email_normalise(email, norm) < 0 || accounts_name_check(name) < 0 || !password ||
        pwlen < ACCOUNTS_PASSWORD_MIN || pwlen > ACCOUNTS_PASSWORD_MAX)
        return -EINVAL;
    rc = accounts_pw_hash(password, pwlen, hash);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&a->lock);
    sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    accounts_done(st);
    pthread_mutex_unlock(&a->lock);
    if (rc == SQLITE_DONE)
        return 0;
    return rc == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
}

int accounts_user_del(struct accounts *a, const char *email)
{
    char norm[ACCOUNTS_EMAIL_MAX + 1];
    sqlite3_stmt *st = a->st[ACCOUNTS_ST_USER_DEL];
    int rc, changes;

    if (accounts_email_normalise(email, norm) < 0)
        return -ENOENT;
    pthread_mutex_lock(&a->lock);
    sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    changes = sqlite3_changes(a->db);
    accounts_done(st);
    pthread_mutex_unlock(&a->lock);
    if (rc != SQLITE_DONE)
        return -EIO;
    return changes > 0 ? 0 : -ENOENT;
}

/* Looks up a user's id and stored hash (into hash, ACCOUNTS_HASH_MAX). 0, -ENOENT or -EIO. */
static int accounts_user_lookup(struct accounts *a, const char *norm, int64_t *id, char *hash)
{
    sqlite3_stmt *st = a->st[ACCOUNTS_ST_USER_BY_EMAIL];
    const unsigned char *h;
    int rc, ret = -ENOENT;

    sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        h = sqlite3_column_text(st, 1);
        *id = sqlite3_column_int64(st, 0);
        ret = h && (size_t)sqlite3_column_bytes(st, 1) < ACCOUNTS_HASH_MAX ? 0 : -EIO;
        if (ret == 0)
            snprintf(hash, ACCOUNTS_HASH_MAX, "%s", (const char *)h);
    } else if (rc != SQLITE_DONE) {
        ret = -EIO;
    }
    accounts_done(st);
    return ret;
}

int accounts_login_begin(struct accounts *a, const char *email, const char *ip, int64_t now_s,
                         struct accounts_attempt *at)
{
    char norm[ACCOUNTS_EMAIL_MAX + 1];
    int rc = -ENOENT;

    memset(at, 0, sizeof(*at));
    at->valid = accounts_email_normalise(email, norm) == 0;
    if (at->valid)
        accounts_sha256(at->key, a->hash_key, sizeof(a->hash_key), norm, strlen(norm));

    /* The limits are checked before any scrypt run, so a locked-out guesser costs nothing. */
    pthread_mutex_lock(&a->lock);
    if (accounts_ip_limited(a, ip, now_s)) {
        pthread_mutex_unlock(&a->lock);
        return -EAGAIN;
    }
    if (at->valid && accounts_fail_locked(a, at->key, now_s)) {
        pthread_mutex_unlock(&a->lock);
        return -EBUSY;
    }
    if (at->valid)
        rc = accounts_user_lookup(a, norm, &at->id, at->hash);
    pthread_mutex_unlock(&a->lock);
    if (rc == -EIO)
        return -EIO;
    if (rc < 0) {
        /* An unknown email costs the same scrypt run as a known one. */
        at->id = 0;
        snprintf(at->hash, sizeof(at->hash), "%s", accounts_dummy_hash);
    }
    return 0;
}

bool accounts_login_check(const struct accounts_attempt *at, const char *password, size_t pwlen)
{
    bool ok;

    if (pwlen > ACCOUNTS_PASSWORD_MAX)
        pwlen = ACCOUNTS_PASSWORD_MAX + 1; /* still hashed, still wrong: bounds the work */
    ok = accounts_pw_verify(at->hash, password, pwlen);
    return ok && at->id > 0 && pwlen >= ACCOUNTS_PASSWORD_MIN && pwlen <= ACCOUNTS_PASSWORD_MAX;
}

int64_t accounts_login_end(struct accounts *a, struct accounts_attempt *at, bool ok, int64_t now_s)
{
    int64_t id = ok && at->id > 0 ? at->id : -EACCES;

    pthread_mutex_lock(&a->lock);
    if (at->valid && id > 0)
        accounts_fail_reset(a, at->key);
    else if (at->valid)
        accounts_fail_record(a, at->key, now_s);
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
    int64_t id = 0;
    int rc;

    if (accounts_email_normalise(email, norm) < 0)
        return -ENOENT;
    pthread_mutex_lock(&a->lock);
    rc = accounts_user_lookup(a, norm, &id, hash);
    pthread_mutex_unlock(&a->lock);
    OPENSSL_cleanse(hash, sizeof(hash));
    return rc < 0 ? rc : id;
}

int accounts_user_info(struct accounts *a, int64_t user_id, char *email, size_t email_len,
                       char *name, size_t name_len)
{
    sqlite3_stmt *st = a->st[ACCOUNTS_ST_USER_INFO];
    const unsigned char *e, *n;
    int rc, ret = -ENOENT;

    pthread_mutex_lock(&a->lock);
    sqlite3_bind_int64(st, 1, user_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        e = sqlite3_column_text(st, 0);
        n = sqlite3_column_text(st, 1);
        ret = 0;
        if (email && email_len &&
            (size_t)snprintf(email, email_len, "%s", e ? (const char *)e : "") >= email_len)
            ret = -ENOSPC;
        if (name && name_len &&
            (size_t)snprintf(name, name_len, "%s", n ? (const char *)n : "") >= name_len)
            ret = -ENOSPC;
    } else if (rc != SQLITE_DONE) {
        ret = -EIO;
    }
    accounts_done(st);
    pthread_mutex_unlock(&a->lock);
    return ret;
}

/* ---- sessions ---- */

int accounts_session_new(struct accounts *a, int64_t user_id, int64_t now_s, int64_t ttl_s,
                         char *token, char *csrf)
{
    uint8_t raw[ACCOUNTS_RAW_TOKEN], hash[32];
    sqlite3_stmt *st;
    int rc;

    if (user_id <= 0 || ttl_s <= 0)
        return -EINVAL;
    rc = random_bytes(raw, sizeof(raw));
    if (rc < 0)
        return rc;
    accounts_b64url(token, raw, sizeof(raw));
    rc = random_bytes(raw, sizeof(raw));
    if (rc < 0)
        return rc;
    accounts_b64url(csrf, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    accounts_sha256(hash, token, ACCOUNTS_TOKEN_LEN, NULL, 0);

    pthread_mutex_lock(&a->lock);
    st = a->st[ACCOUNTS_ST_SESS_PURGE];
    sqlite3_bind_int64(st, 1, now_s);
    sqlite3_step(st); /* opportunistic: a failure here does not stop the login */
    accounts_done(st);
    st = a->st[ACCOUNTS_ST_SESS_ADD];
    sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, csrf, ACCOUNTS_TOKEN_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_s);
    sqlite3_bind_int64(st, 5, now_s + ttl_s);
    rc = sqlite3_step(st);
    accounts_done(st);
    pthread_mutex_unlock(&a->lock);
    if (rc == SQLITE_DONE)
        return 0;
    token[0] = csrf[0] = '\0';
    return rc == SQLITE_CONSTRAINT ? -ENOENT : -EIO; /* a constraint here: no such user */
}

/* Deletes the session with this token hash; returns how many rows went, or -EIO. */
static int accounts_session_del_hash(struct accounts *a, const uint8_t hash[32])
{
    sqlite3_stmt *st = a->st[ACCOUNTS_ST_SESS_DEL];
    int rc, changes;

    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(st);
    changes = sqlite3_changes(a->db);
    accounts_done(st);
    return rc == SQLITE_DONE ? changes : -EIO;
}

int64_t accounts_session_check(struct accounts *a, const char *token, size_t token_len,
                               int64_t now_s, char *csrf)
{
    sqlite3_stmt *st = a->st[ACCOUNTS_ST_SESS_GET];
    uint8_t hash[32];
    int64_t id = -ENOENT;
    const unsigned char *c;
    int rc;

    if (!token || token_len != ACCOUNTS_TOKEN_LEN)
        return -ENOENT;
    accounts_sha256(hash, token, token_len, NULL, 0);
    pthread_mutex_lock(&a->lock);
    sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        c = sqlite3_column_text(st, 1);
        if (sqlite3_column_int64(st, 2) > now_s && c &&
            sqlite3_column_bytes(st, 1) == ACCOUNTS_TOKEN_LEN) {
            id = sqlite3_column_int64(st, 0);
            if (csrf)
                memcpy(csrf, c, ACCOUNTS_TOKEN_LEN + 1);
        }
    } else if (rc != SQLITE_DONE) {
        id = -EIO;
    }
    accounts_done(st);
    if (rc == SQLITE_ROW && id < 0)
        accounts_session_del_hash(a, hash); /* expired: remove it now */
    pthread_mutex_unlock(&a->lock);
    return id;
}

int accounts_session_del(struct accounts *a, const char *token, size_t token_len)
{
    uint8_t hash[32];
    int rc;

    if (!token || token_len != ACCOUNTS_TOKEN_LEN)
        return -ENOENT;
    accounts_sha256(hash, token, token_len, NULL, 0);
    pthread_mutex_lock(&a->lock);
    rc = accounts_session_del_hash(a, hash);
    pthread_mutex_unlock(&a->lock);
    if (rc < 0)
        return rc;
    return rc > 0 ? 0 : -ENOENT;
}
