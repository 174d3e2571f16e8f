/* Tests of webhook bodies: only the listed fields of a metadata line reach a receiver. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../src/signald/webhook.h"
#include "test.h"

TEST(whevent_body_copies_only_the_listed_fields)
{
    json_t *line = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:s}", "ts", "2026-12-07T18:30:00.123Z",
        "event", "peer.joined", "room", "3f9c1a2b4d5e6f70", "peer", "a1b2c3d4e5f6", "role", "guest",
        "browser", "firefox", "browser_version", "128.0", "os", "linux", "ip", "198.51.100.7",
        "wait_ms", (json_int_t)1500, "resumed", 0, "label", "CANARY Mrs K");
    char room[WHEVENT_ROOM_MAX + 1];
    size_t len = 0;
    char *body = whevent_body("peer.joined", line, "0123456789abcdef0123456789abcdef", &len, room);

    if (!CHECK(body))
        return;
    CHECK_INT(len, strlen(body));
    CHECK_STR(room, "3f9c1a2b4d5e6f70");
    CHECK_STR(body, "{\"id\":\"0123456789abcdef0123456789abcdef\",\"type\":\"peer.joined\","
                    "\"ts\":\"2026-12-07T18:30:00.123Z\",\"data\":{\"room\":\"3f9c1a2b4d5e6f70\","
                    "\"peer\":\"a1b2c3d4e5f6\",\"role\":\"guest\",\"browser\":\"firefox\","
                    "\"browser_version\":\"128.0\",\"os\":\"linux\",\"wait_ms\":1500,"
                    "\"resumed\":false}}");
    CHECK(!strstr(body, "198.51.100.7") && !strstr(body, "CANARY"));
    free(body);
    json_decref(line);
}

TEST(whevent_skips_events_webhooks_do_not_carry)
{
    json_t *line = json_pack("{s:s,s:s,s:s,s:I}", "ts", "2026-12-07T18:30:00.123Z", "event",
                             "lobby.message", "room", "3f9c1a2b4d5e6f70", "length", (json_int_t)12);
    char room[WHEVENT_ROOM_MAX + 1];
    size_t len = 0;

    CHECK(!whevent_wanted("lobby.message") && !whevent_wanted("call.stats") &&
          !whevent_wanted("auth.failed"));
    CHECK(whevent_wanted("call.summary") && whevent_wanted("peer.knocked"));
    CHECK(whevent_body("lobby.message", line, "0123456789abcdef0123456789abcdef", &len, room) ==
          NULL);
    /* A line missing a listed field is refused rather than sent short. */
    CHECK(whevent_body("room.ended", line, "0123456789abcdef0123456789abcdef", &len, room) == NULL);
    json_decref(line);
}
