/* A small pool of worker threads for CPU-bound jobs (password hashing) off the event loop. */
#ifndef VC_SIGNALD_WORKQ_H
#define VC_SIGNALD_WORKQ_H

#include <stdbool.h>

/* One job: embed it in your own struct. The pool owns it from workq_submit() until it comes back
 * from workq_take_done() or workq_stop(). */
struct workq_job {
    struct workq_job *next;
    void (*run)(struct workq_job *job); /* on a worker thread */
    bool ran;                           /* run() has returned */
};

struct workq;

/* Starts threads workers that take at most max_pending jobs queued or running. wake(arg) is
 * called from a worker after each job finishes, to make the owner call workq_take_done(). 0 or
 * -errno; *out is the owner's (workq_stop). */
int workq_start(struct workq **out, unsigned threads, unsigned max_pending, void (*wake)(void *),
                void *arg);
/* Queues job. 0, or -EBUSY when max_pending jobs are queued or running (the job stays the
 * caller's). */
int workq_submit(struct workq *q, struct workq_job *job);
/* The finished jobs, oldest first, as a list through next; NULL when none. */
struct workq_job *workq_take_done(struct workq *q);
/* Lets the running jobs finish, joins the threads and frees q. Returns every job not yet taken
 * back (finished ones with ran set, never started ones without), as a list. */
struct workq_job *workq_stop(struct workq *q);

#endif
