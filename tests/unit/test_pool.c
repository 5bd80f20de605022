/* Unit tests for pool.c (also run under ThreadSanitizer): concurrency never
 * exceeds the worker count and reaches it, the queue bound is enforced, and
 * shutdown cancels queued jobs while running ones finish. */
#include <pthread.h>
#include <stdatomic.h>

#include "pool.h"
#include "test.h"

struct job {
        struct pool_job base;
        atomic_bool ran, cancelled;
};

static atomic_int running, max_running, finished;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open; /* guarded by gate_lock */

static void
job_run (struct pool_job *pj)
{
        struct job *j = (struct job *) pj;
        int now = atomic_fetch_add (&running, 1) + 1;
        int prev = atomic_load (&max_running);

        while (now > prev && ! atomic_compare_exchange_weak (&max_running, &prev, now))
                ;
        pthread_mutex_lock (&gate_lock);
        while (! gate_open)
                pthread_cond_wait (&gate_cond, &gate_lock);
        pthread_mutex_unlock (&gate_lock);
        atomic_fetch_sub (&running, 1);
        atomic_store (&j->ran, true);
        atomic_fetch_add (&finished, 1);
}

static void
job_cancel (struct pool_job *pj)
{
        atomic_store (&((struct job *) pj)->cancelled, true);
}

static void
open_gate (bool open)
{
        pthread_mutex_lock (&gate_lock);
        gate_open = open;
        pthread_cond_broadcast (&gate_cond);
        pthread_mutex_unlock (&gate_lock);
}

static void
wait_running (int n)
{
        for (int i = 0; i < 5000 && atomic_load (&running) < n; i++)
                usleep (1000);
}

int
main (void)
{
        struct job jobs[10];
        struct pool *p;
        struct ce_error err;
        size_t r, q;

        for (int i = 0; i < 10; i++) {
                jobs[i].base = (struct pool_job){ .run = job_run, .cancel = job_cancel };
                atomic_init (&jobs[i].ran, false);
                atomic_init (&jobs[i].cancelled, false);
        }

        /* 3 workers, 2 waiting: the 6th submission is refused. */
        CHECK (pool_new (3, 2, &p, &err) == 0);
        for (int i = 0; i < 3; i++)
                CHECK (pool_submit (p, &jobs[i].base) == 0);
        wait_running (3);
        CHECK (atomic_load (&running) == 3);
        CHECK (pool_submit (p, &jobs[3].base) == 0);
        CHECK (pool_submit (p, &jobs[4].base) == 0);
        CHECK (pool_submit (p, &jobs[5].base) == -EAGAIN);
        pool_stats (p, &r, &q);
        CHECK (r == 3 && q == 2);

        /* Let everything drain: at most 3 at a time, all 5 run. */
        open_gate (true);
        for (int i = 0; i < 5000 && atomic_load (&finished) < 5; i++)
                usleep (1000);
        CHECK (atomic_load (&finished) == 5);
        CHECK (atomic_load (&max_running) == 3);
        pool_shutdown (p);
        CHECK (pool_submit (p, &jobs[6].base) == -ESHUTDOWN);
        pool_free (p);

        /* Shutdown: the running job finishes, the queued one is cancelled. */
        open_gate (false);
        atomic_store (&finished, 0);
        CHECK (pool_new (1, 5, &p, &err) == 0);
        CHECK (pool_submit (p, &jobs[7].base) == 0);
        wait_running (1);
        CHECK (pool_submit (p, &jobs[8].base) == 0);
        open_gate (true);
        pool_shutdown (p);
        CHECK (atomic_load (&jobs[7].ran));
        CHECK (atomic_load (&jobs[8].cancelled) != atomic_load (&jobs[8].ran));
        pool_free (p);
        TEST_DONE ();
}
