/* A small pool of worker threads: a bounded FIFO of jobs in, a list of finished jobs out. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "workq.h"

#define WORKQ_THREADS_MAX 16

/* Everything but the threads' own stacks is guarded by lock. */
struct workq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct workq_job *head, *tail; /* queued, not started */
    struct workq_job *done_head, *done_tail;
    unsigned pending; /* queued or running */
    unsigned max_pending;
    bool stopping;
    void (*wake)(void *);
    void *wake_arg;
    unsigned nthreads;
    pthread_t threads[WORKQ_THREADS_MAX];
};

static void workq_append(struct workq_job **head, struct workq_job **tail, struct workq_job *job)
{
    job->next = NULL;
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

static void *workq_main(void *arg)
{
    struct workq *q = arg;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        struct workq_job *job;

        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->cond, &q->lock);
        if (!q->head)
            break;
        job = q->head;
        q->head = job->next;
        if (!q->head)
            q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        job->run(job);
        pthread_mutex_lock(&q->lock);
        job->ran = true;
        workq_append(&q->done_head, &q->done_tail, job);
        q->pending--;
        if (q->wake)
            q->wake(q->wake_arg);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int workq_start(struct workq **out, unsigned threads, unsigned max_pending, void (*wake)(void *),
                void *arg)
{
    struct workq *q;
    int r;

    *out = NULL;
    if (threads == 0 || threads > WORKQ_THREADS_MAX || max_pending == 0)
        return -EINVAL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->max_pending = max_pending;
    q->wake = wake;
    q->wake_arg = arg;
    for (; q->nthreads < threads; q->nthreads++) {
        if ((r = pthread_create(&q->threads[q->nthreads], NULL, workq_main, q)) != 0) {
            workq_stop(q);
            return -r;
        }
    }
    *out = q;
    return 0;
}

int workq_submit(struct workq *q, struct workq_job *job)
{
    int r = 0;

    pthread_mutex_lock(&q->lock);
    if (q->stopping || q->pending >= q->max_pending) {
        r = -EBUSY;
    } else {
        job->ran = false;
        workq_append(&q->head, &q->tail, job);
        q->pending++;
        pthread_cond_signal(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

struct workq_job *workq_take_done(struct workq *q)
{
    struct workq_job *list;

    pthread_mutex_lock(&q->lock);
    list = q->done_head;
    q->done_head = q->done_tail = NULL;
    pthread_mutex_unlock(&q->lock);
    return list;
}

struct workq_job *workq_stop(struct workq *q)
{
    struct workq_job *list;

    if (!q)
        return NULL;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    /* Queued jobs are not started: they go back with the finished ones. */
    list = q->head;
    q->head = q->tail = NULL;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    if (q->done_tail) {
        q->done_tail->next = list;
        list = q->done_head;
    }
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
    return list;
}
