/*
 * api_native.c - the front-end of CodeEngine's own API, POST /execute.
 *
 * Translates only: the body goes through request.c's streaming parser into
 * a struct ce_request, the language is looked up by name or alias, and
 * the caller plans it (api_plan: each stage's limits); the result comes back as the
 * documented response (README, "POST /execute").  Errors are
 * {"error": "...", "status"?}.
 */
#include "api.h"

#include "jsongen.h"
#include "runner.h"

static void *
native_parser_new (size_t max_body)
{
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
                return ce_error_set (err, 400, ENOENT, "unknown language '%s'; available: %s", lang,
                                     bundle_names (env->bundles));
        }
        return 0;
}

/* Fields shared by the run and the compile stage. */
static yajl_gen_status
gen_run_fields (yajl_gen g, const struct runner_result *res)
{
        const struct ce_buf *bufs[] = { &res->out.combined, &res->out.stdout_buf,
                                        &res->out.stderr_buf };
        const char *names[] = { "output", "stdout", "stderr" };
        char signame[32];
        const char *sig = runner_signal_name (res->signal, signame, sizeof (signame));
        yajl_gen_status st = yajl_gen_status_ok;

        for (size_t i = 0; i < 3; i++) {
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
        GEN_KV_INT ("time_ms", res->wall_ms);
        GEN_STR ("memory_kb");
        GEN (res->memory_kb < 0 ? yajl_gen_null (g) : yajl_gen_integer (g, res->memory_kb));
fail:
        return st;
}

static yajl_gen_status
native_gen_result (yajl_gen g, const struct api_env *env, const struct api_request *in,
                   const struct exec_result *res)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN (gen_run_fields (g, &res->run));
        GEN_KV_STR ("language", in->lang->name);
        GEN_KV_STR ("version", in->lang->version);
        GEN_KV_STR ("limit_mode", env->limit_mode);
        if (res->compiled) {
                GEN_STR ("compile");
                GEN (yajl_gen_map_open (g));
                GEN (gen_run_fields (g, &res->compile));
                GEN (yajl_gen_map_close (g));
        }
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
native_event_output (yajl_gen g, enum exec_stage stage, int stream, const char *text, size_t len)
{
        yajl_gen_status st;

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
native_event_skipped (yajl_gen g, enum exec_stage stage, int stream, uint64_t bytes)
{
        yajl_gen_status st;

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
native_event_exit (yajl_gen g, enum exec_stage stage, const struct runner_result *res)
{
        char signame[32];
        const char *sig = runner_signal_name (res->signal, signame, sizeof (signame));
        yajl_gen_status st;

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
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static const struct events_dialect native_events = {
        events_gen_stage,
        native_event_output,
        native_event_skipped,
        native_event_exit,
};

const struct api_frontend api_native = {
        .name = "native",
        .streams = true,
        .parser_new = native_parser_new,
        .parser_free = native_parser_free,
        .feed = native_feed,
        .finish = native_finish,
        .gen_result = native_gen_result,
        .gen_error = native_gen_error,
        .events = &native_events,
};
