/*
 * init_report.h - what codeengine-init writes on fd 3 when the program ends.
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

struct ce_init_report {
        int32_t wait_status; /* as from waitpid */
        int32_t reserved;
        int64_t cpu_us;    /* user + system time of the program and its reaped descendants */
        int64_t maxrss_kb; /* largest resident set among them */
};

#endif
