/* Steering chosen clients' datagrams to one worker's socket of a SO_REUSEPORT group (eBPF). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "turnd.h"

#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* The map key: the client's source address as it appears in the packet (network order). */
struct steer_key {
    uint8_t ip[16]; /* an IPv4 address fills the first 4 bytes, the rest stay zero */
    uint16_t port;
    uint16_t pad;
};

struct turnd_steer {
    int clients; /* hash map: struct steer_key -> worker index */
    int sockets; /* reuseport socket array: worker index -> that worker's socket */
};

/* Offsets into struct sk_reuseport_md and the stack slots the program uses. */
#define MD_ETH_PROTOCOL 20
#define STACK_KEY (-24)
#define STACK_INDEX (-28)

static long bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    return (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

#define MOV_IMM(d, v) insn(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)
#define MOV_REG(d, s) insn(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD_IMM(d, v) insn(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, v)
#define LDX_W(d, s, o) insn(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define STX_W(d, o, s) insn(BPF_STX | BPF_MEM | BPF_W, d, s, o, 0)
#define STX_DW(d, o, s) insn(BPF_STX | BPF_MEM | BPF_DW, d, s, o, 0)
#define JEQ_IMM(d, v, o) insn(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, v)
#define JNE_IMM(d, v, o) insn(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, v)
#define JA(o) insn(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define CALL(f) insn(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* A map descriptor into register d: a 64-bit immediate load, two instructions. */
static int ld_map(struct bpf_insn *p, int n, uint8_t d, int fd)
{
    p[n] = insn(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd);
    p[n + 1] = insn(0, 0, 0, 0, 0);
    return n + 2;
}

/* The program, per datagram: build the key from the source address, look it up, and select the
 * worker's socket it names; with no entry (or any failure) the kernel picks by hash as usual.
 * Registers: r6 = the context; the key lives at r10 + STACK_KEY. */
static int steer_program(const struct turnd_steer *s, struct bpf_insn *p)
{
    int n = 0, j_v6, j_pass1, j_pass2, j_pass3, j_port, j_pass4;

    p[n++] = MOV_REG(BPF_REG_6, BPF_REG_1);
    p[n++] = MOV_IMM(BPF_REG_1, 0);
    p[n++] = STX_DW(BPF_REG_10, STACK_KEY, BPF_REG_1);
    p[n++] = STX_DW(BPF_REG_10, STACK_KEY + 8, BPF_REG_1);
    p[n++] = STX_DW(BPF_REG_10, STACK_KEY + 16, BPF_REG_1);
    p[n++] = LDX_W(BPF_REG_2, BPF_REG_6, MD_ETH_PROTOCOL);
    j_v6 = n;
    p[n++] = JNE_IMM(BPF_REG_2, htons(0x0800), 0); /* -> v6 */
    /* IPv4: the source address is 4 bytes at offset 12 of the network header. */
    p[n++] = MOV_IMM(BPF_REG_2, 12);
    p[n++] = MOV_IMM(BPF_REG_4, 4);
    j_port = n;
    p[n++] = JA(0); /* -> load */
    /* v6: */
    p[j_v6].off = (int16_t)(n - j_v6 - 1);
    j_pass1 = n;
    p[n++] = JNE_IMM(BPF_REG_2, htons(0x86DD), 0); /* -> pass */
    p[n++] = MOV_IMM(BPF_REG_2, 8);
    p[n++] = MOV_IMM(BPF_REG_4, 16);
    /* load: */
    p[j_port].off = (int16_t)(n - j_port - 1);
    p[n++] = MOV_REG(BPF_REG_1, BPF_REG_6);
    p[n++] = MOV_REG(BPF_REG_3, BPF_REG_10);
    p[n++] = ADD_IMM(BPF_REG_3, STACK_KEY);
    p[n++] = MOV_IMM(BPF_REG_5, BPF_HDR_START_NET);
    p[n++] = CALL(BPF_FUNC_skb_load_bytes_relative);
    j_pass2 = n;
    p[n++] = JNE_IMM(BPF_REG_0, 0, 0);
    /* The source port: the first 2 bytes of the UDP header, where the data starts. */
    p[n++] = MOV_REG(BPF_REG_1, BPF_REG_6);
    p[n++] = MOV_IMM(BPF_REG_2, 0);
    p[n++] = MOV_REG(BPF_REG_3, BPF_REG_10);
    p[n++] = ADD_IMM(BPF_REG_3, STACK_KEY + 16);
    p[n++] = MOV_IMM(BPF_REG_4, 2);
    p[n++] = CALL(BPF_FUNC_skb_load_bytes);
    j_pass3 = n;
    p[n++] = JNE_IMM(BPF_REG_0, 0, 0);
    n = ld_map(p, n, BPF_REG_1, s->clients);
    p[n++] = MOV_REG(BPF_REG_2, BPF_REG_10);
    p[n++] = ADD_IMM(BPF_REG_2, STACK_KEY);
    p[n++] = CALL(BPF_FUNC_map_lookup_elem);
    j_pass4 = n;
    p[n++] = JEQ_IMM(BPF_REG_0, 0, 0);
    p[n++] = LDX_W(BPF_REG_2, BPF_REG_0, 0);
    p[n++] = STX_W(BPF_REG_10, STACK_INDEX, BPF_REG_2);
    p[n++] = MOV_REG(BPF_REG_1, BPF_REG_6);
    n = ld_map(p, n, BPF_REG_2, s->sockets);
    p[n++] = MOV_REG(BPF_REG_3, BPF_REG_10);
    p[n++] = ADD_IMM(BPF_REG_3, STACK_INDEX);
    p[n++] = MOV_IMM(BPF_REG_4, 0);
    p[n++] = CALL(BPF_FUNC_sk_select_reuseport);
    /* pass, whatever that returned: without a selection the hash decides. */
    p[j_pass1].off = (int16_t)(n - j_pass1 - 1);
    p[j_pass2].off = (int16_t)(n - j_pass2 - 1);
    p[j_pass3].off = (int16_t)(n - j_pass3 - 1);
    p[j_pass4].off = (int16_t)(n - j_pass4 - 1);
    p[n++] = MOV_IMM(BPF_REG_0, SK_PASS);
    p[n++] = EXIT();
    return n;
}

static int steer_map(enum bpf_map_type type, unsigned key, unsigned value, unsigned entries,
                     unsigned flags)
{
    union bpf_attr a;

    memset(&a, 0, sizeof(a));
    a.map_type = type;
    a.key_size = key;
    a.value_size = value;
    a.max_entries = entries;
    a.map_flags = flags;
    long fd = bpf(BPF_MAP_CREATE, &a);
    return fd < 0 ? -errno : (int)fd;
}

static int steer_update(int map, const void *key, const void *value)
{
    union bpf_attr a;

    memset(&a, 0, sizeof(a));
    a.map_fd = (uint32_t)map;
    a.key = (uint64_t)(uintptr_t)key;
    a.value = (uint64_t)(uintptr_t)value;
    a.flags = BPF_ANY;
    return bpf(BPF_MAP_UPDATE_ELEM, &a) < 0 ? -errno : 0;
}

/* The verifier's last complaint, for the start-up log line. */
static void steer_load_error(const char *log, int e, char *err, size_t errlen)
{
    size_t len = strlen(log);

    while (len && (log[len - 1] == '\n' || log[len - 1] == ' '))
        len--;
    size_t start = len;
    while (start && log[start - 1] != '\n')
        start--;
    if (len > start)
        snprintf(err, errlen, "loading the steering program: %s (%.*s)", strerror(e),
                 (int)(len - start), log + start);
    else
        snprintf(err, errlen, "loading the steering program: %s", strerror(e));
}

/* Loads the program: its descriptor, or -errno with the verifier's last complaint in err (a
 * second, logged attempt is made only to find that line). */
static int steer_load(const struct bpf_insn *prog, int n, char *err, size_t errlen)
{
    static char log[64 * 1024];
    union bpf_attr a;
    long fd;

    memset(&a, 0, sizeof(a));
    a.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
    a.insns = (uint64_t)(uintptr_t)prog;
    a.insn_cnt = (uint32_t)n;
    a.license = (uint64_t)(uintptr_t) "GPL";
    if ((fd = bpf(BPF_PROG_LOAD, &a)) >= 0)
        return (int)fd;
    int e = errno;
    log[0] = '\0';
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = sizeof(log);
    a.log_level = 1;
    if ((fd = bpf(BPF_PROG_LOAD, &a)) >= 0) /* it passed this time: take it */
        return (int)fd;
    steer_load_error(log, e, err, errlen);
    return -e;
}

int turnd_steer_new(const int *fds, unsigned n, unsigned max_clients, struct turnd_steer **out,
                    char *err, size_t errlen)
{
    struct turnd_steer *s = calloc(1, sizeof(*s));
    struct bpf_insn prog[64];
    int r, prog_fd;

    if (!s)
        return -ENOMEM;
    s->sockets = -1;
    s->clients = steer_map(BPF_MAP_TYPE_HASH, sizeof(struct steer_key), sizeof(uint32_t),
                           max_clients, BPF_F_NO_PREALLOC);
    if (s->clients < 0) {
        r = s->clients;
        snprintf(err, errlen, "creating the steering map: %s", strerror(-r));
        goto fail;
    }
    s->sockets =
        steer_map(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, sizeof(uint32_t), sizeof(uint64_t), n, 0);
    if (s->sockets < 0) {
        r = s->sockets;
        snprintf(err, errlen, "creating the socket array: %s", strerror(-r));
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t fd = (uint64_t)fds[i];

        if ((r = steer_update(s->sockets, &i, &fd)) < 0) {
            snprintf(err, errlen, "filling the socket array: %s", strerror(-r));
            goto fail;
        }
    }
    prog_fd = steer_load(prog, steer_program(s, prog), err, errlen);
    if (prog_fd < 0) {
        r = prog_fd;
        goto fail;
    }
    /* Attached to one socket, the program serves the whole group; the group keeps it. */
    r = setsockopt(fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd, sizeof(prog_fd));
    r = r < 0 ? -errno : 0;
    close(prog_fd);
    if (r < 0) {
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
    return steer_update(s->clients, &k, &v);
}

void turnd_steer_clear(struct turnd_steer *s, const union vc_addr *client)
{
    struct steer_key k;
    union bpf_attr a;

    steer_key_of(client, &k);
    memset(&a, 0, sizeof(a));
    a.map_fd = (uint32_t)s->clients;
    a.key = (uint64_t)(uintptr_t)&k;
    bpf(BPF_MAP_DELETE_ELEM, &a); /* ENOENT: never steered, nothing to do */
}

void turnd_steer_free(struct turnd_steer *s)
{
    if (!s)
        return;
    if (s->clients >= 0)
        close(s->clients);
    if (s->sockets >= 0)
        close(s->sockets);
    free(s);
}

int turnd_steer_drop_capability(void)
{
    struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    unsigned word = CAP_BPF / 32;
    uint32_t bit = 1u << (CAP_BPF % 32);

    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_BPF, 0, 0); /* EINVAL on old kernels */
    if (syscall(SYS_capget, &head, data) < 0)
        return -errno;
    if (!((data[word].effective | data[word].permitted | data[word].inheritable) & bit))
        return 0;
    data[word].effective &= ~bit;
    data[word].permitted &= ~bit;
    data[word].inheritable &= ~bit;
    return syscall(SYS_capset, &head, data) < 0 ? -errno : 0;
}
