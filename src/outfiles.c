/*
 * outfiles.c - collect the files a run left in /work (see outfiles.h).
 *
 * One walk, depth first, from an fd on /work: each directory is opened with
 * openat(O_DIRECTORY | O_NOFOLLOW) below its parent's fd and listed with
 * fdopendir, so no path is ever resolved again and a link swapped in for a
 * directory is refused by the kernel, not by a check that could race.  An
 * entry's type comes from fstatat(AT_SYMLINK_NOFOLLOW); a file is collected
 * only after its own fd passes fstat (S_ISREG), and its bytes are read
 * through that fd.  The walk only enters directories some glob can reach
 * (each of the directory's parts matches the glob's part at that depth),
 * so a dir full of scratch files costs a listing, not a visit per file.
 *
 * Bounds: OUTFILES_MAX_DEPTH levels, OUTFILES_MAX_VISITS entries, the
 * server's file count and total bytes.  A file is sent whole or not at
 * all; once a bound is reached nothing more is read, and further matches
 * are only counted (while the visit bound lasts).  The list is sorted by
 * name; which files fit when the bounds are reached follows the order the
 * kernel lists them in.
 */
#include "outfiles.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "jsongen.h"

#define READ_CHUNK (64 * 1024)

struct walk {
        char *const *globs;
        size_t nglobs;
        const struct outfiles_limits *lim;
        struct outfiles *out;
        size_t visits;
        int64_t bytes; /* collected so far */
        bool full;     /* a bound was reached: read nothing more */
        bool oom;
};

/* Leave the first reason only: it says why the collection stopped, or
 * what the first file left out was. */
static void __attribute__ ((format (printf, 2, 3))) omit (struct walk *w, const char *fmt, ...)
{
        va_list ap;

        w->out->omitted++;
        if (w->out->error[0])
                return;
        va_start (ap, fmt);
        vsnprintf (w->out->error, sizeof (w->out->error), fmt, ap);
        va_end (ap);
}

#define OMIT_RETURN(...)                                                                           \
        do {                                                                                       \
                omit (w, __VA_ARGS__);                                                             \
                return;                                                                            \
        } while (0)

static bool
matches (const struct walk *w, const char *path)
{
        for (size_t i = 0; i < w->nglobs; i++)
                if (fnmatch (w->globs[i], path, FNM_PATHNAME | FNM_PERIOD) == 0)
                        return true;
        return false;
}

/* Whether glob can match something below the directory dir ("a/b"): it has
 * more parts than dir, and each of dir's parts matches glob's part there. */
static bool
glob_reaches (const char *glob, const char *dir)
{
        char gpart[256], dpart[256];
        const char *g = glob, *d = dir;

        while (*d) {
                const char *gs = strchr (g, '/'), *ds = strchr (d, '/');
                size_t gn, dn;

                if (gs == NULL)
                        return false; /* glob's last part would name dir itself */
                gn = (size_t) (gs - g);
                dn = ds ? (size_t) (ds - d) : strlen (d);
                if (gn >= sizeof (gpart) || dn >= sizeof (dpart))
                        return false;
                memcpy (gpart, g, gn);
                gpart[gn] = '\0';
                memcpy (dpart, d, dn);
                dpart[dn] = '\0';
                if (fnmatch (gpart, dpart, FNM_PERIOD) != 0)
                        return false;
                g = gs + 1;
                d = ds ? ds + 1 : d + dn;
        }
        return true;
}

static bool
worth_entering (const struct walk *w, const char *dir)
{
        for (size_t i = 0; i < w->nglobs; i++)
                if (glob_reaches (w->globs[i], dir))
                        return true;
        return false;
}

static bool
valid_utf8 (const char *s)
{
        size_t len = strlen (s), clean_len;
        cleanup_free char *clean = NULL;

        if (ce_utf8_sanitize (s, len, &clean, &clean_len) < 0)
                return false;
        return clean_len == len && memcmp (clean, s, len) == 0;
}

/* Read fd, a regular file of st_size size, whole if it fits in what is left
 * of the budget: never more than that plus one byte, so a file growing
 * under the read cannot take more.  0 with *data; -EFBIG when it does not
 * fit; other -errno. */
static int
read_bounded (int fd, int64_t size, int64_t left, char **data, size_t *len)
{
        size_t cap, n = 0;
        cleanup_free char *buf = NULL;

        if (size > left)
                return -EFBIG;
        cap = (size_t) size + 1;
        buf = malloc (cap);
        if (buf == NULL)
                return -ENOMEM;
        for (;;) {
                ssize_t r;

                if (n == cap) {
                        size_t limit = (size_t) left + 1, grown;
                        char *b;

                        if (cap >= limit)
                                return -EFBIG;
                        grown = cap + READ_CHUNK < limit ? cap + READ_CHUNK : limit;
                        b = realloc (buf, grown);
                        if (b == NULL)
                                return -ENOMEM;
                        buf = b;
                        cap = grown;
                }
                r = read (fd, buf + n, cap - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        break;
                n += (size_t) r;
        }
        if ((int64_t) n > left)
                return -EFBIG;
        *data = steal_pointer (&buf);
        *len = n;
        return 0;
}

/* One matching entry that is a regular file as far as fstatat saw. */
static void
take_file (struct walk *w, int dirfd, const char *name, const char *path)
{
        struct outfiles *o = w->out;
        cleanup_close int fd = -1;
        struct stat st;
        struct outfile *grown;
        char *data = NULL;
        size_t len = 0;
        int ret;

        if (w->full) {
                o->omitted++;
                return;
        }
        if (! valid_utf8 (path))
                OMIT_RETURN ("a matching file's name is not valid UTF-8");
        if (o->nfiles >= w->lim->max_files) {
                w->full = true;
                OMIT_RETURN ("more files matched than the %zu an answer may hold",
                             w->lim->max_files);
        }
        /* O_NONBLOCK: a FIFO swapped in since fstatat must not block us. */
        fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                OMIT_RETURN ("%s: cannot open: %s", path, strerror (errno));
        if (fstat (fd, &st) < 0)
                OMIT_RETURN ("%s: %s", path, strerror (errno));
        if (! S_ISREG (st.st_mode))
                OMIT_RETURN ("%s is not a regular file", path);
        ret = read_bounded (fd, st.st_size, w->lim->max_bytes - w->bytes, &data, &len);
        if (ret == -EFBIG) {
                w->full = true;
                OMIT_RETURN ("%s and what came after it would pass the %" PRId64
                             " bytes an answer's files may hold",
                             path, w->lim->max_bytes);
        }
        if (ret == -ENOMEM) {
                w->oom = true;
                return;
        }
        if (ret < 0)
                OMIT_RETURN ("%s: cannot read: %s", path, strerror (-ret));
        grown = realloc (o->files, (o->nfiles + 1) * sizeof (*grown));
        if (grown == NULL || (grown[o->nfiles].name = strdup (path)) == NULL) {
                if (grown)
                        o->files = grown;
                free (data);
                w->oom = true;
                return;
        }
        o->files = grown;
        grown[o->nfiles].size = st.st_size;
        grown[o->nfiles].data = data;
        grown[o->nfiles].len = len;
        o->nfiles++;
        w->bytes += (int64_t) len;
}

/* The directory open on own_fd (closed here), at path ("" for /work
 * itself), depth levels down. */
static void
walk_dir (struct walk *w, int own_fd, const char *path, int depth)
{
        cleanup_closedir DIR *d = fdopendir (own_fd);
        struct dirent *de;

        if (d == NULL) {
                close (own_fd);
                return;
        }
        while (! w->oom && (de = readdir (d)) != NULL) {
                char sub[4096];
                struct stat st;

                if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
                        continue;
                if (++w->visits > OUTFILES_MAX_VISITS) {
                        if (! w->out->error[0])
                                snprintf (w->out->error, sizeof (w->out->error),
                                          "the work dir holds more than %d entries: the search "
                                          "stopped there",
                                          OUTFILES_MAX_VISITS);
                        return;
                }
                if ((size_t) snprintf (sub, sizeof (sub), "%s%s%s", path, *path ? "/" : "",
                                       de->d_name)
                    >= sizeof (sub))
                        continue; /* no glob (255 bytes) names a path this long */
                if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone since it was listed */
                if (S_ISDIR (st.st_mode)) {
                        int fd;

                        if (! worth_entering (w, sub))
                                continue;
                        if (depth + 1 >= OUTFILES_MAX_DEPTH) {
                                if (! w->out->error[0])
                                        snprintf (w->out->error, sizeof (w->out->error),
                                                  "directories deeper than %d levels were not "
                                                  "searched",
                                                  OUTFILES_MAX_DEPTH);
                                continue;
                        }
                        fd = openat (dirfd (d), de->d_name,
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                        if (fd >= 0)
                                walk_dir (w, fd, sub, depth + 1);
                        if (w->visits > OUTFILES_MAX_VISITS)
                                return;
                        continue;
                }
                if (! matches (w, sub))
                        continue;
                if (S_ISLNK (st.st_mode))
                        omit (w, "%s is a symbolic link: links are never followed", sub);
                else if (! S_ISREG (st.st_mode))
                        omit (w, "%s is not a regular file", sub);
                else
                        take_file (w, dirfd (d), de->d_name, sub);
        }
}

static int
by_name (const void *a, const void *b)
{
        return strcmp (((const struct outfile *) a)->name, ((const struct outfile *) b)->name);
}

int
outfiles_collect (int workfd, char *const *globs, size_t nglobs, const struct outfiles_limits *lim,
                  struct outfiles *out)
{
        struct walk w = { .globs = globs, .nglobs = nglobs, .lim = lim, .out = out };
        int fd;

        memset (out, 0, sizeof (*out));
        out->requested = true;
        /* A dir of its own for fdopendir, which takes the fd; reopened
         * through "." so that the caller's keeps its offset. */
        fd = openat (workfd, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                snprintf (out->error, sizeof (out->error), "cannot open the work dir: %s",
                          strerror (errno));
                return 0;
        }
        walk_dir (&w, fd, "", 0);
        if (w.oom) {
                outfiles_clear (out);
                return -ENOMEM;
        }
        if (out->nfiles > 1)
                qsort (out->files, out->nfiles, sizeof (*out->files), by_name);
        return 0;
}

void
outfiles_clear (struct outfiles *o)
{
        for (size_t i = 0; i < o->nfiles; i++) {
                free (o->files[i].name);
                free (o->files[i].data);
        }
        free (o->files);
        memset (o, 0, sizeof (*o));
}

yajl_gen_status
outfiles_gen (yajl_gen g, const struct outfiles *o)
{
        yajl_gen_status st = yajl_gen_status_ok;

        GEN_STR ("files");
        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < o->nfiles; i++) {
                const struct outfile *f = &o->files[i];
                cleanup_free char *b64 = NULL;
                size_t n;

                if (ce_base64_encode (f->data, f->len, &b64, &n) < 0) {
                        st = yajl_gen_generation_complete; /* any failure: out of memory */
                        goto fail;
                }
                GEN (yajl_gen_map_open (g));
                GEN_KV_STR ("name", f->name);
                GEN_KV_INT ("size", f->len);
                GEN_KV_STR ("encoding", "base64");
                GEN_STR ("content");
                GEN_STRN (b64, n);
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
        GEN_KV_INT ("files_omitted", o->omitted);
        GEN_STR ("files_error");
        if (! o->requested) {
                GEN_STR ("the program did not run, or its client left: nothing was collected");
        } else if (o->error[0]) {
                /* It may quote a name the program chose, cut anywhere. */
                cleanup_free char *msg = NULL;
                size_t n;

                if (ce_utf8_sanitize (o->error, strlen (o->error), &msg, &n) < 0) {
                        st = yajl_gen_generation_complete;
                        goto fail;
                }
                GEN_STRN (msg, n);
        } else {
                GEN (yajl_gen_null (g));
        }
fail:
        return st;
}
