/* Relayed pairs on one worker: when two of our allocations relay to each other, one moves to the
 * other's worker thread, its client's datagrams steered after it, so no packet crosses threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vc/log.h"
#include "engine_int.h"

/* A moved client's datagrams still queued on its old worker's socket are passed on for this long
 * after the move; at most this many moves per worker are that recent (more wait their turn). */
#define PAIR_AWAY_MS 1000
#define PAIR_AWAY_MAX 64
/* Forwarded datagrams waiting in one worker's inbox, at most. */
#define PAIR_STRAYS_MAX 256
/* In the owner table: the allocation on that port will not move (a stream's, or moved once). */
#define PAIR_SETTLED 0x8000u

/* What one worker hands another: an allocation (moving there, or coming back) or a datagram its
 * client sent to the old worker's socket. */
struct pair_msg {
    struct pair_msg *next;
    struct turn_alloc *alloc; /* a detached copy; NULL for a datagram */
    int relay_fd;
    union vc_addr bound; /* the relay socket's address */
    bool df;             /* the relay socket sets DF (DONT-FRAGMENT) */
    unsigned listen;     /* which --listen address the client talks to */
    unsigned from;
    bool bounced; /* back to where it came from: the new worker could not steer its client */
    struct turn_client client; /* a datagram's 5-tuple (fd is the receiver's to fill in) */
    size_t len;
    uint8_t data[];
};

struct pair_away {
    union vc_addr remote;
    unsigned listen, to;
    uint64_t until_ms;
};

struct pair_worker {
    pthread_mutex_t lock;
    struct pair_msg *head, *tail; /* under lock */
    atomic_uint queued;           /* messages in the inbox, read without the lock */
    atomic_uint strays;           /* datagrams among them */
    struct pair_away away[PAIR_AWAY_MAX];
    unsigned n_away;
    int pending_fd; /* a relay socket whose allocation is to move at the loop's end, or -1 */
    const struct turn_alloc *pending_alloc;
    unsigned pending_to;
};

struct turnd_pairing {
    struct turnd_steer *steer[TURND_LISTEN_MAX];
    unsigned n_steer;
    union vc_addr relay_ip[2];    /* IPv4, IPv6 */
    union vc_addr external_ip[2]; /* behind 1:1 NAT the relay-to-relay hop uses these */
    uint16_t port_min;
    unsigned span;
    _Atomic uint16_t *owner[2]; /* per family, by port - port_min: worker + 1 | PAIR_SETTLED */
};

static int pair_family(const union vc_addr *a)
{
    return a->sa.sa_family == AF_INET6 ? 1 : 0;
}

/* The owner slot of one of our relay addresses, or NULL for any other address. */
static _Atomic uint16_t *pair_owner_slot(const struct turnd_pairing *p, const union vc_addr *a)
{
    int f = pair_family(a);
    unsigned port = addr_port(a);

    if (port < p->port_min || port - p->port_min >= p->span)
        return NULL;
    if (!addr_equal_ip(a, &p->relay_ip[f]) && !addr_equal_ip(a, &p->external_ip[f]))
        return NULL;
    return &p->owner[f][port - p->port_min];
}

static void pair_set_owner(const struct turnd_pairing *p, const union vc_addr *relay,
                           uint16_t value)
{
    _Atomic uint16_t *slot = pair_owner_slot(p, relay);

    if (slot)
        atomic_store_explicit(slot, value, memory_order_relaxed);
}

static int pair_listen_index(const struct turnd_worker *w, int fd)
{
    for (unsigned i = 0; i < w->n_udp; i++)
        if (w->udp[i]->fd == fd)
            return (int)i;
    return -1;
}

static void pair_push(struct turnd_worker *to, struct pair_msg *m)
{
    struct pair_worker *pw = to->pair;

    m->next = NULL;
    pthread_mutex_lock(&pw->lock);
    if (pw->tail)
        pw->tail->next = m;
    else
        pw->head = m;
    pw->tail = m;
    atomic_fetch_add_explicit(&pw->queued, 1, memory_order_release);
    pthread_mutex_unlock(&pw->lock);
    turnd_worker_wake(to);
}

/* --- the worker the allocation leaves --- */

static void pair_away_expire(struct pair_worker *pw, uint64_t now_ms)
{
    for (unsigned i = 0; i < pw->n_away;)
        if (pw->away[i].until_ms <= now_ms)
            pw->away[i] = pw->away[--pw->n_away];
        else
            i++;
}

static void pair_away_forget(struct pair_worker *pw, const union vc_addr *remote, unsigned listen)
{
    for (unsigned i = 0; i < pw->n_away; i++)
        if (pw->away[i].listen == listen && addr_equal(&pw->away[i].remote, remote)) {
            pw->away[i] = pw->away[--pw->n_away];
            return;
        }
}

/* Hands the allocation on relay fd to worker `to`. */
static void pair_move(struct turnd_worker *w, int fd, unsigned to)
{
    struct engine_relay *r = &w->relays[fd];
    const struct turn_client *c = turn_alloc_client(r->alloc);
    struct pair_worker *pw = w->pair;
    int listen = pair_listen_index(w, c->fd);
    struct pair_msg *m;

    if (c->transport != TURN_UDP || listen < 0) {
        r->settled = true;
        return;
    }
    pair_away_expire(pw, w->now_ms);
    if (pw->n_away == PAIR_AWAY_MAX || !(m = calloc(1, sizeof(*m))))
        return; /* a later datagram tries again */
    m->client = *c;
    turnd_worker_relay_unwatch(w, fd);
    m->alloc = turn_worker_detach(w->core, r->alloc);
    if (!m->alloc) {
        free(m);
        turnd_worker_relay_watch(w, fd);
        return;
    }
    m->relay_fd = fd;
    m->bound = r->bound;
    m->df = r->df;
    m->listen = (unsigned)listen;
    m->from = w->index;
    pw->away[pw->n_away++] =
        (struct pair_away){m->client.remote, (unsigned)listen, to, w->now_ms + PAIR_AWAY_MS};
    pair_set_owner(w->eng->pairing, &r->bound, (uint16_t)(to + 1));
    memset(r, 0, sizeof(*r));
    pair_push(w->eng->workers[to], m);
}

void turnd_pair_note(struct turnd_worker *w, int fd, const union vc_addr *peer)
{
    struct pair_worker *pw = w->pair;
    const struct engine_relay *r = &w->relays[fd];
    _Atomic uint16_t *slot;
    unsigned owner;

    if (pw->pending_fd >= 0 || r->settled || !r->alloc ||
        !(slot = pair_owner_slot(w->eng->pairing, peer)))
        return;
    owner = atomic_load_explicit(slot, memory_order_relaxed);
    if (owner == 0 || (owner & ~PAIR_SETTLED) == w->index + 1)
        return;
    /* Both halves may see each other; the one on the higher port moves, unless the other
     * cannot. */
    if (!(owner & PAIR_SETTLED) && addr_port(&r->bound) < addr_port(peer))
        return;
    pw->pending_fd = fd;
    pw->pending_alloc = r->alloc;
    pw->pending_to = (owner & ~PAIR_SETTLED) - 1;
}

void turnd_pair_settle(struct turnd_worker *w)
{
    struct pair_worker *pw = w->pair;
    int fd = pw->pending_fd;

    if (fd < 0)
        return;
    pw->pending_fd = -1;
    /* The allocation noted may have ended since, and its socket gone to another. */
    if (w->relays[fd].alloc == pw->pending_alloc && !w->relays[fd].settled)
        pair_move(w, fd, pw->pending_to);
}

bool turnd_pair_stray(struct turnd_worker *w, unsigned listen, const struct turn_client *c,
                      const uint8_t *buf, size_t len)
{
    struct pair_worker *pw = w->pair;

    for (unsigned i = 0; i < pw->n_away; i++) {
        struct pair_away *a = &pw->away[i];
        struct turnd_worker *to;
        struct pair_msg *m;

        if (a->listen != listen || !addr_equal(&a->remote, &c->remote))
            continue;
        if (a->until_ms <= w->now_ms) {
            *a = pw->away[--pw->n_away];
            return false;
        }
        to = w->eng->workers[a->to];
        if (atomic_load_explicit(&to->pair->strays, memory_order_relaxed) >= PAIR_STRAYS_MAX ||
            !(m = malloc(sizeof(*m) + len)))
            return true; /* dropped, as a full socket would */
        memset(m, 0, sizeof(*m));
        m->client = *c;
        m->listen = listen;
        m->from = w->index;
        m->len = len;
        memcpy(m->data, buf, len);
        atomic_fetch_add_explicit(&to->pair->strays, 1, memory_order_relaxed);
        pair_push(to, m);
        return true;
    }
    return false;
}

/* --- the worker the allocation joins --- */

/* Sends an adopted allocation back where it came from. */
static void pair_bounce(struct turnd_worker *w, struct pair_msg *m, struct turn_alloc *a)
{
    turnd_worker_relay_unwatch(w, m->relay_fd);
    memset(&w->relays[m->relay_fd], 0, sizeof(w->relays[m->relay_fd]));
    m->alloc = turn_worker_detach(w->core, a);
    if (!m->alloc) { /* keep it here, unsteered: its datagrams stay on the old worker's way */
        turnd_worker_relay_watch(w, m->relay_fd);
        w->relays[m->relay_fd] = (struct engine_relay){.alloc = a, .bound = m->bound, .df = m->df};
        free(m);
        return;
    }
    m->bounced = true;
    pair_push(w->eng->workers[m->from], m);
}

static void pair_adopt(struct turnd_worker *w, struct pair_msg *m)
{
    struct turnd_pairing *p = w->eng->pairing;
    int fd = m->relay_fd, r;
    struct turn_alloc *a;

    if (turnd_worker_relay_watch(w, fd) < 0 && !m->bounced) {
        m->bounced = true; /* back home, where it was watched a moment ago */
        pair_push(w->eng->workers[m->from], m);
        return;
    }
    a = turn_worker_attach(w->core, m->alloc, w->udp[m->listen]->fd);
    if (!a) {
        turnd_worker_relay_unwatch(w, fd);
        close(fd);
        pair_set_owner(p, &m->bound, 0);
        free(m);
        return;
    }
    w->relays[fd] =
        (struct engine_relay){.alloc = a, .bound = m->bound, .settled = true, .df = m->df};
    if (m->bounced) {
        pair_away_forget(w->pair, &m->client.remote, m->listen);
    } else if ((r = turnd_steer_set(p->steer[m->listen], &m->client.remote, w->index)) < 0) {
        log_msg(LOG_LEVEL_WARN, "worker %u: cannot steer a moved client: %s", w->index,
                strerror(-r));
        pair_bounce(w, m, a);
        return;
    } else {
        w->relays[fd].steered = true;
    }
    pair_set_owner(p, &m->bound, (uint16_t)((w->index + 1) | PAIR_SETTLED));
    free(m);
}

static void pair_take_stray(struct turnd_worker *w, struct pair_msg *m)
{
    struct turn_client c = m->client;

    atomic_fetch_sub_explicit(&w->pair->strays, 1, memory_order_relaxed);
    c.fd = w->udp[m->listen]->fd;
    /* Past a move that bounced back, the allocation is not here: nothing is answered. */
    if (turn_worker_serves(w->core, &c)) {
        turn_worker_client_input(w->core, &c, m->data, m->len);
        turnd_worker_peer_flush(w); /* the queued sends point into m */
    }
    free(m);
}

void turnd_pair_drain(struct turnd_worker *w)
{
    struct pair_worker *pw = w->pair;
    struct pair_msg *m;

    if (atomic_load_explicit(&pw->queued, memory_order_acquire) == 0)
        return;
    pthread_mutex_lock(&pw->lock);
    m = pw->head;
    pw->head = pw->tail = NULL;
    atomic_store_explicit(&pw->queued, 0, memory_order_relaxed);
    pthread_mutex_unlock(&pw->lock);
    while (m) {
        struct pair_msg *next = m->next;

        if (m->alloc)
            pair_adopt(w, m);
        else
            pair_take_stray(w, m);
        m = next;
    }
}

/* --- the relay table's owners --- */

void turnd_pair_opened(struct turnd_worker *w, int fd)
{
    struct engine_relay *r = &w->relays[fd];

    r->settled = turn_alloc_client(r->alloc)->transport != TURN_UDP;
    pair_set_owner(w->eng->pairing, &r->bound,
                   (uint16_t)((w->index + 1) | (r->settled ? PAIR_SETTLED : 0)));
}

void turnd_pair_closed(struct turnd_worker *w, int fd)
{
    struct engine_relay *r = &w->relays[fd];
    const struct turn_client *c = turn_alloc_client(r->alloc);
    int listen;

    pair_set_owner(w->eng->pairing, &r->bound, 0);
    if (r->steered && (listen = pair_listen_index(w, c->fd)) >= 0)
        turnd_steer_clear(w->eng->pairing->steer[listen], &c->remote);
}

/* --- start-up and shutdown --- */

static void pair_worker_free(struct pair_worker *pw)
{
    if (!pw)
        return;
    for (struct pair_msg *m = pw->head, *next; m; m = next) {
        next = m->next;
        if (m->alloc) {
            close(m->relay_fd);
            free(m->alloc);
        }
        free(m);
    }
    pthread_mutex_destroy(&pw->lock);
    free(pw);
}

int turnd_pair_start(struct turnd_engine *e, char *err, size_t errlen)
{
    const struct turn_settings *st = turn_server_settings(e->cfg.server);
    struct turnd_pairing *p = calloc(1, sizeof(*p));
    int fds[e->n], r = -ENOMEM;

    if (!p)
        return -ENOMEM;
    e->pairing = p;
    p->relay_ip[0] = st->relay_ip4;
    p->relay_ip[1] = st->relay_ip6;
    p->external_ip[0] = st->external_ip4;
    p->external_ip[1] = st->external_ip6;
    p->port_min = st->port_min;
    p->span = (unsigned)st->port_max - st->port_min + 1;
    for (int f = 0; f < 2; f++)
        if (!(p->owner[f] = calloc(p->span, sizeof(*p->owner[f]))))
            goto fail;
    for (unsigned k = 0; k < e->n; k++) {
        struct pair_worker *pw = calloc(1, sizeof(*pw));

        if (!pw)
            goto fail;
        pthread_mutex_init(&pw->lock, NULL);
        pw->pending_fd = -1;
        e->workers[k]->pair = pw;
    }
    for (unsigned i = 0; i < e->cfg.n_listen; i++) {
        for (unsigned k = 0; k < e->n; k++)
            fds[k] = e->workers[k]->udp[i]->fd;
        r = turnd_steer_new(fds, e->n, st->max_allocations, &p->steer[i], err, errlen);
        if (r < 0)
            goto fail;
        p->n_steer++;
    }
    return 0;
fail:
    if (r == -ENOMEM && !err[0])
        snprintf(err, errlen, "%s", strerror(ENOMEM));
    turnd_pair_free(e);
    return r;
}

void turnd_pair_free(struct turnd_engine *e)
{
    struct turnd_pairing *p = e->pairing;

    if (!p)
        return;
    for (unsigned k = 0; k < e->n; k++) {
        pair_worker_free(e->workers[k]->pair);
        e->workers[k]->pair = NULL;
    }
    for (unsigned i = 0; i < p->n_steer; i++)
        turnd_steer_free(p->steer[i]);
    free(p->owner[0]);
    free(p->owner[1]);
    free(p);
    e->pairing = NULL;
}
