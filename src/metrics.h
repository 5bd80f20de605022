/*
 * metrics.h - the server's counters, gauges and histograms, served as
 * Prometheus' text format on GET /metrics (per node).
 *
 * Every function here may be called from any thread and never blocks
 * (atomics); the values live for the process.  Label sets are bounded and
 * fixed at start-up: a language label only ever takes one of the names
 * given to metrics_init (the configured languages, never a client's
 * string), a stage label compile or run, a status label one of the
 * runner's status names.  docs/metrics.md lists every metric.
 */
#ifndef CE_METRICS_H
#define CE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What happened to asynchronous jobs in the job store (either back-end):
 * codeengine_jobs_<event>_total. */
enum metrics_job_event {
        METRICS_JOB_ACCEPTED,     /* a new job was stored (an idempotent repeat is not) */
        METRICS_JOB_CLAIMED,      /* this node took a job to run */
        METRICS_JOB_RECLAIMED,    /* ... of which taken over from a node that stopped renewing */
        METRICS_JOB_RETRIED,      /* ... of which started again (attempts > 1) */
        METRICS_JOB_FAILED,       /* given up after --job-attempts starts */
        METRICS_JOB_EXPIRED,      /* done results deleted after --result-ttl */
        METRICS_STORE_ERRORS,     /* a store call failed (Redis: an error or a lost connection) */
        METRICS_STORE_RECONNECTS, /* Redis: a connection made again after an error */
        METRICS_JOB_NEVENTS
};

/* Add n to the event's counter. */
void metrics_job_event (enum metrics_job_event e, int64_t n);

/* The label values, once, before serving: the configured languages' names
 * and the runner's status names (an index into statuses is a status label).
 * Both are copied.  Until it is called, what carries a language is not
 * counted.  0; -EALREADY when called before (nothing changes); -EINVAL
 * for more than METRICS_MAX_STATUSES statuses; -ENOMEM. */
#define METRICS_MAX_STATUSES 16
int metrics_init (const char *const *languages, size_t nlanguages, const char *const *statuses,
                  size_t nstatuses);

enum metrics_stage {
        METRICS_STAGE_COMPILE,
        METRICS_STAGE_RUN,
        METRICS_NSTAGES,
};

/* One stage of language ran in a container and ended with status (an
 * index into metrics_init's statuses) after its program's wall_ms:
 * codeengine_executions_total and codeengine_stage_duration_seconds.  A
 * language or status metrics_init did not name is not counted. */
void metrics_stage_done (const char *language, enum metrics_stage stage, int status,
                         int64_t wall_ms);

/* An execution of language the server could not run (an internal error). */
void metrics_execution_failed (const char *language);

/* An execution request of language answered (or given up) after ms, from
 * its first byte: codeengine_request_duration_seconds. */
void metrics_request_done (const char *language, int64_t ms);

/* A job waited ns in the pool's queue for a worker. */
void metrics_queue_wait (int64_t ns);

/* The warm pool had a slot for language's execution (hit) or not. */
void metrics_warm_take (const char *language, bool hit);

/* The compile cache knew language's compile (hit) or not. */
void metrics_cache_lookup (const char *language, bool hit);

/* Counters without labels. */
enum metrics_counter {
        METRICS_CONTAINER_START_FAILURES, /* runc could not create a container */
        METRICS_NCOUNTERS
};

void metrics_count (enum metrics_counter c);

/* Gauges: set by whoever knows the value (the warm pool's thread, or
 * GET /metrics itself just before rendering). */
enum metrics_gauge {
        METRICS_IN_FLIGHT,      /* pool jobs running on a worker */
        METRICS_QUEUED,         /* pool jobs waiting for one */
        METRICS_WORKERS,        /* --max-concurrent */
        METRICS_QUEUE_CAPACITY, /* --queue */
        METRICS_WARM_IDLE,      /* warm slots waiting for a request */
        METRICS_WARM_MAKING,    /* warm slots being made */
        METRICS_NGAUGES
};

void metrics_gauge_set (enum metrics_gauge g, int64_t v);

/* Everything, in Prometheus' text exposition format (0.0.4), with the
 * process's own figures (RSS, fds, threads, CPU, start time) read now and
 * codeengine_info carrying the node id (ce_log_node).  *out is malloc'd,
 * NUL-terminated; *len excludes the NUL.  0 or -ENOMEM. */
int metrics_render (char **out, size_t *len);

/* The content type of metrics_render's text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
