/*
 * playground.h - the playground's files: a page at / for browsers (an
 * editor, a language picker, live output through POST /execute's NDJSON
 * stream) and what it loads, all embedded in the binary at build time
 * (our own files from src/playground/, CodeMirror's from Debian's
 * libjs-codemirror), so that the page makes no request to any other host.
 *
 * http.c serves them (API_ROUTE_ASSET, and api_route.page for GET / with
 * Accept: text/html); this module only knows the files, their types and
 * their ETags.  Everything here is immutable after the first call and may
 * be used from any thread.
 */
#ifndef CE_PLAYGROUND_H
#define CE_PLAYGROUND_H

#include <stdbool.h>
#include <stddef.h>

/* What every playground response carries: nothing but the server itself
 * (images a program wrote come as data: URLs). */
#define PLAYGROUND_CSP                                                                             \
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "     \
        "frame-ancestors 'none'; form-action 'none'"
/* Revalidated each time (the ETag makes that a 304): a new binary's page
 * never runs with an old binary's scripts. */
#define PLAYGROUND_CACHE_CONTROL "no-cache"

struct playground_asset {
        const char *name; /* "index.html", "codemirror/lib/codemirror.js" */
        const char *type; /* its Content-Type */
        const unsigned char *data;
        size_t len;
        const char *etag; /* quoted, from a SHA-256 of data */
};

/* The file of that name (the path after /playground/), or NULL. */
const struct playground_asset *playground_find (const char *name);

/* Whether an Accept header asks for HTML: it names text/html (any case,
 * parameters allowed) with a q that is not 0.  A browser's navigation does;
 * curl's default (star/star) and API clients do not. */
bool playground_wants_html (const char *accept);

#endif
