/* The load generator seam: the SRTP media path (audio, video) or the raw ChannelData flood. */
#include <stdlib.h>

#include "relay.h"

struct relay_gen {
    struct relay_media *media;
    struct relay_flood *flood;
    unsigned calls;
};

struct relay_gen *relay_gen_create(const struct relay_opts *o, char *err, size_t errlen)
{
    struct relay_gen *g = calloc(1, sizeof(*g));

    if (g == NULL) {
        return NULL;
    }
    if (o->profile == RELAY_FLOOD) {
        g->flood = relay_flood_create(o, err, errlen);
    } else {
        g->media = relay_media_create(o, err, errlen);
    }
    if (g->flood == NULL && g->media == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

int relay_gen_add(struct relay_gen *g, unsigned n, char *err, size_t errlen)
{
    int rc = g->flood ? relay_flood_add(g->flood, n, err, errlen) : relay_media_add(g->media, n);

    if (rc == 0) {
        g->calls += n;
    }
    return rc;
}

unsigned relay_gen_calls(const struct relay_gen *g)
{
    return g->calls;
}

void relay_gen_snapshot(struct relay_gen *g, struct relay_stats *out)
{
    if (g->flood) {
        relay_flood_snapshot(g->flood, out);
    } else {
        relay_media_snapshot(g->media, out);
    }
}

void relay_gen_quiesce(struct relay_gen *g)
{
    if (g->flood) {
        relay_flood_quiesce(g->flood);
    } else {
        relay_media_quiesce(g->media);
    }
}

void relay_gen_destroy(struct relay_gen *g)
{
    if (g == NULL) {
        return;
    }
    if (g->flood) {
        relay_flood_destroy(g->flood);
    } else {
        relay_media_destroy(g->media);
    }
    free(g);
}
