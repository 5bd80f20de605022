/*
 * seccomp_bpf.h - compile an OCI seccomp profile to a classic BPF program.
 *
 * The server compiles its profile once at start-up; codeengine-init loads
 * the result (seccomp_load.h) in the program's process just before execve,
 * instead of runc compiling the same profile in every container start.
 */
#ifndef CE_SECCOMP_BPF_H
#define CE_SECCOMP_BPF_H

#include <yajl/yajl_tree.h>

#include "common.h"

/* Translate profile (linux.seccomp in OCI form, as spec_load_seccomp returns
 * it) into the filter that runc 1.1 would install for it: libseccomp's
 * program for the rules, preceded by runc's -ENOSYS stub (syscalls numbered
 * above the profile's highest known one, per listed architecture, fail with
 * ENOSYS rather than the default errno).
 *
 * On success *bpf is a malloc'd array of struct sock_filter (*len bytes,
 * a multiple of 8, at most BPF_MAXINSNS instructions) that the caller frees;
 * a profile that runc treats as "no seccomp" (no defaultAction and no
 * syscalls) gives *bpf NULL and *len 0.  Returns 0 or a negative errno with
 * err filled (EINVAL for what runc 1.1 would reject, e.g. flags, and for
 * SCMP_ACT_NOTIFY, whose listener fd only exists at load time).
 * Thread-safe; it allocates a libseccomp context and a memfd of its own. */
int seccomp_bpf_compile (yajl_val profile, uint8_t **bpf, size_t *len, struct ce_error *err);

#endif
