/*
 * jsongen.h - the one way this code writes JSON: yajl_gen calls wrapped so
 * that any non-ok status jumps to the function's single `fail` label.
 * A function using these declares `yajl_gen g` and `yajl_gen_status st`.
 */
#ifndef CE_JSONGEN_H
#define CE_JSONGEN_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#define GEN(call)                                                                                  \
        do {                                                                                       \
                st = (call);                                                                       \
                if (st != yajl_gen_status_ok)                                                      \
                        goto fail;                                                                 \
        } while (0)

#define GEN_STR(s) GEN (yajl_gen_string (g, (const unsigned char *) (s), strlen (s)))
#define GEN_STRN(s, n) GEN (yajl_gen_string (g, (const unsigned char *) (s), (n)))
#define GEN_KV_STR(k, v)                                                                           \
        do {                                                                                       \
                GEN_STR (k);                                                                       \
                GEN_STR (v);                                                                       \
        } while (0)
#define GEN_KV_INT(k, v)                                                                           \
        do {                                                                                       \
                GEN_STR (k);                                                                       \
                GEN (yajl_gen_integer (g, (long long) (v)));                                       \
        } while (0)
#define GEN_KV_BOOL(k, v)                                                                          \
        do {                                                                                       \
                GEN_STR (k);                                                                       \
                GEN (yajl_gen_bool (g, (v)));                                                      \
        } while (0)

/* A JSON text this code generated earlier (a stored result), inserted
 * as a value unchanged: yajl writes a number's text as given, and the
 * text is ours, valid and complete, so the output stays valid JSON. */
#define GEN_RAW(s, n) GEN (yajl_gen_number (g, (const char *) (s), (n)))

/* A generator for a text that goes out: invalid UTF-8 is refused (texts
 * from outside are made valid before; this is the guard).  NULL on ENOMEM. */
static inline yajl_gen
jsongen_new (void)
{
        yajl_gen g = yajl_gen_alloc (NULL);

        if (g)
                yajl_gen_config (g, yajl_gen_validate_utf8, 1);
        return g;
}

/* What fill (g, arg) writes, on a jsongen_new generator, into *out
 * (malloc'd, NUL-terminated, *out_len bytes before the NUL).  0, or -ENOMEM,
 * or -EINVAL when fill failed. */
static inline int
jsongen_to_buf (yajl_gen_status (*fill) (yajl_gen g, const void *arg), const void *arg, char **out,
                size_t *out_len)
{
        yajl_gen g = jsongen_new ();
        const unsigned char *buf;
        size_t len;
        int ret = -EINVAL;

        if (g == NULL)
                return -ENOMEM;
        if (fill (g, arg) == yajl_gen_status_ok
            && yajl_gen_get_buf (g, &buf, &len) == yajl_gen_status_ok) {
                *out = malloc (len + 1);
                ret = -ENOMEM;
                if (*out) {
                        if (len)
                                memcpy (*out, buf, len);
                        (*out)[len] = '\0';
                        *out_len = len;
                        ret = 0;
                }
        }
        yajl_gen_free (g);
        return ret;
}

#endif
