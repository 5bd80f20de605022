/*
 * probe.c - prove each bundle at start-up, before serving (see probe.h).
 */
#include "probe.h"

#include <string.h>

#include "execution.h"

/* Why a probe may fail where the runtime itself is fine: said once, at
 * start-up, instead of a 500 on every request. */
static const char *
probe_hint (bool rootless, const char *msg)
{
        bool in_container = access ("/.dockerenv", F_OK) == 0
                            || access ("/run/.containerenv", F_OK) == 0 || getenv ("container");

        if (rootless && strstr (msg, "proc") && strstr (msg, "not permitted"))
                return in_container
                               ? "this looks like a container: its /proc has masked (over-mounted) "
                                 "paths, so rootless runc may not mount a fresh /proc; start the "
                                 "container with --security-opt systempaths=unconfined (docker, "
                                 "podman) or run CodeEngine as root"
                               : "/proc has over-mounted paths (as inside a container), so "
                                 "rootless "
                                 "runc may not mount a fresh /proc; unmask them or run CodeEngine "
                                 "as root";
        if (strstr (msg, "hybrid mode not supported"))
                return "the runtime refuses this host's cgroup layout (crun does not support "
                       "the cgroup v1 hybrid hierarchy): use runc (--runtime runc) here, or "
                       "crun on a cgroup v2 host";
        if (in_container)
                return "this looks like a container: CodeEngine needs to create namespaces and "
                       "cgroups (e.g. docker run --privileged, or run it on the host)";
        return "check the runtime by hand: runc --version, and the message above";
}

int
probe_bundles (const struct runner_config *rc, struct ce_bundle_registry *reg,
               const struct ce_limits *limits, struct ce_error *err_out)
{
        char first[512] = "";
        size_t left = 0;

        for (size_t i = 0; i < bundle_count (reg); i++) {
                const struct ce_language *l = bundle_at (reg, i);
                struct timespec t0 = ce_now ();
                struct ce_error err;
                char reason[700];
                bool seen = false;

                for (size_t j = 0; j < i && ! seen; j++)
                        seen = strcmp (bundle_at (reg, j)->bundle, l->bundle) == 0;
                if (seen || ! l->available)
                        continue;
                if (execution_probe (rc, l, limits, &err) == 0) {
                        ce_log ("probe: bundle %s ok (%lld ms)", l->bundle,
                                (long long) ce_ms_between (t0, ce_now ()));
                        continue;
                }
                if (*first == '\0')
                        snprintf (first, sizeof (first), "%s", err.msg);
                snprintf (reason, sizeof (reason), "its start-up probe failed: %s", err.msg);
                ce_log ("warning: bundle %s: %s", l->bundle, reason);
                bundle_mark_unavailable (reg, l->bundle, reason);
        }
        for (size_t i = 0; i < bundle_count (reg); i++)
                left += bundle_at (reg, i)->available;
        if (left == 0)
                return ce_fail (err_out, EIO,
                                "no language passed its start-up probe: %s (hint: %s)", first,
                                probe_hint (rc->rootless, first));
        return 0;
}
