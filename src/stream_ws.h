/*
 * stream_ws.h - Piston's WebSocket protocol, GET /api/v2/connect.
 *
 * libmicrohttpd answers the handshake (101, with the Sec-WebSocket-Accept
 * computed here) and hands over the socket; libwslay does all the framing.
 * Each WebSocket gets a thread of its own that owns the socket and the
 * wslay context; the execution runs on a pool worker like any other, its
 * events (sink.h) queued to that thread, which sends them.  Protocol
 * (Piston's api/v2 connect):
 *
 *   client  {"type":"init", <Piston's execute request>}    within 1 s
 *   server  {"type":"runtime","language","version"}
 *           {"type":"stage","stage":"compile"|"run"}
 *           {"type":"data","stream":"stdout"|"stderr","data"}   as written
 *           {"type":"exit","stage",code,signal,status}
 *   client  {"type":"data","stream":"stdin","data"}   fed to the running program
 *           {"type":"signal","signal":"SIGTERM"...}   the program is killed
 *   server  close 4999 "Job Completed" after the last stage;
 *           4000 already initialised, 4001 no init within 1 s, 4002 an error
 *           (after {"type":"error","message"}), 4003 not yet initialised,
 *           4004 writing to anything but stdin, 4005 an invalid signal;
 *           1009 (wslay) a message over --max-body; 1001 at shutdown.
 *
 * A client that goes away, or asks for a signal, gets its container killed
 * (the worker watches one end of a socket pair the connection thread
 * closes).  What a slow client has not taken yet is bounded: wslay holds
 * at most 64 KiB of messages, the rest waits in the connection's queue,
 * and output that would take that queue past STREAM_MAX_PENDING bytes
 * (message overhead included), or the server's total past
 * SINK_MAX_PENDING_TOTAL (sink.h), is dropped and counted
 * ({"type":"skipped","stream","bytes"}), never waited for.  A client that
 * takes no byte for write_timeout_ms while we have some to send is
 * dropped (its job killed, its memory freed).  Over max_connections
 * (handshakes answered included) a handshake gets 503, never a 101.  A
 * frame wslay cannot parse gets a close frame with 1002.
 */
#ifndef CE_STREAM_WS_H
#define CE_STREAM_WS_H

#include <microhttpd.h>

#include "api.h"
#include "job.h"
#include "pool.h"
#include "runner.h"

struct ws_config {
        const struct api_env *env;
        const struct runner_config *runner;
        struct warm_pool *warm; /* NULL: none */
        struct pool *pool;
        size_t max_message;     /* bytes in one client message */
        int write_timeout_ms;   /* a client that takes nothing this long is dropped */
        size_t max_connections; /* at once, each with a thread of its own */
};

struct ws_hub;

/* A handshake's place among max_connections, from its 101 until the
 * upgrade (or the end of a request that never upgraded). */
struct ws_ticket;

/* Borrowed cfg must outlive the hub.  NULL on ENOMEM. */
struct ws_hub *ws_hub_new (const struct ws_config *cfg);

/* HTTP thread, in the access handler of GET /api/v2/connect: the 101
 * response (the caller queues it with MHD_HTTP_SWITCHING_PROTOCOLS and
 * destroys it) and *ticket, which the caller releases when the request
 * completes (libmicrohttpd's completion callback: after the upgrade, if
 * there was one); or NULL with *status and msg saying why the handshake is
 * refused (400, 426 for another WebSocket version, 503 over the cap or when
 * stopping: send Retry-After). */
struct MHD_Response *ws_upgrade_response (struct ws_hub *hub, struct MHD_Connection *conn,
                                          struct ws_ticket **ticket, unsigned *status,
                                          const char **msg);

/* HTTP thread: the request that got *ticket is over.  NULL is fine. */
void ws_ticket_release (struct ws_ticket *t);

/* Close every WebSocket (1001) and wait for their threads; every job must
 * have ended (pool_shutdown).  Before MHD_stop_daemon; handshakes answered
 * later get no connection. */
void ws_hub_shutdown (struct ws_hub *hub);

/* After MHD_stop_daemon (which releases the last tickets): free the hub. */
void ws_hub_free (struct ws_hub *hub);

#endif
