/* The clinic day in the signalling core: dashboards watching, admits from the list, messages to
 * waiting guests, labels, teams, hand-over and places in the queue. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_fixture.h"
#include "test.h"

static const struct hub_clinician alice = {"user:aaaaaaaaaaaaaaaa", "Dr Alice", 1, {"Cardiology"}};
static const struct hub_clinician bob = {"user:bbbbbbbbbbbbbbbb", "Dr Bob", 1, {"Cardiology"}};
static const struct hub_clinician carol = {"user:cccccccccccccccc", "Dr Carol", 1, {"Renal"}};

/* The directory the hub asks when a consultation is handed over: the three above. */
static int directory_clinician(void *ctx, const char *id, struct hub_clinician *out)
{
    static const struct hub_clinician *const all[] = {&alice, &bob, &carol};

    (void)ctx;
    for (size_t i = 0; i < 3; i++)
        if (strcmp(all[i]->id, id) == 0) {
            *out = *all[i];
            return 0;
        }
    return -2;
}
static const struct hub_directory_ops directory = {directory_clinician};

static void init(struct world *w)
{
    world_init(w);
    hub_set_directory(w->h, &directory, NULL);
}

/* A room of owner (a clinician's id, or "key") in team (or NULL) with label. */
static struct hub_room_info room_of(struct world *w, const char *owner, const char *team,
                                    const char *label)
{
    struct hub_room_opts o = {.ttl = 3600,
                              .capacity = 3,
                              .lobby = true,
                              .label = label,
                              .team = team,
                              .owner_name = "Dr Owner"};
    struct hub_room_info info;

    if (hub_room_create(w->h, owner, &o, &info) != 0)
        memset(&info, 0, sizeof(info));
    return info;
}

/* A dashboard: a signed-in clinician's connection that sent watch; frames read off. */
static void dashboard(struct world *w, struct client *d, const struct hub_clinician *c)
{
    client_open(w, d);
    CHECK_INT(hub_session_set_clinician(w->h, d->s, c), 0);
    say(w, d, "{\"type\":\"watch\"}");
}

/* The peer id of the last waiting guest of room in e, a room entry, if it is one. */
static void entry_waiting(json_t *e, const char *room, char *out, size_t len)
{
    json_t *w = json_object_get(e, "waiting");

    if (strcmp(json_string_value(json_object_get(e, "id")), room) == 0 && json_array_size(w) > 0)
        snprintf(
            out, len, "%s",
            json_string_value(json_object_get(json_array_get(w, json_array_size(w) - 1), "peer")));
}

/* The peer id of the last waiting guest in the last room entry (room, or one of rooms) d got. */
static void waiting_peer(struct client *d, const char *room, char *out, size_t len)
{
    out[0] = '\0';
    for (unsigned back = 0; back < d->conn.nframes && !out[0]; back++) {
        json_t *j = frame(d, back), *rooms = json_object_get(j, "rooms");
        if (json_is_array(rooms))
            for (size_t i = 0; i < json_array_size(rooms) && !out[0]; i++)
                entry_waiting(json_array_get(rooms, i), room, out, len);
        else if (strcmp(json_string_value(json_object_get(j, "type")), "room") == 0)
            entry_waiting(j, room, out, len);
        json_decref(j);
    }
}

static void say_fmt(struct world *w, struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say_fmt(struct world *w, struct client *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    say(w, c, buf);
}

TEST(watch_needs_a_clinician_session_and_leaves_the_socket_open)
{
    struct world w;
    struct client anon, guest, host;

    init(&w);
    struct hub_room_info room = room_of(&w, alice.id, NULL, "10:30 Mrs K");
    client_open(&w, &anon);
    say(&w, &anon, "{\"type\":\"watch\"}");
    CHECK(got(&anon, "error:forbidden"));
    say(&w, &anon, "{\"type\":\"ping\"}");
    CHECK(got(&anon, "pong"));
    arrive(&w, &host, room.host_token, NULL);
    say(&w, &host, "{\"type\":\"watch\"}");
    CHECK(got(&host, "joined error:forbidden"));
    arrive(&w, &guest, room.guest_token, NULL);
    say(&w, &guest, "{\"type\":\"watch\"}");
    CHECK(got(&guest, "waiting queue error:forbidden"));
    world_free(&w);
}

TEST(a_dashboard_gets_its_rooms_then_every_change)
{
    struct world w;
    struct client d, guest;

    init(&w);
    struct hub_room_info mine = room_of(&w, alice.id, NULL, "10:30 Mrs K, follow-up");
    room_of(&w, carol.id, NULL, "not hers");
    dashboard(&w, &d, &alice);
    json_t *j = frame(&d, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "rooms");
    json_t *rooms = json_object_get(j, "rooms");
    CHECK_INT(json_array_size(rooms), 1);
    json_t *e = json_array_get(rooms, 0);
    CHECK_STR(json_string_value(json_object_get(e, "id")), mine.id);
    CHECK_STR(json_string_value(json_object_get(e, "label")), "10:30 Mrs K, follow-up");
    CHECK_STR(json_string_value(json_object_get(e, "state")), "open");
    CHECK_INT(json_integer_value(json_object_get(e, "capacity")), 3);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "me"), "id")), alice.id);
    json_decref(j);
    CHECK(got(&d, "rooms"));

    arrive(&w, &guest, mine.guest_token, NULL);
    j = frame(&d, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "room");
    CHECK_STR(json_string_value(json_object_get(j, "state")), "waiting");
    e = json_array_get(json_object_get(j, "waiting"), 0);
    CHECK_STR(json_string_value(json_object_get(e, "browser")), "firefox");
    CHECK_STR(json_string_value(json_object_get(e, "os")), "linux");
    CHECK(json_is_true(json_object_get(json_object_get(e, "precheck"), "camera")));
    CHECK(strlen(json_string_value(json_object_get(e, "since"))) == 24);
    json_decref(j);
    CHECK(got(&d, "room"));
    /* The guest was told a clinician has seen its knock. */
    j = frame(&guest, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "queue");
    CHECK(json_is_true(json_object_get(j, "notified")));
    CHECK_INT(json_integer_value(json_object_get(j, "position")), 1);
    json_decref(j);
    /* The label never reaches the guest. */
    for (unsigned i = 0; i < guest.conn.nframes; i++)
        CHECK(!strstr(guest.conn.frames[i], "Mrs K"));

    CHECK_INT(hub_room_end(w.h, alice.id, mine.id), 0);
    j = frame(&d, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "room-gone");
    CHECK_STR(json_string_value(json_object_get(j, "id")), mine.id);
    json_decref(j);
    world_free(&w);
}

TEST(a_knock_nobody_sees_is_not_reported_as_seen_until_a_dashboard_opens)
{
    struct world w;
    struct client d, guest;

    init(&w);
    struct hub_room_info room = room_of(&w, alice.id, NULL, NULL);
    arrive(&w, &guest, room.guest_token, NULL);
    json_t *j = frame(&guest, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "queue");
    CHECK(json_is_false(json_object_get(j, "notified")));
    json_decref(j);
    CHECK(got(&guest, "waiting queue"));
    dashboard(&w, &d, &alice);
    j = frame(&guest, 0);
    CHECK(json_is_true(json_object_get(j, "notified")));
    json_decref(j);
    CHECK(got(&guest, "queue"));
    world_free(&w);
}

TEST(team_mates_share_a_waiting_area_and_the_first_admit_wins)
{
    struct world w;
    struct client da, db, dc, guest;
    char peer[64];

    init(&w);
    struct hub_room_info room = room_of(&w, alice.id, "Cardiology", "clinic");
    dashboard(&w, &da, &alice);
    dashboard(&w, &db, &bob);
    dashboard(&w, &dc, &carol);
    CHECK(got(&da, "rooms") && got(&db, "rooms"));
    json_t *j = frame(&dc, 0);
    CHECK_INT(json_array_size(json_object_get(j, "rooms")), 0);
    json_decref(j);
    got(&dc, "rooms");

    arrive(&w, &guest, room.guest_token, NULL);
    waiting_peer(&db, room.id, peer, sizeof(peer));
    CHECK(peer[0] != '\0');
    CHECK_INT(dc.conn.nframes, 0); /* the other team hears nothing */
    got(&da, "room");
    got(&db, "room");
    got(&guest, "waiting queue");

    say_fmt(&w, &db, "{\"type\":\"admit\",\"room\":\"%s\",\"peer\":\"%s\"}", room.id, peer);
    say_fmt(&w, &da, "{\"type\":\"admit\",\"room\":\"%s\",\"peer\":\"%s\"}", room.id, peer);
    CHECK(got(&guest, "admitted joined"));
    json_t *ack = frame(&db, 1);
    CHECK_STR(json_string_value(json_object_get(ack, "type")), "admitted");
    CHECK_STR(json_string_value(json_object_get(ack, "peer")), peer);
    json_decref(ack);
    j = frame(&da, 0);
    CHECK_STR(json_string_value(json_object_get(j, "code")), "already_admitted");
    CHECK(strstr(json_string_value(json_object_get(j, "message")), "Dr Bob") != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "by")), "Dr Bob"); /* for the page's words */
    json_decref(j);
    j = frame(&da, 1); /* the room entry says who took the patient */
    CHECK_STR(json_string_value(json_object_get(j, "state")), "in-call");
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "clinician"), "name")),
              "Dr Bob");
    json_decref(j);

    /* Someone outside the team gets forbidden for the room's id, and nothing changes. */
    say_fmt(&w, &dc, "{\"type\":\"admit\",\"room\":\"%s\",\"peer\":\"%s\"}", room.id, peer);
    say_fmt(&w, &dc, "{\"type\":\"join\",\"room\":\"%s\"}", room.id);
    CHECK(got(&dc, "error:forbidden error:forbidden"));
    world_free(&w);
}

TEST(a_clinician_joins_a_room_by_id_as_host_from_any_tab)
{
    struct world w;
    struct client tab1, tab2, guest;
    char peer[64];

    init(&w);
    struct hub_room_info room = room_of(&w, alice.id, NULL, NULL);
    arrive(&w, &guest, room.guest_token, NULL);
    dashboard(&w, &tab1, &alice);
    waiting_peer(&tab1, room.id, peer, sizeof(peer));
    say_fmt(&w, &tab1, "{\"type\":\"admit\",\"room\":\"%s\",\"peer\":\"%s\"}", room.id, peer);
    client_open(&w, &tab2);
    hub_session_set_clinician(w.h, tab2.s, &alice);
    say_fmt(&w, &tab2, "{\"type\":\"join\",\"room\":\"%s\"}", room.id);
    json_t *j = frame(&tab2, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "joined");
    CHECK_STR(json_string_value(json_object_get(j, "role")), "host");
    CHECK_INT(json_array_size(json_object_get(j, "peers")), 1);
    json_decref(j);
    /* An anonymous socket cannot join by id. */
    struct client anon;
    client_open(&w, &anon);
    say_fmt(&w, &anon, "{\"type\":\"join\",\"room\":\"%s\"}", room.id);
    CHECK(got(&anon, "error:forbidden"));
    world_free(&w);
}

TEST(messages_reach_waiting_guests_as_text_and_only_their_length_is_logged)
{
    struct world w;
    struct client d, g1, g2;
    char peer[64];
    static const char secret[] = "CANARY-LOBBY-TEXT <b>late</b>";

    init(&w);
    struct hub_room_info room = room_of(&w, alice.id, NULL, NULL);
    arrive(&w, &g1, room.guest_token, NULL);
    arrive(&w, &g2, room.guest_token, NULL);
    dashboard(&w, &d, &alice);
    waiting_peer(&d, room.id, peer, sizeof(peer));
    got(&d, "rooms");
    got(&g1, "waiting queue queue");
    got(&g2, "waiting queue queue");
    say_fmt(&w, &d, "{\"type\":\"lobby-message\",\"room\":\"%s\",\"text\":\"%s\"}", room.id,
            secret);
    json_t *j = frame(&g1, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "message");
    CHECK_STR(json_string_value(json_object_get(j, "text")), secret);
    json_decref(j);
    CHECK(got(&g1, "message") && got(&g2, "message"));
    /* One guest only. */
    char buf[256];
    snprintf(buf, sizeof(buf),
             "{\"type\":\"lobby-message\",\"room\":\"%s\",\"peer\":\"%s\",\"text\":\"hi\"}",
             room.id, peer);
    say(&w, &d, buf);
    CHECK_INT(g1.conn.nframes + g2.conn.nframes, 1);
    got(&g1, g1.conn.nframes ? "message" : "");
    got(&g2, g2.conn.nframes ? "message" : "");
    /* Over 280 characters, an unknown peer and an unknown room: errors, nothing sent. */
    char x281[282];
    memset(x281, 'x', 281);
    x281[281] = '\0';
    say_fmt(&w, &d, "{\"type\":\"lobby-message\",\"room\":\"%s\",\"text\":\"%s\"}", room.id, x281);
    say_fmt(&w, &d, "{\"type\":\"lobby-message\",\"room\":\"%s\",\"peer\":\"%s\",\"text\":\"x\"}",
            room.id, "nobody");
    say_fmt(&w, &d, "{\"type\":\"lobby-message\",\"room\":\"%s\",\"text\":\"x\"}",
            "0123456789abcdef");
    CHECK(got(&d, "error:too_large error:unknown_peer error:forbidden"));
    CHECK_INT(g1.conn.nframes + g2.conn.nframes, 0);
    /* The REST call: the API key's own rooms only. */
    CHECK_INT(hub_lobby_send(w.h, alice.id, NULL, room.id, NULL, "from the platform"), 2);
    CHECK_INT(hub_lobby_send(w.h, "key", NULL, room.id, NULL, "not its room"), -ENOENT);
    CHECK_INT(hub_lobby_send(w.h, alice.id, NULL, room.id, "nobody", "x"), -ESRCH);

    char line[4096];
    FILE *f = fopen(w.log_path, "r");
    int events = 0;
    while (f && fgets(line, sizeof(line), f)) {
        CHECK(!strstr(line, "CANARY-LOBBY-TEXT"));
        if (strstr(line, "\"lobby.message\"")) {
            events++;
            CHECK(strstr(line, "\"length\":") != NULL);
        }
    }
    if (f)
        fclose(f);
    CHECK_INT(events, 3);
    world_free(&w);
}

TEST(messages_to_a_waiting_room_are_rate_limited)
{
    struct world w;
    struct client g;

    init(&w);
    struct hub_room_info room = room_of(&w, alice.id, NULL, NULL);
    arrive(&w, &g, room.guest_token, NULL);
    int sent = 0, limited = 0;
    for (int i = 0; i < 15; i++) {
        int rc = hub_lobby_send(w.h, alice.id, NULL, room.id, "", "running late");
        sent += rc == 1;
        limited += rc == -EBUSY;
    }
    CHECK_INT(sent, 10);
    CHECK_INT(limited, 5);
    advance(&w, 61000);
    CHECK_INT(hub_lobby_send(w.h, alice.id, NULL, room.id, "", "still late"), 1);
    world_free(&w);
}

TEST(labels_are_checked_and_changes_reach_the_dashboard)
{
    struct world w;
    struct client d;
    struct hub_room_info info;
    char long_label[400];
    size_t n = 0;

    init(&w);
    struct hub_room_info room = room_of(&w, alice.id, "Cardiology", NULL);
    dashboard(&w, &d, &bob);
    got(&d, "rooms");
    CHECK_INT(hub_room_set_label(w.h, bob.id, &bob, room.id, "11:00 Mr P", &info), 0);
    CHECK_STR(info.label, "11:00 Mr P");
    json_t *j = frame(&d, 0);
    CHECK_STR(json_string_value(json_object_get(j, "label")), "11:00 Mr P");
    json_decref(j);
    for (int i = 0; i < 80; i++) { /* 80 characters, 160 bytes: fine */
        long_label[n++] = (char)0xc3;
        long_label[n++] = (char)0xa9;
    }
    long_label[n] = '\0';
    CHECK_INT(hub_room_set_label(w.h, alice.id, NULL, room.id, long_label, &info), 0);
    long_label[n++] = 'x';
    long_label[n] = '\0';
    CHECK_INT(hub_room_set_label(w.h, alice.id, NULL, room.id, long_label, &info), -EMSGSIZE);
    CHECK_INT(hub_room_set_label(w.h, alice.id, NULL, room.id, "a\x01", &info), -EINVAL);
    CHECK_INT(hub_room_set_label(w.h, carol.id, &carol, room.id, "x", &info), -ENOENT);
    world_free(&w);
}

TEST(a_consultation_is_handed_to_a_team_mate_only)
{
    struct world w;
    struct client da, db;

    init(&w);
    struct hub_room_info room = room_of(&w, alice.id, "Cardiology", NULL);
    dashboard(&w, &da, &alice);
    dashboard(&w, &db, &bob);
    got(&da, "rooms");
    got(&db, "rooms");
    say_fmt(&w, &da, "{\"type\":\"handover\",\"room\":\"%s\",\"to\":\"%s\"}", room.id, carol.id);
    CHECK(got(&da, "error:forbidden"));
    say_fmt(&w, &da, "{\"type\":\"handover\",\"room\":\"%s\",\"to\":\"%s\"}", room.id, bob.id);
    json_t *j = frame(&db, 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "assignee"), "id")), bob.id);
    json_decref(j);
    CHECK(got(&db, "room"));
    world_free(&w);
}

TEST(patients_learn_their_place_in_their_teams_queue_and_keep_it_across_a_resume)
{
    struct world w;
    struct client g1, g2, g3, again;

    init(&w);
    struct hub_room_info r1 = room_of(&w, alice.id, "Cardiology", NULL);
    struct hub_room_info r2 = room_of(&w, bob.id, "Cardiology", NULL);
    arrive(&w, &g1, r1.guest_token, NULL);
    advance(&w, 1000);
    arrive(&w, &g2, r2.guest_token, NULL);
    advance(&w, 1000);
    arrive(&w, &g3, r1.guest_token, NULL);
    json_t *j = frame(&g3, 0);
    CHECK_INT(json_integer_value(json_object_get(j, "position")), 3);
    CHECK_INT(json_integer_value(json_object_get(j, "waiting")), 3);
    json_decref(j);
    /* The first one drops and comes back: still first, with the same knock time. */
    json_t *waiting = NULL;
    for (unsigned back = 0; back < g1.conn.nframes; back++) {
        json_t *f = frame(&g1, back);
        if (strcmp(json_string_value(json_object_get(f, "type")), "waiting") == 0)
            waiting = f;
        else
            json_decref(f);
    }
    CHECK(waiting != NULL);
    char resume[80], since[40];
    snprintf(resume, sizeof(resume), "%s", json_string_value(json_object_get(waiting, "resume")));
    snprintf(since, sizeof(since), "%s", json_string_value(json_object_get(waiting, "since")));
    json_decref(waiting);
    client_drop(&w, &g1);
    advance(&w, 5000);
    arrive(&w, &again, r1.guest_token, resume);
    j = frame(&again, 1);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "waiting");
    CHECK_STR(json_string_value(json_object_get(j, "since")), since);
    json_decref(j);
    j = frame(&again, 0);
    CHECK_INT(json_integer_value(json_object_get(j, "position")), 1);
    json_decref(j);
    /* The second is admitted: the third moves up. */
    struct client host;
    arrive(&w, &host, r2.host_token, NULL);
    char peer[64];
    knocker(&host, peer, sizeof(peer));
    admit(&w, &host, "admit", peer);
    j = frame(&g3, 0);
    CHECK_INT(json_integer_value(json_object_get(j, "position")), 2);
    json_decref(j);
    /* Past the grace period a dropped guest loses its place. */
    client_drop(&w, &again);
    advance(&w, 61000);
    j = frame(&g3, 0);
    CHECK_INT(json_integer_value(json_object_get(j, "position")), 1);
    json_decref(j);
    world_free(&w);
}

TEST(a_relayed_label_changes_the_room)
{
    struct world w;
    struct client d;
    struct hub_conn relay = {0};
    char text[128];

    init(&w);
    struct hub_room_info room = room_of(&w, bob.id, "Cardiology", NULL);
    dashboard(&w, &d, &bob);
    got(&d, "rooms");
    snprintf(text, sizeof(text), "{\"type\":\"label\",\"room\":\"%s\",\"label\":\"relabelled\"}",
             room.id);
    hub_relayed_action(w.h, &relay, &alice, (const uint8_t *)text, strlen(text));
    CHECK_INT(relay.nframes, 0); /* nothing to answer */
    json_t *j = frame(&d, 0);
    CHECK_STR(json_string_value(json_object_get(j, "label")), "relabelled");
    json_decref(j);
    world_free(&w);
}

/* A registry that records what the watch feed tells it (other nodes stand behind it). */
struct fake_reg {
    int interest[4];
    char areas[4][HUB_AREA_MAX];
    unsigned nareas, acts, seen;
    char act_room[32];
};

static int fake_interest_slot(struct fake_reg *f, const char *area)
{
    for (unsigned i = 0; i < f->nareas; i++)
        if (strcmp(f->areas[i], area) == 0)
            return (int)i;
    snprintf(f->areas[f->nareas], HUB_AREA_MAX, "%s", area);
    return (int)f->nareas++;
}

static void fake_interest(void *ctx, const char *area, int delta)
{
    struct fake_reg *f = ctx;
    f->interest[fake_interest_slot(f, area)] += delta;
}

static int fake_act(void *ctx, struct hub_conn *conn, const struct hub_clinician *who,
                    const char *room, const uint8_t *frame, size_t len)
{
    struct fake_reg *f = ctx;
    (void)conn, (void)frame, (void)len;
    f->acts++;
    snprintf(f->act_room, sizeof(f->act_room), "%s", room);
    return hub_clinician_sees(who, "user:bbbbbbbbbbbbbbbb", "Cardiology") ? 0 : -ENOENT;
}

static void fake_seen(void *ctx, const char *home, const char *room)
{
    (void)home, (void)room;
    ((struct fake_reg *)ctx)->seen++;
}

static int fake_create(void *ctx, const struct hub_room_record *rec, unsigned a, unsigned b)
{
    (void)ctx, (void)rec, (void)a, (void)b;
    return 0;
}
static void fake_update(void *ctx, const struct hub_room_record *rec)
{
    (void)ctx, (void)rec;
}

static const struct hub_registry_ops fake_reg_ops = {.create = fake_create,
                                                     .update = fake_update,
                                                     .ended = fake_update,
                                                     .interest = fake_interest,
                                                     .act = fake_act,
                                                     .seen = fake_seen};

/* Another node's room of team Cardiology, with one guest waiting since since_ms. */
static void remote_room(char *out, size_t len, const char *id, const char *since)
{
    snprintf(
        out, len,
        "{\"type\":\"room\",\"id\":\"%s\",\"label\":\"\",\"state\":\"waiting\","
        "\"created_at\":\"2030-03-17T17:46:40.000Z\",\"expires_at\":\"2099-01-01T00:00:00.000Z\","
        "\"participants\":0,\"capacity\":2,\"lobby\":true,\"relay_only\":false,"
        "\"team\":\"Cardiology\",\"owner\":{\"id\":\"user:bbbbbbbbbbbbbbbb\",\"name\":\"Dr Bob\"},"
        "\"assignee\":null,\"clinician\":null,\"waiting\":[{\"peer\":\"remote000001\","
        "\"since\":\"%s\",\"browser\":\"chrome\",\"browser_version\":\"1\",\"os\":\"linux\","
        "\"precheck\":null,\"away\":false,\"notified\":false}]}",
        id, since);
}

TEST(other_nodes_rooms_reach_dashboards_and_count_in_the_queue)
{
    struct world w;
    struct fake_reg reg = {0};
    struct client d, g;
    char text[1200], early[32], late[32];

    init(&w);
    hub_set_registry(w.h, &fake_reg_ops, &reg);
    snprintf(early, sizeof(early), "2030-03-17T17:46:35.000Z"); /* before the local knock */
    snprintf(late, sizeof(late), "2030-03-17T17:46:45.000Z");
    struct hub_room_info room = room_of(&w, alice.id, "Cardiology", NULL);
    arrive(&w, &g, room.guest_token, NULL); /* a local guest: the area is needed now */
    CHECK_INT(reg.interest[fake_interest_slot(&reg, "t:Cardiology")], 1);
    remote_room(text, sizeof(text), "aaaaaaaaaaaaaaaa", early);
    CHECK_INT(hub_feed_put(w.h, "node9", text, strlen(text)), 0);
    json_t *q = frame(&g, 0);
    CHECK_INT(json_integer_value(json_object_get(q, "position")), 2); /* behind the remote one */
    json_decref(q);
    /* A dashboard here sees it in its rooms, and tells its home the guest was seen. */
    dashboard(&w, &d, &bob);
    json_t *j = frame(&d, 0);
    CHECK_INT(json_array_size(json_object_get(j, "rooms")), 2);
    json_decref(j);
    CHECK_INT(reg.seen, 1);
    /* Its end: room-gone here, and the local guest moves up. */
    hub_feed_drop(w.h, "aaaaaaaaaaaaaaaa");
    j = frame(&d, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "room-gone");
    json_decref(j);
    q = frame(&g, 0);
    CHECK_INT(json_integer_value(json_object_get(q, "position")), 1);
    json_decref(q);
    /* An action on a room held elsewhere goes there; a room nobody knows is forbidden. */
    say(&w, &d, "{\"type\":\"admit\",\"room\":\"bbbbbbbbbbbbbbbb\",\"peer\":\"remote000001\"}");
    CHECK_INT(reg.acts, 1);
    CHECK_STR(reg.act_room, "bbbbbbbbbbbbbbbb");
    /* A malformed entry is refused. */
    CHECK_INT(hub_feed_put(w.h, "node9", "{\"type\":\"room\"}", 15), -EINVAL);
    remote_room(text, sizeof(text), "cccccccccccccccc", late);
    CHECK_INT(hub_feed_put(w.h, "node9", text, strlen(text)), 0);
    hub_feed_forget_area(w.h, "t:Cardiology");
    client_drop(&w, &d);
    CHECK_INT(reg.interest[fake_interest_slot(&reg, "t:Cardiology")], 1);
    world_free(&w);
}
