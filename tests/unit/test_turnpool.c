/* The TURN pool: node config parsing, picks by region and load/weight, accounting, health. */
#include <errno.h>
#include <string.h>

#include "vc/turnpool.h"
#include "test.h"

/* Node specs for a pool of four: a1 (weight 100), a2 (weight 300), a3 (weight 100) in region
 * "a", and b1 in region "b". */
static const char *const specs[] = {
    "region=a,weight=100,stun=127.0.0.1:4001,urls=turn:127.0.0.1:4001?transport=udp",
    "region=a,weight=300,stun=127.0.0.1:4002,urls=turn:127.0.0.1:4002|turns:localhost:5350",
    "region=a,stun=127.0.0.1:4003,urls=turn:127.0.0.1:4003",
    "urls=turn:127.0.0.1:4004,stun=127.0.0.1:4004,region=b",
};

static struct turnpool *pool_new(void)
{
    struct turnpool_node_conf nodes[4];
    char err[160];

    for (size_t i = 0; i < 4; i++)
        if (!CHECK_INT(turnpool_parse_node(specs[i], &nodes[i], err, sizeof(err)), 0))
            return NULL;
    return turnpool_new(nodes, 4);
}

/* Probes every due node at now and answers each with ok[i]. */
static void probe_all(struct turnpool *p, uint64_t now, const bool ok[4])
{
    unsigned idx[TURNPOOL_MAX_NODES];
    size_t n = turnpool_probe_due(p, now, idx, TURNPOOL_MAX_NODES);

    for (size_t k = 0; k < n; k++)
        turnpool_probe_result(p, idx[k], ok[idx[k]], now + 10);
}

static void all_up(struct turnpool *p)
{
    const bool ok[4] = {true, true, true, true};
    probe_all(p, 0, ok);
}

TEST(turnpool_parses_a_node_spec)
{
    struct turnpool_node_conf n;
    char err[160], addr[VC_ADDR_STRLEN];

    if (!CHECK_INT(turnpool_parse_node(specs[1], &n, err, sizeof(err)), 0))
        return;
    CHECK_STR(n.region, "a");
    CHECK_INT(n.weight, 300);
    CHECK_STR(addr_format(&n.stun, addr, sizeof(addr)), "127.0.0.1:4002");
    CHECK_INT(n.n_urls, 2);
    CHECK_STR(n.urls[0], "turn:127.0.0.1:4002");
    CHECK_STR(n.urls[1], "turns:localhost:5350");
    CHECK_INT(turnpool_parse_node(specs[2], &n, err, sizeof(err)), 0);
    CHECK_INT(n.weight, 100); /* the default */
}

TEST(turnpool_rejects_bad_node_specs)
{
    static const struct {
        const char *spec, *why;
    } bad[] = {
        {"weight=1,stun=127.0.0.1:1,urls=turn:h:1", "region= is missing"},
        {"region=a,urls=turn:h:1", "stun= is missing"},
        {"region=a,stun=127.0.0.1:1", "urls= is missing"},
        {"region=a,stun=127.0.0.1:1,urls=http://h", "not a turn:"},
        {"region=a,stun=127.0.0.1:1,urls=turn:h:1|", "not a turn:"},
        {"region=a b,stun=127.0.0.1:1,urls=turn:h:1", "region must be"},
        {"region=a,weight=0,stun=127.0.0.1:1,urls=turn:h:1", "weight must be"},
        {"region=a,weight=1x5,stun=127.0.0.1:1,urls=turn:h:1", "weight must be"},
        {"region=a,weight=10001,stun=127.0.0.1:1,urls=turn:h:1", "weight must be"},
        {"region=a,stun=127.0.0.1,urls=turn:h:1", "ADDR:PORT"},
        {"region=a,stun=turn.example:3478,urls=turn:h:1", "ADDR:PORT"},
        {"region=a,stun=0.0.0.0:3478,urls=turn:h:1", "ADDR:PORT"},
        {"region=a,stun=127.0.0.1:1,urls=turn:h:1,colour=red", "unknown part 'colour'"},
        {"region=a;stun=127.0.0.1:1", "region must be"},
        {"region", "key=value"},
        {"region=a,stun=127.0.0.1:1,urls=turn:1|turn:2|turn:3|turn:4|turn:5", "at most 4"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct turnpool_node_conf n;
        char err[160] = "";

        if (!CHECK_INT(turnpool_parse_node(bad[i].spec, &n, err, sizeof(err)), -EINVAL))
            test_fail(__FILE__, __LINE__, "accepted '%s'", bad[i].spec);
        else if (!strstr(err, bad[i].why))
            test_fail(__FILE__, __LINE__, "'%s': error '%s' does not say '%s'", bad[i].spec, err,
                      bad[i].why);
    }
}

TEST(turnpool_knows_its_regions)
{
    struct turnpool *p = pool_new();

    if (!p)
        return;
    CHECK_INT(turnpool_size(p), 4);
    CHECK(turnpool_has_region(p, "a"));
    CHECK(turnpool_has_region(p, "b"));
    CHECK(!turnpool_has_region(p, "c"));
    CHECK(!turnpool_has_region(p, ""));
    turnpool_free(p);
}

TEST(turnpool_picks_only_nodes_of_the_region)
{
    struct turnpool *p = pool_new();
    struct turnpool_pick pk;

    if (!p)
        return;
    all_up(p);
    CHECK_INT(turnpool_acquire(p, "b", &pk), 0);
    CHECK_INT(pk.n, 1); /* b has one node: never topped up from a */
    CHECK_INT(pk.idx[0], 3);
    CHECK(!pk.degraded);
    for (int i = 0; i < 20; i++) {
        CHECK_INT(turnpool_acquire(p, "a", &pk), 0);
        CHECK_INT(pk.n, TURNPOOL_PICK);
        CHECK(pk.idx[0] != 3 && pk.idx[1] != 3);
        CHECK(pk.idx[0] != pk.idx[1]);
    }
    CHECK_INT(turnpool_acquire(p, "nowhere", &pk), -ENOENT);
    CHECK_INT(pk.n, 0);
    turnpool_free(p);
}

/* 100 peers in region a: a2 (weight 300) ends with about three times a1's and a3's share. */
TEST(turnpool_spreads_peers_by_weight)
{
    struct turnpool *p = pool_new();
    struct turnpool_pick pk;

    if (!p)
        return;
    all_up(p);
    CHECK_INT(turnpool_acquire(p, "a", &pk), 0);
    CHECK_INT(pk.idx[0], 1); /* all empty: the biggest node first */
    CHECK_INT(pk.idx[1], 0); /* then the first of the equal ones */
    for (int i = 1; i < 100; i++)
        turnpool_acquire(p, "a", &pk);
    unsigned a1 = turnpool_peers(p, 0), a2 = turnpool_peers(p, 1), a3 = turnpool_peers(p, 2);
    CHECK_INT(a1 + a2 + a3, 200); /* two nodes per peer */
    CHECK_INT(a2, 100);           /* a2 is the least loaded for every peer */
    CHECK(a1 >= 49 && a1 <= 51);
    CHECK(a3 >= 49 && a3 <= 51);
    CHECK_INT(turnpool_peers(p, 3), 0);
    turnpool_free(p);
}

TEST(turnpool_prefers_the_least_loaded_node)
{
    struct turnpool *p = pool_new();
    struct turnpool_pick first[3], pk;

    if (!p)
        return;
    all_up(p);
    /* Three peers: a2 has 3 of weight 300 (load 1/100), a1 2 and a3 1 of weight 100. */
    for (int i = 0; i < 3; i++)
        turnpool_acquire(p, "a", &first[i]);
    CHECK_INT(turnpool_peers(p, 1), 3);
    CHECK_INT(turnpool_peers(p, 0) + turnpool_peers(p, 2), 3);
    unsigned lighter = turnpool_peers(p, 0) == 1 ? 0 : 2;
    turnpool_acquire(p, "a", &pk);
    /* a2 (3/300) beats whichever of a1 and a3 holds one peer (1/100 ties, the bigger wins). */
    CHECK_INT(pk.idx[0], 1);
    CHECK_INT(pk.idx[1], lighter);
    turnpool_free(p);
}

TEST(turnpool_release_uncounts_a_pick)
{
    struct turnpool *p = pool_new();
    struct turnpool_pick pk, other;

    if (!p)
        return;
    all_up(p);
    turnpool_acquire(p, "a", &pk);
    turnpool_acquire(p, "a", &other);
    CHECK_INT(turnpool_peers(p, 0) + turnpool_peers(p, 1) + turnpool_peers(p, 2), 4);
    turnpool_release(p, &pk);
    CHECK_INT(pk.n, 0);
    CHECK_INT(turnpool_peers(p, 0) + turnpool_peers(p, 1) + turnpool_peers(p, 2), 2);
    turnpool_release(p, &pk); /* twice: a no-op */
    CHECK_INT(turnpool_peers(p, 0) + turnpool_peers(p, 1) + turnpool_peers(p, 2), 2);
    turnpool_release(p, &other);
    for (size_t i = 0; i < 4; i++)
        CHECK_INT(turnpool_peers(p, i), 0);
    turnpool_free(p);
}

TEST(turnpool_health_follows_probe_results)
{
    struct turnpool *p = pool_new();
    unsigned idx[TURNPOOL_MAX_NODES];

    if (!p)
        return;
    CHECK_INT(turnpool_health(p, 0), TURNPOOL_UNKNOWN);
    /* Every node is due at once, then not again until the interval has passed. */
    CHECK_INT(turnpool_probe_due(p, 1000, idx, TURNPOOL_MAX_NODES), 4);
    CHECK_INT(turnpool_probe_due(p, 1001, idx, TURNPOOL_MAX_NODES), 0);
    CHECK(turnpool_probe_result(p, 0, true, 1100)); /* changed: unknown to up */
    CHECK_INT(turnpool_health(p, 0), TURNPOOL_UP);
    CHECK(!turnpool_probe_result(p, 0, true, 1100)); /* nothing outstanding: ignored */
    CHECK_INT(turnpool_probe_wait(p, 1200), 801);    /* the others time out after 2000 */
    CHECK_INT(turnpool_probe_due(p, 5999, idx, TURNPOOL_MAX_NODES), 0);
    CHECK_INT(turnpool_probe_due(p, 6000, idx, TURNPOOL_MAX_NODES), 4);

    /* Node 0: one failure keeps it up, the second in a row takes it down. */
    CHECK(!turnpool_probe_result(p, 0, false, 6010));
    CHECK_INT(turnpool_health(p, 0), TURNPOOL_UP);
    turnpool_probe_due(p, 11000, idx, TURNPOOL_MAX_NODES);
    CHECK(turnpool_probe_result(p, 0, false, 11010));
    CHECK_INT(turnpool_health(p, 0), TURNPOOL_DOWN);
    /* One success brings it back. */
    turnpool_probe_due(p, 16000, idx, TURNPOOL_MAX_NODES);
    CHECK(turnpool_probe_result(p, 0, true, 16010));
    CHECK_INT(turnpool_health(p, 0), TURNPOOL_UP);
    /* A success after a single failure resets the count: one more failure keeps it up. */
    turnpool_probe_due(p, 21000, idx, TURNPOOL_MAX_NODES);
    turnpool_probe_result(p, 0, false, 21010);
    turnpool_probe_due(p, 26000, idx, TURNPOOL_MAX_NODES);
    turnpool_probe_result(p, 0, true, 26010);
    turnpool_probe_due(p, 31000, idx, TURNPOOL_MAX_NODES);
    turnpool_probe_result(p, 0, false, 31010);
    CHECK_INT(turnpool_health(p, 0), TURNPOOL_UP);
    turnpool_free(p);
}

TEST(turnpool_late_or_missing_answers_are_failures)
{
    struct turnpool *p = pool_new();
    unsigned idx[TURNPOOL_MAX_NODES];

    if (!p)
        return;
    turnpool_probe_due(p, 0, idx, TURNPOOL_MAX_NODES);
    for (unsigned i = 0; i < 4; i++)
        turnpool_probe_result(p, i, true, 50);
    /* Node 0 answers 1001 ms late twice: down. */
    turnpool_probe_due(p, 5000, idx, TURNPOOL_MAX_NODES);
    turnpool_probe_result(p, 0, true, 6001);
    turnpool_probe_due(p, 10000, idx, TURNPOOL_MAX_NODES);
    CHECK(turnpool_probe_result(p, 0, true, 11001));
    CHECK_INT(turnpool_health(p, 0), TURNPOOL_DOWN);
    /* The others never answer: the next turnpool_probe_due counts each silence as a failure,
     * so after the one at 15000 they have failed twice. */
    CHECK_INT(turnpool_health(p, 1), TURNPOOL_UP);
    turnpool_probe_due(p, 15000, idx, TURNPOOL_MAX_NODES);
    CHECK_INT(turnpool_health(p, 1), TURNPOOL_DOWN);
    CHECK_INT(turnpool_health(p, 2), TURNPOOL_DOWN);
    /* An answer exactly at the timeout still counts. */
    CHECK(turnpool_probe_result(p, 2, true, 16000));
    CHECK_INT(turnpool_health(p, 2), TURNPOOL_UP);
    turnpool_free(p);
}

TEST(turnpool_skips_unhealthy_nodes)
{
    struct turnpool *p = pool_new();
    struct turnpool_pick pk;
    const bool a1_down[4] = {false, true, true, true};

    if (!p)
        return;
    probe_all(p, 0, a1_down);
    probe_all(p, 5000, a1_down);
    CHECK_INT(turnpool_health(p, 0), TURNPOOL_DOWN);
    for (int i = 0; i < 10; i++) {
        turnpool_acquire(p, "a", &pk);
        CHECK_INT(pk.n, 2);
        CHECK(pk.idx[0] != 0 && pk.idx[1] != 0);
        CHECK(!pk.degraded);
    }
    CHECK_INT(turnpool_peers(p, 0), 0);
    turnpool_free(p);
}

/* A single healthy node of the region is handed out alone: the dead ones are not padding. */
TEST(turnpool_hands_out_fewer_rather_than_a_dead_node)
{
    struct turnpool *p = pool_new();
    struct turnpool_pick pk;
    const bool only_a3[4] = {false, false, true, true};

    if (!p)
        return;
    probe_all(p, 0, only_a3);
    turnpool_acquire(p, "a", &pk);
    CHECK_INT(pk.n, 1);
    CHECK_INT(pk.idx[0], 2);
    CHECK(!pk.degraded);
    turnpool_free(p);
}

/* No healthy node in the region: its own nodes, flagged degraded, never another region's. */
TEST(turnpool_degrades_within_the_region)
{
    struct turnpool *p = pool_new();
    struct turnpool_pick pk;
    const bool b_down[4] = {true, true, true, false};

    if (!p)
        return;
    probe_all(p, 0, b_down);
    probe_all(p, 5000, b_down);
    CHECK_INT(turnpool_health(p, 3), TURNPOOL_DOWN);
    CHECK_INT(turnpool_acquire(p, "b", &pk), 0);
    CHECK(pk.degraded);
    CHECK_INT(pk.n, 1);
    CHECK_INT(pk.idx[0], 3);
    CHECK_INT(turnpool_peers(p, 3), 1);
    turnpool_release(p, &pk);
    /* Before any probe has answered, every node is unknown: degraded too. */
    struct turnpool *fresh = pool_new();
    if (!fresh)
        goto out;
    CHECK_INT(turnpool_acquire(fresh, "a", &pk), 0);
    CHECK(pk.degraded);
    CHECK_INT(pk.n, 2);
    turnpool_free(fresh);
out:
    turnpool_free(p);
}

TEST(turnpool_new_refuses_bad_sizes)
{
    struct turnpool_node_conf n[1];

    memset(n, 0, sizeof(n));
    CHECK(turnpool_new(n, 0) == NULL);
    CHECK(turnpool_new(n, TURNPOOL_MAX_NODES + 1) == NULL);
}
