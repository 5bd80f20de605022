/*
 * job.c - an execution's trip through the pool (see job.h).
 */
#include "job.h"

#include <stddef.h>

static struct job *
job_of (struct pool_job *pj)
{
        return (struct job *) ((char *) pj - offsetof (struct job, pool_job));
}

static void
answer (void *arg, int ret)
{
        struct job *j = arg;

        j->ret = ret;
        j->ops->answer (j);
}

/* Worker thread. */
static void
run (struct pool_job *pj)
{
        struct job *j = job_of (pj);
        /* Read before: without a release, j may be gone once answered. */
        void (*release) (struct job *) = j->ops->release;

        execution_run (j->env, j->plan, j->req, j->client_fd, j->sink,
                       &(struct exec_done){ answer, j }, &j->result, &j->err);
        if (release)
                release (j);
}

static void
cancel (struct pool_job *pj)
{
        struct job *j = job_of (pj);

        j->ops->cancel (j);
}

int
job_submit (struct pool *p, struct job *j)
{
        j->pool_job.run = run;
        j->pool_job.cancel = cancel;
        return pool_submit (p, &j->pool_job);
}

void
job_clear (struct job *j)
{
        result_clear (&j->result);
}
