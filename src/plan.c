/*
 * plan.c - a request's stages and their limits (see plan.h).
 */
#include "plan.h"

#include <string.h>

static void
hold_to (struct ce_limits *l, const struct ce_limits *ceil)
{
        if (l->timeout_ms > ceil->timeout_ms)
                l->timeout_ms = ceil->timeout_ms;
        if (l->memory_mb > ceil->memory_mb)
                l->memory_mb = ceil->memory_mb;
        if (l->cpus > ceil->cpus)
                l->cpus = ceil->cpus;
        if (l->output_bytes > ceil->output_bytes)
                l->output_bytes = ceil->output_bytes;
        if (l->pids > ceil->pids)
                l->pids = ceil->pids;
}

void
plan_default_limits (const struct ce_language *lang, bool compile, const struct exec_policy *pol,
                     struct ce_limits *out)
{
        const struct ce_stage_def *s = compile ? &lang->compile : &lang->run;
        const struct ce_limits *l = &s->limits;

        *out = compile ? pol->compile_defaults : pol->defaults;
        if (s->limits_given & LIMIT_TIMEOUT)
                out->timeout_ms = l->timeout_ms;
        if (s->limits_given & LIMIT_MEMORY)
                out->memory_mb = l->memory_mb;
        if (s->limits_given & LIMIT_CPUS)
                out->cpus = l->cpus;
        if (s->limits_given & LIMIT_OUTPUT)
                out->output_bytes = l->output_bytes;
        if (s->limits_given & LIMIT_PIDS)
                out->pids = l->pids;
        hold_to (out, compile ? &pol->compile_ceilings : &pol->ceilings);
}

int
plan_make (const struct ce_language *lang, const struct ce_request *req,
           const struct exec_policy *pol, struct exec_plan *plan, struct ce_error *err)
{
        struct ce_limits defaults;
        struct ce_limits asked = req->compile_limits;
        unsigned given = req->compile_limits_given;
        int ret;

        if (! lang->available)
                return ce_error_set (err, 503, ENOENT,
                                     "language '%s' is not available on this server: %s",
                                     lang->name, lang->reason ? lang->reason : "not prepared");
        memset (plan, 0, sizeof (*plan));
        plan->lang = lang;
        plan_default_limits (lang, false, pol, &defaults);
        ret = request_resolve_limits (&req->limits, req->limits_given, "", &defaults,
                                      &pol->ceilings, &plan->run_limits, err);
        if (ret < 0 || lang->compile.command == NULL)
                return ret;
        /* output_bytes bounds what either stage may print. */
        if (req->limits_given & LIMIT_OUTPUT) {
                asked.output_bytes = plan->run_limits.output_bytes;
                given |= LIMIT_OUTPUT;
        }
        plan_default_limits (lang, true, pol, &defaults);
        return request_resolve_limits (&asked, given, "compile_", &defaults, &pol->compile_ceilings,
                                       &plan->compile_limits, err);
}
