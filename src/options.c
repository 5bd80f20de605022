/*
 * options.c - the command line as one table (see options.h).
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_LONG, K_DOUBLE, K_SWITCH, K_HELP };

struct flag {
        const char *name;
        enum kind kind;
        size_t off;          /* the field of struct options */
        const char *arg;     /* what it takes, for the usage */
        double min, max;     /* K_LONG, K_DOUBLE */
        double def;          /* K_LONG, K_DOUBLE */
        const char *def_str; /* K_STR */
        const char *help;    /* continuation lines start with '\n' */
        /* A default limit: the ceiling flag it must not pass; when follows,
         * a ceiling set lower lowers this default with it unless it was
         * given too (the compile shares the run's cpus and pids ceilings). */
        const char *ceiling;
        bool follows;
        const char *header;       /* a section title before this flag */
        const char *default_text; /* the default as the usage says it */
};

#define F(field) offsetof (struct options, field)

static const struct flag flags[] = {
        { "listen", K_STR, F (listen), "HOST:PORT", .def_str = "127.0.0.1:8080",
          .help = "address to serve on" },
        { "bundles", K_STR, F (bundles), "DIR", .def_str = "./bundles",
          .help = "prepared language bundles" },
        { "state-dir", K_STR, F (state_dir), "DIR", .help = "work dirs and runc state",
          .default_text = "/run/codeengine;\nnot root: $XDG_RUNTIME_DIR/codeengine" },
        { "require-cgroups", K_SWITCH, F (require_cgroups),
          .help = "refuse to start when cgroup limits cannot be used" },
        { "runtime", K_STR, F (runtime), "PATH", .def_str = "runc", .help = "OCI runtime binary" },
        { "init", K_STR, F (init_path), "PATH", .help = "codeengine-init binary",
          .default_text = "next to this binary" },
        { "max-concurrent", K_LONG, F (max_concurrent), "N", 1, 1024, 10,
          .help = "executions running at once" },
        { "queue", K_LONG, F (queue), "N", 0, 100000, 256,
          .help = "requests allowed to wait for a worker" },
        { "timeout", K_DOUBLE, F (timeout_s), "SECONDS", 0.1, 86400, 30,
          .help = "wall-clock limit per execution", .ceiling = "max-timeout" },
        { "memory-mb", K_LONG, F (memory_mb), "N", 8, 1 << 20, 50,
          .help = "memory (and memory+swap) limit", .ceiling = "max-memory-mb" },
        { "cpus", K_DOUBLE, F (cpus), "FRACTION", 0.01, 1024, 0.5, .help = "CPU limit in cores",
          .ceiling = "max-cpus" },
        { "pids", K_LONG, F (pids), "N", 4, 1 << 20, 64,
          .help = "process/thread limit per execution", .ceiling = "max-pids" },
        { "max-output", K_LONG, F (max_output), "BYTES", 1, 1L << 30, 1 << 20,
          .help = "output kept before the program is killed", .ceiling = "max-output-bytes" },
        { "max-body", K_LONG, F (max_body), "BYTES", 16, 1L << 30, 1 << 20,
          .help = "largest request body" },
        { "connection-timeout", K_LONG, F (connection_timeout_s), "SECONDS", 1, 3600, 30,
          .help = "a connection that sends nothing, or takes nothing\nof an answer, stream or "
                  "WebSocket, this long is\nclosed and its execution killed" },
        { "max-websockets", K_LONG, F (max_websockets), "N", 1, 100000, 256,
          .help = "WebSocket connections at once; over it a\nhandshake gets 503" },
        { "shutdown-grace", K_DOUBLE, F (grace_s), "SECONDS", 0, 3600, 10,
          .help = "on SIGTERM, how long running executions may\nfinish" },
        { "auth-token-file", K_STR, F (auth_token_file), "FILE",
          .help = "require 'Authorization: Bearer <token>' (the\nfile's content) on every "
                  "request but /health" },
        { "authz-token-file", K_STR, F (authz_token_file), "FILE",
          .help = "Judge0's X-Auth-User: with this token (the file's\ncontent) a client may "
                  "list submissions" },
        { "max-timeout", K_DOUBLE, F (max_timeout_s), "SECONDS", 0.1, 86400, 60,
          .help = "the longest timeout a request may ask",
          .header = "Ceilings for a request's \"limits\":" },
        { "max-memory-mb", K_LONG, F (max_memory_mb), "N", 16, 1 << 20, 512,
          .help = "the most memory" },
        { "max-cpus", K_DOUBLE, F (max_cpus), "FRACTION", 0.05, 1024, 1,
          .help = "the most CPU (the compile's too)" },
        { "max-pids", K_LONG, F (max_pids), "N", 8, 1 << 20, 256,
          .help = "the most processes (the compile's too)" },
        { "max-output-bytes", K_LONG, F (max_output_bytes), "BYTES", 1, 1L << 30, 16 << 20,
          .help = "the most output (the compile's too)" },
        { "max-output-files", K_LONG, F (max_output_files), "N", 1, 1024, 64,
          .help = "files a run's output_files may bring back",
          .header = "Files a run hands back (\"output_files\"):" },
        { "max-output-files-bytes", K_LONG, F (max_output_files_bytes), "BYTES", 1, 64 << 20,
          8 << 20, .help = "their bytes together (before base64)" },
        { "compile-timeout", K_DOUBLE, F (compile_timeout_s), "SECONDS", 0.1, 86400, 10,
          .help = "wall-clock limit of a compile", .ceiling = "max-compile-timeout",
          .header = "The compile stage of compiled languages (a language's bundle may set its "
                    "own):" },
        { "compile-memory-mb", K_LONG, F (compile_memory_mb), "N", 16, 1 << 20, 256,
          .help = "memory of a compile", .ceiling = "max-compile-memory-mb" },
        { "compile-cpus", K_DOUBLE, F (compile_cpus), "FRACTION", 0.05, 1024, 1,
          .help = "CPU of a compile", .ceiling = "max-cpus", .follows = true },
        { "compile-pids", K_LONG, F (compile_pids), "N", 8, 1 << 20, 128,
          .help = "processes of a compile", .ceiling = "max-pids", .follows = true },
        { "max-compile-timeout", K_DOUBLE, F (max_compile_timeout_s), "SECONDS", 0.1, 86400, 60,
          .help = "the longest compile timeout a request may ask" },
        { "max-compile-memory-mb", K_LONG, F (max_compile_memory_mb), "N", 16, 1 << 20, 1024,
          .help = "the most compile memory" },
        { "build-mb", K_LONG, F (build_mb), "N", 1, 1 << 20, 128,
          .help = "size of the compile's output dir /build" },
        { "warm-pool", K_LONG, F (warm_pool), "N", 0, 64, 2,
          .help = "idle per language once it is asked for; 0: off",
          .header = "The warm pool: containers created ahead of their requests (each still\n"
                    "serves one execution):" },
        { "warm-max", K_LONG, F (warm_max), "N", 0, 1024, 8, .help = "idle over all languages" },
        { "warm-idle-seconds", K_LONG, F (warm_idle_s), "S", 1, 1L << 30, 600,
          .help = "a language not asked for this long holds none" },
        { "warm-tests", K_LONG, F (warm_tests), "N", 0, 1024, 24,
          .help = "idle run containers for submissions' tests (over all\nlanguages; a language "
                  "keeps as many as its last submission\nhad tests, less one); 0: none" },
        { "test-workers", K_LONG, F (test_workers), "N", 0, 1024, 0,
          .help = "workers one submission's tests may use at once",
          .default_text = "the CPUs,\nat most --max-concurrent",
          .header = "Test cases (\"tests\" in POST /execute):" },
        { "compile-cache-mb", K_LONG, F (compile_cache_mb), "N", 0, 1 << 20, 256,
          .help = "compiles kept under STATE/cache, least recently\nused evicted first; 0: off",
          .header = "The compile cache: a compile's output, reused by identical compiles:" },
        { "max-jobs", K_LONG, F (max_jobs), "N", 0, 100000000, 100000,
          .help = "asynchronous executions stored (queued, running\nand done, not yet expired); "
                  "0: off",
          .header = "Asynchronous executions (POST /executions):" },
        { "result-ttl", K_LONG, F (result_ttl_s), "SECONDS", 1, 1L << 30, 86400,
          .help = "how long a done execution's result is kept" },
        { "jobs-db", K_STR, F (jobs_db), "FILE", .help = "the job store (SQLite)",
          .default_text = "STATE/jobs.db" },
        { "async-workers", K_LONG, F (async_workers), "N", 0, 1024, 0,
          .help = "workers asynchronous executions may hold at once",
          .default_text = "half of\n--max-concurrent, at least 1" },
        { "job-attempts", K_LONG, F (job_attempts), "N", 1, 100, 3,
          .help = "starts of a job (the server died while it ran)\nbefore it is given up" },
        { "job-lease", K_DOUBLE, F (job_lease_s), "SECONDS", 0.3, 3600, 30,
          .help = "a running job is renewed every third of this;\none not renewed for this long "
                  "(its node died)\nis taken over by another node" },
        { "node-id", K_STR, F (node_id), "ID",
          .help = "this node's stable name in the job store: a\nrestarted node takes back the "
                  "jobs it ran",
          .default_text = "HOST:STATE" },
        { "redis", K_STR, F (redis), "URL",
          .help = "share the job store through Redis\n(redis://HOST:PORT[/DB]): many nodes, "
                  "one queue",
          .header = "Many nodes (docs/scaling.md):" },
        { "redis-password-file", K_STR, F (redis_password_file), "FILE",
          .help = "Redis AUTH password (the file's first line)" },
        { "drain", K_DOUBLE, F (drain_s), "SECONDS", 0, 3600, 0,
          .help = "on SIGTERM, answer GET /ready 503 this long\nbefore stopping, so that a "
                  "balancer stops\nsending first" },
        { "log-format", K_STR, F (log_format), "text|json", .def_str = "text",
          .help = "log lines as text, or one JSON object per line" },
        { "callback-allow", K_STR, F (callback_allow), "CIDRS",
          .help = "comma-separated ranges a callback_url may reach\nbesides global addresses "
                  "(private, link-local\nand loopback ones are refused otherwise)",
          .header = "Callbacks (an asynchronous execution's callback_url):" },
        { "callback-allow-loopback", K_SWITCH, F (callback_allow_loopback),
          .help = "let callback_url reach 127.0.0.0/8 and ::1" },
        { "callback-secret-file", K_STR, F (callback_secret_file), "FILE",
          .help = "sign each callback: X-CodeEngine-Signature:\nsha256=HMAC-SHA256(the file's "
                  "content, body)" },
        { "callback-attempts", K_LONG, F (callback_attempts), "N", 1, 100, 5,
          .help = "tries of one callback (5xx, 408, 429 and\nconnection errors retry, with "
                  "backoff from 1 s)" },
        { "callback-timeout", K_LONG, F (callback_timeout_s), "SECONDS", 1, 3600, 10,
          .help = "one try of a callback" },
        { "help", K_HELP, 0, .help = "show this help" },
};

#define NFLAGS (sizeof (flags) / sizeof (flags[0]))
#define HELP_COLUMN 26

static const struct flag *
find (const char *name)
{
        for (size_t i = 0; i < NFLAGS; i++)
                if (strcmp (flags[i].name, name) == 0)
                        return &flags[i];
        return NULL;
}

static void *
field (struct options *o, const struct flag *f)
{
        return (char *) o + f->off;
}

/* A K_LONG or K_DOUBLE field's value, as a double. */
static double
number (struct options *o, const struct flag *f)
{
        return f->kind == K_LONG ? (double) *(long *) field (o, f) : *(double *) field (o, f);
}

static void
set_number (struct options *o, const struct flag *f, double v)
{
        if (f->kind == K_LONG)
                *(long *) field (o, f) = (long) v;
        else
                *(double *) field (o, f) = v;
}

/* Text with each '\n' followed by the help column's indent. */
static void
print_indented (FILE *out, const char *text)
{
        for (const char *p = text; *p; p++) {
                fputc (*p, out);
                if (*p == '\n')
                        fprintf (out, "%*s", HELP_COLUMN, "");
        }
}

static void
usage (FILE *out, const char *argv0)
{
        fprintf (out,
                 "Usage: %s [OPTION...]\n"
                 "Run untrusted code snippets in fresh runc containers, over HTTP.\n\n",
                 argv0);
        for (size_t i = 0; i < NFLAGS; i++) {
                const struct flag *f = &flags[i];
                char left[64];

                if (f->header && f->header[0])
                        fprintf (out, "%s\n", f->header);
                snprintf (left, sizeof (left), "  --%s%s%s", f->name, f->arg ? " " : "",
                          f->arg ? f->arg : "");
                fprintf (out, "%-*s", HELP_COLUMN - 1, left);
                fputc (strlen (left) >= HELP_COLUMN - 1 ? '\n' : ' ', out);
                if (strlen (left) >= HELP_COLUMN - 1)
                        fprintf (out, "%*s", HELP_COLUMN, "");
                print_indented (out, f->help);
                if (f->default_text) {
                        fputs (" (default ", out);
                        print_indented (out, f->default_text);
                        fputc (')', out);
                } else if (f->kind == K_STR && f->def_str) {
                        fprintf (out, " (default %s)", f->def_str);
                } else if (f->kind == K_LONG || f->kind == K_DOUBLE) {
                        fprintf (out, " (default %.15g)", f->def);
                }
                fputc ('\n', out);
        }
}

static bool
parse_number (const struct flag *f, const char *s, double *out)
{
        char *end;
        double v;

        errno = 0;
        if (f->kind == K_LONG) {
                long l = strtol (s, &end, 10);

                v = (double) l;
        } else {
                v = strtod (s, &end);
        }
        if (errno || end == s || *end || ! isfinite (v) || v < f->min || v > f->max)
                return false;
        *out = v;
        return true;
}

int
options_parse (int argc, char **argv, struct options *o)
{
        struct option longopts[NFLAGS + 1];
        bool given[NFLAGS] = { false };
        int c;

        memset (o, 0, sizeof (*o));
        for (size_t i = 0; i < NFLAGS; i++) {
                const struct flag *f = &flags[i];

                longopts[i] = (struct option){ f->name,
                                               f->kind == K_SWITCH || f->kind == K_HELP
                                                       ? no_argument
                                                       : required_argument,
                                               NULL, 256 + (int) i };
                if (f->kind == K_STR)
                        *(const char **) field (o, f) = f->def_str;
                else if (f->kind == K_LONG || f->kind == K_DOUBLE)
                        set_number (o, f, f->def);
        }
        longopts[NFLAGS] = (struct option){ NULL, 0, NULL, 0 };

        opterr = 0;
        while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
                const struct flag *f = c >= 256 && c < 256 + (int) NFLAGS ? &flags[c - 256] : NULL;
                double v;

                if (f == NULL) {
                        fprintf (stderr, "%s: unknown or incomplete option '%s'\n", argv[0],
                                 argv[optind - 1]);
                        usage (stderr, argv[0]);
                        return -1;
                }
                given[f - flags] = true;
                switch (f->kind) {
                case K_HELP: usage (stdout, argv[0]); exit (0);
                case K_SWITCH: *(bool *) field (o, f) = true; break;
                case K_STR: *(const char **) field (o, f) = optarg; break;
                case K_LONG:
                case K_DOUBLE:
                        if (! parse_number (f, optarg, &v)) {
                                fprintf (stderr, "%s: bad value '%s' for --%s (%.15g to %.15g)\n",
                                         argv[0], optarg, f->name, f->min, f->max);
                                usage (stderr, argv[0]);
                                return -1;
                        }
                        set_number (o, f, v);
                        break;
                }
        }
        if (optind < argc) {
                fprintf (stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
                usage (stderr, argv[0]);
                return -1;
        }
        if (strcmp (o->log_format, "text") != 0 && strcmp (o->log_format, "json") != 0) {
                fprintf (stderr, "%s: bad value '%s' for --log-format (text or json)\n", argv[0],
                         o->log_format);
                usage (stderr, argv[0]);
                return -1;
        }
        /* A default above its ceiling would make the default unrequestable. */
        for (size_t i = 0; i < NFLAGS; i++) {
                const struct flag *f = &flags[i], *ceil = f->ceiling ? find (f->ceiling) : NULL;

                if (ceil == NULL || number (o, f) <= number (o, ceil))
                        continue;
                if (f->follows && ! given[i]) {
                        set_number (o, f, number (o, ceil));
                        continue;
                }
                fprintf (stderr, "%s: --%s %.15g is above its ceiling --%s %.15g\n", argv[0],
                         f->name, number (o, f), ceil->name, number (o, ceil));
                return -1;
        }
        return 0;
}

static struct ce_limits
limits_of (double timeout_s, long memory_mb, double cpus, long output_bytes, long pids)
{
        return (struct ce_limits){ .timeout_ms = (int64_t) llround (timeout_s * 1000),
                                   .memory_mb = memory_mb,
                                   .cpus = cpus,
                                   .output_bytes = output_bytes,
                                   .pids = pids };
}

void
options_policy (const struct options *o, struct exec_policy *pol)
{
        /* The compile stage's cpus and pids ceilings, and every output
         * bound, are the run's. */
        pol->defaults = limits_of (o->timeout_s, o->memory_mb, o->cpus, o->max_output, o->pids);
        pol->ceilings = limits_of (o->max_timeout_s, o->max_memory_mb, o->max_cpus,
                                   o->max_output_bytes, o->max_pids);
        pol->compile_defaults = limits_of (o->compile_timeout_s, o->compile_memory_mb,
                                           o->compile_cpus, o->max_output, o->compile_pids);
        pol->compile_ceilings = limits_of (o->max_compile_timeout_s, o->max_compile_memory_mb,
                                           o->max_cpus, o->max_output_bytes, o->max_pids);
}
