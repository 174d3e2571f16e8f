/* The SQLite backend's internals shared by its modules: store_sqlite.c (accounts, schema,
 * opening) and store_sqlite_reports.c (the reports group). */
#ifndef VC_STORE_SQLITE_H
#define VC_STORE_SQLITE_H

#include <sqlite3.h>

#include "vc/store.h"

/* ---- store_sqlite_reports.c ---- */

enum sq_report_st { SQR_ADD, SQR_EACH, SQR_PURGE, SQR_COUNT };

#define SQ_REPORT_VERSION 1
extern const char *const sq_report_steps[SQ_REPORT_VERSION];
extern const char *const sq_report_sql[SQR_COUNT]; /* prepared with the accounts' statements */
extern const struct store_report_ops sq_report_ops;

/* ---- store_sqlite.c ---- */

/* The reports' statement i (enum sq_report_st), prepared at open; the store owns it. */
sqlite3_stmt *sq_report_stmt(struct store *s, unsigned i);
/* Resets a statement after use so that it holds no lock and no borrowed bindings. */
void sq_done(sqlite3_stmt *st);
/* Steps a statement that returns no rows and resets it: the rows it changed, -EEXIST for a
 * duplicate, -ENOENT for a missing referenced row, -EIO. */
int sq_write(sqlite3_stmt *st);
/* A text column (NULL for SQL NULL), valid until the statement steps again. */
const char *sq_text(sqlite3_stmt *st, int col);

#endif
