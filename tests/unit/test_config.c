/* Unit tests for config: defaults, JSON file, flags in order, and errors that name the key but
 * never quote a secret. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "vc/addr.h"
#include "vc/config.h"

struct conf {
    long long ports_min;
    long long threads;
    bool verbose;
    bool tls;
    char *realm;
    char *secret;
    char *turn_secret;
    struct cfg_list listen;
    double max_loss;
    double ratio;
};

static int check_realm(const char *v)
{
    return *v && !strchr(v, ' ') ? 0 : -EINVAL;
}

static int check_secret(const char *v)
{
    return strlen(v) >= 8 ? 0 : -EINVAL;
}

static int check_addr(const char *v)
{
    union vc_addr a;

    return addr_parse(&a, v, 3478);
}

static const struct cfg_option table[] = {
    {"ports-min", CFG_INT, 1, 65535, "49152", offsetof(struct conf, ports_min), "lowest relay port",
     NULL},
    {"threads", CFG_INT, 1, 64, "2", offsetof(struct conf, threads), "worker threads", NULL},
    {"verbose", CFG_BOOL, 0, 1, "false", offsetof(struct conf, verbose), "log more", NULL},
    {"tls", CFG_BOOL, 0, 1, "true", offsetof(struct conf, tls), "serve TLS", NULL},
    {"realm", CFG_STR, 0, 0, "vc", offsetof(struct conf, realm), "TURN realm", check_realm},
    {"secret", CFG_STR, 0, 0, NULL, offsetof(struct conf, secret), "shared secret", check_secret},
    {"turn-secret", CFG_STR, 0, 0, "changeme-secret", offsetof(struct conf, turn_secret),
     "another secret", NULL},
    {"listen", CFG_LIST, 0, 0, "0.0.0.0:3478,[::]:3478", offsetof(struct conf, listen),
     "listen address", check_addr},
    {"max-loss", CFG_DOUBLE, 0, 100, "1.5", offsetof(struct conf, max_loss), "loss limit, %", NULL},
    {"ratio", CFG_DOUBLE, 0, 1, NULL, offsetof(struct conf, ratio), "share of calls", NULL},
};
#define NOPT (sizeof(table) / sizeof(table[0]))

static char err[256];

/* cfg_load with a literal argv: LOAD(&c, "--threads", "4"). */
#define ARGV(...) ((char *[]){"vc-test", __VA_ARGS__})
#define LOAD(c, ...)                                                                               \
    cfg_load(table, NOPT, (c), (int)(sizeof(ARGV(__VA_ARGS__)) / sizeof(char *)),                  \
             ARGV(__VA_ARGS__), err, sizeof(err))

/* Writes text to a fresh temp file; its path goes into path. */
static bool write_temp(char *path, size_t len, const char *text)
{
    int fd;
    bool ok;

    snprintf(path, len, "/tmp/vc-test-config-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return false;
    ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok;
}

/* cfg_load with up to four arguments from a test case's table (NULL-terminated). */
static int load_case(const char *const args[4], struct conf *c)
{
    char *argv[5] = {"vc-test"};
    int argc = 1;

    for (int j = 0; j < 4 && args[j]; j++)
        argv[argc++] = (char *)args[j];
    err[0] = '\0';
    return cfg_load(table, NOPT, c, argc, argv, err, sizeof(err));
}

/* What print writes for the test table, as a string the caller frees; NULL on failure. */
static char *printed(void (*print)(const struct cfg_option *, size_t, FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    print(table, NOPT, f);
    fclose(f);
    return buf;
}

TEST(config_defaults_fill_every_type)
{
    struct conf c;
    char *argv[] = {"vc-test", NULL};

    if (!CHECK_INT(cfg_load(table, NOPT, &c, 1, argv, err, sizeof(err)), 0))
        return;
    CHECK_INT(c.ports_min, 49152);
    CHECK_INT(c.threads, 2);
    CHECK(!c.verbose);
    CHECK(c.tls);
    CHECK_STR(c.realm, "vc");
    CHECK(c.secret == NULL);
    CHECK(c.max_loss == 1.5);
    CHECK(isnan(c.ratio)); /* no default: "not given" is not 0 */
    if (CHECK_INT(c.listen.n, 2)) {
        CHECK_STR(c.listen.v[0], "0.0.0.0:3478");
        CHECK_STR(c.listen.v[1], "[::]:3478");
    }
    cfg_free(table, NOPT, &c);
    CHECK(c.realm == NULL);
    CHECK_INT(c.listen.n, 0);
    cfg_free(table, NOPT, &c); /* twice is harmless */
}

TEST(config_file_overrides_defaults)
{
    char path[64];
    struct conf c;

    if (!CHECK(write_temp(path, sizeof(path),
                          "{\"ports-min\": 50000, \"threads\": \"4\", \"verbose\": true,\n"
                          " \"realm\": \"example.org\", \"secret\": \"0123456789abcdef\",\n"
                          " \"listen\": [\"127.0.0.1:1\"]}\n")))
        return;
    CHECK_INT(LOAD(&c, "--config", path), 0);
    unlink(path);
    CHECK_STR(err, "");
    CHECK_INT(c.ports_min, 50000);
    CHECK_INT(c.threads, 4);
    CHECK(c.verbose);
    CHECK(c.tls);
    CHECK_STR(c.realm, "example.org");
    CHECK_STR(c.secret, "0123456789abcdef");
    if (CHECK_INT(c.listen.n, 1))
        CHECK_STR(c.listen.v[0], "127.0.0.1:1");
    cfg_free(table, NOPT, &c);
}

TEST(config_file_hash_keys_are_comments)
{
    char path[64];
    struct conf c;

    /* Comments before, between and after settings, of any JSON type, even named like a key. */
    if (!CHECK(write_temp(path, sizeof(path),
                          "{\"#\": \"vc test config\", \"#threads\": \"why 4\", \"threads\": 4,\n"
                          " \"#realm\": 7, \"realm\": \"example.org\", \"# note\": {\"x\": [1]},\n"
                          " \"#listen\": [\"not applied\"], \"#ports-min\": 1}\n")))
        return;
    CHECK_INT(LOAD(&c, "--config", path), 0);
    unlink(path);
    CHECK_STR(err, "");
    CHECK_INT(c.threads, 4);
    CHECK_STR(c.realm, "example.org");
    CHECK_INT(c.ports_min, 49152);
    if (CHECK_INT(c.listen.n, 2))
        CHECK_STR(c.listen.v[0], "0.0.0.0:3478");
    cfg_free(table, NOPT, &c);

    /* A comment does not hide a bad key after it, and flags have no comment form. */
    if (!CHECK(write_temp(path, sizeof(path), "{\"#threads\": \"x\", \"threads\": 0}")))
        return;
    CHECK_INT(LOAD(&c, "--config", path), -EINVAL);
    unlink(path);
    CHECK(strstr(err, "threads: 0 is below the minimum 1") != NULL);
    CHECK_INT(LOAD(&c, "--#threads", "4"), -EINVAL);
    CHECK_STR(err, "unknown option '--#threads'");
}

TEST(config_flags_override_file_in_order)
{
    char path[64], opt[80];
    struct conf c;

    if (!CHECK(write_temp(path, sizeof(path),
                          "{\"threads\": 3, \"realm\": \"file\", \"verbose\": true,"
                          " \"listen\": [\"127.0.0.1:1\", \"127.0.0.1:2\"]}")))
        return;
    snprintf(opt, sizeof(opt), "--config=%s", path);
    /* Flags before --config still win over the file: the file is read first. */
    CHECK_INT(LOAD(&c, "--threads", "8", opt, "--realm=flag", "--threads=9", "--verbose=false",
                   "--listen", "[::1]:5", "--listen=127.0.0.1:6", "--tls=false", "--tls"),
              0);
    unlink(path);
    CHECK_INT(c.threads, 9);
    CHECK_STR(c.realm, "flag");
    CHECK(!c.verbose);
    CHECK(c.tls);
    /* A list on the command line replaces the file's list rather than appending to it. */
    if (CHECK_INT(c.listen.n, 2)) {
        CHECK_STR(c.listen.v[0], "[::1]:5");
        CHECK_STR(c.listen.v[1], "127.0.0.1:6");
    }
    cfg_free(table, NOPT, &c);
}

TEST(config_bool_flag_alone_means_true)
{
    struct conf c;

    CHECK_INT(LOAD(&c, "--verbose", "--threads", "-0"), -EINVAL);
    CHECK_STR(err, "threads: 0 is below the minimum 1");
    CHECK_INT(LOAD(&c, "--verbose", "--threads", "5"), 0);
    CHECK(c.verbose);
    CHECK_INT(c.threads, 5);
    cfg_free(table, NOPT, &c);
}

/* Each bad command line fails with a message holding want and never holding hide. */
TEST(config_flag_errors_name_the_key)
{
    static const struct {
        const char *argv[4];
        const char *want, *hide;
    } cases[] = {
        {{"--ports-min", "70000"}, "ports-min: 70000 is above the maximum 65535", NULL},
        {{"--threads=0"}, "threads: 0 is below the minimum 1", NULL},
        {{"--threads", "4x"}, "threads: '4x' is not an integer", NULL},
        {{"--threads", " 4"}, "threads: ' 4' is not an integer", NULL},
        {{"--threads", "+4"}, "threads: '+4' is not an integer", NULL},
        {{"--threads", ""}, "threads: '' is not an integer", NULL},
        {{"--threads", "99999999999999999999"},
         "threads: '99999999999999999999' is out of range",
         NULL},
        {{"--threads"}, "threads: missing value", NULL},
        {{"--bogus", "1"}, "unknown option '--bogus'", NULL},
        {{"--bogus=s3cr3tvalue"}, "unknown option '--bogus'", "s3cr3tvalue"},
        {{"positional"}, "unexpected argument 'positional'", NULL},
        {{"-t", "4"}, "unexpected argument '-t'", NULL},
        {{"--verbose=maybe"}, "verbose: 'maybe' is not true or false", NULL},
        {{"--verbose="}, "verbose: '' is not true or false", NULL},
        {{"--verbose", "maybe"}, "verbose: 'maybe' is not true or false", NULL},
        {{"--tls", "--threads", "2", "nope"}, "unexpected argument 'nope'", NULL},
        {{"--no-verbose", "false"}, "verbose: --no-verbose takes no value", NULL},
        {{"--no-verbose=true"}, "verbose: --no-verbose takes no value", NULL},
        {{"--no-threads"}, "unknown option '--no-threads'", NULL},
        {{"--no-bogus"}, "unknown option '--no-bogus'", NULL},
        {{"--realm", "has space"}, "realm: 'has space' is invalid", NULL},
        {{"--secret", "short"}, "secret: invalid value", "short"},
        {{"--secret=tiny"}, "secret: invalid value", "tiny"},
        {{"--listen", "1.2.3.4:99999"}, "listen: '1.2.3.4:99999' is invalid", NULL},
        {{"--config", "/nonexistent/vc.json"}, "/nonexistent/vc.json", NULL},
        {{"--config", "a", "--config=b"}, "config: given more than once", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct conf c;

        if (load_case(cases[i].argv, &c) != -EINVAL) {
            test_fail(__FILE__, __LINE__, "case %zu (%s) was accepted", i, cases[i].argv[0]);
            cfg_free(table, NOPT, &c);
            continue;
        }
        if (!strstr(err, cases[i].want))
            test_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        if (cases[i].hide && strstr(err, cases[i].hide))
            test_fail(__FILE__, __LINE__, "case %zu: \"%s\" leaks \"%s\"", i, err, cases[i].hide);
        /* cfg_load freed what it stored; cfg_free after a failure stays harmless. */
        CHECK(c.realm == NULL && c.listen.n == 0);
        cfg_free(table, NOPT, &c);
    }
}

TEST(config_file_errors_name_the_file_and_key)
{
    static const struct {
        const char *json, *want, *hide;
    } cases[] = {
        {"{\"bogus\": 1}", "unknown key 'bogus'", NULL},
        {"{\"threads\": true}", "threads: expected an integer, not a boolean", NULL},
        {"{\"threads\": 1.5}", "threads: expected an integer, not a number", NULL},
        {"{\"threads\": 100}", "threads: 100 is above the maximum 64", NULL},
        {"{\"threads\": \"7 \"}", "threads: '7 ' is not an integer", NULL},
        {"{\"verbose\": \"yes\"}", "verbose: expected true or false, not a string", NULL},
        {"{\"realm\": 5}", "realm: expected a string, not a number", NULL},
        {"{\"realm\": null}", "realm: expected a string, not null", NULL},
        {"{\"realm\": \"a b\"}", "realm: 'a b' is invalid", NULL},
        {"{\"listen\": \"1.2.3.4:5\"}", "listen: expected an array of strings, not a string", NULL},
        {"{\"listen\": [\"1.2.3.4:5\", 1]}", "listen: expected an array of strings", NULL},
        {"{\"secret\": \"tiny\"}", "secret: invalid value", "tiny"},
        {"{\"secret\": \"abc\\u0000defghijk\"}", ":1:", "abc"},
        {"{\"realm\": \"x\",\n \"secret\": hunter22}", ":2:", "hunter22"},
        {"{\"threads\": 2,\n \"threads\": 3}", ":2:", NULL},
        {"[1]", "the top level must be a JSON object", NULL},
        {"", ":", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[64];
        struct conf c;

        if (!CHECK(write_temp(path, sizeof(path), cases[i].json)))
            return;
        err[0] = '\0';
        if (LOAD(&c, "--config", path) != -EINVAL) {
            test_fail(__FILE__, __LINE__, "case %zu (%s) was accepted", i, cases[i].json);
            cfg_free(table, NOPT, &c);
        } else {
            if (!strstr(err, cases[i].want))
                test_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err,
                          cases[i].want);
            if (strncmp(err, path, strlen(path)) != 0)
                test_fail(__FILE__, __LINE__, "case %zu: \"%s\" does not name the file", i, err);
            if (cases[i].hide && strstr(err, cases[i].hide))
                test_fail(__FILE__, __LINE__, "case %zu: \"%s\" leaks \"%s\"", i, err,
                          cases[i].hide);
        }
        unlink(path);
    }
}

TEST(config_double_from_flags_and_file)
{
    char path[64];
    struct conf c;

    CHECK_INT(LOAD(&c, "--max-loss", "0.25", "--ratio=1"), 0);
    CHECK(c.max_loss == 0.25);
    CHECK(c.ratio == 1.0);
    cfg_free(table, NOPT, &c);
    CHECK_INT(LOAD(&c, "--max-loss", "100", "--ratio", ".5", "--max-loss=1e-3"), 0);
    CHECK(c.max_loss == 0.001);
    CHECK(c.ratio == 0.5);
    cfg_free(table, NOPT, &c);

    /* A JSON real, a JSON integer, or a quoted number; flags still win over the file. */
    if (!CHECK(write_temp(path, sizeof(path), "{\"max-loss\": 2.5, \"ratio\": \"0.75\"}")))
        return;
    CHECK_INT(LOAD(&c, "--config", path), 0);
    CHECK(c.max_loss == 2.5);
    CHECK(c.ratio == 0.75);
    cfg_free(table, NOPT, &c);
    CHECK_INT(LOAD(&c, "--config", path, "--ratio", "0"), 0);
    CHECK(c.ratio == 0.0);
    cfg_free(table, NOPT, &c);
    unlink(path);
    if (!CHECK(write_temp(path, sizeof(path), "{\"max-loss\": 3}")))
        return;
    CHECK_INT(LOAD(&c, "--config", path), 0);
    unlink(path);
    CHECK(c.max_loss == 3.0);
    cfg_free(table, NOPT, &c);
}

TEST(config_double_errors_name_the_key)
{
    static const struct {
        const char *value, *want;
    } flags[] = {
        {"abc", "max-loss: 'abc' is not a number"},
        {"", "max-loss: '' is not a number"},
        {"0.5x", "max-loss: '0.5x' is not a number"},
        {" 1", "max-loss: ' 1' is not a number"},
        {"+1", "max-loss: '+1' is not a number"},
        {".", "max-loss: '.' is not a number"},
        {"nan", "max-loss: 'nan' is not a number"},
        {"-inf", "max-loss: '-inf' is not a number"},
        {"1e999", "max-loss: '1e999' is out of range"},
        {"100.5", "max-loss: 100.5 is above the maximum 100"},
        {"-0.1", "max-loss: -0.1 is below the minimum 0"},
    };
    static const struct {
        const char *json, *want;
    } files[] = {
        {"{\"max-loss\": true}", "max-loss: expected a number, not a boolean"},
        {"{\"max-loss\": [1]}", "max-loss: expected a number, not an array"},
        {"{\"max-loss\": 101.25}", "max-loss: 101.25 is above the maximum 100"},
        {"{\"ratio\": \"0,5\"}", "ratio: '0,5' is not a number"},
    };
    struct conf c;
    char path[64];

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        err[0] = '\0';
        if (LOAD(&c, "--max-loss", (char *)flags[i].value) == 0)
            cfg_free(table, NOPT, &c);
        if (strcmp(err, flags[i].want) != 0)
            test_fail(__FILE__, __LINE__, "'%s': \"%s\", want \"%s\"", flags[i].value, err,
                      flags[i].want);
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (!CHECK(write_temp(path, sizeof(path), files[i].json)))
            return;
        err[0] = '\0';
        if (LOAD(&c, "--config", path) == 0)
            cfg_free(table, NOPT, &c);
        unlink(path);
        if (!strstr(err, files[i].want))
            test_fail(__FILE__, __LINE__, "%s: \"%s\" lacks \"%s\"", files[i].json, err,
                      files[i].want);
    }
}

TEST(config_list_is_capped)
{
    char *argv[2 * CFG_LIST_MAX + 3] = {"vc-test"};
    int argc = 1;
    struct conf c;

    for (int i = 0; i <= CFG_LIST_MAX; i++) {
        argv[argc++] = "--listen";
        argv[argc++] = "127.0.0.1:1";
    }
    CHECK_INT(cfg_load(table, NOPT, &c, argc - 2, argv, err, sizeof(err)), 0);
    CHECK_INT(c.listen.n, CFG_LIST_MAX);
    cfg_free(table, NOPT, &c);
    CHECK_INT(cfg_load(table, NOPT, &c, argc, argv, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "listen: more than 32 values");
}

TEST(config_help_lists_options_without_secret_defaults)
{
    char *buf = printed(cfg_print_help);

    if (!CHECK(buf != NULL))
        return;
    CHECK(strstr(buf, "--config FILE") != NULL);
    CHECK(strstr(buf, "--ports-min N") != NULL);
    CHECK(strstr(buf, "lowest relay port (default: 49152)") != NULL);
    CHECK(strstr(buf, "--[no-]verbose ") != NULL);
    CHECK(strstr(buf, "cleared\nwith --no-KEY") != NULL || strstr(buf, "cleared with --no-KEY"));
    CHECK(strstr(buf, "--listen VALUE") != NULL);
    CHECK(strstr(buf, "--max-loss N") != NULL);
    CHECK(strstr(buf, "(repeatable)") != NULL);
    CHECK(strstr(buf, "changeme") == NULL);
    free(buf);
}

/* Each form of a boolean on the command line, against the defaults verbose=false, tls=true. */
TEST(config_bool_every_form)
{
    static const struct {
        const char *argv[4];
        bool verbose, tls;
        long long threads;
    } cases[] = {
        {{"--verbose"}, true, true, 2},
        {{"--verbose=true"}, true, true, 2},
        {{"--verbose=yes"}, true, true, 2},
        {{"--verbose=ON"}, true, true, 2},
        {{"--verbose=1"}, true, true, 2},
        {{"--tls=false"}, false, false, 2},
        {{"--tls=no"}, false, false, 2},
        {{"--tls=off"}, false, false, 2},
        {{"--tls=0"}, false, false, 2},
        {{"--tls=False"}, false, false, 2},
        {{"--tls", "false"}, false, false, 2},
        {{"--tls", "NO"}, false, false, 2},
        {{"--tls", "off"}, false, false, 2},
        {{"--tls", "0"}, false, false, 2},
        {{"--verbose", "true"}, true, true, 2},
        {{"--verbose", "yes"}, true, true, 2},
        {{"--verbose", "on"}, true, true, 2},
        {{"--verbose", "1"}, true, true, 2},
        {{"--no-tls"}, false, false, 2},
        {{"--no-verbose"}, false, true, 2},
        {{"--verbose", "--no-verbose"}, false, true, 2},
        {{"--no-tls", "--tls"}, false, true, 2},
        /* A word is taken only when it is a boolean: a flag after it stays a flag. */
        {{"--tls", "false", "--threads", "4"}, false, false, 4},
        {{"--verbose", "--threads", "4"}, true, true, 4},
        {{"--threads", "4", "--verbose"}, true, true, 4},
        {{"--no-tls", "--threads=3", "--verbose=no"}, false, false, 3},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct conf c;

        if (load_case(cases[i].argv, &c) != 0) {
            test_fail(__FILE__, __LINE__, "case %zu (%s ...) refused: %s", i, cases[i].argv[0],
                      err);
            continue;
        }
        if (c.verbose != cases[i].verbose || c.tls != cases[i].tls || c.threads != cases[i].threads)
            test_fail(__FILE__, __LINE__, "case %zu (%s ...): verbose %d tls %d threads %lld", i,
                      cases[i].argv[0], c.verbose, c.tls, c.threads);
        cfg_free(table, NOPT, &c);
    }
}

/* A flag overrides the file's boolean in every form. */
TEST(config_bool_flags_override_file)
{
    char path[64], arg[80];
    struct conf c;

    if (!CHECK(write_temp(path, sizeof(path), "{\"tls\": true, \"verbose\": true}")))
        return;
    snprintf(arg, sizeof(arg), "--config=%s", path);
    if (CHECK_INT(LOAD(&c, arg, "--no-tls", "--verbose", "off"), 0)) {
        CHECK(!c.tls);
        CHECK(!c.verbose);
        cfg_free(table, NOPT, &c);
    }
    if (CHECK_INT(LOAD(&c, arg), 0)) {
        CHECK(c.tls);
        CHECK(c.verbose);
        cfg_free(table, NOPT, &c);
    }
    unlink(path);
}

TEST(config_man_lists_options_as_roff)
{
    char *buf = printed(cfg_print_man);

    if (!CHECK(buf != NULL))
        return;
    CHECK(strncmp(buf, ".TP\n\\fB\\-\\-config\\fR \\fIFILE\\fR\n", 32) == 0);
    CHECK(strstr(buf, ".TP\n\\fB\\-\\-ports\\-min\\fR \\fIN\\fR\n\\&lowest relay port (default: "
                      "49152)\n") != NULL);
    CHECK(
        strstr(buf, "\\fB\\-\\-\\fR[\\fBno\\-\\fR]\\fBverbose\\fR\n\\&log more (default: false)") !=
        NULL);
    CHECK(strstr(buf, "\\fB\\-\\-listen\\fR \\fIVALUE\\fR\n\\&listen address (repeatable)") !=
          NULL);
    CHECK(strstr(buf, "loss limit, %") != NULL);
    CHECK(strstr(buf, ".PP\n\\&A true-or-false option is set with \\%\\-\\-KEY") != NULL);
    CHECK(strstr(buf, "changeme") == NULL);
    free(buf);
}

TEST(config_asked_finds_help_and_man_anywhere)
{
    CHECK_INT(cfg_asked(3, ARGV("--threads", "--help")), CFG_ASK_HELP);
    CHECK_INT(cfg_asked(2, ARGV("-h")), CFG_ASK_HELP);
    CHECK_INT(cfg_asked(3, ARGV("--man-options", "--help")), CFG_ASK_MAN);
    CHECK_INT(cfg_asked(3, ARGV("--threads", "4")), CFG_ASK_NONE);
    CHECK_INT(cfg_asked(2, ARGV("--helpme")), CFG_ASK_NONE);
}
