/*
 * oci_spec.c - config.json for one execution, built with yajl_gen.
 *
 * The container is what the seed service promised and a little more: a
 * read-only root shared by all executions of a language, the code on a
 * read-only bind mount, a small private /tmp, every namespace but the user
 * one (an empty network namespace means no interface but lo), memory and
 * memory+swap limits, a CPU quota, a pids limit, no capabilities and
 * no_new_privs, a seccomp allowlist (src/seccomp.json, compiled in) and
 * rlimits.  The program runs under codeengine-init, bind-mounted from the
 * host, which reports the program's exact wait status over fd 3.
 */
#include "oci_spec.h"

#include <fcntl.h>
#include <inttypes.h>

#include "jsongen.h"

static const char *const masked_paths[] = {
        "/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
        "/proc/scsi",          "/proc/interrupts", "/sys/firmware",
};

static const char *const readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static const char *const namespaces[] = { "pid", "network", "ipc", "uts", "mount", "cgroup" };

static const char *const default_env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/tmp",
        "LANG=C.UTF-8",
};

struct mount_def {
        const char *destination;
        const char *type;
        const char *source;
        const char *options[8];
};

static yajl_gen_status
gen_mount (yajl_gen g, const struct mount_def *m)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("destination", m->destination);
        GEN_KV_STR ("type", m->type);
        GEN_KV_STR ("source", m->source);
        GEN_STR ("options");
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; m->options[i]; i++)
                GEN_STR (m->options[i]);
        GEN (yajl_gen_array_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_strv (yajl_gen g, const char *key, const char *const *v, size_t n)
{
        yajl_gen_status st;

        GEN_STR (key);
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < n; i++)
                GEN_STR (v[i]);
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

/* Emit a parsed JSON value as it is (the seccomp profile). */
static yajl_gen_status
gen_tree (yajl_gen g, yajl_val v, int depth)
{
        yajl_gen_status st = yajl_gen_status_ok;

        if (depth > 16)
                return yajl_gen_invalid_number; /* any non-ok status: not our profile */
        if (YAJL_IS_STRING (v)) {
                GEN_STR (v->u.string);
        } else if (YAJL_IS_NUMBER (v)) {
                GEN (yajl_gen_number (g, v->u.number.r, strlen (v->u.number.r)));
        } else if (YAJL_IS_OBJECT (v)) {
                GEN (yajl_gen_map_open (g));
                for (size_t i = 0; i < v->u.object.len; i++) {
                        GEN_STR (v->u.object.keys[i]);
                        GEN (gen_tree (g, v->u.object.values[i], depth + 1));
                }
                GEN (yajl_gen_map_close (g));
        } else if (YAJL_IS_ARRAY (v)) {
                GEN (yajl_gen_array_open (g));
                for (size_t i = 0; i < v->u.array.len; i++)
                        GEN (gen_tree (g, v->u.array.values[i], depth + 1));
                GEN (yajl_gen_array_close (g));
        } else if (YAJL_IS_TRUE (v) || YAJL_IS_FALSE (v)) {
                GEN (yajl_gen_bool (g, YAJL_IS_TRUE (v)));
        } else {
                GEN (yajl_gen_null (g));
        }
fail:
        return st;
}

int
spec_load_seccomp (const char *text, size_t len, yajl_val *out, struct ce_error *err)
{
        const char *default_path[] = { "defaultAction", NULL };
        const char *arch_path[] = { "architectures", NULL };
        const char *syscalls_path[] = { "syscalls", NULL };
        char errbuf[256];
        cleanup_free char *copy = strndup (text, len);
        yajl_val v;

        if (copy == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        v = yajl_tree_parse (copy, errbuf, sizeof (errbuf));
        if (v == NULL)
                return ce_fail (err, EINVAL, "seccomp profile: %s", errbuf);
        if (! YAJL_IS_OBJECT (v) || ! yajl_tree_get (v, default_path, yajl_t_string)
            || ! yajl_tree_get (v, arch_path, yajl_t_array)
            || ! yajl_tree_get (v, syscalls_path, yajl_t_array)) {
                yajl_tree_free (v);
                return ce_fail (err, EINVAL,
                                "seccomp profile: needs defaultAction, architectures and "
                                "syscalls");
        }
        *out = v;
        return 0;
}

static yajl_gen_status
gen_rlimit (yajl_gen g, const char *type, uint64_t value)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", type);
        GEN_KV_INT ("hard", value);
        GEN_KV_INT ("soft", value);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_process (yajl_gen g, const struct spec_params *p)
{
        static const char *const cap_sets[] = { "bounding", "effective", "inheritable", "permitted",
                                                "ambient" };
        yajl_gen_status st;

        GEN_STR ("process");
        GEN (yajl_gen_map_open (g));
        GEN_KV_BOOL ("terminal", 0);
        GEN_STR ("user");
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("uid", p->uid);
        GEN_KV_INT ("gid", p->gid);
        GEN (yajl_gen_map_close (g));

        GEN_STR ("args");
        GEN (yajl_gen_array_open (g));
        GEN_STR (CE_INIT_PATH);
        if (p->cgroups_path == NULL) {
                char as[32];

                /* No memory cgroup: init bounds the program's address space. */
                snprintf (as, sizeof (as), "%" PRId64, p->memory_bytes);
                GEN_STR ("--as");
                GEN_STR (as);
        }
        if (p->seccomp_fd > 0) {
                char fd[16];

                snprintf (fd, sizeof (fd), "%d", p->seccomp_fd);
                GEN_STR ("--seccomp-fd");
                GEN_STR (fd);
        }
        /* The program's argv comes later, in init's go message (init_report.h):
         * the same config serves a container created before its request. */
        GEN (yajl_gen_array_close (g));

        GEN_STR ("env");
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < sizeof (default_env) / sizeof (*default_env); i++)
                GEN_STR (default_env[i]);
        for (char *const *e = p->env; e && *e; e++)
                GEN_STR (*e);
        GEN (yajl_gen_array_close (g));

        GEN_KV_STR ("cwd", p->cwd ? p->cwd : CE_CODE_DIR);

        /* No capability in any set: the program is an ordinary user. */
        GEN_STR ("capabilities");
        GEN (yajl_gen_map_open (g));
        for (size_t i = 0; i < sizeof (cap_sets) / sizeof (*cap_sets); i++) {
                GEN_STR (cap_sets[i]);
                GEN (yajl_gen_array_open (g));
                GEN (yajl_gen_array_close (g));
        }
        GEN (yajl_gen_map_close (g));

        GEN_STR ("rlimits");
        GEN (yajl_gen_array_open (g));
        GEN (gen_rlimit (g, "RLIMIT_NOFILE", 1024));
        GEN (gen_rlimit (g, "RLIMIT_CORE", 0));
        GEN (gen_rlimit (g, "RLIMIT_MEMLOCK", 0));
        GEN (gen_rlimit (g, "RLIMIT_FSIZE", (uint64_t) p->fsize_bytes));
        GEN (gen_rlimit (g, "RLIMIT_CPU", (uint64_t) p->cpu_seconds));
        if (p->cgroups_path == NULL && p->rootless) {
                /* No cgroup (rootless on cgroup v1, or no delegation): what rlimits
                 * can still enforce.  NPROC counts per user namespace since 5.14, so
                 * it is this container's alone; without a user namespace it would
                 * count every container's uid 65534 together, so root without a
                 * pids cgroup gets none. */
                GEN (gen_rlimit (g, "RLIMIT_NPROC", (uint64_t) p->pids_limit));
        }
        GEN (yajl_gen_array_close (g));

        GEN_KV_BOOL ("noNewPrivileges", 1);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_mounts (yajl_gen g, const struct spec_params *p)
{
        char tmp_opts[64];
        const struct mount_def mounts[] = {
                { "/proc", "proc", "proc", { "nosuid", "noexec", "nodev", NULL } },
                { "/dev",
                  "tmpfs",
                  "tmpfs",
                  { "nosuid", "strictatime", "mode=755", "size=65536k", NULL } },
                { "/dev/pts",
                  "devpts",
                  "devpts",
                  { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL } },
                { "/dev/shm",
                  "tmpfs",
                  "shm",
                  { "nosuid", "noexec", "nodev", "mode=1777", "size=16m", "nr_inodes=1024",
                    NULL } },
                { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev", NULL } },
                { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro", NULL } },
                { "/tmp",
                  "tmpfs",
                  "tmpfs",
                  { "nosuid", "nodev", "mode=1777", tmp_opts, "nr_inodes=4096", NULL } },
                { CE_CODE_DIR, "bind", p->code_dir, { "rbind", "ro", "nosuid", "nodev", NULL } },
                { CE_INIT_PATH, "bind", p->init_path, { "bind", "ro", "nosuid", "nodev", NULL } },
                /* Last, and only when there is one (source NULL: none): what the
                 * compile stage made, then the run's writable work dir. */
                { CE_BUILD_DIR,
                  "bind",
                  p->build_dir,
                  { "rbind", p->build_writable ? "rw" : "ro", "nosuid", "nodev", NULL } },
                { CE_WORK_DIR, "bind", p->work_dir, { "rbind", "rw", "nosuid", "nodev", NULL } },
        };
        size_t nmounts = sizeof (mounts) / sizeof (*mounts);
        yajl_gen_status st;

        snprintf (tmp_opts, sizeof (tmp_opts), "size=%" PRId64, p->tmp_bytes);
        GEN_STR ("mounts");
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < nmounts; i++)
                if (mounts[i].source != NULL)
                        GEN (gen_mount (g, &mounts[i]));
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

/* The cgroup: where it is and what it limits. */
static yajl_gen_status
gen_resources (yajl_gen g, const struct spec_params *p)
{
        yajl_gen_status st;

        GEN_KV_STR ("cgroupsPath", p->cgroups_path);
        GEN_STR ("resources");
        GEN (yajl_gen_map_open (g));
        /* Rootless (a delegated v2 scope), the device controller is not ours to
         * program, and a user namespace cannot create device nodes anyway. */
        if (! p->rootless) {
                GEN_STR ("devices");
                GEN (yajl_gen_array_open (g));
                GEN (yajl_gen_map_open (g));
                GEN_KV_BOOL ("allow", 0);
                GEN_KV_STR ("access", "rwm");
                GEN (yajl_gen_map_close (g));
                GEN (yajl_gen_array_close (g));
        }
        GEN_STR ("memory");
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("limit", p->memory_bytes);
        GEN_KV_INT ("swap", p->memory_bytes);
        GEN (yajl_gen_map_close (g));
        if (! p->no_cpu_limit) {
                GEN_STR ("cpu");
                GEN (yajl_gen_map_open (g));
                GEN_KV_INT ("quota", p->cpu_quota_us);
                GEN_KV_INT ("period", p->cpu_period_us);
                GEN (yajl_gen_map_close (g));
        }
        GEN_STR ("pids");
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("limit", p->pids_limit);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* Root inside is the invoking user outside, and nobody else is mapped. */
static yajl_gen_status
gen_id_mapping (yajl_gen g, const char *key, uint32_t host_id)
{
        yajl_gen_status st;

        GEN_STR (key);
        GEN (yajl_gen_array_open (g));
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("containerID", 0);
        GEN_KV_INT ("hostID", host_id);
        GEN_KV_INT ("size", 1);
        GEN (yajl_gen_map_close (g));
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_linux (yajl_gen g, const struct spec_params *p)
{
        yajl_gen_status st;

        GEN_STR ("linux");
        GEN (yajl_gen_map_open (g));
        GEN_STR ("namespaces");
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < sizeof (namespaces) / sizeof (*namespaces); i++) {
                GEN (yajl_gen_map_open (g));
                GEN_KV_STR ("type", namespaces[i]);
                GEN (yajl_gen_map_close (g));
        }
        if (p->rootless) {
                GEN (yajl_gen_map_open (g));
                GEN_KV_STR ("type", "user");
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
        if (p->rootless) {
                GEN (gen_id_mapping (g, "uidMappings", p->host_uid));
                GEN (gen_id_mapping (g, "gidMappings", p->host_gid));
        }

        if (p->cgroups_path)
                GEN (gen_resources (g, p));

        if (p->seccomp) {
                GEN_STR ("seccomp");
                GEN (gen_tree (g, p->seccomp, 0));
        }
        GEN (gen_strv (g, "maskedPaths", masked_paths,
                       sizeof (masked_paths) / sizeof (*masked_paths)));
        GEN (gen_strv (g, "readonlyPaths", readonly_paths,
                       sizeof (readonly_paths) / sizeof (*readonly_paths)));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

int
spec_generate (const struct spec_params *p, char **json, size_t *len, struct ce_error *err)
{
        yajl_gen g = yajl_gen_alloc (NULL);
        yajl_gen_status st;
        const unsigned char *buf;
        size_t n;

        if (g == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        yajl_gen_config (g, yajl_gen_beautify, 1);
        yajl_gen_config (g, yajl_gen_indent_string, "  ");
        yajl_gen_config (g, yajl_gen_validate_utf8, 1);

        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("ociVersion", "1.0.2");
        GEN (gen_process (g, p));
        GEN_STR ("root");
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("path", p->rootfs);
        GEN_KV_BOOL ("readonly", 1);
        GEN (yajl_gen_map_close (g));
        GEN_KV_STR ("hostname", p->hostname);
        GEN (gen_mounts (g, p));
        GEN (gen_linux (g, p));
        GEN (yajl_gen_map_close (g));

        GEN (yajl_gen_get_buf (g, &buf, &n));
        *json = malloc (n + 1);
        if (*json == NULL) {
                yajl_gen_free (g);
                return ce_fail (err, ENOMEM, "out of memory");
        }
        memcpy (*json, buf, n);
        (*json)[n] = '\0';
        *len = n;
        yajl_gen_free (g);
        return 0;

fail:
        yajl_gen_free (g);
        return ce_fail (err, EINVAL, "cannot generate config.json (yajl_gen status %d)", (int) st);
}

int
spec_write (int dirfd, const struct spec_params *p, struct ce_error *err)
{
        cleanup_free char *json = NULL;
        cleanup_close int fd = -1;
        size_t len;
        int ret;

        ret = spec_generate (p, &json, &len, err);
        if (ret < 0)
                return ret;
        fd = openat (dirfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0600);
        if (fd < 0)
                return ce_fail (err, errno, "cannot create config.json: %s", strerror (errno));
        ret = ce_write_all (fd, json, len);
        if (ret < 0)
                return ce_fail (err, -ret, "cannot write config.json: %s", strerror (-ret));
        return 0;
}
