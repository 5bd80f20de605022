/*
 * bundle.c - read bundles/<bundle>/bundle.json with yajl's tree API.
 *
 * These files are the operator's, not a client's, but they are still checked
 * field by field (unknown keys included, so that a typo is not silently a
 * default): a broken bundle is refused at start-up with a message that
 * names the file, rather than failing on the first request.  A prepared
 * bundle's tree is also checked for the programs its stages start, looked up
 * inside the tree (openat2 RESOLVE_IN_ROOT: the tree's absolute symlinks,
 * such as /etc/alternatives, resolve inside it, never on the host).
 *
 * A language's "judge0" member maps it to the ids Judge0 clients send as
 * language_id; their names take the language's version (versions.json) when
 * the bundle is loaded, and an id two languages claim stops the load: the
 * server would otherwise run one of them for the other's clients.
 */
#include "bundle.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <yajl/yajl_tree.h>

#define MAX_NAME_LEN 32
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct ce_bundle_registry {
        struct ce_language *items;
        size_t n;
        char *names;
};

static void
stage_clear (struct ce_stage_def *s)
{
        ce_strv_free (s->command);
        ce_strv_free (s->env);
        memset (s, 0, sizeof (*s));
}

static void
judge0_ids_free (struct ce_judge0_id *ids, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free (ids[i].name_template);
                free (ids[i].name);
        }
        free (ids);
}

static void
language_clear (struct ce_language *l)
{
        free (l->name);
        free (l->bundle);
        ce_strv_free (l->aliases);
        free (l->entry_file);
        ce_strv_free (l->sources);
        free (l->version);
        free (l->tree_id);
        free (l->rootfs);
        stage_clear (&l->compile);
        stage_clear (&l->run);
        free (l->reason);
        judge0_ids_free (l->judge0, l->njudge0);
        memset (l, 0, sizeof (*l));
}

void
bundle_languages_free (struct ce_language *langs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                language_clear (&langs[i]);
        free (langs);
}

static int
read_file (const char *path, size_t max, char **out, struct ce_error *err)
{
        cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
        struct ce_buf b = { 0 };
        char chunk[4096];
        ssize_t n;

        if (fd < 0)
                return ce_fail (err, errno, "cannot open %s: %s", path, strerror (errno));
        while ((n = read (fd, chunk, sizeof (chunk))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 || b.len + (size_t) n > max
                    || ce_buf_append (&b, chunk, (size_t) n) < 0) {
                        ce_buf_free (&b);
                        return ce_fail (err, EIO, "cannot read %s", path);
                }
        }
        if (b.data == NULL && ce_buf_append (&b, "", 0) < 0)
                return ce_fail (err, ENOMEM, "out of memory");
        *out = b.data;
        return 0;
}

/* A NULL-terminated copy of a JSON array of strings (of at least min
 * elements); NULL if it is not one. */
static char **
strv_from_json (yajl_val arr, size_t min)
{
        char **v;
        size_t n;

        if (! YAJL_IS_ARRAY (arr) || arr->u.array.len < min)
                return NULL;
        n = arr->u.array.len;
        v = calloc (n + 1, sizeof (char *));
        if (v == NULL)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                const char *s = YAJL_GET_STRING (arr->u.array.values[i]);

                if (s == NULL || (v[i] = strdup (s)) == NULL) {
                        ce_strv_free (v);
                        return NULL;
                }
        }
        return v;
}

/* "KEY=VALUE" strings of the objects' members, the first object's first. */
static char **
env_from_json (yajl_val a, yajl_val b)
{
        yajl_val objs[2] = { a, b };
        size_t n = 0, k = 0;
        char **v;

        for (int i = 0; i < 2; i++) {
                if (objs[i] && ! YAJL_IS_OBJECT (objs[i]))
                        return NULL;
                n += objs[i] ? objs[i]->u.object.len : 0;
        }
        v = calloc (n + 1, sizeof (char *));
        if (v == NULL)
                return NULL;
        for (int i = 0; i < 2; i++)
                for (size_t j = 0; objs[i] && j < objs[i]->u.object.len; j++) {
                        const char *key = objs[i]->u.object.keys[j];
                        const char *val = YAJL_GET_STRING (objs[i]->u.object.values[j]);

                        if (val == NULL || *key == '\0' || strchr (key, '=')
                            || asprintf (&v[k], "%s=%s", key, val) < 0) {
                                v[k] = NULL;
                                ce_strv_free (v);
                                return NULL;
                        }
                        k++;
                }
        return v;
}

static bool
strv_has_substring (char **v, const char *s)
{
        for (; v && *v; v++)
                if (strstr (*v, s))
                        return true;
        return false;
}

static char *
dup_string (yajl_val v)
{
        const char *s = YAJL_GET_STRING (v);

        return s ? strdup (s) : NULL;
}

static bool
is_plain_name (const char *s)
{
        return s && *s && strchr (s, '/') == NULL && strcmp (s, ".") != 0 && strcmp (s, "..") != 0
               && strlen (s) < NAME_MAX;
}

/* Language names and aliases: what a client types, kept simple. */
static bool
is_language_name (const char *s)
{
        size_t n = s ? strlen (s) : 0;

        if (n == 0 || n > MAX_NAME_LEN)
                return false;
        for (const char *p = s; *p; p++)
                if (! ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                       || strchr ("_+#.-", *p)))
                        return false;
        return true;
}

/* Refuse keys the format does not have: a misspelt "limts" must not be a
 * silent default. */
static const char *
unknown_key (yajl_val obj, const char *const *known)
{
        for (size_t i = 0; i < obj->u.object.len; i++) {
                const char *k = obj->u.object.keys[i];
                bool found = false;

                for (const char *const *p = known; *p && ! found; p++)
                        found = strcmp (*p, k) == 0;
                if (! found)
                        return k;
        }
        return NULL;
}

static yajl_val
member (yajl_val obj, const char *key)
{
        const char *path[] = { key, NULL };

        return yajl_tree_get (obj, path, yajl_t_any);
}

static int
parse_limits (yajl_val v, const char *where, struct ce_stage_def *s, struct ce_error *err)
{
        static const char *const known[] = { "timeout_ms",   "memory_mb", "cpus",
                                             "output_bytes", "pids",      NULL };
        const char *bad;

        if (v == NULL)
                return 0;
        if (! YAJL_IS_OBJECT (v))
                return ce_fail (err, EINVAL, "%s.limits must be an object", where);
        if ((bad = unknown_key (v, known)))
                return ce_fail (err, EINVAL, "%s.limits: unknown key '%s'", where, bad);
        for (size_t i = 0; i < v->u.object.len; i++) {
                const char *k = v->u.object.keys[i];
                yajl_val n = v->u.object.values[i];
                double d;

                if (! YAJL_IS_NUMBER (n) || ! isfinite (d = YAJL_GET_DOUBLE (n)) || d <= 0)
                        return ce_fail (err, EINVAL, "%s.limits.%s must be a positive number",
                                        where, k);
                if (strcmp (k, "cpus") == 0) {
                        s->limits.cpus = d;
                        s->limits_given |= LIMIT_CPUS;
                        continue;
                }
                if (! YAJL_IS_INTEGER (n))
                        return ce_fail (err, EINVAL, "%s.limits.%s must be an integer", where, k);
                if (strcmp (k, "timeout_ms") == 0)
                        s->limits.timeout_ms = YAJL_GET_INTEGER (n),
                        s->limits_given |= LIMIT_TIMEOUT;
                else if (strcmp (k, "memory_mb") == 0)
                        s->limits.memory_mb = YAJL_GET_INTEGER (n), s->limits_given |= LIMIT_MEMORY;
                else if (strcmp (k, "output_bytes") == 0)
                        s->limits.output_bytes = YAJL_GET_INTEGER (n),
                        s->limits_given |= LIMIT_OUTPUT;
                else
                        s->limits.pids = YAJL_GET_INTEGER (n), s->limits_given |= LIMIT_PIDS;
        }
        return 0;
}

static int
parse_stage (yajl_val v, yajl_val lang_env, const char *where, struct ce_stage_def *s,
             struct ce_error *err)
{
        static const char *const known[] = { "command", "env", "limits", NULL };
        const char *bad;

        if (! YAJL_IS_OBJECT (v))
                return ce_fail (err, EINVAL, "%s must be an object", where);
        if ((bad = unknown_key (v, known)))
                return ce_fail (err, EINVAL, "%s: unknown key '%s'", where, bad);
        s->command = strv_from_json (member (v, "command"), 1);
        if (s->command == NULL)
                return ce_fail (err, EINVAL, "%s.command must be a non-empty array of strings",
                                where);
        for (char **a = s->command; *a; a++) {
                static const char *const whole[] = { BUNDLE_SOURCES_PLACEHOLDER,
                                                     BUNDLE_OPTIONS_PLACEHOLDER, NULL };
                size_t len = strlen (*a);

                for (size_t k = 0; whole[k]; k++)
                        if (strstr (*a, whole[k]) && strcmp (*a, whole[k]) != 0)
                                return ce_fail (err, EINVAL,
                                                "%s.command: %s must be a whole element", where,
                                                whole[k]);
                /* A placeholder this server does not know would reach the
                 * program as it is written: a bundle made for a newer
                 * server is refused here, not with every compile. */
                if (len > 2 && (*a)[0] == '{' && (*a)[len - 1] == '}'
                    && strspn (*a + 1, "abcdefghijklmnopqrstuvwxyz_") == len - 2
                    && strcmp (*a, BUNDLE_SOURCES_PLACEHOLDER) != 0
                    && strcmp (*a, BUNDLE_OPTIONS_PLACEHOLDER) != 0
                    && strcmp (*a, BUNDLE_ENTRY_PLACEHOLDER) != 0
                    && strcmp (*a, BUNDLE_STEM_PLACEHOLDER) != 0)
                        return ce_fail (err, EINVAL,
                                        "%s.command: unknown placeholder %s (a bundle for a "
                                        "newer server?)",
                                        where, *a);
        }
        s->env = env_from_json (lang_env, member (v, "env"));
        if (s->env == NULL)
                return ce_fail (err, EINVAL, "%s: 'env' must be an object of strings", where);
        return parse_limits (member (v, "limits"), where, s, err);
}

/* A Judge0 name template: printable, within the limit, and no placeholder
 * but {version} (a misspelt one must not end up in every client's list). */
static bool
is_judge0_name (const char *s)
{
        size_t n = s ? strlen (s) : 0;

        if (n == 0 || n > BUNDLE_JUDGE0_MAX_NAME)
                return false;
        for (const char *p = s; *p; p++) {
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
                if (*p == '{'
                    && strncmp (p, BUNDLE_VERSION_PLACEHOLDER, strlen (BUNDLE_VERSION_PLACEHOLDER))
                               != 0)
                        return false;
        }
        return true;
}

/* "judge0": [{"id": 54, "name": "C++ (GCC {version})"}, ...]; absent is none. */
static int
parse_judge0 (yajl_val v, const char *where, struct ce_language *l, struct ce_error *err)
{
        static const char *const known[] = { "id", "name", NULL };
        const char *bad;

        if (v == NULL)
                return 0;
        if (! YAJL_IS_ARRAY (v))
                return ce_fail (err, EINVAL, "%s: 'judge0' must be an array of objects", where);
        if (v->u.array.len == 0)
                return 0;
        l->judge0 = calloc (v->u.array.len, sizeof (*l->judge0));
        if (l->judge0 == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        for (size_t i = 0; i < v->u.array.len; i++) {
                yajl_val e = v->u.array.values[i], id;
                struct ce_judge0_id *j = &l->judge0[i];
                const char *name;

                if (! YAJL_IS_OBJECT (e))
                        return ce_fail (err, EINVAL, "%s: judge0[%zu] must be an object", where, i);
                if ((bad = unknown_key (e, known)))
                        return ce_fail (err, EINVAL, "%s: judge0[%zu]: unknown key '%s'", where, i,
                                        bad);
                id = member (e, "id");
                name = YAJL_GET_STRING (member (e, "name"));
                if (! YAJL_IS_INTEGER (id) || YAJL_GET_INTEGER (id) < 1
                    || YAJL_GET_INTEGER (id) > BUNDLE_JUDGE0_MAX_ID)
                        return ce_fail (err, EINVAL, "%s: judge0[%zu].id must be an integer 1-%d",
                                        where, i, BUNDLE_JUDGE0_MAX_ID);
                if (name == NULL || ! is_judge0_name (name))
                        return ce_fail (err, EINVAL,
                                        "%s: judge0[%zu].name must be 1-%d printable bytes, with "
                                        "no placeholder but " BUNDLE_VERSION_PLACEHOLDER,
                                        where, i, BUNDLE_JUDGE0_MAX_NAME);
                j->id = (int) YAJL_GET_INTEGER (id);
                j->name_template = strdup (name);
                l->njudge0++; /* freed with the language from here on */
                if (j->name_template == NULL)
                        return ce_fail (err, ENOMEM, "out of memory");
        }
        return 0;
}

/* template with each {version} replaced; NULL when out of memory. */
static char *
expand_version (const char *template, const char *version)
{
        const size_t plen = strlen (BUNDLE_VERSION_PLACEHOLDER);
        struct ce_buf b = { 0 };
        const char *p = template, *hit;

        while ((hit = strstr (p, BUNDLE_VERSION_PLACEHOLDER)) != NULL) {
                if (ce_buf_append (&b, p, (size_t) (hit - p)) < 0
                    || ce_buf_append (&b, version, strlen (version)) < 0) {
                        ce_buf_free (&b);
                        return NULL;
                }
                p = hit + plen;
        }
        if (ce_buf_append (&b, p, strlen (p)) < 0) {
                ce_buf_free (&b);
                return NULL;
        }
        return b.data;
}

/* Fill judge0[].name from the templates and the language's version. */
static int
judge0_expand (struct ce_language *l)
{
        const char *version = l->version && *l->version ? l->version : BUNDLE_UNKNOWN_VERSION;

        for (size_t i = 0; i < l->njudge0; i++) {
                free (l->judge0[i].name);
                l->judge0[i].name = expand_version (l->judge0[i].name_template, version);
                if (l->judge0[i].name == NULL)
                        return -ENOMEM;
        }
        return 0;
}

static bool
uses_code (char **command)
{
        return strv_has_substring (command, BUNDLE_ENTRY_PLACEHOLDER)
               || strv_has_substring (command, BUNDLE_SOURCES_PLACEHOLDER);
}

static int
parse_language (const char *bundle, yajl_val v, size_t idx, struct ce_language *l,
                struct ce_error *err)
{
        static const char *const known[] = { "name",    "aliases", "entry_file", "version_command",
                                             "sources", "env",     "compile",    "run",
                                             "judge0",  NULL };
        char where[96];
        const char *bad;
        yajl_val env, compile, x;
        int ret;

        snprintf (where, sizeof (where), "languages[%zu]", idx);
        if (! YAJL_IS_OBJECT (v))
                return ce_fail (err, EINVAL, "%s must be an object", where);
        if ((bad = unknown_key (v, known)))
                return ce_fail (err, EINVAL, "%s: unknown key '%s'", where, bad);
        l->name = dup_string (member (v, "name"));
        if (! is_language_name (l->name))
                return ce_fail (err, EINVAL, "%s.name must be 1-%d characters of a-z 0-9 _ + # . -",
                                where, MAX_NAME_LEN);
        snprintf (where, sizeof (where), "language '%s'", l->name);
        l->bundle = strdup (bundle);
        x = member (v, "aliases");
        l->aliases = x ? strv_from_json (x, 0) : calloc (1, sizeof (char *));
        x = member (v, "sources");
        l->sources = x ? strv_from_json (x, 0) : calloc (1, sizeof (char *));
        l->entry_file = dup_string (member (v, "entry_file"));
        if (l->bundle == NULL || l->aliases == NULL || l->sources == NULL)
                return ce_fail (err, EINVAL,
                                "%s: 'aliases' and 'sources' must be "
                                "arrays of strings",
                                where);
        for (char **a = l->aliases; *a; a++)
                if (! is_language_name (*a))
                        return ce_fail (err, EINVAL, "%s: bad alias '%s'", where, *a);
        if (! is_plain_name (l->entry_file))
                return ce_fail (err, EINVAL, "%s: 'entry_file' must be a plain file name", where);
        ret = parse_judge0 (member (v, "judge0"), where, l, err);
        if (ret < 0)
                return ret;
        env = member (v, "env");
        compile = member (v, "compile");
        if (compile) {
                char w[128];

                snprintf (w, sizeof (w), "%s: compile", where);
                ret = parse_stage (compile, env, w, &l->compile, err);
                if (ret < 0)
                        return ret;
        }
        x = member (v, "run");
        if (x == NULL)
                return ce_fail (err, EINVAL, "%s: 'run' is required", where);
        {
                char w[128];

                snprintf (w, sizeof (w), "%s: run", where);
                ret = parse_stage (x, env, w, &l->run, err);
                if (ret < 0)
                        return ret;
        }
        if (! uses_code (l->compile.command ? l->compile.command : l->run.command))
                return ce_fail (err, EINVAL,
                                "%s: the %s command must contain \"" BUNDLE_ENTRY_PLACEHOLDER
                                "\" or \"" BUNDLE_SOURCES_PLACEHOLDER "\" where the code goes",
                                where, l->compile.command ? "compile" : "run");
        return 0;
}

int
bundle_parse (const char *bundle, const char *text, struct ce_language **out, size_t *n,
              struct ce_error *err)
{
        char errbuf[256];
        yajl_val root, langs;
        struct ce_language *items = NULL;
        size_t count = 0;
        int ret = 0;

        root = yajl_tree_parse (text, errbuf, sizeof (errbuf));
        if (root == NULL)
                return ce_fail (err, EINVAL, "%s", errbuf);
        langs = YAJL_IS_OBJECT (root) ? member (root, "languages") : NULL;
        if (! YAJL_IS_ARRAY (langs) || langs->u.array.len == 0) {
                yajl_tree_free (root);
                return ce_fail (err, EINVAL, "'languages' must be a non-empty array");
        }
        count = langs->u.array.len;
        items = calloc (count, sizeof (*items));
        if (items == NULL)
                ret = ce_fail (err, ENOMEM, "out of memory");
        for (size_t i = 0; ret == 0 && i < count; i++)
                ret = parse_language (bundle, langs->u.array.values[i], i, &items[i], err);
        yajl_tree_free (root);
        if (ret < 0) {
                bundle_languages_free (items, count);
                return ret;
        }
        *out = items;
        *n = count;
        return 0;
}

/* An executable regular file at path inside the tree open on rootfd, every
 * link resolved inside the tree. */
static bool
executable_in_root (int rootfd, const char *path)
{
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
        struct stat st;
        int fd = (int) syscall (SYS_openat2, rootfd, path, &how, sizeof (how));
        bool ok;

        if (fd < 0)
                return false;
        ok = fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & 0111);
        close (fd);
        return ok;
}

/* The PATH a stage's command is looked up in: its env's, else the default. */
static const char *
stage_path (const struct ce_stage_def *s)
{
        for (char **e = s->env; e && *e; e++)
                if (strncmp (*e, "PATH=", 5) == 0)
                        return *e + 5;
        return DEFAULT_PATH;
}

/* 0 when the stage's program is in the tree (or made by an earlier stage). */
static int
check_stage_program (int rootfd, const struct ce_stage_def *s, char *why, size_t size)
{
        const char *prog = s->command ? s->command[0] : NULL;
        char path[PATH_MAX];
        const char *p, *colon;

        /* What the compile stage makes, or a path known only per request. */
        if (prog == NULL || strchr (prog, '{') || strncmp (prog, "/build/", 7) == 0
            || strncmp (prog, "/code/", 6) == 0)
                return 0;
        if (strchr (prog, '/')) {
                if (executable_in_root (rootfd, prog))
                        return 0;
                snprintf (why, size, "%s is not an executable file in its tree", prog);
                return -1;
        }
        for (p = stage_path (s); *p; p = *colon ? colon + 1 : colon) {
                colon = strchrnul (p, ':');
                snprintf (path, sizeof (path), "%.*s/%s", (int) (colon - p), p, prog);
                if (colon > p && executable_in_root (rootfd, path))
                        return 0;
        }
        snprintf (why, size, "%s is not on its PATH in its tree", prog);
        return -1;
}

/* The identity of a bundle's tree: tools/prepare-bundles's .image-id (the
 * image it was unpacked from, and the file itself, written anew whenever a
 * tree is moved into place) and the rootfs directory's device and inode.
 * Not the rootfs's times: the server itself makes its mount points in
 * there.  NULL: out of memory or fstat failed. */
static char *
tree_identity (const char *dir, const char *bundle, int rootfd)
{
        cleanup_free char *image_path = NULL;
        cleanup_free char *image = NULL;
        char *out = NULL;
        struct stat st, ist = { 0 };

        if (fstat (rootfd, &st) < 0 || asprintf (&image_path, "%s/%s/.image-id", dir, bundle) < 0)
                return NULL;
        if (read_file (image_path, 4096, &image, NULL) < 0 || stat (image_path, &ist) < 0)
                image = NULL;
        if (asprintf (&out, "%s|%ju:%ju.%jd.%09ld|%ju:%ju", image ? image : "",
                      (uintmax_t) ist.st_ino, (uintmax_t) ist.st_dev, (intmax_t) ist.st_mtim.tv_sec,
                      ist.st_mtim.tv_nsec, (uintmax_t) st.st_dev, (uintmax_t) st.st_ino)
            < 0)
                return NULL;
        return out;
}

/* Fill rootfs, version and availability of the languages of one bundle. */
static void
bundle_prepare_languages (const char *dir, const char *bundle, struct ce_language *langs, size_t n)
{
        cleanup_free char *rootfs = NULL;
        cleanup_free char *versions_path = NULL;
        cleanup_free char *real = NULL;
        cleanup_free char *text = NULL;
        cleanup_close int rootfd = -1;
        yajl_val versions = NULL;
        char why[512] = "";

        if (asprintf (&rootfs, "%s/%s/rootfs", dir, bundle) < 0
            || asprintf (&versions_path, "%s/%s/versions.json", dir, bundle) < 0)
                snprintf (why, sizeof (why), "out of memory");
        else if ((real = realpath (rootfs, NULL)) == NULL
                 || (rootfd = open (real, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                snprintf (why, sizeof (why),
                          "bundle %s is not prepared (no %s): run tools/prepare-bundles %s", bundle,
                          rootfs, bundle);
        if (*why == '\0' && read_file (versions_path, 1 << 16, &text, NULL) == 0)
                versions = yajl_tree_parse (text, NULL, 0);
        for (size_t i = 0; i < n; i++) {
                struct ce_language *l = &langs[i];
                const char *v = versions ? YAJL_GET_STRING (member (versions, l->name)) : NULL;
                char lwhy[512];
                bool named;

                l->version = strdup (v ? v : "");
                named = judge0_expand (l) == 0;
                if (*why) {
                        l->reason = strdup (why);
                        continue;
                }
                if (check_stage_program (rootfd, &l->compile, lwhy, sizeof (lwhy)) < 0
                    || check_stage_program (rootfd, &l->run, lwhy, sizeof (lwhy)) < 0) {
                        if (asprintf (&l->reason,
                                      "bundle %s is broken: %s (run "
                                      "tools/prepare-bundles %s)",
                                      bundle, lwhy, bundle)
                            < 0)
                                l->reason = NULL;
                        continue;
                }
                l->rootfs = strdup (real);
                l->tree_id = tree_identity (dir, bundle, rootfd);
                l->available =
                        l->rootfs != NULL && l->version != NULL && l->tree_id != NULL && named;
        }
        yajl_tree_free (versions);
}

static bool
name_taken (const struct ce_bundle_registry *reg, const char *name)
{
        return bundle_lookup (reg, name) != NULL;
}

/* Move the bundle's languages into the registry, refusing a name or alias
 * another language already has. */
static int
registry_add (struct ce_bundle_registry *reg, struct ce_language *langs, size_t n)
{
        struct ce_language *items = realloc (reg->items, (reg->n + n) * sizeof (*items));

        if (items == NULL)
                return -ENOMEM;
        reg->items = items;
        for (size_t i = 0; i < n; i++) {
                bool clash = name_taken (reg, langs[i].name);

                for (char **a = langs[i].aliases; *a && ! clash; a++)
                        clash = name_taken (reg, *a);
                if (clash) {
                        ce_log ("warning: skipping language %s of bundle %s: its name or an alias "
                                "is another language's",
                                langs[i].name, langs[i].bundle);
                        language_clear (&langs[i]);
                        continue;
                }
                reg->items[reg->n++] = langs[i];
                memset (&langs[i], 0, sizeof (langs[i])); /* owned by the registry */
        }
        return 0;
}

static void
load_bundle (struct ce_bundle_registry *reg, const char *dir, const char *bundle)
{
        cleanup_free char *json_path = NULL;
        cleanup_free char *text = NULL;
        struct ce_language *langs = NULL;
        struct ce_error e;
        size_t n = 0;

        if (asprintf (&json_path, "%s/%s/bundle.json", dir, bundle) < 0)
                return;
        if (access (json_path, F_OK) < 0)
                return; /* not a bundle */
        if (read_file (json_path, 1 << 20, &text, &e) < 0
            || bundle_parse (bundle, text, &langs, &n, &e) < 0) {
                ce_log ("warning: skipping bundle %s: %s: %s", bundle, json_path, e.msg);
                return;
        }
        bundle_prepare_languages (dir, bundle, langs, n);
        if (registry_add (reg, langs, n) < 0)
                ce_log ("warning: skipping bundle %s: out of memory", bundle);
        bundle_languages_free (langs, n);
}

static int
cmp_language (const void *a, const void *b)
{
        return strcmp (((const struct ce_language *) a)->name,
                       ((const struct ce_language *) b)->name);
}

/* reg->names: the available languages, "c, cpp, python3" ("" for none). */
static int
build_names (struct ce_bundle_registry *reg)
{
        struct ce_buf names = { 0 };
        size_t count = 0;

        if (ce_buf_append (&names, "", 0) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < reg->n; i++) {
                const struct ce_language *l = &reg->items[i];

                if (! l->available)
                        continue;
                if ((count++ && ce_buf_append (&names, ", ", 2) < 0)
                    || ce_buf_append (&names, l->name, strlen (l->name)) < 0) {
                        ce_buf_free (&names);
                        return -ENOMEM;
                }
        }
        free (reg->names);
        reg->names = names.data;
        return 0;
}

/* Refuse a Judge0 id that two entries claim, naming both languages. */
static int
check_judge0_ids (const struct ce_bundle_registry *reg, struct ce_error *err)
{
        for (size_t a = 0; a < reg->n; a++)
                for (size_t i = 0; i < reg->items[a].njudge0; i++)
                        for (size_t b = a; b < reg->n; b++)
                                for (size_t j = b == a ? i + 1 : 0; j < reg->items[b].njudge0;
                                     j++) {
                                        const struct ce_language *x = &reg->items[a];
                                        const struct ce_language *y = &reg->items[b];

                                        if (x->judge0[i].id != y->judge0[j].id)
                                                continue;
                                        if (x == y)
                                                return ce_fail (err, EINVAL,
                                                                "Judge0 language id %d is claimed "
                                                                "twice by %s (bundle %s)",
                                                                x->judge0[i].id, x->name,
                                                                x->bundle);
                                        return ce_fail (err, EINVAL,
                                                        "Judge0 language id %d is claimed by both "
                                                        "%s (bundle %s) and %s (bundle %s)",
                                                        x->judge0[i].id, x->name, x->bundle,
                                                        y->name, y->bundle);
                                }
        return 0;
}

int
bundle_registry_load (const char *dir, struct ce_bundle_registry **out, struct ce_error *err)
{
        int ret;
        struct ce_bundle_registry *reg;
        struct dirent *de;
        DIR *d = opendir (dir);

        if (d == NULL)
                return ce_fail (err, errno, "cannot open bundles dir %s: %s", dir,
                                strerror (errno));
        reg = calloc (1, sizeof (*reg));
        if (reg == NULL) {
                closedir (d);
                return ce_fail (err, ENOMEM, "out of memory");
        }
        while ((de = readdir (d)) != NULL)
                if (de->d_name[0] != '.')
                        load_bundle (reg, dir, de->d_name);
        closedir (d);
        if (reg->n > 0)
                qsort (reg->items, reg->n, sizeof (*reg->items), cmp_language);
        ret = check_judge0_ids (reg, err);
        if (ret < 0) {
                bundle_registry_free (reg);
                return ret;
        }
        if (build_names (reg) < 0) {
                bundle_registry_free (reg);
                return ce_fail (err, ENOMEM, "out of memory");
        }
        if (reg->names[0] == '\0') {
                bundle_registry_free (reg);
                return ce_fail (err, ENOENT,
                                "no prepared language under %s: run tools/prepare-bundles", dir);
        }
        *out = reg;
        return 0;
}

size_t
bundle_mark_unavailable (struct ce_bundle_registry *reg, const char *bundle, const char *reason)
{
        size_t left = 0;

        for (size_t i = 0; i < reg->n; i++) {
                struct ce_language *l = &reg->items[i];

                if (l->available && strcmp (l->bundle, bundle) == 0) {
                        free (l->reason);
                        l->reason = strdup (reason);
                        l->available = false;
                }
                left += l->available;
        }
        if (build_names (reg) < 0)
                ce_log ("warning: out of memory");
        return left;
}

void
bundle_registry_free (struct ce_bundle_registry *reg)
{
        if (reg == NULL)
                return;
        for (size_t i = 0; i < reg->n; i++)
                language_clear (&reg->items[i]);
        free (reg->items);
        free (reg->names);
        free (reg);
}

const struct ce_language *
bundle_lookup (const struct ce_bundle_registry *reg, const char *name)
{
        for (size_t i = 0; i < reg->n; i++) {
                const struct ce_language *l = &reg->items[i];

                if (strcmp (l->name, name) == 0)
                        return l;
                for (char **a = l->aliases; *a; a++)
                        if (strcmp (*a, name) == 0)
                                return l;
        }
        return NULL;
}

const struct ce_language *
bundle_lookup_judge0 (const struct ce_bundle_registry *reg, int id, const char **name)
{
        for (size_t i = 0; i < reg->n; i++) {
                const struct ce_language *l = &reg->items[i];

                for (size_t j = 0; j < l->njudge0; j++) {
                        if (l->judge0[j].id != id)
                                continue;
                        if (name)
                                *name = l->judge0[j].name ? l->judge0[j].name
                                                          : l->judge0[j].name_template;
                        return l;
                }
        }
        return NULL;
}

size_t
bundle_count (const struct ce_bundle_registry *reg)
{
        return reg->n;
}

const struct ce_language *
bundle_at (const struct ce_bundle_registry *reg, size_t i)
{
        return i < reg->n ? &reg->items[i] : NULL;
}

const char *
bundle_names (const struct ce_bundle_registry *reg)
{
        return reg->names;
}
