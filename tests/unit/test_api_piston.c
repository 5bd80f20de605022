/* Unit tests for api_piston.c: Piston's version matching (exact, SemVer
 * ranges, "*") and which of a language's names is Piston's. */
#include "api_piston.h"
#include "test.h"

static void
check_version (const char *want, const char *have, int expect)
{
        int got = api_piston_version_matches (want, have);

        if (got != expect) {
                fprintf (stderr, "%s:%d: version '%s' against '%s': %d, expected %d\n", __FILE__,
                         __LINE__, want ? want : "(null)", have, got, expect);
                test_failures++;
        }
}

int
main (void)
{
        char *py_aliases[] = { (char *) "python", (char *) "py", NULL };
        char *cpp_aliases[] = { (char *) "c++", (char *) "g++", NULL };
        char *c_aliases[] = { (char *) "gcc", NULL };
        char *none[] = { NULL };
        struct ce_language py = { .name = (char *) "python3", .aliases = py_aliases };
        struct ce_language cpp = { .name = (char *) "cpp", .aliases = cpp_aliases };
        struct ce_language c = { .name = (char *) "c", .aliases = c_aliases };
        struct ce_language odd = { .name = (char *) "mylang", .aliases = none };

        CHECK_STR (api_piston_language_name (&py), "python");
        CHECK_STR (api_piston_language_name (&cpp), "c++");
        CHECK_STR (api_piston_language_name (&c), "c");
        CHECK_STR (api_piston_language_name (&odd), "mylang");

        check_version (NULL, "3.11.2", 1);
        check_version ("3.11.2", "3.11.2", 1);
        check_version ("2.2.9.debian", "2.2.9.debian", 1);
        check_version ("*", "3.11.2", 1);
        check_version ("", "3.11.2", 1);
        check_version ("x", "3.11.2", 1);
        check_version ("3", "3.11.2", 1);
        check_version ("3.x", "3.11.2", 1);
        check_version ("3.11", "3.11.2", 1);
        check_version ("3.12", "3.11.2", 0);
        check_version ("3.11.3", "3.11.2", 0);
        check_version ("^3.10", "3.11.2", 1);
        check_version ("^3.12", "3.11.2", 0);
        check_version ("^4", "3.11.2", 0);
        check_version ("^0.2.3", "0.2.9", 1);
        check_version ("^0.2.3", "0.3.0", 0);
        check_version ("~3.11.0", "3.11.2", 1);
        check_version ("~3.10.0", "3.11.2", 0);
        check_version ("~3", "3.11.2", 1);
        check_version (">=3.11.2", "3.11.2", 1);
        check_version (">3.11.2", "3.11.2", 0);
        check_version (">3.10", "3.11.2", 1);
        check_version (">3.11", "3.11.2", 0);
        check_version ("<3.11.2", "3.11.2", 0);
        check_version ("<=3.11", "3.11.2", 1);
        check_version (">=3 <4", "3.11.2", 1);
        check_version (">=3 <3.11", "3.11.2", 0);
        check_version ("1 || 3", "3.11.2", 1);
        check_version ("1 || 2", "3.11.2", 0);
        check_version ("3.0.0 - 3.11.2", "3.11.2", 1);
        check_version ("3.0.0 - 3.11.1", "3.11.2", 0);
        check_version ("17", "17.0.21.1", 1);
        check_version ("17.0.21", "17.0.21.1", 1);
        check_version ("2.2", "2.2.9.debian", 1);
        check_version ("abc", "3.11.2", 0);
        check_version ("3.11.2.1", "3.11.2", 0);
        check_version (">=", "3.11.2", 0);
        TEST_DONE ();
}
