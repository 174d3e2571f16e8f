/* The REST API's internals, shared by sigapi.c (routing, auth, rooms), sigapi_session.c (logins)
 * and sigapi_clinic.c (labels, messages to waiting patients, teams). */
#ifndef VC_SIGAPI_INT_H
#define VC_SIGAPI_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "vc/accounts.h"
#include "vc/hub.h"
#include "vc/random.h"
#include "vc/sigapi.h"

#define SIGAPI_SESSION_TTL_DEFAULT (12 * 3600) /* when settings leave it 0 */

enum sigapi_route {
    SIGAPI_ROUTE_NONE,
    SIGAPI_ROUTE_ROOMS,    /* /api/v1/rooms */
    SIGAPI_ROUTE_ROOM,     /* /api/v1/rooms/{id} */
    SIGAPI_ROUTE_SESSION,  /* /api/v1/session */
    SIGAPI_ROUTE_ME,       /* /api/v1/me */
    SIGAPI_ROUTE_MESSAGES, /* /api/v1/rooms/{id}/messages */
    SIGAPI_ROUTE_TEAMS,    /* /api/v1/teams */
    SIGAPI_ROUTE_INVITES,  /* /api/v1/rooms/{id}/invites */
    SIGAPI_ROUTE_INVITE,   /* /api/v1/rooms/{id}/invites/{invite} */
    SIGAPI_ROUTE_REPORTS,  /* /api/v1/reports/consultations */
    SIGAPI_ROUTE_LINK,     /* /api/v1/link */
};

/* One request in flight: what routing and authentication learnt about it. */
struct sigapi_call {
    const struct sigapi_settings *s;
    const struct sigapi_request *req;
    struct sigapi_response *resp;
    enum sigapi_route route;
    char room_id[HUB_ROOM_ID_LEN + 1];
    char invite_id[HUB_INVITE_ID_LEN + 1];
    char owner[HUB_OWNER_MAX + 1];
    int64_t user_id;           /* > 0 when authenticated by session */
    struct hub_clinician clin; /* the session's clinician (user_id > 0) */
    const char *token;         /* the session cookie's value (borrowed from the Cookie header) */
    size_t token_len;
    char csrf[ACCOUNTS_TOKEN_LEN + 1];
};

/* Sets the error response {"error":{"code","message"}} with status. */
void sigapi_error(struct sigapi_call *c, int status, const char *code, const char *message);
/* Sends j (taken; NULL means it could not be built) with status. */
void sigapi_reply(struct sigapi_call *c, int status, json_t *j);
/* Parses a POST or PATCH body as a JSON object; NULL with the error response set. */
json_t *sigapi_body(struct sigapi_call *c);
/* The room fields every answer shares; the list adds its options. */
json_t *sigapi_room_json(const struct hub_room_info *r, bool with_opts);
/* Answers a failed lookup of one room (503 while the registry is away, else 404); false for 0. */
bool sigapi_room_failed(struct sigapi_call *c, int rc);
bool sigapi_is(const struct sigapi_call *c, const char *method);
void sigapi_set_cookie(struct sigapi_call *c, const char *token, unsigned max_age);
void sigapi_auth_failed(struct sigapi_call *c, const char *kind);
/* Authenticates by API key (when allow_key) or by session, with the CSRF token for changes. On
 * failure the error response is already set. */
bool sigapi_authenticate(struct sigapi_call *c, bool allow_key);
/* The shared store's key for a session token: hex SHA-256. */
void sigapi_session_key(const char *token, size_t len, char key[2 * TOKEN_HASH_LEN + 1]);
/* The session's clinician, or NULL for an API-key call. */
const struct hub_clinician *sigapi_who(const struct sigapi_call *c);
/* A string field of at most max_chars characters and outlen - 1 bytes, without NUL or other
 * control characters (jansson checked its UTF-8), copied to out. On a bad value sets the 400
 * (or 413 too_large) response. */
bool sigapi_opt_text(struct sigapi_call *c, const char *key, json_t *v, size_t max_chars, char *out,
                     size_t outlen);

/* Reads the body's fields, each one of keys (n of them; keys[0] is required), into vals (NULL
 * for absent ones). False after answering 400. */
bool sigapi_fields(struct sigapi_call *c, json_t *body, const char *const keys[], json_t *vals[],
                   size_t n);
/* Answers "2026-11-22T23:30:13Z" for unix milliseconds. */
void sigapi_rfc3339(char out[32], int64_t ms);
/* PUBLIC_URL/join#TOKEN into out (SIGAPI_URL_MAX bytes): false when it does not fit. */
#define SIGAPI_URL_MAX 512
bool sigapi_link(const struct sigapi_settings *s, const char *token, char *out);

/* sigapi_invite.c: POST /api/v1/rooms/{id}/invites, DELETE .../invites/{invite}. */
void sigapi_invites(struct sigapi_call *c);

/* sigapi_session.c: POST and DELETE /api/v1/session, GET /api/v1/me. */
void sigapi_session(struct sigapi_call *c);

/* sigapi_clinic.c */
/* PATCH /api/v1/rooms/{id} {"label"}. */
void sigapi_room_patch(struct sigapi_call *c);
/* POST /api/v1/rooms/{id}/messages {"text", "peer"?}. */
void sigapi_room_message(struct sigapi_call *c);
/* GET /api/v1/teams. */
void sigapi_teams(struct sigapi_call *c);
/* The team a new room goes to: the one asked for (a clinician's own; any existing one for the
 * API key), else the clinician's first. False with the error response set. */
bool sigapi_room_team(struct sigapi_call *c, const char *asked, char out[HUB_TEAM_MAX + 1]);

/* sigapi_reports.c: GET /api/v1/reports/consultations?from=&to= (JSON, or CSV by Accept). */
void sigapi_reports(struct sigapi_call *c);

#endif
