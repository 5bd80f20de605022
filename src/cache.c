/*
 * cache.c - the compile cache (cache.h): entries on disk, an index of them
 * in memory, and the builds in flight.
 *
 * The index is a hash table of entries by key plus a list from the most to
 * the least recently used; both, the builds in flight and the counters are
 * guarded by the cache's one lock, which is never held across a copy: a
 * store copies into a temporary directory first and takes the lock only to
 * add the entry, and an evicted entry is renamed aside under the lock and
 * removed after it.  An entry a hit is copying from holds a reference, and
 * an entry evicted meanwhile is removed by the last one to let go.
 *
 * The copy out of a compile's /build, where the cache meets what a hostile
 * program wrote, is treecopy.h's.
 */
#include "cache.h"

#include "jsongen.h"
#include "treecopy.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_FORMAT "codeengine-compile-cache 1"
#define STAMP_NAME "stamp"
#define BUCKETS 1024
#define OUTPUT_MAX ((int64_t) 64 << 20)

struct cache_entry {
        char key[CACHE_KEY_HEX + 1];
        int64_t bytes; /* on disk, about */
        unsigned refs; /* tickets copying from it */
        bool indexed;  /* false: evicted; trash names its dir, removed at the last ref */
        char trash[CACHE_KEY_HEX + 1];   /* its dir's name once evicted */
        struct cache_entry *prev, *next; /* the LRU list: most recent first */
        struct cache_entry *hnext;       /* its bucket */
};

struct cache_flight {
        char key[CACHE_KEY_HEX + 1];
        bool done, stored;
        unsigned refs; /* the builder and its waiters */
        struct cache_flight *next;
};

struct compile_cache {
        struct cache_params p;
        char *dir;
        int dirfd;
        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t ended; /* a flight ended */
        struct cache_entry *buckets[BUCKETS];
        struct cache_entry *head, *tail;
        struct cache_flight *flights;
        size_t nentries;
        int64_t bytes;
        uint64_t hits, misses, stores, evictions, waits, not_stored, trash_seq;
};

/* ---- keys ---- */

void
cache_key_init (struct cache_key *k)
{
        sha256_init (&k->ctx);
        k->hex[0] = '\0';
        cache_key_add_str (k, CACHE_FORMAT);
}

void
cache_key_add (struct cache_key *k, const void *data, size_t len)
{
        uint8_t n[8];

        for (size_t i = 0; i < 8; i++)
                n[i] = (uint8_t) ((uint64_t) len >> (8 * i));
        sha256_update (&k->ctx, sizeof (n), n);
        if (len)
                sha256_update (&k->ctx, len, data);
}

void
cache_key_add_str (struct cache_key *k, const char *s)
{
        static const uint8_t absent = 0, present = 1;

        sha256_update (&k->ctx, 1, s ? &present : &absent);
        if (s)
                cache_key_add (k, s, strlen (s));
}

void
cache_key_add_int (struct cache_key *k, int64_t v)
{
        char text[32];

        snprintf (text, sizeof (text), "%" PRId64, v);
        cache_key_add_str (k, text);
}

void
cache_key_add_strv (struct cache_key *k, char *const *v)
{
        size_t n = 0;

        while (v && v[n])
                n++;
        cache_key_add_int (k, v ? (int64_t) n : -1);
        for (size_t i = 0; i < n; i++)
                cache_key_add_str (k, v[i]);
}

void
cache_key_finish (struct cache_key *k)
{
        uint8_t digest[SHA256_DIGEST_SIZE];

        sha256_digest (&k->ctx, sizeof (digest), digest);
        for (size_t i = 0; i < sizeof (digest); i++)
                snprintf (k->hex + 2 * i, 3, "%02x", digest[i]);
}

static bool
is_key_name (const char *s)
{
        size_t i;

        for (i = 0; s[i]; i++)
                if (! ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return i == CACHE_KEY_HEX;
}

/* ---- the index ---- */

static size_t
bucket_of (const char *key)
{
        return strtoul ((char[4]){ key[0], key[1], key[2], '\0' }, NULL, 16) % BUCKETS;
}

static struct cache_entry *
lookup (struct compile_cache *c, const char *key)
{
        for (struct cache_entry *e = c->buckets[bucket_of (key)]; e; e = e->hnext)
                if (strcmp (e->key, key) == 0)
                        return e;
        return NULL;
}

static void
lru_unlink (struct compile_cache *c, struct cache_entry *e)
{
        if (e->prev)
                e->prev->next = e->next;
        else
                c->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                c->tail = e->prev;
        e->prev = e->next = NULL;
}

static void
lru_push_front (struct compile_cache *c, struct cache_entry *e)
{
        e->prev = NULL;
        e->next = c->head;
        if (c->head)
                c->head->prev = e;
        c->head = e;
        if (c->tail == NULL)
                c->tail = e;
}

static void
lru_push_back (struct compile_cache *c, struct cache_entry *e)
{
        e->next = NULL;
        e->prev = c->tail;
        if (c->tail)
                c->tail->next = e;
        c->tail = e;
        if (c->head == NULL)
                c->head = e;
}

static void
index_add (struct compile_cache *c, struct cache_entry *e, bool recent)
{
        size_t b = bucket_of (e->key);

        e->hnext = c->buckets[b];
        c->buckets[b] = e;
        e->indexed = true;
        if (recent)
                lru_push_front (c, e);
        else
                lru_push_back (c, e);
        c->nentries++;
        c->bytes += e->bytes;
}

/* Out of the index and its dir renamed aside (lock held); the caller removes
 * it (entry_remove) once nobody copies from it. */
static void
index_drop (struct compile_cache *c, struct cache_entry *e)
{
        struct cache_entry **pp = &c->buckets[bucket_of (e->key)];

        while (*pp != e)
                pp = &(*pp)->hnext;
        *pp = e->hnext;
        lru_unlink (c, e);
        e->indexed = false;
        c->nentries--;
        c->bytes -= e->bytes;
        snprintf (e->trash, sizeof (e->trash), ".trash-%" PRIu64, ++c->trash_seq);
        if (renameat (c->dirfd, e->key, c->dirfd, e->trash) < 0) {
                ce_log ("warning: compile cache: cannot move %s aside: %s", e->key,
                        strerror (errno));
                snprintf (e->trash, sizeof (e->trash), "%s", e->key);
        }
}

/* Remove a dropped entry's dir and free it (lock not held). */
static void
entry_remove (struct compile_cache *c, struct cache_entry *e)
{
        if (ce_remove_tree_at (c->dirfd, e->trash) < 0)
                ce_log ("warning: compile cache: cannot remove %s", e->trash);
        free (e);
}

/* Evict from the least recently used end until the cache fits (lock held):
 * the entries nobody copies from are chained on *gone for entry_remove. */
static void
evict (struct compile_cache *c, struct cache_entry **gone)
{
        while (c->bytes > c->p.limit_bytes && c->tail) {
                struct cache_entry *e = c->tail;

                index_drop (c, e);
                c->evictions++;
                if (e->refs == 0) {
                        e->hnext = *gone;
                        *gone = e;
                }
        }
}

static void
remove_all (struct compile_cache *c, struct cache_entry *gone)
{
        while (gone) {
                struct cache_entry *next = gone->hnext;

                entry_remove (c, gone);
                gone = next;
        }
}

/* ---- start-up ---- */

/* CACHE_FORMAT and this boot's id: what the entries beside it were made under. */
static int
current_stamp (char *buf, size_t size)
{
        char boot[64] = "";
        int ret =
                ce_read_text_at (AT_FDCWD, "/proc/sys/kernel/random/boot_id", boot, sizeof (boot));

        if (ret < 0 || boot[0] == '\0')
                return ret < 0 ? ret : -EIO;
        boot[strcspn (boot, "\n")] = '\0';
        snprintf (buf, size, "%s\nboot %s\n", CACHE_FORMAT, boot);
        return 0;
}

struct found {
        struct cache_entry *e;
        struct timespec used;
};

static int
by_use_newest_first (const void *a, const void *b)
{
        const struct found *x = a, *y = b;

        if (x->used.tv_sec != y->used.tv_sec)
                return x->used.tv_sec < y->used.tv_sec ? 1 : -1;
        return x->used.tv_nsec < y->used.tv_nsec ? 1 : x->used.tv_nsec > y->used.tv_nsec ? -1 : 0;
}

/* Index the entries an earlier instance left (keep: the stamp matched) and
 * remove everything else; then evict down to the limit, oldest use first
 * (an entry's dir's mtime is its last use). */
static int
load_entries (struct compile_cache *c, bool keep, struct ce_error *err)
{
        int fd = fcntl (c->dirfd, F_DUPFD_CLOEXEC, 3);
        cleanup_closedir DIR *d = NULL;
        struct found *found = NULL;
        size_t n = 0, cap = 0;
        struct cache_entry *gone = NULL;
        struct dirent *de;

        if (fd < 0 || (d = fdopendir (fd)) == NULL) {
                if (fd >= 0)
                        close (fd);
                return ce_fail (err, errno, "%s: %s", c->dir, strerror (errno));
        }
        rewinddir (d);
        while ((de = readdir (d)) != NULL) {
                cleanup_close int efd = -1;
                struct stat st;
                char result[512];
                int64_t bytes = -1;

                if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0
                    || strcmp (de->d_name, STAMP_NAME) == 0)
                        continue;
                if (keep && is_key_name (de->d_name)) {
                        efd = openat (c->dirfd, de->d_name,
                                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (efd >= 0 && fstat (efd, &st) == 0
                            && ce_read_text_at (efd, "result", result, sizeof (result)) == 0)
                                bytes = tree_disk_bytes (efd);
                }
                if (bytes >= 0) {
                        struct cache_entry *e = calloc (1, sizeof (*e));
                        struct found *more =
                                n < cap ? found
                                        : reallocarray (found, cap = cap ? 2 * cap : 64,
                                                        sizeof (*found));

                        if (e == NULL || more == NULL) {
                                free (e);
                                for (size_t i = 0; i < n; i++)
                                        free (found[i].e);
                                free (found);
                                return ce_fail (err, ENOMEM, "out of memory");
                        }
                        found = more;
                        memcpy (e->key, de->d_name, CACHE_KEY_HEX);
                        e->key[CACHE_KEY_HEX] = '\0';
                        e->bytes = bytes;
                        found[n++] = (struct found){ e, st.st_mtim };
                        continue;
                }
                if (ce_remove_tree_at (c->dirfd, de->d_name) < 0)
                        ce_log ("warning: compile cache: cannot remove %s/%s", c->dir, de->d_name);
        }
        if (n > 1)
                qsort (found, n, sizeof (*found), by_use_newest_first);
        for (size_t i = 0; i < n; i++)
                index_add (c, found[i].e, false);
        free (found);
        evict (c, &gone);
        remove_all (c, gone);
        return 0;
}

int
cache_open (const struct cache_params *p, struct compile_cache **out, struct ce_error *err)
{
        struct compile_cache *c = calloc (1, sizeof (*c));
        char want[256], have[256] = "";
        int ret;

        *out = NULL;
        if (c == NULL || (c->dir = strdup (p->dir)) == NULL) {
                free (c);
                return ce_fail (err, ENOMEM, "out of memory");
        }
        c->p = *p;
        c->p.dir = c->dir;
        c->dirfd = -1;
        pthread_mutex_init (&c->lock, NULL);
        ret = ce_cond_init_monotonic (&c->ended);
        if (ret) {
                pthread_mutex_destroy (&c->lock);
                free (c->dir);
                free (c);
                return ce_fail (err, ret, "pthread_cond_init: %s", strerror (ret));
        }
        if (mkdir (p->dir, 0700) < 0 && errno != EEXIST) {
                ret = ce_fail (err, errno, "cannot create %s: %s", p->dir, strerror (errno));
                goto fail;
        }
        c->dirfd = open (p->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c->dirfd < 0 || fchmod (c->dirfd, 0700) < 0) {
                ret = ce_fail (err, errno, "cannot open %s: %s", p->dir, strerror (errno));
                goto fail;
        }
        ret = current_stamp (want, sizeof (want));
        if (ret < 0) {
                ret = ce_fail (err, -ret, "cannot read this boot's id");
                goto fail;
        }
        ce_read_text_at (c->dirfd, STAMP_NAME, have, sizeof (have));
        ret = load_entries (c, strcmp (want, have) == 0, err);
        if (ret < 0)
                goto fail;
        if (unlinkat (c->dirfd, STAMP_NAME, 0) < 0 && errno != ENOENT)
                ret = -errno;
        else
                ret = ce_write_file_at (c->dirfd, STAMP_NAME, want, strlen (want), 0600);
        if (ret < 0) {
                ret = ce_fail (err, -ret, "cannot write %s/%s: %s", p->dir, STAMP_NAME,
                               strerror (-ret));
                goto fail;
        }
        *out = c;
        return 0;
fail:
        cache_free (c);
        return ret;
}

void
cache_free (struct compile_cache *c)
{
        if (c == NULL)
                return;
        while (c->head) {
                struct cache_entry *e = c->head;

                lru_unlink (c, e);
                free (e);
        }
        while (c->flights) {
                struct cache_flight *f = c->flights;

                c->flights = f->next;
                free (f);
        }
        if (c->dirfd >= 0)
                close (c->dirfd);
        pthread_cond_destroy (&c->ended);
        pthread_mutex_destroy (&c->lock);
        free (c->dir);
        free (c);
}

/* The figures (lock held). */
static yajl_gen_status
gen_figures (const struct compile_cache *c, yajl_gen g)
{
        yajl_gen_status st;

        GEN_KV_INT ("entries", c->nentries);
        GEN_KV_INT ("bytes", c->bytes);
        GEN_KV_INT ("limit_bytes", c->p.limit_bytes);
        GEN_KV_INT ("hits", c->hits);
        GEN_KV_INT ("misses", c->misses);
        GEN_KV_INT ("stores", c->stores);
        GEN_KV_INT ("evictions", c->evictions);
        GEN_KV_INT ("waits", c->waits);
        GEN_KV_INT ("not_stored", c->not_stored);
fail:
        return st;
}

yajl_gen_status
cache_gen (struct compile_cache *c, yajl_gen g)
{
        yajl_gen_status st;

        GEN (yajl_gen_map_open (g));
        GEN_KV_BOOL ("enabled", c != NULL);
        if (c) {
                pthread_mutex_lock (&c->lock);
                st = gen_figures (c, g);
                pthread_mutex_unlock (&c->lock);
                GEN (st);
        }
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* ---- lookups, flights and stores ---- */

static struct cache_flight *
find_flight (struct compile_cache *c, const char *key)
{
        for (struct cache_flight *f = c->flights; f; f = f->next)
                if (strcmp (f->key, key) == 0)
                        return f;
        return NULL;
}

static void
flight_unref (struct cache_flight *f)
{
        if (--f->refs == 0)
                free (f);
}

enum cache_outcome
cache_begin (struct compile_cache *c, const struct cache_key *key, int64_t wait_ms,
             struct cache_ticket *t)
{
        struct timespec deadline = ce_deadline_after_ms (wait_ms);
        bool waited = false;

        memset (t, 0, sizeof (*t));
        t->entry_fd = -1;
        t->outcome = CACHE_BYPASS;
        if (c == NULL)
                return CACHE_BYPASS;
        t->cache = c;
        pthread_mutex_lock (&c->lock);
        for (;;) {
                struct cache_entry *e = lookup (c, key->hex);
                struct cache_flight *f;

                if (e) {
                        t->entry_fd = openat (c->dirfd, e->key,
                                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (t->entry_fd >= 0) {
                                e->refs++;
                                lru_unlink (c, e);
                                lru_push_front (c, e);
                                c->hits++;
                                t->entry = e;
                                t->outcome = CACHE_HIT;
                                break;
                        }
                        /* Gone from the disk under us: forget it. */
                        ce_log ("warning: compile cache: entry %s: %s", e->key, strerror (errno));
                        index_drop (c, e);
                        if (e->refs == 0) {
                                pthread_mutex_unlock (&c->lock);
                                entry_remove (c, e);
                                pthread_mutex_lock (&c->lock);
                        }
                        continue;
                }
                f = find_flight (c, key->hex);
                if (f == NULL && ! waited) {
                        f = calloc (1, sizeof (*f));
                        if (f == NULL)
                                break;
                        snprintf (f->key, sizeof (f->key), "%s", key->hex);
                        f->refs = 1;
                        f->next = c->flights;
                        c->flights = f;
                        c->misses++;
                        t->flight = f;
                        t->outcome = CACHE_BUILD;
                        break;
                }
                if (f == NULL)
                        break; /* it ended without storing: compile on our own */
                /* Someone builds it now: wait for that, once. */
                waited = true;
                c->waits++;
                f->refs++;
                while (! f->done)
                        if (pthread_cond_timedwait (&c->ended, &c->lock, &deadline) == ETIMEDOUT)
                                break;
                if (! f->done || ! f->stored) {
                        flight_unref (f);
                        break;
                }
                flight_unref (f);
        }
        pthread_mutex_unlock (&c->lock);
        if (t->outcome == CACHE_HIT)
                /* Its last use, for the order of eviction after a restart. */
                futimens (t->entry_fd, NULL);
        return t->outcome;
}

static int
parse_result (const char *text, struct runner_result *r, bool *has_build)
{
        int status, truncated, build;
        long long wall, cpu, mem;

        if (sscanf (text,
                    "status %d\nexit_code %d\nsignal %d\nwall_ms %lld\ncpu_ms %lld\n"
                    "memory_kb %lld\ntruncated %d\nbuild %d\n",
                    &status, &r->exit_code, &r->signal, &wall, &cpu, &mem, &truncated, &build)
                    != 8
            || status < RUN_OK || status > RUN_COMPILE_ERROR)
                return -EINVAL;
        r->status = (enum runner_status) status;
        r->wall_ms = wall;
        r->cpu_ms = cpu;
        r->memory_kb = mem;
        r->truncated = truncated != 0;
        *has_build = build != 0;
        return 0;
}

static int
read_output (int dirfd, const char *name, struct ce_buf *b)
{
        cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char chunk[16384];
        ssize_t n;

        if (fd < 0)
                return -errno;
        while ((n = read (fd, chunk, sizeof (chunk))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if ((int64_t) (b->len + (size_t) n) > OUTPUT_MAX
                    || ce_buf_append (b, chunk, (size_t) n) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int
cache_read_result (const struct cache_ticket *t, struct runner_result *out, bool *has_build,
                   struct ce_error *err)
{
        char text[512];
        int ret;

        memset (out, 0, sizeof (*out));
        ret = ce_read_text_at (t->entry_fd, "result", text, sizeof (text));
        if (ret == 0)
                ret = parse_result (text, out, has_build);
        if (ret == 0)
                ret = read_output (t->entry_fd, "combined", &out->out.combined);
        if (ret == 0)
                ret = read_output (t->entry_fd, "stdout", &out->out.stdout_buf);
        if (ret == 0)
                ret = read_output (t->entry_fd, "stderr", &out->out.stderr_buf);
        if (ret < 0) {
                runner_result_clear (out);
                return ce_fail (err, -ret, "compile cache entry %s: %s", t->entry->key,
                                strerror (-ret));
        }
        out->cached = true;
        return 0;
}

int
cache_fill_build (const struct cache_ticket *t, int build_fd, struct ce_error *err)
{
        cleanup_close int from =
                openat (t->entry_fd, "build", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int64_t bytes;
        int ret;

        if (from < 0)
                return ce_fail (err, errno, "compile cache entry %s: %s", t->entry->key,
                                strerror (errno));
        ret = tree_copy (from, build_fd, INT64_MAX, SIZE_MAX, &bytes);
        if (ret < 0)
                return ce_fail (err, -ret, "copying compile cache entry %s: %s", t->entry->key,
                                strerror (-ret));
        return 0;
}

static int
write_result (int dirfd, const struct runner_result *r, bool has_build)
{
        char text[512];
        const struct {
                const char *name;
                const struct ce_buf *b;
        } outputs[] = { { "combined", &r->out.combined },
                        { "stdout", &r->out.stdout_buf },
                        { "stderr", &r->out.stderr_buf } };
        int n = snprintf (text, sizeof (text),
                          "status %d\nexit_code %d\nsignal %d\nwall_ms %" PRId64 "\ncpu_ms %" PRId64
                          "\nmemory_kb %" PRId64 "\ntruncated %d\nbuild %d\n",
                          (int) r->status, r->exit_code, r->signal, r->wall_ms, r->cpu_ms,
                          r->memory_kb, r->truncated ? 1 : 0, has_build ? 1 : 0);
        int ret;

        for (size_t i = 0; i < sizeof (outputs) / sizeof (outputs[0]); i++) {
                ret = ce_write_file_at (dirfd, outputs[i].name,
                                        outputs[i].b->data ? outputs[i].b->data : "",
                                        outputs[i].b->len, 0600);
                if (ret < 0)
                        return ret;
        }
        /* Last: an entry without it is not one (start-up). */
        return ce_write_file_at (dirfd, "result", text, (size_t) n, 0600);
}

int
cache_store (struct cache_ticket *t, int build_fd, const struct runner_result *result)
{
        struct compile_cache *c = t->cache;
        struct cache_entry *e = NULL, *gone = NULL;
        cleanup_close int tmpfd = -1;
        cleanup_close int to = -1;
        char tmp[48];
        unsigned char r[8];
        int64_t bytes = 0, out_bytes;
        int ret;

        if (t->outcome != CACHE_BUILD || t->flight == NULL || t->flight->done)
                return -EINVAL;
        if (getrandom (r, sizeof (r), 0) != (ssize_t) sizeof (r))
                return -errno;
        snprintf (tmp, sizeof (tmp), ".tmp-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
                  r[3], r[4], r[5], r[6], r[7]);
        out_bytes = tree_rounded ((int64_t) (result->out.combined.len + result->out.stdout_buf.len
                                             + result->out.stderr_buf.len))
                    + 4 * TREE_BLOCK;
        if (mkdirat (c->dirfd, tmp, 0700) < 0)
                return -errno;
        tmpfd = openat (c->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ret = tmpfd < 0 ? -errno : 0;
        if (ret == 0 && build_fd >= 0) {
                if (mkdirat (tmpfd, "build", 0755) < 0
                    || (to = openat (tmpfd, "build",
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
                               < 0)
                        ret = -errno;
                else
                        ret = tree_copy (build_fd, to, c->p.entry_max_bytes, c->p.entry_max_files,
                                         &bytes);
        }
        if (ret == 0 && bytes + out_bytes > c->p.limit_bytes)
                ret = -EFBIG;
        if (ret == 0)
                ret = write_result (tmpfd, result, build_fd >= 0);
        if (ret == 0 && (e = calloc (1, sizeof (*e))) == NULL)
                ret = -ENOMEM;
        if (ret == 0 && renameat (c->dirfd, tmp, c->dirfd, t->flight->key) < 0)
                ret = -errno;
        if (ret < 0) {
                free (e);
                ce_remove_tree_at (c->dirfd, tmp);
                /* The disk's failures are worth a line; the build's own
                 * (too large, a file gone or swapped mid-copy) are not. */
                if (ret == -ENOSPC || ret == -EDQUOT || ret == -EIO || ret == -ENOMEM
                    || ret == -EROFS || ret == -EACCES)
                        ce_log ("warning: compile cache: cannot store %s: %s", t->flight->key,
                                strerror (-ret));
                return ret;
        }
        snprintf (e->key, sizeof (e->key), "%s", t->flight->key);
        e->bytes = bytes + out_bytes;
        pthread_mutex_lock (&c->lock);
        index_add (c, e, true);
        c->stores++;
        t->flight->stored = true;
        evict (c, &gone);
        pthread_mutex_unlock (&c->lock);
        remove_all (c, gone);
        return 0;
}

void
cache_end (struct cache_ticket *t)
{
        struct compile_cache *c = t->cache;
        struct cache_entry *gone = NULL;

        if (c == NULL)
                return;
        pthread_mutex_lock (&c->lock);
        if (t->flight) {
                struct cache_flight **pp = &c->flights;

                while (*pp != t->flight)
                        pp = &(*pp)->next;
                *pp = t->flight->next;
                t->flight->done = true;
                if (! t->flight->stored)
                        c->not_stored++; /* not worth it, or cache_store failed */
                pthread_cond_broadcast (&c->ended);
                flight_unref (t->flight);
        }
        if (t->entry && --t->entry->refs == 0 && ! t->entry->indexed)
                gone = t->entry;
        pthread_mutex_unlock (&c->lock);
        if (gone)
                entry_remove (c, gone);
        if (t->entry_fd >= 0)
                close (t->entry_fd);
        memset (t, 0, sizeof (*t));
        t->entry_fd = -1;
}
