/*
 * options.h - the server's command line.
 *
 * Every flag is one row of a table in options.c: its name, what it takes,
 * its bounds, its default, its help line and, for a default limit, the
 * ceiling it must not pass.  The parser, the usage text and the checks all
 * walk that table, so a flag is written down once (and once more here, as
 * the field it fills).
 */
#ifndef CE_OPTIONS_H
#define CE_OPTIONS_H

#include <stdbool.h>

#include "plan.h"

struct options {
        const char *listen;
        const char *bundles;
        const char *state_dir; /* NULL: main's default (root or not) */
        const char *runtime;
        const char *init_path;
        const char *auth_token_file;
        const char *authz_token_file;
        bool require_cgroups;
        long max_concurrent;
        long queue;
        double timeout_s;
        long memory_mb;
        double cpus;
        long pids;
        long max_output;
        long max_body;
        long connection_timeout_s;
        long max_websockets;
        double grace_s;
        /* Ceilings: the most a request's "limits" may ask for. */
        double max_timeout_s;
        long max_memory_mb;
        double max_cpus;
        long max_pids;
        long max_output_bytes;
        /* What output_files may bring back from one run. */
        long max_output_files;
        long max_output_files_bytes;
        /* The compile stage's defaults and ceilings (cpus and pids ceilings
         * are the run's). */
        double compile_timeout_s;
        long compile_memory_mb;
        double compile_cpus;
        long compile_pids;
        double max_compile_timeout_s;
        long max_compile_memory_mb;
        long build_mb;
        long warm_pool, warm_max, warm_idle_s, warm_tests;
        long compile_cache_mb; /* 0: no compile cache */
        long test_workers;     /* 0: the online CPUs, at most max_concurrent */
        long max_jobs;         /* 0: no asynchronous executions */
        long result_ttl_s;
        const char *jobs_db; /* NULL: STATE/jobs.db */
        long async_workers;  /* 0: half of max_concurrent, at least 1 */
        long job_attempts;
        double job_lease_s;
        const char *node_id;             /* NULL: HOST:STATE */
        const char *redis;               /* NULL: the embedded (SQLite) store */
        const char *redis_password_file; /* NULL: no AUTH */
        double drain_s;                  /* SIGTERM: /ready answers 503 this long first */
        const char *log_format;          /* "text" or "json" */
        const char *callback_allow;      /* comma-separated CIDRs, or NULL */
        bool callback_allow_loopback;
        const char *callback_secret_file;
        long callback_attempts;
        long callback_timeout_s;
};

/* Fill *o from argv, defaults first.  0; -1 after printing what is wrong
 * and the usage on stderr (exit 2); --help prints the usage on stdout and
 * exits 0. */
int options_parse (int argc, char **argv, struct options *o);

/* The limits o sets for every stage: defaults and ceilings, run and compile. */
void options_policy (const struct options *o, struct exec_policy *pol);

#endif
