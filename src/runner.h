/*
 * runner.h - the life of one container: config.json, runc, wait, accounting.
 *
 * An execution (execution.c) runs one container per stage, each through
 * runner_run, in the execution's own work dir.  runner_run is called from a
 * pool worker and blocks that worker for the whole life of the container; it
 * never blocks any other thread.  The container is left for runner_remove,
 * so that the caller can answer before paying for runc delete.
 */
#ifndef CE_RUNNER_H
#define CE_RUNNER_H

#include <yajl/yajl_tree.h>

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
        int64_t tmp_bytes;     /* size of the run stage's /tmp inside */
        int64_t build_bytes;   /* size of the compile stage's /build (a tmpfs when root) */
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
        RUN_CLIENT_GONE,   /* the client disconnected: killed, nobody to answer */
        RUN_COMPILE_ERROR, /* a compile stage that did not succeed (execution.c) */
};

/* What one stage's program did: the run's and the compile's have one shape. */
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

/* One container: what it runs and where.  Everything is borrowed. */
struct runner_stage {
        const char *id;        /* container id: also its cgroup's name; unique */
        const char *workdir;   /* the execution's work dir (host path) */
        int workfd;            /* open on it */
        const char *name;      /* this container's bundle dir under workdir ("run") */
        const char *rootfs;    /* the language's tree */
        char *const *argv;     /* the program's command line */
        char *const *env;      /* "KEY=VALUE"s after the defaults */
        const char *cwd;       /* inside */
        const char *code_dir;  /* host dir mounted read-only at /code */
        const char *build_dir; /* host dir mounted at /build, or NULL */
        bool build_writable;
        const struct ce_limits *limits; /* resolved and checked */
        int64_t tmp_bytes;              /* /tmp inside */
        int64_t fsize_bytes;            /* RLIMIT_FSIZE */
        int stdin_fd;                   /* becomes the program's fd 0 */
        struct sup_output_tap tap;      /* live output (supervisor.h); fn NULL: none */
};

/* Run one stage.  client_fd (or -1) is the client's socket: when the client
 * hangs up, the container is killed at once.  It is only watched, never read
 * or closed.  *created is set once runc may have state for stage->id: the
 * caller must then runner_remove it, whatever this returns.
 * 0: the program ran and *res describes it (free with runner_result_clear).
 * <0: the runtime failed (err->http_status 500, with runc's message) or the
 * server could not set up the container. */
int runner_run (const struct runner_config *cfg, const struct runner_stage *stage, int client_fd,
                bool *created, struct runner_result *res, struct ce_error *err);

/* runc delete --force: the container, its cgroups and its runc state. */
void runner_remove (const struct runner_config *cfg, const char *id);

/* "SIGKILL" for 9; NULL for 0. */
const char *runner_signal_name (int sig, char *buf, size_t size);

void runner_result_clear (struct runner_result *res);

/* At start-up: delete every container under runc_root left by an earlier
 * instance that died.  The supervisor must be running. */
int runner_cleanup_stale (const struct runner_config *cfg, struct ce_error *err);

#endif
