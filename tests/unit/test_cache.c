/* Unit tests for the compile cache (cache.h) on a temporary directory:
 * keys, store and hit, what the copy of a hostile build keeps and leaves
 * out, its bounds, least-recently-used eviction (also of an entry being
 * copied from), single flight, and entries found again after a restart but
 * not after a reboot.  No containers: a "build" is a directory made here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cache.h"
#include "test.h"

static char root[256];

static void
key_of (const char *text, struct cache_key *k)
{
        cache_key_init (k);
        cache_key_add_str (k, text);
        cache_key_finish (k);
}

static int
open_dir (const char *path)
{
        return open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void
write_file (int dirfd, const char *name, size_t size, mode_t mode)
{
        int fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        char buf[4096];

        memset (buf, 'x', sizeof (buf));
        CHECK (fd >= 0);
        for (size_t done = 0; fd >= 0 && done < size;) {
                size_t n = size - done < sizeof (buf) ? size - done : sizeof (buf);

                CHECK (write (fd, buf, n) == (ssize_t) n);
                done += n;
        }
        if (fd >= 0) {
                CHECK (fchmod (fd, mode) == 0);
                close (fd);
        }
}

/* A fresh empty directory under root: its fd. */
static int
fresh_dir (const char *name)
{
        char path[512];

        snprintf (path, sizeof (path), "%s/%s", root, name);
        mkdir (path, 0755);
        return open_dir (path);
}

static struct compile_cache *
open_cache (int64_t limit, size_t max_files)
{
        char dir[512];
        struct cache_params p = { .limit_bytes = limit,
                                  .entry_max_bytes = limit,
                                  .entry_max_files = max_files };
        struct compile_cache *c = NULL;
        struct ce_error err = { 0 };

        snprintf (dir, sizeof (dir), "%s/cache", root);
        p.dir = dir;
        CHECK (cache_open (&p, &c, &err) == 0);
        return c;
}

static struct runner_result
result_ok (const char *out)
{
        struct runner_result r = { .status = RUN_OK, .wall_ms = 12, .cpu_ms = 10, .memory_kb = 99 };

        ce_buf_append (&r.out.stdout_buf, out, strlen (out));
        ce_buf_append (&r.out.combined, out, strlen (out));
        return r;
}

/* Store build_fd (or only a result when -1) under text's key. */
static int
store (struct compile_cache *c, const char *text, int build_fd)
{
        struct cache_key k;
        struct cache_ticket t;
        struct runner_result r = result_ok ("warning: x\n");
        int ret = -1;

        key_of (text, &k);
        if (cache_begin (c, &k, 1000, &t) == CACHE_BUILD)
                ret = cache_store (&t, build_fd, &r);
        cache_end (&t);
        runner_result_clear (&r);
        return ret;
}

static enum cache_outcome
probe (struct compile_cache *c, const char *text)
{
        struct cache_key k;
        struct cache_ticket t;
        enum cache_outcome o;

        key_of (text, &k);
        o = cache_begin (c, &k, 1000, &t);
        cache_end (&t);
        return o;
}

static int
count_names (const char *dir, const char *prefix)
{
        DIR *d = opendir (dir);
        struct dirent *de;
        int n = 0;

        while (d && (de = readdir (d)) != NULL)
                n += strncmp (de->d_name, prefix, strlen (prefix)) == 0;
        if (d)
                closedir (d);
        return n;
}

static int
leftovers (void)
{
        char dir[512];

        snprintf (dir, sizeof (dir), "%s/cache", root);
        return count_names (dir, ".tmp-") + count_names (dir, ".trash-");
}

static void
test_keys (void)
{
        struct cache_key a, b;

        cache_key_init (&a);
        cache_key_add_str (&a, "ab");
        cache_key_add_str (&a, "c");
        cache_key_finish (&a);
        cache_key_init (&b);
        cache_key_add_str (&b, "a");
        cache_key_add_str (&b, "bc");
        cache_key_finish (&b);
        CHECK (strlen (a.hex) == CACHE_KEY_HEX);
        CHECK (strcmp (a.hex, b.hex) != 0);
        cache_key_init (&a);
        cache_key_add_str (&a, NULL);
        cache_key_finish (&a);
        cache_key_init (&b);
        cache_key_add_str (&b, "");
        cache_key_finish (&b);
        CHECK (strcmp (a.hex, b.hex) != 0);
        key_of ("same", &a);
        key_of ("same", &b);
        CHECK_STR (a.hex, b.hex);
}

/* What a hostile compile may leave in /build, and what a hit gets of it. */
static void
test_hostile_copy (void)
{
        struct compile_cache *c = open_cache (64 << 20, 4096);
        int build = fresh_dir ("hostile"), out = fresh_dir ("filled");
        int sub;
        struct cache_key k;
        struct cache_ticket t;
        struct runner_result r;
        bool has_build = false;
        struct ce_error err = { 0 };
        struct stat st;
        char target[256];
        ssize_t n;

        write_file (build, "main", 5000, 04755); /* setuid: dropped */
        write_file (build, "private", 10, 0600); /* readable by all once copied */
        CHECK (symlinkat ("/etc/shadow", build, "link") == 0);
        CHECK (mkfifoat (build, "fifo", 0644) == 0);
        CHECK (linkat (build, "main", build, "hardlink", 0) == 0);
        if (mknodat (build, "null", S_IFCHR | 0666, makedev (1, 3)) < 0)
                CHECK (errno == EPERM); /* not root: no device to plant */
        CHECK (mkdirat (build, "sub", 0700) == 0);
        sub = openat (build, "sub", O_RDONLY | O_DIRECTORY);
        write_file (sub, "deep", 3, 0644);
        close (sub);

        CHECK (store (c, "hostile", build) == 0);
        key_of ("hostile", &k);
        CHECK (cache_begin (c, &k, 1000, &t) == CACHE_HIT);
        CHECK (cache_read_result (&t, &r, &has_build, &err) == 0);
        CHECK (has_build && r.cached && r.status == RUN_OK && r.wall_ms == 12);
        CHECK (r.out.stdout_buf.len == 11
               && memcmp (r.out.stdout_buf.data, "warning: x\n", 11) == 0);
        runner_result_clear (&r);
        CHECK (cache_fill_build (&t, out, &err) == 0);
        cache_end (&t);

        CHECK (fstatat (out, "main", &st, AT_SYMLINK_NOFOLLOW) == 0);
        CHECK (S_ISREG (st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_size == 5000);
        CHECK (fstatat (out, "private", &st, AT_SYMLINK_NOFOLLOW) == 0);
        CHECK ((st.st_mode & 07777) == 0644);
        CHECK (fstatat (out, "hardlink", &st, AT_SYMLINK_NOFOLLOW) == 0);
        CHECK (S_ISREG (st.st_mode) && st.st_nlink == 1 && (st.st_mode & 07777) == 0755);
        CHECK (fstatat (out, "link", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode));
        n = readlinkat (out, "link", target, sizeof (target) - 1);
        CHECK (n == 11 && memcmp (target, "/etc/shadow", 11) == 0);
        CHECK (fstatat (out, "fifo", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
        CHECK (fstatat (out, "null", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
        CHECK (fstatat (out, "sub/deep", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size == 3);
        CHECK (fstatat (out, "sub", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 07777) == 0755);
        close (build);
        close (out);
        cache_free (c);
}

/* A failed compile: its messages only. */
static void
test_result_only (void)
{
        struct compile_cache *c = open_cache (64 << 20, 4096);
        struct cache_key k;
        struct cache_ticket t;
        struct runner_result r;
        bool has_build = true;
        struct ce_error err = { 0 };

        CHECK (store (c, "failed", -1) == 0);
        key_of ("failed", &k);
        CHECK (cache_begin (c, &k, 1000, &t) == CACHE_HIT);
        CHECK (cache_read_result (&t, &r, &has_build, &err) == 0);
        CHECK (! has_build);
        runner_result_clear (&r);
        cache_end (&t);
        cache_free (c);
}

static void
test_bounds (void)
{
        struct compile_cache *c = open_cache (1 << 20, 100);
        int many = fresh_dir ("many"), deep = fresh_dir ("deep"), big = fresh_dir ("big");
        int d = dup (deep);
        char name[32];

        for (int i = 0; i < 150; i++) {
                snprintf (name, sizeof (name), "f%d", i);
                write_file (many, name, 1, 0644);
        }
        CHECK (store (c, "many", many) == -EFBIG);
        for (int i = 0; i < 70; i++) {
                int next;

                CHECK (mkdirat (d, "d", 0755) == 0);
                next = openat (d, "d", O_RDONLY | O_DIRECTORY);
                close (d);
                d = next;
        }
        close (d);
        CHECK (store (c, "deep", deep) == -ELOOP);
        write_file (big, "huge", 2 << 20, 0644);
        CHECK (store (c, "big", big) == -EFBIG);
        CHECK (probe (c, "many") == CACHE_BUILD);
        CHECK (probe (c, "deep") == CACHE_BUILD);
        CHECK (probe (c, "big") == CACHE_BUILD);
        CHECK (leftovers () == 0);
        close (many);
        close (deep);
        close (big);
        cache_free (c);
}

/* Entries of about 64 KiB (a 40 KiB file, the output files, blocks) in a
 * cache of 200: the fourth evicts the least
 * recently used, also one a hit is still copying from (removed after). */
static void
test_eviction (void)
{
        struct compile_cache *c = open_cache (200 << 10, 4096);
        int build = fresh_dir ("b40");
        struct cache_key k;
        struct cache_ticket held;
        struct ce_error err = { 0 };
        int out = fresh_dir ("held-out");

        write_file (build, "bin", 40 << 10, 0755);
        CHECK (store (c, "A", build) == 0);
        CHECK (store (c, "B", build) == 0);
        CHECK (store (c, "C", build) == 0);
        CHECK (probe (c, "A") == CACHE_HIT); /* A is now the most recent */
        CHECK (store (c, "D", build) == 0);  /* evicts B */
        CHECK (probe (c, "B") == CACHE_BUILD);
        CHECK (probe (c, "A") == CACHE_HIT);
        CHECK (probe (c, "C") == CACHE_HIT);
        CHECK (probe (c, "D") == CACHE_HIT);

        key_of ("A", &k);
        CHECK (cache_begin (c, &k, 1000, &held) == CACHE_HIT);
        CHECK (store (c, "E", build) == 0);
        CHECK (store (c, "F", build) == 0);
        CHECK (store (c, "G", build) == 0); /* A, C, D gone by now */
        CHECK (probe (c, "C") == CACHE_BUILD);
        CHECK (cache_fill_build (&held, out, &err) == 0); /* still there for its holder */
        CHECK (leftovers () == 1);                        /* A, aside until let go */
        cache_end (&held);
        CHECK (leftovers () == 0);
        CHECK (probe (c, "A") == CACHE_BUILD);
        close (build);
        close (out);
        cache_free (c);
}

struct waiter {
        struct compile_cache *c;
        const char *text;
        int64_t wait_ms;
        enum cache_outcome got;
};

static void *
wait_for (void *arg)
{
        struct waiter *w = arg;
        struct cache_key k;
        struct cache_ticket t;

        key_of (w->text, &k);
        w->got = cache_begin (w->c, &k, w->wait_ms, &t);
        cache_end (&t);
        return NULL;
}

/* Identical compiles at once: one builds, the others wait and hit; a build
 * that stores nothing lets them compile on their own; a waiter waits no
 * longer than it may. */
static void
test_single_flight (void)
{
        struct compile_cache *c = open_cache (64 << 20, 4096);
        int build = fresh_dir ("flight");
        struct waiter w[3];
        pthread_t th[3];
        struct cache_key k;
        struct cache_ticket t;
        struct runner_result r = result_ok ("");

        write_file (build, "bin", 100, 0755);
        for (int round = 0; round < 3; round++) {
                const char *text = round == 0   ? "flight-stored"
                                   : round == 1 ? "flight-not"
                                                : "slow";

                key_of (text, &k);
                CHECK (cache_begin (c, &k, 1000, &t) == CACHE_BUILD);
                for (int i = 0; i < 3; i++) {
                        w[i] = (struct waiter){ c, text, round == 2 ? 50 : 10000, CACHE_HIT };
                        pthread_create (&th[i], NULL, wait_for, &w[i]);
                }
                usleep (200 * 1000); /* they are waiting by now, or soon: either works */
                if (round == 0)
                        CHECK (cache_store (&t, build, &r) == 0);
                if (round == 2)
                        usleep (300 * 1000);
                cache_end (&t);
                for (int i = 0; i < 3; i++) {
                        pthread_join (th[i], NULL);
                        if (round == 0)
                                CHECK (w[i].got == CACHE_HIT);
                        else
                                /* a waiter compiles on its own, or (came too late
                                 * to wait) builds it itself */
                                CHECK (w[i].got == CACHE_BYPASS || w[i].got == CACHE_BUILD);
                }
        }
        runner_result_clear (&r);
        close (build);
        cache_free (c);
}

struct swapper {
        int dirfd;
        atomic_bool stop;
};

/* Swap "f" between a regular file, a link to a secret and a FIFO. */
static void *
swap_loop (void *arg)
{
        struct swapper *s = arg;

        for (unsigned i = 0; ! atomic_load (&s->stop); i++) {
                unlinkat (s->dirfd, "f", 0);
                if (i % 3 == 0)
                        write_file (s->dirfd, "f", 10, 0644);
                else if (i % 3 == 1)
                        symlinkat ("../secret", s->dirfd, "f");
                else
                        mkfifoat (s->dirfd, "f", 0644);
        }
        return NULL;
}

/* Nothing a copy makes may be a FIFO or hold the secret, and it never
 * blocks, whatever the source does meanwhile. */
static void
test_race (void)
{
        struct compile_cache *c = open_cache (64 << 20, 4096);
        int base = fresh_dir ("race");
        int src;
        struct swapper s;
        pthread_t th;
        char text[32];
        int stored = 0;

        CHECK (ce_write_file_at (base, "secret", "SECRET", 6, 0644) == 0);
        CHECK (mkdirat (base, "src", 0755) == 0);
        src = openat (base, "src", O_RDONLY | O_DIRECTORY);
        write_file (src, "steady", 4, 0644);
        s.dirfd = src;
        atomic_init (&s.stop, false);
        pthread_create (&th, NULL, swap_loop, &s);
        for (int i = 0; i < 200; i++) {
                struct cache_key k;
                struct cache_ticket t;
                struct ce_error err = { 0 };
                int out;
                struct stat st;
                char name[32];

                snprintf (text, sizeof (text), "race-%d", i);
                if (store (c, text, src) != 0)
                        continue; /* a file swapped away mid-copy: not stored */
                stored++;
                snprintf (name, sizeof (name), "race-out-%d", i);
                out = fresh_dir (name);
                key_of (text, &k);
                CHECK (cache_begin (c, &k, 1000, &t) == CACHE_HIT);
                CHECK (cache_fill_build (&t, out, &err) == 0);
                cache_end (&t);
                if (fstatat (out, "f", &st, AT_SYMLINK_NOFOLLOW) == 0) {
                        CHECK (S_ISREG (st.st_mode) || S_ISLNK (st.st_mode));
                        /* the file (maybe caught mid-write), never the secret */
                        if (S_ISREG (st.st_mode)) {
                                char got[64] = "";
                                int fd = openat (out, "f", O_RDONLY);
                                ssize_t n = fd < 0 ? -1 : read (fd, got, sizeof (got));

                                CHECK (n >= 0 && n <= 10 && strspn (got, "x") == (size_t) n);
                                if (fd >= 0)
                                        close (fd);
                        }
                }
                close (out);
        }
        atomic_store (&s.stop, true);
        pthread_join (th, NULL);
        CHECK (stored > 0);
        CHECK (leftovers () == 0);
        close (src);
        close (base);
        cache_free (c);
}

static void
write_stamp (const char *text)
{
        char path[512];
        FILE *f;

        snprintf (path, sizeof (path), "%s/cache/stamp", root);
        f = fopen (path, "w");
        CHECK (f != NULL);
        if (f) {
                fputs (text, f);
                fclose (f);
        }
}

/* A restart finds the entries; a reboot (another boot id) drops them, and
 * anything else in the dir goes. */
static void
test_restart (void)
{
        struct compile_cache *c = open_cache (64 << 20, 4096);
        int build = fresh_dir ("restart");
        char junk[512];

        write_file (build, "bin", 100, 0755);
        CHECK (store (c, "kept", build) == 0);
        cache_free (c);
        snprintf (junk, sizeof (junk), "%s/cache/.tmp-0000000000000000", root);
        CHECK (mkdir (junk, 0700) == 0);
        c = open_cache (64 << 20, 4096);
        CHECK (probe (c, "kept") == CACHE_HIT);
        CHECK (leftovers () == 0);
        cache_free (c);
        write_stamp ("codeengine-compile-cache 1\nboot 00000000-another-boot\n");
        c = open_cache (64 << 20, 4096);
        CHECK (probe (c, "kept") == CACHE_BUILD);
        cache_free (c);
        close (build);
}

static int
remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        (void) flag;
        (void) ftw;
        return remove (path);
}

int
main (void)
{
        char tmpl[] = "/tmp/test_cache.XXXXXX";

        if (mkdtemp (tmpl) == NULL)
                return 1;
        snprintf (root, sizeof (root), "%s", tmpl);
        test_keys ();
        test_hostile_copy ();
        test_result_only ();
        test_bounds ();
        test_eviction ();
        test_single_flight ();
        test_race ();
        test_restart ();
        if (nftw (root, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
                fprintf (stderr, "cannot remove %s\n", root);
        TEST_DONE ();
}
