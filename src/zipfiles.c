/*
 * zipfiles.c - a client's zip archive, checked and read in memory
 * (zipfiles.h).
 *
 * libzip parses the archive from the caller's buffer (a buffer source that
 * does not copy or free it); nothing touches the file system.  Two passes:
 *
 * The first reads metadata only (the central directory, which zip_open has
 * parsed and, with ZIP_CHECKCONS, checked against the local headers): each
 * entry's name, kind, encryption, compression method and declared size.
 * Every refusal the rules can make from those costs no decompression, and
 * an archive whose declared sizes already pass max_total_bytes is refused
 * before a byte is inflated.
 *
 * The second inflates the files one at a time, each into a buffer of its
 * declared size plus one byte, and stops at the first byte past that size
 * (-EFBIG).  A header's size is only a claim, and a zip bomb is an entry
 * that inflates to far more than it claims, or many entries that claim
 * little; but since the claims were added up against max_total_bytes in
 * the first pass, what is inflated, and what is allocated, never passes
 * max_total_bytes plus one byte an entry, whatever the compressed streams
 * hold.  Overlapping entries (several central entries on the same data)
 * are each counted as an entry of their own, so they are bounded alike.  Inflating
 * costs time in proportion to what it produces (bounded so) and to what it
 * consumes (the archive, bounded by max_archive_bytes), so there is no
 * compression-ratio rule: it would add no bound and would refuse honest,
 * repetitive files (a test input of a million equal lines compresses far
 * beyond 1000:1).  libzip checks each entry's CRC at its end, and an entry
 * shorter than it claims is refused too.
 *
 * Names are read with ZIP_FL_ENC_GUESS: bytes that are valid UTF-8 are
 * kept as they are (what unzip on Linux would create), anything else is
 * read as the spec's CP437 and converted, so a name handed out is always
 * UTF-8.  The path rules are request_check_file_name's, the ones every
 * front-end's file names follow, with two more for archives: no backslash
 * (a Windows separator, which some unzippers turn into '/'), and a name
 * ending in '/' is a directory: checked, then left out, since the files'
 * paths imply it.  Two entries of the same name, as read, make zip_open
 * fail (ZIP_CHECKCONS), so the first pass sees distinct names and looks
 * only for a file that is also a directory or lies below a file.  A NUL
 * in a name never reaches us: libzip reads it as a space ("a\0b" is
 * "a b"), a name like any other.
 */
#include "zipfiles.h"

#include <string.h>
#include <sys/stat.h>

#include <zip.h>

#include "request.h"

#define SHOWN_MAX 96 /* bytes of a name quoted in a message */

/* One entry of the archive that the first pass kept; name is libzip's,
 * valid while the archive is open. */
struct item {
        zip_uint64_t index;
        const char *name;
        size_t name_len;
        bool dir;
        zip_uint64_t size; /* declared, uncompressed */
};

struct entries {
        struct zipfiles_entry *v;
        size_t n;
};

static void
cleanup_zip_discardp (zip_t **za)
{
        if (*za)
                zip_discard (*za);
}

static void
cleanup_zip_fclosep (zip_file_t **f)
{
        if (*f)
                zip_fclose (*f);
}

static void
cleanup_entriesp (struct entries *e)
{
        zipfiles_free (e->v, e->n);
}

#define cleanup_zip __attribute__ ((cleanup (cleanup_zip_discardp)))
#define cleanup_zip_file __attribute__ ((cleanup (cleanup_zip_fclosep)))
#define cleanup_entries __attribute__ ((cleanup (cleanup_entriesp)))

/* name as it can go in a message: printable ASCII as it is, every other
 * byte as \xHH, cut after SHOWN_MAX bytes. */
static void
show (const char *name, char *buf, size_t size)
{
        size_t o = 0;

        for (size_t i = 0; name[i] && o + 8 < size; i++) {
                unsigned char c = (unsigned char) name[i];

                if (i == SHOWN_MAX) {
                        o += (size_t) snprintf (buf + o, size - o, "...");
                        break;
                }
                if (c >= 0x20 && c < 0x7f)
                        buf[o++] = (char) c;
                else
                        o += (size_t) snprintf (buf + o, size - o, "\\x%02x", c);
        }
        buf[o] = '\0';
}

/* Refuse the entry name: "LABEL: entry 'NAME' <fmt>", code EINVAL or EFBIG. */
static int __attribute__ ((format (printf, 5, 6)))
refuse_entry (struct ce_error *err, int code, const char *label, const char *name, const char *fmt,
              ...)
{
        char shown[4 * SHOWN_MAX + 8], why[256];
        va_list ap;

        show (name, shown, sizeof (shown));
        va_start (ap, fmt);
        vsnprintf (why, sizeof (why), fmt, ap);
        va_end (ap);
        return ce_fail (err, code, "%s: entry '%s' %s", label, shown, why);
}

/* A libzip error: ENOMEM as it is, anything else the archive's fault. */
static int
zip_failure (struct ce_error *err, zip_error_t *ze, const char *label, const char *name)
{
        if (zip_error_code_zip (ze) == ZIP_ER_MEMORY)
                return ce_fail (err, ENOMEM, "out of memory");
        if (name)
                return refuse_entry (err, EINVAL, label, name, "cannot be read: %s",
                                     zip_error_strerror (ze));
        /* zip_open's, with ZIP_CHECKCONS: it does not say which name. */
        if (zip_error_code_zip (ze) == ZIP_ER_EXISTS)
                return ce_fail (err, EINVAL, "%s: two entries have the same name", label);
        return ce_fail (err, EINVAL, "%s: not a readable zip archive: %s", label,
                        zip_error_strerror (ze));
}

/* Whether name has a ".." part. */
static bool
has_dotdot (const char *name, size_t len)
{
        return (len == 2 && memcmp (name, "..", 2) == 0) || strncmp (name, "../", 3) == 0
               || (len >= 3 && memcmp (name + len - 3, "/..", 3) == 0) || strstr (name, "/../");
}

static int
check_name (const struct item *it, const char *label, struct ce_error *err)
{
        /* A directory's name without its one trailing '/'. */
        size_t len = it->name_len - (it->dir ? 1 : 0);
        const char *why;

        if (memchr (it->name, '\\', it->name_len))
                return refuse_entry (err, EINVAL, label, it->name,
                                     "has a backslash (paths are separated by '/')");
        if (it->name[0] == '/')
                return refuse_entry (err, EINVAL, label, it->name, "is an absolute path");
        if (has_dotdot (it->name, len))
                return refuse_entry (err, EINVAL, label, it->name,
                                     "leaves the program's directory (a '..' part)");
        if (request_check_file_name (it->name, len, &why) < 0)
                return refuse_entry (err, EINVAL, label, it->name, "%s", why);
        return 0;
}

/* The kind of entry it, from the Unix st_mode in the upper 16 bits of its
 * external attributes.  Info-ZIP and Python write it under the Unix host;
 * some writers put one there under other hosts too, so it is read
 * whatever the host.  No mode, or permission bits without a file type,
 * says nothing: the name decides. */
static int
check_kind (zip_t *za, const struct item *it, const char *label, struct ce_error *err)
{
        zip_uint32_t attr;
        mode_t mode;

        if (zip_file_get_external_attributes (za, it->index, 0, NULL, &attr) < 0)
                return zip_failure (err, zip_get_error (za), label, it->name);
        mode = (mode_t) (attr >> 16);
        if ((mode & S_IFMT) == 0)
                return 0;
        if (S_ISLNK (mode))
                return refuse_entry (err, EINVAL, label, it->name, "is a symbolic link");
        if (! S_ISREG (mode) && ! S_ISDIR (mode))
                return refuse_entry (err, EINVAL, label, it->name,
                                     "is not a regular file or a directory (mode 0%o)",
                                     (unsigned) mode);
        if (S_ISDIR (mode) && ! it->dir)
                return refuse_entry (err, EINVAL, label, it->name,
                                     "is a directory without a trailing '/'");
        return 0;
}

/* Whether entries a and b cannot both be: two files of the same name, or
 * one a directory of the other; a file and a directory that is the file
 * or below it.  Directories never clash with each other. */
static bool
clash (const struct item *a, const struct item *b)
{
        if (a->dir && b->dir)
                return false;
        if (a->dir)
                return clash (b, a);
        if (b->dir) /* b's name ends in '/' */
                return strncmp (b->name, a->name, a->name_len) == 0 && b->name[a->name_len] == '/';
        return request_names_clash (a->name, b->name);
}

/* The first pass: entry i checked against the rules and the earlier kept
 * items items[0..kept), then kept in items[kept].  *files and *total count
 * the files and their declared bytes. */
static int
check_entry (zip_t *za, zip_uint64_t i, const struct zipfiles_params *p, const char *label,
             struct item *items, size_t kept, size_t *files, size_t *total, struct ce_error *err)
{
        struct item *it = &items[kept];
        zip_stat_t st;
        int ret;

        if (zip_stat_index (za, i, ZIP_FL_ENC_GUESS, &st) < 0)
                return zip_failure (err, zip_get_error (za), label, NULL);
        if (! (st.valid & ZIP_STAT_NAME) || ! (st.valid & ZIP_STAT_SIZE))
                return ce_fail (err, EINVAL, "%s: entry %llu has no name or size", label,
                                (unsigned long long) i);
        /* "./a/b" is "a/b": zip tools and Judge0's own SDK write names so,
         * and unzip reads them so.  Nothing else is rewritten. */
        while (strncmp (st.name, "./", 2) == 0 && st.name[2] != '\0')
                st.name += 2;
        *it = (struct item){ .index = i, .name = st.name, .name_len = strlen (st.name) };
        it->dir = it->name_len > 0 && st.name[it->name_len - 1] == '/';
        it->size = st.size;
        if ((ret = check_name (it, label, err)) < 0 || (ret = check_kind (za, it, label, err)) < 0)
                return ret;
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
                return refuse_entry (err, EINVAL, label, it->name, "is encrypted");
        if ((st.valid & ZIP_STAT_COMP_METHOD)
            && ! zip_compression_method_supported (st.comp_method, 0))
                return refuse_entry (err, EINVAL, label, it->name,
                                     "uses compression method %u, which this server cannot read",
                                     (unsigned) st.comp_method);
        if (it->dir && st.size > 0)
                return refuse_entry (err, EINVAL, label, it->name, "is a directory with content");
        for (size_t j = 0; j < kept; j++) {
                char other[4 * SHOWN_MAX + 8];

                if (! clash (it, &items[j]))
                        continue;
                show (items[j].name, other, sizeof (other));
                return refuse_entry (err, EINVAL, label, it->name, "clashes with entry '%s'",
                                     other);
        }
        if (it->dir)
                return 0;
        if (++*files > p->max_entries)
                return ce_fail (err, EFBIG, "%s: more than %zu files", label, p->max_entries);
        if (st.size >= SIZE_MAX || st.size > p->max_total_bytes - *total)
                return refuse_entry (err, EFBIG, label, it->name,
                                     "takes the files past %zu bytes uncompressed",
                                     p->max_total_bytes);
        *total += (size_t) st.size;
        return 0;
}

/* The second pass: inflate the file it into e, reading no more than one
 * byte past its declared size. */
static int
read_entry (zip_t *za, const struct item *it, const char *label, struct zipfiles_entry *e,
            struct ce_error *err)
{
        cleanup_zip_file zip_file_t *f = zip_fopen_index (za, it->index, 0);
        cleanup_free char *data = NULL;
        size_t len = 0;

        if (f == NULL)
                return zip_failure (err, zip_get_error (za), label, it->name);
        data = malloc ((size_t) it->size + 1);
        if (data == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        for (;;) {
                zip_int64_t got = zip_fread (f, data + len, (size_t) it->size + 1 - len);

                if (got < 0)
                        return zip_failure (err, zip_file_get_error (f), label, it->name);
                if (got == 0)
                        break;
                len += (size_t) got;
                if (len > it->size)
                        return refuse_entry (err, EFBIG, label, it->name,
                                             "inflates to more than the %llu bytes it declares",
                                             (unsigned long long) it->size);
        }
        if (len < it->size)
                return refuse_entry (err, EINVAL, label, it->name,
                                     "inflates to fewer than the %llu bytes it declares",
                                     (unsigned long long) it->size);
        data[len] = '\0';
        e->name = strdup (it->name);
        if (e->name == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        e->data = steal_pointer (&data); /* owned by e */
        e->len = len;
        return 0;
}

int
zipfiles_unpack (const void *zip, size_t len, const struct zipfiles_params *p,
                 struct zipfiles_entry **out, size_t *n, struct ce_error *err)
{
        const char *label = p->label ? p->label : "archive";
        cleanup_zip zip_t *za = NULL;
        cleanup_free struct item *items = NULL;
        cleanup_entries struct entries files = { NULL, 0 };
        size_t kept = 0, nfiles = 0, total = 0;
        zip_source_t *src;
        zip_error_t ze;
        zip_int64_t count;
        int ret;

        *out = NULL;
        *n = 0;
        if (len > p->max_archive_bytes)
                return ce_fail (err, EFBIG, "%s: larger than %zu bytes", label,
                                p->max_archive_bytes);
        /* libzip reads zero bytes as an empty archive; unzip does not. */
        if (len == 0)
                return ce_fail (err, EINVAL, "%s: empty, not a zip archive", label);
        zip_error_init (&ze);
        src = zip_source_buffer_create (zip, len, 0, &ze);
        if (src)
                za = zip_open_from_source (src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
        if (za == NULL) {
                ret = zip_failure (err, &ze, label, NULL);
                zip_source_free (src); /* NULL or still ours: zip_open failed */
                zip_error_fini (&ze);
                return ret;
        }
        zip_error_fini (&ze);
        /* src is owned by za. */

        count = zip_get_num_entries (za, 0);
        if (count < 0)
                return zip_failure (err, zip_get_error (za), label, NULL);
        /* Bounded before anything is allocated for the entries. */
        if ((zip_uint64_t) count > ZIPFILES_MAX_DIRS
            && (zip_uint64_t) count - ZIPFILES_MAX_DIRS > p->max_entries)
                return ce_fail (err, EFBIG, "%s: more than %zu entries", label,
                                p->max_entries + ZIPFILES_MAX_DIRS);
        items = calloc ((size_t) count + 1, sizeof (*items));
        if (items == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        for (zip_uint64_t i = 0; i < (zip_uint64_t) count; i++) {
                ret = check_entry (za, i, p, label, items, kept, &nfiles, &total, err);
                if (ret < 0)
                        return ret;
                kept++;
        }

        if (nfiles == 0)
                return 0;
        files.v = calloc (nfiles, sizeof (*files.v));
        if (files.v == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        for (size_t i = 0; i < kept; i++) {
                if (items[i].dir)
                        continue;
                ret = read_entry (za, &items[i], label, &files.v[files.n], err);
                if (ret < 0)
                        return ret;
                files.n++;
        }
        *n = files.n;
        *out = steal_pointer (&files.v); /* owned by the caller */
        files.n = 0;
        return 0;
}

void
zipfiles_free (struct zipfiles_entry *e, size_t n)
{
        for (size_t i = 0; e && i < n; i++) {
                free (e[i].name);
                free (e[i].data);
        }
        free (e);
}
