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
};

/* One HTTP request as the I/O layer read it. Every field is borrowed; strings may be NULL. */
struct sigapi_request {
    const char *method;        /* "GET", "POST", "PATCH", "DELETE" */
    const char *path;          /* without the query string */
    const char *authorization; /* the Authorization header */
    const char *cookie;        /* the Cookie header */
    const char *csrf;          /* the X-CSRF-Token header */
    const char *content_type;
    const uint8_t *body; /* at most SIGAPI_MAX_BODY bytes */
    size_t body_len;
    const char *ip;
    int64_t now_s;
};

/* The answer: a status, a JSON body (possibly empty) and at most one Set-Cookie value. */
struct sigapi_response {
    int status;
    struct sigmsg_buf body;
    char set_cookie[256];
};

/* The signed-in clinician a Cookie header (borrowed, may be NULL) names, for a WebSocket that
 * carries it (from ip, for the log of a bad cookie): 0 with out filled, or -ENOENT (no valid
 * session). */
struct hub_clinician;
int sigapi_clinician_of_cookie(const struct sigapi_settings *s, const char *cookie, const char *ip,
                               int64_t now_s, struct hub_clinician *out);

/* True if path belongs to the API (starts with /api/). */
bool sigapi_handles(const char *path);

/* Handles one request. The caller initialises resp->body with sigmsg_buf_init and frees it. */
void sigapi_handle(const struct sigapi_settings *s, const struct sigapi_request *req,
                   struct sigapi_response *resp);

#endif
