/* vc-load modes: each takes its own argv (argv[0] is the mode name) and returns the exit status. */
#ifndef VC_LOAD_LOAD_H
#define VC_LOAD_LOAD_H

int load_relay_main(int argc, char **argv);
int load_signal_main(int argc, char **argv);
int load_merge_main(int argc, char **argv);

#endif
