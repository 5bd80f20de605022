/*
 * seccomp_load.h - install a BPF program made by seccomp_bpf_compile.
 *
 * Header-only so that the static codeengine-init can use it without
 * libseccomp or ce_core: plain syscalls, no allocation, errno-style returns.
 * The intended use, in the forked child just before execve of the program:
 *
 *         if (seccomp_load_bpf (bpf, bpf_len) < 0) { report; _exit (127); }
 *
 * with bpf read beforehand (seccomp_read_bpf) from the file or fd the
 * server provides, so that the child does nothing but install it.
 */
#ifndef CE_SECCOMP_LOAD_H
#define CE_SECCOMP_LOAD_H

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Largest program the kernel takes (BPF_MAXINSNS instructions). */
#define SECCOMP_BPF_MAX_BYTES (BPF_MAXINSNS * sizeof (struct sock_filter))

/* Install bpf (len bytes of struct sock_filter) as a seccomp filter on the
 * calling thread, which then holds it for life and passes it on to every
 * child and across execve.  Returns 0 or -errno.
 *
 * no_new_privs first: without CAP_SYS_ADMIN the kernel takes a filter only
 * under it (runc already sets it when config.json has noNewPrivileges, and
 * setting it again is harmless).  Flags 0, as runc 1.1 loads (it uses
 * prctl(PR_SET_SECCOMP), the same as seccomp() without flags): in particular
 * no SECCOMP_FILTER_FLAG_SPEC_ALLOW, so the kernel's speculative-store-bypass
 * policy for filtered tasks is what it is under runc, and no TSYNC, which a
 * single-threaded child before execve does not need. */
static inline int
seccomp_load_bpf (const void *bpf, size_t len)
{
        struct sock_fprog prog;

        if (bpf == NULL || len == 0 || len % sizeof (struct sock_filter) != 0
            || len > SECCOMP_BPF_MAX_BYTES)
                return -EINVAL;
        prog.len = (unsigned short) (len / sizeof (struct sock_filter));
        prog.filter = (struct sock_filter *) bpf;
        if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                return -errno;
        return 0;
}

/* Read a whole program from fd, a regular file or memfd, from offset 0 with
 * pread: one fd may be shared by many containers at once, so its file
 * offset is nobody's.  buf holds SECCOMP_BPF_MAX_BYTES.  Returns 0 with *len
 * set, or -errno (-E2BIG past the kernel's limit, -EINVAL for a size that is
 * no whole program). */
static inline int
seccomp_read_bpf (int fd, void *buf, size_t *len)
{
        size_t done = 0;

        *len = 0;
        for (;;) {
                /* One byte more than the limit tells "too big" from "full". */
                uint8_t extra;
                ssize_t r = done < SECCOMP_BPF_MAX_BYTES
                                    ? pread (fd, (uint8_t *) buf + done,
                                             SECCOMP_BPF_MAX_BYTES - done, (off_t) done)
                                    : pread (fd, &extra, 1, (off_t) done);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        break;
                if (done == SECCOMP_BPF_MAX_BYTES)
                        return -E2BIG;
                done += (size_t) r;
        }
        if (done == 0 || done % sizeof (struct sock_filter) != 0)
                return -EINVAL;
        *len = done;
        return 0;
}

#endif
