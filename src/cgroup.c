/*
 * cgroup.c - locate cgroup hierarchies and read a container's counters.
 *
 * Only paths built from our own container ids are read, and only files the
 * kernel provides: the container cannot plant anything here.
 */
#include "cgroup.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

static char memory_root[512]; /* v1 memory controller mount, or the v2 root */
static char cpuacct_root[512];
static bool unified;

bool
cgroup_has_option (const char *opts, const char *want)
{
        size_t n = strlen (want);

        for (const char *p = opts; p && *p;) {
                const char *end = strchr (p, ',');
                size_t len = end ? (size_t) (end - p) : strlen (p);

                if (len == n && strncmp (p, want, n) == 0)
                        return true;
                p = end ? end + 1 : NULL;
        }
        return false;
}

int
cgroup_init (void)
{
        cleanup_fclose FILE *f = fopen ("/proc/self/mountinfo", "re");
        char line[4096];

        if (f == NULL)
                return -errno;
        while (fgets (line, sizeof (line), f)) {
                char mnt[512], fstype[64], super[1024];
                const char *dash = strstr (line, " - ");

                /* mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPER */
                if (dash == NULL || sscanf (line, "%*s %*s %*s %*s %511s", mnt) != 1
                    || sscanf (dash + 3, "%63s %*s %1023s", fstype, super) != 2)
                        continue;
                if (strcmp (fstype, "cgroup2") == 0 && memory_root[0] == '\0') {
                        snprintf (memory_root, sizeof (memory_root), "%s", mnt);
                        snprintf (cpuacct_root, sizeof (cpuacct_root), "%s", mnt);
                        unified = true;
                } else if (strcmp (fstype, "cgroup") == 0) {
                        if (cgroup_has_option (super, "memory")) {
                                snprintf (memory_root, sizeof (memory_root), "%s", mnt);
                                unified = false;
                        }
                        if (cgroup_has_option (super, "cpuacct"))
                                snprintf (cpuacct_root, sizeof (cpuacct_root), "%s", mnt);
                }
        }
        return memory_root[0] ? 0 : -ENOENT;
}

static int read_small (const char *root, const char *path, const char *file, char *buf,
                       size_t size);

bool
cgroup_has_word (const char *text, const char *word)
{
        size_t n = strlen (word);

        for (const char *p = strstr (text, word); p; p = strstr (p + 1, word))
                if ((p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

bool
cgroup_user_delegation (unsigned uid, bool *cpu)
{
        char path[256], controllers[512], bus[PATH_MAX];
        const char *xdg = getenv ("XDG_RUNTIME_DIR");

        *cpu = false;
        if (! unified)
                return false;
        snprintf (path, sizeof (path), "/user.slice/user-%u.slice/user@%u.service", uid, uid);
        if (read_small (memory_root, path, "cgroup.controllers", controllers, sizeof (controllers))
                    < 0
            || ! cgroup_has_word (controllers, "memory") || ! cgroup_has_word (controllers, "pids"))
                return false;
        /* runc's systemd driver reaches the user's manager over the session bus. */
        snprintf (bus, sizeof (bus), "%s/bus", xdg ? xdg : "/nonexistent");
        if (getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL && access (bus, F_OK) < 0)
                return false;
        *cpu = cgroup_has_word (controllers, "cpu");
        return true;
}

const char *
cgroup_mode (void)
{
        if (memory_root[0] == '\0')
                return "none";
        return unified ? "v2" : "v1";
}

static int
read_small (const char *root, const char *path, const char *file, char *buf, size_t size)
{
        char full[1024];

        if (root[0] == '\0')
                return -ENOENT;
        snprintf (full, sizeof (full), "%s%s/%s", root, path, file);
        return ce_read_text_at (AT_FDCWD, full, buf, size);
}

int64_t
cgroup_keyed_value (const char *text, const char *key)
{
        size_t n = strlen (key);

        for (const char *p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp (p, key, n) == 0 && p[n] == ' ')
                        return strtoll (p + n + 1, NULL, 10);
        return -1;
}

void
cgroup_read_stats (const char *path, struct cgroup_stats *out)
{
        char buf[4096];

        out->oom_kills = out->memory_peak = out->cpu_ns = -1;
        if (unified) {
                if (read_small (memory_root, path, "memory.events", buf, sizeof (buf)) == 0)
                        out->oom_kills = cgroup_keyed_value (buf, "oom_kill");
                if (read_small (memory_root, path, "memory.peak", buf, sizeof (buf)) == 0)
                        out->memory_peak = strtoll (buf, NULL, 10);
                if (read_small (memory_root, path, "cpu.stat", buf, sizeof (buf)) == 0) {
                        int64_t us = cgroup_keyed_value (buf, "usage_usec");

                        out->cpu_ns = us < 0 ? -1 : us * 1000;
                }
                return;
        }
        if (read_small (memory_root, path, "memory.oom_control", buf, sizeof (buf)) == 0)
                out->oom_kills = cgroup_keyed_value (buf, "oom_kill");
        if (read_small (memory_root, path, "memory.max_usage_in_bytes", buf, sizeof (buf)) == 0)
                out->memory_peak = strtoll (buf, NULL, 10);
        if (read_small (cpuacct_root, path, "cpuacct.usage", buf, sizeof (buf)) == 0)
                out->cpu_ns = strtoll (buf, NULL, 10);
}

void
cgroup_reset_peak (const char *path)
{
        char full[1024];
        cleanup_close int fd = -1;

        /* v2's memory.peak can only be reset per open fd (Linux 6.12+): left as is. */
        if (unified || memory_root[0] == '\0')
                return;
        snprintf (full, sizeof (full), "%s%s/memory.max_usage_in_bytes", memory_root, path);
        fd = open (full, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 && write (fd, "0", 1) < 0)
                ce_log ("warning: cannot reset %s: %s", full, strerror (errno));
}

/* Every cgroup hierarchy's mount point (v1: one per controller set; v2:
 * the unified tree), each passed to fn.  For start-up only. */
static void
each_hierarchy (void (*fn) (const char *mnt, void *arg), void *arg)
{
        cleanup_fclose FILE *f = fopen ("/proc/self/mountinfo", "re");
        char line[4096];

        if (f == NULL)
                return;
        while (fgets (line, sizeof (line), f)) {
                char mnt[512], fstype[64];
                const char *dash = strstr (line, " - ");

                if (dash == NULL || sscanf (line, "%*s %*s %*s %*s %511s", mnt) != 1
                    || sscanf (dash + 3, "%63s", fstype) != 1)
                        continue;
                if (strcmp (fstype, "cgroup") == 0 || strcmp (fstype, "cgroup2") == 0)
                        fn (mnt, arg);
        }
}

struct stale_scan {
        const char *parent;
        bool (*ours) (const char *name);
        time_t older_than; /* wall clock */
        size_t removed;
};

static void
remove_stale_in (const char *mnt, void *arg)
{
        struct stale_scan *scan = arg;
        char path[PATH_MAX];
        cleanup_closedir DIR *d = NULL;
        struct dirent *e;
        int dfd;

        if (snprintf (path, sizeof (path), "%s/%s", mnt, scan->parent) >= (int) sizeof (path))
                return;
        d = opendir (path);
        if (d == NULL)
                return;
        dfd = dirfd (d);
        while ((e = readdir (d)) != NULL) {
                struct stat st;

                if (! scan->ours (e->d_name)
                    || fstatat (dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
                    || ! S_ISDIR (st.st_mode) || st.st_mtime > scan->older_than)
                        continue;
                /* The kernel refuses to remove a cgroup that has a process or
                 * a child (EBUSY, ENOTEMPTY): only an unused one goes. */
                if (unlinkat (dfd, e->d_name, AT_REMOVEDIR) == 0) {
                        ce_log ("removed the empty cgroup %s/%s left by an earlier run", path,
                                e->d_name);
                        scan->removed++;
                }
        }
}

size_t
cgroup_remove_stale (const char *parent, bool (*ours) (const char *name), int min_age_s)
{
        struct stale_scan scan = { parent, ours, time (NULL) - min_age_s, 0 };

        each_hierarchy (remove_stale_in, &scan);
        return scan.removed;
}
