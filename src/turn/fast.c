/* The core's side of the kernel fast path: what the I/O layer learns of an allocation, and when. */
#include <string.h>

#include "turn_int.h"

/* The permission for peer's IP, live or not (its expiry is what the kernel needs). */
static uint64_t fast_perm_expiry(const struct turn_alloc *a, const union vc_addr *peer)
{
    for (unsigned i = 0; i < a->nperms; i++)
        if (addr_equal_ip(&a->perms[i].ip, peer))
            return a->perms[i].expires_ms;
    return 0;
}

static void fast_view(const struct turn_worker *w, const struct turn_alloc *a,
                      struct turn_fast_view *v)
{
    v->id = a->id;
    v->client = &a->client;
    v->relay = a->relay;
    v->bps = w->cur->set.bps;
    v->slot = a->fast_slot;
    v->n = 0;
    for (unsigned i = 0; i < a->nchans && i < TURN_FAST_CHANNELS; i++) {
        const struct turn_channel *ch = &a->chans[i];
        struct turn_fast_chan *f = &v->chans[v->n++];
        uint64_t until = fast_perm_expiry(a, &ch->peer);

        f->number = ch->number;
        f->peer = ch->peer;
        if (ch->expires_ms < until)
            until = ch->expires_ms;
        f->expires_ms = a->expires_ms < until ? a->expires_ms : until;
    }
}

void turn_fast_sync(struct turn_worker *w, struct turn_alloc *a)
{
    struct turn_fast_view v;
    uint64_t *budget = NULL;

    if (!w->ops->fast_sync || a->relay_fd < 0 || (a->nchans == 0 && a->fast_slot < 0))
        return;
    fast_view(w, a, &v);
    a->fast_slot = w->ops->fast_sync(w, &v, &budget);
    a->bw_shared = a->fast_slot >= 0 ? budget : NULL;
}

void turn_fast_unbind(struct turn_worker *w, struct turn_alloc *a, const struct turn_channel *ch)
{
    struct turn_fast_view v;

    if (!w->ops->fast_unbind || a->fast_slot < 0)
        return;
    fast_view(w, a, &v);
    w->ops->fast_unbind(w, &v, ch->number, &ch->peer);
}

void turn_fast_free(struct turn_worker *w, struct turn_alloc *a)
{
    struct turn_fast_view v;
    struct turn_fast_counts c;

    if (!w->ops->fast_free || a->fast_slot < 0)
        return;
    memset(&c, 0, sizeof(c));
    fast_view(w, a, &v);
    w->ops->fast_free(w, &v, &c);
    a->packets_to_peer += c.packets_to_peer;
    a->bytes_to_peer += c.bytes_to_peer;
    a->packets_to_client += c.packets_to_client;
    a->bytes_to_client += c.bytes_to_client;
    a->fast_slot = -1;
    a->bw_shared = NULL;
}

void turn_fast_resync(struct turn_worker *w)
{
    if (!w->ops->fast_sync)
        return;
    for (struct turn_alloc *a = w->live; a; a = a->next)
        if (a->fast_slot >= 0)
            turn_fast_sync(w, a);
}
