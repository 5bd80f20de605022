/*
 * jobs.c - the dispatcher of asynchronous executions (see jobs.h).
 *
 * Threads: one dispatcher thread takes jobs from the store, renews the
 * leases of the ones this node runs, expires old results and hands jobs to
 * the pool.  Workers answer them (store_finish) and let go of them; the HTTP
 * thread submits, reads and cancels through the store directly.  Each job
 * this node holds is a struct run, on jobs->runs from the moment it is taken
 * until its worker lets go of it (or the pool cancels it at shutdown).
 *
 * A run's kill_fd is one end of a socketpair whose other end is the job's
 * client_fd: shutting kill_fd down is what a hung-up client looks like to
 * the execution, so a cancelled job's container is killed on the path every
 * execution already has, and a job not yet started never starts one.
 */
#include "jobs.h"

#include <pthread.h>
#include <sys/socket.h>

#include "callback.h"
#include "job.h"
#include "jsongen.h"
#include "metrics.h"

#define POLL_MS 1000    /* look for jobs other nodes queued, or whose lease ran out */
#define RESUBMIT_MS 50  /* the pool's queue was full: try again */
#define EXPIRE_MS 60000 /* delete expired results */

struct run {
        struct jobs *owner;
        struct run *next; /* owner->runs */
        char id[STORE_ID_SIZE];
        const struct api_frontend *api;
        struct api_request in;
        int kill_fd, kill_peer;
        bool submitted; /* in the pool (else waiting for room in its queue) */
        bool killed;
        struct job job;
};

/* A client waiting for a job to end (jobs_wait). */
struct waiter {
        struct waiter *next; /* jobs->waiters */
        char id[STORE_ID_SIZE];
        struct timespec deadline;
        void (*fn) (void *arg);
        void *arg;
};

struct jobs {
        struct jobs_config cfg;
        pthread_t thread;
        bool started;
        pthread_mutex_t lock; /* guards runs, nruns, waiters, kick and stopping */
        pthread_cond_t wake;
        struct run *runs;
        size_t nruns;
        struct waiter *waiters;
        bool kick;         /* something to take, or room to take it */
        bool stopping;     /* jobs_quiesce: take nothing more */
        bool take_failing; /* the dispatcher's own: its last store_take failed */
};

/* Call and free the waiters of id (NULL: every one), or with expired only
 * those whose deadline passed.  Never under the lock: fn may take others. */
static void
wake_waiters (struct jobs *j, const char *id, bool expired)
{
        struct waiter *fire = NULL;
        struct timespec now = ce_now ();

        pthread_mutex_lock (&j->lock);
        for (struct waiter **p = &j->waiters; *p;) {
                struct waiter *w = *p;

                if ((id && strcmp (w->id, id) != 0)
                    || (expired && ce_ms_between (w->deadline, now) < 0)) {
                        p = &w->next;
                        continue;
                }
                *p = w->next;
                w->next = fire;
                fire = w;
        }
        pthread_mutex_unlock (&j->lock);
        while (fire) {
                struct waiter *w = fire;

                fire = w->next;
                w->fn (w->arg);
                free (w);
        }
}

static const struct api_frontend *
frontend_named (struct jobs *j, const char *name)
{
        for (size_t i = 0; i < j->cfg.nfrontends; i++)
                if (strcmp (j->cfg.frontends[i]->name, name) == 0)
                        return j->cfg.frontends[i];
        return NULL;
}

static void
run_free (struct run *r)
{
        request_free (r->in.req);
        job_clear (&r->job);
        if (r->kill_fd >= 0)
                close (r->kill_fd);
        if (r->kill_peer >= 0)
                close (r->kill_peer);
        free (r);
}

/* Remove r from the list: the caller then frees it. */
static void
run_unlink (struct jobs *j, struct run *r)
{
        pthread_mutex_lock (&j->lock);
        for (struct run **p = &j->runs; *p; p = &(*p)->next) {
                if (*p == r) {
                        *p = r->next;
                        j->nruns--;
                        break;
                }
        }
        j->kick = true;
        pthread_cond_signal (&j->wake);
        pthread_mutex_unlock (&j->lock);
}

struct error_arg {
        const struct api_frontend *api;
        const char *msg;
        const char *status;
};

static yajl_gen_status
fill_error (yajl_gen g, const void *arg)
{
        const struct error_arg *e = arg;

        return api_gen_error_clean (g, e->api, e->msg, e->status);
}

static yajl_gen_status
fill_result (yajl_gen g, const void *arg)
{
        const struct run *r = arg;

        return r->api->gen_result (g, r->owner->cfg.env, &r->in, &r->job.result);
}

struct job_doc {
        const struct api_frontend *api;
        const struct store_job *job;
};

static yajl_gen_status
fill_job (yajl_gen g, const void *arg)
{
        const struct job_doc *d = arg;

        return d->api->gen_job (g, d->job, NULL);
}

/* The job is done (answered or cancelled): its document to its
 * callback_url, as GET would read it now.  Never blocks. */
static void
notify (struct jobs *j, const char *id, const struct api_frontend *api, const char *url)
{
        struct store_job job = { 0 };
        struct ce_error err = { 0 };
        cleanup_free char *body = NULL;
        size_t len = 0;

        if (store_get (j->cfg.store, id, store_now_ms (), &job, &err) < 0) {
                ce_log ("job %s: no callback: %s", id, err.msg);
                return;
        }
        if (jsongen_to_buf (fill_job, &(struct job_doc){ api, &job }, &body, &len) < 0
            || callback_send (j->cfg.callbacks,
                              api->callback_method ? api->callback_method : "POST", url,
                              "application/json", body, len, &err)
                       < 0)
                ce_log ("job %s: callback not sent: %s", id,
                        err.msg[0] ? err.msg : "out of memory");
        store_job_clear (&job);
}

/* Store the answer to r's job: its result, or the error /execute would
 * have answered. */
static void
finish (struct jobs *j, const char *id, const struct api_frontend *api, int ret,
        const struct ce_error *why, const struct run *r)
{
        cleanup_free char *body = NULL;
        size_t len = 0;
        struct ce_error err = { 0 };
        int sret;

        if (ret < 0)
                sret = jsongen_to_buf (fill_error,
                                       &(struct error_arg){ api, why->msg,
                                                            ce_error_http_status (why) >= 500
                                                                    ? "internal_error"
                                                                    : NULL },
                                       &body, &len);
        else
                sret = jsongen_to_buf (fill_result, r, &body, &len);
        if (sret < 0) {
                ce_log ("job %s: cannot write its answer (%s)", id, strerror (-sret));
                return; /* its lease runs out: taken again, or given up */
        }
        sret = store_finish (j->cfg.store, id, body, len, store_now_ms (), &err);
        wake_waiters (j, id, false);
        if ((sret == 0 || sret == -ECANCELED) && r && r->in.req->callback_url && j->cfg.callbacks)
                notify (j, id, api, r->in.req->callback_url);
        if (sret == -ECANCELED)
                ce_log ("job %s: cancelled", id);
        else if (sret == -ESTALE)
                ce_log ("job %s: taken over by another node; this answer is dropped", id);
        else if (sret < 0)
                ce_log ("job %s: cannot store its answer: %s", id, err.msg);
}

static struct run *
run_of (struct job *jb)
{
        return (struct run *) ((char *) jb - offsetof (struct run, job));
}

/* Whether a stage was cut short by the server's shutdown rather than by
 * its own time limit (both end as RUN_TIMEOUT, the shutdown's before the
 * limit). */
static bool
cut_short (const struct runner_result *res, int64_t limit_ms)
{
        return res->status == RUN_TIMEOUT && res->wall_ms < limit_ms;
}

static bool
interrupted (const struct run *r)
{
        const struct exec_result *res = &r->job.result;
        const struct exec_plan *plan = &r->in.plan;

        if (res->compiled && cut_short (&res->compile, plan->compile_limits.timeout_ms))
                return true;
        if (res->ntests == 0)
                return cut_short (&res->run, plan->run_limits.timeout_ms);
        for (size_t i = 0; i < res->ntests; i++)
                if (res->tests[i].ran
                    && cut_short (&res->tests[i].run, plan->run_limits.timeout_ms))
                        return true;
        return false;
}

/* Worker: the result is known (the containers are removed after). */
static void
run_answer (struct job *jb)
{
        struct run *r = run_of (jb);
        bool stopping;

        pthread_mutex_lock (&r->owner->lock);
        stopping = r->owner->stopping;
        pthread_mutex_unlock (&r->owner->lock);
        /* Killed by the shutdown, not finished: it stays RUNNING, ours, and
         * runs again after the next start (store_recover). */
        if (stopping && jb->ret == 0 && interrupted (r)) {
                ce_log ("job %s: interrupted by the shutdown; it runs again after the next start",
                        r->id);
                wake_waiters (r->owner, r->id, false);
                return;
        }

        finish (r->owner, r->id, r->api, jb->ret, &jb->err, r);
}

/* Worker, last: the worker is free again. */
static void
run_release (struct job *jb)
{
        struct run *r = run_of (jb);

        run_unlink (r->owner, r);
        run_free (r);
}

/* pool_shutdown: it never ran.  It stays RUNNING in the store, ours: the
 * next start-up queues it again (store_recover), or another node takes it
 * once its lease runs out. */
static void
run_cancel (struct job *jb)
{
        struct run *r = run_of (jb);

        ce_log ("job %s: not started before shutdown; it runs after the next start", r->id);
        run_unlink (r->owner, r);
        run_free (r);
}

static const struct job_ops run_ops = { run_answer, run_release, run_cancel };

/* The dispatcher: a job just taken into a run, parsed again as it was
 * accepted.  NULL when it cannot run (answered already) or on ENOMEM (its
 * lease runs out and it is taken again). */
static struct run *
run_new (struct jobs *j, struct store_job *sj)
{
        const struct api_frontend *api = frontend_named (j, sj->api);
        struct run *r;
        struct ce_error err = { 0 };
        void *parser;
        int sv[2];
        int ret;

        if (api == NULL) {
                /* Written by a newer server: nothing here can answer it. */
                ce_log ("job %s: accepted by API '%s', which this server does not have", sj->id,
                        sj->api);
                ce_fail (&err, ENOTSUP, "this server has no API '%s'", sj->api);
                finish (j, sj->id, frontend_named (j, "native"), -ENOTSUP, &err, NULL);
                return NULL;
        }
        r = calloc (1, sizeof (*r));
        if (r == NULL)
                return NULL;
        r->owner = j;
        r->api = api;
        r->kill_fd = r->kill_peer = -1;
        memcpy (r->id, sj->id, sizeof (r->id));
        parser = api->parser_new (sj->request_len + 1, NULL);
        if (parser == NULL) {
                free (r);
                return NULL;
        }
        ret = api->feed (parser, sj->request, sj->request_len, &err);
        if (ret == 0)
                ret = api->finish (parser, j->cfg.env, &r->in, &err);
        if (ret == 0)
                ret = api_plan (j->cfg.env, &r->in, &err);
        api->parser_free (parser);
        if (ret == 0 && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                ret = ce_fail (&err, errno, "socketpair: %s", strerror (errno));
        if (ret < 0) {
                /* Valid when it was accepted; not now (a language removed
                 * since, a lower ceiling): the answer /execute would give. */
                finish (j, sj->id, api, ret, &err, NULL);
                run_free (r);
                return NULL;
        }
        r->kill_fd = sv[0];
        r->kill_peer = sv[1];
        r->job = (struct job){ .ops = &run_ops,
                               .env = j->cfg.exec,
                               .plan = &r->in.plan,
                               .req = r->in.req,
                               .client_fd = r->kill_peer };
        return r;
}

/* Hang up a run's execution (held: j->lock). */
static void
run_kill_locked (struct run *r)
{
        if (! r->killed) {
                r->killed = true;
                shutdown (r->kill_fd, SHUT_RDWR);
        }
}

static void
kill_id (struct jobs *j, const char *id)
{
        pthread_mutex_lock (&j->lock);
        for (struct run *r = j->runs; r; r = r->next)
                if (strcmp (r->id, id) == 0)
                        run_kill_locked (r);
        pthread_mutex_unlock (&j->lock);
}

/* Dispatcher: hand the runs not yet in the pool to it.  true when one is
 * still waiting for room. */
static bool
submit_waiting (struct jobs *j)
{
        bool waiting = false;

        pthread_mutex_lock (&j->lock);
        for (struct run *r = j->runs; r; r = r->next) {
                int ret;

                if (r->submitted)
                        continue;
                ret = job_submit (j->cfg.pool, &r->job);
                if (ret == 0)
                        r->submitted = true; /* the worker's from here: no touching but kill */
                else
                        waiting = true; /* -EAGAIN; -ESHUTDOWN: freed at the thread's end */
        }
        pthread_mutex_unlock (&j->lock);
        return waiting;
}

/* Dispatcher: take jobs while there is room.  1: no room (a run's end
 * kicks); 0: the store has nothing now; < 0: the store failed. */
static int
take_jobs (struct jobs *j)
{
        for (;;) {
                struct store_job sj = { 0 };
                struct ce_error err = { 0 };
                struct run *r;
                int ret;

                pthread_mutex_lock (&j->lock);
                if (j->stopping || j->nruns >= j->cfg.max_running) {
                        pthread_mutex_unlock (&j->lock);
                        return 1;
                }
                pthread_mutex_unlock (&j->lock);
                ret = store_take (j->cfg.store, j->cfg.lease_ms, store_now_ms (), &sj, &err);
                /* Once when the store fails, once when it is back: not a
                 * line a second while Redis is down. */
                if (ret < 0 && ! j->take_failing)
                        ce_log ("job store: take: %s", err.msg);
                else if (ret >= 0 && j->take_failing)
                        ce_log ("job store: take works again");
                j->take_failing = ret < 0;
                if (ret <= 0)
                        return ret;
                ce_log ("job %s: taken (attempt %d)", sj.id, sj.attempts);
                metrics_job_event (METRICS_JOB_CLAIMED, 1);
                if (sj.attempts > 1)
                        metrics_job_event (METRICS_JOB_RETRIED, 1);
                r = run_new (j, &sj);
                store_job_clear (&sj);
                if (r == NULL)
                        continue;
                pthread_mutex_lock (&j->lock);
                r->next = j->runs;
                j->runs = r;
                j->nruns++;
                pthread_mutex_unlock (&j->lock);
        }
}

/* Dispatcher: renew every lease this node holds; kill what was cancelled
 * or taken over. */
static void
renew_leases (struct jobs *j)
{
        size_t n = 0, cap;
        char (*ids)[STORE_ID_SIZE];

        pthread_mutex_lock (&j->lock);
        cap = j->nruns;
        ids = calloc (cap ? cap : 1, sizeof (*ids));
        for (struct run *r = j->runs; ids && r && n < cap; r = r->next)
                memcpy (ids[n++], r->id, STORE_ID_SIZE);
        pthread_mutex_unlock (&j->lock);
        if (ids == NULL)
                return;
        for (size_t i = 0; i < n; i++) {
                struct ce_error err = { 0 };
                int ret =
                        store_renew (j->cfg.store, ids[i], j->cfg.lease_ms, store_now_ms (), &err);

                if (ret == -ECANCELED || ret == -ESTALE)
                        kill_id (j, ids[i]);
                else if (ret < 0)
                        ce_log ("job %s: renew: %s", ids[i], err.msg);
        }
        free (ids);
}

/* The store's thread: a job ended on another node, or one of ours was
 * cancelled through another node. */
static void
store_event (void *arg, const char *id, bool cancelled)
{
        struct jobs *j = arg;

        if (cancelled)
                kill_id (j, id);
        else
                wake_waiters (j, id, false);
}

static void *
dispatcher (void *arg)
{
        struct jobs *j = arg;
        struct timespec next_poll = ce_now (), next_renew, next_expire = ce_now ();
        bool waiting = false;

        next_renew = ce_deadline_after_ms (j->cfg.lease_ms / 3);
        for (;;) {
                struct timespec now = ce_now (), until;

                if (ce_ms_between (next_expire, now) >= 0) {
                        struct ce_error err = { 0 };
                        int n = store_expire (j->cfg.store, store_now_ms (), &err);

                        if (n < 0)
                                ce_log ("job store: expire: %s", err.msg);
                        else if (n > 0)
                                metrics_job_event (METRICS_JOB_EXPIRED, n);
                        next_expire = ce_deadline_after_ms (EXPIRE_MS);
                }
                if (ce_ms_between (next_renew, now) >= 0) {
                        renew_leases (j);
                        next_renew = ce_deadline_after_ms (j->cfg.lease_ms / 3);
                }
                pthread_mutex_lock (&j->lock);
                bool take = j->kick || ce_ms_between (next_poll, now) >= 0;

                j->kick = false;
                pthread_mutex_unlock (&j->lock);
                if (take) {
                        int ret = take_jobs (j);

                        /* A store whose take waited for work is asked again
                         * at once; a failed one after POLL_MS (no busy
                         * loop while Redis is down). */
                        next_poll = ce_deadline_after_ms (
                                ret == 0 && j->cfg.store->take_waits ? 0 : POLL_MS);
                }
                waiting = submit_waiting (j);
                wake_waiters (j, NULL, true);

                until = waiting ? ce_deadline_after_ms (RESUBMIT_MS) : next_poll;
                if (ce_ms_between (next_renew, until) > 0)
                        until = next_renew;
                pthread_mutex_lock (&j->lock);
                for (struct waiter *w = j->waiters; w; w = w->next)
                        if (ce_ms_between (w->deadline, until) > 0)
                                until = w->deadline;
                while (! j->stopping && ! j->kick && ce_ms_between (ce_now (), until) > 0)
                        if (pthread_cond_timedwait (&j->wake, &j->lock, &until) == ETIMEDOUT)
                                break;
                if (j->stopping) {
                        pthread_mutex_unlock (&j->lock);
                        break;
                }
                pthread_mutex_unlock (&j->lock);
        }
        /* Runs the pool never got stay RUNNING in the store: recovered at
         * the next start-up. */
        pthread_mutex_lock (&j->lock);
        for (struct run **p = &j->runs; *p;) {
                struct run *r = *p;

                if (r->submitted) {
                        p = &r->next;
                        continue;
                }
                *p = r->next;
                j->nruns--;
                ce_log ("job %s: not started before shutdown; it runs after the next start", r->id);
                run_free (r);
        }
        pthread_mutex_unlock (&j->lock);
        return NULL;
}

int
jobs_start (const struct jobs_config *cfg, struct jobs **out, struct ce_error *err)
{
        struct jobs *j;
        int ret;

        if (cfg->max_running == 0 || cfg->lease_ms < 3)
                return ce_fail (err, EINVAL, "jobs: max_running and lease_ms must be set");
        ret = store_recover (cfg->store, store_now_ms (), err);
        if (ret < 0)
                return ret;
        if (ret > 0)
                ce_log ("job store: %d job(s) this node was running when it stopped are queued "
                        "again",
                        ret);
        j = calloc (1, sizeof (*j));
        if (j == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        j->cfg = *cfg;
        j->kick = true;
        store_listen (cfg->store, store_event, j);
        ret = ce_cond_init_monotonic (&j->wake);
        if (ret) {
                free (j);
                return ce_fail (err, ret, "pthread_cond_init: %s", strerror (ret));
        }
        pthread_mutex_init (&j->lock, NULL);
        ret = pthread_create (&j->thread, NULL, dispatcher, j);
        if (ret) {
                pthread_mutex_destroy (&j->lock);
                pthread_cond_destroy (&j->wake);
                free (j);
                return ce_fail (err, ret, "pthread_create: %s", strerror (ret));
        }
        j->started = true;
        *out = j;
        return 0;
}

int
jobs_submit (struct jobs *j, const struct api_frontend *api, const char *idem_key, const void *body,
             size_t len, struct store_job *out, bool *existing, struct ce_error *err)
{
        int ret = store_submit (j->cfg.store, api->name, idem_key, body, len, store_now_ms (), out,
                                existing, err);

        if (ret == 0 && ! *existing)
                metrics_job_event (METRICS_JOB_ACCEPTED, 1);
        if (ret == 0) {
                pthread_mutex_lock (&j->lock);
                j->kick = true;
                pthread_cond_signal (&j->wake);
                pthread_mutex_unlock (&j->lock);
        }
        return ret;
}

int
jobs_get (struct jobs *j, const char *id, struct store_job *out, struct ce_error *err)
{
        return store_get (j->cfg.store, id, store_now_ms (), out, err);
}

void
jobs_store_stats (struct jobs *j, struct store_stats *out)
{
        if (store_stats (j->cfg.store, out, NULL) < 0)
                memset (out, 0, sizeof (*out));
}

int
jobs_list (struct jobs *j, const char *api, int64_t offset, int64_t limit, struct store_job *out,
           size_t *n, int64_t *total, struct ce_error *err)
{
        return store_list (j->cfg.store, api, offset, limit, store_now_ms (), out, n, total, err);
}

int
jobs_cancel (struct jobs *j, const char *id, struct store_job *out, struct ce_error *err)
{
        bool was_running = false;
        int ret = store_cancel (j->cfg.store, id, store_now_ms (), &was_running, err);

        if (ret < 0 && ret != -EALREADY)
                return ret;
        if (was_running)
                kill_id (j, id);
        else if (ret == 0)
                wake_waiters (j, id, false); /* done as cancelled */
        if (store_get (j->cfg.store, id, store_now_ms (), out, err) < 0)
                return -ENOENT;
        return ret;
}

int
jobs_wait (struct jobs *j, const char *id, struct timespec deadline, void (*fn) (void *arg),
           void *arg)
{
        struct waiter *w = calloc (1, sizeof (*w));
        struct store_job job = { 0 };
        bool stopping;

        if (w == NULL)
                return -ENOMEM;
        snprintf (w->id, sizeof (w->id), "%s", id);
        w->deadline = deadline;
        w->fn = fn;
        w->arg = arg;
        pthread_mutex_lock (&j->lock);
        stopping = j->stopping;
        w->next = j->waiters;
        j->waiters = w;
        pthread_cond_signal (&j->wake); /* its deadline may be the next */
        pthread_mutex_unlock (&j->lock);
        /* It may have ended before the waiter was there (or the store is
         * going away): then nobody else wakes it.  store_watch asks the
         * other nodes to tell when it ends there. */
        if (stopping || store_watch (j->cfg.store, id, NULL) != 0
            || (store_get (j->cfg.store, id, store_now_ms (), &job, NULL) == 0
                && job.state == STORE_DONE)
            || job.id[0] == '\0')
                wake_waiters (j, id, false);
        store_job_clear (&job);
        return 0;
}

yajl_gen_status
jobs_gen (struct jobs *j, yajl_gen g)
{
        struct store_stats stats = { 0 };
        struct ce_error err = { 0 };
        yajl_gen_status st;
        size_t here;
        bool up;

        pthread_mutex_lock (&j->lock);
        here = j->nruns;
        pthread_mutex_unlock (&j->lock);
        up = store_stats (j->cfg.store, &stats, &err) == 0;
        if (! up)
                stats.queued = stats.running = stats.done = stats.disk_bytes = -1;
        GEN (yajl_gen_map_open (g));
        /* Down (Redis out of reach): new jobs get 503, sync executions go on. */
        GEN_KV_STR ("store", up ? "up" : "down");
        if (! up)
                GEN_KV_STR ("store_error", err.msg);
        GEN_KV_INT ("queued", stats.queued);
        GEN_KV_INT ("running", stats.running);
        GEN_KV_INT ("done", stats.done);
        GEN_KV_INT ("disk_bytes", stats.disk_bytes);
        GEN_KV_INT ("running_here", here);
        GEN_KV_INT ("max_running", j->cfg.max_running);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

void
jobs_quiesce (struct jobs *j)
{
        if (j == NULL || ! j->started)
                return;
        pthread_mutex_lock (&j->lock);
        j->stopping = true;
        pthread_cond_signal (&j->wake);
        pthread_mutex_unlock (&j->lock);
        pthread_join (j->thread, NULL);
        j->started = false;
        /* Nobody waits past shutdown: they answer with what there is now. */
        wake_waiters (j, NULL, false);
}

void
jobs_free (struct jobs *j)
{
        if (j == NULL)
                return;
        jobs_quiesce (j);
        store_listen (j->cfg.store, NULL, NULL);
        /* pool_shutdown answered or cancelled every submitted run. */
        while (j->runs) {
                struct run *r = j->runs;

                j->runs = r->next;
                run_free (r);
        }
        pthread_mutex_destroy (&j->lock);
        pthread_cond_destroy (&j->wake);
        free (j);
}
