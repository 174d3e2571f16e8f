/* The signalling core's test fixture: a hub with fake connections and the clients' helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub_fixture.h"
#include "test.h"

static int fake_send(void *ctx, struct hub_conn *c, const char *buf, size_t len)
{
    (void)ctx;
    if (c->refuse)
        return -ENOBUFS;
    if (c->nframes == MAX_FRAMES) {
        free(c->frames[0]);
        memmove(c->frames, c->frames + 1, sizeof(c->frames[0]) * (MAX_FRAMES - 1));
        c->nframes--;
    }
    c->frames[c->nframes++] = strndup(buf, len);
    return 0;
}

static void fake_close(void *ctx, struct hub_conn *c, int code, const char *reason)
{
    (void)ctx;
    (void)reason;
    c->close_code = code;
}

const struct hub_io_ops fake_ops = {fake_send, fake_close};
static const char *const ice[] = {"stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp"};

void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->log_path, sizeof(w->log_path), "/tmp/vc-test-hub-%d.log", (int)getpid());
    unlink(w->log_path);
    w->log = event_log_open(w->log_path);
    w->set.public_url = "https://localhost:8443";
    w->set.turn_secret = (const uint8_t *)"turn-secret";
    w->set.turn_secret_len = 11;
    w->set.ice_servers = ice;
    w->set.n_ice_servers = 2;
    w->set.turn_ttl = 4 * 3600;
    w->set.turn_margin = 3600;
    w->set.resume_grace = 60;
    w->set.max_msg_rate = 200;
    w->set.max_rooms = 100;
    w->set.max_rooms_per_owner = 3;
    w->set.max_knocks_per_min = 5;
    w->set.max_lobby_msgs_per_min = 10;
    w->set.queue_max_msgs = 4;
    w->set.queue_max_bytes = 4096;
    w->set.log = w->log;
    w->mono = 5000;
    w->unix_ms = 1900000000000LL;
    w->h = hub_new(&w->set, &fake_ops, w);
    hub_set_clock(w->h, w->mono, w->unix_ms);
}

void world_free(struct world *w)
{
    hub_free(w->h);
    for (unsigned i = 0; i < w->nconns; i++)
        for (unsigned k = 0; k < w->conns[i]->nframes; k++)
            free(w->conns[i]->frames[k]);
    event_log_close(w->log);
    unlink(w->log_path);
}

void advance(struct world *w, uint64_t ms)
{
    w->mono += ms;
    w->unix_ms += (int64_t)ms;
    hub_set_clock(w->h, w->mono, w->unix_ms);
    hub_tick(w->h);
}

void client_open(struct world *w, struct client *c)
{
    struct hub_client_info info = {"192.0.2.50", "firefox", "128.0", "linux"};

    memset(c, 0, sizeof(*c));
    c->s = hub_session_open(w->h, &c->conn, &info);
    if (w->nconns < sizeof(w->conns) / sizeof(w->conns[0]))
        w->conns[w->nconns++] = &c->conn;
}

void client_drop(struct world *w, struct client *c)
{
    hub_session_closed(w->h, c->s);
    c->s = NULL;
}

void say(struct world *w, struct client *c, const char *json)
{
    hub_session_message(w->h, c->s, (const uint8_t *)json, strlen(json));
}

/* The n-th frame from the end (0 = last) parsed; the caller json_decref()s it. */
json_t *frame(struct client *c, unsigned back)
{
    if (back >= c->conn.nframes)
        return NULL;
    return json_loads(c->conn.frames[c->conn.nframes - 1 - back], 0, NULL);
}

/* True if the frames, in order, have exactly these types; clears them. */
bool got(struct client *c, const char *types)
{
    char seen[512] = "";
    size_t off = 0;

    for (unsigned i = 0; i < c->conn.nframes; i++) {
        json_t *j = json_loads(c->conn.frames[i], 0, NULL);
        const char *t = json_string_value(json_object_get(j, "type"));
        const char *code = json_string_value(json_object_get(j, "code"));
        off += (size_t)snprintf(seen + off, sizeof(seen) - off, "%s%s%s%s", off ? " " : "",
                                t ? t : "?", code ? ":" : "", code ? code : "");
        json_decref(j);
    }
    bool ok = strcmp(seen, types) == 0;
    if (!ok)
        test_fail(__FILE__, __LINE__, "frames \"%s\", want \"%s\"", seen, types);
    for (unsigned i = 0; i < c->conn.nframes; i++)
        free(c->conn.frames[i]);
    c->conn.nframes = 0;
    return ok;
}

void join(struct world *w, struct client *c, const char *token, const char *resume)
{
    char buf[256];

    if (resume)
        snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"token\":\"%s\",\"resume\":\"%s\"}", token,
                 resume);
    else
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"join\",\"token\":\"%s\",\"precheck\":{\"camera\":true,"
                 "\"turn_udp\":true}}",
                 token);
    say(w, c, buf);
    for (unsigned back = 0; back < c->conn.nframes; back++) {
        json_t *j = frame(c, back);
        if (strcmp(json_string_value(json_object_get(j, "type")), "joined") == 0) {
            snprintf(c->peer, sizeof(c->peer), "%s", json_string_value(json_object_get(j, "peer")));
            snprintf(c->resume, sizeof(c->resume), "%s",
                     json_string_value(json_object_get(j, "resume")));
            json_decref(j);
            break;
        }
        json_decref(j);
    }
}

/* A client that opens a connection and joins with token (and resume, or NULL); frames unread. */
void arrive(struct world *w, struct client *c, const char *token, const char *resume)
{
    client_open(w, c);
    join(w, c, token, resume);
}

struct hub_room_info make_room(struct world *w, bool lobby, unsigned capacity)
{
    struct hub_room_opts o = {.ttl = 3600, .capacity = capacity, .lobby = lobby};
    struct hub_room_info info;

    if (hub_room_create(w->h, "key", &o, &info) != 0)
        memset(&info, 0, sizeof(info));
    return info;
}

/* Opens host and guest and joins them, host first, to room; leaves their frames unread. */
void join_pair(struct world *w, const struct hub_room_info *room, struct client *host,
               struct client *guest)
{
    client_open(w, host);
    client_open(w, guest);
    join(w, host, room->host_token, NULL);
    join(w, guest, room->guest_token, NULL);
}

/* A new room (ttl 1 h) with host and guest joined to it, frames unread. */
struct hub_room_info start_call(struct world *w, bool lobby, unsigned capacity, struct client *host,
                                struct client *guest)
{
    struct hub_room_info room = make_room(w, lobby, capacity);

    join_pair(w, &room, host, guest);
    return room;
}

/* A call in a room without lobby whose joins are read off: host "joined peer-joined", guest
 * "joined" (got() reports any other frames as a failure). */
void start_direct_call(struct world *w, struct client *host, struct client *guest)
{
    start_call(w, false, 2, host, guest);
    got(host, "joined peer-joined");
    got(guest, "joined");
}

/* from sends a signal frame to peer with data (raw JSON). */
void signal_to(struct world *w, struct client *from, const char *peer, const char *data)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "{\"type\":\"signal\",\"to\":\"%s\",\"data\":%s}", peer, data);
    say(w, from, buf);
}

/* The id of the guest that knocked, from the host's last knock frame. */
void knocker(struct client *host, char *out, size_t outlen)
{
    for (unsigned back = 0; back < host->conn.nframes; back++) {
        json_t *j = frame(host, back);
        if (strcmp(json_string_value(json_object_get(j, "type")), "knock") == 0) {
            snprintf(out, outlen, "%s", json_string_value(json_object_get(j, "peer")));
            json_decref(j);
            return;
        }
        json_decref(j);
    }
    out[0] = '\0';
}

void admit(struct world *w, struct client *host, const char *verb, const char *peer)
{
    char buf[128];

    snprintf(buf, sizeof(buf), "{\"type\":\"%s\",\"peer\":\"%s\"}", verb, peer);
    say(w, host, buf);
}

bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    bool found = false;

    while (f && fgets(line, sizeof(line), f))
        found |= strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}
