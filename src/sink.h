/*
 * sink.h - the events of one execution, for whoever delivers them.
 *
 * An execution (execution.c) reports what happens as it happens: a stage
 * starts, its program writes to stdout or stderr, the stage ends; the whole
 * result follows through struct exec_done.  A transport is a sink of these
 * events: the buffered response listens to none of them and answers from
 * the result alone; the NDJSON stream (stream_ndjson.c) turns each into a
 * line as it comes.
 *
 * Threads: stage_start and stage_end run on the execution's pool worker;
 * output runs on the supervisor thread with its lock held (supervisor.h),
 * so a sink must never block in it: it copies into a bounded buffer of its
 * own and returns.  The supervisor never waits for a slow client.
 */
#ifndef CE_SINK_H
#define CE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "runner.h"
#include "verdict.h"

enum exec_stage {
        EXEC_STAGE_COMPILE,
        EXEC_STAGE_RUN,
};

/* "compile" or "run". */
static inline const char *
exec_stage_name (enum exec_stage s)
{
        return s == EXEC_STAGE_COMPILE ? "compile" : "run";
}

struct exec_sink {
        void (*stage_start) (void *arg, enum exec_stage stage);
        /* stream 1 (stdout) or 2 (stderr); raw bytes, maybe invalid UTF-8 and
         * cut anywhere, never past the stage's output limit. */
        void (*output) (void *arg, int stream, const char *data, size_t len);
        /* The stage's result, as it will appear in the final result. */
        void (*stage_end) (void *arg, enum exec_stage stage, const struct runner_result *res);
        /* NULL: the run reads the request's stdin.  Otherwise stdin is live:
         * before the run starts (worker thread) the sink gets the write end
         * of a socket whose other end is the program's fd 0, and owns it
         * (closing it is the program's end of input). */
        void (*stdin_open) (void *arg, int fd);
        /* A submission's test case `index` has ended (after its run's
         * stage_end), or was skipped (run NULL).  NULL: not told. */
        void (*test_end) (void *arg, size_t index, const char *name, enum verdict v,
                          const struct runner_result *run);
        void *arg;
};

/* Live output that a transport holds for a slow client counts against two
 * bounds: its connection's (STREAM_MAX_PENDING) and this one, the server's
 * total over every connection, so that many slow clients together cannot
 * make the server hold more than SINK_MAX_PENDING_TOTAL of it.  Any thread. */
#define SINK_MAX_PENDING_TOTAL ((size_t) 64 * 1024 * 1024)

/* Take n bytes of the total for droppable output: false (nothing taken)
 * when that would pass SINK_MAX_PENDING_TOTAL. */
bool sink_budget_take (size_t n);

/* Take n bytes whatever the total (a stage, exit or last event, which is
 * never dropped; a few per execution). */
void sink_budget_add (size_t n);

/* Give back n bytes taken by either. */
void sink_budget_release (size_t n);

/* Bytes held now, for GET /ready. */
size_t sink_budget_used (void);

/* How much of buf[0..len) is whole UTF-8 sequences: an incomplete one at
 * the end (at most 3 bytes) may be completed by the next chunk.  For sinks
 * that send output in pieces. */
static inline size_t
sink_utf8_complete (const char *buf, size_t len)
{
        for (size_t back = 1; back <= 3 && back <= len; back++) {
                unsigned char c = (unsigned char) buf[len - back];
                size_t need;

                if ((c & 0xc0) == 0x80)
                        continue; /* a continuation byte: look further back */
                if (c < 0xc0)
                        return len; /* ASCII: complete */
                need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
                return back < need ? len - back : len;
        }
        return len;
}

/* The output of one stream cut into pieces at whole UTF-8 sequences: an
 * incomplete one at the end of a chunk is held back and rejoined with the
 * next. */
struct sink_utf8_joiner {
        char carry[4];
        size_t len;
};

typedef void (*sink_emit_fn) (void *arg, int i, const char *data, size_t len);

/* Feed data to j, emitting (arg, i, piece) each whole run of it, in pieces
 * of at most 16 KiB. */
static inline void
sink_utf8_feed (struct sink_utf8_joiner *j, const char *data, size_t len, sink_emit_fn emit,
                void *arg, int i)
{
        while (len > 0) {
                char buf[4 + 16384];
                size_t take = len < 16384 ? len : 16384, n, whole;

                memcpy (buf, j->carry, j->len);
                memcpy (buf + j->len, data, take);
                n = j->len + take;
                whole = sink_utf8_complete (buf, n);
                j->len = n - whole;
                memcpy (j->carry, buf + whole, j->len);
                emit (arg, i, buf, whole);
                data += take;
                len -= take;
        }
}

/* What is still held back, emitted as it is (the stage ended). */
static inline void
sink_utf8_flush (struct sink_utf8_joiner *j, sink_emit_fn emit, void *arg, int i)
{
        if (j->len)
                emit (arg, i, j->carry, j->len);
        j->len = 0;
}

#endif
