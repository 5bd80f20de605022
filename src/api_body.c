/*
 * api_body.c - what the front-ends that read a whole body before parsing it
 * (Piston's, Judge0's) share: api_body_append (api.h).
 */
#include "api.h"

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
