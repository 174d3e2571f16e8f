/* vc-signal's health checker for the vc-turn pool: STUN Binding over UDP on its own thread. */
#ifndef VC_SIGNALD_TURNPROBE_H
#define VC_SIGNALD_TURNPROBE_H

#include <stddef.h>

struct turnpool;
struct turnprobe;

/* Runs a first round of probes in the calling thread (at most TURNPOOL_PROBE_TIMEOUT_MS, so the
 * first joins already know which nodes answer), then keeps probing on a thread of its own as
 * the pool schedules. Call with signals blocked, like every other thread. pool is borrowed and
 * must outlive the prober. Returns 0 with *out set, or -errno with a message in err. */
int turnprobe_start(struct turnpool *pool, struct turnprobe **out, char *err, size_t errlen);
/* Stops and joins the thread and frees tp; NULL is a no-op. */
void turnprobe_stop(struct turnprobe *tp);

#endif
