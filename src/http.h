/*
 * http.h - the HTTP front: routing, bodies, responses (libmicrohttpd).
 *
 * libmicrohttpd's one internal thread (epoll) runs every access handler; no
 * handler ever blocks on an execution.  POST /execute (and Piston's POST
 * /api/v2/execute) parses its body as it arrives, then hands a job to the
 * pool and suspends the connection; the worker resumes it when the result
 * is ready.  With Accept: application/x-ndjson the answer is a live stream
 * instead (stream_ndjson.h); GET /api/v2/connect is a WebSocket
 * (stream_ws.h).  All mapping of errors to HTTP statuses happens in http.c.
 */
#ifndef CE_HTTP_H
#define CE_HTTP_H

#include "bundle.h"
#include "common.h"
#include "execution.h"
#include "pool.h"
#include "runner.h"
#include "store.h"
#include "warm.h"

struct http_config {
        const char *listen; /* "HOST:PORT" */
        size_t max_body;
        /* Seconds a connection may send nothing (a request) or take nothing
         * (an answer, a stream, a WebSocket) before it is closed. */
        unsigned connection_timeout_s;
        size_t max_websockets;        /* over it, a WebSocket handshake gets 503 */
        size_t max_concurrent, queue; /* reported by GET /version */
        const char *runtime_version;  /* reported by GET /version */
        struct exec_policy policy;    /* limits per stage: defaults and ceilings */
        const char *auth_token;       /* NULL: no authentication */
        const char *authz_token; /* an API's authorization (Judge0's X-Auth-User); NULL: none */
        const char *limit_mode;  /* "cgroup" or "rlimit": in /version and every result */
        bool rootless;
        const struct ce_bundle_registry *bundles;
        struct exec_env exec; /* the runtime, warm pool and compile cache */
        struct pool *pool;
        /* Asynchronous executions (jobs.h); NULL: POST /executions says 503. */
        struct job_store *store;
        size_t max_async;                  /* of them in the pool at once */
        struct callback_sender *callbacks; /* their callback_url deliveries */
        int64_t lease_ms;
        /* MCP at /mcp (api_mcp.c) */
        const char *mcp_allow_origins; /* comma-separated, or NULL */
        size_t mcp_max_sessions;
        int mcp_session_idle_s;
};

struct callback_sender;
struct http_server;

int http_start (const struct http_config *cfg, struct http_server **out, struct ce_error *err);

/* GET /ready answers 503, its body saying "draining", so that a balancer
 * sends new requests elsewhere; everything else keeps working (SIGTERM
 * with --drain, before http_quiesce).  Any thread. */
void http_drain (struct http_server *s);

/* Stop accepting connections; new /execute requests on open connections get
 * 503; no more asynchronous jobs are taken from the store. */
void http_quiesce (struct http_server *s);

/* Wait until every accepted /execute has been answered, or deadline. */
void http_wait_idle (struct http_server *s, struct timespec deadline);

/* Close everything and free s.  Every suspended connection must have been
 * resumed, and every asynchronous job answered or cancelled (pool_shutdown
 * guarantees both). */
void http_stop (struct http_server *s);

#endif
