/*
 * judge.c - a submission's test cases across pool workers (judge.h).
 *
 * One struct fanout per submission, shared by the execution's worker (the
 * parent) and its helper jobs, and freed by whoever drops the last
 * reference: a helper may still sit in the pool's queue after the
 * submission was answered.  Until the parent closes it (every claimed test
 * ended), the fan-out borrows the execution's slot, plan, request, sink and
 * result; a helper that finds it closed touches nothing but its reference.
 * Each test's result is written by the one thread that claimed it and read
 * by the parent after that thread said so under the lock.
 */
#include "judge.h"

#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "warm.h"

/* What a submission's answer keeps of its tests' output, all together: a
 * test's output is judged whole, then what it keeps is cut to its share
 * (the first test's, which is also the answer's top-level output, is kept
 * whole as a single run's would be).  Bounds the memory one request holds. */
#define TESTS_OUTPUT_KEPT (16 << 20)
#define TEST_OUTPUT_KEPT_MIN (64 << 10)
/* The largest build a test slot gets a copy of: each test copies it, so a
 * bigger one (up to --build-mb) is read in place, from containers made on
 * the spot, rather than copied hundreds of times. */
#define TEST_BUILD_COPY_MAX ((int64_t) 16 << 20)

static bool
clip_buf (struct ce_buf *b, size_t keep)
{
        char *smaller;

        if (b->len <= keep)
                return false;
        b->len = keep;
        smaller = realloc (b->data, keep + 1);
        if (smaller) {
                b->data = smaller;
                b->cap = keep + 1;
        }
        return true;
}

static bool
clip_output (struct runner_result *r, size_t keep)
{
        bool a = clip_buf (&r->out.combined, keep);
        bool b = clip_buf (&r->out.stdout_buf, keep);
        bool c = clip_buf (&r->out.stderr_buf, keep);

        return a || b || c;
}

/* Room for every test's result, each skipped until it runs. */
static int
tests_init (const struct ce_request *req, struct exec_result *res, struct ce_error *err)
{
        res->tests = calloc (req->ntests, sizeof (*res->tests));
        if (res->tests == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        res->ntests = req->ntests;
        for (size_t i = 0; i < res->ntests; i++)
                res->tests[i].verdict = VERDICT_SKIPPED;
        return 0;
}

int
judge_skip (const struct ce_request *req, const struct exec_sink *sink, struct exec_result *res,
            struct ce_error *err)
{
        int ret;

        if (req->ntests == 0)
                return 0;
        ret = tests_init (req, res, err);
        if (ret < 0)
                return ret;
        res->verdict = VERDICT_COMPILE_ERROR;
        for (size_t i = 0; sink && sink->test_end && i < res->ntests; i++)
                sink->test_end (sink->arg, i, req->tests[i].name, VERDICT_SKIPPED, NULL);
        return 0;
}

struct fanout;

struct helper {
        struct pool_job pj; /* first: the pool hands it back */
        struct fanout *f;
};

struct fanout {
        pthread_mutex_t lock;      /* guards next, running, stop, closed, refs, ret and err */
        pthread_cond_t ended;      /* a claimed test ended */
        pthread_mutex_t sink_lock; /* one sink call at a time */
        size_t next;               /* the next test to claim */
        size_t running;            /* claimed, not ended */
        bool stop;                 /* claim no more: a failure to stop on, a client gone */
        bool closed;               /* answered: what follows is not the fan-out's any more */
        unsigned refs;             /* the parent's and each helper's, queued or running */
        int ret;                   /* the first test that could not run: <0, with err */
        struct ce_error err;
        struct pool *pool;
        struct warm_pool *warm;
        /* a test slot could not be given the build (too large, hostile):
         * the others could not either, so no more are taken (guarded by lock) */
        bool no_test_slots;
        /* the execution's, borrowed until closed */
        const struct runner_config *cfg;
        struct exec_slot *s;
        const struct exec_plan *plan;
        const struct ce_request *req;
        int client_fd;
        const struct exec_sink *sink;
        struct exec_result *res;
        size_t keep; /* output kept of a test after the first */
        size_t nhelpers;
        struct helper helpers[];
};

static void
fanout_unref (struct fanout *f)
{
        bool last;

        pthread_mutex_lock (&f->lock);
        last = --f->refs == 0;
        pthread_mutex_unlock (&f->lock);
        if (! last)
                return;
        pthread_cond_destroy (&f->ended);
        pthread_mutex_destroy (&f->sink_lock);
        pthread_mutex_destroy (&f->lock);
        free (f);
}

/* A warm test slot for test i, given the request's code and a copy of the
 * execution's build; NULL when the pool has none that fits, or it could
 * not be given them (then it is deleted: the test makes a container). */
static struct exec_slot *
warm_test_slot (struct fanout *f)
{
        struct exec_slot *ts;
        struct ce_error err = { 0 };
        cleanup_close int ignored = -1;
        bool refused;

        pthread_mutex_lock (&f->lock);
        refused = f->no_test_slots;
        pthread_mutex_unlock (&f->lock);
        ts = refused ? NULL : warm_take_test (f->warm, f->plan, f->req->ntests);
        if (ts == NULL)
                return NULL;
        if (slot_adjust (f->cfg, ts, f->plan, &err) < 0
            || slot_write_request (ts, f->req, &ignored, &err) < 0
            || (f->plan->lang->compile.command
                && slot_copy_build (f->cfg, f->s, ts, TEST_BUILD_COPY_MAX, &err) < 0)) {
                /* A build too large or too odd to copy is the submission's
                 * doing: not worth a line. */
                if (err.code != EFBIG && err.code != ELOOP)
                        ce_log ("warning: %s: %s; making test containers", slot_id (ts), err.msg);
                pthread_mutex_lock (&f->lock);
                f->no_test_slots = true;
                pthread_mutex_unlock (&f->lock);
                /* It holds the request's files: deleted, never served again. */
                if (! warm_used (f->warm, ts))
                        slot_discard (f->cfg, ts);
                return NULL;
        }
        return ts;
}

/* Test i in a fresh container (the slot's own for test 0; for the others a
 * warm test slot's, or one made now), judged, its end told to the sink.
 * The caller claimed it. */
static int
run_test (struct fanout *f, size_t i, struct ce_error *err)
{
        const struct ce_test *t = &f->req->tests[i];
        struct exec_test *et = &f->res->tests[i];
        const struct ce_language *lang = f->plan->lang;
        struct ce_request view = *f->req; /* the test's args in place of none */
        struct runner_container *own = NULL, *c;
        struct exec_slot *ts = NULL, *in = f->s;
        cleanup_strv char **argv = NULL;
        cleanup_close int stdin_fd = -1;
        int ret = 0;

        view.args = t->args;
        view.nargs = t->nargs;
        view.args_bytes = t->args_bytes;
        argv = plan_argv (lang, &lang->run, &view, true);
        if (argv == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        if (i > 0)
                ts = warm_test_slot (f);
        if (ts)
                in = ts;
        else if (i == 0 && slot_container (f->s, false) == NULL)
                ret = slot_create_run (f->cfg, f->s, err);
        else if (i > 0)
                ret = slot_create_test_run (f->cfg, f->s, i, &own, err);
        if (ret < 0)
                return ce_error_wrap (err, "preparing the run stage");
        c = i == 0 || ts ? slot_container (in, false) : own;
        ret = slot_open_stdin (in, i, t->stdin_data, t->stdin_len, &stdin_fd, err);
        if (ret == 0)
                ret = runner_start (f->cfg, c,
                                    &(struct runner_go){ .argv = argv,
                                                         .stdin_fd = stdin_fd,
                                                         .limits = &f->plan->run_limits },
                                    f->client_fd, &et->run, err);
        runner_destroy (f->cfg, own);
        /* Deleting it is the pool's, after the answer. */
        if (ts && ! warm_used (f->warm, ts))
                slot_discard (f->cfg, ts);
        if (ret < 0)
                return ce_error_wrap (err, "run stage");
        et->ran = true;
        et->verdict = verdict_of (&et->run, t->expected, t->expected_len, &f->req->checker);
        if (f->sink && f->sink->test_end) {
                pthread_mutex_lock (&f->sink_lock);
                f->sink->test_end (f->sink->arg, i, t->name, et->verdict, &et->run);
                pthread_mutex_unlock (&f->sink_lock);
        }
        /* The first test's output is the answer's top-level output, whole. */
        if (i > 0)
                et->clipped = clip_output (&et->run, f->keep);
        return 0;
}

/* Test i, claimed, has ended (ret: run_test's). */
static void
test_ended (struct fanout *f, size_t i, int ret, const struct ce_error *err)
{
        const struct exec_test *et = &f->res->tests[i];

        pthread_mutex_lock (&f->lock);
        f->running--;
        if (ret < 0 && f->ret == 0) {
                f->ret = ret;
                f->err = *err;
                ce_error_wrap (&f->err, "test %zu", i);
        }
        if (ret < 0 || et->run.status == RUN_CLIENT_GONE
            || (f->req->stop_on_failure && verdict_fails (et->verdict)))
                f->stop = true;
        pthread_cond_broadcast (&f->ended);
        pthread_mutex_unlock (&f->lock);
}

/* Claim the next test and run it: false when there was none to claim. */
static bool
turn (struct fanout *f)
{
        struct ce_error err = { 0 };
        size_t i;
        int ret;

        pthread_mutex_lock (&f->lock);
        if (f->closed || f->stop || f->next >= f->req->ntests) {
                pthread_mutex_unlock (&f->lock);
                return false;
        }
        i = f->next++;
        f->running++;
        pthread_mutex_unlock (&f->lock);
        ret = run_test (f, i, &err);
        test_ended (f, i, ret, &err);
        return true;
}

/* A helper's turn on a pool worker: one test, then the back of the queue
 * while tests are left. */
static void
helper_run (struct pool_job *pj)
{
        struct helper *h = (struct helper *) pj;
        struct fanout *f = h->f;
        bool more;

        if (turn (f)) {
                pthread_mutex_lock (&f->lock);
                more = ! f->closed && ! f->stop && f->next < f->req->ntests;
                pthread_mutex_unlock (&f->lock);
                /* Still ours when queued again: the reference goes with it. */
                if (more && pool_submit (f->pool, &h->pj) == 0)
                        return;
        }
        fanout_unref (f);
}

/* Never ran: the pool shuts down. */
static void
helper_cancel (struct pool_job *pj)
{
        fanout_unref (((struct helper *) pj)->f);
}

int
judge_run (const struct exec_env *env, struct exec_slot *s, const struct exec_plan *plan,
           const struct ce_request *req, int client_fd, const struct exec_sink *sink,
           struct exec_result *res, struct ce_error *err)
{
        struct pool *pool = env->pool;
        size_t workers = env->test_workers;
        size_t nhelpers;
        size_t keep = TESTS_OUTPUT_KEPT / req->ntests;
        struct fanout *f;
        struct ce_error first_err = { 0 };
        int ret = tests_init (req, res, err);

        if (ret < 0)
                return ret;
        /* stop_on_failure means "none after the first failure, in order":
         * one test at a time, so that no later one has run by then. */
        if (pool == NULL || workers < 1 || req->stop_on_failure)
                workers = 1;
        nhelpers = workers - 1 < req->ntests - 1 ? workers - 1 : req->ntests - 1;
        f = calloc (1, sizeof (*f) + nhelpers * sizeof (f->helpers[0]));
        if (f == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        ret = ce_cond_init_monotonic (&f->ended);
        if (ret) {
                free (f);
                return ce_fail (err, ret, "pthread_cond_init: %s", strerror (ret));
        }
        pthread_mutex_init (&f->lock, NULL);
        pthread_mutex_init (&f->sink_lock, NULL);
        f->next = 1; /* test 0 is the parent's: the slot's container */
        f->running = 1;
        f->refs = 1;
        f->pool = pool;
        f->warm = env->warm;
        f->cfg = env->runner;
        f->s = s;
        f->plan = plan;
        f->req = req;
        f->client_fd = client_fd;
        f->sink = sink;
        f->res = res;
        f->keep = keep > TEST_OUTPUT_KEPT_MIN ? keep : TEST_OUTPUT_KEPT_MIN;
        f->nhelpers = nhelpers;
        for (size_t i = 0; i < nhelpers; i++) {
                struct helper *h = &f->helpers[i];

                h->f = f;
                h->pj.run = helper_run;
                h->pj.cancel = helper_cancel;
                pthread_mutex_lock (&f->lock);
                f->refs++;
                pthread_mutex_unlock (&f->lock);
                /* A full queue or a pool shutting down: fewer helpers. */
                if (pool_submit (f->pool, &h->pj) < 0) {
                        fanout_unref (f);
                        break;
                }
        }
        ret = run_test (f, 0, &first_err);
        test_ended (f, 0, ret, &first_err);
        while (turn (f))
                ;
        pthread_mutex_lock (&f->lock);
        while (f->running > 0)
                pthread_cond_wait (&f->ended, &f->lock);
        f->closed = true;
        ret = f->ret;
        if (ret < 0)
                *err = f->err;
        pthread_mutex_unlock (&f->lock);
        fanout_unref (f);
        if (ret < 0)
                return ret;

        for (size_t i = 0; i < res->ntests; i++) {
                if (! res->tests[i].ran && sink && sink->test_end)
                        sink->test_end (sink->arg, i, req->tests[i].name, VERDICT_SKIPPED, NULL);
                if (res->tests[i].verdict == VERDICT_ACCEPTED)
                        res->passed++;
        }
        res->status = res->tests[0].run.status;
        res->verdict = VERDICT_ACCEPTED;
        for (size_t i = 0; i < res->ntests && res->verdict == VERDICT_ACCEPTED; i++)
                if (verdict_fails (res->tests[i].verdict))
                        res->verdict = res->tests[i].verdict;
        return 0;
}
