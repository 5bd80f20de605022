/*
 * init_report.h - the protocol between the server and codeengine-init on fd 3,
 * a Unix stream socket.
 *
 * Server to init, once: the go message (struct ce_init_go, then argv_len
 * bytes holding argc NUL-terminated strings: the program's argv), with the
 * program's stdin attached as SCM_RIGHTS.  Until it arrives init waits: a
 * container can be created ahead of time (warm.h) and told only later what
 * to run.  EOF before it: init exits 0 without running anything.
 *
 * Init to server, once: the report below, when the program ends.
 *
 * One fixed-size record, written once, in the host's byte order (init and
 * server are built together).  The usage figures come from the kernel
 * (getrusage RUSAGE_CHILDREN after the program and its descendants were
 * reaped): the server uses them where no cgroup can be read (rootless mode).
 */
#ifndef CE_INIT_REPORT_H
#define CE_INIT_REPORT_H

#include <stdint.h>

#define CE_INIT_REPORT_FD 3
/* With --seccomp-fd: the server's compiled seccomp filter (seccomp_bpf.h). */
#define CE_INIT_SECCOMP_FD 4

#define CE_INIT_GO_MAGIC 0x43454f47u /* "GOEC" */
/* The largest argv a go message may carry: a request's args and the command. */
#define CE_INIT_GO_MAX_ARGV (1024 * 1024)

struct ce_init_go {
        uint32_t magic;
        uint32_t argc;     /* >= 1 */
        uint32_t argv_len; /* bytes that follow, <= CE_INIT_GO_MAX_ARGV */
        uint32_t reserved;
};

struct ce_init_report {
        int32_t wait_status; /* as from waitpid */
        int32_t reserved;
        int64_t cpu_us;    /* user + system time of the program and its reaped descendants */
        int64_t maxrss_kb; /* largest resident set among them */
};

#endif
