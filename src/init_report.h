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

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* The go message's ancillary data: one fd, SCM_RIGHTS. */
union ce_init_go_ctl {
        char buf[CMSG_SPACE (sizeof (int))];
        struct cmsghdr align;
};

/* The server's side: the go message for argv and stdin_fd, ready for
 * sendmsg in *msg (which points into go, iov, ctl and *strings: keep them
 * alive; free *strings after).  0; -E2BIG for an empty argv or one over
 * CE_INIT_GO_MAX_ARGV bytes; -ENOMEM. */
static inline int
ce_init_go_pack (char *const *argv, int stdin_fd, struct ce_init_go *go, char **strings,
                 struct iovec iov[2], union ce_init_go_ctl *ctl, struct msghdr *msg)
{
        size_t len = 0, off = 0;
        struct cmsghdr *cm;

        *go = (struct ce_init_go){ .magic = CE_INIT_GO_MAGIC };
        for (char *const *a = argv; *a; a++) {
                len += strlen (*a) + 1;
                go->argc++;
        }
        if (go->argc == 0 || len > CE_INIT_GO_MAX_ARGV)
                return -E2BIG;
        *strings = malloc (len);
        if (*strings == NULL)
                return -ENOMEM;
        for (char *const *a = argv; *a; a++) {
                size_t l = strlen (*a) + 1;

                memcpy (*strings + off, *a, l);
                off += l;
        }
        go->argv_len = (uint32_t) len;
        iov[0] = (struct iovec){ go, sizeof (*go) };
        iov[1] = (struct iovec){ *strings, len };
        memset (ctl, 0, sizeof (*ctl));
        *msg = (struct msghdr){ .msg_iov = iov,
                                .msg_iovlen = 2,
                                .msg_control = ctl->buf,
                                .msg_controllen = sizeof (ctl->buf) };
        cm = CMSG_FIRSTHDR (msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN (sizeof (int));
        memcpy (CMSG_DATA (cm), &stdin_fd, sizeof (int));
        return 0;
}

/* Init's side: whether a received header can be trusted as far as its
 * sizes go (then read go->argv_len bytes of strings). */
static inline int
ce_init_go_check (const struct ce_init_go *go)
{
        return go->magic == CE_INIT_GO_MAGIC && go->argc > 0 && go->argv_len > 0
                               && go->argv_len <= CE_INIT_GO_MAX_ARGV && go->argc <= go->argv_len
                       ? 0
                       : -1;
}

/* Init's side: split the go->argv_len bytes of strings into go->argc
 * NUL-terminated strings, into argv (argc + 1 slots; the last NULL).  0, or
 * -1 when they are not exactly argc strings. */
static inline int
ce_init_go_unpack (const struct ce_init_go *go, char *strings, char **argv)
{
        char *p = strings;

        if (strings[go->argv_len - 1] != '\0')
                return -1;
        for (uint32_t i = 0; i < go->argc; i++) {
                if (p >= strings + go->argv_len)
                        return -1;
                argv[i] = p;
                p += strlen (p) + 1;
        }
        argv[go->argc] = NULL;
        return p == strings + go->argv_len ? 0 : -1;
}

struct ce_init_report {
        int32_t wait_status; /* as from waitpid */
        int32_t reserved;
        int64_t cpu_us;    /* user + system time of the program and its reaped descendants */
        int64_t maxrss_kb; /* largest resident set among them */
};

#endif
