/*
 * api_piston.h - Piston's API v2: what its two files share (api_piston.c,
 * the HTTP routes and the execute body; api_piston_ws.c, the WebSocket
 * protocol), and what its unit test reaches.
 */
#ifndef CE_API_PISTON_H
#define CE_API_PISTON_H

#include "api.h"

/* How Piston spells an execution's live events (api_piston.c). */
extern const struct events_dialect api_piston_events;

/* GET /api/v2/connect's protocol (api_piston_ws.c). */
extern const struct ws_protocol api_piston_ws;

/* The name Piston knows lang by ("python" for python3, "c++" for cpp). */
const char *api_piston_language_name (const struct ce_language *lang);

/* A stage's result as Piston reports it, in its execute answer and on its
 * WebSocket alike: status "TO", "OL", "EL", "SG", "RE" or NULL; message ""
 * when there is none; signal NULL when none (SIGKILL for Piston's own kills:
 * points into signame or is a constant). */
struct api_piston_outcome {
        const char *status;
        char message[96];
        const char *signal;
        char signame[32];
};
void api_piston_outcome (const struct runner_result *res, struct api_piston_outcome *out);

/* 1 when version (a Piston version request: exact, a SemVer range, "*" or
 * NULL for any) accepts have; 0 otherwise.  Exposed for tests. */
int api_piston_version_matches (const char *want, const char *have);

#endif
