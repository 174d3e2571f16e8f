/* The signalling core through fake connections: lobby, brokering, resume, limits, metadata log. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vc/hub.h"
#include "vc/log.h"
#include "vc/rest_cred.h"
#include "test.h"

#include "hub_fixture.h"
TEST(host_joins_with_turn_credentials_and_a_resume_token)
{
    struct world w;
    struct client host;

    world_init(&w);
    struct hub_room_info room = make_room(&w, true, 2);
    arrive(&w, &host, room.host_token, NULL);
    json_t *j = frame(&host, 0);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "joined");
    CHECK_STR(json_string_value(json_object_get(j, "role")), "host");
    CHECK(json_is_false(json_object_get(j, "polite")));
    CHECK_INT(json_array_size(json_object_get(j, "peers")), 0);
    CHECK_INT(strlen(host.resume), 32);
    json_t *servers = json_object_get(j, "ice_servers");
    CHECK_INT(json_array_size(servers), 2);
    json_t *turn = json_array_get(servers, 1);
    const char *user = json_string_value(json_object_get(turn, "username"));
    const char *cred = json_string_value(json_object_get(turn, "credential"));
    char want[64];
    if (CHECK(user && cred)) {
        rest_cred_password((const uint8_t *)"turn-secret", 11, user, strlen(user), want,
                           sizeof(want));
        CHECK_STR(cred, want);
        /* EXPIRY: the room's expiry plus the margin, here below the 4 h cap. */
        long long expiry = strtoll(user, NULL, 10);
        CHECK_INT(expiry, w.unix_ms / 1000 + 3600 + 3600);
    }
    CHECK(json_object_get(json_array_get(servers, 0), "username") == NULL);
    json_decref(j);
    world_free(&w);
}

TEST(guest_waits_in_the_lobby_and_is_admitted)
{
    struct world w;
    struct client host, guest;
    char id[64];

    world_init(&w);
    struct hub_room_info room = make_room(&w, true, 2);
    client_open(&w, &host);
    client_open(&w, &guest);
    join(&w, &host, room.host_token, NULL);
    got(&host, "joined");
    join(&w, &guest, room.guest_token, NULL);
    CHECK(got(&guest, "waiting queue"));
    json_t *k = frame(&host, 0);
    CHECK_STR(json_string_value(json_object_get(k, "type")), "knock");
    CHECK_STR(json_string_value(json_object_get(k, "browser")), "firefox");
    CHECK_STR(json_string_value(json_object_get(k, "os")), "linux");
    CHECK(json_is_true(json_object_get(json_object_get(k, "precheck"), "camera")));
    CHECK(json_is_false(json_object_get(json_object_get(k, "precheck"), "turn_tls")));
    json_decref(k);
    knocker(&host, id, sizeof(id));
    got(&host, "knock");
    /* A waiting guest cannot signal yet. */
    say(&w, &guest, "{\"type\":\"signal\",\"to\":\"x\",\"data\":1}");
    CHECK(got(&guest, "error:forbidden"));
    admit(&w, &host, "admit", id);
    CHECK(got(&host, "peer-joined"));
    json_t *j = frame(&guest, 0);
    CHECK(json_is_true(json_object_get(j, "polite")));
    CHECK_INT(json_array_size(json_object_get(j, "peers")), 1);
    json_decref(j);
    CHECK(got(&guest, "admitted joined"));
    struct hub_room_info info;
    CHECK_INT(hub_room_get(w.h, "key", room.id, &info), 0);
    CHECK_INT(info.participants, 2);
    world_free(&w);
}

TEST(a_waiting_guest_gets_short_lived_relay_credentials_and_can_update_its_precheck)
{
    struct world w;
    struct client host, guest;

    world_init(&w);
    start_call(&w, true, 2, &host, &guest);
    json_t *j = frame(&guest, 1);
    json_t *turn = json_array_get(json_object_get(j, "ice_servers"), 1);
    const char *user = json_string_value(json_object_get(turn, "username"));
    CHECK(user && strtoll(user, NULL, 10) == w.unix_ms / 1000 + 300);
    json_decref(j);
    got(&guest, "waiting queue");
    got(&host, "joined knock");
    say(&w, &guest,
        "{\"type\":\"precheck\",\"precheck\":{\"camera\":true,\"turn_tls\":true,\"turn_checked\":"
        "true}}");
    json_t *k = frame(&host, 0);
    CHECK_STR(json_string_value(json_object_get(k, "type")), "knock");
    CHECK(json_is_true(json_object_get(json_object_get(k, "precheck"), "turn_tls")));
    CHECK(json_is_true(json_object_get(json_object_get(k, "precheck"), "turn_checked")));
    CHECK(json_is_false(json_object_get(json_object_get(k, "precheck"), "turn_udp")));
    json_decref(k);
    CHECK(got(&host, "knock"));
    say(&w, &host, "{\"type\":\"precheck\",\"precheck\":{}}"); /* joined: nothing to do */
    CHECK_INT(host.conn.nframes, 0);
    struct client stranger;
    client_open(&w, &stranger);
    say(&w, &stranger, "{\"type\":\"precheck\",\"precheck\":{}}");
    CHECK(got(&stranger, "error:not_joined"));
    world_free(&w);
}

TEST(a_host_arriving_later_sees_the_waiting_guest)
{
    struct world w;
    struct client host, guest;

    world_init(&w);
    struct hub_room_info room = make_room(&w, true, 2);
    client_open(&w, &guest);
    client_open(&w, &host);
    join(&w, &guest, room.guest_token, NULL);
    CHECK(got(&guest, "waiting queue"));
    join(&w, &host, room.host_token, NULL);
    CHECK(got(&host, "joined knock"));
    world_free(&w);
}

TEST(denied_guest_is_told_and_disconnected)
{
    struct world w;
    struct client host, guest;
    char id[64];

    world_init(&w);
    start_call(&w, true, 2, &host, &guest);
    knocker(&host, id, sizeof(id));
    got(&host, "joined knock");
    admit(&w, &host, "deny", id);
    CHECK(got(&guest, "waiting queue denied"));
    CHECK_INT(guest.conn.close_code, 1000);
    CHECK(got(&host, "knock-cancelled"));
    admit(&w, &host, "admit", id);
    CHECK(got(&host, "error:unknown_peer"));
    client_drop(&w, &guest);
    world_free(&w);
}

TEST(signal_data_is_forwarded_byte_for_byte)
{
    struct world w;
    struct client host, guest;

    world_init(&w);
    start_direct_call(&w, &host, &guest);
    signal_to(&w, &host, guest.peer,
              "{ \"description\" : {\"sdp\":\"v=0\\r\\n\"},\"x\":[1, 2.50, \"}\"]}");
    char want[256];
    snprintf(
        want, sizeof(want),
        "{\"type\":\"signal\",\"from\":\"%s\",\"data\":{ \"description\" : {\"sdp\":\"v=0\\r\\n\"},"
        "\"x\":[1, 2.50, \"}\"]}}",
        host.peer);
    if (CHECK_INT(guest.conn.nframes, 1))
        CHECK_STR(guest.conn.frames[0], want);
    say(&w, &host, "{\"type\":\"signal\",\"to\":\"nobody\",\"data\":null}");
    CHECK(got(&host, "error:unknown_peer"));
    CHECK_INT(hub_get_stats(w.h)->messages_relayed, 1);
    world_free(&w);
}

TEST(messages_before_join_get_not_joined_except_ping)
{
    struct world w;
    struct client c;

    world_init(&w);
    client_open(&w, &c);
    say(&w, &c, "{\"type\":\"ping\"}");
    say(&w, &c, "{\"type\":\"signal\",\"to\":\"a\",\"data\":1}");
    say(&w, &c, "{\"type\":\"admit\",\"peer\":\"a\"}");
    say(&w, &c, "not json");
    say(&w, &c, "{\"type\":\"dance\"}");
    CHECK(got(&c, "pong error:not_joined error:not_joined error:bad_json error:unknown_type"));
    world_free(&w);
}

TEST(unknown_expired_and_ended_rooms_get_the_same_answer)
{
    struct world w;
    struct client a, b, c;
    struct hub_room_opts o = {.ttl = 10, .capacity = 2, .lobby = true};
    struct hub_room_info shortlived, ended;

    world_init(&w);
    hub_room_create(w.h, "key", &o, &shortlived);
    hub_room_create(w.h, "key", &o, &ended);
    hub_room_end(w.h, "key", ended.id);
    advance(&w, 11000);
    client_open(&w, &a);
    client_open(&w, &b);
    client_open(&w, &c);
    join(&w, &a, "0123456789abcdef0123456789abcdef", NULL);
    join(&w, &b, shortlived.guest_token, NULL);
    join(&w, &c, ended.host_token, NULL);
    CHECK_STR(a.conn.frames[0], b.conn.frames[0]);
    CHECK_STR(b.conn.frames[0], c.conn.frames[0]);
    CHECK(got(&a, "error:invalid_token"));
    world_free(&w);
}

TEST(capacity_is_enforced_for_direct_joins_and_admits)
{
    struct world w;
    struct client host, g1, g2;
    char id[64];

    world_init(&w);
    struct hub_room_info open_room = make_room(&w, false, 2);
    client_open(&w, &host);
    client_open(&w, &g1);
    client_open(&w, &g2);
    join(&w, &host, open_room.host_token, NULL);
    join(&w, &g1, open_room.guest_token, NULL);
    join(&w, &g2, open_room.guest_token, NULL);
    CHECK(got(&g2, "error:room_full"));

    struct hub_room_info lobby = make_room(&w, true, 2);
    struct client h2, a, b;
    client_open(&w, &h2);
    client_open(&w, &a);
    client_open(&w, &b);
    join(&w, &h2, lobby.host_token, NULL);
    join(&w, &a, lobby.guest_token, NULL);
    knocker(&h2, id, sizeof(id));
    admit(&w, &h2, "admit", id);
    join(&w, &b, lobby.guest_token, NULL);
    knocker(&h2, id, sizeof(id));
    got(&h2, "joined knock peer-joined knock");
    admit(&w, &h2, "admit", id);
    CHECK(got(&h2, "error:room_full"));
    CHECK(got(&b, "waiting queue error:room_full"));
    /* A host is never locked out of a full room. */
    struct client h3;
    arrive(&w, &h3, lobby.host_token, NULL);
    CHECK(got(&h3, "joined knock"));
    world_free(&w);
}

TEST(a_dropped_peer_resumes_as_the_same_peer_and_gets_queued_signals)
{
    struct world w;
    struct client host, guest, again;
    char old_peer[64];

    world_init(&w);
    struct hub_room_info room = start_call(&w, false, 2, &host, &guest);
    got(&host, "joined peer-joined");
    snprintf(old_peer, sizeof(old_peer), "%s", guest.peer);
    client_drop(&w, &guest);
    CHECK(got(&host, "peer-away"));
    signal_to(&w, &host, old_peer, "\"offer-1\"");
    signal_to(&w, &host, old_peer, "\"offer-1\"");
    CHECK_INT(host.conn.nframes, 0);
    advance(&w, 30000);
    arrive(&w, &again, room.guest_token, guest.resume);
    CHECK_STR(again.peer, old_peer);
    CHECK(strcmp(again.resume, guest.resume) != 0);
    CHECK(got(&again, "joined signal signal"));
    CHECK(got(&host, "peer-back"));
    CHECK_INT(hub_get_stats(w.h)->resumes, 1);
    /* The new resume token works once more; the old one is a fresh join. */
    struct client stale;
    arrive(&w, &stale, room.guest_token, guest.resume);
    CHECK(got(&stale, "error:room_full"));
    world_free(&w);
}

/* A phone that changed networks resumes before its old connection is seen to die: what was sent
 * to the old one may be lost, so the others hear peer-back (they send their offer again). */
TEST(a_resume_that_replaces_a_live_connection_tells_the_others)
{
    struct world w;
    struct client host, guest, again;

    world_init(&w);
    struct hub_room_info room = start_call(&w, false, 2, &host, &guest);
    got(&host, "joined peer-joined");
    arrive(&w, &again, room.guest_token, guest.resume);
    CHECK_STR(again.peer, guest.peer);
    CHECK(got(&again, "joined"));
    CHECK(got(&host, "peer-back"));
    CHECK_INT(hub_get_stats(w.h)->resumes, 1);
    world_free(&w);
}

TEST(a_resumed_host_hears_of_guests_who_knocked_while_it_was_away)
{
    struct world w;
    struct client host, guest, back;

    world_init(&w);
    struct hub_room_info room = make_room(&w, true, 2);
    client_open(&w, &host);
    client_open(&w, &guest);
    join(&w, &host, room.host_token, NULL);
    client_drop(&w, &host);
    join(&w, &guest, room.guest_token, NULL);
    CHECK(got(&guest, "waiting queue"));
    arrive(&w, &back, room.host_token, host.resume);
    CHECK(got(&back, "joined knock"));
    world_free(&w);
}

TEST(queue_for_an_absent_peer_is_bounded)
{
    struct world w;
    struct client host, guest;

    world_init(&w);
    start_call(&w, false, 2, &host, &guest);
    client_drop(&w, &guest);
    got(&host, "joined peer-joined peer-away");
    for (int i = 0; i < 6; i++)
        signal_to(&w, &host, guest.peer, "0");
    CHECK(got(&host, "error:rate_limited error:rate_limited"));
    world_free(&w);
}

TEST(grace_period_ends_with_peer_left)
{
    struct world w;
    struct client host, guest;

    world_init(&w);
    struct hub_room_info room = start_call(&w, false, 2, &host, &guest);
    client_drop(&w, &guest);
    advance(&w, 59000);
    CHECK(got(&host, "joined peer-joined peer-away"));
    advance(&w, 2000);
    CHECK(got(&host, "peer-left"));
    struct client late;
    arrive(&w, &late, room.guest_token, guest.resume);
    CHECK(got(&late, "joined")); /* a fresh join: the place is free again */
    CHECK(strcmp(late.peer, guest.peer) != 0);
    world_free(&w);
}

TEST(host_ends_the_room_for_everyone_guest_cannot)
{
    struct world w;
    struct client host, guest;

    world_init(&w);
    start_direct_call(&w, &host, &guest);
    say(&w, &guest, "{\"type\":\"end\"}");
    CHECK(got(&guest, "error:forbidden"));
    say(&w, &host, "{\"type\":\"end\"}");
    CHECK(got(&host, "room-ended"));
    CHECK(got(&guest, "room-ended"));
    CHECK_INT(host.conn.close_code, 1000);
    CHECK_INT(guest.conn.close_code, 1000);
    CHECK_INT(hub_room_count(w.h), 0);
    world_free(&w);
}

TEST(leave_tells_the_others)
{
    struct world w;
    struct client host, guest;

    world_init(&w);
    start_call(&w, false, 2, &host, &guest);
    say(&w, &guest, "{\"type\":\"leave\"}");
    CHECK(got(&host, "joined peer-joined peer-left"));
    CHECK_INT(guest.conn.close_code, 1000);
    world_free(&w);
}

TEST(message_flood_is_rate_limited_then_closed)
{
    struct world w;
    struct client c;

    world_init(&w);
    client_open(&w, &c);
    for (int i = 0; i < 1000; i++)
        say(&w, &c, "{\"type\":\"ping\"}");
    unsigned pongs = 0, limited = 0;
    for (unsigned i = 0; i < c.conn.nframes; i++) {
        pongs += strstr(c.conn.frames[i], "pong") != NULL;
        limited += strstr(c.conn.frames[i], "rate_limited") != NULL;
    }
    CHECK_INT(limited, 1); /* one note a second, not one per message */
    CHECK_INT(hub_get_stats(w.h)->rate_limited, 600);
    CHECK_INT(c.conn.close_code, 0);
    for (int t = 0; t < 11; t++) {
        advance(&w, 1000);
        for (int i = 0; i < 1000 && !c.conn.close_code; i++)
            say(&w, &c, "{\"type\":\"ping\"}");
    }
    CHECK_INT(c.conn.close_code, 1008);
    (void)pongs;
    world_free(&w);
}

TEST(knocks_are_limited_per_room)
{
    struct world w;
    struct client g[7];

    world_init(&w);
    struct hub_room_info room = make_room(&w, true, 8);
    for (int i = 0; i < 7; i++) {
        arrive(&w, &g[i], room.guest_token, NULL);
    }
    CHECK(got(&g[4], "waiting queue"));
    CHECK(got(&g[5], "error:rate_limited"));
    advance(&w, 60000);
    struct client later;
    arrive(&w, &later, room.guest_token, NULL);
    CHECK(got(&later, "waiting queue"));
    world_free(&w);
}

TEST(a_full_output_queue_closes_the_connection)
{
    struct world w;
    struct client c;

    world_init(&w);
    client_open(&w, &c);
    c.conn.refuse = 1;
    say(&w, &c, "{\"type\":\"ping\"}");
    CHECK_INT(c.conn.close_code, 1008);
    world_free(&w);
}

TEST(rooms_are_limited_per_owner_and_in_total_and_kept_apart)
{
    struct world w;
    struct hub_room_opts o = {.ttl = 60, .capacity = 2, .lobby = true};
    struct hub_room_info info, list[8];

    world_init(&w);
    for (int i = 0; i < 3; i++)
        CHECK_INT(hub_room_create(w.h, "user:1", &o, &info), 0);
    CHECK_INT(hub_room_create(w.h, "user:1", &o, &info), -EDQUOT);
    CHECK_INT(hub_room_create(w.h, "user:2", &o, &info), 0);
    CHECK_INT(hub_room_list(w.h, "user:1", list, 8), 3);
    CHECK_INT(hub_room_list(w.h, "user:2", list, 8), 1);
    CHECK_STR(list[0].id, info.id);
    CHECK_INT(list[0].host_token[0], 0); /* listings never carry tokens */
    CHECK_INT(hub_room_get(w.h, "user:1", info.id, &list[1]), -ENOENT);
    CHECK_INT(hub_room_end(w.h, "user:1", info.id), -ENOENT);
    CHECK_INT(hub_room_end(w.h, "user:2", info.id), 0);
    o.capacity = 9;
    CHECK_INT(hub_room_create(w.h, "user:3", &o, &info), -EINVAL);
    o.capacity = 2;
    o.ttl = 0;
    CHECK_INT(hub_room_create(w.h, "user:3", &o, &info), -EINVAL);
    world_free(&w);
    world_init(&w);
    hub_free(w.h);
    w.set.max_rooms = 1;
    w.h = hub_new(&w.set, &fake_ops, &w);
    o.ttl = 60;
    CHECK_INT(hub_room_create(w.h, "a", &o, &info), 0);
    CHECK_INT(hub_room_create(w.h, "b", &o, &info), -ENOSPC);
    world_free(&w);
}

/* The TURN credential of the joined frame c got last; true if it verifies under secret. */
static bool turn_cred_verifies(struct client *c, const char *secret)
{
    json_t *j = frame(c, 0);
    json_t *turn = json_array_get(json_object_get(j, "ice_servers"), 1);
    const char *user = json_string_value(json_object_get(turn, "username"));
    const char *cred = json_string_value(json_object_get(turn, "credential"));
    char want[64] = "";
    bool ok = user && cred;

    if (ok)
        rest_cred_password((const uint8_t *)secret, strlen(secret), user, strlen(user), want,
                           sizeof(want));
    ok = ok && strcmp(cred, want) == 0;
    json_decref(j);
    return ok;
}

TEST(new_settings_apply_to_later_joins_and_rooms_without_dropping_sessions)
{
    struct world w;
    struct client host, guest;
    struct hub_room_opts o = {.ttl = 60, .capacity = 2, .lobby = false};
    struct hub_room_info info;

    world_init(&w);
    struct hub_room_info room = make_room(&w, false, 2);
    arrive(&w, &host, room.host_token, NULL);
    CHECK(turn_cred_verifies(&host, "turn-secret"));
    got(&host, "joined");
    struct hub_settings next = w.set;
    next.turn_secret = (const uint8_t *)"rotated-secret";
    next.turn_secret_len = 14;
    next.turn_ttl = 600;
    next.max_rooms_per_owner = 1;
    hub_set_settings(w.h, &next);
    arrive(&w, &guest, room.guest_token, NULL);
    CHECK(turn_cred_verifies(&guest, "rotated-secret"));
    CHECK(!turn_cred_verifies(&guest, "turn-secret"));
    json_t *j = frame(&guest, 0);
    const char *user = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "ice_servers"), 1), "username"));
    CHECK_INT(user ? strtoll(user, NULL, 10) : 0, w.unix_ms / 1000 + 600); /* the new TTL cap */
    json_decref(j);
    got(&guest, "joined");
    /* The session opened before the reload still relays. */
    signal_to(&w, &host, guest.peer, "1");
    CHECK(got(&guest, "signal"));
    /* "key" already owns one room: the new per-owner limit of 1 refuses a second. */
    CHECK_INT(hub_room_create(w.h, "key", &o, &info), -EDQUOT);
    world_free(&w);
}

TEST(draining_refuses_new_rooms_but_joins_resumes_and_signals_go_on)
{
    struct world w;
    struct client host, guest, again;
    struct hub_room_opts o = {.ttl = 60, .capacity = 2, .lobby = true};
    struct hub_room_info info;

    world_init(&w);
    struct hub_room_info room = make_room(&w, true, 2);
    CHECK(!hub_draining(w.h));
    hub_set_draining(w.h, true);
    CHECK(hub_draining(w.h));
    CHECK_INT(hub_room_create(w.h, "key", &o, &info), -ESHUTDOWN);
    CHECK_INT(hub_room_count(w.h), 1);
    join_pair(&w, &room, &host, &guest);
    CHECK(got(&guest, "waiting queue"));
    char peer[64];
    knocker(&host, peer, sizeof(peer));
    got(&host, "joined knock");
    admit(&w, &host, "admit", peer);
    json_t *j = frame(&guest, 0);
    snprintf(guest.resume, sizeof(guest.resume), "%s",
             j ? json_string_value(json_object_get(j, "resume")) : "");
    json_decref(j);
    CHECK(got(&guest, "admitted joined"));
    got(&host, "peer-joined");
    client_drop(&w, &guest);
    CHECK(got(&host, "peer-away"));
    arrive(&w, &again, room.guest_token, guest.resume);
    CHECK(got(&again, "joined"));
    CHECK(got(&host, "peer-back"));
    signal_to(&w, &host, peer, "1");
    CHECK(got(&again, "signal"));
    hub_set_draining(w.h, false);
    CHECK_INT(hub_room_create(w.h, "key", &o, &info), 0);
    world_free(&w);
}

TEST(metadata_log_has_events_but_no_tokens_or_signal_data)
{
    struct world w;
    struct client host, guest;
    char id[64];

    world_init(&w);
    struct hub_room_info room = start_call(&w, true, 2, &host, &guest);
    knocker(&host, id, sizeof(id));
    admit(&w, &host, "admit", id);
    signal_to(&w, &host, guest.peer, "{\"sdp\":\"CANARY-SDP-7781\"}");
    say(&w, &guest,
        "{\"type\":\"stats\",\"path\":\"relay\",\"rtt_ms\":20,\"loss_pct\":0.5,"
        "\"bitrate_kbps\":900}");
    say(&w, &guest, "{\"type\":\"leave\"}");
    say(&w, &host, "{\"type\":\"end\"}");
    event_log_close(w.log);
    w.log = NULL;
    CHECK(file_contains(w.log_path, "\"event\":\"room.created\""));
    CHECK(file_contains(w.log_path, "\"event\":\"peer.joined\""));
    CHECK(file_contains(w.log_path, "\"event\":\"call.stats\""));
    CHECK(file_contains(w.log_path, "\"path\":\"relay\""));
    CHECK(file_contains(w.log_path, "\"event\":\"peer.left\""));
    CHECK(file_contains(w.log_path, "\"event\":\"room.ended\""));
    CHECK(!file_contains(w.log_path, "CANARY"));
    CHECK(!file_contains(w.log_path, room.host_token));
    CHECK(!file_contains(w.log_path, room.guest_token));
    CHECK(!file_contains(w.log_path, host.resume));
    world_free(&w);
}

/* ---- ice_servers from the TURN pool (self-contained: its own connections and settings) ---- */

#include "vc/turnpool.h"

/* The pool tests' connection. struct hub_conn belongs to the tests above, and the hub never
 * looks inside one, so these travel through the hub cast to it and back. */
struct pool_conn {
    char last[8192]; /* the last frame */
    unsigned frames;
};

static int pool_send(void *ctx, struct hub_conn *c, const char *buf, size_t len)
{
    struct pool_conn *pc = (struct pool_conn *)c;

    (void)ctx;
    snprintf(pc->last, sizeof(pc->last), "%.*s", (int)len, buf);
    pc->frames++;
    return 0;
}

static void pool_close(void *ctx, struct hub_conn *c, int code, const char *reason)
{
    (void)ctx;
    (void)c;
    (void)code;
    (void)reason;
}

static const struct hub_io_ops pool_ops = {pool_send, pool_close};
static const char *const pool_ice[] = {"stun:stun.example.test:3478",
                                       "turn:legacy.example.test:3478"};

/* Nodes 0 and 1 in region "a" (1 twice 0's weight), node 2 in region "b"; all answered. */
static struct turnpool *pool_make(void)
{
    static const char *const specs[] = {
        "region=a,weight=100,stun=127.0.0.1:4101,urls=turn:a1.test:3478?transport=udp",
        "region=a,weight=200,stun=127.0.0.1:4102,urls=turn:a2.test:3478|turns:a2.test:5349",
        "region=b,stun=127.0.0.1:4103,urls=turn:b1.test:3478",
    };
    struct turnpool_node_conf nodes[3];
    unsigned idx[TURNPOOL_MAX_NODES];
    char err[160];

    for (size_t i = 0; i < 3; i++)
        if (turnpool_parse_node(specs[i], &nodes[i], err, sizeof(err)) < 0)
            return NULL;
    struct turnpool *p = turnpool_new(nodes, 3);
    size_t n = p ? turnpool_probe_due(p, 0, idx, TURNPOOL_MAX_NODES) : 0;
    for (size_t k = 0; k < n; k++)
        turnpool_probe_result(p, idx[k], true, 5);
    return p;
}

static struct hub *pool_hub(struct turnpool *pool)
{
    struct hub_settings set = {
        .public_url = "https://localhost:8443",
        .turn_secret = (const uint8_t *)"turn-secret",
        .turn_secret_len = 11,
        .ice_servers = pool_ice,
        .n_ice_servers = 2,
        .turn_ttl = 4 * 3600,
        .turn_margin = 3600,
        .resume_grace = 60,
        .max_msg_rate = 200,
        .max_rooms = 100,
        .max_rooms_per_owner = 100,
        .max_knocks_per_min = 5,
        .queue_max_msgs = 4,
        .queue_max_bytes = 4096,
        .pool = pool,
        .default_region = pool ? "a" : NULL,
    };
    struct hub *h = hub_new(&set, &pool_ops, NULL);

    if (h)
        hub_set_clock(h, 10000, 1900000000000LL);
    return h;
}

/* Opens a session on pc and joins with token; returns the session. */
static struct hub_session *pool_join(struct hub *h, struct pool_conn *pc, const char *token)
{
    struct hub_client_info info = {.ip = "127.0.0.1", .browser = "other", .os = "other"};
    struct hub_session *s = hub_session_open(h, (struct hub_conn *)pc, &info);
    char msg[128];

    if (!s)
        return NULL;
    snprintf(msg, sizeof(msg), "{\"type\":\"join\",\"token\":\"%s\"}", token);
    hub_session_message(h, s, (const uint8_t *)msg, strlen(msg));
    return s;
}

/* The URLs of every RTCIceServer in pc's last frame, space-separated, "+cred" after those with
 * a username and credential. */
static void pool_urls(const struct pool_conn *pc, char *out, size_t outlen)
{
    json_t *j = json_loads(pc->last, 0, NULL), *srv;
    size_t i, len = 0;

    out[0] = '\0';
    json_array_foreach(json_object_get(j, "ice_servers"), i, srv)
    {
        json_t *urls = json_object_get(srv, "urls");
        bool cred = json_is_string(json_object_get(srv, "username")) &&
                    json_is_string(json_object_get(srv, "credential"));
        size_t n = json_is_string(urls) ? 1 : json_array_size(urls);

        for (size_t k = 0; k < n && len < outlen; k++) {
            json_t *u = json_is_string(urls) ? urls : json_array_get(urls, k);
            len += (size_t)snprintf(out + len, outlen - len, "%s%s%s", len ? " " : "",
                                    json_string_value(u), cred ? "+cred" : "");
        }
    }
    json_decref(j);
}

static unsigned pool_peers_total(const struct turnpool *p)
{
    return turnpool_peers(p, 0) + turnpool_peers(p, 1) + turnpool_peers(p, 2);
}

TEST(hub_pool_hands_out_the_rooms_region_nodes)
{
    struct turnpool *pool = pool_make();
    struct hub *h = pool ? pool_hub(pool) : NULL;
    struct hub_room_opts ob = {.ttl = 600, .capacity = 2, .lobby = false, .region = "b"};
    struct hub_room_opts oa = {.ttl = 600, .capacity = 2, .lobby = false};
    struct hub_room_info rb, ra;
    struct pool_conn cb = {0}, ca = {0};
    char urls[1024];

    if (!CHECK(h))
        goto out;
    CHECK_INT(hub_room_create(h, "key", &ob, &rb), 0);
    CHECK_STR(rb.region, "b");
    CHECK_INT(hub_room_create(h, "key", &oa, &ra), 0);
    CHECK_STR(ra.region, "a"); /* the default region */
    pool_join(h, &cb, rb.host_token);
    pool_urls(&cb, urls, sizeof(urls));
    /* stun: entries stay; the configured turn: URL gives way to the region's node. */
    CHECK_STR(urls, "stun:stun.example.test:3478 turn:b1.test:3478+cred");
    pool_join(h, &ca, ra.host_token);
    pool_urls(&ca, urls, sizeof(urls));
    CHECK_STR(urls, "stun:stun.example.test:3478 turn:a2.test:3478+cred turns:a2.test:5349+cred "
                    "turn:a1.test:3478?transport=udp+cred");
out:
    hub_free(h);
    turnpool_free(pool);
}

TEST(hub_pool_refuses_rooms_in_unknown_regions)
{
    struct turnpool *pool = pool_make();
    struct hub *h = pool ? pool_hub(pool) : NULL, *plain = pool_hub(NULL);
    struct hub_room_opts o = {.ttl = 600, .capacity = 2, .lobby = false, .region = "mars"};
    struct hub_room_info info;

    if (!CHECK(h && plain))
        goto out;
    CHECK_INT(hub_room_create(h, "key", &o, &info), -EINVAL);
    CHECK_INT(hub_room_count(h), 0);
    /* Without a pool no region exists, and a room without one is fine. */
    o.region = "a";
    CHECK_INT(hub_room_create(plain, "key", &o, &info), -EINVAL);
    o.region = NULL;
    CHECK_INT(hub_room_create(plain, "key", &o, &info), 0);
    CHECK_STR(info.region, "");
out:
    hub_free(h);
    hub_free(plain);
    turnpool_free(pool);
}

/* Without a pool the configured URLs go out exactly as before. */
TEST(hub_without_pool_hands_out_configured_urls)
{
    struct hub *h = pool_hub(NULL);
    struct hub_room_opts o = {.ttl = 600, .capacity = 2, .lobby = false};
    struct hub_room_info info;
    struct pool_conn c = {0};
    char urls[1024];

    if (!CHECK(h))
        return;
    CHECK_INT(hub_room_create(h, "key", &o, &info), 0);
    pool_join(h, &c, info.host_token);
    pool_urls(&c, urls, sizeof(urls));
    CHECK_STR(urls, "stun:stun.example.test:3478 turn:legacy.example.test:3478+cred");
    hub_free(h);
}

TEST(hub_pool_counts_peers_until_they_are_gone)
{
    struct turnpool *pool = pool_make();
    struct hub *h = pool ? pool_hub(pool) : NULL;
    struct hub_room_opts o = {.ttl = 600, .capacity = 2, .lobby = false};
    struct hub_room_info info;
    struct pool_conn ch = {0}, cg = {0}, cg2 = {0};

    if (!CHECK(h))
        goto out;
    CHECK_INT(hub_room_create(h, "key", &o, &info), 0);
    struct hub_session *host = pool_join(h, &ch, info.host_token);
    struct hub_session *guest = pool_join(h, &cg, info.guest_token);
    CHECK_INT(turnpool_peers(pool, 0), 2);
    CHECK_INT(turnpool_peers(pool, 1), 2);
    /* Leaving uncounts the peer. */
    hub_session_message(h, guest, (const uint8_t *)"{\"type\":\"leave\"}", 16);
    hub_session_closed(h, guest);
    CHECK_INT(pool_peers_total(pool), 2);
    /* A dropped peer stays counted through the grace period (its media may still flow), and
     * is uncounted when the grace period runs out. */
    guest = pool_join(h, &cg2, info.guest_token);
    CHECK_INT(pool_peers_total(pool), 4);
    hub_session_closed(h, guest);
    CHECK_INT(pool_peers_total(pool), 4);
    hub_set_clock(h, 10000 + 61000, 1900000061000LL);
    hub_tick(h);
    CHECK_INT(pool_peers_total(pool), 2);
    /* Ending the room uncounts everyone in it. */
    hub_session_message(h, host, (const uint8_t *)"{\"type\":\"end\"}", 14);
    CHECK_INT(pool_peers_total(pool), 0);
    hub_session_closed(h, host);
out:
    hub_free(h);
    turnpool_free(pool);
}

TEST(hub_pool_skips_a_node_that_went_down)
{
    struct turnpool *pool = pool_make();
    struct hub *h = pool ? pool_hub(pool) : NULL;
    struct hub_room_opts o = {.ttl = 600, .capacity = 8, .lobby = false};
    struct hub_room_info info;
    struct pool_conn c1 = {0}, c2 = {0};
    unsigned idx[TURNPOOL_MAX_NODES];
    char urls[1024];

    if (!CHECK(h))
        goto out;
    /* Node a2 misses two probes in a row. */
    for (uint64_t t = 5000; t <= 10000; t += 5000) {
        size_t n = turnpool_probe_due(pool, t, idx, TURNPOOL_MAX_NODES);
        for (size_t k = 0; k < n; k++)
            turnpool_probe_result(pool, idx[k], idx[k] != 1, t + 5);
    }
    CHECK_INT(hub_room_create(h, "key", &o, &info), 0);
    pool_join(h, &c1, info.host_token);
    pool_urls(&c1, urls, sizeof(urls));
    CHECK_STR(urls, "stun:stun.example.test:3478 turn:a1.test:3478?transport=udp+cred");
    CHECK_INT(turnpool_peers(pool, 1), 0);
    /* Every node of the region down: its nodes anyway (never region b's). */
    for (uint64_t t = 15000; t <= 20000; t += 5000) {
        size_t n = turnpool_probe_due(pool, t, idx, TURNPOOL_MAX_NODES);
        for (size_t k = 0; k < n; k++)
            turnpool_probe_result(pool, idx[k], idx[k] == 2, t + 5);
    }
    pool_join(h, &c2, info.guest_token);
    pool_urls(&c2, urls, sizeof(urls));
    CHECK(strstr(urls, "a1.test") && strstr(urls, "a2.test") && !strstr(urls, "b1.test"));
out:
    hub_free(h);
    turnpool_free(pool);
}

TEST(rooms_per_owner_are_counted_across_many_owners_and_freed_rooms)
{
    struct world w;
    struct hub_room_opts o = {.ttl = 60, .capacity = 2, .lobby = true};
    struct hub_room_info info, first[40];
    char owner[32];

    world_init(&w);
    w.set.max_rooms = 1000;
    hub_set_settings(w.h, &w.set);
    /* 40 owners (more than the table's first size) with 3 rooms each, interleaved. */
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 40; i++) {
            snprintf(owner, sizeof(owner), "user:%d", i);
            CHECK_INT(hub_room_create(w.h, owner, &o, k == 0 ? &first[i] : &info), 0);
        }
    }
    for (int i = 0; i < 40; i++) {
        snprintf(owner, sizeof(owner), "user:%d", i);
        CHECK_INT(hub_room_create(w.h, owner, &o, &info), -EDQUOT);
    }
    /* Ending a room frees one place for its owner only. */
    CHECK_INT(hub_room_end(w.h, "user:7", first[7].id), 0);
    CHECK_INT(hub_room_create(w.h, "user:8", &o, &info), -EDQUOT);
    CHECK_INT(hub_room_create(w.h, "user:7", &o, &info), 0);
    CHECK_INT(hub_room_create(w.h, "user:7", &o, &info), -EDQUOT);
    CHECK_INT(hub_room_count(w.h), 120);
    /* Expiry frees them too: every owner starts again from zero. */
    advance(&w, 61000);
    CHECK_INT(hub_room_count(w.h), 0);
    for (int k = 0; k < 3; k++)
        CHECK_INT(hub_room_create(w.h, "user:7", &o, &info), 0);
    CHECK_INT(hub_room_create(w.h, "user:7", &o, &info), -EDQUOT);
    CHECK_INT(hub_room_create(w.h, "user:39", &o, &info), 0);
    world_free(&w);
}
