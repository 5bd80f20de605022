/*
 * bundle.c - read bundles/<lang>/bundle.json with yajl's tree API.
 *
 * These files are the operator's, not a client's, but they are still checked
 * field by field: a broken bundle is refused at start-up with a message that
 * names the file, rather than failing on the first request.
 */
#include "bundle.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_tree.h>

struct ce_bundle_registry {
        struct ce_bundle *items;
        size_t n;
        char *names;
};

static void
strv_free (char **v)
{
        if (v == NULL)
                return;
        for (char **p = v; *p; p++)
                free (*p);
        free (v);
}

static void
bundle_clear (struct ce_bundle *b)
{
        free (b->name);
        strv_free (b->aliases);
        free (b->entry_file);
        strv_free (b->command);
        strv_free (b->env);
        free (b->version);
        free (b->rootfs);
        memset (b, 0, sizeof (*b));
}

static int
read_file (const char *path, size_t max, char **out, struct ce_error *err)
{
        cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
        struct ce_buf b = { 0 };
        char chunk[4096];
        ssize_t n;

        if (fd < 0)
                return ce_error_set (err, 500, errno, "cannot open %s: %s", path, strerror (errno));
        while ((n = read (fd, chunk, sizeof (chunk))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 || b.len + (size_t) n > max
                    || ce_buf_append (&b, chunk, (size_t) n) < 0) {
                        ce_buf_free (&b);
                        return ce_error_set (err, 500, EIO, "cannot read %s", path);
                }
        }
        if (b.data == NULL && ce_buf_append (&b, "", 0) < 0)
                return ce_error_set (err, 500, ENOMEM, "out of memory");
        *out = b.data;
        return 0;
}

/* A NULL-terminated copy of a JSON array of strings; NULL if it is not one. */
static char **
strv_from_json (yajl_val arr)
{
        char **v;
        size_t n;

        if (! YAJL_IS_ARRAY (arr))
                return NULL;
        n = arr->u.array.len;
        v = calloc (n + 1, sizeof (char *));
        if (v == NULL)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                const char *s = YAJL_GET_STRING (arr->u.array.values[i]);

                if (s == NULL || (v[i] = strdup (s)) == NULL) {
                        strv_free (v);
                        return NULL;
                }
        }
        return v;
}

static char **
env_from_json (yajl_val obj)
{
        char **v;
        size_t n;

        if (obj == NULL)
                return calloc (1, sizeof (char *));
        if (! YAJL_IS_OBJECT (obj))
                return NULL;
        n = obj->u.object.len;
        v = calloc (n + 1, sizeof (char *));
        if (v == NULL)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                const char *key = obj->u.object.keys[i];
                const char *val = YAJL_GET_STRING (obj->u.object.values[i]);

                if (val == NULL || *key == '\0' || strchr (key, '=')
                    || asprintf (&v[i], "%s=%s", key, val) < 0) {
                        v[i] = NULL;
                        strv_free (v);
                        return NULL;
                }
        }
        return v;
}

static bool
strv_contains (char **v, const char *s)
{
        for (; v && *v; v++)
                if (strcmp (*v, s) == 0)
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

static int
bundle_load_one (const char *dir, const char *name, struct ce_bundle *b, struct ce_error *err)
{
        const char *name_path[] = { "name", NULL };
        const char *aliases_path[] = { "aliases", NULL };
        const char *entry_path[] = { "entry_file", NULL };
        const char *command_path[] = { "command", NULL };
        const char *env_path[] = { "env", NULL };
        cleanup_free char *json_path = NULL;
        cleanup_free char *rootfs = NULL;
        cleanup_free char *version_path = NULL;
        cleanup_free char *text = NULL;
        char errbuf[256];
        yajl_val root, v;
        struct stat st;
        int ret;

        if (asprintf (&json_path, "%s/%s/bundle.json", dir, name) < 0
            || asprintf (&rootfs, "%s/%s/rootfs", dir, name) < 0
            || asprintf (&version_path, "%s/%s/VERSION", dir, name) < 0)
                return ce_error_set (err, 500, ENOMEM, "out of memory");
        ret = read_file (json_path, 1 << 20, &text, err);
        if (ret < 0)
                return ret;
        root = yajl_tree_parse (text, errbuf, sizeof (errbuf));
        if (root == NULL)
                return ce_error_set (err, 500, EINVAL, "%s: %s", json_path, errbuf);

        b->name = dup_string (yajl_tree_get (root, name_path, yajl_t_string));
        b->entry_file = dup_string (yajl_tree_get (root, entry_path, yajl_t_string));
        v = yajl_tree_get (root, aliases_path, yajl_t_array);
        b->aliases = v ? strv_from_json (v) : calloc (1, sizeof (char *));
        b->command = strv_from_json (yajl_tree_get (root, command_path, yajl_t_array));
        b->env = env_from_json (yajl_tree_get (root, env_path, yajl_t_any));
        yajl_tree_free (root);

        if (b->name == NULL || strcmp (b->name, name) != 0)
                ret = ce_error_set (err, 500, EINVAL, "%s: 'name' must be \"%s\"", json_path, name);
        else if (! is_plain_name (b->entry_file))
                ret = ce_error_set (err, 500, EINVAL, "%s: 'entry_file' must be a plain file name",
                                    json_path);
        else if (b->command == NULL || b->command[0] == NULL)
                ret = ce_error_set (err, 500, EINVAL,
                                    "%s: 'command' must be a non-empty array of strings",
                                    json_path);
        else if (! strv_contains (b->command, BUNDLE_ENTRY_PLACEHOLDER))
                ret = ce_error_set (err, 500, EINVAL,
                                    "%s: 'command' must contain \"" BUNDLE_ENTRY_PLACEHOLDER
                                    "\" where the entry file goes",
                                    json_path);
        else if (b->aliases == NULL || b->env == NULL)
                ret = ce_error_set (err, 500, EINVAL,
                                    "%s: 'aliases' must be strings and 'env' an object of strings",
                                    json_path);
        if (ret < 0)
                return ret;

        if (stat (rootfs, &st) < 0 || ! S_ISDIR (st.st_mode))
                return ce_error_set (err, 500, ENOENT,
                                     "%s is not prepared (no %s): run tools/prepare-bundles %s",
                                     name, rootfs, name);
        b->rootfs = realpath (rootfs, NULL);
        if (b->rootfs == NULL)
                return ce_error_set (err, 500, errno, "%s: %s", rootfs, strerror (errno));
        if (read_file (version_path, 256, &b->version, NULL) < 0)
                b->version = strdup ("");
        if (b->version == NULL)
                return ce_error_set (err, 500, ENOMEM, "out of memory");
        b->version[strcspn (b->version, "\r\n")] = '\0';
        return 0;
}

static int
cmp_bundle (const void *a, const void *b)
{
        return strcmp (((const struct ce_bundle *) a)->name, ((const struct ce_bundle *) b)->name);
}

int
bundle_registry_load (const char *dir, struct ce_bundle_registry **out, struct ce_error *err)
{
        struct ce_bundle_registry *reg;
        struct dirent *de;
        struct ce_buf names = { 0 };
        DIR *d = opendir (dir);

        if (d == NULL)
                return ce_error_set (err, 500, errno, "cannot open bundles dir %s: %s", dir,
                                     strerror (errno));
        reg = calloc (1, sizeof (*reg));
        if (reg == NULL) {
                closedir (d);
                return ce_error_set (err, 500, ENOMEM, "out of memory");
        }
        while ((de = readdir (d)) != NULL) {
                struct ce_bundle b = { 0 };
                struct ce_error e;
                struct ce_bundle *items;
                char *probe;
                bool has_json;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf (&probe, "%s/%s/bundle.json", dir, de->d_name) < 0)
                        continue;
                has_json = access (probe, F_OK) == 0;
                free (probe);
                if (! has_json)
                        continue;
                if (bundle_load_one (dir, de->d_name, &b, &e) < 0) {
                        ce_log ("warning: skipping language %s: %s", de->d_name, e.msg);
                        bundle_clear (&b);
                        continue;
                }
                items = realloc (reg->items, (reg->n + 1) * sizeof (*items));
                if (items == NULL) {
                        bundle_clear (&b);
                        break;
                }
                reg->items = items;
                reg->items[reg->n++] = b;
        }
        closedir (d);
        if (reg->n == 0) {
                bundle_registry_free (reg);
                return ce_error_set (err, 500, ENOENT,
                                     "no prepared language under %s: run tools/prepare-bundles",
                                     dir);
        }
        qsort (reg->items, reg->n, sizeof (*reg->items), cmp_bundle);
        for (size_t i = 0; i < reg->n; i++) {
                if ((i && ce_buf_append (&names, ", ", 2) < 0)
                    || ce_buf_append (&names, reg->items[i].name, strlen (reg->items[i].name))
                               < 0) {
                        ce_buf_free (&names);
                        bundle_registry_free (reg);
                        return ce_error_set (err, 500, ENOMEM, "out of memory");
                }
        }
        reg->names = names.data;
        *out = reg;
        return 0;
}

void
bundle_registry_free (struct ce_bundle_registry *reg)
{
        if (reg == NULL)
                return;
        for (size_t i = 0; i < reg->n; i++)
                bundle_clear (&reg->items[i]);
        free (reg->items);
        free (reg->names);
        free (reg);
}

const struct ce_bundle *
bundle_lookup (const struct ce_bundle_registry *reg, const char *name)
{
        for (size_t i = 0; i < reg->n; i++) {
                const struct ce_bundle *b = &reg->items[i];

                if (strcmp (b->name, name) == 0)
                        return b;
                for (char **a = b->aliases; *a; a++)
                        if (strcmp (*a, name) == 0)
                                return b;
        }
        return NULL;
}

size_t
bundle_count (const struct ce_bundle_registry *reg)
{
        return reg->n;
}

const struct ce_bundle *
bundle_at (const struct ce_bundle_registry *reg, size_t i)
{
        return i < reg->n ? &reg->items[i] : NULL;
}

const char *
bundle_names (const struct ce_bundle_registry *reg)
{
        return reg->names;
}
