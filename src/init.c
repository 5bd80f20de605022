/*
 * init.c - codeengine-init, pid 1 of every container.
 *
 * Bind-mounted read-only from the host at /.codeengine/init and started by
 * runc with the program's argv.  Why not run the program as pid 1 directly:
 * a pid-namespace init ignores every signal it has no handler for (so a
 * program could not even kill itself), and nothing would reap the program's
 * orphans.  This init forks the program, reaps everything, and when the
 * program ends writes its exact wait status (an int) to fd 3 and exits;
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
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STATUS_FD 3

int
main (int argc, char **argv)
{
        sigset_t none;
        pid_t child, pid;
        int status;

        if (argc < 2) {
                fprintf (stderr, "usage: %s PROGRAM [ARG...]\n", argv[0]);
                return 127;
        }
        fcntl (STATUS_FD, F_SETFD, FD_CLOEXEC);

        child = fork ();
        if (child < 0) {
                fprintf (stderr, "codeengine-init: fork: %s\n", strerror (errno));
                return 127;
        }
        if (child == 0) {
                sigemptyset (&none);
                sigprocmask (SIG_SETMASK, &none, NULL);
                execvp (argv[1], argv + 1);
                fprintf (stderr, "codeengine-init: cannot run %s: %s\n", argv[1], strerror (errno));
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
        /* A short write is impossible on a pipe for 4 bytes. */
        if (write (STATUS_FD, &status, sizeof (status)) != (ssize_t) sizeof (status))
                return 126;
        if (WIFEXITED (status))
                return WEXITSTATUS (status);
        return 128 + WTERMSIG (status);
}
