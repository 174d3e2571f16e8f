/* Small helpers for vc-load relay: REST credentials, /proc sampling of the server and of
 * vc-load itself, and the CPUs each may run on. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"
#include "vc/rest_cred.h"

int relay_rest_creds(const struct relay_opts *o, unsigned n, char *user, char *pass)
{
    /* Valid for the whole run plus an hour, so long ramps never outlive their credentials. */
    long long expiry = (long long)time(NULL) + 3600 + 2 * (long long)o->duration_s;
    int len = snprintf(user, 64, "%lld:vc-load-%d-%u", expiry, (int)getpid(), n);

    if (len < 0 || len >= 64) {
        return -ENOSPC;
    }
    len = rest_cred_password((const uint8_t *)o->secret, strlen(o->secret), user, (size_t)len, pass,
                             64);
    return len < 0 ? len : 0;
}

/* Reads a small /proc file into buf (NUL-terminated); returns its length or -errno. */
static ssize_t relay_read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    size_t n;

    if (f == NULL) {
        return -errno;
    }
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (ssize_t)n;
}

void relay_proc_sample(int pid, struct relay_proc_sample *out)
{
    char path[64];
    char buf[4096];
    const char *p;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    long hz = sysconf(_SC_CLK_TCK);

    memset(out, 0, sizeof(*out));
    if (pid <= 0) {
        return;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (relay_read_small(path, buf, sizeof(buf)) <= 0 || (p = strrchr(buf, ')')) == NULL) {
        return;
    }
    /* After "pid (comm)": state is field 3; utime and stime are fields 14 and 15. */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2) {
        return;
    }
    out->cpu_s = (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (relay_read_small(path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "VmRSS:")) != NULL) {
        out->rss_kb = strtol(p + 6, NULL, 10);
    }
    out->valid = true;
}

/* The machine's CPU pressure stall total ("some", PSI) in seconds, or -1 without PSI. */
static double relay_cpu_stall_s(void)
{
    char buf[256];
    const char *p;

    if (relay_read_small("/proc/pressure/cpu", buf, sizeof(buf)) <= 0 ||
        (p = strstr(buf, "total=")) == NULL) {
        return -1;
    }
    return (double)strtoull(p + 6, NULL, 10) / 1e6;
}

void relay_window_sample(int server_pid, struct relay_proc_sample *srv,
                         struct relay_proc_sample *self)
{
    relay_proc_sample(server_pid, srv);
    relay_proc_sample((int)getpid(), self);
    self->stall_s = relay_cpu_stall_s();
}

unsigned relay_cpus_allowed(int pid)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    if (pid < 0 || sched_getaffinity(pid, sizeof(set), &set) < 0) {
        return 0;
    }
    return (unsigned)CPU_COUNT(&set);
}
