/* The webhook queue on disk: DATA_DIR/webhooks.db (SQLite, WAL), written before an event counts
 * as queued and deleted after its receiver answered 2xx, so a crash loses none. Service thread
 * only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "vc/datafile.h"
#include "webhook.h"

enum whstore_stmt { WHSTORE_PUT, WHSTORE_DEL, WHSTORE_RETRY, WHSTORE_BODY, WHSTORE_ALL, WHSTORE_N };

static const char *const whstore_sql[WHSTORE_N] = {
    "INSERT INTO events (id, room, body, first_ms, due_ms, attempts) VALUES (?, ?, ?, ?, ?, 0)",
    "DELETE FROM events WHERE seq = ?",
    "UPDATE events SET attempts = ?, due_ms = ? WHERE seq = ?",
    "SELECT id, body FROM events WHERE seq = ?",
    "SELECT seq, room, first_ms, due_ms, attempts FROM events ORDER BY seq",
};

/* WAL with synchronous NORMAL: a committed event is in the log file before the call returns, so
 * a killed process loses none (a power cut may lose the last few, as the page cache would). */
static const char whstore_schema[] =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    "CREATE TABLE IF NOT EXISTS events ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, room TEXT NOT NULL,"
    " body TEXT NOT NULL, first_ms INTEGER NOT NULL, due_ms INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL);";

struct whstore {
    sqlite3 *db;
    sqlite3_stmt *st[WHSTORE_N];
};

void whstore_close(struct whstore *s)
{
    if (!s)
        return;
    for (int i = 0; i < WHSTORE_N; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

static int whstore_prepare(struct whstore *s, char *err, size_t errlen)
{
    char *msg = NULL;

    if (sqlite3_exec(s->db, whstore_schema, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", msg ? msg : "out of memory");
        sqlite3_free(msg);
        return -EIO;
    }
    for (int i = 0; i < WHSTORE_N; i++) {
        if (sqlite3_prepare_v3(s->db, whstore_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(s->db));
            return -EIO;
        }
    }
    return 0;
}

int whstore_open(const char *dir, struct whstore **out, char *err, size_t errlen)
{
    struct whstore *s;
    char path[4096];
    int rc;

    *out = NULL;
    if ((rc = datafile_prepare(dir, WHSTORE_DB_NAME, path, sizeof(path), err, errlen)) < 0)
        return rc;
    if (!(s = calloc(1, sizeof(*s)))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "sqlite open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        whstore_close(s);
        return -EIO;
    }
    if ((rc = whstore_prepare(s, err, errlen)) < 0) {
        whstore_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Steps a write statement to its end and resets it. 0 or -EIO. */
static int whstore_run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int whstore_put(struct whstore *s, struct whq_item *it, const char *id, const char *body,
                size_t len)
{
    sqlite3_stmt *st = s->st[WHSTORE_PUT];

    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, it->room, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, body, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, it->first_ms);
    sqlite3_bind_int64(st, 5, it->due_ms);
    if (whstore_run(st) < 0)
        return -EIO;
    it->seq = (uint64_t)sqlite3_last_insert_rowid(s->db);
    return 0;
}

int whstore_del(struct whstore *s, uint64_t seq)
{
    sqlite3_stmt *st = s->st[WHSTORE_DEL];

    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    return whstore_run(st);
}

int whstore_retry(struct whstore *s, const struct whq_item *it)
{
    sqlite3_stmt *st = s->st[WHSTORE_RETRY];

    sqlite3_bind_int(st, 1, (int)it->attempts);
    sqlite3_bind_int64(st, 2, it->due_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)it->seq);
    return whstore_run(st);
}

int whstore_body(struct whstore *s, uint64_t seq, char id[WHEVENT_ID_LEN + 1], char **body,
                 size_t *len)
{
    sqlite3_stmt *st = s->st[WHSTORE_BODY];
    int rc;

    *body = NULL;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 1);
        const char *eid = (const char *)sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 1);

        snprintf(id, WHEVENT_ID_LEN + 1, "%s", eid ? eid : "");

        *body = text ? strndup(text, (size_t)n) : NULL;
        *len = (size_t)n;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    return *body ? 0 : -EIO;
}

int whstore_load(struct whstore *s, struct whq *q)
{
    sqlite3_stmt *st = s->st[WHSTORE_ALL];
    int rc = SQLITE_DONE, n = 0, r = 0;

    while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct whq_item *it = calloc(1, sizeof(*it));
        const char *room = (const char *)sqlite3_column_text(st, 1);

        if (!it) {
            r = -ENOMEM;
            break;
        }
        it->seq = (uint64_t)sqlite3_column_int64(st, 0);
        snprintf(it->room, sizeof(it->room), "%s", room ? room : "");
        it->first_ms = sqlite3_column_int64(st, 2);
        it->due_ms = sqlite3_column_int64(st, 3);
        it->attempts = (unsigned)sqlite3_column_int(st, 4);
        if ((r = whq_push(q, it)) < 0)
            free(it);
        else
            n++;
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = -EIO;
    sqlite3_reset(st);
    return r < 0 ? r : n;
}
