/* Start-up helpers both daemons share: refusal messages, --help and --version, config, signals. */
#ifndef VC_DAEMON_H
#define VC_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vc/addr.h"
#include "vc/config.h"

/* Exit status for a configuration the daemon refuses to start with. */
#define DAEMON_EXIT_CONFIG 2

/* One row of a cfg_option table whose target is `struct type`; an optional last argument names
 * the value in help and man pages ("ADDR:PORT"). */
#define DAEMON_OPT(type, k, t, lo, hi, d, field, h, chk, ...)                                      \
    {                                                                                              \
        k, t, lo, hi, d, offsetof(struct type, field), h, chk, __VA_ARGS__                         \
    }

/* What --help and --version print. All strings and the table are borrowed (static). */
struct daemon_info {
    const char *name;     /* "vc-turn" */
    const char *version;  /* "0.1.0" */
    const char *synopsis; /* usage lines and a description, printed before the options */
    const struct cfg_option *options;
    size_t n_options;
};

/* Writes the formatted message into err (borrowed) and returns -EINVAL, so a check can say
 * `return daemon_fail(err, errlen, "key: ...")`. */
int daemon_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints the synopsis, the --help and --version lines, and every option. */
void daemon_usage(const struct daemon_info *d, FILE *out);

/* True after printing the help (--help or -h), the options as roff (--man-options, for
 * man/mkman.sh) or the version (--version) to stdout, when one of them stands anywhere in argv:
 * the caller then exits 0. */
bool daemon_info_flag(const struct daemon_info *d, int argc, char **argv);

/* cfg_load() into target (zeroed by the caller). On failure logs the message naming the key,
 * frees what was loaded and returns -EINVAL: the caller exits DAEMON_EXIT_CONFIG. */
int daemon_load(const struct daemon_info *d, void *target, int argc, char **argv);

/* cfg_option checks: "ADDR:PORT" with a non-zero port; a log level name. 0 or -EINVAL. */
int daemon_check_addr(const char *v);
int daemon_check_level(const char *v);
/* Sets the diagnostics threshold from "error", "warn", "info" or "debug"; other names (and
 * NULL) leave it alone. */
void daemon_set_level(const char *name);

/* A server keeps a descriptor per connection: lifts the soft RLIMIT_NOFILE to the hard one.
 * Returns the soft limit now in force, or 0 when unlimited or unknown. */
unsigned long daemon_raise_nofile(void);

/* Blocks SIGINT and SIGTERM in the calling thread (call before starting any thread, which
 * inherits the mask) and ignores SIGPIPE. set receives the two signals, for sigwait(). */
void daemon_block_signals(sigset_t *set);

/* Waits for a signal of set (see daemon_block_signals), logs "SIGINT: stopping" or
 * "SIGTERM: stopping" and returns it. */
int daemon_wait_signal(const sigset_t *set);

#endif
