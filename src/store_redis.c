/*
 * store_redis.c - the job store on Redis Streams: one queue for many nodes
 * (see store.h for the interface, docs/scaling.md for the operator's view).
 *
 * Keys (every name starts with "codeengine:"):
 *
 *   queue            a stream, one entry {id} per queued or running job,
 *                    read by the consumer group "codeengine"; each node is
 *                    one consumer, named by its node id
 *   job:<id>         a hash: api, request, state (queued|running|done),
 *                    attempts, owner, created, started, finished, cancel,
 *                    entry (its stream entry), idem, failure; no TTL until
 *                    done, then result_ttl
 *   result:<id>      the answer's bytes, written once (SET NX PX result_ttl)
 *   idem:<api>:<key> the job an Idempotency-Key named
 *   list:<api>       a sorted set of the api's jobs by creation (lists,
 *                    Judge0's statistics); members whose job expired are
 *                    dropped by store_expire
 *   waiters:<id>     the nodes waiting for a job to end (store_watch)
 *   wake:<node>      a list a node BLPOPs: "d<id>" a job it waits for
 *                    ended, "c<id>" a job it runs was cancelled
 *
 * A job's life on the stream: submit XADDs its entry (a Lua script, so the
 * job, its entry, its idempotency key and the cap check are one step); a
 * node with a free worker reads it with XREADGROUP (it is then pending for
 * that node), renews it by XCLAIM JUSTID (its idle time is the lease: a
 * node renews every third of it), and completes it with one script that
 * writes the result once, XACKs and XDELs the entry and wakes the waiters.
 * A node that stopped renewing (it died) loses its entries to any node's
 * XAUTOCLAIM once they were idle for a lease; a restarted node first reads
 * its own pending entries again (XREADGROUP ... 0).  The stream is never
 * trimmed with MAXLEN, which would drop pending entries; a full queue
 * refuses new jobs instead (store_params.max_jobs: queued and running).
 *
 * Every step that reads then writes a job is one Lua script, so two nodes
 * never both think they hold a job: at least once execution, exactly one
 * visible result.
 *
 * Threads: every function may be called from any thread.  hiredis contexts
 * are not thread-safe, so each call borrows a connection from a small list
 * (lock) and gives it back; a call that blocks (the dispatcher's XREADGROUP
 * BLOCK) holds one for up to block_ms.  One thread of our own BLPOPs this
 * node's wake list on its own connection and calls the listener.  A
 * connection that failed is freed; the next borrow connects again, no
 * sooner than a backoff (100 ms doubling to 5 s) after the last failed try,
 * so Redis being down costs a quick error, never a busy loop.
 */
#include "store.h"

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>

#include "metrics.h"

#define PREFIX "codeengine:"
#define QUEUE PREFIX "queue"
#define GROUP "codeengine"
#define MAX_CONNS 32        /* borrowers at once; more wait */
#define CMD_TIMEOUT_MS 5000 /* one command (a blocking one: its block + this) */
#define WAKE_BLOCK_S 1      /* the wake thread looks at `stopping` this often */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define RECOVER_MAX 10000 /* own pending entries read back at start-up */
#define WAITERS_TTL_MS 3600000
#define WAKE_TTL_MS 600000

struct conn {
        redisContext *c; /* NULL: not connected */
        bool busy;
};

struct pending {
        char id[STORE_ID_SIZE];
        char entry[64];
};

struct redis_store {
        struct job_store base;
        char *host;
        int port;
        int db;
        char *password; /* NULL: no AUTH */
        char *node;
        int64_t max_jobs, result_ttl_ms, block_ms;
        int max_attempts;

        pthread_mutex_t lock; /* guards conns, backoff, next_try_ms, recovered */
        pthread_cond_t freed; /* a connection was given back */
        struct conn conns[MAX_CONNS];
        int64_t backoff_ms, next_try_ms;
        bool failed_once; /* a connection was lost: the next one is a reconnect */
        struct pending *recovered;
        size_t nrecovered;

        /* The wake thread (store_listen). */
        pthread_t waker;
        bool waker_started;
        atomic_bool stopping;
        void (*listener) (void *arg, const char *id, bool cancelled);
        void *listener_arg;
};

static struct redis_store *
of (struct job_store *s)
{
        return (struct redis_store *) s;
}

/* ---- connections ---- */

static void
reply_freep (redisReply **r)
{
        if (*r)
                freeReplyObject (*r);
}
#define cleanup_reply __attribute__ ((cleanup (reply_freep)))

static struct timeval
tv_ms (int64_t ms)
{
        return (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
}

/* A new connection, authenticated and on its database; NULL with err. */
static redisContext *
connect_one (struct redis_store *s, struct ce_error *err)
{
        redisContext *c = redisConnectWithTimeout (s->host, s->port, tv_ms (CMD_TIMEOUT_MS));
        redisReply *r = NULL;

        if (c == NULL || c->err) {
                ce_fail (err, ENOTCONN, "the job store (Redis at %s:%d) is unreachable: %s",
                         s->host, s->port, c ? c->errstr : "out of memory");
                goto fail;
        }
        if (redisSetTimeout (c, tv_ms (CMD_TIMEOUT_MS)) != REDIS_OK) {
                ce_fail (err, ENOTCONN, "Redis: cannot set the socket timeout");
                goto fail;
        }
        if (s->password) {
                r = redisCommand (c, "AUTH %s", s->password);
                if (r == NULL || r->type == REDIS_REPLY_ERROR) {
                        ce_fail (err, ENOTCONN, "Redis AUTH failed: %s", r ? r->str : c->errstr);
                        goto fail;
                }
                freeReplyObject (r);
                r = NULL;
        }
        if (s->db) {
                r = redisCommand (c, "SELECT %d", s->db);
                if (r == NULL || r->type == REDIS_REPLY_ERROR) {
                        ce_fail (err, ENOTCONN, "Redis SELECT %d failed: %s", s->db,
                                 r ? r->str : c->errstr);
                        goto fail;
                }
                freeReplyObject (r);
        }
        return c;
fail:
        if (r)
                freeReplyObject (r);
        if (c)
                redisFree (c);
        return NULL;
}

/* Borrow a connection (connected), or -ENOTCONN while Redis cannot be
 * reached (no sooner than the backoff after the last try). */
static int
borrow (struct redis_store *s, struct conn **out, struct ce_error *err)
{
        struct conn *k = NULL;
        redisContext *c;
        bool reconnect;

        pthread_mutex_lock (&s->lock);
        for (;;) {
                for (size_t i = 0; i < MAX_CONNS && k == NULL; i++)
                        if (! s->conns[i].busy && s->conns[i].c)
                                k = &s->conns[i];
                for (size_t i = 0; i < MAX_CONNS && k == NULL; i++)
                        if (! s->conns[i].busy)
                                k = &s->conns[i];
                if (k)
                        break;
                pthread_cond_wait (&s->freed, &s->lock);
        }
        k->busy = true;
        if (k->c) {
                pthread_mutex_unlock (&s->lock);
                *out = k;
                return 0;
        }
        if (store_now_ms () < s->next_try_ms) {
                k->busy = false;
                pthread_mutex_unlock (&s->lock);
                return ce_fail (err, ENOTCONN,
                                "the job store (Redis at %s:%d) is unreachable; retrying", s->host,
                                s->port);
        }
        reconnect = s->failed_once;
        pthread_mutex_unlock (&s->lock);

        c = connect_one (s, err);

        pthread_mutex_lock (&s->lock);
        if (c == NULL) {
                k->busy = false;
                s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
                if (s->backoff_ms > BACKOFF_MAX_MS)
                        s->backoff_ms = BACKOFF_MAX_MS;
                s->next_try_ms = store_now_ms () + s->backoff_ms;
                s->failed_once = true;
                pthread_cond_signal (&s->freed);
                pthread_mutex_unlock (&s->lock);
                metrics_job_event (METRICS_STORE_ERRORS, 1);
                return -ENOTCONN;
        }
        k->c = c;
        s->backoff_ms = 0;
        s->next_try_ms = 0;
        if (reconnect) {
                s->failed_once = false;
                ce_log ("job store: connected to Redis at %s:%d again", s->host, s->port);
        }
        pthread_mutex_unlock (&s->lock);
        if (reconnect)
                metrics_job_event (METRICS_STORE_RECONNECTS, 1);
        *out = k;
        return 0;
}

/* Give back a connection; a dead one (an I/O error, a timeout) is freed. */
static void
give_back (struct redis_store *s, struct conn *k)
{
        pthread_mutex_lock (&s->lock);
        if (k->c && k->c->err) {
                ce_log ("job store: lost the connection to Redis: %s", k->c->errstr);
                redisFree (k->c);
                k->c = NULL;
                s->failed_once = true;
                /* The idle ones went down with it (Redis restarted): each
                 * would fail one call before being found out. */
                for (size_t i = 0; i < MAX_CONNS; i++) {
                        if (! s->conns[i].busy && s->conns[i].c) {
                                redisFree (s->conns[i].c);
                                s->conns[i].c = NULL;
                        }
                }
        }
        k->busy = false;
        pthread_cond_signal (&s->freed);
        pthread_mutex_unlock (&s->lock);
}

/* One command on a borrowed connection: 0 with *out (a reply that is not
 * an error), -ENOTCONN (connection lost) or -EIO (Redis answered an error). */
static int
command (struct redis_store *s, int argc, const char **argv, const size_t *lens, int64_t block_ms,
         redisReply **out, struct ce_error *err)
{
        struct conn *k;
        redisReply *r;
        int ret = borrow (s, &k, err);

        if (ret < 0)
                return ret;
        if (block_ms)
                redisSetTimeout (k->c, tv_ms (block_ms + CMD_TIMEOUT_MS));
        r = redisCommandArgv (k->c, argc, argv, lens);
        if (block_ms && k->c->err == 0)
                redisSetTimeout (k->c, tv_ms (CMD_TIMEOUT_MS));
        if (r == NULL) {
                ret = ce_fail (err, ENOTCONN, "the job store (Redis) failed: %s", k->c->errstr);
                metrics_job_event (METRICS_STORE_ERRORS, 1);
        } else if (r->type == REDIS_REPLY_ERROR) {
                ret = ce_fail (err, EIO, "the job store (Redis) answered: %s", r->str);
                metrics_job_event (METRICS_STORE_ERRORS, 1);
                freeReplyObject (r);
                r = NULL;
        }
        give_back (s, k);
        *out = r;
        return ret;
}

/* Argument lists of strings and byte blobs. */
struct args {
        int n;
        const char *v[16];
        size_t len[16];
        char num[8][24];
        int nnum;
};

static void
arg (struct args *a, const char *v)
{
        a->v[a->n] = v;
        a->len[a->n++] = strlen (v);
}

static void
arg_bytes (struct args *a, const void *v, size_t len)
{
        a->v[a->n] = len ? v : "";
        a->len[a->n++] = len;
}

static void
arg_int (struct args *a, int64_t v)
{
        char *buf = a->num[a->nnum++];

        snprintf (buf, sizeof (a->num[0]), "%lld", (long long) v);
        arg (a, buf);
}

static int
run (struct redis_store *s, struct args *a, int64_t block_ms, redisReply **out,
     struct ce_error *err)
{
        return command (s, a->n, a->v, a->len, block_ms, out, err);
}

/* ---- scripts ---- */

/* Shared by the scripts that end a job: complete(id, result, failure, now,
 * ttl) writes the result once, marks the job done, removes its entry and
 * wakes the nodes waiting for it; false when a result was there already
 * (the first one stays). */
#define LUA_COMPLETE                                                                               \
        "local P = 'codeengine:'\n"                                                                \
        "local Q = P .. 'queue'\n"                                                                 \
        "local function complete(id, result, failure, now, ttl)\n"                                 \
        "  local jk = P .. 'job:' .. id\n"                                                         \
        "  if not redis.call('SET', P .. 'result:' .. id, result, 'NX', 'PX', ttl) then\n"         \
        "    return false\n"                                                                       \
        "  end\n"                                                                                  \
        "  local h = redis.call('HMGET', jk, 'entry', 'api', 'idem')\n"                            \
        "  redis.call('HSET', jk, 'state', 'done', 'finished', now, 'failure', failure)\n"         \
        "  redis.call('PEXPIRE', jk, ttl)\n"                                                       \
        "  if h[1] then\n"                                                                         \
        "    redis.call('XACK', Q, 'codeengine', h[1])\n"                                          \
        "    redis.call('XDEL', Q, h[1])\n"                                                        \
        "  end\n"                                                                                  \
        "  if h[3] and h[3] ~= '' then\n"                                                          \
        "    redis.call('PEXPIRE', P .. 'idem:' .. h[2] .. ':' .. h[3], ttl)\n"                    \
        "  end\n"                                                                                  \
        "  local wk = P .. 'waiters:' .. id\n"                                                     \
        "  for _, n in ipairs(redis.call('SMEMBERS', wk)) do\n"                                    \
        "    redis.call('RPUSH', P .. 'wake:' .. n, 'd' .. id)\n"                                  \
        "    redis.call('PEXPIRE', P .. 'wake:' .. n, " CE_STR (                                   \
                WAKE_TTL_MS) ")\n"                                                                 \
                             "  end\n"                                                             \
                             "  redis.call('DEL', wk)\n"                                           \
                             "  return true\n"                                                     \
                             "end\n"

#define CE_STR_(x) #x
#define CE_STR(x) CE_STR_ (x)

/* ARGV: id api request now idem max_queue.  {0,id} new; {1,id} an
 * existing job for the same key and body; {2,id} same key, other body;
 * {3} the queue is full. */
static const char lua_submit[] =
        "local P = 'codeengine:'\n"
        "local id, api, req, now, idem, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], "
        "tonumber(ARGV[6])\n"
        "local ik = P .. 'idem:' .. api .. ':' .. idem\n"
        "if idem ~= '' then\n"
        "  local old = redis.call('GET', ik)\n"
        "  if old then\n"
        "    local h = redis.call('HMGET', P .. 'job:' .. old, 'request', 'api')\n"
        "    if h[1] and h[2] == api then\n"
        "      if h[1] == req then return {1, old} end\n"
        "      return {2, old}\n"
        "    end\n"
        "  end\n"
        "end\n"
        "if cap > 0 and redis.call('XLEN', P .. 'queue') >= cap then return {3, ''} end\n"
        "local jk = P .. 'job:' .. id\n"
        "if redis.call('EXISTS', jk) == 1 then return {1, id} end\n"
        "local e = redis.call('XADD', P .. 'queue', '*', 'id', id)\n"
        "redis.call('HSET', jk, 'api', api, 'request', req, 'state', 'queued', 'attempts', 0,\n"
        "           'created', now, 'entry', e, 'idem', idem, 'cancel', 0)\n"
        "redis.call('ZADD', P .. 'list:' .. api, now, id)\n"
        "redis.call('SADD', P .. 'apis', api)\n"
        "if idem ~= '' then redis.call('SET', ik, id) end\n"
        "return {0, id}\n";

/* ARGV: id entry node now max_attempts ttl reclaimed(0/1) recovered(0/1)
 * lease_until.  The entry was just delivered to node (or is its own,
 * recovered): {1, attempts} it runs; {0} nothing to run (done, gone,
 * cancelled, or still within its holder's lease: given back); {2,
 * attempts, owner} given up. */
static const char lua_claim[] = LUA_COMPLETE
        "local id, entry, node, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
        "local max, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
        "local jk = P .. 'job:' .. id\n"
        "local h = redis.call('HMGET', jk, 'state', 'attempts', 'cancel', 'owner', 'lease')\n"
        "if not h[1] or h[1] == 'done' then\n"
        "  redis.call('XACK', Q, 'codeengine', entry)\n"
        "  redis.call('XDEL', Q, entry)\n"
        "  return {0}\n"
        "end\n"
        /* XAUTOCLAIM went by the taker's lease; the holder's may be longer. */
        "if ARGV[7] == '1' and h[1] == 'running' and h[4]\n"
        "   and tonumber(h[5] or '0') > tonumber(now) then\n"
        "  redis.call('XCLAIM', Q, 'codeengine', h[4], 0, entry, 'JUSTID')\n"
        "  return {0}\n"
        "end\n"
        /* Read back at start-up, but another node took it over since. */
        "if ARGV[8] == '1' and h[1] == 'running' and h[4] ~= node then return {0} end\n"
        "if h[3] == '1' then complete(id, '', 'cancelled', now, ttl) return {0} end\n"
        "local att = tonumber(h[2])\n"
        "if att >= max then\n"
        "  local why = 'abandoned: started ' .. att .. ' of ' .. max .. ' times, and the server "
        "running it'\n"
        "  if h[4] then why = why .. ' (' .. h[4] .. ')' end\n"
        "  complete(id, '', why .. ' stopped before it finished', now, ttl)\n"
        "  return {2, att}\n"
        "end\n"
        "if ARGV[8] == '1' then redis.call('XCLAIM', Q, 'codeengine', node, 0, entry, 'JUSTID') "
        "end\n"
        "redis.call('HSET', jk, 'state', 'running', 'attempts', att + 1, 'owner', node, "
        "'started', now, 'lease', ARGV[9])\n"
        "return {1, att + 1}\n";

/* ARGV: id node lease_until.  0 renewed; -1 not ours; -2 ours but
 * cancelled.  The job's hash says whose it is: an entry another node's
 * XAUTOCLAIM picked up but whose claim script did not take the job over
 * yet is pulled back. */
static const char lua_renew[] =
        "local P = 'codeengine:'\n"
        "local Q = P .. 'queue'\n"
        "local h = redis.call('HMGET', P .. 'job:' .. ARGV[1], 'state', 'owner', 'cancel', "
        "'entry')\n"
        "if h[1] ~= 'running' or h[2] ~= ARGV[2] then return -1 end\n"
        "redis.call('XCLAIM', Q, 'codeengine', ARGV[2], 0, h[4], 'JUSTID')\n"
        "redis.call('HSET', P .. 'job:' .. ARGV[1], 'lease', ARGV[3])\n"
        "if h[3] == '1' then return -2 end\n"
        "return 0\n";

/* ARGV: id node result now ttl.  0 stored; -1 not ours (or answered
 * already); -2 cancelled (stored as such). */
static const char lua_finish[] = LUA_COMPLETE
        "local id, node, now, ttl = ARGV[1], ARGV[2], ARGV[4], tonumber(ARGV[5])\n"
        "local h = redis.call('HMGET', P .. 'job:' .. id, 'state', 'owner', 'cancel')\n"
        "if h[1] ~= 'running' or h[2] ~= node then return -1 end\n"
        "if h[3] == '1' then complete(id, '', 'cancelled', now, ttl) return -2 end\n"
        "if not complete(id, ARGV[3], '', now, ttl) then return -1 end\n"
        "return 0\n";

/* ARGV: id now ttl.  0 queued, done as cancelled; 1 running, cancel
 * requested (its node is told); -1 done; -2 unknown. */
static const char lua_cancel[] = LUA_COMPLETE
        "local id, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
        "local jk = P .. 'job:' .. id\n"
        "local h = redis.call('HMGET', jk, 'state', 'owner')\n"
        "if not h[1] then return -2 end\n"
        "if h[1] == 'done' then return -1 end\n"
        "if h[1] == 'queued' then complete(id, '', 'cancelled', now, ttl) return 0 end\n"
        "redis.call('HSET', jk, 'cancel', 1)\n"
        "redis.call('RPUSH', P .. 'wake:' .. h[2], 'c' .. id)\n"
        "redis.call('PEXPIRE', P .. 'wake:' .. h[2], " CE_STR (WAKE_TTL_MS) ")\n"
                                                                            "return 1\n";

/* ARGV: id node now ttl.  A job node held when it stopped: queued again
 * (1), or done as cancelled when that was asked meanwhile (1); 0 when it
 * is not node's running job. */
static const char lua_recover[] =
        LUA_COMPLETE "local id, node, now, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
                     "local jk = P .. 'job:' .. id\n"
                     "local h = redis.call('HMGET', jk, 'state', 'owner', 'cancel')\n"
                     "if h[1] ~= 'running' or h[2] ~= node then return 0 end\n"
                     "if h[3] == '1' then complete(id, '', 'cancelled', now, ttl) return 1 end\n"
                     "redis.call('HSET', jk, 'state', 'queued')\n"
                     "redis.call('HDEL', jk, 'owner', 'lease')\n"
                     "return 1\n";

/* ARGV: id node.  1 done already; 0 node is told when it ends; -1 unknown. */
static const char lua_watch[] =
        "local P = 'codeengine:'\n"
        "local st = redis.call('HGET', P .. 'job:' .. ARGV[1], 'state')\n"
        "if not st then return -1 end\n"
        "if st == 'done' then return 1 end\n"
        "redis.call('SADD', P .. 'waiters:' .. ARGV[1], ARGV[2])\n"
        "redis.call('PEXPIRE', P .. 'waiters:' .. ARGV[1], " CE_STR (WAITERS_TTL_MS) ")\n"
                                                                                     "return 0\n";

static int
eval (struct redis_store *s, const char *script, struct args *a, redisReply **out,
      struct ce_error *err)
{
        struct args e = { 0 };

        arg (&e, "EVAL");
        arg (&e, script);
        arg (&e, "0");
        for (int i = 0; i < a->n; i++)
                arg_bytes (&e, a->v[i], a->len[i]);
        return command (s, e.n, e.v, e.len, 0, out, err);
}

/* The consumer group, made when missing (a new Redis, or one that lost its
 * data): from the stream's start, so that no entry is skipped. */
static int
ensure_group (struct redis_store *s, struct ce_error *err)
{
        cleanup_reply redisReply *r = NULL;
        struct args a = { 0 };
        int ret;

        arg (&a, "XGROUP");
        arg (&a, "CREATE");
        arg (&a, QUEUE);
        arg (&a, GROUP);
        arg (&a, "0");
        arg (&a, "MKSTREAM");
        ret = run (s, &a, 0, &r, err);
        if (ret == -EIO && err && strstr (err->msg, "BUSYGROUP"))
                return 0;
        return ret;
}

/* ---- operations ---- */

static bool
id_ok (const char *id)
{
        size_t n = strlen (id);

        if (n != STORE_ID_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (! ((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                        return false;
        return true;
}

static int
dup_bytes (const char *v, size_t len, char **out, size_t *out_len)
{
        *out = malloc (len + 1);
        if (*out == NULL)
                return -ENOMEM;
        memcpy (*out, v, len);
        (*out)[len] = '\0';
        if (out_len)
                *out_len = len;
        return 0;
}

static int64_t
to_i64 (const redisReply *v)
{
        return v && v->type == REDIS_REPLY_STRING ? strtoll (v->str, NULL, 10) : 0;
}

/* A job's copy from its hash (and its result): 0, or -ENOENT. */
static int
load (struct redis_store *s, const char *id, struct store_job *out, struct ce_error *err)
{
        cleanup_reply redisReply *r = NULL;
        char key[96];
        struct args a = { 0 };
        const char *state = NULL;
        int ret;

        memset (out, 0, sizeof (*out));
        if (! id_ok (id))
                return ce_fail (err, ENOENT, "no job %s", id);
        snprintf (key, sizeof (key), PREFIX "job:%s", id);
        arg (&a, "HGETALL");
        arg (&a, key);
        ret = run (s, &a, 0, &r, err);
        if (ret < 0)
                return ret;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
                return ce_fail (err, ENOENT, "no job %s", id);
        memcpy (out->id, id, STORE_ID_SIZE);
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
                const char *k = r->element[i]->str;
                const redisReply *v = r->element[i + 1];

                if (v->type != REDIS_REPLY_STRING || k == NULL)
                        continue;
                if (strcmp (k, "api") == 0)
                        ret = dup_bytes (v->str, v->len, &out->api, NULL);
                else if (strcmp (k, "request") == 0)
                        ret = dup_bytes (v->str, v->len, &out->request, &out->request_len);
                else if (strcmp (k, "state") == 0)
                        state = v->str;
                else if (strcmp (k, "attempts") == 0)
                        out->attempts = (int) to_i64 (v);
                else if (strcmp (k, "owner") == 0)
                        ret = dup_bytes (v->str, v->len, &out->owner, NULL);
                else if (strcmp (k, "cancel") == 0)
                        out->cancel_requested = strcmp (v->str, "1") == 0;
                else if (strcmp (k, "created") == 0)
                        out->created_ms = to_i64 (v);
                else if (strcmp (k, "started") == 0)
                        out->started_ms = to_i64 (v);
                else if (strcmp (k, "lease") == 0)
                        out->lease_until_ms = to_i64 (v);
                else if (strcmp (k, "finished") == 0)
                        out->finished_ms = to_i64 (v);
                else if (strcmp (k, "idem") == 0 && v->len)
                        ret = dup_bytes (v->str, v->len, &out->idem_key, NULL);
                else if (strcmp (k, "failure") == 0 && v->len)
                        ret = dup_bytes (v->str, v->len, &out->failure, NULL);
                if (ret < 0)
                        goto nomem;
        }
        if (out->api == NULL || out->request == NULL || state == NULL) {
                store_job_clear (out);
                return ce_fail (err, EIO, "job %s: its record in Redis is incomplete", id);
        }
        if (strcmp (state, "done") == 0)
                out->state = STORE_DONE;
        else if (strcmp (state, "running") == 0)
                out->state = STORE_RUNNING;
        else
                out->state = STORE_QUEUED;
        if (out->state != STORE_RUNNING) {
                free (out->owner);
                out->owner = NULL;
                out->lease_until_ms = 0;
        }
        if (out->state == STORE_DONE) {
                out->expires_ms = out->finished_ms + s->result_ttl_ms;
                if (out->failure == NULL) {
                        cleanup_reply redisReply *res = NULL;
                        struct args g = { 0 };

                        snprintf (key, sizeof (key), PREFIX "result:%s", id);
                        arg (&g, "GET");
                        arg (&g, key);
                        ret = run (s, &g, 0, &res, err);
                        if (ret < 0) {
                                store_job_clear (out);
                                return ret;
                        }
                        if (res->type == REDIS_REPLY_STRING)
                                ret = dup_bytes (res->str, res->len, &out->result,
                                                 &out->result_len);
                        else /* the result expired a moment before its job */
                                ret = dup_bytes ("", 0, &out->result, &out->result_len);
                        if (ret < 0)
                                goto nomem;
                }
        }
        return 0;
nomem:
        store_job_clear (out);
        return ce_fail (err, ENOMEM, "out of memory");
}

static int
rd_submit (struct job_store *js, const char *api, const char *idem_key, const void *request,
           size_t len, int64_t now_ms, struct store_job *out, bool *existing, struct ce_error *err)
{
        struct redis_store *s = of (js);
        cleanup_reply redisReply *r = NULL;
        char id[STORE_ID_SIZE];
        struct args a = { 0 };
        long long code;
        int ret = store_new_id (id, err);

        if (ret < 0)
                return ret;
        arg (&a, id);
        arg (&a, api);
        arg_bytes (&a, request, len);
        arg_int (&a, now_ms);
        arg (&a, idem_key ? idem_key : "");
        arg_int (&a, s->max_jobs);
        ret = eval (s, lua_submit, &a, &r, err);
        if (ret < 0)
                return ret;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
            || r->element[0]->type != REDIS_REPLY_INTEGER)
                return ce_fail (err, EIO, "job store: unexpected answer to submit");
        code = r->element[0]->integer;
        if (code == 3)
                return ce_fail (err, ENOSPC, "more than %lld jobs are queued",
                                (long long) s->max_jobs);
        if (code == 2)
                return ce_fail (err, EEXIST, "this Idempotency-Key was used with another body");
        if (r->element[1]->type != REDIS_REPLY_STRING)
                return ce_fail (err, EIO, "job store: unexpected answer to submit");
        *existing = code == 1;
        return load (s, r->element[1]->str, out, err);
}

/* Run the claim script on an entry this node was given; 1 with *out when
 * it runs, 0 when there is nothing to run. */
static int
claim (struct redis_store *s, const char *id, const char *entry, bool reclaimed, bool recovered,
       int64_t now_ms, int64_t lease_ms, struct store_job *out, struct ce_error *err)
{
        cleanup_reply redisReply *r = NULL;
        struct args a = { 0 };
        int ret;

        if (! id_ok (id)) {
                /* Not one of ours: acknowledge and drop it. */
                cleanup_reply redisReply *x = NULL;
                struct args b = { 0 };

                arg (&b, "XACK");
                arg (&b, QUEUE);
                arg (&b, GROUP);
                arg (&b, entry);
                run (s, &b, 0, &x, NULL);
                ce_log ("job store: dropped a queue entry with a bad job id");
                return 0;
        }
        arg (&a, id);
        arg (&a, entry);
        arg (&a, s->node);
        arg_int (&a, now_ms);
        arg_int (&a, s->max_attempts);
        arg_int (&a, s->result_ttl_ms);
        arg (&a, reclaimed ? "1" : "0");
        arg (&a, recovered ? "1" : "0");
        arg_int (&a, now_ms + lease_ms);
        ret = eval (s, lua_claim, &a, &r, err);
        if (ret < 0)
                return ret;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
                return ce_fail (err, EIO, "job store: unexpected answer to claim");
        if (r->element[0]->integer == 2) {
                ce_log ("job %s: given up after %lld attempts", id,
                        r->elements > 1 ? r->element[1]->integer : 0LL);
                metrics_job_event (METRICS_JOB_FAILED, 1);
                return 0;
        }
        if (r->element[0]->integer != 1)
                return 0;
        ret = load (s, id, out, err);
        if (ret < 0)
                return ret;
        if (reclaimed)
                metrics_job_event (METRICS_JOB_RECLAIMED, 1);
        return 1;
}

/* The id field of a stream entry [entry-id, [field, value, ...]]. */
static const char *
entry_job_id (const redisReply *e)
{
        const redisReply *f;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
                return NULL;
        f = e->element[1];
        if (f->type != REDIS_REPLY_ARRAY)
                return NULL;
        for (size_t i = 0; i + 1 < f->elements; i += 2)
                if (f->element[i]->str && strcmp (f->element[i]->str, "id") == 0)
                        return f->element[i + 1]->str;
        return NULL;
}

static int
rd_take (struct job_store *js, int64_t lease_ms, int64_t now_ms, struct store_job *out,
         struct ce_error *err)
{
        struct redis_store *s = of (js);
        char lease[24];
        int ret;

        /* Its own entries from before a restart first. */
        for (;;) {
                struct pending p;

                pthread_mutex_lock (&s->lock);
                if (s->nrecovered == 0) {
                        pthread_mutex_unlock (&s->lock);
                        break;
                }
                p = s->recovered[--s->nrecovered];
                pthread_mutex_unlock (&s->lock);
                ret = claim (s, p.id, p.entry, false, true, now_ms, lease_ms, out, err);
                if (ret != 0)
                        return ret;
        }
        /* Then what a node that stopped renewing held. */
        snprintf (lease, sizeof (lease), "%lld", (long long) lease_ms);
        for (int round = 0; round < 16; round++) {
                cleanup_reply redisReply *r = NULL;
                const char *argv[] = { "XAUTOCLAIM", QUEUE, GROUP,   s->node,
                                       lease,        "0-0", "COUNT", "1" };
                size_t lens[8];
                const redisReply *ents;

                for (size_t i = 0; i < 8; i++)
                        lens[i] = strlen (argv[i]);
                ret = command (s, 8, argv, lens, 0, &r, err);
                if (ret == -EIO && err && strstr (err->msg, "NOGROUP")
                    && ensure_group (s, err) == 0)
                        continue;
                if (ret < 0)
                        return ret;
                if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
                    || r->element[1]->type != REDIS_REPLY_ARRAY || r->element[1]->elements == 0)
                        break;
                ents = r->element[1];
                for (size_t i = 0; i < ents->elements; i++) {
                        const char *id = entry_job_id (ents->element[i]);

                        if (ents->element[i]->type != REDIS_REPLY_ARRAY
                            || ents->element[i]->elements < 1)
                                continue;
                        ret = claim (s, id ? id : "", ents->element[i]->element[0]->str, true,
                                     false, now_ms, lease_ms, out, err);
                        if (ret != 0)
                                return ret;
                }
        }
        /* Then a new one, waiting up to block_ms for it. */
        for (int round = 0; round < 16; round++) {
                cleanup_reply redisReply *r = NULL;
                struct args a = { 0 };
                const redisReply *ents;

                arg (&a, "XREADGROUP");
                arg (&a, "GROUP");
                arg (&a, GROUP);
                arg (&a, s->node);
                arg (&a, "COUNT");
                arg (&a, "1");
                if (s->block_ms > 0 && round == 0) {
                        arg (&a, "BLOCK");
                        arg_int (&a, s->block_ms);
                }
                arg (&a, "STREAMS");
                arg (&a, QUEUE);
                arg (&a, ">");
                ret = run (s, &a, round == 0 ? s->block_ms : 0, &r, err);
                if (ret == -EIO && err && strstr (err->msg, "NOGROUP")
                    && ensure_group (s, err) == 0)
                        continue;
                if (ret < 0)
                        return ret;
                if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
                        return 0; /* nil: nothing came */
                /* [[stream, [[entry, [field, value]]]]] */
                if (r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements < 2)
                        return 0;
                ents = r->element[0]->element[1];
                if (ents->type != REDIS_REPLY_ARRAY || ents->elements == 0)
                        return 0;
                for (size_t i = 0; i < ents->elements; i++) {
                        const char *id = entry_job_id (ents->element[i]);

                        if (ents->element[i]->type != REDIS_REPLY_ARRAY
                            || ents->element[i]->elements < 1)
                                continue;
                        ret = claim (s, id ? id : "", ents->element[i]->element[0]->str, false,
                                     false, store_now_ms (), lease_ms, out, err);
                        if (ret != 0)
                                return ret;
                }
        }
        return 0;
}

static int
simple_int (struct redis_store *s, const char *script, struct args *a, long long *v,
            struct ce_error *err)
{
        cleanup_reply redisReply *r = NULL;
        int ret = eval (s, script, a, &r, err);

        if (ret < 0)
                return ret;
        if (r->type != REDIS_REPLY_INTEGER)
                return ce_fail (err, EIO, "job store: unexpected answer from Redis");
        *v = r->integer;
        return 0;
}

static int
rd_renew (struct job_store *js, const char *id, int64_t lease_ms, int64_t now_ms,
          struct ce_error *err)
{
        struct redis_store *s = of (js);
        struct args a = { 0 };
        long long v;
        int ret;

        arg (&a, id);
        arg (&a, s->node);
        arg_int (&a, now_ms + lease_ms);
        ret = simple_int (s, lua_renew, &a, &v, err);
        if (ret < 0)
                return ret;
        if (v == -1)
                return ce_fail (err, ESTALE, "job %s is not this node's any more", id);
        if (v == -2)
                return ce_fail (err, ECANCELED, "job %s was cancelled", id);
        return 0;
}

static int
rd_finish (struct job_store *js, const char *id, const void *result, size_t len, int64_t now_ms,
           struct ce_error *err)
{
        struct redis_store *s = of (js);
        struct args a = { 0 };
        long long v;
        int ret;

        arg (&a, id);
        arg (&a, s->node);
        arg_bytes (&a, result, result ? len : 0);
        arg_int (&a, now_ms);
        arg_int (&a, s->result_ttl_ms);
        ret = simple_int (s, lua_finish, &a, &v, err);
        if (ret < 0)
                return ret;
        if (v == -1)
                return ce_fail (err, ESTALE, "job %s is not this node's any more", id);
        if (v == -2)
                return ce_fail (err, ECANCELED, "job %s was cancelled", id);
        return 0;
}

static int
rd_get (struct job_store *js, const char *id, int64_t now_ms, struct store_job *out,
        struct ce_error *err)
{
        return load (of (js), id, out, err);
}

static int
rd_cancel (struct job_store *js, const char *id, int64_t now_ms, bool *was_running,
           struct ce_error *err)
{
        struct redis_store *s = of (js);
        struct args a = { 0 };
        long long v;
        int ret;

        *was_running = false;
        if (! id_ok (id))
                return ce_fail (err, ENOENT, "no job %s", id);
        arg (&a, id);
        arg_int (&a, now_ms);
        arg_int (&a, s->result_ttl_ms);
        ret = simple_int (s, lua_cancel, &a, &v, err);
        if (ret < 0)
                return ret;
        if (v == -2)
                return ce_fail (err, ENOENT, "no job %s", id);
        if (v == -1)
                return ce_fail (err, EALREADY, "job %s is done", id);
        *was_running = v == 1;
        return 0;
}

static int
rd_cancelled (struct job_store *js, const char *id, struct ce_error *err)
{
        struct store_job j;
        int ret = load (of (js), id, &j, err);

        if (ret < 0)
                return ret;
        ret = j.cancel_requested || (j.failure && strcmp (j.failure, STORE_FAILURE_CANCELLED) == 0);
        store_job_clear (&j);
        return ret;
}

/* This node's pending entries (it died while it held them): kept aside for
 * take, which runs them first. */
static int
rd_recover (struct job_store *js, int64_t now_ms, struct ce_error *err)
{
        struct redis_store *s = of (js);
        cleanup_reply redisReply *r = NULL;
        struct args a = { 0 };
        const redisReply *ents;
        int ret;

        arg (&a, "XREADGROUP");
        arg (&a, "GROUP");
        arg (&a, GROUP);
        arg (&a, s->node);
        arg (&a, "COUNT");
        arg_int (&a, RECOVER_MAX);
        arg (&a, "STREAMS");
        arg (&a, QUEUE);
        arg (&a, "0");
        ret = run (s, &a, 0, &r, err);
        if (ret < 0)
                return ret;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0
            || r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements < 2)
                return 0;
        ents = r->element[0]->element[1];
        if (ents->type != REDIS_REPLY_ARRAY || ents->elements == 0)
                return 0;
        pthread_mutex_lock (&s->lock);
        free (s->recovered);
        s->nrecovered = 0;
        s->recovered = calloc (ents->elements, sizeof (*s->recovered));
        for (size_t i = 0; s->recovered && i < ents->elements; i++) {
                const redisReply *e = ents->element[i];
                const char *id = entry_job_id (e);
                struct pending *p = &s->recovered[s->nrecovered];

                if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 || e->element[0]->str == NULL)
                        continue;
                /* An entry deleted while it was pending has no fields. */
                snprintf (p->id, sizeof (p->id), "%s", id ? id : "");
                snprintf (p->entry, sizeof (p->entry), "%s", e->element[0]->str);
                s->nrecovered++;
        }
        pthread_mutex_unlock (&s->lock);
        /* Queued again now (take runs them first), as store.h says. */
        ret = 0;
        for (size_t i = 0; i < ents->elements; i++) {
                const char *id = entry_job_id (ents->element[i]);
                struct args b = { 0 };
                long long v;
                int r2;

                if (id == NULL || ! id_ok (id))
                        continue;
                arg (&b, id);
                arg (&b, s->node);
                arg_int (&b, now_ms);
                arg_int (&b, s->result_ttl_ms);
                r2 = simple_int (s, lua_recover, &b, &v, err);
                if (r2 < 0)
                        return r2;
                ret += (int) v;
        }
        return ret;
}

/* Results expire in Redis by themselves; what is left is the lists'
 * members whose job is gone. */
static int
rd_expire (struct job_store *js, int64_t now_ms, struct ce_error *err)
{
        struct redis_store *s = of (js);
        cleanup_reply redisReply *apis = NULL;
        struct args a = { 0 };
        int ret, removed = 0;

        arg (&a, "SMEMBERS");
        arg (&a, PREFIX "apis");
        ret = run (s, &a, 0, &apis, err);
        if (ret < 0)
                return ret;
        for (size_t i = 0; apis->type == REDIS_REPLY_ARRAY && i < apis->elements; i++) {
                cleanup_reply redisReply *old = NULL;
                char key[128];
                struct args z = { 0 };

                snprintf (key, sizeof (key), PREFIX "list:%s", apis->element[i]->str);
                arg (&z, "ZRANGEBYSCORE");
                arg (&z, key);
                arg (&z, "-inf");
                arg_int (&z, now_ms - s->result_ttl_ms);
                arg (&z, "LIMIT");
                arg (&z, "0");
                arg (&z, "1000");
                ret = run (s, &z, 0, &old, err);
                if (ret < 0)
                        return ret;
                for (size_t k = 0; old->type == REDIS_REPLY_ARRAY && k < old->elements; k++) {
                        cleanup_reply redisReply *ex = NULL, *rm = NULL;
                        char jk[96];
                        struct args e = { 0 }, d = { 0 };

                        snprintf (jk, sizeof (jk), PREFIX "job:%s", old->element[k]->str);
                        arg (&e, "EXISTS");
                        arg (&e, jk);
                        if (run (s, &e, 0, &ex, err) < 0 || ex->integer != 0)
                                continue;
                        arg (&d, "ZREM");
                        arg (&d, key);
                        arg (&d, old->element[k]->str);
                        if (run (s, &d, 0, &rm, err) == 0 && rm->type == REDIS_REPLY_INTEGER)
                                removed += (int) rm->integer;
                }
        }
        return removed;
}

static int
rd_stats (struct job_store *js, struct store_stats *out, struct ce_error *err)
{
        struct redis_store *s = of (js);
        cleanup_reply redisReply *len = NULL, *pend = NULL, *apis = NULL, *info = NULL;
        struct args a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
        int64_t listed = 0;
        const char *mem;
        int ret;

        memset (out, 0, sizeof (*out));
        arg (&a, "XLEN");
        arg (&a, QUEUE);
        arg (&b, "XPENDING");
        arg (&b, QUEUE);
        arg (&b, GROUP);
        arg (&c, "SMEMBERS");
        arg (&c, PREFIX "apis");
        arg (&d, "INFO");
        arg (&d, "memory");
        if ((ret = run (s, &a, 0, &len, err)) < 0 || (ret = run (s, &c, 0, &apis, err)) < 0
            || (ret = run (s, &d, 0, &info, err)) < 0)
                return ret;
        ret = run (s, &b, 0, &pend, err);
        if (ret == -EIO && ensure_group (s, NULL) == 0)
                ret = run (s, &b, 0, &pend, err);
        if (ret < 0)
                return ret;
        if (pend->type == REDIS_REPLY_ARRAY && pend->elements > 0
            && pend->element[0]->type == REDIS_REPLY_INTEGER)
                out->running = pend->element[0]->integer;
        out->queued = (len->type == REDIS_REPLY_INTEGER ? len->integer : 0) - out->running;
        if (out->queued < 0)
                out->queued = 0;
        for (size_t i = 0; apis->type == REDIS_REPLY_ARRAY && i < apis->elements; i++) {
                cleanup_reply redisReply *n = NULL;
                char key[128];
                struct args z = { 0 };

                snprintf (key, sizeof (key), PREFIX "list:%s", apis->element[i]->str);
                arg (&z, "ZCARD");
                arg (&z, key);
                if (run (s, &z, 0, &n, err) == 0 && n->type == REDIS_REPLY_INTEGER)
                        listed += n->integer;
        }
        out->done = listed - out->queued - out->running;
        if (out->done < 0)
                out->done = 0;
        /* Not a disk: what Redis holds in memory, every key of it. */
        mem = info->type == REDIS_REPLY_STRING ? strstr (info->str, "used_memory:") : NULL;
        out->disk_bytes = mem ? strtoll (mem + strlen ("used_memory:"), NULL, 10) : 0;
        return 0;
}

static int
rd_list (struct job_store *js, const char *api, int64_t offset, int64_t limit, int64_t now_ms,
         struct store_job *out, size_t *n, int64_t *total, struct ce_error *err)
{
        struct redis_store *s = of (js);
        cleanup_reply redisReply *ids = NULL, *card = NULL;
        char key[128];
        struct args a = { 0 }, c = { 0 };
        int ret;

        *n = 0;
        *total = 0;
        snprintf (key, sizeof (key), PREFIX "list:%s", api);
        arg (&c, "ZCARD");
        arg (&c, key);
        ret = run (s, &c, 0, &card, err);
        if (ret < 0)
                return ret;
        *total = card->type == REDIS_REPLY_INTEGER ? card->integer : 0;
        if (limit <= 0)
                return 0;
        arg (&a, "ZREVRANGE");
        arg (&a, key);
        arg_int (&a, offset);
        arg_int (&a, offset + limit - 1);
        ret = run (s, &a, 0, &ids, err);
        if (ret < 0)
                return ret;
        for (size_t i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
                ret = load (s, ids->element[i]->str, &out[*n], err);
                if (ret == -ENOENT)
                        continue; /* expired a moment ago */
                if (ret < 0) {
                        for (size_t k = 0; k < *n; k++)
                                store_job_clear (&out[k]);
                        *n = 0;
                        return ret;
                }
                (*n)++;
        }
        return 0;
}

static int
rd_watch (struct job_store *js, const char *id, struct ce_error *err)
{
        struct redis_store *s = of (js);
        struct args a = { 0 };
        long long v;
        int ret;

        if (! id_ok (id))
                return ce_fail (err, ENOENT, "no job %s", id);
        arg (&a, id);
        arg (&a, s->node);
        ret = simple_int (s, lua_watch, &a, &v, err);
        if (ret < 0)
                return ret;
        if (v < 0)
                return ce_fail (err, ENOENT, "no job %s", id);
        return (int) v;
}

/* The wake thread: BLPOP this node's wake list on its own connection. */
static void *
waker (void *arg)
{
        struct redis_store *s = arg;
        redisContext *c = NULL;
        char key[512];
        int64_t backoff = BACKOFF_MIN_MS;

        snprintf (key, sizeof (key), PREFIX "wake:%s", s->node);
        while (! atomic_load (&s->stopping)) {
                redisReply *r;

                if (c == NULL) {
                        c = connect_one (s, NULL);
                        if (c == NULL) {
                                /* In steps, so that store_listen (NULL) never waits long. */
                                for (int64_t slept = 0;
                                     slept < backoff && ! atomic_load (&s->stopping); slept += 50)
                                        nanosleep (&(struct timespec){ .tv_nsec = 50000000 }, NULL);
                                backoff =
                                        backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                                continue;
                        }
                        backoff = BACKOFF_MIN_MS;
                        redisSetTimeout (c, tv_ms (WAKE_BLOCK_S * 1000 + CMD_TIMEOUT_MS));
                }
                r = redisCommand (c, "BLPOP %s %d", key, WAKE_BLOCK_S);
                if (r == NULL) {
                        redisFree (c);
                        c = NULL;
                        continue;
                }
                if (r->type == REDIS_REPLY_ARRAY && r->elements == 2
                    && r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len > 1
                    && s->listener)
                        s->listener (s->listener_arg, r->element[1]->str + 1,
                                     r->element[1]->str[0] == 'c');
                freeReplyObject (r);
        }
        if (c)
                redisFree (c);
        return NULL;
}

static void
rd_listen (struct job_store *js, void (*fn) (void *arg, const char *id, bool cancelled), void *arg)
{
        struct redis_store *s = of (js);

        if (fn == NULL) {
                /* The listener goes away: no call after this returns. */
                atomic_store (&s->stopping, true);
                if (s->waker_started)
                        pthread_join (s->waker, NULL);
                s->waker_started = false;
                return;
        }
        if (s->waker_started)
                return;
        s->listener = fn;
        s->listener_arg = arg;
        if (pthread_create (&s->waker, NULL, waker, s) == 0)
                s->waker_started = true;
        else
                ce_log ("job store: cannot start the wake thread: waits end at their deadline");
}

static void
rd_close (struct job_store *js)
{
        struct redis_store *s = of (js);

        atomic_store (&s->stopping, true);
        if (s->waker_started)
                pthread_join (s->waker, NULL);
        for (size_t i = 0; i < MAX_CONNS; i++)
                if (s->conns[i].c)
                        redisFree (s->conns[i].c);
        pthread_mutex_destroy (&s->lock);
        pthread_cond_destroy (&s->freed);
        free (s->recovered);
        free (s->host);
        free (s->password);
        free (s->node);
        free (s);
}

static const struct store_ops redis_ops = {
        .close = rd_close,
        .submit = rd_submit,
        .take = rd_take,
        .renew = rd_renew,
        .finish = rd_finish,
        .get = rd_get,
        .cancel = rd_cancel,
        .cancelled = rd_cancelled,
        .recover = rd_recover,
        .expire = rd_expire,
        .stats = rd_stats,
        .list = rd_list,
        .watch = rd_watch,
        .listen = rd_listen,
};

/* redis://HOST[:PORT][/DB], parsed by libcurl's URL parser. */
static int
parse_url (const char *url, struct redis_store *s, struct ce_error *err)
{
        CURLU *u = curl_url ();
        char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL;
        int ret = 0;

        if (u == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        if (curl_url_set (u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK
            || curl_url_get (u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
            || strcmp (scheme, "redis") != 0
            || curl_url_get (u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                ret = ce_fail (err, EINVAL, "--redis '%s': not redis://HOST[:PORT][/DB]", url);
                goto out;
        }
        if (curl_url_get (u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
                ret = ce_fail (err, EINVAL,
                               "--redis: no credentials in the URL (it shows in ps); use "
                               "--redis-password-file");
                goto out;
        }
        s->port = 6379;
        if (curl_url_get (u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
                s->port = atoi (port);
        if (curl_url_get (u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp (path, "/") != 0) {
                char *end;
                long db = strtol (path + 1, &end, 10);

                if (*end != '\0' || end == path + 1 || db < 0 || db > 1000000) {
                        ret = ce_fail (err, EINVAL,
                                       "--redis '%s': the path must be a database number", url);
                        goto out;
                }
                s->db = (int) db;
        }
        /* [::1] comes back with its brackets; hiredis wants the address. */
        if (host[0] == '[') {
                size_t n = strlen (host);

                memmove (host, host + 1, n);
                if (n >= 2 && host[n - 2] == ']')
                        host[n - 2] = '\0';
        }
        s->host = strdup (host);
        if (s->host == NULL)
                ret = ce_fail (err, ENOMEM, "out of memory");
out:
        curl_free (scheme);
        curl_free (host);
        curl_free (port);
        curl_free (path);
        curl_free (user);
        curl_url_cleanup (u);
        return ret;
}

int
store_redis_open (const struct store_params *p, struct job_store **out, struct ce_error *err)
{
        struct redis_store *s = calloc (1, sizeof (*s));
        struct conn *k;
        int ret;

        if (s == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        s->base.ops = &redis_ops;
        s->base.take_waits = true;
        pthread_mutex_init (&s->lock, NULL);
        pthread_cond_init (&s->freed, NULL);
        s->max_jobs = p->max_jobs;
        s->result_ttl_ms = p->result_ttl_ms;
        s->max_attempts = p->max_attempts > 0 ? p->max_attempts : 3;
        s->block_ms = p->block_ms > 0 ? p->block_ms : 1000;
        s->node = strdup (p->node);
        if (s->node == NULL) {
                rd_close (&s->base);
                return ce_fail (err, ENOMEM, "out of memory");
        }
        ret = parse_url (p->url, s, err);
        if (ret == 0 && p->password)
                s->password = strdup (p->password);
        if (ret == 0 && p->password && s->password == NULL)
                ret = ce_fail (err, ENOMEM, "out of memory");
        /* A broken set-up is said at start-up: Redis must answer now. */
        if (ret == 0)
                ret = borrow (s, &k, err);
        if (ret == 0) {
                give_back (s, k);
                ret = ensure_group (s, err);
        }
        if (ret < 0) {
                rd_close (&s->base);
                return ret;
        }
        *out = &s->base;
        return 0;
}
