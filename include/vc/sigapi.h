/* vc-signal's REST API (/api/v1/...): routing, auth (API key or session + CSRF), JSON. No I/O. */
#ifndef VC_SIGAPI_H
#define VC_SIGAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/sigmsg.h"

struct hub;
struct accounts;
struct event_log;

#define SIGAPI_MAX_BODY (16 * 1024)
/* The largest answer (a report of 400 days is some 200 KiB): the limit of a response's body. */
#define SIGAPI_MAX_ANSWER (1024 * 1024)
#define SIGAPI_SESSION_COOKIE "vc_session"

/* Clinician sessions shared by several nodes (Redis), besides each node's own database. Keys are
 * the hex SHA-256 of the session token; the email names the clinician on every node. */
struct sigapi_session_store {
    int (*put)(void *ctx, const char *key, const char *email, const char *csrf, int64_t ttl_s);
    /* 1 found (email and csrf filled), 0 not found, -EAGAIN. */
    int (*get)(void *ctx, const char *key, char *email, size_t email_len, char *csrf,
               size_t csrf_len);
    void (*del)(void *ctx, const char *key);
};

/* What logins came to, counted for /metrics. */
enum sigapi_login_outcome {
    SIGAPI_LOGIN_OK,           /* a session was started */
    SIGAPI_LOGIN_WRONG,        /* 401: a wrong password or an unknown email */
    SIGAPI_LOGIN_LOCKED,       /* 429: the account failed too often lately */
    SIGAPI_LOGIN_RATE_LIMITED, /* 429: the client IP tried too often this minute */
    SIGAPI_LOGIN_BUSY,         /* 503: too many password checks already queued */
    SIGAPI_LOGIN_OUTCOMES
};

#define SIGAPI_REFUSAL_SLOTS 256
#define SIGAPI_REFUSAL_LINES_PER_MIN 120 /* auth.refused lines a minute, all sources together */

/* One source's refusals in the current minute: the first is logged, the rest counted. */
struct sigapi_refusal {
    char ip[48];
    int64_t minute;
    uint32_t suppressed;
};

/* The API's counters and the throttle of its refusal log. The caller owns it (zeroed). */
struct sigapi_stats {
    uint64_t logins[SIGAPI_LOGIN_OUTCOMES];
    struct sigapi_refusal refusals[SIGAPI_REFUSAL_SLOTS];
    int64_t minute; /* the minute lines counts */
    unsigned lines; /* auth.refused lines written in that minute */
};

struct sigapi_settings {
    const char *public_url;
    const uint8_t *api_key; /* borrowed; NULL or empty: API-key auth disabled */
    size_t api_key_len;
    unsigned session_ttl;                        /* seconds */
    struct hub *hub;                             /* borrowed */
    struct accounts *accounts;                   /* borrowed; NULL: no clinician logins */
    struct event_log *log;                       /* borrowed; may be NULL */
    const struct sigapi_session_store *sessions; /* NULL: sessions stay on this node */
    void *sessions_ctx;
    const char *const *canned; /* borrowed: ready-made messages to waiting patients */
    unsigned n_canned;
    struct sigapi_stats *stats; /* borrowed; NULL: nothing counted, every refusal logged */
    /* true: a login's password check (scrypt, ~0.1 s of CPU) is handed back to the caller in
     * resp->login to run off its thread; false: it runs inside sigapi_handle(). */
    bool defer_login;
};

/* One HTTP request as the I/O layer read it. Every field is borrowed; strings may be NULL. */
struct sigapi_request {
    const char *method;        /* "GET", "POST", "PATCH", "DELETE" */
    const char *path;          /* without the query string */
    const char *query;         /* the query string without its '?' ("from=...&to=..."), or NULL */
    const char *accept;        /* the Accept header */
    const char *authorization; /* the Authorization header */
    const char *cookie;        /* the Cookie header */
    const char *csrf;          /* the X-CSRF-Token header */
    const char *content_type;
    const uint8_t *body; /* at most SIGAPI_MAX_BODY bytes */
    size_t body_len;
    const char *ip;
    int64_t now_s;
};

struct sigapi_login; /* a login waiting for its password check */

/* The answer: a status, a body (possibly empty: JSON unless content_type says otherwise) and at
 * most one Set-Cookie value. With
 * defer_login, a login answers status 0 and login set instead: the caller runs
 * sigapi_login_run(login) on any thread, then sigapi_login_finish() back on its own. */
struct sigapi_response {
    int status;
    struct sigmsg_buf body;
    const char *content_type; /* a static string; NULL: application/json */
    char set_cookie[256];
    struct sigapi_login *login; /* owned by the caller until finished or refused */
};

/* The signed-in clinician a Cookie header (borrowed, may be NULL) names, for a WebSocket that
 * carries it (from ip, for the log of a bad cookie): 0 with out filled, or -ENOENT (no valid
 * session). */
struct hub_clinician;
int sigapi_clinician_of_cookie(const struct sigapi_settings *s, const char *cookie, const char *ip,
                               int64_t now_s, struct hub_clinician *out);

/* True if path belongs to the API (starts with /api/). */
bool sigapi_handles(const char *path);

/* Handles one request. The caller initialises resp->body with sigmsg_buf_init (a limit of
 * SIGAPI_MAX_ANSWER: smaller ones may not hold a long report) and frees it. */
void sigapi_handle(const struct sigapi_settings *s, const struct sigapi_request *req,
                   struct sigapi_response *resp);

/* The password check of a deferred login (an scrypt run): thread-safe, it touches no database,
 * no settings and no counters. */
void sigapi_login_run(struct sigapi_login *l);
/* Back on the thread of sigapi_handle(): counts the attempt against the account (or clears its
 * failures), counts the outcome, logs a failure, and with resp (initialised as for
 * sigapi_handle) answers as a synchronous login would. resp NULL: the client has gone; the
 * attempt still counts but no session is started. Frees l. */
void sigapi_login_finish(const struct sigapi_settings *s, struct sigapi_login *l,
                         struct sigapi_response *resp);
/* The deferred login could not be queued: answers 503 unavailable (resp may be NULL) and counts
 * it as busy. Frees l. */
void sigapi_login_refuse(const struct sigapi_settings *s, struct sigapi_login *l,
                         struct sigapi_response *resp);
/* Sets resp to the API's error answer {"error":{"code","message"}} with status, for errors the
 * I/O layer finds itself (framing, sizes). */
void sigapi_error_response(struct sigapi_response *resp, int status, const char *code,
                           const char *message);

#endif
