/*
 * runner.c - the life of one container.
 *
 *   1. a work dir STATE/exec/<id> (0700) holding code/<entry> (mounted at
 *      /code, read-only) and config.json;
 *   2. `runc run --detach`: the container's stdout and stderr are the write
 *      end of one pipe, so the output keeps the order in which the program
 *      wrote it, and fd 3 is a status pipe on which codeengine-init reports
 *      the program's wait status.  runc exits once the program has started;
 *      the container's init becomes our child (we are a subreaper) and the
 *      supervisor reaps it;
 *   3. a timed wait (CLOCK_MONOTONIC) for the supervisor to see the container
 *      end; on timeout or output limit, `runc kill <id> KILL`;
 *   4. read the cgroup counters, `runc delete --force`, remove the work dir.
 * Steps 4 run on every path once step 1 has begun.
 */
#include "runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <yajl/yajl_tree.h>

#include "oci_spec.h"
#include "supervisor.h"

/* Long enough for a loaded machine, short enough to notice a wedged runc. */
#define RUNTIME_CMD_TIMEOUT_MS 30000
/* After a kill, how long the pipes may take to close. */
#define KILL_GRACE_MS 5000
#define CPU_PERIOD_US 100000
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
        }
        return "unknown";
}

void
runner_result_clear (struct runner_result *res)
{
        sup_output_free (&res->out);
        memset (res, 0, sizeof (*res));
}

static int
make_id (char *buf, size_t size)
{
        unsigned char r[8];

        if (getrandom (r, sizeof (r), 0) != (ssize_t) sizeof (r))
                return -errno;
        snprintf (buf, size, "ce-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
                  r[5], r[6], r[7]);
        return 0;
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

/* Every name one execution uses, derived once from its id. */
struct exec_paths {
        char id[32];
        char workdir[4096];    /* STATE/exec/<id> */
        char code_dir[4200];   /* mounted at /code */
        char log_path[4200];   /* runc --log */
        char pid_path[4200];   /* runc --pid-file */
        char cgroup_spec[256]; /* cgroupsPath, as runc wants it */
        char cgroup_fs[256];   /* the same cgroup under the hierarchy's root */
};

static int
exec_paths_init (const struct runner_config *cfg, struct exec_paths *p)
{
        unsigned uid = (unsigned) getuid ();
        int ret = make_id (p->id, sizeof (p->id));

        if (ret < 0)
                return ret;
        snprintf (p->workdir, sizeof (p->workdir), "%s/%s", cfg->exec_dir, p->id);
        snprintf (p->code_dir, sizeof (p->code_dir), "%s/code", p->workdir);
        snprintf (p->log_path, sizeof (p->log_path), "%s/runc.log", p->workdir);
        snprintf (p->pid_path, sizeof (p->pid_path), "%s/init.pid", p->workdir);
        if (cfg->systemd_cgroup) {
                /* A transient scope in the user's own systemd instance. */
                snprintf (p->cgroup_spec, sizeof (p->cgroup_spec), "user.slice:codeengine:%s",
                          p->id);
                snprintf (
                        p->cgroup_fs, sizeof (p->cgroup_fs),
                        "/user.slice/user-%u.slice/user@%u.service/user.slice/codeengine-%s.scope",
                        uid, uid, p->id);
        } else {
                snprintf (p->cgroup_spec, sizeof (p->cgroup_spec), "/codeengine/%s", p->id);
                snprintf (p->cgroup_fs, sizeof (p->cgroup_fs), "/codeengine/%s", p->id);
        }
        return 0;
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
        ret = sup_spawn (argv, &(struct sup_stdio){ devnull, devnull, devnull, -1 }, &pid, NULL);
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

static void
runtime_delete (const struct runner_config *cfg, const char *id)
{
        const char *args[] = { "delete", "--force", id, NULL };
        int status = 0;

        if (runtime_simple (cfg, args, &status) < 0 || ! WIFEXITED (status)
            || WEXITSTATUS (status) != 0)
                ce_log ("warning: %s delete --force %s failed", cfg->runtime, id);
}

/* The last error runc logged (JSON lines in its --log file), else the first
 * line it printed, for a 500. */
static void
runtime_error_message (int wfd, const struct ce_buf *stderr_text, char *out, size_t size)
{
        cleanup_close int fd = openat (wfd, "runc.log", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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
                        snprintf (out, size, "runc: %s", msg);
                yajl_tree_free (v);
        }
}

/* Write one request file under codefd, creating its directories; nothing is
 * ever followed through a link (the names were validated, but be strict). */
static int
write_code_file (int codefd, const char *name, const char *data, size_t len)
{
        char path[REQUEST_MAX_NAME + 1];
        int dirfd = codefd;
        char *part = path, *slash;
        int ret;

        snprintf (path, sizeof (path), "%s", name);
        while ((slash = strchr (part, '/')) != NULL) {
                int next;

                *slash = '\0';
                if (mkdirat (dirfd, part, 0755) < 0 && errno != EEXIST)
                        ret = -errno;
                else if ((next = openat (dirfd, part,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
                         < 0)
                        ret = -errno;
                else if (fchmod (next, 0755) < 0) {
                        ret = -errno;
                        close (next);
                } else {
                        ret = 0;
                        if (dirfd != codefd)
                                close (dirfd);
                        dirfd = next;
                }
                if (ret < 0) {
                        if (dirfd != codefd)
                                close (dirfd);
                        return ret;
                }
                part = slash + 1;
        }
        ret = ce_write_file_at (dirfd, part, data, len, 0644);
        if (dirfd != codefd)
                close (dirfd);
        return ret;
}

/* The program's argv: the bundle's command with "{entry}" replaced by the
 * entry file's path inside, then the request's args.  Strings are borrowed;
 * only the array (and the entry path in *entry_path) is allocated. */
static char **
build_argv (const struct ce_bundle *b, const struct ce_request *req, char **entry_path)
{
        size_t ncmd = 0, n = 0;
        char **argv;

        while (b->command[ncmd])
                ncmd++;
        argv = calloc (ncmd + req->nargs + 1, sizeof (char *));
        if (argv == NULL
            || asprintf (entry_path, "%s/%s", CE_CODE_DIR,
                         req->from_code ? b->entry_file : req->files[0].name)
                       < 0) {
                free (argv);
                return NULL;
        }
        for (size_t i = 0; i < ncmd; i++)
                argv[n++] = strcmp (b->command[i], BUNDLE_ENTRY_PLACEHOLDER) == 0 ? *entry_path
                                                                                  : b->command[i];
        for (size_t i = 0; i < req->nargs; i++)
                argv[n++] = req->args[i];
        return argv;
}

static int
prepare_workdir (const struct runner_config *cfg, const struct exec_paths *paths,
                 const struct ce_bundle *b, const struct ce_request *req,
                 const struct ce_limits *limits, int *wfd_out, int *stdin_out, struct ce_error *err)
{
        cleanup_close int wfd = -1;
        cleanup_close int codefd = -1;
        cleanup_free char **argv = NULL;
        cleanup_free char *entry_path = NULL;
        struct spec_params params;
        int ret;

        if (mkdirat (cfg->exec_dirfd, paths->id, 0700) < 0)
                return ce_error_set (err, 500, errno, "cannot create work dir: %s",
                                     strerror (errno));
        wfd = openat (cfg->exec_dirfd, paths->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (wfd < 0 || mkdirat (wfd, "code", 0755) < 0)
                return ce_error_set (err, 500, errno, "cannot create work dir: %s",
                                     strerror (errno));
        codefd = openat (wfd, "code", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (codefd < 0 || fchmod (codefd, 0755) < 0)
                return ce_error_set (err, 500, errno, "cannot create code dir: %s",
                                     strerror (errno));
        for (size_t i = 0; i < req->nfiles; i++) {
                const struct ce_file *f = &req->files[i];

                ret = write_code_file (codefd, req->from_code ? b->entry_file : f->name, f->data,
                                       f->len);
                if (ret < 0)
                        return ce_error_set (err, 500, -ret, "cannot write code: %s",
                                             strerror (-ret));
        }
        /* stdin is a file of ours, never seen inside but through fd 0. */
        if (req->stdin_data) {
                ret = ce_write_file_at (wfd, "stdin", req->stdin_data, req->stdin_len, 0600);
                if (ret < 0)
                        return ce_error_set (err, 500, -ret, "cannot write stdin: %s",
                                             strerror (-ret));
                *stdin_out = openat (wfd, "stdin", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        } else {
                *stdin_out = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        if (*stdin_out < 0)
                return ce_error_set (err, 500, errno, "cannot open stdin: %s", strerror (errno));

        argv = build_argv (b, req, &entry_path);
        if (argv == NULL)
                return ce_error_set (err, 500, ENOMEM, "out of memory");
        params = (struct spec_params){
                .rootless = cfg->rootless,
                .no_cpu_limit = ! cfg->cpu_limit,
                .host_uid = (uint32_t) getuid (),
                .host_gid = (uint32_t) getgid (),
                .bundle = b,
                .argv = argv,
                .code_dir = paths->code_dir,
                .init_path = cfg->init_path,
                .cgroups_path = cfg->limits == LIMITS_CGROUP ? paths->cgroup_spec : NULL,
                .hostname = "codeengine",
                .memory_bytes = limits->memory_mb * 1024 * 1024,
                .cpu_quota_us = (int64_t) llround (limits->cpus * CPU_PERIOD_US),
                .cpu_period_us = CPU_PERIOD_US,
                .pids_limit = limits->pids,
                .tmp_bytes = cfg->tmp_bytes,
                /* Rootless: root inside is us outside, the only uid mapped. */
                .uid = cfg->rootless ? 0 : CONTAINER_UID,
                .gid = cfg->rootless ? 0 : CONTAINER_GID,
                .cpu_seconds = (limits->timeout_ms + 999) / 1000 + 1,
                .seccomp = cfg->seccomp,
        };
        ret = spec_write (wfd, &params, err);
        if (ret < 0)
                return ret;
        *wfd_out = steal_fd (&wfd);
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
 * the supervisor; -1 if that fails (usage then comes from init's report). */
static pid_t
adopt_init (int wfd)
{
        cleanup_close int fd = openat (wfd, "init.pid", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[32];
        ssize_t n;
        long pid;

        if (fd < 0 || (n = read (fd, buf, sizeof (buf) - 1)) <= 0)
                return -1;
        buf[n] = '\0';
        pid = strtol (buf, NULL, 10);
        if (pid <= 1 || sup_adopt_child ((pid_t) pid) < 0)
                return -1;
        return (pid_t) pid;
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

int
runner_run (const struct runner_config *cfg, const struct ce_bundle *b,
            const struct ce_request *req, const struct ce_limits *limits, int client_fd,
            const struct runner_done *done, struct runner_result *res, struct ce_error *err)
{
        struct exec_paths paths;
        pid_t init_pid = -1;
        int wfd = -1, stdin_fd = -1;
        int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, status_pipe[2] = { -1, -1 };
        struct sup_watch *watch = NULL;
        struct sup_watch_state st = { 0 };
        struct sup_output output = { 0 };
        struct cgroup_stats stats;
        struct timespec deadline, started;
        bool timed_out = false, created = false;
        pid_t pid;
        int ret, wstatus;

        memset (res, 0, sizeof (*res));
        ret = exec_paths_init (cfg, &paths);
        if (ret < 0)
                return ce_error_set (err, 500, -ret, "getrandom: %s", strerror (-ret));

        ret = prepare_workdir (cfg, &paths, b, req, limits, &wfd, &stdin_fd, err);
        if (ret < 0)
                goto out;
        if (pipe2 (out_pipe, O_CLOEXEC) < 0 || pipe2 (err_pipe, O_CLOEXEC) < 0
            || pipe2 (status_pipe, O_CLOEXEC) < 0) {
                ret = ce_error_set (err, 500, errno, "pipe: %s", strerror (errno));
                goto out;
        }
        ret = sup_watch_new (
                &(struct sup_watch_fds){ out_pipe[0], err_pipe[0], status_pipe[0], client_fd },
                (size_t) limits->output_bytes, &watch, err);
        out_pipe[0] = err_pipe[0] = status_pipe[0] = -1; /* owned by the watch, even on failure */
        if (ret < 0)
                goto out;

        {
                const char *run[] = { "--log",
                                      paths.log_path,
                                      "--log-format",
                                      "json",
                                      "run",
                                      "--detach",
                                      "--bundle",
                                      paths.workdir,
                                      "--pid-file",
                                      paths.pid_path,
                                      "--preserve-fds",
                                      "1",
                                      paths.id,
                                      NULL };
                char *argv[24];
                size_t n = runtime_prefix (cfg, argv);

                for (const char *const *a = run; *a; a++)
                        argv[n++] = (char *) *a;
                argv[n] = NULL;
                deadline = ce_deadline_after_ms (RUNTIME_CMD_TIMEOUT_MS);
                created = true; /* from here on runc may have state to delete */
                ret = sup_spawn (
                        argv,
                        &(struct sup_stdio){ stdin_fd, out_pipe[1], err_pipe[1], status_pipe[1] },
                        &pid, err);
        }
        /* Only the container may hold the write ends, so that EOF means it is gone. */
        close_pair (out_pipe);
        close_pair (err_pipe);
        close_pair (status_pipe);
        if (ret < 0)
                goto out;

        ret = sup_wait_child (pid, &deadline, &wstatus);
        if (ret == -ETIMEDOUT) {
                kill (pid, SIGKILL);
                sup_wait_child (pid, NULL, &wstatus);
                ret = ce_error_set (err, 500, ETIMEDOUT,
                                    "runc did not start the container in %d ms",
                                    RUNTIME_CMD_TIMEOUT_MS);
                goto out;
        }
        if (ret < 0 || ! WIFEXITED (wstatus) || WEXITSTATUS (wstatus) != 0) {
                struct timespec grace = ce_deadline_after_ms (1000);
                char msg[400];

                /* No container runs, so what reached the pipes is runc's own stderr:
                 * the message of last resort when its log has none. */
                sup_watch_wait (watch, SUP_WAIT_DONE, &grace, &st);
                sup_watch_finish (steal_pointer (&watch), &output);
                runtime_error_message (wfd, &output.stderr_buf, msg, sizeof (msg));
                ret = ce_error_set (err, 500, EIO, "%s", msg);
                goto out;
        }
        /* The program's time starts now that it runs: runc's start-up is ours. */
        started = ce_now ();
        /* Without a cgroup, a killed init cannot report usage; wait4 on it can. */
        if (cfg->limits != LIMITS_CGROUP)
                init_pid = adopt_init (wfd);
        deadline = ce_deadline_after_ms (limits->timeout_ms);

        ret = sup_watch_wait (watch, SUP_WAIT_EVENT, &deadline, &st);
        if (ret == -ETIMEDOUT || ret == -ECANCELED)
                timed_out = true;
        if (timed_out || st.output_limit || st.client_gone) {
                struct timespec grace = ce_deadline_after_ms (KILL_GRACE_MS);

                runtime_kill (cfg, paths.id);
                if (sup_watch_wait (watch, SUP_WAIT_DONE, &grace, &st) < 0)
                        ce_log ("warning: %s: pipes still open %d ms after kill", paths.id,
                                KILL_GRACE_MS);
        }
        if (cfg->limits == LIMITS_CGROUP)
                cgroup_read_stats (paths.cgroup_fs, &stats);
        else
                init_usage (steal_pid (&init_pid), &st, &stats);
        fill_result (res, &st, timed_out, &stats, started);
        ret = 0;

out:
        if (init_pid > 0)
                sup_forget_child (init_pid);
        if (wfd >= 0)
                close (wfd);
        if (stdin_fd >= 0)
                close (stdin_fd);
        close_pair (out_pipe);
        close_pair (err_pipe);
        close_pair (status_pipe);
        if (watch)
                sup_watch_finish (watch, &output);
        if (ret == 0)
                res->out = output;
        else
                sup_output_free (&output);
        /* The answer is ready: let the caller send it while we clean up (runc
         * delete costs about as much as starting the container).  From here
         * on req, limits, res and err are not ours. */
        if (done)
                done->fn (done->arg, ret);
        if (created)
                runtime_delete (cfg, paths.id);
        if (ce_remove_tree_at (cfg->exec_dirfd, paths.id) < 0)
                ce_log ("warning: cannot remove work dir %s", paths.workdir);
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

int
runner_cleanup_stale (const struct runner_config *cfg, struct ce_error *err)
{
        char *argv[8];
        size_t n = runtime_prefix (cfg, argv);
        cleanup_free char *ids = NULL;
        char *line, *save = NULL;
        struct dirent *de;
        DIR *d;
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
                runtime_delete (cfg, line);
        }
        d = opendir (cfg->exec_dir);
        if (d == NULL)
                return ce_error_set (err, 500, errno, "%s: %s", cfg->exec_dir, strerror (errno));
        while ((de = readdir (d)) != NULL) {
                if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
                        continue;
                ce_log ("removing work dir %s left by an earlier run", de->d_name);
                ce_remove_tree_at (cfg->exec_dirfd, de->d_name);
        }
        closedir (d);
        return 0;
}
