/*
 * result.h - what an execution did: its stages' results and, for a
 * submission with test cases, each test's and the verdicts.
 *
 * Filled by the execution (execution.h) and its tests (judge.h), read by
 * the front-ends to answer.  Owned by whoever holds it; result_clear frees
 * what it holds.
 */
#ifndef CE_RESULT_H
#define CE_RESULT_H

#include "outfiles.h"
#include "runner.h"
#include "verdict.h"

/* One test case of a submission (req->ntests). */
struct exec_test {
        bool ran;     /* false: skipped (stop_on_failure, a failed compile) */
        bool clipped; /* its output was cut for the answer, after it was judged */
        enum verdict verdict;
        struct runner_result run; /* when it ran */
};

struct exec_result {
        bool compiled;                /* a compile stage ran: `compile` is filled */
        struct runner_result compile; /* its status: ok, compile_error or a limit */
        /* The run's, or after a failed compile a stand-in: no output, the
         * compiler's exit code and signal, no usage. */
        struct runner_result run;
        enum runner_status status; /* of the whole: the run's, or compile_error */
        /* With test cases: one per test, in order (`run` is then the
         * stand-in of a failed compile, else empty: the first test's is
         * result_first), the submission's verdict and how many
         * tests were accepted. */
        struct exec_test *tests;
        size_t ntests, passed;
        enum verdict verdict;
        /* The run's files the request asked back for (output_files):
         * files.requested is false when it asked none. */
        struct outfiles files;
};

/* The run a single-run answer describes: the first test's when tests ran,
 * else `run`. */
static inline const struct runner_result *
result_first (const struct exec_result *res)
{
        return res->ntests && res->tests[0].ran ? &res->tests[0].run : &res->run;
}

/* Free what res holds and zero it; memory goes back to the system after a
 * large one. */
void result_clear (struct exec_result *res);

#endif
