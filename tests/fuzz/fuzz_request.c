/*
 * fuzz_request.c - libFuzzer target for the /execute body parser.
 *
 * The first byte picks where the body is split in two, so the fuzzer also
 * explores the streaming parser's state across chunk boundaries.  Any crash,
 * leak (ASan) or undefined behaviour (UBSan) is a finding; a rejected body is
 * not.
 */
#include <stddef.h>
#include <stdint.h>

#include "request.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
        struct request_parser *p;
        struct ce_request *req = NULL;
        struct ce_error err;
        size_t split;

        if (size == 0)
                return 0;
        split = data[0] % size;
        data++;
        size--;
        if (split > size)
                split = size;
        p = request_parser_new (1 << 20);
        if (p == NULL)
                return 0;
        if (request_parser_feed (p, (const char *) data, split, &err) == 0
            && request_parser_feed (p, (const char *) data + split, size - split, &err) == 0
            && request_parser_finish (p, &req, &err) == 0) {
                struct ce_limits d = { 30000, 50, 0.5, 1 << 20, 64 },
                                 c = { 60000, 512, 1, 1 << 24, 256 };
                struct ce_limits out;

                request_resolve_limits (&req->limits, req->limits_given, "", &d, &c, &out, &err);
                request_resolve_limits (&req->compile_limits, req->compile_limits_given, "compile_",
                                        &d, &c, &out, &err);
                request_free (req);
        }
        request_parser_free (p);
        return 0;
}
