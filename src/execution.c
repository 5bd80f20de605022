/*
 * execution.c - plan a request's stages and run them, one container each.
 *
 * Runs on a pool worker.  The work dir is created 0700 with O_NOFOLLOW
 * openat calls under the server's exec dir; request file names were
 * validated by request.c and are still never followed through a link.  The
 * compile container writes only into /build: as root that is a tmpfs we
 * mount with a size and an inode limit (its pages are charged to the
 * compile's memory cgroup), so a hostile compile cannot fill the host's
 * disk; rootless, it is a plain directory bounded per file by RLIMIT_FSIZE
 * (an unprivileged server cannot mount).  The host never reads what a stage
 * wrote: /build is only mounted into the run container, then unmounted and
 * removed without following links.
 */
#include "execution.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "oci_spec.h"
#include "warm.h"

#define BUILD_INODES 4096
#define CONTAINER_UID 65534
#define CONTAINER_GID 65534

static void
hold_to (struct ce_limits *l, const struct ce_limits *ceil)
{
        if (l->timeout_ms > ceil->timeout_ms)
                l->timeout_ms = ceil->timeout_ms;
        if (l->memory_mb > ceil->memory_mb)
                l->memory_mb = ceil->memory_mb;
        if (l->cpus > ceil->cpus)
                l->cpus = ceil->cpus;
        if (l->output_bytes > ceil->output_bytes)
                l->output_bytes = ceil->output_bytes;
        if (l->pids > ceil->pids)
                l->pids = ceil->pids;
}

void
execution_default_limits (const struct ce_language *lang, bool compile,
                          const struct exec_policy *pol, struct ce_limits *out)
{
        const struct ce_stage_def *s = compile ? &lang->compile : &lang->run;
        const struct ce_limits *l = &s->limits;

        *out = compile ? pol->compile_defaults : pol->defaults;
        if (s->limits_given & LIMIT_TIMEOUT)
                out->timeout_ms = l->timeout_ms;
        if (s->limits_given & LIMIT_MEMORY)
                out->memory_mb = l->memory_mb;
        if (s->limits_given & LIMIT_CPUS)
                out->cpus = l->cpus;
        if (s->limits_given & LIMIT_OUTPUT)
                out->output_bytes = l->output_bytes;
        if (s->limits_given & LIMIT_PIDS)
                out->pids = l->pids;
        hold_to (out, compile ? &pol->compile_ceilings : &pol->ceilings);
}

int
execution_plan (const struct ce_language *lang, const struct ce_request *req,
                const struct exec_policy *pol, struct exec_plan *plan, struct ce_error *err)
{
        struct ce_limits defaults;
        struct ce_limits asked = req->compile_limits;
        unsigned given = req->compile_limits_given;
        int ret;

        if (! lang->available)
                return ce_error_set (err, 503, ENOENT,
                                     "language '%s' is not available on this server: %s",
                                     lang->name, lang->reason ? lang->reason : "not prepared");
        memset (plan, 0, sizeof (*plan));
        plan->lang = lang;
        execution_default_limits (lang, false, pol, &defaults);
        ret = request_resolve_limits (&req->limits, req->limits_given, "", &defaults,
                                      &pol->ceilings, &plan->run_limits, err);
        if (ret < 0 || lang->compile.command == NULL)
                return ret;
        /* output_bytes bounds what either stage may print. */
        if (req->limits_given & LIMIT_OUTPUT) {
                asked.output_bytes = plan->run_limits.output_bytes;
                given |= LIMIT_OUTPUT;
        }
        execution_default_limits (lang, true, pol, &defaults);
        return request_resolve_limits (&asked, given, "compile_", &defaults, &pol->compile_ceilings,
                                       &plan->compile_limits, err);
}

/* A result whose output took more than this gives memory back when freed. */
#define TRIM_AFTER_BYTES (1024 * 1024)

/* Bytes a result's output buffers hold. */
static size_t
result_bytes (const struct runner_result *r)
{
        return r->out.combined.cap + r->out.stdout_buf.cap + r->out.stderr_buf.cap;
}

void
execution_result_clear (struct exec_result *res)
{
        bool big = result_bytes (&res->compile) + result_bytes (&res->run) > TRIM_AFTER_BYTES;

        runner_result_clear (&res->compile);
        runner_result_clear (&res->run);
        memset (res, 0, sizeof (*res));
        if (big)
                ce_memory_trim ();
}

int
execution_new_id (char buf[CE_EXEC_ID_SIZE])
{
        unsigned char r[8];

        if (getrandom (r, sizeof (r), 0) != (ssize_t) sizeof (r))
                return -errno;
        snprintf (buf, CE_EXEC_ID_SIZE, "ce-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
                  r[3], r[4], r[5], r[6], r[7]);
        return 0;
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

static const char *
file_name (const struct ce_language *lang, const struct ce_request *req, size_t i)
{
        return req->from_code ? lang->entry_file : req->files[i].name;
}

static bool
is_source (const struct ce_language *lang, const char *name)
{
        size_t n = strlen (name);

        for (char **s = lang->sources; *s; s++) {
                size_t k = strlen (*s);

                if (n > k && strcmp (name + n - k, *s) == 0)
                        return true;
        }
        return false;
}

/* s with every `from` replaced by `to`; malloc'd. */
static char *
replace_all (const char *s, const char *from, const char *to)
{
        struct ce_buf b = { 0 };
        size_t flen = strlen (from), tlen = strlen (to);
        const char *hit;

        if (ce_buf_append (&b, "", 0) < 0)
                return NULL;
        while ((hit = strstr (s, from)) != NULL) {
                if (ce_buf_append (&b, s, (size_t) (hit - s)) < 0
                    || ce_buf_append (&b, to, tlen) < 0)
                        goto fail;
                s = hit + flen;
        }
        if (ce_buf_append (&b, s, strlen (s)) < 0)
                goto fail;
        return b.data;
fail:
        ce_buf_free (&b);
        return NULL;
}

/* Append a malloc'd copy of s (NULL: out of memory) to v, which has room. */
static int
push (char **v, size_t *n, char *s)
{
        if (s == NULL)
                return -ENOMEM;
        v[(*n)++] = s;
        return 0;
}

static char *
path_inside (const char *name)
{
        char *p;

        return asprintf (&p, "%s/%s", CE_CODE_DIR, name) < 0 ? NULL : p;
}

/* A stage's argv: its command with the placeholders replaced, then (the run
 * only) the request's args.  Every string is the array's own. */
static char **
build_argv (const struct ce_language *lang, const struct ce_stage_def *stage,
            const struct ce_request *req, bool with_args)
{
        const char *entry = file_name (lang, req, 0);
        const char *base = strrchr (entry, '/') ? strrchr (entry, '/') + 1 : entry;
        const char *dot = strrchr (base, '.');
        cleanup_free char *entry_path = path_inside (entry);
        cleanup_free char *stem =
                strndup (base, dot && dot != base ? (size_t) (dot - base) : strlen (base));
        size_t ncmd = 0, n = 0, nfiles = req->from_code ? 1 : req->nfiles;
        char **argv;

        while (stage->command[ncmd])
                ncmd++;
        if (entry_path == NULL || stem == NULL)
                return NULL;
        argv = calloc (ncmd * nfiles + (with_args ? req->nargs : 0) + 1, sizeof (char *));
        if (argv == NULL)
                return NULL;
        for (size_t i = 0; i < ncmd; i++) {
                const char *c = stage->command[i];
                cleanup_free char *step = NULL;
                int ret = 0;

                if (strcmp (c, BUNDLE_SOURCES_PLACEHOLDER) == 0) {
                        ret = push (argv, &n, strdup (entry_path));
                        for (size_t f = 1; ret == 0 && f < nfiles; f++)
                                if (is_source (lang, file_name (lang, req, f)))
                                        ret = push (argv, &n,
                                                    path_inside (file_name (lang, req, f)));
                } else {
                        step = replace_all (c, BUNDLE_ENTRY_PLACEHOLDER, entry_path);
                        ret = push (argv, &n,
                                    step ? replace_all (step, BUNDLE_STEM_PLACEHOLDER, stem)
                                         : NULL);
                }
                if (ret < 0) {
                        ce_strv_free (argv);
                        return NULL;
                }
        }
        for (size_t i = 0; with_args && i < req->nargs; i++)
                if (push (argv, &n, strdup (req->args[i])) < 0) {
                        ce_strv_free (argv);
                        return NULL;
                }
        return argv;
}

/* One execution's work dir and the names under it, derived once. */
struct exec_dir {
        char id[CE_EXEC_ID_SIZE];
        char workdir[4096];
        char code_dir[4200];
        char build_dir[4200];
        int wfd;   /* open on workdir; -1 before */
        bool made; /* workdir exists: ours to remove */
        bool mounted;
};

/* A fresh work dir holding an empty code dir, named id (NULL: a new id). */
static int
exec_dir_create (const struct runner_config *cfg, const char *id, struct exec_dir *d, int *codefd,
                 struct ce_error *err)
{
        int ret = 0;

        memset (d, 0, sizeof (*d));
        d->wfd = -1;
        if (id != NULL)
                snprintf (d->id, sizeof (d->id), "%s", id);
        else
                ret = execution_new_id (d->id);
        if (ret < 0)
                return ce_error_set (err, 500, -ret, "getrandom: %s", strerror (-ret));
        snprintf (d->workdir, sizeof (d->workdir), "%s/%s", cfg->exec_dir, d->id);
        snprintf (d->code_dir, sizeof (d->code_dir), "%s/code", d->workdir);
        snprintf (d->build_dir, sizeof (d->build_dir), "%s/build", d->workdir);
        if (mkdirat (cfg->exec_dirfd, d->id, 0700) < 0)
                return ce_error_set (err, 500, errno, "cannot create work dir: %s",
                                     strerror (errno));
        d->made = true;
        d->wfd = openat (cfg->exec_dirfd, d->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d->wfd < 0 || mkdirat (d->wfd, "code", 0755) < 0)
                return ce_error_set (err, 500, errno, "cannot create work dir: %s",
                                     strerror (errno));
        *codefd = openat (d->wfd, "code", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*codefd < 0 || fchmod (*codefd, 0755) < 0)
                return ce_error_set (err, 500, errno, "cannot create code dir: %s",
                                     strerror (errno));
        return 0;
}

static void
unmount_build (const char *path)
{
        if (umount2 (path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                ce_log ("warning: cannot unmount %s: %s", path, strerror (errno));
}

static void
exec_dir_remove (const struct runner_config *cfg, struct exec_dir *d)
{
        if (d->wfd >= 0)
                close (d->wfd);
        d->wfd = -1;
        if (d->mounted)
                unmount_build (d->build_dir);
        if (d->made && ce_remove_tree_at (cfg->exec_dirfd, d->id) < 0)
                ce_log ("warning: cannot remove work dir %s", d->workdir);
        d->made = d->mounted = false;
}

/* The request's files under code/ and its stdin; *stdin_fd is open on the
 * run's standard input. */
static int
write_request (const struct exec_dir *d, int codefd, const struct ce_language *lang,
               const struct ce_request *req, int *stdin_fd, struct ce_error *err)
{
        int ret;

        for (size_t i = 0; i < req->nfiles; i++) {
                ret = write_code_file (codefd, file_name (lang, req, i), req->files[i].data,
                                       req->files[i].len);
                if (ret < 0)
                        return ce_error_set (err, 500, -ret, "cannot write code: %s",
                                             strerror (-ret));
        }
        /* stdin is a file of ours, never seen inside but through fd 0. */
        if (req->stdin_data) {
                ret = ce_write_file_at (d->wfd, "stdin", req->stdin_data, req->stdin_len, 0600);
                if (ret < 0)
                        return ce_error_set (err, 500, -ret, "cannot write stdin: %s",
                                             strerror (-ret));
                *stdin_fd = openat (d->wfd, "stdin", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        } else {
                *stdin_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        if (*stdin_fd < 0)
                return ce_error_set (err, 500, errno, "cannot open stdin: %s", strerror (errno));
        return 0;
}

/* WORK/build: as root a tmpfs of cfg->build_bytes that only the container's
 * user may write; rootless a plain directory (root inside is us). */
static int
make_build_dir (const struct runner_config *cfg, struct exec_dir *d, struct ce_error *err)
{
        char opts[128];

        if (mkdirat (d->wfd, "build", 0755) < 0)
                return ce_error_set (err, 500, errno, "cannot create build dir: %s",
                                     strerror (errno));
        if (cfg->rootless)
                return 0;
        snprintf (opts, sizeof (opts), "size=%" PRId64 ",nr_inodes=%d,mode=0755,uid=%d,gid=%d",
                  cfg->build_bytes, BUILD_INODES, CONTAINER_UID, CONTAINER_GID);
        if (mount ("tmpfs", d->build_dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                return ce_error_set (err, 500, errno, "cannot mount the build dir: %s",
                                     strerror (errno));
        d->mounted = true;
        return 0;
}

/* What every container of the execution shares: its dir, code and tree. */
static struct runner_stage
stage_in (const struct exec_dir *d, const struct ce_language *lang, const char *id,
          const char *name)
{
        return (struct runner_stage){
                .id = id,
                .workdir = d->workdir,
                .workfd = d->wfd,
                .name = name,
                .rootfs = lang->rootfs,
                .code_dir = d->code_dir,
                .cwd = CE_CODE_DIR,
        };
}

/* A prepared execution: the work dir and the containers of its stages,
 * created and waiting for their programs.  Owned by one thread at a time:
 * the warm pool while it waits, then the execution it serves. */
struct exec_slot {
        struct exec_dir d;
        int codefd;
        const struct ce_language *lang;
        struct ce_limits compile_limits, run_limits; /* what the containers were made with */
        char compile_id[48];
        struct runner_container *compile, *run; /* NULL: not made (yet) */
};

static int
create_compile (const struct runner_config *cfg, struct exec_slot *s, struct ce_error *err)
{
        struct runner_stage stage = stage_in (&s->d, s->lang, s->compile_id, "compile");
        int ret = make_build_dir (cfg, &s->d, err);

        if (ret < 0)
                return ret;
        stage.env = s->lang->compile.env;
        stage.cwd = CE_BUILD_DIR;
        stage.build_dir = s->d.build_dir;
        stage.build_writable = true;
        stage.limits = &s->compile_limits;
        /* Compilers keep their temporary files in /tmp: room for as much as
         * the stage may use anyway. */
        stage.tmp_bytes = s->compile_limits.memory_mb * 1024 * 1024;
        stage.fsize_bytes = cfg->build_bytes;
        return runner_create (cfg, &stage, &s->compile, err);
}

static int
create_run (const struct runner_config *cfg, struct exec_slot *s, struct ce_error *err)
{
        struct runner_stage stage = stage_in (&s->d, s->lang, s->d.id, "run");

        stage.env = s->lang->run.env;
        stage.build_dir = s->lang->compile.command ? s->d.build_dir : NULL;
        stage.limits = &s->run_limits;
        stage.tmp_bytes = stage.fsize_bytes = cfg->tmp_bytes;
        return runner_create (cfg, &stage, &s->run, err);
}

/* A slot for plan's language and limits: every stage's container when
 * `all`, else only the first (the run's then comes after the compile). */
static int
slot_prepare (const struct runner_config *cfg, const struct exec_plan *plan, const char *id,
              bool all, struct exec_slot **out, struct ce_error *err)
{
        struct exec_slot *s = calloc (1, sizeof (*s));
        bool compiles = plan->lang->compile.command != NULL;
        int ret;

        *out = NULL;
        if (s == NULL)
                return ce_error_set (err, 500, ENOMEM, "out of memory");
        s->codefd = -1;
        s->lang = plan->lang;
        s->compile_limits = plan->compile_limits;
        s->run_limits = plan->run_limits;
        ret = exec_dir_create (cfg, id, &s->d, &s->codefd, err);
        if (ret < 0)
                goto fail;
        snprintf (s->compile_id, sizeof (s->compile_id), "%s-compile", s->d.id);
        if (compiles)
                ret = create_compile (cfg, s, err);
        if (ret == 0 && (all || ! compiles))
                ret = create_run (cfg, s, err);
        if (ret < 0)
                goto fail;
        *out = s;
        return 0;
fail:
        execution_discard (cfg, s);
        return ret;
}

int
execution_prepare (const struct runner_config *cfg, const struct exec_plan *plan, const char *id,
                   struct exec_slot **out, struct ce_error *err)
{
        return slot_prepare (cfg, plan, id, true, out, err);
}

void
execution_discard (const struct runner_config *cfg, struct exec_slot *s)
{
        if (s == NULL)
                return;
        runner_destroy (cfg, s->compile);
        runner_destroy (cfg, s->run);
        if (s->codefd >= 0)
                close (s->codefd);
        exec_dir_remove (cfg, &s->d);
        free (s);
}

static bool
same_cgroup_limits (const struct ce_limits *a, const struct ce_limits *b)
{
        return a->memory_mb == b->memory_mb && a->cpus == b->cpus && a->pids == b->pids;
}

/* Whether a container made with `made` can serve `want`.  Its RLIMIT_CPU
 * follows the timeout and its /tmp the memory: those it can only lower.
 * Memory, CPU and pids can be changed before the go where runner_update
 * works; elsewhere they must match. */
static bool
limits_fit (const struct ce_limits *made, const struct ce_limits *want, bool updatable)
{
        return want->timeout_ms <= made->timeout_ms
               && (updatable || same_cgroup_limits (made, want));
}

bool
execution_slot_fits (const struct runner_config *cfg, const struct exec_slot *s,
                     const struct exec_plan *plan)
{
        bool updatable = runner_can_update (cfg);

        if (s->lang != plan->lang || ! limits_fit (&s->run_limits, &plan->run_limits, updatable))
                return false;
        /* The compile's /tmp is as large as its memory limit was. */
        return s->lang->compile.command == NULL
               || (limits_fit (&s->compile_limits, &plan->compile_limits, updatable)
                   && plan->compile_limits.memory_mb <= s->compile_limits.memory_mb);
}

/* A slot's containers get the plan's cgroup limits where they differ. */
static int
slot_adjust (const struct runner_config *cfg, struct exec_slot *s, const struct exec_plan *plan,
             struct ce_error *err)
{
        int ret = 0;

        if (s->compile && ! same_cgroup_limits (&s->compile_limits, &plan->compile_limits)) {
                ret = runner_update (cfg, s->compile, &plan->compile_limits, err);
                if (ret == 0)
                        s->compile_limits = plan->compile_limits;
        }
        if (ret == 0 && s->run && ! same_cgroup_limits (&s->run_limits, &plan->run_limits)) {
                ret = runner_update (cfg, s->run, &plan->run_limits, err);
                if (ret == 0)
                        s->run_limits = plan->run_limits;
        }
        return ret;
}

bool
execution_slot_alive (const struct exec_slot *s)
{
        return (s->compile == NULL || runner_alive (s->compile))
               && (s->run == NULL || runner_alive (s->run));
}

void
execution_slot_describe (const struct exec_slot *s, struct exec_slot_info *info)
{
        const struct runner_container *cs[2] = { s->compile, s->run };

        memset (info, 0, sizeof (*info));
        info->id = s->d.id;
        info->language = s->lang->name;
        info->fds = (s->d.wfd >= 0) + (s->codefd >= 0);
        for (size_t i = 0; i < 2; i++)
                if (cs[i]) {
                        info->containers[info->ncontainers] = runner_container_id (cs[i]);
                        info->pids[info->ncontainers] = runner_container_pid (cs[i]);
                        info->fds += runner_container_fds (cs[i]);
                        info->ncontainers++;
                }
}

/* A compile that did not succeed stands in for the run: nothing ran, so no
 * output and no usage, and the compiler's exit. */
static void
compile_failed (struct exec_result *res)
{
        struct runner_result *c = &res->compile;

        if (c->status == RUN_RUNTIME_ERROR)
                c->status = RUN_COMPILE_ERROR;
        res->status = c->status == RUN_CLIENT_GONE ? RUN_CLIENT_GONE : RUN_COMPILE_ERROR;
        res->run = (struct runner_result){
                .status = res->status,
                .exit_code = c->exit_code,
                .signal = c->signal,
                .wall_ms = 0,
                .cpu_ms = -1,
                .memory_kb = -1,
        };
}

/* Whether the client's socket (-1: none) has seen its peer go, now. */
static bool
client_hung_up (int fd)
{
        struct pollfd p = { fd, POLLRDHUP, 0 };

        return fd >= 0 && poll (&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

int
execution_run (const struct runner_config *cfg, const struct exec_plan *plan,
               const struct ce_request *req, int client_fd, const struct exec_sink *sink,
               const struct exec_done *done, struct exec_result *res, struct ce_error *err)
{
        const struct ce_language *lang = plan->lang;
        bool compiles = lang->compile.command != NULL;
        struct exec_slot *s = NULL;
        cleanup_close int stdin_fd = -1;
        cleanup_close int devnull = -1;
        int ret;

        memset (res, 0, sizeof (*res));
        /* A job that waited in the queue for a client that has gone since:
         * nobody to answer, so no container either. */
        if (client_hung_up (client_fd)) {
                res->run.status = res->status = RUN_CLIENT_GONE;
                res->run.cpu_ms = res->run.memory_kb = -1;
                ret = 0;
                goto out;
        }
        /* A warm slot when one fits, else one made now; either way a work dir
         * and containers nobody else has seen. */
        if (cfg->warm)
                s = warm_take (cfg->warm, plan);
        if (s && slot_adjust (cfg, s, plan, err) < 0) {
                ce_log ("warning: %s: %s; making new containers", s->d.id, err->msg);
                execution_discard (cfg, s);
                s = NULL;
        }
        ret = s ? 0 : slot_prepare (cfg, plan, NULL, false, &s, err);
        if (ret < 0)
                goto out;
        ret = write_request (&s->d, s->codefd, lang, req, &stdin_fd, err);
        if (ret < 0)
                goto out;

        if (compiles) {
                cleanup_strv char **argv = build_argv (lang, &lang->compile, req, false);
                struct runner_go go = { .argv = argv, .limits = &plan->compile_limits };

                devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
                if (argv == NULL || devnull < 0) {
                        ret = ce_error_set (err, 500, ENOMEM, "cannot set up the compile stage");
                        goto out;
                }
                go.stdin_fd = devnull;
                if (sink) {
                        go.tap = (struct sup_output_tap){ sink->output, sink->arg };
                        sink->stage_start (sink->arg, EXEC_STAGE_COMPILE);
                }
                ret = runner_start (cfg, s->compile, &go, client_fd, &res->compile, err);
                if (ret < 0)
                        goto out;
                res->compiled = true;
                if (sink)
                        sink->stage_end (sink->arg, EXEC_STAGE_COMPILE, &res->compile);
                if (res->compile.status != RUN_OK) {
                        compile_failed (res);
                        goto out;
                }
        }

        {
                cleanup_strv char **argv = build_argv (lang, &lang->run, req, true);
                struct runner_go go = { .argv = argv, .limits = &plan->run_limits };

                if (argv == NULL) {
                        ret = ce_error_set (err, 500, ENOMEM, "out of memory");
                        goto out;
                }
                if (s->run == NULL) {
                        ret = create_run (cfg, s, err);
                        if (ret < 0)
                                goto out;
                }
                go.stdin_fd = stdin_fd;
                if (sink && sink->stdin_open) {
                        /* Live stdin: the program reads one end, the sink writes the other. */
                        int sv[2];

                        if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                                ret = ce_error_set (err, 500, errno, "socketpair: %s",
                                                    strerror (errno));
                                goto out;
                        }
                        close (stdin_fd);
                        stdin_fd = sv[0];
                        go.stdin_fd = stdin_fd;
                        sink->stdin_open (sink->arg, sv[1]); /* owned by the sink */
                }
                if (sink) {
                        go.tap = (struct sup_output_tap){ sink->output, sink->arg };
                        sink->stage_start (sink->arg, EXEC_STAGE_RUN);
                }
                ret = runner_start (cfg, s->run, &go, client_fd, &res->run, err);
                if (ret == 0) {
                        res->status = res->run.status;
                        if (sink)
                                sink->stage_end (sink->arg, EXEC_STAGE_RUN, &res->run);
                }
        }

out:
        /* The answer is ready: let the caller send it while we clean up (runc
         * delete costs about as much as starting a container).  From here on
         * plan, req, res and err are not ours. */
        if (ret < 0)
                execution_result_clear (res);
        if (done)
                done->fn (done->arg, ret);
        execution_discard (cfg, s);
        return ret;
}

#define PROBE_OUTPUT "codeengine-init: probe ok\n"

int
execution_probe (const struct runner_config *cfg, const struct ce_language *lang,
                 const struct ce_limits *limits, struct ce_error *err)
{
        char *argv[] = { (char *) CE_INIT_PATH, (char *) "--probe", NULL };
        struct runner_result res = { 0 };
        struct exec_slot *s = NULL;
        /* Only the run's container: the tree and the runtime are what it proves. */
        struct exec_plan plan = { .lang = lang, .run_limits = *limits };
        struct ce_language run_only = *lang;
        cleanup_close int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        int ret;

        if (devnull < 0)
                return ce_error_set (err, 500, errno, "/dev/null: %s", strerror (errno));
        run_only.compile.command = NULL;
        plan.lang = &run_only;
        ret = slot_prepare (cfg, &plan, NULL, true, &s, err);
        if (ret == 0)
                ret = runner_start (
                        cfg, s->run,
                        &(struct runner_go){ .argv = argv, .stdin_fd = devnull, .limits = limits },
                        -1, &res, err);
        if (ret == 0
            && (res.status != RUN_OK || res.out.stdout_buf.len != strlen (PROBE_OUTPUT)
                || memcmp (res.out.stdout_buf.data, PROBE_OUTPUT, strlen (PROBE_OUTPUT)) != 0))
                ret = ce_error_set (err, 500, EIO,
                                    "the probe container ran but its program did not: status %s, "
                                    "exit code %d, output '%.200s'",
                                    runner_status_name (res.status), res.exit_code,
                                    res.out.combined.data ? res.out.combined.data : "");
        runner_result_clear (&res);
        execution_discard (cfg, s);
        return ret;
}

int
execution_cleanup_stale (const struct runner_config *cfg, struct ce_error *err)
{
        struct dirent *de;
        DIR *d;
        int ret = runner_cleanup_stale (cfg, err);

        if (ret < 0)
                return ret;
        d = opendir (cfg->exec_dir);
        if (d == NULL)
                return ce_error_set (err, 500, errno, "%s: %s", cfg->exec_dir, strerror (errno));
        while ((de = readdir (d)) != NULL) {
                char build[4200];

                if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
                        continue;
                ce_log ("removing work dir %s left by an earlier run", de->d_name);
                snprintf (build, sizeof (build), "%s/%s/build", cfg->exec_dir, de->d_name);
                if (! cfg->rootless)
                        unmount_build (build);
                ce_remove_tree_at (cfg->exec_dirfd, de->d_name);
        }
        closedir (d);
        return 0;
}
