/*
 * stream_ndjson.c - an execution's events as NDJSON lines, sent as they
 * come.  The design, the threads and the lock order are in stream_ndjson.h.
 */
#include "stream_ndjson.h"

#include <pthread.h>
#include <string.h>

#include "jsongen.h"

struct ndjson_stream {
        pthread_mutex_t lock; /* guards everything below */
        struct MHD_Connection *conn;
        int refs;
        struct ce_buf out; /* ready lines; out.data[sent..len) not yet read */
        size_t sent;
        bool ended;     /* the last line is in out */
        bool suspended; /* the reader suspended conn: the next line resumes it */
        enum exec_stage stage;
        /* per stream (stdout, stderr): an incomplete UTF-8 sequence held back
         * for the next chunk, and bytes dropped for a slow reader */
        struct sink_utf8_joiner joiner[2];
        uint64_t skipped[2];
        struct exec_sink sink;
};

static const char *const stream_names[2] = { "stdout", "stderr" };

/* Append one generated line.  Lock held; wakes the reader.  Every unsent
 * byte counts in the server's total (sink.h); a droppable line (output)
 * that would pass this stream's bound or the total is refused: false. */
static bool
push_line (struct ndjson_stream *s, yajl_gen g, bool droppable)
{
        const unsigned char *buf;
        size_t len, before = s->out.len;

        if (yajl_gen_get_buf (g, &buf, &len) != yajl_gen_status_ok)
                return false;
        if (droppable) {
                if (s->out.len - s->sent + len + 1 > STREAM_MAX_PENDING
                    || ! sink_budget_take (len + 1))
                        return false;
        } else {
                sink_budget_add (len + 1);
        }
        if (ce_buf_append (&s->out, buf, len) < 0 || ce_buf_append (&s->out, "\n", 1) < 0) {
                s->out.len = before;
                sink_budget_release (len + 1);
                return false;
        }
        if (s->suspended) {
                s->suspended = false;
                MHD_resume_connection (s->conn);
        }
        return true;
}

static yajl_gen
new_gen (void)
{
        yajl_gen g = yajl_gen_alloc (NULL);

        if (g)
                yajl_gen_config (g, yajl_gen_validate_utf8, 1);
        return g;
}

/* {"type":"skipped",...} for what a slow reader missed.  Lock held. */
static void
push_skipped (struct ndjson_stream *s)
{
        for (int i = 0; i < 2; i++) {
                yajl_gen g;
                yajl_gen_status st;

                if (s->skipped[i] == 0)
                        continue;
                g = new_gen ();
                if (g == NULL)
                        return;
                GEN (yajl_gen_map_open (g));
                GEN_KV_STR ("type", "skipped");
                GEN_KV_STR ("stage", exec_stage_name (s->stage));
                GEN_KV_STR ("stream", stream_names[i]);
                GEN_KV_INT ("bytes", s->skipped[i]);
                GEN (yajl_gen_map_close (g));
                push_line (s, g, false);
                s->skipped[i] = 0;
        fail:
                yajl_gen_free (g);
        }
}

/* One output line for stream i.  Lock held. */
static void
push_output (struct ndjson_stream *s, int i, const char *data, size_t len)
{
        cleanup_free char *clean = NULL;
        size_t clean_len;
        yajl_gen g;
        yajl_gen_status st;

        if (len == 0)
                return;
        if (s->out.len - s->sent >= STREAM_MAX_PENDING) {
                s->skipped[i] += len;
                return;
        }
        push_skipped (s);
        if (ce_utf8_sanitize (data, len, &clean, &clean_len) < 0 || (g = new_gen ()) == NULL) {
                s->skipped[i] += len;
                return;
        }
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", stream_names[i]);
        GEN_KV_STR ("stage", exec_stage_name (s->stage));
        GEN_STR ("data");
        GEN_STRN (clean, clean_len);
        GEN (yajl_gen_map_close (g));
        if (! push_line (s, g, true))
                s->skipped[i] += len;
fail:
        yajl_gen_free (g);
}

static void
emit_output (void *arg, int i, const char *data, size_t len)
{
        push_output (arg, i, data, len);
}

/* Supervisor thread, its lock held: never blocks but on our own lock,
 * which nobody holds for long. */
static void
on_output (void *arg, int stream, const char *data, size_t len)
{
        struct ndjson_stream *s = arg;
        int i = stream == 2;

        pthread_mutex_lock (&s->lock);
        if (! s->ended)
                sink_utf8_feed (&s->joiner[i], data, len, emit_output, s, i);
        pthread_mutex_unlock (&s->lock);
}

static void
on_stage_start (void *arg, enum exec_stage stage)
{
        struct ndjson_stream *s = arg;
        yajl_gen g = new_gen ();
        yajl_gen_status st;

        pthread_mutex_lock (&s->lock);
        s->stage = stage;
        if (g == NULL || s->ended)
                goto fail;
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "stage");
        GEN_KV_STR ("stage", exec_stage_name (stage));
        GEN (yajl_gen_map_close (g));
        push_line (s, g, false);
fail:
        pthread_mutex_unlock (&s->lock);
        if (g)
                yajl_gen_free (g);
}

static void
on_stage_end (void *arg, enum exec_stage stage, const struct runner_result *res)
{
        struct ndjson_stream *s = arg;
        char signame[32];
        const char *sig = runner_signal_name (res->signal, signame, sizeof (signame));
        yajl_gen g = new_gen ();
        yajl_gen_status st;

        pthread_mutex_lock (&s->lock);
        if (g == NULL || s->ended)
                goto fail;
        /* What a cut character left behind is output too (U+FFFD). */
        for (int i = 0; i < 2; i++)
                sink_utf8_flush (&s->joiner[i], emit_output, s, i);
        push_skipped (s);
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
        push_line (s, g, false);
fail:
        pthread_mutex_unlock (&s->lock);
        if (g)
                yajl_gen_free (g);
}

struct ndjson_stream *
ndjson_stream_new (struct MHD_Connection *conn)
{
        struct ndjson_stream *s = calloc (1, sizeof (*s));

        if (s == NULL)
                return NULL;
        if (pthread_mutex_init (&s->lock, NULL) != 0) {
                free (s);
                return NULL;
        }
        s->conn = conn;
        s->refs = 1;
        s->stage = EXEC_STAGE_RUN;
        s->sink = (struct exec_sink){ on_stage_start, on_output, on_stage_end, NULL, s };
        return s;
}

const struct exec_sink *
ndjson_stream_sink (struct ndjson_stream *s)
{
        return &s->sink;
}

/* libmicrohttpd's thread, with the response's mutex held. */
static ssize_t
reader (void *cls, uint64_t pos, char *buf, size_t max)
{
        struct ndjson_stream *s = cls;
        ssize_t ret;

        (void) pos;
        pthread_mutex_lock (&s->lock);
        if (s->out.len > s->sent) {
                size_t n = s->out.len - s->sent;

                if (n > max)
                        n = max;
                memcpy (buf, s->out.data + s->sent, n);
                s->sent += n;
                sink_budget_release (n);
                if (s->sent == s->out.len) {
                        /* A burst (or a big result) leaves no big buffer behind. */
                        if (s->out.cap > 64 * 1024)
                                ce_buf_free (&s->out);
                        s->sent = s->out.len = 0;
                }
                ret = (ssize_t) n;
        } else if (s->ended) {
                ret = MHD_CONTENT_READER_END_OF_STREAM;
        } else {
                /* Nothing yet: wait without spinning; the next line resumes. */
                s->suspended = true;
                MHD_suspend_connection (s->conn);
                ret = 0;
        }
        pthread_mutex_unlock (&s->lock);
        return ret;
}

static void
response_freed (void *cls)
{
        ndjson_stream_unref (cls);
}

struct MHD_Response *
ndjson_stream_response (struct ndjson_stream *s)
{
        struct MHD_Response *resp;

        pthread_mutex_lock (&s->lock);
        s->refs++;
        pthread_mutex_unlock (&s->lock);
        resp = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 16 * 1024, reader, s,
                                                  response_freed);
        if (resp == NULL) {
                ndjson_stream_unref (s);
                return NULL;
        }
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
        /* Proxies must not hold lines back. */
        MHD_add_response_header (resp, "X-Accel-Buffering", "no");
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        return resp;
}

void
ndjson_stream_end (struct ndjson_stream *s, const char *type, const char *key, ndjson_fill fill,
                   const void *arg, int http_status)
{
        yajl_gen g = new_gen ();
        yajl_gen_status st;

        pthread_mutex_lock (&s->lock);
        if (s->ended || g == NULL)
                goto fail;
        push_skipped (s);
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", type);
        if (http_status)
                GEN_KV_INT ("http_status", http_status);
        GEN_STR (key);
        GEN (fill (g, arg));
        GEN (yajl_gen_map_close (g));
        push_line (s, g, false);
fail:
        if (! s->ended) {
                s->ended = true;
                if (s->suspended) {
                        s->suspended = false;
                        MHD_resume_connection (s->conn);
                }
        }
        pthread_mutex_unlock (&s->lock);
        if (g)
                yajl_gen_free (g);
}

void
ndjson_stream_unref (struct ndjson_stream *s)
{
        bool last;

        if (s == NULL)
                return;
        pthread_mutex_lock (&s->lock);
        last = --s->refs == 0;
        pthread_mutex_unlock (&s->lock);
        if (! last)
                return;
        pthread_mutex_destroy (&s->lock);
        sink_budget_release (s->out.len - s->sent);
        ce_buf_free (&s->out);
        free (s);
}
