/* Unit tests for oci_spec.c: the generated config.json equals the reviewed
 * golden file, parses back, and carries every limit it was given.
 * CE_UPDATE_GOLDEN=1 rewrites the golden file (review the diff!). */
#include <fcntl.h>
#include <yajl/yajl_tree.h>

#include "oci_spec.h"
#include "test.h"

#define GOLDEN CE_SOURCE_DIR "/tests/golden/config-python3.json"
#define GOLDEN_ROOTLESS CE_SOURCE_DIR "/tests/golden/config-python3-rootless.json"
#define GOLDEN_COMPILE CE_SOURCE_DIR "/tests/golden/config-c-compile.json"

static char *
slurp (const char *path)
{
        FILE *f = fopen (path, "re");
        char *buf;
        long n;

        if (f == NULL)
                return NULL;
        fseek (f, 0, SEEK_END);
        n = ftell (f);
        rewind (f);
        buf = calloc (1, (size_t) n + 1);
        if (fread (buf, 1, (size_t) n, f) != (size_t) n) {
                free (buf);
                buf = NULL;
        }
        fclose (f);
        return buf;
}

/* Compare generated JSON with a golden file (rewrite it with CE_UPDATE_GOLDEN=1). */
static void
check_golden (const char *path, const char *json, size_t len)
{
        char *golden;

        if (getenv ("CE_UPDATE_GOLDEN")) {
                FILE *f = fopen (path, "we");

                CHECK (f && fwrite (json, 1, len, f) == len);
                if (f)
                        fclose (f);
        }
        golden = slurp (path);
        CHECK (golden != NULL);
        if (golden && strcmp (golden, json) != 0) {
                fprintf (stderr, "config.json differs from %s; generated:\n%s\n", path, json);
                test_failures++;
        }
        free (golden);
}

static long long
get_int (yajl_val root, const char **path)
{
        yajl_val v = yajl_tree_get (root, path, yajl_t_number);

        return v ? YAJL_GET_INTEGER (v) : -1;
}

static const char *
str_or_empty (yajl_val v)
{
        const char *s = YAJL_GET_STRING (v);

        return s ? s : "";
}

int
main (void)
{
        char *env[] = { "PYTHONUNBUFFERED=1", NULL };
        struct spec_params p = {
                .rootfs = "/srv/codeengine/bundles/python3/rootfs",
                .env = env,
                .cwd = CE_CODE_DIR,
                .code_dir = "/run/codeengine/exec/ce-0123456789abcdef/code",
                .init_path = "/usr/lib/codeengine/codeengine-init",
                .cgroups_path = "/codeengine/ce-0123456789abcdef",
                .hostname = "codeengine",
                .memory_bytes = 50 * 1024 * 1024,
                .cpu_quota_us = 50000,
                .cpu_period_us = 100000,
                .pids_limit = 64,
                .tmp_bytes = 32 * 1024 * 1024,
                .fsize_bytes = 32 * 1024 * 1024,
                .uid = 65534,
                .gid = 65534,
                .cpu_seconds = 31,
        };
        struct ce_error err;
        char *json = NULL;
        size_t len;
        yajl_val root;
        char errbuf[256];

        CHECK (spec_load_seccomp (ce_seccomp_profile, ce_seccomp_profile_len, &p.seccomp, &err)
               == 0);
        CHECK (spec_generate (&p, &json, &len, &err) == 0);
        check_golden (GOLDEN, json, len);

        root = yajl_tree_parse (json, errbuf, sizeof (errbuf));
        CHECK (root != NULL);
        {
                const char *mem[] = { "linux", "resources", "memory", "limit", NULL };
                const char *swap[] = { "linux", "resources", "memory", "swap", NULL };
                const char *quota[] = { "linux", "resources", "cpu", "quota", NULL };
                const char *period[] = { "linux", "resources", "cpu", "period", NULL };
                const char *pids[] = { "linux", "resources", "pids", "limit", NULL };
                const char *uid[] = { "process", "user", "uid", NULL };
                const char *nnp[] = { "process", "noNewPrivileges", NULL };
                const char *ro[] = { "root", "readonly", NULL };
                const char *ns[] = { "linux", "namespaces", NULL };
                yajl_val v;
                bool has_net = false;

                CHECK (get_int (root, mem) == 50 * 1024 * 1024);
                CHECK (get_int (root, swap) == 50 * 1024 * 1024);
                CHECK (get_int (root, quota) == 50000);
                CHECK (get_int (root, period) == 100000);
                CHECK (get_int (root, pids) == 64);
                CHECK (get_int (root, uid) == 65534);
                CHECK (YAJL_IS_TRUE (yajl_tree_get (root, nnp, yajl_t_any)));
                CHECK (YAJL_IS_TRUE (yajl_tree_get (root, ro, yajl_t_any)));
                v = yajl_tree_get (root, ns, yajl_t_array);
                for (size_t i = 0; v && i < v->u.array.len; i++) {
                        const char *type[] = { "type", NULL };
                        yajl_val t = yajl_tree_get (v->u.array.values[i], type, yajl_t_string);

                        const char *ts = YAJL_GET_STRING (t);

                        if (ts && strcmp (ts, "network") == 0)
                                has_net = true;
                }
                CHECK (has_net);
                {
                        const char *def[] = { "linux", "seccomp", "defaultAction", NULL };
                        const char *rl[] = { "process", "rlimits", NULL };
                        const char *caps[] = { "process", "capabilities", "bounding", NULL };
                        yajl_val d = yajl_tree_get (root, def, yajl_t_string);
                        yajl_val r = yajl_tree_get (root, rl, yajl_t_array);
                        yajl_val c = yajl_tree_get (root, caps, yajl_t_array);

                        const char *ds = YAJL_GET_STRING (d);

                        CHECK (ds && strcmp (ds, "SCMP_ACT_ERRNO") == 0);
                        CHECK (r && r->u.array.len == 5);
                        CHECK (c && c->u.array.len == 0);
                }
        }
        yajl_tree_free (root);

        /* Rootless without a cgroup: a user namespace mapping us to root, no
         * resources, init bounds the address space, RLIMIT_NPROC. */
        {
                struct spec_params rl = p;
                char *rjson = NULL;
                size_t rlen;

                rl.rootless = true;
                rl.host_uid = 1000;
                rl.host_gid = 1000;
                rl.uid = rl.gid = 0;
                rl.cgroups_path = NULL;
                CHECK (spec_generate (&rl, &rjson, &rlen, &err) == 0);
                if (rjson) {
                        check_golden (GOLDEN_ROOTLESS, rjson, rlen);
                        CHECK (strstr (rjson, "\"uidMappings\"") && strstr (rjson, "\"--as\"")
                               && strstr (rjson, "RLIMIT_NPROC") && ! strstr (rjson, "cgroupsPath")
                               && ! strstr (rjson, "\"resources\""));
                }
                free (rjson);
        }

        /* Rootless with a delegated cgroup v2 scope (runc --systemd-cgroup): real
         * limits, no device rules, no --as fallback, no RLIMIT_NPROC. */
        {
                struct spec_params v2 = p;
                char *vjson = NULL;
                size_t vlen;

                v2.rootless = true;
                v2.host_uid = v2.host_gid = 1000;
                v2.uid = v2.gid = 0;
                v2.cgroups_path = "user.slice:codeengine:ce-0123456789abcdef";
                v2.no_cpu_limit = true;
                CHECK (spec_generate (&v2, &vjson, &vlen, &err) == 0);
                if (vjson) {
                        CHECK (strstr (vjson, "\"user.slice:codeengine:ce-0123456789abcdef\"")
                               && strstr (vjson, "\"memory\"") && strstr (vjson, "\"pids\"")
                               && strstr (vjson, "\"uidMappings\""));
                        CHECK (! strstr (vjson, "\"devices\"") && ! strstr (vjson, "\"quota\"")
                               && ! strstr (vjson, "\"--as\"") && ! strstr (vjson, "RLIMIT_NPROC"));
                }
                free (vjson);
        }

        /* The filter compiled once: no "seccomp" for runc, init reads fd 4. */
        {
                struct spec_params f = p;
                char *fjson = NULL;
                size_t flen;

                f.seccomp = NULL;
                f.seccomp_fd = 4;
                CHECK (spec_generate (&f, &fjson, &flen, &err) == 0);
                CHECK (fjson && strstr (fjson, "\"--seccomp-fd\",\n      \"4\"") != NULL);
                CHECK (fjson && strstr (fjson, "\"seccomp\"") == NULL);
                free (fjson);
        }

        /* A compile stage: /build is writable and its cwd; the run of the same
         * execution gets /build read-only. */
        {
                struct spec_params c = p;
                char *cjson = NULL;
                size_t clen;

                c.rootfs = "/srv/codeengine/bundles/gcc/rootfs";
                c.env = NULL;
                c.cwd = CE_BUILD_DIR;
                c.build_dir = "/run/codeengine/exec/ce-0123456789abcdef/build";
                c.build_writable = true;
                c.cgroups_path = "/codeengine/ce-0123456789abcdef-compile";
                c.memory_bytes = 256 * 1024 * 1024;
                c.tmp_bytes = 256 * 1024 * 1024;
                c.fsize_bytes = 128 * 1024 * 1024;
                CHECK (spec_generate (&c, &cjson, &clen, &err) == 0);
                if (cjson) {
                        check_golden (GOLDEN_COMPILE, cjson, clen);
                        CHECK (strstr (cjson, "\"cwd\": \"/build\"") != NULL);
                }
                free (cjson);
                c.build_writable = false;
                c.cwd = CE_CODE_DIR;
                CHECK (spec_generate (&c, &cjson, &clen, &err) == 0);
                if (cjson) {
                        const char *mounts[] = { "mounts", NULL };
                        yajl_val r = yajl_tree_parse (cjson, errbuf, sizeof (errbuf));
                        yajl_val m = r ? yajl_tree_get (r, mounts, yajl_t_array) : NULL;
                        yajl_val last =
                                m && m->u.array.len ? m->u.array.values[m->u.array.len - 1] : NULL;
                        const char *dest[] = { "destination", NULL };
                        const char *opts[] = { "options", NULL };
                        yajl_val o = last ? yajl_tree_get (last, opts, yajl_t_array) : NULL;

                        CHECK (last
                               && strcmp (str_or_empty (yajl_tree_get (last, dest, yajl_t_string)),
                                          "/build")
                                          == 0);
                        CHECK (o && o->u.array.len == 4
                               && strcmp (str_or_empty (o->u.array.values[1]), "ro") == 0);
                        yajl_tree_free (r);
                }
                free (cjson);
                /* No /build at all for an interpreted language. */
                CHECK (json && strstr (json, "/build") == NULL);
        }

        /* A value that is not UTF-8 is refused, not written. */
        p.rootfs = "/srv/\xff";
        free (json);
        json = NULL;
        CHECK (spec_generate (&p, &json, &len, &err) < 0);
        free (json);
        yajl_tree_free (p.seccomp);
        TEST_DONE ();
}
