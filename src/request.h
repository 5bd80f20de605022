/*
 * request.h - parse and validate a POST /execute body.
 *
 * The body is parsed as it arrives (yajl's callback parser), in pieces of
 * at least 64 KiB and a quarter of what came so far, so that a request is
 * never buffered whole before it is checked, a bad one is refused within
 * that much of its first bad byte, and a long string sent a byte at a time
 * costs no more than one sent at once.  Every field's type and size is
 * checked here, including file names and limits; nothing later sees
 * unvalidated input.
 *
 * A parser belongs to one connection and is used by one thread at a time.
 */
#ifndef CE_REQUEST_H
#define CE_REQUEST_H

#include "checker.h"
#include "common.h"
#include "stage_limits.h"

#define REQUEST_MAX_FILES 64
#define REQUEST_MAX_ARGS 256
#define REQUEST_MAX_NAME 255
#define REQUEST_MAX_ARG_LEN (32 * 4096)     /* MAX_ARG_STRLEN, NUL included */
#define REQUEST_MAX_ARGS_BYTES (512 * 1024) /* well under ARG_MAX with the command */
#define REQUEST_MAX_TESTS 256
#define REQUEST_MAX_TEST_NAME 255
#define REQUEST_MAX_CALLBACK_URL 2048
#define REQUEST_MAX_OUTPUT_FILES 32
#define REQUEST_MAX_OUTPUT_GLOB 255

struct ce_file {
        char *name; /* validated relative path: no "..", ".", empty parts, NUL */
        char *data; /* decoded content; may hold NUL bytes */
        size_t len;
};

/* One test case: the program run once more with its own stdin and args,
 * its output compared with expected (the request's checker). */
struct ce_test {
        char *name;       /* NULL: none given; else NUL-free, valid UTF-8, <= 255 bytes */
        char *stdin_data; /* NULL: none (the program reads end of file) */
        size_t stdin_len;
        char **args; /* NULL-terminated; never NULL after a successful parse */
        size_t nargs;
        size_t args_bytes; /* with their NULs */
        char *expected;    /* NULL: no expected_output (verdict no_answer) */
        size_t expected_len;
};

struct ce_request {
        char *language;        /* NUL-terminated, valid UTF-8 */
        struct ce_file *files; /* files[0] is the entry point */
        size_t nfiles;
        bool from_code;   /* given as "code": files[0] has no name yet */
        char *stdin_data; /* NULL when not given */
        size_t stdin_len;
        char **args; /* NULL-terminated; never NULL after a successful parse */
        size_t nargs;
        size_t args_bytes;       /* with their NULs */
        struct ce_limits limits; /* as requested, where limits_given says so */
        unsigned limits_given;   /* LIMIT_* bits */
        /* limits.compile_*: the compile stage's, for languages that compile */
        struct ce_limits compile_limits;
        unsigned compile_limits_given;
        /* "tests": 1..REQUEST_MAX_TESTS, or none (ntests 0: one plain run).
         * With tests, the top-level stdin and args are refused. */
        struct ce_test *tests;
        size_t ntests;
        struct checker checker; /* CHECKER_DEFAULT unless given; needs tests */
        bool stop_on_failure;   /* needs tests */
                                /* An asynchronous job's: where its result is sent when done; NULL
                                 * when not given (POST /execute refuses it). */
        char *callback_url;
        /* Judge0's: the CPU time a run may use, judged after it (0: none),
         * and stdout that carries both streams. */
        int64_t cpu_time_ms;
        bool stderr_to_stdout;
        /* Extra compile arguments, where the compile command has
         * {compiler_options}; NULL-terminated, or NULL: none. */
        char **compiler_args;
        size_t ncompiler_args;
        /* "output_files": 1..REQUEST_MAX_OUTPUT_FILES globs (fnmatch with
         * FNM_PATHNAME | FNM_PERIOD) relative to the run's writable /work,
         * each checked by request_check_glob; NULL/0: none asked, and then
         * the run has no /work and the answer no "files".  Never with tests. */
        char **output_files;
        size_t noutput_files;
};

struct request_parser;

/* max_bytes bounds the total body.  Returns NULL on ENOMEM. */
struct request_parser *request_parser_new (size_t max_bytes);
void request_parser_free (struct request_parser *p);

/* Feed the next piece of the body.  On failure err says why (400 or 413) and
 * the parser must not be fed again. */
int request_parser_feed (struct request_parser *p, const char *data, size_t len,
                         struct ce_error *err);

/* End of body: on success *out holds a validated request the caller owns
 * (free with request_free). */
int request_parser_finish (struct request_parser *p, struct ce_request **out, struct ce_error *err);

void request_free (struct ce_request *r);

/* The limits one stage gets: `asked` where `given` (LIMIT_* bits) says so,
 * each checked against [minimum, ceiling], the defaults elsewhere.  400
 * naming the field ("limits.<prefix><name>") when a value is out of range. */
int request_resolve_limits (const struct ce_limits *asked, unsigned given, const char *prefix,
                            const struct ce_limits *defaults, const struct ce_limits *ceilings,
                            struct ce_limits *out, struct ce_error *err);

/* The smallest value each limit may take. */
extern const struct ce_limits request_limit_minimums;

/* Two file names that cannot both be in one request: the same, or one a
 * directory of the other ("a" and "a/b"). */
bool request_names_clash (const char *a, const char *b);

/* The rules every front-end's files and arguments follow, with one
 * message each: 400 naming the field ("files[2].name", "args[0]"), or
 * ENOMEM.  request_check_file: whether r has room for one more file and,
 * when name is not NULL, whether name (name_len bytes, perhaps with NULs)
 * is acceptable and clashes with none of r's.  request_add_file: append a
 * checked file; r takes name and data (freed on failure).
 * request_add_arg: check and append a copy of one argument. */
int request_check_file (const struct ce_request *r, const char *name, size_t name_len,
                        struct ce_error *err);
int request_add_file (struct ce_request *r, char *name, char *data, size_t len,
                      struct ce_error *err);
int request_add_arg (struct ce_request *r, const char *arg, size_t len, struct ce_error *err);

/* output_files: request_add_output_file checks one glob (glob_len bytes,
 * perhaps with NULs) and appends a copy: 400 naming the field
 * ("output_files[2]") or ENOMEM.  request_check_output_files, once the
 * whole body is read: given (the field was present) it holds at least one
 * glob, and it is not given with tests; 400 saying why. */
int request_add_output_file (struct ce_request *r, const char *glob, size_t glob_len,
                             struct ce_error *err);
int request_check_output_files (const struct ce_request *r, bool given, struct ce_error *err);

/* 0 when glob is an acceptable output_files pattern: 1..255 bytes, no NUL,
 * relative, no empty, "." or ".." component; else <0 and *why. */
int request_check_glob (const char *glob, size_t len, const char **why);

/* 0 when name is an acceptable relative file name (exposed for tests). */
int request_check_file_name (const char *name, size_t len, const char **why);

#endif
