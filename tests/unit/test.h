/* Tiny assertion helpers shared by the unit tests: a failed CHECK prints
 * where and why and makes the test exit non-zero at the end. */
#ifndef CE_TEST_H
#define CE_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (! (cond)) {                                                                    \
                        fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
                        test_failures++;                                                           \
                }                                                                                  \
        } while (0)

#define CHECK_STR(a, b)                                                                            \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                if (_a == NULL || _b == NULL || strcmp (_a, _b) != 0) {                            \
                        fprintf (stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__,              \
                                 _a ? _a : "(null)", _b ? _b : "(null)");                          \
                        test_failures++;                                                           \
                }                                                                                  \
        } while (0)

#define TEST_DONE()                                                                                \
        do {                                                                                       \
                if (test_failures)                                                                 \
                        fprintf (stderr, "%d check(s) failed\n", test_failures);                   \
                else                                                                               \
                        printf ("all checks passed\n");                                            \
                return test_failures ? 1 : 0;                                                      \
        } while (0)

#endif
