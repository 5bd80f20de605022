/*
 * treecopy.c - copying a tree without trusting it (treecopy.h).
 */
#include "treecopy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#define COPY_CHUNK (128 * 1024)

struct copy_budget {
        int64_t bytes;
        size_t files;
        int64_t max_bytes;
        size_t max_files;
        char *buf; /* COPY_CHUNK */
};

static int
charge (struct copy_budget *b, int64_t bytes)
{
        b->files++;
        b->bytes += TREE_BLOCK + tree_rounded (bytes);
        return b->files > b->max_files || b->bytes > b->max_bytes ? -EFBIG : 0;
}

/* Copy the regular file `name` in from into `to`: at most what is left of
 * the budget, whatever the file claims its size is. */
static int
copy_file (int from, int to, const char *name, struct copy_budget *b)
{
        cleanup_close int in = openat (from, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        cleanup_close int out = -1;
        struct stat st;
        ssize_t n;

        if (in < 0)
                return -errno;
        if (fstat (in, &st) < 0)
                return -errno;
        if (! S_ISREG (st.st_mode))
                return -EPERM; /* swapped since fstatat */
        if (charge (b, st.st_size) < 0)
                return -EFBIG;
        /* Readable by all, executable by all if by anyone; nothing else. */
        out = openat (to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      (st.st_mode & 0111) ? 0755 : 0644);
        if (out < 0)
                return -errno;
        if (fchmod (out, (st.st_mode & 0111) ? 0755 : 0644) < 0)
                return -errno;
        for (int64_t copied = 0;;) {
                n = read (in, b->buf, COPY_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                copied += n;
                /* It grew after fstat: charge what it has now. */
                if (copied > st.st_size && (b->bytes += n) > b->max_bytes)
                        return -EFBIG;
                if (ce_write_all (out, b->buf, (size_t) n) < 0)
                        return -errno;
        }
        return 0;
}

static int copy_dir (int from, int to, struct copy_budget *b, int depth);

static int
copy_entry (int from, int to, const char *name, struct copy_budget *b, int depth)
{
        struct stat st;

        if (fstatat (from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISREG (st.st_mode))
                return copy_file (from, to, name, b);
        if (S_ISLNK (st.st_mode)) {
                char target[4096];
                ssize_t n = readlinkat (from, name, target, sizeof (target) - 1);

                if (n < 0)
                        return -errno;
                target[n] = '\0';
                if (charge (b, 0) < 0)
                        return -EFBIG;
                return symlinkat (target, to, name) < 0 ? -errno : 0;
        }
        if (S_ISDIR (st.st_mode)) {
                cleanup_close int sub_from = -1;
                cleanup_close int sub_to = -1;

                if (depth >= TREE_MAX_DEPTH)
                        return -ELOOP;
                if (charge (b, 0) < 0)
                        return -EFBIG;
                sub_from = openat (from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub_from < 0)
                        return -errno;
                if (mkdirat (to, name, 0755) < 0)
                        return -errno;
                sub_to = openat (to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub_to < 0 || fchmod (sub_to, 0755) < 0)
                        return -errno;
                return copy_dir (sub_from, sub_to, b, depth + 1);
        }
        return 0; /* a FIFO, socket or device: not part of a build */
}

static int
copy_dir (int from, int to, struct copy_budget *b, int depth)
{
        int fd = fcntl (from, F_DUPFD_CLOEXEC, 3);
        cleanup_closedir DIR *d = NULL;
        struct dirent *de;

        if (fd < 0)
                return -errno;
        d = fdopendir (fd);
        if (d == NULL) {
                close (fd);
                return -errno;
        }
        rewinddir (d); /* the dup shares from's offset */
        while ((errno = 0, de = readdir (d)) != NULL) {
                int ret;

                if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
                        continue;
                ret = copy_entry (from, to, de->d_name, b, depth);
                if (ret < 0)
                        return ret;
        }
        return errno ? -errno : 0;
}

int
tree_copy (int from, int to, int64_t max_bytes, size_t max_files, int64_t *bytes)
{
        struct copy_budget b = { .max_bytes = max_bytes, .max_files = max_files };
        int ret;

        b.buf = malloc (COPY_CHUNK);
        if (b.buf == NULL)
                return -ENOMEM;
        ret = copy_dir (from, to, &b, 0);
        free (b.buf);
        *bytes = b.bytes;
        return ret;
}

static int64_t
walk_bytes (int dirfd, int depth)
{
        int fd = fcntl (dirfd, F_DUPFD_CLOEXEC, 3);
        cleanup_closedir DIR *d = NULL;
        struct dirent *de;
        int64_t sum = 0;

        if (fd < 0 || depth > TREE_MAX_DEPTH)
                return fd < 0 ? -errno : -ELOOP;
        d = fdopendir (fd);
        if (d == NULL) {
                close (fd);
                return -errno;
        }
        rewinddir (d);
        while ((de = readdir (d)) != NULL) {
                struct stat st;

                if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
                        continue;
                if (fstatat (dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                sum += TREE_BLOCK + (S_ISREG (st.st_mode) ? tree_rounded (st.st_size) : 0);
                if (S_ISDIR (st.st_mode)) {
                        cleanup_close int sub = openat (
                                dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        int64_t n = sub < 0 ? -errno : walk_bytes (sub, depth + 1);

                        if (n < 0)
                                return n;
                        sum += n;
                }
        }
        return sum;
}

int64_t
tree_disk_bytes (int dirfd)
{
        return walk_bytes (dirfd, 0);
}
