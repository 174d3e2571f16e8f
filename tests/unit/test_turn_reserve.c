/* TURN core: EVEN-PORT with the R bit, RESERVATION-TOKEN and DONT-FRAGMENT (RFC 8656 7.2). */
#include <string.h>

#include "vc/stun.h"
#include "vc/turn.h"
#include "test.h"
#include "turn_fixture.h"

#define TOKEN_LEN 8

/* What an Allocate carries besides REQUESTED-TRANSPORT. */
struct ask {
    const char *even;     /* EVEN-PORT value byte ("\x80": R), or NULL */
    const uint8_t *token; /* RESERVATION-TOKEN (TOKEN_LEN bytes), or NULL */
    size_t token_len;     /* 0: TOKEN_LEN */
    bool dont_fragment;
    uint8_t family;     /* REQUESTED-ADDRESS-FAMILY, or 0 */
    uint8_t additional; /* ADDITIONAL-ADDRESS-FAMILY, or 0 */
};

/* The answer to an Allocate: its code, relayed address and token (all zero when absent). */
struct answer {
    int code;
    union vc_addr relay;
    bool has_token;
    uint8_t token[TOKEN_LEN];
};

/* Sends an authenticated Allocate from the fixture's client to worker w. */
static struct answer allocate_on(struct fixture *f, struct turn_worker *w, const struct ask *ask)
{
    uint8_t buf[512];
    struct stun_builder b;
    struct stun_msg m;
    struct answer out;
    struct turn_worker *saved = f->w;

    memset(&out, 0, sizeof(out));
    f->w = w;
    fix_fetch_nonce(f);
    fix_begin(f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    if (ask->even)
        stun_build_attr(&b, TURN_ATTR_EVEN_PORT, ask->even, strlen(ask->even) ? 1 : 0);
    if (ask->token)
        stun_build_attr(&b, TURN_ATTR_RESERVATION_TOKEN, ask->token,
                        ask->token_len ? ask->token_len : TOKEN_LEN);
    if (ask->dont_fragment)
        stun_build_attr(&b, TURN_ATTR_DONT_FRAGMENT, NULL, 0);
    if (ask->family)
        stun_build_u32(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, (uint32_t)ask->family << 24);
    if (ask->additional)
        stun_build_u32(&b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY, (uint32_t)ask->additional << 24);
    fix_send_auth(f, &b);
    out.code = fix_last_reply(f, &m);
    f->w = saved;
    if (out.code != 0)
        return out;
    const struct stun_attr *t = stun_find(&m, TURN_ATTR_RESERVATION_TOKEN);
    stun_attr_xor_addr(&m, stun_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS), &out.relay);
    if (t && t->len == TOKEN_LEN) {
        out.has_token = true;
        memcpy(out.token, stun_attr_value(&m, t), TOKEN_LEN);
    }
    return out;
}

static struct answer allocate(struct fixture *f, const struct ask *ask)
{
    return allocate_on(f, f->w, ask);
}

static void move_client(struct fixture *f, int port)
{
    char a[64];

    snprintf(a, sizeof(a), "203.0.113.7:%d", port);
    addr_parse(&f->client.remote, a, 0);
}

static const struct turn_stats *stats(const struct fixture *f)
{
    return turn_worker_stats(f->w);
}

static void started(struct fixture *f)
{
    fix_init(f);
    fix_start(f);
}

static const struct ask reserve = {.even = "\x80"};

TEST(even_port_without_r_is_even_and_reserves_nothing)
{
    struct fixture f;

    started(&f);
    struct answer a = allocate(&f, &(struct ask){.even = "\x01"}); /* other bits are ignored */
    CHECK_INT(a.code, 0);
    CHECK_INT(addr_port(&a.relay) % 2, 0);
    CHECK_INT(f.open_relays, 1); /* the odd one tried first was closed */
    CHECK(!a.has_token);
    CHECK_INT(f.open_reserved, 0);
    CHECK_INT(stats(&f)->reservations_total, 0);
    fix_free(&f);
}

TEST(r_bit_gets_an_even_port_and_a_token_holding_the_next_one)
{
    struct fixture f;

    started(&f);
    struct answer a = allocate(&f, &reserve);
    CHECK_INT(a.code, 0);
    CHECK_INT(addr_port(&a.relay) % 2, 0);
    CHECK(a.has_token);
    CHECK(memcmp(a.token, "\0\0\0\0\0\0\0\0", TOKEN_LEN) != 0);
    CHECK_INT(f.open_reserved, 1);
    CHECK(f.reserved[addr_port(&a.relay) - 50000 + 1]); /* port + 1 is the one held */
    CHECK_INT(stats(&f)->reservations, 1);
    CHECK_INT(stats(&f)->reservations_total, 1);
    CHECK_INT(stats(&f)->allocations, 1);
    fix_free(&f);
    CHECK_INT(f.open_reserved, 0); /* the worker's end releases what nobody redeemed */
    CHECK_INT(f.bad_closes, 0);
}

TEST(two_r_bit_allocations_get_different_tokens)
{
    struct fixture f;

    started(&f);
    struct answer a = allocate(&f, &reserve);
    move_client(&f, 2000);
    struct answer b = allocate(&f, &reserve);
    CHECK_INT(a.code, 0);
    CHECK_INT(b.code, 0);
    CHECK(memcmp(a.token, b.token, TOKEN_LEN) != 0);
    CHECK(addr_port(&a.relay) != addr_port(&b.relay));
    fix_free(&f);
}

TEST(retransmitted_r_bit_allocate_is_answered_with_the_same_token)
{
    struct fixture f;
    uint8_t buf[512], first[TOKEN_LEN];
    struct stun_builder b;
    struct stun_msg m;

    started(&f);
    fix_fetch_nonce(&f);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    stun_build_attr(&b, TURN_ATTR_EVEN_PORT, "\x80", 1);
    fix_send_auth(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 0);
    memcpy(first, f.last_token, TOKEN_LEN);
    memset(f.last_token, 0, TOKEN_LEN);
    turn_worker_client_input(f.w, &f.client, buf, b.len); /* the same bytes again */
    CHECK_INT(fix_last_reply(&f, &m), 0);
    CHECK_MEM(f.last_token, first, TOKEN_LEN);
    CHECK_INT(f.open_reserved, 1);
    CHECK_INT(stats(&f)->reservations_total, 1);
    fix_free(&f);
}

TEST(token_redeems_the_held_port_once_from_another_address_and_worker)
{
    struct fixture f;

    started(&f);
    struct answer a = allocate(&f, &reserve);
    struct turn_worker *other = fix_worker_new(&f, 1);
    move_client(&f, 2000);
    struct answer b = allocate_on(&f, other, &(struct ask){.token = a.token});
    CHECK_INT(b.code, 0);
    CHECK_INT(addr_port(&b.relay), addr_port(&a.relay) + 1);
    CHECK(!b.has_token);
    CHECK_INT(f.open_reserved, 0);
    CHECK_INT(f.open_relays, 2);
    CHECK(turn_worker_serves(other, &f.client));
    const struct turn_stats *o = turn_worker_stats(other);
    CHECK_INT(o->reservations_redeemed, 1);
    /* The gauge went up on one worker and down on the other: only the sum counts. */
    CHECK_INT(stats(&f)->reservations + o->reservations, 0);
    /* A token is good once. */
    move_client(&f, 2001);
    CHECK_INT(allocate_on(&f, other, &(struct ask){.token = a.token}).code, 508);
    CHECK_INT(o->reservation_tokens_rejected, 1);
    turn_worker_free(other);
    fix_free(&f);
    CHECK_INT(f.open_relays, 0);
    CHECK_INT(f.bad_closes, 0);
}

TEST(token_redeems_an_ipv6_reservation_without_a_family_attribute)
{
    struct fixture f;

    fix_init(&f);
    addr_parse_ip(&f.set.relay_ip6, "2001:db8::10");
    fix_start(&f);
    struct answer a = allocate(&f, &(struct ask){.even = "\x80", .family = 0x02});
    CHECK_INT(a.code, 0);
    CHECK_INT(a.relay.sa.sa_family, AF_INET6);
    move_client(&f, 2000);
    struct answer b = allocate(&f, &(struct ask){.token = a.token});
    CHECK_INT(b.code, 0);
    CHECK_INT(b.relay.sa.sa_family, AF_INET6);
    CHECK_INT(addr_port(&b.relay), addr_port(&a.relay) + 1);
    fix_free(&f);
}

TEST(token_with_even_port_or_a_family_or_a_bad_length_is_400)
{
    struct fixture f;
    static const uint8_t long_token[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

    started(&f);
    struct answer a = allocate(&f, &reserve);
    struct ask bad[] = {
        {.token = a.token, .even = "\x80"},
        {.token = a.token, .even = "\0"},
        {.token = a.token, .family = 0x01},
        {.token = a.token, .additional = 0x02},
        {.token = long_token, .token_len = sizeof(long_token)},
        {.token = a.token, .token_len = 4},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        move_client(&f, 3000 + (int)i);
        if (!CHECK_INT(allocate(&f, &bad[i]).code, 400))
            fprintf(stderr, "    case %u\n", i);
    }
    /* None of them used the reservation up. */
    move_client(&f, 3100);
    CHECK_INT(allocate(&f, &(struct ask){.token = a.token}).code, 0);
    fix_free(&f);
}

TEST(malformed_or_misplaced_even_port_is_400)
{
    struct fixture f;

    started(&f);
    CHECK_INT(allocate(&f, &(struct ask){.even = ""}).code, 400); /* no value byte */
    /* R asks for one port family: a dual allocation cannot hold the next port. */
    CHECK_INT(allocate(&f, &(struct ask){.even = "\x80", .additional = 0x02}).code, 400);
    CHECK_INT(f.open_relays, 0);
    CHECK_INT(f.open_reserved, 0);
    fix_free(&f);
}

TEST(unknown_token_is_508_and_counted)
{
    struct fixture f;
    static const uint8_t guess[TOKEN_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t zero[TOKEN_LEN];

    started(&f);
    CHECK_INT(allocate(&f, &(struct ask){.token = guess}).code, 508);
    move_client(&f, 2000);
    CHECK_INT(allocate(&f, &(struct ask){.token = zero}).code, 508);
    CHECK_INT(stats(&f)->reservation_tokens_rejected, 2);
    CHECK_INT(f.open_relays, 0);
    /* Nothing was charged: the full quota is still there. */
    for (int i = 0; i < 4; i++) {
        move_client(&f, 2100 + i);
        CHECK_INT(fix_allocate(&f), 0);
    }
    fix_free(&f);
}

TEST(another_credentials_token_is_508_and_stays_for_its_owner)
{
    struct fixture f;

    started(&f);
    struct answer a = allocate(&f, &reserve);
    fix_credentials(&f, 3600, "intruder");
    move_client(&f, 2000);
    CHECK_INT(allocate(&f, &(struct ask){.token = a.token}).code, 508);
    CHECK_INT(f.open_reserved, 1);
    fix_credentials(&f, 3600, "peer1");
    move_client(&f, 2001);
    CHECK_INT(allocate(&f, &(struct ask){.token = a.token}).code, 0);
    fix_free(&f);
}

TEST(reservation_expires_after_30_s_closing_its_socket_and_returning_its_charge)
{
    struct fixture f;

    fix_init(&f);
    f.set.user_quota = 2;
    fix_start(&f);
    struct answer a = allocate(&f, &reserve);
    CHECK_INT(a.code, 0);
    move_client(&f, 2000);
    CHECK_INT(fix_allocate(&f), 486); /* the allocation and the held port use the quota up */
    fix_advance(&f, 29 * 1000);
    turn_worker_tick(f.w);
    CHECK_INT(f.open_reserved, 1);
    fix_advance(&f, 2 * 1000);
    turn_worker_tick(f.w);
    CHECK_INT(f.open_reserved, 0);
    CHECK_INT(f.bad_closes, 0);
    CHECK_INT(stats(&f)->reservations_expired, 1);
    CHECK_INT(stats(&f)->reservations, 0);
    CHECK_INT(fix_allocate(&f), 0); /* its quota came back */
    move_client(&f, 2001);
    CHECK_INT(allocate(&f, &(struct ask){.token = a.token}).code, 508);
    fix_free(&f);
}

TEST(an_expired_token_is_refused_even_before_the_sweep)
{
    struct fixture f;

    started(&f);
    struct answer a = allocate(&f, &reserve);
    fix_advance(&f, 30 * 1000 + 1);
    move_client(&f, 2000);
    CHECK_INT(allocate(&f, &(struct ask){.token = a.token}).code, 508);
    turn_worker_tick(f.w);
    CHECK_INT(f.open_reserved, 0);
    fix_free(&f);
}

TEST(reservation_counts_against_quota_and_cap_and_passes_to_the_redeemer)
{
    struct fixture f;

    fix_init(&f);
    f.set.user_quota = 2;
    f.set.max_allocations = 3;
    fix_start(&f);
    struct answer a = allocate(&f, &reserve);
    CHECK_INT(a.code, 0);
    move_client(&f, 2000);
    CHECK_INT(fix_allocate(&f), 486);
    /* Redeeming needs no new charge: the held port's passes to it. */
    CHECK_INT(allocate(&f, &(struct ask){.token = a.token}).code, 0);
    move_client(&f, 2001);
    CHECK_INT(fix_allocate(&f), 486);
    /* Another credential: one unit left under the cap of 3, and a reservation needs two. */
    fix_credentials(&f, 3600, "peer2");
    CHECK_INT(allocate(&f, &reserve).code, 508);
    CHECK_INT(f.open_reserved, 0);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(stats(&f)->quota_rejected, 3);
    fix_free(&f);
}

TEST(full_reservation_table_is_508_counted_and_plain_allocations_go_on)
{
    struct fixture f;

    fix_init(&f);
    f.set.port_max = 50015; /* 16 ports: a quarter of them may be held, so 4 reservations */
    f.set.user_quota = 100;
    fix_start(&f);
    struct answer held[4];
    for (int i = 0; i < 4; i++) {
        move_client(&f, 2000 + i);
        held[i] = allocate(&f, &reserve);
        CHECK_INT(held[i].code, 0);
    }
    move_client(&f, 2010);
    CHECK_INT(allocate(&f, &reserve).code, 508);
    CHECK_INT(stats(&f)->reservations_refused, 1);
    CHECK_INT(f.open_reserved, 4);
    CHECK_INT(fix_allocate(&f), 0);
    /* Redeeming one frees a slot. */
    move_client(&f, 2011);
    CHECK_INT(allocate(&f, &(struct ask){.token = held[0].token}).code, 0);
    move_client(&f, 2012);
    CHECK_INT(allocate(&f, &reserve).code, 0);
    fix_free(&f);
}

TEST(no_free_port_pair_is_508_and_leaks_nothing)
{
    struct fixture f;

    started(&f);
    f.fail_relay_pair = 1;
    CHECK_INT(allocate(&f, &reserve).code, 508);
    CHECK_INT(stats(&f)->reservations_refused, 1);
    CHECK_INT(stats(&f)->allocations, 0);
    CHECK_INT(f.open_relays, 0);
    CHECK_INT(f.open_reserved, 0);
    f.fail_relay_pair = 0;
    /* All four units of the quota are still there (two pairs). */
    CHECK_INT(allocate(&f, &reserve).code, 0);
    move_client(&f, 2000);
    CHECK_INT(allocate(&f, &reserve).code, 0);
    fix_free(&f);
}

TEST(dont_fragment_is_accepted_and_sets_df_on_the_relay_socket)
{
    struct fixture f;

    started(&f);
    struct answer a = allocate(&f, &(struct ask){.dont_fragment = true});
    CHECK_INT(a.code, 0);
    CHECK(f.df[addr_port(&a.relay) - 50000]);
    move_client(&f, 2000);
    a = allocate(&f, &(struct ask){.dont_fragment = true, .even = "\x80"});
    CHECK_INT(a.code, 0);
    CHECK(f.df[addr_port(&a.relay) - 50000]);
    move_client(&f, 2001);
    a = allocate(&f, &(struct ask){.dont_fragment = true, .token = a.token});
    CHECK_INT(a.code, 0);
    CHECK(f.df[addr_port(&a.relay) - 50000]);
    move_client(&f, 2002);
    a = allocate(&f, &(struct ask){0});
    CHECK(!f.df[addr_port(&a.relay) - 50000]);
    fix_free(&f);
}

TEST(dont_fragment_that_cannot_be_set_is_508_and_leaks_nothing)
{
    struct fixture f;

    started(&f);
    f.fail_dont_fragment = 1;
    CHECK_INT(allocate(&f, &(struct ask){.dont_fragment = true, .even = "\x80"}).code, 508);
    CHECK_INT(f.open_relays, 0);
    CHECK_INT(f.open_reserved, 0);
    CHECK_INT(stats(&f)->reservations_total, 0);
    f.fail_dont_fragment = 0;
    CHECK_INT(allocate(&f, &reserve).code, 0);
    CHECK_INT(f.bad_closes, 0);
    fix_free(&f);
}
