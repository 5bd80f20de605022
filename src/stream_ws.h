/*
 * stream_ws.h - the WebSocket transport: handshake, framing, a thread per
 * connection, and one job's events and stdin over it.
 *
 * libmicrohttpd answers the handshake (101, with the Sec-WebSocket-Accept
 * computed here) and hands over the socket; libwslay does all the framing.
 * Each WebSocket gets a thread of its own that owns the socket and the
 * wslay context; the execution runs on a pool worker like any other, its
 * events (events.h) queued to that thread, which sends them.  What the
 * messages mean is a front-end's protocol (struct ws_protocol: Piston's is
 * api_piston_ws.c): it reads the client's messages and calls the ws_conn_
 * functions below to start the one job, feed its stdin or kill it.
 *
 * Closing: after the job's last event, the protocol's done code (or its
 * error code, after an error message); its start-timeout code when the
 * client asks for no job in time; 1009 (wslay) for a message over
 * max_message; 1001 at shutdown; 1002 for a frame wslay cannot parse.
 *
 * A client that goes away, or whose protocol kills the job, gets its
 * container killed (the worker watches one end of a socket pair the
 * connection thread closes).  What a slow client has not taken yet is
 * bounded: wslay holds at most 64 KiB of messages, the rest waits in the
 * connection's queue, and output that would take that queue past
 * STREAM_MAX_PENDING bytes (message overhead included), or the server's
 * total past SINK_MAX_PENDING_TOTAL (sink.h), is dropped and counted (the
 * dialect's skipped event), never waited for.  A client that takes no byte
 * for write_timeout_ms while we have some to send is dropped (its job
 * killed, its memory freed).  Over max_connections (handshakes answered
 * included) a handshake gets 503, never a 101.
 */
#ifndef CE_STREAM_WS_H
#define CE_STREAM_WS_H

#include <microhttpd.h>

#include "api.h"
#include "job.h"
#include "pool.h"
#include "runner.h"

struct ws_config {
        const struct api_env *env; /* for the protocols' parsers */
        const struct exec_env *exec;
        struct pool *pool;
        size_t max_message;     /* bytes in one client message */
        int write_timeout_ms;   /* a client that takes nothing this long is dropped */
        size_t max_connections; /* at once, each with a thread of its own */
};

struct ws_hub;
struct ws_conn;

/* A front-end's protocol over the WebSocket.  Constant. */
struct ws_protocol {
        const char *route; /* for log lines: "/api/v2/connect" */
        const struct events_dialect *events;
        /* A client that has started no job (ws_conn_start or ws_conn_refuse)
         * within start_timeout_ms is closed with this code. */
        int start_timeout_ms;
        uint16_t start_timeout_code;
        const char *start_timeout_reason;
        /* The close once the job's last message is out: done, or error
         * after an error message. */
        uint16_t done_code, error_code;
        const char *done_reason, *error_reason;
        /* One text or binary message of the client: the connection thread. */
        void (*on_message) (struct ws_conn *c, const char *data, size_t len);
        /* An error message; msg is valid UTF-8. */
        yajl_gen_status (*gen_error) (yajl_gen g, const char *msg);
};

/* A handshake's place among max_connections, from its 101 until the
 * upgrade (or the end of a request that never upgraded). */
struct ws_ticket;

/* Borrowed cfg must outlive the hub.  NULL on ENOMEM. */
struct ws_hub *ws_hub_new (const struct ws_config *cfg);

/* HTTP thread, in the access handler of a WebSocket route: the 101
 * response for protocol (the caller queues it with MHD_HTTP_SWITCHING_PROTOCOLS and
 * destroys it) and *ticket, which the caller releases when the request
 * completes (libmicrohttpd's completion callback: after the upgrade, if
 * there was one); or NULL with *status and msg (filled) saying why the handshake is
 * refused (400, 426 for another WebSocket version, 503 over the cap or when
 * stopping: send Retry-After). */
struct MHD_Response *ws_upgrade_response (struct ws_hub *hub, struct MHD_Connection *conn,
                                          const struct ws_protocol *protocol,
                                          struct ws_ticket **ticket, unsigned *status, char *msg,
                                          size_t msg_size);

/* HTTP thread: the request that got *ticket is over.  NULL is fine. */
void ws_ticket_release (struct ws_ticket *t);

/* Close every WebSocket (1001) and wait for their threads; every job must
 * have ended (pool_shutdown).  Before MHD_stop_daemon; handshakes answered
 * later get no connection. */
void ws_hub_shutdown (struct ws_hub *hub);

/* After MHD_stop_daemon (which releases the last tickets): free the hub. */
void ws_hub_free (struct ws_hub *hub);

/* What a protocol may do, on the connection thread only (its on_message). */

const struct api_env *ws_conn_env (struct ws_conn *c);
size_t ws_conn_max_message (struct ws_conn *c);
/* Whether the client has asked for its job (ws_conn_start or ws_conn_refuse
 * was called): a connection runs one job at most. */
bool ws_conn_started (struct ws_conn *c);
/* Whether the job may still be running: stdin and kills reach it. */
bool ws_conn_running (struct ws_conn *c);
/* Queue g's text as one message, always kept (not output). */
void ws_conn_send (struct ws_conn *c, yajl_gen g);
/* Run in (its plan made): the connection takes it over (*in is zeroed).
 * A job that cannot be queued is told to the client as an error. */
void ws_conn_start (struct ws_conn *c, struct api_request *in);
/* No job for this client: an error message, then the error close. */
void ws_conn_refuse (struct ws_conn *c, const char *msg);
/* An error message, then the error close once it is out; a running job is
 * left to end. */
void ws_conn_error (struct ws_conn *c, const char *msg);
/* Close now with code (wslay sends control frames before queued messages). */
void ws_conn_close (struct ws_conn *c, uint16_t code, const char *reason);
/* Bytes for the program's stdin (bounded: a program that does not read
 * gets killed, and the client an error). */
void ws_conn_stdin (struct ws_conn *c, const char *data, size_t len);
/* Kill the job's container (the job ends as killed). */
void ws_conn_kill (struct ws_conn *c);

#endif
