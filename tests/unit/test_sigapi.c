/* Unit tests for sigapi: REST routes, API-key and session auth with CSRF, room options, login. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "test.h"
#include "vc/accounts.h"
#include "vc/hub.h"
#include "vc/log.h"
#include "vc/reports.h"
#include "vc/sigapi.h"

#define T0 1800000000 /* 2027-01-15T08:00:00Z */
#define API_KEY "test-api-key-0123456789"
#define BEARER "Bearer " API_KEY
#define PUBLIC_URL "https://vc.example:8443/"
#define DR_EMAIL "dr@example.org"
#define DR_PW "correct horse battery"
#define RESP_LIMIT (256 * 1024) /* a report of 400 days fits */

/* What the core sends to connections; the REST tests have none, so this only counts. */
struct io_record {
    unsigned sends, closes;
};

static int io_send(void *ctx, struct hub_conn *conn, const char *buf, size_t len)
{
    (void)conn, (void)buf, (void)len;
    ((struct io_record *)ctx)->sends++;
    return 0;
}

static void io_close(void *ctx, struct hub_conn *conn, int code, const char *reason)
{
    (void)conn, (void)code, (void)reason;
    ((struct io_record *)ctx)->closes++;
}

static const struct hub_io_ops io_ops = {.send = io_send, .close = io_close};

struct fx {
    char root[64], data[96], logpath[96];
    struct io_record io;
    struct hub *hub;
    struct accounts *acc;
    struct event_log *log;
    struct sigapi_settings s;
    /* the last answer */
    int status;
    const char *ctype; /* the answer's content_type */
    char cookie[256];
    char body[RESP_LIMIT + 1];
    size_t body_len;
    json_t *json;
};

static bool fx_open(struct fx *f, bool with_user)
{
    struct hub_settings hs = {.public_url = PUBLIC_URL,
                              .resume_grace = 60,
                              .max_msg_rate = 20,
                              .max_rooms = 5,
                              .max_rooms_per_owner = 3,
                              .max_knocks_per_min = 10,
                              .queue_max_msgs = 16,
                              .queue_max_bytes = 65536};
    char err[256] = "";

    memset(f, 0, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/vc-test-sigapi-XXXXXX");
    if (!mkdtemp(f->root))
        return false;
    snprintf(f->data, sizeof(f->data), "%s/data", f->root);
    snprintf(f->logpath, sizeof(f->logpath), "%s/events.log", f->root);
    f->log = event_log_open(f->logpath);
    hs.log = f->log;
    f->hub = hub_new(&hs, &io_ops, &f->io);
    if (!f->log || !f->hub || accounts_open(f->data, &f->acc, err, sizeof(err)) < 0) {
        fprintf(stderr, "    fixture: %s\n", err);
        return false;
    }
    hub_set_clock(f->hub, 5000, (int64_t)T0 * 1000);
    f->s = (struct sigapi_settings){.public_url = PUBLIC_URL,
                                    .api_key = (const uint8_t *)API_KEY,
                                    .api_key_len = strlen(API_KEY),
                                    .session_ttl = 3600,
                                    .hub = f->hub,
                                    .accounts = f->acc,
                                    .log = f->log};
    if (with_user && accounts_user_add(f->acc, DR_EMAIL, "Dr Who", DR_PW, strlen(DR_PW)) < 0)
        return false;
    return true;
}

static void fx_close(struct fx *f)
{
    static const char *const names[] = {"data/vc.db", "data/vc.db-wal", "data/vc.db-shm",
                                        "events.log"};
    char path[160];

    json_decref(f->json);
    f->json = NULL;
    hub_free(f->hub);
    accounts_close(f->acc);
    event_log_close(f->log);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", f->root, names[i]);
        unlink(path);
    }
    rmdir(f->data);
    rmdir(f->root);
}

/* Runs one request (defaults: ip 192.0.2.7, now T0) and keeps the answer in f. */
static int run(struct fx *f, struct sigapi_request req)
{
    struct sigapi_response resp;

    if (!req.ip)
        req.ip = "192.0.2.7";
    if (!req.now_s)
        req.now_s = T0;
    memset(&resp, 0xa5, sizeof(resp));
    sigmsg_buf_init(&resp.body, RESP_LIMIT);
    sigapi_handle(&f->s, &req, &resp);
    f->status = resp.status;
    f->ctype = resp.content_type;
    snprintf(f->cookie, sizeof(f->cookie), "%s", resp.set_cookie);
    f->body_len = resp.body.len;
    if (resp.body.len)
        memcpy(f->body, resp.body.data, resp.body.len);
    f->body[resp.body.len] = '\0';
    sigmsg_buf_free(&resp.body);
    json_decref(f->json);
    f->json = f->body_len ? json_loadb(f->body, f->body_len, 0, NULL) : NULL;
    return f->status;
}

#define JSON_BODY(s)                                                                               \
    .content_type = "application/json", .body = (const uint8_t *)(s), .body_len = strlen(s)

/* Runs method on path with the API key. */
static int key_req(struct fx *f, const char *method, const char *path)
{
    return run(f, (struct sigapi_request){.method = method, .path = path, .authorization = BEARER});
}

/* Runs method on path with a session cookie and a CSRF token (or NULL). */
static int cookie_req(struct fx *f, const char *method, const char *path, const char *cookie,
                      const char *csrf)
{
    return run(
        f, (struct sigapi_request){.method = method, .path = path, .cookie = cookie, .csrf = csrf});
}

/* POSTs json to /api/v1/session, the login route. */
static int login_req(struct fx *f, const char *json)
{
    return run(
        f, (struct sigapi_request){.method = "POST", .path = "/api/v1/session", JSON_BODY(json)});
}

/* A string member of the last answer ("error.code" style paths of depth two at most). */
static const char *got_str(struct fx *f, const char *key)
{
    const char *dot = strchr(key, '.');
    json_t *v;

    if (!dot)
        return json_string_value(json_object_get(f->json, key));
    char outer[32];
    snprintf(outer, sizeof(outer), "%.*s", (int)(dot - key), key);
    v = json_object_get(f->json, outer);
    return json_string_value(json_object_get(v, dot + 1));
}

static char *read_log(struct fx *f)
{
    static char buf[16384];
    FILE *fp = fopen(f->logpath, "r");
    size_t n = 0;

    if (fp) {
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
    }
    buf[n] = '\0';
    return buf;
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* A logged-in clinician: the cookie header value and the CSRF token. */
struct login {
    char cookie[128];
    char csrf[ACCOUNTS_TOKEN_LEN + 1];
};

static bool do_login(struct fx *f, struct login *l)
{
    const char *tok, *csrf;

    if (!CHECK_INT(login_req(f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"" DR_PW "\"}"), 200))
        return false;
    tok = strstr(f->cookie, "vc_session=");
    csrf = got_str(f, "csrf");
    if (!CHECK(tok && csrf && strlen(csrf) == ACCOUNTS_TOKEN_LEN))
        return false;
    tok += strlen("vc_session=");
    snprintf(l->cookie, sizeof(l->cookie), "theme=dark; vc_session=%.*s; other=1",
             (int)strcspn(tok, ";"), tok);
    snprintf(l->csrf, sizeof(l->csrf), "%s", csrf);
    return true;
}

TEST(sigapi_handles_only_api_paths)
{
    CHECK(sigapi_handles("/api/v1/rooms"));
    CHECK(sigapi_handles("/api/anything"));
    CHECK(!sigapi_handles("/join"));
    CHECK(!sigapi_handles("/apix"));
    CHECK(!sigapi_handles(NULL));
}

TEST(sigapi_bearer_key_ok_wrong_missing)
{
    static const struct {
        const char *auth;
        int status;
    } cases[] = {
        {BEARER, 200},
        {"bearer " API_KEY, 200},
        {"Bearer  " API_KEY " ", 200},
        {"Bearer wrong-key", 401},
        {"Bearer " API_KEY "x", 401},
        {"Bearer test-api-key", 401},
        {"Bearer ", 401},
        {"Basic " API_KEY, 401},
        {API_KEY, 401},
    };
    struct fx f;
    char *log;

    if (!CHECK(fx_open(&f, false)))
        return;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(&f, (struct sigapi_request){
                    .method = "GET", .path = "/api/v1/rooms", .authorization = cases[i].auth});
        if (!CHECK_INT(f.status, cases[i].status))
            fprintf(stderr, "    case %zu\n", i);
        if (f.status == 200)
            CHECK_STR(f.body, "{\"rooms\":[]}");
        else
            CHECK_STR(got_str(&f, "error.code"), "unauthorized");
    }
    CHECK_INT(run(&f, (struct sigapi_request){.method = "GET", .path = "/api/v1/rooms"}), 401);
    CHECK_STR(got_str(&f, "error.code"), "unauthorized");
    log = read_log(&f);
    /* One auth.failed per wrong key; none for the request without credentials. */
    CHECK_INT(count_substr(log, "\"auth.failed\""), 6);
    CHECK_INT(count_substr(log, "\"kind\":\"api_key\""), 6);
    CHECK(strstr(log, "\"ip\":\"192.0.2.7\"") != NULL);
    CHECK(strstr(log, "wrong-key") == NULL);

    /* With no key configured, no bearer token works. */
    f.s.api_key = NULL;
    f.s.api_key_len = 0;
    CHECK_INT(run(&f, (struct sigapi_request){.method = "GET",
                                              .path = "/api/v1/rooms",
                                              .authorization = "Bearer "}),
              401);
    CHECK_INT(key_req(&f, "GET", "/api/v1/rooms"), 401);
    fx_close(&f);
}

TEST(sigapi_room_create_defaults_and_options)
{
    struct fx f;
    const char *host, *guest;
    json_t *r;

    if (!CHECK(fx_open(&f, false)))
        return;
    CHECK_INT(key_req(&f, "POST", "/api/v1/rooms"), 201);
    host = got_str(&f, "host_url");
    guest = got_str(&f, "guest_url");
    if (!CHECK(host && guest && got_str(&f, "id")))
        goto out;
    CHECK_INT(strlen(got_str(&f, "id")), HUB_ROOM_ID_LEN);
    CHECK(strncmp(host, "https://vc.example:8443/join#", 29) == 0);
    CHECK_INT(strlen(host), 29 + HUB_TOKEN_LEN);
    CHECK(strncmp(guest, "https://vc.example:8443/join#", 29) == 0);
    CHECK(strcmp(host, guest) != 0);
    CHECK_STR(got_str(&f, "expires_at"), "2027-01-15T09:00:00Z");
    CHECK_INT(json_object_size(f.json), 4);

    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/rooms",
                                              .authorization = BEARER,
                                              JSON_BODY("{\"ttl\":60,\"capacity\":8,"
                                                        "\"lobby\":false,\"relay_only\":true}")}),
              201);
    CHECK_STR(got_str(&f, "expires_at"), "2027-01-15T08:01:00Z");
    /* A media-type parameter is fine. */
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/rooms",
                                              .authorization = BEARER,
                                              .content_type = "Application/JSON; charset=utf-8",
                                              .body = (const uint8_t *)"{\"ttl\":86400}",
                                              .body_len = 13}),
              201);

    CHECK_INT(key_req(&f, "GET", "/api/v1/rooms"), 200);
    if (!CHECK_INT(json_array_size(json_object_get(f.json, "rooms")), 3))
        goto out;
    /* The list is newest first in the embedded hub, but do not depend on order. */
    for (size_t i = 0; i < 3; i++) {
        r = json_array_get(json_object_get(f.json, "rooms"), i);
        json_int_t cap = json_integer_value(json_object_get(r, "capacity"));
        CHECK_INT(json_object_size(r), 8);
        CHECK(json_is_string(json_object_get(r, "created_at")));
        CHECK_INT(json_integer_value(json_object_get(r, "participants")), 0);
        CHECK_INT(json_integer_value(json_object_get(r, "waiting")), 0);
        CHECK(cap == 2 || cap == 8);
        CHECK(json_is_true(json_object_get(r, "lobby")) == (cap == 2));
        CHECK(json_is_true(json_object_get(r, "relay_only")) == (cap == 8));
        CHECK(json_object_get(r, "host_url") == NULL);
    }
out:
    fx_close(&f);
}

TEST(sigapi_room_create_rejects_each_bad_field)
{
    static const struct {
        const char *body, *needle;
    } cases[] = {
        {"{\"ttl\":0}", "ttl"},
        {"{\"ttl\":86401}", "ttl"},
        {"{\"ttl\":\"60\"}", "ttl"},
        {"{\"ttl\":60.0}", "ttl"},
        {"{\"ttl\":-5}", "ttl"},
        {"{\"capacity\":1}", "capacity"},
        {"{\"capacity\":9}", "capacity"},
        {"{\"capacity\":null}", "capacity"},
        {"{\"lobby\":1}", "lobby"},
        {"{\"lobby\":\"true\"}", "lobby"},
        {"{\"relay_only\":\"yes\"}", "relay_only"},
        {"{\"colour\":\"red\"}", "colour"},
        {"{\"language\":\"welsh\"}", "language"},
        {"{\"language\":\"cy_GB\"}", "language"},
        {"{\"language\":\"\"}", "language"},
        {"{\"language\":7}", "language"},
        {"{\"ttl\":60,\"ttl\":70}", "object"},
        {"[1,2]", "object"},
        {"not json", "object"},
        {"{\"ttl\":60", "object"},
    };
    struct fx f;

    if (!CHECK(fx_open(&f, false)))
        return;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(&f, (struct sigapi_request){.method = "POST",
                                        .path = "/api/v1/rooms",
                                        .authorization = BEARER,
                                        JSON_BODY(cases[i].body)});
        if (!CHECK_INT(f.status, 400) || !CHECK_STR(got_str(&f, "error.code"), "bad_request") ||
            !CHECK(got_str(&f, "error.message") &&
                   strstr(got_str(&f, "error.message"), cases[i].needle)))
            fprintf(stderr, "    case %zu: %s\n", i, f.body);
    }
    CHECK_INT(hub_room_count(f.hub), 0);
    fx_close(&f);
}

TEST(sigapi_rejects_wrong_media_type_path_and_method)
{
    static const struct {
        const char *method, *path;
        int status;
        const char *code;
    } cases[] = {
        {"GET", "/api/v1/nope", 404, "not_found"},
        {"GET", "/api/v2/rooms", 404, "not_found"},
        {"GET", "/api/v1/rooms/", 404, "not_found"},
        {"GET", "/api/v1/rooms/ZZZ", 404, "not_found"},
        {"GET", "/api/v1/rooms/0123456789abcdef/x", 404, "not_found"},
        {"GET", "/api/v1/rooms/0123456789abcdef0", 404, "not_found"},
        {"GET", "/api/v1/rooms/0123456789abcdef", 404, "not_found"},
        {"PUT", "/api/v1/rooms", 405, "method_not_allowed"},
        {"DELETE", "/api/v1/rooms", 405, "method_not_allowed"},
        {"POST", "/api/v1/rooms/0123456789abcdef", 405, "method_not_allowed"},
        {"GET", "/api/v1/session", 405, "method_not_allowed"},
        {"POST", "/api/v1/me", 405, "method_not_allowed"},
        {NULL, "/api/v1/rooms", 405, "method_not_allowed"},
    };
    struct fx f;

    if (!CHECK(fx_open(&f, false)))
        return;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        key_req(&f, cases[i].method, cases[i].path);
        if (!CHECK_INT(f.status, cases[i].status) ||
            !CHECK_STR(got_str(&f, "error.code"), cases[i].code))
            fprintf(stderr, "    case %zu\n", i);
    }
    /* A body that is not declared JSON: 415, whether as text/plain or undeclared; too long: 413. */
    static const struct {
        const char *path, *authorization, *content_type;
        size_t body_len;
        int status;
        const char *code; /* checked when set */
    } bodies[] = {
        {"/api/v1/rooms", BEARER, "text/plain", 2, 415, "unsupported_media_type"},
        {"/api/v1/rooms", BEARER, "application/jsonx", 2, 415, NULL},
        {"/api/v1/session", NULL, NULL, 2, 415, NULL},
        {"/api/v1/rooms", BEARER, "application/json", SIGAPI_MAX_BODY + 1, 413, NULL},
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        run(&f, (struct sigapi_request){.method = "POST",
                                        .path = bodies[i].path,
                                        .authorization = bodies[i].authorization,
                                        .content_type = bodies[i].content_type,
                                        .body = (const uint8_t *)"{}",
                                        .body_len = bodies[i].body_len});
        if (!CHECK_INT(f.status, bodies[i].status) ||
            (bodies[i].code && !CHECK_STR(got_str(&f, "error.code"), bodies[i].code)))
            fprintf(stderr, "    body case %zu\n", i);
    }
    CHECK_INT(hub_room_count(f.hub), 0);
    fx_close(&f);
}

TEST(sigapi_session_needs_csrf_for_changes_but_bearer_does_not)
{
    struct fx f;
    struct login l;
    char id[HUB_ROOM_ID_LEN + 1], path[64];

    if (!CHECK(fx_open(&f, true)) || !do_login(&f, &l))
        goto out;
    CHECK(strstr(f.cookie, "; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=3600") != NULL);
    CHECK_STR(got_str(&f, "email"), DR_EMAIL);
    CHECK_STR(got_str(&f, "name"), "Dr Who");

    CHECK_INT(cookie_req(&f, "GET", "/api/v1/rooms", l.cookie, NULL), 200);
    CHECK_INT(cookie_req(&f, "GET", "/api/v1/me", l.cookie, NULL), 200);
    CHECK_STR(got_str(&f, "csrf"), l.csrf);
    CHECK_STR(got_str(&f, "email"), DR_EMAIL);

    /* POST with the session: CSRF token missing, wrong, truncated, then right. */
    CHECK_INT(cookie_req(&f, "POST", "/api/v1/rooms", l.cookie, NULL), 403);
    CHECK_STR(got_str(&f, "error.code"), "forbidden");
    CHECK_INT(cookie_req(&f, "POST", "/api/v1/rooms", l.cookie,
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
              403);
    l.csrf[ACCOUNTS_TOKEN_LEN - 1] = '\0';
    CHECK_INT(cookie_req(&f, "POST", "/api/v1/rooms", l.cookie, l.csrf), 403);
    CHECK_INT(hub_room_count(f.hub), 0);
    CHECK_INT(cookie_req(&f, "GET", "/api/v1/me", l.cookie, NULL), 200);
    snprintf(l.csrf, sizeof(l.csrf), "%s", got_str(&f, "csrf"));
    CHECK_INT(cookie_req(&f, "POST", "/api/v1/rooms", l.cookie, l.csrf), 201);
    snprintf(id, sizeof(id), "%s", got_str(&f, "id") ? got_str(&f, "id") : "");
    snprintf(path, sizeof(path), "/api/v1/rooms/%s", id);

    /* DELETE likewise. */
    CHECK_INT(cookie_req(&f, "DELETE", path, l.cookie, NULL), 403);
    CHECK_INT(cookie_req(&f, "GET", path, l.cookie, NULL), 200);
    CHECK_INT(cookie_req(&f, "DELETE", path, l.cookie, l.csrf), 204);
    CHECK_INT(f.body_len, 0);
    CHECK_INT(hub_room_count(f.hub), 0);

    /* The API key needs no CSRF token, and a session's token does not make a bad key pass. */
    CHECK_INT(key_req(&f, "POST", "/api/v1/rooms"), 201);
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/rooms",
                                              .authorization = "Bearer nope",
                                              .cookie = l.cookie,
                                              .csrf = l.csrf}),
              401);
out:
    fx_close(&f);
}

TEST(sigapi_owners_see_only_their_rooms)
{
    struct fx f;
    struct login l;
    char key_room[64], user_room[64];
    json_t *rooms;

    if (!CHECK(fx_open(&f, true)) || !do_login(&f, &l))
        goto out;
    CHECK_INT(key_req(&f, "POST", "/api/v1/rooms"), 201);
    snprintf(key_room, sizeof(key_room), "/api/v1/rooms/%s", got_str(&f, "id"));
    CHECK_INT(cookie_req(&f, "POST", "/api/v1/rooms", l.cookie, l.csrf), 201);
    snprintf(user_room, sizeof(user_room), "/api/v1/rooms/%s", got_str(&f, "id"));

    CHECK_INT(key_req(&f, "GET", "/api/v1/rooms"), 200);
    rooms = json_object_get(f.json, "rooms");
    CHECK_INT(json_array_size(rooms), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(rooms, 0), "id")), key_room + 14);
    CHECK_INT(cookie_req(&f, "GET", "/api/v1/rooms", l.cookie, NULL), 200);
    rooms = json_object_get(f.json, "rooms");
    CHECK_INT(json_array_size(rooms), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(rooms, 0), "id")), user_room + 14);

    /* Another owner's room looks exactly like a missing one. */
    CHECK_INT(key_req(&f, "GET", user_room), 404);
    CHECK_STR(got_str(&f, "error.code"), "not_found");
    CHECK_INT(key_req(&f, "DELETE", user_room), 404);
    CHECK_INT(cookie_req(&f, "DELETE", key_room, l.cookie, l.csrf), 404);
    CHECK_INT(hub_room_count(f.hub), 2);

    CHECK_INT(key_req(&f, "GET", key_room), 200);
    CHECK_STR(got_str(&f, "id"), key_room + 14);
    CHECK_STR(got_str(&f, "created_at"), "2027-01-15T08:00:00Z");
    CHECK_STR(got_str(&f, "expires_at"), "2027-01-15T09:00:00Z");
    CHECK_INT(json_object_size(f.json), 5);
    CHECK_INT(key_req(&f, "DELETE", key_room), 204);
    CHECK_INT(key_req(&f, "GET", key_room), 404);
    CHECK_INT(hub_room_count(f.hub), 1);
out:
    fx_close(&f);
}

TEST(sigapi_room_quota_and_capacity)
{
    struct fx f;
    struct login l;

    if (!CHECK(fx_open(&f, true)) || !do_login(&f, &l))
        goto out;
    /* Per owner 3, in total 5 (see fx_open). */
    for (int i = 0; i < 3; i++)
        CHECK_INT(key_req(&f, "POST", "/api/v1/rooms"), 201);
    CHECK_INT(key_req(&f, "POST", "/api/v1/rooms"), 429);
    CHECK_STR(got_str(&f, "error.code"), "quota_exceeded");
    for (int i = 0; i < 2; i++)
        CHECK_INT(cookie_req(&f, "POST", "/api/v1/rooms", l.cookie, l.csrf), 201);
    CHECK_INT(cookie_req(&f, "POST", "/api/v1/rooms", l.cookie, l.csrf), 503);
out:
    fx_close(&f);
}

TEST(sigapi_login_failures_look_alike_and_lock_out)
{
    struct fx f;
    char unknown_msg[128] = "", *log;

    if (!CHECK(fx_open(&f, true)))
        return;
    CHECK_INT(login_req(&f, "{\"email\":\"nobody@example.org\",\"password\":\"" DR_PW "\"}"), 401);
    snprintf(unknown_msg, sizeof(unknown_msg), "%.100s", f.body);
    CHECK(f.cookie[0] == '\0');
    for (int i = 0; i < 5; i++) {
        CHECK_INT(login_req(&f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"wrong password\"}"),
                  401);
        CHECK_STR(f.body, unknown_msg);
    }
    /* Locked now, even with the right password. */
    CHECK_INT(login_req(&f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"" DR_PW "\"}"), 429);
    CHECK_STR(got_str(&f, "error.code"), "too_many_requests");
    CHECK(f.cookie[0] == '\0');

    /* Bad bodies are 400, not login failures. */
    CHECK_INT(login_req(&f, "{\"email\":\"" DR_EMAIL "\"}"), 400);
    CHECK_INT(login_req(&f, "{\"email\":\"a@b.c\",\"password\":\"x\",\"admin\":true}"), 400);
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST", .path = "/api/v1/session"}), 400);

    log = read_log(&f);
    CHECK_INT(count_substr(log, "\"kind\":\"login\""), 6);
    CHECK(strstr(log, "example.org") == NULL);
    CHECK(strstr(log, "wrong password") == NULL);
    CHECK(strstr(log, "horse") == NULL);
    fx_close(&f);
}

/* A deferred login: sigapi_handle hands it back, the test runs and finishes it. */
static int login_deferred(struct fx *f, const char *json, bool client_gone, int64_t now)
{
    struct sigapi_request req = {.method = "POST",
                                 .path = "/api/v1/session",
                                 JSON_BODY(json),
                                 .ip = "192.0.2.7",
                                 .now_s = now};
    struct sigapi_response resp;

    memset(&resp, 0, sizeof(resp));
    sigmsg_buf_init(&resp.body, RESP_LIMIT);
    sigapi_handle(&f->s, &req, &resp);
    if (resp.login) {
        if (!CHECK_INT(resp.status, 0))
            return -1;
        sigapi_login_run(resp.login);
        sigapi_login_finish(&f->s, resp.login, client_gone ? NULL : &resp);
    }
    f->status = client_gone ? 0 : resp.status;
    snprintf(f->cookie, sizeof(f->cookie), "%s", resp.set_cookie);
    sigmsg_buf_free(&resp.body);
    return f->status;
}

TEST(sigapi_deferred_login_answers_after_its_check_and_counts_when_the_client_has_gone)
{
    struct sigapi_stats stats;
    struct fx f;

    memset(&stats, 0, sizeof(stats));
    if (!CHECK(fx_open(&f, true)))
        return;
    f.s.defer_login = true;
    f.s.stats = &stats;
    CHECK_INT(
        login_deferred(&f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"" DR_PW "\"}", false, T0),
        200);
    CHECK(strncmp(f.cookie, "vc_session=", 11) == 0);
    /* Five failures whose clients hung up before the answer still lock the account. */
    for (int i = 0; i < 5; i++)
        login_deferred(&f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"wrong password\"}", true,
                       T0);
    CHECK_INT(
        login_deferred(&f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"" DR_PW "\"}", false, T0),
        429);
    CHECK_INT(stats.logins[SIGAPI_LOGIN_OK], 1);
    CHECK_INT(stats.logins[SIGAPI_LOGIN_WRONG], 5);
    CHECK_INT(stats.logins[SIGAPI_LOGIN_LOCKED], 1);
    fx_close(&f);
}

TEST(sigapi_refused_login_busy_is_503_unavailable)
{
    struct sigapi_request req = {.method = "POST",
                                 .path = "/api/v1/session",
                                 JSON_BODY("{\"email\":\"" DR_EMAIL "\",\"password\":\"x\"}"),
                                 .ip = "192.0.2.7",
                                 .now_s = T0};
    struct sigapi_stats stats;
    struct sigapi_response resp;
    struct fx f;

    memset(&stats, 0, sizeof(stats));
    memset(&resp, 0, sizeof(resp));
    if (!CHECK(fx_open(&f, true)))
        return;
    f.s.defer_login = true;
    f.s.stats = &stats;
    sigmsg_buf_init(&resp.body, RESP_LIMIT);
    sigapi_handle(&f.s, &req, &resp);
    if (CHECK(resp.login != NULL))
        sigapi_login_refuse(&f.s, resp.login, &resp);
    CHECK_INT(resp.status, 503);
    CHECK(resp.login == NULL);
    CHECK(strstr(resp.body.data, "\"unavailable\"") != NULL);
    CHECK_INT(stats.logins[SIGAPI_LOGIN_BUSY], 1);
    sigmsg_buf_free(&resp.body);
    fx_close(&f);
}

TEST(sigapi_refusals_are_logged_once_a_minute_per_source_without_the_email)
{
    struct sigapi_stats stats;
    struct fx f;
    char *log;

    memset(&stats, 0, sizeof(stats));
    if (!CHECK(fx_open(&f, true)))
        return;
    f.s.stats = &stats;
    for (int i = 0; i < 5; i++)
        CHECK_INT(login_req(&f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"wrong password\"}"),
                  401);
    /* Three refusals in one minute from one source: one line. */
    for (int i = 0; i < 3; i++)
        CHECK_INT(login_req(&f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"" DR_PW "\"}"), 429);
    /* Another source is logged on its own; the first again in the next minute, with its count. */
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/session",
                                              JSON_BODY("{\"email\":\"" DR_EMAIL
                                                        "\",\"password\":\"x\"}"),
                                              .ip = "192.0.2.8"}),
              429);
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/session",
                                              JSON_BODY("{\"email\":\"" DR_EMAIL
                                                        "\",\"password\":\"x\"}"),
                                              .now_s = T0 + 60}),
              429);
    log = read_log(&f);
    CHECK_INT(count_substr(log, "\"event\":\"auth.refused\""), 3);
    CHECK_INT(count_substr(log, "\"reason\":\"locked\",\"ip\":\"192.0.2.7\",\"suppressed\":0"), 1);
    CHECK_INT(count_substr(log, "\"reason\":\"locked\",\"ip\":\"192.0.2.8\",\"suppressed\":0"), 1);
    CHECK_INT(count_substr(log, "\"reason\":\"locked\",\"ip\":\"192.0.2.7\",\"suppressed\":2"), 1);
    CHECK(strstr(log, "example.org") == NULL);
    CHECK(strstr(log, "horse") == NULL);
    CHECK_INT(stats.logins[SIGAPI_LOGIN_LOCKED], 5);
    fx_close(&f);
}

TEST(sigapi_logout_ends_the_session_and_clears_the_cookie)
{
    struct fx f;
    struct login l;
    char *log;

    if (!CHECK(fx_open(&f, true)) || !do_login(&f, &l))
        goto out;
    /* Logout is a change too: the CSRF token is required. */
    CHECK_INT(cookie_req(&f, "DELETE", "/api/v1/session", l.cookie, NULL), 403);
    CHECK_INT(key_req(&f, "DELETE", "/api/v1/session"), 401);
    CHECK_INT(cookie_req(&f, "DELETE", "/api/v1/session", l.cookie, l.csrf), 204);
    CHECK_INT(f.body_len, 0);
    CHECK(strncmp(f.cookie, "vc_session=;", 12) == 0);
    CHECK(strstr(f.cookie, "Max-Age=0") != NULL);

    /* The old cookie is dead everywhere. */
    CHECK_INT(cookie_req(&f, "GET", "/api/v1/me", l.cookie, NULL), 401);
    CHECK(strstr(f.cookie, "Max-Age=0") != NULL);
    CHECK_INT(cookie_req(&f, "GET", "/api/v1/rooms", l.cookie, NULL), 401);
    CHECK_INT(run(&f, (struct sigapi_request){.method = "GET", .path = "/api/v1/me"}), 401);
    log = read_log(&f);
    CHECK_INT(count_substr(log, "\"kind\":\"session\""), 2);
    CHECK(strstr(log, l.cookie + strlen("theme=dark; vc_session=")) == NULL);

    /* An expired session is refused too. */
    if (!do_login(&f, &l))
        goto out;
    CHECK_INT(run(&f, (struct sigapi_request){.method = "GET",
                                              .path = "/api/v1/me",
                                              .cookie = l.cookie,
                                              .now_s = T0 + 3599}),
              200);
    CHECK_INT(run(&f, (struct sigapi_request){.method = "GET",
                                              .path = "/api/v1/me",
                                              .cookie = l.cookie,
                                              .now_s = T0 + 3600}),
              401);
out:
    fx_close(&f);
}

TEST(sigapi_without_accounts_refuses_logins)
{
    struct fx f;

    if (!CHECK(fx_open(&f, false)))
        return;
    f.s.accounts = NULL;
    CHECK_INT(login_req(&f, "{\"email\":\"" DR_EMAIL "\",\"password\":\"" DR_PW "\"}"), 404);
    CHECK_INT(cookie_req(&f, "GET", "/api/v1/rooms", "vc_session=abc", NULL), 401);
    CHECK_INT(key_req(&f, "GET", "/api/v1/rooms"), 200);
    fx_close(&f);
}

/* POSTs json to path with the API key. */
static int key_post(struct fx *f, const char *path, const char *json)
{
    return run(f, (struct sigapi_request){
                      .method = "POST", .path = path, .authorization = BEARER, JSON_BODY(json)});
}

TEST(sigapi_invites_make_guest_links_and_revoke_them)
{
    struct fx f;
    char path[128], del[160], id[32];

    if (!CHECK(fx_open(&f, false)))
        goto out;
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/rooms",
                                              .authorization = BEARER,
                                              JSON_BODY("{\"capacity\":3,\"lobby\":false}")}),
              201);
    snprintf(path, sizeof(path), "/api/v1/rooms/%s/invites", got_str(&f, "id"));
    CHECK_INT(key_post(&f, path, "{\"role\":\"guest\",\"name\":\"Interpreter\"}"), 201);
    CHECK(strncmp(got_str(&f, "url"), "https://vc.example:8443/join#", 29) == 0);
    CHECK_INT(strlen(got_str(&f, "url")), 29 + HUB_TOKEN_LEN);
    CHECK_STR(got_str(&f, "role"), "guest");
    CHECK_STR(got_str(&f, "name"), "Interpreter");
    CHECK_STR(got_str(&f, "expires_at"), "2027-01-15T09:00:00Z");
    snprintf(id, sizeof(id), "%s", got_str(&f, "id"));
    CHECK_INT(strlen(id), HUB_INVITE_ID_LEN);
    /* role is required and only "guest"; a name is checked. */
    CHECK_INT(key_post(&f, path, "{}"), 400);
    CHECK_INT(key_post(&f, path, "{\"role\":\"host\"}"), 400);
    CHECK_STR(got_str(&f, "error.code"), "bad_request");
    CHECK_INT(key_post(&f, path, "{\"role\":\"guest\",\"extra\":1}"), 400);
    CHECK_INT(key_post(&f, path, "{\"role\":\"guest\",\"name\":\"a\\nb\"}"), 400);
    CHECK_INT(
        key_post(&f, path,
                 "{\"role\":\"guest\",\"name\":\"0123456789012345678901234567890123456789x\"}"),
        413);
    CHECK_INT(key_post(&f, "/api/v1/rooms/00000000000000ff/invites", "{\"role\":\"guest\"}"), 404);
    CHECK_INT(key_req(&f, "GET", path), 405);
    snprintf(del, sizeof(del), "%s/%s", path, id);
    CHECK_INT(key_req(&f, "DELETE", del), 204);
    CHECK_INT(key_req(&f, "DELETE", del), 404);
    CHECK_STR(got_str(&f, "error.code"), "not_found");
    snprintf(del, sizeof(del), "%s/xyz", path);
    CHECK_INT(key_req(&f, "DELETE", del), 404);
    char *log = read_log(&f);
    CHECK(strstr(log, "\"event\":\"invite.created\"") != NULL);
    CHECK(strstr(log, "\"reason\":\"revoked\"") != NULL);
    CHECK(strstr(log, "Interpreter") == NULL);
out:
    fx_close(&f);
}

TEST(sigapi_an_invite_to_a_full_room_is_409_and_past_eight_429)
{
    struct fx f;
    struct hub_client_info info = {"192.0.2.9", "chrome", "130", "linux"};
    char path[128], frame[160];
    const char *urls[2] = {"host_url", "guest_url"};

    if (!CHECK(fx_open(&f, false)))
        goto out;
    CHECK_INT(key_post(&f, "/api/v1/rooms", "{\"capacity\":2,\"lobby\":false}"), 201);
    snprintf(path, sizeof(path), "/api/v1/rooms/%s/invites", got_str(&f, "id"));
    struct hub_session *s[2];
    for (int i = 0; i < 2; i++) { /* the host and the patient take both places */
        snprintf(frame, sizeof(frame), "{\"type\":\"join\",\"token\":\"%s\"}",
                 strchr(got_str(&f, urls[i]), '#') + 1);
        s[i] = hub_session_open(f.hub, NULL, &info);
        hub_session_message(f.hub, s[i], (const uint8_t *)frame, strlen(frame));
    }
    CHECK_INT(key_post(&f, path, "{\"role\":\"guest\"}"), 409);
    CHECK_STR(got_str(&f, "error.code"), "room_full");
    hub_session_message(f.hub, s[1], (const uint8_t *)"{\"type\":\"leave\"}", 16);
    for (int i = 0; i < 8; i++)
        CHECK_INT(key_post(&f, path, "{\"role\":\"guest\"}"), 201);
    CHECK_INT(key_post(&f, path, "{\"role\":\"guest\"}"), 429);
    CHECK_STR(got_str(&f, "error.code"), "quota_exceeded");
    for (int i = 0; i < 2; i++)
        hub_session_closed(f.hub, s[i]);
out:
    fx_close(&f);
}

/* GETs the report of query with the API key (or cookie), Accept accept (NULL: none). */
static int report_req(struct fx *f, const char *query, const char *cookie, const char *accept)
{
    return run(f, (struct sigapi_request){.method = "GET",
                                          .path = "/api/v1/reports/consultations",
                                          .query = query,
                                          .accept = accept,
                                          .authorization = cookie ? NULL : BEARER,
                                          .cookie = cookie});
}

TEST(sigapi_reports_refuse_a_bad_range)
{
    static const char *const bad[] = {NULL,
                                      "",
                                      "from=2027-01-15",
                                      "to=2027-01-15",
                                      "from=2027-02-30&to=2027-03-01",
                                      "from=2027-01-16&to=2027-01-15",
                                      "from=2026-01-01&to=2027-02-05",
                                      "from=2027-1-15&to=2027-01-15",
                                      "from=2027-01-15&to=2027-01-15&x=1",
                                      "from=2027-01-15&from=2027-01-15&to=2027-01-16",
                                      "from&to=2027-01-15"};
    struct fx f;

    if (!CHECK(fx_open(&f, false)))
        return;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (!CHECK_INT(report_req(&f, bad[i], NULL, NULL), 400))
            fprintf(stderr, "    query %s\n", bad[i] ? bad[i] : "(none)");
        CHECK_STR(got_str(&f, "error.code"), "bad_request");
    }
    /* 400 days exactly is a report. */
    CHECK_INT(report_req(&f, "from=2026-01-11&to=2027-02-14", NULL, NULL), 200);
    CHECK_INT(json_array_size(json_object_get(f.json, "days")), 400);
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/reports/consultations",
                                              .authorization = BEARER}),
              405);
    CHECK_INT(report_req(&f, "from=2027-01-15&to=2027-01-15", "vc_session=stale", NULL), 401);
    fx_close(&f);
}

TEST(sigapi_reports_answer_json_or_csv_in_the_callers_scope)
{
    char today[REPORTS_DATE_LEN + 1], query[64];
    struct reports *r = NULL;
    struct login l;
    struct fx f;

    if (!CHECK(fx_open(&f, true)) || !CHECK_INT(reports_new(f.acc, 400, T0, &r), 0) ||
        !CHECK_INT(event_log_add_tap(f.log, reports_tap, r), 0) || !do_login(&f, &l))
        goto out;
    /* The log stamps real time: the report is today's. */
    reports_day_format(reports_day_of((int64_t)time(NULL)), today);
    snprintf(query, sizeof(query), "from=%s&to=%s", today, today);
    CHECK_INT(key_req(&f, "POST", "/api/v1/rooms"), 201); /* the API key's room, no team */
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/rooms",
                                              .cookie = l.cookie,
                                              .csrf = l.csrf}),
              201);
    hub_free(f.hub); /* every room ends: two consultations, nobody came */
    f.hub = NULL;
    f.s.hub = NULL;
    CHECK_INT(report_req(&f, query, NULL, "application/json"), 200);
    CHECK(f.ctype == NULL);
    json_t *day = json_array_get(json_object_get(f.json, "days"), 0);
    CHECK_STR(json_string_value(json_object_get(day, "date")), today);
    CHECK_INT(json_integer_value(json_object_get(day, "consultations")), 2);
    CHECK_INT(json_integer_value(json_object_get(day, "no_shows")), 2);
    CHECK_INT(report_req(&f, query, l.cookie, NULL), 200); /* a clinician: their own room */
    day = json_array_get(json_object_get(f.json, "days"), 0);
    CHECK_INT(json_integer_value(json_object_get(day, "consultations")), 1);
    CHECK_INT(report_req(&f, query, NULL, "text/csv, application/json;q=0.5"), 200);
    CHECK_STR(f.ctype, "text/csv; charset=utf-8");
    CHECK(strncmp(f.body, "date,consultations,completed,no_shows,", 38) == 0);
    CHECK(strstr(f.body, "\r\n") != NULL && strstr(f.body, today) != NULL);
    CHECK(strstr(f.body, ",2,0,2,") != NULL);
out:
    if (f.log)
        event_log_set_tap(f.log, NULL, NULL);
    reports_free(r);
    fx_close(&f);
}

/* POSTs body to /api/v1/link without credentials. */
static int link_req(struct fx *f, const char *body)
{
    return run(f,
               (struct sigapi_request){.method = "POST", .path = "/api/v1/link", JSON_BODY(body)});
}

TEST(sigapi_room_language_reaches_the_link_page_without_credentials)
{
    struct fx f;
    char guest[HUB_TOKEN_LEN + 1], host[HUB_TOKEN_LEN + 1], plain[HUB_TOKEN_LEN + 1], id[32];
    char body[128], path[64];

    if (!CHECK(fx_open(&f, false)))
        return;
    CHECK_INT(run(&f, (struct sigapi_request){.method = "POST",
                                              .path = "/api/v1/rooms",
                                              .authorization = BEARER,
                                              JSON_BODY("{\"language\":\"cy\"}")}),
              201);
    if (!CHECK_STR(got_str(&f, "language"), "cy") || !CHECK(got_str(&f, "guest_url")))
        goto out;
    snprintf(guest, sizeof(guest), "%s", strchr(got_str(&f, "guest_url"), '#') + 1);
    snprintf(host, sizeof(host), "%s", strchr(got_str(&f, "host_url"), '#') + 1);
    snprintf(id, sizeof(id), "%s", got_str(&f, "id"));
    snprintf(path, sizeof(path), "/api/v1/rooms/%s", id);
    CHECK_INT(key_req(&f, "GET", path), 200);
    CHECK_STR(got_str(&f, "language"), "cy");
    CHECK_INT(key_req(&f, "POST", "/api/v1/rooms"), 201);
    CHECK(json_object_get(f.json, "language") == NULL);
    snprintf(plain, sizeof(plain), "%s", strchr(got_str(&f, "guest_url"), '#') + 1);

    /* The page asks with the token alone; either token of the room answers the same. */
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", guest);
    CHECK_INT(link_req(&f, body), 200);
    CHECK_STR(f.body, "{\"language\":\"cy\"}");
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", host);
    CHECK_INT(link_req(&f, body), 200);
    CHECK_STR(got_str(&f, "language"), "cy");
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", plain);
    CHECK_INT(link_req(&f, body), 200);
    CHECK_STR(f.body, "{}");
    /* Unknown, malformed and expired links look alike. */
    CHECK_INT(link_req(&f, "{\"token\":\"00000000000000000000000000000000\"}"), 404);
    CHECK_STR(got_str(&f, "error.code"), "not_found");
    CHECK_INT(link_req(&f, "{\"token\":\"short\"}"), 404);
    CHECK_INT(link_req(&f, "{\"token\":7}"), 400);
    CHECK_INT(link_req(&f, "{}"), 400);
    CHECK_INT(link_req(&f, "{\"token\":\"x\",\"other\":1}"), 400);
    CHECK_INT(run(&f, (struct sigapi_request){.method = "GET", .path = "/api/v1/link"}), 405);
    hub_set_clock(f.hub, 5000 + 3601 * 1000, ((int64_t)T0 + 3601) * 1000);
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", guest);
    CHECK_INT(link_req(&f, body), 404);
    /* Nothing about the lookups reaches the log: neither the token nor the room. */
    CHECK(strstr(read_log(&f), guest) == NULL);
out:
    fx_close(&f);
}
