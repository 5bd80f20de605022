/*
 * probe.h - the start-up probes: one container per bundle, run under the
 * server's exact runtime configuration (execution_probe), so that a broken
 * set-up is reported once, at start-up, with a hint, and not as a 500 on
 * every request.
 */
#ifndef CE_PROBE_H
#define CE_PROBE_H

#include "bundle.h"
#include "common.h"
#include "runner.h"

/* Probe every available bundle of reg once.  A bundle that fails is taken
 * out of service (bundle_mark_unavailable) with its reason in the log.
 * <0 with the first failure's message and a hint when none passes: the
 * server must not start. */
int probe_bundles (const struct runner_config *rc, struct ce_bundle_registry *reg,
                   const struct ce_limits *limits, struct ce_error *err);

#endif
