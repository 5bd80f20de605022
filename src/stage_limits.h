/*
 * stage_limits.h - the resource limits of one stage of an execution.
 *
 * A plain value type, shared by the request (what a client asks), the plan
 * (what each stage gets), the bundles (what a language declares) and the
 * containers (what they are made with), so that none of those needs another's
 * header for it.
 */
#ifndef CE_STAGE_LIMITS_H
#define CE_STAGE_LIMITS_H

#include <stdint.h>

/* Resource limits of one execution. */
struct ce_limits {
        int64_t timeout_ms;
        int64_t memory_mb;
        double cpus;
        int64_t output_bytes;
        int64_t pids;
};

/* Which limits a request or a language gives (the rest are defaults). */
enum {
        LIMIT_TIMEOUT = 1 << 0,
        LIMIT_MEMORY = 1 << 1,
        LIMIT_CPUS = 1 << 2,
        LIMIT_OUTPUT = 1 << 3,
        LIMIT_PIDS = 1 << 4,
};

#endif
