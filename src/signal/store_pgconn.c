/* The PostgreSQL backend's connection: libpq in non-blocking mode with a deadline per call, so
 * a slow or unreachable server holds the calling thread (vc-signal's event loop) for at most
 * timeout_ms; statements are prepared on first use; a lost connection is re-made with backoff. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "vc/log.h"
#include "store_pg.h"

#define PGCONN_BACKOFF_MIN_MS 500
#define PGCONN_BACKOFF_MAX_MS 30000
#define PGCONN_NAME_MAX 16
#define PGCONN_PARAMS_MAX 12 /* the reports' row has 11 */

static int64_t pgconn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes: 1 ready, 0 timed out, -1 error. */
static int pgconn_wait(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - pgconn_now_ms();
        struct pollfd p = {.fd = fd, .events = events};
        int n;

        if (fd < 0)
            return -1;
        if (left <= 0)
            return 0;
        n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue; /* the deadline still bounds the loop */
        return n < 0 ? -1 : n > 0;
    }
}

/* The password in the URL ("scheme://user:PASSWORD@host"), as a span of c->url; len 0 if none. */
static const char *pgconn_url_password(const struct pgconn *c, size_t *len)
{
    const char *start = strstr(c->url, "://"), *at, *colon;

    *len = 0;
    if (!start)
        return NULL;
    start += 3;
    at = strchr(start, '@');
    colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (!colon)
        return NULL;
    *len = (size_t)(at - colon - 1);
    return colon + 1;
}

/* libpq's message on one line into err; a message quoting the password is replaced. */
static void pgconn_why(const struct pgconn *c, const char *msg, char *err, size_t errlen)
{
    size_t n, pwlen;
    const char *pw = pgconn_url_password(c, &pwlen);

    snprintf(err, errlen, "%s", msg && msg[0] ? msg : "unknown error");
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    n = strlen(err);
    while (n > 0 && err[n - 1] == ' ')
        err[--n] = '\0';
    if ((pwlen >= 1 && memmem(err, n, pw, pwlen)) ||
        (c->password && c->password[0] && strstr(err, c->password)))
        snprintf(err, errlen, "the URL is not valid");
    else if (strstr(err, "no password supplied"))
        snprintf(err, errlen,
                 "the server asks for a password: give it in the URL or in "
                 "database-password-file");
}

/* Maps a result to 0, -EEXIST (unique violation), -ENOENT (foreign key violation) or -EIO. */
static int pgconn_status(PGresult *r)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    if (state && strcmp(state, "23505") == 0)
        return -EEXIST;
    if (state && strcmp(state, "23503") == 0)
        return -ENOENT;
    return -EIO;
}

/* Flushes what was sent and reads every result: 0 with *res (the first failed result, else the
 * last; NULL if none), -ETIMEDOUT at the deadline, -EPIPE when the connection broke. */
static int pgconn_collect(struct pgconn *c, int64_t deadline, PGresult **res)
{
    PGresult *r;
    int f, w;

    *res = NULL;
    while ((f = PQflush(c->conn)) == 1) {
        if ((w = pgconn_wait(PQsocket(c->conn), POLLOUT | POLLIN, deadline)) <= 0)
            return w == 0 ? -ETIMEDOUT : -EPIPE;
        if (!PQconsumeInput(c->conn))
            return -EPIPE;
    }
    if (f < 0)
        return -EPIPE;
    for (;;) {
        while (PQisBusy(c->conn)) {
            if ((w = pgconn_wait(PQsocket(c->conn), POLLIN, deadline)) <= 0 ||
                !PQconsumeInput(c->conn)) {
                PQclear(*res);
                *res = NULL;
                return w == 0 ? -ETIMEDOUT : -EPIPE;
            }
        }
        if (!(r = PQgetResult(c->conn)))
            break;
        if (*res && pgconn_status(*res) < 0) {
            PQclear(r);
            continue;
        }
        PQclear(*res);
        *res = r;
    }
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        PQclear(*res);
        *res = NULL;
        return -EPIPE;
    }
    return 0;
}

/* Sends sql with up to two text parameters (none: several statements allowed) and collects its
 * result into *res, within deadline. 0 or -errno with err. */
static int pgconn_command(struct pgconn *c, const char *sql, const char *const params[2],
                          int64_t deadline, PGresult **res, char *err, size_t errlen)
{
    int np = params && params[1] ? 2 : params && params[0] ? 1 : 0, rc;
    int sent = np ? PQsendQueryParams(c->conn, sql, np, NULL, params, NULL, NULL, 0)
                  : PQsendQuery(c->conn, sql);

    rc = sent ? pgconn_collect(c, deadline, res) : -EPIPE;
    if (rc == 0 && (rc = pgconn_status(*res)) < 0)
        pgconn_why(c, *res ? PQresultErrorMessage(*res) : NULL, err, errlen);
    else if (rc == -ETIMEDOUT)
        snprintf(err, errlen, "no answer within %u ms", c->timeout_ms * c->migration_factor);
    else if (rc < 0)
        pgconn_why(c, PQerrorMessage(c->conn), err, errlen);
    if (rc < 0) {
        PQclear(*res);
        *res = NULL;
    }
    return rc;
}

/* Drops the server's notices (a migration's "already exists, skipping"). */
static void pgconn_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A new connection within deadline, in non-blocking mode, with the server's statement timeout
 * set just past ours. 0 or -EIO with err. */
static int pgconn_connect(struct pgconn *c, int64_t deadline, char *err, size_t errlen)
{
    const char *keys[4] = {"dbname", "fallback_application_name", NULL, NULL};
    const char *vals[4] = {c->url, "vc-signal", NULL, NULL};
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    PGresult *r = NULL;
    char set[64];
    int w = 1, rc = -EIO;

    if (c->password) {
        keys[2] = "password";
        vals[2] = c->password;
    }
    if (!(c->conn = PQconnectStartParams(keys, vals, 1))) {
        snprintf(err, errlen, "out of memory");
        return -EIO;
    }
    PQsetNoticeProcessor(c->conn, pgconn_quiet, NULL);
    while (PQstatus(c->conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED &&
           (w = pgconn_wait(PQsocket(c->conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                            deadline)) > 0)
        st = PQconnectPoll(c->conn);
    if (w <= 0)
        snprintf(err, errlen, "no answer within %u ms", c->timeout_ms);
    else if (PQstatus(c->conn) != CONNECTION_OK)
        pgconn_why(c, PQerrorMessage(c->conn), err, errlen);
    else if (PQsetnonblocking(c->conn, 1) != 0)
        snprintf(err, errlen, "cannot make the connection non-blocking");
    else
        rc = 0;
    c->prepared = 0;
    /* The server gives up a little after we do: our deadline decides, its timeout only stops
     * the work of a statement nobody waits for any more. */
    snprintf(set, sizeof(set), "SET statement_timeout = %u", c->timeout_ms * 2);
    if (rc == 0)
        rc = pgconn_command(c, set, NULL, deadline, &r, err, errlen);
    PQclear(r);
    if (rc < 0) {
        PQfinish(c->conn);
        c->conn = NULL;
        return -EIO;
    }
    return 0;
}

/* Drops a connection that failed or missed its deadline; the first loss is logged. */
static void pgconn_drop(struct pgconn *c, const char *why)
{
    if (!c->lost)
        log_msg(LOG_LEVEL_WARN, "database: connection lost (%s); reconnecting", why);
    c->lost = true;
    PQfinish(c->conn);
    c->conn = NULL;
    c->prepared = 0;
}

/* After a failed connection or a call that found no answer: no new connection for a while,
 * doubling up to PGCONN_BACKOFF_MAX_MS, so that a sick server stalls the caller once in a while
 * rather than on every call. */
static void pgconn_backoff(struct pgconn *c)
{
    c->lost = true;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : PGCONN_BACKOFF_MIN_MS;
    if (c->backoff_ms > PGCONN_BACKOFF_MAX_MS)
        c->backoff_ms = PGCONN_BACKOFF_MAX_MS;
    c->retry_at_ms = pgconn_now_ms() + c->backoff_ms;
}

/* A connection, made now unless a recent failure asks to wait. 0 or -EIO. */
static int pgconn_ensure(struct pgconn *c, int64_t deadline)
{
    char why[256];

    if (c->conn)
        return 0;
    if (pgconn_now_ms() < c->retry_at_ms)
        return -EIO;
    if (pgconn_connect(c, deadline, why, sizeof(why)) == 0) {
        if (c->lost)
            log_msg(LOG_LEVEL_INFO, "database: connected again");
        c->lost = false;
        return 0; /* the backoff is reset by an answer, not by a connection */
    }
    pgconn_backoff(c);
    log_msg(LOG_LEVEL_WARN, "database: cannot connect (%s); next try in %u ms", why, c->backoff_ms);
    return -EIO;
}

/* Statement i, prepared on this connection. 0, -ETIMEDOUT, -EPIPE or -EIO. */
static int pgconn_prepare(struct pgconn *c, unsigned i, const char *name, int64_t deadline)
{
    PGresult *r = NULL;
    int rc;

    if (c->prepared & (1ull << i))
        return 0;
    if (!PQsendPrepare(c->conn, name, c->sql[i], 0, NULL))
        return -EPIPE;
    rc = pgconn_collect(c, deadline, &r);
    if (rc == 0 && (rc = pgconn_status(r)) < 0)
        log_msg(LOG_LEVEL_ERROR, "database: cannot prepare statement %u: %s", i,
                r ? PQresultErrorMessage(r) : "no result");
    PQclear(r);
    if (rc == 0)
        c->prepared |= 1ull << i;
    return rc;
}

/* One attempt at statement i: connect, prepare, send, collect. 0 with *res (its status not
 * yet checked) or -errno. */
static int pgconn_try(struct pgconn *c, unsigned i, const struct pgconn_param *p, int np,
                      int64_t deadline, PGresult **res)
{
    const char *vals[PGCONN_PARAMS_MAX];
    int lens[PGCONN_PARAMS_MAX], fmts[PGCONN_PARAMS_MAX], rc;
    char name[PGCONN_NAME_MAX];

    if ((rc = pgconn_ensure(c, deadline)) < 0)
        return rc;
    snprintf(name, sizeof(name), "vc_%u", i);
    if ((rc = pgconn_prepare(c, i, name, deadline)) < 0)
        return rc;
    for (int k = 0; k < np; k++) {
        vals[k] = p[k].v;
        lens[k] = p[k].len;
        fmts[k] = p[k].len > 0; /* binary bytes, else text */
    }
    if (!PQsendQueryPrepared(c->conn, name, np, vals, lens, fmts, 0))
        return -EPIPE;
    return pgconn_collect(c, deadline, res);
}

int pgconn_run(struct pgconn *c, unsigned i, const struct pgconn_param *p, int np, bool retry,
               PGresult **res)
{
    int64_t deadline = pgconn_now_ms() + c->timeout_ms;
    char why[256];
    int rc;

    *res = NULL;
    if (i >= c->nsql || np > PGCONN_PARAMS_MAX)
        return -EINVAL;
    rc = pgconn_try(c, i, p, np, deadline, res);
    if (rc == -EPIPE && retry) {
        pgconn_why(c, PQerrorMessage(c->conn), why, sizeof(why));
        pgconn_drop(c, why);
        rc = pgconn_try(c, i, p, np, deadline, res);
    }
    if (rc == -EPIPE || rc == -ETIMEDOUT) {
        if (rc == -ETIMEDOUT)
            snprintf(why, sizeof(why), "no answer within %u ms", c->timeout_ms);
        else
            pgconn_why(c, PQerrorMessage(c->conn), why, sizeof(why));
        pgconn_drop(c, why);
        if (rc == -ETIMEDOUT)
            pgconn_backoff(c);
        return -EIO;
    }
    if (rc == 0)
        c->backoff_ms = 0; /* the server answered, whatever it said */
    if (rc == 0 && (rc = pgconn_status(*res)) < 0) {
        if (rc == -EIO)
            log_msg(LOG_LEVEL_ERROR, "database: statement %u: %s", i, PQresultErrorMessage(*res));
        PQclear(*res);
        *res = NULL;
    }
    return rc < 0 && rc != -EEXIST && rc != -ENOENT ? -EIO : rc;
}

int pgconn_exec(struct pgconn *c, const char *sql, const char *p1, const char *p2, PGresult **res,
                char *err, size_t errlen)
{
    int64_t deadline = pgconn_now_ms() + (int64_t)c->timeout_ms * PGCONN_MIGRATION_FACTOR;
    const char *params[2] = {p1, p2};
    PGresult *r = NULL;
    int rc;

    if (!c->conn) {
        snprintf(err, errlen, "not connected");
        return -EIO;
    }
    c->migration_factor = PGCONN_MIGRATION_FACTOR;
    rc = pgconn_command(c, sql, params, deadline, &r, err, errlen);
    c->migration_factor = 1;
    if (res)
        *res = r;
    else
        PQclear(r);
    return rc < 0 ? -EIO : 0;
}

int pgconn_open(struct pgconn *c, const struct store_conf *conf, const char *const *sql,
                unsigned nsql, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->timeout_ms = conf->timeout_ms ? conf->timeout_ms : STORE_TIMEOUT_MS_DEFAULT;
    c->sql = sql;
    c->nsql = nsql < PGCONN_STATEMENTS_MAX ? nsql : PGCONN_STATEMENTS_MAX;
    c->migration_factor = 1;
    c->url = strdup(conf->database);
    c->password = conf->password ? strdup(conf->password) : NULL;
    if (!c->url || (conf->password && !c->password)) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return pgconn_connect(c, pgconn_now_ms() + c->timeout_ms, err, errlen);
}

void pgconn_close(struct pgconn *c)
{
    if (c->conn)
        PQfinish(c->conn);
    c->conn = NULL;
    if (c->url)
        OPENSSL_cleanse(c->url, strlen(c->url));
    if (c->password)
        OPENSSL_cleanse(c->password, strlen(c->password));
    free(c->url);
    free(c->password);
    c->url = c->password = NULL;
}
