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
 *                  /compile, /run   each container's bundle dir (config.json)
 *
 * The run starts only if the compile succeeded, in a new container that sees
 * nothing of the compiler's but /build.  Nothing here knows a language by its
 * name, and nothing here knows which API the request came in by.
 */
#ifndef CE_EXECUTION_H
#define CE_EXECUTION_H

#include "bundle.h"
#include "common.h"
#include "request.h"
#include "runner.h"
#include "sink.h"

/* The server's limits for each stage: what a stage gets when neither the
 * language nor the request says otherwise, and the most a request may ask. */
struct exec_policy {
        struct ce_limits defaults, ceilings;
        struct ce_limits compile_defaults, compile_ceilings;
};

struct exec_plan {
        const struct ce_language *lang;
        struct ce_limits compile_limits; /* when lang->compile.command */
        struct ce_limits run_limits;
};

/* A stage's limits when the request asks nothing: the server's defaults,
 * replaced by what the language declares, each held to the ceiling. */
void execution_default_limits (const struct ce_language *lang, bool compile,
                               const struct exec_policy *pol, struct ce_limits *out);

/* Resolve the request's limits for every stage of lang.  400 naming the
 * field when one is out of range; 503 when lang is not available. */
int execution_plan (const struct ce_language *lang, const struct ce_request *req,
                    const struct exec_policy *pol, struct exec_plan *plan, struct ce_error *err);

struct exec_result {
        bool compiled;                /* a compile stage ran: `compile` is filled */
        struct runner_result compile; /* its status: ok, compile_error or a limit */
        /* The run's, or after a failed compile a stand-in: no output, the
         * compiler's exit code and signal, no usage. */
        struct runner_result run;
        enum runner_status status; /* of the whole: the run's, or compile_error */
};

/* Called once the result is known (ret: execution_run's return value),
 * before the containers and the work dir are removed, so that the caller can
 * answer at once.  After it, execution_run touches neither plan, req, res
 * nor err: the callee may free them. */
struct exec_done {
        void (*fn) (void *arg, int ret);
        void *arg;
};

/* Run req as planned, on a pool worker (it blocks that worker), in a slot
 * from cfg->warm that fits or, failing that, in containers made now.  client_fd
 * (or -1): the client's socket, watched for hang-up.  sink (or NULL) hears
 * each stage start, its output as it is written and its end (sink.h); it
 * is not called once done->fn has been.  0: *res holds what the
 * stages did (free with execution_result_clear); <0: the runtime failed
 * (500) or the server could not set up the execution.  Whatever happens, the
 * containers, their cgroups, the /build mount and the work dir are gone when
 * it returns. */
int execution_run (const struct runner_config *cfg, const struct exec_plan *plan,
                   const struct ce_request *req, int client_fd, const struct exec_sink *sink,
                   const struct exec_done *done, struct exec_result *res, struct ce_error *err);

void execution_result_clear (struct exec_result *res);

/* A prepared execution: a work dir and, for each stage, a container created
 * under plan's limits whose init waits for its program.  The warm pool
 * (warm.h) keeps them; execution_run uses one exactly once. */
struct exec_slot;

/* An execution's id: its work dir's name and its run container's id
 * ("ce-" and 16 hex digits); a compile stage's container adds "-compile". */
#define CE_EXEC_ID_SIZE 20
int execution_new_id (char buf[CE_EXEC_ID_SIZE]);

/* Make a slot for plan (every stage's container), named id (from
 * execution_new_id; NULL: a new one).  Blocks for as long as the runtime
 * takes.  0 with *out (free with execution_discard or give it to the
 * pool); <0 with the runtime's message. */
int execution_prepare (const struct runner_config *cfg, const struct exec_plan *plan,
                       const char *id, struct exec_slot **out, struct ce_error *err);

/* Delete its containers and its work dir.  NULL is fine. */
void execution_discard (const struct runner_config *cfg, struct exec_slot *s);

/* Whether s can serve plan: the same language, containers made for at
 * least its timeout, and its memory, CPU and pids (with cgroups, which can
 * be changed before the go: execution_run does). */
bool execution_slot_fits (const struct runner_config *cfg, const struct exec_slot *s,
                          const struct exec_plan *plan);

/* Its containers still wait (a cheap check that never blocks). */
bool execution_slot_alive (const struct exec_slot *s);

/* What GET /ready shows of a slot; strings are borrowed from s. */
struct exec_slot_info {
        const char *id; /* its work dir's name; its run container's id */
        const char *language;
        const char *containers[2];
        pid_t pids[2]; /* -1 when unknown */
        size_t ncontainers;
        int fds; /* the server's fds it holds */
};
void execution_slot_describe (const struct exec_slot *s, struct exec_slot_info *info);

/* At start-up, before serving: run one container of lang's tree under the
 * server's configuration with codeengine-init itself as the program (it is
 * in every container), proving the runtime, namespaces, mounts, cgroups,
 * seccomp and the tree.  <0 with runc's own message when it fails. */
int execution_probe (const struct runner_config *cfg, const struct ce_language *lang,
                     const struct ce_limits *limits, struct ce_error *err);

/* At start-up: remove the containers, /build mounts and work dirs an earlier
 * instance that died left behind.  The supervisor must be running. */
int execution_cleanup_stale (const struct runner_config *cfg, struct ce_error *err);

#endif
