/*
 * bundle.h - the languages this server can run, read once at start-up.
 *
 * A language is a folder bundles/<name>/ with bundle.json (command line,
 * entry file, aliases, environment), VERSION (written by
 * tools/prepare-bundles) and rootfs/ (the unpacked image, shared read-only by
 * every container).  The registry is immutable after bundle_registry_load,
 * so any thread may read it without locking.
 */
#ifndef CE_BUNDLE_H
#define CE_BUNDLE_H

#include "common.h"

/* The element of `command` replaced by the entry file's path inside. */
#define BUNDLE_ENTRY_PLACEHOLDER "{entry}"

struct ce_bundle {
        char *name;
        char **aliases;   /* NULL-terminated */
        char *entry_file; /* a plain file name: no '/' */
        char **command;   /* argv, NULL-terminated */
        char **env;       /* "KEY=VALUE", NULL-terminated */
        char *version;    /* "" when unknown */
        char *rootfs;     /* absolute, resolved host path */
};

struct ce_bundle_registry;

/* Load every prepared language under dir.  Folders that are not ready (no
 * rootfs yet) are skipped with a warning on stderr.  Fails when none is
 * usable. */
int bundle_registry_load (const char *dir, struct ce_bundle_registry **out, struct ce_error *err);
void bundle_registry_free (struct ce_bundle_registry *reg);

/* Find by name or alias; NULL when unknown. */
const struct ce_bundle *bundle_lookup (const struct ce_bundle_registry *reg, const char *name);

size_t bundle_count (const struct ce_bundle_registry *reg);
const struct ce_bundle *bundle_at (const struct ce_bundle_registry *reg, size_t i);

/* "python3, ruby" - for error messages.  Owned by the registry. */
const char *bundle_names (const struct ce_bundle_registry *reg);

#endif
