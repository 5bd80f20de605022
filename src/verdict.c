/*
 * verdict.c - a test's verdict and the submission's (see verdict.h).
 */
#include "verdict.h"

const char *
verdict_name (enum verdict v)
{
        switch (v) {
        case VERDICT_ACCEPTED: return "accepted";
        case VERDICT_WRONG_ANSWER: return "wrong_answer";
        case VERDICT_NO_ANSWER: return "no_answer";
        case VERDICT_TIMEOUT: return "timeout";
        case VERDICT_MEMORY_LIMIT: return "memory_limit";
        case VERDICT_OUTPUT_LIMIT: return "output_limit";
        case VERDICT_RUNTIME_ERROR: return "runtime_error";
        case VERDICT_SKIPPED: return "skipped";
        case VERDICT_COMPILE_ERROR: return "compile_error";
        }
        return "runtime_error";
}

enum verdict
verdict_of (const struct runner_result *run, const char *expected, size_t expected_len,
            const struct checker *checker)
{
        switch (run->status) {
        case RUN_OK: break;
        case RUN_TIMEOUT: return VERDICT_TIMEOUT;
        case RUN_MEMORY_LIMIT: return VERDICT_MEMORY_LIMIT;
        case RUN_OUTPUT_LIMIT: return VERDICT_OUTPUT_LIMIT;
        case RUN_CLIENT_GONE: return VERDICT_SKIPPED;
        case RUN_RUNTIME_ERROR:
        case RUN_COMPILE_ERROR: return VERDICT_RUNTIME_ERROR;
        }
        if (run->exit_code != 0 || run->signal != 0)
                return VERDICT_RUNTIME_ERROR;
        if (expected == NULL)
                return VERDICT_NO_ANSWER;
        return checker_equal (checker, expected, expected_len, run->out.stdout_buf.data,
                              run->out.stdout_buf.len)
                       ? VERDICT_ACCEPTED
                       : VERDICT_WRONG_ANSWER;
}

bool
verdict_fails (enum verdict v)
{
        return v != VERDICT_ACCEPTED && v != VERDICT_NO_ANSWER && v != VERDICT_SKIPPED;
}
