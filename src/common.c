/*
 * common.c - errors, buffers, monotonic time, UTF-8 repair and logging.
 * Everything here is thread-safe.  The only global state is the log's
 * format and node id, set by main before any other thread starts.
 */
#include "common.h"

#include <malloc.h>
#include <yajl/yajl_gen.h>
#include <nettle/base64.h>

#include <string.h>
#include <sys/time.h>

static int __attribute__ ((format (printf, 4, 0)))
error_vset (struct ce_error *err, int http_status, int code, const char *fmt, va_list ap)
{
        /* An error is never a success: a caller that passed 0 (errno after
         * a call that did not set it) gets EIO. */
        if (code <= 0)
                code = EIO;
        if (err) {
                vsnprintf (err->msg, sizeof (err->msg), fmt, ap);
                err->code = code;
                err->http_status = http_status;
        }
        return -code;
}

int
ce_fail (struct ce_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        int ret;

        va_start (ap, fmt);
        ret = error_vset (err, 0, code, fmt, ap);
        va_end (ap);
        return ret;
}

int
ce_refuse (struct ce_error *err, int http_status, int code, const char *fmt, ...)
{
        va_list ap;
        int ret;

        /* A client status or nothing: a 2xx, 3xx or 500 here is a bug. */
        if (http_status < 400 || http_status > 599 || http_status == 500)
                http_status = 0;
        va_start (ap, fmt);
        ret = error_vset (err, http_status, code, fmt, ap);
        va_end (ap);
        return ret;
}

int
ce_error_wrap (struct ce_error *err, const char *fmt, ...)
{
        char ctx[256];
        size_t clen, room;
        va_list ap;

        if (err->code <= 0)
                err->code = EIO;
        va_start (ap, fmt);
        vsnprintf (ctx, sizeof (ctx), fmt, ap);
        va_end (ap);
        /* "CTX: " in front; what does not fit of the old message is cut. */
        clen = strlen (ctx);
        room = sizeof (err->msg) - 1 - clen - 2;
        err->msg[sizeof (err->msg) - 1] = '\0';
        memmove (err->msg + clen + 2, err->msg, strnlen (err->msg, room) + 1);
        err->msg[sizeof (err->msg) - 1] = '\0';
        memcpy (err->msg, ctx, clen);
        memcpy (err->msg + clen, ": ", 2);
        return -err->code;
}

void
ce_strv_free (char **v)
{
        if (v == NULL)
                return;
        for (char **p = v; *p; p++)
                free (*p);
        free (v);
}

int
ce_buf_append (struct ce_buf *b, const void *data, size_t len)
{
        if (len > SIZE_MAX - b->len - 1)
                return -ENOMEM;
        if (b->len + len + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                char *n;

                while (cap < b->len + len + 1)
                        cap = cap > SIZE_MAX / 2 ? b->len + len + 1 : cap * 2;
                n = realloc (b->data, cap);
                if (n == NULL)
                        return -ENOMEM;
                b->data = n;
                b->cap = cap;
        }
        if (len)
                memcpy (b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
}

void
ce_buf_free (struct ce_buf *b)
{
        free (b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

struct timespec
ce_now (void)
{
        struct timespec ts;

        clock_gettime (CLOCK_MONOTONIC, &ts);
        return ts;
}

struct timespec
ce_deadline_after_ms (int64_t ms)
{
        return ce_deadline_from (ce_now (), ms);
}

struct timespec
ce_deadline_from (struct timespec ts, int64_t ms)
{
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
        }
        return ts;
}

int64_t
ce_ms_between (struct timespec from, struct timespec to)
{
        return (int64_t) (to.tv_sec - from.tv_sec) * 1000 + (to.tv_nsec - from.tv_nsec) / 1000000;
}

bool
ce_time_before (struct timespec a, struct timespec b)
{
        return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_seq_len (const unsigned char *s, size_t n)
{
        unsigned char c = s[0];
        size_t len;
        uint32_t cp;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                len = 4, cp = c & 0x07;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

int
ce_utf8_sanitize (const char *src, size_t len, char **out, size_t *out_len)
{
        static const char replacement[] = "\xef\xbf\xbd";
        const unsigned char *s = (const unsigned char *) src;
        struct ce_buf b = { 0 };
        size_t i = 0, run = 0;

        /* A valid (empty) string even when there is nothing to copy. */
        if (ce_buf_append (&b, "", 0) < 0)
                return -ENOMEM;
        while (i < len) {
                size_t n = utf8_seq_len (s + i, len - i);

                if (n) {
                        i += n;
                        continue;
                }
                if (ce_buf_append (&b, src + run, i - run) < 0
                    || ce_buf_append (&b, replacement, 3) < 0) {
                        ce_buf_free (&b);
                        return -ENOMEM;
                }
                i++;
                run = i;
        }
        if (ce_buf_append (&b, src + run, len - run) < 0) {
                ce_buf_free (&b);
                return -ENOMEM;
        }
        *out = b.data;
        *out_len = b.len;
        return 0;
}

int
ce_write_all (int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write (fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Set by main before any other thread starts (ce_log_set_format), read by
 * every thread after: no lock. */
static enum ce_log_format log_format = CE_LOG_TEXT;
static char log_node[256];

void
ce_log_set_format (enum ce_log_format f)
{
        log_format = f;
}

void
ce_log_set_node (const char *node)
{
        snprintf (log_node, sizeof (log_node), "%s", node ? node : "");
}

const char *
ce_log_node (void)
{
        return log_node;
}

/* The UTC time now, to the millisecond: "2024-05-01T12:00:00.123Z". */
static void
log_stamp (char *buf, size_t size)
{
        char stamp[32];
        struct timeval tv;
        struct tm tm;

        gettimeofday (&tv, NULL);
        gmtime_r (&tv.tv_sec, &tm);
        strftime (stamp, sizeof (stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf (buf, size, "%s.%03dZ", stamp, (int) (tv.tv_usec / 1000));
}

#define LOG_GEN(call)                                                                              \
        do {                                                                                       \
                if ((call) != yajl_gen_status_ok)                                                  \
                        goto fail;                                                                 \
        } while (0)
#define LOG_STR(g, s) LOG_GEN (yajl_gen_string ((g), (const unsigned char *) (s), strlen (s)))
/* A string that may hold anything (a message quoting a file name): its
 * invalid UTF-8 replaced, so that the line is always valid JSON. */
#define LOG_TEXT(g, s)                                                                             \
        do {                                                                                       \
                cleanup_free char *_clean = NULL;                                                  \
                size_t _len;                                                                       \
                if (ce_utf8_sanitize ((s), strlen (s), &_clean, &_len) < 0)                        \
                        goto fail;                                                                 \
                LOG_GEN (yajl_gen_string ((g), (const unsigned char *) _clean, _len));             \
        } while (0)

/* One json line: time, level, msg, then the request's fields (r, or NULL),
 * then node.  false when it could not be made (out of memory). */
static bool
log_json (const char *level, const char *msg, const struct ce_log_request *r)
{
        char stamp[40];
        const unsigned char *buf;
        size_t len;
        bool ok = false;
        yajl_gen g = yajl_gen_alloc (NULL);

        if (g == NULL)
                return false;
        yajl_gen_config (g, yajl_gen_validate_utf8, 1);
        log_stamp (stamp, sizeof (stamp));
        LOG_GEN (yajl_gen_map_open (g));
        LOG_STR (g, "time");
        LOG_STR (g, stamp);
        LOG_STR (g, "level");
        LOG_STR (g, level);
        LOG_STR (g, "msg");
        LOG_TEXT (g, msg);
        if (r) {
                LOG_STR (g, "request_id");
                LOG_TEXT (g, r->request_id ? r->request_id : "");
                LOG_STR (g, "method");
                LOG_TEXT (g, r->method);
                LOG_STR (g, "path");
                LOG_TEXT (g, r->path);
                LOG_STR (g, "language");
                if (r->language)
                        LOG_TEXT (g, r->language);
                else
                        LOG_GEN (yajl_gen_null (g));
                LOG_STR (g, "status");
                if (r->status)
                        LOG_GEN (yajl_gen_integer (g, r->status));
                else
                        LOG_GEN (yajl_gen_null (g));
                LOG_STR (g, "outcome");
                if (r->outcome)
                        LOG_TEXT (g, r->outcome);
                else
                        LOG_GEN (yajl_gen_null (g));
                LOG_STR (g, "duration_ms");
                LOG_GEN (yajl_gen_integer (g, r->duration_ms));
        }
        LOG_STR (g, "node");
        LOG_TEXT (g, log_node);
        LOG_GEN (yajl_gen_map_close (g));
        LOG_GEN (yajl_gen_get_buf (g, &buf, &len));
        /* One fprintf per line: stdio's lock keeps lines whole across threads. */
        fprintf (stderr, "%.*s\n", (int) len, (const char *) buf);
        ok = true;
fail:
        yajl_gen_free (g);
        return ok;
}

/* The level a message's prefix gives it, and the message without it. */
static const char *
log_level (const char **msg)
{
        static const char *const levels[] = { "warning", "error", "fatal" };

        for (size_t i = 0; i < sizeof (levels) / sizeof (levels[0]); i++) {
                size_t n = strlen (levels[i]);

                if (strncmp (*msg, levels[i], n) == 0 && (*msg)[n] == ':' && (*msg)[n + 1] == ' ') {
                        *msg += n + 2;
                        return levels[i];
                }
        }
        return "info";
}

void
ce_vlog (const char *fmt, va_list ap)
{
        char line[1024], stamp[40];
        const char *msg = line;
        const char *level;

        vsnprintf (line, sizeof (line), fmt, ap);
        if (log_format == CE_LOG_JSON) {
                level = log_level (&msg);
                if (log_json (level, msg, NULL))
                        return;
                msg = line;
        }
        log_stamp (stamp, sizeof (stamp));
        /* One fprintf per line: stdio's lock keeps lines whole across threads. */
        fprintf (stderr, "%s %s\n", stamp, msg);
}

void
ce_log (const char *fmt, ...)
{
        va_list ap;

        va_start (ap, fmt);
        ce_vlog (fmt, ap);
        va_end (ap);
}

void
ce_log_request (const struct ce_log_request *r)
{
        char status[16] = "-", msg[512];

        if (r->status)
                snprintf (status, sizeof (status), "%u", r->status);
        snprintf (msg, sizeof (msg), "%s %s %s %s %s %lldms", r->method, r->path,
                  r->language ? r->language : "-", status, r->outcome ? r->outcome : "-",
                  (long long) r->duration_ms);
        if (log_format == CE_LOG_JSON && log_json ("info", msg, r))
                return;
        ce_log ("[%s] %s", r->request_id ? r->request_id : "-", msg);
}

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>

/* Directories deeper than this below the tree's top are moved up to the top
 * and removed on another pass: the stack stays bounded however deep a
 * hostile tree (a rootless /build) is, and no tree is left behind. */
#define REMOVE_MAX_DEPTH 32

/* Remove dirfd/name, depth levels below top (the tree's root once open;
 * -1 before); *hoisted: a directory too deep was moved into top instead. */
static int
remove_tree_depth (int top, int dirfd, const char *name, int depth, bool *hoisted)
{
        struct stat st;
        struct dirent *de;
        DIR *d;
        int fd, ret = 0;

        if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (! S_ISDIR (st.st_mode))
                return unlinkat (dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        if (depth > REMOVE_MAX_DEPTH) {
                static atomic_uint serial;

                for (int tries = 0; tries < 100; tries++) {
                        char up[32];

                        snprintf (up, sizeof (up), ".ce-rm-%u", atomic_fetch_add (&serial, 1));
                        if (renameat2 (dirfd, name, top, up, RENAME_NOREPLACE) == 0) {
                                *hoisted = true;
                                return 0;
                        }
                        if (errno != EEXIST)
                                return -errno;
                }
                return -ELOOP;
        }
        fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir (fd);
        if (d == NULL) {
                ret = -errno;
                close (fd);
                return ret;
        }
        while ((de = readdir (d)) != NULL) {
                int r;

                if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
                        continue;
                r = remove_tree_depth (depth == 0 ? fd : top, fd, de->d_name, depth + 1, hoisted);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        closedir (d);
        /* Still holding what was moved up: the next pass removes it. */
        if (depth == 0 && *hoisted)
                return ret;
        if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && ret == 0)
                ret = -errno;
        return ret;
}

int
ce_remove_tree_at (int dirfd, const char *name)
{
        for (;;) {
                bool hoisted = false;
                int ret = remove_tree_depth (-1, dirfd, name, 0, &hoisted);

                /* Each pass takes REMOVE_MAX_DEPTH levels off what it moved
                 * up: a finite tree ends. */
                if (ret < 0 || ! hoisted)
                        return ret;
        }
}

int
ce_read_text_at (int dirfd, const char *name, char *buf, size_t size)
{
        cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        do
                n = read (fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

int
ce_write_file_at (int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
        cleanup_close int fd =
                openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        int ret;

        if (fd < 0)
                return -errno;
        ret = ce_write_all (fd, data, len);
        if (ret < 0)
                return ret;
        /* The umask must not decide what the container may read. */
        return fchmod (fd, mode) < 0 ? -errno : 0;
}

int
ce_base64_encode (const void *data, size_t len, char **out, size_t *out_len)
{
        size_t n;

        /* BASE64_ENCODE_RAW_LENGTH would overflow past this. */
        if (len > (SIZE_MAX - 4) / 4 * 3)
                return -ENOMEM;
        n = BASE64_ENCODE_RAW_LENGTH (len);
        *out = malloc (n + 1);
        if (*out == NULL)
                return -ENOMEM;
        base64_encode_raw ((char *) *out, len, (const uint8_t *) data);
        (*out)[n] = '\0';
        *out_len = n;
        return 0;
}

int
ce_base64_decode (const char *src, size_t len, char **out, size_t *out_len)
{
        uint32_t acc = 0;
        int bits = 0, pad = 0;
        size_t n = 0;
        char *buf = malloc (len / 4 * 3 + 3);

        if (buf == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) src[i];
                int v;

                if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                        continue;
                if (c == '=') {
                        pad++;
                        continue;
                }
                if (pad)
                        goto bad; /* data after padding */
                if (c >= 'A' && c <= 'Z')
                        v = c - 'A';
                else if (c >= 'a' && c <= 'z')
                        v = c - 'a' + 26;
                else if (c >= '0' && c <= '9')
                        v = c - '0' + 52;
                else if (c == '+')
                        v = 62;
                else if (c == '/')
                        v = 63;
                else
                        goto bad;
                acc = (acc << 6) | (uint32_t) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        buf[n++] = (char) ((acc >> bits) & 0xff);
                }
        }
        /* A lone 6-bit group cannot encode a byte; leftover bits must be zero;
         * padding, when given, must complete the last group exactly. */
        if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
                goto bad;
        if (pad && (pad != (bits == 4 ? 2 : bits == 2 ? 1 : -1)))
                goto bad;
        *out = buf;
        *out_len = n;
        return 0;
bad:
        free (buf);
        return -EINVAL;
}

void
ce_memory_trim (void)
{
        malloc_trim (0);
}

int
ce_cond_init_monotonic (pthread_cond_t *c)
{
        pthread_condattr_t attr;
        int ret = pthread_condattr_init (&attr);

        if (ret)
                return ret;
        ret = pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
        if (ret == 0)
                ret = pthread_cond_init (c, &attr);
        pthread_condattr_destroy (&attr);
        return ret;
}

void
ce_thread_name (pthread_t t, const char *fmt, ...)
{
        char name[16];
        va_list ap;

        va_start (ap, fmt);
        vsnprintf (name, sizeof (name), fmt, ap);
        va_end (ap);
        (void) pthread_setname_np (t, name);
}
