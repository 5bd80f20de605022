/*
 * warm.h - the warm pool: executions prepared before their requests.
 *
 * A slot (slot.h) is a work dir and a container per stage, created
 * under a language's default limits, whose inits wait for their programs.
 * A request whose plan fits takes one (warm_take) and so skips the runtime's
 * start-up; each slot serves exactly one execution and is then deleted.  One
 * refill thread makes new slots off the request path.  Sizes follow demand:
 * a language holds slots only once it has been asked for, and loses them
 * when nobody has asked for it for idle_seconds; per_language and max_idle
 * bound what idles.  Idle slots never see a request's data: their code dirs
 * stay empty until taken.  A submission with tests runs each test after the
 * first in a slot of its own: the pool also keeps such test slots (a run
 * container, /build empty), as many as the language's last submission had
 * tests less one, at most `tests`, and deletes them once they served
 * (warm_used), so that neither creating nor deleting a test's container is
 * on the submission's path.
 */
#ifndef CE_WARM_H
#define CE_WARM_H

#include <yajl/yajl_gen.h>

#include "slot.h"

struct warm_params {
        size_t per_language; /* idle slots kept per language in demand; 0: no pool */
        size_t max_idle;     /* idle slots over all languages */
        int idle_seconds;    /* a language not asked for this long holds none */
        size_t tests;        /* idle test slots, per language and over all; 0: none */
};

struct warm_pool;

/* Start the refill thread.  cfg and pol are borrowed for the pool's life.
 * Call before serving; free with warm_pool_free before the supervisor stops. */
int warm_pool_new (const struct runner_config *cfg, const struct exec_policy *pol,
                   const struct warm_params *params, struct warm_pool **out, struct ce_error *err);

/* A slot that fits plan (slot_fits) and is alive, now yours
 * (execution_run uses it, then discards it); NULL when none waits.  Either
 * way plan's language is counted as asked for.  Any thread; never blocks on
 * the runtime. */
struct exec_slot *warm_take (struct warm_pool *w, const struct exec_plan *plan);

/* A slot for one test of a submission of ntests (> 1) under plan: the
 * run's container only, its /build empty (SLOT_PREBUILT), made like
 * warm_take's; NULL when none waits.  Either way plan's language wants
 * ntests - 1 of them (test 0 runs in the execution's slot), at most
 * params.tests.  Any thread; never blocks on the runtime. */
struct exec_slot *warm_take_test (struct warm_pool *w, const struct exec_plan *plan, size_t ntests);

/* A taken slot that has served, handed back to be deleted by the pool's
 * thread (off the request's path; GET /ready lists it as deleting).
 * false when the pool cannot take it (stopping, out of memory): the caller
 * deletes it. */
bool warm_used (struct warm_pool *w, struct exec_slot *s);

/* Stop the thread and delete every slot.  NULL is fine. */
void warm_pool_free (struct warm_pool *w);

/* The pool's state as a JSON map (GET /ready): its bounds, the idle and
 * in-making counts, and each idle slot's id, language, containers, their
 * init pids and the server fds it holds. */
yajl_gen_status warm_pool_gen (struct warm_pool *w, yajl_gen g);

/*
 * The pool's policy, apart from its thread and its containers: which
 * language gets the next slot, which one gives up a slot for it, which ones
 * go idle.  The refill thread applies these under its lock with the clock
 * read once per round; they read nothing else, so that tests/unit/test_warm.c
 * drives them with made-up times.
 */

/* What the policy knows of one language. */
struct warm_demand {
        size_t want;                /* idle slots to keep: per_language once asked for, else 0 */
        size_t nidle;               /* idle slots it holds */
        size_t making;              /* slots being made for it */
        struct timespec last_asked; /* its last warm_take */
        struct timespec retry_at;   /* no creation before this, after a failure */
};

/* No language (warm_policy_next). */
#define WARM_NONE ((size_t) -1)

/* A take for d's language at now: it is in demand and wants per_language
 * slots (none when the pool is off). */
void warm_policy_asked (struct warm_demand *d, const struct warm_params *p, struct timespec now);

/* Which of the n languages in d gets the next slot at now: the one most
 * short of its want (idle and being made) and not waiting to retry, the
 * one asked for last among equals; WARM_NONE when none is short.  pooled:
 * the slots idle or being made over every language.  Once pooled reaches
 * max_idle, the chosen language gets a slot only by taking one from the
 * language asked for longest ago before it that holds an idle slot:
 * *victim is then its index (it gives up its oldest idle slot, which the
 * caller deletes, before the new one is made), and WARM_NONE is returned
 * when there is no such language.  *victim is WARM_NONE when nobody
 * gives anything up. */
size_t warm_policy_next (const struct warm_demand *d, size_t n, size_t pooled,
                         const struct warm_params *p, struct timespec now, size_t *victim);

/* True when d's language, in demand but not asked for in idle_seconds,
 * must go idle at now: its want drops to 0 and its idle slots go. */
bool warm_policy_expired (const struct warm_demand *d, const struct warm_params *p,
                          struct timespec now);

/* True when a slot just made for d's language may wait idle; false: it is
 * deleted (the language already holds per_language, e.g. after a stop). */
bool warm_policy_keeps (const struct warm_demand *d, const struct warm_params *p);

#endif
