/*
 * slot.h - a prepared execution: a work dir and, for each stage of a plan,
 * a container created and waiting for its program (runner.h).
 *
 *   STATE/exec/<id>/code     the request's files; read-only at /code in every stage
 *                  /stdin    the run's standard input
 *                  /build    the compile's output: written by the compile stage
 *                            (a size-bounded tmpfs when root), read-only in the run
 *                  /work     only for a request with output_files: the run's
 *                            writable cwd at /work (a size-bounded tmpfs when
 *                            root) holding copies of the request's files
 *                  /compile, /run   each container's bundle dir (config.json)
 *
 * A slot is owned by one thread at a time: the warm pool (warm.h) while it
 * waits, then the execution (execution.h) it serves, exactly once.  Every
 * call may block for as long as the runtime takes, except slot_fits,
 * slot_alive, slot_describe, slot_id and slot_container.
 */
#ifndef CE_SLOT_H
#define CE_SLOT_H

#include "common.h"
#include "plan.h"
#include "runner.h"

struct exec_slot;

/* An execution's id: its work dir's name and its run container's id
 * ("ce-" and 16 hex digits); a compile stage's container adds "-compile". */
#define CE_EXEC_ID_SIZE 20
int slot_new_id (char buf[CE_EXEC_ID_SIZE]);

/* Which of a plan's containers slot_prepare makes. */
enum slot_make {
        SLOT_FIRST,    /* the first stage's: the run's comes after the compile (slot_create_run) */
        SLOT_ALL,      /* every stage's */
        SLOT_PREBUILT, /* the run's only, with an empty /build to fill (slot_open_build) */
};

/* A slot for plan's language and limits, named id (from slot_new_id; NULL:
 * a new one), with the containers `make` says.  0 with *out (free with
 * slot_discard); <0 with the runtime's message, nothing left. */
int slot_prepare (const struct runner_config *cfg, const struct exec_plan *plan, const char *id,
                  enum slot_make make, struct exec_slot **out, struct ce_error *err);

/* An fd (the caller closes it) on the host side of the slot's /build: the
 * compile's output, hostile once the compile ran (never follow what is in
 * it), or the place to put a build from elsewhere before the run starts. */
int slot_open_build (struct exec_slot *s, struct ce_error *err);

/* An fd (the caller closes it) on the host side of the run's /work (made
 * when the plan's work_dir said so; -ENOENT otherwise): hostile once the
 * run ran, never follow what is in it. */
int slot_open_work (struct exec_slot *s, struct ce_error *err);

/* Copy from's /build (hostile: treecopy.h) into to's, which is empty and
 * made SLOT_PREBUILT, within max_bytes and the bounds of a build.  <0
 * (-EFBIG: too large) when it does not fit or changed under the copy: what
 * was copied stays, discard `to`.  Safe on several threads at once for
 * different `to`. */
int slot_copy_build (const struct runner_config *cfg, struct exec_slot *from, struct exec_slot *to,
                     int64_t max_bytes, struct ce_error *err);

/* The run's container, when slot_prepare made only the compile's. */
int slot_create_run (const struct runner_config *cfg, struct exec_slot *s, struct ce_error *err);

/* A run container of its own for test case `index` (> 0) of a submission,
 * made like the slot's (the same limits; id ID-tINDEX, its own bundle dir
 * run-INDEX and /tmp), so that no test sees another's files or processes;
 * /code and /build are the slot's, read-only.  The caller destroys *out.
 * Safe on several threads at once for different indices. */
int slot_create_test_run (const struct runner_config *cfg, const struct exec_slot *s, size_t index,
                          struct runner_container **out, struct ce_error *err);

/* Test case index's standard input: *fd is open on a file of data (or
 * /dev/null when data is NULL); the caller closes it.  Safe on several
 * threads at once for different indices. */
int slot_open_stdin (struct exec_slot *s, size_t index, const char *data, size_t len, int *fd,
                     struct ce_error *err);

/* Delete its containers and its work dir.  NULL is fine. */
void slot_discard (const struct runner_config *cfg, struct exec_slot *s);

/* Whether s can serve plan: the same language, containers made for at
 * least its timeout, and its memory, CPU and pids (with cgroups, which
 * slot_adjust can change before the go), and a work dir exactly when the
 * plan wants one (warm slots have none). */
bool slot_fits (const struct runner_config *cfg, const struct exec_slot *s,
                const struct exec_plan *plan);

/* Give s's containers plan's cgroup limits where they differ.  <0: s
 * should not be used. */
int slot_adjust (const struct runner_config *cfg, struct exec_slot *s, const struct exec_plan *plan,
                 struct ce_error *err);

/* Its containers still wait (a cheap check that never blocks). */
bool slot_alive (const struct exec_slot *s);

/* The request's files under code/ and its stdin: *stdin_fd is open on the
 * run's standard input (the caller closes it). */
int slot_write_request (struct exec_slot *s, const struct ce_request *req, int *stdin_fd,
                        struct ce_error *err);

const char *slot_id (const struct exec_slot *s);

/* The compile's or the run's container; NULL when not made. */
struct runner_container *slot_container (const struct exec_slot *s, bool compile);

/* What GET /ready shows of a slot; strings are borrowed from s. */
struct exec_slot_info {
        const char *id; /* its work dir's name; its run container's id */
        const char *language;
        const char *containers[2];
        pid_t pids[2]; /* -1 when unknown */
        size_t ncontainers;
        int fds; /* the server's fds it holds */
};
void slot_describe (const struct exec_slot *s, struct exec_slot_info *info);

/* At start-up: remove the work dirs (and /build, /work mounts) an earlier instance
 * that died left under the exec dir. */
int slot_cleanup_stale (const struct runner_config *cfg, struct ce_error *err);

#endif
