/*
 * api_judge0.c - the front-end of Judge0 CE 1.13.1's API, under /judge0/
 * (docs/judge0.md): a Judge0 client points its base URL at
 * http://HOST:PORT/judge0 and changes nothing else.
 *
 * Translates only.  POST /submissions is an asynchronous job (jobs.h): the
 * submission is checked as Judge0 checks it (422 {field: [messages]} in
 * Judge0's words and order), and what the store keeps is the submission
 * normalised: every text base64, every limit the effective one, so that a
 * job read back after a restart needs nothing of the request that made it.
 * The run's result is stored as a small document of Judge0's own terms
 * (status_id, time, memory, outputs in base64), and GET /submissions/:token
 * renders the 35 keys from the two, in Judge0's order, as `fields` and
 * `base64_encoded` ask.  A test case carries expected_output, so the
 * comparison is the judging engine's ("lines": Judge0's trailing-whitespace
 * rule).
 *
 * Language ids and names come from the bundles' "judge0" members; the
 * limits announced in /config_info are the server's own defaults and
 * ceilings in Judge0's units, so the 422 texts name what is enforced.
 */
#include "api.h"

#include <ctype.h>
#include <math.h>
#include <signal.h>

#include "jsongen.h"
#include "runner.h"
#include "zipfiles.h"

#define JUDGE0_VERSION "1.13.1"
#define MAX_ARGS_LEN 512     /* compiler_options, command_line_arguments */
#define BATCH_MAX 20         /* max_submission_batch_size */
#define MAX_RUNS 20          /* max_number_of_runs */
#define MAX_EXTRACT_KB 10240 /* max_extract_size: additional_files unpacked, all together */
/* Judge0's wall_time_limit minimum, seconds; its memory_limit's, KB. */
#define MIN_WALL_S 1.0
#define MIN_MEMORY_KB 2048

/* -- statuses ------------------------------------------------------------------------ */

enum j0_status {
        J0_IN_QUEUE = 1,
        J0_PROCESSING,
        J0_ACCEPTED,
        J0_WRONG_ANSWER,
        J0_TLE,
        J0_COMPILATION_ERROR,
        J0_SIGSEGV,
        J0_SIGXFSZ,
        J0_SIGFPE,
        J0_SIGABRT,
        J0_NZEC,
        J0_OTHER,
        J0_INTERNAL_ERROR,
        J0_EXEC_FORMAT_ERROR,
};

static const char *const status_names[] = {
        NULL,
        "In Queue",
        "Processing",
        "Accepted",
        "Wrong Answer",
        "Time Limit Exceeded",
        "Compilation Error",
        "Runtime Error (SIGSEGV)",
        "Runtime Error (SIGXFSZ)",
        "Runtime Error (SIGFPE)",
        "Runtime Error (SIGABRT)",
        "Runtime Error (NZEC)",
        "Runtime Error (Other)",
        "Internal Error",
        "Exec Format Error",
};

/* -- the submission's keys ------------------------------------------------------------ */

/* Every key of a submission, in the order Judge0 writes them (fields=*). */
enum j0_key {
        K_SOURCE_CODE,
        K_LANGUAGE_ID,
        K_STDIN,
        K_EXPECTED_OUTPUT,
        K_STDOUT,
        K_STATUS_ID,
        K_CREATED_AT,
        K_FINISHED_AT,
        K_TIME,
        K_MEMORY,
        K_STDERR,
        K_TOKEN,
        K_NUMBER_OF_RUNS,
        K_CPU_TIME_LIMIT,
        K_CPU_EXTRA_TIME,
        K_WALL_TIME_LIMIT,
        K_MEMORY_LIMIT,
        K_STACK_LIMIT,
        K_MAX_PROCESSES,
        K_PER_PROCESS_TIME,
        K_PER_PROCESS_MEMORY,
        K_MAX_FILE_SIZE,
        K_COMPILE_OUTPUT,
        K_EXIT_CODE,
        K_EXIT_SIGNAL,
        K_MESSAGE,
        K_WALL_TIME,
        K_COMPILER_OPTIONS,
        K_COMMAND_LINE_ARGUMENTS,
        K_REDIRECT_STDERR,
        K_CALLBACK_URL,
        K_ADDITIONAL_FILES,
        K_ENABLE_NETWORK,
        K_STATUS,
        K_LANGUAGE,
        K_COUNT,
};

static const char *const key_names[K_COUNT] = {
        "source_code",
        "language_id",
        "stdin",
        "expected_output",
        "stdout",
        "status_id",
        "created_at",
        "finished_at",
        "time",
        "memory",
        "stderr",
        "token",
        "number_of_runs",
        "cpu_time_limit",
        "cpu_extra_time",
        "wall_time_limit",
        "memory_limit",
        "stack_limit",
        "max_processes_and_or_threads",
        "enable_per_process_and_thread_time_limit",
        "enable_per_process_and_thread_memory_limit",
        "max_file_size",
        "compile_output",
        "exit_code",
        "exit_signal",
        "message",
        "wall_time",
        "compiler_options",
        "command_line_arguments",
        "redirect_stderr_to_stdout",
        "callback_url",
        "additional_files",
        "enable_network",
        "status",
        "language",
};

/* Without `fields`: Judge0's eight. */
static const uint64_t default_fields =
        (1ull << K_STDOUT) | (1ull << K_TIME) | (1ull << K_MEMORY) | (1ull << K_STDERR)
        | (1ull << K_TOKEN) | (1ull << K_COMPILE_OUTPUT) | (1ull << K_MESSAGE) | (1ull << K_STATUS);

/* `fields`: a comma-separated list of key names, or "*".  0 with *set, or
 * -EINVAL with the invalid names in err (Judge0's 400). */
static int
parse_fields (const char *fields, uint64_t *set, struct ce_error *err)
{
        struct ce_buf bad = { 0 };
        const char *p = fields;
        int ret = 0;

        *set = default_fields;
        if (fields == NULL)
                return 0;
        if (strcmp (fields, "*") == 0) {
                *set = (1ull << K_COUNT) - 1;
                return 0;
        }
        *set = 0;
        while (*p) {
                size_t n = strcspn (p, ",");
                size_t k;

                for (k = 0; k < K_COUNT; k++)
                        if (strlen (key_names[k]) == n && strncmp (key_names[k], p, n) == 0)
                                break;
                if (n && k < K_COUNT) {
                        *set |= 1ull << k;
                } else if (n) {
                        if ((bad.len && ce_buf_append (&bad, ", ", 2) < 0)
                            || ce_buf_append (&bad, p, n < 64 ? n : 64) < 0) {
                                ce_buf_free (&bad);
                                return ce_fail (err, ENOMEM, "out of memory");
                        }
                }
                p += n;
                if (*p == ',')
                        p++;
        }
        if (bad.len) {
                ce_buf_append (&bad, "", 1);
                ret = ce_refuse (err, 400, EINVAL, "invalid fields: [%s]",
                                 bad.data ? bad.data : "");
        } else if (*set == 0) {
                *set = default_fields;
        }
        ce_buf_free (&bad);
        return ret;
}

static bool
query_true (const struct api_query *q, const char *name)
{
        const char *v = api_query_get (q, name);

        return v && strcmp (v, "true") == 0;
}

/* Before a submit's body or a read: fields. */
static int
j0_check_query (const struct api_query *q, struct ce_error *err)
{
        uint64_t set;

        return parse_fields (api_query_get (q, "fields"), &set, err);
}

/* wait=true: the submit answers with the submission once it ran. */
static bool
j0_submit_waits (const struct api_query *q)
{
        return query_true (q, "wait");
}

/* -- base64 ----------------------------------------------------------------------------- */

/* As Ruby's Base64.decode64 (Judge0's): bytes outside the alphabet are
 * skipped, padding may be missing.  *out malloc'd. */
static int
b64_decode_lenient (const char *s, size_t len, char **out, size_t *out_len)
{
        cleanup_free char *clean = malloc (len + 4);
        size_t n = 0;

        if (clean == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (c == '=')
                        break;
                if (isalnum ((unsigned char) c) || c == '+' || c == '/')
                        clean[n++] = c;
        }
        if (n % 4 == 1)
                n--; /* a lone sextet holds no byte */
        while (n % 4)
                clean[n++] = '=';
        return ce_base64_decode (clean, n, out, out_len);
}

static bool j0_job_id (const char *rest, char id[STORE_ID_SIZE]);

/* -- the request ----------------------------------------------------------------------- */

/* One refusal in Judge0's terms: a field and a message. */
struct field_error {
        const char *field; /* a key name (static) */
        char msg[96];
};

#define MAX_FIELD_ERRORS 24

/* The effective submission: what the store keeps and GET shows. */
struct submission {
        int language_id;
        const char *language_name; /* the registry's */
        char *source;
        size_t source_len;
        char *stdin_data; /* NULL: none */
        size_t stdin_len;
        char *expected; /* NULL: none */
        size_t expected_len;
        char *args_text;            /* command_line_arguments as given; NULL: none */
        char *compiler_options;     /* as given; NULL: none */
        char *additional_files;     /* the base64 zip as given; NULL: none */
        struct zipfiles_entry *zip; /* its files, checked */
        size_t nzip;
        char *callback_url;
        double cpu_time_limit, cpu_extra_time, wall_time_limit;
        int64_t memory_limit, stack_limit, max_processes, max_file_size; /* KB, KB, n, KB */
        bool redirect_stderr;
        int runs; /* number_of_runs */
        bool given_wall, given_memory, given_processes, given_file_size;
};

struct j0_parser {
        size_t max_bytes;
        bool base64; /* base64_encoded (the query's, or the stored body's own member) */
        struct ce_buf body;
        struct submission sub;
        struct field_error errors[MAX_FIELD_ERRORS];
        size_t nerrors;
        const struct api_request *in; /* after finish: its plan gives the effective limits */
        yajl_val doc;                 /* the body, parsed */
};

static void sub_reset (struct j0_parser *p);

static void *
j0_parser_new (size_t max_body, const struct api_query *q)
{
        struct j0_parser *p = calloc (1, sizeof (*p));

        if (p) {
                p->max_bytes = max_body;
                p->base64 = query_true (q, "base64_encoded");
        }
        return p;
}

static void
j0_parser_free (void *arg)
{
        struct j0_parser *p = arg;

        ce_buf_free (&p->body);
        sub_reset (p);
        yajl_tree_free (p->doc);
        free (p);
}

static int
j0_feed (void *arg, const char *data, size_t len, struct ce_error *err)
{
        struct j0_parser *p = arg;

        return api_body_append (&p->body, p->max_bytes, data, len, err);
}

static void __attribute__ ((format (printf, 3, 4)))
field_error (struct j0_parser *p, const char *field, const char *fmt, ...)
{
        va_list ap;

        /* A field appears once, with its messages in order: Judge0's body. */
        if (p->nerrors == MAX_FIELD_ERRORS)
                return;
        p->errors[p->nerrors].field = field;
        va_start (ap, fmt);
        vsnprintf (p->errors[p->nerrors].msg, sizeof (p->errors[p->nerrors].msg), fmt, ap);
        va_end (ap);
        p->nerrors++;
}

/* Absent or null: unset. */
static bool
given (yajl_val v)
{
        return v && ! YAJL_IS_NULL (v);
}

/* A number as Rails casts one: a JSON number or a numeric string.  false:
 * "is not a number". */
static bool
number_of (yajl_val v, double *out)
{
        char *end;

        if (YAJL_IS_NUMBER (v)) {
                *out = YAJL_IS_INTEGER (v) ? (double) YAJL_GET_INTEGER (v) : YAJL_GET_DOUBLE (v);
                return isfinite (*out);
        }
        if (! YAJL_IS_STRING (v) || v->u.string[0] == '\0')
                return false;
        *out = strtod (v->u.string, &end);
        return *end == '\0' && isfinite (*out);
}

/* Rails' boolean cast: false, 0, "0", "f", "false", "off" (any case) are false. */
static bool
bool_of (yajl_val v)
{
        static const char *const falses[] = { "0", "f", "false", "off", NULL };

        if (YAJL_IS_TRUE (v))
                return true;
        if (YAJL_IS_FALSE (v) || YAJL_IS_NULL (v))
                return false;
        if (YAJL_IS_NUMBER (v))
                return YAJL_IS_INTEGER (v) ? YAJL_GET_INTEGER (v) != 0 : YAJL_GET_DOUBLE (v) != 0;
        if (YAJL_IS_STRING (v)) {
                for (size_t i = 0; falses[i]; i++)
                        if (strcasecmp (v->u.string, falses[i]) == 0)
                                return false;
                return v->u.string[0] != '\0';
        }
        return true;
}

/* Ruby prints floats with at least one decimal: 15.0, 0.5. */
static void
ruby_float (double x, char *buf, size_t size)
{
        snprintf (buf, size, "%.15g", x);
        if (strpbrk (buf, ".eni") == NULL && strlen (buf) + 2 < size)
                strcat (buf, ".0");
}

/* A numeric limit: default when unset, else held to [min, max] with
 * Judge0's messages.  gt: "greater than" (exclusive) instead of ">=". */
static double
take_number (struct j0_parser *p, yajl_val body, const char *field, double dflt, double min,
             bool gt, double max, bool is_float, bool *was_given)
{
        yajl_val v = api_member (body, field);
        char lo[32], hi[32];
        double x;

        if (was_given)
                *was_given = false;
        if (! given (v))
                return dflt;
        if (! number_of (v, &x)) {
                field_error (p, field, "is not a number");
                return dflt;
        }
        if (is_float) {
                ruby_float (min, lo, sizeof (lo));
                ruby_float (max, hi, sizeof (hi));
        } else {
                snprintf (lo, sizeof (lo), "%.0f", min);
                snprintf (hi, sizeof (hi), "%.0f", max);
        }
        if (gt ? x <= min : x < min)
                field_error (p, field, "must be greater than %s%s", gt ? "" : "or equal to ", lo);
        else if (x > max)
                field_error (p, field, "must be less than or equal to %s", hi);
        if (was_given)
                *was_given = true;
        return x;
}

/* A text field: decoded when base64_encoded.  *out NULL when unset. */
static int
take_text (struct j0_parser *p, yajl_val body, const char *field, char **out, size_t *len,
           struct ce_error *err)
{
        yajl_val v = api_member (body, field);
        const char *s;

        *out = NULL;
        *len = 0;
        if (! given (v))
                return 0;
        if (! YAJL_IS_STRING (v)) {
                field_error (p, field, "must be a string");
                return 0;
        }
        s = v->u.string;
        if (p->base64) {
                int ret = b64_decode_lenient (s, strlen (s), out, len);

                return ret < 0 ? ce_fail (err, -ret, "out of memory") : 0;
        }
        *len = strlen (s);
        *out = strdup (s);
        return *out ? 0 : ce_fail (err, ENOMEM, "out of memory");
}

/* command_line_arguments, split as a shell splits words (quotes and
 * backslashes), after deleting what Judge0 deletes ($ & ; < > | `), with
 * no expansion of any kind: never through a shell. */
static int
split_args (const char *s, struct ce_request *r, struct ce_error *err)
{
        struct ce_buf word = { 0 };
        bool in_word = false;
        char quote = 0;
        int ret = 0;

        for (const char *c = s;; c++) {
                bool end = *c == '\0';

                if (! end && strchr ("$&;<>|`", *c))
                        continue;
                if (end || (! quote && isspace ((unsigned char) *c))) {
                        if (in_word) {
                                ret = ce_buf_append (&word, "", 1) < 0
                                              ? ce_fail (err, ENOMEM, "out of memory")
                                              : request_add_arg (r, word.data, word.len - 1, err);
                                word.len = 0;
                                in_word = false;
                                if (ret < 0)
                                        break;
                        }
                        if (end)
                                break;
                        continue;
                }
                in_word = true;
                if (quote == 0 && (*c == '\'' || *c == '"')) {
                        quote = *c;
                        continue;
                }
                if (quote && *c == quote) {
                        quote = 0;
                        continue;
                }
                if (*c == '\\' && quote != '\'' && c[1]) {
                        c++;
                }
                if (ce_buf_append (&word, c, 1) < 0) {
                        ret = ce_fail (err, ENOMEM, "out of memory");
                        break;
                }
        }
        ce_buf_free (&word);
        return ret;
}

static bool
blank (const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (! isspace ((unsigned char) s[i]))
                        return false;
        return true;
}

/* Whether lang's compile command takes {compiler_options}. */
static bool
takes_options (const struct ce_language *lang)
{
        for (char **c = lang->compile.command; c && *c; c++)
                if (strcmp (*c, BUNDLE_OPTIONS_PLACEHOLDER) == 0)
                        return true;
        return false;
}

/* The Judge0 names (without their version: "C++") of the languages that
 * take compiler options, in the registry's order (by our name), each once,
 * to each (name, last). */
static void
each_options_language (const struct api_env *env,
                       void (*fn) (const char *name, size_t len, bool last, void *arg), void *arg)
{
        const char *names[64];
        size_t lens[64], n = 0;

        for (size_t i = 0; i < bundle_count (env->bundles); i++) {
                const struct ce_language *l = bundle_at (env->bundles, i);

                for (size_t k = 0; l->available && takes_options (l) && k < l->njudge0; k++) {
                        const char *name = l->judge0[k].name;
                        size_t len = strcspn (name, "(");
                        bool seen = false;

                        while (len && name[len - 1] == ' ')
                                len--;
                        for (size_t m = 0; m < n; m++)
                                seen |= lens[m] == len && strncmp (names[m], name, len) == 0;
                        if (! seen && n < 64) {
                                names[n] = name;
                                lens[n++] = len;
                        }
                }
        }
        for (size_t m = 0; m < n; m++)
                fn (names[m], lens[m], m + 1 == n, arg);
}

static void
append_name (const char *name, size_t len, bool last, void *arg)
{
        struct ce_buf *b = arg;

        if (b->len)
                ce_buf_append (b, last ? " and " : ", ", last ? 5 : 2);
        ce_buf_append (b, name, len);
}

/* compiler_options (Judge0's checks, in its order), split into words for
 * the compile command's {compiler_options}. */
static int
take_compiler_options (struct j0_parser *p, yajl_val v, const struct api_env *env,
                       const struct ce_language *lang, struct ce_request *r, struct ce_error *err)
{
        struct ce_request words = { 0 };
        struct ce_buf list = { 0 };

        if (! given (v) || ! YAJL_IS_STRING (v) || blank (v->u.string, strlen (v->u.string)))
                return 0;
        if (lang->compile.command == NULL) {
                field_error (p, "compiler_options",
                             "setting compiler options is only allowed for compiled languages");
                return 0;
        }
        if (! takes_options (lang)) {
                each_options_language (env, append_name, &list);
                ce_buf_append (&list, "", 1);
                field_error (p, "compiler_options",
                             "setting compiler options is only allowed for %s",
                             list.data ? list.data : "no language");
                ce_buf_free (&list);
                return 0;
        }
        if (r == NULL)
                return 0;
        words.args = calloc (1, sizeof (char *));
        if (words.args == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        if (split_args (v->u.string, &words, err) < 0) {
                ce_strv_free (words.args);
                return -EINVAL;
        }
        r->compiler_args = words.args;
        r->ncompiler_args = words.nargs;
        return 0;
}

/* additional_files: a base64 zip (whatever base64_encoded says), whose
 * files go next to the program's; zipfiles.c refuses what is not a plain
 * file at a relative path, and bounds its count and unpacked size. */
static int
take_additional_files (struct j0_parser *p, yajl_val v, const struct ce_language *lang,
                       struct ce_error *err)
{
        struct submission *sub = &p->sub;
        cleanup_free char *zip = NULL;
        struct ce_error why = { 0 };
        size_t len = 0;
        int ret;

        if (! given (v))
                return 0;
        if (! YAJL_IS_STRING (v)) {
                field_error (p, "additional_files", "must be a base64 zip archive");
                return 0;
        }
        if (b64_decode_lenient (v->u.string, strlen (v->u.string), &zip, &len) < 0)
                return ce_fail (err, ENOMEM, "out of memory");
        ret = zipfiles_unpack (zip, len,
                               &(struct zipfiles_params){ .max_entries = REQUEST_MAX_FILES - 1,
                                                          .max_total_bytes = MAX_EXTRACT_KB * 1024,
                                                          .max_archive_bytes = p->max_bytes,
                                                          .label = "additional_files" },
                               &sub->zip, &sub->nzip, &why);
        if (ret == -ENOMEM)
                return ce_fail (err, ENOMEM, "out of memory");
        if (ret < 0) {
                /* Judge0's texts are short: the reason, without our prefix. */
                const char *msg =
                        strncmp (why.msg, "additional_files: ", 18) == 0 ? why.msg + 18 : why.msg;

                field_error (p, "additional_files", "%s", msg);
                return 0;
        }
        for (size_t i = 0; lang && i < sub->nzip; i++)
                if (request_names_clash (lang->entry_file, sub->zip[i].name)) {
                        field_error (p, "additional_files", "'%s' clashes with the program (%s)",
                                     sub->zip[i].name, lang->entry_file);
                        return 0;
                }
        /* Kept in one line, as every text the store keeps. */
        if (ce_base64_encode (zip, len, &sub->additional_files, &len) < 0)
                return ce_fail (err, ENOMEM, "out of memory");
        return 0;
}

static char *
dup_mem (const char *s, size_t len)
{
        char *d = malloc (len + 1);

        if (d) {
                memcpy (d, s, len);
                d[len] = '\0';
        }
        return d;
}

/* sub->runs test cases with the submission's stdin, expected output and
 * arguments (moved from r: with tests the run's are the tests'). */
static int
make_runs (struct ce_request *r, const struct submission *sub, struct ce_error *err)
{
        r->tests = calloc ((size_t) sub->runs, sizeof (*r->tests));
        if (r->tests == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        r->ntests = (size_t) sub->runs;
        r->checker = (struct checker){ .type = CHECKER_LINES };
        r->stop_on_failure = true;
        for (size_t i = 0; i < r->ntests; i++) {
                struct ce_test *t = &r->tests[i];

                t->args = calloc (r->nargs + 1, sizeof (char *));
                if (t->args == NULL)
                        return ce_fail (err, ENOMEM, "out of memory");
                for (size_t k = 0; k < r->nargs; k++)
                        if ((t->args[k] = strdup (r->args[k])) == NULL)
                                return ce_fail (err, ENOMEM, "out of memory");
                t->nargs = r->nargs;
                t->args_bytes = r->args_bytes;
                if (sub->stdin_data) {
                        t->stdin_len = sub->stdin_len;
                        if ((t->stdin_data = dup_mem (sub->stdin_data, sub->stdin_len)) == NULL)
                                return ce_fail (err, ENOMEM, "out of memory");
                }
                if (sub->expected) {
                        t->expected_len = sub->expected_len;
                        if ((t->expected = dup_mem (sub->expected, sub->expected_len)) == NULL)
                                return ce_fail (err, ENOMEM, "out of memory");
                }
        }
        for (size_t k = 0; k < r->nargs; k++)
                free (r->args[k]);
        r->args[0] = NULL;
        r->nargs = 0;
        r->args_bytes = 0;
        return 0;
}

/* The parser's current submission and its refusals back to nothing. */
static void
sub_reset (struct j0_parser *p)
{
        free (p->sub.source);
        free (p->sub.stdin_data);
        free (p->sub.expected);
        free (p->sub.args_text);
        free (p->sub.callback_url);
        free (p->sub.compiler_options);
        free (p->sub.additional_files);
        zipfiles_free (p->sub.zip, p->sub.nzip);
        memset (&p->sub, 0, sizeof (p->sub));
        p->nerrors = 0;
        p->in = NULL;
}

/* One submission object into *out (finish's work, for a body or a batch's
 * item).  422 with the field errors in the parser. */
static int
take_submission (struct j0_parser *p, yajl_val body, const struct api_env *env,
                 struct api_request *out, struct ce_error *err)
{
        const struct exec_policy *pol = env->policy;
        struct submission *sub = &p->sub;
        yajl_val v;
        struct ce_request *r;
        const char *lname = NULL;
        double runs;
        bool base64 = p->base64;
        int ret = 0;

        sub_reset (p);
        if (! YAJL_IS_OBJECT (body))
                return ce_refuse (err, 400, EINVAL, "a submission must be a JSON object");
        /* Rails merges the body's members with the query's. */
        if ((v = api_member (body, "base64_encoded")) && bool_of (v))
                p->base64 = true;
        r = out->req = calloc (1, sizeof (*r));
        if (r == NULL || (r->args = calloc (1, sizeof (char *))) == NULL) {
                ret = ce_fail (err, ENOMEM, "out of memory");
                goto out;
        }

        /* In Judge0's order (docs/judge0.md, 5.2). */
        ret = take_text (p, body, "source_code", &sub->source, &sub->source_len, err);
        if (ret < 0)
                goto out;
        if (sub->source == NULL || blank (sub->source, sub->source_len))
                field_error (p, "source_code", "can't be blank");
        v = api_member (body, "language_id");
        {
                double id = 0;

                if (! given (v))
                        field_error (p, "language_id", "can't be blank");
                else if (number_of (v, &id) && id == floor (id) && id > 0 && id < 1e9)
                        sub->language_id = (int) id;
        }
        runs = take_number (p, body, "number_of_runs", 1, 0, true, MAX_RUNS, false, NULL);
        sub->runs = runs >= 1 && runs <= MAX_RUNS ? (int) runs : 1;
        {
                double wall_default = (double) pol->defaults.timeout_ms / 1000.0;
                double wall_max = (double) pol->ceilings.timeout_ms / 1000.0;

                sub->cpu_time_limit = take_number (p, body, "cpu_time_limit", wall_default, 0,
                                                   false, wall_max, true, NULL);
                sub->cpu_extra_time =
                        take_number (p, body, "cpu_extra_time", 1.0, 0, false, 5.0, true, NULL);
                sub->wall_time_limit =
                        take_number (p, body, "wall_time_limit", wall_default, MIN_WALL_S, false,
                                     wall_max, true, &sub->given_wall);
        }
        sub->memory_limit = (int64_t) take_number (
                p, body, "memory_limit", (double) pol->defaults.memory_mb * 1024,
                MIN_MEMORY_KB > request_limit_minimums.memory_mb * 1024
                        ? MIN_MEMORY_KB
                        : (double) request_limit_minimums.memory_mb * 1024,
                false, (double) pol->ceilings.memory_mb * 1024, false, &sub->given_memory);
        sub->stack_limit = (int64_t) take_number (p, body, "stack_limit", 64000, 0, false, 128000,
                                                  false, NULL);
        sub->max_processes = (int64_t) take_number (
                p, body, "max_processes_and_or_threads", (double) pol->defaults.pids, 0, true,
                (double) pol->ceilings.pids, false, &sub->given_processes);
        if ((v = api_member (body, "enable_per_process_and_thread_time_limit")) && bool_of (v))
                field_error (p, "enable_per_process_and_thread_time_limit",
                             "this option cannot be enabled");
        if ((v = api_member (body, "enable_per_process_and_thread_memory_limit")) && bool_of (v))
                field_error (p, "enable_per_process_and_thread_memory_limit",
                             "this option cannot be enabled");
        sub->max_file_size = (int64_t) take_number (
                p, body, "max_file_size", (double) (pol->defaults.output_bytes / 1024), 0, false,
                (double) (pol->ceilings.output_bytes / 1024), false, &sub->given_file_size);
        v = api_member (body, "compiler_options");
        if (given (v) && YAJL_IS_STRING (v) && strlen (v->u.string) > MAX_ARGS_LEN)
                field_error (p, "compiler_options", "is too long (maximum is 512 characters)");
        v = api_member (body, "command_line_arguments");
        if (given (v) && YAJL_IS_STRING (v) && strlen (v->u.string) > MAX_ARGS_LEN)
                field_error (p, "command_line_arguments",
                             "is too long (maximum is 512 characters)");
        if (given (v) && ! YAJL_IS_STRING (v))
                field_error (p, "command_line_arguments", "must be a string");
        if (sub->language_id || given (api_member (body, "language_id"))) {
                char idtext[24] = "";

                if (sub->language_id)
                        snprintf (idtext, sizeof (idtext), "%d", sub->language_id);
                else if (YAJL_IS_STRING (api_member (body, "language_id")))
                        snprintf (idtext, sizeof (idtext), "%.20s",
                                  api_member (body, "language_id")->u.string);
                out->lang = sub->language_id
                                    ? bundle_lookup_judge0 (env->bundles, sub->language_id, &lname)
                                    : NULL;
                if (out->lang == NULL || ! out->lang->available) {
                        field_error (p, "language_id", "language with id %s doesn't exist", idtext);
                        out->lang = NULL;
                }
        } else {
                field_error (p, "language_id", "language with id  doesn't exist");
        }
        if (out->lang)
                take_compiler_options (p, api_member (body, "compiler_options"), env, out->lang,
                                       NULL, err);
        ret = take_additional_files (p, api_member (body, "additional_files"), out->lang, err);
        if (ret < 0)
                goto out;
        if ((v = api_member (body, "enable_network")) && bool_of (v))
                field_error (p, "enable_network", "enabling network is not allowed");
        if (p->nerrors) {
                ret = ce_refuse (err, 422, EINVAL, "%s %s", p->errors[0].field, p->errors[0].msg);
                goto out;
        }

        /* Valid: the one internal request. */
        sub->language_name = lname;
        r->language = strdup (out->lang->name);
        if (r->language == NULL) {
                ret = ce_fail (err, ENOMEM, "out of memory");
                goto out;
        }
        r->from_code = true;
        ret = request_add_file (r, NULL, steal_pointer (&sub->source), sub->source_len, err);
        if (ret < 0)
                goto out;
        /* request_add_file took the text: keep a copy for the store. */
        sub->source = malloc (sub->source_len + 1);
        if (sub->source == NULL) {
                ret = ce_fail (err, ENOMEM, "out of memory");
                goto out;
        }
        memcpy (sub->source, r->files[0].data, sub->source_len);
        sub->source[sub->source_len] = '\0';
        ret = take_text (p, body, "stdin", &sub->stdin_data, &sub->stdin_len, err);
        if (ret == 0)
                ret = take_text (p, body, "expected_output", &sub->expected, &sub->expected_len,
                                 err);
        if (ret < 0)
                goto out;
        v = api_member (body, "command_line_arguments");
        if (given (v)) {
                if ((sub->args_text = strdup (v->u.string)) == NULL) {
                        ret = ce_fail (err, ENOMEM, "out of memory");
                        goto out;
                }
                ret = split_args (v->u.string, r, err);
                if (ret < 0)
                        goto out;
        }
        if (sub->expected || sub->runs > 1) {
                /* Each run a test case, in order, stopping at the first that
                 * is not accepted (Judge0's number_of_runs); expected_output,
                 * when given, judged by the lines checker. */
                ret = make_runs (r, sub, err);
                if (ret < 0)
                        goto out;
        } else if (sub->stdin_data) {
                r->stdin_len = sub->stdin_len;
                r->stdin_data = malloc (sub->stdin_len + 1);
                if (r->stdin_data == NULL) {
                        ret = ce_fail (err, ENOMEM, "out of memory");
                        goto out;
                }
                memcpy (r->stdin_data, sub->stdin_data, sub->stdin_len + 1);
        }
        for (size_t i = 0; i < sub->nzip; i++) {
                ret = request_add_file (r, steal_pointer (&sub->zip[i].name),
                                        steal_pointer (&sub->zip[i].data), sub->zip[i].len, err);
                if (ret < 0)
                        goto out;
        }
        ret = take_compiler_options (p, api_member (body, "compiler_options"), env, out->lang, r,
                                     err);
        if (ret < 0)
                goto out;
        if (r->compiler_args && ! sub->compiler_options
            && (sub->compiler_options = strdup (api_member (body, "compiler_options")->u.string))
                       == NULL) {
                ret = ce_fail (err, ENOMEM, "out of memory");
                goto out;
        }
        v = api_member (body, "callback_url");
        if (given (v)) {
                if (! YAJL_IS_STRING (v) || v->u.string[0] == '\0'
                    || strlen (v->u.string) > REQUEST_MAX_CALLBACK_URL) {
                        ret = ce_refuse (err, 400, EINVAL,
                                         "callback_url must be a URL of 1 to %d bytes",
                                         REQUEST_MAX_CALLBACK_URL);
                        goto out;
                }
                if ((sub->callback_url = strdup (v->u.string)) == NULL
                    || (r->callback_url = strdup (v->u.string)) == NULL) {
                        ret = ce_fail (err, ENOMEM, "out of memory");
                        goto out;
                }
        }
        sub->redirect_stderr = (v = api_member (body, "redirect_stderr_to_stdout")) && bool_of (v);
        r->stderr_to_stdout = sub->redirect_stderr;
        /* Limits: the ones given; the language's defaults for the rest.  The
         * CPU time is judged after the run (time limit exceeded). */
        r->cpu_time_ms = (int64_t) ceil ((sub->cpu_time_limit + sub->cpu_extra_time) * 1000);
        if (sub->given_wall) {
                r->limits.timeout_ms = (int64_t) ceil (sub->wall_time_limit * 1000);
                r->limits_given |= LIMIT_TIMEOUT;
        }
        if (sub->given_memory) {
                r->limits.memory_mb = (sub->memory_limit + 1023) / 1024;
                r->limits_given |= LIMIT_MEMORY;
        }
        if (sub->given_processes) {
                r->limits.pids = sub->max_processes;
                r->limits_given |= LIMIT_PIDS;
        }
        if (sub->given_file_size) {
                r->limits.output_bytes = sub->max_file_size > 0 ? sub->max_file_size * 1024 : 1;
                r->limits_given |= LIMIT_OUTPUT;
        }
        p->in = out;
out:
        p->base64 = base64;
        return ret;
}

/* The whole body, parsed once (kept for a batch's items). */
static int
parse_body (struct j0_parser *p, struct ce_error *err)
{
        if (p->doc)
                return 0;
        if (ce_buf_append (&p->body, "", 1) < 0)
                return ce_fail (err, ENOMEM, "out of memory");
        p->doc = yajl_tree_parse (p->body.data, NULL, 0);
        if (p->doc == NULL || ! YAJL_IS_OBJECT (p->doc))
                return ce_refuse (err, 400, EINVAL, "the body must be a JSON object");
        return 0;
}

static int
j0_finish (void *arg, const struct api_env *env, struct api_request *out, struct ce_error *err)
{
        struct j0_parser *p = arg;
        int ret = parse_body (p, err);

        return ret < 0 ? ret : take_submission (p, p->doc, env, out, err);
}

/* POST /submissions/batch: {"submissions": [...]}, 1 to BATCH_MAX. */
static int
j0_batch_count (void *arg, struct ce_error *err)
{
        struct j0_parser *p = arg;
        yajl_val list;
        int ret = parse_body (p, err);

        if (ret < 0)
                return ret;
        list = api_member (p->doc, "submissions");
        if (list == NULL || ! YAJL_IS_ARRAY (list) || list->u.array.len == 0)
                return ce_refuse (err, 400, EINVAL,
                                  "there should be at least one submission in a batch");
        if (list->u.array.len > BATCH_MAX)
                return ce_refuse (
                        err, 400, E2BIG,
                        "number of submissions in a batch should be less than or equal to %d",
                        BATCH_MAX);
        return (int) list->u.array.len;
}

static int
j0_batch_select (void *arg, size_t i, const struct api_env *env, struct api_request *out,
                 struct ce_error *err)
{
        struct j0_parser *p = arg;
        yajl_val list = api_member (p->doc, "submissions");

        return take_submission (p, list->u.array.values[i], env, out, err);
}

/* GET /submissions/batch?tokens=a,b: their ids (a token that is none: ""),
 * 1 to BATCH_MAX. */
static int
j0_batch_ids (const struct api_query *q, char (**ids)[STORE_ID_SIZE], size_t *n,
              struct ce_error *err)
{
        const char *tokens = api_query_get (q, "tokens");
        size_t count = 0;

        *ids = NULL;
        *n = 0;
        if (tokens == NULL || *tokens == '\0')
                return ce_refuse (err, 400, EINVAL,
                                  "there should be at least one submission in a batch");
        for (const char *t = tokens; t; t = strchr (t, ','), t = t ? t + 1 : NULL)
                count++;
        if (count > BATCH_MAX)
                return ce_refuse (
                        err, 400, E2BIG,
                        "number of submissions in a batch should be less than or equal to %d",
                        BATCH_MAX);
        *ids = calloc (count, sizeof (**ids));
        if (*ids == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        for (const char *t = tokens; t && *n < count;) {
                size_t len = strcspn (t, ",");
                char tok[40];

                if (len < sizeof (tok)) {
                        memcpy (tok, t, len);
                        tok[len] = '\0';
                        if (! j0_job_id (tok, (*ids)[*n]))
                                (*ids)[*n][0] = '\0';
                }
                (*n)++;
                t = t[len] ? t + len + 1 : NULL;
        }
        return 0;
}

static bool
j0_gen_refusal (void *arg, yajl_gen g)
{
        struct j0_parser *p = arg;
        yajl_gen_status st;

        if (p->nerrors == 0)
                return false;
        GEN (yajl_gen_map_open (g));
        for (size_t i = 0; i < p->nerrors; i++) {
                bool first = true;

                for (size_t k = 0; k < i; k++)
                        if (strcmp (p->errors[k].field, p->errors[i].field) == 0)
                                first = false;
                if (! first)
                        continue;
                GEN_STR (p->errors[i].field);
                GEN (yajl_gen_array_open (g));
                for (size_t k = i; k < p->nerrors; k++)
                        if (strcmp (p->errors[k].field, p->errors[i].field) == 0)
                                GEN_STR (p->errors[k].msg);
                GEN (yajl_gen_array_close (g));
        }
        GEN (yajl_gen_map_close (g));
        return true;
fail:
        return false;
}

/* -- what the store keeps ---------------------------------------------------------------- */

static yajl_gen_status
gen_b64_member (yajl_gen g, const char *key, const char *data, size_t len, bool present)
{
        cleanup_free char *enc = NULL;
        yajl_gen_status st;
        size_t n;

        GEN_STR (key);
        if (! present)
                return yajl_gen_null (g);
        if (ce_base64_encode (data, len, &enc, &n) < 0)
                return yajl_gen_invalid_string;
        GEN_STRN (enc, n);
fail:
        return st;
}

static yajl_gen_status
gen_double (yajl_gen g, const char *key, double x)
{
        yajl_gen_status st;

        GEN_STR (key);
        GEN (yajl_gen_double (g, x));
fail:
        return st;
}

/* The effective submission, as a Judge0 body with base64_encoded true and
 * every limit filled (language_name: ours, for GET's "language"). */
static yajl_gen_status
gen_stored (yajl_gen g, const void *arg)
{
        const struct j0_parser *p = arg;
        const struct submission *s = &p->sub;
        const struct ce_limits *run = &p->in->plan.run_limits;
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_BOOL ("base64_encoded", 1);
        GEN (gen_b64_member (g, "source_code", s->source, s->source_len, true));
        GEN_KV_INT ("language_id", s->language_id);
        GEN_KV_STR ("language_name", s->language_name ? s->language_name : "");
        GEN (gen_b64_member (g, "stdin", s->stdin_data, s->stdin_len, s->stdin_data != NULL));
        GEN (gen_b64_member (g, "expected_output", s->expected, s->expected_len,
                             s->expected != NULL));
        GEN_KV_INT ("number_of_runs", s->runs);
        GEN (gen_double (g, "cpu_time_limit", s->cpu_time_limit));
        GEN (gen_double (g, "cpu_extra_time", s->cpu_extra_time));
        GEN (gen_double (g, "wall_time_limit", (double) run->timeout_ms / 1000.0));
        GEN_KV_INT ("memory_limit", run->memory_mb * 1024);
        GEN_KV_INT ("stack_limit", s->stack_limit);
        GEN_KV_INT ("max_processes_and_or_threads", run->pids);
        GEN_KV_INT ("max_file_size", run->output_bytes / 1024);
        GEN_KV_BOOL ("redirect_stderr_to_stdout", s->redirect_stderr);
        GEN_STR ("command_line_arguments");
        GEN (s->args_text ? yajl_gen_string (g, (const unsigned char *) s->args_text,
                                             strlen (s->args_text))
                          : yajl_gen_null (g));
        GEN_STR ("additional_files");
        GEN (s->additional_files ? yajl_gen_string (g, (const unsigned char *) s->additional_files,
                                                    strlen (s->additional_files))
                                 : yajl_gen_null (g));
        GEN_STR ("compiler_options");
        GEN (s->compiler_options ? yajl_gen_string (g, (const unsigned char *) s->compiler_options,
                                                    strlen (s->compiler_options))
                                 : yajl_gen_null (g));
        GEN_STR ("callback_url");
        GEN (s->callback_url ? yajl_gen_string (g, (const unsigned char *) s->callback_url,
                                                strlen (s->callback_url))
                             : yajl_gen_null (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static int
j0_stored_body (void *arg, char **out, size_t *len, struct ce_error *err)
{
        struct j0_parser *p = arg;
        int ret;

        if (p->in == NULL)
                return ce_fail (err, EINVAL, "judge0: a body stored before it was checked");
        ret = jsongen_to_buf (gen_stored, p, out, len);
        return ret < 0 ? ce_fail (err, -ret, "cannot write the submission for the store") : 0;
}

/* -- the result --------------------------------------------------------------------------- */

/* Judge0's status for what the run did (docs/judge0.md, 7). */
static enum j0_status
run_status (const struct ce_request *req, const struct runner_result *run, enum verdict verdict,
            bool judged)
{
        switch (run->status) {
        case RUN_TIMEOUT: return J0_TLE;
        case RUN_MEMORY_LIMIT: return J0_OTHER; /* Judge0: SIGKILL by the cgroup, "Other" */
        case RUN_OUTPUT_LIMIT: return J0_SIGXFSZ;
        case RUN_CLIENT_GONE: return J0_INTERNAL_ERROR;
        case RUN_COMPILE_ERROR: return J0_COMPILATION_ERROR;
        case RUN_RUNTIME_ERROR:
                switch (run->signal) {
                case 0: return J0_NZEC;
                case SIGSEGV: return J0_SIGSEGV;
                case SIGXFSZ: return J0_SIGXFSZ;
                case SIGFPE: return J0_SIGFPE;
                case SIGABRT: return J0_SIGABRT;
                default: return J0_OTHER;
                }
        case RUN_OK: break;
        }
        if (req->cpu_time_ms > 0 && run->cpu_ms > req->cpu_time_ms)
                return J0_TLE;
        if (judged && verdict == VERDICT_WRONG_ANSWER)
                return J0_WRONG_ANSWER;
        return J0_ACCEPTED;
}

/* The submission's status, and the run it describes: with several runs
 * (test cases) the first that was not accepted, else the last. */
static enum j0_status
status_of (const struct ce_request *req, const struct exec_result *res,
           const struct runner_result **which)
{
        enum j0_status s = J0_ACCEPTED;

        *which = &res->run;
        if (res->status == RUN_COMPILE_ERROR)
                return J0_COMPILATION_ERROR;
        if (res->ntests == 0)
                return run_status (req, &res->run, VERDICT_NO_ANSWER, false);
        for (size_t i = 0; i < res->ntests && res->tests[i].ran; i++) {
                *which = &res->tests[i].run;
                s = run_status (req, &res->tests[i].run, res->tests[i].verdict,
                                req->tests[i].expected != NULL);
                if (s != J0_ACCEPTED)
                        break;
        }
        return s;
}

/* Judge0's time and memory over several runs: the means of the runs made. */
static void
mean_usage (const struct exec_result *res, const struct runner_result *which, int64_t *cpu_ms,
            int64_t *memory_kb)
{
        int64_t cpu = 0, mem = 0, n = 0;

        *cpu_ms = which->cpu_ms;
        *memory_kb = which->memory_kb;
        for (size_t i = 0; i < res->ntests && res->tests[i].ran; i++) {
                if (res->tests[i].run.cpu_ms < 0 || res->tests[i].run.memory_kb < 0)
                        return;
                cpu += res->tests[i].run.cpu_ms;
                mem += res->tests[i].run.memory_kb;
                n++;
        }
        if (n > 0) {
                *cpu_ms = cpu / n;
                *memory_kb = mem / n;
        }
}

/* isolate's words for the same ends. */
static const char *
message_of (enum j0_status s, const struct runner_result *run, char *buf, size_t size)
{
        switch (s) {
        case J0_TLE: return "Time limit exceeded";
        case J0_NZEC:
                snprintf (buf, size, "Exited with error status %d", run->exit_code);
                return buf;
        case J0_SIGSEGV:
        case J0_SIGFPE:
        case J0_SIGABRT:
        case J0_SIGXFSZ:
        case J0_OTHER:
                if (run->status == RUN_MEMORY_LIMIT)
                        return "Memory limit exceeded";
                if (run->status == RUN_OUTPUT_LIMIT)
                        return "Output limit exceeded";
                snprintf (buf, size, "Caught fatal signal %d", run->signal);
                return buf;
        default: return NULL;
        }
}

static yajl_gen_status
gen_secs (yajl_gen g, const char *key, int64_t ms)
{
        yajl_gen_status st;
        char buf[32];

        GEN_STR (key);
        if (ms < 0)
                return yajl_gen_null (g);
        snprintf (buf, sizeof (buf), "%.3f", (double) ms / 1000.0);
        GEN_STR (buf);
fail:
        return st;
}

static yajl_gen_status
gen_int_or_null (yajl_gen g, const char *key, bool present, long long v)
{
        yajl_gen_status st;

        GEN_STR (key);
        GEN (present ? yajl_gen_integer (g, v) : yajl_gen_null (g));
fail:
        return st;
}

/* What the store keeps of a run: Judge0's terms, outputs in base64 (null
 * when empty, as Judge0 has them). */
static yajl_gen_status
j0_gen_result (yajl_gen g, const struct api_env *env, const struct api_request *in,
               const struct exec_result *res)
{
        const struct runner_result *run;
        enum j0_status s = status_of (in->req, res, &run);
        bool ran = s != J0_COMPILATION_ERROR;
        int64_t cpu_ms, memory_kb;
        const struct ce_buf *out =
                in->req->stderr_to_stdout ? &run->out.combined : &run->out.stdout_buf;
        const struct ce_buf *err = &run->out.stderr_buf;
        struct ce_buf compile = { 0 };
        char msgbuf[64];
        const char *msg = message_of (s, run, msgbuf, sizeof (msgbuf));
        yajl_gen_status st;

        (void) env;
        mean_usage (res, run, &cpu_ms, &memory_kb);
        if (res->compiled) {
                if (res->compile.status == RUN_TIMEOUT)
                        compile = (struct ce_buf){ .data = "Compilation time limit exceeded.",
                                                   .len = 32 };
                else
                        compile = res->compile.out.combined;
        }
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("status_id", s);
        GEN (gen_b64_member (g, "stdout", out->data, out->len, ran && out->len));
        GEN (gen_b64_member (g, "stderr", err->data, err->len,
                             ran && ! in->req->stderr_to_stdout && err->len));
        GEN (gen_b64_member (g, "compile_output", compile.data, compile.len, compile.len > 0));
        GEN (gen_secs (g, "time", ran ? cpu_ms : -1));
        GEN (gen_secs (g, "wall_time", ran ? run->wall_ms : -1));
        GEN (gen_int_or_null (g, "memory", ran && memory_kb >= 0, memory_kb));
        /* exit_code 0 when signalled or timed out, as isolate reports none. */
        GEN (gen_int_or_null (g, "exit_code", ran, run->signal ? 0 : run->exit_code));
        GEN (gen_int_or_null (g, "exit_signal", ran && run->signal, run->signal));
        GEN_STR ("message");
        GEN (msg ? yajl_gen_string (g, (const unsigned char *) msg, strlen (msg))
                 : yajl_gen_null (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
j0_gen_error (yajl_gen g, const char *msg, const char *status)
{
        yajl_gen_status st;

        (void) status;
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("error", msg);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* -- tokens and reading a job back ------------------------------------------------------ */

/* A store id as a UUID's 8-4-4-4-12 groups. */
static void
token_of (const char *id, char out[37])
{
        snprintf (out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", id, id + 8, id + 12, id + 16, id + 20);
}

static bool
j0_job_id (const char *rest, char id[STORE_ID_SIZE])
{
        size_t n = 0;

        if (strlen (rest) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? rest[i] != '-' : ! isxdigit ((unsigned char) rest[i]))
                        return false;
                if (! dash)
                        id[n++] = (char) tolower ((unsigned char) rest[i]);
        }
        id[n] = '\0';
        return true;
}

static yajl_gen_status
j0_gen_accepted (yajl_gen g, const struct store_job *job, const struct api_query *q)
{
        char token[37];
        yajl_gen_status st;

        (void) q;
        token_of (job->id, token);
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("token", token);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_time (yajl_gen g, int64_t ms)
{
        char buf[64];
        struct tm tm;
        time_t t = (time_t) (ms / 1000);

        if (ms <= 0 || gmtime_r (&t, &tm) == NULL)
                return yajl_gen_null (g);
        snprintf (buf, sizeof (buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms % 1000));
        return yajl_gen_string (g, (const unsigned char *) buf, strlen (buf));
}

/* Base64 text (one line) in Judge0's layout: lines of 60 with a final
 * newline; "" stays "". */
static yajl_gen_status
gen_b64_lines (yajl_gen g, const char *enc, size_t elen)
{
        cleanup_free char *lines = malloc (elen + elen / 60 + 2);
        size_t n = 0;

        if (lines == NULL)
                return yajl_gen_invalid_string;
        for (size_t i = 0; i < elen; i++) {
                lines[n++] = enc[i];
                if ((i + 1) % 60 == 0 || i + 1 == elen)
                        lines[n++] = '\n';
        }
        return yajl_gen_string (g, (const unsigned char *) lines, n);
}

/* Bytes as Judge0 sends them with base64_encoded=true. */
static yajl_gen_status
gen_bytes_b64 (yajl_gen g, const char *data, size_t len)
{
        cleanup_free char *enc = NULL;
        size_t n;

        if (ce_base64_encode (data, len, &enc, &n) < 0)
                return yajl_gen_invalid_string;
        return gen_b64_lines (g, enc, n);
}

/* A text member as asked: base64 in Judge0's layout, or the text itself
 * (which must be UTF-8: checked before). */
static yajl_gen_status
gen_text (yajl_gen g, yajl_val stored, bool base64)
{
        cleanup_free char *raw = NULL;
        size_t len = 0;

        if (! given (stored) || ! YAJL_IS_STRING (stored))
                return yajl_gen_null (g);
        if (base64)
                return gen_b64_lines (g, stored->u.string, strlen (stored->u.string));
        if (b64_decode_lenient (stored->u.string, strlen (stored->u.string), &raw, &len) < 0)
                return yajl_gen_invalid_string;
        return yajl_gen_string (g, (const unsigned char *) raw, len);
}

static yajl_gen_status
gen_member_or_null (yajl_gen g, yajl_val v)
{
        if (! given (v))
                return yajl_gen_null (g);
        if (YAJL_IS_STRING (v))
                return yajl_gen_string (g, (const unsigned char *) v->u.string,
                                        strlen (v->u.string));
        if (YAJL_IS_INTEGER (v))
                return yajl_gen_integer (g, YAJL_GET_INTEGER (v));
        if (YAJL_IS_TRUE (v) || YAJL_IS_FALSE (v))
                return yajl_gen_bool (g, YAJL_IS_TRUE (v));
        return yajl_gen_null (g);
}

/* A decimal string as Rails writes a numeric: "5.0", "0.5". */
static yajl_gen_status
gen_decimal (yajl_gen g, yajl_val v)
{
        char buf[32];
        double x;

        if (! given (v) || ! number_of (v, &x))
                return yajl_gen_null (g);
        ruby_float (x, buf, sizeof (buf));
        return yajl_gen_string (g, (const unsigned char *) buf, strlen (buf));
}

static bool
is_utf8 (const char *s, size_t len)
{
        cleanup_free char *clean = NULL;
        size_t n;

        if (ce_utf8_sanitize (s, len, &clean, &n) < 0)
                return false;
        return n == len && memcmp (clean, s, len) == 0;
}

/* Whether every text member of doc would decode to UTF-8. */
static bool
texts_are_utf8 (yajl_val doc, const char *const *names)
{
        for (size_t i = 0; doc && names[i]; i++) {
                yajl_val v = api_member (doc, names[i]);
                cleanup_free char *raw = NULL;
                size_t len;

                if (! given (v) || ! YAJL_IS_STRING (v))
                        continue;
                if (b64_decode_lenient (v->u.string, strlen (v->u.string), &raw, &len) < 0
                    || ! is_utf8 (raw, len))
                        return false;
        }
        return true;
}

#define NOT_UTF8                                                                                   \
        "some attributes for this submission cannot be converted to UTF-8, use "                   \
        "base64_encoded=true query parameter"

/* 400 for a read whose texts are not UTF-8 and not asked in base64. */
static unsigned
j0_job_status (const struct store_job *job, const struct api_query *q)
{
        static const char *const texts[] = { "source_code", "stdin",  "expected_output",
                                             "stdout",      "stderr", "compile_output",
                                             NULL };
        yajl_val sub, res;
        bool ok;

        if (query_true (q, "base64_encoded"))
                return 200;
        sub = yajl_tree_parse (job->request, NULL, 0);
        res = job->result ? yajl_tree_parse (job->result, NULL, 0) : NULL;
        ok = (sub == NULL || texts_are_utf8 (sub, texts))
             && (res == NULL || texts_are_utf8 (res, texts));
        yajl_tree_free (sub);
        yajl_tree_free (res);
        return ok ? 200 : 400;
}

/* GET /submissions/:token (and the callback: q NULL, Judge0's eight fields
 * in base64). */
static yajl_gen_status
j0_gen_job (yajl_gen g, const struct store_job *job, const struct api_query *q)
{
        static const char *const req_texts[] = { "source_code", "stdin", "expected_output", NULL };
        static const char *const res_texts[] = { "stdout", "stderr", "compile_output", NULL };
        bool base64 = q == NULL || query_true (q, "base64_encoded");
        yajl_val sub = NULL, res = NULL, v;
        uint64_t set = default_fields;
        struct ce_error err = { 0 };
        char token[37], failure[160] = "";
        int status_id;
        yajl_gen_status st = yajl_gen_status_ok;

        if (q)
                parse_fields (api_query_get (q, "fields"), &set, &err);
        sub = yajl_tree_parse (job->request, NULL, 0);
        if (job->result)
                res = yajl_tree_parse (job->result, NULL, 0);
        if (sub == NULL || ! YAJL_IS_OBJECT (sub) || (res && ! YAJL_IS_OBJECT (res))) {
                st = yajl_gen_invalid_string;
                goto fail;
        }
        if (! base64
            && (((set & ((1ull << K_SOURCE_CODE) | (1ull << K_STDIN) | (1ull << K_EXPECTED_OUTPUT)))
                 && ! texts_are_utf8 (sub, req_texts))
                || (res && ! texts_are_utf8 (res, res_texts)))) {
                GEN (j0_gen_error (g, NOT_UTF8, NULL));
                goto fail;
        }
        if (job->state == STORE_QUEUED)
                status_id = J0_IN_QUEUE;
        else if (job->state == STORE_RUNNING)
                status_id = J0_PROCESSING;
        else if (res && (v = api_member (res, "status_id")) && YAJL_IS_INTEGER (v))
                status_id = (int) YAJL_GET_INTEGER (v);
        else
                status_id = J0_INTERNAL_ERROR;
        if (status_id < J0_IN_QUEUE || status_id > J0_EXEC_FORMAT_ERROR)
                status_id = J0_INTERNAL_ERROR;
        if (job->state == STORE_DONE && status_id == J0_INTERNAL_ERROR) {
                /* No answer of ours: /execute's error body, or the store's failure. */
                v = res ? api_member (res, "error") : NULL;
                snprintf (failure, sizeof (failure), "%s",
                          v && YAJL_IS_STRING (v) ? v->u.string
                          : job->failure          ? job->failure
                                                  : "no result");
        }
        token_of (job->id, token);
        GEN (yajl_gen_map_open (g));
        for (int k = 0; k < K_COUNT; k++) {
                if (! (set & (1ull << k)))
                        continue;
                GEN_STR (key_names[k]);
                switch ((enum j0_key) k) {
                case K_SOURCE_CODE:
                case K_STDIN:
                case K_EXPECTED_OUTPUT:
                        GEN (gen_text (g, api_member (sub, key_names[k]), base64));
                        break;
                case K_STDOUT:
                case K_STDERR:
                case K_COMPILE_OUTPUT:
                        GEN (gen_text (g, res ? api_member (res, key_names[k]) : NULL, base64));
                        break;
                case K_LANGUAGE_ID:
                case K_NUMBER_OF_RUNS:
                case K_MEMORY_LIMIT:
                case K_STACK_LIMIT:
                case K_MAX_PROCESSES:
                case K_MAX_FILE_SIZE:
                case K_REDIRECT_STDERR:
                case K_COMMAND_LINE_ARGUMENTS:
                case K_CALLBACK_URL:
                        GEN (gen_member_or_null (g, api_member (sub, key_names[k])));
                        break;
                case K_CPU_TIME_LIMIT:
                case K_CPU_EXTRA_TIME:
                case K_WALL_TIME_LIMIT:
                        GEN (gen_decimal (g, api_member (sub, key_names[k])));
                        break;
                case K_TIME:
                case K_WALL_TIME:
                case K_MEMORY:
                case K_EXIT_CODE:
                case K_EXIT_SIGNAL:
                        GEN (gen_member_or_null (g, res ? api_member (res, key_names[k]) : NULL));
                        break;
                case K_MESSAGE:
                        v = res ? api_member (res, "message") : NULL;
                        if (! failure[0] && given (v) && YAJL_IS_STRING (v))
                                snprintf (failure, sizeof (failure), "%s", v->u.string);
                        if (! failure[0])
                                GEN (yajl_gen_null (g));
                        else if (base64)
                                GEN (gen_bytes_b64 (g, failure, strlen (failure)));
                        else
                                GEN_STR (failure);
                        break;
                case K_STATUS_ID: GEN (yajl_gen_integer (g, status_id)); break;
                case K_STATUS:
                        GEN (yajl_gen_map_open (g));
                        GEN_KV_INT ("id", status_id);
                        GEN_KV_STR ("description", status_names[status_id]);
                        GEN (yajl_gen_map_close (g));
                        break;
                case K_CREATED_AT: GEN (gen_time (g, job->created_ms)); break;
                case K_FINISHED_AT:
                        GEN (gen_time (g, job->state == STORE_DONE ? job->finished_ms : 0));
                        break;
                case K_TOKEN: GEN_STR (token); break;
                case K_PER_PROCESS_TIME:
                case K_PER_PROCESS_MEMORY:
                case K_ENABLE_NETWORK: GEN (yajl_gen_bool (g, 0)); break;
                case K_COMPILER_OPTIONS:
                        GEN (gen_member_or_null (g, api_member (sub, key_names[k])));
                        break;
                case K_ADDITIONAL_FILES:
                        GEN (gen_text (g, api_member (sub, key_names[k]), true));
                        break;
                case K_LANGUAGE:
                        GEN (yajl_gen_map_open (g));
                        GEN_STR ("id");
                        GEN (gen_member_or_null (g, api_member (sub, "language_id")));
                        GEN_STR ("name");
                        GEN (gen_member_or_null (g, api_member (sub, "language_name")));
                        GEN (yajl_gen_map_close (g));
                        break;
                case K_COUNT: break;
                }
        }
        GEN (yajl_gen_map_close (g));
fail:
        yajl_tree_free (sub);
        yajl_tree_free (res);
        return st;
}

/* GET /submissions: ?page (from 1) and ?per_page (20). */
static int
j0_list_page (const struct api_query *q, int64_t *offset, int64_t *limit, struct ce_error *err)
{
        const char *page = api_query_get (q, "page"), *per = api_query_get (q, "per_page");
        long long p = 1, n = 20;
        char *end;

        if (page) {
                p = strtoll (page, &end, 10);
                if (*page == '\0' || *end || p <= 0)
                        return ce_refuse (err, 400, EINVAL, "invalid page: %.20s", page);
        }
        if (per) {
                n = strtoll (per, &end, 10);
                if (*per == '\0' || *end || n < 0)
                        return ce_refuse (err, 400, EINVAL, "invalid per_page: %.20s", per);
                if (n == 0)
                        n = 20;
        }
        if (p > INT64_MAX / (n ? n : 1) / 2)
                return ce_refuse (err, 400, EINVAL, "invalid page: %.20s", page);
        *offset = (p - 1) * n;
        *limit = n;
        return 0;
}

static yajl_gen_status
gen_page_or_null (yajl_gen g, const char *key, int64_t page, bool exists)
{
        yajl_gen_status st;

        GEN_STR (key);
        GEN (exists ? yajl_gen_integer (g, page) : yajl_gen_null (g));
fail:
        return st;
}

static yajl_gen_status j0_gen_job (yajl_gen g, const struct store_job *job,
                                   const struct api_query *q);

/* {"submissions": [...], "meta": {current_page, next_page, prev_page,
 * total_pages, total_count}}. */
static yajl_gen_status
j0_gen_list (yajl_gen g, const struct store_job *jobs, size_t n, int64_t total, int64_t offset,
             int64_t limit, const struct api_query *q)
{
        int64_t page = limit ? offset / limit + 1 : 1;
        int64_t pages = limit ? (total + limit - 1) / limit : 0;
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_STR ("submissions");
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < n; i++)
                GEN (j0_gen_job (g, &jobs[i], q));
        GEN (yajl_gen_array_close (g));
        GEN_STR ("meta");
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("current_page", page);
        GEN (gen_page_or_null (g, "next_page", page + 1, page < pages));
        GEN (gen_page_or_null (g, "prev_page", page - 1, page > 1));
        GEN_KV_INT ("total_pages", pages);
        GEN_KV_INT ("total_count", total);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* -- statistics ---------------------------------------------------------------------- */

#define STATS_DAYS 30
#define STATS_LANGS 64

/* GET /statistics: Judge0's counts over every submission the store holds
 * (expired ones are gone), by day, language and status; computed at most
 * every 10 minutes, as Judge0 caches it. */
static yajl_gen_status
j0_gen_stats (yajl_gen g, const struct api_env *env, const struct api_jobs_iter *it)
{
        struct {
                int id;
                char name[160];
                int64_t count;
        } langs[STATS_LANGS];
        int64_t statuses[J0_EXEC_FORMAT_ERROR + 1] = { 0 }, days[STATS_DAYS] = { 0 };
        int64_t total = 0, now = store_now_ms (), today0 = now - now % 86400000;
        size_t nlangs = 0;
        struct store_job job;
        yajl_gen_status st;
        char buf[64];
        int ret;

        (void) env;
        while ((ret = it->next (it->ctx, &job)) > 0) {
                yajl_val sub = yajl_tree_parse (job.request, NULL, 0);
                yajl_val res = job.result ? yajl_tree_parse (job.result, NULL, 0) : NULL;
                yajl_val id = sub ? api_member (sub, "language_id") : NULL;
                yajl_val name = sub ? api_member (sub, "language_name") : NULL;
                yajl_val sid = res && YAJL_IS_OBJECT (res) ? api_member (res, "status_id") : NULL;
                int64_t day = (today0 - (job.created_ms - job.created_ms % 86400000)) / 86400000;
                int s = job.state == STORE_QUEUED      ? J0_IN_QUEUE
                        : job.state == STORE_RUNNING   ? J0_PROCESSING
                        : sid && YAJL_IS_INTEGER (sid) ? (int) YAJL_GET_INTEGER (sid)
                                                       : J0_INTERNAL_ERROR;

                total++;
                if (day >= 0 && day < STATS_DAYS)
                        days[day]++;
                statuses[s >= J0_IN_QUEUE && s <= J0_EXEC_FORMAT_ERROR ? s : J0_INTERNAL_ERROR]++;
                if (id && YAJL_IS_INTEGER (id)) {
                        size_t k;

                        for (k = 0; k < nlangs && langs[k].id != YAJL_GET_INTEGER (id); k++)
                                ;
                        if (k == nlangs && nlangs < STATS_LANGS) {
                                langs[k].id = (int) YAJL_GET_INTEGER (id);
                                snprintf (langs[k].name, sizeof (langs[k].name), "%s",
                                          name && YAJL_IS_STRING (name) ? name->u.string : "");
                                langs[k].count = 0;
                                nlangs++;
                        }
                        if (k < nlangs)
                                langs[k].count++;
                }
                yajl_tree_free (sub);
                yajl_tree_free (res);
                store_job_clear (&job);
        }
        if (ret < 0)
                return yajl_gen_invalid_string;
        GEN (yajl_gen_map_open (g));
        GEN_STR ("created_at");
        GEN (gen_time (g, now));
        GEN_STR ("cached_until");
        GEN (gen_time (g, now + 600000));
        GEN_STR ("submissions");
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("total", total);
        GEN_KV_INT ("today", days[0]);
        GEN_STR ("last_30_days");
        GEN (yajl_gen_map_open (g));
        for (int d = STATS_DAYS - 1; d >= 0; d--) {
                time_t t = (time_t) ((today0 - (int64_t) d * 86400000) / 1000);
                struct tm tm;

                gmtime_r (&t, &tm);
                snprintf (buf, sizeof (buf), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday);
                GEN_KV_INT (buf, days[d]);
        }
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
        GEN_STR ("languages");
        GEN (yajl_gen_array_open (g));
        for (size_t k = 0; k < nlangs; k++) {
                GEN (yajl_gen_map_open (g));
                GEN_STR ("language");
                GEN (yajl_gen_map_open (g));
                GEN_KV_INT ("id", langs[k].id);
                GEN_KV_STR ("name", langs[k].name);
                GEN (yajl_gen_map_close (g));
                GEN_KV_INT ("count", langs[k].count);
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
        GEN_STR ("statuses");
        GEN (yajl_gen_array_open (g));
        for (int s = J0_IN_QUEUE; s <= J0_EXEC_FORMAT_ERROR; s++) {
                if (statuses[s] == 0)
                        continue;
                GEN (yajl_gen_map_open (g));
                GEN_STR ("status");
                GEN (yajl_gen_map_open (g));
                GEN_KV_INT ("id", s);
                GEN_KV_STR ("name", status_names[s]);
                GEN (yajl_gen_map_close (g));
                GEN_KV_INT ("count", statuses[s]);
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
        GEN_STR ("database");
        GEN (yajl_gen_map_open (g));
        snprintf (buf, sizeof (buf), "%lld kB", (long long) (it->disk_bytes / 1024));
        GEN_KV_STR ("size_pretty", buf);
        GEN_KV_INT ("size_in_bytes", it->disk_bytes);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* -- documents ---------------------------------------------------------------------------- */

static yajl_gen_status
gen_about (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        (void) env;
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("version", JUDGE0_VERSION);
        GEN_KV_STR ("homepage", "https://github.com/codeengine");
        GEN_KV_STR ("source_code", "https://github.com/codeengine");
        GEN_KV_STR ("maintainer", "CodeEngine (a Judge0 CE " JUDGE0_VERSION
                                  " compatible API; see docs/judge0.md)");
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_statuses (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        (void) env;
        GEN (yajl_gen_array_open (g));
        for (int i = J0_IN_QUEUE; i <= J0_EXEC_FORMAT_ERROR; i++) {
                GEN (yajl_gen_map_open (g));
                GEN_KV_INT ("id", i);
                GEN_KV_STR ("description", status_names[i]);
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

/* Every (language, id) pair of the available languages, by id. */
static yajl_gen_status
gen_language_list (yajl_gen g, const struct api_env *env, bool archived_key)
{
        yajl_gen_status st;
        int last = 0;

        GEN (yajl_gen_array_open (g));
        for (;;) {
                int next = 0;
                const char *name = NULL;

                /* The next id after last: a handful of languages, so a scan. */
                for (size_t i = 0; i < bundle_count (env->bundles); i++) {
                        const struct ce_language *l = bundle_at (env->bundles, i);

                        for (size_t k = 0; l->available && k < l->njudge0; k++)
                                if (l->judge0[k].id > last
                                    && (next == 0 || l->judge0[k].id < next)) {
                                        next = l->judge0[k].id;
                                        name = l->judge0[k].name;
                                }
                }
                if (next == 0)
                        break;
                GEN (yajl_gen_map_open (g));
                GEN_KV_INT ("id", next);
                GEN_KV_STR ("name", name ? name : "");
                if (archived_key)
                        GEN_KV_BOOL ("is_archived", 0);
                GEN (yajl_gen_map_close (g));
                last = next;
        }
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_languages (yajl_gen g, const struct api_env *env)
{
        return gen_language_list (g, env, false);
}

static yajl_gen_status
gen_languages_all (yajl_gen g, const struct api_env *env)
{
        return gen_language_list (g, env, true);
}

/* A stage's command as one line, for compile_cmd and run_cmd, as Judge0
 * writes them: the entry file's name where the code goes, %s where the
 * compiler options go. */
static yajl_gen_status
gen_command (yajl_gen g, const char *key, char **argv, const char *entry)
{
        struct ce_buf b = { 0 };
        yajl_gen_status st;
        int bad = 0;

        GEN_STR (key);
        if (argv == NULL)
                return yajl_gen_null (g);
        for (size_t i = 0; argv[i] && ! bad; i++) {
                const char *a = argv[i];

                if (i)
                        bad |= ce_buf_append (&b, " ", 1);
                if (strcmp (a, BUNDLE_OPTIONS_PLACEHOLDER) == 0) {
                        bad |= ce_buf_append (&b, "%s", 2);
                        continue;
                }
                while (*a && ! bad) {
                        static const char *const names[] = { BUNDLE_ENTRY_PLACEHOLDER,
                                                             BUNDLE_SOURCES_PLACEHOLDER, NULL };
                        size_t k;

                        for (k = 0; names[k]; k++)
                                if (strncmp (a, names[k], strlen (names[k])) == 0)
                                        break;
                        if (names[k]) {
                                bad |= ce_buf_append (&b, entry, strlen (entry));
                                a += strlen (names[k]);
                        } else {
                                bad |= ce_buf_append (&b, a++, 1);
                        }
                }
        }
        st = bad ? yajl_gen_invalid_string
                 : yajl_gen_string (g, (const unsigned char *) (b.data ? b.data : ""), b.len);
        ce_buf_free (&b);
fail:
        return st;
}

/* GET /languages/:id */
static yajl_gen_status
lookup_language (yajl_gen g, const struct api_env *env, const char *key, bool *found)
{
        const struct ce_language *l;
        const char *name = NULL;
        yajl_gen_status st;
        char *end;
        long id = strtol (key, &end, 10);

        *found = false;
        if (*key == '\0' || *end != '\0' || id <= 0 || id > BUNDLE_JUDGE0_MAX_ID)
                return yajl_gen_status_ok;
        l = bundle_lookup_judge0 (env->bundles, (int) id, &name);
        if (l == NULL || ! l->available)
                return yajl_gen_status_ok;
        *found = true;
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("id", id);
        GEN_KV_STR ("name", name ? name : l->name);
        GEN_KV_BOOL ("is_archived", 0);
        GEN_KV_STR ("source_file", l->entry_file);
        GEN (gen_command (g, "compile_cmd", l->compile.command, l->entry_file));
        GEN (gen_command (g, "run_cmd", l->run.command, l->entry_file));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static void
gen_name (const char *name, size_t len, bool last, void *arg)
{
        (void) last;
        yajl_gen_string (arg, (const unsigned char *) name, len);
}

/* GET /config_info: all 39 keys, in Judge0's order, describing what this
 * server enforces. */
static yajl_gen_status
gen_config_info (yajl_gen g, const struct api_env *env)
{
        const struct exec_policy *pol = env->policy;
        double wall = (double) pol->defaults.timeout_ms / 1000.0;
        double wall_max = (double) pol->ceilings.timeout_ms / 1000.0;
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_BOOL ("maintenance_mode", 0);
        GEN_KV_BOOL ("enable_wait_result", 1);
        GEN_KV_BOOL ("enable_compiler_options", 1);
        GEN_STR ("allowed_languages_for_compile_options");
        GEN (yajl_gen_array_open (g));
        each_options_language (env, gen_name, g);
        GEN (yajl_gen_array_close (g));
        GEN_KV_BOOL ("enable_command_line_arguments", 1);
        GEN_KV_BOOL ("enable_submission_delete", 0);
        GEN_KV_BOOL ("enable_callbacks", 1);
        GEN_KV_INT ("callbacks_max_tries", 5);
        GEN (gen_double (g, "callbacks_timeout", 10.0));
        GEN_KV_BOOL ("enable_additional_files", 1);
        GEN_KV_INT ("max_queue_size", env->queue);
        GEN (gen_double (g, "cpu_time_limit", wall));
        GEN (gen_double (g, "max_cpu_time_limit", wall_max));
        GEN (gen_double (g, "cpu_extra_time", 1.0));
        GEN (gen_double (g, "max_cpu_extra_time", 5.0));
        GEN (gen_double (g, "wall_time_limit", wall));
        GEN (gen_double (g, "max_wall_time_limit", wall_max));
        GEN_KV_INT ("memory_limit", pol->defaults.memory_mb * 1024);
        GEN_KV_INT ("max_memory_limit", pol->ceilings.memory_mb * 1024);
        GEN_KV_INT ("stack_limit", 64000);
        GEN_KV_INT ("max_stack_limit", 128000);
        GEN_KV_INT ("max_processes_and_or_threads", pol->defaults.pids);
        GEN_KV_INT ("max_max_processes_and_or_threads", pol->ceilings.pids);
        GEN_KV_BOOL ("enable_per_process_and_thread_time_limit", 0);
        GEN_KV_BOOL ("allow_enable_per_process_and_thread_time_limit", 0);
        GEN_KV_BOOL ("enable_per_process_and_thread_memory_limit", 0);
        GEN_KV_BOOL ("allow_enable_per_process_and_thread_memory_limit", 0);
        GEN_KV_INT ("max_file_size", pol->defaults.output_bytes / 1024);
        GEN_KV_INT ("max_max_file_size", pol->ceilings.output_bytes / 1024);
        GEN_KV_INT ("number_of_runs", 1);
        GEN_KV_INT ("max_number_of_runs", MAX_RUNS);
        GEN_KV_BOOL ("redirect_stderr_to_stdout", 0);
        GEN_KV_INT ("max_extract_size", MAX_EXTRACT_KB);
        GEN_KV_BOOL ("enable_batched_submissions", 1);
        GEN_KV_INT ("max_submission_batch_size", 20);
        GEN (gen_double (g, "submission_cache_duration", 0.0));
        GEN_KV_BOOL ("use_docs_as_homepage", 0);
        GEN_KV_BOOL ("allow_enable_network", 0);
        GEN_KV_BOOL ("enable_network", 0);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* GET /system_info: strings about the machine, as Judge0's lscpu lines. */
static yajl_gen_status
gen_system_info (yajl_gen g, const struct api_env *env)
{
        char buf[64];
        yajl_gen_status st;
        long cpus = sysconf (_SC_NPROCESSORS_ONLN);
        long pages = sysconf (_SC_PHYS_PAGES), psize = sysconf (_SC_PAGESIZE);

        (void) env;
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("Architecture", "x86_64");
        snprintf (buf, sizeof (buf), "%ld", cpus);
        GEN_KV_STR ("CPU(s)", buf);
        snprintf (buf, sizeof (buf), "%.1fGi",
                  (double) pages * (double) psize / (1024.0 * 1024.0 * 1024.0));
        GEN_KV_STR ("Mem", buf);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* GET /workers: one queue, named as Judge0 names it, sized as ours. */
static yajl_gen_status
gen_workers (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        GEN (yajl_gen_array_open (g));
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("queue", JUDGE0_VERSION);
        GEN_KV_INT ("size", 0);
        GEN_KV_INT ("available", env->max_concurrent);
        GEN_KV_INT ("idle", env->max_concurrent);
        GEN_KV_INT ("working", 0);
        GEN_KV_INT ("paused", 0);
        GEN_KV_INT ("failed", 0);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

static const struct api_route j0_routes[] = {
        { .path = "/",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_TEXT,
          .text = "",
          .wrong_method = "use GET" },
        { .path = "/about",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_about },
        { .path = "/version",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_TEXT,
          .text = JUDGE0_VERSION,
          .wrong_method = "use GET" },
        { .path = "/statuses",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_statuses },
        { .path = "/languages",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_languages },
        { .path = "/languages/all",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_languages_all },
        { .path = "/languages/",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_LOOKUP,
          .wrong_method = "use GET",
          .lookup = lookup_language },
        { .path = "/config_info",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_config_info },
        { .path = "/system_info",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_system_info },
        { .path = "/workers",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_workers },
        { .path = "/isolate",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_TEXT,
          .text = "CodeEngine: runc containers, no isolate",
          .wrong_method = "use GET" },
        { .path = "/license",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_TEXT,
          .text = "CodeEngine's Judge0-compatible API; Judge0 itself is GPLv3 and not part "
                  "of it.",
          .wrong_method = "use GET" },
        { .path = "/statistics",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_STATS,
          .wrong_method = "use GET" },
        { .path = "/authenticate",
          .methods = "POST",
          .kind = API_ROUTE_TEXT,
          .text = "",
          .wrong_method = "use POST" },
        /* What X-Auth-User guards (--authz-token-file) is 403 with an empty
         * body without it, as on a Judge0 without AUTHZ_TOKEN. */
        { .path = "/authorize",
          .methods = "POST",
          .kind = API_ROUTE_TEXT,
          .text = "",
          .authz = true,
          .wrong_method = "use POST" },
        { .path = "/submissions/batch",
          .methods = "GET, HEAD, POST",
          .kind = API_ROUTE_BATCH,
          .wrong_method = "use GET or POST" },
        { .path = "/submissions",
          .methods = "POST",
          .kind = API_ROUTE_SUBMIT,
          .wrong_method = "use POST /submissions" },
        { .path = "/submissions",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_LIST,
          .authz = true,
          .wrong_method = "use POST /submissions" },
        { .path = "/submissions/",
          .methods = "GET, HEAD, DELETE",
          .kind = API_ROUTE_JOB,
          .wrong_method = "use GET /submissions/:token" },
        { .path = NULL },
};

const struct api_frontend api_judge0 = {
        .name = "judge0",
        .prefix = "/judge0",
        .routes = j0_routes,
        .not_found = "Not Found",
        .streams = false,
        .parser_new = j0_parser_new,
        .parser_free = j0_parser_free,
        .feed = j0_feed,
        .finish = j0_finish,
        .gen_result = j0_gen_result,
        .gen_error = j0_gen_error,
        .events = NULL,
        .gen_accepted = j0_gen_accepted,
        .gen_job = j0_gen_job,
        .accepted_status = 201,
        .job_delete_refused = "delete not allowed",
        .gen_stats = j0_gen_stats,
        .stats_cache_s = 600,
        .authz_header = "X-Auth-User",
        .list_page = j0_list_page,
        .gen_list = j0_gen_list,
        .auth_header = "X-Auth-Token",
        .callback_method = "PUT",
        .job_id = j0_job_id,
        .check_query = j0_check_query,
        .stored_body = j0_stored_body,
        .gen_refusal = j0_gen_refusal,
        .job_status = j0_job_status,
        .submit_waits = j0_submit_waits,
        .batch_count = j0_batch_count,
        .batch_select = j0_batch_select,
        .batch_ids = j0_batch_ids,
        .batch_key = "submissions",
        .batch_refused_status = 422,
        .batch_unreadable = "some attributes for one or more submissions cannot be converted to "
                            "UTF-8, use base64_encoded=true query parameter",
};
