/*
 * plan.h - what an execution will be, decided before anything runs: the
 * language's stages (compile, when it has one, then run) and each stage's
 * limits, from the server's policy, the language's metadata and the request.
 *
 * Pure data and arithmetic: no container, no file, no thread.  Front-ends
 * plan once a body is parsed (a 400 or 503 comes from here); the warm pool
 * plans each language's default slots; the execution runs the plan.
 */
#ifndef CE_PLAN_H
#define CE_PLAN_H

#include "bundle.h"
#include "common.h"
#include "request.h"

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
        /* The run gets a writable /work, its cwd, holding copies of the
         * request's files (the request asked for output_files). */
        bool work_dir;
};

/* A stage's limits when the request asks nothing: the server's defaults,
 * replaced by what the language declares, each held to the ceiling. */
void plan_default_limits (const struct ce_language *lang, bool compile,
                          const struct exec_policy *pol, struct ce_limits *out);

/* Resolve the request's limits for every stage of lang.  400 naming the
 * field when one is out of range; 503 when lang is not available. */
int plan_make (const struct ce_language *lang, const struct ce_request *req,
               const struct exec_policy *pol, struct exec_plan *plan, struct ce_error *err);

/* A stage's argv: its command (stage is lang's compile or run) with the
 * placeholders ({entry}, {stem}, {sources}: bundle.h) replaced by the
 * request's files as the container sees them, then, when with_args, the
 * request's args.  NULL-terminated, every string the array's own (free
 * with ce_strv_free); NULL on ENOMEM. */
char **plan_argv (const struct ce_language *lang, const struct ce_stage_def *stage,
                  const struct ce_request *req, bool with_args);

/* The name of the request's i-th file in lang's code dir: the language's
 * entry file for a request given as `code`. */
static inline const char *
plan_file_name (const struct ce_language *lang, const struct ce_request *req, size_t i)
{
        return req->from_code && i == 0 ? lang->entry_file : req->files[i].name;
}

#endif
