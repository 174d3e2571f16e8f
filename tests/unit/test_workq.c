/* Unit tests for vc-signal's worker pool: jobs run off the caller's thread, come back finished,
 * the queue is bounded, and a stop hands back what never ran. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "../../src/signald/workq.h"
#include "test.h"

struct job {
    struct workq_job wq; /* first */
    pthread_t ran_on;
    atomic_bool *gate; /* while false, the job waits (bounded) */
};

static atomic_int wakes;

static void wake(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

static void run(struct workq_job *wq)
{
    struct job *j = (struct job *)wq;

    for (int i = 0; i < 2000 && j->gate && !atomic_load(j->gate); i++)
        usleep(1000);
    j->ran_on = pthread_self();
}

/* Takes finished jobs until n have come back or 2 s pass; returns how many. */
static int take(struct workq *q, int n)
{
    int got = 0;

    for (int i = 0; i < 2000 && got < n; i++) {
        for (struct workq_job *wq = workq_take_done(q); wq; wq = wq->next)
            got++;
        if (got < n)
            usleep(1000);
    }
    return got;
}

TEST(workq_runs_jobs_on_its_threads_and_hands_them_back)
{
    struct job jobs[8] = {0};
    struct workq *q;

    atomic_store(&wakes, 0);
    if (!CHECK_INT(workq_start(&q, 2, 8, wake, NULL), 0))
        return;
    for (int i = 0; i < 8; i++) {
        jobs[i].wq.run = run;
        CHECK_INT(workq_submit(q, &jobs[i].wq), 0);
    }
    CHECK_INT(take(q, 8), 8);
    for (int i = 0; i < 8; i++) {
        CHECK(jobs[i].wq.ran);
        CHECK(!pthread_equal(jobs[i].ran_on, pthread_self()));
    }
    CHECK_INT(atomic_load(&wakes), 8);
    CHECK(workq_stop(q) == NULL);
}

TEST(workq_refuses_past_its_bound_and_stop_returns_what_never_ran)
{
    atomic_bool gate = false;
    struct job jobs[4] = {0}, extra = {0};
    struct workq *q;
    struct workq_job *back;
    int ran = 0, unran = 0;

    if (!CHECK_INT(workq_start(&q, 1, 4, NULL, NULL), 0))
        return;
    for (int i = 0; i < 4; i++) {
        jobs[i].wq.run = run;
        jobs[i].gate = &gate;
        CHECK_INT(workq_submit(q, &jobs[i].wq), 0);
    }
    extra.wq.run = run;
    CHECK_INT(workq_submit(q, &extra.wq), -EBUSY);
    usleep(20000); /* the one worker has taken the first job and waits at the gate */
    atomic_store(&gate, true);
    back = workq_stop(q);
    for (; back; back = back->next)
        back->ran ? ran++ : unran++;
    CHECK_INT(ran + unran, 4);
    CHECK(ran >= 1);
    CHECK(!extra.wq.ran);
}

TEST(workq_start_refuses_bad_sizes)
{
    struct workq *q = (struct workq *)1;

    CHECK_INT(workq_start(&q, 0, 4, NULL, NULL), -EINVAL);
    CHECK(q == NULL);
    CHECK_INT(workq_start(&q, 2, 0, NULL, NULL), -EINVAL);
    CHECK_INT(workq_start(&q, 17, 4, NULL, NULL), -EINVAL);
}
