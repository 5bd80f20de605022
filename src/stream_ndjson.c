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
        const struct stream_framing *framing;
        struct ce_buf out; /* ready lines; out.data[sent..len) not yet read */
        size_t sent;
        bool ended;           /* the last line is in out */
        bool suspended;       /* the reader suspended conn: the next line resumes it */
        struct events events; /* the lines, encoded in the API's dialect */
        struct exec_sink sink;
};

const struct stream_framing stream_ndjson_lines = { "application/x-ndjson", "", "\n" };
/* One message per event; no `id:`, as nothing can be replayed. */
const struct stream_framing stream_sse_messages = { "text/event-stream",
                                                    "event: message\ndata: ", "\n\n" };

/* Append one generated line.  Lock held; wakes the reader.  Every unsent
 * byte counts in the server's total (sink.h); a droppable line (output)
 * that would pass this stream's bound or the total is refused: false. */
static bool
push_line (void *arg, const unsigned char *buf, size_t len, bool droppable)
{
        struct ndjson_stream *s = arg;
        size_t before = s->out.len;
        size_t pre = strlen (s->framing->before), post = strlen (s->framing->after);
        size_t n = pre + len + post;

        if (droppable) {
                if (s->out.len - s->sent + n > STREAM_MAX_PENDING || ! sink_budget_take (n))
                        return false;
        } else {
                sink_budget_add (n);
        }
        if (ce_buf_append (&s->out, s->framing->before, pre) < 0
            || ce_buf_append (&s->out, buf, len) < 0
            || ce_buf_append (&s->out, s->framing->after, post) < 0) {
                s->out.len = before;
                sink_budget_release (n);
                return false;
        }
        if (s->suspended) {
                s->suspended = false;
                MHD_resume_connection (s->conn);
        }
        return true;
}

/* Whether live output would pass the stream's bound now.  Lock held. */
static bool
is_full (void *arg)
{
        struct ndjson_stream *s = arg;

        return s->out.len - s->sent >= STREAM_MAX_PENDING;
}

/* Supervisor thread, its lock held: never blocks but on our own lock,
 * which nobody holds for long. */
static void
on_output (void *arg, int stream, const char *data, size_t len)
{
        struct ndjson_stream *s = arg;

        pthread_mutex_lock (&s->lock);
        if (! s->ended)
                events_output (&s->events, stream, data, len);
        pthread_mutex_unlock (&s->lock);
}

static void
on_stage_start (void *arg, enum exec_stage stage)
{
        struct ndjson_stream *s = arg;

        pthread_mutex_lock (&s->lock);
        if (! s->ended)
                events_stage_start (&s->events, stage);
        pthread_mutex_unlock (&s->lock);
}

static void
on_stage_end (void *arg, enum exec_stage stage, const struct runner_result *res)
{
        struct ndjson_stream *s = arg;

        pthread_mutex_lock (&s->lock);
        if (! s->ended)
                events_stage_end (&s->events, stage, res);
        pthread_mutex_unlock (&s->lock);
}

static void
on_test_end (void *arg, size_t index, const char *name, enum verdict v,
             const struct runner_result *run)
{
        struct ndjson_stream *s = arg;

        pthread_mutex_lock (&s->lock);
        if (! s->ended)
                events_test_end (&s->events, index, name, v, run);
        pthread_mutex_unlock (&s->lock);
}

struct ndjson_stream *
ndjson_stream_new (struct MHD_Connection *conn, const struct events_dialect *dialect,
                   void *dialect_ctx, const struct stream_framing *framing)
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
        s->framing = framing;
        events_init (&s->events, dialect, dialect_ctx,
                     &(struct events_out){ push_line, is_full, s });
        s->sink =
                (struct exec_sink){ on_stage_start, on_output, on_stage_end, NULL, on_test_end, s };
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
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, s->framing->content_type);
        /* Proxies must not hold lines back. */
        MHD_add_response_header (resp, "X-Accel-Buffering", "no");
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        return resp;
}

/* No more events: the reader ends the body once it has sent them.  Lock held. */
static void
end_locked (struct ndjson_stream *s)
{
        if (s->ended)
                return;
        s->ended = true;
        if (s->suspended) {
                s->suspended = false;
                MHD_resume_connection (s->conn);
        }
}

/* The last line of ndjson_stream_end. */
struct end_line {
        const char *type, *key;
        ndjson_fill fill;
        const void *arg;
        int http_status;
};

static yajl_gen_status
gen_end_line (yajl_gen g, const void *arg)
{
        const struct end_line *e = arg;
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", e->type);
        if (e->http_status)
                GEN_KV_INT ("http_status", e->http_status);
        GEN_STR (e->key);
        GEN (e->fill (g, e->arg));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

void
ndjson_stream_end (struct ndjson_stream *s, const char *type, const char *key, ndjson_fill fill,
                   const void *arg, int http_status)
{
        ndjson_stream_end_with (s, gen_end_line,
                                &(struct end_line){ type, key, fill, arg, http_status });
}

void
ndjson_stream_end_with (struct ndjson_stream *s, ndjson_fill fill, const void *arg)
{
        yajl_gen g = jsongen_new ();
        yajl_gen_status st;
        const unsigned char *buf;
        size_t len;

        pthread_mutex_lock (&s->lock);
        if (s->ended || g == NULL)
                goto fail;
        events_flush_skipped (&s->events);
        GEN (fill (g, arg));
        if (yajl_gen_get_buf (g, &buf, &len) == yajl_gen_status_ok)
                push_line (s, buf, len, false);
fail:
        end_locked (s);
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
