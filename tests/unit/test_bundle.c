/* Unit tests for bundle.c and the planner (plan.c): bundle.json v2 is
 * read strictly, a prepared tree is checked for its programs (links resolved
 * inside the tree), unprepared languages are listed as unavailable, Judge0
 * ids name their language with its version and are unique, and each stage's
 * limits come from the server, then the language, then the request, held to
 * the ceilings. */
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
        "  \"run\": {\"command\": [\"/build/main\"], \"limits\": {\"pids\": 32}},"
        "  \"judge0\": [{\"id\": 50, \"name\": \"C (GCC {version})\"},"
        "             {\"id\": 48, \"name\": \"C ({version}, GCC {version})\"}]},"
        " {\"name\": \"nasm\", \"entry_file\": \"main.asm\","
        "  \"judge0\": [{\"id\": 45, \"name\": \"Assembly (NASM {version})\"}],"
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

/* dir/bundle/bundle.json holding json. */
static void
write_bundle (const char *dir, const char *bundle, const char *json)
{
        char path[512];

        snprintf (path, sizeof (path), "%s/%s", dir, bundle);
        CHECK (mkdir (path, 0755) == 0);
        snprintf (path, sizeof (path), "%s/%s/bundle.json", dir, bundle);
        write_file (path, json, 0644);
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

/* A one-language bundle.json whose "judge0" member is `judge0`. */
static void
expect_judge0_error (const char *judge0, const char *needle)
{
        char json[1024];

        snprintf (json, sizeof (json),
                  "{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\","
                  " \"run\": {\"command\": [\"p\", \"{entry}\"]}, \"judge0\": %s}]}",
                  judge0);
        expect_parse_error (json, needle);
}

static void
test_parse_judge0 (void)
{
        char name[400];
        struct ce_language *l = NULL;
        struct ce_error err;
        size_t n = 0;

        expect_judge0_error ("{\"id\": 71}", "'judge0' must be an array");
        expect_judge0_error ("[71]", "judge0[0] must be an object");
        expect_judge0_error ("[{\"id\": 71, \"name\": \"P\", \"ids\": []}]",
                             "judge0[0]: unknown key 'ids'");
        expect_judge0_error ("[{\"name\": \"P\"}]", "judge0[0].id must be an integer 1-9999");
        expect_judge0_error ("[{\"id\": 0, \"name\": \"P\"}]", "judge0[0].id");
        expect_judge0_error ("[{\"id\": -3, \"name\": \"P\"}]", "judge0[0].id");
        expect_judge0_error ("[{\"id\": 10000, \"name\": \"P\"}]", "judge0[0].id");
        expect_judge0_error ("[{\"id\": 71.5, \"name\": \"P\"}]", "judge0[0].id");
        expect_judge0_error ("[{\"id\": \"71\", \"name\": \"P\"}]", "judge0[0].id");
        expect_judge0_error ("[{\"id\": 71, \"name\": \"P\"}, {\"id\": 72}]",
                             "judge0[1].name must be 1-128 printable bytes");
        expect_judge0_error ("[{\"id\": 71, \"name\": \"\"}]", "judge0[0].name");
        expect_judge0_error ("[{\"id\": 71, \"name\": 3}]", "judge0[0].name");
        expect_judge0_error ("[{\"id\": 71, \"name\": \"P\\n\"}]", "judge0[0].name");
        expect_judge0_error ("[{\"id\": 71, \"name\": \"P ({versoin})\"}]",
                             "no placeholder but {version}");
        snprintf (name, sizeof (name), "[{\"id\": 71, \"name\": \"%0129d\"}]", 0);
        expect_judge0_error (name, "judge0[0].name");

        /* 128 bytes is the most; an empty list is no ids; ids 1 and 9999 are
         * the ends of the range. */
        snprintf (name, sizeof (name),
                  "{\"languages\": [{\"name\": \"a\", \"entry_file\": \"m\","
                  " \"run\": {\"command\": [\"p\", \"{entry}\"]},"
                  " \"judge0\": [{\"id\": 1, \"name\": \"%0128d\"}]}]}",
                  0);
        CHECK (bundle_parse ("x", name, &l, &n, &err) == 0);
        CHECK (n == 1 && l[0].njudge0 == 1 && strlen (l[0].judge0[0].name_template) == 128);
        bundle_languages_free (l, n);
        CHECK (bundle_parse ("x",
                             "{\"languages\": [{\"name\": \"a\", \"entry_file\": \"m\","
                             " \"run\": {\"command\": [\"p\", \"{entry}\"]}, \"judge0\": []},"
                             " {\"name\": \"b\", \"entry_file\": \"m\","
                             " \"run\": {\"command\": [\"p\", \"{entry}\"]},"
                             " \"judge0\": [{\"id\": 9999, \"name\": \"B\"}]}]}",
                             &l, &n, &err)
               == 0);
        CHECK (n == 2 && l[0].njudge0 == 0 && l[0].judge0 == NULL && l[1].judge0[0].id == 9999);
        bundle_languages_free (l, n);
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
                /* Templates as written; names only once the version is known. */
                CHECK (l[0].njudge0 == 2 && l[1].njudge0 == 1);
                CHECK (l[0].judge0[0].id == 50 && l[0].judge0[1].id == 48);
                CHECK_STR (l[0].judge0[0].name_template, "C (GCC {version})");
                CHECK (l[0].judge0[0].name == NULL);
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
        expect_parse_error ("{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\","
                            " \"run\": {\"command\": [\"p\", \"-O{compiler_options}\"]}}]}",
                            "whole element");
        expect_parse_error (
                "{\"languages\": [{\"name\": \"py\", \"entry_file\": \"m\","
                " \"run\": {\"command\": [\"p\", \"{linker_options}\", \"{entry}\"]}}]}",
                "unknown placeholder {linker_options}");
        test_parse_judge0 ();
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
        write_bundle (dir, "gcc", gcc_json);
        snprintf (path, sizeof (path), "%s/gcc/versions.json", dir);
        write_file (path, "{\"c\": \"12.2.0\"}", 0644);
        snprintf (path, sizeof (path), "mkdir -p %s/gcc/rootfs/usr/bin", dir);
        CHECK (system (path) == 0);
        snprintf (path, sizeof (path), "%s/gcc/rootfs/usr/bin/gcc-12", dir);
        write_file (path, "#!/bin/sh\n", 0755);
        snprintf (path, sizeof (path), "%s/gcc/rootfs/usr/bin/gcc", dir);
        CHECK (symlink ("/usr/bin/gcc-12", path) == 0);
        write_bundle (dir, "py",
                      "{\"languages\": [{\"name\": \"python3\", \"aliases\": [\"py\"],"
                      " \"entry_file\": \"main.py\", \"run\": {\"command\": [\"python3\", "
                      "\"{entry}\"]}}]}");

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
                /* Judge0 ids name their language with its version, "unknown"
                 * without one; unavailable languages are still found. */
                {
                        const char *jname = NULL;

                        CHECK (bundle_lookup_judge0 (reg, 50, &jname) == c);
                        CHECK_STR (jname, "C (GCC 12.2.0)");
                        CHECK (bundle_lookup_judge0 (reg, 48, &jname) == c);
                        CHECK_STR (jname, "C (12.2.0, GCC 12.2.0)");
                        CHECK (bundle_lookup_judge0 (reg, 45, &jname) == nasm);
                        CHECK_STR (jname, "Assembly (NASM unknown)");
                        CHECK (bundle_lookup_judge0 (reg, 45, NULL) == nasm);
                        jname = "untouched";
                        CHECK (bundle_lookup_judge0 (reg, 71, &jname) == NULL);
                        CHECK_STR (jname, "untouched");
                }
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

/* A bundles dir with bundle a's bundle.json `a` and bundle b's `b`: its
 * load must fail with a message holding `needle`. */
static void
expect_load_error (const char *a, const char *b, const char *needle)
{
        char dir[] = "/tmp/ce-test-bundle-XXXXXX";
        char path[512];
        struct ce_bundle_registry *reg = NULL;
        struct ce_error err = { 0 };

        CHECK (mkdtemp (dir) != NULL);
        write_bundle (dir, "a", a);
        write_bundle (dir, "b", b);
        CHECK (bundle_registry_load (dir, &reg, &err) < 0);
        if (reg == NULL && strstr (err.msg, needle) == NULL) {
                fprintf (stderr, "error '%s' lacks '%s'\n", err.msg, needle);
                test_failures++;
        }
        bundle_registry_free (reg);
        snprintf (path, sizeof (path), "rm -rf %s", dir);
        CHECK (system (path) == 0);
}

/* One Judge0 id, two languages (in two bundles, in one, or one language
 * twice): the load fails and says which. */
static void
test_judge0_clash (void)
{
        static const char two[] =
                "{\"languages\": [{\"name\": \"x\", \"entry_file\": \"m\","
                " \"run\": {\"command\": [\"p\", \"{entry}\"]},"
                " \"judge0\": [{\"id\": 8, \"name\": \"X\"}]},"
                " {\"name\": \"y\", \"entry_file\": \"m\","
                " \"run\": {\"command\": [\"p\", \"{entry}\"]},"
                " \"judge0\": [{\"id\": 9, \"name\": \"Y\"}, {\"id\": 8, \"name\": \"Y\"}]}]}";
        static const char twice[] =
                "{\"languages\": [{\"name\": \"z\", \"entry_file\": \"m\","
                " \"run\": {\"command\": [\"p\", \"{entry}\"]},"
                " \"judge0\": [{\"id\": 5, \"name\": \"Z\"}, {\"id\": 5, \"name\": \"Z2\"}]}]}";
        static const char lang_a[] =
                "{\"languages\": [{\"name\": \"a\", \"entry_file\": \"m\","
                " \"run\": {\"command\": [\"p\", \"{entry}\"]},"
                " \"judge0\": [{\"id\": 1, \"name\": \"A\"}, {\"id\": 7, \"name\": \"A\"}]}]}";
        static const char lang_b[] = "{\"languages\": [{\"name\": \"b\", \"entry_file\": \"m\","
                                     " \"run\": {\"command\": [\"p\", \"{entry}\"]},"
                                     " \"judge0\": [{\"id\": 7, \"name\": \"B\"}]}]}";

        expect_load_error (lang_a, lang_b,
                           "Judge0 language id 7 is claimed by both a (bundle a) and b (bundle b)");
        expect_load_error (lang_a, two,
                           "Judge0 language id 8 is claimed by both x (bundle b) and y (bundle b)");
        expect_load_error (lang_a, twice, "Judge0 language id 5 is claimed twice by z (bundle b)");
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
        test_judge0_clash ();
        test_argv ();
        TEST_DONE ();
}
