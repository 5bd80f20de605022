/* Unit tests for request.c: valid and invalid bodies, each also fed one
 * byte at a time to prove the streaming parser is split-safe. */
#include "request.h"
#include "test.h"

/* Parse body in chunks of `step` bytes.  Returns the ce_error status (0 ok). */
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
        return ret < 0 ? err->http_status : 0;
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
                        CHECK (r->code_len == code_len && memcmp (r->code, code, code_len) == 0);
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
        E ("{\"language\":\"python3\"}", 400, "missing field 'code'");
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

        /* Size limit (1000 bytes in expect_error) → 413, even in pieces. */
        {
                char big[1200];

                memset (big, ' ', sizeof (big));
                big[0] = '{';
                expect_error (big, sizeof (big), 413, "larger than 1000");
        }
        TEST_DONE ();
}
