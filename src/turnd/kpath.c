/* The engine's side of the kernel fast path: start-up (and the log line why not), the core's ops.
 */
#include <string.h>

#include "vc/log.h"
#include "engine_int.h"

void turnd_kpath_start(struct turnd_engine *e)
{
    const struct turn_settings *st = turn_server_settings(e->cfg.server);
    struct turnd_fast_config fc = {
        .workers = e->n,
        .max_allocations = st->max_allocations,
        .listen = e->cfg.listen,
        .n_listen = e->cfg.n_listen,
        .relay_ip4 = st->relay_ip4,
    };
    char why[512] = "";

    if (!e->cfg.kernel_path) {
        log_msg(LOG_LEVEL_INFO, "relaying in user space: the kernel path is off (kernel-path)");
        return;
    }
    if (turnd_fast_start(&fc, &e->fast, why, sizeof(why)) < 0) {
        log_msg(LOG_LEVEL_INFO, "relaying in user space: no kernel path: %s", why);
        return;
    }
    log_msg(LOG_LEVEL_INFO,
            "relaying bound IPv4 UDP channels in the kernel (eBPF at tc ingress on %s); "
            "everything else in user space",
            turnd_fast_interfaces(e->fast));
}

int turnd_kpath_sync(struct turn_worker *tw, const struct turn_fast_view *v, uint64_t **budget)
{
    struct turnd_worker *w = turn_worker_ctx(tw);

    return w->eng->fast ? turnd_fast_sync(w->eng->fast, w->index, v, budget) : -1;
}

void turnd_kpath_unbind(struct turn_worker *tw, const struct turn_fast_view *v, uint16_t number,
                        const union vc_addr *peer)
{
    struct turnd_worker *w = turn_worker_ctx(tw);

    if (w->eng->fast)
        turnd_fast_unbind(w->eng->fast, v, number, peer);
}

void turnd_kpath_free(struct turn_worker *tw, const struct turn_fast_view *v,
                      struct turn_fast_counts *c)
{
    struct turnd_worker *w = turn_worker_ctx(tw);

    if (w->eng->fast)
        turnd_fast_release(w->eng->fast, v, c);
}
