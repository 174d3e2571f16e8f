/* The delay histogram as JSON: the layout of relay.h, sparse (only non-empty buckets). */
#ifndef VC_LOAD_RELAY_HIST_H
#define VC_LOAD_RELAY_HIST_H

#include <jansson.h>

#include "relay.h"

/* {"unit":"ns","layout":"log-linear","linear_below":128,"sub_buckets":64,"buckets_total":2304,
 * "buckets":[[INDEX, LOWER_NS, COUNT], ...]}: a new reference. */
json_t *relay_hist_json(const struct relay_stats *s);
/* Adds the counts of h (as relay_hist_json writes it) into s->hist. Returns 0, or -EINVAL with
 * err set when the layout differs or a bucket is malformed. */
int relay_hist_add_json(struct relay_stats *s, const json_t *h, char *err, size_t errlen);

#endif
