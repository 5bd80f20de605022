/*
 * judge.h - a submission's test cases: each run in a fresh container of its
 * own, several at once on pool workers, judged as it ends, answered in order.
 *
 * The execution's worker runs test 0 in its slot's run container and
 * claims the next tests one by one; meanwhile up to workers - 1
 * helper jobs in the pool claim tests too, one per turn: a helper runs one
 * test, then goes to the back of the pool's queue, so that a big
 * submission takes workers only as they come free and a single request
 * queued behind it waits for one test, not for the whole submission.  A
 * helper that never gets a worker costs nothing: the execution's own worker
 * runs whatever nobody claimed, so a full queue, a pool shutting down or a
 * pool of one worker only make the tests run one after another, as they
 * do with stop_on_failure (no test after the first failure may have run).
 *
 * Live output is not streamed for tests (several run at once): the sink
 * hears each test's end (test_end, from any of the threads, one at a time)
 * and the rest in the final result.
 */
#ifndef CE_JUDGE_H
#define CE_JUDGE_H

#include "exec_env.h"
#include "plan.h"
#include "result.h"
#include "sink.h"
#include "slot.h"

/* Run every test of req, the first in s (its build ready), the others each
 * in a test slot of env's warm pool (its /build a copy of s's) or a
 * container made in s, on the execution's worker and on helpers in env's
 * pool (NULL: none; test_workers in all, the caller's included), judged
 * against their expected output; res->tests, passed, verdict and status
 * filled.  After a failing test with stop_on_failure, or a client gone,
 * the tests not yet started are skipped.  Returns once every test has
 * ended.  <0: a test could not be run (err says which), the others ended
 * anyway. */
int judge_run (const struct exec_env *env, struct exec_slot *s, const struct exec_plan *plan,
               const struct ce_request *req, int client_fd, const struct exec_sink *sink,
               struct exec_result *res, struct ce_error *err);

/* After a failed compile: every test skipped, told to the sink (no-op
 * without tests). */
int judge_skip (const struct ce_request *req, const struct exec_sink *sink, struct exec_result *res,
                struct ce_error *err);

#endif
