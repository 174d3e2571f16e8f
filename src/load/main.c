/* vc-load: relay capacity and signalling load tests; dispatches to one mode per subcommand. */
#include <stdio.h>
#include <string.h>

#include "vc/version.h"
#include "load.h"

static void load_usage(FILE *out)
{
    fputs("usage: vc-load MODE [options]\n"
          "modes:\n"
          "  relay    simulated SRTP calls through a TURN server (vc-load relay --help)\n"
          "  signal   signalling load against vc-signal or PeerJS (vc-load signal --help)\n"
          "  merge    one report from the relay --json results of several load machines\n"
          "           (vc-load merge --help)\n"
          "  --help, --version\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } modes[] = {
        {"relay", load_relay_main},
        {"signal", load_signal_main},
        {"merge", load_merge_main},
    };

    if (argc < 2) {
        load_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        load_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("vc-load %s\n", VC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(argv[1], modes[i].name) == 0) {
            return modes[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "vc-load: unknown mode \"%s\"\n", argv[1]);
    load_usage(stderr);
    return 2;
}
