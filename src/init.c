/*
 * init.c - codeengine-init, pid 1 of every container.
 *
 * Bind-mounted read-only from the host at /.codeengine/init and started by
 * runc.  It first waits on fd 3 for the server's go message (init_report.h):
 * the program's argv and its stdin.  So a container can be created, with its
 * namespaces, mounts and cgroup, before anyone knows what it will run, and
 * released later by one message.  Why not run the program as pid 1 directly:
 * a pid-namespace init ignores every signal it has no handler for (so a
 * program could not even kill itself), and nothing would reap the program's
 * orphans.  This init forks the program, reaps everything, and when the
 * program ends writes its exact wait status and resource usage (struct
 * ce_init_report) to fd 3 and exits;
 * the kernel then kills whatever is left in the namespace.
 *
 * fd 3 is close-on-exec, so the program can neither forge the status nor
 * keep the socket open.  Built static and without sanitizers: it runs inside
 * images that share nothing with the host's libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init_report.h"
#include "seccomp_load.h"

#define STATUS_FD CE_INIT_REPORT_FD

/* Read exactly len bytes; 0 at once on EOF before the first byte. */
static ssize_t
read_full (int fd, void *buf, size_t len)
{
        size_t done = 0;

        while (done < len) {
                ssize_t n = read (fd, (char *) buf + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -1 : (ssize_t) done;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

/* Wait for the go message: *argv_out the program's argv (NULL-terminated),
 * *stdin_out the fd that becomes its stdin (or -1: keep ours).  1: go;
 * 0: the server hung up first (a warm container nobody needed); -1: a
 * malformed message. */
static int
wait_for_go (char ***argv_out, int *stdin_out)
{
        struct ce_init_go go;
        union ce_init_go_ctl ctl;
        struct iovec iov = { &go, sizeof (go) };
        struct msghdr msg = { .msg_iov = &iov,
                              .msg_iovlen = 1,
                              .msg_control = ctl.buf,
                              .msg_controllen = sizeof (ctl.buf) };
        struct cmsghdr *c;
        char *strings;
        char **argv;
        ssize_t n;

        *stdin_out = -1;
        do
                n = recvmsg (STATUS_FD, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n == 0)
                return 0;
        if (n < 0)
                return -1;
        for (c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
                    && c->cmsg_len == CMSG_LEN (sizeof (int)))
                        memcpy (stdin_out, CMSG_DATA (c), sizeof (int));
        if ((size_t) n < sizeof (go)
            && read_full (STATUS_FD, (char *) &go + n, sizeof (go) - (size_t) n)
                       != (ssize_t) (sizeof (go) - (size_t) n))
                return -1;
        if (ce_init_go_check (&go) < 0)
                return -1;
        strings = malloc (go.argv_len);
        argv = calloc ((size_t) go.argc + 1, sizeof (char *));
        if (strings == NULL || argv == NULL
            || read_full (STATUS_FD, strings, go.argv_len) != (ssize_t) go.argv_len
            || ce_init_go_unpack (&go, strings, argv) < 0)
                return -1;
        *argv_out = argv;
        return 1;
}

/* --probe, run as the program of the server's start-up probe
 * (execution_probe): it proves that the program runs, and under a seccomp
 * filter. */
static int
probe (void)
{
        char line[256];
        FILE *f = fopen ("/proc/self/status", "re");
        int mode = -1;

        while (f && fgets (line, sizeof (line), f))
                if (strncmp (line, "Seccomp:", 8) == 0)
                        mode = atoi (line + 8);
        if (f)
                fclose (f);
        if (mode != SECCOMP_MODE_FILTER) {
                printf ("codeengine-init: probe: the program runs without a seccomp filter "
                        "(Seccomp: %d)\n",
                        mode);
                return 1;
        }
        fputs ("codeengine-init: probe ok\n", stdout);
        return 0;
}

int
main (int argc, char **argv)
{
        sigset_t none;
        pid_t child, pid;
        int status;

        struct rlimit as = { RLIM_INFINITY, RLIM_INFINITY };
        int first = 1;
        char **prog = NULL;
        int stdin_fd = -1, seccomp_fd = -1;

        /* The start-up probe (execution_probe): this binary is in every
         * container, so running it as the program proves the runtime, the
         * mounts, the limits and the tree without any language in it. */
        if (argc == 2 && strcmp (argv[1], "--probe") == 0)
                return probe ();
        for (; first + 1 < argc; first += 2) {
                /* "--as BYTES": an address-space limit for the program only.  It
                 * cannot go in config.json's rlimits, which runc applies to
                 * itself first (its Go runtime needs far more address space
                 * than a program's limit). */
                if (strcmp (argv[first], "--as") == 0)
                        as.rlim_cur = as.rlim_max = strtoull (argv[first + 1], NULL, 10);
                else if (strcmp (argv[first], "--seccomp-fd") == 0)
                        seccomp_fd = atoi (argv[first + 1]);
                else
                        break;
        }
        if (argc != first) {
                fprintf (stderr,
                         "usage: %s [--as BYTES] [--seccomp-fd FD]  (the program comes on fd 3)\n",
                         argv[0]);
                return 127;
        }
        fcntl (STATUS_FD, F_SETFD, FD_CLOEXEC);
        /* The server's seccomp profile, compiled once at its start-up
         * (seccomp_bpf.h) instead of by runc in every container: installed
         * on ourselves first, as runc would have before exec'ing us, so that
         * we and everything we start hold it.  No filter, no program. */
        if (seccomp_fd >= 0) {
                static unsigned char bpf[SECCOMP_BPF_MAX_BYTES];
                size_t len;
                int r = seccomp_read_bpf (seccomp_fd, bpf, &len);

                if (r == 0)
                        r = seccomp_load_bpf (bpf, len);
                if (r < 0) {
                        fprintf (stderr, "codeengine-init: seccomp filter: %s\n", strerror (-r));
                        return 127;
                }
                close (seccomp_fd);
        }
        switch (wait_for_go (&prog, &stdin_fd)) {
        case 0: return 0;
        case 1: break;
        default: fprintf (stderr, "codeengine-init: bad go message on fd 3\n"); return 127;
        }

        /* The program runs as our uid, so without this it could open
         * /proc/1/mem and rewrite us to report whatever it likes (a test does
         * exactly that).  Not dumpable, our /proc files belong to root and
         * need CAP_SYS_PTRACE, which nothing in here has.  Set before fork
         * so there is no window; the program gets the usual dumpable state
         * back at execve. */
        if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                fprintf (stderr, "codeengine-init: PR_SET_DUMPABLE: %s\n", strerror (errno));
                return 127;
        }
        child = fork ();
        if (child < 0) {
                fprintf (stderr, "codeengine-init: fork: %s\n", strerror (errno));
                return 127;
        }
        if (child == 0) {
                sigemptyset (&none);
                sigprocmask (SIG_SETMASK, &none, NULL);
                if (stdin_fd >= 0 && dup2 (stdin_fd, 0) < 0) {
                        fprintf (stderr, "codeengine-init: stdin: %s\n", strerror (errno));
                        _exit (127);
                }
                if (as.rlim_max != RLIM_INFINITY && setrlimit (RLIMIT_AS, &as) < 0) {
                        fprintf (stderr, "codeengine-init: RLIMIT_AS: %s\n", strerror (errno));
                        _exit (127);
                }
                execvp (prog[0], prog);
                fprintf (stderr, "codeengine-init: cannot run %s: %s\n", prog[0], strerror (errno));
                _exit (127);
        }
        if (stdin_fd >= 0)
                close (stdin_fd); /* the program's alone: its EOF is the writer's */

        for (;;) {
                pid = wait (&status);
                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid < 0)
                        return 127; /* cannot happen while the child lives */
                if (pid == child)
                        break;
        }
        {
                struct ce_init_report rep = { .wait_status = status };
                struct rusage ru;

                /* Reap what is already gone so that its usage counts too. */
                while (waitpid (-1, NULL, WNOHANG) > 0)
                        ;
                if (getrusage (RUSAGE_CHILDREN, &ru) == 0) {
                        rep.cpu_us = (int64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
                                     + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
                        rep.maxrss_kb = ru.ru_maxrss;
                }
                /* One small write: the socket takes it whole. */
                if (write (STATUS_FD, &rep, sizeof (rep)) != (ssize_t) sizeof (rep))
                        return 126;
                /* Keep the container, and so its cgroup, until the server has
                 * read the cgroup's counters: runc's systemd driver puts us in
                 * a scope that systemd removes, cgroup and all, as soon as its
                 * last process exits.  The server releases us by shutting its
                 * end of the socket down (EOF). */
                {
                        char c;

                        while (read (STATUS_FD, &c, 1) < 0 && errno == EINTR)
                                ;
                }
        }
        if (WIFEXITED (status))
                return WEXITSTATUS (status);
        return 128 + WTERMSIG (status);
}
