/* Unit tests for common.c: UTF-8 repair, buffers, time, safe file helpers. */
#include <fcntl.h>
#include <sys/stat.h>

#include "common.h"
#include "test.h"

static void
check_sanitize (const char *in, size_t len, const char *want)
{
        char *out = NULL;
        size_t out_len = 0;

        CHECK (ce_utf8_sanitize (in, len, &out, &out_len) == 0);
        CHECK (out_len == strlen (want));
        CHECK_STR (out, want);
        free (out);
}

int
main (void)
{
        struct ce_buf b = { 0 };
        char dir[] = "/tmp/ce-test-XXXXXX";
        int dfd;
        struct stat st;
        struct ce_error e;

        /* An error is never a success, whatever code it is given. */
        CHECK (ce_fail (&e, EINVAL, "x %d", 1) == -EINVAL && e.code == EINVAL);
        CHECK_STR (e.msg, "x 1");
        CHECK (ce_error_http_status (&e) == 500);
        CHECK (ce_fail (&e, 0, "no errno") == -EIO && e.code == EIO);
        CHECK (ce_fail (NULL, 0, "no err") < 0);
        /* A client status comes only from ce_refuse, and only a client one. */
        CHECK (ce_refuse (&e, 413, EFBIG, "big") == -EFBIG && ce_error_http_status (&e) == 413);
        CHECK (ce_refuse (&e, 200, EINVAL, "ok?") < 0 && ce_error_http_status (&e) == 500);
        CHECK (ce_refuse (&e, 500, EINVAL, "x") < 0 && ce_error_http_status (&e) == 500);
        /* Context on the way up keeps the code and the status. */
        ce_refuse (&e, 400, EINVAL, "bad field");
        CHECK (ce_error_wrap (&e, "stage %s", "run") == -EINVAL);
        CHECK_STR (e.msg, "stage run: bad field");
        CHECK (ce_error_http_status (&e) == 400);
        memset (e.msg, 'x', sizeof (e.msg) - 1);
        e.msg[sizeof (e.msg) - 1] = '\0';
        ce_error_wrap (&e, "ctx");
        CHECK (strncmp (e.msg, "ctx: xxx", 8) == 0 && strlen (e.msg) == sizeof (e.msg) - 1);

        check_sanitize ("hello", 5, "hello");
        check_sanitize ("h\xc3\xa9llo \xe2\x9c\x93", 10, "h\xc3\xa9llo \xe2\x9c\x93");
        check_sanitize ("ok\xff\xfe!", 5, "ok\xef\xbf\xbd\xef\xbf\xbd!");
        check_sanitize ("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong '/' */
        check_sanitize ("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
        check_sanitize ("ab\xe2\x9c", 4, "ab\xef\xbf\xbd\xef\xbf\xbd");             /* cut short */
        check_sanitize ("\xf0\x9f\x90\x8d", 4, "\xf0\x9f\x90\x8d");                 /* emoji */
        {
                char *out;
                size_t n;

                CHECK (ce_utf8_sanitize ("a\0b", 3, &out, &n) == 0);
                CHECK (n == 3 && out[1] == '\0' && out[2] == 'b');
                free (out);
        }

        {
                char *out;
                size_t n;

                CHECK (ce_base64_decode ("aGVsbG8=", 8, &out, &n) == 0 && n == 5
                       && memcmp (out, "hello", 5) == 0);
                free (out);
                CHECK (ce_base64_decode ("aGVsbG8", 7, &out, &n) == 0 && n == 5);
                free (out);
                CHECK (ce_base64_decode ("AAH/\n", 5, &out, &n) == 0 && n == 3
                       && memcmp (out, "\0\1\xff", 3) == 0);
                free (out);
                CHECK (ce_base64_decode ("", 0, &out, &n) == 0 && n == 0);
                free (out);
                CHECK (ce_base64_decode ("a", 1, &out, &n) == -EINVAL);
                CHECK (ce_base64_decode ("eA=", 3, &out, &n) == -EINVAL);
                CHECK (ce_base64_decode ("=", 1, &out, &n) == -EINVAL);
                CHECK (ce_base64_decode ("YWJj=", 5, &out, &n) == -EINVAL);
                CHECK (ce_base64_decode ("eA==", 4, &out, &n) == 0 && n == 1 && out[0] == 'x');
                free (out);
                CHECK (ce_base64_decode ("YWI=", 4, &out, &n) == 0 && n == 2);
                free (out);
                CHECK (ce_base64_decode ("aGVsbG8=x", 9, &out, &n) == -EINVAL);
                CHECK (ce_base64_decode ("a!==", 4, &out, &n) == -EINVAL);
                CHECK (ce_base64_decode ("aGVsbG9=", 8, &out, &n) == -EINVAL); /* stray bits */
        }
        for (int i = 0; i < 1000; i++)
                CHECK (ce_buf_append (&b, "xyz", 3) == 0);
        CHECK (b.len == 3000 && b.data[3000] == '\0');
        ce_buf_free (&b);

        {
                struct timespec a = ce_now (), d = ce_deadline_after_ms (1500);

                CHECK (ce_time_before (a, d));
                CHECK (ce_ms_between (a, d) >= 1500 && ce_ms_between (a, d) < 1600);
        }

        /* ce_write_file_at never writes through a planted link, and
         * ce_remove_tree_at removes a link, not its target. */
        CHECK (mkdtemp (dir) != NULL);
        dfd = open (dir, O_RDONLY | O_DIRECTORY);
        CHECK (dfd >= 0);
        CHECK (ce_write_file_at (dfd, "target", "keep", 4, 0600) == 0);
        CHECK (symlinkat ("target", dfd, "link") == 0);
        CHECK (ce_write_file_at (dfd, "link", "evil", 4, 0644) < 0);
        CHECK (ce_write_file_at (dfd, "target", "again", 5, 0644) == -EEXIST);
        CHECK (mkdirat (dfd, "sub", 0700) == 0);
        CHECK (symlinkat ("../target", dfd, "sub/escape") == 0);
        CHECK (ce_remove_tree_at (dfd, "sub") == 0);
        CHECK (fstatat (dfd, "target", &st, 0) == 0 && st.st_size == 4);
        CHECK (fstatat (dfd, "sub", &st, AT_SYMLINK_NOFOLLOW) < 0);
        /* A tree far deeper than one pass goes (a hostile rootless /build),
         * with a name at its top that the removal's own would take: gone
         * all the same, and nothing beside it touched. */
        {
                int at = -1;

                CHECK (mkdirat (dfd, "deep", 0700) == 0);
                at = openat (dfd, "deep", O_RDONLY | O_DIRECTORY);
                CHECK (at >= 0 && mkdirat (at, ".ce-rm-0", 0700) == 0);
                for (int i = 0; i < 200; i++) {
                        int next;

                        CHECK (mkdirat (at, "d", 0700) == 0);
                        CHECK (ce_write_file_at (at, "f", "x", 1, 0600) == 0);
                        next = openat (at, "d", O_RDONLY | O_DIRECTORY);
                        CHECK (next >= 0);
                        close (at);
                        at = next;
                }
                close (at);
                CHECK (ce_remove_tree_at (dfd, "deep") == 0);
                CHECK (fstatat (dfd, "deep", &st, AT_SYMLINK_NOFOLLOW) < 0);
                CHECK (fstatat (dfd, "target", &st, 0) == 0 && st.st_size == 4);
        }
        close (dfd);
        {
                int top = open ("/tmp", O_RDONLY | O_DIRECTORY);

                CHECK (ce_remove_tree_at (top, dir + 5) == 0);
                CHECK (stat (dir, &st) < 0);
                close (top);
        }
        TEST_DONE ();
}
