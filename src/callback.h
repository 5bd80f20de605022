/*
 * callback.h - delivery of an asynchronous job's result to the client's
 * callback_url.
 *
 * When a job that carries a callback_url ends, a worker hands its result
 * body to callback_send and goes on: the bytes are copied into a bounded
 * queue and one delivery thread sends them (libcurl's multi interface,
 * several transfers at once), retrying with exponential backoff.  The
 * worker never waits for the client's server.
 *
 * A callback_url is an SSRF surface: the server makes a request that the
 * client chose, from inside the server's network.  Only plain http to a
 * host and port is accepted, and the address actually connected to must be
 * a global one: loopback (unless allowed), link-local (the cloud metadata
 * address 169.254.169.254 among them), private, shared, multicast,
 * broadcast and reserved ranges are refused, IPv4 ones also in their IPv6
 * forms (::ffff:10.0.0.1), unless an operator's --callback-allow range
 * holds the address.  callback_url_check applies the rules to a literal
 * address at submit time, for a clear error at once; a DNS name is resolved
 * at each delivery and every address is checked just before connect
 * (libcurl's open-socket callback), which also defeats DNS rebinding.  No
 * redirect is followed and no proxy is used, whatever the environment says.
 *
 * When a secret is configured each request carries
 * X-CodeEngine-Signature: sha256=<hex HMAC-SHA256(secret, body)>, so that
 * the client can tell our deliveries from forged ones.
 */
#ifndef CE_CALLBACK_H
#define CE_CALLBACK_H

#include <yajl/yajl_gen.h>

#include "common.h"

#define CALLBACK_URL_MAX 2048    /* bytes, the whole URL */
#define CALLBACK_SECRET_MAX 4096 /* bytes, callback_read_secret */

struct callback_params {
        unsigned max_attempts; /* total tries of one delivery, >= 1 (0: 5) */
        unsigned timeout_ms;   /* one attempt, the whole transfer (0: 10000) */
        unsigned backoff_ms;   /* before the 2nd try; doubles each time, at most 60 s (0: 1000) */
        size_t max_pending;    /* deliveries queued or in flight (0: 1024) */
        bool allow_loopback;   /* --callback-allow-loopback: 127.0.0.0/8 and ::1 too */
        const char *const *allow;    /* NULL-terminated CIDRs (--callback-allow), or NULL */
        const unsigned char *secret; /* copied; NULL: requests are not signed */
        size_t secret_len;
};

/* What GET /ready shows. */
struct callback_stats {
        uint64_t pending;   /* queued, waiting for a retry, or in flight */
        uint64_t delivered; /* answered 2xx */
        uint64_t failed;    /* given up: a final answer, a refused address, or out of attempts */
        uint64_t retried;   /* attempts after a failed one */
};

struct callback_sender;

/* Parse p->allow, copy the secret and start the delivery thread.  A CIDR
 * that does not parse is -EINVAL with a message naming it.  The first call
 * initialises libcurl (curl_global_init, once per process, never undone):
 * make it before the server starts threads that use libcurl otherwise
 * (none do today).  Free with callback_sender_free. */
int callback_sender_new (const struct callback_params *p, struct callback_sender **out,
                         struct ce_error *err);

/* Check a client's callback_url before its job is accepted:
 * http://host[:port][/path][?query], at most CALLBACK_URL_MAX bytes of
 * printable ASCII without spaces or backslashes, no userinfo (user@), no
 * fragment, a port in 1..65535; a literal address (IPv4, also in
 * inet_aton's forms such as 2130706433, or [IPv6]) must pass the range
 * rules above.  A DNS name passes here and is checked when it is connected
 * to.  0, or -EINVAL with a message for the client ("callback_url:
 * link-local addresses are refused (169.254.169.254)"): the client's
 * fault, which the front-end answers with 400 (ce_refuse; below the
 * front-ends an error carries no HTTP status).  Any thread. */
int callback_url_check (const struct callback_sender *s, const char *url, struct ce_error *err);

/* Queue one delivery: method "PUT" or "POST", content_type (a header
 * value: printable ASCII, e.g. "application/json"), len bytes of body
 * (copied; NULL/0 is an empty body).  url is checked again as by
 * callback_url_check (-EINVAL).  Never blocks: -EAGAIN when max_pending
 * deliveries are already pending, -ESHUTDOWN once callback_sender_free has
 * begun, -ENOMEM.  0 says the delivery is queued, not that it will
 * succeed: a final failure is logged (ce_log, naming the URL's host, never
 * the body) and counted.  Any thread, until callback_sender_free is called. */
int callback_send (struct callback_sender *s, const char *method, const char *url,
                   const char *content_type, const void *body, size_t len, struct ce_error *err);

/* Stop accepting, keep delivering what is pending until deadline (an
 * absolute CLOCK_MONOTONIC time, ce_deadline_after_ms; a retry is still
 * sent no sooner than its backoff allows), then drop the rest (logging how
 * many), abort the transfers in flight, join the thread and free s.
 * Returns at the deadline at the latest, plus libcurl's clean-up (closing
 * its sockets).  Call once, after every other call on s has
 * returned.  NULL is fine. */
void callback_sender_free (struct callback_sender *s, struct timespec deadline);

/* The counters, read under the sender's lock.  Any thread. */
void callback_stats (struct callback_sender *s, struct callback_stats *out);

/* The counters as a JSON map (GET /ready): pending, max_pending,
 * delivered, failed, retried.  Any thread. */
yajl_gen_status callback_gen (struct callback_sender *s, yajl_gen g);

/* Read the signing secret from path (--callback-secret-file): at most
 * CALLBACK_SECRET_MAX bytes (a longer file is -EFBIG, not cut), one
 * trailing newline ("\n" or "\r\n") removed; an empty secret is -EINVAL.
 * *buf is malloc'd (not NUL-terminated): the caller frees it, after
 * explicit_bzero if it cares.  The path is the operator's, opened like any
 * configuration file.  Any thread (main, before serving). */
int callback_read_secret (const char *path, unsigned char **buf, size_t *len, struct ce_error *err);

#endif
