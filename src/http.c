/*
 * http.c - routes, request bodies and JSON responses.
 *
 * Threads: the access handler and the completion callback run on
 * libmicrohttpd's internal thread.  A pool worker touches a buffered
 * struct http_req only between job_submit and its MHD_resume_connection
 * call, and never after it: from then on the request is the HTTP thread's
 * again.  A streamed one (Accept: application/x-ndjson) is not suspended:
 * the HTTP side and the worker both hold it (refs) and the last frees it.
 *
 * Routes: GET /health, /ready and /metrics are the server's own; every other path
 * belongs to the front-end whose prefix it has (frontends[]), and is
 * answered from that front-end's route table (api.h): a document built at
 * start-up, an execution, a WebSocket (stream_ws.c, with the front-end's
 * protocol), a fixed refusal, or a playground file (playground.h: public,
 * also GET / for a browser, since a browser cannot send a token when it
 * navigates); anything else is that front-end's 404 or 405, in its error
 * shape.  Every execution takes one path: the body is
 * fed to the front-end's parser as it arrives, its finish gives the
 * internal request, planning (api_plan) gives each stage's limits, the job
 * runs on a worker, and the front-end's response goes back either buffered
 * (the connection suspended until the worker resumes it) or as NDJSON
 * events while it runs (stream_ndjson.c).  Errors become statuses here and
 * only here (ce_error_http_status).
 *
 * Every request has an id: the client's X-Request-ID (a balancer's) when it
 * is printable ASCII of at most REQUEST_ID_MAX bytes, else one made here.
 * It is added to the connection's header table (so that every response,
 * whoever builds it, echoes the same one), and it is in the request's log
 * line.
 */
#include "http.h"

#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "api.h"
#include "callback.h"
#include "cgroup.h"
#include "job.h"
#include "jobs.h"
#include "jsongen.h"
#include "request.h"
#include "stream_ndjson.h"
#include "stream_ws.h"
#include "cache.h"
#include "metrics.h"
#include "playground.h"
#include "warm.h"

#define MAX_CONNECTIONS 1000
#define MAX_DOCUMENTS 16
/* A waiting submit (PHASE_WAITING) may wait this long for a worker, on top
 * of its stages' time limits. */
#define WAIT_QUEUE_MARGIN_MS 30000
/* X-Request-ID: at most this many printable ASCII bytes. */
#define REQUEST_ID_HEADER "X-Request-ID"
#define REQUEST_ID_MAX 128

struct http_server {
        struct MHD_Daemon *daemon;
        struct http_config cfg;
        struct api_env env; /* what the front-ends may read: points into cfg */
        atomic_bool stopping;
        atomic_bool draining; /* http_drain: GET /ready answers 503 */
        pthread_mutex_t lock; /* guards inflight, and each http_req's refs and counted */
        pthread_cond_t idle_cond;
        size_t inflight;        /* execution jobs submitted and not yet answered */
        MHD_socket quiesced_fd; /* the listening socket after http_quiesce */
        bool sync_ready;        /* lock and idle_cond are initialised */
        /* the front-ends' documents (API_ROUTE_DOCUMENT), built at start-up */
        struct document {
                const struct api_route *route;
                char *body;
                size_t len;
        } documents[MAX_DOCUMENTS];
        size_t ndocuments;
        struct ws_config ws_cfg; /* the WebSocket routes' */
        struct ws_hub *ws;
        struct jobs *jobs; /* asynchronous executions; NULL: no job store */
        /* The last API_ROUTE_STATS answer, reused until stats_until (one
         * front-end has such a route): guarded by lock. */
        char *stats_body;
        size_t stats_len;
        struct timespec stats_until;
};

/* The public APIs.  The first whose prefix a path starts with owns it (its
 * routes, its error shape): longer prefixes first. */
static const struct api_frontend *const frontends[] = { &api_piston, &api_judge0, &api_mcp,
                                                        &api_native };
#define NFRONTENDS (sizeof (frontends) / sizeof (frontends[0]))

enum phase {
        PHASE_BODY,    /* reading an execution's body */
        PHASE_RUNNING, /* suspended, owned by a worker */
        PHASE_WAITING, /* suspended until its job ends (jobs_wait) */
        PHASE_DONE,    /* a response is queued */
};

struct http_req {
        struct http_server *srv;
        struct MHD_Connection *conn;
        enum phase phase;
        struct timespec start;
        const struct api_frontend *api; /* the API the request came in by */
        void *parser;                   /* api's, while the body is read */
        const struct api_route *rt;     /* the route that reads the body */
        struct ce_buf body;             /* an API_ROUTE_SUBMIT's body, kept as it came */
        bool body_failed;
        struct ce_error body_err;

        char route[64];                      /* for the log line: the execution's path */
        char request_id[REQUEST_ID_MAX + 1]; /* X-Request-ID, the client's or ours */
        /* Live output (Accept: application/x-ndjson), or NULL: one buffered
         * answer.  A streaming request is not suspended while it runs, so
         * libmicrohttpd may complete it (the client went away) while the
         * worker still holds it: refs counts the HTTP side and the worker. */
        struct ndjson_stream *stream;
        int refs;

        struct api_request in; /* the request, its language and its stages' limits */
        /* Our own dup of the connection's socket, taken while the connection
         * surely lived and closed only with r: the job's hang-up watch holds
         * the socket itself, never a number libmicrohttpd may close and the
         * process reuse while the job waits in the queue.  -1: none. */
        int client_fd;
        struct ws_ticket *ws_ticket; /* GET /api/v2/connect answered with a 101 */
        struct job job;              /* the execution, through the pool */
        bool counted;                /* counts in srv->inflight */
        bool cancelled;              /* the pool dropped the job at shutdown */
        int rejected;                /* job_submit's error: queue full or stopping */
        char job_id[STORE_ID_SIZE];  /* PHASE_WAITING: the job it waits for */
        /* An API_ROUTE_RPC execution: the front-end's call (rpc_end'ed with
         * r), and a header its answer carries (name NULL: none). */
        void *rpc_call;
        bool rpc_sse; /* its events on text/event-stream */
        const char *rpc_header;
        char rpc_header_value[80];
};

/* One line per request (ce_log_request): its id, method, path, language,
 * HTTP status (0: no answer was sent), outcome, time.  An execution's
 * (a language is known) is also timed for GET /metrics. */
static void
log_request (struct http_req *r, const char *method, const char *url, unsigned code,
             const char *outcome)
{
        char path[96];
        size_t i;
        const char *lang = r && r->in.lang ? r->in.lang->name : NULL;
        int64_t ms = r ? ce_ms_between (r->start, ce_now ()) : 0;

        /* The path is the client's: keep the log line printable and short. */
        for (i = 0; url[i] && i < sizeof (path) - 1; i++)
                path[i] = (url[i] > 0x20 && url[i] < 0x7f) ? url[i] : '?';
        path[i] = '\0';
        ce_log_request (&(struct ce_log_request){ .request_id = r ? r->request_id : NULL,
                                                  .method = method,
                                                  .path = path,
                                                  .language = lang,
                                                  .status = code,
                                                  .outcome = outcome,
                                                  .duration_ms = ms });
        if (lang && r->route[0])
                metrics_request_done (lang, ms);
}

/* An X-Request-ID worth keeping: printable ASCII, 1 to REQUEST_ID_MAX bytes. */
static bool
request_id_ok (const char *v)
{
        size_t n = strnlen (v, REQUEST_ID_MAX + 1);

        if (n == 0 || n > REQUEST_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (v[i] < 0x20 || v[i] > 0x7e)
                        return false;
        return true;
}

static enum MHD_Result
find_request_id (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
        const char **found = cls;

        (void) kind;
        if (key && value && strcasecmp (key, REQUEST_ID_HEADER) == 0 && request_id_ok (value)) {
                *found = value;
                return MHD_NO;
        }
        return MHD_YES;
}

/* The request's id: the first valid X-Request-ID in its headers (ours,
 * added by on_request, when the client sent none that is valid); NULL
 * before on_request has run. */
static const char *
request_id_of (struct MHD_Connection *conn)
{
        const char *found = NULL;

        MHD_get_connection_values (conn, MHD_HEADER_KIND, find_request_id, &found);
        return found;
}

/* HTTP thread, the request's first call: its id into r->request_id, and
 * into the connection's headers when made here (r holds the bytes for the
 * request's life, as libmicrohttpd wants). */
static void
take_request_id (struct http_req *r)
{
        const char *id = request_id_of (r->conn);
        unsigned char rnd[8];

        if (id) {
                snprintf (r->request_id, sizeof (r->request_id), "%s", id);
                return;
        }
        if (getrandom (rnd, sizeof (rnd), GRND_NONBLOCK) != (ssize_t) sizeof (rnd)) {
                static atomic_uint_fast64_t serial;
                uint64_t v = atomic_fetch_add (&serial, 1) ^ (uint64_t) ce_now ().tv_nsec << 20;

                memcpy (rnd, &v, sizeof (rnd));
        }
        for (size_t i = 0; i < sizeof (rnd); i++)
                snprintf (r->request_id + 2 * i, 3, "%02x", rnd[i]);
        MHD_set_connection_value (r->conn, MHD_HEADER_KIND, REQUEST_ID_HEADER, r->request_id);
}

/* Every response says which request it answers. */
static void
add_request_id (struct MHD_Connection *conn, struct MHD_Response *resp)
{
        const char *id = request_id_of (conn);

        if (id)
                MHD_add_response_header (resp, REQUEST_ID_HEADER, id);
}

static enum MHD_Result
queue_body (struct MHD_Connection *conn, unsigned code, const char *type, const char *body,
            size_t len, const char *hname, const char *hvalue)
{
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer (len, (void *) body, MHD_RESPMEM_MUST_COPY);
        if (resp == NULL)
                return MHD_NO;
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        add_request_id (conn, resp);
        if (hname)
                MHD_add_response_header (resp, hname, hvalue);
        ret = MHD_queue_response (conn, code, resp);
        MHD_destroy_response (resp);
        return ret;
}

/* Every JSON body comes from a gen_fill run on a fresh yajl_gen that
 * validates UTF-8: gen_json keeps the result (*out, malloc'd), queue_gen
 * sends it. */
typedef yajl_gen_status (*gen_fill) (yajl_gen g, const void *arg);

static int
gen_json (gen_fill fill, const void *arg, char **out, size_t *out_len)
{
        return jsongen_to_buf (fill, arg, out, out_len);
}

static enum MHD_Result
queue_gen (struct MHD_Connection *conn, unsigned code, gen_fill fill, const void *arg,
           const char *hname, const char *hvalue)
{
        cleanup_free char *body = NULL;
        size_t len;

        if (gen_json (fill, arg, &body, &len) < 0)
                return MHD_NO;
        return queue_body (conn, code, "application/json", body, len, hname, hvalue);
}

struct error_body {
        const struct api_frontend *api;
        const char *msg; /* valid UTF-8 */
        const char *status;
};

/* The front-end's error shape: {"error": ...} or Piston's {"message": ...}. */
static yajl_gen_status
gen_error (yajl_gen g, const void *arg)
{
        const struct error_body *e = arg;

        return e->api->gen_error (g, e->msg, e->status);
}

static enum MHD_Result
queue_error (struct MHD_Connection *conn, const struct api_frontend *api, unsigned code,
             const char *msg, const char *status, const char *hname, const char *hvalue)
{
        cleanup_free char *clean = NULL;
        size_t clean_len;

        /* Messages may quote the client's input, cut at a byte limit. */
        if (ce_utf8_sanitize (msg, strlen (msg), &clean, &clean_len) < 0)
                return MHD_NO;
        return queue_gen (conn, code, gen_error, &(struct error_body){ api, clean, status }, hname,
                          hvalue);
}

/* The request's query arguments, for the front-ends (api.h). */
static const char *
query_get (void *ctx, const char *name)
{
        return MHD_lookup_connection_value (ctx, MHD_GET_ARGUMENT_KIND, name);
}

#define QUERY_OF(conn) ((struct api_query){ query_get, (conn) })

/* A front-end's refusal of a body: its own document when its parser left
 * one (Judge0's field errors), else its error shape. */
struct refusal {
        const struct api_frontend *api;
        void *parser;
};

static yajl_gen_status
gen_refusal (yajl_gen g, const void *arg)
{
        const struct refusal *f = arg;

        return f->api->gen_refusal (f->parser, g) ? yajl_gen_status_ok
                                                  : yajl_gen_generation_complete;
}

static enum MHD_Result
queue_refusal (struct http_req *r, unsigned code, const char *msg)
{
        struct refusal f = { r->api, r->parser };
        cleanup_free char *body = NULL;
        size_t len;

        if (r->api->gen_refusal && gen_json (gen_refusal, &f, &body, &len) == 0)
                return queue_body (r->conn, code, "application/json", body, len, NULL, NULL);
        return queue_error (r->conn, r->api, code, msg, NULL, NULL, NULL);
}

/* The response to an execution that ran, in the front-end's shape. */
static yajl_gen_status
gen_result (yajl_gen g, const void *arg)
{
        const struct http_req *r = arg;

        if (r->rpc_call)
                return r->api->rpc_result (g, r->rpc_call, &r->srv->env, &r->in, &r->job.result,
                                           NULL);
        return r->api->gen_result (g, &r->srv->env, &r->in, &r->job.result);
}

/* An API_ROUTE_RPC call's answer when its execution did not run. */
struct rpc_failure {
        const struct http_req *r;
        const char *msg;
};

static yajl_gen_status
gen_rpc_failure (yajl_gen g, const void *arg)
{
        const struct rpc_failure *f = arg;

        return f->r->api->rpc_result (g, f->r->rpc_call, &f->r->srv->env, &f->r->in, NULL, f->msg);
}

/* GET /ready: which languages passed their start-up check (bundle.c's and
 * the probe container's), and the warm pool now: built for every request. */
static yajl_gen_status
gen_ready (yajl_gen g, const void *arg)
{
        const struct http_server *s = arg;
        const struct http_config *c = &s->cfg;
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        if (atomic_load (&s->draining)) {
                /* The balancer's cue: send new requests elsewhere. */
                GEN_KV_BOOL ("ready", 0);
                GEN_KV_BOOL ("draining", 1);
                GEN_KV_STR ("error", "the server is draining: it stops soon");
        } else {
                GEN_KV_BOOL ("ready", 1);
        }
        /* Live output held for slow clients, every connection together. */
        GEN_KV_INT ("pending_output_bytes", (long long) sink_budget_used ());
        GEN_STR ("languages");
        GEN (yajl_gen_map_open (g));
        for (size_t i = 0; i < bundle_count (c->bundles); i++) {
                const struct ce_language *l = bundle_at (c->bundles, i);

                GEN_KV_STR (l->name, l->available ? "ok" : l->reason ? l->reason : "not prepared");
        }
        GEN (yajl_gen_map_close (g));
        GEN_STR ("warm_pool");
        if (c->exec.warm) {
                GEN (warm_pool_gen (c->exec.warm, g));
        } else {
                GEN (yajl_gen_map_open (g));
                GEN_KV_INT ("per_language", 0);
                GEN_KV_INT ("idle", 0);
                GEN_STR ("slots");
                GEN (yajl_gen_array_open (g));
                GEN (yajl_gen_array_close (g));
                GEN (yajl_gen_map_close (g));
        }
        GEN_STR ("compile_cache");
        GEN (cache_gen (c->exec.cache, g));
        GEN_STR ("jobs");
        if (s->jobs)
                GEN (jobs_gen (s->jobs, g));
        else
                GEN (yajl_gen_null (g));
        GEN_STR ("callbacks");
        if (c->callbacks)
                GEN (callback_gen (c->callbacks, g));
        else
                GEN (yajl_gen_null (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* Any thread: a streamed answer ends on the worker, its connection may
 * end first on the HTTP thread. */
static void
inflight_done (struct http_req *r)
{
        struct http_server *s = r->srv;

        pthread_mutex_lock (&s->lock);
        if (r->counted) {
                r->counted = false;
                s->inflight--;
                pthread_cond_broadcast (&s->idle_cond);
        }
        pthread_mutex_unlock (&s->lock);
}

static void
req_free (struct http_req *r)
{
        /* First: after it the front-end never cancels through client_fd. */
        if (r->rpc_call)
                r->api->rpc_end (r->rpc_call);
        if (r->parser)
                r->api->parser_free (r->parser);
        request_free (r->in.req);
        ce_buf_free (&r->body);
        job_clear (&r->job);
        ndjson_stream_unref (r->stream);
        if (r->client_fd >= 0)
                close (r->client_fd);
        free (r);
}

/* Drop one holder of r (the HTTP side or a streaming worker); the last frees it. */
static void
req_unref (struct http_req *r)
{
        struct http_server *s = r->srv;
        bool last;

        pthread_mutex_lock (&s->lock);
        last = --r->refs == 0;
        pthread_mutex_unlock (&s->lock);
        if (last)
                req_free (r);
}

/* The last NDJSON line: the result, in the front-end's shape, or the error
 * the buffered answer would have had. */
static yajl_gen_status
gen_stream_error (yajl_gen g, const void *arg)
{
        const struct error_body *e = arg;

        return api_gen_error_clean (g, e->api, e->msg, e->status);
}

static void
stream_error (struct http_req *r, int http_status, const char *msg, const char *status,
              const char *outcome)
{
        struct error_body e = { r->api, msg, status };

        log_request (r, "POST", r->route, (unsigned) http_status, outcome);
        ndjson_stream_end (r->stream, "error", "error", gen_stream_error, &e, http_status);
}

static struct http_req *
req_of (struct job *j)
{
        return (struct http_req *) ((char *) j - offsetof (struct http_req, job));
}

/* Worker thread: the result is in r->job, answer it now. */
static void
job_answer (struct job *j)
{
        struct http_req *r = req_of (j);

        if (r->stream == NULL) {
                MHD_resume_connection (r->conn); /* r is the HTTP thread's from here */
                return;
        }
        if (j->ret < 0 && r->rpc_call) {
                log_request (r, "POST", r->route, 200, "internal_error");
                ndjson_stream_end_with (r->stream, gen_rpc_failure,
                                        &(struct rpc_failure){ r, j->err.msg });
        } else if (j->ret < 0) {
                stream_error (r, 500, j->err.msg, "internal_error", "internal_error");
        } else if (r->rpc_call) {
                log_request (r, "POST", r->route, 200, runner_status_name (j->result.status));
                ndjson_stream_end_with (r->stream, gen_result, r);
        } else {
                log_request (r, "POST", r->route, 200, runner_status_name (j->result.status));
                ndjson_stream_end (r->stream, "result", "result", gen_result, r, 0);
        }
        inflight_done (r);
}

/* Worker thread, after the clean-up: a stream's worker lets go of r. */
static void
job_release (struct job *j)
{
        req_unref (req_of (j));
}

/* Thread calling pool_shutdown. */
static void
job_cancel (struct job *j)
{
        struct http_req *r = req_of (j);

        r->cancelled = true;
        if (r->stream == NULL) {
                MHD_resume_connection (r->conn);
                return;
        }
        if (r->rpc_call) {
                log_request (r, "POST", r->route, 503, "shutting_down");
                ndjson_stream_end_with (r->stream, gen_rpc_failure,
                                        &(struct rpc_failure){ r, "the server is shutting down" });
        } else {
                stream_error (r, 503, "the server is shutting down", NULL, "shutting_down");
        }
        inflight_done (r);
        req_unref (r);
}

/* A buffered answer: r is the HTTP thread's again once answered. */
static const struct job_ops buffered_ops = { job_answer, NULL, job_cancel };
/* A stream: the worker holds a reference until it is done. */
static const struct job_ops stream_ops = { job_answer, job_release, job_cancel };

/* Accept: application/x-ndjson on a front-end that streams. */
static bool
wants_stream (struct http_req *r)
{
        const char *accept =
                MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

        return r->api->streams && accept && strcasestr (accept, "application/x-ndjson");
}

/* The job is accepted: answer 200 at once with the live stream. */
static enum MHD_Result
start_stream (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        struct MHD_Response *resp;
        enum MHD_Result ret;
        int sret;

        pthread_mutex_lock (&s->lock);
        s->inflight++;
        r->counted = true;
        r->refs++; /* the worker's */
        pthread_mutex_unlock (&s->lock);
        r->phase = PHASE_DONE;
        sret = job_submit (s->cfg.pool, &r->job);
        if (sret < 0) {
                pthread_mutex_lock (&s->lock);
                r->refs--;
                pthread_mutex_unlock (&s->lock);
                inflight_done (r);
                log_request (r, method, url, 503, sret == -EAGAIN ? "queue_full" : "shutting_down");
                return sret == -EAGAIN
                               ? queue_error (r->conn, r->api, 503,
                                              "too many executions waiting; retry later", NULL,
                                              MHD_HTTP_HEADER_RETRY_AFTER, "1")
                               : queue_error (r->conn, r->api, 503, "the server is shutting down",
                                              NULL, MHD_HTTP_HEADER_RETRY_AFTER, "5");
        }
        /* From here the worker may already be writing lines: they wait in the stream. */
        resp = ndjson_stream_response (r->stream);
        if (resp == NULL)
                return MHD_NO; /* the worker finishes alone; its lines go nowhere */
        add_request_id (r->conn, resp);
        if (r->rpc_header)
                MHD_add_response_header (resp, r->rpc_header, r->rpc_header_value);
        ret = MHD_queue_response (r->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response (resp);
        return ret;
}

/* Compare a guess with the token in constant time: the time taken depends
 * only on the configured token's length, never on how much of it a guess
 * got right. */
static bool
token_matches (const char *token, const char *h)
{
        size_t tlen = strlen (token), glen;
        unsigned char diff;

        glen = strlen (h);
        diff = glen != tlen;
        for (size_t i = 0; i < tlen; i++)
                diff |= (unsigned char) token[i] ^ (unsigned char) (i < glen ? h[i] : 0);
        return diff == 0;
}

/* Authorization: Bearer <token>, or the API's own header or query
 * argument (api_frontend.auth_header). */
static bool
authorized (struct http_server *s, struct MHD_Connection *conn, const struct api_frontend *api)
{
        const char *h =
                MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

        if (h && strncmp (h, "Bearer ", 7) == 0 && token_matches (s->cfg.auth_token, h + 7))
                return true;
        if (api->auth_header == NULL)
                return false;
        h = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, api->auth_header);
        if (h == NULL)
                h = MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, api->auth_header);
        return h && token_matches (s->cfg.auth_token, h);
}

/* The API's authorization (api_frontend.authz_header, --authz-token-file). */
static bool
authz_ok (struct http_server *s, struct MHD_Connection *conn, const struct api_frontend *api)
{
        const char *h;

        if (s->cfg.authz_token == NULL || api->authz_header == NULL)
                return false;
        h = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, api->authz_header);
        if (h == NULL)
                h = MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, api->authz_header);
        return h && token_matches (s->cfg.authz_token, h);
}

/* The 403 of a route that wants the API's authorization: an empty body. */
static enum MHD_Result
queue_forbidden (struct http_req *r, const char *method, const char *url)
{
        log_request (r, method, url, 403, "forbidden");
        return queue_body (r->conn, MHD_HTTP_FORBIDDEN, "text/plain", "", 0, NULL, NULL);
}

/* A job route on a server without a job store (--max-jobs 0). */
static enum MHD_Result
queue_no_jobs (struct http_req *r, const char *method, const char *url)
{
        log_request (r, method, url, 503, "unavailable");
        return queue_error (r->conn, r->api, 503,
                            "asynchronous executions are off on this server (--max-jobs 0)", NULL,
                            NULL, NULL);
}

/* A job store call failed: Redis out of reach is a 503 to retry (sync
 * executions go on meanwhile); anything else is ours, a 500. */
static enum MHD_Result
queue_store_failed (struct http_req *r, const char *method, const char *url, int ret,
                    const struct ce_error *err)
{
        if (ret == -ENOTCONN) {
                log_request (r, method, url, 503, "store_down");
                return queue_error (r->conn, r->api, 503,
                                    "the job store is unavailable; retry later", NULL,
                                    MHD_HTTP_HEADER_RETRY_AFTER, "5");
        }
        log_request (r, method, url, 500, "internal_error");
        return queue_error (r->conn, r->api, 500, err->msg[0] ? err->msg : "the job store failed",
                            "internal_error", NULL, NULL);
}

/* The path of job id under api's job route (its Location). */
static void
job_location (const struct api_frontend *api, const char *id, char *buf, size_t size)
{
        const char *path = "";

        for (const struct api_route *rt = api->routes; rt->path; rt++) {
                if (rt->kind == API_ROUTE_JOB) {
                        path = rt->path;
                        break;
                }
        }
        snprintf (buf, size, "%s%s%s", api->prefix, path, id);
}

struct job_body {
        const struct api_frontend *api;
        const struct store_job *job;
        bool accepted; /* the 202's body, else the job */
        struct api_query q;
};

static yajl_gen_status
gen_job_body (yajl_gen g, const void *arg)
{
        const struct job_body *b = arg;

        return b->accepted ? b->api->gen_accepted (g, b->job, &b->q)
                           : b->api->gen_job (g, b->job, &b->q);
}

/* An Idempotency-Key (the IETF httpapi draft): a string a client makes
 * unique, printable ASCII, at most 255 bytes. */
static bool
idempotency_key_ok (const char *key)
{
        size_t n = strlen (key);

        if (n == 0 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++)
                if (key[i] < 0x20 || key[i] > 0x7e)
                        return false;
        return true;
}

/* Any thread: the job ended, or the wait is over. */
static void
job_waited (void *arg)
{
        struct http_req *r = arg;

        MHD_resume_connection (r->conn); /* r is the HTTP thread's from here */
}

/* A submit that waits: suspended until its job ends, for at most as long
 * as its stages may take plus a margin for the queue; the HTTP thread holds
 * nothing meanwhile. */
static void
wait_for_job (struct http_req *r, const struct store_job *job)
{
        struct http_server *s = r->srv;
        int64_t ms = r->in.plan.run_limits.timeout_ms + WAIT_QUEUE_MARGIN_MS;

        if (r->in.lang && r->in.lang->compile.command)
                ms += r->in.plan.compile_limits.timeout_ms;
        memcpy (r->job_id, job->id, sizeof (r->job_id));
        pthread_mutex_lock (&s->lock);
        s->inflight++;
        r->counted = true;
        pthread_mutex_unlock (&s->lock);
        r->phase = PHASE_WAITING;
        /* Suspend first: the job may end at once. */
        MHD_suspend_connection (r->conn);
        if (jobs_wait (s->jobs, job->id, ce_deadline_after_ms (ms), job_waited, r) < 0)
                MHD_resume_connection (r->conn);
}

/* The job r waited for, as it is now (done, or not after the wait). */
static enum MHD_Result
answer_waited (struct http_req *r, const char *method, const char *url)
{
        struct store_job job = { 0 };
        struct ce_error err = { 0 };
        enum MHD_Result ret;
        unsigned code = r->api->accepted_status ? r->api->accepted_status : MHD_HTTP_ACCEPTED;

        r->phase = PHASE_DONE;
        int gret = jobs_get (r->srv->jobs, r->job_id, &job, &err);

        if (gret < 0) {
                ret = queue_store_failed (r, method, url, gret, &err);
        } else {
                if (r->api->job_status && r->api->job_status (&job, &QUERY_OF (r->conn)) != 200)
                        code = r->api->job_status (&job, &QUERY_OF (r->conn));
                log_request (r, method, url, code,
                             job.state == STORE_DONE ? "waited" : "wait_timed_out");
                ret = queue_gen (r->conn, code, gen_job_body,
                                 &(struct job_body){ r->api, &job, false, QUERY_OF (r->conn) },
                                 NULL, NULL);
        }
        store_job_clear (&job);
        inflight_done (r);
        return ret;
}

/* A valid API_ROUTE_SUBMIT body: into the store as it came, 202 with the
 * job's id and Location.  A retried submit with the same Idempotency-Key
 * and body gets the same job. */
static enum MHD_Result
submit_job (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        const char *key = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND, "Idempotency-Key");
        struct store_job job = { 0 };
        struct ce_error err = { 0 };
        bool existing = false;
        char location[160];
        enum MHD_Result mret;
        unsigned code;
        int ret;

        if (s->jobs == NULL)
                return queue_no_jobs (r, method, url);
        if (r->in.req->callback_url
            && callback_url_check (s->cfg.callbacks, r->in.req->callback_url, &err) < 0) {
                log_request (r, method, url, 400, "bad_request");
                return queue_error (r->conn, r->api, 400, err.msg, NULL, NULL, NULL);
        }
        if (key && ! idempotency_key_ok (key)) {
                log_request (r, method, url, 400, "bad_request");
                return queue_error (r->conn, r->api, 400,
                                    "Idempotency-Key must be 1 to 255 printable ASCII characters",
                                    NULL, NULL, NULL);
        }
        if (r->api->stored_body) {
                cleanup_free char *stored = NULL;
                size_t len = 0;

                ret = r->api->stored_body (r->parser, &stored, &len, &err);
                if (ret == 0)
                        ret = jobs_submit (s->jobs, r->api, key, stored, len, &job, &existing,
                                           &err);
        } else {
                ret = jobs_submit (s->jobs, r->api, key, r->body.data ? r->body.data : "",
                                   r->body.len, &job, &existing, &err);
        }
        if (ret == -EEXIST) {
                log_request (r, method, url, 422, "bad_request");
                return queue_error (r->conn, r->api, 422,
                                    "this Idempotency-Key was used with another request body", NULL,
                                    NULL, NULL);
        }
        if (ret == -ENOSPC) {
                log_request (r, method, url, 503, "store_full");
                return queue_error (r->conn, r->api, 503, "too many executions stored; retry later",
                                    NULL, MHD_HTTP_HEADER_RETRY_AFTER, "5");
        }
        if (ret < 0)
                return queue_store_failed (r, method, url, ret, &err);
        if (r->api->submit_waits && r->api->submit_waits (&QUERY_OF (r->conn))) {
                wait_for_job (r, &job);
                store_job_clear (&job);
                return MHD_YES;
        }
        job_location (r->api, job.id, location, sizeof (location));
        code = r->api->accepted_status ? r->api->accepted_status : MHD_HTTP_ACCEPTED;
        log_request (r, method, url, code, existing ? "accepted_again" : "accepted");
        mret = queue_gen (r->conn, code, gen_job_body,
                          &(struct job_body){ r->api, &job, true, QUERY_OF (r->conn) },
                          MHD_HTTP_HEADER_LOCATION, location);
        store_job_clear (&job);
        return mret;
}

/* Several jobs in one answer (a batch read, a list): 400 with the API's
 * batch_unreadable when one cannot be read as asked, else fill's body. */
static enum MHD_Result
queue_jobs (struct http_req *r, const char *method, const char *url, const struct store_job *jobs,
            size_t n, const struct api_query *q, gen_fill fill, const void *arg)
{
        for (size_t i = 0; i < n; i++)
                if (jobs[i].id[0] && r->api->job_status
                    && r->api->job_status (&jobs[i], q) != 200) {
                        log_request (r, method, url, 400, "bad_request");
                        return queue_error (r->conn, r->api, 400, r->api->batch_unreadable, NULL,
                                            NULL, NULL);
                }
        log_request (r, method, url, 200, NULL);
        return queue_gen (r->conn, MHD_HTTP_OK, fill, arg, NULL, NULL);
}

struct list_body {
        const struct api_frontend *api;
        struct store_job *jobs;
        size_t n;
        int64_t total, offset, limit;
        struct api_query q;
};

static yajl_gen_status
gen_list_body (yajl_gen g, const void *arg)
{
        const struct list_body *b = arg;

        return b->api->gen_list (g, b->jobs, b->n, b->total, b->offset, b->limit, &b->q);
}

#define LIST_MAX 100 /* jobs in one page */

/* An API_ROUTE_LIST: a page of the API's jobs, newest first. */
static enum MHD_Result
answer_list (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        struct ce_error err = { 0 };
        struct list_body b = { r->api, NULL, 0, 0, 0, 0, QUERY_OF (r->conn) };
        enum MHD_Result mret;

        if (s->jobs == NULL)
                return queue_no_jobs (r, method, url);
        if ((r->api->check_query && r->api->check_query (&b.q, &err) < 0)
            || r->api->list_page (&b.q, &b.offset, &b.limit, &err) < 0) {
                log_request (r, method, url, ce_error_http_status (&err), "bad_request");
                return queue_error (r->conn, r->api, ce_error_http_status (&err), err.msg, NULL,
                                    NULL, NULL);
        }
        if (b.limit > LIST_MAX)
                b.limit = LIST_MAX;
        b.jobs = calloc ((size_t) (b.limit > 0 ? b.limit : 1), sizeof (*b.jobs));
        if (b.jobs == NULL)
                return MHD_NO;
        if (jobs_list (s->jobs, r->api->name, b.offset, b.limit, b.jobs, &b.n, &b.total, &err)
            < 0) {
                free (b.jobs);
                return queue_store_failed (r, method, url, -err.code, &err);
        }
        mret = queue_jobs (r, method, url, b.jobs, b.n, &b.q, gen_list_body, &b);
        for (size_t i = 0; i < b.n; i++)
                store_job_clear (&b.jobs[i]);
        free (b.jobs);
        return mret;
}

static enum MHD_Result queue_json (struct http_req *r, const char *method, const char *url,
                                   const char *body, size_t len);

/* Every job of one API, a page of the store at a time. */
struct jobs_walk {
        struct http_server *srv;
        const char *api;
        struct store_job page[LIST_MAX];
        size_t n, next;
        int64_t offset;
        bool end;
};

static int
walk_next (void *ctx, struct store_job *out)
{
        struct jobs_walk *w = ctx;
        int64_t total;

        if (w->next == w->n) {
                w->n = w->next = 0;
                if (w->end)
                        return 0;
                if (jobs_list (w->srv->jobs, w->api, w->offset, LIST_MAX, w->page, &w->n, &total,
                               NULL)
                    < 0)
                        return -EIO;
                w->offset += (int64_t) w->n;
                w->end = w->n < LIST_MAX;
                if (w->n == 0)
                        return 0;
        }
        *out = w->page[w->next];
        memset (&w->page[w->next++], 0, sizeof (*out)); /* out's now */
        return 1;
}

struct stats_arg {
        const struct api_route *rt;
        const struct api_frontend *api;
        const struct api_env *env;
        struct api_jobs_iter it;
};

static yajl_gen_status
gen_stats (yajl_gen g, const void *arg)
{
        const struct stats_arg *a = arg;

        return a->api->gen_stats (g, a->env, &a->it);
}

/* An API_ROUTE_STATS: counts over every job of the API, computed at most
 * once per stats_cache_s (a walk of the whole store is not for every
 * request). */
static enum MHD_Result
answer_stats (struct http_req *r, const struct api_route *rt, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        struct store_stats st = { 0 };
        cleanup_free char *body = NULL;
        cleanup_free struct jobs_walk *w = NULL;
        size_t len = 0;
        bool fresh;

        if (s->jobs == NULL)
                return queue_no_jobs (r, method, url);
        pthread_mutex_lock (&s->lock);
        fresh = s->stats_body && ce_ms_between (ce_now (), s->stats_until) > 0;
        if (fresh && (body = malloc (s->stats_len + 1)) != NULL) {
                memcpy (body, s->stats_body, s->stats_len + 1);
                len = s->stats_len;
        }
        pthread_mutex_unlock (&s->lock);
        if (body == NULL) {
                w = calloc (1, sizeof (*w));
                if (w == NULL)
                        return MHD_NO;
                w->srv = s;
                w->api = r->api->name;
                jobs_store_stats (s->jobs, &st);
                if (gen_json (gen_stats,
                              &(struct stats_arg){
                                      rt, r->api, &s->env, { walk_next, w, st.disk_bytes } },
                              &body, &len)
                    < 0) {
                        for (size_t i = w->next; i < w->n; i++)
                                store_job_clear (&w->page[i]);
                        log_request (r, method, url, 500, "internal_error");
                        return queue_error (r->conn, r->api, 500, "cannot count the jobs",
                                            "internal_error", NULL, NULL);
                }
                for (size_t i = w->next; i < w->n; i++)
                        store_job_clear (&w->page[i]);
                pthread_mutex_lock (&s->lock);
                free (s->stats_body);
                s->stats_body = strdup (body);
                s->stats_len = len;
                s->stats_until = ce_deadline_after_ms ((int64_t) r->api->stats_cache_s * 1000);
                pthread_mutex_unlock (&s->lock);
        }
        return queue_json (r, method, url, body, len);
}

/* GET (or HEAD) reads a job, DELETE cancels it. */
static enum MHD_Result
answer_job (struct http_req *r, const char *method, const char *url, const char *rest)
{
        char id[STORE_ID_SIZE];
        struct http_server *s = r->srv;
        struct store_job job = { 0 };
        struct ce_error err = { 0 };
        bool del = strcmp (method, MHD_HTTP_METHOD_DELETE) == 0;
        size_t n = strlen (rest);
        enum MHD_Result mret;
        unsigned code;
        int ret = -ENOENT;

        if (s->jobs == NULL)
                return queue_no_jobs (r, method, url);
        if (del && r->api->job_delete_refused) {
                if (! authz_ok (s, r->conn, r->api))
                        return queue_forbidden (r, method, url);
                log_request (r, method, url, 400, "bad_request");
                return queue_error (r->conn, r->api, 400, r->api->job_delete_refused, NULL, NULL,
                                    NULL);
        }
        if (r->api->check_query && r->api->check_query (&QUERY_OF (r->conn), &err) < 0) {
                log_request (r, method, url, ce_error_http_status (&err), "bad_request");
                return queue_error (r->conn, r->api, ce_error_http_status (&err), err.msg, NULL,
                                    NULL, NULL);
        }
        /* Ids are ours: anything else is unknown without asking the store. */
        if (r->api->job_id ? r->api->job_id (rest, id)
                           : n == STORE_ID_LEN && strspn (rest, "0123456789abcdef") == n
                                     && memcpy (id, rest, STORE_ID_SIZE))
                ret = jobs_get (s->jobs, id, &job, &err);
        /* A job is its own API's: another one's ids are unknown here. */
        if (ret == 0 && strcmp (job.api, r->api->name) != 0) {
                store_job_clear (&job);
                ret = -ENOENT;
        }
        if (ret == 0 && del) {
                store_job_clear (&job);
                ret = jobs_cancel (s->jobs, id, &job, &err);
        }
        if (ret == -ENOENT) {
                log_request (r, method, url, 404, NULL);
                return queue_error (r->conn, r->api, 404, "no such execution (or it expired)", NULL,
                                    NULL, NULL);
        }
        if (ret == -EALREADY) {
                log_request (r, method, url, 409, NULL);
                store_job_clear (&job);
                return queue_error (r->conn, r->api, 409,
                                    "the execution is done already; nothing to cancel", NULL, NULL,
                                    NULL);
        }
        if (ret < 0)
                return queue_store_failed (r, method, url, ret, &err);
        /* A running job's cancel is under way: its container is being killed. */
        code = del && job.state != STORE_DONE ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK;
        if (! del && r->api->job_status)
                code = r->api->job_status (&job, &QUERY_OF (r->conn));
        log_request (r, method, url, code, NULL);
        mret = queue_gen (r->conn, code, gen_job_body,
                          &(struct job_body){ r->api, &job, false, QUERY_OF (r->conn) }, NULL,
                          NULL);
        store_job_clear (&job);
        return mret;
}

/* One item of a batch's answer: its job, or the body of its refusal. */
struct batch_item {
        struct store_job job; /* id "" when refused */
        char *refusal;
        size_t refusal_len;
};

struct batch_body {
        const struct api_frontend *api;
        struct batch_item *items;
        size_t n;
        struct api_query q;
};

static yajl_gen_status
gen_batch_accepted (yajl_gen g, const void *arg)
{
        const struct batch_body *b = arg;
        yajl_gen_status st;

        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < b->n; i++) {
                if (b->items[i].refusal)
                        GEN_RAW (b->items[i].refusal, b->items[i].refusal_len);
                else
                        GEN (b->api->gen_accepted (g, &b->items[i].job, &b->q));
        }
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

/* A batch item's refusal: the front-end's own body (field errors), else its
 * error shape. */
static void
item_refusal (struct http_req *r, const struct ce_error *err, struct batch_item *it)
{
        struct refusal f = { r->api, r->parser };

        if (r->api->gen_refusal && gen_json (gen_refusal, &f, &it->refusal, &it->refusal_len) == 0)
                return;
        gen_json (gen_error, &(struct error_body){ r->api, err->msg, NULL }, &it->refusal,
                  &it->refusal_len);
}

/* POST of an API_ROUTE_BATCH: each request checked and stored on its own. */
static enum MHD_Result
submit_batch (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        struct ce_error err = { 0 };
        struct batch_body b = { r->api, NULL, 0, QUERY_OF (r->conn) };
        size_t accepted = 0;
        enum MHD_Result mret;
        unsigned code;
        int n;

        if (s->jobs == NULL)
                return queue_no_jobs (r, method, url);
        n = r->api->batch_count (r->parser, &err);
        if (n < 0) {
                log_request (r, method, url, ce_error_http_status (&err), "bad_request");
                return queue_error (r->conn, r->api, ce_error_http_status (&err), err.msg, NULL,
                                    NULL, NULL);
        }
        b.items = calloc ((size_t) n, sizeof (*b.items));
        if (b.items == NULL)
                return MHD_NO;
        b.n = (size_t) n;
        for (size_t i = 0; i < b.n; i++) {
                struct api_request in = { 0 };
                cleanup_free char *stored = NULL;
                size_t len = 0;
                bool existing;
                int ret;

                err = (struct ce_error){ 0 };
                ret = r->api->batch_select (r->parser, i, &s->env, &in, &err);
                if (ret == 0)
                        ret = api_plan (&s->env, &in, &err);
                if (ret == 0 && in.req->callback_url
                    && callback_url_check (s->cfg.callbacks, in.req->callback_url, &err) < 0)
                        ret = -EINVAL;
                if (ret == 0)
                        ret = r->api->stored_body (r->parser, &stored, &len, &err);
                if (ret == 0)
                        ret = jobs_submit (s->jobs, r->api, NULL, stored, len, &b.items[i].job,
                                           &existing, &err);
                if (ret < 0)
                        item_refusal (r, &err, &b.items[i]);
                else
                        accepted++;
                request_free (in.req);
        }
        code = accepted ? (r->api->accepted_status ? r->api->accepted_status : MHD_HTTP_ACCEPTED)
                        : r->api->batch_refused_status;
        log_request (r, method, url, code, accepted ? "accepted" : "bad_request");
        mret = queue_gen (r->conn, code, gen_batch_accepted, &b, NULL, NULL);
        for (size_t i = 0; i < b.n; i++) {
                store_job_clear (&b.items[i].job);
                free (b.items[i].refusal);
        }
        free (b.items);
        return mret;
}

struct batch_read {
        const struct api_frontend *api;
        struct store_job *jobs; /* id "" : unknown */
        size_t n;
        struct api_query q;
};

static yajl_gen_status
gen_batch_read (yajl_gen g, const void *arg)
{
        const struct batch_read *b = arg;
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_STR (b->api->batch_key);
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < b->n; i++)
                GEN (b->jobs[i].id[0] ? b->api->gen_job (g, &b->jobs[i], &b->q)
                                      : yajl_gen_null (g));
        GEN (yajl_gen_array_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* GET of an API_ROUTE_BATCH: several jobs, in the order asked. */
static enum MHD_Result
answer_batch_get (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        struct ce_error err = { 0 };
        struct batch_read b = { r->api, NULL, 0, QUERY_OF (r->conn) };
        cleanup_free char (*ids)[STORE_ID_SIZE] = NULL;
        enum MHD_Result mret;
        size_t n = 0;

        if (s->jobs == NULL)
                return queue_no_jobs (r, method, url);
        if ((r->api->check_query && r->api->check_query (&b.q, &err) < 0)
            || r->api->batch_ids (&b.q, &ids, &n, &err) < 0) {
                log_request (r, method, url, ce_error_http_status (&err), "bad_request");
                return queue_error (r->conn, r->api, ce_error_http_status (&err), err.msg, NULL,
                                    NULL, NULL);
        }
        b.jobs = calloc (n ? n : 1, sizeof (*b.jobs));
        if (b.jobs == NULL)
                return MHD_NO;
        b.n = n;
        for (size_t i = 0; i < n; i++) {
                if (ids[i][0] == '\0' || jobs_get (s->jobs, ids[i], &b.jobs[i], NULL) < 0
                    || strcmp (b.jobs[i].api, r->api->name) != 0) {
                        store_job_clear (&b.jobs[i]);
                        continue;
                }
        }
        mret = queue_jobs (r, method, url, b.jobs, n, &b.q, gen_batch_read, &b);
        for (size_t i = 0; i < n; i++)
                store_job_clear (&b.jobs[i]);
        free (b.jobs);
        return mret;
}

/* Run r->in as r's job: answered on the connection, live (NDJSON, or
 * SSE for an RPC call that streams) or at once when it ends. */
static enum MHD_Result
start_job (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        int ret;

        {
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info (r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

                /* The access handler runs while the connection is open. */
                r->client_fd = ci ? fcntl (ci->connect_fd, F_DUPFD_CLOEXEC, 3) : -1;
                if (r->client_fd < 0) {
                        log_request (r, method, url, 500, "internal_error");
                        return queue_error (r->conn, r->api, 500,
                                            "cannot watch the connection: out of descriptors",
                                            "internal_error", NULL, NULL);
                }
        }
        r->job = (struct job){ .ops = &buffered_ops,
                               .env = &s->cfg.exec,
                               .plan = &r->in.plan,
                               .req = r->in.req,
                               .client_fd = r->client_fd };
        if (r->rpc_call && r->rpc_sse) {
                r->stream = ndjson_stream_new (r->conn, r->api->events, r->rpc_call,
                                               &stream_sse_messages);
                if (r->stream == NULL)
                        return MHD_NO;
                r->job.ops = &stream_ops;
                r->job.sink = ndjson_stream_sink (r->stream);
                return start_stream (r, method, url);
        }
        if (r->rpc_call == NULL && wants_stream (r)) {
                r->stream = ndjson_stream_new (r->conn, r->api->events, NULL, &stream_ndjson_lines);
                if (r->stream == NULL)
                        return MHD_NO;
                r->job.ops = &stream_ops;
                r->job.sink = ndjson_stream_sink (r->stream);
                return start_stream (r, method, url);
        }
        pthread_mutex_lock (&s->lock);
        s->inflight++;
        r->counted = true;
        pthread_mutex_unlock (&s->lock);
        r->phase = PHASE_RUNNING;
        /* Suspend before submitting: a fast worker may resume at once. */
        MHD_suspend_connection (r->conn);
        ret = job_submit (s->cfg.pool, &r->job);
        if (ret < 0) {
                /* Answered from answer_result once the daemon sees the resume. */
                r->rejected = ret;
                MHD_resume_connection (r->conn);
        }
        return MHD_YES;
}

/* Request headers, for a front-end's RPC messages (api.h). */
static const char *
header_get (void *ctx, const char *name)
{
        return MHD_lookup_connection_value (ctx, MHD_HEADER_KIND, name);
}

/* Tell an RPC call's execution to stop: its client is hung up on, which
 * its job's watch sees at once (containers killed, nothing answered).
 * Any thread, until rpc_end (req_free, before client_fd is closed). */
static void
rpc_cancel (void *arg)
{
        struct http_req *r = arg;

        if (r->client_fd >= 0)
                shutdown (r->client_fd, SHUT_RDWR);
}

/* API_ROUTE_RPC: the whole body is one message; its front-end answers it
 * now or makes it an execution. */
static enum MHD_Result
answer_rpc (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        struct api_rpc rpc = { .method = method,
                               .header = &(struct api_query){ header_get, r->conn } };
        enum MHD_Result ret;

        if (r->api->rpc_message (r->parser, &s->env, &rpc) == API_RPC_ANSWER) {
                log_request (r, method, url, rpc.status, rpc.status < 400 ? NULL : "bad_request");
                ret = queue_body (r->conn, rpc.status, rpc.content_type, rpc.body ? rpc.body : "",
                                  rpc.len, rpc.header_name, rpc.header_value);
                free (rpc.body);
                return ret;
        }
        r->in = rpc.in; /* owned by r from here */
        r->rpc_call = rpc.call;
        r->rpc_sse = rpc.stream;
        if (rpc.header_name) {
                r->rpc_header = rpc.header_name;
                snprintf (r->rpc_header_value, sizeof (r->rpc_header_value), "%s",
                          rpc.header_value);
        }
        if (atomic_load (&s->stopping)) {
                log_request (r, method, url, 200, "shutting_down");
                return queue_gen (r->conn, MHD_HTTP_OK, gen_rpc_failure,
                                  &(struct rpc_failure){ r, "the server is shutting down" }, NULL,
                                  NULL);
        }
        ret = start_job (r, method, url);
        /* From here the call may be cancelled: client_fd is r's. */
        if (r->client_fd >= 0)
                r->api->rpc_watch (r->rpc_call, rpc_cancel, r);
        return ret;
}

static enum MHD_Result
finish_execute (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        struct ce_error err;
        int ret;

        if (r->body_failed) {
                log_request (r, method, url, ce_error_http_status (&r->body_err), "bad_request");
                return queue_error (r->conn, r->api, ce_error_http_status (&r->body_err),
                                    r->body_err.msg, NULL, NULL, NULL);
        }
        if (r->rt->kind == API_ROUTE_BATCH)
                return submit_batch (r, method, url);
        if (r->rt->kind == API_ROUTE_RPC)
                return answer_rpc (r, method, url);
        ret = r->api->finish (r->parser, &s->env, &r->in, &err);
        if (ret < 0) {
                log_request (r, method, url, ce_error_http_status (&err),
                             err.http_status == 503 ? "unavailable" : "bad_request");
                return queue_refusal (r, ce_error_http_status (&err), err.msg);
        }
        ret = api_plan (&s->env, &r->in, &err);
        if (ret < 0) {
                log_request (r, method, url, ce_error_http_status (&err),
                             err.http_status == 503 ? "unavailable" : "bad_request");
                return queue_error (r->conn, r->api, ce_error_http_status (&err), err.msg, NULL,
                                    NULL, NULL);
        }
        if (atomic_load (&s->stopping)) {
                log_request (r, method, url, 503, "shutting_down");
                return queue_error (r->conn, r->api, 503, "the server is shutting down", NULL,
                                    MHD_HTTP_HEADER_RETRY_AFTER, "5");
        }
        if (r->rt->kind == API_ROUTE_SUBMIT)
                return submit_job (r, method, url);
        if (r->in.req->callback_url) {
                log_request (r, method, url, 400, "bad_request");
                return queue_error (r->conn, r->api, 400,
                                    "field 'callback_url' is for asynchronous executions (POST "
                                    "/executions): this answer comes back on the connection",
                                    NULL, NULL, NULL);
        }

        return start_job (r, method, url);
}

static enum MHD_Result
answer_result (struct http_req *r, const char *method, const char *url)
{
        enum MHD_Result ret;

        r->phase = PHASE_DONE;
        if (r->rpc_call && (r->rejected || r->cancelled || r->job.ret < 0)) {
                /* A tool call that could not run is still the call's answer. */
                const char *msg = r->rejected == -EAGAIN
                                          ? "too many executions waiting; retry later"
                                  : r->job.ret < 0 && ! r->rejected && ! r->cancelled
                                          ? r->job.err.msg
                                          : "the server is shutting down";

                log_request (r, method, url, 200,
                             r->rejected == -EAGAIN                              ? "queue_full"
                             : r->job.ret < 0 && ! r->rejected && ! r->cancelled ? "internal_error"
                                                                                 : "shutting_down");
                ret = queue_gen (r->conn, MHD_HTTP_OK, gen_rpc_failure,
                                 &(struct rpc_failure){ r, msg }, NULL, NULL);
        } else if (r->rejected == -EAGAIN) {
                log_request (r, method, url, 503, "queue_full");
                ret = queue_error (r->conn, r->api, 503, "too many executions waiting; retry later",
                                   NULL, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        } else if (r->cancelled || r->rejected) {
                log_request (r, method, url, 503, "shutting_down");
                ret = queue_error (r->conn, r->api, 503, "the server is shutting down", NULL,
                                   MHD_HTTP_HEADER_RETRY_AFTER, "5");
        } else if (r->job.ret < 0) {
                log_request (r, method, url, 500, "internal_error");
                ret = queue_error (r->conn, r->api, 500, r->job.err.msg, "internal_error", NULL,
                                   NULL);
        } else {
                log_request (r, method, url, 200, runner_status_name (r->job.result.status));
                ret = queue_gen (r->conn, MHD_HTTP_OK, gen_result, r, NULL, NULL);
        }
        /* Counted until the response is queued, not sent: the daemon still
         * sends it before http_stop returns. */
        inflight_done (r);
        return ret;
}

/* An execution by r->api: refuse a declared oversize body before reading
 * any of it, then parse the body as it arrives. */
static enum MHD_Result
start_execution (struct http_req *r, const struct api_route *rt, const char *method,
                 const char *url)
{
        struct http_server *s = r->srv;
        const struct api_frontend *api = r->api;
        const char *cl = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH);

        snprintf (r->route, sizeof (r->route), "%s%s", api->prefix, rt->path);
        if (cl && strtoull (cl, NULL, 10) > s->cfg.max_body) {
                char msg[128];

                snprintf (msg, sizeof (msg), "request body is larger than %zu bytes",
                          s->cfg.max_body);
                log_request (r, method, url, 413, "bad_request");
                return queue_error (r->conn, api, 413, msg, NULL, NULL, NULL);
        }
        if (rt->kind == API_ROUTE_SUBMIT && api->check_query) {
                struct ce_error err = { 0 };

                if (api->check_query (&QUERY_OF (r->conn), &err) < 0) {
                        log_request (r, method, url, ce_error_http_status (&err), "bad_request");
                        return queue_error (r->conn, api, ce_error_http_status (&err), err.msg,
                                            NULL, NULL, NULL);
                }
        }
        r->parser = api->parser_new (s->cfg.max_body, &QUERY_OF (r->conn));
        if (r->parser == NULL)
                return MHD_NO;
        r->rt = rt;
        r->phase = PHASE_BODY;
        return MHD_YES;
}

static enum MHD_Result
queue_json (struct http_req *r, const char *method, const char *url, const char *body, size_t len)
{
        log_request (r, method, url, 200, NULL);
        return queue_body (r->conn, MHD_HTTP_OK, "application/json", body, len, NULL, NULL);
}

/* Whether method is one of methods ("GET, HEAD"). */
static bool
method_in (const char *method, const char *methods)
{
        size_t len = strlen (method);

        for (const char *m = methods; (m = strstr (m, method)) != NULL; m += len)
                if ((m == methods || m[-1] == ' ') && (m[len] == '\0' || m[len] == ','))
                        return true;
        return false;
}

static const struct document *
document_of (struct http_server *s, const struct api_route *rt)
{
        for (size_t i = 0; i < s->ndocuments; i++)
                if (s->documents[i].route == rt)
                        return &s->documents[i];
        return NULL;
}

/* A WebSocket route: the 101, or why not. */
static enum MHD_Result
upgrade (struct http_req *r, const struct api_route *rt, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        struct MHD_Response *resp;
        unsigned status;
        char msg[160];
        enum MHD_Result ret;

        if (atomic_load (&s->stopping)) {
                log_request (r, method, url, 503, "shutting_down");
                return queue_error (r->conn, r->api, 503, "the server is shutting down", NULL,
                                    MHD_HTTP_HEADER_RETRY_AFTER, "5");
        }
        resp = ws_upgrade_response (s->ws, r->conn, rt->protocol, &r->ws_ticket, &status, msg,
                                    sizeof (msg));
        if (resp == NULL) {
                const char *hname = status == 426   ? "Sec-WebSocket-Version"
                                    : status == 503 ? MHD_HTTP_HEADER_RETRY_AFTER
                                                    : NULL;

                log_request (r, method, url, status,
                             status == 503   ? "unavailable"
                             : status == 500 ? "internal_error"
                                             : "bad_request");
                return queue_error (r->conn, r->api, status, msg, NULL, hname,
                                    status == 426 ? "13" : "1");
        }
        log_request (r, method, url, 101, NULL);
        add_request_id (r->conn, resp);
        ret = MHD_queue_response (r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
        MHD_destroy_response (resp);
        return ret;
}

struct lookup_arg {
        const struct api_route *rt;
        const struct api_env *env;
        const char *key;
        bool found;
};

static yajl_gen_status
gen_lookup (yajl_gen g, const void *arg)
{
        struct lookup_arg *a = (struct lookup_arg *) arg;

        return a->rt->lookup (g, a->env, a->key, &a->found);
}

/* An API_ROUTE_LOOKUP: the front-end's entry for key, or its 404. */
static enum MHD_Result
answer_lookup (struct http_req *r, const struct api_route *rt, const char *method, const char *url,
               const char *key)
{
        struct lookup_arg a = { rt, &r->srv->env, key, false };
        cleanup_free char *body = NULL;
        size_t len;

        if (gen_json (gen_lookup, &a, &body, &len) < 0 || ! a.found) {
                log_request (r, method, url, 404, NULL);
                return queue_error (r->conn, r->api, 404, r->api->not_found, NULL, NULL, NULL);
        }
        return queue_json (r, method, url, body, len);
}

/* Whether rt's path is url's path under its front-end (*rest: what
 * follows a prefix route's path). */
static bool
route_matches (const struct api_route *rt, const char *path, const char **rest)
{
        size_t plen = strlen (rt->path);
        bool prefix = rt->kind == API_ROUTE_JOB || rt->kind == API_ROUTE_LOOKUP
                      || rt->kind == API_ROUTE_ASSET;

        *rest = path + plen;
        return prefix ? strncmp (rt->path, path, plen) == 0 && path[plen] != '\0'
                      : strcmp (rt->path, path) == 0;
}

/* A GET of a document route with a page, from a browser. */
static bool
wants_page (struct MHD_Connection *conn, const struct api_route *rt)
{
        return rt->kind == API_ROUTE_DOCUMENT && rt->page
               && playground_wants_html (
                       MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
}

/* Whether the route route() will take for url needs no --auth-token-file
 * token: the playground's page and files (the page's own API calls carry
 * the token its user gives it). */
static bool
route_public (struct http_req *r, const char *method, const char *url)
{
        const char *path = url + strlen (r->api->prefix), *rest;

        for (const struct api_route *rt = r->api->routes; rt->path; rt++)
                if (route_matches (rt, path, &rest) && method_in (method, rt->methods))
                        return rt->kind == API_ROUTE_ASSET || wants_page (r->conn, rt);
        return false;
}

/* A playground file: 304 when the client's If-None-Match is its ETag, else
 * its bytes; unknown: the front-end's 404. */
static enum MHD_Result
answer_asset (struct http_req *r, const char *method, const char *url, const char *name)
{
        const struct playground_asset *a = playground_find (name);
        const char *inm;
        struct MHD_Response *resp;
        unsigned code = MHD_HTTP_OK;
        enum MHD_Result ret;

        if (a == NULL) {
                log_request (r, method, url, 404, NULL);
                return queue_error (r->conn, r->api, 404, r->api->not_found, NULL, NULL, NULL);
        }
        inm = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
        if (inm && strcmp (inm, a->etag) == 0)
                code = MHD_HTTP_NOT_MODIFIED;
        resp = MHD_create_response_from_buffer (code == MHD_HTTP_OK ? a->len : 0, (void *) a->data,
                                                MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
                return MHD_NO;
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
        MHD_add_response_header (resp, MHD_HTTP_HEADER_ETAG, a->etag);
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, PLAYGROUND_CACHE_CONTROL);
        MHD_add_response_header (resp, "Content-Security-Policy", PLAYGROUND_CSP);
        MHD_add_response_header (resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header (resp, "Referrer-Policy", "no-referrer");
        /* GET / answers JSON or the page by Accept. */
        if (strcmp (url, "/") == 0)
                MHD_add_response_header (resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT);
        add_request_id (r->conn, resp);
        log_request (r, method, url, code, NULL);
        ret = MHD_queue_response (r->conn, code, resp);
        MHD_destroy_response (resp);
        return ret;
}

/* Walk r->api's routes for url: the entry of its path that takes method,
 * else 405 (the path's first entry says what to use) or 404. */
static enum MHD_Result
route (struct http_req *r, const char *method, const char *url)
{
        const struct api_frontend *api = r->api;
        const char *path = url + strlen (api->prefix);
        const struct api_route *first = NULL;
        const struct document *doc;
        const char *rest;

        for (const struct api_route *rt = api->routes; rt->path; rt++) {
                if (! route_matches (rt, path, &rest))
                        continue;
                if (first == NULL)
                        first = rt;
                if (! method_in (method, rt->methods))
                        continue;
                if (rt->authz && ! authz_ok (r->srv, r->conn, api))
                        return queue_forbidden (r, method, url);
                switch (rt->kind) {
                case API_ROUTE_EXECUTE:
                case API_ROUTE_SUBMIT:
                case API_ROUTE_RPC: return start_execution (r, rt, method, url);
                case API_ROUTE_JOB: return answer_job (r, method, url, rest);
                case API_ROUTE_LIST: return answer_list (r, method, url);
                case API_ROUTE_STATS: return answer_stats (r, rt, method, url);
                case API_ROUTE_BATCH:
                        if (strcmp (method, MHD_HTTP_METHOD_POST) == 0)
                                return start_execution (r, rt, method, url);
                        return answer_batch_get (r, method, url);
                case API_ROUTE_LOOKUP: return answer_lookup (r, rt, method, url, rest);
                case API_ROUTE_ASSET: return answer_asset (r, method, url, rest);
                case API_ROUTE_TEXT:
                        log_request (r, method, url, rt->status ? rt->status : 200, NULL);
                        return queue_body (r->conn, rt->status ? rt->status : MHD_HTTP_OK,
                                           "text/plain", rt->text, strlen (rt->text), NULL, NULL);
                case API_ROUTE_DOCUMENT:
                        if (wants_page (r->conn, rt))
                                return answer_asset (r, method, url, rt->page);
                        doc = document_of (r->srv, rt);
                        if (doc == NULL)
                                break;
                        if (rt->page) {
                                /* The same URL is the page for a browser: a cache must not mix
                                 * them. */
                                log_request (r, method, url, 200, NULL);
                                return queue_body (r->conn, MHD_HTTP_OK, "application/json",
                                                   doc->body, doc->len, MHD_HTTP_HEADER_VARY,
                                                   MHD_HTTP_HEADER_ACCEPT);
                        }
                        return queue_json (r, method, url, doc->body, doc->len);
                case API_ROUTE_WEBSOCKET: return upgrade (r, rt, method, url);
                case API_ROUTE_REFUSED:
                        log_request (r, method, url, rt->status, NULL);
                        return queue_error (r->conn, api, rt->status, rt->message, NULL, NULL,
                                            NULL);
                }
                log_request (r, method, url, 500, NULL);
                return queue_error (r->conn, api, 500, "this route has no answer", NULL, NULL,
                                    NULL);
        }
        if (first == NULL) {
                log_request (r, method, url, 404, NULL);
                return queue_error (r->conn, api, 404, api->not_found, NULL, NULL, NULL);
        }
        log_request (r, method, url, 405, NULL);
        return queue_error (r->conn, api, 405, first->wrong_method, NULL, MHD_HTTP_HEADER_ALLOW,
                            first->methods);
}

/* GET /metrics: the counters (metrics.h), with the pool's figures now. */
static enum MHD_Result
answer_metrics (struct http_req *r, const char *method, const char *url)
{
        struct http_server *s = r->srv;
        cleanup_free char *text = NULL;
        size_t running = 0, queued = 0, len;

        if (s->cfg.pool)
                pool_stats (s->cfg.pool, &running, &queued);
        metrics_gauge_set (METRICS_IN_FLIGHT, (int64_t) running);
        metrics_gauge_set (METRICS_QUEUED, (int64_t) queued);
        metrics_gauge_set (METRICS_WORKERS, (int64_t) s->cfg.max_concurrent);
        metrics_gauge_set (METRICS_QUEUE_CAPACITY, (int64_t) s->cfg.queue);
        if (metrics_render (&text, &len) < 0) {
                log_request (r, method, url, 500, "internal_error");
                return queue_error (r->conn, r->api, 500, "out of memory", NULL, NULL, NULL);
        }
        log_request (r, method, url, 200, NULL);
        return queue_body (r->conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, len, NULL, NULL);
}

/* The server's own routes, whatever the API: GET /health (liveness: the
 * process answers), GET /ready (readiness: what it can run now; 503 once
 * draining) and GET /metrics (Prometheus). */
static enum MHD_Result
route_server (struct http_req *r, const char *method, const char *url, bool get)
{
        struct http_server *s = r->srv;
        cleanup_free char *ready = NULL;
        size_t len;

        if (strcmp (url, "/health") == 0) {
                if (! get) {
                        log_request (r, method, url, 405, NULL);
                        return queue_error (r->conn, r->api, 405, "use GET /health", NULL,
                                            MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
                }
                log_request (r, method, url, 200, NULL);
                return queue_body (r->conn, MHD_HTTP_OK, "text/plain", "OK", 2, NULL, NULL);
        }
        if (! get) {
                log_request (r, method, url, 405, NULL);
                return queue_error (r->conn, r->api, 405, "use GET", NULL, MHD_HTTP_HEADER_ALLOW,
                                    "GET, HEAD");
        }
        /* Scraped until the very end: a stopping server's counters still count. */
        if (strcmp (url, "/metrics") == 0)
                return answer_metrics (r, method, url);
        if (atomic_load (&s->stopping)) {
                log_request (r, method, url, 503, "shutting_down");
                return queue_error (r->conn, r->api, 503, "the server is shutting down", NULL,
                                    MHD_HTTP_HEADER_RETRY_AFTER, "5");
        }
        if (gen_json (gen_ready, s, &ready, &len) < 0) {
                log_request (r, method, url, 500, NULL);
                return queue_error (r->conn, r->api, 500, "cannot describe the server's state",
                                    NULL, NULL, NULL);
        }
        if (atomic_load (&s->draining)) {
                log_request (r, method, url, 503, "draining");
                return queue_body (r->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", ready,
                                   len, NULL, NULL);
        }
        return queue_json (r, method, url, ready, len);
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
            const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
        struct http_server *s = cls;
        struct http_req *r = *con_cls;
        bool get = strcmp (method, MHD_HTTP_METHOD_GET) == 0
                   || strcmp (method, MHD_HTTP_METHOD_HEAD) == 0;

        (void) version;
        if (r == NULL) {
                r = calloc (1, sizeof (*r));
                if (r == NULL)
                        return MHD_NO;
                r->srv = s;
                r->conn = conn;
                r->start = ce_now ();
                r->phase = PHASE_DONE;
                r->refs = 1; /* the HTTP side's */
                r->client_fd = -1;
                *con_cls = r;
                take_request_id (r);

                /* The API the path belongs to: errors in its shape from here. */
                for (size_t i = 0; r->api == NULL && i < NFRONTENDS; i++)
                        if (strncmp (url, frontends[i]->prefix, strlen (frontends[i]->prefix)) == 0)
                                r->api = frontends[i];
                if (r->api == NULL)
                        r->api = &api_native;
                if (s->cfg.auth_token && strcmp (url, "/health") != 0
                    && ! route_public (r, method, url) && ! authorized (s, conn, r->api)) {
                        log_request (r, method, url, 401, "unauthorized");
                        if (r->api->auth_header)
                                return queue_body (conn, MHD_HTTP_UNAUTHORIZED, "text/plain", "", 0,
                                                   NULL, NULL);
                        return queue_error (conn, r->api, 401,
                                            "missing or wrong 'Authorization: Bearer <token>'",
                                            NULL, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
                }
                if (strcmp (url, "/health") == 0 || strcmp (url, "/ready") == 0
                    || strcmp (url, "/metrics") == 0)
                        return route_server (r, method, url, get);
                return route (r, method, url);
        }

        switch (r->phase) {
        case PHASE_BODY:
                if (*upload_data_size) {
                        if (! r->body_failed
                            && r->api->feed (r->parser, upload_data, *upload_data_size,
                                             &r->body_err)
                                       < 0)
                                r->body_failed = true;
                        if (! r->body_failed && r->rt->kind == API_ROUTE_SUBMIT
                            && ce_buf_append (&r->body, upload_data, *upload_data_size) < 0) {
                                ce_fail (&r->body_err, ENOMEM, "out of memory");
                                r->body_failed = true;
                        }
                        *upload_data_size = 0;
                        return MHD_YES;
                }
                return finish_execute (r, method, url);
        case PHASE_RUNNING: return answer_result (r, method, url);
        case PHASE_WAITING: return answer_waited (r, method, url);
        case PHASE_DONE: break;
        }
        return MHD_YES;
}

static void
on_completed (void *cls, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
        struct http_req *r = *con_cls;

        (void) cls;
        (void) conn;
        if (r == NULL)
                return;
        /* A stream that libmicrohttpd gave up on (the client reset, or took
         * nothing for --connection-timeout): shut the socket through our dup,
         * which the job's watch sees at once (its container is killed, a
         * queued job will not start it), and the client sees closed. */
        if (r->stream && r->client_fd >= 0 && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                shutdown (r->client_fd, SHUT_RDWR);
        ws_ticket_release (r->ws_ticket);
        r->ws_ticket = NULL;
        if (r->phase == PHASE_RUNNING && r->stream == NULL) {
                /* Resumed by its worker after the client had gone: the
                 * daemon completes it without asking for the answer. */
                const char *outcome = r->rejected == -EAGAIN        ? "queue_full"
                                      : r->cancelled || r->rejected ? "shutting_down"
                                      : r->job.ret < 0              ? "internal_error"
                                                       : runner_status_name (r->job.result.status);

                log_request (r, "POST", r->route, 0, outcome);
        }
        inflight_done (r);
        *con_cls = NULL;
        req_unref (r);
}

static int
resolve_listen (const char *listen, struct sockaddr_storage *ss, socklen_t *len,
                struct ce_error *err)
{
        char host[256];
        const char *colon = strrchr (listen, ':');
        const char *h = listen;
        size_t hlen;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *ai = NULL;
        int ret;

        if (colon == NULL || colon[1] == '\0')
                return ce_fail (err, EINVAL, "--listen wants HOST:PORT, got '%s'", listen);
        hlen = (size_t) (colon - listen);
        if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
                h++;
                hlen -= 2;
        }
        if (hlen == 0 || hlen >= sizeof (host))
                return ce_fail (err, EINVAL, "--listen: bad host in '%s'", listen);
        memcpy (host, h, hlen);
        host[hlen] = '\0';
        ret = getaddrinfo (host, colon + 1, &hints, &ai);
        if (ret)
                return ce_fail (err, EINVAL, "--listen %s: %s", listen, gai_strerror (ret));
        memcpy (ss, ai->ai_addr, ai->ai_addrlen);
        *len = ai->ai_addrlen;
        freeaddrinfo (ai);
        return 0;
}

/* Free what http_start made of s, whatever it got to.  Not the daemon. */
static void
server_free (struct http_server *s)
{
        api_mcp_reset ();
        free (s->stats_body);
        /* after pool_shutdown (or before any job was taken) */
        jobs_free (s->jobs);
        if (s->ws) {
                ws_hub_shutdown (s->ws);
                ws_hub_free (s->ws);
        }
        for (size_t i = 0; i < s->ndocuments; i++)
                free (s->documents[i].body);
        if (s->sync_ready) {
                pthread_mutex_destroy (&s->lock);
                pthread_cond_destroy (&s->idle_cond);
        }
        free (s);
}

static void
cleanup_serverp (struct http_server **s)
{
        if (*s)
                server_free (*s);
}

/* libmicrohttpd's own messages, as our log lines (json ones too). */
static void __attribute__ ((format (printf, 2, 0))) mhd_log (void *cls, const char *fmt, va_list ap)
{
        char msg[512];
        size_t n;

        (void) cls;
        vsnprintf (msg, sizeof (msg), fmt, ap);
        n = strlen (msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        ce_log ("libmicrohttpd: %s", msg);
}

/* The label values of GET /metrics: the configured languages (never a
 * client's string) and the runner's statuses.  Once per process: a second
 * server in one process (the unit tests) shares the first's. */
static int
metrics_setup (const struct ce_bundle_registry *bundles, struct ce_error *err)
{
        const char *statuses[METRICS_MAX_STATUSES];
        size_t nlangs = bundles ? bundle_count (bundles) : 0, nstatuses = 0;
        cleanup_free const char **langs = calloc (nlangs ? nlangs : 1, sizeof (*langs));
        int ret;

        if (langs == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        for (size_t i = 0; i < nlangs; i++)
                langs[i] = bundle_at (bundles, i)->name;
        /* The runner's statuses are 0, 1, ... up to the first unnamed one. */
        while (nstatuses < METRICS_MAX_STATUSES
               && strcmp (runner_status_name ((enum runner_status) nstatuses), "unknown") != 0) {
                statuses[nstatuses] = runner_status_name ((enum runner_status) nstatuses);
                nstatuses++;
        }
        ret = metrics_init (langs, nlangs, statuses, nstatuses);
        if (ret < 0 && ret != -EALREADY)
                return ce_fail (err, -ret, "metrics: %s", strerror (-ret));
        return 0;
}

/* Every front-end's documents, built once. */
static int
build_documents (struct http_server *s, struct ce_error *err)
{
        for (size_t f = 0; f < NFRONTENDS; f++) {
                for (const struct api_route *rt = frontends[f]->routes; rt->path; rt++) {
                        struct document *d;

                        if (rt->kind != API_ROUTE_DOCUMENT)
                                continue;
                        if (s->ndocuments == MAX_DOCUMENTS)
                                return ce_fail (err, ENOSPC, "more than %d documents",
                                                MAX_DOCUMENTS);
                        d = &s->documents[s->ndocuments];
                        d->route = rt;
                        if (gen_json ((gen_fill) rt->document, &s->env, &d->body, &d->len) < 0)
                                return ce_fail (err, EINVAL, "cannot generate %s%s",
                                                frontends[f]->prefix, rt->path);
                        s->ndocuments++;
                }
        }
        return 0;
}

int
http_start (const struct http_config *cfg, struct http_server **out, struct ce_error *err)
{
        struct sockaddr_storage ss;
        socklen_t sslen;
        __attribute__ ((cleanup (cleanup_serverp))) struct http_server *s = NULL;
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                         | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
        int ret;

        ret = resolve_listen (cfg->listen, &ss, &sslen, err);
        if (ret < 0)
                return ret;
        s = calloc (1, sizeof (*s));
        if (s == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        s->cfg = *cfg;
        s->env = (struct api_env){ .bundles = s->cfg.bundles,
                                   .policy = &s->cfg.policy,
                                   .limit_mode = s->cfg.limit_mode,
                                   .runtime_version = s->cfg.runtime_version,
                                   .cgroup = cgroup_mode (),
                                   .rootless = s->cfg.rootless,
                                   .max_concurrent = s->cfg.max_concurrent,
                                   .queue = s->cfg.queue,
                                   .max_body = s->cfg.max_body,
                                   .mcp_allow_origins = s->cfg.mcp_allow_origins,
                                   .mcp_max_sessions = s->cfg.mcp_max_sessions,
                                   .mcp_session_idle_s = s->cfg.mcp_session_idle_s };
        s->ws_cfg = (struct ws_config){ &s->env,
                                        &s->cfg.exec,
                                        s->cfg.pool,
                                        s->cfg.max_body,
                                        (int) s->cfg.connection_timeout_s * 1000,
                                        s->cfg.max_websockets };
        atomic_init (&s->stopping, false);
        atomic_init (&s->draining, false);
        s->quiesced_fd = MHD_INVALID_SOCKET;
        ret = ce_cond_init_monotonic (&s->idle_cond);
        if (ret)
                return ce_fail (err, ret, "pthread_cond_init: %s", strerror (ret));
        pthread_mutex_init (&s->lock, NULL);
        s->sync_ready = true;
        s->ws = ws_hub_new (&s->ws_cfg);
        if (s->ws == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        ret = build_documents (s, err);
        if (ret < 0)
                return ret;
        ret = metrics_setup (s->cfg.bundles, err);
        if (ret < 0)
                return ret;
        if (s->cfg.store) {
                const struct jobs_config jc = { .store = s->cfg.store,
                                                .pool = s->cfg.pool,
                                                .exec = &s->cfg.exec,
                                                .env = &s->env,
                                                .frontends = frontends,
                                                .nfrontends = NFRONTENDS,
                                                .max_running = s->cfg.max_async,
                                                .callbacks = s->cfg.callbacks,
                                                .lease_ms = s->cfg.lease_ms };

                ret = jobs_start (&jc, &s->jobs, err);
                if (ret < 0)
                        return ret;
        }
        if (ss.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        s->daemon = MHD_start_daemon (
                flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss, MHD_OPTION_CONNECTION_TIMEOUT,
                s->cfg.connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned) MAX_CONNECTIONS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned) 1, MHD_OPTION_END);
        if (s->daemon == NULL) {
                ret = errno ? errno : EADDRINUSE;
                return ce_fail (err, ret, "cannot listen on %s: %s", cfg->listen, strerror (ret));
        }
        *out = steal_pointer (&s);
        return 0;
}

void
http_drain (struct http_server *s)
{
        atomic_store (&s->draining, true);
}

void
http_quiesce (struct http_server *s)
{
        atomic_store (&s->stopping, true);
        jobs_quiesce (s->jobs);
        /* MHD's thread drops the socket from its epoll set a little later:
         * it may only be closed once the daemon has stopped (found by TSan). */
        s->quiesced_fd = MHD_quiesce_daemon (s->daemon);
}

void
http_wait_idle (struct http_server *s, struct timespec deadline)
{
        pthread_mutex_lock (&s->lock);
        while (s->inflight > 0)
                if (pthread_cond_timedwait (&s->idle_cond, &s->lock, &deadline) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock (&s->lock);
}

void
http_stop (struct http_server *s)
{
        /* WebSockets are libmicrohttpd's upgraded connections: closed first. */
        ws_hub_shutdown (s->ws);
        MHD_stop_daemon (s->daemon);
        ws_hub_free (s->ws); /* after the daemon released the last tickets */
        s->ws = NULL;
        if (s->quiesced_fd != MHD_INVALID_SOCKET)
                close (s->quiesced_fd);
        server_free (s);
}
