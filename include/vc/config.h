/* Configuration from one table of options: a JSON file (--config) and then command-line flags. */
#ifndef VC_CONFIG_H
#define VC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Target field types: CFG_INT long long, CFG_BOOL bool, CFG_STR char *, CFG_LIST cfg_list,
 * CFG_DOUBLE double. */
enum cfg_type {
    CFG_INT,    /* long long between min and max */
    CFG_BOOL,   /* JSON true/false; a flag without value means true ("--flag", "--flag=false") */
    CFG_STR,    /* char *, owned by the target struct */
    CFG_LIST,   /* struct cfg_list: a repeatable flag, or a JSON array of strings */
    CFG_DOUBLE, /* double between min and max ("0.5", "2", "1e-3"); NaN while unset, so an
                 * option without a default can tell "not given" from 0 */
};

#define CFG_LIST_MAX 32

struct cfg_list {
    unsigned n;
    char *v[CFG_LIST_MAX];
};

/* One option. The key is both the JSON key and the flag name ("max-allocations" is
 * --max-allocations). check, if set, validates a string or list element beyond its type and
 * returns 0 or a negative errno. */
struct cfg_option {
    const char *key;
    enum cfg_type type;
    long long min, max;
    const char *def; /* default as text (NULL: none); for lists, a comma-separated list */
    size_t offset;   /* offsetof(target struct, field) */
    const char *help;
    int (*check)(const char *value);
};

/* Fills target from defaults, then from --config FILE (if given in argv), then from flags.
 * Top-level keys of the file that start with "#" are comments and are skipped.
 * "--key value" and "--key=value" both work. --help and --version are not handled here.
 * On error returns -EINVAL and writes a message that names the key into err, e.g.
 * "max-allocations: 0 is below the minimum 1". Unknown keys and flags are errors. */
int cfg_load(const struct cfg_option *table, size_t n, void *target, int argc, char **argv,
             char *err, size_t errlen);

/* Frees the strings and lists cfg_load() stored into target. */
void cfg_free(const struct cfg_option *table, size_t n, void *target);

/* Prints "  --key VALUE   help (default: def)" lines for every option. */
void cfg_print_help(const struct cfg_option *table, size_t n, FILE *out);

#endif
