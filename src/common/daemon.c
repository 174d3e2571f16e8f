/* Start-up helpers both daemons share: refusal messages, --help and --version, config, signals. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>

#include "vc/daemon.h"
#include "vc/log.h"

static const char *const daemon_levels[] = {"error", "warn", "info", "debug"};
#define DAEMON_NLEVELS (sizeof(daemon_levels) / sizeof(daemon_levels[0]))

int daemon_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

void daemon_usage(const struct daemon_info *d, FILE *out)
{
    fputs(d->synopsis, out);
    fprintf(out, "  %-28s %s\n  %-28s %s\n", "--help", "print this help", "--version",
            "print the version");
    cfg_print_help(d->options, d->n_options, out);
}

bool daemon_info_flag(const struct daemon_info *d, int argc, char **argv)
{
    switch (cfg_asked(argc, argv)) {
    case CFG_ASK_HELP:
        daemon_usage(d, stdout);
        return true;
    case CFG_ASK_MAN:
        cfg_print_man(d->options, d->n_options, stdout);
        return true;
    case CFG_ASK_NONE:
        break;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", d->name, d->version);
            return true;
        }
    }
    return false;
}

int daemon_load(const struct daemon_info *d, void *target, int argc, char **argv)
{
    char err[512] = "";

    if (cfg_load(d->options, d->n_options, target, argc, argv, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        cfg_free(d->options, d->n_options, target);
        return -EINVAL;
    }
    return 0;
}

int daemon_check_addr(const char *v)
{
    union vc_addr a;

    if (addr_parse(&a, v, 0) < 0 || addr_port(&a) == 0)
        return -EINVAL;
    return 0;
}

int daemon_check_level(const char *v)
{
    for (size_t i = 0; i < DAEMON_NLEVELS; i++)
        if (strcmp(v, daemon_levels[i]) == 0)
            return 0;
    return -EINVAL;
}

void daemon_set_level(const char *name)
{
    for (size_t i = 0; name && i < DAEMON_NLEVELS; i++)
        if (strcmp(name, daemon_levels[i]) == 0)
            log_set_level((enum log_level)i);
}

unsigned long daemon_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long)rl.rlim_cur;
}

void daemon_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int daemon_wait_signal(const sigset_t *set)
{
    int sig = 0;

    while (sigwait(set, &sig) != 0)
        ;
    log_msg(LOG_LEVEL_INFO, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return sig;
}
