/* What the eBPF loaders share: libbpf's complaints for the start-up log, and the capabilities. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifdef VC_HAVE_BPF
#include <bpf/libbpf.h>
#endif

#include "turnd.h"

/* The last line libbpf printed (the verifier's last complaint, or why a map failed), written at
 * start-up only, by the thread that loads. */
static char bpf_last[256];

#ifdef VC_HAVE_BPF
static int bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char line[sizeof(bpf_last)];
    size_t len;

    if (level == LIBBPF_DEBUG)
        return 0;
    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
        line[--len] = '\0';
    if (len)
        memcpy(bpf_last, line, len + 1);
    return 0;
}
#endif

void turnd_bpf_quiet(void)
{
    bpf_last[0] = '\0';
#ifdef VC_HAVE_BPF
    libbpf_set_print(bpf_print);
#endif
}

const char *turnd_bpf_last_error(void)
{
    return bpf_last;
}

bool turnd_bpf_capable(unsigned cap)
{
    struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

    if (syscall(SYS_capget, &head, data) < 0)
        return false;
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}

int turnd_bpf_drop_capabilities(void)
{
    static const unsigned caps[] = {CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON};
    struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    bool held = false;

    for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, caps[i], 0, 0); /* EINVAL on old kernels */
    if (syscall(SYS_capget, &head, data) < 0)
        return -errno;
    for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        unsigned word = caps[i] / 32;
        uint32_t bit = 1u << (caps[i] % 32);

        held |= ((data[word].effective | data[word].permitted | data[word].inheritable) & bit) != 0;
        data[word].effective &= ~bit;
        data[word].permitted &= ~bit;
        data[word].inheritable &= ~bit;
    }
    if (!held)
        return 0;
    return syscall(SYS_capset, &head, data) < 0 ? -errno : 0;
}
