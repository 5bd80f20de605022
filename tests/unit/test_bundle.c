/* Unit tests for bundle.c and the planner (plan.c): bundle.json v2 is
 * read strictly, a prepared tree is checked for its programs (links resolved
 * inside the tree), unprepared languages are listed as unavailable, and each
 * stage's limits come from the server, then the language, then the request,
 * held to the ceilings. */
#include <fcntl.h>
#include <sys/stat.h>

#include "bundle.h"
#include "plan.h"
#include "test.h"

static const char gcc_json[] =
        "{\"description\": \"GCC\", \"languages\": ["
        " {\"name\": \"c\", \"aliases\": [\"gcc\"], \"entry_file\": \"main.c\","
        "  \"version_command\": [\"gcc\", \"-dumpfullversion\"], \"sources\": [\".c\"],"
        "  \"env\": {\"A\": \"1\"},"
        "  \"compile\": {\"command\": [\"gcc\", \"-o\", \"/build/main\", \"{sources}\"],"
        "               \"env\": {\"B\": \"2\"}, \"limits\": {\"memory_mb\": 300, \"timeout_ms\": "
        "5000}},"
        "  \"run\": {\"command\": [\"/build/main\"], \"limits\": {\"pids\": 32}}},"
        " {\"name\": \"nasm\", \"entry_file\": \"main.asm\","
        "  \"compile\": {\"command\": [\"nasm\", \"{entry}\"]},"
        "  \"run\": {\"command\": [\"/build/main\"], \"limits\": {\"memory_mb\": 4000}}}"
        "]}";

static void
write_file (const char *path, const char *text, mode_t mode)
{
        int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        CHECK (fd >= 0);
        if (fd >= 0) {
                CHECK (write (fd, text, strlen (text)) == (ssize_t) strlen (text));
                close (fd);
        }
}

static void
expect_parse_error (const char *json, const char *needle)
{
        struct ce_language *l = NULL;
        struct ce_error err = { 0 };
        size_t n = 0;

        if (bundle_parse ("x", json, &l, &n, &err) == 0) {
                fprintf (stderr, "accepted: %s\n", json);
                test_failures++;
                bundle_languages_free (l, n);
                return;
        }
        if (strstr (err.msg, needle) == NULL) {
                fprintf (stderr, "error '%s' lacks '%s'\n", err.msg, needle);
                test_failures++;
        }
}

static void
test_parse (void)
{
        struct ce_language *l = NULL;
        struct ce_error err;
        size_t n = 0;

        CHECK (bundle_parse ("gcc", gcc_json, &l, &n, &err) == 0);
        CHECK (n == 2);
        if (n == 2) {
                CHECK_STR (l[0].name, "c");
                CHECK_STR (l[0].bundle, "gcc");
                CHECK_STR (l[0].aliases[0], "gcc");
                CHECK_STR (l[0].sources[0], ".c");
                CHECK_STR (l[0].compile.command[3], "{sources}");
                /* The language's env first, then the stage's. */
                CHECK_STR (l[0].compile.env[0], "A=1");
                CHECK_STR (l[0].compile.env[1], "B=2");
                CHECK (l[0].compile.env[2] == NULL);
                CHECK_STR (l[0].run.env[0], "A=1");
                CHECK (l[0].compile.limits_given == (LIMIT_MEMORY | LIMIT_TIMEOUT));
                CHECK (l[0].compile.limits.memory_mb == 300);
                CHECK (l[0].run.limits_given == LIMIT_PIDS && l[0].run.limits.pids == 32);
                CHECK (l[1].aliases[0] == NULL && l[1].sources[0] == NULL);
                CHECK (! l[0].available && l[0].rootfs == NULL);
        }
        bundle_languages_free (l, n);

        expect_parse_error ("[]", "'languages'");
        expect_parse_error ("{\"languages\": []}", "'languages'");
        expect_parse_error ("{\"languages\": [{\"name\": \"Py\", \"entry_file\": \"m\","
                            " \"run\": {\"command\": [\"p\", \"{entry}\"]}}]}",
                            "name");
        expect_parse_error ("{\"languages\": [{\"name\": \"py\", \"entry_file\": \"a/m\","
                            " \"run\": {\"command\": [\"p\", \"{entry}\"]}}]}",
                            "entry_file");
        expect_parse_error ("{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\"}]}",
                            "'run' is required");
        expect_parse_error ("{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\","
                            " \"run\": {\"command\": [\"p\"]}}]}",
                            "where the code goes");
        expect_parse_error ("{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\","
                            " \"run\": {\"command\": [\"p\", \"{entry}\"], \"limts\": {}}}]}",
                            "unknown key 'limts'");
        expect_parse_error ("{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\","
                            " \"run\": {\"command\": [\"p\", \"{entry}\"],"
                            " \"limits\": {\"memory_mb\": 1.5}}}]}",
                            "integer");
        expect_parse_error ("{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\","
                            " \"run\": {\"command\": [\"p\", \"x{sources}\"]}}]}",
                            "whole element");
        expect_parse_error ("{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\", "
                            "\"colour\": 1, \"run\": {\"command\": [\"p\", \"{entry}\"]}}]}",
                            "unknown key 'colour'");
}

/* A bundles dir with a prepared gcc tree (gcc a link, absolute inside the
 * tree), a nasm whose program is missing, and an unprepared bundle. */
static void
test_registry (void)
{
        char dir[] = "/tmp/ce-test-bundle-XXXXXX";
        char path[512];
        struct ce_bundle_registry *reg = NULL;
        struct ce_error err;
        const struct ce_language *c, *nasm, *py;

        CHECK (mkdtemp (dir) != NULL);
        snprintf (path, sizeof (path), "%s/gcc", dir);
        CHECK (mkdir (path, 0755) == 0);
        snprintf (path, sizeof (path), "%s/gcc/bundle.json", dir);
        write_file (path, gcc_json, 0644);
        snprintf (path, sizeof (path), "%s/gcc/versions.json", dir);
        write_file (path, "{\"c\": \"12.2.0\"}", 0644);
        snprintf (path, sizeof (path), "mkdir -p %s/gcc/rootfs/usr/bin", dir);
        CHECK (system (path) == 0);
        snprintf (path, sizeof (path), "%s/gcc/rootfs/usr/bin/gcc-12", dir);
        write_file (path, "#!/bin/sh\n", 0755);
        snprintf (path, sizeof (path), "%s/gcc/rootfs/usr/bin/gcc", dir);
        CHECK (symlink ("/usr/bin/gcc-12", path) == 0);
        snprintf (path, sizeof (path), "%s/py", dir);
        CHECK (mkdir (path, 0755) == 0);
        snprintf (path, sizeof (path), "%s/py/bundle.json", dir);
        write_file (path,
                    "{\"languages\": [{\"name\": \"python3\", \"aliases\": [\"py\"],"
                    " \"entry_file\": \"main.py\", \"run\": {\"command\": [\"python3\", "
                    "\"{entry}\"]}}]}",
                    0644);

        CHECK (bundle_registry_load (dir, &reg, &err) == 0);
        if (reg) {
                CHECK (bundle_count (reg) == 3);
                c = bundle_lookup (reg, "gcc");
                nasm = bundle_lookup (reg, "nasm");
                py = bundle_lookup (reg, "py");
                CHECK (c && c->available && strcmp (c->version, "12.2.0") == 0);
                CHECK (nasm && ! nasm->available
                       && strstr (nasm->reason, "nasm is not on its PATH"));
                CHECK (py && ! py->available && strstr (py->reason, "not prepared"));
                CHECK_STR (bundle_names (reg), "c");
                CHECK (bundle_lookup (reg, "cobol") == NULL);
                CHECK_STR (bundle_at (reg, 0)->name, "c");
                if (c && nasm) {
                        const struct exec_policy pol = {
                                .defaults = { 30000, 50, 0.5, 1 << 20, 64 },
                                .ceilings = { 60000, 512, 1, 16 << 20, 256 },
                                .compile_defaults = { 10000, 256, 1, 1 << 20, 128 },
                                .compile_ceilings = { 60000, 1024, 1, 16 << 20, 256 },
                        };
                        struct ce_request req = { 0 };
                        struct exec_plan plan;
                        struct ce_limits lim;

                        /* The language replaces the server's defaults... */
                        plan_default_limits (c, true, &pol, &lim);
                        CHECK (lim.memory_mb == 300 && lim.timeout_ms == 5000 && lim.pids == 128);
                        plan_default_limits (c, false, &pol, &lim);
                        CHECK (lim.memory_mb == 50 && lim.pids == 32);
                        /* ...held to the ceiling. */
                        plan_default_limits (nasm, false, &pol, &lim);
                        CHECK (lim.memory_mb == 512);
                        /* The request replaces both, within the ceilings. */
                        req.limits_given = LIMIT_OUTPUT | LIMIT_MEMORY;
                        req.limits.output_bytes = 100;
                        req.limits.memory_mb = 100;
                        req.compile_limits_given = LIMIT_TIMEOUT;
                        req.compile_limits.timeout_ms = 200;
                        CHECK (plan_make (c, &req, &pol, &plan, &err) == 0);
                        CHECK (plan.run_limits.memory_mb == 100 && plan.run_limits.pids == 32);
                        CHECK (plan.compile_limits.timeout_ms == 200
                               && plan.compile_limits.memory_mb == 300
                               && plan.compile_limits.output_bytes == 100);
                        req.compile_limits.timeout_ms = 60001;
                        CHECK (plan_make (c, &req, &pol, &plan, &err) < 0);
                        CHECK (ce_error_http_status (&err) == 400
                               && strstr (err.msg, "limits.compile_timeout_ms"));
                        /* An unavailable language is a 503 that says why. */
                        req.compile_limits_given = 0;
                        CHECK (plan_make (nasm, &req, &pol, &plan, &err) < 0);
                        CHECK (ce_error_http_status (&err) == 503
                               && strstr (err.msg, "not available"));
                }
        }
        bundle_registry_free (reg);
        snprintf (path, sizeof (path), "rm -rf %s", dir);
        CHECK (system (path) == 0);
}

static void
check_argv (char **argv, const char *const *want)
{
        size_t i;

        CHECK (argv != NULL);
        for (i = 0; argv && want[i]; i++)
                CHECK_STR (argv[i], want[i]);
        CHECK (argv == NULL || argv[i] == NULL);
        ce_strv_free (argv);
}

/* plan_argv: the placeholders, the sources among several files, the args
 * only on the run, and a request given as code. */
static void
test_argv (void)
{
        static const char json[] =
                "{\"languages\": ["
                " {\"name\": \"c\", \"entry_file\": \"main.c\", \"sources\": [\".c\"],"
                "  \"compile\": {\"command\": [\"gcc\", \"-o\", \"/build/{stem}\", \"{sources}\"]},"
                "  \"run\": {\"command\": [\"/build/{stem}\", \"--in={entry}\"]}}]}";
        struct ce_language *l = NULL;
        struct ce_error err;
        size_t n = 0;
        struct ce_file files[] = { { (char *) "app.c", (char *) "", 0 },
                                   { (char *) "lib/util.c", (char *) "", 0 },
                                   { (char *) "data.txt", (char *) "", 0 },
                                   { (char *) "x.c.bak", (char *) "", 0 } };
        char *args[] = { (char *) "a b", (char *) "$(id)", NULL };
        struct ce_request req = { .files = files, .nfiles = 4, .args = args, .nargs = 2 };

        CHECK (bundle_parse ("gcc", json, &l, &n, &err) == 0);
        if (n != 1)
                return;
        check_argv (plan_argv (&l[0], &l[0].compile, &req, false),
                    (const char *[]){ "gcc", "-o", "/build/app", "/code/app.c", "/code/lib/util.c",
                                      NULL });
        check_argv (plan_argv (&l[0], &l[0].run, &req, true),
                    (const char *[]){ "/build/app", "--in=/code/app.c", "a b", "$(id)", NULL });
        check_argv (plan_argv (&l[0], &l[0].run, &req, false),
                    (const char *[]){ "/build/app", "--in=/code/app.c", NULL });
        /* Given as "code": the language's entry file, whatever files[0] is called. */
        req.from_code = true;
        req.nfiles = 1;
        check_argv (plan_argv (&l[0], &l[0].compile, &req, false),
                    (const char *[]){ "gcc", "-o", "/build/main", "/code/main.c", NULL });
        CHECK_STR (plan_file_name (&l[0], &req, 0), "main.c");
        bundle_languages_free (l, n);
}

int
main (void)
{
        test_parse ();
        test_registry ();
        test_argv ();
        TEST_DONE ();
}
