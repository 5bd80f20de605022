/* Unit tests for request.c: valid and invalid bodies, each also fed one
 * byte at a time to prove the streaming parser is split-safe. */
#include "request.h"
#include "test.h"

/* Parse body in chunks of `step` bytes.  Returns the HTTP status the error
 * maps to (500 when internal), or 0 when the body was accepted. */
static int
parse (const char *body, size_t len, size_t step, size_t max, struct ce_request **req,
       struct ce_error *err)
{
        struct request_parser *p = request_parser_new (max);
        int ret = 0;

        *req = NULL;
        for (size_t off = 0; off < len && ret == 0; off += step)
                ret = request_parser_feed (p, body + off, len - off < step ? len - off : step, err);
        if (ret == 0)
                ret = request_parser_finish (p, req, err);
        request_parser_free (p);
        return ret < 0 ? (int) ce_error_http_status (err) : 0;
}

static void
expect_ok (const char *body, const char *lang, const char *code, size_t code_len)
{
        size_t steps[] = { 1, 2, 7, 1 << 20 };

        for (size_t i = 0; i < sizeof (steps) / sizeof (*steps); i++) {
                struct ce_request *r;
                struct ce_error err = { 0 };
                int st = parse (body, strlen (body), steps[i], 1 << 20, &r, &err);

                if (st != 0)
                        fprintf (stderr, "body %s: %s\n", body, err.msg);
                CHECK (st == 0);
                if (r) {
                        CHECK_STR (r->language, lang);
                        CHECK (r->nfiles == 1 && r->from_code);
                        CHECK (r->files[0].len == code_len
                               && memcmp (r->files[0].data, code, code_len) == 0);
                        CHECK (r->args && r->args[0] == NULL && r->stdin_data == NULL);
                }
                request_free (r);
        }
}

static void
expect_error_max (const char *body, size_t len, size_t max, int status, const char *needle)
{
        size_t steps[] = { 1, 3, 1 << 20 };

        for (size_t i = 0; i < sizeof (steps) / sizeof (*steps); i++) {
                struct ce_request *r;
                struct ce_error err = { 0 };
                int st = parse (body, len, steps[i], max, &r, &err);

                if (st != status || strstr (err.msg, needle) == NULL)
                        fprintf (stderr, "body %.40s: got %d '%s', want %d '%s'\n", body, st,
                                 err.msg, status, needle);
                CHECK (st == status);
                CHECK (strstr (err.msg, needle) != NULL);
                CHECK (r == NULL);
        }
}

/* For big bodies: yajl rescans a string it holds across pieces from its
 * start at each piece, so byte-sized pieces of a long string are quadratic. */
static void
expect_error_big (const char *body, const char *needle)
{
        size_t steps[] = { 4096, 1 << 20 };

        for (size_t i = 0; i < sizeof (steps) / sizeof (*steps); i++) {
                struct ce_request *r;
                struct ce_error err = { 0 };
                int st = parse (body, strlen (body), steps[i], 1 << 20, &r, &err);

                if (st != 400 || strstr (err.msg, needle) == NULL)
                        fprintf (stderr, "body %.40s: got %d '%s', want 400 '%s'\n", body, st,
                                 err.msg, needle);
                CHECK (st == 400 && strstr (err.msg, needle) != NULL);
                CHECK (r == NULL);
        }
}

static void
expect_error (const char *body, size_t len, int status, const char *needle)
{
        expect_error_max (body, len, 1000, status, needle);
}

int
main (void)
{
        char *deep;

        expect_ok ("{\"language\":\"python3\",\"code\":\"print('Hello, World!')\"}", "python3",
                   "print('Hello, World!')", 22);
        expect_ok ("  {\"code\" : \"x\\ny\", \"language\" : \"py\" }  ", "py", "x\ny", 3);
        expect_ok ("{\"language\":\"python3\",\"code\":\"\\u00e9\\u0000z\"}", "python3",
                   "\xc3\xa9\0z", 4);
        expect_ok ("{\"language\":\"python3\",\"code\":\"\"}", "python3", "", 0);

#define E(body, status, needle) expect_error (body, strlen (body), status, needle)
        E ("", 400, "empty");
        E ("{\"language\":", 400, "malformed JSON");
        E ("[]", 400, "must be a JSON object");
        E ("\"str\"", 400, "must be a JSON object");
        E ("42", 400, "must be a JSON object");
        E ("null", 400, "must be a JSON object");
        E ("{}", 400, "missing field 'language'");
        E ("{\"language\":\"python3\",\"code\":\"x\",\"files\":[]}", 400, "not both");
        E ("{\"language\":\"python3\"}", 400, "missing field 'code' (or 'files')");
        E ("{\"language\":5,\"code\":\"x\"}", 400, "'language' must be a string");
        E ("{\"language\":\"python3\",\"code\":5}", 400, "'code' must be a string");
        E ("{\"language\":\"python3\",\"code\":null}", 400, "'code' must be a string");
        E ("{\"language\":\"python3\",\"code\":[\"x\"]}", 400, "'code' must be a string");
        E ("{\"language\":\"python3\",\"code\":{}}", 400, "'code' must be a string");
        E ("{\"language\":\"python3\",\"code\":true}", 400, "'code' must be a string");
        E ("{\"language\":\"python3\",\"code\":\"x\",\"extra\":1}", 400, "unknown field 'extra'");
        E ("{\"language\":\"python3\",\"language\":\"py\",\"code\":\"x\"}", 400, "given twice");
        E ("{\"language\":\"\",\"code\":\"x\"}", 400, "non-empty");
        E ("{\"language\":\"a\\u0000b\",\"code\":\"x\"}", 400, "NUL");
        E ("{\"language\":\"python3\",\"code\":\"x\"} {}", 400, "malformed JSON");
        E ("{\"language\":\"python3\",\"code\":\"x\"", 400, "malformed JSON");
        expect_error ("{\"language\":\"python3\",\"code\":\"a\0b\"}", 35, 400, "malformed JSON");
        expect_error ("\x00\xff\xfe garbage", 12, 400, "malformed JSON");
        E ("{\"language\":\"python3\",\"code\":\"\xff\"}", 400, "malformed JSON");

        /* Nesting is refused at its first level, whatever the depth. */
        deep = malloc (100001);
        memset (deep, '[', 100000);
        deep[100000] = '\0';
        expect_error_max (deep, 100000, 1 << 20, 400, "must be a JSON object");
        free (deep);
        E ("{\"code\":{\"a\":{\"a\":{\"a\":1}}}}", 400, "'code' must be a string");

        /* output_files: globs checked one by one, named by index */
        E ("{\"language\":\"p\",\"code\":\"x\",\"output_files\":[]}", 400,
           "'output_files' must hold at least one");
        E ("{\"language\":\"p\",\"code\":\"x\",\"output_files\":\"*.png\"}", 400,
           "'output_files' must be an array");
        E ("{\"language\":\"p\",\"code\":\"x\",\"output_files\":[\"a\",1]}", 400,
           "'output_files[1]' must be a string");
        E ("{\"language\":\"p\",\"code\":\"x\",\"output_files\":[\"a\",\"b\",\"\"]}", 400,
           "'output_files[2]'");
        E ("{\"language\":\"p\",\"code\":\"x\",\"output_files\":[\"/etc/x\"]}", 400,
           "'output_files[0]' must be relative");
        E ("{\"language\":\"p\",\"code\":\"x\",\"output_files\":[\"a/../b\"]}", 400, "'..'");
        E ("{\"language\":\"p\",\"code\":\"x\",\"output_files\":[\"a\\u0000\"]}", 400, "NUL");
        E ("{\"language\":\"p\",\"code\":\"x\",\"output_files\":[\"*\"],"
           "\"tests\":[{\"stdin\":\"\"}]}",
           400, "cannot be given with 'tests'");
        {
                const char *why;
                struct ce_request *r;
                struct ce_error err = { 0 };
                const char *ok = "{\"language\":\"p\",\"code\":\"x\",\"output_files\":[\"*.png\","
                                 "\"out/r.csv\",\"a..b\",\".x\"]}";

                CHECK (request_check_glob ("out/*.csv", 9, &why) == 0);
                CHECK (request_check_glob ("a//b", 4, &why) < 0);
                CHECK (request_check_glob ("./a", 3, &why) < 0);
                CHECK (request_check_glob ("a/", 2, &why) < 0);
                CHECK (request_check_glob ("..", 2, &why) < 0);
                CHECK (parse (ok, strlen (ok), 1, 1000, &r, &err) == 0);
                CHECK (r->noutput_files == 4 && r->output_files[4] == NULL);
                CHECK_STR (r->output_files[1], "out/r.csv");
                request_free (r);
        }

        /* files, stdin, args, limits */
        {
                const char *body =
                        "{\"language\":\"py\",\"files\":[{\"name\":\"main.py\",\"content\":"
                        "\"import "
                        "h\"},{\"name\":\"pkg/h.bin\",\"content\":\"AAH/"
                        "\",\"encoding\":\"base64\"}],"
                        "\"stdin\":\"in\\u0000put\",\"args\":[\"a b\",\"$(id)\"],\"limits\":{"
                        "\"timeout_ms\":1500,\"cpus\":0.25,\"pids\":9}}";
                size_t steps[] = { 1, 5, 1 << 20 };

                for (size_t i = 0; i < 3; i++) {
                        struct ce_request *r;
                        struct ce_error err = { 0 };

                        CHECK (parse (body, strlen (body), steps[i], 1 << 20, &r, &err) == 0);
                        if (r == NULL) {
                                fprintf (stderr, "%s\n", err.msg);
                                continue;
                        }
                        CHECK (r->nfiles == 2 && ! r->from_code);
                        CHECK_STR (r->files[0].name, "main.py");
                        CHECK_STR (r->files[1].name, "pkg/h.bin");
                        CHECK (r->files[1].len == 3
                               && memcmp (r->files[1].data, "\0\1\xff", 3) == 0);
                        CHECK (r->stdin_len == 6 && memcmp (r->stdin_data, "in\0put", 6) == 0);
                        CHECK (r->nargs == 2 && r->args[2] == NULL);
                        CHECK_STR (r->args[0], "a b");
                        CHECK_STR (r->args[1], "$(id)");
                        CHECK (r->limits_given == (LIMIT_TIMEOUT | LIMIT_CPUS | LIMIT_PIDS));
                        CHECK (r->limits.timeout_ms == 1500 && r->limits.cpus == 0.25
                               && r->limits.pids == 9);
                        request_free (r);
                }
        }
#define F(files, needle) E ("{\"language\":\"py\",\"files\":" files "}", 400, needle)
        F ("[]", "must not be empty");
        F ("{}", "'files' must be an array");
        F ("[1]", "'files[0]' must be a file object");
        F ("[{\"name\":\"a\"}]", "'files[0].content' is required");
        F ("[{\"content\":\"a\"}]", "'files[0].name' is required");
        F ("[{\"name\":\"a\",\"content\":\"x\",\"mode\":1}]", "unknown field 'files[0].mode'");
        F ("[{\"name\":\"a\",\"content\":5}]", "'files[0].content' must be a string");
        F ("[{\"name\":\"a\",\"content\":\"x\",\"encoding\":\"hex\"}]", "'files[0].encoding'");
        F ("[{\"name\":\"a\",\"content\":\"!!\",\"encoding\":\"base64\"}]", "not valid base64");
        F ("[{\"name\":\"a\",\"content\":\"x\"},{\"name\":\"../x\",\"content\":\"x\"}]",
           "'files[1].name'");
        F ("[{\"name\":\"/etc/x\",\"content\":\"x\"}]", "relative path");
        F ("[{\"name\":\"a/../../b\",\"content\":\"x\"}]", "'files[0].name'");
        F ("[{\"name\":\"x\\u0000y\",\"content\":\"x\"}]", "NUL");
        F ("[{\"name\":\"\",\"content\":\"x\"}]", "'files[0].name'");
        F ("[{\"name\":\"a//b\",\"content\":\"x\"}]", "empty");
        F ("[{\"name\":\"./a\",\"content\":\"x\"}]", "'files[0].name'");
        F ("[{\"name\":\"a\",\"content\":\"x\"},{\"name\":\"a\",\"content\":\"y\"}]", "clashes");
        F ("[{\"name\":\"a\",\"content\":\"x\"},{\"name\":\"a/b\",\"content\":\"y\"}]", "clashes");
        F ("[{\"name\":\"a/b\",\"content\":\"x\"},{\"name\":\"a\",\"content\":\"y\"}]", "clashes");
        F ("[[]]", "'files[0]' must be a file object");
#define A(args, needle) E ("{\"language\":\"py\",\"code\":\"x\",\"args\":" args "}", 400, needle)
        A ("\"x\"", "'args' must be an array");
        A ("[1]", "'args[0]' must be a string");
        A ("[\"a\",\"b\\u0000\"]", "'args[1]' must not contain NUL");
        A ("[[\"a\"]]", "'args[0]' must be a string");
        F ("[{\"name\":\"a\",\"content\":\"x\",\"name\":\"b\"}]", "'files[0].name' given twice");
#define L(limits, needle)                                                                          \
        E ("{\"language\":\"py\",\"code\":\"x\",\"limits\":" limits "}", 400, needle)
        L ("[]", "'limits' must be an object");
        L ("{\"pids\":16,\"pids\":32}", "'limits.pids' given twice");
        L ("{\"timeout_ms\":1.5}", "'limits.timeout_ms' must be an integer");
        L ("{\"pids\":1e3}", "'limits.pids' must be an integer");
        L ("{\"memory_mb\":\"64\"}", "'limits.memory_mb' must be a number");
        L ("{\"cpus\":null}", "'limits.cpus' must be a number");
        L ("{\"disk\":1}", "unknown field 'limits.disk'");
        L ("{\"pids\":99999999999999999999999}", "must be an integer");
        E ("{\"language\":\"py\",\"code\":\"x\",\"stdin\":1}", 400, "'stdin' must be a string");
        {
                /* 65 files */
                char body[8192];
                size_t n =
                        (size_t) snprintf (body, sizeof (body), "{\"language\":\"py\",\"files\":[");

                for (int i = 0; i < 65; i++)
                        n += (size_t) snprintf (body + n, sizeof (body) - n,
                                                "%s{\"name\":\"f%d\",\"content\":\"\"}",
                                                i ? "," : "", i);
                snprintf (body + n, sizeof (body) - n, "]}");
                expect_error_max (body, strlen (body), 1 << 20, 400, "more than 64");
        }
        /* Limits against minimums and ceilings. */
        {
                const struct ce_limits def = { 30000, 50, 0.5, 1 << 20, 64 };
                const struct ce_limits ceil = { 60000, 512, 1, 16 << 20, 256 };
                struct ce_request r = { 0 };
                struct ce_limits out;
                struct ce_error err;

                CHECK (request_resolve_limits (&r.limits, r.limits_given, "", &def, &ceil, &out,
                                               &err)
                       == 0);
                CHECK (out.timeout_ms == 30000 && out.memory_mb == 50 && out.pids == 64);
                r.limits_given = LIMIT_TIMEOUT | LIMIT_MEMORY | LIMIT_CPUS;
                r.limits = (struct ce_limits){ 60000, 16, 1, 0, 0 };
                CHECK (request_resolve_limits (&r.limits, r.limits_given, "", &def, &ceil, &out,
                                               &err)
                       == 0);
                CHECK (out.timeout_ms == 60000 && out.memory_mb == 16 && out.cpus == 1
                       && out.output_bytes == 1 << 20);
                r.limits.timeout_ms = 60001;
                CHECK (request_resolve_limits (&r.limits, r.limits_given, "", &def, &ceil, &out,
                                               &err)
                       < 0);
                CHECK (ce_error_http_status (&err) == 400 && strstr (err.msg, "at most 60000"));
                r.limits.timeout_ms = 0;
                CHECK (request_resolve_limits (&r.limits, r.limits_given, "", &def, &ceil, &out,
                                               &err)
                       < 0);
                r.limits.timeout_ms = 10;
                r.limits.cpus = 1.5;
                CHECK (request_resolve_limits (&r.limits, r.limits_given, "", &def, &ceil, &out,
                                               &err)
                       < 0);
                CHECK (strstr (err.msg, "limits.cpus") && strstr (err.msg, "at most 1"));
                r.limits_given = LIMIT_PIDS;
                r.limits.pids = -1;
                CHECK (request_resolve_limits (&r.limits, r.limits_given, "", &def, &ceil, &out,
                                               &err)
                       < 0);
                /* The compile stage's limits name their own fields. */
                r.compile_limits.timeout_ms = 70000;
                CHECK (request_resolve_limits (&r.compile_limits, LIMIT_TIMEOUT, "compile_", &def,
                                               &ceil, &out, &err)
                       < 0);
                CHECK (strstr (err.msg, "limits.compile_timeout_ms") != NULL);
        }

        /* The shared rules, as every front-end calls them. */
        {
                struct ce_request *r = calloc (1, sizeof (*r));
                struct ce_error err;
                char big[REQUEST_MAX_ARG_LEN];

                CHECK (r != NULL);
                CHECK (request_check_file (r, "a/b.py", 6, &err) == 0);
                CHECK (request_add_file (r, strdup ("a/b.py"), strdup ("x"), 1, &err) == 0);
                CHECK (request_check_file (r, "a", 1, &err) < 0
                       && ce_error_http_status (&err) == 400 && strstr (err.msg, "files[1].name")
                       && strstr (err.msg, "clashes with files[0]"));
                CHECK (request_check_file (r, "../x", 4, &err) < 0
                       && strstr (err.msg, "relative path"));
                CHECK (request_check_file (r, "a\0b", 3, &err) < 0);
                CHECK (request_add_arg (r, "one", 3, &err) == 0 && r->nargs == 1
                       && strcmp (r->args[0], "one") == 0 && r->args[1] == NULL
                       && r->args_bytes == 4);
                CHECK (request_add_arg (r, "t\0o", 3, &err) < 0 && strstr (err.msg, "args[1]"));
                memset (big, 'x', sizeof (big));
                CHECK (request_add_arg (r, big, sizeof (big), &err) < 0
                       && strstr (err.msg, "longer than"));
                CHECK (r->nargs == 1);
                request_free (r);
        }

        /* tests, checker, stop_on_failure */
        {
                const char *body =
                        "{\"language\":\"py\",\"code\":\"x\",\"tests\":["
                        "{\"name\":\"first \\u00e9\",\"stdin\":\"a\\u0000b\",\"args\":[\"-v\","
                        "\"\"],\"expected_output\":\"ok\\u0000\\n\"},"
                        "{\"expected_output\":\"\"},"
                        "{\"args\":[],\"name\":\"\",\"stdin\":\"\"}],"
                        "\"checker\":{\"rel\":0,\"type\":\"float\",\"abs\":1e-9},"
                        "\"stop_on_failure\":true}";
                size_t steps[] = { 1, 2, 7, 1 << 20 };

                for (size_t i = 0; i < sizeof (steps) / sizeof (*steps); i++) {
                        struct ce_request *r;
                        struct ce_error err = { 0 };
                        const struct ce_test *t;

                        CHECK (parse (body, strlen (body), steps[i], 1 << 20, &r, &err) == 0);
                        if (r == NULL) {
                                fprintf (stderr, "%s\n", err.msg);
                                continue;
                        }
                        CHECK (r->ntests == 3 && r->stop_on_failure);
                        CHECK (r->stdin_data == NULL && r->nargs == 0 && r->args[0] == NULL);
                        CHECK (r->checker.type == CHECKER_FLOAT && r->checker.abs == 1e-9
                               && r->checker.rel == 0);
                        t = &r->tests[0];
                        CHECK_STR (t->name, "first \xc3\xa9");
                        CHECK (t->stdin_len == 3 && memcmp (t->stdin_data, "a\0b", 4) == 0);
                        CHECK (t->nargs == 2 && t->args[2] == NULL && t->args_bytes == 4);
                        CHECK_STR (t->args[0], "-v");
                        CHECK_STR (t->args[1], "");
                        CHECK (t->expected_len == 4 && memcmp (t->expected, "ok\0\n", 4) == 0);
                        t = &r->tests[1];
                        CHECK (t->name == NULL && t->stdin_data == NULL);
                        CHECK (t->args && t->args[0] == NULL && t->nargs == 0);
                        CHECK (t->expected && t->expected_len == 0);
                        t = &r->tests[2];
                        CHECK_STR (t->name, "");
                        CHECK (t->stdin_data && t->stdin_len == 0 && t->expected == NULL);
                        CHECK (t->args && t->args[0] == NULL);
                        request_free (r);
                }
        }
        {
                /* The checker's forms; without one, the default, and no tests at all. */
                struct {
                        const char *json;
                        enum checker_type type;
                        double abs, rel;
                } forms[] = {
                        { NULL, CHECKER_LINES, 0, 0 },
                        { "\"exact\"", CHECKER_EXACT, 0, 0 },
                        { "\"tokens\"", CHECKER_TOKENS, 0, 0 },
                        { "\"float\"", CHECKER_FLOAT, CHECKER_FLOAT_ABS, CHECKER_FLOAT_REL },
                        { "{\"type\":\"tokens\"}", CHECKER_TOKENS, 0, 0 },
                        { "{\"abs\":0.5,\"type\":\"float\"}", CHECKER_FLOAT, 0.5,
                          CHECKER_FLOAT_REL },
                };

                for (size_t i = 0; i < sizeof (forms) / sizeof (*forms); i++) {
                        char body[256];
                        struct ce_request *r;
                        struct ce_error err = { 0 };

                        snprintf (body, sizeof (body),
                                  "{\"language\":\"py\",\"code\":\"x\",\"tests\":[{}]%s%s}",
                                  forms[i].json ? ",\"checker\":" : "",
                                  forms[i].json ? forms[i].json : "");
                        CHECK (parse (body, strlen (body), 3, 1 << 20, &r, &err) == 0);
                        if (r == NULL) {
                                fprintf (stderr, "%s: %s\n", body, err.msg);
                                continue;
                        }
                        CHECK (r->checker.type == forms[i].type && r->checker.abs == forms[i].abs
                               && r->checker.rel == forms[i].rel);
                        CHECK (r->ntests == 1 && ! r->stop_on_failure);
                        CHECK (r->tests[0].args && r->tests[0].args[0] == NULL);
                        request_free (r);
                }
        }
        {
                /* A plain request: one run, no tests, the default checker. */
                const char *body = "{\"language\":\"py\",\"code\":\"x\"}";
                struct ce_request *r;
                struct ce_error err = { 0 };

                CHECK (parse (body, strlen (body), 1, 1 << 20, &r, &err) == 0);
                if (r) {
                        CHECK (r->ntests == 0 && r->tests == NULL && ! r->stop_on_failure);
                        CHECK (r->checker.type == CHECKER_LINES);
                }
                request_free (r);
        }
#define T(rest, needle) E ("{\"language\":\"py\",\"code\":\"x\"," rest "}", 400, needle)
        T ("\"tests\":[]", "field 'tests' must hold at least one test");
        T ("\"tests\":{}", "'tests' must be an array of test objects");
        T ("\"tests\":[1]", "'tests[0]' must be a test object");
        T ("\"tests\":[{},[]]", "'tests[1]' must be a test object");
        T ("\"tests\":[{},{\"input\":\"1\"}]",
           "unknown field 'tests[1].input' (expected name, stdin, args, expected_output)");
        T ("\"tests\":[{\"stdin\":\"1\",\"stdin\":\"2\"}]", "field 'tests[0].stdin' given twice");
        T ("\"tests\":[{\"name\":\"a\\u0000b\"}]", "field 'tests[0].name' must not contain NUL");
        T ("\"tests\":[{},{\"name\":\"\\udc00\"}]", "field 'tests[1].name' must be valid UTF-8");
        T ("\"tests\":[{\"name\":\"\xc0\xaf\"}]", "field 'tests[0].name' must be valid UTF-8");
        T ("\"tests\":[{\"stdin\":1}]", "field 'tests[0].stdin' must be a string, not a number");
        T ("\"tests\":[{\"stdin\":null}]", "field 'tests[0].stdin' must be a string, not null");
        T ("\"tests\":[{\"expected_output\":[\"a\"]}]",
           "field 'tests[0].expected_output' must be a string");
        T ("\"tests\":[{\"name\":{}}]", "field 'tests[0].name' must be a string, not an object");
        T ("\"tests\":[{},{},{\"args\":[\"a\",\"b\\u0000\"]}]",
           "field 'tests[2].args[1]' must not contain NUL");
        T ("\"tests\":[{\"args\":[\"a\",2]}]", "field 'tests[0].args[1]' must be a string");
        T ("\"tests\":[{\"args\":[[\"a\"]]}]", "field 'tests[0].args[0]' must be a string");
        T ("\"tests\":[{\"args\":\"a\"}]", "field 'tests[0].args' must be an array of strings");
        T ("\"tests\":[{}],\"tests\":[{}]", "field 'tests' given twice");
        T ("\"stdin\":\"\",\"tests\":[{}]", "field 'stdin' cannot be given with 'tests'");
        T ("\"tests\":[{}],\"args\":[]", "field 'args' cannot be given with 'tests'");
        T ("\"checker\":\"exact\"", "field 'checker' needs 'tests'");
        T ("\"stop_on_failure\":false", "field 'stop_on_failure' needs 'tests'");
        T ("\"tests\":[{}],\"stop_on_failure\":1",
           "field 'stop_on_failure' must be a boolean, not a number");
        T ("\"tests\":[{}],\"checker\":\"diff\"", "field 'checker' names no known checker");
        T ("\"tests\":[{}],\"checker\":\"Exact\"", "field 'checker' names no known checker");
        T ("\"tests\":[{}],\"checker\":1", "field 'checker' must be a string or an object");
        T ("\"tests\":[{}],\"checker\":[]", "field 'checker' must be a string or an object");
        T ("\"tests\":[{}],\"checker\":{\"type\":\"float\",\"eps\":1}",
           "unknown field 'checker.eps' (expected type, abs, rel)");
        T ("\"tests\":[{}],\"checker\":{\"type\":\"float\",\"type\":\"exact\"}",
           "field 'checker.type' given twice");
        T ("\"tests\":[{}],\"checker\":{\"type\":\"exact\",\"abs\":0.1}",
           "apply to type \"float\" only");
        T ("\"tests\":[{}],\"checker\":{\"rel\":0.1,\"type\":\"lines\"}",
           "apply to type \"float\" only");
        T ("\"tests\":[{}],\"checker\":{\"abs\":0.1}", "field 'checker.type' is required");
        T ("\"tests\":[{}],\"checker\":{}", "field 'checker.type' is required");
        T ("\"tests\":[{}],\"checker\":{\"type\":\"fuzzy\"}",
           "field 'checker.type' must be one of");
        T ("\"tests\":[{}],\"checker\":{\"type\":1}", "field 'checker.type' must be a string");
        T ("\"tests\":[{}],\"checker\":{\"type\":\"float\",\"abs\":\"1\"}",
           "field 'checker.abs' must be a number, not a string");
        T ("\"tests\":[{}],\"checker\":{\"type\":\"float\",\"rel\":-1}",
           "field 'checker.rel' must be a number from 0 to");
        T ("\"tests\":[{}],\"checker\":{\"type\":\"float\",\"abs\":{\"a\":1}}",
           "field 'checker.abs' must be a number, not an object");
        {
                /* A name of 255 bytes is accepted, 256 is not. */
                char body[600], name[257];
                struct ce_request *r;
                struct ce_error err = { 0 };

                memset (name, 'n', 256);
                name[255] = '\0';
                snprintf (body, sizeof (body),
                          "{\"language\":\"py\",\"code\":\"x\",\"tests\":[{\"name\":\"%s\"}]}",
                          name);
                CHECK (parse (body, strlen (body), 1 << 20, 1 << 20, &r, &err) == 0);
                CHECK (r && strlen (r->tests[0].name) == 255);
                request_free (r);
                name[255] = 'n';
                name[256] = '\0';
                snprintf (body, sizeof (body),
                          "{\"language\":\"py\",\"code\":\"x\",\"tests\":[{\"name\":\"%s\"}]}",
                          name);
                expect_error (body, strlen (body), 400, "'tests[0].name' is longer than 255");
        }
        {
                /* 256 tests of 256 args each are accepted; a 257th test, or a
                 * 257th arg in a test, is refused and named. */
                size_t cap = 2u << 20, n;
                char *body = malloc (cap);
                struct ce_request *r;
                struct ce_error err = { 0 };

                n = (size_t) snprintf (body, cap,
                                       "{\"language\":\"py\",\"code\":\"x\",\"tests\":[");
                for (int i = 0; i < REQUEST_MAX_TESTS; i++) {
                        n += (size_t) snprintf (body + n, cap - n, "%s{\"args\":[", i ? "," : "");
                        for (int j = 0; j < REQUEST_MAX_ARGS; j++)
                                n += (size_t) snprintf (body + n, cap - n, "%s\"%d\"", j ? "," : "",
                                                        j);
                        n += (size_t) snprintf (body + n, cap - n, "],\"name\":\"t%d\"}", i);
                }
                snprintf (body + n, cap - n, "]}");
                CHECK (parse (body, strlen (body), 4096, 1 << 20, &r, &err) == 0);
                if (r) {
                        CHECK (r->ntests == REQUEST_MAX_TESTS);
                        CHECK (r->tests[255].nargs == REQUEST_MAX_ARGS);
                        CHECK_STR (r->tests[255].args[255], "255");
                        CHECK (r->tests[255].args[256] == NULL);
                        CHECK_STR (r->tests[255].name, "t255");
                } else {
                        fprintf (stderr, "256x256: %s\n", err.msg);
                }
                request_free (r);

                snprintf (body + n, cap - n, ",{}]}");
                expect_error_max (body, strlen (body), 1 << 20, 400,
                                  "field 'tests' has more than 256 entries");

                /* The same body with one test holding 257 args. */
                n = (size_t) snprintf (
                        body, cap, "{\"language\":\"py\",\"code\":\"x\",\"tests\":[{},{\"args\":[");
                for (int j = 0; j <= REQUEST_MAX_ARGS; j++)
                        n += (size_t) snprintf (body + n, cap - n, "%s\"\"", j ? "," : "");
                snprintf (body + n, cap - n, "]}]}");
                expect_error_max (body, strlen (body), 1 << 20, 400,
                                  "field 'tests[1].args' has more than 256 entries");
                free (body);
        }
        {
                /* A test's args share the top level's byte budget rule, per test. */
                size_t arg = REQUEST_MAX_ARG_LEN - 1, cap = 8 * arg, n;
                char *body = malloc (cap);

                n = (size_t) snprintf (
                        body, cap, "{\"language\":\"py\",\"code\":\"x\",\"tests\":[{\"args\":[");
                for (int j = 0; j < 5; j++) {
                        n += (size_t) snprintf (body + n, cap - n, "%s\"", j ? "," : "");
                        memset (body + n, 'a', arg);
                        n += arg;
                        body[n++] = '"';
                }
                snprintf (body + n, cap - n, "]}]}");
                expect_error_big (body, "field 'tests[0].args' is longer than 524288 bytes in all");
                n = (size_t) snprintf (
                        body, cap, "{\"language\":\"py\",\"code\":\"x\",\"tests\":[{\"args\":[\"");
                memset (body + n, 'a', arg + 1);
                n += arg + 1;
                snprintf (body + n, cap - n, "\"]}]}");
                expect_error_big (body, "field 'tests[0].args[0]' is longer than 131071 bytes");
                free (body);
        }

        /* Size limit (1000 bytes in expect_error) → 413, even in pieces. */
        {
                char big[1200];

                memset (big, ' ', sizeof (big));
                big[0] = '{';
                expect_error (big, sizeof (big), 413, "larger than 1000");
        }
        TEST_DONE ();
}
