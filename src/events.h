/*
 * events.h - an execution's live events, encoded once for every transport.
 *
 * A live transport (the NDJSON stream, the WebSocket) is a sink of an
 * execution's events (sink.h).  What is the same whatever the transport
 * and the API lives here: the stage being run, output cut at whole UTF-8
 * characters and made valid, output a slow client could not take counted
 * per stream and reported before the next event, and one JSON text per
 * event.  What differs is how an API spells its events (a dialect, which
 * its front-end provides: api_native.c, api_piston.c) and how a transport
 * queues and frames them (its events_out).
 *
 * Not thread-safe: the transport's own lock guards a struct events, and is
 * held around every call (the supervisor thread calls the output with its
 * lock held: nothing here blocks).
 */
#ifndef CE_EVENTS_H
#define CE_EVENTS_H

#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "runner.h"
#include "sink.h"

/* How one API spells its events: each fills g with one JSON object.
 * ctx is the one given to events_init (a call's own state, or NULL).
 * stream is 0 (stdout) or 1 (stderr); text is valid UTF-8. */
struct events_dialect {
        yajl_gen_status (*stage) (yajl_gen g, void *ctx, enum exec_stage stage);
        yajl_gen_status (*output) (yajl_gen g, void *ctx, enum exec_stage stage, int stream,
                                   const char *text, size_t len);
        yajl_gen_status (*skipped) (yajl_gen g, void *ctx, enum exec_stage stage, int stream,
                                    uint64_t bytes);
        yajl_gen_status (*exit) (yajl_gen g, void *ctx, enum exec_stage stage,
                                 const struct runner_result *res);
        /* A test case's end (run NULL: skipped); NULL for an API without
         * test cases. */
        yajl_gen_status (*test) (yajl_gen g, void *ctx, size_t index, const char *name,
                                 enum verdict v, const struct runner_result *run);
};

/* For dialects: "stdout" (0) or "stderr" (1); and the stage event as both
 * APIs spell it, {"type":"stage","stage":"compile"|"run"}. */
const char *events_stream_name (int stream);
yajl_gen_status events_gen_stage (yajl_gen g, void *ctx, enum exec_stage stage);

/* Where the encoded events go: the transport's queue. */
struct events_out {
        /* Queue one event's JSON text (without a newline).  droppable: live
         * output, which the transport may refuse (its bounds): false then,
         * and the bytes are counted as skipped.  Other events are kept. */
        bool (*push) (void *arg, const unsigned char *text, size_t len, bool droppable);
        /* Whether live output would be refused now: it is then counted as
         * skipped without being encoded. */
        bool (*full) (void *arg);
        void *arg;
};

struct events {
        const struct events_dialect *dialect;
        void *dialect_ctx;
        struct events_out out;
        enum exec_stage stage;
        /* per stream (stdout, stderr): an incomplete UTF-8 sequence held
         * back for the next chunk, and bytes not delivered yet to report */
        struct sink_utf8_joiner joiner[2];
        uint64_t skipped[2];
};

void events_init (struct events *e, const struct events_dialect *dialect, void *dialect_ctx,
                  const struct events_out *out);

/* The sink's events (sink.h); stream is the sink's: 1 stdout, 2 stderr. */
void events_stage_start (struct events *e, enum exec_stage stage);
void events_output (struct events *e, int stream, const char *data, size_t len);
/* What a cut character left is output too (U+FFFD), then skipped, then exit. */
void events_stage_end (struct events *e, enum exec_stage stage, const struct runner_result *res);

/* A test case ended (sink.h's test_end): its event, always kept. */
void events_test_end (struct events *e, size_t index, const char *name, enum verdict v,
                      const struct runner_result *run);

/* Before a transport's last message: report what was skipped and not said. */
void events_flush_skipped (struct events *e);

#endif
