/*
 * api_piston_ws.c - Piston's WebSocket protocol, GET /api/v2/connect, over
 * the generic transport (stream_ws.h).
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
 *           4004 writing to anything but stdin, 4005 an invalid signal.
 *
 * The events are api_piston.c's dialect, the init's body its parser: what
 * the WebSocket runs is what POST /api/v2/execute would.  Everything here
 * runs on the connection's thread.
 */
#include <string.h>
#include <yajl/yajl_tree.h>

#include "api_piston.h"
#include "jsongen.h"
#include "stream_ws.h"

static const char *const piston_signals[] = {
        "SIGABRT", "SIGALRM", "SIGBUS",    "SIGCHLD", "SIGCLD",  "SIGCONT",  "SIGEMT",    "SIGFPE",
        "SIGHUP",  "SIGILL",  "SIGINFO",   "SIGINT",  "SIGIO",   "SIGIOT",   "SIGKILL",   "SIGLOST",
        "SIGPIPE", "SIGPOLL", "SIGPROF",   "SIGPWR",  "SIGQUIT", "SIGSEGV",  "SIGSTKFLT", "SIGSTOP",
        "SIGTSTP", "SIGSYS",  "SIGTERM",   "SIGTRAP", "SIGTTIN", "SIGTTOU",  "SIGUNUSED", "SIGURG",
        "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGXCPU", "SIGXFSZ", "SIGWINCH", NULL,
};

static inline void
cleanup_yajl_treep (yajl_val *v)
{
        yajl_tree_free (*v);
}
#define cleanup_yajl_tree __attribute__ ((cleanup (cleanup_yajl_treep)))

static void
free_parser (void **parser)
{
        if (*parser)
                api_piston.parser_free (*parser);
}

/* {"type":"init",...}: Piston's execute request, parsed and planned as
 * POST /api/v2/execute's; then {"type":"runtime"} and the job. */
static void
handle_init (struct ws_conn *c, const char *text, size_t len)
{
        const struct api_frontend *api = &api_piston;
        const struct api_env *env = ws_conn_env (c);
        __attribute__ ((cleanup (free_parser))) void *parser =
                api->parser_new (ws_conn_max_message (c), NULL);
        struct api_request in = { 0 };
        struct ce_error err;
        yajl_gen g;
        yajl_gen_status st;
        int ret;

        if (parser == NULL) {
                ret = ce_fail (&err, ENOMEM, "out of memory");
        } else {
                ret = api->feed (parser, text, len, &err);
                if (ret == 0)
                        ret = api->finish (parser, env, &in, &err);
                if (ret == 0)
                        ret = api_plan (env, &in, &err);
        }
        if (ret < 0) {
                request_free (in.req);
                ws_conn_refuse (c, err.msg);
                return;
        }
        g = jsongen_new ();
        if (g) {
                GEN (yajl_gen_map_open (g));
                GEN_KV_STR ("type", "runtime");
                GEN_KV_STR ("language", api_piston_language_name (in.lang));
                GEN_KV_STR ("version", in.lang->version);
                GEN (yajl_gen_map_close (g));
                ws_conn_send (c, g);
        fail:
                yajl_gen_free (g);
        }
        ws_conn_start (c, &in);
}

/* {"type":"data"} (stdin only) or {"type":"signal"} (every signal kills:
 * the container goes), once initialised and while the job runs. */
static void
handle_input (struct ws_conn *c, yajl_val msg, bool data)
{
        if (! ws_conn_started (c)) {
                ws_conn_close (c, 4003, "Not yet initialized");
        } else if (! ws_conn_running (c)) {
                /* the job is over (or never started): nothing to feed or signal */
        } else if (data) {
                yajl_val stream =
                        yajl_tree_get (msg, (const char *[]){ "stream", NULL }, yajl_t_string);
                yajl_val text =
                        yajl_tree_get (msg, (const char *[]){ "data", NULL }, yajl_t_string);

                if (stream == NULL || strcmp (stream->u.string, "stdin") != 0 || text == NULL)
                        ws_conn_close (c, 4004, "Can only write to stdin");
                else
                        ws_conn_stdin (c, text->u.string, strlen (text->u.string));
        } else {
                yajl_val sig =
                        yajl_tree_get (msg, (const char *[]){ "signal", NULL }, yajl_t_string);
                bool valid = false;

                for (const char *const *s = piston_signals; sig && *s; s++)
                        valid = valid || strcmp (*s, sig->u.string) == 0;
                if (! valid)
                        ws_conn_close (c, 4005, "Invalid signal");
                else
                        ws_conn_kill (c);
        }
}

/* One text or binary message from the client. */
static void
on_message (struct ws_conn *c, const char *text, size_t len)
{
        char buf[128];
        cleanup_free char *copy = malloc (len + 1);
        cleanup_yajl_tree yajl_val msg = NULL;
        yajl_val type;
        const char *t;

        if (copy == NULL)
                return;
        memcpy (copy, text, len);
        copy[len] = '\0';
        msg = yajl_tree_parse (copy, buf, sizeof (buf));
        if (msg == NULL || strlen (copy) != len) {
                ws_conn_error (c, msg ? "messages must not contain NUL" : "malformed JSON message");
                return;
        }
        type = YAJL_IS_OBJECT (msg)
                       ? yajl_tree_get (msg, (const char *[]){ "type", NULL }, yajl_t_string)
                       : NULL;
        t = type ? YAJL_GET_STRING (type) : "";
        if (strcmp (t, "init") == 0) {
                if (ws_conn_started (c))
                        ws_conn_close (c, 4000, "Already Initialized");
                else
                        handle_init (c, text, len);
        } else if (strcmp (t, "data") == 0 || strcmp (t, "signal") == 0) {
                handle_input (c, msg, t[0] == 'd');
        }
        /* Piston ignores other types. */
}

static yajl_gen_status
gen_error (yajl_gen g, const char *msg)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "error");
        GEN_KV_STR ("message", msg);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

const struct ws_protocol api_piston_ws = {
        .route = "/api/v2/connect",
        .events = &api_piston_events,
        .start_timeout_ms = 1000, /* Piston's */
        .start_timeout_code = 4001,
        .start_timeout_reason = "Initialization Timeout",
        .done_code = 4999,
        .done_reason = "Job Completed",
        .error_code = 4002,
        .error_reason = "Notified Error",
        .on_message = on_message,
        .gen_error = gen_error,
};
