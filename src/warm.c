/*
 * warm.c - the warm pool (warm.h).
 *
 * One mutex guards every language's entry, the counts and the list of
 * slots to delete; it is never held across the runtime.  Workers only take
 * (warm_take: pop under the lock, a non-blocking liveness check); the refill
 * thread alone creates and deletes slots, sleeping on `cond` (CLOCK_MONOTONIC)
 * between rounds.  A take signals it, so that a slot is replaced while the
 * request that took the last one still runs.  Creating a slot costs what a
 * cold execution pays for its containers; under a load that keeps every
 * slot taken the pool cannot add throughput, it moves that cost off the
 * request's path.  What to make, give up or expire is decided by the
 * warm_policy_* functions (warm.h) over w->demand alone; the thread and
 * warm_take apply their answers to the slots.
 */
#include "warm.h"

#include <pthread.h>
#include <string.h>

#include "jsongen.h"
#include "metrics.h"

/* After a failed creation, how long a language waits before the next try. */
#define RETRY_MS 5000
/* How often the thread looks for languages gone idle. */
#define TICK_MS 1000
/* How many ids of slots deleted unused GET /ready lists. */
#define DISCARDED 16

/* The two kinds of slot a language may hold: an execution's (every stage's
 * container, warm_take) and a test's (the run's container with an empty
 * /build, warm_take_test). */
enum kind { FOR_EXEC, FOR_TESTS, KINDS };

/* A language's slots.  What the policy decides on (its want, counts and
 * times) is the struct warm_demand of the same index in w->demand[kind],
 * arrays of their own so that the policy functions read nothing else. */
struct warm_lang {
        struct exec_plan plan; /* the language's default limits: what its slots are made with */
        /* per_language (FOR_EXEC) or tests (FOR_TESTS) entries; [0,
         * demand[kind][i].nidle) used, oldest first */
        struct exec_slot **idle[KINDS];
};

struct warm_pool {
        const struct runner_config *cfg;
        const struct exec_policy *pol;
        struct warm_params params;

        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t cond;  /* the thread's wake-up: a take, a stop */
        struct warm_lang *langs;
        struct warm_demand *demand[KINDS]; /* demand[k][i]: langs[i]'s, for the policy */
        size_t nlangs, langs_cap;          /* of every array */
        size_t total_idle[KINDS], total_making[KINDS];
        /* Taken out, to delete on the thread: unused (bury) or having
         * served a test (warm_used).  Room for every slot that can be idle
         * or made besides the ones there, so that bury never fails. */
        struct exec_slot **dead;
        size_t ndead, dead_cap;
        bool stopping;
        uint64_t served[KINDS], missed[KINDS]; /* takes that got a slot, takes that did not */
        /* What the thread works on outside the lock, for GET /ready: the
         * slot it makes and the one it deletes ("" when none). */
        char making_id[CE_EXEC_ID_SIZE];
        const struct ce_language *making_lang;
        enum kind making_kind;
        char deleting_id[CE_EXEC_ID_SIZE];
        const char *deleting_lang;
        /* The ids of the last DISCARDED slots deleted without serving a
         * request, oldest first, so that a client watching containers can
         * tell them from requests' even when it never saw them listed. */
        char discarded[DISCARDED][CE_EXEC_ID_SIZE];
        size_t ndiscarded; /* ever */

        pthread_t thread;
};

static int64_t
ms_since (struct timespec t, struct timespec now)
{
        return ce_ms_between (t, now);
}

/* Under the lock: the index of lang's entry in langs and demand, made on
 * first use; WARM_NONE when out of memory. */
static size_t
lang_index (struct warm_pool *w, const struct ce_language *lang)
{
        struct warm_lang *e;

        for (size_t i = 0; i < w->nlangs; i++)
                if (w->langs[i].plan.lang == lang)
                        return i;
        if (w->nlangs == w->langs_cap) {
                size_t cap = w->langs_cap ? w->langs_cap * 2 : 8;
                struct warm_lang *n = realloc (w->langs, cap * sizeof (*n));

                if (n == NULL)
                        return WARM_NONE;
                w->langs = n;
                /* langs_cap grows once all have: a failure here retries them. */
                for (int k = 0; k < KINDS; k++) {
                        struct warm_demand *d = realloc (w->demand[k], cap * sizeof (*d));

                        if (d == NULL)
                                return WARM_NONE;
                        w->demand[k] = d;
                }
                w->langs_cap = cap;
        }
        e = &w->langs[w->nlangs];
        memset (e, 0, sizeof (*e));
        for (int k = 0; k < KINDS; k++)
                memset (&w->demand[k][w->nlangs], 0, sizeof (w->demand[k][w->nlangs]));
        e->idle[FOR_EXEC] = calloc (w->params.per_language + 1, sizeof (*e->idle[FOR_EXEC]));
        e->idle[FOR_TESTS] = calloc (w->params.tests + 1, sizeof (*e->idle[FOR_TESTS]));
        if (e->idle[FOR_EXEC] == NULL || e->idle[FOR_TESTS] == NULL) {
                free (e->idle[FOR_EXEC]);
                free (e->idle[FOR_TESTS]);
                return WARM_NONE;
        }
        e->plan.lang = lang;
        plan_default_limits (lang, false, w->pol, &e->plan.run_limits);
        if (lang->compile.command)
                plan_default_limits (lang, true, w->pol, &e->plan.compile_limits);
        return w->nlangs++;
}

/* Room in dead for every slot that may yet be buried unused: the ones idle
 * or being made, at most max_idle + tests + 1. */
static size_t
dead_reserve (const struct warm_pool *w)
{
        return w->params.max_idle + w->params.tests + 1;
}

/* Under the lock: queue s, unused, for deletion by the thread.  Never full
 * (dead_reserve). */
static void
bury (struct warm_pool *w, struct exec_slot *s)
{
        struct exec_slot_info info;

        slot_describe (s, &info);
        snprintf (w->discarded[w->ndiscarded++ % DISCARDED], CE_EXEC_ID_SIZE, "%s", info.id);
        w->dead[w->ndead++] = s;
}

/* The thread, under the lock: delete s, outside the lock, listed as
 * deleting meanwhile. */
static void
discard_unlocked (struct warm_pool *w, struct exec_slot *s)
{
        struct exec_slot_info info;

        slot_describe (s, &info);
        snprintf (w->deleting_id, sizeof (w->deleting_id), "%s", info.id);
        w->deleting_lang = info.language;
        pthread_mutex_unlock (&w->lock);
        slot_discard (w->cfg, s);
        pthread_mutex_lock (&w->lock);
        w->deleting_id[0] = '\0';
}

/* Under the lock: take the j-th idle slot of kind out of language i's list. */
static void
remove_idle (struct warm_pool *w, enum kind kind, size_t i, size_t j)
{
        struct exec_slot **idle = w->langs[i].idle[kind];
        struct warm_demand *d = &w->demand[kind][i];

        memmove (&idle[j], &idle[j + 1], (d->nidle - j - 1) * sizeof (*idle));
        d->nidle--;
        w->total_idle[kind]--;
}

/* A slot of kind for plan, its language marked as asked for (want: the
 * slots of that kind it should hold from now on); NULL when none fits. */
static struct exec_slot *
take (struct warm_pool *w, enum kind kind, const struct exec_plan *plan, size_t want)
{
        struct exec_slot *got = NULL;
        size_t i;

        pthread_mutex_lock (&w->lock);
        i = lang_index (w, plan->lang);
        if (i != WARM_NONE && ! w->stopping) {
                struct warm_demand *d = &w->demand[kind][i];

                warm_policy_asked (d, &w->params, ce_now ());
                if (kind == FOR_TESTS)
                        d->want = want;
                /* Newest first: the oldest are the likeliest to go unused. */
                for (size_t j = d->nidle; j-- > 0 && got == NULL;) {
                        struct exec_slot *s = w->langs[i].idle[kind][j];

                        if (! slot_fits (w->cfg, s, plan))
                                continue;
                        remove_idle (w, kind, i, j);
                        if (slot_alive (s))
                                got = s;
                        else
                                bury (w, s);
                }
        }
        if (got)
                w->served[kind]++;
        else
                w->missed[kind]++;
        pthread_cond_signal (&w->cond);
        pthread_mutex_unlock (&w->lock);
        return got;
}

struct exec_slot *
warm_take (struct warm_pool *w, const struct exec_plan *plan)
{
        if (w == NULL || w->params.per_language == 0)
                return NULL;
        return take (w, FOR_EXEC, plan, 0);
}

struct exec_slot *
warm_take_test (struct warm_pool *w, const struct exec_plan *plan, size_t ntests)
{
        if (w == NULL || w->params.tests == 0 || ntests < 2)
                return NULL;
        /* Test 0 runs in the execution's own slot. */
        return take (w, FOR_TESTS, plan,
                     ntests - 1 < w->params.tests ? ntests - 1 : w->params.tests);
}

bool
warm_used (struct warm_pool *w, struct exec_slot *s)
{
        bool queued = false;

        if (w == NULL)
                return false;
        pthread_mutex_lock (&w->lock);
        if (! w->stopping) {
                /* Keep room for what bury may add. */
                if (w->ndead + 1 + dead_reserve (w) > w->dead_cap) {
                        size_t cap = w->dead_cap * 2;
                        struct exec_slot **n = realloc (w->dead, cap * sizeof (*n));

                        if (n != NULL) {
                                w->dead = n;
                                w->dead_cap = cap;
                        }
                }
                if (w->ndead + 1 + dead_reserve (w) <= w->dead_cap) {
                        w->dead[w->ndead++] = s;
                        queued = true;
                        pthread_cond_signal (&w->cond);
                }
        }
        pthread_mutex_unlock (&w->lock);
        return queued;
}

void
warm_policy_asked (struct warm_demand *d, const struct warm_params *p, struct timespec now)
{
        d->last_asked = now;
        d->want = p->per_language;
}

/* When max_idle is reached, the language asked for longest ago gives up a
 * slot to one asked for since, so that the first languages asked for do
 * not hold the pool for good. */
size_t
warm_policy_next (const struct warm_demand *d, size_t n, size_t pooled, const struct warm_params *p,
                  struct timespec now, size_t *victim)
{
        size_t best = WARM_NONE, best_have = 0;

        *victim = WARM_NONE;
        for (size_t i = 0; i < n; i++) {
                size_t have = d[i].nidle + d[i].making;

                if (have >= d[i].want || ms_since (d[i].retry_at, now) < 0)
                        continue;
                if (best == WARM_NONE || have < best_have
                    || (have == best_have && ms_since (d[best].last_asked, d[i].last_asked) > 0))
                        best = i, best_have = have;
        }
        if (best == WARM_NONE || pooled < p->max_idle)
                return best;
        for (size_t i = 0; i < n; i++) {
                if (i != best && d[i].nidle > 0
                    && ms_since (d[i].last_asked, d[best].last_asked) > 0
                    && (*victim == WARM_NONE
                        || ms_since (d[i].last_asked, d[*victim].last_asked) > 0))
                        *victim = i;
        }
        return *victim == WARM_NONE ? WARM_NONE : best;
}

bool
warm_policy_expired (const struct warm_demand *d, const struct warm_params *p, struct timespec now)
{
        return d->want > 0 && ms_since (d->last_asked, now) >= p->idle_seconds * 1000LL;
}

bool
warm_policy_keeps (const struct warm_demand *d, const struct warm_params *p)
{
        return d->nidle < p->per_language;
}

/* The policy's bounds for kind: test slots are bounded by tests, per
 * language and over all. */
static struct warm_params
params_of (const struct warm_pool *w, enum kind kind)
{
        struct warm_params p = w->params;

        if (kind == FOR_TESTS)
                p.per_language = p.max_idle = p.tests;
        return p;
}

/* Under the lock: the index of the language to make a slot for now
 * (warm_policy_next) and *kind, the kind of slot, or WARM_NONE; a language
 * that must give up a slot for it has done so (its oldest is buried).  An
 * execution's slots come first: a single run waits on one, a test that
 * finds none only pays what it did before there were any. */
static size_t
next_to_fill (struct warm_pool *w, struct timespec now, enum kind *kind)
{
        for (int k = 0; k < KINDS; k++) {
                struct warm_params p = params_of (w, (enum kind) k);
                size_t victim;
                size_t i =
                        warm_policy_next (w->demand[k], w->nlangs,
                                          w->total_idle[k] + w->total_making[k], &p, now, &victim);

                if (victim != WARM_NONE) {
                        struct exec_slot *s = w->langs[victim].idle[k][0]; /* its oldest */

                        remove_idle (w, (enum kind) k, victim, 0);
                        bury (w, s);
                }
                if (i != WARM_NONE) {
                        *kind = (enum kind) k;
                        return i;
                }
        }
        return WARM_NONE;
}

/* Under the lock: languages nobody asked for in idle_seconds give up their slots. */
static void
expire (struct warm_pool *w, struct timespec now)
{
        for (int k = 0; k < KINDS; k++)
                for (size_t i = 0; i < w->nlangs; i++) {
                        struct warm_demand *d = &w->demand[k][i];

                        if (! warm_policy_expired (d, &w->params, now))
                                continue;
                        d->want = 0;
                        while (d->nidle > 0) {
                                struct exec_slot *s = w->langs[i].idle[k][d->nidle - 1];

                                remove_idle (w, (enum kind) k, i, d->nidle - 1);
                                bury (w, s);
                        }
                }
}

static void *
refill_main (void *arg)
{
        struct warm_pool *w = arg;

        pthread_mutex_lock (&w->lock);
        while (! w->stopping) {
                struct timespec now = ce_now ();
                enum kind kind = FOR_EXEC;
                size_t i;

                expire (w, now);
                /* Every change to the counts loops back here (a take wakes us). */
                metrics_gauge_set (METRICS_WARM_IDLE,
                                   (int64_t) (w->total_idle[FOR_EXEC] + w->total_idle[FOR_TESTS]));
                metrics_gauge_set (METRICS_WARM_MAKING, (int64_t) (w->total_making[FOR_EXEC]
                                                                   + w->total_making[FOR_TESTS]));
                if (w->ndead > 0) {
                        discard_unlocked (w, w->dead[--w->ndead]);
                        continue;
                }
                i = next_to_fill (w, now, &kind);
                if (i != WARM_NONE) {
                        struct exec_plan plan = w->langs[i].plan;
                        const struct ce_language *lang = plan.lang;
                        struct exec_slot *s = NULL;
                        struct ce_error err = { 0 };
                        char id[CE_EXEC_ID_SIZE];
                        int ret = slot_new_id (id);
                        struct warm_demand *d;
                        struct warm_params p = params_of (w, kind);

                        if (ret < 0) {
                                ce_log ("warning: warm pool: getrandom: %s", strerror (-ret));
                                w->demand[kind][i].retry_at = ce_deadline_after_ms (RETRY_MS);
                                continue;
                        }
                        w->demand[kind][i].making++;
                        w->total_making[kind]++;
                        metrics_gauge_set (
                                METRICS_WARM_MAKING,
                                (int64_t) (w->total_making[FOR_EXEC] + w->total_making[FOR_TESTS]));
                        memcpy (w->making_id, id, sizeof (id));
                        w->making_lang = lang;
                        w->making_kind = kind;
                        pthread_mutex_unlock (&w->lock);
                        ret = slot_prepare (w->cfg, &plan, id,
                                            kind == FOR_TESTS ? SLOT_PREBUILT : SLOT_ALL, &s, &err);
                        pthread_mutex_lock (&w->lock);
                        w->making_id[0] = '\0';
                        i = lang_index (w, lang); /* the arrays may have moved */
                        w->total_making[kind]--;
                        if (i == WARM_NONE) {
                                if (s != NULL)
                                        bury (w, s); /* out of memory: rare */
                                continue;
                        }
                        d = &w->demand[kind][i];
                        d->making--;
                        if (ret < 0) {
                                ce_log ("warning: warm pool: cannot prepare %s: %s", lang->name,
                                        err.msg);
                                d->retry_at = ce_deadline_after_ms (RETRY_MS);
                        } else if (warm_policy_keeps (d, &p) && d->nidle < d->want
                                   && ! w->stopping) {
                                w->langs[i].idle[kind][d->nidle++] = s;
                                w->total_idle[kind]++;
                        } else {
                                bury (w, s);
                        }
                        continue;
                }
                {
                        struct timespec tick = ce_deadline_after_ms (TICK_MS);

                        pthread_cond_timedwait (&w->cond, &w->lock, &tick);
                }
        }
        pthread_mutex_unlock (&w->lock);
        return NULL;
}

int
warm_pool_new (const struct runner_config *cfg, const struct exec_policy *pol,
               const struct warm_params *params, struct warm_pool **out, struct ce_error *err)
{
        struct warm_pool *w = calloc (1, sizeof (*w));
        int ret;

        *out = NULL;
        if (w == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        w->cfg = cfg;
        w->pol = pol;
        w->params = *params;
        w->dead_cap = 2 * dead_reserve (w);
        w->dead = calloc (w->dead_cap, sizeof (*w->dead));
        if (w->dead == NULL) {
                free (w);
                return ce_fail (err, ENOMEM, "out of memory");
        }
        ret = ce_cond_init_monotonic (&w->cond);
        if (ret != 0) {
                free (w->dead);
                free (w);
                return ce_fail (err, ret, "pthread_cond_init: %s", strerror (ret));
        }
        pthread_mutex_init (&w->lock, NULL);
        ret = pthread_create (&w->thread, NULL, refill_main, w);
        if (ret != 0) {
                pthread_cond_destroy (&w->cond);
                pthread_mutex_destroy (&w->lock);
                free (w->dead);
                free (w);
                return ce_fail (err, ret, "cannot start the warm pool: %s", strerror (ret));
        }
        ce_thread_name (w->thread, "ce-warm");
        *out = w;
        return 0;
}

void
warm_pool_free (struct warm_pool *w)
{
        if (w == NULL)
                return;
        pthread_mutex_lock (&w->lock);
        w->stopping = true;
        pthread_cond_signal (&w->cond);
        pthread_mutex_unlock (&w->lock);
        pthread_join (w->thread, NULL);
        /* The thread is gone: nothing else touches the pool now. */
        for (size_t i = 0; i < w->nlangs; i++)
                for (int k = 0; k < KINDS; k++) {
                        for (size_t j = 0; j < w->demand[k][i].nidle; j++)
                                slot_discard (w->cfg, w->langs[i].idle[k][j]);
                        free (w->langs[i].idle[k]);
                }
        for (size_t i = 0; i < w->ndead; i++)
                slot_discard (w->cfg, w->dead[i]);
        free (w->langs);
        for (int k = 0; k < KINDS; k++)
                free (w->demand[k]);
        free (w->dead);
        pthread_cond_destroy (&w->cond);
        pthread_mutex_destroy (&w->lock);
        free (w);
}

/* One slot of GET /ready's "slots": the id, the language, the state and the
 * containers, with their init pids (-1 while unknown) and the server's fds. */
static yajl_gen_status
gen_slot (yajl_gen g, const struct exec_slot_info *info, const char *state, const char *kind)
{
        yajl_gen_status st = yajl_gen_status_ok;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("id", info->id);
        GEN_KV_STR ("language", info->language);
        GEN_KV_STR ("state", state);
        if (kind)
                GEN_KV_STR ("for", kind);
        GEN_STR ("containers");
        GEN (yajl_gen_array_open (g));
        for (size_t k = 0; k < info->ncontainers; k++)
                GEN_STR (info->containers[k]);
        GEN (yajl_gen_array_close (g));
        GEN_STR ("pids");
        GEN (yajl_gen_array_open (g));
        for (size_t k = 0; k < info->ncontainers; k++)
                GEN (yajl_gen_integer (g, info->pids[k]));
        GEN (yajl_gen_array_close (g));
        GEN_KV_INT ("fds", info->fds);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* A slot the thread holds outside the lock: its id and containers' names only. */
static yajl_gen_status
gen_busy_slot (yajl_gen g, const char *id, const char *language, bool compiles, const char *state)
{
        char compile_id[CE_EXEC_ID_SIZE + 8];
        struct exec_slot_info info = { .id = id, .language = language };

        snprintf (compile_id, sizeof (compile_id), "%s-compile", id);
        if (compiles)
                info.containers[info.ncontainers++] = compile_id;
        info.containers[info.ncontainers++] = id;
        info.pids[0] = info.pids[1] = -1;
        return gen_slot (g, &info, state, NULL);
}

yajl_gen_status
warm_pool_gen (struct warm_pool *w, yajl_gen g)
{
        yajl_gen_status st = yajl_gen_status_ok;
        size_t first;

        pthread_mutex_lock (&w->lock);
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("per_language", w->params.per_language);
        GEN_KV_INT ("max", w->params.max_idle);
        GEN_KV_INT ("idle_seconds", w->params.idle_seconds);
        GEN_KV_INT ("idle", w->total_idle[FOR_EXEC]);
        GEN_KV_INT ("creating", w->total_making[FOR_EXEC] + w->total_making[FOR_TESTS]);
        GEN_KV_INT ("served", w->served[FOR_EXEC]);
        GEN_KV_INT ("missed", w->missed[FOR_EXEC]);
        /* The run containers kept for submissions' tests. */
        GEN_STR ("tests");
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("max", w->params.tests);
        GEN_KV_INT ("idle", w->total_idle[FOR_TESTS]);
        GEN_KV_INT ("served", w->served[FOR_TESTS]);
        GEN_KV_INT ("missed", w->missed[FOR_TESTS]);
        GEN (yajl_gen_map_close (g));
        /* Every slot the pool holds: being made, idle, waiting to be deleted
         * or being deleted; "for": "tests" marks a test's. */
        GEN_STR ("slots");
        GEN (yajl_gen_array_open (g));
        if (w->making_id[0])
                GEN (gen_busy_slot (g, w->making_id, w->making_lang->name,
                                    w->making_lang->compile.command != NULL
                                            && w->making_kind == FOR_EXEC,
                                    "creating"));
        for (int k = 0; k < KINDS; k++)
                for (size_t i = 0; i < w->nlangs; i++)
                        for (size_t j = 0; j < w->demand[k][i].nidle; j++) {
                                struct exec_slot_info info;

                                slot_describe (w->langs[i].idle[k][j], &info);
                                GEN (gen_slot (g, &info, "idle", k == FOR_TESTS ? "tests" : NULL));
                        }
        for (size_t i = 0; i < w->ndead; i++) {
                struct exec_slot_info info;

                slot_describe (w->dead[i], &info);
                GEN (gen_slot (g, &info, "deleting", NULL));
        }
        if (w->deleting_id[0]) {
                /* Its containers may be gone already: name both stages'. */
                GEN (gen_busy_slot (g, w->deleting_id, w->deleting_lang, true, "deleting"));
        }
        GEN (yajl_gen_array_close (g));
        /* The ids of the last slots deleted without serving a request. */
        GEN_STR ("discarded");
        GEN (yajl_gen_array_open (g));
        first = w->ndiscarded > DISCARDED ? w->ndiscarded - DISCARDED : 0;
        for (size_t i = first; i < w->ndiscarded; i++)
                GEN_STR (w->discarded[i % DISCARDED]);
        GEN (yajl_gen_array_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        pthread_mutex_unlock (&w->lock);
        return st;
}
