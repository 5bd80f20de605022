/*
 * checker.h - does a test's output match its expected output?
 *
 * A checker compares two byte buffers: what a test expected and what the
 * program wrote.  Both have explicit lengths, may hold NUL bytes and may be
 * tens of MB, so every comparison is one forward pass over both (O(n), no
 * recursion, no allocation: numbers are parsed from a small stack copy).
 *
 * The four checkers, as a request names them ("checker" in /execute):
 *
 *   exact   the bytes are equal.
 *   lines   (the default) line by line equal, where a line's trailing
 *           spaces, tabs and '\r' are ignored (so CRLF equals LF, and a
 *           missing final newline is no difference) and so are empty
 *           lines at the end.  Leading whitespace is significant.
 *   tokens  the whitespace-separated tokens are equal, whatever whitespace
 *           (' ', \t, \n, \v, \f, \r, any amount) separates them.
 *   float   tokens as above, except that two tokens that are both numbers
 *           are equal when |a-b| <= abs or |a-b| <= rel*max(|a|,|b|)
 *           (defaults 1e-6 each), so "1e-7" equals "0.0000001" and "1.0"
 *           equals "1".
 *
 * What "float" counts as a number: a decimal literal, [+-]? digits with an
 * optional '.' and fraction and an optional exponent (no hex, no spaces),
 * whose value is finite (one that overflows is no number), or [+-]? "inf",
 * "infinity" or "nan" in any case.  A token longer than CHECKER_NUMBER_MAX
 * bytes is never a number.  Tokens that are not numbers, or where only one
 * side is, compare as bytes.  Then:
 *   - byte-identical tokens are always equal, so "nan" equals "nan", but
 *     NaN is equal to nothing numerically ("nan" vs "NaN" differ);
 *   - an infinity equals only the same infinity ("inf" == "+Infinity"),
 *     never a finite number however large;
 *   - -0 equals 0;
 *   - the boundary is inclusive and judged on the decimal values: a
 *     difference that is at the tolerance in decimal is within it even
 *     when the two doubles' rounding makes it a few ulps more.  A zero
 *     tolerance means exact numeric equality.
 *
 * Everything here is pure and thread-safe; nothing allocates.  Parsing
 * helpers return -EINVAL and leave the wording of the client's 400 to the
 * front-end that knows the field's name (only front-ends may blame the
 * client: common.h).
 */
#ifndef CE_CHECKER_H
#define CE_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

enum checker_type {
        CHECKER_EXACT,
        CHECKER_LINES,
        CHECKER_TOKENS,
        CHECKER_FLOAT,
};

struct checker {
        enum checker_type type;
        double abs, rel; /* CHECKER_FLOAT only; 0 for the others */
};

#define CHECKER_FLOAT_ABS 1e-6
#define CHECKER_FLOAT_REL 1e-6
/* The largest abs or rel a request may give. */
#define CHECKER_TOLERANCE_MAX 1e9
/* Tokens longer than this are compared as bytes, never as numbers. */
#define CHECKER_NUMBER_MAX 64

/* For the front-ends' messages: the names a request may use. */
#define CHECKER_NAMES "\"exact\", \"lines\", \"tokens\", \"float\""
#define CHECKER_FIELDS "type, abs, rel"

/* The checker of a request that names none: lines. */
#define CHECKER_DEFAULT ((struct checker){ .type = CHECKER_LINES })

/* Whether got matches expected under c.  Either pointer may be NULL when
 * its length is 0.  Linear in elen + glen. */
bool checker_equal (const struct checker *c, const char *expected, size_t elen, const char *got,
                    size_t glen);

/* "exact", "lines", "tokens" or "float": the name a request gives. */
const char *checker_name (const struct checker *c);

/* The string form: s (len bytes, not NUL-terminated, may hold NULs) is one
 * of the names.  Fills *out ("float" with the default tolerances) and
 * returns 0, or returns -EINVAL for any other string. */
int checker_from_name (const char *s, size_t len, struct checker *out);

/* A tolerance as a JSON number's text (yajl's number callback, or a tree
 * value's u.number.r): 0 and *out, or -EINVAL unless it is finite and in
 * [0, CHECKER_TOLERANCE_MAX]. */
int checker_parse_tolerance (const char *s, size_t len, double *out);

/*
 * The object form, {"type": "float", "abs": 1e-9, "rel": 0}, for a
 * streaming (callback) parser that sees it key by key, in any order:
 *
 *   on '{' under "checker":  checker_object_init (&o); push a context
 *   on a key in it:          f = checker_object_key (&o, key, len)
 *                            -EINVAL: unknown key (expected CHECKER_FIELDS)
 *                            -EEXIST: given twice;  else remember f
 *   on a string for TYPE:    checker_object_type (&o, s, len)
 *                            -EINVAL: not one of CHECKER_NAMES
 *   on a number for ABS/REL: checker_object_tolerance (&o, f, s, len)
 *                            -EINVAL: see checker_parse_tolerance
 *   (any other value type is the caller's type error)
 *   on '}':                  checker_object_finish (&o, &out)
 *                            -EINVAL: "type" missing, or abs/rel given
 *                            for a type other than "float"
 *
 * "type" alone may name any checker ({"type": "tokens"}); a float's
 * missing abs or rel takes its default.  The object lives in the parser's
 * state; it holds no resources.
 */
enum checker_field {
        CHECKER_FIELD_TYPE,
        CHECKER_FIELD_ABS,
        CHECKER_FIELD_REL,
};

struct checker_object {
        struct checker c;
        unsigned given; /* bit per enum checker_field */
};

void checker_object_init (struct checker_object *o);
int checker_object_key (struct checker_object *o, const char *key, size_t len);
int checker_object_type (struct checker_object *o, const char *s, size_t len);
int checker_object_tolerance (struct checker_object *o, enum checker_field f, const char *s,
                              size_t len);
int checker_object_finish (struct checker_object *o, struct checker *out);

/* "type", "abs" or "rel". */
const char *checker_field_name (enum checker_field f);

/* Both forms from a parsed tree (yajl_tree, as the Piston front-end
 * parses): a string or an object as above; v NULL (absent) or null gives
 * CHECKER_DEFAULT.  0 and *out, or -EINVAL with *why a static sentence for
 * the caller's 400 ("unknown checker ..."), to follow "field 'checker': ". */
int checker_from_json (yajl_val v, struct checker *out, const char **why);

#endif
