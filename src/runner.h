/*
 * runner.h - the life of one container: config.json, runc, wait, accounting.
 *
 * A container's life has two halves.  runner_create writes its config.json
 * and starts it under runc: namespaces, mounts and cgroup exist, and its
 * codeengine-init waits for a go message (init_report.h).  runner_start sends
 * that message - the program's argv and stdin - and waits for the program,
 * its timeout counted from then.  The halves may be far apart: a warm
 * container (warm.h) is created before its request exists.  Both block the
 * calling thread only (a pool worker, or the warm pool's refill thread).
 * runner_destroy deletes the container, so that the caller can answer
 * before paying for runc delete.  A container serves exactly one start.
 */
#ifndef CE_RUNNER_H
#define CE_RUNNER_H

#include "cgroup.h"
#include "common.h"
#include "stage_limits.h"
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
        int seccomp_fd;        /* the profile compiled once (seccomp_bpf.h), sealed, > 4:
                                * init installs it on itself; -1: none */
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
        bool cached;       /* a compile's, from the compile cache (cache.h): it ran earlier */
};

const char *runner_status_name (enum runner_status s);

/* What a container is made with: everything but the program.  Borrowed. */
struct runner_stage {
        const char *id;        /* container id: also its cgroup's name; unique */
        const char *workdir;   /* the execution's work dir (host path) */
        int workfd;            /* open on it */
        const char *name;      /* this container's bundle dir under workdir ("run") */
        const char *rootfs;    /* the language's tree */
        char *const *env;      /* "KEY=VALUE"s after the defaults */
        const char *cwd;       /* inside */
        const char *code_dir;  /* host dir mounted read-only at /code */
        const char *build_dir; /* host dir mounted at /build, or NULL */
        bool build_writable;
        const char *work_dir;           /* host dir mounted writable at /work, or NULL */
        const struct ce_limits *limits; /* memory, cpus, pids; timeout bounds RLIMIT_CPU */
        int64_t tmp_bytes;              /* /tmp inside */
        int64_t fsize_bytes;            /* RLIMIT_FSIZE */
};

/* What it runs, given at start.  Borrowed. */
struct runner_go {
        char *const *argv;              /* the program's command line */
        int stdin_fd;                   /* becomes the program's fd 0 */
        const struct ce_limits *limits; /* timeout and output; the rest as created */
        struct sup_output_tap tap;      /* live output (supervisor.h); fn NULL: none */
};

struct runner_container;

/* Create and start the container; its init then waits for runner_start.
 * 0 with *out set (free with runner_destroy); <0 with runc's message
 * (an internal failure: ce_fail), and then nothing of it is left. */
int runner_create (const struct runner_config *cfg, const struct runner_stage *stage,
                   struct runner_container **out, struct ce_error *err);

/* Run go's program in c, once.  client_fd (or -1) is the client's socket:
 * when the client hangs up, the container is killed at once.  It is only
 * watched, never read or closed.  Time, CPU and memory count from here.
 * 0: the program ran and *res describes it (free with runner_result_clear).
 * -EPIPE: the container had already ended, nothing ran (a warm container
 * that died while it waited).  Other <0: the server could not run it.  In
 * every case c is spent: runner_destroy it. */
int runner_start (const struct runner_config *cfg, struct runner_container *c,
                  const struct runner_go *go, int client_fd, struct runner_result *res,
                  struct ce_error *err);

/* Whether runner_update works under cfg: root with cgroups. */
bool runner_can_update (const struct runner_config *cfg);

/* Before its start, give c other memory, CPU and pids limits (`runc
 * update`): only where runner_can_update.  <0: c is unchanged and should not be used. */
int runner_update (const struct runner_config *cfg, struct runner_container *c,
                   const struct ce_limits *limits, struct ce_error *err);

/* runc delete --force, then free c.  NULL is fine. */
void runner_destroy (const struct runner_config *cfg, struct runner_container *c);

/* Not started, and its init still waits for the go (checked without
 * blocking: it may die right after). */
bool runner_alive (const struct runner_container *c);

/* For GET /ready: the container's id, its init's host pid (-1 if unknown)
 * and how many of the server's fds it holds. */
const char *runner_container_id (const struct runner_container *c);
pid_t runner_container_pid (const struct runner_container *c);
int runner_container_fds (const struct runner_container *c);

/* runc delete --force: the container, its cgroups and its runc state. */
void runner_remove (const struct runner_config *cfg, const char *id);

/* "SIGKILL" for 9; NULL for 0. */
const char *runner_signal_name (int sig, char *buf, size_t size);

void runner_result_clear (struct runner_result *res);

/* At start-up: delete every container under runc_root left by an earlier
 * instance that died.  The supervisor must be running. */
int runner_cleanup_stale (const struct runner_config *cfg, struct ce_error *err);

#endif
