/*
 * events.c - an execution's live events, encoded once (see events.h).
 */
#include "events.h"

#include <string.h>

#include "jsongen.h"

/* Encode one event with fill and push it; false when the generator failed
 * or the transport refused it. */
static bool
emit (struct events *e, bool droppable, yajl_gen g, yajl_gen_status st)
{
        const unsigned char *buf;
        size_t len;

        return st == yajl_gen_status_ok && yajl_gen_get_buf (g, &buf, &len) == yajl_gen_status_ok
               && e->out.push (e->out.arg, buf, len, droppable);
}

void
events_init (struct events *e, const struct events_dialect *dialect, void *dialect_ctx,
             const struct events_out *out)
{
        memset (e, 0, sizeof (*e));
        e->dialect = dialect;
        e->dialect_ctx = dialect_ctx;
        e->out = *out;
        e->stage = EXEC_STAGE_RUN;
}

void
events_flush_skipped (struct events *e)
{
        for (int i = 0; i < 2; i++) {
                yajl_gen g;

                if (e->skipped[i] == 0 || (g = jsongen_new ()) == NULL)
                        continue;
                if (emit (e, false, g,
                          e->dialect->skipped (g, e->dialect_ctx, e->stage, i, e->skipped[i])))
                        e->skipped[i] = 0;
                yajl_gen_free (g);
        }
}

/* One whole piece of stream i's output (from the joiner). */
static void
emit_output (void *arg, int i, const char *data, size_t len)
{
        struct events *e = arg;
        cleanup_free char *clean = NULL;
        size_t clean_len;
        yajl_gen g;

        if (len == 0)
                return;
        if (e->out.full (e->out.arg) || ce_utf8_sanitize (data, len, &clean, &clean_len) < 0
            || (g = jsongen_new ()) == NULL) {
                e->skipped[i] += len;
                return;
        }
        events_flush_skipped (e);
        if (! emit (e, true, g,
                    e->dialect->output (g, e->dialect_ctx, e->stage, i, clean, clean_len)))
                e->skipped[i] += len;
        yajl_gen_free (g);
}

void
events_output (struct events *e, int stream, const char *data, size_t len)
{
        int i = stream == 2;

        sink_utf8_feed (&e->joiner[i], data, len, emit_output, e, i);
}

void
events_stage_start (struct events *e, enum exec_stage stage)
{
        yajl_gen g = jsongen_new ();

        e->stage = stage;
        if (g == NULL)
                return;
        emit (e, false, g, e->dialect->stage (g, e->dialect_ctx, stage));
        yajl_gen_free (g);
}

void
events_stage_end (struct events *e, enum exec_stage stage, const struct runner_result *res)
{
        yajl_gen g;

        for (int i = 0; i < 2; i++)
                sink_utf8_flush (&e->joiner[i], emit_output, e, i);
        events_flush_skipped (e);
        g = jsongen_new ();
        if (g == NULL)
                return;
        emit (e, false, g, e->dialect->exit (g, e->dialect_ctx, stage, res));
        yajl_gen_free (g);
}

void
events_test_end (struct events *e, size_t index, const char *name, enum verdict v,
                 const struct runner_result *run)
{
        yajl_gen g;

        if (e->dialect->test == NULL)
                return;
        g = jsongen_new ();
        if (g == NULL)
                return;
        emit (e, false, g, e->dialect->test (g, e->dialect_ctx, index, name, v, run));
        yajl_gen_free (g);
}

const char *
events_stream_name (int stream)
{
        return stream ? "stderr" : "stdout";
}

yajl_gen_status
events_gen_stage (yajl_gen g, void *ctx, enum exec_stage stage)
{
        yajl_gen_status st;

        (void) ctx;
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "stage");
        GEN_KV_STR ("stage", exec_stage_name (stage));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}
