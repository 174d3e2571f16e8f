/* The reports group on SQLite: one row per consultation (store.h's store_report_row), read by
 * day, scoped to an owner and their teams, purged in bounded batches. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "vc/store.h"
#include "store_sqlite.h"

/* Version 1: the consultations, by room (a room ends once), with an index for days. */
static const char sq_reports_v1[] =
    "CREATE TABLE report_consultations("
    " room TEXT PRIMARY KEY,"
    " day INTEGER NOT NULL,"
    " owner TEXT NOT NULL,"
    " team TEXT NOT NULL DEFAULT '',"
    " hosts INTEGER NOT NULL,"
    " guests INTEGER NOT NULL,"
    " duration_s INTEGER NOT NULL,"
    " path TEXT NOT NULL,"
    " waits_ms TEXT NOT NULL DEFAULT '',"
    " browsers TEXT NOT NULL DEFAULT '',"
    " os TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX report_consultations_day ON report_consultations(day);";

const char *const sq_report_steps[SQ_REPORT_VERSION] = {sq_reports_v1};

/* A clinician's scope: their own rooms and their teams' (by membership, as now). */
const char *const sq_report_sql[SQR_COUNT] = {
    [SQR_ADD] = "INSERT OR IGNORE INTO report_consultations(room, day, owner, team, hosts, "
                "guests, duration_s, path, waits_ms, browsers, os) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [SQR_EACH] = "SELECT day, hosts, guests, duration_s, path, waits_ms, browsers, os "
                 "FROM report_consultations WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR "
                 "owner = ?3 OR team IN (SELECT t.name FROM teams t JOIN team_members m ON "
                 "m.team_id = t.id WHERE m.user_id = ?4)) ORDER BY day, room",
    [SQR_PURGE] = "DELETE FROM report_consultations WHERE room IN (SELECT room FROM "
                  "report_consultations WHERE day < ?1 LIMIT ?2)",
};

static int sq_report_add(struct store *s, const struct store_report_row *row)
{
    sqlite3_stmt *st = sq_report_stmt(s, SQR_ADD);
    int rc;

    sqlite3_bind_text(st, 1, row->room, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, row->day);
    sqlite3_bind_text(st, 3, row->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row->team, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, row->hosts);
    sqlite3_bind_int(st, 6, row->guests);
    sqlite3_bind_int64(st, 7, row->duration_s);
    sqlite3_bind_text(st, 8, row->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, row->waits_ms, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, row->browsers, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, row->os, -1, SQLITE_STATIC);
    rc = sq_write(st);
    return rc < 0 ? -EIO : rc > 0;
}

/* Copies a text column into out (STORE_REPORT_LIST_MAX + 1 bytes, cut there). */
static void sq_report_text(sqlite3_stmt *st, int col, char *out, size_t len)
{
    const char *v = sq_text(st, col);

    snprintf(out, len, "%s", v ? v : "");
}

static int sq_report_each(struct store *s, int64_t from, int64_t to, const char *owner,
                          int64_t user_id, store_report_cb cb, void *arg)
{
    sqlite3_stmt *st = sq_report_stmt(s, SQR_EACH);
    struct store_report_row row;
    int rc;

    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    if (owner)
        sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, user_id);
    memset(&row, 0, sizeof(row));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row.day = sqlite3_column_int64(st, 0);
        row.hosts = sqlite3_column_int(st, 1);
        row.guests = sqlite3_column_int(st, 2);
        row.duration_s = sqlite3_column_int64(st, 3);
        sq_report_text(st, 4, row.path, sizeof(row.path));
        sq_report_text(st, 5, row.waits_ms, sizeof(row.waits_ms));
        sq_report_text(st, 6, row.browsers, sizeof(row.browsers));
        sq_report_text(st, 7, row.os, sizeof(row.os));
        if (cb(arg, &row))
            break;
    }
    sq_done(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

static int sq_report_purge(struct store *s, int64_t day, unsigned limit)
{
    sqlite3_stmt *st = sq_report_stmt(s, SQR_PURGE);
    int rc;

    sqlite3_bind_int64(st, 1, day);
    sqlite3_bind_int64(st, 2, limit);
    rc = sq_write(st);
    return rc < 0 ? -EIO : rc;
}

const struct store_report_ops sq_report_ops = {
    sq_report_add,
    sq_report_each,
    sq_report_purge,
};
