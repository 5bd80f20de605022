/* Unit tests for verdict.c: a test case's verdict from how its run ended
 * and, when it ended well, from the checker. */
#include <stdlib.h>

#include "test.h"
#include "verdict.h"

static struct runner_result
ran (enum runner_status status, int exit_code, int sig, const char *out)
{
        struct runner_result r = { .status = status, .exit_code = exit_code, .signal = sig };

        if (out)
                ce_buf_append (&r.out.stdout_buf, out, strlen (out));
        return r;
}

int
main (void)
{
        const struct checker lines = CHECKER_DEFAULT;
        struct runner_result r;

        r = ran (RUN_OK, 0, 0, "42\n");
        CHECK (verdict_of (&r, "42", 2, &lines) == VERDICT_ACCEPTED);
        CHECK (verdict_of (&r, "43\n", 3, &lines) == VERDICT_WRONG_ANSWER);
        CHECK (verdict_of (&r, NULL, 0, &lines) == VERDICT_NO_ANSWER);
        runner_result_clear (&r);

        /* How the run ended decides first: output is not compared. */
        r = ran (RUN_RUNTIME_ERROR, 1, 0, "42\n");
        CHECK (verdict_of (&r, "42\n", 3, &lines) == VERDICT_RUNTIME_ERROR);
        runner_result_clear (&r);
        r = ran (RUN_RUNTIME_ERROR, 139, 11, NULL);
        CHECK (verdict_of (&r, NULL, 0, &lines) == VERDICT_RUNTIME_ERROR);
        r = ran (RUN_TIMEOUT, 137, 9, NULL);
        CHECK (verdict_of (&r, "", 0, &lines) == VERDICT_TIMEOUT);
        r = ran (RUN_MEMORY_LIMIT, 137, 9, NULL);
        CHECK (verdict_of (&r, "", 0, &lines) == VERDICT_MEMORY_LIMIT);
        r = ran (RUN_OUTPUT_LIMIT, 0, 0, NULL);
        CHECK (verdict_of (&r, "", 0, &lines) == VERDICT_OUTPUT_LIMIT);
        /* An exit 0 with a signal recorded is not a clean end. */
        r = ran (RUN_OK, 0, 9, NULL);
        CHECK (verdict_of (&r, NULL, 0, &lines) == VERDICT_RUNTIME_ERROR);

        CHECK (! verdict_fails (VERDICT_ACCEPTED) && ! verdict_fails (VERDICT_NO_ANSWER)
               && ! verdict_fails (VERDICT_SKIPPED));
        CHECK (verdict_fails (VERDICT_WRONG_ANSWER) && verdict_fails (VERDICT_TIMEOUT)
               && verdict_fails (VERDICT_RUNTIME_ERROR));
        CHECK_STR (verdict_name (VERDICT_WRONG_ANSWER), "wrong_answer");
        CHECK_STR (verdict_name (VERDICT_COMPILE_ERROR), "compile_error");
        TEST_DONE ();
}
