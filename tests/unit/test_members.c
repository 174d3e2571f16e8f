/* Calls of more than two: guest invites and their tokens, display names, removing a participant. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/hub.h"
#include "test.h"

#include "hub_fixture.h"

/* The string field key of the last frame of type type that c got (frames stay unread), or "". */
static const char *field_of(struct client *c, const char *type, const char *key, char *out,
                            size_t outlen)
{
    out[0] = '\0';
    for (unsigned back = 0; back < c->conn.nframes; back++) {
        json_t *j = frame(c, back);
        if (strcmp(json_string_value(json_object_get(j, "type")), type) == 0) {
            const char *v = json_string_value(json_object_get(j, key));
            snprintf(out, outlen, "%s", v ? v : "");
            json_decref(j);
            break;
        }
        json_decref(j);
    }
    return out;
}

/* A room without a lobby for four, its host joined and its frames read. */
static struct hub_room_info four_room(struct world *w, struct client *host)
{
    struct hub_room_info room = make_room(w, false, 4);

    arrive(w, host, room.host_token, NULL);
    got(host, "joined");
    return room;
}

/* A client joining with token and a typed name (NULL: none); frames unread. */
static void arrive_named(struct world *w, struct client *c, const char *token, const char *name)
{
    char buf[512];

    client_open(w, c);
    if (name)
        snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"token\":\"%s\",\"name\":\"%s\"}", token,
                 name);
    else
        snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"token\":\"%s\"}", token);
    say(w, c, buf);
    char peer[64];
    snprintf(c->peer, sizeof(c->peer), "%s", field_of(c, "joined", "peer", peer, sizeof(peer)));
}

TEST(an_invite_opens_the_room_with_its_own_token_and_names_its_guest)
{
    struct world w;
    struct client host, patient, interpreter;
    struct hub_invite_info inv;
    char v[128];

    world_init(&w);
    struct hub_room_info room = four_room(&w, &host);
    CHECK_INT(hub_invite_create(w.h, "key", NULL, room.id, "Interpreter (Polish)", &inv), 0);
    CHECK_INT(strlen(inv.id), HUB_INVITE_ID_LEN);
    CHECK_INT(strlen(inv.token), HUB_TOKEN_LEN);
    CHECK(strcmp(inv.token, room.guest_token) != 0 && strcmp(inv.token, room.host_token) != 0);
    CHECK_INT(inv.expires_ms, room.expires_ms);
    arrive_named(&w, &patient, room.guest_token, "Mrs K");
    CHECK_STR(field_of(&host, "peer-joined", "name", v, sizeof(v)), "Mrs K");
    got(&host, "peer-joined");
    arrive_named(&w, &interpreter, inv.token, NULL);
    /* Its name is the invite's, shown to the others with invited: true. */
    CHECK_STR(field_of(&interpreter, "joined", "name", v, sizeof(v)), "Interpreter (Polish)");
    json_t *pj = frame(&host, 0);
    CHECK_STR(json_string_value(json_object_get(pj, "type")), "peer-joined");
    CHECK_STR(json_string_value(json_object_get(pj, "name")), "Interpreter (Polish)");
    CHECK(json_is_true(json_object_get(pj, "invited")));
    CHECK_STR(json_string_value(json_object_get(pj, "role")), "guest");
    json_decref(pj);
    /* The newcomer's joined lists both others with their names. */
    json_t *j = frame(&interpreter, 0);
    json_t *peers = json_object_get(j, "peers");
    CHECK_INT(json_array_size(peers), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(peers, 1), "name")), "Mrs K");
    CHECK(json_is_false(json_object_get(json_array_get(peers, 1), "invited")));
    CHECK(json_is_true(json_object_get(j, "polite")));
    json_decref(j);
    /* A typed name wins over the invite's. */
    struct client carer;
    struct hub_invite_info inv2;
    CHECK_INT(hub_invite_create(w.h, "key", NULL, room.id, "Carer", &inv2), 0);
    arrive_named(&w, &carer, inv2.token, "Tom");
    CHECK_STR(field_of(&carer, "joined", "name", v, sizeof(v)), "Tom");
    world_free(&w);
}

TEST(a_revoked_invite_gets_the_same_answer_as_an_unknown_token)
{
    struct world w;
    struct client host, a, b;
    struct hub_invite_info inv;

    world_init(&w);
    struct hub_room_info room = four_room(&w, &host);
    CHECK_INT(hub_invite_create(w.h, "key", NULL, room.id, NULL, &inv), 0);
    CHECK_INT(hub_invite_revoke(w.h, "key", NULL, room.id, inv.id), 0);
    CHECK_INT(hub_invite_revoke(w.h, "key", NULL, room.id, inv.id), -ENOENT);
    arrive(&w, &a, inv.token, NULL);
    arrive(&w, &b, "0123456789abcdef0123456789abcdef", NULL);
    if (CHECK_INT(a.conn.nframes, 1) && CHECK_INT(b.conn.nframes, 1))
        CHECK_STR(a.conn.frames[0], b.conn.frames[0]);
    CHECK(got(&a, "error:invalid_token"));
    world_free(&w);
}

TEST(invites_are_refused_for_full_rooms_bad_names_others_rooms_and_past_the_cap)
{
    struct world w;
    struct client host, guest;
    struct hub_invite_info inv;
    char long_name[64];

    world_init(&w);
    struct hub_room_info room = start_call(&w, false, 2, &host, &guest);
    CHECK_INT(hub_invite_create(w.h, "key", NULL, room.id, NULL, &inv), -EBUSY);
    struct hub_room_info four = make_room(&w, false, 4);
    CHECK_INT(hub_invite_create(w.h, "key", NULL, four.id, "tab\there", &inv), -EINVAL);
    memset(long_name, 'x', 41);
    long_name[41] = '\0';
    CHECK_INT(hub_invite_create(w.h, "key", NULL, four.id, long_name, &inv), -EMSGSIZE);
    CHECK_INT(hub_invite_create(w.h, "user:0123456789abcdef", NULL, four.id, NULL, &inv), -ENOENT);
    CHECK_INT(hub_invite_create(w.h, "key", NULL, "00000000000000ff", NULL, &inv), -ENOENT);
    char last[HUB_INVITE_ID_LEN + 1] = "";
    for (int i = 0; i < HUB_MAX_INVITES; i++) {
        CHECK_INT(hub_invite_create(w.h, "key", NULL, four.id, NULL, &inv), 0);
        memcpy(last, inv.id, sizeof(last));
    }
    CHECK_INT(hub_invite_create(w.h, "key", NULL, four.id, NULL, &inv), -EDQUOT);
    CHECK_INT(hub_invite_revoke(w.h, "key", NULL, four.id, "00000000"), -ENOENT);
    CHECK_INT(hub_invite_revoke(w.h, "key", NULL, four.id, last), 0);
    CHECK_INT(hub_invite_create(w.h, "key", NULL, four.id, NULL, &inv), 0);
    /* The call in the full room goes on. */
    signal_to(&w, &host, guest.peer, "\"offer\"");
    CHECK(got(&guest, "joined signal"));
    world_free(&w);
}

TEST(the_host_removes_a_participant_whose_invite_stops_working)
{
    struct world w;
    struct client host, patient, interp, again;
    struct hub_invite_info inv;
    char buf[128];

    world_init(&w);
    struct hub_room_info room = four_room(&w, &host);
    CHECK_INT(hub_invite_create(w.h, "key", NULL, room.id, "Interpreter", &inv), 0);
    arrive(&w, &patient, room.guest_token, NULL);
    arrive(&w, &interp, inv.token, NULL);
    got(&host, "peer-joined peer-joined");
    got(&patient, "joined peer-joined");
    got(&interp, "joined");
    /* A guest may not remove anyone; an unknown peer and oneself get unknown_peer. */
    snprintf(buf, sizeof(buf), "{\"type\":\"remove\",\"peer\":\"%s\"}", interp.peer);
    say(&w, &patient, buf);
    CHECK(got(&patient, "error:forbidden"));
    say(&w, &host, "{\"type\":\"remove\",\"peer\":\"aaaaaaaaaaaa\"}");
    CHECK(got(&host, "error:unknown_peer"));
    snprintf(buf, sizeof(buf), "{\"type\":\"remove\",\"peer\":\"%s\"}", host.peer);
    say(&w, &host, buf);
    CHECK(got(&host, "error:unknown_peer"));
    snprintf(buf, sizeof(buf), "{\"type\":\"remove\",\"peer\":\"%s\"}", interp.peer);
    say(&w, &host, buf);
    CHECK(got(&interp, "removed"));
    CHECK_INT(interp.conn.close_code, 1000);
    CHECK(got(&host, "peer-left"));
    CHECK(got(&patient, "peer-left"));
    client_drop(&w, &interp);
    /* Its link opens nothing any more; the call between the other two goes on. */
    arrive(&w, &again, inv.token, NULL);
    CHECK(got(&again, "error:invalid_token"));
    signal_to(&w, &patient, host.peer, "\"answer\"");
    CHECK(got(&host, "signal"));
    struct hub_room_info info;
    CHECK_INT(hub_room_get(w.h, "key", room.id, &info), 0);
    CHECK_INT(info.participants, 2);
    w.set.log = NULL; /* the hub logs nothing more into the file read below */
    hub_set_settings(w.h, &w.set);
    event_log_close(w.log);
    w.log = NULL;
    CHECK(file_contains(w.log_path, "\"event\":\"invite.created\""));
    CHECK(file_contains(w.log_path, "\"reason\":\"removed\""));
    CHECK(file_contains(w.log_path, "\"event\":\"invite.revoked\""));
    CHECK(!file_contains(w.log_path, "Interpreter"));
    world_free(&w);
}

TEST(names_are_checked_shown_to_the_others_and_never_logged)
{
    struct world w;
    struct client host, bad, longer, guest;

    world_init(&w);
    struct hub_room_info room = four_room(&w, &host);
    client_open(&w, &bad);
    say(&w, &bad, "{\"type\":\"join\",\"token\":\"x\",\"name\":\"a\\u0007b\"}");
    CHECK(got(&bad, "error:bad_request"));
    client_open(&w, &longer);
    say(&w, &longer,
        "{\"type\":\"join\",\"token\":\"x\",\"name\":\"" /* 41 characters */
        "ééééééééééééééééééééééééééééééééééééééééé\"}");
    CHECK(got(&longer, "error:too_large"));
    arrive_named(&w, &guest, room.guest_token, "Zoë CANARY-NAME-4410");
    char v[128];
    CHECK_STR(field_of(&host, "peer-joined", "name", v, sizeof(v)), "Zoë CANARY-NAME-4410");
    say(&w, &guest, "{\"type\":\"stats\",\"path\":\"p2p\",\"video\":false}");
    say(&w, &guest, "{\"type\":\"stats\",\"path\":\"p2p\",\"video\":1}");
    CHECK(got(&guest, "joined error:bad_request"));
    w.set.log = NULL; /* the hub logs nothing more into the file read below */
    hub_set_settings(w.h, &w.set);
    event_log_close(w.log);
    w.log = NULL;
    CHECK(file_contains(w.log_path, "\"video\":false"));
    CHECK(!file_contains(w.log_path, "CANARY-NAME"));
    world_free(&w);
}

TEST(hosts_invite_and_revoke_over_the_socket_and_guests_cannot)
{
    struct world w;
    struct client host, guest, invited;
    char url[256], id[32];

    world_init(&w);
    struct hub_room_info room = four_room(&w, &host);
    arrive(&w, &guest, room.guest_token, NULL);
    got(&host, "peer-joined");
    got(&guest, "joined");
    say(&w, &guest, "{\"type\":\"invite\"}");
    CHECK(got(&guest, "error:forbidden"));
    /* A browser cannot bring its own token's hash: only another node may. */
    say(&w, &host,
        "{\"type\":\"invite\",\"invite\":\"0000aaaa\",\"hash\":"
        "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}");
    CHECK(got(&host, "error:bad_request"));
    say(&w, &host, "{\"type\":\"invite\",\"name\":\"Carer\"}");
    field_of(&host, "invite", "url", url, sizeof(url));
    field_of(&host, "invite", "id", id, sizeof(id));
    CHECK(got(&host, "invite"));
    CHECK(strncmp(url, "https://localhost:8443/join#", 28) == 0);
    arrive(&w, &invited, url + 28, NULL);
    char v[64];
    CHECK_STR(field_of(&invited, "joined", "name", v, sizeof(v)), "Carer");
    got(&invited, "joined");
    got(&host, "peer-joined");
    got(&guest, "peer-joined");
    char buf[96];
    snprintf(buf, sizeof(buf), "{\"type\":\"revoke\",\"invite\":\"%s\"}", id);
    say(&w, &host, buf);
    CHECK_INT(host.conn.nframes, 0);
    say(&w, &host, buf);
    CHECK(got(&host, "error:unknown_invite"));
    world_free(&w);
}

TEST(a_clinician_joining_by_room_shows_their_account_name_even_after_a_resume)
{
    struct world w;
    struct client clin, again, guest;
    struct hub_room_opts o = {.ttl = 600, .capacity = 3, .lobby = false};
    struct hub_room_info room;
    struct hub_clinician c = {.id = "user:0123456789abcdef", .name = "Dr Ames"};
    char buf[160], v[64];

    world_init(&w);
    CHECK_INT(hub_room_create(w.h, c.id, &o, &room), 0);
    client_open(&w, &clin);
    CHECK_INT(hub_session_set_clinician(w.h, clin.s, &c), 0);
    snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"%s\"}", room.id);
    say(&w, &clin, buf);
    CHECK_STR(field_of(&clin, "joined", "name", v, sizeof(v)), "Dr Ames");
    char resume[64];
    field_of(&clin, "joined", "resume", resume, sizeof(resume));
    arrive(&w, &guest, room.guest_token, NULL);
    json_t *j = frame(&guest, 0);
    CHECK_STR(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "peers"), 0), "name")),
        "Dr Ames");
    json_decref(j);
    client_drop(&w, &clin);
    client_open(&w, &again);
    CHECK_INT(hub_session_set_clinician(w.h, again.s, &c), 0);
    snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"%s\",\"resume\":\"%s\"}", room.id,
             resume);
    say(&w, &again, buf);
    CHECK_STR(field_of(&again, "joined", "name", v, sizeof(v)), "Dr Ames");
    world_free(&w);
}
