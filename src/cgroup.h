/*
 * cgroup.h - read a finished container's accounting before runc deletes it.
 *
 * runc creates and removes the cgroups; this module only reads them (and,
 * at start-up, removes the empty ones a crashed server left).
 * cgroup_init finds the hierarchies once at start-up (v1 controllers or the
 * v2 unified tree); afterwards every function is thread-safe.
 */
#ifndef CE_CGROUP_H
#define CE_CGROUP_H

#include "common.h"

struct cgroup_stats {
        int64_t oom_kills;   /* -1 when unknown */
        int64_t memory_peak; /* bytes, -1 when unknown */
        int64_t cpu_ns;      /* -1 when unknown */
};

/* Returns 0, or -ENOENT when no memory cgroup hierarchy is mounted. */
int cgroup_init (void);

/* Rootless on cgroup v2: true when the user's systemd instance has the memory
 * and pids controllers delegated (and a session bus for runc to ask it),
 * *cpu when the cpu controller is delegated too. */
bool cgroup_user_delegation (unsigned uid, bool *cpu);

/* "v1" or "v2" (or "none"). */
const char *cgroup_mode (void);

/* Stats of the cgroup at `path` (a runc cgroupsPath such as
 * "/codeengine/ce-0123"); fields that cannot be read are -1. */
void cgroup_read_stats (const char *path, struct cgroup_stats *out);

/* From now on the cgroup's memory peak counts afresh (v1; on v2 a no-op):
 * what the runtime used to start the container is not the program's. */
void cgroup_reset_peak (const char *path);

/* The parsers, exposed for tests.  Whether the comma-separated opts (a
 * mount's super options) hold want exactly; whether the space-separated
 * text (cgroup.controllers) holds word; the number after "key " on a line
 * of a "key value" file (memory.events, cpu.stat), -1 when none. */
bool cgroup_has_option (const char *opts, const char *want);
bool cgroup_has_word (const char *text, const char *word);
int64_t cgroup_keyed_value (const char *text, const char *key);

/* At start-up: remove the cgroups named <parent>/<name> (for each name
 * where ours(name)) in every hierarchy that are empty and unchanged for
 * min_age_s seconds: what a server killed before `runc delete` left (runc's
 * state may be gone with the container the server ran in).  The age keeps
 * a cgroup that another instance's runc is creating right now; the kernel
 * itself refuses to remove one that holds a process or a child.  Returns
 * how many were removed. */
size_t cgroup_remove_stale (const char *parent, bool (*ours) (const char *name), int min_age_s);

#endif
