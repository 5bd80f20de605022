/*
 * jsongen.h - the one way this code writes JSON: yajl_gen calls wrapped so
 * that any non-ok status jumps to the function's single `fail` label.
 * A function using these declares `yajl_gen g` and `yajl_gen_status st`.
 */
#ifndef CE_JSONGEN_H
#define CE_JSONGEN_H

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

#endif
