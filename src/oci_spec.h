/*
 * oci_spec.h - write one execution's config.json (OCI runtime spec 1.0).
 *
 * Pure function of its parameters: the same parameters give byte-identical
 * JSON, which the golden-file tests rely on.  Thread-safe.
 */
#ifndef CE_OCI_SPEC_H
#define CE_OCI_SPEC_H

#include <yajl/yajl_tree.h>

#include "common.h"

/* Where things appear inside every container. */
#define CE_CODE_DIR "/code"
#define CE_INIT_DIR "/.codeengine"
#define CE_INIT_PATH CE_INIT_DIR "/init"

#define CE_BUILD_DIR "/build"
#define CE_WORK_DIR "/work"

struct spec_params {
        const char *rootfs;       /* the language's tree, mounted read-only as / */
        char *const *env;         /* the stage's "KEY=VALUE"s after the defaults; NULL-terminated */
        const char *cwd;          /* inside: CE_CODE_DIR, CE_BUILD_DIR or CE_WORK_DIR */
        const char *code_dir;     /* host dir mounted read-only at /code */
        const char *build_dir;    /* host dir mounted at /build; NULL: none */
        bool build_writable;      /* the compile stage writes it; the run only reads it */
        const char *work_dir;     /* host dir mounted writable at /work; NULL: none */
        const char *init_path;    /* host path of codeengine-init */
        const char *cgroups_path; /* e.g. "/codeengine/ce-0123"; NULL: no cgroup, rlimits only */
        bool rootless;            /* a user namespace mapping host_uid/gid to root inside */
        bool no_cpu_limit;        /* the cpu controller is not available (rootless v2) */
        uint32_t host_uid, host_gid;
        const char *hostname;
        int64_t memory_bytes; /* memory and memory+swap limit */
        int64_t cpu_quota_us; /* per cpu_period_us */
        int64_t cpu_period_us;
        int64_t pids_limit;
        int64_t tmp_bytes;   /* size of the /tmp tmpfs */
        int64_t fsize_bytes; /* RLIMIT_FSIZE: no single file larger than where it could go */
        uint32_t uid, gid;   /* the program's user inside */
        int64_t cpu_seconds; /* RLIMIT_CPU: a backstop behind the wall-clock timeout */
        yajl_val seccomp;    /* linux.seccomp as loaded by spec_load_seccomp; NULL: none */
        int seccomp_fd;      /* > 0: init installs the BPF it reads on this fd (and
                              * seccomp should be NULL) */
};

/* Parse and check a seccomp profile in OCI form (defaultAction, architectures,
 * syscalls).  *out is freed with yajl_tree_free. */
int spec_load_seccomp (const char *text, size_t len, yajl_val *out, struct ce_error *err);

/* The profile compiled into the binary from src/seccomp.json. */
extern const char ce_seccomp_profile[];
extern const size_t ce_seccomp_profile_len;

/* Generate config.json into a malloc'd, NUL-terminated buffer. */
int spec_generate (const struct spec_params *p, char **json, size_t *len, struct ce_error *err);

/* Generate and write it as dirfd/config.json (created, never followed). */
int spec_write (int dirfd, const struct spec_params *p, struct ce_error *err);

#endif
