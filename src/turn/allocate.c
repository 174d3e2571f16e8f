/* An Allocate's relay socket (RFC 8656 7.2): address families, EVEN-PORT and its reservation,
 * RESERVATION-TOKEN, DONT-FRAGMENT, and its charge against the server cap and the quota. */
#include <errno.h>
#include <string.h>

#include "vc/log.h"
#include "turn_int.h"

/* What an Allocate asks of its relay. */
struct alloc_ask {
    int family;         /* AF_INET or AF_INET6; unset when redeeming */
    bool even;          /* EVEN-PORT */
    bool reserve;       /* its R bit: hold the next port for a RESERVATION-TOKEN */
    bool redeem;        /* RESERVATION-TOKEN: take the port held for token */
    bool dont_fragment; /* DONT-FRAGMENT */
    uint64_t token;
};

/* The relay family an Allocate asks for (AF_INET by default), or a negated STUN error code. */
static int requested_family(const struct turn_worker *w, const struct stun_msg *m, bool *v6_refused)
{
    const struct stun_attr *req = stun_find(m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY);
    const struct stun_attr *add = stun_find(m, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY);
    const struct turn_settings *set = &w->srv->set;
    int family = AF_INET;

    if (req && add)
        return -400;
    if (add) {
        /* Dual allocations are not offered: relay IPv4 and say why not IPv6 (RFC 8656 7.2). */
        if (add->len != 4 || stun_attr_value(m, add)[0] != TURN_FAMILY_IPV6)
            return -400;
        *v6_refused = true;
    } else if (req) {
        uint8_t f = req->len == 4 ? stun_attr_value(m, req)[0] : 0;
        if (f != TURN_FAMILY_IPV4 && f != TURN_FAMILY_IPV6)
            return -440;
        family = f == TURN_FAMILY_IPV6 ? AF_INET6 : AF_INET;
    }
    const union vc_addr *ip = family == AF_INET6 ? &set->relay_ip6 : &set->relay_ip4;
    return ip->sa.sa_family == family ? family : -440;
}

/* Reads the relay attributes of Allocate m, in the RFC's order: 0 or a STUN error code. */
static int read_ask(const struct turn_worker *w, const struct stun_msg *m, struct alloc_ask *ask,
                    bool *v6_refused)
{
    const struct stun_attr *even = stun_find(m, TURN_ATTR_EVEN_PORT);
    const struct stun_attr *rt = stun_find(m, TURN_ATTR_RESERVATION_TOKEN);
    const struct stun_attr *add = stun_find(m, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY);

    memset(ask, 0, sizeof(*ask));
    *v6_refused = false;
    ask->dont_fragment = stun_find(m, TURN_ATTR_DONT_FRAGMENT) != NULL;
    if (rt) {
        /* The reserved socket decides port and family: asking for either as well is wrong. */
        if (rt->len != TURN_TOKEN_LEN || even || add ||
            stun_find(m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY))
            return 400;
        ask->redeem = true;
        memcpy(&ask->token, stun_attr_value(m, rt), TURN_TOKEN_LEN);
        return 0;
    }
    if (even) {
        if (even->len < 1)
            return 400;
        ask->even = true;
        ask->reserve = (stun_attr_value(m, even)[0] & 0x80) != 0;
        if (ask->reserve && add)
            return 400;
    }
    ask->family = requested_family(w, m, v6_refused);
    return ask->family < 0 ? -ask->family : 0;
}

/* Opens a relay socket; with even_port, tries again until the port is even (EVEN-PORT without
 * R). Odd sockets are held until the end so the engine cannot hand them back. */
static int open_relay_socket(struct turn_worker *w, struct turn_alloc *a, const union vc_addr *ip,
                             bool even_port)
{
    int odd[TURN_EVEN_PORT_TRIES], nodd = 0, fd;

    for (;;) {
        fd = w->ops->relay_open(w, a, ip, &a->relay);
        if (fd < 0 || !even_port || addr_port(&a->relay) % 2 == 0)
            break;
        if (nodd == TURN_EVEN_PORT_TRIES) {
            w->ops->relay_close(w, fd);
            fd = -EADDRINUSE;
            break;
        }
        odd[nodd++] = fd;
    }
    while (nodd > 0)
        w->ops->relay_close(w, odd[--nodd]);
    return fd;
}

/* Gives a its relay socket as ask says: adopting the held reservation's socket, opening a pair
 * (and recording the reservation in a->token), or opening one. Returns it, or -errno with
 * nothing left open (a held socket is closed). */
static int open_relay(struct turn_worker *w, struct turn_alloc *a, const struct alloc_ask *ask,
                      const struct turn_reservation *held)
{
    const struct turn_settings *set = &w->srv->set;
    const union vc_addr *ip = ask->family == AF_INET6 ? &set->relay_ip6 : &set->relay_ip4;
    union vc_addr next;
    int fd, pair = -1, rc = 0;

    if (held) {
        a->relay = held->relay;
        fd = w->ops->relay_adopt(w, a, held->handle, &held->relay);
    } else if (ask->reserve) {
        fd = turn_resv_full(w->srv) ? -ENOSPC
                                    : w->ops->relay_open_pair(w, a, ip, &a->relay, &pair, &next);
    } else {
        fd = open_relay_socket(w, a, ip, ask->even);
    }
    if (fd < 0)
        return fd;
    if (ask->dont_fragment)
        rc = w->ops->relay_dont_fragment(w, fd);
    if (rc == 0 && pair >= 0)
        rc = turn_resv_add(w, pair, &next, a->user_digest, &a->token);
    if (rc < 0) {
        if (pair >= 0)
            w->ops->reserved_close(w, pair);
        w->ops->relay_close(w, fd);
        return rc;
    }
    return fd;
}

int turn_allocate_relay(struct turn_worker *w, const struct turn_client *c,
                        const struct stun_msg *m, const struct turn_auth *auth,
                        struct turn_alloc **out, bool *v6_refused)
{
    uint64_t key = turn_user_quota_key(auth->user_digest);
    struct turn_reservation held;
    struct alloc_ask ask;
    int code = read_ask(w, m, &ask, v6_refused);
    unsigned units = ask.reserve ? 2 : 1; /* the allocation, and the port held for later */

    if (code)
        return code;
    /* A redeemed reservation was charged when it was made; that charge passes on. */
    if (ask.redeem && turn_resv_take(w, ask.token, auth->user_digest, &held) < 0)
        return 508;
    if (!ask.redeem && (code = turn_charge(w, key, units)) != 0)
        return code;
    struct turn_alloc *a = turn_alloc_new(w, c);
    int fd = -ENOMEM;
    if (a) {
        memcpy(a->user_digest, auth->user_digest, TURN_USER_DIGEST_LEN);
        fd = open_relay(w, a, &ask, ask.redeem ? &held : NULL);
    } else if (ask.redeem) {
        w->ops->reserved_close(w, held.handle);
    }
    if (fd < 0) {
        if (a)
            turn_alloc_free(w, a, "relay_open"); /* not yet announced: frees silently */
        turn_uncharge(w->srv, key, units);
        if (ask.reserve)
            TURN_STAT_ADD(w, reservations_refused, 1);
        if (fd != -ENOSPC)
            log_msg(LOG_LEVEL_WARN, "turn: cannot open a relay socket: %s", strerror(-fd));
        return 508;
    }
    a->relay_fd = fd;
    *out = a;
    return 0;
}
