/*
 * slot.c - a prepared execution: its work dir and its stages' containers.
 *
 * The work dir is created 0700 with O_NOFOLLOW openat calls under the
 * server's exec dir; request file names were validated by request.c and
 * are still never followed through a link.  The compile container writes
 * only into /build: as root that is a tmpfs we mount with a size and an
 * inode limit (its pages are charged to the compile's memory cgroup), so a
 * hostile compile cannot fill the host's disk; rootless, it is a plain
 * directory bounded per file by RLIMIT_FSIZE (an unprivileged server cannot
 * mount).  The host never reads what a stage wrote: /build is only mounted
 * into the run container, then unmounted and removed without following
 * links.
 *
 * A request that asks for output_files gets WORK/work too, the run's cwd
 * and only writable place besides /tmp, bounded the same way (a tmpfs as
 * large as the run's /tmp when root, RLIMIT_FSIZE rootless) and holding
 * copies of the request's files owned by the container's user.  What the
 * program leaves there is read back by outfiles.c, as hostile as /build.
 */
#include "slot.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "oci_spec.h"
#include "treecopy.h"

#define BUILD_INODES 4096
/* The work dir holds what a run means to hand back (at most 1024 files are
 * ever collected) and copies of the request's files (at most 64): 4096,
 * as /tmp and /build have, leaves room for scratch files and bounds the
 * collector's walk in a dir the program filled to spite it. */
#define WORK_INODES 4096
#define CONTAINER_UID 65534
#define CONTAINER_GID 65534

int
slot_new_id (char buf[CE_EXEC_ID_SIZE])
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
write_code_file (int codefd, const char *name, const char *data, size_t len, uid_t uid, gid_t gid)
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
                else if (fchmod (next, 0755) < 0
                         || (uid != (uid_t) -1 && fchown (next, uid, gid) < 0)) {
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
        /* Only the work dir's copies, before any program saw the dir. */
        if (ret == 0 && uid != (uid_t) -1
            && fchownat (dirfd, part, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                ret = -errno;
        if (dirfd != codefd)
                close (dirfd);
        return ret;
}

/* One execution's work dir and the names under it, derived once. */
struct exec_dir {
        char id[CE_EXEC_ID_SIZE];
        char workdir[4096];
        char code_dir[4200];
        char build_dir[4200];
        char work_dir[4200];
        int wfd;   /* open on workdir; -1 before */
        bool made; /* workdir exists: ours to remove */
        bool mounted;
        bool work_made, work_mounted; /* WORK/work exists; is our tmpfs */
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
                ret = slot_new_id (d->id);
        if (ret < 0)
                return ce_fail (err, -ret, "getrandom: %s", strerror (-ret));
        snprintf (d->workdir, sizeof (d->workdir), "%s/%s", cfg->exec_dir, d->id);
        snprintf (d->code_dir, sizeof (d->code_dir), "%s/code", d->workdir);
        snprintf (d->build_dir, sizeof (d->build_dir), "%s/build", d->workdir);
        snprintf (d->work_dir, sizeof (d->work_dir), "%s/work", d->workdir);
        if (mkdirat (cfg->exec_dirfd, d->id, 0700) < 0)
                return ce_fail (err, errno, "cannot create work dir: %s", strerror (errno));
        d->made = true;
        d->wfd = openat (cfg->exec_dirfd, d->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d->wfd < 0 || mkdirat (d->wfd, "code", 0755) < 0)
                return ce_fail (err, errno, "cannot create work dir: %s", strerror (errno));
        *codefd = openat (d->wfd, "code", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*codefd < 0 || fchmod (*codefd, 0755) < 0)
                return ce_fail (err, errno, "cannot create code dir: %s", strerror (errno));
        return 0;
}

static void
unmount_dir (const char *path)
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
                unmount_dir (d->build_dir);
        if (d->work_mounted)
                unmount_dir (d->work_dir);
        if (d->made && ce_remove_tree_at (cfg->exec_dirfd, d->id) < 0)
                ce_log ("warning: cannot remove work dir %s", d->workdir);
        d->made = d->mounted = d->work_made = d->work_mounted = false;
}

static int
write_request (const struct exec_dir *d, int codefd, const struct ce_language *lang, bool rootless,
               const struct ce_request *req, int *stdin_fd, struct ce_error *err)
{
        int ret;

        for (size_t i = 0; i < req->nfiles; i++) {
                ret = write_code_file (codefd, plan_file_name (lang, req, i), req->files[i].data,
                                       req->files[i].len, (uid_t) -1, (gid_t) -1);
                if (ret < 0)
                        return ce_fail (err, -ret, "cannot write code: %s", strerror (-ret));
        }
        /* Copies in the work dir, so that relative reads keep working from
         * there: the container's user's, who may change or remove them. */
        if (d->work_made) {
                cleanup_close int workfd =
                        openat (d->wfd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                uid_t uid = rootless ? (uid_t) -1 : CONTAINER_UID;
                gid_t gid = rootless ? (gid_t) -1 : CONTAINER_GID;

                if (workfd < 0)
                        return ce_fail (err, errno, "cannot open the work dir: %s",
                                        strerror (errno));
                for (size_t i = 0; i < req->nfiles; i++) {
                        ret = write_code_file (workfd, plan_file_name (lang, req, i),
                                               req->files[i].data, req->files[i].len, uid, gid);
                        if (ret < 0)
                                return ce_fail (err, -ret, "cannot copy code into the work dir: %s",
                                                strerror (-ret));
                }
        }
        /* stdin is a file of ours, never seen inside but through fd 0. */
        if (req->stdin_data) {
                ret = ce_write_file_at (d->wfd, "stdin", req->stdin_data, req->stdin_len, 0600);
                if (ret < 0)
                        return ce_fail (err, -ret, "cannot write stdin: %s", strerror (-ret));
                *stdin_fd = openat (d->wfd, "stdin", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        } else {
                *stdin_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        if (*stdin_fd < 0)
                return ce_fail (err, errno, "cannot open stdin: %s", strerror (errno));
        return 0;
}

/* WORK/name (host path `path`, made), a dir a stage writes: as root a tmpfs of
 * `bytes` and `inodes` that only the container's user may write (*mounted
 * set: ours to unmount); rootless a plain directory (root inside is us),
 * each file bounded by the stage's RLIMIT_FSIZE. */
static int
make_stage_dir (const struct runner_config *cfg, const char *name, const char *path, int64_t bytes,
                int inodes, bool *mounted, struct ce_error *err)
{
        char opts[128];

        if (cfg->rootless)
                return 0;
        snprintf (opts, sizeof (opts), "size=%" PRId64 ",nr_inodes=%d,mode=0755,uid=%d,gid=%d",
                  bytes, inodes, CONTAINER_UID, CONTAINER_GID);
        if (mount ("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                return ce_fail (err, errno, "cannot mount the %s dir: %s", name, strerror (errno));
        *mounted = true;
        return 0;
}

/* WORK/build, the compile's output: cfg->build_bytes. */
static int
make_build_dir (const struct runner_config *cfg, struct exec_dir *d, struct ce_error *err)
{
        if (mkdirat (d->wfd, "build", 0755) < 0)
                return ce_fail (err, errno, "cannot create build dir: %s", strerror (errno));
        return make_stage_dir (cfg, "build", d->build_dir, cfg->build_bytes, BUILD_INODES,
                               &d->mounted, err);
}

/* WORK/work, the run's writable cwd: as large as the run's /tmp. */
static int
make_work_dir (const struct runner_config *cfg, struct exec_dir *d, struct ce_error *err)
{
        if (mkdirat (d->wfd, "work", 0755) < 0)
                return ce_fail (err, errno, "cannot create the work dir: %s", strerror (errno));
        d->work_made = true;
        return make_stage_dir (cfg, "work", d->work_dir, cfg->tmp_bytes, WORK_INODES,
                               &d->work_mounted, err);
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
        bool rootless; /* cfg's, for the work dir's copies */
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

/* A run container of s's: its id, its bundle dir's name. */
static int
create_run (const struct runner_config *cfg, const struct exec_slot *s, const char *id,
            const char *name, struct runner_container **out, struct ce_error *err)
{
        struct runner_stage stage = stage_in (&s->d, s->lang, id, name);

        stage.env = s->lang->run.env;
        stage.build_dir = s->lang->compile.command ? s->d.build_dir : NULL;
        if (s->d.work_made) {
                stage.work_dir = s->d.work_dir;
                stage.cwd = CE_WORK_DIR;
        }
        stage.limits = &s->run_limits;
        stage.tmp_bytes = stage.fsize_bytes = cfg->tmp_bytes;
        return runner_create (cfg, &stage, out, err);
}

int
slot_create_run (const struct runner_config *cfg, struct exec_slot *s, struct ce_error *err)
{
        return create_run (cfg, s, s->d.id, "run", &s->run, err);
}

int
slot_create_test_run (const struct runner_config *cfg, const struct exec_slot *s, size_t index,
                      struct runner_container **out, struct ce_error *err)
{
        char id[48], name[32];

        snprintf (id, sizeof (id), "%s-t%zu", s->d.id, index);
        snprintf (name, sizeof (name), "run-%zu", index);
        return create_run (cfg, s, id, name, out, err);
}

int
slot_open_stdin (struct exec_slot *s, size_t index, const char *data, size_t len, int *fd,
                 struct ce_error *err)
{
        char name[32];
        int ret;

        *fd = -1;
        if (data == NULL) {
                *fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
                if (*fd < 0)
                        return ce_fail (err, errno, "cannot open /dev/null: %s", strerror (errno));
                return 0;
        }
        /* A file of ours, never seen inside but through fd 0. */
        snprintf (name, sizeof (name), "stdin-%zu", index);
        ret = ce_write_file_at (s->d.wfd, name, data, len, 0600);
        if (ret < 0)
                return ce_fail (err, -ret, "cannot write stdin: %s", strerror (-ret));
        *fd = openat (s->d.wfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd < 0)
                return ce_fail (err, errno, "cannot open stdin: %s", strerror (errno));
        return 0;
}

int
slot_prepare (const struct runner_config *cfg, const struct exec_plan *plan, const char *id,
              enum slot_make make, struct exec_slot **out, struct ce_error *err)
{
        struct exec_slot *s = calloc (1, sizeof (*s));
        bool compiles = plan->lang->compile.command != NULL;
        int ret;

        *out = NULL;
        if (s == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        s->codefd = -1;
        s->rootless = cfg->rootless;
        s->lang = plan->lang;
        s->compile_limits = plan->compile_limits;
        s->run_limits = plan->run_limits;
        ret = exec_dir_create (cfg, id, &s->d, &s->codefd, err);
        if (ret < 0)
                goto fail;
        snprintf (s->compile_id, sizeof (s->compile_id), "%s-compile", s->d.id);
        if (plan->work_dir)
                ret = make_work_dir (cfg, &s->d, err);
        if (ret < 0)
                goto fail;
        if (compiles && make == SLOT_PREBUILT)
                ret = make_build_dir (cfg, &s->d, err);
        else if (compiles)
                ret = create_compile (cfg, s, err);
        if (ret == 0 && (make != SLOT_FIRST || ! compiles))
                ret = slot_create_run (cfg, s, err);
        if (ret < 0)
                goto fail;
        *out = s;
        return 0;
fail:
        slot_discard (cfg, s);
        return ret;
}

void
slot_discard (const struct runner_config *cfg, struct exec_slot *s)
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
slot_fits (const struct runner_config *cfg, const struct exec_slot *s, const struct exec_plan *plan)
{
        bool updatable = runner_can_update (cfg);

        if (s->lang != plan->lang || ! limits_fit (&s->run_limits, &plan->run_limits, updatable))
                return false;
        /* Warm slots are made without a work dir, and one cannot be added
         * to a container that waits: output_files takes the cold path. */
        if (s->d.work_made != plan->work_dir)
                return false;
        /* The compile's /tmp is as large as its memory limit was. */
        return s->lang->compile.command == NULL
               || (limits_fit (&s->compile_limits, &plan->compile_limits, updatable)
                   && plan->compile_limits.memory_mb <= s->compile_limits.memory_mb);
}

int
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
slot_alive (const struct exec_slot *s)
{
        return (s->compile == NULL || runner_alive (s->compile))
               && (s->run == NULL || runner_alive (s->run));
}

void
slot_describe (const struct exec_slot *s, struct exec_slot_info *info)
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

int
slot_write_request (struct exec_slot *s, const struct ce_request *req, int *stdin_fd,
                    struct ce_error *err)
{
        return write_request (&s->d, s->codefd, s->lang, s->rootless, req, stdin_fd, err);
}

int
slot_open_work (struct exec_slot *s, struct ce_error *err)
{
        int fd;

        if (! s->d.work_made)
                return ce_fail (err, ENOENT, "the execution has no work dir");
        fd = openat (s->d.wfd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return ce_fail (err, errno, "cannot open the work dir: %s", strerror (errno));
        return fd;
}

int
slot_open_build (struct exec_slot *s, struct ce_error *err)
{
        int fd = openat (s->d.wfd, "build", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return ce_fail (err, errno, "cannot open the build dir: %s", strerror (errno));
        return fd;
}

int
slot_copy_build (const struct runner_config *cfg, struct exec_slot *from, struct exec_slot *to,
                 int64_t max_bytes, struct ce_error *err)
{
        cleanup_close int src = slot_open_build (from, err);
        cleanup_close int dst = -1;
        int64_t bytes;
        int ret;

        if (src < 0)
                return src;
        dst = slot_open_build (to, err);
        if (dst < 0)
                return dst;
        ret = tree_copy (src, dst, max_bytes < cfg->build_bytes ? max_bytes : cfg->build_bytes,
                         BUILD_INODES, &bytes);
        if (ret < 0)
                return ce_fail (err, -ret, "copying the build: %s", strerror (-ret));
        return 0;
}

const char *
slot_id (const struct exec_slot *s)
{
        return s->d.id;
}

struct runner_container *
slot_container (const struct exec_slot *s, bool compile)
{
        return compile ? s->compile : s->run;
}

int
slot_cleanup_stale (const struct runner_config *cfg, struct ce_error *err)
{
        struct dirent *de;
        DIR *d = opendir (cfg->exec_dir);

        if (d == NULL)
                return ce_fail (err, errno, "%s: %s", cfg->exec_dir, strerror (errno));
        while ((de = readdir (d)) != NULL) {
                char build[4200], work[4200];

                if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
                        continue;
                ce_log ("removing work dir %s left by an earlier run", de->d_name);
                snprintf (build, sizeof (build), "%s/%s/build", cfg->exec_dir, de->d_name);
                snprintf (work, sizeof (work), "%s/%s/work", cfg->exec_dir, de->d_name);
                if (! cfg->rootless) {
                        unmount_dir (build);
                        unmount_dir (work);
                }
                ce_remove_tree_at (cfg->exec_dirfd, de->d_name);
        }
        closedir (d);
        return 0;
}
