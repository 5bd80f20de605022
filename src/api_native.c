/*
 * api_native.c - the front-end of CodeEngine's own API: POST /execute, the
 * same body as an asynchronous job (POST /executions, GET and DELETE
 * /executions/{id}), and GET /version (and /) and /languages, built once at
 * start-up; a browser's GET / gets the playground's page instead, and
 * /playground/ its files (playground.h), which http.c serves.
 *
 * Translates only: the body goes through request.c's streaming parser into
 * a struct ce_request, the language is looked up by name or alias, and
 * the caller plans it (api_plan: each stage's limits); the result comes back as the
 * documented response (docs/api.md, "POST /execute").  Errors are
 * {"error": "...", "status"?}.
 */
#include "api.h"

#include "jsongen.h"
#include "outfiles.h"
#include "runner.h"

static void *
native_parser_new (size_t max_body, const struct api_query *q)
{
        (void) q;
        return request_parser_new (max_body);
}

static void
native_parser_free (void *p)
{
        request_parser_free (p);
}

static int
native_feed (void *p, const char *data, size_t len, struct ce_error *err)
{
        return request_parser_feed (p, data, len, err);
}

static int
native_finish (void *p, const struct api_env *env, struct api_request *out, struct ce_error *err)
{
        int ret = request_parser_finish (p, &out->req, err);

        if (ret < 0)
                return ret;
        out->lang = bundle_lookup (env->bundles, out->req->language);
        if (out->lang == NULL) {
                char lang[65];

                snprintf (lang, sizeof (lang), "%s", out->req->language);
                return ce_refuse (err, 400, ENOENT, "unknown language '%s'; available: %s", lang,
                                  bundle_names (env->bundles));
        }
        return 0;
}

/* Fields shared by the run and the compile stage, and a test's; `whole`:
 * with the first API's output (both streams) and time_ms, which a test's
 * entry leaves out. */
static yajl_gen_status
gen_run_fields (yajl_gen g, const struct runner_result *res, bool whole)
{
        const struct ce_buf *bufs[] = { &res->out.combined, &res->out.stdout_buf,
                                        &res->out.stderr_buf };
        const char *names[] = { "output", "stdout", "stderr" };
        char signame[32];
        const char *sig = runner_signal_name (res->signal, signame, sizeof (signame));
        yajl_gen_status st = yajl_gen_status_ok;

        for (size_t i = whole ? 0 : 1; i < 3; i++) {
                cleanup_free char *clean = NULL;
                size_t len;

                if (ce_utf8_sanitize (bufs[i]->data ? bufs[i]->data : "", bufs[i]->len, &clean,
                                      &len)
                    < 0)
                        return yajl_gen_invalid_string;
                GEN_STR (names[i]);
                GEN_STRN (clean, len);
        }
        GEN_KV_INT ("exit_code", res->exit_code);
        GEN_STR ("signal");
        GEN (sig ? yajl_gen_string (g, (const unsigned char *) sig, strlen (sig))
                 : yajl_gen_null (g));
        GEN_KV_STR ("status", runner_status_name (res->status));
        GEN_KV_BOOL ("truncated", res->truncated);
        GEN_STR ("time");
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("wall_ms", res->wall_ms);
        GEN_STR ("cpu_ms");
        GEN (res->cpu_ms < 0 ? yajl_gen_null (g) : yajl_gen_integer (g, res->cpu_ms));
        GEN (yajl_gen_map_close (g));
        /* time_ms: the first API's field, kept for existing clients. */
        if (whole)
                GEN_KV_INT ("time_ms", res->wall_ms);
        GEN_STR ("memory_kb");
        GEN (res->memory_kb < 0 ? yajl_gen_null (g) : yajl_gen_integer (g, res->memory_kb));
fail:
        return st;
}

/* A test case's fields, in the answer's "tests" and in its stream event:
 * name, verdict, and the run's fields when it ran (run NULL: skipped). */
static yajl_gen_status
gen_test_fields (yajl_gen g, const char *name, enum verdict v, const struct runner_result *run,
                 bool clipped)
{
        yajl_gen_status st;

        GEN_STR ("name");
        GEN (name ? yajl_gen_string (g, (const unsigned char *) name, strlen (name))
                  : yajl_gen_null (g));
        GEN_KV_STR ("verdict", verdict_name (v));
        if (run) {
                GEN (gen_run_fields (g, run, false));
                if (clipped)
                        GEN_KV_BOOL ("output_clipped", true);
        } else {
                /* Never ran: the same keys, nothing in them. */
                GEN_STR ("status");
                GEN (yajl_gen_null (g));
                GEN_KV_STR ("stdout", "");
                GEN_KV_STR ("stderr", "");
                GEN_STR ("exit_code");
                GEN (yajl_gen_null (g));
                GEN_STR ("signal");
                GEN (yajl_gen_null (g));
                GEN_KV_BOOL ("truncated", false);
                GEN_STR ("time");
                GEN (yajl_gen_map_open (g));
                GEN_KV_INT ("wall_ms", 0);
                GEN_STR ("cpu_ms");
                GEN (yajl_gen_null (g));
                GEN (yajl_gen_map_close (g));
                GEN_STR ("memory_kb");
                GEN (yajl_gen_null (g));
        }
fail:
        return st;
}

static yajl_gen_status
gen_tests (yajl_gen g, const struct ce_request *req, const struct exec_result *res)
{
        yajl_gen_status st;

        GEN_KV_STR ("verdict", verdict_name (res->verdict));
        GEN_KV_INT ("passed", res->passed);
        GEN_KV_INT ("total", res->ntests);
        GEN_STR ("tests");
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < res->ntests; i++) {
                const struct exec_test *t = &res->tests[i];

                GEN (yajl_gen_map_open (g));
                GEN (gen_test_fields (g, req->tests[i].name, t->verdict, t->ran ? &t->run : NULL,
                                      t->clipped));
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

static yajl_gen_status
native_gen_result (yajl_gen g, const struct api_env *env, const struct api_request *in,
                   const struct exec_result *res)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN (gen_run_fields (g, result_first (res), true));
        GEN_KV_STR ("language", in->lang->name);
        GEN_KV_STR ("version", in->lang->version);
        GEN_KV_STR ("limit_mode", env->limit_mode);
        if (res->compiled) {
                GEN_STR ("compile");
                GEN (yajl_gen_map_open (g));
                GEN (gen_run_fields (g, &res->compile, true));
                /* From the compile cache: nothing compiled now. */
                GEN_KV_BOOL ("cached", res->compile.cached);
                GEN (yajl_gen_map_close (g));
        }
        if (res->ntests)
                GEN (gen_tests (g, in->req, res));
        if (in->req->noutput_files)
                GEN (outfiles_gen (g, &res->files));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* {"error": msg[, "status": status]} */
static yajl_gen_status
native_gen_error (yajl_gen g, const char *msg, const char *status)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("error", msg);
        if (status)
                GEN_KV_STR ("status", status);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* -- live events (events.h): NDJSON's lines -------------------------------- */

static yajl_gen_status
native_event_output (yajl_gen g, void *ctx, enum exec_stage stage, int stream, const char *text,
                     size_t len)
{
        yajl_gen_status st;

        (void) ctx;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", events_stream_name (stream));
        GEN_KV_STR ("stage", exec_stage_name (stage));
        GEN_STR ("data");
        GEN_STRN (text, len);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
native_event_skipped (yajl_gen g, void *ctx, enum exec_stage stage, int stream, uint64_t bytes)
{
        yajl_gen_status st;

        (void) ctx;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "skipped");
        GEN_KV_STR ("stage", exec_stage_name (stage));
        GEN_KV_STR ("stream", events_stream_name (stream));
        GEN_KV_INT ("bytes", bytes);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
native_event_exit (yajl_gen g, void *ctx, enum exec_stage stage, const struct runner_result *res)
{
        char signame[32];
        const char *sig = runner_signal_name (res->signal, signame, sizeof (signame));
        yajl_gen_status st;

        (void) ctx;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "exit");
        GEN_KV_STR ("stage", exec_stage_name (stage));
        GEN_KV_STR ("status", runner_status_name (res->status == RUN_RUNTIME_ERROR
                                                                  && stage == EXEC_STAGE_COMPILE
                                                          ? RUN_COMPILE_ERROR
                                                          : res->status));
        GEN_KV_INT ("exit_code", res->exit_code);
        GEN_STR ("signal");
        GEN (sig ? yajl_gen_string (g, (const unsigned char *) sig, strlen (sig))
                 : yajl_gen_null (g));
        if (stage == EXEC_STAGE_COMPILE)
                GEN_KV_BOOL ("cached", res->cached);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
native_event_test (yajl_gen g, void *ctx, size_t index, const char *name, enum verdict v,
                   const struct runner_result *run)
{
        yajl_gen_status st;

        (void) ctx;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "test");
        GEN_KV_INT ("index", index);
        GEN (gen_test_fields (g, name, v, run, false));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_limits (yajl_gen g, const char *key, const struct ce_limits *l)
{
        yajl_gen_status st;

        GEN_STR (key);
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("timeout_ms", l->timeout_ms);
        GEN_KV_INT ("memory_mb", l->memory_mb);
        GEN_STR ("cpus");
        GEN (yajl_gen_double (g, l->cpus));
        GEN_KV_INT ("output_bytes", l->output_bytes);
        GEN_KV_INT ("pids", l->pids);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* GET / and GET /version: built once, at start-up. */
static yajl_gen_status
gen_version (yajl_gen g, const struct api_env *c)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("name", "codeengine");
        GEN_KV_STR ("version", CE_VERSION);
        GEN_KV_STR ("runtime", c->runtime_version);
        GEN_KV_STR ("cgroup", c->cgroup);
        GEN_KV_STR ("limit_mode", c->limit_mode);
        GEN_KV_BOOL ("rootless", c->rootless);
        GEN_KV_INT ("max_concurrent", c->max_concurrent);
        GEN_KV_INT ("queue", c->queue);
        GEN_KV_INT ("max_body", c->max_body);
        GEN (gen_limits (g, "limits", &c->policy->defaults));
        GEN (gen_limits (g, "ceilings", &c->policy->ceilings));
        GEN (gen_limits (g, "compile_limits", &c->policy->compile_defaults));
        GEN (gen_limits (g, "compile_ceilings", &c->policy->compile_ceilings));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* GET /languages: built once, at start-up.  Unavailable languages are
 * listed too, with the reason, so that a client sees what is missing. */
yajl_gen_status
api_gen_languages (yajl_gen g, const struct api_env *c)
{
        yajl_gen_status st;

        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < bundle_count (c->bundles); i++) {
                const struct ce_language *l = bundle_at (c->bundles, i);
                struct ce_limits lim;

                GEN (yajl_gen_map_open (g));
                GEN_KV_STR ("name", l->name);
                GEN_KV_STR ("version", l->version);
                GEN_STR ("aliases");
                GEN (yajl_gen_array_open (g));
                for (char **a = l->aliases; *a; a++)
                        GEN_STR (*a);
                GEN (yajl_gen_array_close (g));
                GEN_KV_STR ("entry_file", l->entry_file);
                GEN_KV_BOOL ("compiled", l->compile.command != NULL);
                plan_default_limits (l, false, c->policy, &lim);
                GEN (gen_limits (g, "limits", &lim));
                if (l->compile.command) {
                        plan_default_limits (l, true, c->policy, &lim);
                        GEN (gen_limits (g, "compile_limits", &lim));
                }
                GEN_KV_BOOL ("available", l->available);
                if (! l->available)
                        GEN_KV_STR ("reason", l->reason ? l->reason : "not prepared");
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

/* POST /executions: 202 {"id"}. */
static yajl_gen_status
native_gen_accepted (yajl_gen g, const struct store_job *job, const struct api_query *q)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("id", job->id);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* A store time (ms since the epoch, 0: not yet) as RFC 3339 UTC with
 * milliseconds, or null. */
static yajl_gen_status
gen_time (yajl_gen g, const char *key, int64_t ms)
{
        yajl_gen_status st;
        char buf[64];
        struct tm tm;
        time_t t = (time_t) (ms / 1000);

        GEN_STR (key);
        if (ms <= 0 || gmtime_r (&t, &tm) == NULL)
                return yajl_gen_null (g);
        snprintf (buf, sizeof (buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms % 1000));
        GEN_STR (buf);
fail:
        return st;
}

/* GET /executions/{id}: {"id", "state", "result", times}.  result is
 * exactly the body /execute would have answered (also its error body, for
 * an execution the server could not run), or an error body naming why
 * nobody answered ("cancelled", "abandoned: ..."); null until done. */
static yajl_gen_status
native_gen_job (yajl_gen g, const struct store_job *job, const struct api_query *q)
{
        static const char *const states[] = { "queued", "running", "done" };
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("id", job->id);
        GEN_KV_STR ("state", states[job->state]);
        GEN_STR ("result");
        if (job->result) {
                GEN_RAW (job->result, job->result_len);
        } else if (job->failure) {
                bool cancelled = strcmp (job->failure, STORE_FAILURE_CANCELLED) == 0;

                GEN (native_gen_error (g, cancelled ? "the execution was cancelled" : job->failure,
                                       cancelled ? "cancelled" : "abandoned"));
        } else {
                GEN (yajl_gen_null (g));
        }
        GEN_KV_INT ("attempts", job->attempts);
        GEN (gen_time (g, "created_at", job->created_ms));
        GEN (gen_time (g, "started_at", job->started_ms));
        GEN (gen_time (g, "finished_at", job->finished_ms));
        GEN (gen_time (g, "expires_at", job->expires_ms));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static const struct events_dialect native_events = {
        events_gen_stage,  native_event_output, native_event_skipped,
        native_event_exit, native_event_test,
};

static const struct api_route native_routes[] = {
        { .path = "/execute",
          .methods = "POST",
          .kind = API_ROUTE_EXECUTE,
          .wrong_method = "use POST /execute" },
        { .path = "/",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_version,
          .page = "index.html" },
        { .path = "/playground/",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_ASSET,
          .wrong_method = "use GET" },
        { .path = "/version",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_version },
        { .path = "/languages",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = api_gen_languages },
        { .path = "/executions",
          .methods = "POST",
          .kind = API_ROUTE_SUBMIT,
          .wrong_method = "use POST /executions" },
        { .path = "/executions/",
          .methods = "GET, HEAD, DELETE",
          .kind = API_ROUTE_JOB,
          .wrong_method = "use GET or DELETE /executions/{id}" },
        { .path = NULL },
};

const struct api_frontend api_native = {
        .name = "native",
        .prefix = "",
        .routes = native_routes,
        .not_found = "not found: the API is GET /health, GET /ready, GET /languages, GET /version, "
                     "POST /execute, POST /executions, GET and DELETE /executions/{id} (and "
                     "Piston's under /api/v2/, Judge0's under /judge0/)",
        .streams = true,
        .parser_new = native_parser_new,
        .parser_free = native_parser_free,
        .feed = native_feed,
        .finish = native_finish,
        .gen_result = native_gen_result,
        .gen_error = native_gen_error,
        .events = &native_events,
        .gen_accepted = native_gen_accepted,
        .gen_job = native_gen_job,
};
