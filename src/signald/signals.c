/* vc-signal's signal thread: sigwait() for SIGINT/SIGTERM/SIGHUP/SIGUSR1, flags for the loop. */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "vc/log.h"
#include "signald.h"

void signald_block_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Waits for the signals (blocked in every thread) and hands them to the loop: SIGHUP and
 * SIGUSR1 set a flag the loop acts on, SIGINT and SIGTERM stop it. Nothing else runs here. */
static void *signals_run(void *arg)
{
    struct signald_signals *sg = arg;
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGINT || sig == SIGTERM)
            break;
        atomic_store(sig == SIGHUP ? &sg->reload : &sg->drain, true);
        sg->wake(sg->wake_arg);
    }
    if (!atomic_load(&sg->stop))
        log_msg(LOG_LEVEL_INFO, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&sg->stop, true);
    sg->wake(sg->wake_arg);
    return NULL;
}

int signald_signals_start(struct signald_signals *sg, void (*wake)(void *), void *wake_arg)
{
    atomic_init(&sg->stop, false);
    atomic_init(&sg->reload, false);
    atomic_init(&sg->drain, false);
    sg->wake = wake;
    sg->wake_arg = wake_arg;
    return -pthread_create(&sg->thread, NULL, signals_run, sg);
}

void signald_signals_stop(struct signald_signals *sg)
{
    /* Wake the thread if the loop ended on its own. */
    if (!atomic_exchange(&sg->stop, true))
        pthread_kill(sg->thread, SIGTERM);
    pthread_join(sg->thread, NULL);
}
