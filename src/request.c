/*
 * request.c - streaming, strict parse of the /execute body.
 *
 * The yajl callbacks below see the document as a stream of events.  Only the
 * top level is an object with known fields; any nesting under a field is a
 * type error reported at its first event, so depth never grows past two and
 * deeply nested bodies cost nothing.  The first problem wins: it is stored in
 * p->err and the callback returns 0, which makes yajl stop.
 */
#include "request.h"

#include <string.h>
#include <yajl/yajl_parse.h>

#define MAX_LANGUAGE_LEN 64

enum field {
        F_NONE = 0,
        F_LANGUAGE,
        F_CODE,
        F_UNKNOWN,
};

struct request_parser {
        yajl_handle yajl;
        size_t max_bytes;
        size_t seen_bytes;
        int depth;        /* 0 outside the top object, 1 inside it */
        bool seen_top;    /* the top-level value has started */
        enum field field; /* the key whose value comes next */
        unsigned seen;    /* bit per field already given */
        bool failed;
        struct ce_error err;
        struct ce_request *req;
};

static const char *
field_name (enum field f)
{
        switch (f) {
        case F_LANGUAGE: return "language";
        case F_CODE: return "code";
        default: return "?";
        }
}

/* Record the first problem; returning 0 makes yajl stop. */
static int __attribute__ ((format (printf, 2, 3)))
fail (struct request_parser *p, const char *fmt, ...)
{
        va_list ap;

        if (! p->failed) {
                p->failed = true;
                p->err.code = EINVAL;
                p->err.http_status = 400;
                va_start (ap, fmt);
                vsnprintf (p->err.msg, sizeof (p->err.msg), fmt, ap);
                va_end (ap);
        }
        return 0;
}

/* Called for every value that is not a string, and for the start of arrays
 * and maps below the top level. */
static int
reject_value (struct request_parser *p, const char *kind)
{
        if (! p->seen_top)
                return fail (p, "request body must be a JSON object, not %s", kind);
        return fail (p, "field '%s' must be a string", field_name (p->field));
}

static int
on_null (void *ctx)
{
        return reject_value (ctx, "null");
}

static int
on_boolean (void *ctx, int v)
{
        (void) v;
        return reject_value (ctx, "a boolean");
}

static int
on_number (void *ctx, const char *s, size_t l)
{
        (void) s;
        (void) l;
        return reject_value (ctx, "a number");
}

static int
on_string (void *ctx, const unsigned char *s, size_t len)
{
        struct request_parser *p = ctx;
        char *copy;

        if (! p->seen_top)
                return reject_value (p, "a string");
        if (p->field == F_LANGUAGE && (len == 0 || len > MAX_LANGUAGE_LEN))
                return fail (p, "field '%s' must be a non-empty name", "language");
        if (p->field == F_LANGUAGE && memchr (s, '\0', len))
                return fail (p, "field '%s' must not contain NUL", "language");

        copy = malloc (len + 1);
        if (copy == NULL)
                return fail (p, "%s", "out of memory");
        memcpy (copy, s, len);
        copy[len] = '\0';
        if (p->field == F_LANGUAGE) {
                p->req->language = copy;
        } else {
                p->req->code = copy;
                p->req->code_len = len;
        }
        p->field = F_NONE;
        return 1;
}

static int
on_start_map (void *ctx)
{
        struct request_parser *p = ctx;

        if (p->seen_top)
                return reject_value (p, "an object");
        p->seen_top = true;
        p->depth = 1;
        return 1;
}

static int
on_map_key (void *ctx, const unsigned char *key, size_t len)
{
        struct request_parser *p = ctx;
        char name[65];
        enum field f = F_UNKNOWN;

        if (len == 8 && memcmp (key, "language", 8) == 0)
                f = F_LANGUAGE;
        else if (len == 4 && memcmp (key, "code", 4) == 0)
                f = F_CODE;
        if (f == F_UNKNOWN) {
                /* Quote a bounded, NUL-free copy of the name back to the client. */
                size_t n = len < sizeof (name) - 1 ? len : sizeof (name) - 1;

                memcpy (name, key, n);
                name[n] = '\0';
                if (memchr (key, '\0', n) || n < len)
                        return fail (p, "%s", "unknown field in request");
                return fail (p, "unknown field '%s' (expected 'language' and 'code')", name);
        }
        if (p->seen & (1u << f))
                return fail (p, "field '%s' given twice", field_name (f));
        p->seen |= 1u << f;
        p->field = f;
        return 1;
}

static int
on_end_map (void *ctx)
{
        struct request_parser *p = ctx;

        p->depth = 0;
        return 1;
}

static int
on_start_array (void *ctx)
{
        return reject_value (ctx, "an array");
}

static int
on_end_array (void *ctx)
{
        (void) ctx;
        return 1;
}

static const yajl_callbacks callbacks = {
        .yajl_null = on_null,
        .yajl_boolean = on_boolean,
        .yajl_number = on_number,
        .yajl_string = on_string,
        .yajl_start_map = on_start_map,
        .yajl_map_key = on_map_key,
        .yajl_end_map = on_end_map,
        .yajl_start_array = on_start_array,
        .yajl_end_array = on_end_array,
};

struct request_parser *
request_parser_new (size_t max_bytes)
{
        struct request_parser *p = calloc (1, sizeof (*p));

        if (p == NULL)
                return NULL;
        p->req = calloc (1, sizeof (*p->req));
        p->yajl = yajl_alloc (&callbacks, NULL, p);
        if (p->req == NULL || p->yajl == NULL) {
                request_parser_free (p);
                return NULL;
        }
        p->max_bytes = max_bytes;
        return p;
}

void
request_parser_free (struct request_parser *p)
{
        if (p == NULL)
                return;
        if (p->yajl)
                yajl_free (p->yajl);
        request_free (p->req);
        free (p);
}

void
request_free (struct ce_request *r)
{
        if (r == NULL)
                return;
        free (r->language);
        free (r->code);
        free (r);
}

/* Turn a yajl failure into p->err unless a callback already said why. */
static int
parse_status (struct request_parser *p, yajl_status st, const char *data, size_t len,
              struct ce_error *err)
{
        if (st == yajl_status_ok)
                return 0;
        if (! p->failed) {
                unsigned char *msg = yajl_get_error (p->yajl, 0, (const unsigned char *) data, len);

                p->failed = true;
                ce_error_set (&p->err, 400, EINVAL, "malformed JSON: %s",
                              msg ? (const char *) msg : "parse error");
                if (msg)
                        yajl_free_error (p->yajl, msg);
        }
        *err = p->err;
        return -err->code;
}

int
request_parser_feed (struct request_parser *p, const char *data, size_t len, struct ce_error *err)
{
        if (p->failed) {
                *err = p->err;
                return -err->code;
        }
        p->seen_bytes += len;
        if (p->seen_bytes > p->max_bytes) {
                p->failed = true;
                ce_error_set (&p->err, 413, EFBIG, "request body is larger than %zu bytes",
                              p->max_bytes);
                *err = p->err;
                return -err->code;
        }
        return parse_status (p, yajl_parse (p->yajl, (const unsigned char *) data, len), data, len,
                             err);
}

int
request_parser_finish (struct request_parser *p, struct ce_request **out, struct ce_error *err)
{
        int ret;

        if (p->failed) {
                *err = p->err;
                return -err->code;
        }
        if (p->seen_bytes == 0)
                return ce_error_set (err, 400, EINVAL,
                                     "request body is empty: expected a JSON "
                                     "object with 'language' and 'code'");
        ret = parse_status (p, yajl_complete_parse (p->yajl), NULL, 0, err);
        if (ret < 0)
                return ret;
        if (p->req->language == NULL)
                return ce_error_set (err, 400, EINVAL, "missing field 'language'");
        if (p->req->code == NULL)
                return ce_error_set (err, 400, EINVAL, "missing field 'code'");
        *out = steal_pointer (&p->req);
        return 0;
}
