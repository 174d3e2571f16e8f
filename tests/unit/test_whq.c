/* Tests of the webhook queue: order per room, a retry holding its room back, dropping the oldest
 * when full, the retry schedule on a fake clock, and the SQLite store across a restart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../src/signald/webhook.h"
#include "test.h"

static struct whq_item *item(uint64_t seq, const char *room, int64_t due_ms)
{
    struct whq_item *it = calloc(1, sizeof(*it));

    it->seq = seq;
    snprintf(it->room, sizeof(it->room), "%s", room);
    it->first_ms = it->due_ms = due_ms;
    return it;
}

TEST(whq_sends_in_order_and_a_retry_holds_its_room_back)
{
    struct whq q = {0};
    struct whq_item *a1 = item(1, "aaaa", 0), *b1 = item(2, "bbbb", 0), *a2 = item(3, "aaaa", 0);

    CHECK_INT(whq_push(&q, a1), 0);
    CHECK_INT(whq_push(&q, b1), 0);
    CHECK_INT(whq_push(&q, a2), 0);
    CHECK(whq_take(&q, 0) == a1);
    CHECK(whq_take(&q, 0) == b1);
    CHECK(whq_take(&q, 0) == NULL); /* a2 waits for a1 */
    whq_retry(&q, a1, 100);
    CHECK_INT(whq_next_due(&q), 100);
    CHECK(whq_take(&q, 99) == NULL); /* still behind a1, which is not due */
    CHECK(whq_take(&q, 100) == a1);
    whq_remove(&q, a1); /* delivered */
    CHECK(whq_take(&q, 100) == a2);
    whq_remove(&q, b1);
    whq_remove(&q, a2);
    CHECK_INT(q.count, 0);
    CHECK_INT(q.nrooms, 0);
    CHECK_INT(whq_next_due(&q), INT64_MAX);
    whq_free(&q);
}

/* What webhook.c does past its cap: the oldest event not being sent goes. */
static unsigned cap(struct whq *q, size_t max)
{
    unsigned dropped = 0;
    struct whq_item *v;

    while ((v = whq_over(q, max))) {
        whq_remove(q, v);
        dropped++;
    }
    return dropped;
}

TEST(whq_full_drops_the_oldest_idle_events)
{
    struct whq q = {0};
    unsigned dropped = 0;

    for (uint64_t s = 1; s <= 5; s++) {
        CHECK_INT(whq_push(&q, item(s, s % 2 ? "odd" : "even", 0)), 0);
        dropped += cap(&q, 3);
    }
    CHECK_INT(dropped, 2);
    CHECK_INT(q.count, 3);
    CHECK_INT(q.oldest->seq, 3);
    /* The oldest is being sent: the next oldest goes instead, from the middle of its room. */
    struct whq_item *busy = whq_take(&q, 0);
    CHECK_INT(busy->seq, 3);
    CHECK_INT(whq_push(&q, item(6, "even", 0)), 0);
    CHECK_INT(whq_push(&q, item(7, "odd", 0)), 0);
    CHECK_INT(cap(&q, 3), 2);
    CHECK_INT(q.oldest->seq, 3);
    CHECK_INT(q.oldest->newer->seq, 6);
    CHECK_INT(q.newest->seq, 7);
    whq_remove(&q, busy);
    /* odd's 7 is now first of its room, after 5 went from behind 3. */
    CHECK_INT(whq_take(&q, 0)->seq, 6);
    CHECK_INT(whq_take(&q, 0)->seq, 7);
    whq_free(&q);
}

/* The item whq_take must give: the earliest (due, seq) of the rooms' oldest items, by a walk. */
static struct whq_item *expected_next(const struct whq *q)
{
    struct whq_item *best = NULL;

    for (struct whq_item *o = q->oldest; o; o = o->newer) {
        bool first = true;
        for (struct whq_item *p = q->oldest; p != o; p = p->newer)
            first = first && strcmp(p->room, o->room) != 0;
        if (first && (!best || o->due_ms < best->due_ms ||
                      (o->due_ms == best->due_ms && o->seq < best->seq)))
            best = o;
    }
    return best;
}

TEST(whq_many_rooms_come_out_by_due_time_then_order)
{
    struct whq q = {0};
    uint32_t x = 12345;
    char room[16];
    unsigned n = 0;

    for (uint64_t s = 1; s <= 600; s++) {
        x = x * 1103515245u + 12345u;
        snprintf(room, sizeof(room), "r%u", (x >> 8) % 150);
        CHECK_INT(whq_push(&q, item(s, room, (x >> 4) % 1000)), 0);
        if (s % 7 == 0) { /* some leave early, from anywhere in their room */
            whq_remove(&q, q.newest->older);
            n++;
        }
    }
    for (struct whq_item *it; q.count;) {
        struct whq_item *want = expected_next(&q);
        it = whq_take(&q, 1000);
        if (!CHECK(it == want))
            break;
        whq_remove(&q, it);
        n++;
    }
    CHECK_INT(n, 600);
    CHECK_INT(q.nrooms, 0);
    whq_free(&q);
}

TEST(whq_backoff_doubles_with_jitter_up_to_the_cap)
{
    const struct whq_policy p = {2000, 3600000, WHQ_GIVE_UP_MS};

    CHECK_INT(whq_backoff_ms(&p, 1, 0), 1000);
    CHECK_INT(whq_backoff_ms(&p, 1, 1000), 2000);
    CHECK_INT(whq_backoff_ms(&p, 2, 0), 2000);
    CHECK_INT(whq_backoff_ms(&p, 3, 0), 4000);
    CHECK(whq_backoff_ms(&p, 3, 7) != whq_backoff_ms(&p, 3, 8)); /* jittered */
    for (unsigned a = 1; a < 200; a++) {
        int64_t lo = whq_backoff_ms(&p, a, 0), hi = whq_backoff_ms(&p, a, UINT32_MAX);
        CHECK(lo >= 1000 && hi <= 3600000 && lo <= hi);
    }
    CHECK_INT(whq_backoff_ms(&p, 40, 0), 1800000);
}

/* An event its receiver never takes, on a fake clock: tried for 24 h, then given up. */
TEST(whq_gives_up_after_24_hours_on_a_fake_clock)
{
    const struct whq_policy p = {2000, 3600000, WHQ_GIVE_UP_MS};
    struct whq_item *it = item(1, "r", 5000);
    int64_t now = it->first_ms, due;
    uint32_t x = 99;
    unsigned tries = 1;

    for (; tries < 1000; tries++) {
        x = x * 1103515245u + 12345u;
        it->attempts++;
        due = whq_next_try(&p, it, now, x);
        if (due < 0)
            break;
        CHECK(due > now && due - now <= 3600000);
        now = due;
    }
    CHECK_INT(now, it->first_ms + WHQ_GIVE_UP_MS); /* the last try is at 24 h exactly */
    CHECK(tries >= 25 && tries <= 45);
    it->attempts = 1;
    CHECK_INT(whq_next_try(&p, it, it->first_ms + WHQ_GIVE_UP_MS - 10, 0),
              it->first_ms + WHQ_GIVE_UP_MS);
    CHECK_INT(whq_next_try(&p, it, it->first_ms + WHQ_GIVE_UP_MS, 0), -1);
    free(it);
}

TEST(whstore_keeps_the_queue_across_a_restart)
{
    char dir[] = "/tmp/vc_test_whstore_XXXXXX", err[256] = "", id[WHEVENT_ID_LEN + 1], path[64];
    struct whstore *s = NULL;
    struct whq q = {0};
    struct whq_item *it[4];
    struct stat sb;
    char *body = NULL;
    size_t len = 0;

    if (!CHECK(mkdtemp(dir)) || !CHECK_INT(whstore_open(dir, &s, err, sizeof(err)), 0))
        return;
    for (int i = 0; i < 4; i++) {
        char eid[WHEVENT_ID_LEN + 1], b[32];
        snprintf(eid, sizeof(eid), "%032d", i);
        snprintf(b, sizeof(b), "{\"n\":%d}", i);
        it[i] = item(0, i == 2 ? "r2" : "r1", 1000 + i);
        CHECK_INT(whstore_put(s, it[i], eid, b, strlen(b)), 0);
    }
    CHECK(it[0]->seq < it[1]->seq && it[1]->seq < it[2]->seq && it[2]->seq < it[3]->seq);
    it[1]->attempts = 3;
    it[1]->due_ms = 777777;
    CHECK_INT(whstore_retry(s, it[1]), 0);
    CHECK_INT(whstore_del(s, it[0]->seq), 0); /* delivered, or dropped */
    whstore_close(s);                         /* as if killed: nothing else is written */

    CHECK_INT(whstore_open(dir, &s, err, sizeof(err)), 0);
    CHECK_INT(whstore_load(s, &q), 3);
    CHECK_INT(q.oldest->seq, it[1]->seq);
    CHECK_INT(q.oldest->attempts, 3);
    CHECK_INT(q.oldest->due_ms, 777777);
    CHECK_STR(q.oldest->room, "r1");
    CHECK_INT(q.oldest->newer->seq, it[2]->seq);
    CHECK_STR(q.oldest->newer->room, "r2");
    CHECK_INT(q.newest->first_ms, 1003);
    CHECK_INT(whstore_body(s, it[3]->seq, id, &body, &len), 0);
    CHECK_STR(body, "{\"n\":3}");
    CHECK_INT(len, 7);
    CHECK_STR(id, "00000000000000000000000000000003");
    free(body);
    CHECK_INT(whstore_body(s, it[0]->seq, id, &body, &len), -ENOENT);
    snprintf(path, sizeof(path), "%s/%s", dir, WHSTORE_DB_NAME);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    whstore_close(s);
    whq_free(&q);
    for (int i = 0; i < 4; i++)
        free(it[i]);
    static const char *const files[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s%s", dir, WHSTORE_DB_NAME, files[i]);
        unlink(path);
    }
    CHECK_INT(rmdir(dir), 0);
}
