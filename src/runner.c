/*
 * runner.c - the life of one container.
 *
 *   1. a bundle dir WORK/<stage> (0700) holding config.json, runc's log and
 *      pid file; the code (WORK/code, mounted read-only at /code) and the
 *      build dir are the slot's (slot.c);
 *   2. runner_create: `runc run --detach`: the container's stdout and stderr
 *      are our pipes, fd 3 a socket on which codeengine-init waits for its
 *      program and later reports the program's wait status.  runc exits
 *      once init runs; init becomes our child (we are a subreaper) and the
 *      supervisor reaps it;
 *   3. runner_start: the go message (argv, stdin), then a timed wait (CLOCK_MONOTONIC) for the
 * supervisor to see the container end; on timeout, output limit or client hang-up, `runc kill <id>
 * KILL`;
 *   4. read the cgroup counters.  `runc delete` is the caller's (runner_remove).
 */
#include "runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <yajl/yajl_tree.h>

#include "metrics.h"
#include "oci_spec.h"
#include "supervisor.h"

/* Long enough for a loaded machine, short enough to notice a wedged runc. */
#define RUNTIME_CMD_TIMEOUT_MS 30000
/* After a kill, how long the pipes may take to close. */
#define KILL_GRACE_MS 5000
/* How long a container's init may take to become our child (crun, below). */
#define ADOPT_WAIT_MS 2000
#define CPU_PERIOD_US 100000
#define CPU_PERIOD_STR "100000"
#define CONTAINER_UID 65534
#define CONTAINER_GID 65534

const char *
runner_status_name (enum runner_status s)
{
        switch (s) {
        case RUN_OK: return "ok";
        case RUN_RUNTIME_ERROR: return "runtime_error";
        case RUN_TIMEOUT: return "timeout";
        case RUN_MEMORY_LIMIT: return "memory_limit";
        case RUN_OUTPUT_LIMIT: return "output_limit";
        case RUN_CLIENT_GONE: return "client_gone";
        case RUN_COMPILE_ERROR: return "compile_error";
        }
        return "unknown";
}

void
runner_result_clear (struct runner_result *res)
{
        sup_output_free (&res->out);
        memset (res, 0, sizeof (*res));
}

/* runc's global flags, first in every runc command line.  Returns the count. */
static size_t
runtime_prefix (const struct runner_config *cfg, char **argv)
{
        size_t n = 0;

        argv[n++] = (char *) cfg->runtime;
        argv[n++] = (char *) "--root";
        argv[n++] = (char *) cfg->runc_root;
        if (cfg->systemd_cgroup)
                argv[n++] = (char *) "--systemd-cgroup";
        return n;
}

/* Every name one container uses, derived once from its id. */
struct container_paths {
        char bundle_dir[4200]; /* WORK/<stage>: config.json */
        char log_path[4300];   /* runc --log */
        char pid_path[4300];   /* runc --pid-file */
        char cgroup_spec[256]; /* cgroupsPath, as runc wants it */
        char cgroup_fs[256];   /* the same cgroup under the hierarchy's root */
};

static void
container_paths_init (const struct runner_config *cfg, const struct runner_stage *st,
                      struct container_paths *p)
{
        unsigned uid = (unsigned) getuid ();

        snprintf (p->bundle_dir, sizeof (p->bundle_dir), "%s/%s", st->workdir, st->name);
        snprintf (p->log_path, sizeof (p->log_path), "%s/runc.log", p->bundle_dir);
        snprintf (p->pid_path, sizeof (p->pid_path), "%s/init.pid", p->bundle_dir);
        if (cfg->systemd_cgroup) {
                /* A transient scope in the user's own systemd instance. */
                snprintf (p->cgroup_spec, sizeof (p->cgroup_spec), "user.slice:codeengine:%s",
                          st->id);
                snprintf (
                        p->cgroup_fs, sizeof (p->cgroup_fs),
                        "/user.slice/user-%u.slice/user@%u.service/user.slice/codeengine-%s.scope",
                        uid, uid, st->id);
        } else {
                snprintf (p->cgroup_spec, sizeof (p->cgroup_spec), "/codeengine/%s", st->id);
                snprintf (p->cgroup_fs, sizeof (p->cgroup_fs), "/codeengine/%s", st->id);
        }
}

/* Run a runc subcommand that has no interesting output and wait for it. */
static int
runtime_simple (const struct runner_config *cfg, const char *const *args, int *status)
{
        cleanup_close int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
        char *argv[16];
        struct timespec deadline = ce_deadline_after_ms (RUNTIME_CMD_TIMEOUT_MS);
        size_t n = 0;
        pid_t pid;
        int ret;

        n = runtime_prefix (cfg, argv);
        for (; *args && n < 15; args++)
                argv[n++] = (char *) *args;
        argv[n] = NULL;
        if (devnull < 0)
                return -errno;
        ret = sup_spawn (argv, &(struct sup_stdio){ devnull, devnull, devnull, -1, -1 }, &pid,
                         NULL);
        if (ret < 0)
                return ret;
        ret = sup_wait_child (pid, &deadline, status);
        if (ret == -ETIMEDOUT) {
                ce_log ("error: %s %s did not finish in %d ms, killing it", cfg->runtime, args[0],
                        RUNTIME_CMD_TIMEOUT_MS);
                kill (pid, SIGKILL);
                ret = sup_wait_child (pid, NULL, status);
        }
        return ret;
}

static void
runtime_kill (const struct runner_config *cfg, const char *id)
{
        const char *args[] = { "kill", id, "KILL", NULL };
        int status;

        /* Fails harmlessly when the container has already stopped. */
        runtime_simple (cfg, args, &status);
}

void
runner_remove (const struct runner_config *cfg, const char *id)
{
        const char *args[] = { "delete", "--force", id, NULL };
        int status = 0;

        if (runtime_simple (cfg, args, &status) < 0 || ! WIFEXITED (status)
            || WEXITSTATUS (status) != 0)
                ce_log ("warning: %s delete --force %s failed", cfg->runtime, id);
}

/* The last error the runtime logged (JSON lines in its --log file), else the
 * first line it printed, for a 500, prefixed with --runtime as given. */
static void
runtime_error_message (const char *runtime, int bfd, const struct ce_buf *stderr_text, char *out,
                       size_t size)
{
        cleanup_close int fd = openat (bfd, "runc.log", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[65536];
        ssize_t n;
        char *line, *save = NULL;

        if (stderr_text->len > 0)
                snprintf (out, size, "runtime failed: %.*s",
                          (int) strcspn (stderr_text->data, "\n"), stderr_text->data);
        else
                snprintf (out, size, "the container runtime failed");
        if (fd < 0)
                return;
        n = read (fd, buf, sizeof (buf) - 1);
        if (n <= 0)
                return;
        buf[n] = '\0';
        for (line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
                const char *level_path[] = { "level", NULL };
                const char *msg_path[] = { "msg", NULL };
                yajl_val v = yajl_tree_parse (line, NULL, 0);
                const char *level, *msg;

                if (v == NULL)
                        continue;
                level = YAJL_GET_STRING (yajl_tree_get (v, level_path, yajl_t_string));
                msg = YAJL_GET_STRING (yajl_tree_get (v, msg_path, yajl_t_string));
                if (level && msg && (strcmp (level, "error") == 0 || strcmp (level, "fatal") == 0))
                        snprintf (out, size, "%s: %s", runtime, msg);
                yajl_tree_free (v);
        }
}

/* The stage's bundle dir and its config.json; *bfd_out is open on the dir. */
static int
write_config (const struct runner_config *cfg, const struct runner_stage *st,
              const struct container_paths *paths, int *bfd_out, struct ce_error *err)
{
        cleanup_close int bfd = -1;
        const struct ce_limits *limits = st->limits;
        struct spec_params params;
        int ret;

        if (mkdirat (st->workfd, st->name, 0700) < 0)
                return ce_fail (err, errno, "cannot create %s: %s", paths->bundle_dir,
                                strerror (errno));
        bfd = openat (st->workfd, st->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (bfd < 0)
                return ce_fail (err, errno, "cannot open %s: %s", paths->bundle_dir,
                                strerror (errno));
        params = (struct spec_params){
                .rootless = cfg->rootless,
                .no_cpu_limit = ! cfg->cpu_limit,
                .host_uid = (uint32_t) getuid (),
                .host_gid = (uint32_t) getgid (),
                .rootfs = st->rootfs,
                .env = st->env,
                .cwd = st->cwd,
                .code_dir = st->code_dir,
                .build_dir = st->build_dir,
                .build_writable = st->build_writable,
                .work_dir = st->work_dir,
                .init_path = cfg->init_path,
                .cgroups_path = cfg->limits == LIMITS_CGROUP ? paths->cgroup_spec : NULL,
                .hostname = "codeengine",
                .memory_bytes = limits->memory_mb * 1024 * 1024,
                .cpu_quota_us = (int64_t) llround (limits->cpus * CPU_PERIOD_US),
                .cpu_period_us = CPU_PERIOD_US,
                .pids_limit = limits->pids,
                .tmp_bytes = st->tmp_bytes,
                .fsize_bytes = st->fsize_bytes,
                /* Rootless: root inside is us outside, the only uid mapped. */
                .uid = cfg->rootless ? 0 : CONTAINER_UID,
                .gid = cfg->rootless ? 0 : CONTAINER_GID,
                .cpu_seconds = (limits->timeout_ms + 999) / 1000 + 1,
                .seccomp_fd = cfg->seccomp_fd >= 0 ? CE_INIT_SECCOMP_FD : -1,
        };
        ret = spec_write (bfd, &params, err);
        if (ret < 0)
                return ret;
        *bfd_out = steal_fd (&bfd);
        return 0;
}

static void
fill_result (struct runner_result *res, const struct sup_watch_state *st, bool timed_out,
             const struct cgroup_stats *stats, struct timespec started)
{
        struct timespec end = st->exited ? st->exited_at : ce_now ();

        if (st->has_status && WIFEXITED (st->wait_status)) {
                res->exit_code = WEXITSTATUS (st->wait_status);
                res->signal = 0;
        } else if (st->has_status && WIFSIGNALED (st->wait_status)) {
                res->signal = WTERMSIG (st->wait_status);
                res->exit_code = 128 + res->signal;
        } else {
                /* The init itself died: only SIGKILL can do that to a pid-namespace
                 * init (from us, or from the OOM killer). */
                res->signal = SIGKILL;
                res->exit_code = 128 + SIGKILL;
        }
        res->truncated = st->output_limit;
        if (st->output_limit)
                res->status = RUN_OUTPUT_LIMIT;
        else if (timed_out)
                res->status = RUN_TIMEOUT;
        else if (st->client_gone)
                res->status = RUN_CLIENT_GONE;
        else if (stats->oom_kills > 0)
                res->status = RUN_MEMORY_LIMIT;
        else if (res->exit_code == 0)
                res->status = RUN_OK;
        else
                res->status = RUN_RUNTIME_ERROR;
        res->wall_ms = ce_ms_between (started, end);
        if (res->wall_ms < 0)
                res->wall_ms = 0;
        res->cpu_ms = stats->cpu_ns < 0 ? -1 : stats->cpu_ns / 1000000;
        res->memory_kb = stats->memory_peak < 0 ? -1 : stats->memory_peak / 1024;
}

static pid_t
steal_pid (pid_t *p)
{
        pid_t v = *p;

        *p = -1;
        return v;
}

/* The init's pid, from runc's --pid-file in our work dir, registered with
 * the supervisor; -1 if that fails (usage then comes from init's report).
 * runc's init is our child (we are a subreaper) once `runc run --detach`
 * has exited; crun's is a grandchild, whose parent may exit a moment after
 * crun does: until then the pid is alive but not yet ours. */
static pid_t
adopt_init (int bfd)
{
        cleanup_close int fd = openat (bfd, "init.pid", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct timespec deadline = ce_deadline_after_ms (ADOPT_WAIT_MS);
        char buf[32];
        ssize_t n;
        long pid;
        int ret;

        if (fd < 0 || (n = read (fd, buf, sizeof (buf) - 1)) <= 0)
                return -1;
        buf[n] = '\0';
        pid = strtol (buf, NULL, 10);
        if (pid <= 1)
                return -1;
        while ((ret = sup_adopt_child ((pid_t) pid)) == -ECHILD && kill ((pid_t) pid, 0) == 0
               && ce_time_before (ce_now (), deadline))
                nanosleep (&(struct timespec){ .tv_nsec = 1000000 }, NULL);
        return ret < 0 ? -1 : (pid_t) pid;
}

/* Wait for the container's init to be reaped: the pipes closing only says
 * that the processes let go of them, while the last may still be exiting.
 * Once init is gone, so is everything the program started, and the answer
 * can say so. */
static void
wait_namespace_gone (pid_t init_pid, const char *id)
{
        struct timespec deadline = ce_deadline_after_ms (KILL_GRACE_MS);
        int status;

        if (init_pid <= 0)
                return; /* already reaped before we could adopt it */
        if (sup_wait_child (init_pid, &deadline, &status) < 0) {
                ce_log ("warning: %s: init still alive %d ms after its program ended", id,
                        KILL_GRACE_MS);
                sup_forget_child (init_pid);
        }
}

/* Usage without a cgroup: init's own report when it ended normally, else
 * (killed) what wait4 says of init and everything it reaped as the pid
 * namespace was torn down. */
static void
init_usage (pid_t init_pid, const struct sup_watch_state *st, struct cgroup_stats *stats)
{
        struct timespec deadline = ce_deadline_after_ms (KILL_GRACE_MS);
        struct rusage ru;
        int status;

        *stats = (struct cgroup_stats){ -1, -1, -1 };
        if (st->has_status) {
                stats->cpu_ns = st->report.cpu_us * 1000;
                stats->memory_peak = st->report.maxrss_kb * 1024;
                wait_namespace_gone (init_pid, "container");
                return;
        } else if (init_pid > 0 && sup_wait_child_usage (init_pid, &deadline, &status, &ru) == 0) {
                stats->cpu_ns = ((int64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
                                 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)
                                * 1000;
                stats->memory_peak = (int64_t) ru.ru_maxrss * 1024;
                return;
        }
        if (init_pid > 0)
                sup_forget_child (init_pid);
}

static void
close_pair (int p[2])
{
        for (int i = 0; i < 2; i++)
                if (p[i] >= 0) {
                        close (p[i]);
                        p[i] = -1;
                }
}

struct runner_container {
        char id[64];
        struct container_paths paths;
        int bfd;          /* the bundle dir */
        int out_r, err_r; /* the read ends of its stdout and stderr */
        int status_fd;    /* our end of init's socket (init_report.h) */
        pid_t init_pid;   /* adopted by the supervisor; -1 once reaped or unknown */
        bool created;     /* runc may have state: runc delete it */
        bool started;     /* runner_start was called: the container is spent */
};

static void
container_free (struct runner_container *c)
{
        if (c->init_pid > 0)
                sup_forget_child (c->init_pid);
        if (c->bfd >= 0)
                close (c->bfd);
        if (c->out_r >= 0)
                close (c->out_r);
        if (c->err_r >= 0)
                close (c->err_r);
        if (c->status_fd >= 0)
                close (c->status_fd);
        free (c);
}

void
runner_destroy (const struct runner_config *cfg, struct runner_container *c)
{
        if (c == NULL)
                return;
        /* Closing our end first lets a waiting init exit by itself (EOF). */
        if (c->status_fd >= 0) {
                close (c->status_fd);
                c->status_fd = -1;
        }
        if (c->created)
                runner_remove (cfg, c->id);
        container_free (c);
}

bool
runner_alive (const struct runner_container *c)
{
        struct pollfd p = { .fd = c->status_fd, .events = POLLIN };

        /* Before its go, init never writes: readable means EOF, it is gone. */
        if (c->started || c->status_fd < 0)
                return false;
        return poll (&p, 1, 0) == 0;
}

const char *
runner_container_id (const struct runner_container *c)
{
        return c->id;
}

pid_t
runner_container_pid (const struct runner_container *c)
{
        return c->init_pid;
}

int
runner_container_fds (const struct runner_container *c)
{
        return (c->bfd >= 0) + (c->out_r >= 0) + (c->err_r >= 0) + (c->status_fd >= 0);
}

bool
runner_can_update (const struct runner_config *cfg)
{
        /* Without a cgroup the limits are rlimits, fixed at creation; and runc
         * update of a rootless container under the systemd driver (cgroup v2)
         * failed every time in the VM. */
        return cfg->limits == LIMITS_CGROUP && ! cfg->systemd_cgroup;
}

int
runner_update (const struct runner_config *cfg, struct runner_container *c,
               const struct ce_limits *limits, struct ce_error *err)
{
        char mem[32], quota[32], pids[32];
        const char *args[16] = { "update", "--memory",     mem, "--memory-swap",
                                 mem,      "--pids-limit", pids };
        size_t n = 7;
        int status = 0, ret;

        if (c->started || ! runner_can_update (cfg))
                return ce_fail (err, EINVAL, "container %s cannot be updated", c->id);
        snprintf (mem, sizeof (mem), "%" PRId64, limits->memory_mb * 1024 * 1024);
        snprintf (pids, sizeof (pids), "%" PRId64, limits->pids);
        if (cfg->cpu_limit) {
                snprintf (quota, sizeof (quota), "%lld", llround (limits->cpus * CPU_PERIOD_US));
                args[n++] = "--cpu-quota";
                args[n++] = quota;
                args[n++] = "--cpu-period";
                args[n++] = CPU_PERIOD_STR;
        }
        args[n++] = c->id;
        args[n] = NULL;
        ret = runtime_simple (cfg, args, &status);
        if (ret < 0 || ! WIFEXITED (status) || WEXITSTATUS (status) != 0)
                return ce_fail (err, EIO, "%s update %s failed", cfg->runtime, c->id);
        return 0;
}

/* What runc printed before it failed (no container holds the pipe then). */
static void
drain_stderr (int fd, struct ce_buf *out)
{
        char buf[4096];
        ssize_t n;

        if (fcntl (fd, F_SETFL, O_NONBLOCK) < 0)
                return;
        while ((n = read (fd, buf, sizeof (buf))) > 0 && out->len < 65536)
                ce_buf_append (out, buf, (size_t) n);
}

int
runner_create (const struct runner_config *cfg, const struct runner_stage *stage,
               struct runner_container **out, struct ce_error *err)
{
        struct runner_container *c = NULL;
        int devnull = -1;
        int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, status_sock[2] = { -1, -1 };
        struct timespec deadline;
        pid_t pid;
        int ret, wstatus;

        *out = NULL;
        c = calloc (1, sizeof (*c));
        if (c == NULL) {
                ret = ce_fail (err, ENOMEM, "out of memory");
                goto done;
        }
        c->bfd = c->out_r = c->err_r = c->status_fd = -1;
        c->init_pid = -1;
        snprintf (c->id, sizeof (c->id), "%s", stage->id);
        container_paths_init (cfg, stage, &c->paths);
        ret = write_config (cfg, stage, &c->paths, &c->bfd, err);
        if (ret < 0)
                goto done;
        devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0 || pipe2 (out_pipe, O_CLOEXEC) < 0 || pipe2 (err_pipe, O_CLOEXEC) < 0
            || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, status_sock) < 0) {
                ret = ce_fail (err, errno, "pipe: %s", strerror (errno));
                goto done;
        }
        {
                const char *run[] = { "--log",
                                      c->paths.log_path,
                                      "--log-format",
                                      "json",
                                      "run",
                                      "--detach",
                                      "--bundle",
                                      c->paths.bundle_dir,
                                      "--pid-file",
                                      c->paths.pid_path,
                                      "--preserve-fds",
                                      cfg->seccomp_fd >= 0 ? "2" : "1",
                                      stage->id,
                                      NULL };
                char *argv[24];
                size_t n = runtime_prefix (cfg, argv);

                for (const char *const *a = run; *a; a++)
                        argv[n++] = (char *) *a;
                argv[n] = NULL;
                deadline = ce_deadline_after_ms (RUNTIME_CMD_TIMEOUT_MS);
                c->created = true; /* from here on runc may have state to delete */
                /* The program's stdin comes with the go message: init's own is
                 * /dev/null. */
                ret = sup_spawn (argv,
                                 &(struct sup_stdio){ devnull, out_pipe[1], err_pipe[1],
                                                      status_sock[1], cfg->seccomp_fd },
                                 &pid, err);
        }
        /* Only the container may hold the write ends, so that EOF means it is gone. */
        close (out_pipe[1]);
        close (err_pipe[1]);
        close (status_sock[1]);
        out_pipe[1] = err_pipe[1] = status_sock[1] = -1;
        c->out_r = steal_fd (&out_pipe[0]);
        c->err_r = steal_fd (&err_pipe[0]);
        c->status_fd = steal_fd (&status_sock[0]);
        if (ret < 0)
                goto done;

        ret = sup_wait_child (pid, &deadline, &wstatus);
        if (ret == -ETIMEDOUT) {
                kill (pid, SIGKILL);
                sup_wait_child (pid, NULL, &wstatus);
                ret = ce_fail (err, ETIMEDOUT, "runc did not start the container in %d ms",
                               RUNTIME_CMD_TIMEOUT_MS);
                goto done;
        }
        if (ret < 0 || ! WIFEXITED (wstatus) || WEXITSTATUS (wstatus) != 0) {
                struct ce_buf text = { 0 };
                char msg[400];

                /* No container runs, so what reached the pipe is runc's own stderr:
                 * the message of last resort when its log has none. */
                drain_stderr (c->err_r, &text);
                runtime_error_message (cfg->runtime, c->bfd, &text, msg, sizeof (msg));
                ce_buf_free (&text);
                ret = ce_fail (err, EIO, "%s", msg);
                goto done;
        }
        /* Without a cgroup, a killed init cannot report usage; wait4 on it can.
         * And in every mode its exit is the end of the whole pid namespace:
         * the kernel reaps every other process in it first. */
        c->init_pid = adopt_init (c->bfd);
        *out = steal_pointer (&c); /* owned by the caller */
        ret = 0;

done:
        if (ret < 0)
                metrics_count (METRICS_CONTAINER_START_FAILURES);
        /* On success too: c is the caller's by then, the pipes' ends are
         * closed or c's, and only devnull is still ours. */
        if (devnull >= 0)
                close (devnull);
        close_pair (out_pipe);
        close_pair (err_pipe);
        close_pair (status_sock);
        runner_destroy (cfg, c);
        return ret;
}

/* Wait until fd can take more bytes, or until deadline: 0, -ETIMEDOUT, or
 * -EPIPE when the peer is gone. */
static int
wait_writable (int fd, struct timespec deadline)
{
        for (;;) {
                int64_t left = ce_ms_between (ce_now (), deadline);
                struct pollfd p = { fd, POLLOUT, 0 };
                int n;

                if (left <= 0)
                        return -ETIMEDOUT;
                n = poll (&p, 1, (int) (left > INT_MAX ? INT_MAX : left));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
                        return -EPIPE;
                if (p.revents & POLLOUT)
                        return 0;
        }
}

/* The go message (init_report.h), with stdin_fd attached.  -EPIPE when
 * init is gone.  fd is non-blocking (the watch set O_NONBLOCK on the socket
 * it shares with this dup), and a go message with large args is bigger than
 * the socket's buffer: wait for init to read, bounded by deadline. */
static int
send_go (int fd, char *const *argv, int stdin_fd, struct timespec deadline)
{
        struct ce_init_go go;
        cleanup_free char *strings = NULL;
        union ce_init_go_ctl ctl;
        struct iovec iov[2];
        struct msghdr msg;
        size_t off, len;
        ssize_t n;
        int ret = ce_init_go_pack (argv, stdin_fd, &go, &strings, iov, &ctl, &msg);

        if (ret < 0)
                return ret;
        len = go.argv_len;
        /* The descriptor goes with the first byte: retry the whole sendmsg
         * until the socket takes some of it. */
        for (;;) {
                n = sendmsg (fd, &msg, MSG_NOSIGNAL);
                if (n >= 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return errno == ECONNRESET ? -EPIPE : -errno;
                ret = wait_writable (fd, deadline);
                if (ret < 0)
                        return ret;
        }
        /* The rest, if the socket took only part: init is reading. */
        off = (size_t) n;
        while (off < sizeof (go) + len) {
                const char *p = off < sizeof (go) ? (const char *) &go + off
                                                  : strings + (off - sizeof (go));
                size_t left = off < sizeof (go) ? sizeof (go) - off : sizeof (go) + len - off;

                n = send (fd, p, left, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        ret = wait_writable (fd, deadline);
                        if (ret < 0)
                                return ret;
                        continue;
                }
                if (n < 0)
                        return errno == ECONNRESET ? -EPIPE : -errno;
                off += (size_t) n;
        }
        return 0;
}

int
runner_start (const struct runner_config *cfg, struct runner_container *c,
              const struct runner_go *go, int client_fd, struct runner_result *res,
              struct ce_error *err)
{
        int release_fd = -1;
        struct sup_watch *watch = NULL;
        struct sup_watch_state st = { 0 };
        struct sup_output output = { 0 };
        struct cgroup_stats stats, base = { -1, -1, -1 };
        struct timespec deadline, started;
        bool timed_out = false;
        int ret;

        memset (res, 0, sizeof (*res));
        if (c->started)
                return ce_fail (err, EINVAL, "container %s was already started", c->id);
        c->started = true;
        /* The watch takes our end; a dup of it releases init later (shutdown). */
        release_fd = fcntl (c->status_fd, F_DUPFD_CLOEXEC, 3);
        if (release_fd < 0)
                return ce_fail (err, errno, "dup: %s", strerror (errno));
        ret = sup_watch_new (&(struct sup_watch_fds){ c->out_r, c->err_r, c->status_fd, client_fd },
                             (size_t) go->limits->output_bytes, &watch, err);
        c->out_r = c->err_r = c->status_fd = -1; /* owned by the watch, even on failure */
        if (ret < 0)
                goto out;
        if (go->tap.fn)
                sup_watch_set_tap (watch, &go->tap); /* live output: sink.h */

        /* What the runtime spent starting the container is not the program's:
         * its usage counts from the go. */
        if (cfg->limits == LIMITS_CGROUP) {
                cgroup_read_stats (c->paths.cgroup_fs, &base);
                cgroup_reset_peak (c->paths.cgroup_fs);
        }
        started = ce_now ();
        deadline = ce_deadline_after_ms (go->limits->timeout_ms);
        /* Init reads the message at once; the bound only guards against an
         * init that is stuck. */
        ret = send_go (release_fd, go->argv, go->stdin_fd,
                       ce_deadline_after_ms (RUNTIME_CMD_TIMEOUT_MS));
        if (ret < 0) {
                ret = ce_fail (err, -ret, "container %s: cannot hand it its program: %s", c->id,
                               strerror (-ret));
                if (err->code == EPIPE)
                        ret = -EPIPE;
                goto out;
        }

        ret = sup_watch_wait (watch, SUP_WAIT_EVENT, &deadline, &st);
        if (ret == -ETIMEDOUT || ret == -ECANCELED)
                timed_out = true;
        /* Read the counters while something still holds the cgroup: before
         * a kill, or while init waits after its report.  (The systemd driver's
         * scope, and its cgroup, vanish with the last process.) */
        if (cfg->limits == LIMITS_CGROUP) {
                cgroup_read_stats (c->paths.cgroup_fs, &stats);
                if (stats.cpu_ns >= 0 && base.cpu_ns >= 0)
                        stats.cpu_ns = stats.cpu_ns > base.cpu_ns ? stats.cpu_ns - base.cpu_ns : 0;
        }
        shutdown (release_fd, SHUT_RDWR); /* init may exit now */
        {
                struct timespec grace = ce_deadline_after_ms (KILL_GRACE_MS);
                bool kill_it = timed_out || st.output_limit || st.client_gone;

                if (! kill_it && sup_watch_wait (watch, SUP_WAIT_DONE, &grace, &st) < 0)
                        kill_it = true;
                if (kill_it) {
                        grace = ce_deadline_after_ms (KILL_GRACE_MS);
                        runtime_kill (cfg, c->id);
                        if (sup_watch_wait (watch, SUP_WAIT_DONE, &grace, &st) < 0)
                                ce_log ("warning: %s: pipes still open %d ms after kill", c->id,
                                        KILL_GRACE_MS);
                }
        }
        if (cfg->limits == LIMITS_CGROUP) {
                wait_namespace_gone (steal_pid (&c->init_pid), c->id);
        } else {
                init_usage (steal_pid (&c->init_pid), &st, &stats);
        }
        fill_result (res, &st, timed_out, &stats, started);
        ret = 0;

out:
        if (watch)
                sup_watch_finish (watch, &output);
        if (ret == 0)
                res->out = output;
        else
                sup_output_free (&output);
        close (release_fd);
        return ret;
}

const char *
runner_limit_mode_name (enum limit_mode m)
{
        return m == LIMITS_CGROUP ? "cgroup" : "rlimit";
}

const char *
runner_signal_name (int sig, char *buf, size_t size)
{
        const char *abbrev = sig > 0 ? sigabbrev_np (sig) : NULL;

        if (sig <= 0)
                return NULL;
        if (abbrev)
                snprintf (buf, size, "SIG%s", abbrev);
        else
                snprintf (buf, size, "SIG%d", sig);
        return buf;
}

/* A container id of ours (slot_new_id, with a stage's suffix):
 * "ce-" and 16 hex digits, then "-" and lowercase letters or nothing. */
static bool
is_container_id (const char *name)
{
        size_t i;

        if (strncmp (name, "ce-", 3) != 0)
                return false;
        for (i = 3; i < 19; i++)
                if (! ((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
                        return false;
        if (name[19] == '\0')
                return true;
        if (name[19] != '-' || name[20] == '\0')
                return false;
        /* "-compile", a test's "-t12" */
        for (i = 20; name[i]; i++)
                if (! ((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
                        return false;
        return true;
}

/* Seconds a crashed run's empty cgroup must have been left unchanged before
 * start-up removes it: longer than runc takes to create a container. */
#define STALE_CGROUP_AGE_S (2 * RUNTIME_CMD_TIMEOUT_MS / 1000)

int
runner_cleanup_stale (const struct runner_config *cfg, struct ce_error *err)
{
        char *argv[8];
        size_t n = runtime_prefix (cfg, argv);
        cleanup_free char *ids = NULL;
        char *line, *save = NULL;
        int status, ret;

        argv[n++] = (char *) "list";
        argv[n++] = (char *) "-q";
        argv[n] = NULL;
        ret = sup_run_capture (argv, 1 << 20, &ids, &status, err);
        if (ret < 0)
                return ret;
        for (line = strtok_r (ids, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
                if (strncmp (line, "ce-", 3) != 0)
                        continue;
                ce_log ("removing container %s left by an earlier run", line);
                runner_remove (cfg, line);
        }
        /* runc's state can be gone while its cgroups stay (a server killed in
         * a container whose state dir went with it). */
        if (cfg->limits == LIMITS_CGROUP && ! cfg->systemd_cgroup)
                cgroup_remove_stale ("codeengine", is_container_id, STALE_CGROUP_AGE_S);
        return 0;
}
