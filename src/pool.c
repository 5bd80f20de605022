/*
 * pool.c - worker threads over a FIFO of jobs (after libuv's threadpool).
 *
 * One mutex guards the queue and the counters; workers sleep on `work_cond`
 * and always re-check their predicate.  A job's own waits (the container's
 * deadline) happen inside run(), not here: the pool only hands out work.
 */
#include "pool.h"

#include <pthread.h>
#include <string.h>

#include "metrics.h"

struct pool {
        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t work_cond;
        struct pool_job *head, *tail;
        size_t queued;
        size_t running;
        size_t queue_max;
        bool stopping;
        bool joined;

        pthread_t *threads; /* immutable after pool_new */
        size_t nthreads;
};

static void *
worker_main (void *arg)
{
        struct pool *p = arg;

        pthread_mutex_lock (&p->lock);
        for (;;) {
                struct pool_job *job;

                while (p->head == NULL && ! p->stopping)
                        pthread_cond_wait (&p->work_cond, &p->lock);
                if (p->head == NULL)
                        break; /* stopping and nothing left to run */
                job = p->head;
                p->head = job->next;
                if (p->head == NULL)
                        p->tail = NULL;
                p->queued--;
                p->running++;
                pthread_mutex_unlock (&p->lock);

                metrics_queue_wait (ce_ms_between (job->queued_at, ce_now ()) * 1000000);
                job->run (job);

                pthread_mutex_lock (&p->lock);
                p->running--;
        }
        pthread_mutex_unlock (&p->lock);
        return NULL;
}

int
pool_new (size_t workers, size_t queue_max, struct pool **out, struct ce_error *err)
{
        struct pool *p = calloc (1, sizeof (*p));
        int ret;

        if (p == NULL || workers == 0) {
                free (p);
                return ce_fail (err, EINVAL, "cannot create a pool of %zu workers", workers);
        }
        p->threads = calloc (workers, sizeof (pthread_t));
        if (p->threads == NULL) {
                free (p);
                return ce_fail (err, ENOMEM, "out of memory");
        }
        pthread_mutex_init (&p->lock, NULL);
        pthread_cond_init (&p->work_cond, NULL);
        p->queue_max = queue_max;
        for (size_t i = 0; i < workers; i++) {
                ret = pthread_create (&p->threads[i], NULL, worker_main, p);
                if (ret) {
                        p->nthreads = i;
                        pool_shutdown (p);
                        pool_free (p);
                        return ce_fail (err, ret, "pthread_create: %s", strerror (ret));
                }
                ce_thread_name (p->threads[i], "ce-worker-%zu", i);
        }
        p->nthreads = workers;
        *out = p;
        return 0;
}

int
pool_submit (struct pool *p, struct pool_job *job)
{
        int ret = 0;

        pthread_mutex_lock (&p->lock);
        if (p->stopping) {
                ret = -ESHUTDOWN;
        } else if (p->running + p->queued >= p->nthreads + p->queue_max) {
                /* Every worker busy and queue_max jobs already waiting. */
                ret = -EAGAIN;
        } else {
                job->next = NULL;
                if (p->tail)
                        p->tail->next = job;
                else
                        p->head = job;
                p->tail = job;
                job->queued_at = ce_now ();
                p->queued++;
                pthread_cond_signal (&p->work_cond);
        }
        pthread_mutex_unlock (&p->lock);
        return ret;
}

void
pool_stats (struct pool *p, size_t *running, size_t *queued)
{
        pthread_mutex_lock (&p->lock);
        *running = p->running;
        *queued = p->queued;
        pthread_mutex_unlock (&p->lock);
}

void
pool_shutdown (struct pool *p)
{
        struct pool_job *cancelled;

        pthread_mutex_lock (&p->lock);
        if (p->joined) {
                pthread_mutex_unlock (&p->lock);
                return;
        }
        p->stopping = true;
        cancelled = p->head;
        p->head = p->tail = NULL;
        p->queued = 0;
        pthread_cond_broadcast (&p->work_cond);
        pthread_mutex_unlock (&p->lock);

        while (cancelled) {
                struct pool_job *job = cancelled;

                cancelled = job->next;
                job->cancel (job);
        }
        for (size_t i = 0; i < p->nthreads; i++)
                pthread_join (p->threads[i], NULL);
        pthread_mutex_lock (&p->lock);
        p->joined = true;
        pthread_mutex_unlock (&p->lock);
}

void
pool_free (struct pool *p)
{
        if (p == NULL)
                return;
        pthread_cond_destroy (&p->work_cond);
        pthread_mutex_destroy (&p->lock);
        free (p->threads);
        free (p);
}
