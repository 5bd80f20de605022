/*
 * plan.c - a request's stages and their limits (see plan.h).
 */
#include "plan.h"

#include <string.h>

#include "oci_spec.h" /* CE_CODE_DIR */

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
                return ce_refuse (err, 503, ENOENT,
                                  "language '%s' is not available on this server: %s", lang->name,
                                  lang->reason ? lang->reason : "not prepared");
        memset (plan, 0, sizeof (*plan));
        plan->lang = lang;
        plan->work_dir = req->noutput_files > 0;
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

static bool
is_source (const struct ce_language *lang, const char *name)
{
        size_t n = strlen (name);

        for (char **s = lang->sources; *s; s++) {
                size_t k = strlen (*s);

                if (n > k && strcmp (name + n - k, *s) == 0)
                        return true;
        }
        return false;
}

/* s with every `from` replaced by `to`; malloc'd. */
static char *
replace_all (const char *s, const char *from, const char *to)
{
        struct ce_buf b = { 0 };
        size_t flen = strlen (from), tlen = strlen (to);
        const char *hit;

        if (ce_buf_append (&b, "", 0) < 0)
                return NULL;
        while ((hit = strstr (s, from)) != NULL) {
                if (ce_buf_append (&b, s, (size_t) (hit - s)) < 0
                    || ce_buf_append (&b, to, tlen) < 0)
                        goto fail;
                s = hit + flen;
        }
        if (ce_buf_append (&b, s, strlen (s)) < 0)
                goto fail;
        return b.data;
fail:
        ce_buf_free (&b);
        return NULL;
}

/* Append a malloc'd copy of s (NULL: out of memory) to v, which has room. */
static int
push (char **v, size_t *n, char *s)
{
        if (s == NULL)
                return -ENOMEM;
        v[(*n)++] = s;
        return 0;
}

static char *
path_inside (const char *name)
{
        char *p;

        return asprintf (&p, "%s/%s", CE_CODE_DIR, name) < 0 ? NULL : p;
}

char **
plan_argv (const struct ce_language *lang, const struct ce_stage_def *stage,
           const struct ce_request *req, bool with_args)
{
        const char *entry = plan_file_name (lang, req, 0);
        const char *base = strrchr (entry, '/') ? strrchr (entry, '/') + 1 : entry;
        const char *dot = strrchr (base, '.');
        cleanup_free char *entry_path = path_inside (entry);
        cleanup_free char *stem =
                strndup (base, dot && dot != base ? (size_t) (dot - base) : strlen (base));
        size_t ncmd = 0, n = 0, nfiles = req->from_code ? 1 : req->nfiles;
        char **argv;

        while (stage->command[ncmd])
                ncmd++;
        if (entry_path == NULL || stem == NULL)
                return NULL;
        argv = calloc (ncmd * nfiles + req->ncompiler_args + (with_args ? req->nargs : 0) + 1,
                       sizeof (char *));
        if (argv == NULL)
                return NULL;
        for (size_t i = 0; i < ncmd; i++) {
                const char *c = stage->command[i];
                cleanup_free char *step = NULL;
                int ret = 0;

                if (strcmp (c, BUNDLE_OPTIONS_PLACEHOLDER) == 0) {
                        for (size_t k = 0; ret == 0 && k < req->ncompiler_args; k++)
                                ret = push (argv, &n, strdup (req->compiler_args[k]));
                } else if (strcmp (c, BUNDLE_SOURCES_PLACEHOLDER) == 0) {
                        ret = push (argv, &n, strdup (entry_path));
                        for (size_t f = 1; ret == 0 && f < nfiles; f++)
                                if (is_source (lang, plan_file_name (lang, req, f)))
                                        ret = push (argv, &n,
                                                    path_inside (plan_file_name (lang, req, f)));
                } else {
                        step = replace_all (c, BUNDLE_ENTRY_PLACEHOLDER, entry_path);
                        ret = push (argv, &n,
                                    step ? replace_all (step, BUNDLE_STEM_PLACEHOLDER, stem)
                                         : NULL);
                }
                if (ret < 0) {
                        ce_strv_free (argv);
                        return NULL;
                }
        }
        for (size_t i = 0; with_args && i < req->nargs; i++)
                if (push (argv, &n, strdup (req->args[i])) < 0) {
                        ce_strv_free (argv);
                        return NULL;
                }
        return argv;
}
