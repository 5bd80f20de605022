/*
 * main.c - flags, start-up, signals and orderly shutdown.
 *
 * Threads: main (flags, then sigwait for SIGTERM/SIGINT), libmicrohttpd's
 * internal thread (http.c), the supervisor (supervisor.c) and
 * --max-concurrent pool workers (pool.c), each running one container at a
 * time (runner.c).  Every signal we care about is blocked before any thread
 * starts, so SIGCHLD goes to the supervisor's signalfd and SIGTERM/SIGINT to
 * sigwait here.  Only this file may exit the process.
 */
#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "bundle.h"
#include "cache.h"
#include "callback.h"
#include "cgroup.h"
#include "execution.h"
#include "http.h"
#include "oci_spec.h"
#include "options.h"
#include "pool.h"
#include "probe.h"
#include "runner.h"
#include "seccomp_bpf.h"
#include "store.h"
#include "supervisor.h"
#include "warm.h"

static void __attribute__ ((format (printf, 1, 2), noreturn)) die (const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start (ap, fmt);
        vsnprintf (msg, sizeof (msg), fmt, ap);
        va_end (ap);
        ce_log ("fatal: %s", msg);
        exit (1);
}

/* The seccomp profile compiled to BPF (the filter runc would build from it,
 * seccomp_bpf.h) in a sealed memfd that every container's init reads.  Its
 * fd is moved above 4: runner.c passes it on as the container's fd 4. */
static int
seccomp_memfd (yajl_val profile)
{
        cleanup_free uint8_t *bpf = NULL;
        cleanup_close int fd = -1;
        struct ce_error err = { 0 };
        size_t len = 0;
        int high;

        if (seccomp_bpf_compile (profile, &bpf, &len, &err) < 0)
                die ("seccomp profile: %s", err.msg);
        if (bpf == NULL)
                die ("seccomp profile: compiles to no filter");
        fd = memfd_create ("codeengine-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || write (fd, bpf, len) != (ssize_t) len
            || fcntl (fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)
                       < 0)
                die ("seccomp filter memfd: %s", strerror (errno));
        high = fcntl (fd, F_DUPFD_CLOEXEC, 10);
        if (high < 0)
                die ("seccomp filter memfd: %s", strerror (errno));
        ce_log ("seccomp: %zu-instruction filter compiled once for every container", len / 8);
        return high;
}

/* mkdir -p for our own directories, each created 0700.  *created: whether
 * path itself was made here (and is ours to remove at the end). */
static int
make_dirs (const char *path, bool *created)
{
        char buf[PATH_MAX];

        if (snprintf (buf, sizeof (buf), "%s", path) >= (int) sizeof (buf))
                return -ENAMETOOLONG;
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir (buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        *created = mkdir (buf, 0700) == 0;
        if (! *created && errno != EEXIST)
                return -errno;
        return 0;
}

/* The token is the file's content without trailing white space. */
static char *
read_token (const char *flag, const char *path)
{
        char buf[4097];
        struct stat st;
        ssize_t n;
        int fd = open (path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                die ("--%s %s: %s", flag, path, strerror (errno));
        if (fstat (fd, &st) == 0 && (st.st_mode & 0004))
                ce_log ("warning: %s is readable by every user", path);
        n = read (fd, buf, sizeof (buf) - 1);
        close (fd);
        if (n < 0)
                die ("--%s %s: %s", flag, path, strerror (errno));
        while (n > 0
               && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '
                   || buf[n - 1] == '\t'))
                n--;
        buf[n] = '\0';
        if (n == 0 || (size_t) n != strlen (buf) || n > 4000)
                die ("--%s %s: the token must be 1 to 4000 bytes, without NUL", flag, path);
        return strdup (buf);
}

/* How many workers one submission's tests may use: --test-workers, or as
 * many as there are CPUs to run them (more only queue on the CPU, each test
 * with its wall-clock timeout running), never more than the pool has. */
static size_t
test_workers (const struct options *o)
{
        long n = o->test_workers > 0 ? o->test_workers : sysconf (_SC_NPROCESSORS_ONLN);

        if (n < 1)
                n = 1;
        return (size_t) (n < o->max_concurrent ? n : o->max_concurrent);
}

/* The job store (--jobs-db, or STATE/jobs.db), or NULL with --max-jobs 0.
 * This node's id names the jobs it runs, so that the next start on the same
 * state dir takes back the ones it was running when it died: the host name
 * and the state dir, which two servers on one machine never share (its
 * lock). */
static struct job_store *
open_store (const char *state_dir, const struct options *o, char **db_path)
{
        struct job_store *store = NULL;
        struct ce_error err = { 0 };
        char host[256] = "localhost", *node;

        if (o->max_jobs == 0)
                return NULL;
        gethostname (host, sizeof (host) - 1);
        if (asprintf (&node, "%s:%s", host, state_dir) < 0
            || (o->jobs_db ? (*db_path = strdup (o->jobs_db)) == NULL
                           : asprintf (db_path, "%s/jobs.db", state_dir) < 0))
                die ("out of memory");
        if (store_sqlite_open (&(struct store_params){ .path = *db_path,
                                                       .max_jobs = o->max_jobs,
                                                       .result_ttl_ms = o->result_ttl_s * 1000,
                                                       .node = node,
                                                       .max_attempts = (int) o->job_attempts },
                               &store, &err)
            < 0)
                die ("the job store %s: %s", *db_path, err.msg);
        free (node);
        return store;
}

/* At exit: a default store that holds nothing goes, so that a state dir
 * the server made can go too; one that holds jobs stays for the next start. */
static void
close_store (struct job_store *store, const struct options *o, const char *db_path)
{
        struct store_stats st = { 0 };
        bool empty;

        if (store == NULL)
                return;
        empty = store_stats (store, &st, NULL) == 0 && st.queued + st.running + st.done == 0;
        store_close (store);
        if (empty && o->jobs_db == NULL) {
                char side[PATH_MAX];

                unlink (db_path);
                snprintf (side, sizeof (side), "%s-wal", db_path);
                unlink (side);
                snprintf (side, sizeof (side), "%s-shm", db_path);
                unlink (side);
        }
}

/* The sender of asynchronous executions' callbacks, from the --callback-*
 * flags; a bad range or secret file stops the start. */
static struct callback_sender *
open_callbacks (const struct options *o)
{
        struct callback_sender *cb = NULL;
        struct ce_error err = { 0 };
        cleanup_free char *ranges = o->callback_allow ? strdup (o->callback_allow) : NULL;
        const char *allow[65] = { NULL };
        unsigned char *secret = NULL;
        size_t n = 0, secret_len = 0;
        char *save = NULL;

        if (o->callback_allow && ranges == NULL)
                die ("out of memory");
        for (char *t = ranges ? strtok_r (ranges, ",", &save) : NULL; t;
             t = strtok_r (NULL, ",", &save)) {
                if (n == 64)
                        die ("--callback-allow: at most 64 ranges");
                allow[n++] = t;
        }
        if (o->callback_secret_file
            && callback_read_secret (o->callback_secret_file, &secret, &secret_len, &err) < 0)
                die ("--callback-secret-file %s: %s", o->callback_secret_file, err.msg);
        if (callback_sender_new (
                    &(struct callback_params){ .max_attempts = (unsigned) o->callback_attempts,
                                               .timeout_ms =
                                                       (unsigned) o->callback_timeout_s * 1000,
                                               .allow_loopback = o->callback_allow_loopback,
                                               .allow = allow,
                                               .secret = secret,
                                               .secret_len = secret_len },
                    &cb, &err)
            < 0)
                die ("callbacks: %s", err.msg);
        if (secret) {
                explicit_bzero (secret, secret_len);
                free (secret);
        }
        return cb;
}

/* The compile cache under STATE/cache, with what it found from before. */
static struct compile_cache *
open_cache (const char *state_dir, const struct options *o, const struct runner_config *rc)
{
        struct ce_error err = { 0 };
        struct compile_cache *cache = NULL;
        cleanup_free char *dir = NULL;
        int64_t limit = (int64_t) o->compile_cache_mb * 1024 * 1024;
        struct cache_params p = {
                .limit_bytes = limit,
                .entry_max_bytes = rc->build_bytes < limit ? rc->build_bytes : limit,
                /* what the compile's /build tmpfs holds at most */
                .entry_max_files = 4096,
        };
        struct statvfs vfs;

        if (asprintf (&dir, "%s/cache", state_dir) < 0)
                die ("out of memory");
        p.dir = dir;
        if (cache_open (&p, &cache, &err) < 0)
                die ("the compile cache: %s", err.msg);
        if (statvfs (dir, &vfs) == 0 && (int64_t) vfs.f_bavail * (int64_t) vfs.f_frsize < limit)
                ce_log ("warning: %s has %jd MB free, less than --compile-cache-mb %ld: the "
                        "cache stops storing when the disk is full",
                        dir, (intmax_t) ((int64_t) vfs.f_bavail * (int64_t) vfs.f_frsize >> 20),
                        o->compile_cache_mb);
        return cache;
}

/* Root: /run/codeengine.  Anyone else: $XDG_RUNTIME_DIR/codeengine (private
 * to the user, cleaned at logout), else /tmp/codeengine-UID. */
static const char *
default_state_dir (bool rootless)
{
        static char buf[PATH_MAX];
        const char *xdg = getenv ("XDG_RUNTIME_DIR");

        if (! rootless)
                return "/run/codeengine";
        if (xdg && xdg[0] == '/')
                snprintf (buf, sizeof (buf), "%s/codeengine", xdg);
        else
                snprintf (buf, sizeof (buf), "/tmp/codeengine-%u", (unsigned) getuid ());
        return buf;
}

/* cgroup limits need root, or (rootless) cgroup v2 with systemd delegation:
 * rootless runc cannot set them on cgroup v1.  Without them, say so loudly. */
static enum limit_mode
choose_limit_mode (bool rootless, bool require_cgroups, bool *systemd, bool *cpu)
{
        bool have = cgroup_init () == 0;

        *systemd = false;
        *cpu = true;
        if (have && ! rootless)
                return LIMITS_CGROUP;
        /* Rootless on cgroup v2 with controllers delegated to the user's systemd
         * (the default on current distributions): real limits through runc's
         * systemd driver, in a scope of the user's own slice. */
        if (have && cgroup_user_delegation ((unsigned) getuid (), cpu)) {
                *systemd = true;
                if (! *cpu)
                        ce_log ("warning: the cpu controller is not delegated to this user: no CPU "
                                "limit (memory and pids limits apply)");
                return LIMITS_CGROUP;
        }
        if (require_cgroups)
                die ("--require-cgroups: no usable cgroup (%s; cgroup %s); run as root",
                     rootless ? "not root" : "no memory controller", cgroup_mode ());
        ce_log ("warning: no cgroup limits (%s, cgroup %s): memory is bounded by RLIMIT_AS, CPU "
                "time by RLIMIT_CPU and processes %s; there is no CPU share, memory_limit is not "
                "detected and cpu_ms/memory_kb come from getrusage",
                rootless ? "rootless" : "no memory controller", cgroup_mode (),
                rootless ? "by RLIMIT_NPROC" : "not at all");
        return LIMITS_RLIMIT;
}

/* A symlink where the state dir should be is only followed if it is ours:
 * in a sticky /tmp, another user could plant one pointing anywhere. */
static void
check_state_link (const char *path)
{
        struct stat st;

        if (lstat (path, &st) == 0 && S_ISLNK (st.st_mode) && st.st_uid != geteuid ())
                die ("state dir %s is a symlink owned by uid %u, not by us", path,
                     (unsigned) st.st_uid);
}

/* runc trusts what it finds under its --root, and we remove what is under
 * exec/: nobody else may own or write the state dir (think of a
 * /tmp/codeengine-UID another user made first). */
static void
check_state_dir (const char *dir)
{
        struct stat st;

        if (dir == NULL)
                return; /* realpath failed: reported by the caller */
        if (stat (dir, &st) < 0)
                die ("state dir %s: %s", dir, strerror (errno));
        if (! S_ISDIR (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 022))
                die ("state dir %s must be a directory owned by uid %u and writable by nobody "
                     "else (owner %u, mode %o)",
                     dir, (unsigned) geteuid (), (unsigned) st.st_uid,
                     (unsigned) (st.st_mode & 07777));
}

static char *
default_init_path (void)
{
        char self[PATH_MAX], *slash, *out;
        ssize_t n = readlink ("/proc/self/exe", self, sizeof (self) - 1);

        if (n <= 0)
                return NULL;
        self[n] = '\0';
        slash = strrchr (self, '/');
        if (slash == NULL)
                return NULL;
        *slash = '\0';
        if (asprintf (&out, "%s/codeengine-init", self) < 0)
                return NULL;
        return out;
}

int
main (int argc, char **argv)
{
        struct options o;
        struct ce_error err;
        sigset_t mask;
        struct rlimit rl;
        struct ce_bundle_registry *bundles = NULL;
        struct pool *pool = NULL;
        struct warm_pool *warm = NULL;
        struct http_server *http = NULL;
        struct runner_config rc;
        struct http_config hc;
        struct exec_policy policy;
        enum limit_mode limits;
        bool rootless, systemd_cgroup, cpu_limit;
        yajl_val seccomp = NULL;
        int seccomp_fd = -1;
        char *token = NULL, *authz = NULL;
        char *state_dir, *runc_root, *exec_dir, *init_path, *version = NULL;
        char *db_path = NULL;
        struct job_store *store;
        struct callback_sender *callbacks;
        char *version_argv[3];
        int lockfd, status, sig;
        bool made_state, made_runc, made_exec;

        if (options_parse (argc, argv, &o) < 0)
                return 2;

        /* fds 0-2 must exist, or our own pipes could land on them. */
        while ((lockfd = open ("/dev/null", O_RDWR)) >= 0 && lockfd <= 2)
                ;
        if (lockfd > 2)
                close (lockfd);

        sigemptyset (&mask);
        sigaddset (&mask, SIGCHLD);
        sigaddset (&mask, SIGTERM);
        sigaddset (&mask, SIGINT);
        pthread_sigmask (SIG_BLOCK, &mask, NULL);
        signal (SIGPIPE, SIG_IGN);
        /* A fixed threshold: large buffers (outputs, results, streams) are
         * their own mappings, unmapped when freed, instead of glibc raising
         * the threshold after the first big free and keeping them in the
         * heap for ever after a burst. */
        mallopt (M_MMAP_THRESHOLD, 128 * 1024);
        /* Detached containers' inits are re-parented to us, so that we reap them. */
        if (prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
                die ("prctl(PR_SET_CHILD_SUBREAPER): %s", strerror (errno));
        if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit (RLIMIT_NOFILE, &rl);
        }
        rootless = geteuid () != 0;
        limits = choose_limit_mode (rootless, o.require_cgroups, &systemd_cgroup, &cpu_limit);
        if (o.state_dir == NULL)
                o.state_dir = default_state_dir (rootless);

        if (make_dirs (o.state_dir, &made_state) < 0)
                die ("cannot create state dir %s: %s", o.state_dir, strerror (errno));
        check_state_link (o.state_dir);
        state_dir = realpath (o.state_dir, NULL);
        check_state_dir (state_dir);
        if (state_dir == NULL || asprintf (&runc_root, "%s/runc", state_dir) < 0
            || asprintf (&exec_dir, "%s/exec", state_dir) < 0)
                die ("state dir %s: %s", o.state_dir, strerror (errno));
        if (make_dirs (runc_root, &made_runc) < 0 || make_dirs (exec_dir, &made_exec) < 0)
                die ("cannot create dirs under %s: %s", state_dir, strerror (errno));
        {
                char lock_path[PATH_MAX];

                snprintf (lock_path, sizeof (lock_path), "%s/lock", state_dir);
                lockfd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (lockfd < 0 || flock (lockfd, LOCK_EX | LOCK_NB) < 0)
                        die ("state dir %s is in use by another codeengine (or unusable): %s",
                             state_dir, strerror (errno));
        }

        init_path = o.init_path ? realpath (o.init_path, NULL) : default_init_path ();
        if (init_path == NULL || access (init_path, X_OK) < 0)
                die ("codeengine-init not found (%s): pass --init PATH",
                     init_path ? init_path : o.init_path);

        if (supervisor_start (&err) < 0)
                die ("starting the supervisor: %s", err.msg);

        version_argv[0] = (char *) o.runtime;
        version_argv[1] = "--version";
        version_argv[2] = NULL;
        if (sup_run_capture (version_argv, 4096, &version, &status, &err) < 0)
                die ("cannot run the runtime '%s': %s", o.runtime, err.msg);
        if (! WIFEXITED (status) || WEXITSTATUS (status) != 0)
                die ("'%s --version' failed: is it an OCI runtime?", o.runtime);
        version[strcspn (version, "\n")] = '\0';
        ce_log ("runtime: %s (%s)", o.runtime, version);

        if (spec_load_seccomp (ce_seccomp_profile, ce_seccomp_profile_len, &seccomp, &err) < 0)
                die ("%s", err.msg);
        seccomp_fd = seccomp_memfd (seccomp);
        if (o.auth_token_file)
                token = read_token ("auth-token-file", o.auth_token_file);
        if (o.authz_token_file)
                authz = read_token ("authz-token-file", o.authz_token_file);
        if (bundle_registry_load (o.bundles, &bundles, &err) < 0)
                die ("%s", err.msg);

        rc = (struct runner_config){
                .runtime = o.runtime,
                .state_dir = state_dir,
                .runc_root = runc_root,
                .exec_dir = exec_dir,
                .exec_dirfd = open (exec_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                .init_path = init_path,
                .tmp_bytes = 32 * 1024 * 1024,
                .build_bytes = (int64_t) o.build_mb * 1024 * 1024,
                /* runc would compile the profile in every container (the
                 * spec's "seccomp"); init installs the program compiled once
                 * instead. */
                .seccomp_fd = seccomp_fd,
                .limits = limits,
                .rootless = rootless,
                .systemd_cgroup = systemd_cgroup,
                .cpu_limit = cpu_limit,
        };
        if (rc.exec_dirfd < 0)
                die ("%s: %s", exec_dir, strerror (errno));
        if (execution_cleanup_stale (&rc, &err) < 0)
                die ("clean-up of an earlier run failed: %s", err.msg);
        options_policy (&o, &policy);
        /* The probe runs under the run stage's defaults. */
        if (probe_bundles (&rc, bundles, &policy.defaults, &err) < 0)
                die ("%s", err.msg);
        /* Again, now that the probes took a second or more: a `runc run` that
         * a crashed instance had started (its warm pool's refill) may have
         * finished creating its container after the first pass.  Nothing of
         * ours runs yet, so every container found is stale. */
        if (execution_cleanup_stale (&rc, &err) < 0)
                die ("clean-up of an earlier run failed: %s", err.msg);
        for (size_t i = 0; i < bundle_count (bundles); i++) {
                const struct ce_language *l = bundle_at (bundles, i);

                if (l->available)
                        ce_log ("language: %s %s (%s%s)", l->name, l->version, l->bundle,
                                l->compile.command ? ", compiled" : "");
                else
                        ce_log ("warning: language %s not available: %s", l->name, l->reason);
        }

        store = open_store (state_dir, &o, &db_path);
        callbacks = store ? open_callbacks (&o) : NULL;
        if (pool_new ((size_t) o.max_concurrent, (size_t) o.queue, &pool, &err) < 0)
                die ("starting the workers: %s", err.msg);
        hc = (struct http_config){
                .listen = o.listen,
                .max_body = (size_t) o.max_body,
                .connection_timeout_s = (unsigned) o.connection_timeout_s,
                .max_websockets = (size_t) o.max_websockets,
                .max_concurrent = (size_t) o.max_concurrent,
                .queue = (size_t) o.queue,
                .runtime_version = version,
                .policy = policy,
                .bundles = bundles,
                .exec = { .runner = &rc, .pool = pool, .test_workers = test_workers (&o) },
                .pool = pool,
                .auth_token = token,
                .authz_token = authz,
                .limit_mode = runner_limit_mode_name (limits),
                .rootless = rootless,
                .store = store,
                .callbacks = callbacks,
                .max_async = o.async_workers > 0
                                     ? (size_t) o.async_workers
                                     : (size_t) (o.max_concurrent > 1 ? o.max_concurrent / 2 : 1),
                .lease_ms = 30000,
        };
        if (o.warm_pool > 0 && o.warm_max > 0) {
                const struct warm_params wp = { .per_language = (size_t) o.warm_pool,
                                                .max_idle = (size_t) o.warm_max,
                                                .idle_seconds = (int) o.warm_idle_s,
                                                .tests = (size_t) o.warm_tests };

                if (warm_pool_new (&rc, &hc.policy, &wp, &warm, &err) < 0)
                        die ("starting the warm pool: %s", err.msg);
                hc.exec.warm = warm;
        }
        if (o.compile_cache_mb > 0)
                hc.exec.cache = open_cache (state_dir, &o, &rc);
        if (http_start (&hc, &http, &err) < 0)
                die ("starting the HTTP server: %s", err.msg);
        ce_log ("codeengine %s listening on http://%s (max %ld concurrent, timeout %gs, %ld MB, %g "
                "CPU, cgroup %s, limits by %s%s, warm pool %ld per language, %ld in all)",
                CE_VERSION, o.listen, o.max_concurrent, o.timeout_s, o.memory_mb, o.cpus,
                cgroup_mode (), runner_limit_mode_name (limits), rootless ? ", rootless" : "",
                warm ? o.warm_pool : 0, warm ? o.warm_max : 0);

        sigemptyset (&mask);
        sigaddset (&mask, SIGTERM);
        sigaddset (&mask, SIGINT);
        while (sigwait (&mask, &sig) != 0)
                ;
        ce_log ("%s: shutting down (running executions get %gs)", strsignal (sig), o.grace_s);

        http_quiesce (http);
        supervisor_set_shutdown_deadline (
                ce_deadline_after_ms ((int64_t) llround (o.grace_s * 1000)));
        pool_shutdown (pool);
        http_wait_idle (http, ce_deadline_after_ms (5000));
        http_stop (http);
        pool_free (pool);
        /* No execution runs now: nobody else touches the warm pool. */
        warm_pool_free (warm);
        cache_free (hc.exec.cache);
        /* Every job is answered: what they have to send gets a little time. */
        callback_sender_free (callbacks, ce_deadline_after_ms (2000));
        close_store (store, &o, db_path);
        free (db_path);
        supervisor_stop ();
        bundle_registry_free (bundles);

        close (rc.exec_dirfd);
        /* Only what this run created: a --state-dir the operator made (a
         * mount point, a dir with other owners' files) stays. */
        if (made_exec)
                rmdir (exec_dir);
        if (made_runc)
                rmdir (runc_root);
        {
                char lock_path[PATH_MAX];

                snprintf (lock_path, sizeof (lock_path), "%s/lock", state_dir);
                unlink (lock_path);
        }
        close (lockfd);
        if (made_state)
                rmdir (state_dir);
        free (init_path);
        free (version);
        free (token);
        free (authz);
        yajl_tree_free (seccomp);
        close (seccomp_fd);
        free (exec_dir);
        free (runc_root);
        free (state_dir);
        ce_log ("stopped");
        return 0;
}
