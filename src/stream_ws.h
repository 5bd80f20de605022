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
 *           {"type":"exit","stage",code,signal,status,message}
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
 * closes).  Output past STREAM_MAX_PENDING unsent bytes is dropped and
 * counted ({"type":"skipped","stream","bytes"}), never waited for.
 */
#ifndef CE_STREAM_WS_H
#define CE_STREAM_WS_H

#include <microhttpd.h>

#include "api.h"
#include "pool.h"
#include "runner.h"

struct ws_config {
        const struct api_env *env;
        const struct runner_config *runner;
        struct pool *pool;
        size_t max_message; /* bytes in one client message */
};

struct ws_hub;

/* Borrowed cfg must outlive the hub.  NULL on ENOMEM. */
struct ws_hub *ws_hub_new (const struct ws_config *cfg);

/* HTTP thread, in the access handler of GET /api/v2/connect: the 101
 * response (the caller queues it with MHD_HTTP_SWITCHING_PROTOCOLS and
 * destroys it), or NULL with *status and msg saying why the handshake is
 * refused (400, or 426 for another WebSocket version). */
struct MHD_Response *ws_upgrade_response (struct ws_hub *hub, struct MHD_Connection *conn,
                                          unsigned *status, const char **msg);

/* Close every WebSocket (1001) and wait for their threads; every job must
 * have ended (pool_shutdown).  Then free the hub.  Before MHD_stop_daemon. */
void ws_hub_shutdown (struct ws_hub *hub);

#endif
