/*
 * exec_env.h - what executions run with besides their request (execution.h,
 * judge.h): made at start-up, shared by every execution, borrowed.
 */
#ifndef CE_EXEC_ENV_H
#define CE_EXEC_ENV_H

#include <stddef.h>

#include "outfiles.h"

struct runner_config;
struct warm_pool;
struct compile_cache;
struct pool;

struct exec_env {
        const struct runner_config *runner;
        struct warm_pool *warm;          /* slots to ask first; NULL: none */
        struct compile_cache *cache;     /* compiles to reuse (cache.h); NULL: none */
        struct pool *pool;               /* where a submission's tests fan out (judge.h) */
        size_t test_workers;             /* workers one submission's tests may use at once */
        struct outfiles_limits outfiles; /* what a run's output_files may bring back */
};

#endif
