/*
 * api.h - what a public API (a front-end) is to the HTTP transport.
 *
 * A front-end translates, nothing more: it turns its own request body into
 * the one internal request (struct ce_request, its language and the limits
 * of every stage, struct exec_plan) and the one internal result (struct
 * exec_result) into its own response body.  It knows nothing of containers
 * or of libmicrohttpd; http.c routes a path to a front-end and runs every
 * request through the same job, suspend and resume path, so nothing below
 * the front-ends knows which API a request came in by.
 *
 * Each front-end declares its routes (struct api_route), which http.c
 * walks: its documents, its execution, its WebSocket protocol.
 *
 * Today: api_native.c (POST /execute and /executions, GET /version and
 * /languages), api_mcp.c (the Model Context Protocol's JSON-RPC at /mcp,
 * its tool calls executions like any other), api_piston.c (Piston's API v2 under /api/v2/; its
 * WebSocket protocol is api_piston_ws.c) and api_judge0.c (Judge0 CE 1.13.1 under /judge0/, its
 * submissions asynchronous jobs).  A parser belongs to one connection and is used by one thread at
 * a time (libmicrohttpd's); the generators may run on any thread and only read what they are given.
 */
#ifndef CE_API_H
#define CE_API_H

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "bundle.h"
#include "common.h"
#include "events.h"
#include "execution.h"
#include "plan.h"
#include "request.h"
#include "store.h"

/* What a front-end may consult: immutable after start-up. */
struct api_env {
        const struct ce_bundle_registry *bundles;
        const struct exec_policy *policy;
        const char *limit_mode; /* "cgroup" or "rlimit" */
        /* the server, as GET /version describes it */
        const char *runtime_version;
        const char *cgroup; /* cgroup_mode () */
        bool rootless;
        size_t max_concurrent, queue, max_body;
        /* MCP (api_mcp.c): origins besides loopback ones (comma-separated,
         * or NULL), sessions at once, and the idle time that ends one */
        const char *mcp_allow_origins;
        size_t mcp_max_sessions;
        int mcp_session_idle_s;
};

/* One request, translated: what the execution needs. */
struct api_request {
        struct ce_request *req; /* owned: request_free */
        const struct ce_language *lang;
        struct exec_plan plan;
};

struct ws_protocol; /* stream_ws.h */

/* Every unexpired job of one API, one at a time (API_ROUTE_STATS): next
 * fills *out (store_job_clear'd by the caller) and returns 1, or 0 at the
 * end, <0 on a store failure. */
struct api_jobs_iter {
        int (*next) (void *ctx, struct store_job *out);
        void *ctx;
        int64_t disk_bytes; /* the whole store's */
};

/* A request's query arguments (?name=value), for front-ends whose API has
 * them: get returns a value or NULL.  Valid during the call it is given to. */
struct api_query {
        const char *(*get) (void *ctx, const char *name);
        void *ctx;
};

static inline const char *
api_query_get (const struct api_query *q, const char *name)
{
        return q ? q->get (q->ctx, name) : NULL;
}

/* What a route answers.  http.c walks the front-ends' tables; a method
 * that no entry of a known path takes gets 405 with the first entry's
 * methods as Allow and its wrong_method as the message. */
enum api_route_kind {
        API_ROUTE_EXECUTE,   /* the front-end's request body, run as a job */
        API_ROUTE_DOCUMENT,  /* a JSON body the front-end makes once, at start-up */
        API_ROUTE_WEBSOCKET, /* upgraded, then the front-end's protocol over stream_ws.c */
        API_ROUTE_REFUSED,   /* always the same error */
        API_ROUTE_SUBMIT,    /* the front-end's request body, kept as an asynchronous job */
        API_ROUTE_JOB,    /* path is a prefix, the rest a job's id: GET reads it, DELETE cancels */
        API_ROUTE_LOOKUP, /* path is a prefix, the rest a key: the front-end's lookup */
        API_ROUTE_TEXT,   /* a fixed text/plain body (maybe empty) */
        API_ROUTE_BATCH,  /* POST: several requests' jobs at once; GET: several jobs */
        API_ROUTE_LIST,   /* GET: a page of the API's jobs (list_page, gen_list) */
        API_ROUTE_STATS,  /* GET: counts over all the API's jobs (gen_stats), cached */
        API_ROUTE_RPC,    /* a body that is one message of the front-end's protocol (rpc_message) */
        API_ROUTE_ASSET,  /* path is a prefix, the rest a playground file (playground.h);
                             public: no --auth-token-file token asked */
};

/* API_ROUTE_RPC: what one message asks of the transport.  http.c fills the
 * method and the headers; rpc_message fills the rest and says which of
 * two it is: an answer now (API_RPC_ANSWER) or an execution whose
 * result, and with `stream` its live events first, are the answer
 * (API_RPC_RUN). */
enum api_rpc_kind {
        API_RPC_ANSWER,
        API_RPC_RUN,
};

struct api_rpc {
        const char *method;             /* in: "POST", "DELETE" */
        const struct api_query *header; /* in: the request's headers by name */
        /* out, both kinds: one more response header (name NULL: none) */
        const char *header_name;
        char header_value[80];
        /* API_RPC_ANSWER: the status and a body of content_type (malloc'd;
         * NULL: empty) */
        unsigned status;
        char *body;
        size_t len;
        const char *content_type;
        /* API_RPC_RUN: the execution, planned (in.req owned by the
         * transport from here), and the front-end's call, handed to
         * rpc_result, to the events dialect as its ctx, and to rpc_end. */
        struct api_request in;
        void *call;
        bool stream; /* live events (events) on text/event-stream before the result */
};

struct api_route {
        const char *path;    /* after the front-end's prefix, exact */
        const char *methods; /* "GET, HEAD", "POST": matched, and the 405's Allow */
        enum api_route_kind kind;
        const char *wrong_method; /* the 405's message */
        /* API_ROUTE_DOCUMENT */
        yajl_gen_status (*document) (yajl_gen g, const struct api_env *env);
        /* API_ROUTE_DOCUMENT: what a browser (Accept: text/html) gets
         * instead, a playground file's name; public like API_ROUTE_ASSET.
         * NULL: the document for everyone. */
        const char *page;
        /* API_ROUTE_WEBSOCKET */
        const struct ws_protocol *protocol;
        /* API_ROUTE_REFUSED */
        unsigned status;
        const char *message;
        /* API_ROUTE_LOOKUP: the entry for key, or *found false (404) */
        yajl_gen_status (*lookup) (yajl_gen g, const struct api_env *env, const char *key,
                                   bool *found);
        /* API_ROUTE_TEXT (status: 0 is 200) */
        const char *text;
        /* Only with the API's authorization (authz_header), else 403 and an
         * empty body. */
        bool authz;
};

struct api_frontend {
        const char *name;               /* for the log: "native", "piston" */
        const char *prefix;             /* the paths it owns ("/api/v2/"); "" for the rest */
        const struct api_route *routes; /* ends with a NULL path */
        const char *not_found;          /* the 404's message under prefix */
        bool streams;                   /* answers Accept: application/x-ndjson with live events */
        /* A parser for one body of at most max_body bytes; NULL on ENOMEM.
         * q: the request's query; NULL when the body is read back from the
         * job store (then it is what stored_body made of it). */
        void *(*parser_new) (size_t max_body, const struct api_query *q);
        void (*parser_free) (void *parser);
        /* The next piece of the body.  <0: err says why (400 or 413); the
         * parser is not fed again. */
        int (*feed) (void *parser, const char *data, size_t len, struct ce_error *err);
        /* End of body: fill *out but its plan (the caller owns out->req,
         * also on failure when it is set).  <0: err says why (400, 413). */
        int (*finish) (void *parser, const struct api_env *env, struct api_request *out,
                       struct ce_error *err);
        /* The response to an execution that ran. */
        yajl_gen_status (*gen_result) (yajl_gen g, const struct api_env *env,
                                       const struct api_request *in, const struct exec_result *res);
        /* An error body; msg is valid UTF-8, status (NULL or "internal_error")
         * says what kind of failure it was. */
        yajl_gen_status (*gen_error) (yajl_gen g, const char *msg, const char *status);
        /* How its live transports spell an execution's events. */
        const struct events_dialect *events;
        /* Asynchronous jobs (jobs.h), for a front-end with API_ROUTE_SUBMIT:
         * the 202's body once a job is accepted, and a job as GET (and
         * DELETE) answer it.  A done job's result is the bytes the
         * front-end's gen_result (or gen_error) wrote when it ran; a job
         * done without one has job->failure instead. */
        yajl_gen_status (*gen_accepted) (yajl_gen g, const struct store_job *job,
                                         const struct api_query *q);
        /* q NULL: the job as its callback_url gets it. */
        yajl_gen_status (*gen_job) (yajl_gen g, const struct store_job *job,
                                    const struct api_query *q);
        /* Optional hooks; NULL: the defaults in brackets. */
        /* With --auth-token-file, a header (or query argument) of this name
         * carrying the token is accepted besides Authorization: Bearer,
         * and a refusal is a 401 with an empty body (Judge0's X-Auth-Token)
         * [Bearer only, the error shape]. */
        const char *auth_header;
        /* With --authz-token-file, the header (or query argument) that
         * authorizes the routes marked authz and the DELETE of a job. */
        const char *authz_header;
        /* API_ROUTE_STATS: the answer from every job; kept stats_cache_s. */
        yajl_gen_status (*gen_stats) (yajl_gen g, const struct api_env *env,
                                      const struct api_jobs_iter *it);
        int stats_cache_s;
        /* API_ROUTE_LIST: the page asked (<0: err says why), and the answer. */
        int (*list_page) (const struct api_query *q, int64_t *offset, int64_t *limit,
                          struct ce_error *err);
        yajl_gen_status (*gen_list) (yajl_gen g, const struct store_job *jobs, size_t n,
                                     int64_t total, int64_t offset, int64_t limit,
                                     const struct api_query *q);
        unsigned accepted_status; /* the submit's status [202] */
        /* DELETE of a job: refused [cancels it]: 403 and an empty body without
         * authorization, else 400 with this message. */
        const char *job_delete_refused;
        const char *callback_method; /* ["POST"] */
        /* The rest of an API_ROUTE_JOB path to a store id [32 lowercase hex,
         * as it is]: false when it names no job. */
        bool (*job_id) (const char *rest, char id[STORE_ID_SIZE]);
        /* Check the query of a job route or a submit before anything else:
         * <0 with err (its status and message) refuses it. */
        int (*check_query) (const struct api_query *q, struct ce_error *err);
        /* What the store keeps of an accepted body [the bytes as they came]:
         * *out malloc'd. */
        int (*stored_body) (void *parser, char **out, size_t *len, struct ce_error *err);
        /* Whether a submit waits for its job to end before it answers
         * (Judge0's wait=true) [never]: then the answer is gen_job's. */
        bool (*submit_waits) (const struct api_query *q);
        /* API_ROUTE_BATCH.  POST: after the body, batch_count says how many
         * requests it holds (<0: the whole body refused, err says why), and
         * batch_select makes request i the parser's current one, as finish
         * does for a single body (api_plan, stored_body and gen_refusal then
         * apply to it); the answer is an array of gen_accepted or refusal
         * bodies, batch_refused_status when none was accepted.  GET:
         * batch_ids reads the ids asked (an id "" is unknown: null in the
         * answer), answered as {batch_key: [gen_job or null, ...]}, or 400
         * batch_unreadable when a job's job_status is not 200. */
        int (*batch_count) (void *parser, struct ce_error *err);
        int (*batch_select) (void *parser, size_t i, const struct api_env *env,
                             struct api_request *out, struct ce_error *err);
        int (*batch_ids) (const struct api_query *q, char (**ids)[STORE_ID_SIZE], size_t *n,
                          struct ce_error *err);
        const char *batch_key;
        unsigned batch_refused_status;
        const char *batch_unreadable;
        /* The HTTP status of a job's read [200]; gen_job then writes the
         * body, an error one too. */
        unsigned (*job_status) (const struct store_job *job, const struct api_query *q);
        /* The body of a refusal whose finish left one in the parser (a
         * document of field errors); false: none [gen_error]. */
        bool (*gen_refusal) (void *parser, yajl_gen g);
        /* API_ROUTE_RPC.  rpc_message: the body is whole in the parser (fed
         * as for an execution; a body refused there is answered with
         * gen_error); never fails, its errors are answers.  rpc_watch: how
         * to stop a call's execution at once (cancel (arg), any thread, until
         * rpc_end); rpc_result: the call's answer, res NULL when it could
         * not run (error says why); rpc_end: the transport is done with the
         * call (after which cancel is never called). */
        enum api_rpc_kind (*rpc_message) (void *parser, const struct api_env *env,
                                          struct api_rpc *rpc);
        void (*rpc_watch) (void *call, void (*cancel) (void *arg), void *arg);
        yajl_gen_status (*rpc_result) (yajl_gen g, void *call, const struct api_env *env,
                                       const struct api_request *in, const struct exec_result *res,
                                       const char *error);
        void (*rpc_end) (void *call);
};

extern const struct api_frontend api_native;
extern const struct api_frontend api_piston;
extern const struct api_frontend api_judge0;
extern const struct api_frontend api_mcp;

/* Forget every MCP session (the server stops; no call is in flight). */
void api_mcp_reset (void);

/* api's error body for msg, which may quote a client's input cut at a byte
 * limit: made valid UTF-8 first. */
static inline yajl_gen_status
api_gen_error_clean (yajl_gen g, const struct api_frontend *api, const char *msg,
                     const char *status)
{
        cleanup_free char *clean = NULL;
        size_t len;

        if (ce_utf8_sanitize (msg, strlen (msg), &clean, &len) < 0)
                return yajl_gen_invalid_string;
        return api->gen_error (g, clean, status);
}

/* "key": a program's output (raw bytes, b) made valid UTF-8, as the
 * front-ends' answers carry it. */
static inline yajl_gen_status
api_gen_output (yajl_gen g, const char *key, const struct ce_buf *b)
{
        cleanup_free char *clean = NULL;
        size_t len;
        yajl_gen_status st;

        if (ce_utf8_sanitize (b->data ? b->data : "", b->len, &clean, &len) < 0)
                return yajl_gen_invalid_string;
        st = yajl_gen_string (g, (const unsigned char *) key, strlen (key));
        if (st == yajl_gen_status_ok)
                st = yajl_gen_string (g, (const unsigned char *) clean, len);
        return st;
}

/* For a front-end that reads its whole body before parsing it
 * (yajl_tree): the next piece, or 413 once the body would pass max
 * (api_body.c). */
int api_body_append (struct ce_buf *body, size_t max, const char *data, size_t len,
                     struct ce_error *err);

/* A parser that only gathers the body (api_body_append): the parser_new,
 * parser_free and feed of a front-end that reads body.data at the end. */
struct api_body_parser {
        struct ce_buf body;
        size_t max;
};
void *api_body_parser_new (size_t max_body, const struct api_query *q);
void api_body_parser_free (void *parser);
int api_body_parser_feed (void *parser, const char *data, size_t len, struct ce_error *err);

/* GET /languages's answer (api_native.c), for other front-ends to list
 * the same. */
yajl_gen_status api_gen_languages (yajl_gen g, const struct api_env *env);

/* An object's member, or NULL. */
static inline yajl_val
api_member (yajl_val obj, const char *key)
{
        for (size_t i = 0; i < obj->u.object.len; i++)
                if (strcmp (obj->u.object.keys[i], key) == 0)
                        return obj->u.object.values[i];
        return NULL;
}

/* After a front-end's finish, whatever the API: each stage's limits
 * (plan.h) into in->plan.  <0: 400 naming the field, or 503 for a language
 * that is not available. */
static inline int
api_plan (const struct api_env *env, struct api_request *in, struct ce_error *err)
{
        return plan_make (in->lang, in->req, env->policy, &in->plan, err);
}

#endif
