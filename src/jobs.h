/*
 * jobs.h - asynchronous executions: the transport between the job store
 * (store.h) and the worker pool.
 *
 * A front-end's submit route (POST /executions) validates a request, and
 * jobs_submit writes its body into the store (on disk, synced) and answers
 * with the job's id.  One dispatcher thread takes queued jobs from the
 * store, at most max_running at a time, parses each body again with the
 * front-end that accepted it, and runs it through the same pool as every
 * synchronous request; the worker writes the front-end's answer back with
 * store_finish.  So a backlog never holds more than max_running workers and
 * never more than max_running places of the pool's queue: a synchronous
 * request waits behind at most that many asynchronous ones.
 *
 * While a job runs the dispatcher renews its lease; a cancel (DELETE, or a
 * cancel the store reports at a renewal) hangs up the execution's
 * client_fd, the same path a client that goes away takes, which kills its
 * container.  At start-up the jobs this node was running when it died are
 * queued again (store_recover); at shutdown the dispatcher stops taking,
 * and a job the pool cancels stays running in the store until the next
 * start-up (or another node) takes it back.
 */
#ifndef CE_JOBS_H
#define CE_JOBS_H

#include "api.h"
#include "store.h"

struct jobs_config {
        struct job_store *store; /* owned by the caller, closed after jobs_free */
        struct pool *pool;
        const struct exec_env *exec;
        const struct api_env *env;
        const struct api_frontend *const *frontends; /* by name: store_job.api */
        size_t nfrontends;
        size_t max_running; /* asynchronous jobs in the pool at once, >= 1 */
        int64_t lease_ms;   /* renewed every lease_ms / 3 */
        /* A job with a callback_url: its document (the front-end's gen_job)
         * is POSTed there when this node's run of it ends. */
        struct callback_sender *callbacks;
};

struct callback_sender;
struct jobs;

/* Recover this node's jobs and start the dispatcher.  cfg is copied; what
 * it points to must outlive jobs_free. */
int jobs_start (const struct jobs_config *cfg, struct jobs **out, struct ce_error *err);

/* Any thread: accept a body already validated by api.  store_submit's
 * answers (-EEXIST, -ENOSPC); on 0 the dispatcher is woken. */
int jobs_submit (struct jobs *j, const struct api_frontend *api, const char *idem_key,
                 const void *body, size_t len, struct store_job *out, bool *existing,
                 struct ce_error *err);

/* Any thread: store_get. */
int jobs_get (struct jobs *j, const char *id, struct store_job *out, struct ce_error *err);

/* Any thread: store_stats (zeros on failure). */
void jobs_store_stats (struct jobs *j, struct store_stats *out);

/* Any thread: store_list. */
int jobs_list (struct jobs *j, const char *api, int64_t offset, int64_t limit,
               struct store_job *out, size_t *n, int64_t *total, struct ce_error *err);

/* Any thread: store_cancel, and a job this node runs is killed now.
 * *out: the job afterwards (store_job_clear), also on -EALREADY (it was
 * done already).  -ENOENT: unknown or expired. */
int jobs_cancel (struct jobs *j, const char *id, struct store_job *out, struct ce_error *err);

/* Any thread: call fn (arg) once, on any thread, when job id ends on this
 * node (answered or cancelled), or at deadline (CLOCK_MONOTONIC), or at
 * jobs_quiesce, whichever comes first; at once when it is done already.
 * For a client that asked to wait (Judge0's wait=true): the HTTP side holds
 * no thread meanwhile.  <0: ENOMEM (fn is not called). */
int jobs_wait (struct jobs *j, const char *id, struct timespec deadline, void (*fn) (void *arg),
               void *arg);

/* Counts for GET /ready: {"queued","running","done","disk_bytes",
 * "running_here","max_running"}. */
yajl_gen_status jobs_gen (struct jobs *j, yajl_gen g);

/* Stop taking jobs (before pool_shutdown).  Idempotent. */
void jobs_quiesce (struct jobs *j);

/* After pool_shutdown: every job this node ran is answered or cancelled.
 * Joins the dispatcher.  NULL is fine. */
void jobs_free (struct jobs *j);

#endif
