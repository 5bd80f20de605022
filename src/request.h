/*
 * request.h - parse and validate a POST /execute body.
 *
 * The body is parsed as it arrives (yajl's callback parser), so a request is
 * never buffered whole before it is checked, and a bad one is refused at its
 * first bad byte.  Every field's type and size is checked here; nothing later
 * sees unvalidated input.
 *
 * A parser belongs to one connection and is used by one thread at a time.
 */
#ifndef CE_REQUEST_H
#define CE_REQUEST_H

#include "common.h"

struct ce_request {
        char *language; /* NUL-terminated, valid UTF-8 */
        char *code;     /* may contain NUL bytes: use code_len */
        size_t code_len;
};

struct request_parser;

/* max_bytes bounds the total body.  Returns NULL on ENOMEM. */
struct request_parser *request_parser_new (size_t max_bytes);
void request_parser_free (struct request_parser *p);

/* Feed the next piece of the body.  On failure err says why (400 or 413) and
 * the parser must not be fed again. */
int request_parser_feed (struct request_parser *p, const char *data, size_t len,
                         struct ce_error *err);

/* End of body: on success *out holds a validated request the caller owns
 * (free with request_free). */
int request_parser_finish (struct request_parser *p, struct ce_request **out, struct ce_error *err);

void request_free (struct ce_request *r);

#endif
