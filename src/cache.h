/*
 * cache.h - the compile cache: a compile's outcome, found again by
 * everything that decided it.
 *
 * The key is a SHA-256 over what decides a build (execution.c feeds it: the
 * bundle's tree, the language, the compile's command line, environment and
 * limits, every source file's name and bytes).  An entry is a directory
 * STATE/cache/<the key in hex>:
 *
 *   build/     the compile's /build, copied out of its finished work dir:
 *              directories, regular files (no setuid, setgid or sticky bit;
 *              readable by all) and symbolic links (copied as links, never
 *              followed); FIFOs, sockets and devices are left out, hard links
 *              become separate files; bounded in bytes, files and depth
 *   result     the compile's status, exit, signal and usage, as text
 *   stdout, stderr, combined   the compiler's output, raw
 *
 * written under a temporary name and renamed into place once whole, never
 * changed after.  A hit copies build/ into the new execution's own /build,
 * which its run container mounts read-only: no container ever sees an entry
 * itself, and a warm run container, made before the request was known, can
 * serve a hit as it is.
 *
 * Single flight: the first execution that misses a key builds it (BUILD);
 * those that ask for the same key meanwhile wait for it, and hit if it was
 * stored (or compile on their own if it was not, or after waiting too long).
 * Entries are evicted least recently used first when the cache passes its
 * size; an entry being copied from is removed only once the copy is done.
 *
 * Across restarts: the entries stay and are found again at start-up, when
 * the machine has not rebooted since they were written (a stamp holds the
 * boot id).  After a reboot the cache starts empty: entries are not
 * fsync'ed, and a crash of the machine could have left a renamed entry with
 * lost data, which a restart of the server alone never does.
 *
 * Every function is thread-safe.
 */
#ifndef CE_CACHE_H
#define CE_CACHE_H

#include <nettle/sha2.h>
#include <yajl/yajl_gen.h>

#include "common.h"
#include "runner.h"

struct compile_cache;

struct cache_params {
        const char *dir;         /* absolute; created 0700 when missing */
        int64_t limit_bytes;     /* > 0: the whole cache on disk */
        int64_t entry_max_bytes; /* an entry's build: larger ones are not stored */
        size_t entry_max_files;  /* and its files, directories and links */
};

/* Open (or create) the cache under p->dir, finding the entries an earlier
 * instance left when the machine has not rebooted since, and removing
 * everything else there.  *out: free with cache_free. */
int cache_open (const struct cache_params *p, struct compile_cache **out, struct ce_error *err);

/* After every execution that used it has ended.  NULL is fine. */
void cache_free (struct compile_cache *c);

/* GET /ready's "compile_cache" object (enabled, entries, bytes, limit_bytes,
 * hits, misses, stores, evictions, waits, not_stored). */
yajl_gen_status cache_gen (struct compile_cache *c, yajl_gen g);

#define CACHE_KEY_HEX 64

/* A key, built field by field: every field is fed with its length first, so
 * that no two sequences of fields give the same bytes. */
struct cache_key {
        struct sha256_ctx ctx;
        char hex[CACHE_KEY_HEX + 1]; /* set by cache_key_finish */
};
void cache_key_init (struct cache_key *k);
void cache_key_add (struct cache_key *k, const void *data, size_t len);
void cache_key_add_str (struct cache_key *k, const char *s); /* NULL differs from "" */
void cache_key_add_int (struct cache_key *k, int64_t v);
void cache_key_add_strv (struct cache_key *k, char *const *v); /* NULL-terminated; NULL: none */
void cache_key_finish (struct cache_key *k);

enum cache_outcome {
        CACHE_BYPASS, /* no cache, or waited too long: compile, store nothing */
        CACHE_HIT,    /* cache_read_result and cache_fill_build serve it */
        CACHE_BUILD,  /* compile, then cache_store what it gave */
};

/* One execution's use of one key, from cache_begin to cache_end. */
struct cache_ticket {
        struct compile_cache *cache;
        struct cache_entry *entry;   /* HIT */
        struct cache_flight *flight; /* BUILD: others may wait on it */
        int entry_fd;                /* HIT: open on the entry's dir */
        enum cache_outcome outcome;
};

/* Look key up (c NULL: BYPASS).  When another execution is building the
 * same key, wait for it for at most wait_ms.  Always pair with cache_end. */
enum cache_outcome cache_begin (struct compile_cache *c, const struct cache_key *key,
                                int64_t wait_ms, struct cache_ticket *t);

/* HIT: the stored compile's result (its output copied into out, freed with
 * runner_result_clear) and whether it left a build (a failed compile did not). */
int cache_read_result (const struct cache_ticket *t, struct runner_result *out, bool *has_build,
                       struct ce_error *err);

/* HIT: copy the entry's build into the directory build_fd (empty; the
 * caller's). */
int cache_fill_build (const struct cache_ticket *t, int build_fd, struct ce_error *err);

/* BUILD: store what the compile gave: result and, when build_fd >= 0, the
 * finished compile's build dir, which is hostile (copied as described
 * above, never followed).  Whether it is worth storing (a compile that hit a
 * limit is not) is the caller's to decide.  0: stored; <0: not (too large,
 * a file that could not be copied, or the disk), which only costs the hit. */
int cache_store (struct cache_ticket *t, int build_fd, const struct runner_result *result);

/* Done with the ticket: a BUILD that stored nothing lets its waiters compile
 * on their own.  Safe to call twice, and on a zeroed ticket. */
void cache_end (struct cache_ticket *t);

#endif
