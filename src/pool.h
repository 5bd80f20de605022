/*
 * pool.h - a fixed set of worker threads and a bounded wait queue.
 *
 * The number of workers is the number of containers that may run at once
 * (--max-concurrent).  A job submitted when every worker is busy waits in a
 * FIFO queue of at most queue_max jobs; past that pool_submit refuses it, and
 * the caller answers 503.  Any thread may submit.
 */
#ifndef CE_POOL_H
#define CE_POOL_H

#include "common.h"

struct pool_job {
        /* Runs on a worker thread.  The job may be freed by the time it returns. */
        void (*run) (struct pool_job *job);
        /* Called instead of run for a job still queued at pool_shutdown, on the
         * thread calling pool_shutdown. */
        void (*cancel) (struct pool_job *job);
        struct pool_job *next;     /* the pool's while queued */
        struct timespec queued_at; /* the pool's: when it was queued (GET /metrics) */
};

struct pool;

int pool_new (size_t workers, size_t queue_max, struct pool **out, struct ce_error *err);

/* 0: the job will run (or be cancelled).  -EAGAIN: the queue is full.
 * -ESHUTDOWN: the pool is stopping. */
int pool_submit (struct pool *p, struct pool_job *job);

/* Snapshot of how many jobs run and wait (diagnostics and tests). */
void pool_stats (struct pool *p, size_t *running, size_t *queued);

/* Refuse new jobs, cancel the queued ones, wait for running ones to return
 * and join the workers.  Idempotent. */
void pool_shutdown (struct pool *p);

/* After pool_shutdown. */
void pool_free (struct pool *p);

#endif
