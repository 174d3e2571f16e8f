/* Tests of the lobby's events and call.summary in the metadata log, read through the log's tap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/hub.h"
#include "vc/log.h"
#include "test.h"

#include "hub_fixture.h"

/* The tap: every event, in order, as the log wrote it. */
static void collect(void *ctx, const char *event, json_t *line)
{
    (void)event;
    json_array_append(ctx, line);
}

/* The events of the log so far, as "name name ...". */
static const char *names(json_t *events, char *out, size_t outlen)
{
    size_t off = 0, i;
    json_t *e;

    out[0] = '\0';
    json_array_foreach(events, i, e)
    {
        off += (size_t)snprintf(out + off, outlen - off, "%s%s", off ? " " : "",
                                json_string_value(json_object_get(e, "event")));
        if (off >= outlen)
            break;
    }
    return out;
}

static json_t *find(json_t *events, const char *event)
{
    size_t i;
    json_t *e;

    json_array_foreach(events, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "event")), event) == 0)
            return e;
    }
    return NULL;
}

#define FIELD_INT(e, k) json_integer_value(json_object_get((e), (k)))
#define FIELD_STR(e, k) json_string_value(json_object_get((e), (k)))

TEST(lobby_decisions_and_the_call_summary_are_logged)
{
    struct world w;
    struct client host, guest, other;
    json_t *events = json_array();
    char buf[1024], id[64], other_id[64];

    world_init(&w);
    event_log_set_tap(w.log, collect, events);
    struct hub_room_info room = start_call(&w, true, 2, &host, &guest);
    knocker(&host, id, sizeof(id));
    arrive(&w, &other, room.guest_token, NULL);
    knocker(&host, other_id, sizeof(other_id));
    advance(&w, 2000);
    admit(&w, &host, "deny", other_id);
    advance(&w, 1000);
    admit(&w, &host, "admit", id);
    advance(&w, 4000);
    say(&w, &guest,
        "{\"type\":\"stats\",\"path\":\"relay\",\"rtt_ms\":20,\"loss_pct\":1,\"bitrate_kbps\":"
        "800}");
    advance(&w, 2000);
    say(&w, &host,
        "{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":31,\"loss_pct\":0,\"bitrate_kbps\":400}");
    advance(&w, 90000);
    say(&w, &host,
        "{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":31,\"loss_pct\":0,\"bitrate_kbps\":400}");
    say(&w, &guest, "{\"type\":\"leave\"}");
    advance(&w, 5000); /* alone: not call time */
    say(&w, &host, "{\"type\":\"end\"}");

    CHECK_STR(
        names(events, buf, sizeof(buf)),
        "room.created peer.joined peer.knocked peer.knocked peer.denied peer.admitted "
        "peer.joined call.stats call.stats call.stats peer.left peer.left room.ended call.summary");
    json_t *d = find(events, "peer.denied"), *a = find(events, "peer.admitted");
    CHECK_STR(FIELD_STR(d, "peer"), other_id);
    CHECK_INT(FIELD_INT(d, "wait_ms"), 2000);
    CHECK_STR(FIELD_STR(d, "by"), "host");
    CHECK_STR(FIELD_STR(a, "peer"), id);
    CHECK_INT(FIELD_INT(a, "wait_ms"), 3000);
    CHECK_STR(FIELD_STR(find(events, "peer.knocked"), "room"), room.id);
    json_t *s = find(events, "call.summary");
    CHECK_STR(FIELD_STR(s, "room"), room.id);
    CHECK_STR(FIELD_STR(s, "owner"), "key");
    CHECK(json_is_null(json_object_get(s, "team"))); /* a room of no team's */
    CHECK_INT(FIELD_INT(s, "duration_s"), 96);       /* admitted to the guest's leave */
    CHECK_INT(FIELD_INT(s, "hosts"), 1);
    CHECK_INT(FIELD_INT(s, "guests"), 1);
    CHECK_STR(FIELD_STR(s, "path"), "mixed");
    /* 800 kbit/s over the 4 s since the guest's admission; 400 over the 9 s since the host's,
     * then over 60 s of the 90 since its first report (a report covers a minute at most). */
    CHECK_INT(FIELD_INT(s, "bytes"), 800 * 125 * 4 + 400 * 125 * 9 + 400 * 125 * 60);
    CHECK(json_real_value(json_object_get(s, "rtt_ms")) == 27.33);
    CHECK(json_real_value(json_object_get(s, "loss_pct")) == 0.33);
    CHECK_INT(FIELD_INT(json_object_get(s, "browsers"), "firefox"), 2);
    CHECK_INT(FIELD_INT(json_object_get(s, "os"), "linux"), 2);
    CHECK(!strstr(buf, "CANARY"));
    event_log_set_tap(w.log, NULL, NULL);
    world_free(&w);
    json_decref(events);
}

TEST(an_admit_from_a_dashboard_names_the_clinician_by_id_only)
{
    static const struct hub_clinician alice = {"user:aaaaaaaaaaaaaaaa", "Dr CANARY Alice", 0, {""}};
    struct hub_room_opts o = {
        .ttl = 3600, .capacity = 2, .lobby = true, .label = "CANARY Mrs K", .team = "Renal"};
    struct hub_room_info room;
    struct world w;
    struct client guest, dash;
    json_t *events = json_array();
    char buf[256];

    world_init(&w);
    event_log_set_tap(w.log, collect, events);
    if (!CHECK_INT(hub_room_create(w.h, alice.id, &o, &room), 0))
        return;
    arrive(&w, &guest, room.guest_token, NULL);
    json_t *k = find(events, "peer.knocked");
    client_open(&w, &dash);
    CHECK_INT(hub_session_set_clinician(w.h, dash.s, &alice), 0);
    snprintf(buf, sizeof(buf), "{\"type\":\"admit\",\"room\":\"%s\",\"peer\":\"%s\"}", room.id,
             k ? FIELD_STR(k, "peer") : "");
    say(&w, &dash, buf);
    json_t *a = find(events, "peer.admitted");
    if (CHECK(a))
        CHECK_STR(FIELD_STR(a, "by"), "user:aaaaaaaaaaaaaaaa");
    CHECK_INT(hub_room_end(w.h, alice.id, room.id), 0);
    json_t *sum = find(events, "call.summary");
    if (CHECK(sum)) { /* the owner and team scope the report; the label stays out */
        CHECK_STR(FIELD_STR(sum, "owner"), "user:aaaaaaaaaaaaaaaa");
        CHECK_STR(FIELD_STR(sum, "team"), "Renal");
    }
    char *all = json_dumps(events, JSON_COMPACT);
    CHECK(all && !strstr(all, "CANARY"));
    free(all);
    event_log_set_tap(w.log, NULL, NULL);
    world_free(&w);
    json_decref(events);
}

TEST(a_room_nobody_joined_is_summed_up_as_a_no_show)
{
    struct world w;
    json_t *events = json_array();

    world_init(&w);
    event_log_set_tap(w.log, collect, events);
    struct hub_room_info room = make_room(&w, true, 2);
    CHECK_INT(hub_room_end(w.h, "key", room.id), 0);
    json_t *s = find(events, "call.summary");
    if (CHECK(s)) {
        CHECK_INT(FIELD_INT(s, "duration_s"), 0);
        CHECK_INT(FIELD_INT(s, "guests"), 0);
        CHECK_STR(FIELD_STR(s, "path"), "unknown");
        CHECK(json_is_null(json_object_get(s, "rtt_ms")));
        CHECK_INT(json_object_size(json_object_get(s, "browsers")), 0);
    }
    event_log_set_tap(w.log, NULL, NULL);
    world_free(&w);
    json_decref(events);
}
