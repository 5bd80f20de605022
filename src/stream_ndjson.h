/*
 * stream_ndjson.h - live output as NDJSON: one JSON event per line, sent
 * with chunked encoding while the program runs.
 *
 *   {"type":"stage","stage":"compile"|"run"}
 *   {"type":"stdout"|"stderr","stage":...,"data":"..."}      as written
 *   {"type":"skipped","stage":...,"stream":"stdout","bytes":N} live chunks a
 *                                                              slow reader missed
 *   {"type":"exit","stage":...,"status":...,"exit_code":N,"signal":...}
 *   {"type":"result","result":{...}}    last: exactly the buffered response body
 *   {"type":"error","http_status":N,"error":{...}}   last, instead, when the
 *                                        execution could not run to a result
 *
 * A stream is a sink of an execution's events (sink.h) and the body of one
 * libmicrohttpd response.  Producers (the supervisor thread for output, the
 * worker for the rest) append ready lines to a buffer under the stream's
 * own mutex and never wait: past STREAM_MAX_PENDING unsent bytes, output
 * chunks are dropped and counted (a "skipped" line says how many bytes)
 * while stage, exit and the last line are always kept, and the final
 * result still holds all of the output.  libmicrohttpd's thread reads the
 * buffer; when it is empty the reader suspends the connection, and the next
 * line resumes it.  (STYLE.md says to suspend only in the access handler;
 * libmicrohttpd also documents suspending from the content reader, which is
 * the only way to wait for data without spinning.)
 *
 * The same stream carries MCP's server-sent events (api_mcp.c): only the
 * framing differs (stream_framing: "data: " before each event and a blank
 * line after, text/event-stream), so both are this one transport rather
 * than two copies of its buffering, bounds and suspend/resume.
 *
 * Lock order: the supervisor's lock, then a stream's, then libmicrohttpd's
 * own (suspend and resume take it); libmicrohttpd holds the response's
 * mutex, never the connection lock, while it calls the reader.
 */
#ifndef CE_STREAM_NDJSON_H
#define CE_STREAM_NDJSON_H

#include <microhttpd.h>
#include <yajl/yajl_gen.h>

#include "events.h"
#include "sink.h"

/* Unsent bytes a stream holds before it drops live output. */
#define STREAM_MAX_PENDING (1024 * 1024)

struct ndjson_stream;

/* How each event is framed, and the response's Content-Type. */
struct stream_framing {
        const char *content_type;
        const char *before, *after;
};
extern const struct stream_framing stream_ndjson_lines; /* application/x-ndjson */
extern const struct stream_framing stream_sse_messages; /* text/event-stream */

/* A stream answering conn (HTTP thread), its events spelled in dialect
 * (the front-end's: events.h, given dialect_ctx) and framed as framing
 * says.  One reference: the caller's.  NULL on ENOMEM. */
struct ndjson_stream *ndjson_stream_new (struct MHD_Connection *conn,
                                         const struct events_dialect *dialect, void *dialect_ctx,
                                         const struct stream_framing *framing);

/* The execution's sink: valid while the caller holds its reference. */
const struct exec_sink *ndjson_stream_sink (struct ndjson_stream *s);

/* A 200 response whose body is the stream (HTTP thread, once); it holds a
 * reference of its own, dropped when libmicrohttpd destroys it.  NULL on
 * ENOMEM. */
struct MHD_Response *ndjson_stream_response (struct ndjson_stream *s);

/* The last line, {"type": type, key: <what fill writes>[, extra]}, then the
 * end of the body.  Any thread, once; the sink is not called after it. */
typedef yajl_gen_status (*ndjson_fill) (yajl_gen g, const void *arg);
void ndjson_stream_end (struct ndjson_stream *s, const char *type, const char *key,
                        ndjson_fill fill, const void *arg, int http_status);

/* The last event is exactly what fill writes (a whole JSON value), then
 * the end of the body.  As ndjson_stream_end otherwise. */
void ndjson_stream_end_with (struct ndjson_stream *s, ndjson_fill fill, const void *arg);

void ndjson_stream_unref (struct ndjson_stream *s);

#endif
