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

        /* Size limit (1000 bytes in expect_error) → 413, even in pieces. */
        {
                char big[1200];

                memset (big, ' ', sizeof (big));
                big[0] = '{';
                expect_error (big, sizeof (big), 413, "larger than 1000");
        }
        TEST_DONE ();
}
