/* The kernel fast path: loads src/bpf/relay.bpf.c at tc ingress and keeps its maps in step. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "vc/log.h"
#include "turnd.h"

#ifdef VC_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "relay.h"
#include "relay.skel.h"

/* tcx (Linux 6.6): a program attached through a link, which goes when vc-turn's last
 * descriptor of it closes, so a killed relay leaves no program forwarding behind. */
#define FAST_TCX_INGRESS 46
#define FAST_KERNEL_MIN 6006 /* 6.6, as major * 1000 + minor */
#define FAST_CPUS_MAX 1024

struct turnd_fast {
    struct relay_bpf *skel; /* owned */
    int out_fd, in_fd, counts_fd, stats_fd;
    struct relay_budget *budgets; /* mmapped relay_budgets, nslots entries */
    size_t budgets_len;
    unsigned nslots, ncpus;
    pthread_mutex_t lock; /* the free slots: a FIFO, so a slot rests before it is reused */
    uint32_t *free_slots; /* owned; nslots */
    unsigned free_head, free_n;
    int nl[TURND_FAST_WORKERS]; /* a route socket per worker */
    unsigned n_workers;
    int links[TURND_FAST_LINKS]; /* tcx links, one per interface */
    unsigned ifindex[TURND_FAST_LINKS];
    unsigned n_links;
    char ifnames[256];
};

/* --- why not: the checks before loading --- */

static unsigned fast_kernel_version(char *release, size_t len)
{
    struct utsname u;
    unsigned major = 0, minor = 0;

    if (uname(&u) < 0)
        return 0;
    snprintf(release, len, "%s", u.release);
    if (sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return 0;
    return major * 1000 + minor;
}

static int fast_preflight(char *why, size_t whylen)
{
    char release[65] = "";

    if (fast_kernel_version(release, sizeof(release)) < FAST_KERNEL_MIN) {
        snprintf(why, whylen, "old kernel: Linux %s has no tcx links (6.6 or later)", release);
        return -ENOSYS;
    }
    if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
        snprintf(why, whylen, "no BTF: /sys/kernel/btf/vmlinux is missing (CONFIG_DEBUG_INFO_BTF)");
        return -ENOENT;
    }
    /* Loading needs CAP_BPF, and CAP_PERFMON for the one read of the kernel's socket buffer
     * (its checksum state); attaching to an interface needs CAP_NET_ADMIN. */
    static const struct {
        unsigned cap;
        const char *name;
    } need[] = {
        {CAP_BPF, "CAP_BPF"}, {CAP_PERFMON, "CAP_PERFMON"}, {CAP_NET_ADMIN, "CAP_NET_ADMIN"}};
    for (unsigned i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (!turnd_bpf_capable(need[i].cap)) {
            snprintf(why, whylen, "missing capability %s", need[i].name);
            return -EPERM;
        }
    }
    return 0;
}

/* --- loading and attaching --- */

static int fast_load(struct turnd_fast *f, unsigned max_allocations, char *why, size_t whylen)
{
    unsigned chans = max_allocations * 4 < (1u << 20) ? max_allocations * 4 : (1u << 20);
    int r, ncpus = libbpf_num_possible_cpus();

    turnd_bpf_quiet();
    if (ncpus <= 0 || ncpus > FAST_CPUS_MAX) {
        snprintf(why, whylen, "cannot count the CPUs");
        return -EINVAL;
    }
    f->ncpus = (unsigned)ncpus;
    f->nslots = max_allocations;
    if (!(f->skel = relay_bpf__open())) {
        snprintf(why, whylen, "opening the program: %s", strerror(errno));
        return -errno;
    }
    bpf_map__set_max_entries(f->skel->maps.relay_out, chans < 1024 ? 1024 : chans);
    bpf_map__set_max_entries(f->skel->maps.relay_in, chans < 1024 ? 1024 : chans);
    bpf_map__set_max_entries(f->skel->maps.relay_budgets, f->nslots);
    bpf_map__set_max_entries(f->skel->maps.relay_counts, f->nslots);
    if ((r = relay_bpf__load(f->skel)) < 0) {
        snprintf(why, whylen, "loading the program: %s (%s)", strerror(-r), turnd_bpf_last_error());
        return r;
    }
    f->out_fd = bpf_map__fd(f->skel->maps.relay_out);
    f->in_fd = bpf_map__fd(f->skel->maps.relay_in);
    f->counts_fd = bpf_map__fd(f->skel->maps.relay_counts);
    f->stats_fd = bpf_map__fd(f->skel->maps.relay_stats);
    f->budgets_len = (size_t)f->nslots * sizeof(struct relay_budget);
    f->budgets = mmap(NULL, f->budgets_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                      bpf_map__fd(f->skel->maps.relay_budgets), 0);
    if (f->budgets == MAP_FAILED) {
        f->budgets = NULL;
        snprintf(why, whylen, "mapping the budgets: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

/* Does interface a hold one of the relay's addresses (any, for a wildcard listener)? */
static bool fast_iface_wanted(const struct ifaddrs *a, const struct turnd_fast_config *cfg)
{
    union vc_addr ip;

    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET ||
        addr_from_sockaddr(&ip, a->ifa_addr, sizeof(struct sockaddr_in)) < 0)
        return false;
    for (unsigned i = 0; i < cfg->n_listen; i++)
        if (cfg->listen[i].sa.sa_family == AF_INET &&
            (addr_is_any(&cfg->listen[i]) || addr_equal_ip(&cfg->listen[i], &ip)))
            return true;
    return cfg->relay_ip4.sa.sa_family == AF_INET && addr_equal_ip(&cfg->relay_ip4, &ip);
}

static int fast_attach_one(struct turnd_fast *f, unsigned ifindex, const char *name, char *why,
                           size_t whylen)
{
    size_t used = strlen(f->ifnames);
    int link;

    for (unsigned i = 0; i < f->n_links; i++)
        if (f->ifindex[i] == ifindex)
            return 0; /* a second address on the same interface */
    if (f->n_links == TURND_FAST_LINKS)
        return 0;
    link = bpf_link_create(bpf_program__fd(f->skel->progs.vc_relay), (int)ifindex, FAST_TCX_INGRESS,
                           NULL);
    if (link < 0) {
        snprintf(why, whylen, "attaching to %s: %s", name, strerror(errno));
        return -errno;
    }
    f->ifindex[f->n_links] = ifindex;
    f->links[f->n_links++] = link;
    snprintf(f->ifnames + used, sizeof(f->ifnames) - used, "%s%s", used ? ", " : "", name);
    return 0;
}

static int fast_attach(struct turnd_fast *f, const struct turnd_fast_config *cfg, char *why,
                       size_t whylen)
{
    struct ifaddrs *list, *a;
    int r = 0;

    if ((r = fast_attach_one(f, 1, "lo", why, whylen)) < 0)
        return r;
    if (getifaddrs(&list) < 0) {
        snprintf(why, whylen, "listing interfaces: %s", strerror(errno));
        return -errno;
    }
    for (a = list; a && r == 0; a = a->ifa_next) {
        unsigned ifindex = a->ifa_name ? if_nametoindex(a->ifa_name) : 0;

        if (ifindex > 1 && fast_iface_wanted(a, cfg))
            r = fast_attach_one(f, ifindex, a->ifa_name, why, whylen);
    }
    freeifaddrs(list);
    return r;
}

int turnd_fast_start(const struct turnd_fast_config *cfg, struct turnd_fast **out, char *why,
                     size_t whylen)
{
    struct turnd_fast *f;
    int r;

    *out = NULL;
    if ((r = fast_preflight(why, whylen)) < 0)
        return r;
    if (cfg->workers > TURND_FAST_WORKERS || cfg->max_allocations == 0) {
        snprintf(why, whylen, "more than %d threads", TURND_FAST_WORKERS);
        return -EINVAL;
    }
    if (!(f = calloc(1, sizeof(*f))))
        return -ENOMEM;
    pthread_mutex_init(&f->lock, NULL);
    for (unsigned i = 0; i < TURND_FAST_WORKERS; i++)
        f->nl[i] = -1;
    f->n_workers = cfg->workers;
    if ((r = fast_load(f, cfg->max_allocations, why, whylen)) < 0)
        goto fail;
    if (!(f->free_slots = malloc(f->nslots * sizeof(*f->free_slots)))) {
        r = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < f->nslots; i++)
        f->free_slots[i] = i;
    f->free_n = f->nslots;
    for (unsigned i = 0; i < cfg->workers; i++) {
        if ((f->nl[i] = turnd_route_open()) < 0) {
            r = f->nl[i];
            snprintf(why, whylen, "opening a route socket: %s", strerror(-r));
            goto fail;
        }
    }
    if ((r = fast_attach(f, cfg, why, whylen)) < 0)
        goto fail;
    *out = f;
    return 0;
fail:
    turnd_fast_free(f);
    return r;
}

const char *turnd_fast_interfaces(const struct turnd_fast *f)
{
    return f->ifnames;
}

void turnd_fast_free(struct turnd_fast *f)
{
    if (!f)
        return;
    for (unsigned i = 0; i < f->n_links; i++)
        close(f->links[i]); /* detaches: the program stops seeing packets */
    for (unsigned i = 0; i < TURND_FAST_WORKERS; i++)
        if (f->nl[i] >= 0)
            close(f->nl[i]);
    if (f->budgets)
        munmap(f->budgets, f->budgets_len);
    relay_bpf__destroy(f->skel); /* and with the last reference, the maps */
    pthread_mutex_destroy(&f->lock);
    free(f->free_slots);
    free(f);
}

/* --- the maps, from the workers --- */

static int fast_slot_take(struct turnd_fast *f)
{
    int slot = -1;

    pthread_mutex_lock(&f->lock);
    if (f->free_n) {
        slot = (int)f->free_slots[f->free_head];
        f->free_head = (f->free_head + 1) % f->nslots;
        f->free_n--;
    }
    pthread_mutex_unlock(&f->lock);
    return slot;
}

static void fast_slot_put(struct turnd_fast *f, int slot)
{
    pthread_mutex_lock(&f->lock);
    f->free_slots[(f->free_head + f->free_n) % f->nslots] = (uint32_t)slot;
    f->free_n++;
    pthread_mutex_unlock(&f->lock);
}

/* Reads slot's counters (summed over CPUs) into c if c is set, and zeroes them. */
static void fast_counts_take(struct turnd_fast *f, int slot, struct turn_fast_counts *c)
{
    struct relay_count per[f->ncpus];
    uint32_t key = (uint32_t)slot;

    if (c && bpf_map_lookup_elem(f->counts_fd, &key, per) == 0) {
        for (unsigned i = 0; i < f->ncpus; i++) {
            c->packets_to_peer += per[i].packets_to_peer;
            c->bytes_to_peer += per[i].bytes_to_peer;
            c->packets_to_client += per[i].packets_to_client;
            c->bytes_to_client += per[i].bytes_to_client;
        }
    }
    memset(per, 0, sizeof(per));
    bpf_map_update_elem(f->counts_fd, &key, per, BPF_ANY);
}

static void fast_out_key(const struct turn_fast_view *v, uint16_t number, struct relay_out_key *k)
{
    memset(k, 0, sizeof(*k));
    k->client_ip = v->client->remote.v4.sin_addr.s_addr;
    k->client_port = v->client->remote.v4.sin_port;
    k->server_ip = v->client->local.v4.sin_addr.s_addr;
    k->server_port = v->client->local.v4.sin_port;
    k->channel = htons(number);
}

static void fast_in_key(const struct turn_fast_view *v, const union vc_addr *peer,
                        struct relay_in_key *k)
{
    memset(k, 0, sizeof(*k));
    k->relay_ip = v->relay.v4.sin_addr.s_addr;
    k->relay_port = v->relay.v4.sin_port;
    k->peer_ip = peer->v4.sin_addr.s_addr;
    k->peer_port = peer->v4.sin_port;
}

static void fast_forget(struct turnd_fast *f, const struct turn_fast_view *v, uint16_t number,
                        const union vc_addr *peer)
{
    struct relay_out_key ko;
    struct relay_in_key ki;

    fast_out_key(v, number, &ko);
    bpf_map_delete_elem(f->out_fd, &ko); /* ENOENT: it never got there */
    if (peer->sa.sa_family == AF_INET) {
        fast_in_key(v, peer, &ki);
        bpf_map_delete_elem(f->in_fd, &ki);
    }
}

/* Writes both directions of one channel; a peer the routes cannot reach is left to user space. */
static void fast_write(struct turnd_fast *f, unsigned worker, const struct turn_fast_view *v,
                       const struct turn_fast_chan *ch, int slot, unsigned client_if)
{
    struct relay_out_key ko;
    struct relay_in_key ki;
    struct relay_out o = {.slot = (uint32_t)slot, .expires_ns = ch->expires_ms * 1000000};
    struct relay_in in = {
        .slot = (uint32_t)slot, .ifindex = client_if, .expires_ns = ch->expires_ms * 1000000};

    if (ch->peer.sa.sa_family != AF_INET ||
        turnd_route_get(f->nl[worker], v->relay.v4.sin_addr.s_addr, ch->peer.v4.sin_addr.s_addr,
                        &o.ifindex) < 0) {
        fast_forget(f, v, ch->number, &ch->peer);
        return;
    }
    fast_out_key(v, ch->number, &ko);
    o.relay_ip = v->relay.v4.sin_addr.s_addr;
    o.relay_port = v->relay.v4.sin_port;
    o.peer_ip = ch->peer.v4.sin_addr.s_addr;
    o.peer_port = ch->peer.v4.sin_port;
    fast_in_key(v, &ch->peer, &ki);
    in.server_ip = ko.server_ip;
    in.server_port = ko.server_port;
    in.client_ip = ko.client_ip;
    in.client_port = ko.client_port;
    in.channel = ko.channel;
    if (bpf_map_update_elem(f->out_fd, &ko, &o, BPF_ANY) < 0 ||
        bpf_map_update_elem(f->in_fd, &ki, &in, BPF_ANY) < 0)
        fast_forget(f, v, ch->number, &ch->peer); /* a map is full: user space relays it */
}

int turnd_fast_sync(struct turnd_fast *f, unsigned worker, const struct turn_fast_view *v,
                    uint64_t **budget)
{
    int slot = v->slot;
    unsigned client_if = 0;

    if (v->client->transport != TURN_UDP || v->client->remote.sa.sa_family != AF_INET ||
        v->client->local.sa.sa_family != AF_INET || v->relay.sa.sa_family != AF_INET ||
        worker >= f->n_workers)
        return -1;
    if (slot < 0) {
        if ((slot = fast_slot_take(f)) < 0)
            return -1;
        fast_counts_take(f, slot, NULL);
        __atomic_store_n(&f->budgets[slot].tat_ns, 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&f->budgets[slot].rate, v->bps / 8, __ATOMIC_RELAXED);
    *budget = (uint64_t *)&f->budgets[slot].tat_ns;
    bool reachable = turnd_route_get(f->nl[worker], v->client->local.v4.sin_addr.s_addr,
                                     v->client->remote.v4.sin_addr.s_addr, &client_if) == 0;
    for (unsigned i = 0; i < v->n; i++) {
        if (reachable)
            fast_write(f, worker, v, &v->chans[i], slot, client_if);
        else
            fast_forget(f, v, v->chans[i].number, &v->chans[i].peer);
    }
    return slot;
}

void turnd_fast_unbind(struct turnd_fast *f, const struct turn_fast_view *v, uint16_t number,
                       const union vc_addr *peer)
{
    if (v->slot >= 0 && v->client->remote.sa.sa_family == AF_INET &&
        v->client->local.sa.sa_family == AF_INET && v->relay.sa.sa_family == AF_INET)
        fast_forget(f, v, number, peer);
}

void turnd_fast_release(struct turnd_fast *f, const struct turn_fast_view *v,
                        struct turn_fast_counts *c)
{
    if (v->slot < 0 || (unsigned)v->slot >= f->nslots)
        return;
    for (unsigned i = 0; i < v->n; i++)
        turnd_fast_unbind(f, v, v->chans[i].number, &v->chans[i].peer);
    /* No entry points at the slot now; what the kernel counted for it is final. */
    fast_counts_take(f, v->slot, c);
    __atomic_store_n(&f->budgets[v->slot].rate, 0, __ATOMIC_RELAXED);
    fast_slot_put(f, v->slot);
}

void turnd_fast_totals(const struct turnd_fast *f, struct turnd_fast_totals *t)
{
    struct relay_stats per[f->ncpus];
    uint32_t zero = 0;

    memset(t, 0, sizeof(*t));
    t->on = true;
    if (bpf_map_lookup_elem(f->stats_fd, &zero, per) < 0)
        return;
    for (unsigned i = 0; i < f->ncpus; i++) {
        t->packets += per[i].packets;
        t->bytes += per[i].bytes;
        t->bps_dropped += per[i].bps_dropped;
        t->passed_expired += per[i].passed_expired;
    }
}

#else /* built without libbpf: every packet goes through user space */

struct turnd_fast {
    int unused;
};

int turnd_fast_start(const struct turnd_fast_config *cfg, struct turnd_fast **out, char *why,
                     size_t whylen)
{
    (void)cfg;
    *out = NULL;
    snprintf(why, whylen, "built without libbpf");
    return -ENOSYS;
}

const char *turnd_fast_interfaces(const struct turnd_fast *f)
{
    (void)f;
    return "";
}

void turnd_fast_free(struct turnd_fast *f)
{
    (void)f;
}

int turnd_fast_sync(struct turnd_fast *f, unsigned worker, const struct turn_fast_view *v,
                    uint64_t **budget)
{
    (void)f, (void)worker, (void)v, (void)budget;
    return -1;
}

void turnd_fast_unbind(struct turnd_fast *f, const struct turn_fast_view *v, uint16_t number,
                       const union vc_addr *peer)
{
    (void)f, (void)v, (void)number, (void)peer;
}

void turnd_fast_release(struct turnd_fast *f, const struct turn_fast_view *v,
                        struct turn_fast_counts *c)
{
    (void)f, (void)v, (void)c;
}

void turnd_fast_totals(const struct turnd_fast *f, struct turnd_fast_totals *t)
{
    (void)f;
    memset(t, 0, sizeof(*t));
}
#endif
