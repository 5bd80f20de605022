/* Unit tests for checker.c: every checker's edge cases, the request forms
 * (string, object fed key by key, yajl tree), and linear time on 20 MB. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "checker.h"
#include "test.h"

static const struct checker exact = { CHECKER_EXACT, 0, 0 };
static const struct checker lines = { CHECKER_LINES, 0, 0 };
static const struct checker tokens = { CHECKER_TOKENS, 0, 0 };
static const struct checker flt = { CHECKER_FLOAT, CHECKER_FLOAT_ABS, CHECKER_FLOAT_REL };

/* Equal both ways round: no checker may depend on which side is which. */
static bool
eqn (const struct checker *c, const char *e, size_t elen, const char *g, size_t glen)
{
        bool a = checker_equal (c, e, elen, g, glen), b = checker_equal (c, g, glen, e, elen);

        if (a != b)
                fprintf (stderr, "%s: not symmetric on '%.*s' / '%.*s'\n", checker_name (c),
                         (int) elen, e, (int) glen, g);
        return a && b;
}

static bool
eq (const struct checker *c, const char *e, const char *g)
{
        return eqn (c, e, strlen (e), g, strlen (g));
}

static double
seconds_since (struct timespec t0)
{
        struct timespec t1;

        clock_gettime (CLOCK_MONOTONIC, &t1);
        return (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
test_exact (void)
{
        CHECK (eq (&exact, "", ""));
        CHECK (eq (&exact, "a b\n", "a b\n"));
        CHECK (! eq (&exact, "a\n", "a"));
        CHECK (! eq (&exact, "a\r\n", "a\n"));
        CHECK (! eq (&exact, "a ", "a"));
        CHECK (! eq (&exact, "", "\n"));
        CHECK (eqn (&exact, "a\0b", 3, "a\0b", 3));
        CHECK (! eqn (&exact, "a\0b", 3, "a\0c", 3));
        CHECK (! eqn (&exact, "a\0", 2, "a", 1));
        CHECK (eqn (&exact, NULL, 0, "", 0));
}

static void
test_lines (void)
{
        CHECK (eq (&lines, "", ""));
        CHECK (eqn (&lines, NULL, 0, NULL, 0));
        CHECK (eq (&lines, "a\nb\n", "a\nb\n"));
        /* CRLF equals LF, in the middle and at the end. */
        CHECK (eq (&lines, "a\nb\n", "a\r\nb\r\n"));
        CHECK (eq (&lines, "a\r\nb", "a\nb\n"));
        /* No trailing newline. */
        CHECK (eq (&lines, "a\nb\n", "a\nb"));
        /* Trailing spaces and tabs on any line. */
        CHECK (eq (&lines, "a\nb\n", "a  \t\nb \t \r\n"));
        CHECK (eq (&lines, "a \t\nb", "a\nb\t"));
        /* Trailing empty (or blank) lines. */
        CHECK (eq (&lines, "a\n", "a\n\n\n"));
        CHECK (eq (&lines, "a", "a\r\n\r\n  \n\t\n"));
        CHECK (eq (&lines, "", "\n\n"));
        CHECK (eq (&lines, "", " \r\n\t"));
        CHECK (eq (&lines, "\n", ""));
        /* Empty lines that are not at the end count, and so do blank ones
         * (a blank line is an empty line). */
        CHECK (! eq (&lines, "a\nb\n", "a\n\nb\n"));
        CHECK (! eq (&lines, "\na", "a"));
        CHECK (eq (&lines, "a\n\nb", "a\n  \nb"));
        CHECK (eq (&lines, "a\n\n\nb\n", "a\r\n\r\n\r\nb\r\n"));
        /* Leading whitespace is significant. */
        CHECK (! eq (&lines, " a\n", "a\n"));
        CHECK (! eq (&lines, "a\n b\n", "a\nb\n"));
        CHECK (! eq (&lines, "\ta", "a"));
        /* Whitespace inside a line is significant, and so is a lone \r. */
        CHECK (! eq (&lines, "a b", "a  b"));
        CHECK (! eq (&lines, "a\rb", "a\nb"));
        CHECK (! eq (&lines, "a\rb", "ab"));
        /* Different content, different line counts. */
        CHECK (! eq (&lines, "a\nb\n", "a\nc\n"));
        CHECK (! eq (&lines, "a\nb\n", "a\n"));
        CHECK (! eq (&lines, "a\nb\nc", "a\nb"));
        CHECK (! eq (&lines, "a", ""));
        CHECK (! eq (&lines, "ab", "a b"));
        CHECK (! eq (&lines, "a\nb", "a b"));
        /* NUL bytes are content, never whitespace or an end. */
        CHECK (eqn (&lines, "a\0b\n", 4, "a\0b\r\n", 5));
        CHECK (! eqn (&lines, "a\0b\n", 4, "a\0c\n", 4));
        CHECK (! eqn (&lines, "a\0\n", 3, "a\n", 2));
        CHECK (! eqn (&lines, "\0", 1, "", 0));
        CHECK (eqn (&lines, "\0\nx", 3, "\0 \nx\n\n", 6));
}

static void
test_tokens (void)
{
        CHECK (eq (&tokens, "", ""));
        CHECK (eq (&tokens, "", " \n\t\r\v\f"));
        CHECK (eq (&tokens, "1 2 3", "1\n2\n3\n"));
        CHECK (eq (&tokens, "1 2 3\n", "  1\t\t2\r\n\n3"));
        /* Leading whitespace is no token. */
        CHECK (eq (&tokens, "a", "\n\n   a"));
        CHECK (! eq (&tokens, "1 2 3", "1 2"));
        CHECK (! eq (&tokens, "1 2", "1 2 3"));
        CHECK (! eq (&tokens, "1 2 3", "1 23"));
        CHECK (! eq (&tokens, "12 3", "1 23"));
        CHECK (! eq (&tokens, "a", ""));
        CHECK (! eq (&tokens, "abc", "ab"));
        /* Tokens compare as bytes: no numbers here. */
        CHECK (! eq (&tokens, "1.0", "1"));
        CHECK (! eq (&tokens, "-0", "0"));
        CHECK (! eq (&tokens, "A", "a"));
        CHECK (eqn (&tokens, "a\0b c", 5, "a\0b\n c", 6));
        CHECK (! eqn (&tokens, "a\0b", 3, "a b", 3));
        CHECK (! eqn (&tokens, "\0", 1, "", 0));
}

static struct checker
tol (double abs, double rel)
{
        return (struct checker){ CHECKER_FLOAT, abs, rel };
}

static void
test_float (void)
{
        struct checker c;

        /* Everything tokens does, whitespace-wise. */
        CHECK (eq (&flt, "", "  \n"));
        CHECK (eq (&flt, "1 2 3", "1\r\n2\n3\n\n"));
        CHECK (! eq (&flt, "1 2 3", "1 2"));
        CHECK (! eq (&flt, "1", ""));
        /* The same number written differently. */
        CHECK (eq (&flt, "1e-7", "0.0000001"));
        CHECK (eq (&flt, "1.0", "1"));
        CHECK (eq (&flt, "1.", "1"));
        CHECK (eq (&flt, ".5", "0.5"));
        CHECK (eq (&flt, "+2", "2"));
        CHECK (eq (&flt, "1E3", "1000.000"));
        CHECK (eq (&flt, "1e+3", "1000"));
        CHECK (eq (&flt, "0.1 0.2", "0.1000000001 0.19999999"));
        CHECK (eq (&flt, "-0", "0"));
        CHECK (eq (&flt, "-0.0", "+0"));
        /* Default tolerances (1e-6 each). */
        CHECK (eq (&flt, "3.141592", "3.1415926535"));
        CHECK (! eq (&flt, "3.14", "3.1415926535"));
        CHECK (eq (&flt, "1000000", "1000000.9"));
        CHECK (! eq (&flt, "1000000", "1000001.5"));
        CHECK (! eq (&flt, "1", "-1"));
        /* Inclusive boundaries, judged on the decimals. */
        c = tol (1e-6, 0);
        CHECK (eq (&c, "1", "1.000001"));
        CHECK (eq (&c, "1", "0.999999"));
        CHECK (eq (&c, "0", "0.000001"));
        CHECK (! eq (&c, "1", "1.0000011"));
        CHECK (! eq (&c, "0", "0.0000011"));
        CHECK (! eq (&c, "1000000", "1000000.5"));
        c = tol (0.5, 0);
        CHECK (eq (&c, "1", "1.5"));
        CHECK (eq (&c, "-1", "-0.5"));
        CHECK (! eq (&c, "1", "1.5000001"));
        CHECK (! eq (&c, "1e9", "1.000000001e9"));
        c = tol (0, 0.25);
        CHECK (eq (&c, "4", "3"));
        CHECK (eq (&c, "-4", "-5"));
        CHECK (! eq (&c, "4", "2.9"));
        CHECK (! eq (&c, "0", "1e-300"));
        c = tol (0, 1e-6);
        CHECK (eq (&c, "1e300", "1.000001e300"));
        CHECK (! eq (&c, "1e300", "1.0000011e300"));
        CHECK (eq (&c, "1e-300", "1.000001e-300"));
        CHECK (! eq (&c, "1e-300", "1.0000011e-300"));
        CHECK (! eq (&c, "1e-7", "0"));
        /* abs or rel: either suffices. */
        c = tol (0.01, 0.1);
        CHECK (eq (&c, "0", "0.01"));
        CHECK (eq (&c, "100", "109"));
        CHECK (! eq (&c, "0", "0.02"));
        CHECK (! eq (&c, "100", "112"));
        /* Zero tolerance: exact numeric equality, any spelling. */
        c = tol (0, 0);
        CHECK (eq (&c, "1.0", "1"));
        CHECK (eq (&c, "1e-7", "0.0000001"));
        CHECK (! eq (&c, "1", "1.0000000000000002"));
        CHECK (! eq (&c, "0.1", "0.10000000000000002"));
        /* NaN: byte-identical tokens are equal, nothing else is. */
        CHECK (eq (&flt, "nan", "nan"));
        CHECK (eq (&flt, "NaN", "NaN"));
        CHECK (! eq (&flt, "nan", "NaN"));
        CHECK (! eq (&flt, "nan", "-nan"));
        CHECK (! eq (&flt, "nan", "0"));
        CHECK (! eq (&flt, "nan", "inf"));
        c = tol (1e9, 1e9);
        CHECK (! eq (&c, "NAN", "nan"));
        CHECK (! eq (&c, "nan", "1"));
        /* Infinities: equal to the same infinity only, however spelled. */
        CHECK (eq (&flt, "inf", "inf"));
        CHECK (eq (&flt, "inf", "Infinity"));
        CHECK (eq (&flt, "+INF", "inf"));
        CHECK (eq (&flt, "-inf", "-Infinity"));
        CHECK (! eq (&flt, "inf", "-inf"));
        CHECK (! eq (&c, "inf", "1e308"));
        CHECK (! eq (&c, "-inf", "-1.7976931348623157e308"));
        CHECK (! eq (&flt, "inf", "infinit"));
        /* Too large for a double: no number, and no infinity either. */
        CHECK (! eq (&flt, "1e999", "2e999"));
        CHECK (! eq (&flt, "1e999", "inf"));
        CHECK (eq (&flt, "1e999", "1e999"));
        /* Huge finite values of opposite sign: the difference overflows. */
        CHECK (eq (&c, "1.7e308", "-1.7e308")); /* rel 1e9 covers it */
        c = tol (0, 1.5);
        CHECK (! eq (&c, "1.7e308", "-1.7e308"));
        c = tol (0, 2);
        CHECK (eq (&c, "1.7e308", "-1.7e308"));
        CHECK (! eq (&flt, "1.7e308", "-1.7e308"));
        /* Underflow is a tiny number, not an error. */
        CHECK (eq (&flt, "1e-400", "0"));
        /* Not numbers: compared as bytes. */
        CHECK (eq (&flt, "abc 1.0", "abc 1"));
        CHECK (! eq (&flt, "abc", "abd"));
        CHECK (! eq (&flt, "1.0", "1.0x"));
        CHECK (! eq (&flt, "1,0", "1"));
        CHECK (! eq (&flt, "0x10", "16"));
        CHECK (! eq (&flt, "0x1p3", "8"));
        CHECK (! eq (&flt, "1e", "1"));
        CHECK (! eq (&flt, "1e+", "1"));
        CHECK (! eq (&flt, ".", "0"));
        CHECK (! eq (&flt, "-", "0"));
        CHECK (! eq (&flt, "+-1", "-1"));
        CHECK (! eq (&flt, "nan(1)", "nan(2)"));
        CHECK (eq (&flt, "nan(1)", "nan(1)"));
        CHECK (! eq (&flt, "yes", "1"));
        CHECK (eqn (&flt, "1\0", 2, "1\0", 2));
        CHECK (! eqn (&flt, "1\0", 2, "1", 1));
        CHECK (! eqn (&flt, "1.0\0", 4, "1\0", 2));
        /* Longer than CHECKER_NUMBER_MAX: bytes, though it is a number. */
        {
                char a[100], b[100];

                memset (a, '0', sizeof (a));
                a[0] = '1', a[1] = '.';
                a[sizeof (a) - 1] = '\0';
                CHECK (! eq (&flt, a, "1"));
                memcpy (b, a, sizeof (b));
                CHECK (eq (&flt, a, b));
                a[CHECKER_NUMBER_MAX] = '\0'; /* exactly the limit: a number */
                CHECK (eq (&flt, a, "1"));
                a[CHECKER_NUMBER_MAX] = '0';
                a[CHECKER_NUMBER_MAX + 1] = '\0';
                CHECK (! eq (&flt, a, "1"));
        }
        /* Differing counts with numbers. */
        CHECK (! eq (&flt, "1 2", "1 2 0"));
        CHECK (! eq (&flt, "1.0 2.0", "1"));
}

/* One comparison of a large input.  Its time is printed, never asserted
 * (shared machines, sanitizers): a quadratic walk would take hours on
 * 20 MB, which the suite's timeout catches. */
static bool
timed_equal (const char *what, const struct checker *c, const char *e, size_t elen, const char *g,
             size_t glen)
{
        struct timespec t0;
        bool r;
        double s;

        clock_gettime (CLOCK_MONOTONIC, &t0);
        r = checker_equal (c, e, elen, g, glen);
        s = seconds_since (t0);
        printf ("%-40s %s %.3f s\n", what, checker_name (c), s);
        return r;
}

static void
test_large (void)
{
        const size_t mb = 1 << 20, big = 20 * mb;
        char *a = malloc (big + 16), *b = malloc (big + 16);
        size_t n;

        CHECK (a && b);
        if (! a || ! b)
                goto out;

        /* One 1 MB line, with and without trailing blanks. */
        memset (a, 'x', mb);
        memcpy (b, a, mb);
        memcpy (b + mb, " \t\r\n", 4);
        CHECK (eqn (&lines, a, mb, b, mb + 4));
        CHECK (eqn (&tokens, a, mb, b, mb + 4));
        CHECK (eqn (&flt, a, mb, b, mb + 4));
        CHECK (! eqn (&exact, a, mb, b, mb + 4));
        b[mb / 2] = 'y';
        CHECK (! eqn (&lines, a, mb, b, mb + 4));
        CHECK (! eqn (&flt, a, mb, b, mb + 4));
        /* A 1 MB line of blanks is an empty line. */
        memset (b, ' ', mb);
        b[mb] = '\n';
        CHECK (eqn (&lines, "", 0, b, mb + 1));
        CHECK (! eqn (&lines, "a", 1, b, mb));

        /* 20 MB of short lines: CRLF against LF, so no memcmp shortcut. */
        for (n = 0; n + 4 <= big; n += 4)
                memcpy (a + n, "12\r\n", 4);
        for (size_t i = 0; i < n / 4; i++)
                memcpy (b + 3 * i, "12\n", 3);
        CHECK (timed_equal ("20 MB, 5M lines, CRLF vs LF", &lines, a, n, b, n / 4 * 3));
        CHECK (timed_equal ("20 MB, 5M lines, CRLF vs LF", &tokens, a, n, b, n / 4 * 3));
        b[n / 4 * 3 - 2] = '3';
        CHECK (! timed_equal ("20 MB, last line differs", &lines, a, n, b, n / 4 * 3));
        CHECK (! timed_equal ("20 MB, last token differs", &tokens, a, n, b, n / 4 * 3));

        /* 20 MB of numbers spelt differently on each side: every token
         * goes through the number parser. */
        for (n = 0; n + 8 <= big; n += 8)
                memcpy (a + n, "0.50000\n", 8);
        for (size_t i = 0; i < n / 8; i++)
                memcpy (b + 5 * i, "5e-1 ", 5);
        CHECK (timed_equal ("20 MB, 2.6M numbers, 0.50000 vs 5e-1", &flt, a, n, b, n / 8 * 5));
        b[n / 8 * 5 - 2] = '2';
        CHECK (! timed_equal ("20 MB, last number differs", &flt, a, n, b, n / 8 * 5));

        /* One 20 MB token that is almost a number: compared as bytes. */
        memset (a, '1', big);
        memcpy (b, a, big);
        b[big - 1] = '2';
        CHECK (! timed_equal ("one 20 MB token", &flt, a, big, b, big));
        b[big - 1] = '\n';
        CHECK (timed_equal ("one 20 MB line", &lines, a, big - 1, b, big));

        /* 20 MB of NULs: content, never whitespace. */
        memset (a, 0, big);
        memset (b, 0, big);
        CHECK (timed_equal ("20 MB of NULs", &tokens, a, big, b, big));
        CHECK (! timed_equal ("20 MB of NULs, one fewer", &lines, a, big, b, big - 1));
out:
        free (a);
        free (b);
}

static void
test_names (void)
{
        struct checker c = { CHECKER_EXACT, 7, 7 };

        CHECK (checker_from_name ("exact", 5, &c) == 0 && c.type == CHECKER_EXACT && c.abs == 0);
        CHECK (checker_from_name ("lines", 5, &c) == 0 && c.type == CHECKER_LINES);
        CHECK (checker_from_name ("tokens", 6, &c) == 0 && c.type == CHECKER_TOKENS);
        CHECK (checker_from_name ("float", 5, &c) == 0 && c.type == CHECKER_FLOAT);
        CHECK (c.abs == CHECKER_FLOAT_ABS && c.rel == CHECKER_FLOAT_REL);
        CHECK (checker_from_name ("Float", 5, &c) == -EINVAL);
        CHECK (checker_from_name ("floats", 6, &c) == -EINVAL);
        CHECK (checker_from_name ("floa", 4, &c) == -EINVAL);
        CHECK (checker_from_name ("float\0", 6, &c) == -EINVAL);
        CHECK (checker_from_name ("", 0, &c) == -EINVAL);
        CHECK (checker_from_name (NULL, 0, &c) == -EINVAL);
        for (int t = CHECKER_EXACT; t <= CHECKER_FLOAT; t++) {
                struct checker k = { (enum checker_type) t, 0, 0 };
                const char *name = checker_name (&k);

                CHECK (checker_from_name (name, strlen (name), &c) == 0 && (int) c.type == t);
        }
        CHECK_STR (checker_name (&flt), "float");
        c = CHECKER_DEFAULT;
        CHECK_STR (checker_name (&c), "lines");
        CHECK (c.abs == 0 && c.rel == 0);
}

static void
test_tolerance (void)
{
        double v = -1;

        CHECK (checker_parse_tolerance ("1e-6", 4, &v) == 0 && v == 1e-6);
        CHECK (checker_parse_tolerance ("0", 1, &v) == 0 && v == 0 && ! signbit (v));
        CHECK (checker_parse_tolerance ("-0", 2, &v) == 0 && v == 0 && ! signbit (v));
        CHECK (checker_parse_tolerance ("1000000000", 10, &v) == 0 && v == 1e9);
        CHECK (checker_parse_tolerance ("1e9", 3, &v) == 0 && v == 1e9);
        /* Only the given bytes count: "0.5" of "0.5xyz". */
        CHECK (checker_parse_tolerance ("0.5xyz", 3, &v) == 0 && v == 0.5);
        CHECK (checker_parse_tolerance ("1.0000001e9", 11, &v) == -EINVAL);
        CHECK (checker_parse_tolerance ("-1e-9", 5, &v) == -EINVAL);
        CHECK (checker_parse_tolerance ("1e999", 5, &v) == -EINVAL);
        CHECK (checker_parse_tolerance ("inf", 3, &v) == -EINVAL);
        CHECK (checker_parse_tolerance ("nan", 3, &v) == -EINVAL);
        CHECK (checker_parse_tolerance ("0x1", 3, &v) == -EINVAL);
        CHECK (checker_parse_tolerance (" 1", 2, &v) == -EINVAL);
        CHECK (checker_parse_tolerance ("1\0", 2, &v) == -EINVAL);
        CHECK (checker_parse_tolerance ("", 0, &v) == -EINVAL);
}

/* The object form as request.c's callbacks would feed it. */
static void
test_object (void)
{
        struct checker_object o;
        struct checker c;
        int f;

        checker_object_init (&o);
        CHECK ((f = checker_object_key (&o, "type", 4)) == CHECKER_FIELD_TYPE);
        CHECK (checker_object_type (&o, "float", 5) == 0);
        CHECK (checker_object_finish (&o, &c) == 0);
        CHECK (c.type == CHECKER_FLOAT && c.abs == CHECKER_FLOAT_ABS && c.rel == CHECKER_FLOAT_REL);

        /* Tolerances before the type, and one left to its default. */
        checker_object_init (&o);
        CHECK ((f = checker_object_key (&o, "rel", 3)) == CHECKER_FIELD_REL);
        CHECK (checker_object_tolerance (&o, f, "0", 1) == 0);
        CHECK ((f = checker_object_key (&o, "type", 4)) == CHECKER_FIELD_TYPE);
        CHECK (checker_object_type (&o, "float", 5) == 0);
        CHECK (checker_object_finish (&o, &c) == 0);
        CHECK (c.type == CHECKER_FLOAT && c.abs == CHECKER_FLOAT_ABS && c.rel == 0);

        checker_object_init (&o);
        CHECK (checker_object_key (&o, "abs", 3) == CHECKER_FIELD_ABS);
        CHECK (checker_object_tolerance (&o, CHECKER_FIELD_ABS, "0.25", 4) == 0);
        CHECK (checker_object_key (&o, "type", 4) == CHECKER_FIELD_TYPE);
        CHECK (checker_object_type (&o, "float", 5) == 0);
        CHECK (checker_object_key (&o, "rel", 3) == CHECKER_FIELD_REL);
        CHECK (checker_object_tolerance (&o, CHECKER_FIELD_REL, "1e-3", 4) == 0);
        CHECK (checker_object_finish (&o, &c) == 0);
        CHECK (c.abs == 0.25 && c.rel == 1e-3);

        /* Any type may be named alone. */
        checker_object_init (&o);
        CHECK (checker_object_key (&o, "type", 4) == CHECKER_FIELD_TYPE);
        CHECK (checker_object_type (&o, "tokens", 6) == 0);
        CHECK (checker_object_finish (&o, &c) == 0);
        CHECK (c.type == CHECKER_TOKENS && c.abs == 0 && c.rel == 0);

        /* Refusals. */
        checker_object_init (&o);
        CHECK (checker_object_finish (&o, &c) == -EINVAL); /* {} */
        CHECK (checker_object_key (&o, "abs", 3) == CHECKER_FIELD_ABS);
        CHECK (checker_object_tolerance (&o, CHECKER_FIELD_ABS, "1", 1) == 0);
        CHECK (checker_object_finish (&o, &c) == -EINVAL); /* no type */
        CHECK (checker_object_key (&o, "abs", 3) == -EEXIST);
        CHECK (checker_object_key (&o, "Type", 4) == -EINVAL);
        CHECK (checker_object_key (&o, "type\0", 5) == -EINVAL);
        CHECK (checker_object_key (&o, "", 0) == -EINVAL);
        CHECK (checker_object_key (&o, "type", 4) == CHECKER_FIELD_TYPE);
        CHECK (checker_object_type (&o, "lines", 5) == 0);
        CHECK (checker_object_finish (&o, &c) == -EINVAL); /* abs on lines */
        CHECK (checker_object_type (&o, "bogus", 5) == -EINVAL);
        CHECK (checker_object_tolerance (&o, CHECKER_FIELD_ABS, "-1", 2) == -EINVAL);
        CHECK (checker_object_tolerance (&o, CHECKER_FIELD_TYPE, "1", 1) == -EINVAL);
        CHECK_STR (checker_field_name (CHECKER_FIELD_TYPE), "type");
        CHECK_STR (checker_field_name (CHECKER_FIELD_REL), "rel");
}

/* 0 and *c when json is accepted, else -EINVAL with a reason. */
static int
from_json (const char *json, struct checker *c)
{
        char errbuf[128];
        yajl_val v = yajl_tree_parse (json, errbuf, sizeof (errbuf));
        const char *why = NULL;
        int ret;

        CHECK (v != NULL);
        ret = checker_from_json (v, c, &why);
        CHECK (ret == 0 ? why == NULL : why != NULL);
        yajl_tree_free (v);
        return ret;
}

static void
test_json (void)
{
        struct checker c;

        CHECK (checker_from_json (NULL, &c, NULL) == 0 && c.type == CHECKER_LINES);
        CHECK (from_json ("null", &c) == 0 && c.type == CHECKER_LINES);
        CHECK (from_json ("\"exact\"", &c) == 0 && c.type == CHECKER_EXACT);
        CHECK (from_json ("\"float\"", &c) == 0 && c.type == CHECKER_FLOAT);
        CHECK (c.abs == CHECKER_FLOAT_ABS && c.rel == CHECKER_FLOAT_REL);
        CHECK (from_json ("{\"type\":\"float\",\"abs\":1e-9,\"rel\":0}", &c) == 0);
        CHECK (c.type == CHECKER_FLOAT && c.abs == 1e-9 && c.rel == 0);
        CHECK (from_json ("{\"rel\":2,\"type\":\"float\"}", &c) == 0);
        CHECK (c.abs == CHECKER_FLOAT_ABS && c.rel == 2);
        CHECK (from_json ("{\"type\":\"tokens\"}", &c) == 0 && c.type == CHECKER_TOKENS);
        CHECK (from_json ("\"Lines\"", &c) == -EINVAL);
        CHECK (from_json ("1", &c) == -EINVAL);
        CHECK (from_json ("[\"lines\"]", &c) == -EINVAL);
        CHECK (from_json ("{}", &c) == -EINVAL);
        CHECK (from_json ("{\"type\":1}", &c) == -EINVAL);
        CHECK (from_json ("{\"type\":\"float\",\"abs\":\"1\"}", &c) == -EINVAL);
        CHECK (from_json ("{\"type\":\"float\",\"abs\":-1}", &c) == -EINVAL);
        CHECK (from_json ("{\"type\":\"float\",\"rel\":1e10}", &c) == -EINVAL);
        CHECK (from_json ("{\"type\":\"float\",\"rel\":1e999}", &c) == -EINVAL);
        CHECK (from_json ("{\"type\":\"exact\",\"abs\":0}", &c) == -EINVAL);
        CHECK (from_json ("{\"type\":\"float\",\"tol\":0}", &c) == -EINVAL);
        CHECK (from_json ("{\"type\":\"float\",\"type\":\"float\"}", &c) == -EINVAL);
}

int
main (void)
{
        test_exact ();
        test_lines ();
        test_tokens ();
        test_float ();
        test_large ();
        test_names ();
        test_tolerance ();
        test_object ();
        test_json ();
        TEST_DONE ();
}
