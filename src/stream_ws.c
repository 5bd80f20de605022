/*
 * stream_ws.c - the WebSocket transport over libwslay (see stream_ws.h).
 *
 * Threads and ownership.  A connection (struct ws_conn) is held by its own
 * thread and, while its execution may run, by the pool worker: `refs`
 * counts them and the last frees it.  Only the connection thread touches
 * the socket and the wslay context, and calls the protocol's on_message.
 * The worker and the supervisor thread
 * (live output) only append ready messages to `outq` under `lock` and poke
 * `wake` (an eventfd); they never wait for the client.  The thread polls
 * the socket, `wake` and, when a client's stdin is waiting, the program's
 * stdin socket.
 */
#include "stream_ws.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <wslay/wslay.h>

#include "jsongen.h"
#include "stream_ndjson.h" /* STREAM_MAX_PENDING */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define CLOSE_TIMEOUT_MS 2000     /* after our close frame, for the client's */
#define MAX_STDIN_PENDING 1048576 /* client stdin the program has not read yet */
/* Bytes handed to wslay at once: the rest waits in outq, where it counts
 * against the connection's bound (and can be dropped as output). */
#define WSLAY_MAX_QUEUED (64 * 1024)
/* What one queued message costs beyond its text: our header and malloc's. */
#define MSG_OVERHEAD (sizeof (struct ws_msg) + 16)

struct ws_hub {
        const struct ws_config *cfg;
        pthread_mutex_t lock; /* guards the list, count, reserved, started and stopping */
        pthread_cond_t gone;  /* signalled when count drops */
        struct ws_conn *conns;
        size_t count;     /* connection threads */
        size_t reserved;  /* handshakes answered (tickets) and not yet upgraded */
        unsigned started; /* connection threads started, for their names */
        bool stopping;
};

/* One answered handshake's slot in hub->count, until the upgrade takes it
 * over or the request ends without one (ws_ticket_release). */
struct ws_ticket {
        struct ws_hub *hub;
        const struct ws_protocol *protocol;
        bool upgraded; /* guarded by hub->lock */
};

struct ws_msg {
        struct ws_msg *next;
        size_t len;
        char data[];
};

struct ws_conn {
        struct ws_hub *hub;
        const struct ws_protocol *protocol;
        struct ws_conn *prev, *next; /* in hub->conns */
        MHD_socket sock;
        struct MHD_UpgradeResponseHandle *urh;
        char *extra; /* bytes libmicrohttpd read past the handshake */
        size_t extra_len, extra_off;
        wslay_event_context_ptr ctx;
        int wake; /* eventfd: outq or stdin changed, or the hub stops */

        pthread_mutex_t lock; /* guards everything up to `sink` */
        int refs;
        struct ws_msg *outq, **outq_tail;
        size_t out_bytes;     /* what outq holds, MSG_OVERHEAD included: all of it
                               * counted in the server's total (sink_budget) */
        bool job_done;        /* the last message of the job is queued */
        bool failed;          /* ... and it was an error: the error close */
        bool thread_gone;     /* nobody takes stdin_new any more */
        int stdin_new;        /* from the worker, for the thread */
        struct events events; /* the protocol's messages for the execution's events */
        struct exec_sink sink;

        /* the connection thread's own */
        bool started, close_queued;
        bool recv_failed;          /* the socket itself failed or closed (not the protocol) */
        struct timespec last_sent; /* the last time the socket took a byte, or had none to take */
        size_t peak_bytes;         /* the most outq held: memory to give back at the end */
        uint16_t finish_code;      /* close with it once every queued message is sent */
        const char *finish_reason;
        struct timespec start_deadline, close_deadline;
        int kill_fd;  /* closing it kills the container (the worker watches its peer) */
        int stdin_fd; /* the program's stdin, ours to write */
        struct ce_buf stdin_buf;
        size_t stdin_off;

        /* the job, the worker's while it runs */
        struct job job;
        int kill_peer; /* the job's client_fd: hangs up when kill_fd closes */
        struct api_request in;
};

struct ws_hub *
ws_hub_new (const struct ws_config *cfg)
{
        struct ws_hub *h = calloc (1, sizeof (*h));

        if (h == NULL)
                return NULL;
        h->cfg = cfg;
        if (ce_cond_init_monotonic (&h->gone) != 0) {
                free (h);
                return NULL;
        }
        pthread_mutex_init (&h->lock, NULL);
        return h;
}

/* -- the handshake ------------------------------------------------------------ */

static bool
header_has_token (struct MHD_Connection *conn, const char *name, const char *token)
{
        const char *v = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, name);

        return v && strcasestr (v, token) != NULL;
}

static void ws_on_upgrade (void *cls, struct MHD_Connection *connection, void *con_cls,
                           const char *extra_in, size_t extra_in_size, MHD_socket sock,
                           struct MHD_UpgradeResponseHandle *urh);

void
ws_ticket_release (struct ws_ticket *t)
{
        struct ws_hub *h;

        if (t == NULL)
                return;
        h = t->hub;
        pthread_mutex_lock (&h->lock);
        if (! t->upgraded)
                h->reserved--;
        pthread_mutex_unlock (&h->lock);
        free (t);
}

struct MHD_Response *
ws_upgrade_response (struct ws_hub *hub, struct MHD_Connection *conn,
                     const struct ws_protocol *protocol, struct ws_ticket **ticket,
                     unsigned *status, char *msg, size_t msg_size)
{
        const char *key = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
        const char *version =
                MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
        uint8_t digest[SHA1_DIGEST_SIZE];
        char accept[BASE64_ENCODE_RAW_LENGTH (SHA1_DIGEST_SIZE) + 1];
        struct sha1_ctx sha;
        struct MHD_Response *resp;
        struct ws_ticket *t;
        bool full, stopping;

        *ticket = NULL;
        *status = 400;
        if (! header_has_token (conn, MHD_HTTP_HEADER_UPGRADE, "websocket")
            || ! header_has_token (conn, MHD_HTTP_HEADER_CONNECTION, "upgrade")) {
                snprintf (msg, msg_size,
                          "GET %s is a WebSocket: send Connection: Upgrade and Upgrade: websocket",
                          protocol->route);
                return NULL;
        }
        if (version == NULL || strcmp (version, "13") != 0) {
                *status = 426;
                snprintf (msg, msg_size, "%s", "only WebSocket version 13 is supported");
                return NULL;
        }
        if (key == NULL || strlen (key) != 24) {
                snprintf (msg, msg_size, "%s", "missing or malformed Sec-WebSocket-Key");
                return NULL;
        }
        sha1_init (&sha);
        sha1_update (&sha, strlen (key), (const uint8_t *) key);
        sha1_update (&sha, strlen (WS_GUID), (const uint8_t *) WS_GUID);
        sha1_digest (&sha, sizeof (digest), digest);
        base64_encode_raw (accept, sizeof (digest), digest);
        accept[BASE64_ENCODE_RAW_LENGTH (SHA1_DIGEST_SIZE)] = '\0';
        t = calloc (1, sizeof (*t));
        if (t == NULL) {
                *status = 500;
                snprintf (msg, msg_size, "%s", "out of memory");
                return NULL;
        }
        t->hub = hub;
        t->protocol = protocol;
        /* Refuse before any 101: a client over the cap gets a status it can
         * act on, not an upgrade and then a bare close. */
        pthread_mutex_lock (&hub->lock);
        stopping = hub->stopping;
        full = hub->count + hub->reserved >= hub->cfg->max_connections;
        if (! stopping && ! full)
                hub->reserved++; /* the ticket's, until the upgrade or the release */
        pthread_mutex_unlock (&hub->lock);
        if (stopping || full) {
                free (t);
                *status = 503;
                snprintf (msg, msg_size, "%s",
                          stopping ? "the server is shutting down"
                                   : "too many WebSocket connections; retry later");
                return NULL;
        }
        resp = MHD_create_response_for_upgrade (ws_on_upgrade, t);
        if (resp == NULL) {
                ws_ticket_release (t);
                *status = 500;
                snprintf (msg, msg_size, "%s", "out of memory");
                return NULL;
        }
        *ticket = t;
        MHD_add_response_header (resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
        MHD_add_response_header (resp, "Sec-WebSocket-Accept", accept);
        return resp;
}

/* -- messages to the client (any thread) -------------------------------------- */

static void
wake (struct ws_conn *c)
{
        (void) eventfd_write (c->wake, 1);
}

/* Queue one message's text.  Lock held.  Output (droppable) past the
 * bound is refused: returns false.  The events' push (events.h). */
static bool
enqueue_text (void *arg, const unsigned char *buf, size_t len, bool droppable)
{
        struct ws_conn *c = arg;
        struct ws_msg *m;

        /* Output counts against this connection's bound and the server's
         * total; the few other messages of a job are always kept. */
        if (droppable
            && (c->out_bytes + len + MSG_OVERHEAD > STREAM_MAX_PENDING
                || ! sink_budget_take (len + MSG_OVERHEAD)))
                return false;
        if (! droppable)
                sink_budget_add (len + MSG_OVERHEAD);
        m = malloc (sizeof (*m) + len);
        if (m == NULL) {
                sink_budget_release (len + MSG_OVERHEAD);
                return false;
        }
        m->next = NULL;
        m->len = len;
        memcpy (m->data, buf, len);
        *c->outq_tail = m;
        c->outq_tail = &m->next;
        c->out_bytes += len + MSG_OVERHEAD;
        if (c->out_bytes > c->peak_bytes)
                c->peak_bytes = c->out_bytes;
        wake (c);
        return true;
}

/* Queue g's text as one message that is always kept.  Lock held. */
static void
enqueue (struct ws_conn *c, yajl_gen g)
{
        const unsigned char *buf;
        size_t len;

        if (yajl_gen_get_buf (g, &buf, &len) == yajl_gen_status_ok)
                enqueue_text (c, buf, len, false);
}

/* Whether output would pass the connection's bound now.  Lock held. */
static bool
is_full (void *arg)
{
        struct ws_conn *c = arg;

        return c->out_bytes + MSG_OVERHEAD >= STREAM_MAX_PENDING;
}

/* Supervisor thread, its lock held: only our lock, held briefly. */
static void
sink_output (void *arg, int stream, const char *data, size_t len)
{
        struct ws_conn *c = arg;

        pthread_mutex_lock (&c->lock);
        events_output (&c->events, stream, data, len);
        pthread_mutex_unlock (&c->lock);
}

static void
sink_stage_start (void *arg, enum exec_stage stage)
{
        struct ws_conn *c = arg;

        pthread_mutex_lock (&c->lock);
        events_stage_start (&c->events, stage);
        pthread_mutex_unlock (&c->lock);
}

static void
sink_stage_end (void *arg, enum exec_stage stage, const struct runner_result *res)
{
        struct ws_conn *c = arg;

        pthread_mutex_lock (&c->lock);
        events_stage_end (&c->events, stage, res);
        pthread_mutex_unlock (&c->lock);
}

static void
sink_stdin_open (void *arg, int fd)
{
        struct ws_conn *c = arg;

        pthread_mutex_lock (&c->lock);
        if (c->thread_gone || c->stdin_new >= 0) {
                close (fd);
        } else {
                c->stdin_new = fd;
                wake (c);
        }
        pthread_mutex_unlock (&c->lock);
}

/* The protocol's error message, then (once the job is done) its error
 * close.  Lock held. */
static void
send_error (struct ws_conn *c, const char *msg)
{
        cleanup_free char *clean = NULL;
        size_t len;
        yajl_gen g = jsongen_new ();

        /* Messages may quote the client's input, cut at a byte limit. */
        if (g && ce_utf8_sanitize (msg, strlen (msg), &clean, &len) == 0
            && c->protocol->gen_error (g, clean) == yajl_gen_status_ok)
                enqueue (c, g);
        if (g)
                yajl_gen_free (g);
        c->failed = true;
}

static void
conn_unref (struct ws_conn *c)
{
        bool last, big;

        pthread_mutex_lock (&c->lock);
        last = --c->refs == 0;
        pthread_mutex_unlock (&c->lock);
        if (! last)
                return;
        while (c->outq) {
                struct ws_msg *m = c->outq;

                c->outq = m->next;
                free (m);
        }
        sink_budget_release (c->out_bytes);
        request_free (c->in.req);
        job_clear (&c->job);
        ce_buf_free (&c->stdin_buf);
        if (c->stdin_new >= 0)
                close (c->stdin_new);
        close (c->wake);
        free (c->extra);
        pthread_mutex_destroy (&c->lock);
        big = c->peak_bytes > 256 * 1024;
        free (c);
        /* Many small messages: what they leave is fragments, not one chunk. */
        if (big)
                ce_memory_trim ();
}

/* -- the job (a pool worker) ---------------------------------------------------- */

static struct ws_conn *
conn_of (struct job *j)
{
        return (struct ws_conn *) ((char *) j - offsetof (struct ws_conn, job));
}

static void
job_answer (struct job *j)
{
        struct ws_conn *c = conn_of (j);

        ce_log ("WS %s %s %s", c->protocol->route, c->in.lang->name,
                j->ret < 0 ? "internal_error" : runner_status_name (j->result.status));

        pthread_mutex_lock (&c->lock);
        if (j->ret < 0)
                send_error (c, j->err.msg);
        c->job_done = true;
        wake (c);
        pthread_mutex_unlock (&c->lock);
}

/* The worker is done: the container is gone, so is the kill socket's use. */
static void
job_release (struct job *j)
{
        struct ws_conn *c = conn_of (j);

        close (c->kill_peer);
        c->kill_peer = -1;
        conn_unref (c);
}

static void
job_cancel (struct job *j)
{
        struct ws_conn *c = conn_of (j);

        pthread_mutex_lock (&c->lock);
        send_error (c, "the server is shutting down");
        c->job_done = true;
        wake (c);
        pthread_mutex_unlock (&c->lock);
        close (c->kill_peer);
        c->kill_peer = -1;
        conn_unref (c);
}

static const struct job_ops ws_job_ops = { job_answer, job_release, job_cancel };

/* -- the connection thread --------------------------------------------------------- */

static void
queue_close (struct ws_conn *c, uint16_t code, const char *reason)
{
        if (c->close_queued)
                return;
        c->close_queued = true;
        c->close_deadline = ce_deadline_after_ms (CLOSE_TIMEOUT_MS);
        wslay_event_queue_close (c->ctx, code, (const uint8_t *) reason, strlen (reason));
}

static void
kill_job (struct ws_conn *c)
{
        if (c->kill_fd >= 0) {
                close (c->kill_fd); /* the supervisor sees its peer hang up */
                c->kill_fd = -1;
        }
}

/* -- what a protocol may do (the connection thread) --------------------------------- */

const struct api_env *
ws_conn_env (struct ws_conn *c)
{
        return c->hub->cfg->env;
}

size_t
ws_conn_max_message (struct ws_conn *c)
{
        return c->hub->cfg->max_message;
}

bool
ws_conn_started (struct ws_conn *c)
{
        return c->started;
}

bool
ws_conn_running (struct ws_conn *c)
{
        return c->kill_fd >= 0;
}

void
ws_conn_send (struct ws_conn *c, yajl_gen g)
{
        pthread_mutex_lock (&c->lock);
        enqueue (c, g);
        pthread_mutex_unlock (&c->lock);
}

void
ws_conn_close (struct ws_conn *c, uint16_t code, const char *reason)
{
        queue_close (c, code, reason);
}

void
ws_conn_kill (struct ws_conn *c)
{
        kill_job (c);
}

void
ws_conn_refuse (struct ws_conn *c, const char *msg)
{
        c->started = true;
        pthread_mutex_lock (&c->lock);
        send_error (c, msg);
        c->job_done = true;
        pthread_mutex_unlock (&c->lock);
}

void
ws_conn_error (struct ws_conn *c, const char *msg)
{
        pthread_mutex_lock (&c->lock);
        send_error (c, msg);
        pthread_mutex_unlock (&c->lock);
        c->finish_code = c->protocol->error_code;
        c->finish_reason = c->protocol->error_reason;
}

void
ws_conn_start (struct ws_conn *c, struct api_request *in)
{
        struct ws_hub *h = c->hub;
        int sv[2];

        c->started = true;
        c->in = *in; /* owned by c: conn_unref frees it */
        *in = (struct api_request){ 0 };
        if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                char msg[128];

                snprintf (msg, sizeof (msg), "socketpair: %s", strerror (errno));
                ws_conn_refuse (c, msg);
                return;
        }
        c->kill_fd = sv[0];
        c->kill_peer = sv[1];
        pthread_mutex_lock (&c->lock);
        c->refs++; /* the worker's */
        pthread_mutex_unlock (&c->lock);
        ce_log ("WS %s %s init", c->protocol->route, c->in.lang->name);
        c->job = (struct job){ .ops = &ws_job_ops,
                               .env = h->cfg->exec,
                               .plan = &c->in.plan,
                               .req = c->in.req,
                               .client_fd = c->kill_peer,
                               .sink = &c->sink };
        if (job_submit (h->cfg->pool, &c->job) < 0) {
                close (c->kill_peer);
                c->kill_peer = -1;
                pthread_mutex_lock (&c->lock);
                c->refs--;
                send_error (c, "too many executions waiting, or the server is shutting down");
                c->job_done = true;
                pthread_mutex_unlock (&c->lock);
        }
}

void
ws_conn_stdin (struct ws_conn *c, const char *data, size_t len)
{
        if (c->stdin_buf.len - c->stdin_off + len > MAX_STDIN_PENDING) {
                pthread_mutex_lock (&c->lock);
                send_error (c, "the program does not read its stdin fast enough");
                pthread_mutex_unlock (&c->lock);
                kill_job (c);
                return;
        }
        ce_buf_append (&c->stdin_buf, data, len);
}

/* -- the connection thread, on -------------------------------------------------------- */

static ssize_t
on_recv (wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
        struct ws_conn *c = user;
        ssize_t n;

        (void) flags;
        if (c->extra_off < c->extra_len) {
                n = (ssize_t) (c->extra_len - c->extra_off < len ? c->extra_len - c->extra_off
                                                                 : len);
                memcpy (buf, c->extra + c->extra_off, (size_t) n);
                c->extra_off += (size_t) n;
                return n;
        }
        n = recv (c->sock, buf, len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                wslay_event_set_error (ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        if (n <= 0) {
                c->recv_failed = true;
                wslay_event_set_error (ctx, WSLAY_ERR_CALLBACK_FAILURE);
                return -1;
        }
        return n;
}

static ssize_t
on_send (wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
        struct ws_conn *c = user;
        ssize_t n =
                send (c->sock, data, len, MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0));

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                wslay_event_set_error (ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        if (n < 0) {
                wslay_event_set_error (ctx, WSLAY_ERR_CALLBACK_FAILURE);
                return -1;
        }
        c->last_sent = ce_now ();
        return n;
}

static void
on_msg (wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
        struct ws_conn *c = user;

        (void) ctx;
        if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
                c->protocol->on_message (c, (const char *) arg->msg, arg->msg_length);
}

/* Move what the producers queued into wslay, as far as wslay holds less
 * than WSLAY_MAX_QUEUED: a client that reads slowly leaves the rest in
 * outq, where it counts against the bound.  Returns true once the job's
 * last message has gone into wslay. */
static bool
flush_queue (struct ws_conn *c, bool *more)
{
        bool done;

        pthread_mutex_lock (&c->lock);
        while (c->outq
               && (c->close_queued
                   || wslay_event_get_queued_msg_length (c->ctx) < WSLAY_MAX_QUEUED)) {
                struct ws_msg *m = c->outq;
                struct wslay_event_msg msg = { WSLAY_TEXT_FRAME, (const uint8_t *) m->data,
                                               m->len };

                c->outq = m->next;
                if (c->outq == NULL)
                        c->outq_tail = &c->outq;
                c->out_bytes -= m->len + MSG_OVERHEAD;
                sink_budget_release (m->len + MSG_OVERHEAD);
                /* wslay copies the text. */
                if (! c->close_queued)
                        wslay_event_queue_msg (c->ctx, &msg);
                free (m);
        }
        done = c->job_done && c->outq == NULL;
        *more = c->outq != NULL;
        if (c->stdin_new >= 0) {
                c->stdin_fd = c->stdin_new;
                c->stdin_new = -1;
                fcntl (c->stdin_fd, F_SETFL, O_NONBLOCK);
        }
        pthread_mutex_unlock (&c->lock);
        return done;
}

static void
write_stdin (struct ws_conn *c)
{
        while (c->stdin_fd >= 0 && c->stdin_off < c->stdin_buf.len) {
                ssize_t n = send (c->stdin_fd, c->stdin_buf.data + c->stdin_off,
                                  c->stdin_buf.len - c->stdin_off, MSG_NOSIGNAL);

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n < 0) {
                        /* The program is gone or closed its stdin: drop the rest. */
                        c->stdin_off = c->stdin_buf.len;
                        break;
                }
                c->stdin_off += (size_t) n;
        }
        if (c->stdin_off == c->stdin_buf.len)
                c->stdin_off = c->stdin_buf.len = 0;
}

static void linger_close (struct ws_conn *c);

static ssize_t
on_frame_send (const uint8_t *data, size_t len, int flags, void *user)
{
        struct ws_conn *c = user;
        ssize_t n = send (c->sock, data, len, MSG_NOSIGNAL);

        (void) flags;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return WSLAY_ERR_WANT_WRITE;
        return n < 0 ? WSLAY_ERR_CALLBACK_FAILURE : n;
}

/* wslay found a frame it cannot parse (a reserved opcode, a fragmented or
 * oversized control frame...): it queued a close without a status and gave
 * up.  RFC 6455 (7.1.7, 7.4.1) asks for a close frame with 1002: send one
 * with wslay's frame layer, only when no message of ours is half sent (the
 * close wslay queued is all it holds), and bounded by CLOSE_TIMEOUT_MS. */
static void
close_protocol_error (struct ws_conn *c)
{
        static const uint8_t payload[2] = { WSLAY_CODE_PROTOCOL_ERROR >> 8,
                                            WSLAY_CODE_PROTOCOL_ERROR & 0xff };
        struct wslay_frame_callbacks cb = { .send_callback = on_frame_send };
        struct timespec deadline = ce_deadline_after_ms (CLOSE_TIMEOUT_MS);
        wslay_frame_context_ptr frame;
        struct wslay_frame_iocb iocb = { .fin = 1,
                                         .opcode = WSLAY_CONNECTION_CLOSE,
                                         .payload_length = sizeof (payload),
                                         .data = payload,
                                         .data_length = sizeof (payload) };

        if (c->recv_failed || wslay_event_get_queued_msg_count (c->ctx) > 1
            || wslay_frame_context_init (&frame, &cb, c) != 0)
                return;
        while (iocb.data_length > 0 && ce_time_before (ce_now (), deadline)) {
                struct pollfd p = { c->sock, POLLOUT, 0 };
                ssize_t n = wslay_frame_send (frame, &iocb);

                if (n == WSLAY_ERR_WANT_WRITE) {
                        (void) poll (&p, 1, 100);
                        continue;
                }
                if (n < 0)
                        break;
                /* wslay_frame_send returns payload bytes sent: the header
                 * went out with them, or is pending in its own state. */
                iocb.data += n;
                iocb.data_length -= (size_t) n;
        }
        wslay_frame_context_free (frame);
        linger_close (c);
}

/* Both close frames are out: stop writing and read what the client still
 * sends (a message too big, say) until it closes, so that closing the
 * socket does not reset the connection before it has read our close. */
static void
linger_close (struct ws_conn *c)
{
        struct timespec deadline = ce_deadline_after_ms (CLOSE_TIMEOUT_MS);
        char scratch[16384];

        shutdown (c->sock, SHUT_WR);
        while (ce_time_before (ce_now (), deadline)) {
                struct pollfd p = { c->sock, POLLIN, 0 };
                ssize_t n;

                if (poll (&p, 1, 100) < 0 && errno != EINTR)
                        return;
                n = recv (c->sock, scratch, sizeof (scratch), 0);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        return;
        }
}

/* The poll timeout that also wakes at deadline: the smaller of timeout
 * (ms, -1: none) and the time left until deadline. */
static int
poll_timeout (int timeout, struct timespec now, struct timespec deadline)
{
        int64_t left = ce_ms_between (now, deadline);

        if (left < 0)
                left = 0;
        if (left > INT_MAX)
                left = INT_MAX;
        /* +1: poll rounds down, and waking just before the deadline would spin. */
        if (left < INT_MAX)
                left++;
        return timeout < 0 || left < timeout ? (int) left : timeout;
}

static void *
conn_main (void *arg)
{
        struct ws_conn *c = arg;
        struct ws_hub *h = c->hub;
        struct wslay_event_callbacks cb = { .recv_callback = on_recv,
                                            .send_callback = on_send,
                                            .on_msg_recv_callback = on_msg };
        bool completed = false;

        fcntl (c->sock, F_SETFL, fcntl (c->sock, F_GETFL) | O_NONBLOCK);
        if (wslay_event_context_server_init (&c->ctx, &cb, c) != 0)
                goto out;
        wslay_event_config_set_max_recv_msg_length (c->ctx, h->cfg->max_message);
        c->start_deadline = ce_deadline_after_ms (c->protocol->start_timeout_ms);
        c->last_sent = ce_now ();
        for (;;) {
                struct pollfd p[3];
                struct timespec now;
                bool stopping, more;
                int n, timeout;

                if (flush_queue (c, &more) && ! completed) {
                        bool failed;

                        completed = true;
                        pthread_mutex_lock (&c->lock);
                        failed = c->failed;
                        pthread_mutex_unlock (&c->lock);
                        if (c->finish_code == 0) {
                                const struct ws_protocol *pr = c->protocol;

                                c->finish_code = failed ? pr->error_code : pr->done_code;
                                c->finish_reason = failed ? pr->error_reason : pr->done_reason;
                        }
                }
                /* wslay sends control frames before queued messages: close
                 * only once the last message is out. */
                if (c->finish_code && wslay_event_get_queued_msg_count (c->ctx) == 0)
                        queue_close (c, c->finish_code, c->finish_reason);
                pthread_mutex_lock (&h->lock);
                stopping = h->stopping;
                pthread_mutex_unlock (&h->lock);
                if (stopping)
                        queue_close (c, WSLAY_CODE_GOING_AWAY, "Server shutting down");
                if (! c->started && ! ce_time_before (ce_now (), c->start_deadline))
                        queue_close (c, c->protocol->start_timeout_code,
                                     c->protocol->start_timeout_reason);
                write_stdin (c);
                if (wslay_event_want_write (c->ctx) && wslay_event_send (c->ctx) != 0)
                        break;
                if (! wslay_event_want_read (c->ctx) && ! wslay_event_want_write (c->ctx)) {
                        linger_close (c);
                        break;
                }
                now = ce_now ();
                if (c->close_queued && ! ce_time_before (now, c->close_deadline))
                        break;
                /* The write timeout: a client that takes nothing for that
                 * long is dropped, and what it would have read is freed. */
                if (! wslay_event_want_write (c->ctx)) {
                        c->last_sent = now;
                } else if (ce_ms_between (c->last_sent, now) >= h->cfg->write_timeout_ms) {
                        ce_log ("WS %s: the client took nothing for %d ms: closed",
                                c->protocol->route, h->cfg->write_timeout_ms);
                        break;
                }
                p[0] = (struct pollfd){ c->sock,
                                        (short) ((wslay_event_want_read (c->ctx) ? POLLIN : 0)
                                                 | (wslay_event_want_write (c->ctx) ? POLLOUT : 0)),
                                        0 };
                p[1] = (struct pollfd){ c->wake, POLLIN, 0 };
                p[2] = (struct pollfd){ c->stdin_buf.len ? c->stdin_fd : -1, POLLOUT, 0 };
                /* Sleep until something happens or the next deadline. */
                timeout = -1;
                /* Bytes the client has not read yet, or outq's next messages
                 * that wslay now has room for: no waiting. */
                if (c->extra_off < c->extra_len
                    || (more && wslay_event_get_queued_msg_length (c->ctx) < WSLAY_MAX_QUEUED)
                    || (c->finish_code && ! c->close_queued
                        && wslay_event_get_queued_msg_count (c->ctx) == 0))
                        timeout = 0;
                if (! c->started)
                        timeout = poll_timeout (timeout, now, c->start_deadline);
                if (c->close_queued)
                        timeout = poll_timeout (timeout, now, c->close_deadline);
                if (wslay_event_want_write (c->ctx))
                        timeout = poll_timeout (
                                timeout, now,
                                ce_deadline_from (c->last_sent, h->cfg->write_timeout_ms));
                n = poll (p, 3, timeout);
                if (n < 0 && errno != EINTR)
                        break;
                if (n <= 0 && c->extra_off == c->extra_len)
                        continue;
                if (n < 0)
                        n = 0, p[0].revents = p[1].revents = 0;
                if (p[1].revents & POLLIN) {
                        eventfd_t v;

                        (void) eventfd_read (c->wake, &v);
                }
                if ((p[0].revents & POLLIN) || c->extra_off < c->extra_len) {
                        if (wslay_event_recv (c->ctx) != 0) {
                                close_protocol_error (c);
                                break;
                        }
                } else if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                        break;
                }
        }
out:
        kill_job (c); /* a job still running has nobody to answer */
        if (c->stdin_fd >= 0)
                close (c->stdin_fd);
        pthread_mutex_lock (&c->lock);
        c->thread_gone = true;
        pthread_mutex_unlock (&c->lock);
        if (c->ctx)
                wslay_event_context_free (c->ctx);
        MHD_upgrade_action (c->urh, MHD_UPGRADE_ACTION_CLOSE);
        pthread_mutex_lock (&h->lock);
        if (c->prev)
                c->prev->next = c->next;
        else
                h->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        h->count--;
        pthread_cond_broadcast (&h->gone);
        pthread_mutex_unlock (&h->lock);
        conn_unref (c);
        return NULL;
}

/* libmicrohttpd's thread: must not block.  Hands the socket to a thread. */
static void
ws_on_upgrade (void *cls, struct MHD_Connection *connection, void *con_cls, const char *extra_in,
               size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct ws_ticket *t = cls;
        struct ws_hub *h = t->hub;
        struct ws_conn *c = calloc (1, sizeof (*c));
        pthread_attr_t attr;
        pthread_t tid;
        bool ok = false;

        (void) connection;
        (void) con_cls;
        /* The ticket's place is the connection's from here. */
        pthread_mutex_lock (&h->lock);
        t->upgraded = true;
        h->reserved--;
        pthread_mutex_unlock (&h->lock);
        if (c == NULL)
                goto fail;
        c->hub = h;
        c->protocol = t->protocol;
        c->sock = sock;
        c->urh = urh;
        c->refs = 1;
        c->outq_tail = &c->outq;
        c->kill_fd = c->kill_peer = c->stdin_fd = c->stdin_new = -1;
        events_init (&c->events, c->protocol->events, NULL,
                     &(struct events_out){ enqueue_text, is_full, c });
        c->sink = (struct exec_sink){ sink_stage_start, sink_output, sink_stage_end,
                                      sink_stdin_open,  NULL,        c };
        c->wake = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->wake < 0 || pthread_mutex_init (&c->lock, NULL) != 0)
                goto fail;
        if (extra_in_size) {
                c->extra = malloc (extra_in_size);
                if (c->extra == NULL)
                        goto fail;
                memcpy (c->extra, extra_in, extra_in_size);
                c->extra_len = extra_in_size;
        }
        pthread_mutex_lock (&h->lock);
        if (! h->stopping) {
                pthread_attr_init (&attr);
                pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
                ok = pthread_create (&tid, &attr, conn_main, c) == 0;
                pthread_attr_destroy (&attr);
                if (ok) {
                        ce_thread_name (tid, "ce-ws-%u", h->started++ % 1000000);
                        c->next = h->conns;
                        if (h->conns)
                                h->conns->prev = c;
                        h->conns = c;
                        h->count++;
                }
        }
        pthread_mutex_unlock (&h->lock);
        if (ok)
                return;
        pthread_mutex_destroy (&c->lock);
fail:
        if (c) {
                if (c->wake >= 0)
                        close (c->wake);
                free (c->extra);
                free (c);
        }
        MHD_upgrade_action (urh, MHD_UPGRADE_ACTION_CLOSE);
}

void
ws_hub_shutdown (struct ws_hub *h)
{
        if (h == NULL)
                return;
        pthread_mutex_lock (&h->lock);
        h->stopping = true;
        for (struct ws_conn *c = h->conns; c; c = c->next)
                wake (c);
        while (h->count > 0)
                pthread_cond_wait (&h->gone, &h->lock);
        pthread_mutex_unlock (&h->lock);
}

void
ws_hub_free (struct ws_hub *h)
{
        if (h == NULL)
                return;
        pthread_mutex_destroy (&h->lock);
        pthread_cond_destroy (&h->gone);
        free (h);
}
