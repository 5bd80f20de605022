/*
 * request.c - streaming, strict parse of the /execute body.
 *
 * The yajl callbacks below see the document as a stream of events.  A small
 * stack of contexts says where we are:
 *
 *   top object ─┬─ "files": array ── file objects {name, content, encoding}
 *               ├─ "args": array of strings
 *               ├─ "limits": object of numbers
 *               ├─ "tests": array ── test objects {name, stdin, expected_output,
 *               │                     "args": array of strings}
 *               ├─ "output_files": array of strings (globs)
 *               └─ "checker": object {type, abs, rel} (or a string)
 *
 * Any other nesting is a type error reported at its first event, so the stack
 * never grows past four (top, tests, a test, its args) and deeply nested
 * bodies cost nothing.  The first problem wins: it is stored in p->err and
 * the callback returns 0, which makes yajl stop.  Messages name the field
 * ("files[2].name", "limits.pids", "tests[3].args[1]", "checker.abs").
 *
 * A file or a test is built in the parser (p->file, p->test) and moved into
 * the request when its object closes, so a body cut short leaves nothing
 * half-made in the request; request_parser_free frees what is pending.
 * Which strings yajl guarantees: it checks the raw bytes' UTF-8 structure
 * only (not overlong forms, nor surrogates written as \u escapes), so a
 * test's name, which goes back out in the answer, is checked strictly here.
 */
#include "request.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define MAX_LANGUAGE_LEN 64
#define FEED_BYTES (64 * 1024) /* the least body given to yajl at once */
#define MAX_DEPTH 4            /* top, tests, a test, its args */

const struct ce_limits request_limit_minimums = {
        .timeout_ms = 1,
        .memory_mb = 16,
        .cpus = 0.05,
        .output_bytes = 1,
        .pids = 8,
};

enum ctx {
        CTX_TOP,
        CTX_FILES,
        CTX_FILE,
        CTX_ARGS,
        CTX_LIMITS,
        CTX_TESTS,
        CTX_TEST,
        CTX_TEST_ARGS,
        CTX_CHECKER,
        CTX_OUTPUT_FILES,
};

enum key {
        K_NONE = 0,
        /* top level */
        K_LANGUAGE,
        K_CODE,
        K_FILES,
        K_STDIN,
        K_ARGS,
        K_LIMITS,
        K_TESTS,
        K_CHECKER,
        K_STOP_ON_FAILURE,
        K_CALLBACK_URL,
        K_OUTPUT_FILES,
        /* a file (name); a test (name, stdin, args) */
        K_NAME,
        K_CONTENT,
        K_ENCODING,
        K_EXPECTED,
        /* limits */
        K_TIMEOUT,
        K_MEMORY,
        K_CPUS,
        K_OUTPUT,
        K_PIDS,
        K_COMPILE_TIMEOUT,
        K_COMPILE_MEMORY,
        K_COMPILE_PIDS,
};
/* A key is a bit in the "seen" words. */
_Static_assert(K_COMPILE_PIDS < 32, "enum key outgrew an unsigned");

struct key_def {
        const char *name;
        enum ctx ctx;
        enum key key;
};

static const struct key_def keys[] = {
        { "language", CTX_TOP, K_LANGUAGE },
        { "code", CTX_TOP, K_CODE },
        { "files", CTX_TOP, K_FILES },
        { "stdin", CTX_TOP, K_STDIN },
        { "args", CTX_TOP, K_ARGS },
        { "limits", CTX_TOP, K_LIMITS },
        { "tests", CTX_TOP, K_TESTS },
        { "checker", CTX_TOP, K_CHECKER },
        { "stop_on_failure", CTX_TOP, K_STOP_ON_FAILURE },
        { "callback_url", CTX_TOP, K_CALLBACK_URL },
        { "output_files", CTX_TOP, K_OUTPUT_FILES },
        { "name", CTX_FILE, K_NAME },
        { "content", CTX_FILE, K_CONTENT },
        { "encoding", CTX_FILE, K_ENCODING },
        { "name", CTX_TEST, K_NAME },
        { "stdin", CTX_TEST, K_STDIN },
        { "args", CTX_TEST, K_ARGS },
        { "expected_output", CTX_TEST, K_EXPECTED },
        /* "checker"'s keys are checker.h's (checker_object_key). */
        { "timeout_ms", CTX_LIMITS, K_TIMEOUT },
        { "memory_mb", CTX_LIMITS, K_MEMORY },
        { "cpus", CTX_LIMITS, K_CPUS },
        { "output_bytes", CTX_LIMITS, K_OUTPUT },
        { "pids", CTX_LIMITS, K_PIDS },
        { "compile_timeout_ms", CTX_LIMITS, K_COMPILE_TIMEOUT },
        { "compile_memory_mb", CTX_LIMITS, K_COMPILE_MEMORY },
        { "compile_pids", CTX_LIMITS, K_COMPILE_PIDS },
};

enum vtype { V_STRING, V_NUMBER, V_BOOL, V_NULL, V_MAP, V_ARRAY };

static const char *const vtype_names[] = { "a string", "a number",  "a boolean",
                                           "null",     "an object", "an array" };

/* A file object while it is being read. */
struct pending_file {
        char *name;
        size_t name_len;
        char *content;
        size_t content_len;
        bool base64;
        unsigned seen; /* bit per key */
};

struct request_parser {
        yajl_handle yajl;
        size_t max_bytes;
        size_t seen_bytes;
        struct ce_buf pending; /* body not given to yajl yet: request_parser_feed */
        enum ctx stack[MAX_DEPTH];
        int depth;     /* open containers; 0 before the top object */
        bool ended;    /* the top object is closed */
        enum key key;  /* the key whose value comes next, in a map context */
        unsigned seen; /* bit per key already given, top level and limits */
        struct pending_file file;
        struct ce_test test; /* the test object being read: tests[req->ntests] */
        unsigned test_seen;  /* bit per key, for p->test */
        struct checker_object checker;
        enum checker_field checker_field; /* the checker key whose value comes next */
        char *code;
        size_t code_len;
        bool failed;
        struct ce_error err;
        struct ce_request *req;
};

/* Record the first problem; returning 0 makes yajl stop. */
static int __attribute__ ((format (printf, 2, 3)))
fail (struct request_parser *p, const char *fmt, ...)
{
        char msg[sizeof (p->err.msg)];
        va_list ap;

        if (! p->failed) {
                p->failed = true;
                va_start (ap, fmt);
                vsnprintf (msg, sizeof (msg), fmt, ap);
                va_end (ap);
                ce_refuse (&p->err, 400, EINVAL, "%s", msg);
        }
        return 0;
}

/* A rule shared with the other front-ends refused: its error is the
 * first problem. */
static int
refused (struct request_parser *p, const struct ce_error *err)
{
        if (! p->failed) {
                p->failed = true;
                p->err = *err;
        }
        return 0;
}

/* Out of memory while parsing: the server's failure, not the body's. */
static int
fail_oom (struct request_parser *p)
{
        if (! p->failed) {
                p->failed = true;
                ce_fail (&p->err, ENOMEM, "out of memory");
        }
        return 0;
}

static const char *
key_name (enum key k)
{
        for (size_t i = 0; i < sizeof (keys) / sizeof (*keys); i++)
                if (keys[i].key == k)
                        return keys[i].name;
        return "?";
}

/* "code", "files[2].name", "limits.pids", "args[0]", "tests[1].args[0]",
 * "checker.abs" - for messages. */
static void
field_path (struct request_parser *p, char *buf, size_t size)
{
        enum ctx ctx = p->depth ? p->stack[p->depth - 1] : CTX_TOP;

        switch (ctx) {
        case CTX_TOP: snprintf (buf, size, "%s", key_name (p->key)); break;
        case CTX_FILES: snprintf (buf, size, "files[%zu]", p->req->nfiles); break;
        case CTX_FILE:
                snprintf (buf, size, "files[%zu].%s", p->req->nfiles, key_name (p->key));
                break;
        case CTX_ARGS: snprintf (buf, size, "args[%zu]", p->req->nargs); break;
        case CTX_LIMITS: snprintf (buf, size, "limits.%s", key_name (p->key)); break;
        case CTX_TESTS: snprintf (buf, size, "tests[%zu]", p->req->ntests); break;
        case CTX_TEST:
                snprintf (buf, size, "tests[%zu].%s", p->req->ntests, key_name (p->key));
                break;
        case CTX_TEST_ARGS:
                snprintf (buf, size, "tests[%zu].args[%zu]", p->req->ntests, p->test.nargs);
                break;
        case CTX_CHECKER:
                snprintf (buf, size, "checker.%s", checker_field_name (p->checker_field));
                break;
        case CTX_OUTPUT_FILES:
                snprintf (buf, size, "output_files[%zu]", p->req->noutput_files);
                break;
        }
}

static int
type_error (struct request_parser *p, const char *want, enum vtype got)
{
        char path[64];

        if (p->depth == 0)
                return fail (p, "request body must be a JSON object, not %s", vtype_names[got]);
        field_path (p, path, sizeof (path));
        return fail (p, "field '%s' must be %s, not %s", path, want, vtype_names[got]);
}

static char *
dup_bytes (const unsigned char *s, size_t len)
{
        char *c = malloc (len + 1);

        if (c) {
                memcpy (c, s, len);
                c[len] = '\0';
        }
        return c;
}

static int
push (struct request_parser *p, enum ctx ctx)
{
        if (p->depth >= MAX_DEPTH)
                return fail (p, "%s", "request nested too deeply");
        p->stack[p->depth++] = ctx;
        p->key = K_NONE;
        return 1;
}

int
request_check_file_name (const char *name, size_t len, const char **why)
{
        const char *part = name;

        if (len == 0 || len > REQUEST_MAX_NAME) {
                *why = "must be 1 to 255 bytes long";
                return -EINVAL;
        }
        if (name[0] == '/') {
                *why = "must be a relative path";
                return -EINVAL;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) name[i];

                if (c < 0x20 || c == 0x7f) {
                        *why = "must not contain NUL or control characters";
                        return -EINVAL;
                }
        }
        for (const char *end = name + len; part <= end;) {
                const char *slash = memchr (part, '/', (size_t) (end - part));
                size_t n = (size_t) ((slash ? slash : end) - part);

                if (n == 0 || (n == 1 && part[0] == '.')
                    || (n == 2 && part[0] == '.' && part[1] == '.')) {
                        *why = "must not have empty, '.' or '..' parts";
                        return -EINVAL;
                }
                if (slash == NULL)
                        break;
                part = slash + 1;
        }
        return 0;
}

bool
request_names_clash (const char *a, const char *b)
{
        size_t la = strlen (a), lb = strlen (b);

        if (la > lb)
                return request_names_clash (b, a);
        return strncmp (a, b, la) == 0 && (la == lb || b[la] == '/');
}

int
request_check_file (const struct ce_request *r, const char *name, size_t name_len,
                    struct ce_error *err)
{
        size_t i = r->nfiles;
        const char *why;

        if (i >= REQUEST_MAX_FILES)
                return ce_refuse (err, 400, EINVAL, "field 'files' has more than %d entries",
                                  REQUEST_MAX_FILES);
        if (name == NULL)
                return 0;
        if (request_check_file_name (name, name_len, &why) < 0)
                return ce_refuse (err, 400, EINVAL,
                                  "field 'files[%zu].name' %s (a relative path without '..')", i,
                                  why);
        for (size_t j = 0; j < i; j++)
                if (request_names_clash (r->files[j].name, name))
                        return ce_refuse (err, 400, EINVAL,
                                          "field 'files[%zu].name' clashes with files[%zu]", i, j);
        return 0;
}

int
request_add_file (struct ce_request *r, char *name, char *data, size_t len, struct ce_error *err)
{
        cleanup_free char *n = name;
        cleanup_free char *d = data;
        struct ce_file *files = realloc (r->files, (r->nfiles + 1) * sizeof (*files));

        if (files == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        r->files = files;
        r->files[r->nfiles++] = (struct ce_file){ steal_pointer (&n), steal_pointer (&d), len };
        return 0;
}

/* Append a NUL-terminated copy of s (len bytes) to *v, kept
 * NULL-terminated.  0 or -ENOMEM (*v unchanged but perhaps moved). */
static int
strv_append (char ***v, size_t *n, const char *s, size_t len)
{
        char **grown = realloc (*v, (*n + 2) * sizeof (char *));
        char *copy;

        if (grown == NULL)
                return -ENOMEM;
        *v = grown;
        grown[*n] = NULL;
        copy = malloc (len + 1);
        if (copy == NULL)
                return -ENOMEM;
        memcpy (copy, s, len);
        copy[len] = '\0';
        grown[*n] = copy;
        grown[++*n] = NULL;
        return 0;
}

/* The rules of one argument list, top-level or a test's: field names the
 * list in messages ("args", "tests[2].args").  Appends a copy of arg to
 * *args (kept NULL-terminated), counting its bytes in *bytes. */
static int
args_add (char ***args, size_t *nargs, size_t *bytes, const char *field, const char *arg,
          size_t len, struct ce_error *err)
{
        size_t i = *nargs;

        if (i >= REQUEST_MAX_ARGS)
                return ce_refuse (err, 400, EINVAL, "field '%s' has more than %d entries", field,
                                  REQUEST_MAX_ARGS);
        if (memchr (arg, '\0', len))
                return ce_refuse (err, 400, EINVAL, "field '%s[%zu]' must not contain NUL", field,
                                  i);
        /* The kernel refuses longer strings in execve (MAX_ARG_STRLEN). */
        if (len >= REQUEST_MAX_ARG_LEN)
                return ce_refuse (err, 400, EINVAL, "field '%s[%zu]' is longer than %d bytes",
                                  field, i, REQUEST_MAX_ARG_LEN - 1);
        if (*bytes + len > REQUEST_MAX_ARGS_BYTES)
                return ce_refuse (err, 400, EINVAL, "field '%s' is longer than %d bytes in all",
                                  field, REQUEST_MAX_ARGS_BYTES);
        if (strv_append (args, nargs, arg, len) < 0)
                return ce_fail (err, ENOMEM, "out of memory");
        *bytes += len + 1;
        return 0;
}

int
request_add_arg (struct ce_request *r, const char *arg, size_t len, struct ce_error *err)
{
        return args_add (&r->args, &r->nargs, &r->args_bytes, "args", arg, len, err);
}

int
request_check_glob (const char *glob, size_t len, const char **why)
{
        const char *part = glob, *end = glob + len;

        if (len == 0 || len > REQUEST_MAX_OUTPUT_GLOB) {
                *why = "must be a pattern of 1 to 255 bytes";
                return -EINVAL;
        }
        if (memchr (glob, '\0', len)) {
                *why = "must not contain NUL";
                return -EINVAL;
        }
        if (glob[0] == '/') {
                *why = "must be relative to the work directory (no leading '/')";
                return -EINVAL;
        }
        /* The walk gives paths such as "out/a.png": a pattern with an empty
         * or "." part would never match one, and ".." would point out. */
        while (part <= end) {
                const char *slash = memchr (part, '/', (size_t) (end - part));
                size_t n = (size_t) ((slash ? slash : end) - part);

                if (n == 2 && part[0] == '.' && part[1] == '.') {
                        *why = "must not contain a '..' component";
                        return -EINVAL;
                }
                if (n == 0 || (n == 1 && part[0] == '.')) {
                        *why = "must not contain an empty or '.' component";
                        return -EINVAL;
                }
                part += n + 1;
        }
        return 0;
}

int
request_add_output_file (struct ce_request *r, const char *glob, size_t len, struct ce_error *err)
{
        size_t i = r->noutput_files;
        const char *why;

        if (i >= REQUEST_MAX_OUTPUT_FILES)
                return ce_refuse (err, 400, EINVAL, "field 'output_files' has more than %d entries",
                                  REQUEST_MAX_OUTPUT_FILES);
        if (request_check_glob (glob, len, &why) < 0)
                return ce_refuse (err, 400, EINVAL, "field 'output_files[%zu]' %s", i, why);
        if (strv_append (&r->output_files, &r->noutput_files, glob, len) < 0)
                return ce_fail (err, ENOMEM, "out of memory");
        return 0;
}

int
request_check_output_files (const struct ce_request *r, bool given, struct ce_error *err)
{
        if (given && r->noutput_files == 0)
                return ce_refuse (err, 400, EINVAL,
                                  "field 'output_files' must hold at least one pattern");
        if (r->noutput_files && r->ntests)
                return ce_refuse (err, 400, EINVAL,
                                  "field 'output_files' cannot be given with 'tests' (each test "
                                  "runs in a container of its own; collect files from a single "
                                  "run)");
        return 0;
}

static int
finish_file (struct request_parser *p)
{
        struct pending_file *f = &p->file;
        struct ce_request *r = p->req;
        size_t i = r->nfiles;
        struct ce_error err;
        char *data;
        size_t len;

        if (! (f->seen & (1u << K_NAME)))
                return fail (p, "field 'files[%zu].name' is required", i);
        if (! (f->seen & (1u << K_CONTENT)))
                return fail (p, "field 'files[%zu].content' is required", i);
        if (request_check_file (r, f->name, f->name_len, &err) < 0)
                return refused (p, &err);
        if (f->base64) {
                int ret = ce_base64_decode (f->content, f->content_len, &data, &len);

                if (ret == -ENOMEM)
                        return fail_oom (p);
                if (ret < 0)
                        return fail (p, "field 'files[%zu].content' is not valid base64", i);
                free (f->content);
        } else {
                data = f->content;
                len = f->content_len;
        }
        f->content = NULL;
        if (request_add_file (r, steal_pointer (&f->name), data, len, &err) < 0)
                return refused (p, &err);
        memset (f, 0, sizeof (*f));
        return 1;
}

static void
test_free (struct ce_test *t)
{
        free (t->name);
        free (t->stdin_data);
        for (size_t i = 0; i < t->nargs; i++)
                free (t->args[i]);
        free (t->args);
        free (t->expected);
}

/* The test object closed: move it into the request. */
static int
finish_test (struct request_parser *p)
{
        struct ce_request *r = p->req;
        struct ce_test *tests;

        if (p->test.args == NULL && (p->test.args = calloc (1, sizeof (char *))) == NULL)
                return fail_oom (p);
        tests = realloc (r->tests, (r->ntests + 1) * sizeof (*tests));
        if (tests == NULL)
                return fail_oom (p);
        r->tests = tests;
        r->tests[r->ntests++] = p->test; /* owned by r */
        memset (&p->test, 0, sizeof (p->test));
        p->test_seen = 0;
        return 1;
}

/* Strictly valid UTF-8 is what the repair for the answer's text leaves
 * unchanged: one definition of "valid" (common.c). */
static int
utf8_valid (const unsigned char *s, size_t len, bool *valid)
{
        cleanup_free char *copy = NULL;
        size_t copy_len;

        if (ce_utf8_sanitize ((const char *) s, len, &copy, &copy_len) < 0)
                return -ENOMEM;
        *valid = copy_len == len && memcmp (copy, s, len) == 0;
        return 0;
}

/* A string in a test object: name, stdin or expected_output. */
static int
take_test_string (struct request_parser *p, enum key key, const unsigned char *s, size_t len)
{
        struct ce_test *t = &p->test;
        size_t i = p->req->ntests;
        bool valid;

        p->key = K_NONE;
        if (key == K_NAME) {
                /* The name goes back out in the answer, as a JSON string. */
                if (len > REQUEST_MAX_TEST_NAME)
                        return fail (p, "field 'tests[%zu].name' is longer than %d bytes", i,
                                     REQUEST_MAX_TEST_NAME);
                if (memchr (s, '\0', len))
                        return fail (p, "field 'tests[%zu].name' must not contain NUL", i);
                if (utf8_valid (s, len, &valid) < 0)
                        return fail_oom (p);
                if (! valid)
                        return fail (p, "field 'tests[%zu].name' must be valid UTF-8", i);
                return (t->name = dup_bytes (s, len)) ? 1 : fail_oom (p);
        }
        if (key == K_STDIN) {
                t->stdin_len = len;
                return (t->stdin_data = dup_bytes (s, len)) ? 1 : fail_oom (p);
        }
        /* K_EXPECTED */
        t->expected_len = len;
        return (t->expected = dup_bytes (s, len)) ? 1 : fail_oom (p);
}

/* A value in the checker object; the object form's rules are checker.h's. */
static int
take_checker_value (struct request_parser *p, enum vtype t, const unsigned char *s, size_t len)
{
        enum checker_field f = p->checker_field;

        if (f == CHECKER_FIELD_TYPE) {
                if (t != V_STRING)
                        return type_error (p, "a string", t);
                if (checker_object_type (&p->checker, (const char *) s, len) < 0)
                        return fail (p, "%s", "field 'checker.type' must be one of " CHECKER_NAMES);
                return 1;
        }
        if (t != V_NUMBER)
                return type_error (p, "a number", t);
        if (checker_object_tolerance (&p->checker, f, (const char *) s, len) < 0)
                return fail (p, "field 'checker.%s' must be a number from 0 to %g",
                             checker_field_name (f), CHECKER_TOLERANCE_MAX);
        return 1;
}

static int
finish_checker (struct request_parser *p)
{
        if (checker_object_finish (&p->checker, &p->req->checker) == 0)
                return 1;
        if (! (p->checker.given & (1u << CHECKER_FIELD_TYPE)))
                return fail (p, "%s", "field 'checker.type' is required");
        return fail (p, "%s",
                     "fields 'checker.abs' and 'checker.rel' apply to type \"float\" only");
}

static int
parse_int (struct request_parser *p, const char *s, size_t len, int64_t *out)
{
        char buf[32], path[64];
        char *end;

        /* s is yajl's view into the body: not NUL-terminated. */
        if (len == 0 || len >= sizeof (buf))
                goto bad;
        memcpy (buf, s, len);
        buf[len] = '\0';
        if (strpbrk (buf, ".eE"))
                goto bad;
        errno = 0;
        *out = strtoll (buf, &end, 10);
        if (errno || *end)
                goto bad;
        return 1;
bad:
        field_path (p, path, sizeof (path));
        return fail (p, "field '%s' must be an integer", path);
}

static int
take_limit (struct request_parser *p, const char *s, size_t len)
{
        struct ce_limits *l = &p->req->limits, *c = &p->req->compile_limits;
        char buf[64], path[64];
        unsigned bit = 0, cbit = 0;
        int ok = 1;

        switch (p->key) {
        case K_COMPILE_TIMEOUT:
                ok = parse_int (p, s, len, &c->timeout_ms), cbit = LIMIT_TIMEOUT;
                break;
        case K_COMPILE_MEMORY:
                ok = parse_int (p, s, len, &c->memory_mb), cbit = LIMIT_MEMORY;
                break;
        case K_COMPILE_PIDS: ok = parse_int (p, s, len, &c->pids), cbit = LIMIT_PIDS; break;
        case K_TIMEOUT: ok = parse_int (p, s, len, &l->timeout_ms), bit = LIMIT_TIMEOUT; break;
        case K_MEMORY: ok = parse_int (p, s, len, &l->memory_mb), bit = LIMIT_MEMORY; break;
        case K_OUTPUT: ok = parse_int (p, s, len, &l->output_bytes), bit = LIMIT_OUTPUT; break;
        case K_PIDS: ok = parse_int (p, s, len, &l->pids), bit = LIMIT_PIDS; break;
        case K_CPUS:
                snprintf (buf, sizeof (buf), "%.*s", (int) len, s);
                l->cpus = strtod (buf, NULL);
                bit = LIMIT_CPUS;
                if (! isfinite (l->cpus)) {
                        field_path (p, path, sizeof (path));
                        return fail (p, "field '%s' must be a finite number", path);
                }
                break;
        default: return fail (p, "%s", "unexpected number");
        }
        p->req->limits_given |= bit;
        p->req->compile_limits_given |= cbit;
        return ok;
}

/* Every value and container start comes through here.  s and len: a
 * string's bytes or a number's text; for a boolean, len is its value. */
static int
take_value (struct request_parser *p, enum vtype t, const unsigned char *s, size_t len)
{
        struct ce_request *r = p->req;
        enum ctx ctx;
        enum key key = p->key;
        struct ce_error err;

        if (p->depth == 0) {
                if (t != V_MAP || p->ended)
                        return type_error (p, "an object", t);
                return push (p, CTX_TOP);
        }
        ctx = p->stack[p->depth - 1];
        switch (ctx) {
        case CTX_TOP:
                if (key == K_FILES)
                        return t == V_ARRAY ? push (p, CTX_FILES)
                                            : type_error (p, "an array of file objects", t);
                if (key == K_ARGS)
                        return t == V_ARRAY ? push (p, CTX_ARGS)
                                            : type_error (p, "an array of strings", t);
                if (key == K_LIMITS)
                        return t == V_MAP ? push (p, CTX_LIMITS) : type_error (p, "an object", t);
                if (key == K_TESTS)
                        return t == V_ARRAY ? push (p, CTX_TESTS)
                                            : type_error (p, "an array of test objects", t);
                if (key == K_OUTPUT_FILES)
                        return t == V_ARRAY ? push (p, CTX_OUTPUT_FILES)
                                            : type_error (p, "an array of strings", t);
                if (key == K_STOP_ON_FAILURE) {
                        if (t != V_BOOL)
                                return type_error (p, "a boolean", t);
                        p->key = K_NONE;
                        r->stop_on_failure = len != 0;
                        return 1;
                }
                if (key == K_CHECKER && t == V_MAP) {
                        checker_object_init (&p->checker);
                        return push (p, CTX_CHECKER);
                }
                if (key == K_CHECKER && t != V_STRING)
                        return type_error (p, "a string or an object", t);
                if (t != V_STRING)
                        return type_error (p, "a string", t);
                p->key = K_NONE;
                if (key == K_CHECKER) {
                        if (checker_from_name ((const char *) s, len, &r->checker) < 0)
                                return fail (p, "%s",
                                             "field 'checker' names no known checker (expected "
                                             "one of " CHECKER_NAMES
                                             " or an object with " CHECKER_FIELDS ")");
                        return 1;
                }
                if (key == K_LANGUAGE) {
                        if (len == 0 || len > MAX_LANGUAGE_LEN)
                                return fail (p, "%s", "field 'language' must be a non-empty name");
                        if (memchr (s, '\0', len))
                                return fail (p, "%s", "field 'language' must not contain NUL");
                        return (r->language = dup_bytes (s, len)) ? 1 : fail_oom (p);
                }
                if (key == K_CALLBACK_URL) {
                        /* Its rules (scheme, address ranges) are the
                         * transport's, which sends to it: callback.h. */
                        if (len == 0 || len > REQUEST_MAX_CALLBACK_URL || memchr (s, '\0', len))
                                return fail (p,
                                             "field 'callback_url' must be a URL of 1 to %d bytes",
                                             REQUEST_MAX_CALLBACK_URL);
                        return (r->callback_url = dup_bytes (s, len)) ? 1 : fail_oom (p);
                }
                if (key == K_CODE) {
                        p->code_len = len;
                        return (p->code = dup_bytes (s, len)) ? 1 : fail_oom (p);
                }
                /* K_STDIN */
                r->stdin_len = len;
                return (r->stdin_data = dup_bytes (s, len)) ? 1 : fail_oom (p);

        case CTX_FILES:
                if (t != V_MAP)
                        return type_error (p, "a file object", t);
                /* Refused before its content is read. */
                if (request_check_file (r, NULL, 0, &err) < 0)
                        return refused (p, &err);
                memset (&p->file, 0, sizeof (p->file));
                return push (p, CTX_FILE);

        case CTX_FILE:
                if (t != V_STRING)
                        return type_error (p, "a string", t);
                p->key = K_NONE;
                if (key == K_NAME) {
                        p->file.name_len = len;
                        p->file.name = dup_bytes (s, len);
                        return p->file.name ? 1 : fail_oom (p);
                }
                if (key == K_CONTENT) {
                        p->file.content_len = len;
                        p->file.content = dup_bytes (s, len);
                        return p->file.content ? 1 : fail_oom (p);
                }
                if (len == 6 && memcmp (s, "base64", 6) == 0)
                        p->file.base64 = true;
                else if (! (len == 4 && memcmp (s, "utf8", 4) == 0))
                        return fail (p,
                                     "field 'files[%zu].encoding' must be \"utf8\" or \"base64\"",
                                     r->nfiles);
                return 1;

        case CTX_ARGS:
                if (t != V_STRING)
                        return type_error (p, "a string", t);
                if (request_add_arg (r, (const char *) s, len, &err) < 0)
                        return refused (p, &err);
                return 1;

        case CTX_LIMITS:
                if (t != V_NUMBER)
                        return type_error (p, "a number", t);
                {
                        int ok = take_limit (p, (const char *) s, len);

                        p->key = K_NONE;
                        return ok;
                }

        case CTX_TESTS:
                if (t != V_MAP)
                        return type_error (p, "a test object", t);
                /* Refused before the test is read. */
                if (r->ntests >= REQUEST_MAX_TESTS)
                        return fail (p, "field 'tests' has more than %d entries",
                                     REQUEST_MAX_TESTS);
                return push (p, CTX_TEST);

        case CTX_TEST:
                if (key == K_ARGS)
                        return t == V_ARRAY ? push (p, CTX_TEST_ARGS)
                                            : type_error (p, "an array of strings", t);
                if (t != V_STRING)
                        return type_error (p, "a string", t);
                return take_test_string (p, key, s, len);

        case CTX_TEST_ARGS:
                if (t != V_STRING)
                        return type_error (p, "a string", t);
                {
                        char field[32];

                        snprintf (field, sizeof (field), "tests[%zu].args", r->ntests);
                        if (args_add (&p->test.args, &p->test.nargs, &p->test.args_bytes, field,
                                      (const char *) s, len, &err)
                            < 0)
                                return refused (p, &err);
                        return 1;
                }

        case CTX_CHECKER: return take_checker_value (p, t, s, len);

        case CTX_OUTPUT_FILES:
                if (t != V_STRING)
                        return type_error (p, "a string", t);
                if (request_add_output_file (r, (const char *) s, len, &err) < 0)
                        return refused (p, &err);
                return 1;
        }
        return fail (p, "%s", "unexpected value");
}

static int
on_null (void *ctx)
{
        return take_value (ctx, V_NULL, NULL, 0);
}

static int
on_boolean (void *ctx, int v)
{
        return take_value (ctx, V_BOOL, NULL, v != 0);
}

static int
on_number (void *ctx, const char *s, size_t l)
{
        return take_value (ctx, V_NUMBER, (const unsigned char *) s, l);
}

static int
on_string (void *ctx, const unsigned char *s, size_t len)
{
        return take_value (ctx, V_STRING, s, len);
}

static int
on_start_map (void *ctx)
{
        return take_value (ctx, V_MAP, NULL, 0);
}

static int
on_start_array (void *ctx)
{
        return take_value (ctx, V_ARRAY, NULL, 0);
}

static int
on_map_key (void *ctx, const unsigned char *key, size_t len)
{
        struct request_parser *p = ctx;
        enum ctx where = p->stack[p->depth - 1];
        unsigned *seen = where == CTX_FILE   ? &p->file.seen
                         : where == CTX_TEST ? &p->test_seen
                                             : &p->seen;
        char name[65];

        if (where == CTX_CHECKER) {
                int f = checker_object_key (&p->checker, (const char *) key, len);

                if (f >= 0) {
                        p->checker_field = (enum checker_field) f;
                        return 1;
                }
                /* -EEXIST: key is one of checker.h's names, safe to quote. */
                if (f == -EEXIST)
                        return fail (p, "field 'checker.%.*s' given twice", (int) len,
                                     (const char *) key);
        }
        for (size_t i = 0; i < sizeof (keys) / sizeof (*keys); i++) {
                if (keys[i].ctx != where || strlen (keys[i].name) != len
                    || memcmp (keys[i].name, key, len) != 0)
                        continue;
                p->key = keys[i].key;
                if (*seen & (1u << keys[i].key)) {
                        char path[64];

                        field_path (p, path, sizeof (path));
                        return fail (p, "field '%s' given twice", path);
                }
                *seen |= 1u << keys[i].key;
                return 1;
        }
        /* Quote a bounded, NUL-free copy of the name back to the client. */
        if (len >= sizeof (name) || memchr (key, '\0', len))
                return fail (p, "%s", "unknown field in request");
        memcpy (name, key, len);
        name[len] = '\0';
        if (where == CTX_FILE)
                return fail (p, "unknown field 'files[%zu].%s' (expected name, content, encoding)",
                             p->req->nfiles, name);
        if (where == CTX_TEST)
                return fail (p,
                             "unknown field 'tests[%zu].%s' (expected name, stdin, args, "
                             "expected_output)",
                             p->req->ntests, name);
        if (where == CTX_CHECKER)
                return fail (p, "unknown field 'checker.%s' (expected " CHECKER_FIELDS ")", name);
        if (where == CTX_LIMITS)
                return fail (p,
                             "unknown field 'limits.%s' (expected timeout_ms, memory_mb, cpus, "
                             "output_bytes, pids, compile_timeout_ms, compile_memory_mb, "
                             "compile_pids)",
                             name);
        return fail (p,
                     "unknown field '%s' (expected language, code or files, stdin, args, limits, "
                     "tests, checker, stop_on_failure, output_files)",
                     name);
}

static int
on_end_map (void *ctx)
{
        struct request_parser *p = ctx;
        enum ctx where = p->stack[--p->depth];

        p->key = K_NONE;
        if (where == CTX_TOP)
                p->ended = true;
        if (where == CTX_FILE)
                return finish_file (p);
        if (where == CTX_TEST)
                return finish_test (p);
        if (where == CTX_CHECKER)
                return finish_checker (p);
        return 1;
}

static int
on_end_array (void *ctx)
{
        struct request_parser *p = ctx;
        enum ctx where = p->stack[--p->depth];

        p->key = K_NONE;
        if (where == CTX_TESTS && p->req->ntests == 0)
                return fail (p, "%s", "field 'tests' must hold at least one test");
        if (where == CTX_OUTPUT_FILES && p->req->noutput_files == 0)
                return fail (p, "%s", "field 'output_files' must hold at least one pattern");
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
        p->req->checker = CHECKER_DEFAULT;
        return p;
}

void
request_parser_free (struct request_parser *p)
{
        if (p == NULL)
                return;
        if (p->yajl)
                yajl_free (p->yajl);
        ce_buf_free (&p->pending);
        request_free (p->req);
        free (p->file.name);
        free (p->file.content);
        test_free (&p->test);
        free (p->code);
        free (p);
}

void
request_free (struct ce_request *r)
{
        if (r == NULL)
                return;
        free (r->language);
        free (r->callback_url);
        ce_strv_free (r->compiler_args);
        for (size_t i = 0; i < r->nfiles; i++) {
                free (r->files[i].name);
                free (r->files[i].data);
        }
        free (r->files);
        free (r->stdin_data);
        for (size_t i = 0; i < r->nargs; i++)
                free (r->args[i]);
        free (r->args);
        for (size_t i = 0; i < r->ntests; i++)
                test_free (&r->tests[i]);
        free (r->tests);
        ce_strv_free (r->output_files);
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
                ce_refuse (&p->err, 400, EINVAL, "malformed JSON: %s",
                           msg ? (const char *) msg : "parse error");
                if (msg)
                        yajl_free_error (p->yajl, msg);
        }
        *err = p->err;
        return -err->code;
}

static int
feed_pending (struct request_parser *p, struct ce_error *err)
{
        size_t len = p->pending.len;

        p->pending.len = 0;
        return parse_status (p, yajl_parse (p->yajl, (const unsigned char *) p->pending.data, len),
                             p->pending.data, len, err);
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
                ce_refuse (&p->err, 413, EFBIG, "request body is larger than %zu bytes",
                           p->max_bytes);
                *err = p->err;
                return -err->code;
        }
        /* yajl lexes a token that a piece boundary cut again from its start
         * when the next piece comes, so a long string trickled in small
         * pieces would cost its length squared.  Pieces are gathered until
         * they are 64 KiB and a quarter of what came so far: the parse
         * then reads the body a few times at most. */
        if (ce_buf_append (&p->pending, data, len) < 0) {
                fail_oom (p);
                *err = p->err;
                return -err->code;
        }
        if (p->pending.len < FEED_BYTES || p->pending.len < p->seen_bytes / 4)
                return 0;
        return feed_pending (p, err);
}

int
request_parser_finish (struct request_parser *p, struct ce_request **out, struct ce_error *err)
{
        struct ce_request *r = p->req;
        int ret;

        if (p->failed) {
                *err = p->err;
                return -err->code;
        }
        if (p->seen_bytes == 0)
                return ce_refuse (err, 400, EINVAL,
                                  "request body is empty: expected a JSON object with "
                                  "'language' and 'code'");
        ret = feed_pending (p, err);
        if (ret == 0)
                ret = parse_status (p, yajl_complete_parse (p->yajl), NULL, 0, err);
        if (ret < 0)
                return ret;
        if (r->language == NULL)
                return ce_refuse (err, 400, EINVAL, "missing field 'language'");
        if (p->code && (p->seen & (1u << K_FILES)))
                return ce_refuse (err, 400, EINVAL, "give either 'code' or 'files', not both");
        if (p->code == NULL && ! (p->seen & (1u << K_FILES)))
                return ce_refuse (err, 400, EINVAL, "missing field 'code' (or 'files')");
        if (p->code) {
                r->files = calloc (1, sizeof (*r->files));
                if (r->files == NULL)
                        return ce_fail (err, ENOMEM, "out of memory");
                r->files[0] = (struct ce_file){ NULL, steal_pointer (&p->code), p->code_len };
                r->nfiles = 1;
                r->from_code = true;
        }
        if (r->nfiles == 0)
                return ce_refuse (err, 400, EINVAL, "field 'files' must not be empty");
        /* An empty "tests" was refused where it closed: given means ntests > 0. */
        if (r->ntests > 0) {
                static const enum key top_only[] = { K_STDIN, K_ARGS };

                for (size_t i = 0; i < sizeof (top_only) / sizeof (*top_only); i++)
                        if (p->seen & (1u << top_only[i]))
                                return ce_refuse (err, 400, EINVAL,
                                                  "field '%s' cannot be given with 'tests': give "
                                                  "each test its own 'stdin' and 'args'",
                                                  key_name (top_only[i]));
        } else {
                if (p->seen & (1u << K_CHECKER))
                        return ce_refuse (err, 400, EINVAL,
                                          "field 'checker' needs 'tests' (it compares each "
                                          "test's output with its expected_output)");
                if (p->seen & (1u << K_STOP_ON_FAILURE))
                        return ce_refuse (err, 400, EINVAL,
                                          "field 'stop_on_failure' needs 'tests'");
        }
        ret = request_check_output_files (r, (p->seen & (1u << K_OUTPUT_FILES)) != 0, err);
        if (ret < 0)
                return ret;
        if (r->args == NULL) {
                r->args = calloc (1, sizeof (char *));
                if (r->args == NULL)
                        return ce_fail (err, ENOMEM, "out of memory");
        }
        *out = steal_pointer (&p->req);
        return 0;
}

static int
check_int (const char *prefix, const char *name, int64_t v, int64_t min, int64_t max,
           struct ce_error *err)
{
        if (v < min || v > max)
                return ce_refuse (err, 400, ERANGE,
                                  "field 'limits.%s%s' must be between %" PRId64 " and %" PRId64
                                  " (at most %" PRId64 " on this server)",
                                  prefix, name, min, max, max);
        return 0;
}

int
request_resolve_limits (const struct ce_limits *l, unsigned given, const char *prefix,
                        const struct ce_limits *defaults, const struct ce_limits *ceilings,
                        struct ce_limits *out, struct ce_error *err)
{
        const struct ce_limits *min = &request_limit_minimums;
        int ret = 0;

        *out = *defaults;
        if (given & LIMIT_TIMEOUT) {
                ret = check_int (prefix, "timeout_ms", l->timeout_ms, min->timeout_ms,
                                 ceilings->timeout_ms, err);
                out->timeout_ms = l->timeout_ms;
        }
        if (ret == 0 && (given & LIMIT_MEMORY)) {
                ret = check_int (prefix, "memory_mb", l->memory_mb, min->memory_mb,
                                 ceilings->memory_mb, err);
                out->memory_mb = l->memory_mb;
        }
        if (ret == 0 && (given & LIMIT_OUTPUT)) {
                ret = check_int (prefix, "output_bytes", l->output_bytes, min->output_bytes,
                                 ceilings->output_bytes, err);
                out->output_bytes = l->output_bytes;
        }
        if (ret == 0 && (given & LIMIT_PIDS)) {
                ret = check_int (prefix, "pids", l->pids, min->pids, ceilings->pids, err);
                out->pids = l->pids;
        }
        if (ret == 0 && (given & LIMIT_CPUS)) {
                if (l->cpus < min->cpus || l->cpus > ceilings->cpus)
                        ret = ce_refuse (err, 400, ERANGE,
                                         "field 'limits.%scpus' must be between %g and %g (at most "
                                         "%g on this server)",
                                         prefix, min->cpus, ceilings->cpus, ceilings->cpus);
                out->cpus = l->cpus;
        }
        return ret;
}
