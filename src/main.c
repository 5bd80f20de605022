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
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netdb.h>
#include <netinet/in.h>
#include <systemd/sd-daemon.h>

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

/* The --redis-password-file's first line (no newline); dies when unreadable
 * or empty. */
static char *
read_password (const char *path)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        FILE *f = fopen (path, "re");

        if (f == NULL)
                die ("--redis-password-file %s: %s", path, strerror (errno));
        n = getline (&line, &cap, f);
        fclose (f);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
        if (n <= 0)
                die ("--redis-password-file %s: empty", path);
        return line;
}

/* The job store: Redis with --redis (shared by many nodes), else SQLite
 * (--jobs-db, or STATE/jobs.db); NULL with --max-jobs 0.  This node's id
 * (--node-id, else the host name and the state dir, which two servers on
 * one machine never share: its lock) names the jobs it runs, so that the
 * next start with the same id takes back the ones it was running when it
 * died. */
static struct job_store *
open_store (const char *state_dir, const struct options *o, char **db_path)
{
        struct job_store *store = NULL;
        struct ce_error err = { 0 };
        char host[256] = "localhost", *node;
        int64_t lease_ms = (int64_t) llround (o->job_lease_s * 1000);
        struct store_params p;
        char *password = NULL;

        if (o->max_jobs == 0)
                return NULL;
        gethostname (host, sizeof (host) - 1);
        if ((o->node_id ? (node = strdup (o->node_id)) == NULL
                        : asprintf (&node, "%s:%s", host, state_dir) < 0)
            || (o->jobs_db ? (*db_path = strdup (o->jobs_db)) == NULL
                           : asprintf (db_path, "%s/jobs.db", state_dir) < 0))
                die ("out of memory");
        p = (struct store_params){ .path = *db_path,
                                   .max_jobs = o->max_jobs,
                                   .result_ttl_ms = o->result_ttl_s * 1000,
                                   .node = node,
                                   .max_attempts = (int) o->job_attempts,
                                   /* take's wait must leave room for the
                                    * renewals, every third of a lease. */
                                   .block_ms = lease_ms / 6 < 1000 ? lease_ms / 6 : 1000 };
        if (o->redis) {
                if (o->redis_password_file)
                        password = read_password (o->redis_password_file);
                p.url = o->redis;
                p.password = password;
                if (store_redis_open (&p, &store, &err) < 0)
                        die ("the job store (--redis %s): %s", o->redis, err.msg);
                ce_log ("job store: Redis at %s, node %s", o->redis, node);
                free (*db_path);
                *db_path = NULL;
        } else if (store_sqlite_open (&p, &store, &err) < 0) {
                die ("the job store %s: %s", *db_path, err.msg);
        }
        if (password) {
                explicit_bzero (password, strlen (password));
                free (password);
        }
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
        if (db_path == NULL) { /* Redis: shared, never ours to remove */
                store_close (store);
                return;
        }
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

/* systemd's notification protocol (sd_notify(3)) for a Type=notify unit:
 * READY=1 once the probes passed and the HTTP server listens, WATCHDOG=1
 * from the watchdog thread, STOPPING=1 on SIGTERM/SIGINT.
 *
 * NOTIFY_SOCKET is read once, before any thread or child exists, and removed
 * from the environment: runc reads it too (the server spawns runc with its
 * own environment), and would then bind the socket into every container,
 * hand NOTIFY_SOCKET to the untrusted program and, in `runc run`, wait for
 * that program's READY=1.  libsystemd's sd_notify() looks the variable up at
 * every call, so the datagrams are sent here; libsystemd's
 * sd_watchdog_enabled() still reads WATCHDOG_USEC and WATCHDOG_PID (and
 * removes them too).  Without NOTIFY_SOCKET every call below is a no-op.
 * Written once by main before any thread starts, read-only afterwards. */
static struct {
        struct sockaddr_un addr;
        socklen_t len;          /* 0: no systemd to tell */
        uint64_t watchdog_usec; /* 0: no watchdog asked for */
} notify_target;

static void
notify_init (void)
{
        const char *sock = getenv ("NOTIFY_SOCKET");
        int r = sd_watchdog_enabled (1, &notify_target.watchdog_usec);
        size_t n;

        if (r < 0)
                ce_log ("warning: WATCHDOG_USEC/WATCHDOG_PID: %s: no watchdog", strerror (-r));
        if (r <= 0)
                notify_target.watchdog_usec = 0;
        if (sock == NULL)
                return;
        n = strlen (sock);
        if ((sock[0] != '/' && sock[0] != '@') || n < 2
            || n >= sizeof (notify_target.addr.sun_path)) {
                ce_log ("warning: NOTIFY_SOCKET=%s is not a unix socket path: systemd is not "
                        "told when the server is ready",
                        sock);
        } else {
                notify_target.addr.sun_family = AF_UNIX;
                memcpy (notify_target.addr.sun_path, sock, n);
                /* "@name": Linux's abstract namespace, without the NUL */
                if (sock[0] == '@')
                        notify_target.addr.sun_path[0] = '\0';
                notify_target.len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n
                                                 + (sock[0] == '/'));
        }
        unsetenv ("NOTIFY_SOCKET");
}

/* One datagram to systemd ("READY=1\nSTATUS=..."); a failure costs only the
 * notification (said once in the log).  Any thread. */
static void __attribute__ ((format (printf, 1, 2))) notify_send (const char *fmt, ...)
{
        static atomic_bool warned;
        char msg[512];
        va_list ap;
        int fd, n;

        if (notify_target.len == 0)
                return;
        va_start (ap, fmt);
        n = vsnprintf (msg, sizeof (msg), fmt, ap);
        va_end (ap);
        if (n < 0)
                return;
        fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0
            || sendto (fd, msg, strlen (msg), MSG_NOSIGNAL,
                       (const struct sockaddr *) &notify_target.addr, notify_target.len)
                       < 0) {
                if (! atomic_exchange (&warned, true))
                        ce_log ("warning: cannot notify systemd (%s): %s", msg, strerror (errno));
        }
        if (fd >= 0)
                close (fd);
}

/* The watchdog (WatchdogSec=): WATCHDOG=1 every third of the interval, but
 * only after GET /health on our own listening address answered 200 within
 * half a period.  A wedged libmicrohttpd thread (a deadlock behind it, an
 * endless loop) then stops the feed and systemd restarts the server, where a
 * bare timer would keep a dead server looking alive.  A third rather than
 * the usual half: one slow probe is forgiven.  The probe is an ordinary
 * request, so it shows in the log as "GET /health". */
struct watchdog {
        pthread_t thread;
        bool started;
        pthread_mutex_t lock; /* guards stop */
        pthread_cond_t cond;  /* signalled when stop is set */
        bool stop;
        struct sockaddr_storage addr; /* where GET /health goes */
        socklen_t addr_len;           /* 0: port unknown, feed without probing */
        int64_t period_ms;
};

static bool
watchdog_probe (const struct watchdog *w)
{
        static const char req[] = "GET /health HTTP/1.0\r\n\r\n";
        int64_t ms = w->period_ms / 2 > 0 ? w->period_ms / 2 : 1;
        struct timeval tv = { .tv_sec = (time_t) (ms / 1000),
                              .tv_usec = (suseconds_t) (ms % 1000 * 1000) };
        cleanup_close int fd = -1;
        char buf[12];
        size_t got = 0;
        ssize_t n;

        if (w->addr_len == 0)
                return true;
        fd = socket (w->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv)) < 0
            || setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv)) < 0
            || connect (fd, (const struct sockaddr *) &w->addr, w->addr_len) < 0
            || send (fd, req, sizeof (req) - 1, MSG_NOSIGNAL) != (ssize_t) sizeof (req) - 1)
                return false;
        while (got < sizeof (buf) && (n = recv (fd, buf + got, sizeof (buf) - got, 0)) > 0)
                got += (size_t) n;
        /* "HTTP/1.1 200" */
        return got == sizeof (buf) && memcmp (buf, "HTTP/1.", 7) == 0
               && memcmp (buf + 8, " 200", 4) == 0;
}

static void *
watchdog_main (void *arg)
{
        struct watchdog *w = arg;
        bool failing = false;

        pthread_mutex_lock (&w->lock);
        while (! w->stop) {
                struct timespec next = ce_deadline_after_ms (w->period_ms);
                bool ok;

                pthread_mutex_unlock (&w->lock);
                ok = watchdog_probe (w);
                if (ok)
                        notify_send ("WATCHDOG=1");
                if (ok == failing)
                        ce_log (ok ? "watchdog: GET /health answers again: feeding systemd"
                                   : "warning: watchdog: GET /health did not answer 200: systemd "
                                     "is not fed");
                failing = ! ok;
                pthread_mutex_lock (&w->lock);
                while (! w->stop && pthread_cond_timedwait (&w->cond, &w->lock, &next) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock (&w->lock);
        return NULL;
}

/* Where the probe goes: the --listen address, a wildcard one replaced by
 * the loopback address of its family (http.c resolves it the same way). */
static socklen_t
watchdog_address (const char *listen, struct sockaddr_storage *ss)
{
        char host[256];
        const char *colon = strrchr (listen, ':');
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *ai = NULL;
        size_t hlen = colon ? (size_t) (colon - listen) : 0;
        const char *h = listen;
        socklen_t len = 0;

        if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
                h++;
                hlen -= 2;
        }
        if (colon == NULL || hlen == 0 || hlen >= sizeof (host))
                return 0;
        memcpy (host, h, hlen);
        host[hlen] = '\0';
        if (getaddrinfo (host, colon + 1, &hints, &ai) != 0)
                return 0;
        if (ai->ai_addrlen <= sizeof (*ss)) {
                memcpy (ss, ai->ai_addr, ai->ai_addrlen);
                len = ai->ai_addrlen;
        }
        freeaddrinfo (ai);
        if (ss->ss_family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *) ss;

                if (in->sin_port == 0)
                        return 0;
                if (in->sin_addr.s_addr == htonl (INADDR_ANY))
                        in->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        } else if (ss->ss_family == AF_INET6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

                if (in6->sin6_port == 0)
                        return 0;
                if (IN6_IS_ADDR_UNSPECIFIED (&in6->sin6_addr))
                        in6->sin6_addr = in6addr_loopback;
        }
        return len;
}

/* Start feeding systemd's watchdog if it asked for one (WATCHDOG_USEC);
 * otherwise nothing.  Main thread, once the HTTP server listens. */
static void
watchdog_start (struct watchdog *w, const char *listen)
{
        int ret;

        if (notify_target.len == 0 || notify_target.watchdog_usec == 0)
                return;
        w->period_ms = (int64_t) (notify_target.watchdog_usec / 3000);
        if (w->period_ms < 1)
                w->period_ms = 1;
        w->addr_len = watchdog_address (listen, &w->addr);
        if (w->addr_len == 0)
                ce_log ("warning: watchdog: cannot probe --listen %s: fed without a probe", listen);
        ret = pthread_mutex_init (&w->lock, NULL);
        if (ret == 0)
                ret = ce_cond_init_monotonic (&w->cond);
        if (ret == 0)
                ret = pthread_create (&w->thread, NULL, watchdog_main, w);
        if (ret != 0)
                die ("starting the watchdog thread: %s", strerror (ret));
        ce_thread_name (w->thread, "ce-watchdog");
        w->started = true;
        ce_log ("watchdog: systemd expects WATCHDOG=1 every %gs: probing GET /health every %gs",
                (double) notify_target.watchdog_usec / 1e6, (double) w->period_ms / 1e3);
}

static void
watchdog_stop (struct watchdog *w)
{
        if (! w->started)
                return;
        pthread_mutex_lock (&w->lock);
        w->stop = true;
        pthread_cond_signal (&w->cond);
        pthread_mutex_unlock (&w->lock);
        pthread_join (w->thread, NULL);
        pthread_cond_destroy (&w->cond);
        pthread_mutex_destroy (&w->lock);
        w->started = false;
}

/* --drain: sleep that long after http_drain, so that a balancer's health
 * checks see GET /ready answer 503 and stop sending before the server stops
 * accepting.  A second SIGTERM/SIGINT cuts it short. */
static void
drain_wait (const sigset_t *mask, double seconds)
{
        struct timespec deadline = ce_deadline_after_ms ((int64_t) llround (seconds * 1000));

        for (;;) {
                int64_t left = ce_ms_between (ce_now (), deadline);
                struct timespec ts = { .tv_sec = (time_t) (left / 1000),
                                       .tv_nsec = (long) (left % 1000) * 1000000 };
                int sig;

                if (left <= 0)
                        return;
                sig = sigtimedwait (mask, NULL, &ts);
                if (sig > 0) {
                        ce_log ("%s again: draining cut short", strsignal (sig));
                        return;
                }
                if (errno != EINTR)
                        return; /* EAGAIN: the time is up */
        }
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
        struct watchdog watchdog = { 0 };

        if (options_parse (argc, argv, &o) < 0)
                return 2;
        /* Every line from here on in --log-format; the node id's default
         * (HOST:STATE) once the state dir is known. */
        ce_log_set_format (strcmp (o.log_format, "json") == 0 ? CE_LOG_JSON : CE_LOG_TEXT);
        ce_log_set_node (o.node_id);

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
        /* Before any thread or child: it takes NOTIFY_SOCKET out of the
         * environment that runc inherits. */
        notify_init ();
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
        if (o.node_id == NULL && state_dir) {
                char host[256] = "localhost", node[PATH_MAX + 256];

                gethostname (host, sizeof (host) - 1);
                snprintf (node, sizeof (node), "%s:%s", host, state_dir);
                ce_log_set_node (node); /* as open_store names this node */
        }
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
        notify_send ("STATUS=checking the bundles (one container each)");
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
                .exec = { .runner = &rc,
                          .pool = pool,
                          .test_workers = test_workers (&o),
                          .outfiles = { .max_files = (size_t) o.max_output_files,
                                        .max_bytes = o.max_output_files_bytes } },
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
                .lease_ms = (int64_t) llround (o.job_lease_s * 1000),
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
        /* The probes passed and GET /ready answers: a Type=notify unit is up. */
        notify_send ("READY=1\nSTATUS=serving on http://%s", o.listen);
        watchdog_start (&watchdog, o.listen);

        sigemptyset (&mask);
        sigaddset (&mask, SIGTERM);
        sigaddset (&mask, SIGINT);
        while (sigwait (&mask, &sig) != 0)
                ;
        if (o.drain_s > 0) {
                ce_log ("%s: draining for %gs (GET /ready answers 503, requests are still "
                        "served), then shutting down",
                        strsignal (sig), o.drain_s);
                http_drain (http);
                notify_send ("STOPPING=1\nSTATUS=draining for %gs", o.drain_s);
                drain_wait (&mask, o.drain_s);
        } else {
                notify_send ("STOPPING=1");
        }
        /* systemd stops watching once the service is stopping; before
         * http_quiesce, after which GET /health no longer answers. */
        watchdog_stop (&watchdog);
        notify_send ("STATUS=shutting down (running executions get %gs)", o.grace_s);
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
