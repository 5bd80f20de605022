/*
 * outfiles.h - the files a run leaves in its /work that the request asked
 * back for (output_files): found, bounded and read on the host.
 *
 * The run's work dir (slot.h) was written by the program: hostile.  It is
 * walked with openat from an fd opened O_DIRECTORY | O_NOFOLLOW, never
 * following a link; only regular files whose relative path matches one of
 * the request's globs (fnmatch, FNM_PATHNAME | FNM_PERIOD) are read, each
 * opened O_NOFOLLOW | O_NONBLOCK and checked with fstat, and never more
 * than the bytes left in the budget plus one.  A bound reached stops the
 * collection and is reported; it is never an error of the execution.
 *
 * Called on the pool worker that ran the execution, after the run's
 * container has ended and before the work dir is removed.  The result is
 * owned by the exec_result it is in (result.h).
 */
#ifndef CE_OUTFILES_H
#define CE_OUTFILES_H

#include <yajl/yajl_gen.h>

#include "common.h"

/* How deep the walk goes below /work, and how many entries it looks at in
 * all (a program can make many more than it may hand back). */
#define OUTFILES_MAX_DEPTH 16
#define OUTFILES_MAX_VISITS 100000

/* The server's bounds (--max-output-files, --max-output-files-bytes). */
struct outfiles_limits {
        size_t max_files;
        int64_t max_bytes; /* the files' contents together */
};

struct outfile {
        char *name;   /* relative to /work, e.g. "out/plot.png"; valid UTF-8 */
        int64_t size; /* st_size when it was opened */
        char *data;   /* its bytes as read (may hold NUL), malloc'd */
        size_t len;   /* bytes read: size, unless it changed under the read */
};

struct outfiles {
        bool requested;        /* the request had output_files: answers carry "files" */
        struct outfile *files; /* sorted by name */
        size_t nfiles;
        size_t omitted;  /* files that matched but are not in files[] */
        char error[256]; /* why the first of them was left out; "" when none was */
};

/* Collect into *out (zeroed first; out->requested set) the files under
 * workfd (borrowed, open on the run's /work) that match one of globs
 * (nglobs, checked by request_check_glob), within lim.  0, or -ENOMEM (what
 * was collected is freed).  Anything the program did to the dir ends as
 * omitted files and a message, never as a failure. */
int outfiles_collect (int workfd, char *const *globs, size_t nglobs,
                      const struct outfiles_limits *lim, struct outfiles *out);

/* Free what o holds and zero it.  A zeroed o is fine. */
void outfiles_clear (struct outfiles *o);

/* Inside an open JSON map: "files": [{"name", "size", "encoding":
 * "base64", "content"}], "files_omitted": N, "files_error": "..." or null
 * (the front-ends' answers share this shape; they write it when the
 * request had output_files).  An o never collected (no run) says so in
 * files_error. */
yajl_gen_status outfiles_gen (yajl_gen g, const struct outfiles *o);

#endif
