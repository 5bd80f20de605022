/* Unit tests for metrics.c (also run under ThreadSanitizer): only
 * configured languages and known statuses become labels, histograms are
 * cumulative with +Inf equal to _count, concurrent counting loses nothing,
 * and the text has the shape Prometheus' exposition format wants. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "metrics.h"
#include "test.h"

/* The sample of `series` (a whole "name{labels}" or bare name) in text, or -1. */
static double
sample (const char *text, const char *series)
{
        size_t n = strlen (series);

        for (const char *p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp (p, series, n) == 0 && p[n] == ' ')
                        return strtod (p + n + 1, NULL);
        return -1;
}

static char *
render (void)
{
        char *text = NULL;
        size_t len = 0;

        CHECK (metrics_render (&text, &len) == 0);
        CHECK (text && strlen (text) == len);
        return text;
}

#define THREADS 4
#define ROUNDS 10000

static void *
hammer (void *arg)
{
        (void) arg;
        for (int i = 0; i < ROUNDS; i++) {
                metrics_stage_done ("python3", METRICS_STAGE_RUN, 0, 3);
                metrics_job_event (METRICS_JOB_CLAIMED, 1);
                metrics_queue_wait (2000000);
        }
        return NULL;
}

int
main (void)
{
        static const char *const langs[] = { "c", "python3", "we\"ird\\" };
        static const char *const statuses[] = { "ok", "runtime_error", "timeout" };
        pthread_t t[THREADS];
        char *text;

        /* Before metrics_init nothing with a language counts, the rest does. */
        metrics_stage_done ("python3", METRICS_STAGE_RUN, 0, 10);
        metrics_job_event (METRICS_JOB_ACCEPTED, 2);
        CHECK (metrics_init (langs, 3, statuses, 3) == 0);
        CHECK (metrics_init (langs, 1, statuses, 1) == -EALREADY);

        ce_log_set_node ("node-1");
        metrics_stage_done ("python3", METRICS_STAGE_RUN, 0, 4);    /* 0.004 s */
        metrics_stage_done ("python3", METRICS_STAGE_RUN, 2, 1500); /* 1.5 s */
        metrics_stage_done ("c", METRICS_STAGE_COMPILE, 1, 700000); /* above every bucket */
        metrics_stage_done ("cobol", METRICS_STAGE_RUN, 0, 1);      /* not configured */
        metrics_stage_done ("python3", METRICS_STAGE_RUN, 3, 1);    /* no such status */
        metrics_stage_done ("python3", METRICS_STAGE_RUN, -1, 1);
        metrics_warm_take ("python3", true);
        metrics_warm_take ("python3", false);
        metrics_warm_take ("python3", false);
        metrics_cache_lookup ("c", true);
        metrics_request_done ("we\"ird\\", 20);
        metrics_count (METRICS_CONTAINER_START_FAILURES);
        metrics_gauge_set (METRICS_WORKERS, 8);
        metrics_job_event (METRICS_STORE_RECONNECTS, 3);
        metrics_job_event (METRICS_STORE_ERRORS, -5); /* never backwards */

        text = render ();
        CHECK (sample (text, "codeengine_info{version=\"" CE_VERSION "\",node=\"node-1\"}") == 1);
        CHECK (sample (text, "codeengine_executions_total{language=\"python3\",stage=\"run\","
                             "status=\"ok\"}")
               == 1);
        CHECK (sample (text, "codeengine_executions_total{language=\"python3\",stage=\"run\","
                             "status=\"timeout\"}")
               == 1);
        CHECK (sample (text, "codeengine_executions_total{language=\"c\",stage=\"compile\","
                             "status=\"runtime_error\"}")
               == 1);
        CHECK (strstr (text, "cobol") == NULL);
        /* Cumulative buckets; +Inf is the count. */
        CHECK (sample (text, "codeengine_stage_duration_seconds_bucket{language=\"python3\","
                             "stage=\"run\",le=\"0.005\"}")
               == 1);
        CHECK (sample (text, "codeengine_stage_duration_seconds_bucket{language=\"python3\","
                             "stage=\"run\",le=\"1\"}")
               == 1);
        CHECK (sample (text, "codeengine_stage_duration_seconds_bucket{language=\"python3\","
                             "stage=\"run\",le=\"2.5\"}")
               == 2);
        CHECK (sample (text, "codeengine_stage_duration_seconds_bucket{language=\"python3\","
                             "stage=\"run\",le=\"+Inf\"}")
               == 2);
        CHECK (sample (text, "codeengine_stage_duration_seconds_count{language=\"python3\","
                             "stage=\"run\"}")
               == 2);
        CHECK (sample (text, "codeengine_stage_duration_seconds_sum{language=\"python3\","
                             "stage=\"run\"}")
               == 1.504);
        CHECK (sample (text, "codeengine_stage_duration_seconds_bucket{language=\"c\","
                             "stage=\"compile\",le=\"300\"}")
               == 0);
        CHECK (sample (text, "codeengine_stage_duration_seconds_bucket{language=\"c\","
                             "stage=\"compile\",le=\"+Inf\"}")
               == 1);
        /* A language with nothing counted has no series. */
        CHECK (strstr (text, "stage_duration_seconds_count{language=\"c\",stage=\"run\"}") == NULL);
        /* Label values are escaped. */
        CHECK (sample (text,
                       "codeengine_request_duration_seconds_count{language=\"we\\\"ird\\\\\"}")
               == 1);
        CHECK (sample (text, "codeengine_warm_pool_hits_total{language=\"python3\"}") == 1);
        CHECK (sample (text, "codeengine_warm_pool_misses_total{language=\"python3\"}") == 2);
        CHECK (sample (text, "codeengine_compile_cache_hits_total{language=\"c\"}") == 1);
        CHECK (sample (text, "codeengine_container_start_failures_total") == 1);
        CHECK (sample (text, "codeengine_workers") == 8);
        CHECK (sample (text, "codeengine_jobs_accepted_total") == 2);
        CHECK (sample (text, "codeengine_job_store_reconnects_total") == 3);
        CHECK (sample (text, "codeengine_job_store_errors_total") == 0);
        CHECK (sample (text, "codeengine_queue_wait_seconds_count") == 0);
        CHECK (sample (text, "process_resident_memory_bytes") > 0);
        CHECK (sample (text, "process_open_fds") >= 3);
        CHECK (sample (text, "codeengine_process_threads") == 1);
        CHECK (strstr (text, "# TYPE codeengine_executions_total counter\n") != NULL);
        CHECK (strstr (text, "# TYPE codeengine_queue_wait_seconds histogram\n") != NULL);
        CHECK (text[strlen (text) - 1] == '\n');
        free (text);

        for (int i = 0; i < THREADS; i++)
                CHECK (pthread_create (&t[i], NULL, hammer, NULL) == 0);
        for (int i = 0; i < THREADS; i++)
                pthread_join (t[i], NULL);
        text = render ();
        CHECK (sample (text, "codeengine_executions_total{language=\"python3\",stage=\"run\","
                             "status=\"ok\"}")
               == 1 + THREADS * ROUNDS);
        CHECK (sample (text, "codeengine_jobs_claimed_total") == THREADS * ROUNDS);
        CHECK (sample (text, "codeengine_queue_wait_seconds_bucket{le=\"0.0025\"}") == -1);
        CHECK (sample (text, "codeengine_queue_wait_seconds_bucket{le=\"0.005\"}")
               == THREADS * ROUNDS);
        CHECK (sample (text, "codeengine_queue_wait_seconds_sum")
               > THREADS * ROUNDS * 0.002 - 1e-3);
        CHECK (sample (text, "codeengine_queue_wait_seconds_sum")
               < THREADS * ROUNDS * 0.002 + 1e-3);
        free (text);
        TEST_DONE ();
}
