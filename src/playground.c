/*
 * playground.c - the playground's embedded files (playground.h).
 *
 * The bytes come from the build (tools/embed-assets.cmake: three parallel
 * arrays of names, data and lengths); the first lookup adds each file's
 * Content-Type, from its suffix, and its ETag, from a SHA-256 of its bytes,
 * once (pthread_once), after which the table is only read.
 */
#include "playground.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <nettle/sha2.h>

#include "common.h"

extern const char *const playground_blob_names[];
extern const unsigned char *const playground_blob_data[];
extern const size_t playground_blob_lens[];
extern const size_t playground_nblobs;

#define MAX_ASSETS 64
/* 128 bits of the hash, in hex, quoted. */
#define ETAG_HEX 32

static struct playground_asset assets[MAX_ASSETS];
static char etags[MAX_ASSETS][ETAG_HEX + 3];
static size_t nassets;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *
type_of (const char *name)
{
        static const struct {
                const char *suffix, *type;
        } types[] = {
                { ".html", "text/html; charset=utf-8" },
                { ".js", "text/javascript; charset=utf-8" },
                { ".css", "text/css; charset=utf-8" },
                { ".svg", "image/svg+xml" },
                { ".png", "image/png" },
        };
        size_t len = strlen (name);

        for (size_t i = 0; i < sizeof (types) / sizeof (types[0]); i++) {
                size_t slen = strlen (types[i].suffix);

                if (len > slen && strcmp (name + len - slen, types[i].suffix) == 0)
                        return types[i].type;
        }
        return "application/octet-stream";
}

static void
build_table (void)
{
        for (size_t i = 0; i < playground_nblobs && i < MAX_ASSETS; i++) {
                struct sha256_ctx ctx;
                uint8_t digest[SHA256_DIGEST_SIZE];
                char *e = etags[i];

                sha256_init (&ctx);
                sha256_update (&ctx, playground_blob_lens[i], playground_blob_data[i]);
                sha256_digest (&ctx, sizeof (digest), digest);
                *e++ = '"';
                for (size_t b = 0; b < ETAG_HEX / 2; b++, e += 2)
                        snprintf (e, 3, "%02x", digest[b]);
                *e++ = '"';
                *e = '\0';
                assets[i] = (struct playground_asset){ .name = playground_blob_names[i],
                                                       .type = type_of (playground_blob_names[i]),
                                                       .data = playground_blob_data[i],
                                                       .len = playground_blob_lens[i],
                                                       .etag = etags[i] };
                nassets = i + 1;
        }
}

const struct playground_asset *
playground_find (const char *name)
{
        pthread_once (&once, build_table);
        for (size_t i = 0; i < nassets; i++)
                if (strcmp (assets[i].name, name) == 0)
                        return &assets[i];
        return NULL;
}

/* One media range of an Accept header (len bytes at p): text/html with a q
 * that is not 0. */
static bool
range_is_html (const char *p, size_t len)
{
        char range[128], *save = NULL, *tok;
        bool html = false;

        if (len >= sizeof (range))
                return false;
        memcpy (range, p, len);
        range[len] = '\0';
        for (tok = strtok_r (range, ";", &save); tok; tok = strtok_r (NULL, ";", &save)) {
                char *t = tok + strspn (tok, " \t");
                size_t tlen = strcspn (t, " \t");

                if (tok == range)
                        html = tlen == 9 && strncasecmp (t, "text/html", 9) == 0;
                else if (html && (t[0] == 'q' || t[0] == 'Q') && t[1] == '=')
                        html = strtod (t + 2, NULL) > 0;
        }
        return html;
}

bool
playground_wants_html (const char *accept)
{
        for (const char *p = accept; p && *p;) {
                size_t len = strcspn (p, ",");

                if (range_is_html (p, len))
                        return true;
                p += len;
                p += *p == ',';
        }
        return false;
}
