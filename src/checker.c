/*
 * checker.c - compare a test's output with its expected output (checker.h).
 *
 * Each checker walks both buffers once, front to back, with two cursors:
 * lines are found with memchr, tokens by scanning for whitespace, and a
 * pair of tokens is compared in place.  Nothing is copied except a
 * numeric token (at most CHECKER_NUMBER_MAX bytes) into a stack buffer,
 * because strtod needs a NUL-terminated string and program output is
 * neither terminated nor free of NULs.
 *
 * Whitespace and numbers are recognised by hand rather than with isspace
 * or a bare strtod: the result must not depend on the locale or on what a
 * libc's strtod also accepts (hex floats, "nan(...)"), since a verdict has
 * to mean the same thing everywhere.  The server never calls setlocale, so
 * strtod reads '.' as the decimal point.
 */
#include "checker.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {
        [CHECKER_EXACT] = "exact",
        [CHECKER_LINES] = "lines",
        [CHECKER_TOKENS] = "tokens",
        [CHECKER_FLOAT] = "float",
};

static const char *const field_names[] = {
        [CHECKER_FIELD_TYPE] = "type",
        [CHECKER_FIELD_ABS] = "abs",
        [CHECKER_FIELD_REL] = "rel",
};

#define N_ELEMENTS(a) (sizeof (a) / sizeof (*(a)))

static bool
bytes_equal (const char *a, size_t alen, const char *b, size_t blen)
{
        /* memcmp must not see a NULL pointer, even for 0 bytes. */
        return alen == blen && (alen == 0 || memcmp (a, b, alen) == 0);
}

/* Trailing on a line: what LINES ignores. */
static bool
is_blank (char c)
{
        return c == ' ' || c == '\t' || c == '\r';
}

/* Between tokens: C's isspace in the "C" locale. */
static bool
is_space (char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool
is_digit (char c)
{
        return c >= '0' && c <= '9';
}

static size_t
trim_blanks (const char *s, size_t n)
{
        while (n > 0 && is_blank (s[n - 1]))
                n--;
        return n;
}

static bool
lines_equal (const char *e, size_t elen, const char *g, size_t glen)
{
        size_t i = 0, j = 0;

        /* Trailing empty (or blank) lines and the last line's blanks go
         * first; what is left never ends in '\n', so every '\n' below is
         * followed by one more line. */
        while (elen > 0 && (is_blank (e[elen - 1]) || e[elen - 1] == '\n'))
                elen--;
        while (glen > 0 && (is_blank (g[glen - 1]) || g[glen - 1] == '\n'))
                glen--;

        while (i < elen && j < glen) {
                const char *ne = memchr (e + i, '\n', elen - i);
                const char *ng = memchr (g + j, '\n', glen - j);
                size_t el = ne ? (size_t) (ne - (e + i)) : elen - i;
                size_t gl = ng ? (size_t) (ng - (g + j)) : glen - j;

                if (! bytes_equal (e + i, trim_blanks (e + i, el), g + j, trim_blanks (g + j, gl)))
                        return false;
                i += el + (ne != NULL);
                j += gl + (ng != NULL);
        }
        return i == elen && j == glen;
}

struct cursor {
        const char *s;
        size_t len, pos;
};

/* The next whitespace-separated token: false at the end. */
static bool
next_token (struct cursor *c, const char **tok, size_t *len)
{
        size_t start;

        while (c->pos < c->len && is_space (c->s[c->pos]))
                c->pos++;
        if (c->pos == c->len)
                return false;
        start = c->pos;
        while (c->pos < c->len && ! is_space (c->s[c->pos]))
                c->pos++;
        *tok = c->s + start;
        *len = c->pos - start;
        return true;
}

/* s (n bytes, after any sign) spells word, in any case. */
static bool
is_word (const char *s, size_t n, const char *word)
{
        if (n != strlen (word))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((s[i] | 0x20) != word[i])
                        return false;
        return true;
}

/* [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)? */
static bool
is_decimal (const char *s, size_t n)
{
        size_t i = 0, digits = 0, exp_digits = 0;

        if (i < n && (s[i] == '+' || s[i] == '-'))
                i++;
        for (; i < n && is_digit (s[i]); i++)
                digits++;
        if (i < n && s[i] == '.')
                for (i++; i < n && is_digit (s[i]); i++)
                        digits++;
        if (digits == 0)
                return false;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                for (; i < n && is_digit (s[i]); i++)
                        exp_digits++;
                if (exp_digits == 0)
                        return false;
        }
        return i == n;
}

/* The number a token spells, as checker.h defines one: false when it is
 * not one (and so compares as bytes). */
static bool
parse_number (const char *s, size_t n, double *out)
{
        char buf[CHECKER_NUMBER_MAX + 1];
        size_t sign;
        bool word;

        if (n == 0 || n > CHECKER_NUMBER_MAX)
                return false;
        sign = s[0] == '+' || s[0] == '-';
        word = is_word (s + sign, n - sign, "inf") || is_word (s + sign, n - sign, "infinity")
               || is_word (s + sign, n - sign, "nan");
        if (! word && ! is_decimal (s, n))
                return false;
        memcpy (buf, s, n);
        buf[n] = '\0';
        *out = strtod (buf, NULL);
        /* A literal too large for a double is not the infinity "inf" is:
         * "1e999" and "2e999" must not be equal. */
        return word || isfinite (*out);
}

static bool
numbers_equal (const struct checker *c, double a, double b)
{
        double d, m, slack;

        if (isnan (a) || isnan (b))
                return false;
        if (a == b) /* the same infinity, or -0 and 0 */
                return true;
        if (isinf (a) || isinf (b))
                return false;
        d = fabs (a - b);
        m = fmax (fabs (a), fabs (b));
        if (isinf (d)) /* a and b near ±DBL_MAX with opposite signs: halve both sides */
                return c->rel > 0 && fabs (a * 0.5 - b * 0.5) <= c->rel * (m * 0.5);
        /* Each value is its decimal rounded by up to half an ulp of m, and
         * the subtraction rounds again: a few ulps of m make the boundary
         * hold for the decimals ("1" vs "1.000001" with abs 1e-6). */
        slack = 4 * DBL_EPSILON * m;
        if (c->abs > 0 && d <= c->abs + slack)
                return true;
        if (c->rel > 0 && d <= c->rel * m + slack)
                return true;
        return false;
}

static bool
tokens_equal (const struct checker *c, const char *e, size_t elen, const char *g, size_t glen)
{
        struct cursor ce = { e, elen, 0 }, cg = { g, glen, 0 };
        const char *te = NULL, *tg = NULL;
        size_t tel = 0, tgl = 0;

        for (;;) {
                bool more_e = next_token (&ce, &te, &tel);
                bool more_g = next_token (&cg, &tg, &tgl);
                double a, b;

                if (more_e != more_g)
                        return false;
                if (! more_e)
                        return true;
                if (bytes_equal (te, tel, tg, tgl))
                        continue;
                if (c->type != CHECKER_FLOAT || ! parse_number (te, tel, &a)
                    || ! parse_number (tg, tgl, &b) || ! numbers_equal (c, a, b))
                        return false;
        }
}

bool
checker_equal (const struct checker *c, const char *expected, size_t elen, const char *got,
               size_t glen)
{
        /* Equal bytes are equal under every checker: one memcmp for the
         * common case of a right answer. */
        if (bytes_equal (expected, elen, got, glen))
                return true;
        switch (c->type) {
        case CHECKER_EXACT: return false;
        case CHECKER_LINES: return lines_equal (expected, elen, got, glen);
        case CHECKER_TOKENS:
        case CHECKER_FLOAT: return tokens_equal (c, expected, elen, got, glen);
        }
        return false;
}

const char *
checker_name (const struct checker *c)
{
        if ((unsigned) c->type < N_ELEMENTS (names))
                return names[c->type];
        return "unknown";
}

int
checker_from_name (const char *s, size_t len, struct checker *out)
{
        for (size_t i = 0; i < N_ELEMENTS (names); i++) {
                if (! bytes_equal (s, len, names[i], strlen (names[i])))
                        continue;
                *out = (struct checker){ .type = (enum checker_type) i };
                if (i == CHECKER_FLOAT) {
                        out->abs = CHECKER_FLOAT_ABS;
                        out->rel = CHECKER_FLOAT_REL;
                }
                return 0;
        }
        return -EINVAL;
}

int
checker_parse_tolerance (const char *s, size_t len, double *out)
{
        char buf[CHECKER_NUMBER_MAX + 1];
        double v;

        /* is_decimal: no "inf", "nan" or hex, whoever calls. */
        if (len == 0 || len > CHECKER_NUMBER_MAX || ! is_decimal (s, len))
                return -EINVAL;
        memcpy (buf, s, len);
        buf[len] = '\0';
        v = strtod (buf, NULL);
        if (! isfinite (v) || v < 0 || v > CHECKER_TOLERANCE_MAX)
                return -EINVAL;
        *out = v + 0.0; /* -0 becomes 0 */
        return 0;
}

void
checker_object_init (struct checker_object *o)
{
        *o = (struct checker_object){
                .c = { .type = CHECKER_LINES, .abs = CHECKER_FLOAT_ABS, .rel = CHECKER_FLOAT_REL },
        };
}

int
checker_object_key (struct checker_object *o, const char *key, size_t len)
{
        for (size_t i = 0; i < N_ELEMENTS (field_names); i++) {
                if (! bytes_equal (key, len, field_names[i], strlen (field_names[i])))
                        continue;
                if (o->given & (1u << i))
                        return -EEXIST;
                o->given |= 1u << i;
                return (int) i;
        }
        return -EINVAL;
}

int
checker_object_type (struct checker_object *o, const char *s, size_t len)
{
        struct checker c;

        if (checker_from_name (s, len, &c) < 0)
                return -EINVAL;
        /* Only the type: abs and rel may have come before it. */
        o->c.type = c.type;
        return 0;
}

int
checker_object_tolerance (struct checker_object *o, enum checker_field f, const char *s, size_t len)
{
        double v;

        if (f != CHECKER_FIELD_ABS && f != CHECKER_FIELD_REL)
                return -EINVAL;
        if (checker_parse_tolerance (s, len, &v) < 0)
                return -EINVAL;
        if (f == CHECKER_FIELD_ABS)
                o->c.abs = v;
        else
                o->c.rel = v;
        return 0;
}

int
checker_object_finish (struct checker_object *o, struct checker *out)
{
        unsigned tolerances = (1u << CHECKER_FIELD_ABS) | (1u << CHECKER_FIELD_REL);

        if (! (o->given & (1u << CHECKER_FIELD_TYPE)))
                return -EINVAL;
        /* A tolerance on an exact comparison would be silently ignored:
         * refuse it rather than let the client think it applies. */
        if (o->c.type != CHECKER_FLOAT && (o->given & tolerances))
                return -EINVAL;
        *out = o->c;
        if (out->type != CHECKER_FLOAT)
                out->abs = out->rel = 0;
        return 0;
}

const char *
checker_field_name (enum checker_field f)
{
        if ((unsigned) f < N_ELEMENTS (field_names))
                return field_names[f];
        return "unknown";
}

int
checker_from_json (yajl_val v, struct checker *out, const char **why)
{
        struct checker_object o;

        if (v == NULL || YAJL_IS_NULL (v)) {
                *out = CHECKER_DEFAULT;
                return 0;
        }
        if (YAJL_IS_STRING (v)) {
                if (checker_from_name (v->u.string, strlen (v->u.string), out) == 0)
                        return 0;
                *why = "unknown checker (expected " CHECKER_NAMES
                       " or an object {\"type\": ..., \"abs\": ..., \"rel\": ...})";
                return -EINVAL;
        }
        if (! YAJL_IS_OBJECT (v)) {
                *why = "must be a string or an object";
                return -EINVAL;
        }
        checker_object_init (&o);
        for (size_t i = 0; i < v->u.object.len; i++) {
                const char *key = v->u.object.keys[i];
                yajl_val x = v->u.object.values[i];
                int f = checker_object_key (&o, key, strlen (key));

                if (f == -EEXIST) {
                        *why = "a field is given twice";
                        return -EINVAL;
                }
                if (f < 0) {
                        *why = "unknown field (expected " CHECKER_FIELDS ")";
                        return -EINVAL;
                }
                if (f == CHECKER_FIELD_TYPE) {
                        if (! YAJL_IS_STRING (x)
                            || checker_object_type (&o, x->u.string, strlen (x->u.string)) < 0) {
                                *why = "'type' must be one of " CHECKER_NAMES;
                                return -EINVAL;
                        }
                } else if (! YAJL_IS_NUMBER (x)
                           || checker_object_tolerance (&o, f, x->u.number.r,
                                                        strlen (x->u.number.r))
                                      < 0) {
                        *why = "'abs' and 'rel' must be numbers from 0 to 1e9";
                        return -EINVAL;
                }
        }
        if (checker_object_finish (&o, out) < 0) {
                *why = (o.given & (1u << CHECKER_FIELD_TYPE))
                               ? "'abs' and 'rel' apply to type \"float\" only"
                               : "'type' is required";
                return -EINVAL;
        }
        return 0;
}
