/* The room index: thousands of rooms found by id and by either token, and gone once ended. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub_fixture.h"
#include "test.h"

#define NROOMS 3000 /* several doublings of the index past its first 64 buckets */

/* A world whose limits let one owner hold NROOMS rooms. */
static void big_world(struct world *w)
{
    world_init(w);
    hub_free(w->h);
    w->set.max_rooms = NROOMS;
    w->set.max_rooms_per_owner = NROOMS;
    w->h = hub_new(&w->set, &fake_ops, w);
    hub_set_clock(w->h, w->mono, w->unix_ms);
}

TEST(thousands_of_rooms_are_found_by_id_and_token_until_ended)
{
    struct world w;
    struct hub_room_opts o = {.ttl = 3600, .capacity = 2, .lobby = false};
    struct hub_room_info *rooms = calloc(NROOMS, sizeof(*rooms)), got_info;
    struct client host_kept, guest_kept, host_ended;
    unsigned found = 0, gone = 0;

    CHECK(rooms != NULL);
    big_world(&w);
    for (unsigned i = 0; i < NROOMS; i++)
        CHECK_INT(hub_room_create(w.h, "key", &o, &rooms[i]), 0);
    for (unsigned i = 0; i < NROOMS; i++)
        found += hub_room_get(w.h, "key", rooms[i].id, &got_info) == 0 &&
                 strcmp(got_info.id, rooms[i].id) == 0;
    CHECK_INT(found, NROOMS);
    /* End every other room, the first and the last among them: unlinking from both ends. */
    for (unsigned i = 0; i < NROOMS; i += 2)
        CHECK_INT(hub_room_end(w.h, "key", rooms[i].id), 0);
    CHECK_INT(hub_room_end(w.h, "key", rooms[NROOMS - 1].id), 0);
    found = gone = 0;
    for (unsigned i = 0; i < NROOMS; i++) {
        int rc = hub_room_get(w.h, "key", rooms[i].id, &got_info);
        bool ended = i % 2 == 0 || i == NROOMS - 1;

        found += !ended && rc == 0;
        gone += ended && rc == -ENOENT;
    }
    CHECK_INT(found + gone, NROOMS);
    /* Tokens: a kept room's host and guest get in; an ended room's host does not. */
    client_open(&w, &host_kept);
    client_open(&w, &guest_kept);
    client_open(&w, &host_ended);
    join(&w, &host_kept, rooms[NROOMS / 2 + 1].host_token, NULL);
    join(&w, &guest_kept, rooms[NROOMS / 2 + 1].guest_token, NULL);
    join(&w, &host_ended, rooms[NROOMS / 2].host_token, NULL);
    CHECK(got(&host_kept, "joined peer-joined"));
    CHECK(got(&guest_kept, "joined"));
    CHECK(got(&host_ended, "error:invalid_token"));
    /* A token of one room never opens another: the host's token is not the guest's. */
    CHECK(strcmp(rooms[1].host_token, rooms[1].guest_token) != 0);
    free(rooms);
    world_free(&w);
}

TEST(rooms_stay_findable_when_one_ends_and_another_is_created)
{
    struct world w;
    struct hub_room_opts o = {.ttl = 3600, .capacity = 2, .lobby = false};
    struct hub_room_info a, b;
    struct client host;

    big_world(&w);
    CHECK_INT(hub_room_create(w.h, "key", &o, &a), 0);
    CHECK_INT(hub_room_create(w.h, "key", &o, &b), 0);
    CHECK_INT(hub_room_end(w.h, "key", a.id), 0);
    CHECK_INT(hub_room_create(w.h, "key", &o, &a), 0); /* the freed slot reused */
    client_open(&w, &host);
    join(&w, &host, b.host_token, NULL);
    CHECK(got(&host, "joined"));
    world_free(&w);
}
