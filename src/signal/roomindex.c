/* Rooms by id and by token hash: chained tables grown with the room count, so that a join or a
 * REST lookup costs no walk over every room (at 10,000 rooms that walk was most of the CPU).
 *
 * A token is looked up by its SHA-256 hash, whose first bytes pick the bucket. What the lookup's
 * timing could reveal is therefore about hashes, which a caller cannot steer towards a stored
 * one, never about the token; the final comparison is constant-time all the same. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub_int.h"

#define ROOM_INDEX_MIN_BUCKETS 64

size_t hub_name_hash(const char *name)
{
    uint64_t x = 14695981039346656037ULL; /* FNV-1a */

    for (; *name; name++)
        x = (x ^ (uint8_t)*name) * 1099511628211ULL;
    return (size_t)(x ^ (x >> 32));
}

static size_t room_index_token_hash(const unsigned char *hash)
{
    uint64_t x;

    memcpy(&x, hash, sizeof(x));
    return (size_t)x;
}

static void room_index_put_key(struct room_index *ix, struct room_token_key *k)
{
    struct room_token_key **tb = &ix->by_token[room_index_token_hash(k->hash) & (ix->nbuckets - 1)];

    k->next = *tb;
    *tb = k;
}

/* A room with every key it has: its host and guest tokens and its invites. */
static void room_index_put(struct room_index *ix, struct hub_room *r)
{
    struct hub_room **idb = &ix->by_id[hub_name_hash(r->id) & (ix->nbuckets - 1)];

    r->next_by_id = *idb;
    *idb = r;
    for (int i = 0; i < 2; i++)
        room_index_put_key(ix, &r->keys[i]);
    for (struct hub_invite *inv = r->invites; inv; inv = inv->next)
        room_index_put_key(ix, &inv->key);
}

void room_index_add_key(struct room_index *ix, struct room_token_key *k)
{
    if (ix->nbuckets)
        room_index_put_key(ix, k);
}

void room_index_remove_key(struct room_index *ix, struct room_token_key *k)
{
    struct room_token_key **kp;

    if (!ix->nbuckets)
        return;
    kp = &ix->by_token[room_index_token_hash(k->hash) & (ix->nbuckets - 1)];
    while (*kp && *kp != k)
        kp = &(*kp)->next;
    if (*kp)
        *kp = k->next;
}

/* Doubles both tables (or creates them), moving every room across. -ENOMEM leaves them. */
static int room_index_grow(struct room_index *ix)
{
    size_t n = ix->nbuckets ? ix->nbuckets * 2 : ROOM_INDEX_MIN_BUCKETS, old = ix->nbuckets;
    struct hub_room **by_id = calloc(n, sizeof(*by_id));
    struct room_token_key **by_token = calloc(n, sizeof(*by_token));
    struct hub_room **old_id = ix->by_id;

    if (!by_id || !by_token) {
        free(by_id);
        free(by_token);
        return -ENOMEM;
    }
    free(ix->by_token); /* every room is on the id chains too, and is re-put from there */
    ix->by_id = by_id;
    ix->by_token = by_token;
    ix->nbuckets = n;
    for (size_t i = 0; i < old; i++) {
        for (struct hub_room *r = old_id[i], *next; r; r = next) {
            next = r->next_by_id;
            room_index_put(ix, r);
        }
    }
    free(old_id);
    return 0;
}

int room_index_add(struct room_index *ix, struct hub_room *r)
{
    if (ix->count >= ix->nbuckets && room_index_grow(ix) < 0 && ix->nbuckets == 0)
        return -ENOMEM; /* a full table that cannot grow still works, with longer chains */
    r->keys[0] = (struct room_token_key){.room = r, .role = HUB_HOST, .hash = r->host_hash};
    r->keys[1] = (struct room_token_key){.room = r, .role = HUB_GUEST, .hash = r->guest_hash};
    room_index_put(ix, r);
    ix->count++;
    return 0;
}

void room_index_remove(struct room_index *ix, struct hub_room *r)
{
    size_t mask = ix->nbuckets - 1;
    struct hub_room **pp;

    if (!ix->nbuckets)
        return;
    for (pp = &ix->by_id[hub_name_hash(r->id) & mask]; *pp; pp = &(*pp)->next_by_id) {
        if (*pp == r) {
            *pp = r->next_by_id;
            ix->count--;
            break;
        }
    }
    for (int i = 0; i < 2; i++)
        room_index_remove_key(ix, &r->keys[i]);
    for (struct hub_invite *inv = r->invites; inv; inv = inv->next)
        room_index_remove_key(ix, &inv->key);
}

struct hub_room *room_index_by_id(const struct room_index *ix, const char *id)
{
    if (!ix->nbuckets)
        return NULL;
    for (struct hub_room *r = ix->by_id[hub_name_hash(id) & (ix->nbuckets - 1)]; r;
         r = r->next_by_id)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

struct hub_room *room_index_by_token(const struct room_index *ix, const unsigned char *hash,
                                     enum hub_role *role, struct hub_invite **invite)
{
    if (!ix->nbuckets)
        return NULL;
    for (const struct room_token_key *k =
             ix->by_token[room_index_token_hash(hash) & (ix->nbuckets - 1)];
         k; k = k->next) {
        if (ct_equal(k->hash, hash, TOKEN_HASH_LEN)) {
            *role = k->role;
            *invite = k->invite;
            return k->room;
        }
    }
    return NULL;
}

void room_index_free(struct room_index *ix)
{
    free(ix->by_id);
    free(ix->by_token);
    memset(ix, 0, sizeof(*ix));
}
