/* Clinicians' teams in the accounts database: names, memberships, and a clinician as the hub
 * knows them (id, display name, teams). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "vc/accounts.h"
#include "vc/random.h"
#include "vc/teams.h"

const char teams_schema_v2[] = "CREATE TABLE teams("
                               " id INTEGER PRIMARY KEY,"
                               " name TEXT UNIQUE NOT NULL);"
                               "CREATE TABLE team_members("
                               " team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
                               " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
                               " PRIMARY KEY(team_id, user_id));"
                               "CREATE INDEX team_members_user ON team_members(user_id);"
                               "PRAGMA user_version = 2;";

int teams_name_check(const char *name)
{
    size_t n = name ? strnlen(name, TEAMS_NAME_MAX + 1) : 0;

    if (n == 0 || n > TEAMS_NAME_MAX || name[0] == ' ' || name[n - 1] == ' ')
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return -EINVAL;
    return 0;
}

/* Runs one statement with text parameters (NULL ends them). Returns the sqlite3 result of the
 * step, and the rows it changed in *changes. */
static int teams_run(struct accounts *a, const char *sql, int *changes, const char *p1,
                     const char *p2)
{
    sqlite3 *db = accounts_db(a);
    sqlite3_stmt *st;
    int rc;

    accounts_lock(a);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        accounts_unlock(a);
        return SQLITE_ERROR;
    }
    if (p1)
        sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
    if (p2)
        sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (changes)
        *changes = sqlite3_changes(db);
    sqlite3_finalize(st);
    accounts_unlock(a);
    return rc;
}

int teams_add(struct accounts *a, const char *name)
{
    int rc;

    if (teams_name_check(name) < 0)
        return -EINVAL;
    rc = teams_run(a, "INSERT INTO teams(name) VALUES(?1)", NULL, name, NULL);
    return rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
}

int teams_exists(struct accounts *a, const char *name)
{
    int rc = teams_run(a, "SELECT 1 FROM teams WHERE name = ?1", NULL, name, NULL);

    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

int teams_del(struct accounts *a, const char *name)
{
    int changes = 0, rc = teams_run(a, "DELETE FROM teams WHERE name = ?1", &changes, name, NULL);

    return rc != SQLITE_DONE ? -EIO : changes ? 0 : -ENOENT;
}

/* The user's id as text, for binding: 0, or -ENOENT. */
static int teams_user_id(struct accounts *a, const char *email, char out[24])
{
    int64_t id = accounts_user_id(a, email);

    if (id <= 0)
        return id == -EIO ? -EIO : -ENOENT;
    snprintf(out, 24, "%lld", (long long)id);
    return 0;
}

int teams_member_add(struct accounts *a, const char *team, const char *email)
{
    char uid[24];
    int changes = 0, rc = teams_user_id(a, email, uid);

    if (rc < 0)
        return rc;
    rc = teams_run(a,
                   "INSERT OR IGNORE INTO team_members(team_id, user_id) "
                   "SELECT id, ?2 FROM teams WHERE name = ?1",
                   &changes, team, uid);
    if (rc != SQLITE_DONE)
        return -EIO;
    if (changes)
        return 0;
    rc = teams_exists(a, team);
    return rc == 1 ? -EEXIST : rc == 0 ? -ENOENT : -EIO;
}

int teams_member_del(struct accounts *a, const char *team, const char *email)
{
    char uid[24];
    int changes = 0, rc = teams_user_id(a, email, uid);

    if (rc < 0)
        return rc;
    rc = teams_run(a,
                   "DELETE FROM team_members WHERE user_id = ?2 AND "
                   "team_id = (SELECT id FROM teams WHERE name = ?1)",
                   &changes, team, uid);
    return rc != SQLITE_DONE ? -EIO : changes ? 0 : -ENOENT;
}

int teams_list(struct accounts *a, teams_list_cb cb, void *arg)
{
    sqlite3_stmt *st;
    int rc;

    accounts_lock(a);
    if (sqlite3_prepare_v2(accounts_db(a),
                           "SELECT t.name, u.email, u.name FROM teams t "
                           "LEFT JOIN team_members m ON m.team_id = t.id "
                           "LEFT JOIN users u ON u.id = m.user_id ORDER BY t.name, u.email",
                           -1, &st, NULL) != SQLITE_OK) {
        accounts_unlock(a);
        return -EIO;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(arg, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    accounts_unlock(a);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

void teams_owner_id(const char *email, char out[HUB_OWNER_MAX + 1])
{
    unsigned char hash[TOKEN_HASH_LEN];

    token_hash(email, strlen(email), hash);
    memcpy(out, "user:", 5);
    hex_encode(hash, 8, out + 5);
}

/* Fills c's teams from user_id's memberships (the lock held). 0 or -EIO. */
static int teams_of_user_locked(struct accounts *a, int64_t user_id, struct hub_clinician *c)
{
    sqlite3_stmt *st;
    int rc;

    c->nteams = 0;
    if (sqlite3_prepare_v2(accounts_db(a),
                           "SELECT t.name FROM teams t JOIN team_members m ON m.team_id = t.id "
                           "WHERE m.user_id = ?1 ORDER BY t.name",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(st, 1, user_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && c->nteams < HUB_TEAMS_MAX)
        snprintf(c->teams[c->nteams++], sizeof(c->teams[0]), "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

/* The clinicians matching where (an SQL condition on users u, with ?1 bound to arg, or NULL for
 * all); the first whose owner id is want (NULL: any) fills out. 0, -ENOENT, -EIO. */
static int teams_find(struct accounts *a, const char *where, int64_t arg, const char *want,
                      struct hub_clinician *out)
{
    char sql[160];
    sqlite3_stmt *st;
    int rc, ret = -ENOENT;
    int64_t uid = 0;

    snprintf(sql, sizeof(sql), "SELECT u.id, u.email, u.name FROM users u%s%s",
             where ? " WHERE " : "", where ? where : "");
    accounts_lock(a);
    if (sqlite3_prepare_v2(accounts_db(a), sql, -1, &st, NULL) != SQLITE_OK) {
        accounts_unlock(a);
        return -EIO;
    }
    if (where)
        sqlite3_bind_int64(st, 1, arg);
    while (ret == -ENOENT && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *email = (const char *)sqlite3_column_text(st, 1);
        memset(out, 0, sizeof(*out));
        teams_owner_id(email ? email : "", out->id);
        if (want && strcmp(out->id, want) != 0)
            continue;
        snprintf(out->name, sizeof(out->name), "%s",
                 sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
        uid = sqlite3_column_int64(st, 0);
        ret = 0;
    }
    sqlite3_finalize(st);
    if (ret == 0)
        ret = teams_of_user_locked(a, uid, out);
    accounts_unlock(a);
    return ret;
}

int teams_clinician_of_user(struct accounts *a, int64_t user_id, struct hub_clinician *out)
{
    return teams_find(a, "u.id = ?1", user_id, NULL, out);
}

int teams_clinician_by_id(struct accounts *a, const char *id, struct hub_clinician *out)
{
    return teams_find(a, NULL, 0, id, out);
}
