/* Unit tests for the job store (store.h) on SQLite files in a temporary
 * directory: submit and get with binary bytes, idempotency keys, the bound
 * on jobs, take's order, leases taken over by another node (the same file
 * opened twice with two node names), renew, cancel in every state, recovery
 * after a crash, jobs given up after max_attempts, expiry, survival across
 * a reopen, stats, a file from a newer format, and threads submitting and
 * taking at once.  The clock is the tests': every call gets its `now`. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "test.h"

static char root[256];

#define T0 ((int64_t) 1700000000000) /* the tests' epoch */
#define TTL 60000

static void
db_path (const char *name, char *out, size_t size)
{
        snprintf (out, size, "%s/%s.db", root, name);
}

static struct job_store *
open_store (const char *name, const char *node, int64_t max_jobs, int max_attempts)
{
        struct store_params p = { .max_jobs = max_jobs,
                                  .result_ttl_ms = TTL,
                                  .node = node,
                                  .max_attempts = max_attempts };
        struct ce_error err = { 0 };
        struct job_store *s = NULL;
        char path[512];

        db_path (name, path, sizeof (path));
        p.path = path;
        if (store_sqlite_open (&p, &s, &err) < 0) {
                fprintf (stderr, "store_sqlite_open %s: %s\n", path, err.msg);
                test_failures++;
        }
        return s;
}

/* Submit a job without a key: its id into id. */
static void
submit (struct job_store *s, const char *body, int64_t now, char id[STORE_ID_SIZE])
{
        struct store_job j;
        struct ce_error err = { 0 };
        bool existing;

        CHECK (store_submit (s, "native", NULL, body, strlen (body), now, &j, &existing, &err)
               == 0);
        CHECK (! existing);
        snprintf (id, STORE_ID_SIZE, "%s", j.id);
        store_job_clear (&j);
}

/* A page of one API's jobs, newest first, expired ones left out. */
static void
test_list (void)
{
        struct job_store *s = open_store ("list", "node-a", 100, 3);
        char ids[5][STORE_ID_SIZE];
        struct store_job page[10], j;
        struct ce_error err = { 0 };
        int64_t total = -1;
        bool existing;
        size_t n = 99;

        if (s == NULL)
                return;
        for (int i = 0; i < 5; i++)
                submit (s, "n", T0 + i, ids[i]);
        CHECK (store_submit (s, "judge0", NULL, "j", 1, T0 + 9, &j, &existing, &err) == 0);
        store_job_clear (&j);
        CHECK (store_list (s, "native", 0, 2, T0 + 10, page, &n, &total, &err) == 0);
        CHECK (n == 2 && total == 5);
        if (n == 2) {
                CHECK_STR (page[0].id, ids[4]);
                CHECK_STR (page[1].id, ids[3]);
        }
        while (n > 0)
                store_job_clear (&page[--n]);
        CHECK (store_list (s, "native", 4, 10, T0 + 10, page, &n, &total, &err) == 0);
        CHECK (n == 1 && total == 5);
        if (n == 1)
                CHECK_STR (page[0].id, ids[0]);
        while (n > 0)
                store_job_clear (&page[--n]);
        /* Done and expired: gone from the list too. */
        CHECK (store_cancel (s, ids[2], T0 + 11, &existing, &err) == 0);
        CHECK (store_list (s, "native", 0, 10, T0 + 12 + TTL, page, &n, &total, &err) == 0);
        CHECK (n == 4 && total == 4);
        while (n > 0)
                store_job_clear (&page[--n]);
        CHECK (store_list (s, "piston", 0, 10, T0, page, &n, &total, &err) == 0);
        CHECK (n == 0 && total == 0);
        store_close (s);
}

static enum store_state
state_of (struct job_store *s, const char *id, int64_t now)
{
        struct store_job j;
        enum store_state st;

        if (store_get (s, id, now, &j, NULL) < 0)
                return (enum store_state) - 1;
        st = j.state;
        store_job_clear (&j);
        return st;
}

static void
test_roundtrip (void)
{
        static const char body[] = "{\"a\":\0\"\xff\x01\"}";
        struct job_store *s = open_store ("roundtrip", "node-a", 100, 3);
        struct store_job j, g;
        struct ce_error err = { 0 };
        bool existing = true;
        char path[512];
        struct stat st;

        if (s == NULL)
                return;
        db_path ("roundtrip", path, sizeof (path));
        CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
        CHECK (store_submit (s, "native", NULL, body, sizeof (body), T0, &j, &existing, &err) == 0);
        strcat (path, "-wal");
        CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
        CHECK (! existing);
        CHECK (strlen (j.id) == STORE_ID_LEN);
        CHECK (strspn (j.id, "0123456789abcdef") == STORE_ID_LEN);
        CHECK (j.state == STORE_QUEUED);
        CHECK (j.request_len == sizeof (body) && memcmp (j.request, body, sizeof (body)) == 0);
        CHECK (j.result == NULL && j.failure == NULL && j.owner == NULL && j.idem_key == NULL);
        CHECK (j.created_ms == T0 && j.attempts == 0);

        CHECK (store_get (s, j.id, T0 + 1, &g, &err) == 0);
        CHECK_STR (g.id, j.id);
        CHECK_STR (g.api, "native");
        CHECK (g.request_len == sizeof (body) && memcmp (g.request, body, sizeof (body)) == 0);
        store_job_clear (&g);

        /* A result with NUL bytes, and an empty request. */
        CHECK (store_take (s, 1000, T0 + 2, &g, &err) == 1);
        store_job_clear (&g);
        CHECK (store_finish (s, j.id, "r\0s", 3, T0 + 3, &err) == 0);
        CHECK (store_get (s, j.id, T0 + 4, &g, &err) == 0);
        CHECK (g.state == STORE_DONE && g.result_len == 3 && memcmp (g.result, "r\0s", 3) == 0);
        CHECK (g.failure == NULL && g.finished_ms == T0 + 3 && g.expires_ms == T0 + 3 + TTL);
        store_job_clear (&g);
        store_job_clear (&j);

        CHECK (store_submit (s, "native", NULL, NULL, 0, T0, &j, &existing, &err) == 0);
        CHECK (store_get (s, j.id, T0, &g, &err) == 0);
        CHECK (g.request != NULL && g.request_len == 0);
        store_job_clear (&g);
        store_job_clear (&j);

        CHECK (store_get (s, "0123456789abcdef0123456789abcdef", T0, &g, &err) == -ENOENT);
        store_close (s);
}

static void
test_idempotency (void)
{
        struct job_store *s = open_store ("idem", "node-a", 100, 3);
        struct store_job a, b;
        struct ce_error err = { 0 };
        bool existing;

        if (s == NULL)
                return;
        CHECK (store_submit (s, "native", "k1", "body", 4, T0, &a, &existing, &err) == 0);
        CHECK (! existing);
        CHECK_STR (a.idem_key, "k1");
        CHECK (store_submit (s, "native", "k1", "body", 4, T0 + 1, &b, &existing, &err) == 0);
        CHECK (existing);
        CHECK_STR (a.id, b.id);
        store_job_clear (&b);
        CHECK (store_submit (s, "native", "k1", "other", 5, T0 + 2, &b, &existing, &err)
               == -EEXIST);
        CHECK (strstr (err.msg, "idempotency") != NULL);
        CHECK (store_submit (s, "judge0", "k1", "body", 4, T0 + 3, &b, &existing, &err) == 0);
        CHECK (! existing);
        CHECK (strcmp (a.id, b.id) != 0);
        store_job_clear (&b);

        /* Once its job expired, the key is free again. */
        CHECK (store_take (s, 1000, T0 + 10, &b, &err) == 1);
        CHECK_STR (b.id, a.id);
        CHECK (store_finish (s, a.id, "x", 1, T0 + 20, &err) == 0);
        store_job_clear (&b);
        CHECK (store_submit (s, "native", "k1", "other", 5, T0 + 20 + TTL, &b, &existing, &err)
               == 0);
        CHECK (! existing);
        CHECK (strcmp (a.id, b.id) != 0);
        store_job_clear (&b);
        store_job_clear (&a);
        store_close (s);
}

static void
test_max_jobs (void)
{
        struct job_store *s = open_store ("max", "node-a", 3, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        bool existing;
        char id[3][STORE_ID_SIZE];

        if (s == NULL)
                return;
        for (int i = 0; i < 3; i++)
                submit (s, "job", T0 + i, id[i]);
        CHECK (store_submit (s, "native", NULL, "x", 1, T0 + 5, &j, &existing, &err) == -ENOSPC);
        /* Done jobs count until they expire. */
        CHECK (store_take (s, 1000, T0 + 6, &j, &err) == 1);
        CHECK (store_finish (s, j.id, "r", 1, T0 + 7, &err) == 0);
        store_job_clear (&j);
        CHECK (store_submit (s, "native", NULL, "x", 1, T0 + 8, &j, &existing, &err) == -ENOSPC);
        CHECK (store_expire (s, T0 + 7 + TTL - 1, &err) == 0);
        CHECK (store_expire (s, T0 + 7 + TTL, &err) == 1);
        CHECK (store_get (s, id[0], T0, &j, &err) == -ENOENT);
        CHECK (store_submit (s, "native", NULL, "x", 1, T0 + 7 + TTL, &j, &existing, &err) == 0);
        store_job_clear (&j);
        store_close (s);
}

static void
test_take_order (void)
{
        struct job_store *s = open_store ("order", "node-a", 100, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        char id[3][STORE_ID_SIZE];

        if (s == NULL)
                return;
        CHECK (store_take (s, 1000, T0, &j, &err) == 0);
        for (int i = 0; i < 3; i++)
                submit (s, "job", T0 + i, id[i]);
        for (int i = 0; i < 3; i++) {
                CHECK (store_take (s, 1000, T0 + 10, &j, &err) == 1);
                CHECK_STR (j.id, id[i]);
                CHECK (j.state == STORE_RUNNING && j.attempts == 1);
                CHECK_STR (j.owner, "node-a");
                CHECK (j.started_ms == T0 + 10 && j.lease_until_ms == T0 + 1010);
                store_job_clear (&j);
        }
        CHECK (store_take (s, 1000, T0 + 20, &j, &err) == 0);
        store_close (s);
}

static void
test_lease_takeover (void)
{
        struct job_store *a = open_store ("lease", "node-a", 100, 3);
        struct job_store *b = open_store ("lease", "node-b", 100, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        char id[STORE_ID_SIZE];

        if (a == NULL || b == NULL)
                goto out;
        submit (a, "job", T0, id);
        CHECK (store_take (a, 1000, T0, &j, &err) == 1);
        store_job_clear (&j);
        /* Within its lease, nobody else takes it; renewing keeps it. */
        CHECK (store_take (b, 1000, T0 + 999, &j, &err) == 0);
        CHECK (store_renew (a, id, 1000, T0 + 900, &err) == 0);
        CHECK (store_take (b, 1000, T0 + 1500, &j, &err) == 0);
        CHECK (store_renew (b, id, 1000, T0 + 1500, &err) == -ESTALE);
        /* a stalls: its lease runs out and b takes the job over. */
        CHECK (store_take (b, 1000, T0 + 1900, &j, &err) == 1);
        CHECK_STR (j.id, id);
        CHECK_STR (j.owner, "node-b");
        CHECK (j.attempts == 2);
        store_job_clear (&j);
        CHECK (store_renew (a, id, 1000, T0 + 2000, &err) == -ESTALE);
        CHECK (store_finish (a, id, "old", 3, T0 + 2000, &err) == -ESTALE);
        CHECK (store_finish (b, id, "new", 3, T0 + 2100, &err) == 0);
        CHECK (store_finish (a, id, "old", 3, T0 + 2200, &err) == -ESTALE);
        CHECK (store_finish (b, id, "again", 5, T0 + 2200, &err) == -ESTALE);
        CHECK (store_get (a, id, T0 + 2300, &j, &err) == 0);
        CHECK (j.result_len == 3 && memcmp (j.result, "new", 3) == 0);
        store_job_clear (&j);
out:
        store_close (a);
        store_close (b);
}

static void
test_cancel (void)
{
        struct job_store *s = open_store ("cancel", "node-a", 100, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        bool was_running = true;
        char queued[STORE_ID_SIZE], running[STORE_ID_SIZE];

        if (s == NULL)
                return;
        submit (s, "q", T0, running);
        submit (s, "r", T0, queued);
        CHECK (store_take (s, 1000, T0, &j, &err) == 1);
        CHECK_STR (j.id, running);
        store_job_clear (&j);

        CHECK (store_cancel (s, queued, T0 + 1, &was_running, &err) == 0);
        CHECK (! was_running);
        CHECK (store_get (s, queued, T0 + 2, &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL && j.expires_ms == T0 + 1 + TTL);
        CHECK_STR (j.failure, STORE_FAILURE_CANCELLED);
        store_job_clear (&j);
        CHECK (store_take (s, 1000, T0 + 2, &j, &err) == 0);

        CHECK (store_cancelled (s, running, &err) == 0);
        CHECK (store_cancel (s, running, T0 + 3, &was_running, &err) == 0);
        CHECK (was_running);
        CHECK (store_cancelled (s, running, &err) == 1);
        CHECK (state_of (s, running, T0 + 3) == STORE_RUNNING);
        CHECK (store_renew (s, running, 1000, T0 + 4, &err) == -ECANCELED);
        CHECK (store_finish (s, running, "late", 4, T0 + 5, &err) == -ECANCELED);
        CHECK (store_get (s, running, T0 + 6, &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL);
        CHECK_STR (j.failure, STORE_FAILURE_CANCELLED);
        store_job_clear (&j);

        CHECK (store_cancel (s, running, T0 + 7, &was_running, &err) == -EALREADY);
        CHECK (store_cancel (s, "ffffffffffffffffffffffffffffffff", T0, &was_running, &err)
               == -ENOENT);
        CHECK (store_cancelled (s, "ffffffffffffffffffffffffffffffff", &err) == -ENOENT);
        CHECK (store_cancel (s, queued, T0 + 1 + TTL, &was_running, &err) == -ENOENT);
        store_close (s);
}

static void
test_recover_and_survive (void)
{
        struct job_store *s = open_store ("recover", "node-a", 100, 3);
        struct store_job j;
        struct ce_error err = { 0 };
        char crashed[STORE_ID_SIZE], done[STORE_ID_SIZE], queued[STORE_ID_SIZE],
                cancelled[STORE_ID_SIZE];
        bool was_running;

        if (s == NULL)
                return;
        submit (s, "crashed", T0, crashed);
        submit (s, "done", T0, done);
        submit (s, "cancelled", T0, cancelled);
        submit (s, "queued", T0, queued);
        for (int i = 0; i < 3; i++) {
                CHECK (store_take (s, 600000, T0 + 1, &j, &err) == 1);
                store_job_clear (&j);
        }
        CHECK (store_finish (s, done, "result", 6, T0 + 2, &err) == 0);
        CHECK (store_cancel (s, cancelled, T0 + 2, &was_running, &err) == 0 && was_running);
        /* The server stops without finishing (as kill -9 would). */
        store_close (s);

        s = open_store ("recover", "node-a", 100, 3);
        if (s == NULL)
                return;
        CHECK (store_recover (s, T0 + 3, &err) == 2);
        CHECK (store_get (s, crashed, T0 + 4, &j, &err) == 0);
        CHECK (j.state == STORE_QUEUED && j.owner == NULL && j.attempts == 1);
        store_job_clear (&j);
        CHECK (store_get (s, cancelled, T0 + 4, &j, &err) == 0);
        CHECK (j.state == STORE_DONE);
        CHECK_STR (j.failure, STORE_FAILURE_CANCELLED);
        store_job_clear (&j);
        CHECK (store_get (s, done, T0 + 4, &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result_len == 6 && memcmp (j.result, "result", 6) == 0);
        store_job_clear (&j);
        CHECK (state_of (s, queued, T0 + 4) == STORE_QUEUED);
        /* The crashed job is the oldest: it goes first, counting its crash. */
        CHECK (store_take (s, 1000, T0 + 5, &j, &err) == 1);
        CHECK_STR (j.id, crashed);
        CHECK (j.attempts == 2);
        store_job_clear (&j);
        CHECK (store_recover (s, T0 + 6, &err) == 1);
        store_close (s);
}

/* A server killed with SIGKILL: what it accepted and finished is there, and
 * the job it was running is queued again by its next start (here with
 * max_attempts 1: given up at once, saying why). */
static void
test_kill9 (void)
{
        struct job_store *s;
        struct store_job j;
        struct ce_error err = { 0 };
        char crashed[STORE_ID_SIZE] = "";
        int status = 0, fds[2];
        pid_t pid;

        CHECK (pipe (fds) == 0);
        pid = fork ();
        CHECK (pid >= 0);
        if (pid == 0) {
                char id[STORE_ID_SIZE];

                s = open_store ("kill9", "node-a", 100, 1);
                if (s == NULL)
                        _exit (1);
                submit (s, "running", T0, id);
                if (write (fds[1], id, STORE_ID_SIZE) != STORE_ID_SIZE)
                        _exit (1);
                submit (s, "finished", T0 + 1, id);
                submit (s, "queued", T0 + 2, id);
                for (int i = 0; i < 2; i++)
                        if (store_take (s, 600000, T0 + 3, &j, &err) != 1)
                                _exit (1);
                if (store_finish (s, j.id, "ok", 2, T0 + 4, &err) != 0)
                        _exit (1);
                kill (getpid (), SIGKILL);
                _exit (1);
        }
        close (fds[1]);
        CHECK (read (fds[0], crashed, STORE_ID_SIZE) == STORE_ID_SIZE);
        close (fds[0]);
        CHECK (waitpid (pid, &status, 0) == pid);
        CHECK (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
        s = open_store ("kill9", "node-a", 100, 1);
        if (s == NULL)
                return;
        CHECK (store_recover (s, T0 + 5, &err) == 1);
        CHECK (store_take (s, 1000, T0 + 6, &j, &err) == 1);
        CHECK (j.request_len == 6 && memcmp (j.request, "queued", 6) == 0);
        store_job_clear (&j);
        CHECK (store_take (s, 1000, T0 + 7, &j, &err) == 0);
        CHECK (store_get (s, crashed, T0 + 8, &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL && j.attempts == 1);
        CHECK_STR (j.failure, "abandoned: started 1 of 1 times, and the server running it "
                              "stopped before it finished");
        store_job_clear (&j);
        {
                struct store_stats st;

                CHECK (store_stats (s, &st, &err) == 0);
                CHECK (st.queued == 0 && st.running == 1 && st.done == 2);
        }
        store_close (s);
}

static void
test_max_attempts (void)
{
        struct job_store *s = open_store ("attempts", "node-a", 100, 2);
        struct store_job j;
        struct ce_error err = { 0 };
        char id[STORE_ID_SIZE], next[STORE_ID_SIZE];

        if (s == NULL)
                return;
        submit (s, "doomed", T0, id);
        CHECK (store_take (s, 1000, T0, &j, &err) == 1);
        store_job_clear (&j);
        CHECK (store_take (s, 1000, T0 + 1000, &j, &err) == 1);
        CHECK (j.attempts == 2);
        store_job_clear (&j);
        submit (s, "next", T0 + 1500, next);
        /* Its second lease ran out too: given up, and the next job taken. */
        CHECK (store_take (s, 1000, T0 + 2000, &j, &err) == 1);
        CHECK_STR (j.id, next);
        store_job_clear (&j);
        CHECK (store_get (s, id, T0 + 2001, &j, &err) == 0);
        CHECK (j.state == STORE_DONE && j.result == NULL && j.owner == NULL);
        CHECK (j.finished_ms == T0 + 2000 && j.expires_ms == T0 + 2000 + TTL);
        CHECK (j.failure != NULL
               && strncmp (j.failure, STORE_FAILURE_ABANDONED, strlen (STORE_FAILURE_ABANDONED))
                          == 0);
        CHECK (j.failure != NULL && strstr (j.failure, "2 of 2") != NULL);
        store_job_clear (&j);
        CHECK (store_take (s, 1000, T0 + 2002, &j, &err) == 0);
        store_close (s);
}

static void
test_stats_and_expire (void)
{
        struct job_store *s = open_store ("stats", "node-a", 100, 3);
        struct store_stats st;
        struct store_job j;
        struct ce_error err = { 0 };
        char id[STORE_ID_SIZE];

        if (s == NULL)
                return;
        for (int i = 0; i < 4; i++)
                submit (s, "job", T0, id);
        CHECK (store_take (s, 1000, T0, &j, &err) == 1);
        CHECK (store_finish (s, j.id, "r", 1, T0, &err) == 0);
        store_job_clear (&j);
        CHECK (store_take (s, 1000, T0, &j, &err) == 1);
        store_job_clear (&j);
        CHECK (store_stats (s, &st, &err) == 0);
        CHECK (st.queued == 2 && st.running == 1 && st.done == 1);
        CHECK (st.disk_bytes > 0);
        CHECK (store_get (s, id, T0 + TTL, &j, &err) == 0);
        store_job_clear (&j);
        CHECK (store_expire (s, T0 + TTL, &err) == 1);
        CHECK (store_stats (s, &st, &err) == 0);
        CHECK (st.queued == 2 && st.running == 1 && st.done == 0);
        store_close (s);
}

static void
test_future_format (void)
{
        struct store_params p = {
                .max_jobs = 10, .result_ttl_ms = TTL, .node = "node-a", .max_attempts = 3
        };
        struct job_store *s = open_store ("future", "node-a", 10, 3);
        struct ce_error err = { 0 };
        sqlite3 *db = NULL;
        char path[512];

        store_close (s);
        db_path ("future", path, sizeof (path));
        CHECK (sqlite3_open (path, &db) == SQLITE_OK);
        CHECK (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close (db);
        p.path = path;
        s = NULL;
        CHECK (store_sqlite_open (&p, &s, &err) == -EPROTO);
        CHECK (s == NULL);
        CHECK (strstr (err.msg, "newer") != NULL && strstr (err.msg, "99") != NULL);

        /* Another application's database is not taken for a job store. */
        db_path ("foreign", path, sizeof (path));
        CHECK (sqlite3_open (path, &db) == SQLITE_OK);
        CHECK (sqlite3_exec (db, "CREATE TABLE t (x)", NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close (db);
        memset (&err, 0, sizeof (err));
        CHECK (store_sqlite_open (&p, &s, &err) == -EPROTO);
        CHECK (strstr (err.msg, "not a CodeEngine job store") != NULL);
}

/* ---- threads ---- */

#define JOBS 500
#define SUBMITTERS 4
#define TAKERS 2

static struct job_store *shared_a, *shared_b;
static atomic_int submitted, finished, taker_errors;
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
                if (store_submit (shared_a, "native", NULL, body, strlen (body), store_now_ms (),
                                  &j, &existing, &err)
                    != 0) {
                        fprintf (stderr, "submit: %s\n", err.msg);
                        atomic_fetch_add (&taker_errors, 1);
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
        struct job_store *s = arg;

        while (atomic_load (&finished) < JOBS && atomic_load (&taker_errors) == 0) {
                struct store_job j;
                struct ce_error err = { 0 };
                int ret = store_take (s, 60000, store_now_ms (), &j, &err);
                int n;

                if (ret < 0) {
                        fprintf (stderr, "take: %s\n", err.msg);
                        atomic_fetch_add (&taker_errors, 1);
                        break;
                }
                if (ret == 0) {
                        usleep (1000);
                        continue;
                }
                n = atoi (j.request);
                if (n < 0 || n >= JOBS
                    || store_finish (s, j.id, j.request, j.request_len, store_now_ms (), &err)
                               != 0) {
                        fprintf (stderr, "finish %s: %s\n", j.id, err.msg);
                        atomic_fetch_add (&taker_errors, 1);
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

        shared_a = open_store ("threads", "node-a", 10000, 3);
        shared_b = open_store ("threads", "node-b", 10000, 3);
        if (shared_a == NULL || shared_b == NULL)
                goto out;
        for (int i = 0; i < TAKERS; i++)
                CHECK (pthread_create (&tak[i], NULL, taker, i ? shared_b : shared_a) == 0);
        for (int i = 0; i < SUBMITTERS; i++)
                CHECK (pthread_create (&sub[i], NULL, submitter, (void *) (intptr_t) i) == 0);
        for (int i = 0; i < SUBMITTERS; i++)
                pthread_join (sub[i], NULL);
        for (int i = 0; i < TAKERS; i++)
                pthread_join (tak[i], NULL);
        CHECK (atomic_load (&taker_errors) == 0);
        CHECK (atomic_load (&submitted) == JOBS);
        CHECK (atomic_load (&finished) == JOBS);
        for (int i = 0; i < JOBS; i++)
                if (atomic_load (&done_count[i]) != 1) {
                        fprintf (stderr, "job %d done %d times\n", i, atomic_load (&done_count[i]));
                        test_failures++;
                }
        CHECK (store_stats (shared_a, &st, NULL) == 0);
        CHECK (st.queued == 0 && st.running == 0 && st.done == JOBS);
out:
        store_close (shared_a);
        store_close (shared_b);
}

static int
remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        (void) flag;
        (void) ftw;
        return remove (path);
}

int
main (void)
{
        char tmpl[] = "/tmp/test_store.XXXXXX";

        if (mkdtemp (tmpl) == NULL)
                return 1;
        snprintf (root, sizeof (root), "%s", tmpl);
        test_roundtrip ();
        test_idempotency ();
        test_max_jobs ();
        test_take_order ();
        test_lease_takeover ();
        test_cancel ();
        test_recover_and_survive ();
        test_kill9 ();
        test_max_attempts ();
        test_stats_and_expire ();
        test_future_format ();
        test_threads ();
        test_list ();
        if (nftw (root, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
                fprintf (stderr, "cannot remove %s\n", root);
        TEST_DONE ();
}
