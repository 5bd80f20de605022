/*
 * store_sqlite.c - the job store (store.h) in one SQLite database file.
 *
 * One table, `jobs`, one row a job; the request and result are BLOBs, so
 * any bytes go in and come back.  Every change is one transaction begun
 * with BEGIN IMMEDIATE, which takes the database's write lock first: two
 * connections (two servers on one file, or the tests' two "nodes") never
 * both read a queued job and both claim it, and never fail half-way with
 * SQLITE_BUSY on an upgrade from a read lock.  Waits for the lock are
 * bounded by busy_timeout, after which a call fails with -EBUSY.
 *
 * Durability.  The file is in WAL mode with synchronous=FULL: every commit
 * fsyncs the WAL before it returns, so a job answered with 202 (or a result
 * reported done) survives kill -9 and a power cut too.  WAL with NORMAL
 * would survive kill -9 but could lose the last commits to a power cut; a
 * job the client was told about must never be lost, and a commit costs one
 * fsync, which is small beside running a container.
 *
 * Locking.  A store has one connection, opened SQLITE_OPEN_NOMUTEX and
 * guarded by the store's mutex together with its prepared statements (made
 * once at open, SQLITE_PREPARE_PERSISTENT, reset after every use).  Every
 * call is short (no call waits for anything but the file's lock), so one
 * connection serialises little; WAL lets other connections read meanwhile.
 *
 * Given-up jobs.  A job started max_attempts times without being finished
 * is finished by store_take, when it would start it again: DONE with result
 * NULL and failure "abandoned: ...".  The store never writes a result
 * itself: each API answers in its own shape, and the front-end named by the
 * job's api turns the failure into its body when the job is read.
 *
 * Format.  PRAGMA user_version is the schema's version and application_id
 * marks the file as a job store: a file of a newer version, or another
 * SQLite database, is refused rather than misread.  SQL is only ever the
 * constant text below; every value is a bound parameter.
 */
#include "store.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "metrics.h"

#define SCHEMA_VERSION 1
#define APPLICATION_ID 1128622690 /* 0x43456a62, "CEjb" */
#define BUSY_TIMEOUT_MS 10000

static const char SCHEMA[] =
        "CREATE TABLE jobs ("
        " seq INTEGER PRIMARY KEY," /* submission order: take's "oldest" */
        " id TEXT NOT NULL UNIQUE,"
        " state INTEGER NOT NULL,"
        " api TEXT NOT NULL,"
        " idem_key TEXT,"
        " request BLOB NOT NULL,"
        " result BLOB,"
        " failure TEXT,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " owner TEXT,"
        " cancel_requested INTEGER NOT NULL DEFAULT 0,"
        " created_ms INTEGER NOT NULL,"
        " started_ms INTEGER NOT NULL DEFAULT 0,"
        " finished_ms INTEGER NOT NULL DEFAULT 0,"
        " lease_until_ms INTEGER NOT NULL DEFAULT 0,"
        " expires_ms INTEGER NOT NULL DEFAULT 0);"
        "CREATE UNIQUE INDEX jobs_idem ON jobs (api, idem_key) WHERE idem_key IS NOT NULL;"
        "CREATE INDEX jobs_queue ON jobs (state, seq);"
        "CREATE INDEX jobs_expiry ON jobs (state, expires_ms);";
/* Marks the file as a job store of this format: the two numbers above. */
static const char STAMP[] = "PRAGMA application_id = 1128622690; PRAGMA user_version = 1;";

#define JOB_COLUMNS                                                                                \
        "id, state, api, request, result, failure, attempts, owner, cancel_requested, "            \
        "created_ms, started_ms, finished_ms, lease_until_ms, expires_ms, idem_key"

enum {
        ST_BEGIN,
        ST_COMMIT,
        ST_ROLLBACK,
        ST_BY_ID,
        ST_BY_KEY,
        ST_LIVE,
        ST_INSERT,
        ST_DELETE,
        ST_NEXT,
        ST_CLAIM,
        ST_CLOSE,
        ST_DONE,
        ST_RENEW,
        ST_REQUEST_CANCEL,
        ST_RECOVER_CANCELLED,
        ST_RECOVER,
        ST_EXPIRE,
        ST_COUNTS,
        ST_COUNT_,
};

static const char *const STATEMENTS[ST_COUNT_] = {
        [ST_BEGIN] = "BEGIN IMMEDIATE",
        [ST_COMMIT] = "COMMIT",
        [ST_ROLLBACK] = "ROLLBACK",
        [ST_BY_ID] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1",
        [ST_BY_KEY] = "SELECT " JOB_COLUMNS " FROM jobs WHERE api = ?1 AND idem_key = ?2",
        /* Jobs not yet expired: all but the done ones whose time passed. */
        [ST_LIVE] = "SELECT (SELECT count(*) FROM jobs)"
                    " - (SELECT count(*) FROM jobs WHERE state = 2 AND expires_ms <= ?1)",
        [ST_INSERT] = "INSERT INTO jobs (id, state, api, idem_key, request, created_ms)"
                      " VALUES (?1, 0, ?2, ?3, ?4, ?5)",
        [ST_DELETE] = "DELETE FROM jobs WHERE id = ?1",
        /* The oldest queued job or running job whose lease ran out; each
         * half is one step down an index. */
        [ST_NEXT] =
                "SELECT " JOB_COLUMNS " FROM jobs WHERE seq = (SELECT min(s) FROM ("
                " SELECT min(seq) AS s FROM jobs WHERE state = 0"
                " UNION ALL SELECT min(seq) FROM jobs WHERE state = 1 AND lease_until_ms <= ?1))",
        [ST_CLAIM] = "UPDATE jobs SET state = 1, owner = ?2, attempts = attempts + 1,"
                     " started_ms = ?3, lease_until_ms = ?4 WHERE id = ?1",
        /* Done without a result. */
        [ST_CLOSE] = "UPDATE jobs SET state = 2, owner = NULL, result = NULL, failure = ?2,"
                     " finished_ms = ?3, expires_ms = ?4, lease_until_ms = 0 WHERE id = ?1",
        [ST_DONE] = "UPDATE jobs SET state = 2, owner = NULL, result = ?2, failure = NULL,"
                    " finished_ms = ?3, expires_ms = ?4, lease_until_ms = 0 WHERE id = ?1",
        [ST_RENEW] = "UPDATE jobs SET lease_until_ms = ?2 WHERE id = ?1",
        [ST_REQUEST_CANCEL] = "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1",
        [ST_RECOVER_CANCELLED] =
                "UPDATE jobs SET state = 2, owner = NULL, failure = ?4, finished_ms = ?2,"
                " expires_ms = ?3, lease_until_ms = 0"
                " WHERE state = 1 AND owner = ?1 AND cancel_requested = 1",
        [ST_RECOVER] = "UPDATE jobs SET state = 0, owner = NULL, lease_until_ms = 0"
                       " WHERE state = 1 AND owner = ?1",
        [ST_EXPIRE] = "DELETE FROM jobs WHERE state = 2 AND expires_ms <= ?1",
        [ST_COUNTS] = "SELECT state, count(*) FROM jobs GROUP BY state",
};

struct sqlite_store {
        struct job_store base; /* first: a struct job_store * is one of these */
        char *path, *node;
        int64_t max_jobs, result_ttl_ms;
        int max_attempts;
        pthread_mutex_t lock; /* guards db and every statement in st */
        sqlite3 *db;
        sqlite3_stmt *st[ST_COUNT_];
};

static struct sqlite_store *
of (struct job_store *s)
{
        return (struct sqlite_store *) s;
}

/* ---- statements ---- */

static void
stmt_resetp (sqlite3_stmt **st)
{
        if (*st) {
                sqlite3_reset (*st);
                sqlite3_clear_bindings (*st);
        }
}

/* A prepared statement, reset and unbound when the local goes out of scope. */
#define cleanup_stmt __attribute__ ((cleanup (stmt_resetp)))

static int
sql_fail (struct sqlite_store *s, struct ce_error *err, int rc, const char *what)
{
        int code = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? EBUSY : EIO;

        return ce_fail (err, code, "job store %s: %s: %s", s->path, what, sqlite3_errmsg (s->db));
}

/* Step st: 1 for a row, 0 when done, or an error. */
static int
step (struct sqlite_store *s, sqlite3_stmt *st, struct ce_error *err)
{
        int rc = sqlite3_step (st);

        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return sql_fail (s, err, rc, sqlite3_sql (st));
}

static int
bind_text (sqlite3_stmt *st, int i, const char *v)
{
        return v ? sqlite3_bind_text (st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null (st, i);
}

/* A blob, never NULL: an empty one is "" with length 0. */
static int
bind_blob (sqlite3_stmt *st, int i, const void *v, size_t len)
{
        return sqlite3_bind_blob64 (st, i, len ? v : "", len, SQLITE_TRANSIENT);
}

/* Run a statement that returns no row. */
static int
exec_stmt (struct sqlite_store *s, sqlite3_stmt *st, struct ce_error *err)
{
        int ret = step (s, st, err);

        sqlite3_reset (st);
        sqlite3_clear_bindings (st);
        return ret < 0 ? ret : 0;
}

/* ---- rows ---- */

/* Column i as a fresh NUL-terminated copy; NULL for SQL NULL. */
static int
column_dup (sqlite3_stmt *st, int i, char **out, size_t *len)
{
        const void *v;
        int n;

        *out = NULL;
        if (len)
                *len = 0;
        if (sqlite3_column_type (st, i) == SQLITE_NULL)
                return 0;
        v = sqlite3_column_blob (st, i);
        n = sqlite3_column_bytes (st, i);
        *out = malloc ((size_t) n + 1);
        if (*out == NULL)
                return -ENOMEM;
        if (n > 0)
                memcpy (*out, v, (size_t) n);
        (*out)[n] = '\0';
        if (len)
                *len = (size_t) n;
        return 0;
}

/* The current row of a JOB_COLUMNS statement into *out. */
static int
read_job (sqlite3_stmt *st, struct store_job *out, struct ce_error *err)
{
        const unsigned char *id = sqlite3_column_text (st, 0);
        int ret = 0;

        memset (out, 0, sizeof (*out));
        snprintf (out->id, sizeof (out->id), "%s", id ? (const char *) id : "");
        out->state = (enum store_state) sqlite3_column_int (st, 1);
        ret |= column_dup (st, 2, &out->api, NULL);
        ret |= column_dup (st, 3, &out->request, &out->request_len);
        ret |= column_dup (st, 4, &out->result, &out->result_len);
        ret |= column_dup (st, 5, &out->failure, NULL);
        out->attempts = sqlite3_column_int (st, 6);
        ret |= column_dup (st, 7, &out->owner, NULL);
        out->cancel_requested = sqlite3_column_int (st, 8) != 0;
        out->created_ms = sqlite3_column_int64 (st, 9);
        out->started_ms = sqlite3_column_int64 (st, 10);
        out->finished_ms = sqlite3_column_int64 (st, 11);
        out->lease_until_ms = sqlite3_column_int64 (st, 12);
        out->expires_ms = sqlite3_column_int64 (st, 13);
        ret |= column_dup (st, 14, &out->idem_key, NULL);
        if (ret < 0 || out->api == NULL || out->request == NULL) {
                store_job_clear (out);
                return ce_fail (err, ret < 0 ? ENOMEM : EIO, "job store: cannot read a job");
        }
        return 0;
}

/* Job id into *out: 1 found, 0 not. */
static int
load_by_id (struct sqlite_store *s, const char *id, struct store_job *out, struct ce_error *err)
{
        cleanup_stmt sqlite3_stmt *st = s->st[ST_BY_ID];
        int ret;

        bind_text (st, 1, id);
        ret = step (s, st, err);
        if (ret <= 0)
                return ret;
        ret = read_job (st, out, err);
        return ret < 0 ? ret : 1;
}

static bool
expired (const struct store_job *j, int64_t now_ms)
{
        return j->state == STORE_DONE && j->expires_ms <= now_ms;
}

/* ---- transactions ---- */

/* Lock the store and begin a write transaction; on success, end with
 * tx_end.  On failure the store is unlocked. */
static int
tx_begin (struct sqlite_store *s, struct ce_error *err)
{
        int ret;

        pthread_mutex_lock (&s->lock);
        ret = exec_stmt (s, s->st[ST_BEGIN], err);
        if (ret < 0)
                pthread_mutex_unlock (&s->lock);
        return ret;
}

/* Commit (commit true) or roll back, and unlock.  Returns ret, or the
 * commit's error. */
static int
tx_end (struct sqlite_store *s, bool commit, int ret, struct ce_error *err)
{
        if (commit) {
                int c = exec_stmt (s, s->st[ST_COMMIT], err);

                if (c < 0) {
                        ret = c;
                        commit = false;
                }
        }
        if (! commit && sqlite3_get_autocommit (s->db) == 0)
                exec_stmt (s, s->st[ST_ROLLBACK], NULL);
        pthread_mutex_unlock (&s->lock);
        return ret;
}

/* Job id is done without a result, for failure. */
static int
close_failed (struct sqlite_store *s, const char *id, const char *failure, int64_t now_ms,
              struct ce_error *err)
{
        sqlite3_stmt *st = s->st[ST_CLOSE];

        bind_text (st, 1, id);
        bind_text (st, 2, failure);
        sqlite3_bind_int64 (st, 3, now_ms);
        sqlite3_bind_int64 (st, 4, now_ms + s->result_ttl_ms);
        return exec_stmt (s, st, err);
}

/* ---- operations ---- */

/* submit inside its transaction: 1 when *out is an existing job. */
static int
submit_tx (struct sqlite_store *s, const char *api, const char *idem_key, const void *request,
           size_t len, int64_t now_ms, struct store_job *out, struct ce_error *err)
{
        char id[STORE_ID_SIZE];
        int ret;

        if (idem_key) {
                cleanup_stmt sqlite3_stmt *st = s->st[ST_BY_KEY];
                struct store_job j;

                bind_text (st, 1, api);
                bind_text (st, 2, idem_key);
                ret = step (s, st, err);
                if (ret < 0)
                        return ret;
                if (ret > 0) {
                        ret = read_job (st, &j, err);
                        if (ret < 0)
                                return ret;
                        if (! expired (&j, now_ms)) {
                                if (j.request_len == len
                                    && (len == 0 || memcmp (j.request, request, len) == 0)) {
                                        *out = j; /* owned by the caller */
                                        return 1;
                                }
                                store_job_clear (&j);
                                return ce_fail (err, EEXIST,
                                                "the idempotency key was used with another "
                                                "request");
                        }
                        /* Its job expired but is not deleted yet: the key is free again. */
                        snprintf (id, sizeof (id), "%s", j.id);
                        store_job_clear (&j);
                        sqlite3_reset (st);
                        bind_text (s->st[ST_DELETE], 1, id);
                        ret = exec_stmt (s, s->st[ST_DELETE], err);
                        if (ret < 0)
                                return ret;
                }
        }
        {
                cleanup_stmt sqlite3_stmt *st = s->st[ST_LIVE];

                sqlite3_bind_int64 (st, 1, now_ms);
                ret = step (s, st, err);
                if (ret < 0)
                        return ret;
                if (ret > 0 && sqlite3_column_int64 (st, 0) >= s->max_jobs)
                        return ce_fail (err, ENOSPC, "the job store is full (%" PRId64 " jobs)",
                                        s->max_jobs);
        }
        ret = store_new_id (id, err);
        if (ret < 0)
                return ret;
        {
                sqlite3_stmt *st = s->st[ST_INSERT];

                bind_text (st, 1, id);
                bind_text (st, 2, api);
                bind_text (st, 3, idem_key);
                bind_blob (st, 4, request, len);
                sqlite3_bind_int64 (st, 5, now_ms);
                ret = exec_stmt (s, st, err);
                if (ret < 0)
                        return ret;
        }
        ret = load_by_id (s, id, out, err);
        if (ret == 0)
                return ce_fail (err, EIO, "job store: job %s vanished", id);
        return ret < 0 ? ret : 0;
}

static int
sq_submit (struct job_store *js, const char *api, const char *idem_key, const void *request,
           size_t len, int64_t now_ms, struct store_job *out, bool *existing, struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        int ret;

        *existing = false;
        if (api == NULL || *api == '\0' || (request == NULL && len > 0))
                return ce_fail (err, EINVAL, "job store: a job needs an api and a request");
        ret = tx_begin (s, err);
        if (ret < 0)
                return ret;
        ret = submit_tx (s, api, idem_key, request, len, now_ms, out, err);
        if (ret == 1) {
                *existing = true;
                return tx_end (s, false, 0, err);
        }
        return tx_end (s, ret == 0, ret, err);
}

static int
take_tx (struct sqlite_store *s, int64_t lease_ms, int64_t now_ms, struct store_job *out,
         struct ce_error *err)
{
        for (;;) {
                struct store_job j;
                int ret;

                {
                        cleanup_stmt sqlite3_stmt *st = s->st[ST_NEXT];

                        sqlite3_bind_int64 (st, 1, now_ms);
                        ret = step (s, st, err);
                        if (ret <= 0)
                                return ret;
                        ret = read_job (st, &j, err);
                        if (ret < 0)
                                return ret;
                }
                if (j.cancel_requested || j.attempts >= s->max_attempts) {
                        char failure[256];

                        if (j.cancel_requested)
                                snprintf (failure, sizeof (failure), "%s", STORE_FAILURE_CANCELLED);
                        else
                                snprintf (failure, sizeof (failure),
                                          "%s: started %d of %d times, and the server running "
                                          "it%s%s%s stopped before it finished",
                                          STORE_FAILURE_ABANDONED, j.attempts, s->max_attempts,
                                          j.owner ? " (" : "", j.owner ? j.owner : "",
                                          j.owner ? ")" : "");
                        ret = close_failed (s, j.id, failure, now_ms, err);
                        if (ret == 0 && ! j.cancel_requested)
                                metrics_job_event (METRICS_JOB_FAILED, 1);
                        store_job_clear (&j);
                        if (ret < 0)
                                return ret;
                        continue;
                }
                if (j.state == STORE_RUNNING) /* its lease ran out: its node stopped */
                        metrics_job_event (METRICS_JOB_RECLAIMED, 1);
                {
                        sqlite3_stmt *st = s->st[ST_CLAIM];

                        bind_text (st, 1, j.id);
                        bind_text (st, 2, s->node);
                        sqlite3_bind_int64 (st, 3, now_ms);
                        sqlite3_bind_int64 (st, 4, now_ms + lease_ms);
                        ret = exec_stmt (s, st, err);
                }
                if (ret == 0)
                        ret = load_by_id (s, j.id, out, err);
                store_job_clear (&j);
                if (ret == 0)
                        return ce_fail (err, EIO, "job store: a job vanished");
                return ret;
        }
}

static int
sq_take (struct job_store *js, int64_t lease_ms, int64_t now_ms, struct store_job *out,
         struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        int ret = tx_begin (s, err);

        if (ret < 0)
                return ret;
        ret = take_tx (s, lease_ms, now_ms, out, err);
        return tx_end (s, ret >= 0, ret, err);
}

/* Job id, when it is running and this node holds it, into *j: 0, or
 * -ESTALE. */
static int
load_ours (struct sqlite_store *s, const char *id, struct store_job *j, struct ce_error *err)
{
        int ret = load_by_id (s, id, j, err);

        if (ret < 0)
                return ret;
        if (ret == 0)
                return ce_fail (err, ESTALE, "job %s is gone", id);
        if (j->state != STORE_RUNNING || j->owner == NULL || strcmp (j->owner, s->node) != 0) {
                store_job_clear (j);
                return ce_fail (err, ESTALE, "job %s is not held by this server any more", id);
        }
        return 0;
}

static int
sq_renew (struct job_store *js, const char *id, int64_t lease_ms, int64_t now_ms,
          struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        struct store_job j;
        sqlite3_stmt *st = s->st[ST_RENEW];
        int ret = tx_begin (s, err);

        if (ret < 0)
                return ret;
        ret = load_ours (s, id, &j, err);
        if (ret < 0)
                return tx_end (s, false, ret, err);
        bind_text (st, 1, id);
        sqlite3_bind_int64 (st, 2, now_ms + lease_ms);
        ret = exec_stmt (s, st, err);
        if (ret == 0 && j.cancel_requested)
                ret = ce_fail (err, ECANCELED, "job %s is cancelled", id);
        store_job_clear (&j);
        return tx_end (s, ret == 0 || ret == -ECANCELED, ret, err);
}

static int
sq_finish (struct job_store *js, const char *id, const void *result, size_t len, int64_t now_ms,
           struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        struct store_job j;
        sqlite3_stmt *st = s->st[ST_DONE];
        int ret = tx_begin (s, err);

        if (ret < 0)
                return ret;
        ret = load_ours (s, id, &j, err);
        if (ret < 0)
                return tx_end (s, false, ret, err);
        if (j.cancel_requested) {
                store_job_clear (&j);
                ret = close_failed (s, id, STORE_FAILURE_CANCELLED, now_ms, err);
                if (ret == 0)
                        ret = ce_fail (err, ECANCELED, "job %s was cancelled", id);
                return tx_end (s, ret == -ECANCELED, ret, err);
        }
        store_job_clear (&j);
        bind_text (st, 1, id);
        bind_blob (st, 2, result, len);
        sqlite3_bind_int64 (st, 3, now_ms);
        sqlite3_bind_int64 (st, 4, now_ms + s->result_ttl_ms);
        ret = exec_stmt (s, st, err);
        return tx_end (s, ret == 0, ret, err);
}

static int
sq_get (struct job_store *js, const char *id, int64_t now_ms, struct store_job *out,
        struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        int ret;

        pthread_mutex_lock (&s->lock);
        ret = load_by_id (s, id, out, err);
        pthread_mutex_unlock (&s->lock);
        if (ret < 0)
                return ret;
        if (ret > 0 && expired (out, now_ms))
                store_job_clear (out);
        else if (ret > 0)
                return 0;
        return ce_fail (err, ENOENT, "no job %s", id);
}

static int
sq_cancel (struct job_store *js, const char *id, int64_t now_ms, bool *was_running,
           struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        struct store_job j;
        enum store_state state;
        int ret;

        *was_running = false;
        ret = tx_begin (s, err);
        if (ret < 0)
                return ret;
        ret = load_by_id (s, id, &j, err);
        if (ret <= 0)
                return tx_end (s, false, ret < 0 ? ret : ce_fail (err, ENOENT, "no job %s", id),
                               err);
        state = j.state;
        ret = expired (&j, now_ms) ? ce_fail (err, ENOENT, "no job %s", id) : 0;
        store_job_clear (&j);
        if (ret < 0)
                return tx_end (s, false, ret, err);
        if (state == STORE_DONE)
                return tx_end (s, false, ce_fail (err, EALREADY, "job %s is done", id), err);
        bind_text (s->st[ST_REQUEST_CANCEL], 1, id);
        ret = exec_stmt (s, s->st[ST_REQUEST_CANCEL], err);
        if (ret == 0 && state == STORE_QUEUED)
                ret = close_failed (s, id, STORE_FAILURE_CANCELLED, now_ms, err);
        *was_running = ret == 0 && state == STORE_RUNNING;
        return tx_end (s, ret == 0, ret, err);
}

static int
sq_cancelled (struct job_store *js, const char *id, struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        struct store_job j;
        int ret;

        pthread_mutex_lock (&s->lock);
        ret = load_by_id (s, id, &j, err);
        pthread_mutex_unlock (&s->lock);
        if (ret == 0)
                return ce_fail (err, ENOENT, "no job %s", id);
        if (ret < 0)
                return ret;
        ret = j.cancel_requested ? 1 : 0;
        store_job_clear (&j);
        return ret;
}

static int
sq_recover (struct job_store *js, int64_t now_ms, struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        sqlite3_stmt *st;
        int64_t n = 0;
        int ret = tx_begin (s, err);

        if (ret < 0)
                return ret;
        st = s->st[ST_RECOVER_CANCELLED];
        bind_text (st, 1, s->node);
        sqlite3_bind_int64 (st, 2, now_ms);
        sqlite3_bind_int64 (st, 3, now_ms + s->result_ttl_ms);
        bind_text (st, 4, STORE_FAILURE_CANCELLED);
        ret = exec_stmt (s, st, err);
        if (ret == 0) {
                n += sqlite3_changes64 (s->db);
                st = s->st[ST_RECOVER];
                bind_text (st, 1, s->node);
                ret = exec_stmt (s, st, err);
                n += sqlite3_changes64 (s->db);
        }
        return tx_end (s, ret == 0, ret == 0 ? (int) (n > INT_MAX ? INT_MAX : n) : ret, err);
}

static int
sq_expire (struct job_store *js, int64_t now_ms, struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        sqlite3_stmt *st = s->st[ST_EXPIRE];
        int64_t n;
        int ret;

        pthread_mutex_lock (&s->lock);
        sqlite3_bind_int64 (st, 1, now_ms);
        ret = exec_stmt (s, st, err);
        n = sqlite3_changes64 (s->db);
        pthread_mutex_unlock (&s->lock);
        if (ret < 0)
                return ret;
        return n > INT_MAX ? INT_MAX : (int) n;
}

static int64_t
file_bytes (const char *path, const char *suffix)
{
        char name[PATH_MAX];
        struct stat st;

        if (snprintf (name, sizeof (name), "%s%s", path, suffix) >= (int) sizeof (name))
                return 0;
        return stat (name, &st) == 0 ? (int64_t) st.st_size : 0;
}

static int
sq_stats (struct job_store *js, struct store_stats *out, struct ce_error *err)
{
        struct sqlite_store *s = of (js);
        int ret;

        memset (out, 0, sizeof (*out));
        pthread_mutex_lock (&s->lock);
        {
                cleanup_stmt sqlite3_stmt *st = s->st[ST_COUNTS];

                while ((ret = step (s, st, err)) > 0) {
                        int64_t n = sqlite3_column_int64 (st, 1);

                        switch (sqlite3_column_int (st, 0)) {
                        case STORE_QUEUED: out->queued = n; break;
                        case STORE_RUNNING: out->running = n; break;
                        case STORE_DONE: out->done = n; break;
                        }
                }
        }
        pthread_mutex_unlock (&s->lock);
        out->disk_bytes = file_bytes (s->path, "") + file_bytes (s->path, "-wal");
        return ret;
}

static void
sq_close (struct job_store *js)
{
        struct sqlite_store *s = of (js);

        for (int i = 0; i < ST_COUNT_; i++)
                sqlite3_finalize (s->st[i]);
        /* The last connection to close checkpoints the WAL into the file. */
        sqlite3_close (s->db);
        pthread_mutex_destroy (&s->lock);
        free (s->path);
        free (s->node);
        free (s);
}

static int
sq_list (struct job_store *js, const char *api, int64_t offset, int64_t limit, int64_t now_ms,
         struct store_job *out, size_t *n, int64_t *total, struct ce_error *err)
{
        static const char count_sql[] = "SELECT count(*) FROM jobs WHERE api = ?1"
                                        " AND NOT (state = 2 AND expires_ms <= ?2)";
        static const char page_sql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE api = ?1"
                                       " AND NOT (state = 2 AND expires_ms <= ?2)"
                                       " ORDER BY seq DESC LIMIT ?3 OFFSET ?4";
        struct sqlite_store *s = of (js);
        sqlite3_stmt *count = NULL, *page = NULL;
        int rc, ret = 0;

        *n = 0;
        *total = 0;
        pthread_mutex_lock (&s->lock);
        rc = sqlite3_prepare_v2 (s->db, count_sql, -1, &count, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v2 (s->db, page_sql, -1, &page, NULL);
        if (rc != SQLITE_OK) {
                ret = sql_fail (s, err, rc, "list");
                goto out;
        }
        bind_text (count, 1, api);
        sqlite3_bind_int64 (count, 2, now_ms);
        ret = step (s, count, err);
        if (ret < 0)
                goto out;
        *total = ret > 0 ? sqlite3_column_int64 (count, 0) : 0;
        bind_text (page, 1, api);
        sqlite3_bind_int64 (page, 2, now_ms);
        sqlite3_bind_int64 (page, 3, limit);
        sqlite3_bind_int64 (page, 4, offset);
        while ((int64_t) *n < limit && (ret = step (s, page, err)) > 0) {
                ret = read_job (page, &out[*n], err);
                if (ret < 0)
                        break;
                (*n)++;
        }
        if (ret < 0) {
                while (*n > 0)
                        store_job_clear (&out[--*n]);
        } else {
                ret = 0;
        }
out:
        sqlite3_finalize (count);
        sqlite3_finalize (page);
        pthread_mutex_unlock (&s->lock);
        return ret;
}

static const struct store_ops sqlite_ops = {
        .close = sq_close,
        .submit = sq_submit,
        .take = sq_take,
        .renew = sq_renew,
        .finish = sq_finish,
        .get = sq_get,
        .cancel = sq_cancel,
        .cancelled = sq_cancelled,
        .recover = sq_recover,
        .expire = sq_expire,
        .stats = sq_stats,
        .list = sq_list,
};

/* ---- opening ---- */

/* The first column of a one-row query of constant text. */
static int
query_int (struct sqlite_store *s, const char *sql, int64_t *out, struct ce_error *err)
{
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2 (s->db, sql, -1, &st, NULL);
        int ret;

        if (rc != SQLITE_OK)
                return sql_fail (s, err, rc, sql);
        ret = step (s, st, err);
        if (ret > 0)
                *out = sqlite3_column_int64 (st, 0);
        sqlite3_finalize (st);
        return ret > 0 ? 0 : ret < 0 ? ret : ce_fail (err, EIO, "job store: %s: no row", sql);
}

static int
exec_sql (struct sqlite_store *s, const char *sql, struct ce_error *err)
{
        int rc = sqlite3_exec (s->db, sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : sql_fail (s, err, rc, sql);
}

/* Create the schema, or check the one there, in one write transaction so
 * that two servers opening a new file at once create it once. */
static int
schema (struct sqlite_store *s, struct ce_error *err)
{
        int64_t version = 0, app = 0, tables = 0;
        int ret = exec_sql (s, "BEGIN IMMEDIATE", err);

        if (ret < 0)
                return ret;
        ret = query_int (s, "PRAGMA user_version", &version, err);
        if (ret == 0)
                ret = query_int (s, "PRAGMA application_id", &app, err);
        if (ret == 0)
                ret = query_int (s, "SELECT count(*) FROM sqlite_schema", &tables, err);
        if (ret < 0)
                goto out;
        if (version == 0 && tables == 0 && app == 0) {
                ret = exec_sql (s, SCHEMA, err);
                if (ret == 0)
                        ret = exec_sql (s, STAMP, err);
                goto out;
        }
        if (app != APPLICATION_ID)
                ret = ce_fail (err, EPROTO, "%s is not a CodeEngine job store", s->path);
        else if (version > SCHEMA_VERSION)
                ret = ce_fail (err, EPROTO,
                               "job store %s has format %" PRId64
                               ", written by a newer CodeEngine; "
                               "this one reads format %d",
                               s->path, version, SCHEMA_VERSION);
        else if (version != SCHEMA_VERSION)
                ret = ce_fail (err, EPROTO, "job store %s has unknown format %" PRId64, s->path,
                               version);
out:
        if (ret == 0)
                return exec_sql (s, "COMMIT", err);
        sqlite3_exec (s->db, "ROLLBACK", NULL, NULL, NULL);
        return ret;
}

static int
configure (struct sqlite_store *s, struct ce_error *err)
{
        sqlite3_stmt *st = NULL;
        const unsigned char *mode;
        int rc, ret;

        sqlite3_busy_timeout (s->db, BUSY_TIMEOUT_MS);
        rc = sqlite3_prepare_v2 (s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sql_fail (s, err, rc, "PRAGMA journal_mode");
        ret = step (s, st, err);
        mode = ret > 0 ? sqlite3_column_text (st, 0) : NULL;
        if (ret >= 0 && (mode == NULL || strcmp ((const char *) mode, "wal") != 0))
                ret = ce_fail (err, EIO, "job store %s: cannot use WAL mode", s->path);
        sqlite3_finalize (st);
        if (ret < 0)
                return ret;
        ret = exec_sql (
                s,
                "PRAGMA synchronous = FULL;"
                "PRAGMA journal_size_limit = 16777216;" /* truncate the WAL back to 16 MiB */
                "PRAGMA trusted_schema = OFF;",
                err);
        if (ret < 0)
                return ret;
        ret = schema (s, err);
        if (ret < 0)
                return ret;
        for (int i = 0; i < ST_COUNT_; i++) {
                rc = sqlite3_prepare_v3 (s->db, STATEMENTS[i], -1, SQLITE_PREPARE_PERSISTENT,
                                         &s->st[i], NULL);
                if (rc != SQLITE_OK)
                        return sql_fail (s, err, rc, STATEMENTS[i]);
        }
        return 0;
}

int
store_sqlite_open (const struct store_params *p, struct job_store **out, struct ce_error *err)
{
        struct sqlite_store *s;
        int fd, rc, ret;

        *out = NULL;
        if (p->path == NULL || p->node == NULL || *p->node == '\0' || p->max_jobs <= 0
            || p->max_attempts <= 0 || p->result_ttl_ms < 0)
                return ce_fail (err, EINVAL, "job store: bad parameters");
        /* Created here, not by SQLite, for its mode: the WAL and shared-memory
         * files take the database's. */
        fd = open (p->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return ce_fail (err, errno, "job store %s: %s", p->path, strerror (errno));
        close (fd);

        s = calloc (1, sizeof (*s));
        if (s == NULL)
                return ce_fail (err, ENOMEM, "job store: out of memory");
        s->base.ops = &sqlite_ops;
        s->path = strdup (p->path);
        s->node = strdup (p->node);
        s->max_jobs = p->max_jobs;
        s->result_ttl_ms = p->result_ttl_ms;
        s->max_attempts = p->max_attempts;
        ret = pthread_mutex_init (&s->lock, NULL);
        if (ret != 0) {
                free (s->path);
                free (s->node);
                free (s);
                return ce_fail (err, ret, "job store: mutex: %s", strerror (ret));
        }
        if (s->path == NULL || s->node == NULL) {
                sq_close (&s->base);
                return ce_fail (err, ENOMEM, "job store: out of memory");
        }
        rc = sqlite3_open_v2 (p->path, &s->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                              NULL);
        if (rc != SQLITE_OK) {
                ret = ce_fail (err, EIO, "job store %s: %s", p->path,
                               s->db ? sqlite3_errmsg (s->db) : sqlite3_errstr (rc));
                sq_close (&s->base);
                return ret;
        }
        ret = configure (s, err);
        if (ret < 0) {
                sq_close (&s->base);
                return ret;
        }
        *out = &s->base;
        return 0;
}
