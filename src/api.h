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
 * Today: api_native.c (POST /execute) and api_piston.c (Piston's API v2,
 * POST /api/v2/execute).  A parser belongs to one connection and is used by
 * one thread at a time (libmicrohttpd's); the generators may run on any
 * thread and only read what they are given.
 */
#ifndef CE_API_H
#define CE_API_H

#include <yajl/yajl_gen.h>

#include "bundle.h"
#include "common.h"
#include "events.h"
#include "execution.h"
#include "plan.h"
#include "request.h"

/* What a front-end may consult: immutable after start-up. */
struct api_env {
        const struct ce_bundle_registry *bundles;
        const struct exec_policy *policy;
        const char *limit_mode; /* "cgroup" or "rlimit" */
};

/* One request, translated: what the execution needs. */
struct api_request {
        struct ce_request *req; /* owned: request_free */
        const struct ce_language *lang;
        struct exec_plan plan;
};

struct api_frontend {
        const char *name; /* for the log: "native", "piston" */
        bool streams;     /* answers Accept: application/x-ndjson with live events */
        /* A parser for one body of at most max_body bytes; NULL on ENOMEM. */
        void *(*parser_new) (size_t max_body);
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
};

extern const struct api_frontend api_native;
extern const struct api_frontend api_piston;

/* After a front-end's finish, whatever the API: each stage's limits
 * (plan.h) into in->plan.  <0: 400 naming the field, or 503 for a language
 * that is not available. */
static inline int
api_plan (const struct api_env *env, struct api_request *in, struct ce_error *err)
{
        return plan_make (in->lang, in->req, env->policy, &in->plan, err);
}

/* Piston's GET /api/v2/runtimes and GET /api/v2/packages bodies. */
yajl_gen_status api_piston_gen_runtimes (yajl_gen g, const struct api_env *env);
yajl_gen_status api_piston_gen_packages (yajl_gen g, const struct api_env *env);

/* The name Piston knows lang by ("python" for python3, "c++" for cpp). */
const char *api_piston_language_name (const struct ce_language *lang);

/* A stage's result as Piston reports it, in its execute answer and on its
 * WebSocket alike: status "TO", "OL", "EL", "SG", "RE" or NULL; message ""
 * when there is none; signal NULL when none (SIGKILL for Piston's own kills:
 * points into signame or is a constant). */
struct api_piston_outcome {
        const char *status;
        char message[96];
        const char *signal;
        char signame[32];
};
void api_piston_outcome (const struct runner_result *res, struct api_piston_outcome *out);

/* 1 when version (a Piston version request: exact, a SemVer range, "*" or
 * NULL for any) accepts have; 0 otherwise.  Exposed for tests. */
int api_piston_version_matches (const char *want, const char *have);

#endif
