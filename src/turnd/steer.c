/* Steering chosen clients' datagrams to one worker's socket of a SO_REUSEPORT group (eBPF). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "turnd.h"

#ifdef VC_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "steer.h"
#include "steer.skel.h"

#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif

/* The program is src/bpf/steer.bpf.c. */
struct turnd_steer {
    struct steer_bpf *skel; /* owned */
    int clients;            /* its client map: struct steer_key -> worker index */
};

/* Opens and loads the program with maps for n workers and max_clients clients: 0 or -errno. */
static int steer_load(struct turnd_steer *s, unsigned n, unsigned max_clients, char *err,
                      size_t errlen)
{
    int r;

    turnd_bpf_quiet();
    if (!(s->skel = steer_bpf__open())) {
        snprintf(err, errlen, "opening the steering program: %s", strerror(errno));
        return -errno;
    }
    bpf_map__set_max_entries(s->skel->maps.steer_clients, max_clients ? max_clients : 1);
    bpf_map__set_max_entries(s->skel->maps.steer_sockets, n);
    if ((r = steer_bpf__load(s->skel)) < 0) {
        snprintf(err, errlen, "loading the steering program: %s (%s)", strerror(-r),
                 turnd_bpf_last_error());
        return r;
    }
    s->clients = bpf_map__fd(s->skel->maps.steer_clients);
    return 0;
}

int turnd_steer_new(const int *fds, unsigned n, unsigned max_clients, struct turnd_steer **out,
                    char *err, size_t errlen)
{
    struct turnd_steer *s = calloc(1, sizeof(*s));
    int r, prog;

    if (!s)
        return -ENOMEM;
    if ((r = steer_load(s, n, max_clients, err, errlen)) < 0)
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t fd = (uint64_t)fds[i];

        if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.steer_sockets), &i, &fd, BPF_ANY) < 0) {
            r = -errno;
            snprintf(err, errlen, "filling the socket array: %s", strerror(-r));
            goto fail;
        }
    }
    /* Attached to one socket, the program serves the whole group; the group keeps it. */
    prog = bpf_program__fd(s->skel->progs.vc_steer);
    if (setsockopt(fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof(prog)) < 0) {
        r = -errno;
        snprintf(err, errlen, "attaching the steering program: %s", strerror(-r));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    turnd_steer_free(s);
    return r;
}

static void steer_key_of(const union vc_addr *client, struct steer_key *k)
{
    memset(k, 0, sizeof(*k));
    if (client->sa.sa_family == AF_INET) {
        memcpy(k->ip, &client->v4.sin_addr, 4);
        k->port = client->v4.sin_port;
    } else {
        memcpy(k->ip, &client->v6.sin6_addr, 16);
        k->port = client->v6.sin6_port;
    }
}

int turnd_steer_set(struct turnd_steer *s, const union vc_addr *client, unsigned worker)
{
    struct steer_key k;
    uint32_t v = worker;

    steer_key_of(client, &k);
    return bpf_map_update_elem(s->clients, &k, &v, BPF_ANY) < 0 ? -errno : 0;
}

void turnd_steer_clear(struct turnd_steer *s, const union vc_addr *client)
{
    struct steer_key k;

    steer_key_of(client, &k);
    bpf_map_delete_elem(s->clients, &k); /* ENOENT: never steered, nothing to do */
}

void turnd_steer_free(struct turnd_steer *s)
{
    if (!s)
        return;
    steer_bpf__destroy(s->skel);
    free(s);
}

#else /* built without libbpf: relayed pairs stay where the kernel's hash puts them */

struct turnd_steer {
    int unused;
};

int turnd_steer_new(const int *fds, unsigned n, unsigned max_clients, struct turnd_steer **out,
                    char *err, size_t errlen)
{
    (void)fds, (void)n, (void)max_clients, (void)out;
    snprintf(err, errlen, "built without libbpf");
    return -ENOSYS;
}

int turnd_steer_set(struct turnd_steer *s, const union vc_addr *client, unsigned worker)
{
    (void)s, (void)client, (void)worker;
    return -ENOSYS;
}

void turnd_steer_clear(struct turnd_steer *s, const union vc_addr *client)
{
    (void)s, (void)client;
}

void turnd_steer_free(struct turnd_steer *s)
{
    (void)s;
}
#endif
