/*
 * execution.h - one request's execution: a short list of stages.
 *
 * The planner turns a language's metadata (bundle.h) and a request into
 * stages - compile, when the language has one, then run - each with its own
 * limits, and runs each in a fresh container (runner.h) inside one work dir
 * of the execution's:
 *
 *   STATE/exec/<id>/code     the request's files; read-only at /code in every stage
 *                  /stdin    the run's standard input
 *                  /build    the compile's output: written by the compile stage
 *                            (a size-bounded tmpfs when root), read-only in the run
 *                  /work     with output_files only: the run's writable cwd,
 *                            collected after it (outfiles.h)
 *                  /compile, /run   each container's bundle dir (config.json)
 *
 * The run starts only if the compile succeeded, in a new container that sees
 * nothing of the compiler's but /build; a compile the compile cache knows
 * (cache.h) is not run again.  A submission with test cases compiles once
 * and runs once per test, each in a fresh run container with its own stdin
 * and args, several at once (judge.h), judged by the request's checker
 * (verdict.h).  Nothing here knows a language by its name, and nothing here
 * knows which API the request came in by.
 */
#ifndef CE_EXECUTION_H
#define CE_EXECUTION_H

#include "common.h"
#include "exec_env.h"
#include "plan.h"
#include "result.h"
#include "runner.h"
#include "sink.h"

/* Called once the result is known (ret: execution_run's return value),
 * before the containers and the work dir are removed, so that the caller can
 * answer at once.  After it, execution_run touches neither plan, req, res
 * nor err: the callee may free them. */
struct exec_done {
        void (*fn) (void *arg, int ret);
        void *arg;
};

/* Run req as planned, on a pool worker (it blocks that worker), in a slot
 * (slot.h) from env's warm pool that fits or, failing that, in containers
 * made now; a compile env's cache holds is not run again.  client_fd
 * (or -1): the client's socket, watched for hang-up.  sink (or NULL) hears
 * each stage start, its output as it is written and its end (sink.h); it
 * is not called once done->fn has been.  0: *res holds what the
 * stages did (free with execution_result_clear); <0: the runtime failed
 * (500) or the server could not set up the execution.  Whatever happens, the
 * containers, their cgroups, the /build mount and the work dir are gone when
 * it returns. */
int execution_run (const struct exec_env *env, const struct exec_plan *plan,
                   const struct ce_request *req, int client_fd, const struct exec_sink *sink,
                   const struct exec_done *done, struct exec_result *res, struct ce_error *err);

/* At start-up, before serving: run one container of lang's tree under the
 * server's configuration with codeengine-init itself as the program (it is
 * in every container), proving the runtime, namespaces, mounts, cgroups,
 * seccomp and the tree.  <0 with runc's own message when it fails. */
int execution_probe (const struct runner_config *cfg, const struct ce_language *lang,
                     const struct ce_limits *limits, struct ce_error *err);

/* At start-up: remove the containers, cgroups, /build mounts and work dirs
 * an earlier instance that died left behind.  The supervisor must be running. */
int execution_cleanup_stale (const struct runner_config *cfg, struct ce_error *err);

#endif
