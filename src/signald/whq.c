/* The webhook queue in memory: events by the order they were queued and by room, the next one
 * due, and the retry schedule. No I/O and no clock of its own, so tests drive it with a fake one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

/* A room's items, oldest first; it sits in the heap while its first item waits to be sent. */
struct whq_room {
    struct whq_room *chain; /* the bucket's next */
    struct whq_item *head, *tail;
    size_t heap_at; /* WHQ_NOT_HEAPED when not in the heap */
    char key[WHEVENT_ROOM_MAX + 1];
};
#define WHQ_NOT_HEAPED SIZE_MAX

/* FNV-1a: room ids are ours (random hex), not chosen by clients. */
static size_t whq_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return (size_t)h;
}

/* ---- the heap of rooms, by their first item's (due_ms, seq) ---- */

static bool whq_before(const struct whq_room *a, const struct whq_room *b)
{
    if (a->head->due_ms != b->head->due_ms)
        return a->head->due_ms < b->head->due_ms;
    return a->head->seq < b->head->seq;
}

static void whq_heap_set(struct whq *q, size_t i, struct whq_room *r)
{
    q->heap[i] = r;
    r->heap_at = i;
}

static void whq_sift_up(struct whq *q, size_t i)
{
    struct whq_room *r = q->heap[i];

    while (i > 0 && whq_before(r, q->heap[(i - 1) / 2])) {
        whq_heap_set(q, i, q->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    whq_heap_set(q, i, r);
}

static void whq_sift_down(struct whq *q, size_t i)
{
    struct whq_room *r = q->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= q->nheap)
            break;
        if (c + 1 < q->nheap && whq_before(q->heap[c + 1], q->heap[c]))
            c++;
        if (!whq_before(q->heap[c], r))
            break;
        whq_heap_set(q, i, q->heap[c]);
        i = c;
    }
    whq_heap_set(q, i, r);
}

/* The heap has room for every room (whq_room_of grows it), so this cannot fail. */
static void whq_heap_add(struct whq *q, struct whq_room *r)
{
    whq_heap_set(q, q->nheap++, r);
    whq_sift_up(q, q->nheap - 1);
}

static void whq_heap_del(struct whq *q, struct whq_room *r)
{
    size_t i = r->heap_at;
    struct whq_room *last = q->heap[--q->nheap];

    r->heap_at = WHQ_NOT_HEAPED;
    if (last == r)
        return;
    whq_heap_set(q, i, last);
    whq_sift_up(q, i);
    whq_sift_down(q, last->heap_at);
}

/* ---- rooms by key ---- */

static int whq_grow(struct whq *q)
{
    size_t n = q->nbuckets ? q->nbuckets * 2 : 64;
    struct whq_room **b = calloc(n, sizeof(*b));
    struct whq_room **heap = realloc(q->heap, n * sizeof(*heap));

    if (heap)
        q->heap = heap;
    if (!b || !heap) {
        free(b);
        return -ENOMEM;
    }
    q->heap_cap = n;
    for (size_t i = 0; i < q->nbuckets; i++) {
        for (struct whq_room *r = q->buckets[i], *next; r; r = next) {
            next = r->chain;
            r->chain = b[whq_hash(r->key) & (n - 1)];
            b[whq_hash(r->key) & (n - 1)] = r;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = n;
    return 0;
}

/* The room of key, created when missing; NULL on ENOMEM. */
static struct whq_room *whq_room_of(struct whq *q, const char *key)
{
    struct whq_room *r;

    if (q->nbuckets)
        for (r = q->buckets[whq_hash(key) & (q->nbuckets - 1)]; r; r = r->chain)
            if (strcmp(r->key, key) == 0)
                return r;
    if (q->nrooms + 1 > q->nbuckets && whq_grow(q) < 0)
        return NULL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    memcpy(r->key, key, strlen(key) + 1);
    r->heap_at = WHQ_NOT_HEAPED;
    r->chain = q->buckets[whq_hash(key) & (q->nbuckets - 1)];
    q->buckets[whq_hash(key) & (q->nbuckets - 1)] = r;
    q->nrooms++;
    return r;
}

static void whq_room_free(struct whq *q, struct whq_room *r)
{
    struct whq_room **pp = &q->buckets[whq_hash(r->key) & (q->nbuckets - 1)];

    while (*pp != r)
        pp = &(*pp)->chain;
    *pp = r->chain;
    q->nrooms--;
    free(r);
}

/* ---- items ---- */

int whq_push(struct whq *q, struct whq_item *it)
{
    struct whq_room *r = whq_room_of(q, it->room);

    if (!r)
        return -ENOMEM;
    it->of = r;
    it->busy = false;
    it->next_in_room = NULL;
    it->newer = NULL;
    it->older = q->newest;
    if (q->newest)
        q->newest->newer = it;
    else
        q->oldest = it;
    q->newest = it;
    q->count++;
    if (r->tail) {
        r->tail->next_in_room = it;
        r->tail = it;
        return 0;
    }
    r->head = r->tail = it;
    whq_heap_add(q, r);
    return 0;
}

struct whq_item *whq_take(struct whq *q, int64_t now_ms)
{
    struct whq_room *r = q->nheap ? q->heap[0] : NULL;

    if (!r || r->head->due_ms > now_ms)
        return NULL;
    whq_heap_del(q, r);
    r->head->busy = true;
    return r->head;
}

int64_t whq_next_due(const struct whq *q)
{
    return q->nheap ? q->heap[0]->head->due_ms : INT64_MAX;
}

void whq_retry(struct whq *q, struct whq_item *it, int64_t due_ms)
{
    it->busy = false;
    it->due_ms = due_ms;
    whq_heap_add(q, it->of);
}

void whq_remove(struct whq *q, struct whq_item *it)
{
    struct whq_room *r = it->of;

    if (r->head == it) {
        if (r->heap_at != WHQ_NOT_HEAPED)
            whq_heap_del(q, r);
        r->head = it->next_in_room;
        if (r->head && !r->head->busy)
            whq_heap_add(q, r);
    } else { /* behind a busy first item: only dropping takes one from the middle */
        struct whq_item *p = r->head;
        while (p->next_in_room != it)
            p = p->next_in_room;
        p->next_in_room = it->next_in_room;
        if (r->tail == it)
            r->tail = p;
    }
    if (!r->head)
        whq_room_free(q, r);
    if (it->older)
        it->older->newer = it->newer;
    else
        q->oldest = it->newer;
    if (it->newer)
        it->newer->older = it->older;
    else
        q->newest = it->older;
    q->count--;
    free(it);
}

struct whq_item *whq_over(const struct whq *q, size_t max)
{
    struct whq_item *it = q->count > max ? q->oldest : NULL;

    while (it && it->busy)
        it = it->newer;
    return it;
}

void whq_free(struct whq *q)
{
    while (q->oldest)
        whq_remove(q, q->oldest);
    free(q->buckets);
    free(q->heap);
    memset(q, 0, sizeof(*q));
}

/* ---- the retry schedule ---- */

int64_t whq_backoff_ms(const struct whq_policy *p, unsigned attempts, uint32_t rnd)
{
    int64_t d = p->min_ms;

    for (unsigned i = 1; i < attempts && d < p->max_ms; i++)
        d *= 2;
    if (d > p->max_ms)
        d = p->max_ms;
    /* Half fixed, half jitter: receivers that come back are not hit by every sender at once. */
    return d - d / 2 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
}

int64_t whq_next_try(const struct whq_policy *p, const struct whq_item *it, int64_t now_ms,
                     uint32_t rnd)
{
    int64_t last = it->first_ms + p->give_up_ms, due;

    if (now_ms >= last)
        return -1;
    due = now_ms + whq_backoff_ms(p, it->attempts, rnd);
    return due < last ? due : last;
}
