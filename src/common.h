/*
 * common.h - small pieces every module shares.
 *
 * The error contract (after crun): a function that can fail returns 0 or a
 * negative errno-style value and fills a caller-supplied struct ce_error with
 * a message and, for a client's fault only, the HTTP status it maps to.
 * Only the transports turn a ce_error into a response; only main.c may exit.
 *
 * Cleanup attributes free locals on every return path.  Ownership moves are
 * written out: the local is set to NULL/-1 with a comment naming the new owner.
 */
#ifndef CE_COMMON_H
#define CE_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#define CE_VERSION "0.1.0"

struct ce_error {
        int code;        /* errno-style, positive */
        int http_status; /* a client's fault (ce_refuse); 0: internal */
        char msg[512];
};

/* Every failure is internal unless a front-end or the planner says it is
 * the client's: the HTTP status is chosen once, by ce_error_http_status.
 *
 * ce_fail: an internal failure.  Fill err (if not NULL) and return -code,
 * always < 0 (a code <= 0 becomes EIO: an error is never a success).  The
 * message is printf-formatted. */
int ce_fail (struct ce_error *err, int code, const char *fmt, ...)
        __attribute__ ((format (printf, 3, 4)));

/* ce_fail for what the client sent or asked for: http_status is 4xx, or
 * 503 for what this server cannot give now.  Only the front-ends (api_*.c,
 * request.c) and the planner (plan.c) call it; tools/modgraph checks. */
int ce_refuse (struct ce_error *err, int http_status, int code, const char *fmt, ...)
        __attribute__ ((format (printf, 4, 5)));

/* Add context on the way up, as crun's crun_error_wrap: the message becomes
 * "CONTEXT: message"; the code and status stay.  Returns -err->code. */
int ce_error_wrap (struct ce_error *err, const char *fmt, ...)
        __attribute__ ((format (printf, 2, 3)));

/* The one mapping of an error to HTTP: a client status, else 500. */
static inline unsigned
ce_error_http_status (const struct ce_error *err)
{
        return err->http_status ? (unsigned) err->http_status : 500;
}

static inline void
cleanup_freep (void *p)
{
        free (*(void **) p);
}

static inline void
cleanup_closep (int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close (*fd);
                errno = saved;
        }
}

static inline void
cleanup_fclosep (FILE **f)
{
        if (*f)
                fclose (*f);
}

static inline void
cleanup_closedirp (DIR **d)
{
        if (*d)
                closedir (*d);
}

/* Free a NULL-terminated array of malloc'd strings, and the array. */
void ce_strv_free (char **v);

static inline void
cleanup_strvp (char ***v)
{
        ce_strv_free (*v);
}

#define cleanup_free __attribute__ ((cleanup (cleanup_freep)))
#define cleanup_strv __attribute__ ((cleanup (cleanup_strvp)))
#define cleanup_close __attribute__ ((cleanup (cleanup_closep)))
#define cleanup_fclose __attribute__ ((cleanup (cleanup_fclosep)))
#define cleanup_closedir __attribute__ ((cleanup (cleanup_closedirp)))

/* Hand a pointer or fd to a new owner: returns the value, clears the local. */
#define steal_pointer(pp)                                                                          \
        ({                                                                                         \
                __typeof__ (*(pp)) _p = *(pp);                                                     \
                *(pp) = NULL;                                                                      \
                _p;                                                                                \
        })
#define steal_fd(pfd)                                                                              \
        ({                                                                                         \
                int _fd = *(pfd);                                                                  \
                *(pfd) = -1;                                                                       \
                _fd;                                                                               \
        })

/* A growable byte buffer.  Not thread-safe; the owner says who may touch it. */
struct ce_buf {
        char *data;
        size_t len;
        size_t cap;
};

int ce_buf_append (struct ce_buf *b, const void *data, size_t len);
void ce_buf_free (struct ce_buf *b);

/* CLOCK_MONOTONIC helpers; deadlines are absolute monotonic times. */
struct timespec ce_now (void);
struct timespec ce_deadline_after_ms (int64_t ms);
/* Initialise c for timed waits on CLOCK_MONOTONIC (ce_deadline_after_ms):
 * 0 or a pthread error number. */
int ce_cond_init_monotonic (pthread_cond_t *c);

/* Name thread t ("ce-worker-3": at most 15 bytes) for ps, top and gdb;
 * a failure only loses the name. */
void ce_thread_name (pthread_t t, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* Give freed memory back to the kernel (every malloc arena), after a
 * request or connection that made the server allocate a lot: a burst must
 * not leave the server's RSS at its peak. */
void ce_memory_trim (void);

/* ts + ms. */
struct timespec ce_deadline_from (struct timespec ts, int64_t ms);
int64_t ce_ms_between (struct timespec from, struct timespec to);
bool ce_time_before (struct timespec a, struct timespec b);

/* Copy src to a fresh buffer, replacing every invalid UTF-8 sequence with
 * U+FFFD, so that any program output can go into JSON.  *out is malloc'd and
 * NUL-terminated, *out_len excludes the NUL.  Returns 0 or -ENOMEM. */
int ce_utf8_sanitize (const char *src, size_t len, char **out, size_t *out_len);

/* Write all of buf to fd, retrying on EINTR and short writes. */
int ce_write_all (int fd, const void *buf, size_t len);

/* One log line to stderr: a UTC timestamp and the message (text), or one
 * JSON object {"time", "level", "msg", "node"} (json).  A message that
 * starts with "warning: ", "error: " or "fatal: " has that level (the
 * prefix leaves msg in json), any other "info".  Any thread. */
void ce_log (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void ce_vlog (const char *fmt, va_list ap) __attribute__ ((format (printf, 1, 0)));

enum ce_log_format {
        CE_LOG_TEXT, /* the default */
        CE_LOG_JSON, /* one object per line (--log-format json) */
};

/* main only, before any other thread starts: the format of every line from
 * now on, and this node's id (--node-id; copied, cut at 255 bytes) for
 * json lines and GET /metrics.  NULL: none yet. */
void ce_log_set_format (enum ce_log_format f);
void ce_log_set_node (const char *node);
/* The node id ("" when none was set).  Any thread. */
const char *ce_log_node (void);

/* What one HTTP request's log line says. */
struct ce_log_request {
        const char *request_id; /* X-Request-ID, validated or made here */
        const char *method;
        const char *path;     /* printable ASCII, short */
        const char *language; /* NULL: none */
        unsigned status;      /* 0: no answer was sent */
        const char *outcome;  /* "ok", "queue_full", ...; NULL: none */
        int64_t duration_ms;
};

/* The request's line: "[ID] METHOD PATH LANGUAGE STATUS OUTCOME Nms" (text;
 * "-" for what is missing), or a json line with request_id, method, path,
 * language, status, outcome and duration_ms (null for what is missing).
 * Any thread. */
void ce_log_request (const struct ce_log_request *r);

/* Remove dirfd/name and everything below it without following any symlink
 * (a link is removed, never its target).  Returns 0 or -errno. */
int ce_remove_tree_at (int dirfd, const char *name);

/* Read at most size - 1 bytes of name (relative to dirfd, or AT_FDCWD;
 * never through a link) into buf, NUL-terminated: small texts such as
 * cgroup files and stamps.  0, or -errno. */
int ce_read_text_at (int dirfd, const char *name, char *buf, size_t size);

/* Create dirfd/name exclusively (never through a link) and write data. */
int ce_write_file_at (int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* Decode standard base64 (RFC 4648; padding optional, ASCII whitespace
 * ignored).  *out is malloc'd.  Returns 0, -EINVAL or -ENOMEM. */
int ce_base64_decode (const char *src, size_t len, char **out, size_t *out_len);

/* Standard base64 of len bytes, padded, on one line, into *out (malloc'd,
 * NUL-terminated; *out_len without the NUL).  0 or -ENOMEM. */
int ce_base64_encode (const void *data, size_t len, char **out, size_t *out_len);

#endif
