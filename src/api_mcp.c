/*
 * api_mcp.c - the Model Context Protocol at /mcp: CodeEngine as a code
 * runner for AI agents (Claude, VS Code, Cursor...), over MCP's
 * Streamable HTTP transport (spec revision 2025-11-25; 2025-06-18 and
 * 2025-03-26 clients too).  docs/mcp.md describes it.
 *
 * Each POST carries one JSON-RPC message, parsed here with yajl_tree (the
 * body is bounded by --max-body).  Most answers are made at once
 * (API_RPC_ANSWER): initialize, ping, tools/list, a notification's 202,
 * every error.  A tools/call of run_code translates its arguments into the
 * native API's body - they are that body's fields - and runs it through the
 * native parser and the one execution path (API_RPC_RUN); its answer is a
 * tool result made from the execution's result, preceded, when the call
 * asked for progress, by notifications/progress events (this file's events
 * dialect) on a text/event-stream response.
 *
 * Sessions: initialize makes one (Mcp-Session-Id, 32 hex digits); every
 * later message names it.  A session knows its calls in flight, so that
 * notifications/cancelled kills the named call's containers (through the
 * transport's cancel, which hangs up its connection: no answer is sent).
 * Sessions are bounded in number and idle time.  One mutex (`lock`)
 * guards every session and call; the transport may call from any thread.
 */
#include "api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/random.h>

#include "jsongen.h"
#include "outfiles.h"
#include "result.h"

#define MCP_LATEST "2025-11-25"
#define SESSION_HEADER "Mcp-Session-Id"
#define JSONRPC_PARSE_ERROR -32700
#define JSONRPC_INVALID_REQUEST -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS -32602
#define JSONRPC_INTERNAL_ERROR -32603
#define MAX_ID_TEXT 256

static const char *const versions[] = { MCP_LATEST, "2025-06-18", "2025-03-26" };

struct mcp_call;

struct mcp_session {
        char id[33];
        struct timespec used; /* last message */
        char version[16];     /* negotiated */
        struct mcp_call *calls;
        struct mcp_session *next;
};

/* One tools/call being run: the transport's from rpc_message to rpc_end. */
struct mcp_call {
        struct mcp_session *session; /* NULL once the session ended */
        struct mcp_call *next;
        char id[MAX_ID_TEXT];    /* the request's id, as JSON text */
        char token[MAX_ID_TEXT]; /* its progressToken as JSON text; "" none */
        const char *language;    /* for the answer */
        int64_t progress;        /* events sent (under the transport's stream lock) */
        void (*cancel) (void *arg);
        void *cancel_arg;
        bool cancelled; /* asked before rpc_watch */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* guards sessions and calls */
static struct mcp_session *sessions;
static size_t nsessions;

/* -- the body (api_body_parser) ------------------------------------------ */

static int
mcp_finish (void *parser, const struct api_env *env, struct api_request *out, struct ce_error *err)
{
        (void) parser;
        (void) env;
        (void) out;
        return ce_refuse (err, 400, EINVAL, "MCP messages are answered by rpc_message");
}

/* -- JSON-RPC answers ---------------------------------------------------- */

/* {"jsonrpc":"2.0","id":ID,"error":{"code":code,"message":msg}}; id NULL: null. */
static yajl_gen_status
gen_rpc_error (yajl_gen g, const char *id, int code, const char *msg)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("jsonrpc", "2.0");
        GEN_STR ("id");
        if (id && *id)
                GEN_RAW (id, strlen (id));
        else
                GEN (yajl_gen_null (g));
        GEN_STR ("error");
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("code", code);
        GEN_KV_STR ("message", msg);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* The transport's errors (a body too large, a full queue) in JSON-RPC's shape. */
static yajl_gen_status
mcp_gen_error (yajl_gen g, const char *msg, const char *status)
{
        (void) status;
        return gen_rpc_error (g, NULL, JSONRPC_INTERNAL_ERROR, msg);
}

/* Take g's text as rpc's answer. */
static enum api_rpc_kind
answer_gen (struct api_rpc *rpc, unsigned status, yajl_gen g, yajl_gen_status st)
{
        const unsigned char *buf;
        size_t len;

        rpc->status = status;
        rpc->content_type = "application/json";
        if (st != yajl_gen_status_ok || yajl_gen_get_buf (g, &buf, &len) != yajl_gen_status_ok
            || (rpc->body = malloc (len + 1)) == NULL) {
                rpc->status = 500;
                rpc->body = NULL;
                rpc->content_type = "text/plain";
                return API_RPC_ANSWER;
        }
        memcpy (rpc->body, buf, len);
        rpc->body[len] = '\0';
        rpc->len = len;
        return API_RPC_ANSWER;
}

static enum api_rpc_kind __attribute__ ((format (printf, 5, 6)))
answer_error (struct api_rpc *rpc, unsigned status, const char *id, int code, const char *fmt, ...)
{
        char msg[512];
        cleanup_free char *clean = NULL;
        size_t clean_len;
        yajl_gen g = jsongen_new ();
        enum api_rpc_kind kind;
        va_list ap;

        va_start (ap, fmt);
        vsnprintf (msg, sizeof (msg), fmt, ap);
        va_end (ap);
        if (g == NULL)
                return answer_gen (rpc, status, NULL, yajl_gen_in_error_state);
        /* Messages may quote the client's input, cut anywhere. */
        if (ce_utf8_sanitize (msg, strlen (msg), &clean, &clean_len) < 0)
                kind = answer_gen (rpc, status, g, yajl_gen_in_error_state);
        else
                kind = answer_gen (rpc, status, g, gen_rpc_error (g, id, code, clean));
        yajl_gen_free (g);
        return kind;
}

static enum api_rpc_kind
answer_empty (struct api_rpc *rpc, unsigned status)
{
        rpc->status = status;
        rpc->content_type = "application/json";
        return API_RPC_ANSWER;
}

/* -- sessions ------------------------------------------------------------- */

static double
seconds_since (struct timespec t)
{
        struct timespec now = ce_now ();

        return (double) (now.tv_sec - t.tv_sec) + (double) (now.tv_nsec - t.tv_nsec) / 1e9;
}

static void
session_free (struct mcp_session *s)
{
        for (struct mcp_call *c = s->calls; c; c = c->next)
                c->session = NULL;
        free (s);
}

/* Unlink *link's session; lock held. */
static void
session_drop (struct mcp_session **link)
{
        struct mcp_session *s = *link;

        *link = s->next;
        nsessions--;
        session_free (s);
}

/* Forget sessions idle for idle_s with nothing running; lock held. */
static void
sessions_expire (int idle_s)
{
        for (struct mcp_session **link = &sessions; *link;) {
                if ((*link)->calls == NULL && seconds_since ((*link)->used) > idle_s)
                        session_drop (link);
                else
                        link = &(*link)->next;
        }
}

/* The session named id, its use now; lock held.  NULL: unknown. */
static struct mcp_session **
session_find (const char *id)
{
        for (struct mcp_session **link = &sessions; *link; link = &(*link)->next)
                if (strcmp ((*link)->id, id) == 0) {
                        (*link)->used = ce_now ();
                        return link;
                }
        return NULL;
}

void
api_mcp_reset (void)
{
        pthread_mutex_lock (&lock);
        while (sessions)
                session_drop (&sessions);
        pthread_mutex_unlock (&lock);
}

/* -- checks every message passes ----------------------------------------- */

static bool
header_has (const char *value, const char *what)
{
        return value && strcasestr (value, what) != NULL;
}

/* The port an "http://host[:port]" origin or a "host[:port]" Host header
 * names after host (default 80); -1 when what follows host is not exactly
 * that. */
static long
port_after (const char *p)
{
        char *end;
        long port;

        if (*p == '\0')
                return 80;
        if (*p != ':' || p[1] < '0' || p[1] > '9')
                return -1;
        port = strtol (p + 1, &end, 10);
        return *end == '\0' && port > 0 && port < 65536 ? port : -1;
}

/* Where a loopback name ends in s ("localhost", "127.0.0.1", "[::1]"), or NULL. */
static const char *
after_loopback (const char *s)
{
        static const char *const names[] = { "localhost", "127.0.0.1", "[::1]" };

        for (size_t i = 0; i < sizeof (names) / sizeof (*names); i++)
                if (strncasecmp (s, names[i], strlen (names[i])) == 0)
                        return s + strlen (names[i]);
        return NULL;
}

/* A present Origin must be one of --mcp-allow-origin, or this server's own
 * on a loopback name: "http://" a loopback name and the port the client
 * reached (its Host).  A page of another origin, another local app's (its
 * own port) or a DNS-rebound name for this server, must not drive it. */
static bool
origin_allowed (const struct api_env *env, const char *origin, const char *host)
{
        const char *o, *h;
        long port;

        if (origin == NULL)
                return true;
        if (env->mcp_allow_origins) {
                const char *p = env->mcp_allow_origins;
                size_t len = strlen (origin);

                while (*p) {
                        const char *comma = strchr (p, ',');
                        size_t plen = comma ? (size_t) (comma - p) : strlen (p);

                        if (plen == len && strncmp (p, origin, len) == 0)
                                return true;
                        p += plen + (comma ? 1 : 0);
                }
        }
        if (strncmp (origin, "http://", 7) != 0 || host == NULL)
                return false;
        o = after_loopback (origin + 7);
        h = after_loopback (host);
        if (o == NULL || h == NULL)
                return false;
        port = port_after (o);
        return port > 0 && port == port_after (h);
}

static bool
version_known (const char *v)
{
        for (size_t i = 0; i < sizeof (versions) / sizeof (*versions); i++)
                if (strcmp (v, versions[i]) == 0)
                        return true;
        return false;
}

/* A request's id (a string or a number) as JSON text into buf; false when
 * it is neither, or too long. */
static bool
id_text (yajl_val id, char buf[MAX_ID_TEXT])
{
        yajl_gen g;
        const unsigned char *out;
        size_t len;
        bool ok = false;

        if (id == NULL || ! (YAJL_IS_STRING (id) || YAJL_IS_NUMBER (id)))
                return false;
        if ((g = jsongen_new ()) == NULL)
                return false;
        if ((YAJL_IS_STRING (id) ? yajl_gen_string (g, (const unsigned char *) id->u.string,
                                                    strlen (id->u.string))
                                 : yajl_gen_number (g, id->u.number.r, strlen (id->u.number.r)))
                    == yajl_gen_status_ok
            && yajl_gen_get_buf (g, &out, &len) == yajl_gen_status_ok && len < MAX_ID_TEXT) {
                memcpy (buf, out, len);
                buf[len] = '\0';
                ok = true;
        }
        yajl_gen_free (g);
        return ok;
}

/* A value of the client's, written back as it came. */
static yajl_gen_status
gen_tree (yajl_gen g, yajl_val v, int depth)
{
        yajl_gen_status st = yajl_gen_status_ok;

        if (depth > 64)
                return yajl_max_depth_exceeded;
        switch (v->type) {
        case yajl_t_string: GEN_STR (v->u.string); break;
        case yajl_t_number: GEN (yajl_gen_number (g, v->u.number.r, strlen (v->u.number.r))); break;
        case yajl_t_true: GEN (yajl_gen_bool (g, 1)); break;
        case yajl_t_false: GEN (yajl_gen_bool (g, 0)); break;
        case yajl_t_null: GEN (yajl_gen_null (g)); break;
        case yajl_t_object:
                GEN (yajl_gen_map_open (g));
                for (size_t i = 0; i < v->u.object.len; i++) {
                        GEN_STR (v->u.object.keys[i]);
                        GEN (gen_tree (g, v->u.object.values[i], depth + 1));
                }
                GEN (yajl_gen_map_close (g));
                break;
        case yajl_t_array:
                GEN (yajl_gen_array_open (g));
                for (size_t i = 0; i < v->u.array.len; i++)
                        GEN (gen_tree (g, v->u.array.values[i], depth + 1));
                GEN (yajl_gen_array_close (g));
                break;
        default: return yajl_gen_invalid_string;
        }
fail:
        return st;
}

/* -- tools ---------------------------------------------------------------- */

static const char instructions[] =
        "CodeEngine runs programs in a fresh, isolated container (no network, limited CPU, "
        "memory and time) and returns their output. Call run_code with a language from its "
        "enum and the program in `code` (or several `files`, the first being the entry "
        "point); pass `stdin` and `args` as a terminal would. Compiled languages are compiled "
        "first: a compile error comes back in `compile`. A failed program is a result with "
        "isError true and its stderr, so read it and fix the code. To check a solution "
        "against examples, give `tests` with `expected_output`: each gets a verdict. Files "
        "the program writes in its working directory are returned when named in "
        "`output_files` (globs, e.g. [\"*.png\"]): python3 has numpy, pandas, scipy and "
        "matplotlib (save plots with plt.savefig). list_languages gives versions and limits.";

static yajl_gen_status
gen_prop (yajl_gen g, const char *name, const char *type, const char *desc)
{
        yajl_gen_status st;

        GEN_STR (name);
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", type);
        GEN_KV_STR ("description", desc);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* {"type": [type, "null"]} */
static yajl_gen_status
gen_nullable (yajl_gen g, const char *name, const char *type)
{
        yajl_gen_status st;

        GEN_STR (name);
        GEN (yajl_gen_map_open (g));
        GEN_STR ("type");
        GEN (yajl_gen_array_open (g));
        GEN_STR (type);
        GEN_STR ("null");
        GEN (yajl_gen_array_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_string_array (yajl_gen g, const char *name, const char *desc)
{
        yajl_gen_status st;

        GEN_STR (name);
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "array");
        GEN_STR ("items");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "string");
        GEN (yajl_gen_map_close (g));
        GEN_KV_STR ("description", desc);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_run_input (yajl_gen g, const struct api_env *env)
{
        static const char *const limits[][2] = {
                { "timeout_ms", "wall-clock limit of the run, in milliseconds" },
                { "memory_mb", "memory limit of the run, in MB" },
                { "cpus", "CPU limit, in cores" },
                { "pids", "processes and threads" },
                { "output_bytes", "output kept before the program is killed" },
        };
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "object");
        GEN_STR ("properties");
        GEN (yajl_gen_map_open (g));
        GEN_STR ("language");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "string");
        GEN_KV_STR ("description", "the language to run the program in");
        GEN_STR ("enum");
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < bundle_count (env->bundles); i++)
                if (bundle_at (env->bundles, i)->available)
                        GEN_STR (bundle_at (env->bundles, i)->name);
        GEN (yajl_gen_array_close (g));
        GEN (yajl_gen_map_close (g));
        GEN (gen_prop (g, "code", "string",
                       "the program's source, one file (or give `files` instead)"));
        GEN_STR ("files");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "array");
        GEN_KV_STR ("description",
                    "the program as several files instead of `code`; the first is the entry "
                    "point");
        GEN_STR ("items");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "object");
        GEN_STR ("properties");
        GEN (yajl_gen_map_open (g));
        GEN (gen_prop (g, "name", "string", "relative path, e.g. main.py or lib/util.py"));
        GEN (gen_prop (g, "content", "string", "the file's content"));
        GEN (gen_prop (g, "encoding", "string", "utf8 (default), base64 or hex"));
        GEN (yajl_gen_map_close (g));
        GEN_STR ("required");
        GEN (yajl_gen_array_open (g));
        GEN_STR ("content");
        GEN (yajl_gen_array_close (g));
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
        GEN (gen_prop (g, "stdin", "string", "the program's standard input"));
        GEN (gen_string_array (g, "args", "command-line arguments"));
        GEN_STR ("limits");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "object");
        GEN_KV_STR ("description",
                    "lower or raise the run's limits within the server's ceilings "
                    "(list_languages shows the defaults); compile_ prefixed for the compile");
        GEN_STR ("properties");
        GEN (yajl_gen_map_open (g));
        for (size_t i = 0; i < sizeof (limits) / sizeof (*limits); i++)
                GEN (gen_prop (g, limits[i][0], "number", limits[i][1]));
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
        GEN_STR ("tests");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "array");
        GEN_KV_STR ("description",
                    "run the program once per test case, each with its own stdin and args, "
                    "and judge its output against expected_output (verdicts)");
        GEN_STR ("items");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "object");
        GEN_STR ("properties");
        GEN (yajl_gen_map_open (g));
        GEN (gen_prop (g, "name", "string", "a name for the test"));
        GEN (gen_prop (g, "stdin", "string", "its standard input"));
        GEN (gen_string_array (g, "args", "its command-line arguments"));
        GEN (gen_prop (g, "expected_output", "string", "the output it should print"));
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
        GEN (gen_string_array (g, "output_files",
                               "globs of files the program writes in its working directory to "
                               "return, e.g. [\"*.png\", \"out/*.csv\"]; images come back as "
                               "images"));
        GEN (yajl_gen_map_close (g));
        GEN_STR ("required");
        GEN (yajl_gen_array_open (g));
        GEN_STR ("language");
        GEN (yajl_gen_array_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* What a stage did, in the outputSchema (every field may be null). */
static yajl_gen_status
gen_stage_schema (yajl_gen g)
{
        static const char *const fields[][2] = {
                { "status", "string" },  { "exit_code", "integer" }, { "signal", "string" },
                { "stdout", "string" },  { "stderr", "string" },     { "time_ms", "integer" },
                { "cpu_ms", "integer" }, { "memory_kb", "integer" }, { "truncated", "boolean" },
        };
        yajl_gen_status st;

        for (size_t i = 0; i < sizeof (fields) / sizeof (*fields); i++)
                GEN (gen_nullable (g, fields[i][0], fields[i][1]));
fail:
        return st;
}

static yajl_gen_status
gen_run_output (yajl_gen g)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "object");
        GEN_STR ("properties");
        GEN (yajl_gen_map_open (g));
        GEN (gen_nullable (g, "language", "string"));
        GEN (gen_nullable (g, "version", "string"));
        GEN (gen_stage_schema (g));
        GEN (gen_nullable (g, "compile", "object"));
        GEN (gen_nullable (g, "verdict", "string"));
        GEN (gen_nullable (g, "tests", "array"));
        GEN (gen_nullable (g, "files", "array"));
        GEN (gen_nullable (g, "files_omitted", "integer"));
        GEN (gen_nullable (g, "files_error", "string"));
        GEN (gen_nullable (g, "error", "string"));
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_tools (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        GEN_STR ("tools");
        GEN (yajl_gen_array_open (g));
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("name", "run_code");
        GEN_KV_STR ("title", "Run code");
        GEN_KV_STR ("description",
                    "Run a program in a fresh sandboxed container and return its stdout, stderr, "
                    "exit code, status (ok, runtime_error, timeout, memory_limit, output_limit, "
                    "compile_error), time and memory; with tests, a verdict per test. isError is "
                    "true when the program failed: read stderr (or compile.stderr) to fix it.");
        GEN_STR ("inputSchema");
        GEN (gen_run_input (g, env));
        GEN_STR ("outputSchema");
        GEN (gen_run_output (g));
        GEN_STR ("annotations");
        GEN (yajl_gen_map_open (g));
        GEN_KV_BOOL ("readOnlyHint", true);
        GEN_KV_BOOL ("openWorldHint", false);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("name", "list_languages");
        GEN_KV_STR ("title", "List languages");
        GEN_KV_STR ("description",
                    "The languages run_code accepts, with their versions, aliases, whether they "
                    "compile, and their default limits.");
        GEN_STR ("inputSchema");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "object");
        GEN_STR ("properties");
        GEN (yajl_gen_map_open (g));
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
        GEN_STR ("annotations");
        GEN (yajl_gen_map_open (g));
        GEN_KV_BOOL ("readOnlyHint", true);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_language_list (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_STR ("languages");
        GEN (api_gen_languages (g, env));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* -- a run's result as a tool result ------------------------------------- */

static yajl_gen_status
gen_int_or_null (yajl_gen g, const char *key, int64_t v)
{
        yajl_gen_status st;

        GEN_STR (key);
        GEN (v < 0 ? yajl_gen_null (g) : yajl_gen_integer (g, v));
fail:
        return st;
}

static yajl_gen_status
gen_stage (yajl_gen g, const struct runner_result *r, enum runner_status status)
{
        char signame[32];
        const char *sig = runner_signal_name (r->signal, signame, sizeof (signame));
        yajl_gen_status st;

        GEN_KV_STR ("status", runner_status_name (status));
        GEN_KV_INT ("exit_code", r->exit_code);
        GEN_STR ("signal");
        GEN (sig ? yajl_gen_string (g, (const unsigned char *) sig, strlen (sig))
                 : yajl_gen_null (g));
        GEN (api_gen_output (g, "stdout", &r->out.stdout_buf));
        GEN (api_gen_output (g, "stderr", &r->out.stderr_buf));
        GEN_KV_INT ("time_ms", r->wall_ms);
        GEN (gen_int_or_null (g, "cpu_ms", r->cpu_ms));
        GEN (gen_int_or_null (g, "memory_kb", r->memory_kb));
        GEN_KV_BOOL ("truncated", r->truncated);
fail:
        return st;
}

/* A file's type by its name's suffix: what a client shows it as. */
static const char *
mime_type (const char *name)
{
        static const char *const types[][2] = {
                { ".png", "image/png" },         { ".jpg", "image/jpeg" },
                { ".jpeg", "image/jpeg" },       { ".gif", "image/gif" },
                { ".webp", "image/webp" },       { ".svg", "image/svg+xml" },
                { ".csv", "text/csv" },          { ".tsv", "text/tab-separated-values" },
                { ".txt", "text/plain" },        { ".log", "text/plain" },
                { ".md", "text/markdown" },      { ".html", "text/html" },
                { ".json", "application/json" }, { ".xml", "application/xml" },
                { ".pdf", "application/pdf" },
        };
        size_t n = strlen (name);

        for (size_t i = 0; i < sizeof (types) / sizeof (*types); i++) {
                size_t k = strlen (types[i][0]);

                if (n > k && strcasecmp (name + n - k, types[i][0]) == 0)
                        return types[i][1];
        }
        return "application/octet-stream";
}

static bool
run_failed (const struct exec_result *res)
{
        const struct runner_result *run = result_first (res);

        if (res->ntests)
                return res->verdict != VERDICT_ACCEPTED;
        return res->status != RUN_OK || run->exit_code != 0;
}

static yajl_gen_status
gen_structured (yajl_gen g, const struct api_request *in, const struct exec_result *res)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("language", in->lang->name);
        GEN_KV_STR ("version", in->lang->version);
        GEN (gen_stage (g, result_first (res), res->status));
        GEN_STR ("compile");
        if (res->compiled) {
                GEN (yajl_gen_map_open (g));
                GEN (gen_stage (g, &res->compile,
                                res->compile.status == RUN_RUNTIME_ERROR ? RUN_COMPILE_ERROR
                                                                         : res->compile.status));
                GEN_KV_BOOL ("cached", res->compile.cached);
                GEN (yajl_gen_map_close (g));
        } else {
                GEN (yajl_gen_null (g));
        }
        GEN_STR ("verdict");
        if (res->ntests)
                GEN_STR (verdict_name (res->verdict));
        else
                GEN (yajl_gen_null (g));
        GEN_STR ("tests");
        if (res->ntests) {
                GEN (yajl_gen_array_open (g));
                for (size_t i = 0; i < res->ntests; i++) {
                        const struct exec_test *t = &res->tests[i];
                        const char *name = in->req->tests[i].name;

                        GEN (yajl_gen_map_open (g));
                        GEN_STR ("name");
                        GEN (name ? yajl_gen_string (g, (const unsigned char *) name, strlen (name))
                                  : yajl_gen_null (g));
                        GEN_KV_STR ("verdict", verdict_name (t->verdict));
                        if (t->ran)
                                GEN (gen_stage (g, &t->run, t->run.status));
                        GEN (yajl_gen_map_close (g));
                }
                GEN (yajl_gen_array_close (g));
        } else {
                GEN (yajl_gen_null (g));
        }
        GEN_STR ("files");
        if (in->req->noutput_files) {
                GEN (yajl_gen_array_open (g));
                for (size_t i = 0; i < res->files.nfiles; i++) {
                        const struct outfile *f = &res->files.files[i];

                        GEN (yajl_gen_map_open (g));
                        GEN_KV_STR ("name", f->name);
                        GEN_KV_INT ("size", f->len);
                        GEN_KV_STR ("mime_type", mime_type (f->name));
                        GEN (yajl_gen_map_close (g));
                }
                GEN (yajl_gen_array_close (g));
                GEN_KV_INT ("files_omitted", res->files.omitted);
                GEN_STR ("files_error");
                if (! res->files.requested || res->files.error[0]) {
                        const char *e = res->files.requested ? res->files.error
                                                             : "nothing was collected: the "
                                                               "program did not run";
                        cleanup_free char *clean = NULL;
                        size_t n;

                        if (ce_utf8_sanitize (e, strlen (e), &clean, &n) < 0)
                                return yajl_gen_invalid_string;
                        GEN_STRN (clean, n);
                } else {
                        GEN (yajl_gen_null (g));
                }
        } else {
                GEN (yajl_gen_null (g));
        }
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* structuredContent's text, for the text block that carries it too. */
static int
structured_text (const struct api_request *in, const struct exec_result *res, char **out,
                 size_t *len)
{
        yajl_gen g = jsongen_new ();
        const unsigned char *buf;
        int ret = -ENOMEM;

        if (g == NULL)
                return -ENOMEM;
        if (gen_structured (g, in, res) == yajl_gen_status_ok
            && yajl_gen_get_buf (g, &buf, len) == yajl_gen_status_ok
            && (*out = malloc (*len + 1)) != NULL) {
                memcpy (*out, buf, *len);
                (*out)[*len] = '\0';
                ret = 0;
        }
        yajl_gen_free (g);
        return ret;
}

/* An output file as content: an image as MCP's image content (what a
 * model can look at), anything else as an embedded resource, its text when
 * it is UTF-8, else its bytes in base64. */
static yajl_gen_status
gen_file_content (yajl_gen g, const struct outfile *f)
{
        const char *type = mime_type (f->name);
        cleanup_free char *b64 = NULL;
        cleanup_free char *text = NULL;
        size_t n;
        bool image = strncmp (type, "image/", 6) == 0 && strcmp (type, "image/svg+xml") != 0;
        bool utf8 = ! image && ce_utf8_sanitize (f->data, f->len, &text, &n) == 0 && n == f->len
                    && memcmp (text, f->data, n) == 0 && memchr (f->data, '\0', f->len) == NULL;
        yajl_gen_status st;

        if (! utf8 && ce_base64_encode (f->data, f->len, &b64, &n) < 0)
                return yajl_gen_invalid_string;
        GEN (yajl_gen_map_open (g));
        if (image) {
                GEN_KV_STR ("type", "image");
                GEN_STR ("data");
                GEN_STRN (b64, n);
                GEN_KV_STR ("mimeType", type);
        } else {
                char uri[600];

                GEN_KV_STR ("type", "resource");
                GEN_STR ("resource");
                GEN (yajl_gen_map_open (g));
                snprintf (uri, sizeof (uri), "file:///work/%s", f->name);
                GEN_KV_STR ("uri", uri);
                GEN_KV_STR ("mimeType", type);
                GEN_STR (utf8 ? "text" : "blob");
                GEN_STRN (utf8 ? text : b64, n);
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* {"content":[{"type":"text","text":...}, files...], "structuredContent"?,
 * "isError"}; files NULL: none. */
static yajl_gen_status
gen_tool_result (yajl_gen g, const char *id, const char *text, size_t len, bool structured,
                 bool is_error, const struct outfiles *files)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("jsonrpc", "2.0");
        GEN_STR ("id");
        GEN_RAW (id, strlen (id));
        GEN_STR ("result");
        GEN (yajl_gen_map_open (g));
        GEN_STR ("content");
        GEN (yajl_gen_array_open (g));
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "text");
        GEN_STR ("text");
        GEN_STRN (text, len);
        GEN (yajl_gen_map_close (g));
        for (size_t i = 0; files && i < files->nfiles; i++)
                GEN (gen_file_content (g, &files->files[i]));
        GEN (yajl_gen_array_close (g));
        if (structured) {
                GEN_STR ("structuredContent");
                GEN_RAW (text, len);
        }
        GEN_KV_BOOL ("isError", is_error);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
mcp_rpc_result (yajl_gen g, void *call_, const struct api_env *env, const struct api_request *in,
                const struct exec_result *res, const char *error)
{
        struct mcp_call *call = call_;
        cleanup_free char *text = NULL;
        size_t len;

        (void) env;
        if (res == NULL) {
                cleanup_free char *clean = NULL;
                size_t clean_len;

                if (ce_utf8_sanitize (error, strlen (error), &clean, &clean_len) < 0)
                        return yajl_gen_invalid_string;
                return gen_tool_result (g, call->id, clean, clean_len, false, true, NULL);
        }
        if (structured_text (in, res, &text, &len) < 0)
                return yajl_gen_in_error_state;
        return gen_tool_result (g, call->id, text, len, true, run_failed (res), &res->files);
}

/* -- progress: the run's events as notifications/progress ----------------- */

/* {"jsonrpc":"2.0","method":"notifications/progress","params":{...,"message":msg}} */
static yajl_gen_status
gen_progress (yajl_gen g, struct mcp_call *call, const char *msg, size_t len)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("jsonrpc", "2.0");
        GEN_KV_STR ("method", "notifications/progress");
        GEN_STR ("params");
        GEN (yajl_gen_map_open (g));
        GEN_STR ("progressToken");
        GEN_RAW (call->token, strlen (call->token));
        GEN_KV_INT ("progress", ++call->progress);
        GEN_STR ("message");
        GEN_STRN (msg, len);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
mcp_event_stage (yajl_gen g, void *ctx, enum exec_stage stage)
{
        const char *msg = stage == EXEC_STAGE_COMPILE ? "compiling" : "running";

        return gen_progress (g, ctx, msg, strlen (msg));
}

static yajl_gen_status
mcp_event_output (yajl_gen g, void *ctx, enum exec_stage stage, int stream, const char *text,
                  size_t len)
{
        (void) stage;
        (void) stream;
        return gen_progress (g, ctx, text, len);
}

static yajl_gen_status
mcp_event_skipped (yajl_gen g, void *ctx, enum exec_stage stage, int stream, uint64_t bytes)
{
        char msg[128];

        snprintf (msg, sizeof (msg), "[%" PRIu64 " bytes of %s's %s not shown live]", bytes,
                  exec_stage_name (stage), events_stream_name (stream));
        return gen_progress (g, ctx, msg, strlen (msg));
}

static yajl_gen_status
mcp_event_exit (yajl_gen g, void *ctx, enum exec_stage stage, const struct runner_result *res)
{
        char msg[160];
        enum runner_status s = res->status == RUN_RUNTIME_ERROR && stage == EXEC_STAGE_COMPILE
                                       ? RUN_COMPILE_ERROR
                                       : res->status;

        snprintf (msg, sizeof (msg), "%s ended: %s, exit code %d", exec_stage_name (stage),
                  runner_status_name (s), res->exit_code);
        return gen_progress (g, ctx, msg, strlen (msg));
}

static yajl_gen_status
mcp_event_test (yajl_gen g, void *ctx, size_t index, const char *name, enum verdict v,
                const struct runner_result *run)
{
        char msg[400];

        (void) run;
        snprintf (msg, sizeof (msg), "test %zu%s%.255s%s: %s", index, name ? " (" : "",
                  name ? name : "", name ? ")" : "", verdict_name (v));
        return gen_progress (g, ctx, msg, strlen (msg));
}

static const struct events_dialect mcp_events = {
        mcp_event_stage, mcp_event_output, mcp_event_skipped, mcp_event_exit, mcp_event_test,
};

/* -- calls ---------------------------------------------------------------- */

static void
mcp_rpc_watch (void *call_, void (*cancel) (void *arg), void *arg)
{
        struct mcp_call *call = call_;
        bool now;

        pthread_mutex_lock (&lock);
        call->cancel = cancel;
        call->cancel_arg = arg;
        now = call->cancelled;
        if (now)
                cancel (arg);
        pthread_mutex_unlock (&lock);
}

static void
mcp_rpc_end (void *call_)
{
        struct mcp_call *call = call_;

        pthread_mutex_lock (&lock);
        if (call->session) {
                for (struct mcp_call **link = &call->session->calls; *link; link = &(*link)->next)
                        if (*link == call) {
                                *link = call->next;
                                break;
                        }
                call->session->used = ce_now ();
        }
        pthread_mutex_unlock (&lock);
        free (call);
}

/* Cancel the session's call whose id is `id` (JSON text); lock held. */
static void
cancel_call (struct mcp_session *s, const char *id)
{
        for (struct mcp_call *c = s->calls; c; c = c->next)
                if (strcmp (c->id, id) == 0) {
                        c->cancelled = true;
                        if (c->cancel)
                                c->cancel (c->cancel_arg);
                }
}

/* -- messages ------------------------------------------------------------- */

struct message {
        yajl_val doc;
        char id[MAX_ID_TEXT]; /* "" for a notification */
        const char *method;
        yajl_val params; /* an object, or NULL */
        const char *session;
};

static enum api_rpc_kind
initialize (const struct api_env *env, struct api_rpc *rpc, const struct message *m)
{
        yajl_val pv = m->params ? api_member (m->params, "protocolVersion") : NULL;
        const char *version = pv && YAJL_IS_STRING (pv) && version_known (pv->u.string)
                                      ? pv->u.string
                                      : MCP_LATEST;
        unsigned char r[16];
        struct mcp_session *s;
        yajl_gen g;
        yajl_gen_status st;
        enum api_rpc_kind kind;

        if (getrandom (r, sizeof (r), 0) != (ssize_t) sizeof (r))
                return answer_error (rpc, 500, m->id, JSONRPC_INTERNAL_ERROR,
                                     "cannot make a session id");
        pthread_mutex_lock (&lock);
        sessions_expire (env->mcp_session_idle_s);
        if (nsessions >= env->mcp_max_sessions) {
                pthread_mutex_unlock (&lock);
                return answer_error (rpc, 503, m->id, JSONRPC_INTERNAL_ERROR,
                                     "too many MCP sessions (%zu); end one (DELETE /mcp) or retry "
                                     "later",
                                     env->mcp_max_sessions);
        }
        s = calloc (1, sizeof (*s));
        if (s == NULL) {
                pthread_mutex_unlock (&lock);
                return answer_error (rpc, 500, m->id, JSONRPC_INTERNAL_ERROR, "out of memory");
        }
        for (size_t i = 0; i < sizeof (r); i++)
                snprintf (s->id + 2 * i, 3, "%02x", r[i]);
        snprintf (s->version, sizeof (s->version), "%s", version);
        s->used = ce_now ();
        s->next = sessions;
        sessions = s;
        nsessions++;
        rpc->header_name = SESSION_HEADER;
        snprintf (rpc->header_value, sizeof (rpc->header_value), "%s", s->id);
        pthread_mutex_unlock (&lock);

        if ((g = jsongen_new ()) == NULL)
                return answer_gen (rpc, 500, NULL, yajl_gen_in_error_state);
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("jsonrpc", "2.0");
        GEN_STR ("id");
        GEN_RAW (m->id, strlen (m->id));
        GEN_STR ("result");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("protocolVersion", version);
        GEN_STR ("capabilities");
        GEN (yajl_gen_map_open (g));
        GEN_STR ("tools");
        GEN (yajl_gen_map_open (g));
        GEN_KV_BOOL ("listChanged", false);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
        GEN_STR ("serverInfo");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("name", "codeengine");
        GEN_KV_STR ("title", "CodeEngine");
        GEN_KV_STR ("version", CE_VERSION);
        GEN (yajl_gen_map_close (g));
        GEN_KV_STR ("instructions", instructions);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        kind = answer_gen (rpc, 200, g, st);
        yajl_gen_free (g);
        return kind;
}

typedef yajl_gen_status (*result_fill) (yajl_gen g, const struct api_env *env);

/* {"jsonrpc":"2.0","id":ID,"result":<fill>} */
static enum api_rpc_kind
answer_result (struct api_rpc *rpc, const struct api_env *env, const char *id, result_fill fill)
{
        yajl_gen g = jsongen_new ();
        yajl_gen_status st;
        enum api_rpc_kind kind;

        if (g == NULL)
                return answer_gen (rpc, 500, NULL, yajl_gen_in_error_state);
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("jsonrpc", "2.0");
        GEN_STR ("id");
        GEN_RAW (id, strlen (id));
        GEN_STR ("result");
        GEN (fill (g, env));
        GEN (yajl_gen_map_close (g));
fail:
        kind = answer_gen (rpc, 200, g, st);
        yajl_gen_free (g);
        return kind;
}

static yajl_gen_status
fill_empty (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        (void) env;
        GEN (yajl_gen_map_open (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
fill_tools (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN (gen_tools (g, env));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* A tool's answer that is not a run: text, structured or not. */
static enum api_rpc_kind
answer_tool (struct api_rpc *rpc, const char *id, const char *text, size_t len, bool structured,
             bool is_error)
{
        yajl_gen g = jsongen_new ();
        enum api_rpc_kind kind;

        if (g == NULL)
                return answer_gen (rpc, 500, NULL, yajl_gen_in_error_state);
        kind = answer_gen (rpc, 200, g,
                           gen_tool_result (g, id, text, len, structured, is_error, NULL));
        yajl_gen_free (g);
        return kind;
}

static enum api_rpc_kind
tool_refused (struct api_rpc *rpc, const char *id, const char *msg)
{
        cleanup_free char *clean = NULL;
        size_t len;

        if (ce_utf8_sanitize (msg, strlen (msg), &clean, &len) < 0)
                return answer_gen (rpc, 500, NULL, yajl_gen_in_error_state);
        return answer_tool (rpc, id, clean, len, false, true);
}

static enum api_rpc_kind
list_languages (const struct api_env *env, struct api_rpc *rpc, const char *id)
{
        yajl_gen g = jsongen_new ();
        const unsigned char *buf;
        size_t len;
        enum api_rpc_kind kind;

        if (g == NULL)
                return answer_gen (rpc, 500, NULL, yajl_gen_in_error_state);
        if (gen_language_list (g, env) != yajl_gen_status_ok
            || yajl_gen_get_buf (g, &buf, &len) != yajl_gen_status_ok)
                kind = answer_gen (rpc, 500, NULL, yajl_gen_in_error_state);
        else
                kind = answer_tool (rpc, id, (const char *) buf, len, true, false);
        yajl_gen_free (g);
        return kind;
}

/* run_code: its arguments are the native body; translated by its parser. */
static enum api_rpc_kind
run_code (const struct api_env *env, struct api_rpc *rpc, const struct message *m, yajl_val args)
{
        yajl_val meta = api_member (m->params, "_meta");
        yajl_val token = meta && YAJL_IS_OBJECT (meta) ? api_member (meta, "progressToken") : NULL;
        struct api_request in = { 0 };
        struct ce_error err = { 0 };
        struct mcp_session **link;
        struct mcp_call *call;
        const unsigned char *buf;
        size_t len;
        void *parser = NULL;
        yajl_gen g;
        int ret;

        if ((g = jsongen_new ()) == NULL)
                return answer_gen (rpc, 500, NULL, yajl_gen_in_error_state);
        if (gen_tree (g, args, 0) != yajl_gen_status_ok
            || yajl_gen_get_buf (g, &buf, &len) != yajl_gen_status_ok
            || (parser = api_native.parser_new (env->max_body, NULL)) == NULL) {
                yajl_gen_free (g);
                return answer_error (rpc, 200, m->id, JSONRPC_INVALID_PARAMS,
                                     "arguments: cannot be read");
        }
        ret = api_native.feed (parser, (const char *) buf, len, &err);
        yajl_gen_free (g);
        if (ret == 0)
                ret = api_native.finish (parser, env, &in, &err);
        api_native.parser_free (parser);
        if (ret == 0)
                ret = api_plan (env, &in, &err);
        if (ret < 0) {
                request_free (in.req);
                return tool_refused (rpc, m->id, err.msg);
        }
        call = calloc (1, sizeof (*call));
        if (call == NULL) {
                request_free (in.req);
                return answer_error (rpc, 500, m->id, JSONRPC_INTERNAL_ERROR, "out of memory");
        }
        snprintf (call->id, sizeof (call->id), "%s", m->id);
        if (token && ! id_text (token, call->token)) {
                free (call);
                request_free (in.req);
                return answer_error (rpc, 200, m->id, JSONRPC_INVALID_PARAMS,
                                     "_meta.progressToken must be a string or a number");
        }
        pthread_mutex_lock (&lock);
        link = session_find (m->session);
        if (link) {
                call->session = *link;
                call->next = (*link)->calls;
                (*link)->calls = call;
        }
        pthread_mutex_unlock (&lock);
        rpc->in = in;
        rpc->call = call;
        rpc->stream = token != NULL;
        return API_RPC_RUN;
}

static enum api_rpc_kind
tools_call (const struct api_env *env, struct api_rpc *rpc, const struct message *m)
{
        yajl_val name = m->params ? api_member (m->params, "name") : NULL;
        yajl_val args = m->params ? api_member (m->params, "arguments") : NULL;
        static const struct yajl_val_s empty = { .type = yajl_t_object };

        if (name == NULL || ! YAJL_IS_STRING (name))
                return answer_error (rpc, 200, m->id, JSONRPC_INVALID_PARAMS,
                                     "params.name: the tool's name is missing");
        if (args && ! YAJL_IS_OBJECT (args) && ! YAJL_IS_NULL (args))
                return answer_error (rpc, 200, m->id, JSONRPC_INVALID_PARAMS,
                                     "params.arguments must be an object");
        if (args == NULL || YAJL_IS_NULL (args))
                args = (yajl_val) &empty;
        if (strcmp (name->u.string, "run_code") == 0)
                return run_code (env, rpc, m, args);
        if (strcmp (name->u.string, "list_languages") == 0)
                return list_languages (env, rpc, m->id);
        return answer_error (rpc, 200, m->id, JSONRPC_INVALID_PARAMS,
                             "unknown tool '%.64s': the tools are run_code and list_languages",
                             name->u.string);
}

/* The session a message names: 0, or an answer made (400 missing, 404 unknown). */
static int
check_session (const struct api_env *env, struct api_rpc *rpc, const struct message *m)
{
        bool known;

        if (m->session == NULL) {
                answer_error (rpc, 400, m->id, JSONRPC_INVALID_REQUEST,
                              "missing " SESSION_HEADER ": initialize first");
                return -1;
        }
        pthread_mutex_lock (&lock);
        sessions_expire (env->mcp_session_idle_s);
        known = session_find (m->session) != NULL;
        pthread_mutex_unlock (&lock);
        if (! known) {
                answer_error (rpc, 404, m->id, JSONRPC_INVALID_REQUEST,
                              "unknown or ended session: initialize again");
                return -1;
        }
        return 0;
}

static enum api_rpc_kind
notification (const struct api_env *env, struct api_rpc *rpc, const struct message *m)
{
        if (check_session (env, rpc, m) < 0)
                return API_RPC_ANSWER;
        if (strcmp (m->method, "notifications/cancelled") == 0 && m->params) {
                char id[MAX_ID_TEXT];
                struct mcp_session **link;

                if (id_text (api_member (m->params, "requestId"), id)) {
                        pthread_mutex_lock (&lock);
                        link = session_find (m->session);
                        if (link)
                                cancel_call (*link, id);
                        pthread_mutex_unlock (&lock);
                }
        }
        /* Anything else (initialized, progress, roots changed...) needs nothing. */
        return answer_empty (rpc, 202);
}

static enum api_rpc_kind
end_session (const struct api_env *env, struct api_rpc *rpc, const char *id)
{
        struct mcp_session **link;

        (void) env;
        if (id == NULL)
                return answer_error (rpc, 400, NULL, JSONRPC_INVALID_REQUEST,
                                     "missing " SESSION_HEADER);
        pthread_mutex_lock (&lock);
        link = session_find (id);
        if (link) {
                for (struct mcp_call *c = (*link)->calls; c; c = c->next)
                        if (c->cancel)
                                c->cancel (c->cancel_arg);
                session_drop (link);
        }
        pthread_mutex_unlock (&lock);
        if (link == NULL)
                return answer_error (rpc, 404, NULL, JSONRPC_INVALID_REQUEST,
                                     "unknown or ended session");
        return answer_empty (rpc, 200);
}

static enum api_rpc_kind
mcp_rpc_message (void *parser, const struct api_env *env, struct api_rpc *rpc)
{
        struct api_body_parser *p = parser;
        const char *origin = api_query_get (rpc->header, "Origin");
        const char *accept = api_query_get (rpc->header, "Accept");
        const char *type = api_query_get (rpc->header, "Content-Type");
        const char *version = api_query_get (rpc->header, "MCP-Protocol-Version");
        struct message m = { .session = api_query_get (rpc->header, SESSION_HEADER) };
        char errbuf[128];
        yajl_val v, method;
        enum api_rpc_kind kind;

        if (! origin_allowed (env, origin, api_query_get (rpc->header, "Host")))
                return answer_error (rpc, 403, NULL, JSONRPC_INVALID_REQUEST,
                                     "Origin '%.200s' is not allowed (--mcp-allow-origin)", origin);
        if (version && ! version_known (version))
                return answer_error (rpc, 400, NULL, JSONRPC_INVALID_REQUEST,
                                     "unsupported MCP-Protocol-Version '%.40s' (supported: %s, "
                                     "%s, %s)",
                                     version, versions[0], versions[1], versions[2]);
        if (strcmp (rpc->method, "DELETE") == 0)
                return end_session (env, rpc, m.session);
        if (! header_has (accept, "application/json") || ! header_has (accept, "text/event-stream"))
                return answer_error (rpc, 406, NULL, JSONRPC_INVALID_REQUEST,
                                     "Accept must list application/json and text/event-stream");
        if (type == NULL || strncasecmp (type, "application/json", 16) != 0)
                return answer_error (rpc, 415, NULL, JSONRPC_INVALID_REQUEST,
                                     "Content-Type must be application/json");
        if (ce_buf_append (&p->body, "", 1) < 0)
                return answer_error (rpc, 500, NULL, JSONRPC_INTERNAL_ERROR, "out of memory");
        m.doc = yajl_tree_parse (p->body.data, errbuf, sizeof (errbuf));
        if (m.doc == NULL) {
                errbuf[strcspn (errbuf, "\n")] = '\0';
                return answer_error (rpc, 400, NULL, JSONRPC_PARSE_ERROR, "parse error: %s",
                                     errbuf);
        }
        v = m.doc;
        if (YAJL_IS_ARRAY (v)) {
                kind = answer_error (rpc, 400, NULL, JSONRPC_INVALID_REQUEST,
                                     "one JSON-RPC message per POST: batches are not supported");
                goto out;
        }
        if (! YAJL_IS_OBJECT (v) || ! api_member (v, "jsonrpc")
            || ! YAJL_IS_STRING (api_member (v, "jsonrpc"))
            || strcmp (api_member (v, "jsonrpc")->u.string, "2.0") != 0) {
                kind = answer_error (rpc, 400, NULL, JSONRPC_INVALID_REQUEST,
                                     "not a JSON-RPC 2.0 message");
                goto out;
        }
        method = api_member (v, "method");
        if (api_member (v, "id") && ! YAJL_IS_NULL (api_member (v, "id"))
            && ! id_text (api_member (v, "id"), m.id)) {
                kind = answer_error (rpc, 400, NULL, JSONRPC_INVALID_REQUEST,
                                     "id must be a string or a number");
                goto out;
        }
        if (method == NULL && (api_member (v, "result") || api_member (v, "error"))) {
                /* A response to a request of ours: we send none, nothing to do. */
                kind = check_session (env, rpc, &m) < 0 ? API_RPC_ANSWER : answer_empty (rpc, 202);
                goto out;
        }
        if (method == NULL || ! YAJL_IS_STRING (method)) {
                kind = answer_error (rpc, 400, m.id, JSONRPC_INVALID_REQUEST,
                                     "the message has no method");
                goto out;
        }
        m.method = method->u.string;
        m.params = api_member (v, "params");
        if (m.params && ! YAJL_IS_OBJECT (m.params)) {
                kind = answer_error (rpc, 200, m.id, JSONRPC_INVALID_PARAMS,
                                     "params must be an object");
                goto out;
        }
        if (m.id[0] == '\0') {
                kind = notification (env, rpc, &m);
                goto out;
        }
        if (strcmp (m.method, "initialize") == 0) {
                kind = initialize (env, rpc, &m);
                goto out;
        }
        if (check_session (env, rpc, &m) < 0) {
                kind = API_RPC_ANSWER;
                goto out;
        }
        if (strcmp (m.method, "ping") == 0)
                kind = answer_result (rpc, env, m.id, fill_empty);
        else if (strcmp (m.method, "tools/list") == 0)
                kind = answer_result (rpc, env, m.id, fill_tools);
        else if (strcmp (m.method, "tools/call") == 0)
                kind = tools_call (env, rpc, &m);
        else
                kind = answer_error (rpc, 200, m.id, JSONRPC_METHOD_NOT_FOUND,
                                     "method '%.64s' not found (this server offers tools)",
                                     m.method);
out:
        yajl_tree_free (m.doc);
        return kind;
}

static const struct api_route mcp_routes[] = {
        { .path = "",
          .methods = "POST, DELETE",
          .kind = API_ROUTE_RPC,
          .wrong_method = "MCP's Streamable HTTP: POST one JSON-RPC message to /mcp (no "
                          "server-initiated stream: GET is not offered), DELETE ends a session" },
        { .path = NULL },
};

const struct api_frontend api_mcp = {
        .name = "mcp",
        .prefix = "/mcp",
        .routes = mcp_routes,
        .not_found = "not found: MCP is at /mcp",
        .parser_new = api_body_parser_new,
        .parser_free = api_body_parser_free,
        .feed = api_body_parser_feed,
        .finish = mcp_finish,
        .gen_error = mcp_gen_error,
        .events = &mcp_events,
        .rpc_message = mcp_rpc_message,
        .rpc_watch = mcp_rpc_watch,
        .rpc_result = mcp_rpc_result,
        .rpc_end = mcp_rpc_end,
};
