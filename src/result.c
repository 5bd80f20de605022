/*
 * result.c - freeing what an execution did (result.h).
 */
#include "result.h"

#include <stdlib.h>
#include <string.h>

/* A result whose output took more than this gives memory back when freed. */
#define TRIM_AFTER_BYTES (1024 * 1024)

/* Bytes a result's output buffers hold. */
static size_t
result_bytes (const struct runner_result *r)
{
        return r->out.combined.cap + r->out.stdout_buf.cap + r->out.stderr_buf.cap;
}

void
result_clear (struct exec_result *res)
{
        bool big = result_bytes (&res->compile) + result_bytes (&res->run) > TRIM_AFTER_BYTES;

        for (size_t i = 0; i < res->ntests; i++) {
                big = big || result_bytes (&res->tests[i].run) > TRIM_AFTER_BYTES;
                runner_result_clear (&res->tests[i].run);
        }
        free (res->tests);
        for (size_t i = 0; i < res->files.nfiles; i++)
                big = big || res->files.files[i].len > TRIM_AFTER_BYTES;
        outfiles_clear (&res->files);
        runner_result_clear (&res->compile);
        runner_result_clear (&res->run);
        memset (res, 0, sizeof (*res));
        if (big)
                ce_memory_trim ();
}
