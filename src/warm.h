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
 * stay empty until taken.
 */
#ifndef CE_WARM_H
#define CE_WARM_H

#include <yajl/yajl_gen.h>

#include "slot.h"

struct warm_params {
        size_t per_language; /* idle slots kept per language in demand; 0: no pool */
        size_t max_idle;     /* idle slots over all languages */
        int idle_seconds;    /* a language not asked for this long holds none */
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

/* Stop the thread and delete every slot.  NULL is fine. */
void warm_pool_free (struct warm_pool *w);

/* The pool's state as a JSON map (GET /ready): its bounds, the idle and
 * in-making counts, and each idle slot's id, language, containers, their
 * init pids and the server fds it holds. */
yajl_gen_status warm_pool_gen (struct warm_pool *w, yajl_gen g);

#endif
