/*
 * metrics.c - counters, gauges and histograms in atomics, rendered as
 * Prometheus' text exposition format (GET /metrics).
 *
 * Everything is a fixed array of atomics, so that counting never takes a
 * lock and never allocates: the unlabelled metrics are static, the ones
 * with a language label live in one table made by metrics_init (a row per
 * configured language) and published once through an atomic pointer; it
 * lives for the process.  A histogram is a bucket array of non-cumulative
 * counts plus a sum; rendering adds the buckets up, so that what a scrape
 * sees is cumulative and consistent even while others count.  The text is
 * written with snprintf: it is Prometheus' line format, not JSON.
 */
#include "metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>

#include "common.h"

/* Upper bounds of the duration buckets, in microseconds: 5 ms to 5 min. */
static const uint64_t bucket_us[] = { 5000,     10000,    25000,    50000,    100000,
                                      250000,   500000,   1000000,  2500000,  5000000,
                                      10000000, 30000000, 60000000, 300000000 };
#define NBUCKETS (sizeof (bucket_us) / sizeof (bucket_us[0]))

struct histogram {
        atomic_uint_fast64_t bucket[NBUCKETS + 1]; /* the last: above every bound (+Inf) */
        atomic_uint_fast64_t sum_us;
};

/* Everything that carries a language label, per language. */
struct lang_metrics {
        atomic_uint_fast64_t executions[METRICS_NSTAGES][METRICS_MAX_STATUSES];
        struct histogram stage[METRICS_NSTAGES];
        struct histogram request;
        atomic_uint_fast64_t failed, warm_hits, warm_misses, cache_hits, cache_misses;
};

struct table {
        size_t nlangs, nstatuses;
        char **langs; /* the label values, copied */
        char *statuses[METRICS_MAX_STATUSES];
        struct lang_metrics *m; /* nlangs rows */
};

static _Atomic (struct table *) table;
static atomic_uint_fast64_t job_events[METRICS_JOB_NEVENTS];
static atomic_uint_fast64_t counters[METRICS_NCOUNTERS];
static atomic_int_fast64_t gauges[METRICS_NGAUGES];
static struct histogram queue_wait;

static const char *const stage_names[METRICS_NSTAGES] = { "compile", "run" };

static void
table_free (struct table *t)
{
        for (size_t i = 0; i < t->nlangs; i++)
                free (t->langs[i]);
        for (size_t i = 0; i < t->nstatuses; i++)
                free (t->statuses[i]);
        free (t->langs);
        free (t->m);
        free (t);
}

int
metrics_init (const char *const *languages, size_t nlanguages, const char *const *statuses,
              size_t nstatuses)
{
        struct table *t, *none = NULL;

        if (nstatuses > METRICS_MAX_STATUSES)
                return -EINVAL;
        if (atomic_load_explicit (&table, memory_order_acquire) != NULL)
                return -EALREADY;
        /* calloc's zeros are zero-valued atomics (lock-free integers). */
        t = calloc (1, sizeof (*t));
        if (t == NULL)
                return -ENOMEM;
        t->langs = calloc (nlanguages ? nlanguages : 1, sizeof (*t->langs));
        t->m = calloc (nlanguages ? nlanguages : 1, sizeof (*t->m));
        if (t->langs == NULL || t->m == NULL) {
                table_free (t);
                return -ENOMEM;
        }
        for (; t->nlangs < nlanguages; t->nlangs++)
                if ((t->langs[t->nlangs] = strdup (languages[t->nlangs])) == NULL) {
                        table_free (t);
                        return -ENOMEM;
                }
        for (; t->nstatuses < nstatuses; t->nstatuses++)
                if ((t->statuses[t->nstatuses] = strdup (statuses[t->nstatuses])) == NULL) {
                        table_free (t);
                        return -ENOMEM;
                }
        if (atomic_compare_exchange_strong_explicit (&table, &none, t, memory_order_release,
                                                     memory_order_relaxed))
                return 0; /* for the process's life */
        table_free (t);   /* another thread was first: its table stays */
        return -EALREADY;
}

/* The row of a configured language, or NULL (not configured, or no table
 * yet): nothing else ever becomes a label. */
static struct lang_metrics *
lang_of (const char *language, const struct table **out)
{
        const struct table *t = atomic_load_explicit (&table, memory_order_acquire);

        if (t == NULL || language == NULL)
                return NULL;
        for (size_t i = 0; i < t->nlangs; i++)
                if (strcmp (t->langs[i], language) == 0) {
                        if (out)
                                *out = t;
                        return &t->m[i];
                }
        return NULL;
}

static void
add (atomic_uint_fast64_t *c, uint64_t n)
{
        atomic_fetch_add_explicit (c, n, memory_order_relaxed);
}

static uint64_t
get (atomic_uint_fast64_t *c)
{
        return atomic_load_explicit (c, memory_order_relaxed);
}

static void
observe (struct histogram *h, int64_t us)
{
        size_t i = 0;

        if (us < 0)
                us = 0;
        while (i < NBUCKETS && (uint64_t) us > bucket_us[i])
                i++;
        add (&h->bucket[i], 1);
        add (&h->sum_us, (uint64_t) us);
}

void
metrics_job_event (enum metrics_job_event e, int64_t n)
{
        if ((unsigned) e < METRICS_JOB_NEVENTS && n > 0)
                add (&job_events[e], (uint64_t) n);
}

void
metrics_stage_done (const char *language, enum metrics_stage stage, int status, int64_t wall_ms)
{
        const struct table *t = NULL;
        struct lang_metrics *m = lang_of (language, &t);

        if (m == NULL || (unsigned) stage >= METRICS_NSTAGES || status < 0
            || (size_t) status >= t->nstatuses)
                return;
        add (&m->executions[stage][status], 1);
        observe (&m->stage[stage], wall_ms * 1000);
}

void
metrics_execution_failed (const char *language)
{
        struct lang_metrics *m = lang_of (language, NULL);

        if (m)
                add (&m->failed, 1);
}

void
metrics_request_done (const char *language, int64_t ms)
{
        struct lang_metrics *m = lang_of (language, NULL);

        if (m)
                observe (&m->request, ms * 1000);
}

void
metrics_queue_wait (int64_t ns)
{
        observe (&queue_wait, ns / 1000);
}

void
metrics_warm_take (const char *language, bool hit)
{
        struct lang_metrics *m = lang_of (language, NULL);

        if (m)
                add (hit ? &m->warm_hits : &m->warm_misses, 1);
}

void
metrics_cache_lookup (const char *language, bool hit)
{
        struct lang_metrics *m = lang_of (language, NULL);

        if (m)
                add (hit ? &m->cache_hits : &m->cache_misses, 1);
}

void
metrics_count (enum metrics_counter c)
{
        if ((unsigned) c < METRICS_NCOUNTERS)
                add (&counters[c], 1);
}

void
metrics_gauge_set (enum metrics_gauge g, int64_t v)
{
        if ((unsigned) g < METRICS_NGAUGES)
                atomic_store_explicit (&gauges[g], v, memory_order_relaxed);
}

/* --- rendering --------------------------------------------------------- */

struct out {
        struct ce_buf b;
        bool failed;
};

static void __attribute__ ((format (printf, 2, 3))) put (struct out *o, const char *fmt, ...)
{
        char line[512];
        va_list ap;
        int n;

        va_start (ap, fmt);
        n = vsnprintf (line, sizeof (line), fmt, ap);
        va_end (ap);
        if (n < 0 || (size_t) n >= sizeof (line) || ce_buf_append (&o->b, line, (size_t) n) < 0)
                o->failed = true;
}

/* A label value as the format wants it: \ " and newline escaped.  Ours are
 * language names and the node id; anything else unprintable becomes '?'. */
static void
label_value (const char *v, char *buf, size_t size)
{
        size_t n = 0;

        for (; *v && n + 3 < size; v++) {
                unsigned char c = (unsigned char) *v;

                if (c == '\\' || c == '"') {
                        buf[n++] = '\\';
                        buf[n++] = (char) c;
                } else if (c == '\n') {
                        buf[n++] = '\\';
                        buf[n++] = 'n';
                } else {
                        buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char) c;
                }
        }
        buf[n] = '\0';
}

static void
family (struct out *o, const char *name, const char *type, const char *help)
{
        put (o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels,le="..."} for each bucket, then _sum and _count.  labels:
 * "" or `language="x",stage="y"`. */
static void
histogram_lines (struct out *o, const char *name, const char *labels, struct histogram *h)
{
        const char *sep = labels[0] ? "," : "";
        uint64_t cum = 0;

        for (size_t i = 0; i <= NBUCKETS; i++) {
                cum += get (&h->bucket[i]);
                if (i < NBUCKETS)
                        put (o, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep,
                             (double) bucket_us[i] / 1e6, cum);
                else
                        put (o, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, cum);
        }
        put (o, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
             (double) get (&h->sum_us) / 1e6);
        put (o, "%s_count%s%s%s %" PRIu64 "\n", name, labels[0] ? "{" : "", labels,
             labels[0] ? "}" : "", cum);
}

static uint64_t
histogram_count (struct histogram *h)
{
        uint64_t n = 0;

        for (size_t i = 0; i <= NBUCKETS; i++)
                n += get (&h->bucket[i]);
        return n;
}

/* The system's boot time (/proc/stat's btime, seconds since the epoch), or
 * -1.  The file's interrupt line may be long: read it line by line. */
static long long
read_boot_time (void)
{
        cleanup_fclose FILE *f = fopen ("/proc/stat", "re");
        cleanup_free char *line = NULL;
        size_t cap = 0;
        long long t = -1;

        while (f && getline (&line, &cap, f) > 0)
                if (sscanf (line, "btime %lld", &t) == 1)
                        break;
        return t;
}

/* The process's own, from /proc/self: what the Prometheus client libraries
 * call process_*, and the thread count. */
static void
process_lines (struct out *o)
{
        char st[1024];
        const char *p;
        long ticks = sysconf (_SC_CLK_TCK), page = sysconf (_SC_PAGESIZE);
        unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
        long long threads = 0, rss = 0;
        struct rlimit rl;
        DIR *d;
        long fds = 0;
        long long boot_time = read_boot_time ();

        if (ce_read_text_at (AT_FDCWD, "/proc/self/stat", st, sizeof (st)) == 0
            && (p = strrchr (st, ')')) != NULL
            /* after the name: state ppid pgrp session tty tpgid flags minflt
             * cminflt majflt cmajflt utime stime cutime cstime priority nice
             * num_threads itrealvalue starttime vsize rss (proc(5)) */
            && sscanf (p + 2,
                       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                       "%lld %*d %llu %llu %lld",
                       &utime, &stime, &threads, &start, &vsize, &rss)
                       == 6
            && ticks > 0) {
                family (o, "process_cpu_seconds_total", "counter",
                        "User and system CPU time spent in seconds.");
                put (o, "process_cpu_seconds_total %.2f\n", (double) (utime + stime) / ticks);
                family (o, "process_resident_memory_bytes", "gauge",
                        "Resident memory size in bytes.");
                put (o, "process_resident_memory_bytes %lld\n", rss * page);
                family (o, "process_virtual_memory_bytes", "gauge",
                        "Virtual memory size in bytes.");
                put (o, "process_virtual_memory_bytes %llu\n", vsize);
                family (o, "codeengine_process_threads", "gauge", "Threads of the server process.");
                put (o, "codeengine_process_threads %lld\n", threads);
                if (boot_time >= 0) {
                        family (o, "process_start_time_seconds", "gauge",
                                "Start time of the process since unix epoch in seconds.");
                        put (o, "process_start_time_seconds %.2f\n",
                             (double) boot_time + (double) start / ticks);
                }
        }
        d = opendir ("/proc/self/fd");
        if (d) {
                struct dirent *de;

                while ((de = readdir (d)) != NULL)
                        if (de->d_name[0] != '.')
                                fds++;
                closedir (d);
                family (o, "process_open_fds", "gauge", "Number of open file descriptors.");
                put (o, "process_open_fds %ld\n", fds - 1); /* not the directory's own */
        }
        if (getrlimit (RLIMIT_NOFILE, &rl) == 0) {
                family (o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
                put (o, "process_max_fds %llu\n", (unsigned long long) rl.rlim_cur);
        }
}

static void
counter_line (struct out *o, const char *name, const char *help, uint64_t v)
{
        family (o, name, "counter", help);
        put (o, "%s %" PRIu64 "\n", name, v);
}

/* A counter with one series per language that counted: the label set only
 * holds configured languages, and only those seen (a series appears on
 * its first count). */
static void
lang_counter (struct out *o, const struct table *t, const char *name, const char *help,
              size_t offset)
{
        family (o, name, "counter", help);
        for (size_t i = 0; t && i < t->nlangs; i++) {
                uint64_t v = get ((atomic_uint_fast64_t *) ((char *) &t->m[i] + offset));
                char lang[128];

                if (v == 0)
                        continue;
                label_value (t->langs[i], lang, sizeof (lang));
                put (o, "%s{language=\"%s\"} %" PRIu64 "\n", name, lang, v);
        }
}

int
metrics_render (char **out, size_t *len)
{
        static const char *const job_names[METRICS_JOB_NEVENTS] = {
                [METRICS_JOB_ACCEPTED] = "codeengine_jobs_accepted_total",
                [METRICS_JOB_CLAIMED] = "codeengine_jobs_claimed_total",
                [METRICS_JOB_RECLAIMED] = "codeengine_jobs_reclaimed_total",
                [METRICS_JOB_RETRIED] = "codeengine_jobs_retried_total",
                [METRICS_JOB_FAILED] = "codeengine_jobs_failed_total",
                [METRICS_JOB_EXPIRED] = "codeengine_jobs_expired_total",
                [METRICS_STORE_ERRORS] = "codeengine_job_store_errors_total",
                [METRICS_STORE_RECONNECTS] = "codeengine_job_store_reconnects_total",
        };
        static const char *const job_help[METRICS_JOB_NEVENTS] = {
                [METRICS_JOB_ACCEPTED] = "Asynchronous jobs stored (an idempotent repeat is not).",
                [METRICS_JOB_CLAIMED] = "Jobs this node took to run.",
                [METRICS_JOB_RECLAIMED] = "Jobs taken over from a node that stopped renewing "
                                          "its lease.",
                [METRICS_JOB_RETRIED] = "Jobs started again (attempts > 1).",
                [METRICS_JOB_FAILED] = "Jobs given up after --job-attempts starts.",
                [METRICS_JOB_EXPIRED] = "Done jobs whose results were deleted after "
                                        "--result-ttl.",
                [METRICS_STORE_ERRORS] = "Job store calls that failed.",
                [METRICS_STORE_RECONNECTS] = "Connections to the job store made again after "
                                             "an error.",
        };
        static const struct {
                const char *name, *help;
        } gauge_info[METRICS_NGAUGES] = {
                [METRICS_IN_FLIGHT] = { "codeengine_executions_in_flight",
                                        "Jobs running on a worker now." },
                [METRICS_QUEUED] = { "codeengine_executions_queued",
                                     "Jobs waiting for a worker now." },
                [METRICS_WORKERS] = { "codeengine_workers",
                                      "Workers: executions that may run at once "
                                      "(--max-concurrent)." },
                [METRICS_QUEUE_CAPACITY] = { "codeengine_queue_capacity",
                                             "Jobs that may wait for a worker (--queue)." },
                [METRICS_WARM_IDLE] = { "codeengine_warm_pool_idle_slots",
                                        "Warm slots waiting for a request." },
                [METRICS_WARM_MAKING] = { "codeengine_warm_pool_making_slots",
                                          "Warm slots being made." },
        };
        const struct table *t = atomic_load_explicit (&table, memory_order_acquire);
        struct out o = { 0 };
        char node[300];

        label_value (ce_log_node (), node, sizeof (node));
        family (&o, "codeengine_info", "gauge", "The server's version and node id; always 1.");
        put (&o, "codeengine_info{version=\"%s\",node=\"%s\"} 1\n", CE_VERSION, node);

        /* Executions: a series per language, stage and status seen. */
        family (&o, "codeengine_executions_total", "counter",
                "Stages (compile, run) that ran in a container, by language, stage and status.");
        for (size_t i = 0; t && i < t->nlangs; i++) {
                char lang[128];

                label_value (t->langs[i], lang, sizeof (lang));
                for (size_t s = 0; s < METRICS_NSTAGES; s++)
                        for (size_t st = 0; st < t->nstatuses; st++) {
                                uint64_t v = get (&t->m[i].executions[s][st]);

                                if (v)
                                        put (&o,
                                             "codeengine_executions_total{language=\"%s\","
                                             "stage=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                                             lang, stage_names[s], t->statuses[st], v);
                        }
        }
        lang_counter (&o, t, "codeengine_execution_failures_total",
                      "Executions the server could not run (internal errors), by language.",
                      offsetof (struct lang_metrics, failed));

        family (&o, "codeengine_stage_duration_seconds", "histogram",
                "Wall-clock time of a stage's program, by language and stage.");
        for (size_t i = 0; t && i < t->nlangs; i++) {
                char lang[128], labels[200];

                label_value (t->langs[i], lang, sizeof (lang));
                for (size_t s = 0; s < METRICS_NSTAGES; s++) {
                        if (histogram_count (&t->m[i].stage[s]) == 0)
                                continue;
                        snprintf (labels, sizeof (labels), "language=\"%s\",stage=\"%s\"", lang,
                                  stage_names[s]);
                        histogram_lines (&o, "codeengine_stage_duration_seconds", labels,
                                         &t->m[i].stage[s]);
                }
        }
        family (&o, "codeengine_request_duration_seconds", "histogram",
                "Time from an execution request's arrival to its answer, by language.");
        for (size_t i = 0; t && i < t->nlangs; i++) {
                char lang[128], labels[160];

                if (histogram_count (&t->m[i].request) == 0)
                        continue;
                label_value (t->langs[i], lang, sizeof (lang));
                snprintf (labels, sizeof (labels), "language=\"%s\"", lang);
                histogram_lines (&o, "codeengine_request_duration_seconds", labels,
                                 &t->m[i].request);
        }
        family (&o, "codeengine_queue_wait_seconds", "histogram",
                "Time a job waited in the queue for a worker.");
        histogram_lines (&o, "codeengine_queue_wait_seconds", "", &queue_wait);

        for (size_t g = 0; g < METRICS_NGAUGES; g++) {
                family (&o, gauge_info[g].name, "gauge", gauge_info[g].help);
                put (&o, "%s %" PRIdFAST64 "\n", gauge_info[g].name,
                     atomic_load_explicit (&gauges[g], memory_order_relaxed));
        }
        lang_counter (&o, t, "codeengine_warm_pool_hits_total",
                      "Executions that got a warm slot, by language.",
                      offsetof (struct lang_metrics, warm_hits));
        lang_counter (&o, t, "codeengine_warm_pool_misses_total",
                      "Executions that found no warm slot and made their containers, by "
                      "language.",
                      offsetof (struct lang_metrics, warm_misses));
        lang_counter (&o, t, "codeengine_compile_cache_hits_total",
                      "Compiles the compile cache answered, by language.",
                      offsetof (struct lang_metrics, cache_hits));
        lang_counter (&o, t, "codeengine_compile_cache_misses_total",
                      "Compiles the compile cache did not know, by language.",
                      offsetof (struct lang_metrics, cache_misses));
        counter_line (&o, "codeengine_container_start_failures_total",
                      "Containers the runtime could not create.",
                      get (&counters[METRICS_CONTAINER_START_FAILURES]));
        for (size_t e = 0; e < METRICS_JOB_NEVENTS; e++)
                counter_line (&o, job_names[e], job_help[e], get (&job_events[e]));
        process_lines (&o);
        if (o.failed || o.b.data == NULL) {
                ce_buf_free (&o.b);
                return -ENOMEM;
        }
        *out = o.b.data;
        *len = o.b.len;
        return 0;
}
