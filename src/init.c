/*
 * init.c - codeengine-init, pid 1 of every container.
 *
 * Bind-mounted read-only from the host at /.codeengine/init and started by
 * runc with the program's argv.  Why not run the program as pid 1 directly:
 * a pid-namespace init ignores every signal it has no handler for (so a
 * program could not even kill itself), and nothing would reap the program's
 * orphans.  This init forks the program, reaps everything, and when the
 * program ends writes its exact wait status and resource usage (struct
 * ce_init_report) to fd 3 and exits;
 * the kernel then kills whatever is left in the namespace.
 *
 * fd 3 is close-on-exec, so the program can neither forge the status nor
 * keep the pipe open.  Built static and without sanitizers: it runs inside
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
#include <sys/wait.h>
#include <unistd.h>

#include "init_report.h"

#define STATUS_FD CE_INIT_REPORT_FD

int
main (int argc, char **argv)
{
        sigset_t none;
        pid_t child, pid;
        int status;

        struct rlimit as = { RLIM_INFINITY, RLIM_INFINITY };
        int first = 1;

        /* The start-up probe (execution_probe): this binary is in every
         * container, so running it as the program proves the runtime, the
         * mounts, the limits and the tree without any language in it. */
        if (argc == 2 && strcmp (argv[1], "--probe") == 0) {
                fputs ("codeengine-init: probe ok\n", stdout);
                return 0;
        }
        /* "--as BYTES": an address-space limit for the program only.  It cannot
         * go in config.json's rlimits, which runc applies to itself first (its
         * Go runtime needs far more address space than a program's limit). */
        if (argc > 3 && strcmp (argv[1], "--as") == 0) {
                as.rlim_cur = as.rlim_max = strtoull (argv[2], NULL, 10);
                first = 3;
        }
        if (argc > first && strcmp (argv[first], "--") == 0)
                first++;
        if (argc <= first) {
                fprintf (stderr, "usage: %s [--as BYTES] [--] PROGRAM [ARG...]\n", argv[0]);
                return 127;
        }
        fcntl (STATUS_FD, F_SETFD, FD_CLOEXEC);

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
                if (as.rlim_max != RLIM_INFINITY && setrlimit (RLIMIT_AS, &as) < 0) {
                        fprintf (stderr, "codeengine-init: RLIMIT_AS: %s\n", strerror (errno));
                        _exit (127);
                }
                execvp (argv[first], argv + first);
                fprintf (stderr, "codeengine-init: cannot run %s: %s\n", argv[first],
                         strerror (errno));
                _exit (127);
        }

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
                /* One write under PIPE_BUF bytes: atomic on a pipe. */
                if (write (STATUS_FD, &rep, sizeof (rep)) != (ssize_t) sizeof (rep))
                        return 126;
                /* Keep the container, and so its cgroup, until the server has
                 * read the cgroup's counters: runc's systemd driver puts us in
                 * a scope that systemd removes, cgroup and all, as soon as its
                 * last process exits.  The server releases us by shutting its
                 * end of the socket down (EOF); on a pipe read fails at once. */
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
