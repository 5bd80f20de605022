/*
 * runner.h - one execution: work dir, config.json, runc, wait, clean up.
 *
 * runner_run is called from a pool worker and blocks that worker for the
 * whole life of the container; it never blocks any other thread.  Whatever
 * happens, the container, its cgroups and its work dir are gone when it
 * returns.
 */
#ifndef CE_RUNNER_H
#define CE_RUNNER_H

#include <yajl/yajl_tree.h>

#include "bundle.h"
#include "cgroup.h"
#include "common.h"
#include "request.h"
#include "supervisor.h"

/* How resource limits are enforced (GET /version and every response say). */
enum limit_mode {
        LIMITS_CGROUP, /* memory, CPU and pids limits by cgroup (root, or delegated v2) */
        LIMITS_RLIMIT, /* no usable cgroup: rlimits only (address space, CPU time, nproc) */
};

const char *runner_limit_mode_name (enum limit_mode m);

struct runner_config {
        const char *runtime;   /* runc binary, looked up in PATH */
        const char *state_dir; /* absolute */
        const char *runc_root; /* state_dir/runc */
        const char *exec_dir;  /* state_dir/exec */
        int exec_dirfd;        /* open on exec_dir */
        const char *init_path; /* absolute host path of codeengine-init */
        int64_t tmp_bytes;     /* size of /tmp inside */
        yajl_val seccomp;      /* the profile for every container (oci_spec.h) */
        enum limit_mode limits;
        bool rootless;       /* not root: a user namespace maps us to root inside */
        bool systemd_cgroup; /* rootless on cgroup v2: runc --systemd-cgroup, user's slice */
        bool cpu_limit;      /* the cpu controller can be used */
};

enum runner_status {
        RUN_OK,
        RUN_RUNTIME_ERROR,
        RUN_TIMEOUT,
        RUN_MEMORY_LIMIT,
        RUN_OUTPUT_LIMIT,
        RUN_CLIENT_GONE, /* the client disconnected: killed, nobody to answer */
};

/* What one program run did.  Compiled languages will report a compile step
 * with the same shape. */
struct runner_result {
        struct sup_output out; /* raw bytes; may hold invalid UTF-8 */
        bool truncated;        /* output passed the limit */
        enum runner_status status;
        int exit_code; /* 128+signal when killed */
        int signal;    /* 0 when the program exited */
        int64_t wall_ms;
        int64_t cpu_ms;    /* from the cgroup; -1 when unknown */
        int64_t memory_kb; /* peak of the cgroup; -1 when unknown */
};

const char *runner_status_name (enum runner_status s);

/* Run req with bundle b under limits (already resolved and checked).
 * client_fd (or -1) is the client's socket: when the client hangs up, the
 * container is killed at once.  It is only watched, never read or closed.
 * 0: the program ran and *res describes it (free with runner_result_clear).
 * <0: the runtime failed (err->http_status 500, with runc's message) or the
 * server could not set up the execution. */
/* Called by runner_run once the result is known (ret: its return value),
 * before the container and the work dir are removed, so that the caller can
 * answer at once.  After it, runner_run touches neither req, limits, res nor
 * err: the callee may free them. */
struct runner_done {
        void (*fn) (void *arg, int ret);
        void *arg;
};

int runner_run (const struct runner_config *cfg, const struct ce_bundle *b,
                const struct ce_request *req, const struct ce_limits *limits, int client_fd,
                const struct runner_done *done, struct runner_result *res, struct ce_error *err);

/* "SIGKILL" for 9; NULL for 0. */
const char *runner_signal_name (int sig, char *buf, size_t size);

void runner_result_clear (struct runner_result *res);

/* At start-up: delete every container under runc_root and every work dir
 * left by an earlier instance that died.  The supervisor must be running. */
int runner_cleanup_stale (const struct runner_config *cfg, struct ce_error *err);

#endif
