/*
 * treecopy.h - copy a directory tree a hostile program wrote.
 *
 * Every name is opened relative to its directory with O_NOFOLLOW, a file
 * only after fstatat says it is regular and again fstat on what was opened
 * (O_NONBLOCK: a FIFO swapped in never blocks); symbolic links are copied
 * as links, FIFOs, sockets and devices are left out, modes become 0644 or
 * 0755 (no setuid, no group or world write), hard links become copies, and
 * the copy stops at its bounds.  The program that wrote the tree may be
 * gone or not: nothing here counts on it.  Any thread.
 */
#ifndef CE_TREECOPY_H
#define CE_TREECOPY_H

#include <stddef.h>
#include <stdint.h>

/* What a file takes on disk is counted in blocks of this. */
#define TREE_BLOCK 4096
/* Directories deep a tree may be; a copy stays within what
 * ce_remove_tree_at removes. */
#define TREE_MAX_DEPTH 24

static inline int64_t
tree_rounded (int64_t n)
{
        return (n + TREE_BLOCK - 1) / TREE_BLOCK * TREE_BLOCK;
}

/* Copy the tree in directory fd from into the empty directory fd to: at
 * most max_files entries and max_bytes (a block per entry plus each file's
 * size rounded up to blocks).  0, with *bytes what it took; -EFBIG past a
 * bound, -ELOOP too deep, or another -errno (a file gone or swapped
 * mid-copy).  What was copied before a failure stays: the caller removes
 * it. */
int tree_copy (int from, int to, int64_t max_bytes, size_t max_files, int64_t *bytes);

/* What the tree in dirfd takes on disk, counted as tree_copy counts it;
 * -ELOOP deeper than a copy makes, or -errno. */
int64_t tree_disk_bytes (int dirfd);

#endif
