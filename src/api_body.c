/*
 * api_body.c - what the front-ends that read a whole body before parsing it
 * (Piston's, Judge0's, MCP's) share: api_body_append, and a parser that
 * is only the body (api.h).
 */
#include "api.h"

void *
api_body_parser_new (size_t max_body, const struct api_query *q)
{
        struct api_body_parser *p = calloc (1, sizeof (*p));

        (void) q;
        if (p)
                p->max = max_body;
        return p;
}

void
api_body_parser_free (void *parser)
{
        struct api_body_parser *p = parser;

        ce_buf_free (&p->body);
        free (p);
}

int
api_body_parser_feed (void *parser, const char *data, size_t len, struct ce_error *err)
{
        struct api_body_parser *p = parser;

        return api_body_append (&p->body, p->max, data, len, err);
}

int
api_body_append (struct ce_buf *body, size_t max, const char *data, size_t len,
                 struct ce_error *err)
{
        if (body->len + len > max)
                return ce_refuse (err, 413, EFBIG, "request body is larger than %zu bytes", max);
        if (ce_buf_append (body, data, len) < 0)
                return ce_fail (err, ENOMEM, "out of memory");
        return 0;
}
