/*
 * bundle.h - the languages this server can run, read once at start-up.
 *
 * A bundle is a folder bundles/<bundle>/ with bundle.json (one or more
 * languages that share the bundle's tree: their stages, command lines, entry
 * files, aliases, environment and default limits), versions.json (written by
 * tools/prepare-bundles) and rootfs/ (the unpacked image, shared read-only by
 * every container).  Languages are data: nothing in C knows a language by
 * its name.
 *
 * A language whose bundle is not prepared, or whose commands are missing from
 * its tree, is still listed, as unavailable with the reason, so that the log
 * and GET /languages say what is wrong instead of a 500 at the first request.
 * The registry is immutable after bundle_registry_load, so any thread may
 * read it without locking.
 */
#ifndef CE_BUNDLE_H
#define CE_BUNDLE_H

#include "common.h"
#include "stage_limits.h"

/* Placeholders in a stage's command (see docs/bundles.md, "Bundles"). */
#define BUNDLE_ENTRY_PLACEHOLDER "{entry}"     /* the entry file's path inside */
#define BUNDLE_STEM_PLACEHOLDER "{stem}"       /* its base name without extension */
#define BUNDLE_SOURCES_PLACEHOLDER "{sources}" /* a whole element: every source file */
/* A whole element of a compile command: the request's compiler options,
 * zero or more elements (Judge0's compiler_options); a language without it
 * takes none. */
#define BUNDLE_OPTIONS_PLACEHOLDER "{compiler_options}"

/* One stage of a language: its command line, extra environment and the
 * defaults it declares (only the LIMIT_* bits in limits_given are set). */
struct ce_stage_def {
        char **command; /* argv with placeholders, NULL-terminated; NULL: no such stage */
        char **env;     /* "KEY=VALUE": the language's env, then the stage's */
        struct ce_limits limits;
        unsigned limits_given;
};

/* How Judge0-compatible clients name a language (bundle.json's "judge0"
 * member; see docs/bundles.md, "Bundles"): the id they send as language_id and the
 * name GET /languages shows for it. */
#define BUNDLE_JUDGE0_MAX_ID 9999
#define BUNDLE_JUDGE0_MAX_NAME 128             /* bytes, of name_template */
#define BUNDLE_VERSION_PLACEHOLDER "{version}" /* in name_template */
#define BUNDLE_UNKNOWN_VERSION "unknown"       /* what it becomes without one */

struct ce_judge0_id {
        int id;              /* 1..BUNDLE_JUDGE0_MAX_ID, unique across the registry */
        char *name_template; /* as written, e.g. "C++ (GCC {version})" */
        char *name;          /* expanded with the language's version; NULL from bundle_parse */
};

struct ce_language {
        char *name;
        char *bundle;     /* the folder it comes from */
        char **aliases;   /* NULL-terminated */
        char *entry_file; /* a plain file name: no '/' */
        char **sources;   /* file suffixes {sources} expands to; NULL-terminated */
        char *version;    /* "" when unknown */
        char *rootfs;     /* absolute, resolved host path; NULL when unavailable */
        /* Which tree rootfs is: the image it was unpacked from and the
         * directory's own identity, so that a rebuilt bundle differs (the
         * compile cache's key); NULL when unavailable. */
        char *tree_id;
        struct ce_stage_def compile; /* command NULL: interpreted */
        struct ce_stage_def run;
        bool available;
        char *reason;                /* why not available; NULL when it is */
        struct ce_judge0_id *judge0; /* njudge0 of them, in bundle.json's order */
        size_t njudge0;
};

struct ce_bundle_registry;

/* Load every language under dir.  Bundles that are not prepared (no rootfs)
 * or whose stage commands are not in their tree give unavailable languages,
 * with a warning on stderr; a bundle.json that cannot be read is skipped with
 * a warning.  Fails when no language is available at all, or when two
 * languages claim the same Judge0 id (the message names both). */
int bundle_registry_load (const char *dir, struct ce_bundle_registry **out, struct ce_error *err);
void bundle_registry_free (struct ce_bundle_registry *reg);

/* Find by name or alias (available or not); NULL when unknown. */
const struct ce_language *bundle_lookup (const struct ce_bundle_registry *reg, const char *name);

/* Find by Judge0 language id (available or not): the language, and in
 * *name (if not NULL) that id's expanded name, owned by the registry.  NULL
 * when no language claims the id. */
const struct ce_language *bundle_lookup_judge0 (const struct ce_bundle_registry *reg, int id,
                                                const char **name);

/* Every language, available or not, sorted by name. */
size_t bundle_count (const struct ce_bundle_registry *reg);
const struct ce_language *bundle_at (const struct ce_bundle_registry *reg, size_t i);

/* "c, cpp, python3" - the available ones, for error messages.  Owned by the
 * registry. */
const char *bundle_names (const struct ce_bundle_registry *reg);

/* Start-up only, before any other thread reads the registry: mark every
 * language of `bundle` unavailable (its probe failed).  Returns how many
 * languages stay available. */
size_t bundle_mark_unavailable (struct ce_bundle_registry *reg, const char *bundle,
                                const char *reason);

/* Parse one bundle.json text (exposed for tests): the languages it declares,
 * each without rootfs or version (so their judge0[].name are NULL).  *out is an array of *n
 * languages, freed with bundle_languages_free. */
int bundle_parse (const char *bundle, const char *text, struct ce_language **out, size_t *n,
                  struct ce_error *err);
void bundle_languages_free (struct ce_language *langs, size_t n);

#endif
