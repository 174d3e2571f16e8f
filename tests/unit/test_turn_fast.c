/* The core's side of the kernel fast path: what it tells the I/O layer, and when. */
#include <string.h>

#include "vc/policy.h"
#include "test.h"
#include "turn_fixture.h"

#define GLOBAL_PEER "93.184.216.34:6000"
#define REFUSED_PEER "10.1.2.3:6000"

static void fast_started(struct fixture *f)
{
    fix_init(f);
    f->set.nonce_lifetime = 86400; /* the tests below refresh for many minutes */
    fix_start(f);
    f->fast_on = true;
    CHECK_INT(fix_allocate(f), 0);
}

TEST(fast_path_hears_of_a_channel_only_after_the_policy_passed_its_peer)
{
    struct fixture f;
    union vc_addr peer;

    fast_started(&f);
    CHECK_INT(fix_bind(&f, 0x4000, REFUSED_PEER), 403);
    CHECK_INT(fix_permit(&f, REFUSED_PEER), 403);
    CHECK_INT(f.fast_syncs, 0);
    CHECK_INT(fix_bind(&f, 0x4001, GLOBAL_PEER), 0);
    CHECK_INT(f.fast_syncs, 1);
    addr_parse(&peer, GLOBAL_PEER, 0);
    if (CHECK_INT(f.fast_last.n, 1)) {
        CHECK_INT(f.fast_last.chans[0].number, 0x4001);
        CHECK(addr_equal(&f.fast_last.chans[0].peer, &peer));
        /* The permission's five minutes end before the channel's ten. */
        CHECK_INT(f.fast_last.chans[0].expires_ms, f.mono_ms + 300 * 1000);
    }
    fix_free(&f);
}

TEST(fast_path_expiry_follows_permission_refreshes_and_the_allocation)
{
    struct fixture f;

    fast_started(&f);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    uint64_t first = f.fast_last.chans[0].expires_ms;
    fix_advance(&f, 200 * 1000);
    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 0);
    CHECK_INT(f.fast_syncs, 2);
    /* The refreshed permission moves the kernel's deadline on by the 200 s. */
    CHECK_INT(f.fast_last.chans[0].expires_ms, first + 200 * 1000);
    CHECK_INT(f.fast_last.slot, 7);
    /* 350 s on, the channel (bound 550 s ago, 600 s) ends before the new permission. */
    fix_advance(&f, 350 * 1000);
    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 0);
    CHECK_INT(f.fast_last.chans[0].expires_ms, f.mono_ms + 50 * 1000);
    fix_free(&f);
}

TEST(fast_path_forgets_a_pruned_channel_and_the_freed_allocation)
{
    struct fixture f;
    struct stun_builder b;
    uint8_t buf[256];
    struct stun_msg m;

    fast_started(&f);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    /* Refresh the allocation (and the permission) past the channel's life and quarantine. */
    for (int i = 0; i < 10; i++) {
        fix_advance(&f, 100 * 1000);
        CHECK_INT(fix_permit(&f, GLOBAL_PEER), 0);
        fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
        stun_build_u32(&b, TURN_ATTR_LIFETIME, 600);
        fix_send_auth(&f, &b);
        CHECK_INT(fix_last_reply(&f, &m), 0);
        turn_worker_tick(f.w);
    }
    CHECK_INT(f.fast_unbinds, 1);
    CHECK_INT(f.fast_unbound, 0x4000);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_LIFETIME, 0);
    fix_send_auth(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 0);
    CHECK_INT(f.fast_frees, 1);
    fix_free(&f);
}

TEST(fast_path_shares_the_bps_budget_with_user_space)
{
    struct fixture f;
    uint8_t cd[4 + 500] = {0x40, 0x00, 0x01, 0xF4};

    fix_init(&f);
    f.set.bps = 8000; /* 1,000 bytes a second */
    fix_start(&f);
    f.fast_on = true;
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    /* The "kernel" spent the second's budget already: user space must not relay. */
    f.fast_budget = f.mono_ms * 1000000 + 1000000000ULL;
    f.nsent = 0;
    turn_worker_client_input(f.w, &f.client, cd, sizeof(cd));
    CHECK_INT(f.nsent, 0);
    CHECK_INT(turn_worker_stats(f.w)->bandwidth_dropped, 1);
    /* A second later half of it is back: one 500-byte datagram goes, and is charged there. */
    fix_advance(&f, 1000);
    turn_worker_client_input(f.w, &f.client, cd, sizeof(cd));
    CHECK_INT(f.nsent, 1);
    CHECK(f.fast_budget >= f.mono_ms * 1000000 + 500000000ULL);
    fix_free(&f);
}

/* A SIGHUP: the server takes a policy of its own each time; the worker then reaches its
 * quiescent point. */
static int reload(struct fixture *f)
{
    int r;

    f->set.policy = policy_new();
    r = turn_server_reload(f->srv, &f->set, f->unix_s);
    if (r < 0)
        policy_free(f->set.policy);
    f->set.policy = f->policy;
    turn_worker_set_clock(f->w, f->mono_ms, f->unix_s);
    return r;
}

TEST(fast_path_gets_a_reloaded_cap_and_nothing_else_on_reload)
{
    struct fixture f;

    fast_started(&f);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    CHECK_INT(f.fast_syncs, 1);
    f.set.secret = (const uint8_t *)"rotated";
    f.set.secret_len = 7;
    CHECK_INT(reload(&f), 0);
    CHECK_INT(f.fast_syncs, 1); /* the cap stayed: nothing for the kernel */
    f.set.bps = 64000;
    CHECK_INT(reload(&f), 0);
    CHECK_INT(f.fast_syncs, 2);
    CHECK_INT(f.fast_last.bps, 64000);
    fix_free(&f);
}
