/* The embedded account database for one node: SQLite in DATA_DIR/vc.db (directory 0700, file
 * 0600, WAL), with the schema versions of earlier releases so their files upgrade in place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "vc/datafile.h"
#include "vc/store.h"
#include "store_sqlite.h"

#define SQ_DB_NAME "vc.db"
#define SQ_BUSY_MS 2000
#define SQ_GROUP_ACCOUNTS                                                                          \
    "accounts" /* its version is the file's user_version, as it always was                         \
                */

/* The accounts group, version by version (version 1 was users and sessions, 2 added teams). */
static const char sq_accounts_v1[] =
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
    "CREATE INDEX sessions_expiry ON sessions(expires_at);";

static const char sq_accounts_v2[] =
    "CREATE TABLE teams("
    " id INTEGER PRIMARY KEY,"
    " name TEXT UNIQUE NOT NULL);"
    "CREATE TABLE team_members("
    " team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " PRIMARY KEY(team_id, user_id));"
    "CREATE INDEX team_members_user ON team_members(user_id);";

static const char *const sq_accounts_steps[] = {sq_accounts_v1, sq_accounts_v2};

static const struct store_group sq_groups[] = {
    {SQ_GROUP_ACCOUNTS, sq_accounts_steps, 2},
    {"reports", sq_report_steps, SQ_REPORT_VERSION},
};

enum sq_st {
    SQ_USER_ADD,
    SQ_USER_DEL,
    SQ_USER_BY_EMAIL,
    SQ_USER_INFO,
    SQ_USER_EACH,
    SQ_SESS_ADD,
    SQ_SESS_GET,
    SQ_SESS_DEL,
    SQ_SESS_PURGE,
    SQ_TEAM_ADD,
    SQ_TEAM_EXISTS,
    SQ_TEAM_DEL,
    SQ_MEMBER_ADD,
    SQ_MEMBER_DEL,
    SQ_TEAM_LIST,
    SQ_TEAMS_OF_USER,
    SQ_COUNT
};

static const char *const sq_sql[SQ_COUNT] = {
    [SQ_USER_ADD] = "INSERT INTO users(email, name, pw_hash, created_at) VALUES(?1, ?2, ?3, ?4)",
    [SQ_USER_DEL] = "DELETE FROM users WHERE email = ?1",
    [SQ_USER_BY_EMAIL] = "SELECT id, pw_hash FROM users WHERE email = ?1",
    [SQ_USER_INFO] = "SELECT email, name FROM users WHERE id = ?1",
    [SQ_USER_EACH] = "SELECT id, email, name FROM users ORDER BY id",
    [SQ_SESS_ADD] = "INSERT INTO sessions(token_hash, user_id, csrf, created_at, expires_at) "
                    "VALUES(?1, ?2, ?3, ?4, ?5)",
    [SQ_SESS_GET] = "SELECT user_id, csrf, expires_at FROM sessions WHERE token_hash = ?1",
    [SQ_SESS_DEL] = "DELETE FROM sessions WHERE token_hash = ?1",
    [SQ_SESS_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1",
    [SQ_TEAM_ADD] = "INSERT INTO teams(name) VALUES(?1)",
    [SQ_TEAM_EXISTS] = "SELECT 1 FROM teams WHERE name = ?1",
    [SQ_TEAM_DEL] = "DELETE FROM teams WHERE name = ?1",
    [SQ_MEMBER_ADD] = "INSERT OR IGNORE INTO team_members(team_id, user_id) "
                      "SELECT id, ?2 FROM teams WHERE name = ?1",
    [SQ_MEMBER_DEL] = "DELETE FROM team_members WHERE user_id = ?2 AND "
                      "team_id = (SELECT id FROM teams WHERE name = ?1)",
    [SQ_TEAM_LIST] = "SELECT t.name, u.email, u.name FROM teams t "
                     "LEFT JOIN team_members m ON m.team_id = t.id "
                     "LEFT JOIN users u ON u.id = m.user_id ORDER BY t.name, u.email",
    [SQ_TEAMS_OF_USER] = "SELECT t.name FROM teams t JOIN team_members m ON m.team_id = t.id "
                         "WHERE m.user_id = ?1 ORDER BY t.name",
};

struct sq {
    struct store base; /* first: the store hands out &base */
    sqlite3 *db;
    sqlite3_stmt *st[SQ_COUNT];
    sqlite3_stmt *report_st[SQR_COUNT]; /* store_sqlite_reports.c's */
};

static struct sq *sq_of(struct store *s)
{
    return (struct sq *)s;
}

/* ---- statements ---- */

/* Statement i, with its text parameters bound from ?1 on (NULL ends them; the strings must
 * outlive the step). */
static sqlite3_stmt *sq_bind(struct sq *q, enum sq_st i, const char *t1, const char *t2)
{
    sqlite3_stmt *st = q->st[i];

    if (t1)
        sqlite3_bind_text(st, 1, t1, -1, SQLITE_STATIC);
    if (t2)
        sqlite3_bind_text(st, 2, t2, -1, SQLITE_STATIC);
    return st;
}

sqlite3_stmt *sq_report_stmt(struct store *s, unsigned i)
{
    return sq_of(s)->report_st[i];
}

void sq_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int sq_write(sqlite3_stmt *st)
{
    sqlite3 *db = sqlite3_db_handle(st);
    int rc = sqlite3_step(st), ext = sqlite3_extended_errcode(db);
    int changes = sqlite3_changes(db);

    sq_done(st);
    if (rc == SQLITE_DONE)
        return changes;
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return -EEXIST;
    return ext == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT : -EIO;
}

/* Copies a text column into out (len bytes; NULL out skips it). 0 or -ENOSPC. */
static int sq_copy(sqlite3_stmt *st, int col, char *out, size_t len)
{
    const unsigned char *v = sqlite3_column_text(st, col);

    if (!out || !len)
        return 0;
    return (size_t)snprintf(out, len, "%s", v ? (const char *)v : "") < len ? 0 : -ENOSPC;
}

const char *sq_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

/* ---- users ---- */

static int sq_user_add(struct store *s, const char *email, const char *name, const char *pw_hash,
                       int64_t now_s)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = sq_bind(q, SQ_USER_ADD, email, name);

    int rc;

    sqlite3_bind_text(st, 3, pw_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_s);
    rc = sq_write(st);
    return rc >= 0 ? 0 : rc == -EEXIST ? -EEXIST : -EIO;
}

static int sq_user_del(struct store *s, const char *email)
{
    struct sq *q = sq_of(s);
    int rc = sq_write(sq_bind(q, SQ_USER_DEL, email, NULL));

    return rc < 0 ? -EIO : rc > 0 ? 0 : -ENOENT;
}

static int sq_user_by_email(struct store *s, const char *email, int64_t *id, char *pw_hash)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = sq_bind(q, SQ_USER_BY_EMAIL, email, NULL);
    int rc = sqlite3_step(st), ret = rc == SQLITE_DONE ? -ENOENT : -EIO;

    if (rc == SQLITE_ROW && sq_text(st, 1)) {
        *id = sqlite3_column_int64(st, 0);
        ret = sq_copy(st, 1, pw_hash, STORE_PW_HASH_MAX) < 0 ? -EIO : 0;
    }
    sq_done(st);
    return ret;
}

static int sq_user_info(struct store *s, int64_t id, char *email, size_t email_len, char *name,
                        size_t name_len)
{
    sqlite3_stmt *st = sq_of(s)->st[SQ_USER_INFO];
    int rc, ret;

    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    ret = rc == SQLITE_DONE ? -ENOENT : -EIO;
    if (rc == SQLITE_ROW) {
        ret = sq_copy(st, 0, email, email_len);
        if (sq_copy(st, 1, name, name_len) < 0)
            ret = -ENOSPC;
    }
    sq_done(st);
    return ret;
}

static int sq_user_each(struct store *s, store_user_cb cb, void *arg)
{
    sqlite3_stmt *st = sq_of(s)->st[SQ_USER_EACH];
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(arg, sqlite3_column_int64(st, 0), sq_text(st, 1), sq_text(st, 2)))
            break;
    sq_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

static const struct store_user_ops sq_user_ops = {
    sq_user_add, sq_user_del, sq_user_by_email, sq_user_info, sq_user_each,
};

/* ---- sessions ---- */

static int sq_session_add(struct store *s, const uint8_t hash[STORE_TOKEN_HASH_LEN],
                          int64_t user_id, const char *csrf, int64_t now_s, int64_t expires_s)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = q->st[SQ_SESS_ADD];
    int rc;

    sqlite3_bind_blob(st, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, csrf, STORE_CSRF_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_s);
    sqlite3_bind_int64(st, 5, expires_s);
    rc = sq_write(st);
    return rc >= 0 ? 0 : rc == -ENOENT ? -ENOENT : -EIO;
}

static int sq_session_get(struct store *s, const uint8_t hash[STORE_TOKEN_HASH_LEN],
                          int64_t *user_id, char *csrf, int64_t *expires_s)
{
    sqlite3_stmt *st = sq_of(s)->st[SQ_SESS_GET];
    int rc, ret;

    sqlite3_bind_blob(st, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    rc = sqlite3_step(st);
    ret = rc == SQLITE_DONE ? -ENOENT : -EIO;
    if (rc == SQLITE_ROW && sq_text(st, 1) && sqlite3_column_bytes(st, 1) == STORE_CSRF_LEN) {
        *user_id = sqlite3_column_int64(st, 0);
        *expires_s = sqlite3_column_int64(st, 2);
        memcpy(csrf, sq_text(st, 1), STORE_CSRF_LEN + 1);
        ret = 0;
    }
    sq_done(st);
    return ret;
}

static int sq_session_del(struct store *s, const uint8_t hash[STORE_TOKEN_HASH_LEN])
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = q->st[SQ_SESS_DEL];
    int rc;

    sqlite3_bind_blob(st, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    rc = sq_write(st);
    return rc < 0 ? -EIO : rc > 0 ? 0 : -ENOENT;
}

static int sq_session_purge(struct store *s, int64_t now_s)
{
    struct sq *q = sq_of(s);

    sqlite3_bind_int64(q->st[SQ_SESS_PURGE], 1, now_s);
    return sq_write(q->st[SQ_SESS_PURGE]) < 0 ? -EIO : 0;
}

static const struct store_session_ops sq_session_ops = {
    sq_session_add,
    sq_session_get,
    sq_session_del,
    sq_session_purge,
};

/* ---- teams ---- */

static int sq_team_add(struct store *s, const char *name)
{
    int rc = sq_write(sq_bind(sq_of(s), SQ_TEAM_ADD, name, NULL));

    return rc >= 0 ? 0 : rc == -EEXIST ? -EEXIST : -EIO;
}

static int sq_team_exists(struct store *s, const char *name)
{
    sqlite3_stmt *st = sq_bind(sq_of(s), SQ_TEAM_EXISTS, name, NULL);
    int rc = sqlite3_step(st);

    sq_done(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_team_del(struct store *s, const char *name)
{
    int rc = sq_write(sq_bind(sq_of(s), SQ_TEAM_DEL, name, NULL));

    return rc < 0 ? -EIO : rc > 0 ? 0 : -ENOENT;
}

/* A membership change: the rows changed, or -EIO. */
static int sq_member(struct store *s, enum sq_st i, const char *team, int64_t user_id)
{
    struct sq *q = sq_of(s);
    sqlite3_stmt *st = sq_bind(q, i, team, NULL);
    int rc;

    sqlite3_bind_int64(st, 2, user_id);
    rc = sq_write(st);
    return rc < 0 ? -EIO : rc;
}

static int sq_member_add(struct store *s, const char *team, int64_t user_id)
{
    int rc = sq_member(s, SQ_MEMBER_ADD, team, user_id);

    return rc < 0 ? rc : rc > 0;
}

static int sq_member_del(struct store *s, const char *team, int64_t user_id)
{
    int rc = sq_member(s, SQ_MEMBER_DEL, team, user_id);

    return rc < 0 ? rc : rc > 0 ? 0 : -ENOENT;
}

static int sq_team_list(struct store *s, store_team_row_cb cb, void *arg)
{
    sqlite3_stmt *st = sq_of(s)->st[SQ_TEAM_LIST];
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(arg, sq_text(st, 0), sq_text(st, 1), sq_text(st, 2));
    sq_done(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_teams_of_user(struct store *s, int64_t user_id, store_name_cb cb, void *arg)
{
    sqlite3_stmt *st = sq_of(s)->st[SQ_TEAMS_OF_USER];
    int rc;

    sqlite3_bind_int64(st, 1, user_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(arg, sq_text(st, 0));
    sq_done(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static const struct store_team_ops sq_team_ops = {
    sq_team_add,   sq_team_exists, sq_team_del,      sq_member_add,
    sq_member_del, sq_team_list,   sq_teams_of_user,
};

/* ---- schema ---- */

static int sq_exec(struct store *s, const char *sql, char *err, size_t errlen)
{
    struct sq *q = sq_of(s);
    char *msg = NULL;

    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", msg ? msg : sqlite3_errmsg(q->db));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

/* One integer from sql with an optional text parameter: 0 with *out, -ENOENT (no row), -EIO. */
static int sq_int(struct sq *q, const char *sql, const char *param, int *out)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    if (param)
        sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

static int sq_begin(struct store *s, char *err, size_t errlen)
{
    return sq_exec(s, "BEGIN IMMEDIATE", err, errlen);
}

/* The accounts group is the file's user_version; a later group has a row in vc_schema. */
static int sq_version(struct store *s, const char *group, char *err, size_t errlen)
{
    struct sq *q = sq_of(s);
    int v = 0, rc;

    if (strcmp(group, SQ_GROUP_ACCOUNTS) == 0)
        rc = sq_int(q, "PRAGMA user_version", NULL, &v);
    else if ((rc = sq_int(q, "SELECT count(*) FROM sqlite_master WHERE name = 'vc_schema'", NULL,
                          &v)) == 0 &&
             v > 0)
        rc = sq_int(q, "SELECT version FROM vc_schema WHERE grp = ?1", group, &v);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(q->db));
        return -EIO;
    }
    return v;
}

static int sq_set_version(struct store *s, const char *group, int version, char *err, size_t errlen)
{
    char sql[256];

    if (strcmp(group, SQ_GROUP_ACCOUNTS) == 0)
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
    else
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE IF NOT EXISTS vc_schema(grp TEXT PRIMARY KEY, version INTEGER "
                 "NOT NULL); INSERT OR REPLACE INTO vc_schema VALUES('%.64s', %d)",
                 group, version);
    return sq_exec(s, sql, err, errlen);
}

static int sq_end(struct store *s, bool commit, char *err, size_t errlen)
{
    return sq_exec(s, commit ? "COMMIT" : "ROLLBACK", err, errlen);
}

static const struct store_schema_ops sq_schema_ops = {
    sq_begin, sq_version, sq_exec, sq_set_version, sq_end,
};

/* ---- opening ---- */

static void sq_close(struct store *s)
{
    struct sq *q = sq_of(s);

    for (int i = 0; i < SQ_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    for (int i = 0; i < SQR_COUNT; i++)
        sqlite3_finalize(q->report_st[i]);
    sqlite3_close(q->db);
    free(q);
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .shared = false,
    .close = sq_close,
    .schema = &sq_schema_ops,
    .groups = sq_groups,
    .ngroups = sizeof(sq_groups) / sizeof(sq_groups[0]),
    .users = &sq_user_ops,
    .sessions = &sq_session_ops,
    .teams = &sq_team_ops,
    .reports = &sq_report_ops,
};

/* Opens path into q with WAL and foreign keys on. 0 or -EIO with err. */
static int sq_connect(struct sq *q, const char *path, char *err, size_t errlen)
{
    if (sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite open %s: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : "out of memory");
        return -EIO;
    }
    sqlite3_busy_timeout(q->db, SQ_BUSY_MS);
    sqlite3_extended_result_codes(q->db, 1);
    return sq_exec(&q->base, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;", err, errlen);
}

/* Prepares n statements from sql into st. 0 or -EIO with err. */
static int sq_prepare_all(struct sq *q, const char *const *sql, sqlite3_stmt **st, int n, char *err,
                          size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(q->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(q->db));
            return -EIO;
        }
    }
    return 0;
}

/* Prepares every statement once the schema is current (store_open migrates first). */
static int sq_prepare(struct sq *q, char *err, size_t errlen)
{
    int rc = sq_prepare_all(q, sq_sql, q->st, SQ_COUNT, err, errlen);

    return rc < 0 ? rc : sq_prepare_all(q, sq_report_sql, q->report_st, SQR_COUNT, err, errlen);
}

int store_sqlite_open(const struct store_conf *conf, struct store **out, char *err, size_t errlen)
{
    char path[4096];
    struct sq *q;
    int rc;

    *out = NULL;
    rc = datafile_prepare(conf->data_dir, SQ_DB_NAME, path, sizeof(path), err, errlen);
    if (rc < 0)
        return rc;
    q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    q->base.ops = &sq_ops;
    rc = sq_connect(q, path, err, errlen);
    if (rc == 0)
        rc = store_migrate(&q->base, err, errlen);
    if (rc == 0)
        rc = sq_prepare(q, err, errlen);
    if (rc < 0) {
        sq_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return 0;
}
