/*
 * job.h - one execution carried from a transport through the pool and back.
 *
 * Whatever took the request in (the buffered HTTP answer, an NDJSON stream,
 * a WebSocket; later the asynchronous store) embeds a struct job, says what
 * to run and how it wants to hear back (struct job_ops), and submits it.  A
 * worker runs it (execution_run): `answer` as soon as the result is known
 * (the containers are removed after it), then `release` once the worker is
 * done with the job.  A job still queued when the pool shuts down gets
 * `cancel` instead, on the thread that shuts it down.  The job never
 * outlives what embeds it: a transport that sets no `release` must not free
 * it before `answer`, and may not expect the job to be touched after.
 */
#ifndef CE_JOB_H
#define CE_JOB_H

#include "execution.h"
#include "pool.h"

struct job;

struct job_ops {
        void (*answer) (struct job *j);  /* worker: ret, result and err are set */
        void (*release) (struct job *j); /* worker, last; NULL: nothing after answer */
        void (*cancel) (struct job *j);  /* never ran (pool_shutdown) */
};

struct job {
        struct pool_job pool_job; /* the pool's */
        const struct job_ops *ops;
        /* what to run: borrowed from the transport for the job's life */
        const struct exec_env *env;
        const struct exec_plan *plan;
        const struct ce_request *req;
        int client_fd;                /* watched for hang-up; -1: none */
        const struct exec_sink *sink; /* live events; NULL: none */
        /* what it did, for answer */
        int ret; /* execution_run's: <0 with err */
        struct exec_result result;
        struct ce_error err;
};

/* Queue j on p (pool_submit's errors: -EAGAIN full, -ESHUTDOWN). */
int job_submit (struct pool *p, struct job *j);

/* Free what the result holds (the transport, when it is done with it). */
void job_clear (struct job *j);

#endif
