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
    CFG_BOOL,   /* JSON true/false; on the command line "--flag" (true), "--no-flag" (false),
                 * "--flag=WORD" or "--flag WORD" with a boolean word (see cfg_load) */
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
    const char *arg; /* the value's name in help and man pages ("HOST:PORT"); NULL: N for
                      * numbers, VALUE for strings and lists, BOOL for booleans */
};

/* Fills target from defaults, then from --config FILE (if given in argv), then from flags.
 * Top-level keys of the file that start with "#" are comments and are skipped.
 * "--key value" and "--key=value" both work. A boolean takes "--key" (true), "--no-key" (false),
 * "--key=WORD", or "--key WORD" when WORD is one of true, false, yes, no, on, off, 1, 0 (any
 * case); any other WORD is not taken, so "--key" stands alone and WORD is a stray argument,
 * refused as "key: 'WORD' is not true or false" (no command takes positional arguments).
 * --help, --version and --man-options are not handled here (see cfg_asked).
 * On error returns -EINVAL and writes a message that names the key into err, e.g.
 * "max-allocations: 0 is below the minimum 1". Unknown keys and flags are errors. */
int cfg_load(const struct cfg_option *table, size_t n, void *target, int argc, char **argv,
             char *err, size_t errlen);

/* Frees the strings and lists cfg_load() stored into target. */
void cfg_free(const struct cfg_option *table, size_t n, void *target);

/* Prints "  --key VALUE   help (default: def)" lines for every option, wrapped at 80 columns,
 * then, if the table has a boolean, how booleans are written. */
void cfg_print_help(const struct cfg_option *table, size_t n, FILE *out);

/* Prints the same options and words as cfg_print_help() as man(7) roff: one .TP paragraph per
 * option, for the OPTIONS section of a man page (man/mkman.sh merges it into a page). */
void cfg_print_man(const struct cfg_option *table, size_t n, FILE *out);

/* What a command line asks for instead of a run. */
enum cfg_ask {
    CFG_ASK_NONE,
    CFG_ASK_HELP, /* --help or -h: print the usage and exit 0 */
    CFG_ASK_MAN,  /* --man-options (not in --help): print cfg_print_man() and exit 0 */
};

/* The first of --help, -h and --man-options that stands anywhere in argv[1..argc-1]. */
enum cfg_ask cfg_asked(int argc, char **argv);

#endif
