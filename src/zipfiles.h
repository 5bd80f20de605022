/*
 * zipfiles.h - the files of a client's zip archive, read in memory.
 *
 * A front-end that takes an archive of extra files (Judge0's
 * additional_files) decodes it and hands the bytes here; what comes back is
 * a list of (relative path, bytes) pairs to add to the request with
 * request_check_file and request_add_file.  Nothing is written to disk and
 * nothing is followed: the archive is parsed in memory by libzip, and every
 * entry that could mean more than "a regular file at this relative path"
 * (an absolute or '..' path, a link, a device, an encrypted entry) is
 * refused rather than reinterpreted.
 */
#ifndef CE_ZIPFILES_H
#define CE_ZIPFILES_H

#include "common.h"

/* Directory entries are implied by the files' paths and handed out to no
 * one, but each costs a little to check: an archive of more than
 * max_entries + ZIPFILES_MAX_DIRS entries is refused before any is read. */
#define ZIPFILES_MAX_DIRS 1024

struct zipfiles_params {
        size_t max_entries;       /* files, directory entries aside */
        size_t max_total_bytes;   /* the files' uncompressed bytes, all together */
        size_t max_archive_bytes; /* the archive as given */
        const char *label;        /* names the archive in messages; NULL: "archive" */
};

struct zipfiles_entry {
        char *name; /* relative, accepted by request_check_file_name, unique */
        char *data; /* malloc'd, never NULL, with a NUL after len bytes */
        size_t len; /* the bytes may hold NULs */
};

/* Read the files of the zip archive zip (len bytes, not kept) into *out, an
 * array of *n entries in the archive's order (NULL and 0 for an archive
 * without files), which the caller frees with zipfiles_free.
 *
 * Returns 0, or with err filled: -EINVAL when the archive is not a zip, is
 * damaged, or holds an entry the rules refuse (the message names it, after
 * p->label); -EFBIG when it passes one of p's bounds, by its declared sizes
 * or, for an entry that lies, by the bytes it actually inflates to (never
 * more than one past its claim are read); -ENOMEM.  -EINVAL and -EFBIG are
 * the client's fault (a front-end refuses them, 400 or 413), and err's
 * http_status is never set here.  The names are unique among themselves;
 * whether they clash with the request's own files is request_check_file's
 * to say.  Any thread; no state is shared. */
int zipfiles_unpack (const void *zip, size_t len, const struct zipfiles_params *p,
                     struct zipfiles_entry **out, size_t *n, struct ce_error *err);

/* Free n entries and the array; e may be NULL. */
void zipfiles_free (struct zipfiles_entry *e, size_t n);

#endif
