/*
 * store.h - the job store: asynchronous executions that outlive the
 * request that made them, and the server that ran them.
 *
 * A front-end accepts a request (POST /executions, Judge0's submissions),
 * submits its body here and answers 202 with the job's id; workers take
 * jobs, run them, renew their lease while they run and finish them with the
 * answer's body; GET reads a job back, DELETE cancels it.  The store never
 * looks inside a request or a result: both are opaque bytes, and `api` says
 * which front-end wrote the request and must read the result.
 *
 * A job's life:
 *
 *   QUEUED --take--> RUNNING --finish--> DONE --(result_ttl)--> gone
 *     |                 |  ^
 *     |                 |  +--take, after its lease ran out (its node died)
 *     |                 +--recover (at start-up of the node that held it)
 *     +--cancel--> DONE ("cancelled")
 *
 * A DONE job has either a result (the runner's answer) or, when no runner
 * answered, result NULL and a `failure` text: "cancelled", or why the job
 * was given up (STORE_FAILURE_ABANDONED: it was started max_attempts times
 * and no node finished it).  The store cannot write an answer itself, since
 * each API has its own shape; the front-end named by `api` turns a failure
 * into its own body when the job is read.
 *
 * Leases: a running job belongs to one node (`owner`) until lease_until_ms;
 * its runner renews the lease while it runs.  A job whose lease ran out is
 * taken again by any node (attempts + 1), and its old owner's renew and
 * finish then fail with -ESTALE: a job has at most one result, and never a
 * second, different one.  Ownership is per node, not per runner: a node
 * that takes back its own expired job may see whichever of its two runners
 * finishes first win.
 *
 * Times are wall-clock milliseconds since the epoch (store_now_ms), since
 * they are kept on disk and compared across nodes; every call takes `now`
 * from its caller so that tests can drive the clock.
 *
 * This header is the interface; back-ends live in their own files
 * (store_sqlite.c: one SQLite database file for one node, or several on one
 * machine; a Redis Streams back-end for many nodes fits the same table).
 * Every function may be called from any thread.
 */
#ifndef CE_STORE_H
#define CE_STORE_H

#include "common.h"

#include <string.h>

#define STORE_ID_LEN 32 /* lowercase hex of a random (version 4) UUID's 16 bytes */
#define STORE_ID_SIZE (STORE_ID_LEN + 1)

/* A done job's failure when nobody answered it. */
#define STORE_FAILURE_CANCELLED "cancelled"
#define STORE_FAILURE_ABANDONED "abandoned" /* a prefix: the text says more */

enum store_state {
        STORE_QUEUED = 0,
        STORE_RUNNING = 1,
        STORE_DONE = 2,
};

/* A copy of a job: every pointer is malloc'd and owned by the struct; free
 * with store_job_clear. */
struct store_job {
        char id[STORE_ID_SIZE];
        enum store_state state;
        char *api;          /* "native", "judge0": the front-end that answers it */
        char *request;      /* the accepted body, opaque bytes */
        size_t request_len; /* (a NUL follows for convenience, not counted) */
        char *result;       /* DONE with an answer: its body, opaque; else NULL */
        size_t result_len;
        char *failure; /* DONE without a result: "cancelled" or "abandoned: ..."; else NULL */
        int attempts;  /* how many times it was started */
        char *owner;   /* the node holding it while RUNNING; else NULL */
        bool cancel_requested;                       /* RUNNING: its runner must stop it */
        int64_t created_ms, started_ms, finished_ms; /* 0: not yet */
        int64_t lease_until_ms;                      /* RUNNING */
        int64_t expires_ms;                          /* DONE: gone after it */
        char *idem_key;                              /* NULL: none */
};

static inline void
store_job_clear (struct store_job *j)
{
        free (j->api);
        free (j->request);
        free (j->result);
        free (j->failure);
        free (j->owner);
        free (j->idem_key);
        memset (j, 0, sizeof (*j));
}

struct store_stats {
        int64_t queued, running, done; /* done: includes expired ones not yet deleted */
        int64_t disk_bytes;            /* the store's files (SQLite: database + WAL) */
};

struct job_store;

/* The interface every back-end fills; callers use the store_* functions
 * below, never the table. */
struct store_ops {
        void (*close) (struct job_store *s);
        int (*submit) (struct job_store *s, const char *api, const char *idem_key,
                       const void *request, size_t len, int64_t now_ms, struct store_job *out,
                       bool *existing, struct ce_error *err);
        int (*take) (struct job_store *s, int64_t lease_ms, int64_t now_ms, struct store_job *out,
                     struct ce_error *err);
        int (*renew) (struct job_store *s, const char *id, int64_t lease_ms, int64_t now_ms,
                      struct ce_error *err);
        int (*finish) (struct job_store *s, const char *id, const void *result, size_t len,
                       int64_t now_ms, struct ce_error *err);
        int (*get) (struct job_store *s, const char *id, int64_t now_ms, struct store_job *out,
                    struct ce_error *err);
        int (*cancel) (struct job_store *s, const char *id, int64_t now_ms, bool *was_running,
                       struct ce_error *err);
        int (*cancelled) (struct job_store *s, const char *id, struct ce_error *err);
        int (*recover) (struct job_store *s, int64_t now_ms, struct ce_error *err);
        int (*expire) (struct job_store *s, int64_t now_ms, struct ce_error *err);
        int (*stats) (struct job_store *s, struct store_stats *out, struct ce_error *err);
        int (*list) (struct job_store *s, const char *api, int64_t offset, int64_t limit,
                     int64_t now_ms, struct store_job *out, size_t *n, int64_t *total,
                     struct ce_error *err);
        /* Optional (NULL: every job ends on the node that waits for it). */
        int (*watch) (struct job_store *s, const char *id, struct ce_error *err);
        void (*listen) (struct job_store *s, void (*fn) (void *arg, const char *id, bool cancelled),
                        void *arg);
};

/* Every back-end's store starts with this. */
struct job_store {
        const struct store_ops *ops;
        /* store_take waits a moment for work itself (Redis: XREADGROUP
         * BLOCK): call it again at once rather than poll. */
        bool take_waits;
};

struct store_params {
        const char *path;      /* SQLite: the database file (created 0600 when missing) */
        const char *url;       /* Redis: redis://HOST[:PORT][/DB] */
        const char *password;  /* Redis: AUTH with it; NULL: none */
        int64_t block_ms;      /* Redis: the longest store_take waits for a job (1000) */
        int64_t max_jobs;      /* > 0: jobs not yet expired, in any state (Redis: queued
                                  and running ones; Redis' maxmemory bounds the rest) */
        int64_t result_ttl_ms; /* a done job is kept this long after it finished */
        const char *node;      /* this server's id: owner of the jobs it runs */
        int max_attempts;      /* > 0: starts of a job before it is given up */
};

/* Open (or create) the SQLite store at p->path.  A file written by a newer
 * format, or that is not a job store, is refused (-EPROTO) with a message
 * that says so.  *out: close with store_close. */
int store_sqlite_open (const struct store_params *p, struct job_store **out, struct ce_error *err);

/* Connect to the Redis at p->url and make the queue's consumer group when
 * missing; Redis must answer now (-ENOTCONN with the reason otherwise).
 * Later calls reconnect by themselves, with backoff.  *out: store_close. */
int store_redis_open (const struct store_params *p, struct job_store **out, struct ce_error *err);

/* A new job id: a random (version 4) UUID's bits in lowercase hex.
 * Judge0's tokens are its 36-character spelling (api_judge0.c), and strict
 * clients check them.  0, or the error of getrandom. */
int store_new_id (char id[STORE_ID_SIZE], struct ce_error *err);

/* Wall-clock milliseconds since the epoch, the store's clock. */
static inline int64_t
store_now_ms (void)
{
        struct timespec ts;

        clock_gettime (CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every function below fills err (NULL is fine) when it returns an error
 * other than the ones its comment lists as answers; the store's own failures
 * (disk, a corrupt file, a lock held too long) are -EIO or -EBUSY. */

/* After every other call has returned.  NULL is fine. */
static inline void
store_close (struct job_store *s)
{
        if (s)
                s->ops->close (s);
}

/* Accept a request: a new QUEUED job, copied into *out (store_job_clear).
 * With idem_key, an unexpired job of the same api and key is answered
 * instead (*existing = true) when its request has the same bytes, and
 * -EEXIST when it has others (Idempotency-Key draft: 422).  -ENOSPC when
 * max_jobs unexpired jobs exist (503 with Retry-After).  One transaction:
 * a job is on disk, synced, when this returns 0. */
static inline int
store_submit (struct job_store *s, const char *api, const char *idem_key, const void *request,
              size_t len, int64_t now_ms, struct store_job *out, bool *existing,
              struct ce_error *err)
{
        return s->ops->submit (s, api, idem_key, request, len, now_ms, out, existing, err);
}

/* Claim the oldest queued job, or a running one whose lease ran out: it
 * becomes RUNNING, owned by this node until now + lease_ms, attempts + 1.
 * 1 with the job in *out; 0 when there is none.  On the way, a job that was
 * already started max_attempts times is finished with failure
 * "abandoned: ..." instead, and one whose cancel was requested with
 * "cancelled"; neither is returned. */
static inline int
store_take (struct job_store *s, int64_t lease_ms, int64_t now_ms, struct store_job *out,
            struct ce_error *err)
{
        return s->ops->take (s, lease_ms, now_ms, out, err);
}

/* Extend the lease of a running job this node holds to now + lease_ms
 * (also after it ran out, as long as no other node took the job over).
 * -ESTALE: not ours any more (taken over, finished, deleted): stop running
 * it.  -ECANCELED: ours, lease extended, but cancelled: kill it, then
 * store_finish it (which records it as cancelled). */
static inline int
store_renew (struct job_store *s, const char *id, int64_t lease_ms, int64_t now_ms,
             struct ce_error *err)
{
        return s->ops->renew (s, id, lease_ms, now_ms, err);
}

/* A running job this node holds is DONE with result (len bytes, copied;
 * NULL/0 is an empty result) and expires after result_ttl_ms.  -ESTALE: not
 * ours any more; the result is dropped.  -ECANCELED: its cancel was
 * requested; it is DONE as cancelled and the result is dropped. */
static inline int
store_finish (struct job_store *s, const char *id, const void *result, size_t len, int64_t now_ms,
              struct ce_error *err)
{
        return s->ops->finish (s, id, result, len, now_ms, err);
}

/* A copy of the job into *out (store_job_clear); -ENOENT when unknown or
 * expired. */
static inline int
store_get (struct job_store *s, const char *id, int64_t now_ms, struct store_job *out,
           struct ce_error *err)
{
        return s->ops->get (s, id, now_ms, out, err);
}

/* Cancel a job.  Queued: DONE at once as cancelled (*was_running false).
 * Running: its cancel is requested (*was_running true); its runner learns it
 * from store_cancelled, store_renew or store_finish.  -EALREADY: done;
 * -ENOENT: unknown or expired. */
static inline int
store_cancel (struct job_store *s, const char *id, int64_t now_ms, bool *was_running,
              struct ce_error *err)
{
        return s->ops->cancel (s, id, now_ms, was_running, err);
}

/* 1 when the job's cancel was requested (or it is done as cancelled), 0
 * when not, -ENOENT when unknown. */
static inline int
store_cancelled (struct job_store *s, const char *id, struct ce_error *err)
{
        return s->ops->cancelled (s, id, err);
}

/* At start-up, before taking: the running jobs this node held when it
 * stopped (a crash, kill -9) are queued again, keeping their attempts (a
 * cancel requested meanwhile finishes them as cancelled).  Returns how many
 * jobs it changed. */
static inline int
store_recover (struct job_store *s, int64_t now_ms, struct ce_error *err)
{
        return s->ops->recover (s, now_ms, err);
}

/* Delete the done jobs whose expires_ms passed; returns how many. */
static inline int
store_expire (struct job_store *s, int64_t now_ms, struct ce_error *err)
{
        return s->ops->expire (s, now_ms, err);
}

/* A page of api's unexpired jobs, newest first: at most limit of them after
 * the first offset, into out[0..*n) (each store_job_clear'd by the caller);
 * *total: how many there are in all. */
static inline int
store_list (struct job_store *s, const char *api, int64_t offset, int64_t limit, int64_t now_ms,
            struct store_job *out, size_t *n, int64_t *total, struct ce_error *err)
{
        return s->ops->list (s, api, offset, limit, now_ms, out, n, total, err);
}

/* Ask to be told (store_listen's fn) when job id ends on another node.
 * 1 when it is done already, 0 when watched (or the back-end has no other
 * nodes to hear from), -ENOENT when unknown. */
static inline int
store_watch (struct job_store *s, const char *id, struct ce_error *err)
{
        return s->ops->watch ? s->ops->watch (s, id, err) : 0;
}

/* fn(arg, id, cancelled) is called, from a thread of the store's, when a
 * job watched by this node ended elsewhere (cancelled false), or when a
 * job this node runs was cancelled through another node (true).  Once,
 * before the first store_watch; fn NULL: no call after this returns. */
static inline void
store_listen (struct job_store *s, void (*fn) (void *arg, const char *id, bool cancelled),
              void *arg)
{
        if (s->ops->listen)
                s->ops->listen (s, fn, arg);
}

/* Counts by state and the bytes on disk. */
static inline int
store_stats (struct job_store *s, struct store_stats *out, struct ce_error *err)
{
        return s->ops->stats (s, out, err);
}

#endif
