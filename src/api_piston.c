/*
 * api_piston.c - the front-end of Piston's API v2 (engineer-man/piston).
 *
 * Translates only, both ways:
 *   POST /api/v2/execute  {language, version?, files: [{name?, content,
 *                         encoding?}], stdin?, args?, compile_timeout?,
 *                         run_timeout?, compile_cpu_time?, run_cpu_time?,
 *                         compile_memory_limit?, run_memory_limit?,
 *                         output_files? (ours, not Piston's)}
 *     -> struct ce_request + the language + every stage's limits;
 *   struct exec_result -> {compile?: STAGE, run: STAGE, language, version,
 *     files?, files_omitted?, files_error? (with output_files)}
 *     with STAGE {signal, stdout, stderr, code, output, memory, message,
 *     status, cpu_time, wall_time} in Piston's units and meanings;
 *   errors -> {"message": "..."}.
 *
 * Piston's language names.  Piston calls a language by the name of its
 * package (python, c++, rscript, lisp); our bundles call it by theirs
 * (python3, cpp, r, commonlisp) and list Piston's among their aliases.  Which
 * of a language's names is Piston's is a fact about Piston, not about the
 * language, so it lives here as a list of Piston's package names (no
 * language is switched on): a language's Piston name is its own name if
 * Piston has a package by it, else the first of its aliases that is one,
 * else its own name.  Every other name of the language is an alias.
 *
 * Where this differs from Piston, on purpose: a missing or "*" version
 * takes the one installed; a body without Content-Type is accepted (Piston
 * answers 415; the npm piston-client sends none); an unknown file encoding is
 * a 400 (Piston silently takes it as utf8); -1 and 0 mean the server's
 * default, never "unlimited"; cpu_time limits are enforced as a wall-clock
 * bound (a program gets at most that much CPU, since it cannot use more than
 * the wall time); every limit is held to the server's ceiling, which is what
 * /api/v2/runtimes' "configured limit" means here.  Output limits: ours
 * bounds stdout and stderr together (status OL, or EL when only stderr was
 * written).  The body is parsed whole (yajl_tree, at most --max-body bytes).
 */
#include "api_piston.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "jsongen.h"
#include "outfiles.h"
#include "runner.h"

/* Piston's package names (the packages/ folder of engineer-man/piston). */
static const char *const piston_languages[] = {
        "bash",       "befunge93", "brachylog",  "brainfuck", "bqn",          "c",
        "c++",        "cjam",      "clojure",    "cobol",     "coffeescript", "cow",
        "crystal",    "csharp",    "d",          "dart",      "dash",         "dragon",
        "elixir",     "emacs",     "emojicode",  "erlang",    "file",         "forte",
        "forth",      "fortran",   "freebasic",  "fsharp",    "go",           "golfscript",
        "groovy",     "haskell",   "husk",       "iverilog",  "japt",         "java",
        "javascript", "jelly",     "julia",      "kotlin",    "lisp",         "llvm_ir",
        "lolcode",    "lua",       "matl",       "nasm",      "nasm64",       "nim",
        "ocaml",      "octave",    "osabie",     "paradoc",   "pascal",       "perl",
        "php",        "ponylang",  "powershell", "prolog",    "pure",         "pyth",
        "python",     "python2",   "racket",     "raku",      "retina",       "rockstar",
        "rscript",    "ruby",      "rust",       "samarium",  "scala",        "smalltalk",
        "sqlite3",    "swift",     "typescript", "vlang",     "vyxal",        "yeethon",
        "zig",        NULL,
};

#define MAX_VERSION_LEN 64

static bool
is_piston_language (const char *name)
{
        for (const char *const *p = piston_languages; *p; p++)
                if (strcmp (*p, name) == 0)
                        return true;
        return false;
}

const char *
api_piston_language_name (const struct ce_language *lang)
{
        if (is_piston_language (lang->name))
                return lang->name;
        for (char **a = lang->aliases; *a; a++)
                if (is_piston_language (*a))
                        return *a;
        return lang->name;
}

/* -- versions ------------------------------------------------------------- */

/* Up to three numeric parts of a version ("17.0.21.1" -> 17.0.21, like
 * semver.coerce); a part may be a wildcard (x, X, *) in a range: -1.
 * Returns how many parts were given, or -1 when s is not a version. */
static int
parse_version (const char *s, size_t len, long v[3], bool wildcards)
{
        size_t i = 0;
        int n = 0;

        v[0] = v[1] = v[2] = -1;
        if (i < len && (s[i] == 'v' || s[i] == '='))
                i++;
        while (i < len && n < 3) {
                if (wildcards && (s[i] == 'x' || s[i] == 'X' || s[i] == '*')) {
                        i++;
                        n++;
                } else if (isdigit ((unsigned char) s[i])) {
                        long x = 0;

                        while (i < len && isdigit ((unsigned char) s[i]) && x < 100000000)
                                x = x * 10 + (s[i++] - '0');
                        v[n++] = x;
                } else {
                        return -1;
                }
                if (i < len && s[i] == '.')
                        i++;
                else
                        break;
        }
        /* What follows (a fourth part, "-rc1", "+build", ".debian") is ignored
         * for an installed version, refused in a range. */
        if (wildcards && i < len)
                return -1;
        return n;
}

static int
cmp3 (const long a[3], const long b[3])
{
        for (int i = 0; i < 3; i++)
                if (a[i] != b[i])
                        return a[i] < b[i] ? -1 : 1;
        return 0;
}

/* One comparator (">=1.2", "^3", "~1.2.3", "1.x", "3.11.2") against have. */
static bool
comparator_matches (const char *c, size_t len, const long have[3])
{
        char op[3] = "";
        size_t o = 0;
        long v[3], lo[3], hi[3];
        int n;

        while (o < len && o < 2 && strchr ("<>=^~", c[o]))
                op[o] = c[o], o++;
        op[o] = '\0';
        if (strcmp (op, "=") == 0)
                op[0] = '\0';
        n = parse_version (c + o, len - o, v, true);
        if (n < 0)
                return false;
        /* The parts given, up to the first wildcard. */
        for (int i = 0; i < 3; i++)
                if (i >= n || v[i] < 0) {
                        n = i;
                        break;
                }
        for (int i = 0; i < 3; i++)
                lo[i] = i < n ? v[i] : 0;
        if (n == 0)
                return op[0] != '<' && op[0] != '>'; /* "*", ">=*": anything */
        /* hi: the first version past the partial one ("1.2" -> 1.3.0). */
        memcpy (hi, lo, sizeof (hi));
        hi[n - 1]++;
        for (int i = n; i < 3; i++)
                hi[i] = 0;
        if (op[0] == '^') {
                int k = 0;

                while (k < n - 1 && lo[k] == 0)
                        k++;
                memset (hi, 0, sizeof (hi));
                for (int i = 0; i < k; i++)
                        hi[i] = lo[i];
                hi[k] = lo[k] + 1;
                return cmp3 (have, lo) >= 0 && cmp3 (have, hi) < 0;
        }
        if (op[0] == '~') {
                if (n >= 2) {
                        hi[0] = lo[0], hi[1] = lo[1] + 1, hi[2] = 0;
                }
                return cmp3 (have, lo) >= 0 && cmp3 (have, hi) < 0;
        }
        if (strcmp (op, ">=") == 0)
                return cmp3 (have, lo) >= 0;
        if (strcmp (op, ">") == 0)
                return cmp3 (have, hi) >= 0;
        if (strcmp (op, "<") == 0)
                return cmp3 (have, lo) < 0;
        if (strcmp (op, "<=") == 0)
                return cmp3 (have, hi) < 0;
        if (op[0] == '\0')
                return cmp3 (have, lo) >= 0 && cmp3 (have, hi) < 0;
        return false;
}

/* A set of comparators separated by spaces, all of which must match;
 * "A - B" is a hyphen range. */
static bool
set_matches (const char *s, size_t len, const long have[3])
{
        const char *tok[16];
        size_t toklen[16], ntok = 0;

        for (size_t i = 0; i < len;) {
                while (i < len && s[i] == ' ')
                        i++;
                if (i == len)
                        break;
                if (ntok == 16)
                        return false;
                tok[ntok] = s + i;
                while (i < len && s[i] != ' ')
                        i++;
                toklen[ntok] = (size_t) (s + i - tok[ntok]);
                ntok++;
        }
        if (ntok == 0)
                return true;
        if (ntok == 3 && toklen[1] == 1 && tok[1][0] == '-') {
                char a[MAX_VERSION_LEN + 3], b[MAX_VERSION_LEN + 3];

                snprintf (a, sizeof (a), ">=%.*s", (int) toklen[0], tok[0]);
                snprintf (b, sizeof (b), "<=%.*s", (int) toklen[2], tok[2]);
                return comparator_matches (a, strlen (a), have)
                       && comparator_matches (b, strlen (b), have);
        }
        for (size_t i = 0; i < ntok; i++)
                if (! comparator_matches (tok[i], toklen[i], have))
                        return false;
        return true;
}

int
api_piston_version_matches (const char *want, const char *have_s)
{
        long have[3];
        const char *p;

        if (want == NULL || strcmp (want, have_s) == 0)
                return 1;
        if (parse_version (have_s, strlen (have_s), have, false) < 1)
                return 0;
        for (int i = 0; i < 3; i++)
                if (have[i] < 0)
                        have[i] = 0;
        p = want;
        for (;;) {
                const char *bar = strstr (p, "||");
                size_t len = bar ? (size_t) (bar - p) : strlen (p);

                if (set_matches (p, len, have))
                        return 1;
                if (bar == NULL)
                        return 0;
                p = bar + 2;
        }
}

/* -- the request ----------------------------------------------------------- */

struct piston_parser {
        size_t max_bytes;
        struct ce_buf body;
};

static void *
piston_parser_new (size_t max_body, const struct api_query *q)
{
        struct piston_parser *p = calloc (1, sizeof (*p));

        if (p)
                p->max_bytes = max_body;
        return p;
}

static void
piston_parser_free (void *arg)
{
        struct piston_parser *p = arg;

        ce_buf_free (&p->body);
        free (p);
}

static int
piston_feed (void *arg, const char *data, size_t len, struct ce_error *err)
{
        struct piston_parser *p = arg;

        return api_body_append (&p->body, p->max_bytes, data, len, err);
}

/* yajl_tree keeps strings NUL-terminated without their length, so a "\u0000"
 * in the body would silently cut a string short: refuse it instead (binary
 * files travel as base64 or hex).  An escape is real when an odd number of
 * backslashes leads up to its 'u'. */
static bool
has_nul_escape (const char *s, size_t len)
{
        for (size_t i = 0; i + 6 <= len; i++) {
                size_t k = 0;

                if (s[i] != '\\' || (s[i + 1] != 'u' && s[i + 1] != 'U'))
                        continue;
                if (memcmp (s + i + 2, "0000", 4) != 0)
                        continue;
                while (k < i && s[i - 1 - k] == '\\')
                        k++;
                if (k % 2 == 0)
                        return true;
        }
        return false;
}

static int
hex_value (char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower ((unsigned char) c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int
hex_decode (const char *s, size_t len, char **out, size_t *out_len)
{
        char *d;

        if (len % 2)
                return -EINVAL;
        d = malloc (len / 2 + 1);
        if (d == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 2) {
                int hi = hex_value (s[i]), lo = hex_value (s[i + 1]);

                if (hi < 0 || lo < 0) {
                        free (d);
                        return -EINVAL;
                }
                d[i / 2] = (char) (hi << 4 | lo);
        }
        *out = d;
        *out_len = len / 2;
        return 0;
}

/* Piston's files: its shape (content, encoding, an optional name) here;
 * the rules every request's files follow are request.c's. */
static int
take_file (yajl_val f, size_t i, const struct ce_language *lang, struct ce_request *r, bool *utf8,
           struct ce_error *err)
{
        yajl_val name = YAJL_IS_OBJECT (f) ? api_member (f, "name") : NULL;
        yajl_val content = YAJL_IS_OBJECT (f) ? api_member (f, "content") : NULL;
        yajl_val enc = YAJL_IS_OBJECT (f) ? api_member (f, "encoding") : NULL;
        const char *e = enc && YAJL_IS_STRING (enc) ? enc->u.string : "utf8";
        cleanup_free char *fname = NULL;
        char *data = NULL;
        size_t len = 0;
        int ret;

        if (! YAJL_IS_OBJECT (f))
                return ce_refuse (err, 400, EINVAL, "files[%zu] must be an object", i);
        if (content == NULL || ! YAJL_IS_STRING (content))
                return ce_refuse (err, 400, EINVAL, "files[%zu].content is required as a string",
                                  i);
        if (enc && ! YAJL_IS_NULL (enc) && ! YAJL_IS_STRING (enc))
                return ce_refuse (err, 400, EINVAL, "files[%zu].encoding must be a string", i);
        if (name && ! YAJL_IS_NULL (name) && ! YAJL_IS_STRING (name))
                return ce_refuse (err, 400, EINVAL, "files[%zu].name must be a string", i);
        if (name && YAJL_IS_STRING (name) && name->u.string[0])
                fname = strdup (name->u.string);
        else if (i == 0)
                fname = strdup (lang->entry_file);         /* the language's entry file */
        else if (asprintf (&fname, "file%zu.code", i) < 0) /* as Piston names it */
                fname = NULL;
        if (fname == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        ret = request_check_file (r, fname, strlen (fname), err);
        if (ret < 0)
                return ret;
        if (strcmp (e, "utf8") == 0) {
                *utf8 = true;
                len = strlen (content->u.string);
                data = strdup (content->u.string);
                ret = data ? 0 : -ENOMEM;
        } else if (strcmp (e, "base64") == 0) {
                ret = ce_base64_decode (content->u.string, strlen (content->u.string), &data, &len);
        } else if (strcmp (e, "hex") == 0) {
                ret = hex_decode (content->u.string, strlen (content->u.string), &data, &len);
        } else {
                return ce_refuse (err, 400, EINVAL,
                                  "files[%zu].encoding must be utf8, base64 or hex", i);
        }
        if (ret == -ENOMEM)
                return ce_fail (err, ENOMEM, "out of memory");
        if (ret < 0)
                return ce_refuse (err, 400, EINVAL, "files[%zu].content is not valid %s", i, e);
        return request_add_file (r, steal_pointer (&fname), data, len, err);
}

static int
take_files (yajl_val files, const struct ce_language *lang, struct ce_request *r,
            struct ce_error *err)
{
        bool utf8 = false;

        if (files->u.array.len == 0)
                return ce_refuse (err, 400, EINVAL, "files must hold at least one file");
        for (size_t i = 0; i < files->u.array.len; i++) {
                int ret = take_file (files->u.array.values[i], i, lang, r, &utf8, err);

                if (ret < 0)
                        return ret;
        }
        if (! utf8)
                return ce_refuse (err, 400, EINVAL,
                                  "files must include at least one utf8 encoded file");
        return 0;
}

static int
take_args (yajl_val args, struct ce_request *r, struct ce_error *err)
{
        size_t n = args ? args->u.array.len : 0;

        for (size_t i = 0; i < n; i++) {
                yajl_val a = args->u.array.values[i];
                int ret;

                if (! YAJL_IS_STRING (a))
                        return ce_refuse (err, 400, EINVAL, "args[%zu] must be a string", i);
                ret = request_add_arg (r, a->u.string, strlen (a->u.string), err);
                if (ret < 0)
                        return ret;
        }
        /* Never NULL, as after request.c's parser. */
        if (r->args == NULL && (r->args = calloc (1, sizeof (char *))) == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        return 0;
}

/* One of Piston's limits: absent, null, 0 or -1 is the default (given
 * false); otherwise a non-negative number at most `ceiling`, in Piston's
 * unit, and at least `minimum`. */
/* CodeEngine's own field, the native one's rules (request.h): the
 * files to send back from the run's /work. */
static int
take_output_files (yajl_val v, struct ce_request *r, struct ce_error *err)
{
        int ret;

        if (v == NULL || YAJL_IS_NULL (v))
                return 0;
        if (! YAJL_IS_ARRAY (v))
                return ce_refuse (err, 400, EINVAL, "output_files must be an array of strings");
        for (size_t i = 0; i < v->u.array.len; i++) {
                yajl_val g = v->u.array.values[i];

                if (! YAJL_IS_STRING (g))
                        return ce_refuse (err, 400, EINVAL, "output_files[%zu] must be a string",
                                          i);
                ret = request_add_output_file (r, g->u.string, strlen (g->u.string), err);
                if (ret < 0)
                        return ret;
        }
        return request_check_output_files (r, true, err);
}

static int
take_limit (yajl_val body, const char *name, double ceiling, double minimum, double *out,
            bool *given, struct ce_error *err)
{
        yajl_val v = api_member (body, name);
        double x;

        *given = false;
        if (v == NULL || YAJL_IS_NULL (v))
                return 0;
        if (! YAJL_IS_NUMBER (v))
                return ce_refuse (err, 400, EINVAL, "If specified, %s must be a number", name);
        x = YAJL_IS_INTEGER (v) ? (double) YAJL_GET_INTEGER (v) : YAJL_GET_DOUBLE (v);
        if (! isfinite (x))
                return ce_refuse (err, 400, EINVAL, "If specified, %s must be a number", name);
        if (x == 0 || x == -1)
                return 0;
        if (x > ceiling)
                return ce_refuse (err, 400, ERANGE, "%s cannot exceed the configured limit of %.0f",
                                  name, ceiling);
        if (x < 0)
                return ce_refuse (err, 400, ERANGE, "%s must be non-negative", name);
        if (x < minimum)
                return ce_refuse (err, 400, ERANGE, "%s must be at least %.0f on this server", name,
                                  minimum);
        *out = x;
        *given = true;
        return 0;
}

/* {compile,run}_{timeout,cpu_time,memory_limit} into one stage's limits. */
static int
take_stage_limits (yajl_val body, const char *stage, const struct ce_limits *top,
                   struct ce_limits *l, unsigned *given_bits, struct ce_error *err)
{
        char name[32];
        double timeout = 0, cpu = 0, mem = 0;
        bool has_timeout, has_cpu, has_mem;
        const double mib = 1024.0 * 1024.0;
        int ret;

        snprintf (name, sizeof (name), "%s_timeout", stage);
        ret = take_limit (body, name, (double) top->timeout_ms,
                          (double) request_limit_minimums.timeout_ms, &timeout, &has_timeout, err);
        if (ret == 0) {
                snprintf (name, sizeof (name), "%s_cpu_time", stage);
                ret = take_limit (body, name, (double) top->timeout_ms,
                                  (double) request_limit_minimums.timeout_ms, &cpu, &has_cpu, err);
        }
        if (ret == 0) {
                snprintf (name, sizeof (name), "%s_memory_limit", stage);
                ret = take_limit (body, name, (double) top->memory_mb * mib,
                                  (double) request_limit_minimums.memory_mb * mib, &mem, &has_mem,
                                  err);
        }
        if (ret < 0)
                return ret;
        /* The wall clock bounds the CPU time too: the stricter of the two. */
        if (has_cpu && (! has_timeout || cpu < timeout)) {
                timeout = cpu;
                has_timeout = true;
        }
        if (has_timeout) {
                l->timeout_ms = (int64_t) ceil (timeout);
                *given_bits |= LIMIT_TIMEOUT;
        }
        if (has_mem) {
                /* Whole MiB, never more than asked. */
                l->memory_mb = (int64_t) floor (mem / mib);
                *given_bits |= LIMIT_MEMORY;
        }
        return 0;
}

static int
piston_finish (void *arg, const struct api_env *env, struct api_request *out, struct ce_error *err)
{
        struct piston_parser *p = arg;
        char yerr[256] = "";
        yajl_val body = NULL, language, version, files, stdin_v, args;
        const char *want_version = NULL;
        struct ce_request *r;
        char msg[512];
        int ret;

        if (p->body.len == 0)
                return ce_refuse (err, 400, EINVAL,
                                  "request body is empty: expected Piston's "
                                  "{\"language\", \"version\", \"files\"}");
        if (has_nul_escape (p->body.data, p->body.len))
                return ce_refuse (err, 400, EINVAL,
                                  "strings must not contain NUL (\\u0000): send binary files "
                                  "with encoding base64 or hex");
        if (ce_buf_append (&p->body, "", 1) < 0)
                return ce_fail (err, ENOMEM, "out of memory");
        body = yajl_tree_parse (p->body.data, yerr, sizeof (yerr));
        if (body == NULL) {
                char *nl;

                /* yajl's message spans lines and quotes the body: keep the first. */
                if ((nl = strchr (yerr, '\n')) != NULL)
                        *nl = '\0';
                return ce_refuse (err, 400, EINVAL, "malformed JSON: %s",
                                  yerr[0] ? yerr : "parse error");
        }
        r = out->req = calloc (1, sizeof (*r));
        if (r == NULL) {
                ret = ce_fail (err, ENOMEM, "out of memory");
                goto out;
        }
        if (! YAJL_IS_OBJECT (body)) {
                ret = ce_refuse (err, 400, EINVAL, "request body must be a JSON object");
                goto out;
        }
        language = api_member (body, "language");
        version = api_member (body, "version");
        files = api_member (body, "files");
        stdin_v = api_member (body, "stdin");
        args = api_member (body, "args");
        if (language == NULL || ! YAJL_IS_STRING (language) || language->u.string[0] == '\0') {
                ret = ce_refuse (err, 400, EINVAL, "language is required as a string");
                goto out;
        }
        if (version && ! YAJL_IS_NULL (version)) {
                if (! YAJL_IS_STRING (version)) {
                        ret = ce_refuse (err, 400, EINVAL, "version is required as a string");
                        goto out;
                }
                want_version = version->u.string;
        }
        if (files == NULL || ! YAJL_IS_ARRAY (files)) {
                ret = ce_refuse (err, 400, EINVAL, "files is required as an array");
                goto out;
        }
        if (stdin_v && ! YAJL_IS_NULL (stdin_v) && ! YAJL_IS_STRING (stdin_v)) {
                ret = ce_refuse (err, 400, EINVAL, "stdin must be a string");
                goto out;
        }
        if (args && ! YAJL_IS_NULL (args) && ! YAJL_IS_ARRAY (args)) {
                ret = ce_refuse (err, 400, EINVAL, "args must be an array of strings");
                goto out;
        }
        if (strlen (language->u.string) > 64
            || (want_version && strlen (want_version) > MAX_VERSION_LEN)) {
                ret = ce_refuse (err, 400, EINVAL, "%.64s-%.64s runtime is unknown",
                                 language->u.string, want_version ? want_version : "*");
                goto out;
        }
        r->language = strdup (language->u.string);
        if (r->language == NULL) {
                ret = ce_fail (err, ENOMEM, "out of memory");
                goto out;
        }
        out->lang = bundle_lookup (env->bundles, r->language);
        if (out->lang == NULL || ! out->lang->available
            || ! api_piston_version_matches (
                    want_version && strcmp (want_version, "*") != 0 ? want_version : NULL,
                    out->lang->version)) {
                const struct ce_language *l = out->lang;

                snprintf (msg, sizeof (msg), "%s-%s runtime is unknown", r->language,
                          want_version ? want_version : "*");
                if (l && ! l->available)
                        ret = ce_refuse (err, 400, ENOENT, "%s (%s is not available here: %s)", msg,
                                         l->name, l->reason ? l->reason : "not prepared");
                else if (l)
                        ret = ce_refuse (err, 400, ENOENT, "%s (installed: %s %s)", msg,
                                         api_piston_language_name (l), l->version);
                else
                        ret = ce_refuse (err, 400, ENOENT, "%s", msg);
                out->lang = NULL;
                goto out;
        }
        ret = take_files (files, out->lang, r, err);
        if (ret == 0)
                ret = take_args (args && YAJL_IS_ARRAY (args) ? args : NULL, r, err);
        if (ret == 0)
                ret = take_output_files (api_member (body, "output_files"), r, err);
        if (ret == 0)
                ret = take_stage_limits (body, "run", &env->policy->ceilings, &r->limits,
                                         &r->limits_given, err);
        if (ret == 0)
                ret = take_stage_limits (body, "compile", &env->policy->compile_ceilings,
                                         &r->compile_limits, &r->compile_limits_given, err);
        if (ret < 0)
                goto out;
        {
                /* Piston always ends stdin with a newline. */
                const char *in = stdin_v && YAJL_IS_STRING (stdin_v) ? stdin_v->u.string : "";
                size_t len = strlen (in);
                bool nl = len > 0 && in[len - 1] == '\n';

                r->stdin_data = malloc (len + 2);
                if (r->stdin_data == NULL) {
                        ret = ce_fail (err, ENOMEM, "out of memory");
                        goto out;
                }
                memcpy (r->stdin_data, in, len);
                if (! nl)
                        r->stdin_data[len++] = '\n';
                r->stdin_data[len] = '\0';
                r->stdin_len = len;
        }
        ret = 0;
out:
        yajl_tree_free (body);
        return ret;
}

/* -- the response ---------------------------------------------------------- */

void
api_piston_outcome (const struct runner_result *res, struct api_piston_outcome *out)
{
        const char *sig = runner_signal_name (res->signal, out->signame, sizeof (out->signame));

        out->status = NULL;
        out->message[0] = '\0';
        switch (res->status) {
        case RUN_OK: break;
        case RUN_TIMEOUT:
                out->status = "TO";
                snprintf (out->message, sizeof (out->message), "Time limit exceeded (wall clock)");
                break;
        case RUN_OUTPUT_LIMIT:
                if (res->out.stdout_buf.len == 0) {
                        out->status = "EL";
                        snprintf (out->message, sizeof (out->message), "stderr length exceeded");
                } else {
                        out->status = "OL";
                        snprintf (out->message, sizeof (out->message), "stdout length exceeded");
                }
                break;
        case RUN_MEMORY_LIMIT:
                out->status = "SG";
                snprintf (out->message, sizeof (out->message),
                          "Memory limit exceeded (killed by %s)", sig ? sig : "SIGKILL");
                break;
        case RUN_RUNTIME_ERROR:
        case RUN_COMPILE_ERROR:
        case RUN_CLIENT_GONE:
                if (res->signal) {
                        out->status = "SG";
                        snprintf (out->message, sizeof (out->message), "Caught fatal signal %d",
                                  res->signal);
                } else if (res->exit_code != 0) {
                        out->status = "RE";
                        snprintf (out->message, sizeof (out->message),
                                  "Exited with error status %d", res->exit_code);
                }
                break;
        }
        /* Piston says SIGKILL for its own kills, whatever the program saw. */
        if (out->status && (strcmp (out->status, "TO") == 0 || out->status[1] == 'L'))
                sig = "SIGKILL";
        out->signal = sig;
}

/* One stage, as Piston's job.js reports it. */
static yajl_gen_status
gen_stage (yajl_gen g, const struct runner_result *res)
{
        struct api_piston_outcome o;
        const char *sig, *status;
        bool msg;
        yajl_gen_status st;

        api_piston_outcome (res, &o);
        sig = o.signal;
        status = o.status;
        msg = o.message[0] != '\0';
        GEN (yajl_gen_map_open (g));
        GEN_STR ("signal");
        GEN (sig ? yajl_gen_string (g, (const unsigned char *) sig, strlen (sig))
                 : yajl_gen_null (g));
        GEN (api_gen_output (g, "stdout", &res->out.stdout_buf));
        GEN (api_gen_output (g, "stderr", &res->out.stderr_buf));
        GEN_STR ("code");
        GEN (sig ? yajl_gen_null (g) : yajl_gen_integer (g, res->exit_code));
        GEN (api_gen_output (g, "output", &res->out.combined));
        GEN_STR ("memory");
        GEN (res->memory_kb < 0 ? yajl_gen_null (g) : yajl_gen_integer (g, res->memory_kb * 1024));
        GEN_STR ("message");
        GEN (msg ? yajl_gen_string (g, (const unsigned char *) o.message, strlen (o.message))
                 : yajl_gen_null (g));
        GEN_STR ("status");
        GEN (status ? yajl_gen_string (g, (const unsigned char *) status, strlen (status))
                    : yajl_gen_null (g));
        GEN_STR ("cpu_time");
        GEN (res->cpu_ms < 0 ? yajl_gen_null (g) : yajl_gen_integer (g, res->cpu_ms));
        GEN_KV_INT ("wall_time", res->wall_ms);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
piston_gen_result (yajl_gen g, const struct api_env *env, const struct api_request *in,
                   const struct exec_result *res)
{
        yajl_gen_status st;

        (void) env;
        GEN (yajl_gen_map_open (g));
        if (res->compiled) {
                GEN_STR ("compile");
                GEN (gen_stage (g, &res->compile));
        }
        GEN_STR ("run");
        /* A compile that failed skips the run; Piston then reports the
         * compile as the run too. */
        if (res->compiled && res->compile.status != RUN_OK)
                GEN (gen_stage (g, &res->compile));
        else
                GEN (gen_stage (g, &res->run));
        GEN_KV_STR ("language", api_piston_language_name (in->lang));
        GEN_KV_STR ("version", in->lang->version);
        if (in->req->noutput_files)
                GEN (outfiles_gen (g, &res->files));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
piston_gen_error (yajl_gen g, const char *msg, const char *status)
{
        yajl_gen_status st;

        (void) status;
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("message", msg);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_runtimes (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < bundle_count (env->bundles); i++) {
                const struct ce_language *l = bundle_at (env->bundles, i);
                const char *pname = api_piston_language_name (l);

                if (! l->available)
                        continue;
                GEN (yajl_gen_map_open (g));
                GEN_KV_STR ("language", pname);
                GEN_KV_STR ("version", l->version);
                GEN_STR ("aliases");
                GEN (yajl_gen_array_open (g));
                if (strcmp (pname, l->name) != 0)
                        GEN_STR (l->name);
                for (char **a = l->aliases; *a; a++)
                        if (strcmp (*a, pname) != 0)
                                GEN_STR (*a);
                GEN (yajl_gen_array_close (g));
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

static yajl_gen_status
gen_packages (yajl_gen g, const struct api_env *env)
{
        yajl_gen_status st;

        GEN (yajl_gen_array_open (g));
        for (size_t i = 0; i < bundle_count (env->bundles); i++) {
                const struct ce_language *l = bundle_at (env->bundles, i);

                GEN (yajl_gen_map_open (g));
                GEN_KV_STR ("language", api_piston_language_name (l));
                GEN_KV_STR ("language_version", l->version);
                GEN_KV_BOOL ("installed", l->available);
                GEN (yajl_gen_map_close (g));
        }
        GEN (yajl_gen_array_close (g));
fail:
        return st;
}

/* -- live events (events.h): the WebSocket's messages --------------------- */

static yajl_gen_status
piston_event_output (yajl_gen g, void *ctx, enum exec_stage stage, int stream, const char *text,
                     size_t len)
{
        yajl_gen_status st;

        (void) ctx;

        (void) stage;
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "data");
        GEN_KV_STR ("stream", events_stream_name (stream));
        GEN_STR ("data");
        GEN_STRN (text, len);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

/* Piston has no such message: ours, in its style. */
static yajl_gen_status
piston_event_skipped (yajl_gen g, void *ctx, enum exec_stage stage, int stream, uint64_t bytes)
{
        yajl_gen_status st;

        (void) ctx;

        (void) stage;
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "skipped");
        GEN_KV_STR ("stream", events_stream_name (stream));
        GEN_KV_INT ("bytes", bytes);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

static yajl_gen_status
piston_event_exit (yajl_gen g, void *ctx, enum exec_stage stage, const struct runner_result *res)
{
        struct api_piston_outcome o;
        yajl_gen_status st;

        (void) ctx;

        api_piston_outcome (res, &o);
        GEN (yajl_gen_map_open (g));
        GEN_KV_STR ("type", "exit");
        GEN_KV_STR ("stage", exec_stage_name (stage));
        GEN_STR ("code");
        GEN (o.signal ? yajl_gen_null (g) : yajl_gen_integer (g, res->exit_code));
        GEN_STR ("signal");
        GEN (o.signal ? yajl_gen_string (g, (const unsigned char *) o.signal, strlen (o.signal))
                      : yajl_gen_null (g));
        GEN_STR ("status");
        GEN (o.status ? yajl_gen_string (g, (const unsigned char *) o.status, strlen (o.status))
                      : yajl_gen_null (g));
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

const struct events_dialect api_piston_events = {
        events_gen_stage,
        piston_event_output,
        piston_event_skipped,
        piston_event_exit,
        NULL, /* Piston has no test cases */
};

static const struct api_route piston_routes[] = {
        { .path = "execute",
          .methods = "POST",
          .kind = API_ROUTE_EXECUTE,
          .wrong_method = "use POST /api/v2/execute" },
        { .path = "runtimes",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_runtimes },
        { .path = "packages",
          .methods = "GET, HEAD",
          .kind = API_ROUTE_DOCUMENT,
          .wrong_method = "use GET",
          .document = gen_packages },
        { .path = "packages",
          .methods = "POST, DELETE",
          .kind = API_ROUTE_REFUSED,
          .status = 501,
          .message = "packages are not installed over HTTP here: the server's languages are "
                     "bundles, prepared with tools/prepare-bundles LANGUAGE on the server" },
        { .path = "connect",
          .methods = "GET",
          .kind = API_ROUTE_WEBSOCKET,
          .wrong_method = "use GET /api/v2/connect",
          .protocol = &api_piston_ws },
        { .path = NULL },
};

const struct api_frontend api_piston = {
        .name = "piston",
        .prefix = "/api/v2/",
        .routes = piston_routes,
        .not_found = "not found: Piston's API v2 here is GET /api/v2/runtimes, GET "
                     "/api/v2/packages, POST /api/v2/execute and GET /api/v2/connect",
        .parser_new = piston_parser_new,
        .parser_free = piston_parser_free,
        .feed = piston_feed,
        .finish = piston_finish,
        .gen_result = piston_gen_result,
        .gen_error = piston_gen_error,
        .events = &api_piston_events,
};
