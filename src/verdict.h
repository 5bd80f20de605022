/*
 * verdict.h - what a test case's run means to a judge.
 *
 * A test's verdict follows from how its program ended (runner.h) and, when
 * the test gives an expected output and the program ended well, from the
 * request's checker (checker.h):
 *
 *   accepted       ran, exited 0, output matched
 *   wrong_answer   ran, exited 0, output did not match
 *   no_answer      ran, exited 0, nothing to compare with
 *   timeout, memory_limit, output_limit   a limit ended it
 *   runtime_error  a non-zero exit or a signal
 *   skipped        never ran (stop_on_failure, or the compile failed)
 *
 * and the whole submission's (execution.c): compile_error when the compile
 * failed, else accepted when every test that has an expected output is
 * accepted (a no_answer breaks nothing), else the first failing test's
 * verdict (verdict_fails).  Pure.
 */
#ifndef CE_VERDICT_H
#define CE_VERDICT_H

#include "checker.h"
#include "runner.h"

enum verdict {
        VERDICT_ACCEPTED,
        VERDICT_WRONG_ANSWER,
        VERDICT_NO_ANSWER,
        VERDICT_TIMEOUT,
        VERDICT_MEMORY_LIMIT,
        VERDICT_OUTPUT_LIMIT,
        VERDICT_RUNTIME_ERROR,
        VERDICT_SKIPPED,
        VERDICT_COMPILE_ERROR, /* the submission's only */
};

/* "accepted", "wrong_answer", ... */
const char *verdict_name (enum verdict v);

/* The verdict of one test whose program ended as run says; expected NULL:
 * the test gives none. */
enum verdict verdict_of (const struct runner_result *run, const char *expected, size_t expected_len,
                         const struct checker *checker);

/* Whether a test with this verdict fails the submission (stop_on_failure
 * stops after it). */
bool verdict_fails (enum verdict v);

#endif
