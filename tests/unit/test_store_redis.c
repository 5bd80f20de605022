/* Unit tests for the Redis Streams job store (store_redis.c) against the
 * contract of store.h, on a redis-server of the test's own: started on a
 * free loopback port with a temporary --dir, killed by its pid at exit (and
 * by the kernel, PR_SET_PDEATHSIG, if the test dies first).  Each case uses
 * its own database number, so cases never see each other's keys.  Two
 * "nodes" are two stores with different node ids on the same database.
 *
 * Unlike test_store.c the clock is real: Redis keeps leases (a stream
 * entry's idle time) and result expiry (PX) on its own clock, so every call
 * gets store_now_ms() and the lease cases sleep for real (a few hundred ms).
 *
 * Without /usr/bin/redis-server the test exits 77 (ctest's skip), unless
 * CI=true, where it fails. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "test.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define TTL 60000
#define BLOCK_MS 50
#define LEASE 200

static char dir[64]; /* mkdtemp: redis-server's --dir and its log */
static volatile pid_t redis_pid = -1;
static int redis_port;
static int next_db = 1;

static int64_t
mono_ms (void)
{
        struct timespec ts;

        clock_gettime (CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms (int64_t ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

        while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- the redis-server ---- */

static int
free_port (void)
{
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
        socklen_t len = sizeof (sa);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

        if (fd < 0)
                return -1;
        if (bind (fd, (struct sockaddr *) &sa, sizeof (sa)) == 0
            && getsockname (fd, (struct sockaddr *) &sa, &len) == 0)
                port = ntohs (sa.sin_port);
        close (fd);
        return port;
}

static void
stop_redis (void)
{
        pid_t pid = redis_pid;

        if (pid <= 0)
                return;
        kill (pid, SIGKILL);
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
                ;
        redis_pid = -1;
}

static bool
redis_answers (int port)
{
        struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
        redisContext *c = redisConnectWithTimeout ("127.0.0.1", port, tv);
        redisReply *r;
        bool ok = false;

        if (c == NULL)
                return false;
        if (c->err == 0 && redisSetTimeout (c, tv) == REDIS_OK) {
                r = redisCommand (c, "PING");
                ok = r && r->type == REDIS_REPLY_STATUS && strcmp (r->str, "PONG") == 0;
                if (r)
                        freeReplyObject (r);
        }
        redisFree (c);
        return ok;
}

/* Start redis-server on port and wait until it answers PING: true, with
 * redis_pid set; false when it exited (the port was taken) or stayed mute. */
static bool
start_redis (int port)
{
        char port_s[16], log[128];
        char *argv[] = { REDIS_SERVER, "--port",      port_s, "--bind",
                         "127.0.0.1",  "--save",      "",     "--appendonly",
                         "no",         "--dir",       dir,    "--daemonize",
                         "no",         "--databases", "64",   "--logfile",
                         log,          NULL };
        pid_t parent = getpid (), pid;
        int64_t deadline;

        snprintf (port_s, sizeof (port_s), "%d", port);
        snprintf (log, sizeof (log), "%s/redis.log", dir);
        /* fork rather than posix_spawn: the child asks the kernel to kill it
         * when the test dies without running its atexit (a sanitizer abort). */
        pid = fork ();
        if (pid < 0)
                return false;
        if (pid == 0) {
                int null = open ("/dev/null", O_RDWR);

                if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != parent || null < 0)
                        _exit (127);
                dup2 (null, 0);
                dup2 (null, 1);
                dup2 (null, 2);
                execv (REDIS_SERVER, argv);
                _exit (127);
        }
        redis_pid = pid;
        deadline = mono_ms () + 5000;
        while (mono_ms () < deadline) {
                if (waitpid (pid, NULL, WNOHANG) == pid) {
                        redis_pid = -1;
                        return false;
                }
                if (redis_answers (port))
                        return true;
                sleep_ms (20);
        }
        stop_redis ();
        return false;
}

static int
remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        (void) flag;
        (void) ftw;
        return remove (path);
}

/* At exit, also after failed checks: the server by its pid, then its dir. */
static void
cleanup (void)
{
        stop_redis ();
        if (dir[0] && nftw (dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
                fprintf (stderr, "cannot remove %s\n", dir);
        dir[0] = '\0';
}

static void
on_signal (int sig)
{
        pid_t pid = redis_pid;

        if (pid > 0)
                kill (pid, SIGKILL);
        signal (sig, SIG_DFL);
        raise (sig);
}

/* ---- stores ---- */

static struct job_store *
open_store_ttl (int db, const char *node, int64_t max_jobs, int max_attempts, int64_t ttl)
{
        char url[96];
        struct store_params p = { .url = url,
                                  .block_ms = BLOCK_MS,
                                  .max_jobs = max_jobs,
                                  .result_ttl_ms = ttl,
                                  .node = node,
                                  .max_attempts = max_attempts };
        struct ce_error err = { 0 };
        struct job_store *s = NULL;

        snprintf (url, sizeof (url), "redis://127.0.0.1:%d/%d", redis_port, db);
        if (store_redis_open (&p, &s, &err) < 0) {
                fprintf (stderr, "store_redis_open %s: %s\n", url, err.msg);
                test_failures++;
                return NULL;
        }
        CHECK (s->take_waits);
        return s;
}

static struct job_store *
open_store (int db, const char *node, int64_t max_jobs, int max_attempts)
{
        return open_store_ttl (db, node, max_jobs, max_attempts, TTL);
}

/* Submit a job without a key: its id into id. */
static void
submit (struct job_store *s, const char *body, int64_t now, char id[STORE_ID_SIZE])
{
        struct store_job j;
        struct ce_error err = { 0 };
        bool existing = true;
        int ret = store_submit (s, "native", NULL, body, strlen (body), now, &j, &existing, &err);

        CHECK (ret == 0);
        if (ret < 0) {
                fprintf (stderr, "submit: %s\n", err.msg);
                id[0] = '\0';
                return;
        }
        CHECK (! existing);
        snprintf (id, STORE_ID_SIZE, "%s", j.id);
        store_job_clear (&j);
}

/* Take a job (1, its id into id, when the caller wants it), 0, or < 0. */
static int
take (struct job_store *s, int64_t lease, char id[STORE_ID_SIZE], int *attempts)
{
        struct store_job j;
        struct ce_error err = { 0 };
        int ret = store_take (s, lease, store_now_ms (), &j, &err);

        if (ret < 0)
                fprintf (stderr, "take: %s\n", err.msg);
        if (ret != 1)
                return ret;
        if (id)
                snprintf (id, STORE_ID_SIZE, "%s", j.id);
        if (attempts)
                *attempts = j.attempts;
        store_job_clear (&j);
        return 1;
}

static enum store_state
state_of (struct job_store *s, const char *id)
{
        struct store_job j;
        enum store_state st;

        if (store_get (s, id, store_now_ms (), &j, NULL) < 0)
                return (enum store_state) - 1;
        st = j.state;
        store_job_clear (&j);
        return st;
}

/* ---- cases ---- */

static void
test_roundtrip (void)
{
        static const char body[] = "{\"a\":\0\"\xff\xfe\x01\x80\"}";
        int db = next_db++;
        struct job_store *s = open_store (db, "nodeA", 100, 3);
        struct store_job j, g;
        struct ce_error err = { 0 };
        bool existing = true;
        int64_t now = store_now_ms (), t, lease_until;

        if (s == NULL)
                return;
        CHECK (store_submit (s, "native", NULL, body, sizeof (body), now, &j, &existing, &err)
               == 0);
        CHECK (! existing);
        CHECK (strlen (j.id) == STORE_ID_LEN);
        CHECK (strspn (j.id, "0123456789abcdef") == STORE_ID_LEN);
        CHECK (j.state == STORE_QUEUED);
        CHECK (j.request_len == sizeof (body) && memcmp (j.request, body, sizeof (body)) == 0);
        CHECK (j.request && j.request[j.request_len] == '\0');
        CHECK (j.result == NULL && j.failure == NULL && j.owner == NULL && j.idem_key == NULL);
        CHECK (j.created_ms == now && j.attempts == 0 && ! j.cancel_requested);

        CHECK (store_get (s, j.id, store_now_ms (), &g, &err) == 0);
        CHECK_STR (g.id, j.id);
        CHECK_STR (g.api, "native");
        CHECK (g.state == STORE_QUEUED);
        CHECK (g.request_len == sizeof (body) && memcmp (g.request, body, sizeof (body)) == 0);
        store_job_clear (&g);

        /* take -> RUNNING, finish -> DONE with a result that has NUL bytes. */
        now = store_now_ms ();
        CHECK (store_take (s, 60000, now, &g, &err) == 1);
        CHECK_STR (g.id, j.id);
        CHECK (g.state == STORE_RUNNING && g.attempts == 1);
        CHECK_STR (g.owner, "nodeA");
        CHECK (g.started_ms >= now);
        /* "owned by this node until now + lease_ms" (store_take); a take
         * that waited for its job may count from when the job came. */
        CHECK (g.lease_until_ms >= now + 60000 && g.lease_until_ms <= store_now_ms () + 60000);
        lease_until = g.lease_until_ms;
        store_job_clear (&g);
        CHECK (store_get (s, j.id, store_now_ms (), &g, &err) == 0);
        CHECK (g.state == STORE_RUNNING && g.attempts == 1);
        CHECK_STR (g.owner, "nodeA");
        CHECK (g.lease_until_ms == lease_until);
        store_job_clear (&g);
        now = store_now_ms ();
        CHECK (store_renew (s, j.id, 90000, now, &err) == 0);
        CHECK (store_get (s, j.id, store_now_ms (), &g, &err) == 0);
        CHECK (g.lease_until_ms == now + 90000);
        store_job_clear (&g);
        now = store_now_ms ();
        CHECK (store_finish (s, j.id, "r\0s\xff", 4, now, &err) == 0);
        CHECK (store_get (s, j.id, store_now_ms (), &g, &err) == 0);
        CHECK (g.state == STORE_DONE && g.result_len == 4 && memcmp (g.result, "r\0s\xff", 4) == 0);
        CHECK (g.failure == NULL && g.owner == NULL);
        CHECK (g.finished_ms == now && g.expires_ms == now + TTL);
        store_job_clear (&g);
        /* A second finish: the first result stays. */
        CHECK (store_finish (s, j.id, "other", 5, store_now_ms (), &err) == -ESTALE);
        CHECK (store_get (s, j.id, store_now_ms (), &g, &err) == 0);
        CHECK (g.result_len == 4 && memcmp (g.result, "r\0s\xff", 4) == 0);
        store_job_clear (&g);
        store_job_clear (&j);

        /* An empty request, and an empty (but present) result. */
        CHECK (store_submit (s, "native", NULL, NULL, 0, store_now_ms (), &j, &existing, &err)
               == 0);
        CHECK (store_get (s, j.id, store_now_ms (), &g, &err) == 0);
        CHECK (g.request != NULL && g.request_len == 0);
        store_job_clear (&g);
        CHECK (store_take (s, 60000, store_now_ms (), &g, &err) == 1);
        store_job_clear (&g);
        CHECK (store_finish (s, j.id, NULL, 0, store_now_ms (), &err) == 0);
        CHECK (store_get (s, j.id, store_now_ms (), &g, &err) == 0);
        CHECK (g.state == STORE_DONE && g.result != NULL && g.result_len == 0 && g.failure == NULL);
        store_job_clear (&g);
        store_job_clear (&j);

        /* Nothing queued: take waits about block_ms, then says so. */
        t = mono_ms ();
        CHECK (store_take (s, 60000, store_now_ms (), &g, &err) == 0);
        t = mono_ms () - t;
        CHECK (t >= BLOCK_MS - 10 && t < 1000);

        CHECK (store_get (s, "0123456789abcdef0123456789abcdef", store_now_ms (), &g, &err)
               == -ENOENT);
        store_close (s);
}

static void
test_idempotency (void)
{
        struct job_store *s = open_store (next_db++, "nodeA", 100, 3);
        struct store_job a, b;
        struct ce_error err = { 0 };
        bool existing;

        if (s == NULL)
                return;
        CHECK (store_submit (s, "native", "k1", "bo\0dy", 5, store_now_ms (), &a, &existing, &err)
               == 0);
        CHECK (! existing);
        CHECK_STR (a.idem_key, "k1");
        CHECK (store_submit (s, "native", "k1", "bo\0dy", 5, store_now_ms (), &b, &existing, &err)
               == 0);
        CHECK (existing);
        CHECK_STR (a.id, b.id);
        store_job_clear (&b);
        /* Same bytes up to the NUL: still another body. */
        CHECK (store_submit (s, "native", "k1", "bo\0dX", 5, store_now_ms (), &b, &existing, &err)
               == -EEXIST);
        CHECK (store_submit (s, "native", "k1", "other", 5, store_now_ms (), &b, &existing, &err)
               == -EEXIST);
        /* Keys are per api. */
        CHECK (store_submit (s, "judge0", "k1", "bo\0dy", 5, store_now_ms (), &b, &existing, &err)
               == 0);
        CHECK (! existing);
        CHECK (strcmp (a.id, b.id) != 0);
        store_job_clear (&b);
        store_job_clear (&a);
        store_close (s);
}

/* Redis counts queued and running jobs against max_jobs (store_params). */
static void
test_max_jobs (void)
{
        struct job_store *s = open_store (next_db++, "nodeA", 2, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        bool existing;
        char id[2][STORE_ID_SIZE], got[STORE_ID_SIZE];

        if (s == NULL)
                return;
        submit (s, "one", store_now_ms (), id[0]);
        submit (s, "two", store_now_ms (), id[1]);
        CHECK (store_submit (s, "native", NULL, "x", 1, store_now_ms (), &j, &existing, &err)
               == -ENOSPC);
        CHECK (take (s, 60000, got, NULL) == 1);
        CHECK_STR (got, id[0]);
        CHECK (store_submit (s, "native", NULL, "x", 1, store_now_ms (), &j, &existing, &err)
               == -ENOSPC);
        CHECK (store_finish (s, got, "r", 1, store_now_ms (), &err) == 0);
        CHECK (store_submit (s, "native", "key", "x", 1, store_now_ms (), &j, &existing, &err)
               == 0);
        store_job_clear (&j);
        /* Full again; an idempotent repeat is still answered. */
        CHECK (store_submit (s, "native", "key", "x", 1, store_now_ms (), &j, &existing, &err)
               == 0);
        CHECK (existing);
        store_job_clear (&j);
        CHECK (store_submit (s, "native", "other", "x", 1, store_now_ms (), &j, &existing, &err)
               == -ENOSPC);
        store_close (s);
}

static void
test_cancel (void)
{
        struct job_store *s = open_store (next_db++, "nodeA", 100, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        bool was_running = true;
        char queued[STORE_ID_SIZE], running[STORE_ID_SIZE], got[STORE_ID_SIZE];
        int64_t now;

        if (s == NULL)
                return;
        submit (s, "r", store_now_ms (), running);
        submit (s, "q", store_now_ms (), queued);
        CHECK (take (s, 60000, got, NULL) == 1);
        CHECK_STR (got, running);

        now = store_now_ms ();
        CHECK (store_cancel (s, queued, now, &was_running, &err) == 0);
        CHECK (! was_running);
        CHECK (store_get (s, queued, store_now_ms (), &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL && j.expires_ms == now + TTL);
        CHECK_STR (j.failure, STORE_FAILURE_CANCELLED);
        store_job_clear (&j);
        CHECK (store_cancelled (s, queued, &err) == 1);
        CHECK (take (s, 60000, NULL, NULL) == 0);

        CHECK (store_cancelled (s, running, &err) == 0);
        CHECK (store_cancel (s, running, store_now_ms (), &was_running, &err) == 0);
        CHECK (was_running);
        CHECK (store_cancelled (s, running, &err) == 1);
        CHECK (store_get (s, running, store_now_ms (), &j, &err) == 0);
        CHECK (j.state == STORE_RUNNING && j.cancel_requested);
        store_job_clear (&j);
        CHECK (store_renew (s, running, 60000, store_now_ms (), &err) == -ECANCELED);
        CHECK (store_finish (s, running, "late", 4, store_now_ms (), &err) == -ECANCELED);
        CHECK (store_get (s, running, store_now_ms (), &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL);
        CHECK_STR (j.failure, STORE_FAILURE_CANCELLED);
        store_job_clear (&j);

        CHECK (store_cancel (s, running, store_now_ms (), &was_running, &err) == -EALREADY);
        CHECK (store_cancel (s, queued, store_now_ms (), &was_running, &err) == -EALREADY);
        CHECK (store_cancel (s, "ffffffffffffffffffffffffffffffff", store_now_ms (), &was_running,
                             &err)
               == -ENOENT);
        CHECK (store_cancelled (s, "ffffffffffffffffffffffffffffffff", &err) == -ENOENT);
        CHECK (store_watch (s, "ffffffffffffffffffffffffffffffff", &err) == -ENOENT);
        CHECK (store_renew (s, "ffffffffffffffffffffffffffffffff", 1000, store_now_ms (), &err)
               == -ESTALE);
        CHECK (store_finish (s, "ffffffffffffffffffffffffffffffff", "x", 1, store_now_ms (), &err)
               == -ESTALE);
        store_close (s);
}

/* Ids that are not 32 lowercase hex digits never reach a key. */
static void
test_bad_ids (void)
{
        static const char *const bad[] = {
                "",
                "abc",
                "0123456789ABCDEF0123456789ABCDEF",
                "0123456789abcdef0123456789abcdef0",
                "0123456789abcdef0123456789abcde",
                "0123456789abcdef0123456789abcdeg",
                "*",
                "../../0123456789abcdef0123456789",
                "0123456789abcdef\n0123456789abcde",
        };
        struct job_store *s = open_store (next_db++, "nodeA", 100, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        bool was_running;

        if (s == NULL)
                return;
        for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
                CHECK (store_get (s, bad[i], store_now_ms (), &j, &err) == -ENOENT);
                CHECK (store_cancel (s, bad[i], store_now_ms (), &was_running, &err) == -ENOENT);
                CHECK (store_cancelled (s, bad[i], &err) == -ENOENT);
                CHECK (store_watch (s, bad[i], &err) == -ENOENT);
        }
        store_close (s);
}

static void
test_lease (void)
{
        int db = next_db++;
        struct job_store *a = open_store (db, "nodeA", 100, 5);
        struct job_store *b = open_store (db, "nodeB", 100, 5);
        struct store_job j;
        struct ce_error err = { 0 };
        char id[STORE_ID_SIZE], got[STORE_ID_SIZE];
        int attempts = 0;
        bool taken = false;

        if (a == NULL || b == NULL)
                goto out;
        submit (a, "job", store_now_ms (), id);
        CHECK (take (a, LEASE, got, &attempts) == 1);
        CHECK_STR (got, id);
        CHECK (attempts == 1);
        /* Within its lease, nobody else takes it. */
        CHECK (take (b, LEASE, NULL, NULL) == 0);
        CHECK (store_renew (b, id, LEASE, store_now_ms (), &err) == -ESTALE);
        CHECK (store_finish (b, id, "b", 1, store_now_ms (), &err) == -ESTALE);
        /* While a renews every ~60 ms, b never gets it. */
        for (int i = 0; i < 8; i++) {
                sleep_ms (60);
                CHECK (store_renew (a, id, LEASE, store_now_ms (), &err) == 0);
                if (take (b, LEASE, NULL, NULL) != 0)
                        taken = true;
        }
        CHECK (! taken);
        /* A lease that ran out is still a's to renew while nobody took it. */
        sleep_ms (LEASE + 100);
        CHECK (store_renew (a, id, LEASE, store_now_ms (), &err) == 0);
        CHECK (take (b, LEASE, NULL, NULL) == 0);
        /* a stalls: b takes it over once its lease ran out. */
        sleep_ms (LEASE + 100);
        CHECK (store_take (b, LEASE, store_now_ms (), &j, &err) == 1);
        CHECK_STR (j.id, id);
        CHECK_STR (j.owner, "nodeB");
        CHECK (j.state == STORE_RUNNING && j.attempts == 2);
        store_job_clear (&j);
        CHECK (store_renew (a, id, LEASE, store_now_ms (), &err) == -ESTALE);
        CHECK (store_finish (a, id, "old", 3, store_now_ms (), &err) == -ESTALE);
        CHECK (store_renew (b, id, LEASE, store_now_ms (), &err) == 0);
        CHECK (store_finish (b, id, "new", 3, store_now_ms (), &err) == 0);
        CHECK (store_finish (a, id, "old", 3, store_now_ms (), &err) == -ESTALE);
        CHECK (store_finish (b, id, "again", 5, store_now_ms (), &err) == -ESTALE);
        CHECK (store_renew (b, id, LEASE, store_now_ms (), &err) == -ESTALE);
        CHECK (store_get (a, id, store_now_ms (), &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result_len == 3 && memcmp (j.result, "new", 3) == 0);
        CHECK (j.attempts == 2);
        store_job_clear (&j);
        /* The queue is empty now, for both. */
        CHECK (take (a, LEASE, NULL, NULL) == 0);
        CHECK (take (b, LEASE, NULL, NULL) == 0);

        /* A running job cancelled (through the other node), whose lease then
         * ran out: the next take finishes it as cancelled, returns nothing. */
        submit (a, "cancelled", store_now_ms (), id);
        CHECK (take (a, 100, NULL, NULL) == 1);
        {
                bool was_running = false;

                CHECK (store_cancel (b, id, store_now_ms (), &was_running, &err) == 0);
                CHECK (was_running);
        }
        sleep_ms (150);
        CHECK (take (b, 100, NULL, NULL) == 0);
        CHECK (store_get (b, id, store_now_ms (), &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL);
        CHECK_STR (j.failure, STORE_FAILURE_CANCELLED);
        store_job_clear (&j);
out:
        store_close (a);
        store_close (b);
}

/* A job belongs to its holder until the lease the holder asked for runs
 * out (store.h), whatever lease another node's take passes. */
static void
test_lease_is_holders (void)
{
        int db = next_db++;
        struct job_store *a = open_store (db, "nodeA", 100, 5);
        struct job_store *b = open_store (db, "nodeB", 100, 5);
        struct ce_error err = { 0 };
        char id[STORE_ID_SIZE];
        int got;

        if (a == NULL || b == NULL)
                goto out;
        submit (a, "long lease", store_now_ms (), id);
        CHECK (take (a, 10000, NULL, NULL) == 1);
        sleep_ms (150);
        got = take (b, 100, NULL, NULL);
        CHECK (got == 0);
        CHECK (store_renew (a, id, 10000, store_now_ms (), &err) == (got ? -ESTALE : 0));
        CHECK (store_finish (got ? b : a, id, "r", 1, store_now_ms (), &err) == 0);
out:
        store_close (a);
        store_close (b);
}

static void
test_abandon (void)
{
        int db = next_db++;
        struct job_store *a = open_store (db, "nodeA", 100, 2);
        struct job_store *b = open_store (db, "nodeB", 100, 2);
        struct store_job j;
        struct ce_error err = { 0 };
        char id[STORE_ID_SIZE], next[STORE_ID_SIZE], got[STORE_ID_SIZE];
        int attempts = 0;
        int64_t before;

        if (a == NULL || b == NULL)
                goto out;
        submit (a, "doomed", store_now_ms (), id);
        CHECK (take (a, 100, NULL, &attempts) == 1 && attempts == 1);
        sleep_ms (150);
        CHECK (take (b, 100, got, &attempts) == 1 && attempts == 2);
        CHECK_STR (got, id);
        sleep_ms (150);
        submit (a, "next", store_now_ms (), next);
        /* Its second lease ran out too: given up, and the next job taken. */
        before = store_now_ms ();
        CHECK (take (a, 100, got, &attempts) == 1);
        CHECK_STR (got, next);
        CHECK (attempts == 1);
        CHECK (store_get (b, id, store_now_ms (), &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL && j.owner == NULL);
        CHECK (j.attempts == 2);
        CHECK (j.finished_ms >= before && j.expires_ms == j.finished_ms + TTL);
        CHECK (j.failure != NULL
               && strncmp (j.failure, STORE_FAILURE_ABANDONED, strlen (STORE_FAILURE_ABANDONED))
                          == 0);
        CHECK (j.failure != NULL && strstr (j.failure, "2 of 2") != NULL);
        store_job_clear (&j);
        CHECK (store_finish (b, id, "late", 4, store_now_ms (), &err) == -ESTALE);
        CHECK (store_cancel (b, id, store_now_ms (), &(bool){ false }, &err) == -EALREADY);
        CHECK (store_finish (a, next, "ok", 2, store_now_ms (), &err) == 0);

        /* Alone in the queue: the take that gives it up returns 0. */
        submit (a, "doomed2", store_now_ms (), id);
        CHECK (take (a, 100, NULL, NULL) == 1);
        sleep_ms (150);
        CHECK (take (a, 100, NULL, &attempts) == 1 && attempts == 2);
        sleep_ms (150);
        CHECK (take (b, 100, NULL, NULL) == 0);
        CHECK (store_get (a, id, store_now_ms (), &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.failure != NULL
               && strncmp (j.failure, STORE_FAILURE_ABANDONED, strlen (STORE_FAILURE_ABANDONED))
                          == 0);
        store_job_clear (&j);
out:
        store_close (a);
        store_close (b);
}

static void
test_recover (void)
{
        int db = next_db++;
        struct job_store *a = open_store (db, "nodeA", 100, 3);
        struct job_store *b = open_store (db, "nodeB", 100, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        char crashed[STORE_ID_SIZE], cancelled[STORE_ID_SIZE], queued[STORE_ID_SIZE],
                got[STORE_ID_SIZE];
        bool was_running = false;
        int attempts = 0;

        if (a == NULL || b == NULL)
                goto out;
        submit (a, "crashed", store_now_ms (), crashed);
        submit (a, "cancelled", store_now_ms (), cancelled);
        submit (a, "queued", store_now_ms (), queued);
        CHECK (take (a, 600000, got, NULL) == 1);
        CHECK_STR (got, crashed);
        CHECK (take (a, 600000, got, NULL) == 1);
        CHECK_STR (got, cancelled);
        /* a stops without finishing (as kill -9 would); meanwhile a job it
         * ran is cancelled through b. */
        store_close (a);
        CHECK (store_cancel (b, cancelled, store_now_ms (), &was_running, &err) == 0);
        CHECK (was_running);
        /* Its lease is long: b does not take them. */
        CHECK (take (b, 600000, got, NULL) == 1);
        CHECK_STR (got, queued);

        a = open_store (db, "nodeA", 100, 3);
        if (a == NULL)
                goto out;
        CHECK (store_recover (a, store_now_ms (), &err) == 2);
        /* "queued again, keeping their attempts" (store.h). */
        CHECK (state_of (a, crashed) == STORE_QUEUED);
        CHECK (store_take (a, 600000, store_now_ms (), &j, &err) == 1);
        CHECK_STR (j.id, crashed);
        CHECK (j.attempts == 2 && j.state == STORE_RUNNING);
        CHECK_STR (j.owner, "nodeA");
        store_job_clear (&j);
        CHECK (store_get (b, cancelled, store_now_ms (), &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL);
        CHECK_STR (j.failure, STORE_FAILURE_CANCELLED);
        store_job_clear (&j);
        CHECK (take (a, 600000, NULL, NULL) == 0);
        CHECK (store_finish (a, crashed, "ok", 2, store_now_ms (), &err) == 0);
        CHECK (store_finish (b, queued, "ok", 2, store_now_ms (), &err) == 0);
        /* Nothing of a's is left to recover. */
        CHECK (store_recover (a, store_now_ms (), &err) == 0);
        store_close (a);

        /* The brief case: one job, a crash, a restart. */
        a = open_store (db, "nodeA", 100, 3);
        if (a == NULL)
                goto out;
        submit (a, "again", store_now_ms (), crashed);
        CHECK (take (a, 600000, got, &attempts) == 1 && attempts == 1);
        store_close (a);
        a = open_store (db, "nodeA", 100, 3);
        if (a == NULL)
                goto out;
        CHECK (store_recover (a, store_now_ms (), &err) == 1);
        CHECK (take (a, 600000, got, &attempts) == 1);
        CHECK_STR (got, crashed);
        CHECK (attempts == 2);
        CHECK (store_finish (a, crashed, "ok", 2, store_now_ms (), &err) == 0);
out:
        store_close (a);
        store_close (b);
}

/* ---- watch and listen ---- */

struct heard {
        pthread_mutex_t lock; /* guards n, ev */
        pthread_cond_t cond;  /* n grew */
        int n;
        struct {
                char id[STORE_ID_SIZE];
                bool cancelled;
        } ev[64];
};

static void
on_event (void *arg, const char *id, bool cancelled)
{
        struct heard *h = arg;

        pthread_mutex_lock (&h->lock);
        if (h->n < (int) (sizeof (h->ev) / sizeof (h->ev[0]))) {
                snprintf (h->ev[h->n].id, STORE_ID_SIZE, "%s", id);
                h->ev[h->n].cancelled = cancelled;
        }
        h->n++;
        pthread_cond_broadcast (&h->cond);
        pthread_mutex_unlock (&h->lock);
}

/* Whether (id, cancelled) was heard within ms. */
static bool
heard (struct heard *h, const char *id, bool cancelled, int64_t ms)
{
        struct timespec deadline;
        bool found = false;
        int seen = 0;

        clock_gettime (CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += ms / 1000;
        deadline.tv_nsec += (ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock (&h->lock);
        for (;;) {
                for (; seen < h->n && seen < (int) (sizeof (h->ev) / sizeof (h->ev[0])); seen++)
                        if (strcmp (h->ev[seen].id, id) == 0 && h->ev[seen].cancelled == cancelled)
                                found = true;
                if (found || pthread_cond_timedwait (&h->cond, &h->lock, &deadline) == ETIMEDOUT)
                        break;
        }
        pthread_mutex_unlock (&h->lock);
        return found;
}

static int
heard_count (struct heard *h)
{
        int n;

        pthread_mutex_lock (&h->lock);
        n = h->n;
        pthread_mutex_unlock (&h->lock);
        return n;
}

static void
test_watch (void)
{
        int db = next_db++;
        struct job_store *a = open_store (db, "nodeA", 100, 3);
        struct job_store *b = open_store (db, "nodeB", 100, 3);
        struct heard h = { .n = 0 };
        pthread_condattr_t ca;
        struct ce_error err = { 0 };
        char id[STORE_ID_SIZE], got[STORE_ID_SIZE];
        bool was_running = false;
        int n;

        CHECK (pthread_mutex_init (&h.lock, NULL) == 0);
        CHECK (pthread_condattr_init (&ca) == 0);
        CHECK (pthread_condattr_setclock (&ca, CLOCK_MONOTONIC) == 0);
        CHECK (pthread_cond_init (&h.cond, &ca) == 0);
        pthread_condattr_destroy (&ca);
        if (a == NULL || b == NULL)
                goto out;
        store_listen (a, on_event, &h);

        /* A job a waits for ends on b. */
        submit (a, "watched", store_now_ms (), id);
        CHECK (store_watch (a, id, &err) == 0);
        CHECK (take (b, 60000, got, NULL) == 1);
        CHECK_STR (got, id);
        CHECK (store_watch (a, id, &err) == 0);
        CHECK (store_finish (b, id, "r", 1, store_now_ms (), &err) == 0);
        CHECK (heard (&h, id, false, 3000));
        CHECK (store_watch (a, id, &err) == 1);
        CHECK (store_watch (b, id, &err) == 1);

        /* A queued job a waits for is cancelled through b. */
        submit (a, "cancelled queued", store_now_ms (), id);
        CHECK (store_watch (a, id, &err) == 0);
        CHECK (store_cancel (b, id, store_now_ms (), &was_running, &err) == 0);
        CHECK (! was_running);
        CHECK (heard (&h, id, false, 3000));

        /* A job a runs is cancelled through b. */
        submit (b, "running on a", store_now_ms (), id);
        CHECK (take (a, 60000, got, NULL) == 1);
        CHECK_STR (got, id);
        CHECK (store_cancel (b, id, store_now_ms (), &was_running, &err) == 0);
        CHECK (was_running);
        CHECK (heard (&h, id, true, 3000));
        CHECK (store_finish (a, id, "x", 1, store_now_ms (), &err) == -ECANCELED);

        /* No listener: no more calls. */
        store_listen (a, NULL, NULL);
        n = heard_count (&h);
        submit (b, "after", store_now_ms (), id);
        CHECK (take (a, 60000, got, NULL) == 1);
        CHECK (store_cancel (b, id, store_now_ms (), &was_running, &err) == 0 && was_running);
        sleep_ms (300);
        CHECK (heard_count (&h) == n);
out:
        store_close (a);
        store_close (b);
        pthread_cond_destroy (&h.cond);
        pthread_mutex_destroy (&h.lock);
}

/* ---- list, stats, expiry ---- */

static void
test_list_stats (void)
{
        struct job_store *s = open_store (next_db++, "nodeA", 100, 3);
        char ids[5][STORE_ID_SIZE], got[STORE_ID_SIZE];
        struct store_job page[10], j;
        struct store_stats st;
        struct ce_error err = { 0 };
        int64_t total = -1, now = store_now_ms ();
        bool existing;
        size_t n = 99;

        if (s == NULL)
                return;
        CHECK (store_stats (s, &st, &err) == 0);
        CHECK (st.queued == 0 && st.running == 0 && st.done == 0);
        for (int i = 0; i < 5; i++)
                submit (s, "n", now + i, ids[i]);
        CHECK (store_submit (s, "judge0", NULL, "j", 1, now + 9, &j, &existing, &err) == 0);
        store_job_clear (&j);
        CHECK (store_list (s, "native", 0, 2, store_now_ms (), page, &n, &total, &err) == 0);
        CHECK (n == 2 && total == 5);
        if (n == 2) {
                CHECK_STR (page[0].id, ids[4]);
                CHECK_STR (page[1].id, ids[3]);
                CHECK_STR (page[0].api, "native");
        }
        while (n > 0)
                store_job_clear (&page[--n]);
        CHECK (store_list (s, "native", 4, 10, store_now_ms (), page, &n, &total, &err) == 0);
        CHECK (n == 1 && total == 5);
        if (n == 1)
                CHECK_STR (page[0].id, ids[0]);
        while (n > 0)
                store_job_clear (&page[--n]);
        CHECK (store_list (s, "piston", 0, 10, store_now_ms (), page, &n, &total, &err) == 0);
        CHECK (n == 0 && total == 0);

        /* 6 jobs: one done, one running, four queued. */
        CHECK (take (s, 60000, got, NULL) == 1);
        CHECK_STR (got, ids[0]);
        CHECK (store_finish (s, got, "r", 1, store_now_ms (), &err) == 0);
        CHECK (take (s, 60000, got, NULL) == 1);
        CHECK (store_stats (s, &st, &err) == 0);
        CHECK (st.queued == 4 && st.running == 1 && st.done == 1);
        CHECK (st.disk_bytes > 0);
        CHECK (store_cancel (s, ids[4], store_now_ms (), &existing, &err) == 0 && ! existing);
        CHECK (store_stats (s, &st, &err) == 0);
        CHECK (st.queued == 3 && st.running == 1 && st.done == 2);
        store_close (s);
}

/* A short result_ttl: the job, its list entry and its idempotency key go. */
static void
test_expire (void)
{
        struct job_store *s = open_store_ttl (next_db++, "nodeA", 100, 3, 300);
        struct store_job j, page[4];
        struct ce_error err = { 0 };
        char id[STORE_ID_SIZE];
        int64_t total = -1;
        bool existing;
        size_t n = 0;

        if (s == NULL)
                return;
        CHECK (store_submit (s, "native", "key", "a", 1, store_now_ms (), &j, &existing, &err)
               == 0);
        snprintf (id, sizeof (id), "%s", j.id);
        store_job_clear (&j);
        CHECK (take (s, 60000, NULL, NULL) == 1);
        CHECK (store_finish (s, id, "r", 1, store_now_ms (), &err) == 0);
        CHECK (store_get (s, id, store_now_ms (), &j, &err) == 0);
        store_job_clear (&j);
        CHECK (store_submit (s, "native", "key", "b", 1, store_now_ms (), &j, &existing, &err)
               == -EEXIST);
        sleep_ms (400);
        CHECK (store_get (s, id, store_now_ms (), &j, &err) == -ENOENT);
        CHECK (store_cancel (s, id, store_now_ms (), &existing, &err) == -ENOENT);
        CHECK (store_expire (s, store_now_ms (), &err) == 1);
        CHECK (store_list (s, "native", 0, 4, store_now_ms (), page, &n, &total, &err) == 0);
        CHECK (n == 0 && total == 0);
        CHECK (store_submit (s, "native", "key", "b", 1, store_now_ms (), &j, &existing, &err)
               == 0);
        CHECK (! existing && strcmp (j.id, id) != 0);
        store_job_clear (&j);
        store_close (s);
}

/* ---- threads ---- */

#define JOBS 300
#define SUBMITTERS 4
#define TAKERS 2

static struct job_store *shared;
static atomic_int submitted, finished, thread_errors;
static atomic_int done_count[JOBS];

static void *
submitter (void *arg)
{
        int first = (int) (intptr_t) arg;

        for (int i = first; i < JOBS; i += SUBMITTERS) {
                struct store_job j;
                struct ce_error err = { 0 };
                char body[32];
                bool existing;

                snprintf (body, sizeof (body), "%d", i);
                if (store_submit (shared, "native", NULL, body, strlen (body), store_now_ms (), &j,
                                  &existing, &err)
                    != 0) {
                        fprintf (stderr, "submit: %s\n", err.msg);
                        atomic_fetch_add (&thread_errors, 1);
                        continue;
                }
                store_job_clear (&j);
                atomic_fetch_add (&submitted, 1);
        }
        return NULL;
}

static void *
taker (void *arg)
{
        int64_t deadline = mono_ms () + 15000;

        (void) arg;
        while (atomic_load (&finished) < JOBS && atomic_load (&thread_errors) == 0) {
                struct store_job j;
                struct ce_error err = { 0 };
                int ret = store_take (shared, 60000, store_now_ms (), &j, &err);
                int n;

                if (ret < 0 || mono_ms () > deadline) {
                        fprintf (stderr, "take: %s\n", ret < 0 ? err.msg : "too slow");
                        atomic_fetch_add (&thread_errors, 1);
                        break;
                }
                if (ret == 0)
                        continue; /* it waited block_ms already */
                n = atoi (j.request);
                if (n < 0 || n >= JOBS || j.attempts != 1
                    || store_finish (shared, j.id, j.request, j.request_len, store_now_ms (), &err)
                               != 0) {
                        fprintf (stderr, "finish %s (%d, attempts %d): %s\n", j.id, n, j.attempts,
                                 err.msg);
                        atomic_fetch_add (&thread_errors, 1);
                } else {
                        atomic_fetch_add (&done_count[n], 1);
                        atomic_fetch_add (&finished, 1);
                }
                store_job_clear (&j);
        }
        return NULL;
}

static void
test_threads (void)
{
        pthread_t sub[SUBMITTERS], tak[TAKERS];
        struct store_stats st;
        int64_t total = 0;
        size_t n = 0;

        shared = open_store (next_db++, "nodeA", 10000, 3);
        if (shared == NULL)
                return;
        for (int i = 0; i < TAKERS; i++)
                CHECK (pthread_create (&tak[i], NULL, taker, NULL) == 0);
        for (int i = 0; i < SUBMITTERS; i++)
                CHECK (pthread_create (&sub[i], NULL, submitter, (void *) (intptr_t) i) == 0);
        for (int i = 0; i < SUBMITTERS; i++)
                pthread_join (sub[i], NULL);
        for (int i = 0; i < TAKERS; i++)
                pthread_join (tak[i], NULL);
        CHECK (atomic_load (&thread_errors) == 0);
        CHECK (atomic_load (&submitted) == JOBS);
        CHECK (atomic_load (&finished) == JOBS);
        for (int i = 0; i < JOBS; i++)
                if (atomic_load (&done_count[i]) != 1) {
                        fprintf (stderr, "job %d done %d times\n", i, atomic_load (&done_count[i]));
                        test_failures++;
                }
        CHECK (store_stats (shared, &st, NULL) == 0);
        CHECK (st.queued == 0 && st.running == 0 && st.done == JOBS);
        CHECK (store_list (shared, "native", 0, 0, store_now_ms (), NULL, &n, &total, NULL) == 0);
        CHECK (n == 0 && total == JOBS);
        store_close (shared);
}

/* ---- Redis goes away and comes back ---- */

static void
test_redis_down (void)
{
        struct job_store *s = open_store (next_db++, "nodeA", 100, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        bool existing;
        int64_t t;
        int ret = -1, fails = 0;

        if (s == NULL)
                return;
        CHECK (store_submit (s, "native", NULL, "x", 1, store_now_ms (), &j, &existing, &err) == 0);
        store_job_clear (&j);
        stop_redis ();

        t = mono_ms ();
        CHECK (store_submit (s, "native", NULL, "x", 1, store_now_ms (), &j, &existing, &err)
               == -ENOTCONN);
        CHECK (mono_ms () - t < 6000);
        CHECK (strstr (err.msg, "Redis") != NULL);
        t = mono_ms ();
        CHECK (store_submit (s, "native", NULL, "x", 1, store_now_ms (), &j, &existing, &err)
               == -ENOTCONN);
        CHECK (mono_ms () - t < 1000);
        /* While it is down every call fails at once: no hang, no spin. */
        t = mono_ms ();
        for (int i = 0; i < 50; i++) {
                memset (&err, 0, sizeof (err));
                if (store_submit (s, "native", NULL, "x", 1, store_now_ms (), &j, &existing, &err)
                    != -ENOTCONN)
                        fails++;
        }
        CHECK (fails == 0);
        CHECK (store_take (s, 60000, store_now_ms (), &j, &err) == -ENOTCONN);
        CHECK (store_get (s, "0123456789abcdef0123456789abcdef", store_now_ms (), &j, &err)
               == -ENOTCONN);
        CHECK (mono_ms () - t < 1000);

        /* Back on the same port, empty: calls succeed again after the
         * backoff, and take makes the consumer group again. */
        CHECK (start_redis (redis_port));
        t = mono_ms ();
        while (mono_ms () - t < 10000) {
                memset (&err, 0, sizeof (err));
                ret = store_submit (s, "native", NULL, "back", 4, store_now_ms (), &j, &existing,
                                    &err);
                if (ret == 0)
                        break;
                if (ret != -ENOTCONN)
                        fprintf (stderr, "submit while Redis comes back: %d %s\n", ret, err.msg);
                sleep_ms (50);
        }
        CHECK (ret == 0);
        if (ret == 0) {
                char got[STORE_ID_SIZE];

                CHECK (take (s, 60000, got, NULL) == 1);
                CHECK_STR (got, j.id);
                CHECK (store_finish (s, j.id, "ok", 2, store_now_ms (), &err) == 0);
                store_job_clear (&j);
        }
        store_close (s);
}

/* CE_MEASURE_RESULTS=N: Redis' used_memory for N done jobs, each with an
 * Idempotency-Key, the seed's request and a /execute answer of the usual
 * size (docs/scaling.md's figure).  Prints; checks nothing but the calls. */
static long long
used_memory (void)
{
        redisContext *c = redisConnect ("127.0.0.1", redis_port);
        redisReply *r = c && ! c->err ? redisCommand (c, "INFO memory") : NULL;
        const char *m = r && r->type == REDIS_REPLY_STRING ? strstr (r->str, "used_memory:") : NULL;
        long long v = m ? atoll (m + strlen ("used_memory:")) : -1;

        if (r)
                freeReplyObject (r);
        if (c)
                redisFree (c);
        return v;
}

static void
measure_results (long n)
{
        static const char req[] = "{\"language\":\"python3\",\"code\":\"print('Hello, World!')\"}";
        static const char res[] =
                "{\"output\":\"Hello, World!\\n\",\"stdout\":\"Hello, World!\\n\",\"stderr\":\"\","
                "\"exit_code\":0,\"signal\":null,\"status\":\"ok\",\"truncated\":false,\"time\":{"
                "\"wall_ms\":9,\"cpu_ms\":14},\"time_ms\":9,\"memory_kb\":3588,\"language\":"
                "\"python3\",\"version\":\"3.11.2\",\"limit_mode\":\"cgroup\"}";
        struct job_store *s = open_store (next_db++, "measure", 0, 3);
        long long before, after;

        if (s == NULL)
                return;
        before = used_memory ();
        for (long i = 0; i < n; i++) {
                struct store_job j;
                struct ce_error err = { 0 };
                char key[32];
                bool existing;

                snprintf (key, sizeof (key), "client-key-%ld", i);
                CHECK (store_submit (s, "native", key, req, strlen (req), store_now_ms (), &j,
                                     &existing, &err)
                       == 0);
                store_job_clear (&j);
                CHECK (store_take (s, 30000, store_now_ms (), &j, &err) == 1);
                CHECK (store_finish (s, j.id, res, strlen (res), store_now_ms (), &err) == 0);
                store_job_clear (&j);
        }
        after = used_memory ();
        printf ("FIGURE: Redis used_memory for %ld done jobs: %lld bytes, %.0f bytes per job, "
                "%.1f MB per 10,000\n",
                n, after - before, (double) (after - before) / (double) n,
                (double) (after - before) / (double) n * 10000 / 1e6);
        store_close (s);
}

int
main (void)
{
        char tmpl[] = "/tmp/test_store_redis.XXXXXX";
        const char *ci = getenv ("CI");
        bool started = false;

        if (access (REDIS_SERVER, X_OK) != 0) {
                if (ci && strcmp (ci, "true") == 0) {
                        fprintf (stderr, "%s is missing, and CI must run this test\n",
                                 REDIS_SERVER);
                        return 1;
                }
                printf ("skipped: %s is missing (Debian: redis-server)\n", REDIS_SERVER);
                return 77;
        }
        /* As main.c does: a write to a connection Redis closed is an error,
         * not a signal. */
        signal (SIGPIPE, SIG_IGN);
        if (mkdtemp (tmpl) == NULL) {
                perror ("mkdtemp");
                return 1;
        }
        snprintf (dir, sizeof (dir), "%s", tmpl);
        atexit (cleanup);
        signal (SIGINT, on_signal);
        signal (SIGTERM, on_signal);
        for (int i = 0; i < 5 && ! started; i++) {
                redis_port = free_port ();
                started = redis_port > 0 && start_redis (redis_port);
        }
        if (! started) {
                fprintf (stderr, "cannot start %s (see %s/redis.log)\n", REDIS_SERVER, dir);
                return 1;
        }

        test_roundtrip ();
        test_idempotency ();
        test_max_jobs ();
        test_cancel ();
        test_bad_ids ();
        test_lease ();
        test_lease_is_holders ();
        test_abandon ();
        test_recover ();
        test_watch ();
        test_list_stats ();
        test_expire ();
        test_threads ();
        test_redis_down ();
        if (getenv ("CE_MEASURE_RESULTS"))
                measure_results (atol (getenv ("CE_MEASURE_RESULTS")));
        TEST_DONE ();
}
