/* Table-driven configuration: defaults, then a JSON file (--config), then command-line flags. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "vc/config.h"

/* How much of a bad value an error message quotes. */
#define CFG_SHOW_MAX 64

/* One cfg_load() call: the table, the target, the error buffer and which source is being read. */
struct cfg_ctx {
    const struct cfg_option *table;
    size_t n;
    void *target;
    char *err;
    size_t errlen;
    const char *file; /* set while applying the JSON file, so errors name it */
};

/* One parsed command-line flag. */
struct cfg_flag {
    const struct cfg_option *opt; /* NULL for --config when the table has no "config" entry */
    const char *value; /* borrowed from argv (or "false" for --no-KEY); NULL for a bare boolean */
    bool is_config;
    bool bare;    /* a boolean that took no value: "--key" or "--no-key" */
    bool negated; /* "--no-key" */
};

/* The words a boolean takes on the command line (any case), in the order help lists them. */
static const struct {
    const char *word;
    bool value;
} cfg_bool_words[] = {
    {"true", true}, {"false", false}, {"yes", true}, {"no", false},
    {"on", true},   {"off", false},   {"1", true},   {"0", false},
};
#define CFG_NBOOL_WORDS (sizeof(cfg_bool_words) / sizeof(cfg_bool_words[0]))

static void *cfg_field(const struct cfg_ctx *c, const struct cfg_option *opt)
{
    return (char *)c->target + opt->offset;
}

/* Values of keys like "secret", "turn-secret-file" or "api-key" are never quoted in messages. */
static bool cfg_is_secret(const char *key)
{
    /* A database URL may hold a password. */
    return strstr(key, "secret") || strstr(key, "key") || strstr(key, "password") ||
           strcmp(key, "database") == 0;
}

/* Copies value into out for quoting: at most CFG_SHOW_MAX bytes, control bytes as '?'. */
static const char *cfg_show(char *out, size_t outlen, const char *value)
{
    size_t i, max = outlen - 4;

    for (i = 0; value[i] && i < max && i < CFG_SHOW_MAX; i++)
        out[i] = (value[i] > 0 && value[i] < 0x20) || value[i] == 0x7f ? '?' : value[i];
    if (value[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* Writes "[FILE: ]KEY: message" (key may be NULL) into the error buffer; returns -EINVAL. */
static int cfg_fail(const struct cfg_ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfg_fail(const struct cfg_ctx *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (!c->err || c->errlen == 0)
        return -EINVAL;
    if (c->file)
        n = snprintf(c->err, c->errlen, "%s: ", c->file);
    if (key && n >= 0 && (size_t)n < c->errlen)
        n += snprintf(c->err + n, c->errlen - (size_t)n, "%s: ", key);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* "KEY: 'VALUE' REASON", or "KEY: invalid value (REASON)" for secrets. */
static int cfg_fail_value(const struct cfg_ctx *c, const struct cfg_option *opt, const char *value,
                          const char *reason)
{
    char shown[CFG_SHOW_MAX + 4];

    if (cfg_is_secret(opt->key))
        return cfg_fail(c, opt->key, "invalid value (%s)", reason);
    return cfg_fail(c, opt->key, "'%s' %s", cfg_show(shown, sizeof(shown), value), reason);
}

static const struct cfg_option *cfg_find(const struct cfg_ctx *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strlen(c->table[i].key) == len && memcmp(c->table[i].key, name, len) == 0)
            return &c->table[i];
    }
    return NULL;
}

/* "KEY: VALUE is below the minimum MIN" (or above the maximum); secrets without VALUE. */
static int cfg_fail_range(const struct cfg_ctx *c, const struct cfg_option *opt, const char *shown,
                          bool below)
{
    const char *side = below ? "below the minimum" : "above the maximum";
    long long bound = below ? opt->min : opt->max;

    if (cfg_is_secret(opt->key))
        return cfg_fail(c, opt->key, "value is %s %lld", side, bound);
    return cfg_fail(c, opt->key, "%s is %s %lld", shown, side, bound);
}

static int cfg_set_int(const struct cfg_ctx *c, const struct cfg_option *opt, long long v)
{
    char shown[32];

    if (v < opt->min || v > opt->max) {
        snprintf(shown, sizeof(shown), "%lld", v);
        return cfg_fail_range(c, opt, shown, v < opt->min);
    }
    *(long long *)cfg_field(c, opt) = v;
    return 0;
}

/* The bounds are the option's whole-number min and max. */
static int cfg_set_double(const struct cfg_ctx *c, const struct cfg_option *opt, double v)
{
    char shown[32];

    if (v < (double)opt->min || v > (double)opt->max) {
        snprintf(shown, sizeof(shown), "%.15g", v);
        return cfg_fail_range(c, opt, shown, v < (double)opt->min);
    }
    *(double *)cfg_field(c, opt) = v;
    return 0;
}

/* Decimal only, optional leading '-', no spaces, '+' or trailing bytes. */
static int cfg_parse_int(const struct cfg_ctx *c, const struct cfg_option *opt, const char *text)
{
    const char *p = text[0] == '-' ? text + 1 : text;
    char *end;
    long long v;

    if (!isdigit((unsigned char)*p))
        return cfg_fail_value(c, opt, text, "is not an integer");
    errno = 0;
    v = strtoll(text, &end, 10);
    if (*end != '\0')
        return cfg_fail_value(c, opt, text, "is not an integer");
    if (errno == ERANGE)
        return cfg_fail_value(c, opt, text, "is out of range");
    return cfg_set_int(c, opt, v);
}

/* Decimal only ("0.5", "-2", ".5", "1e-3"): no spaces, '+', "nan", "inf" or trailing bytes. */
static int cfg_parse_double(const struct cfg_ctx *c, const struct cfg_option *opt, const char *text)
{
    const char *p = text[0] == '-' ? text + 1 : text;
    char *end;
    double v;

    if (!isdigit((unsigned char)*p) && *p != '.')
        return cfg_fail_value(c, opt, text, "is not a number");
    errno = 0;
    v = strtod(text, &end);
    if (end == text || *end != '\0')
        return cfg_fail_value(c, opt, text, "is not a number");
    if (errno == ERANGE)
        return cfg_fail_value(c, opt, text, "is out of range");
    return cfg_set_double(c, opt, v);
}

/* 1 or 0 for a boolean word, -1 for anything else. */
static int cfg_bool_word(const char *text)
{
    for (size_t i = 0; i < CFG_NBOOL_WORDS; i++)
        if (strcasecmp(text, cfg_bool_words[i].word) == 0)
            return cfg_bool_words[i].value;
    return -1;
}

/* text NULL is a bare "--key": true. */
static int cfg_parse_bool(const struct cfg_ctx *c, const struct cfg_option *opt, const char *text)
{
    int v = text ? cfg_bool_word(text) : 1;

    if (v < 0)
        return cfg_fail_value(c, opt, text, "is not true or false");
    *(bool *)cfg_field(c, opt) = v == 1;
    return 0;
}

static int cfg_check(const struct cfg_ctx *c, const struct cfg_option *opt, const char *value)
{
    int rc;

    if (!opt->check)
        return 0;
    rc = opt->check(value);
    if (rc >= 0)
        return 0;
    if (rc == -EINVAL)
        return cfg_fail_value(c, opt, value, "is invalid");
    /* e.g. a file that must exist: say why, still without quoting a secret. */
    if (cfg_is_secret(opt->key))
        return cfg_fail(c, opt->key, "invalid value (%s)", strerror(-rc));
    char shown[CFG_SHOW_MAX + 4];
    return cfg_fail(c, opt->key, "'%s' is invalid (%s)", cfg_show(shown, sizeof(shown), value),
                    strerror(-rc));
}

static int cfg_set_str(const struct cfg_ctx *c, const struct cfg_option *opt, const char *value)
{
    char **field = cfg_field(c, opt);
    char *copy;
    int rc;

    rc = cfg_check(c, opt, value);
    if (rc < 0)
        return rc;
    copy = strdup(value);
    if (!copy)
        return cfg_fail(c, opt->key, "out of memory");
    free(*field);
    *field = copy;
    return 0;
}

/* Applies a value given as text (a flag, a default, a JSON string) to a single-valued option. */
static int cfg_set_text(const struct cfg_ctx *c, const struct cfg_option *opt, const char *text)
{
    switch (opt->type) {
    case CFG_INT:
        return cfg_parse_int(c, opt, text);
    case CFG_DOUBLE:
        return cfg_parse_double(c, opt, text);
    case CFG_BOOL:
        return cfg_parse_bool(c, opt, text);
    case CFG_STR:
        return cfg_set_str(c, opt, text);
    case CFG_LIST:
        break;
    }
    return cfg_fail(c, opt->key, "bad option type");
}

static void cfg_list_clear(struct cfg_list *l)
{
    for (unsigned i = 0; i < l->n; i++) {
        free(l->v[i]);
        l->v[i] = NULL;
    }
    l->n = 0;
}

/* Appends len bytes of value as one element. */
static int cfg_list_add(const struct cfg_ctx *c, const struct cfg_option *opt, const char *value,
                        size_t len)
{
    struct cfg_list *l = cfg_field(c, opt);
    char *copy;
    int rc;

    if (l->n >= CFG_LIST_MAX)
        return cfg_fail(c, opt->key, "more than %d values", CFG_LIST_MAX);
    copy = strndup(value, len);
    if (!copy)
        return cfg_fail(c, opt->key, "out of memory");
    rc = cfg_check(c, opt, copy);
    if (rc < 0) {
        free(copy);
        return rc;
    }
    l->v[l->n++] = copy;
    return 0;
}

/* Applies a default: lists are comma-separated ("" is the empty list). */
static int cfg_apply_default(const struct cfg_ctx *c, const struct cfg_option *opt)
{
    const char *p = opt->def, *comma;
    int rc;

    if (opt->type != CFG_LIST)
        return cfg_set_text(c, opt, p);
    while (*p) {
        comma = strchr(p, ',');
        rc = cfg_list_add(c, opt, p, comma ? (size_t)(comma - p) : strlen(p));
        if (rc < 0)
            return rc;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

static const char *cfg_json_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* A JSON string as a C string, refusing embedded NUL bytes. */
static const char *cfg_json_str(const struct cfg_ctx *c, const struct cfg_option *opt,
                                const json_t *v, int *rc)
{
    const char *s = json_string_value(v);

    if (strlen(s) != json_string_length(v)) {
        *rc = cfg_fail(c, opt->key, "contains a NUL byte");
        return NULL;
    }
    return s;
}

/* A JSON string applied as text (numbers may be quoted); any other JSON type is wrong. */
static int cfg_apply_json_text(const struct cfg_ctx *c, const struct cfg_option *opt,
                               const json_t *v, const char *want)
{
    const char *s;
    int rc = 0;

    if (!json_is_string(v))
        return cfg_fail(c, opt->key, "expected %s, not %s", want, cfg_json_type(v));
    s = cfg_json_str(c, opt, v, &rc);
    return s ? cfg_set_text(c, opt, s) : rc;
}

static int cfg_apply_json(const struct cfg_ctx *c, const struct cfg_option *opt, const json_t *v)
{
    const char *s;
    size_t i;
    json_t *el;
    int rc = 0;

    switch (opt->type) {
    case CFG_INT:
        if (json_is_integer(v))
            return cfg_set_int(c, opt, json_integer_value(v));
        return cfg_apply_json_text(c, opt, v, "an integer");
    case CFG_DOUBLE:
        if (json_is_number(v))
            return cfg_set_double(c, opt, json_number_value(v));
        return cfg_apply_json_text(c, opt, v, "a number");
    case CFG_BOOL:
        if (!json_is_boolean(v))
            return cfg_fail(c, opt->key, "expected true or false, not %s", cfg_json_type(v));
        *(bool *)cfg_field(c, opt) = json_is_true(v);
        return 0;
    case CFG_STR:
        return cfg_apply_json_text(c, opt, v, "a string");
    case CFG_LIST:
        if (!json_is_array(v))
            return cfg_fail(c, opt->key, "expected an array of strings, not %s", cfg_json_type(v));
        cfg_list_clear(cfg_field(c, opt));
        json_array_foreach(v, i, el)
        {
            if (!json_is_string(el))
                return cfg_fail(c, opt->key, "expected an array of strings, not %s in it",
                                cfg_json_type(el));
            s = cfg_json_str(c, opt, el, &rc);
            if (!s)
                return rc;
            rc = cfg_list_add(c, opt, s, strlen(s));
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    return cfg_fail(c, opt->key, "bad option type");
}

/* Reads the JSON file. jansson's "near '...'" context is dropped from parse errors: it would
 * quote the file's text, which may be a secret. */
static int cfg_load_file(struct cfg_ctx *c, const char *path)
{
    json_error_t jerr;
    json_t *root, *v;
    const char *key;
    const struct cfg_option *opt;
    char *near;
    int rc = 0;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        near = strstr(jerr.text, " near '");
        if (near)
            *near = '\0';
        if (jerr.line > 0)
            return cfg_fail(c, NULL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return cfg_fail(c, NULL, "%s: %s", path, jerr.text);
    }
    c->file = path;
    if (!json_is_object(root)) {
        rc = cfg_fail(c, NULL, "the top level must be a JSON object");
        goto out;
    }
    json_object_foreach(root, key, v)
    {
        /* "#listen": "why it is set so" documents a file: JSON itself has no comments. */
        if (key[0] == '#')
            continue;
        opt = cfg_find(c, key, strlen(key));
        if (!opt) {
            char shown[CFG_SHOW_MAX + 4];
            rc = cfg_fail(c, NULL, "unknown key '%s'", cfg_show(shown, sizeof(shown), key));
            goto out;
        }
        if (strcmp(key, "config") == 0) {
            rc = cfg_fail(c, key, "not allowed inside a config file");
            goto out;
        }
        rc = cfg_apply_json(c, opt, v);
        if (rc < 0)
            goto out;
    }
out:
    c->file = NULL;
    json_decref(root);
    return rc;
}

/* A word where a flag should stand. After a bare boolean flag it is that flag's would-be value,
 * so the message names the flag. */
static int cfg_stray(const struct cfg_ctx *c, const struct cfg_flag *prev, const char *arg)
{
    char shown[CFG_SHOW_MAX + 4];

    if (prev->bare && prev->negated)
        return cfg_fail(c, prev->opt->key, "--no-%s takes no value ('%s')", prev->opt->key,
                        cfg_show(shown, sizeof(shown), arg));
    if (prev->bare)
        return cfg_fail_value(c, prev->opt, arg, "is not true or false");
    return cfg_fail(c, NULL, "unexpected argument '%s'", cfg_show(shown, sizeof(shown), arg));
}

/* "unknown option '--NAME'", quoting the flag's name only: a value after '=' could be a secret. */
static int cfg_unknown(const struct cfg_ctx *c, const char *name, size_t len)
{
    char flag[CFG_SHOW_MAX + 1], shown[CFG_SHOW_MAX + 4];

    if (len > CFG_SHOW_MAX)
        len = CFG_SHOW_MAX;
    memcpy(flag, name, len);
    flag[len] = '\0';
    return cfg_fail(c, NULL, "unknown option '--%s'", cfg_show(shown, sizeof(shown), flag));
}

/* Takes f's value from after the '=' (eq, or NULL), from argv[*i] (advancing *i), or none: a
 * boolean takes the next argument only when it is a boolean word. */
static int cfg_flag_value(const struct cfg_ctx *c, int argc, char **argv, int *i,
                          struct cfg_flag *f, const char *eq)
{
    if (f->negated) {
        if (eq)
            return cfg_fail(c, f->opt->key, "--no-%s takes no value", f->opt->key);
        f->value = "false";
        f->bare = true;
    } else if (eq) {
        f->value = eq + 1;
    } else if (f->opt && f->opt->type == CFG_BOOL) {
        if (*i < argc && cfg_bool_word(argv[*i]) >= 0)
            f->value = argv[(*i)++];
        else
            f->bare = true;
    } else if (*i < argc) {
        f->value = argv[(*i)++];
    } else {
        return cfg_fail(c, f->is_config ? "config" : f->opt->key, "missing value");
    }
    return 0;
}

/* Parses argv[*i] (and its value, if separate) into f and advances *i past them. On entry f
 * holds the previous flag (zeroed before the first), for cfg_stray(). */
static int cfg_next_flag(const struct cfg_ctx *c, int argc, char **argv, int *i, struct cfg_flag *f)
{
    const char *arg = argv[*i], *name, *eq;
    size_t len;

    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0' || arg[2] == '=')
        return cfg_stray(c, f, arg);
    name = arg + 2;
    eq = strchr(name, '=');
    len = eq ? (size_t)(eq - name) : strlen(name);
    memset(f, 0, sizeof(*f));
    f->opt = cfg_find(c, name, len);
    f->is_config = len == 6 && memcmp(name, "config", 6) == 0;
    if (!f->opt && !f->is_config && len > 3 && memcmp(name, "no-", 3) == 0) {
        f->opt = cfg_find(c, name + 3, len - 3);
        if (f->opt && f->opt->type != CFG_BOOL)
            f->opt = NULL;
        f->negated = f->opt != NULL;
    }
    if (!f->opt && !f->is_config)
        return cfg_unknown(c, name, len);
    if (f->is_config && f->opt && f->opt->type != CFG_STR)
        return cfg_fail(c, "config", "the table's config entry must be a string");
    ++*i;
    return cfg_flag_value(c, argc, argv, i, f, eq);
}

/* Checks every flag's syntax and finds --config FILE. */
static int cfg_scan_flags(const struct cfg_ctx *c, int argc, char **argv, const char **config)
{
    struct cfg_flag f = {0};
    int i = 1, rc;

    *config = NULL;
    while (i < argc) {
        rc = cfg_next_flag(c, argc, argv, &i, &f);
        if (rc < 0)
            return rc;
        if (!f.is_config)
            continue;
        if (*config)
            return cfg_fail(c, "config", "given more than once");
        *config = f.value;
    }
    return 0;
}

/* Applies flags in order. A list flag's first use replaces the default or file list. */
static int cfg_apply_flags(const struct cfg_ctx *c, int argc, char **argv)
{
    struct cfg_flag f = {0};
    bool *seen;
    int i = 1, rc = 0;

    seen = calloc(c->n ? c->n : 1, sizeof(*seen));
    if (!seen)
        return cfg_fail(c, NULL, "out of memory");
    while (i < argc) {
        rc = cfg_next_flag(c, argc, argv, &i, &f);
        if (rc < 0)
            break;
        if (!f.opt)
            continue;
        if (f.opt->type == CFG_LIST) {
            if (!seen[f.opt - c->table])
                cfg_list_clear(cfg_field(c, f.opt));
            seen[f.opt - c->table] = true;
            rc = cfg_list_add(c, f.opt, f.value, strlen(f.value));
        } else {
            rc = cfg_set_text(c, f.opt, f.value);
        }
        if (rc < 0)
            break;
    }
    free(seen);
    return rc;
}

/* Gives every field a known empty value, so cfg_free() is safe whatever happens next. */
static void cfg_reset(const struct cfg_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct cfg_option *opt = &c->table[i];
        switch (opt->type) {
        case CFG_INT:
            *(long long *)cfg_field(c, opt) = 0;
            break;
        case CFG_DOUBLE:
            *(double *)cfg_field(c, opt) = NAN;
            break;
        case CFG_BOOL:
            *(bool *)cfg_field(c, opt) = false;
            break;
        case CFG_STR:
            *(char **)cfg_field(c, opt) = NULL;
            break;
        case CFG_LIST:
            memset(cfg_field(c, opt), 0, sizeof(struct cfg_list));
            break;
        }
    }
}

/* The target's fields are overwritten without being freed: pass a fresh (or cfg_free()d) struct.
 * On failure everything stored so far is freed again. */
int cfg_load(const struct cfg_option *table, size_t n, void *target, int argc, char **argv,
             char *err, size_t errlen)
{
    struct cfg_ctx c = {table, n, target, err, errlen, NULL};
    const char *config = NULL;
    int rc = 0;

    if (err && errlen)
        err[0] = '\0';
    cfg_reset(&c);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (table[i].def)
            rc = cfg_apply_default(&c, &table[i]);
    }
    if (rc == 0)
        rc = cfg_scan_flags(&c, argc, argv, &config);
    if (rc == 0 && config) {
        const struct cfg_option *opt = cfg_find(&c, "config", 6);
        if (opt)
            rc = cfg_set_str(&c, opt, config);
        if (rc == 0)
            rc = cfg_load_file(&c, config);
    }
    if (rc == 0)
        rc = cfg_apply_flags(&c, argc, argv);
    if (rc < 0) {
        cfg_free(table, n, target);
        return -EINVAL;
    }
    return 0;
}

void cfg_free(const struct cfg_option *table, size_t n, void *target)
{
    for (size_t i = 0; i < n; i++) {
        void *field = (char *)target + table[i].offset;
        if (table[i].type == CFG_STR) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (table[i].type == CFG_LIST) {
            cfg_list_clear(field);
        }
    }
}

/* --help and man pages: the flag's value name, the text, and the note on booleans. */

/* Where help text starts: two spaces, 28 for the flag, one space; and the widest line. */
#define CFG_HELP_COL 31
#define CFG_HELP_WIDTH 79
#define CFG_TEXT_MAX 1024

/* Stands in for --config in a table without a "config" entry: cfg_load() reads it anyway. */
static const struct cfg_option cfg_config_option = {
    "config", CFG_STR, 0, 0, NULL, 0, "read options from a JSON file", NULL, "FILE",
};

/* The table's config entry, or NULL. */
static const struct cfg_option *cfg_table_config(const struct cfg_option *table, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].key, "config") == 0)
            return &table[i];
    return NULL;
}

/* The name of the flag's value ("" for a boolean). */
static const char *cfg_arg_name(const struct cfg_option *opt)
{
    if (opt->type == CFG_BOOL)
        return "";
    if (opt->arg)
        return opt->arg;
    if (strcmp(opt->key, "config") == 0)
        return "FILE";
    return opt->type == CFG_INT || opt->type == CFG_DOUBLE ? "N" : "VALUE";
}

/* "help (repeatable) (default: def)" into out (cap bytes, truncated); secrets' defaults are not
 * shown. */
static const char *cfg_describe(const struct cfg_option *opt, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s", opt->help ? opt->help : "");

    if (opt->type == CFG_LIST && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, " (repeatable)");
    if (opt->def && *opt->def && !cfg_is_secret(opt->key) && n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " (default: %s)", opt->def);
    return out;
}

/* How booleans are written, when the table has one (NULL otherwise). */
static const char *cfg_bool_note(const struct cfg_option *table, size_t n, char *out, size_t cap)
{
    size_t len;
    bool any = false;

    for (size_t i = 0; i < n; i++)
        any |= table[i].type == CFG_BOOL;
    if (!any)
        return NULL;
    len = (size_t)snprintf(out, cap,
                           "A true-or-false option is set with --KEY, --KEY=WORD or --KEY WORD "
                           "and cleared with --no-KEY; WORD is one of");
    for (size_t i = 0; i < CFG_NBOOL_WORDS && len < cap; i++)
        len +=
            (size_t)snprintf(out + len, cap - len, "%s %s", i ? "," : "", cfg_bool_words[i].word);
    if (len < cap)
        snprintf(out + len, cap - len, " (any case).");
    return out;
}

/* Writes text's words from column col on, breaking lines before CFG_HELP_WIDTH and starting
 * each further line at CFG_HELP_COL (or at indent); ends the last line. */
static void cfg_wrap(FILE *out, const char *text, size_t col, size_t indent)
{
    const char *p = text;
    bool first = true;

    while (*p) {
        size_t len;

        p += strspn(p, " ");
        len = strcspn(p, " ");
        if (len == 0)
            break;
        if (!first && col + 1 + len > CFG_HELP_WIDTH) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, len, out);
        col += len;
        p += len;
        first = false;
    }
    fputc('\n', out);
}

static void cfg_help_line(const struct cfg_option *opt, FILE *out)
{
    char lhs[128], text[CFG_TEXT_MAX];
    const char *arg = cfg_arg_name(opt);
    int len;

    len = snprintf(lhs, sizeof(lhs), "--%s%s%s%s", opt->type == CFG_BOOL ? "[no-]" : "", opt->key,
                   *arg ? " " : "", arg);
    cfg_describe(opt, text, sizeof(text));
    if (len > CFG_HELP_COL - 3) {
        fprintf(out, "  %s\n%*s", lhs, CFG_HELP_COL, "");
        cfg_wrap(out, text, CFG_HELP_COL, CFG_HELP_COL);
    } else {
        fprintf(out, "  %-*s ", CFG_HELP_COL - 3, lhs);
        cfg_wrap(out, text, CFG_HELP_COL, CFG_HELP_COL);
    }
}

void cfg_print_help(const struct cfg_option *table, size_t n, FILE *out)
{
    char note[CFG_TEXT_MAX];

    if (!cfg_table_config(table, n))
        cfg_help_line(&cfg_config_option, out);
    for (size_t i = 0; i < n; i++)
        cfg_help_line(&table[i], out);
    if (cfg_bool_note(table, n, note, sizeof(note))) {
        fputc('\n', out);
        cfg_wrap(out, note, 0, 0);
    }
}

/* Writes text for roff: backslashes as \e, and in a word that starts with '-' (a flag, "-" for
 * stdout) every '-' as \- so that it renders as a minus and can be copied, with \% so that the
 * word is never hyphenated; hyphens inside other words stay hyphens. all_minus treats the whole
 * text as such a word (a flag's name). */
static void cfg_roff(FILE *out, const char *text, bool all_minus)
{
    bool flag = all_minus;

    for (const char *p = text; *p; p++) {
        if (p == text || strchr(" ([|", p[-1])) {
            flag = all_minus || *p == '-';
            if (flag && !all_minus)
                fputs("\\%", out);
        }
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-' && flag)
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
}

/* One .TP paragraph: the flag in bold, its value in italics, then the help text. */
static void cfg_man_option(const struct cfg_option *opt, FILE *out)
{
    char text[CFG_TEXT_MAX];
    const char *arg = cfg_arg_name(opt);

    fputs(".TP\n", out);
    if (opt->type == CFG_BOOL)
        fputs("\\fB\\-\\-\\fR[\\fBno\\-\\fR]\\fB", out);
    else
        fputs("\\fB\\-\\-", out);
    cfg_roff(out, opt->key, true);
    fputs("\\fR", out);
    if (*arg) {
        fputs(" \\fI", out);
        cfg_roff(out, arg, false);
        fputs("\\fR", out);
    }
    /* "\&" keeps a text line that starts with '.' or '\'' from being read as a request. */
    fputs("\n\\&", out);
    cfg_roff(out, cfg_describe(opt, text, sizeof(text)), false);
    fputc('\n', out);
}

void cfg_print_man(const struct cfg_option *table, size_t n, FILE *out)
{
    char note[CFG_TEXT_MAX];

    if (!cfg_table_config(table, n))
        cfg_man_option(&cfg_config_option, out);
    for (size_t i = 0; i < n; i++)
        cfg_man_option(&table[i], out);
    if (cfg_bool_note(table, n, note, sizeof(note))) {
        fputs(".PP\n\\&", out);
        cfg_roff(out, note, false);
        fputc('\n', out);
    }
}

enum cfg_ask cfg_asked(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return CFG_ASK_HELP;
        if (strcmp(argv[i], "--man-options") == 0)
            return CFG_ASK_MAN;
    }
    return CFG_ASK_NONE;
}
