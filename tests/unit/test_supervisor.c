/* Unit tests for supervisor.c (also run under ThreadSanitizer), with
 * codeengine-init as the child: output and exact exit status arrive through
 * the pipes, a timed wait expires on time, the output limit stops reading at
 * exactly the limit, and children are reaped. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "supervisor.h"
#include "test.h"

struct run {
        pid_t pid;
        struct sup_watch *w;
};

/* init's go message (init_report.h): the program, with stdin attached; then
 * our write side shut, so that init exits as soon as it has reported. */
static void
send_go (int fd, const char *script, int stdin_fd)
{
        char *const prog[] = { (char *) "/bin/sh", (char *) "-c", (char *) script, NULL };
        struct ce_init_go go;
        char *strings = NULL;
        union ce_init_go_ctl ctl;
        struct iovec iov[2];
        struct msghdr msg;

        CHECK (ce_init_go_pack (prog, stdin_fd, &go, &strings, iov, &ctl, &msg) == 0);
        CHECK (sendmsg (fd, &msg, MSG_NOSIGNAL) == (ssize_t) (sizeof (go) + go.argv_len));
        CHECK (shutdown (fd, SHUT_WR) == 0);
        free (strings);
}

static void
start (struct run *r, size_t max_output, const char *script)
{
        char *argv[] = { CE_INIT_BINARY, NULL };
        int out[2], er[2], st[2], devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
        struct ce_error err;

        CHECK (pipe2 (out, O_CLOEXEC) == 0 && pipe2 (er, O_CLOEXEC) == 0
               && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) == 0);
        CHECK (sup_spawn (argv, &(struct sup_stdio){ devnull, out[1], er[1], st[1], -1 }, &r->pid,
                          &err)
               == 0);
        close (out[1]);
        close (er[1]);
        close (st[1]);
        send_go (st[0], script, devnull);
        close (devnull);
        CHECK (sup_watch_new (&(struct sup_watch_fds){ out[0], er[0], st[0], -1 }, max_output,
                              &r->w, &err)
               == 0);
}

/* Outside a pid namespace nothing kills init's children with it: do it here,
 * as the kernel does for a container. */
static void
kill_tree (pid_t pid)
{
        char path[64], buf[256];
        FILE *f;

        snprintf (path, sizeof (path), "/proc/%d/task/%d/children", pid, pid);
        f = fopen (path, "re");
        if (f && fgets (buf, sizeof (buf), f))
                kill ((pid_t) atoi (buf), SIGKILL);
        if (f)
                fclose (f);
        kill (pid, SIGKILL);
}

static void
finish (struct run *r, struct sup_output *out, int *child_status)
{
        sup_watch_finish (r->w, out);
        CHECK (sup_wait_child (r->pid, NULL, child_status) == 0);
}

/* The go message both ways (init_report.h), without a container: what the
 * server packs, init unpacks, and init refuses what is malformed. */
static void
check_go_message (void)
{
        char *const argv[] = { (char *) "python3", (char *) "", (char *) "a b", NULL };
        char *const none[] = { NULL };
        struct ce_init_go go;
        char *strings = NULL, *out[4];
        union ce_init_go_ctl ctl;
        struct iovec iov[2];
        struct msghdr msg;
        int fd;

        CHECK (ce_init_go_pack (argv, 7, &go, &strings, iov, &ctl, &msg) == 0);
        CHECK (go.argc == 3 && go.argv_len == 13 && ce_init_go_check (&go) == 0);
        CHECK (iov[0].iov_len == sizeof (go) && iov[1].iov_len == go.argv_len);
        memcpy (&fd, CMSG_DATA (CMSG_FIRSTHDR (&msg)), sizeof (fd));
        CHECK (fd == 7);
        CHECK (ce_init_go_unpack (&go, strings, out) == 0);
        CHECK_STR (out[0], "python3");
        CHECK_STR (out[1], "");
        CHECK_STR (out[2], "a b");
        CHECK (out[3] == NULL);
        /* One string too many, one too few, no final NUL. */
        go.argc = 2;
        CHECK (ce_init_go_unpack (&go, strings, out) < 0);
        go.argc = 4;
        CHECK (ce_init_go_unpack (&go, strings, out) < 0);
        go.argc = 3;
        strings[go.argv_len - 1] = 'x';
        CHECK (ce_init_go_unpack (&go, strings, out) < 0);
        free (strings);
        go.magic = 0;
        CHECK (ce_init_go_check (&go) < 0);
        go = (struct ce_init_go){ CE_INIT_GO_MAGIC, 2, 1, 0 };
        CHECK (ce_init_go_check (&go) < 0); /* more strings than bytes */
        go = (struct ce_init_go){ CE_INIT_GO_MAGIC, 1, CE_INIT_GO_MAX_ARGV + 1, 0 };
        CHECK (ce_init_go_check (&go) < 0);
        CHECK (ce_init_go_pack (none, 0, &go, &strings, iov, &ctl, &msg) == -E2BIG);
}

int
main (void)
{
        struct sup_watch_state s;
        struct ce_error err;
        struct sup_output out;
        struct timespec deadline;
        struct run r;
        sigset_t mask;
        int status;

        sigemptyset (&mask);
        sigaddset (&mask, SIGCHLD);
        pthread_sigmask (SIG_BLOCK, &mask, NULL);
        check_go_message ();
        CHECK (supervisor_start (&err) == 0);

        /* Streams apart and together (in arrival order), and the exact exit code. */
        start (&r, 1 << 20, "echo out; sleep 0.05; echo err >&2; sleep 0.05; echo again; exit 3");
        deadline = ce_deadline_after_ms (10000);
        CHECK (sup_watch_wait (r.w, SUP_WAIT_EVENT, &deadline, &s) == 0);
        CHECK (s.has_status && ! s.output_limit);
        CHECK (sup_watch_wait (r.w, SUP_WAIT_DONE, &deadline, &s) == 0);
        CHECK (s.done && s.exited && s.has_status && ! s.output_limit);
        CHECK (WIFEXITED (s.wait_status) && WEXITSTATUS (s.wait_status) == 3);
        finish (&r, &out, &status);
        CHECK_STR (out.combined.data, "out\nerr\nagain\n");
        CHECK_STR (out.stdout_buf.data, "out\nagain\n");
        CHECK_STR (out.stderr_buf.data, "err\n");
        CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 3);
        sup_output_free (&out);

        /* A signal death is reported as such. */
        start (&r, 1 << 20, "kill -TERM $$");
        deadline = ce_deadline_after_ms (10000);
        CHECK (sup_watch_wait (r.w, SUP_WAIT_EVENT, &deadline, &s) == 0);
        CHECK (s.has_status && WIFSIGNALED (s.wait_status) && WTERMSIG (s.wait_status) == SIGTERM);
        finish (&r, NULL, &status);

        /* The timed wait expires; after a kill the watch completes without a status. */
        start (&r, 1 << 20, "echo started; exec sleep 30");
        deadline = ce_deadline_after_ms (300);
        CHECK (sup_watch_wait (r.w, SUP_WAIT_EVENT, &deadline, &s) == -ETIMEDOUT);
        CHECK (! s.done);
        CHECK (ce_ms_between (deadline, ce_now ()) >= 0);
        kill_tree (r.pid);
        deadline = ce_deadline_after_ms (10000);
        CHECK (sup_watch_wait (r.w, SUP_WAIT_EVENT, &deadline, &s) == 0);
        CHECK (s.done && ! s.has_status);
        finish (&r, &out, &status);
        CHECK_STR (out.combined.data, "started\n");
        CHECK (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
        sup_output_free (&out);

        /* Output limit over both streams: exactly max bytes kept, the writers block
         * until killed. */
        start (&r, 1000, "while :; do echo xxxxxxxxxxxxxxxxxxxxxxx; echo yyy >&2; done");
        deadline = ce_deadline_after_ms (10000);
        CHECK (sup_watch_wait (r.w, SUP_WAIT_EVENT, &deadline, &s) == 0);
        CHECK (s.output_limit && ! s.exited);
        kill_tree (r.pid);
        finish (&r, &out, &status);
        CHECK (out.combined.len == 1000);
        CHECK (out.stdout_buf.len + out.stderr_buf.len == 1000);
        sup_output_free (&out);

        /* init and its go message (init_report.h): a hang-up before it means
         * nothing to run (a warm container nobody needed: exit 0, no program);
         * a malformed one is refused (127); the fd sent along is the
         * program's stdin. */
        {
                char *argv[] = { CE_INIT_BINARY, NULL };
                int sv[2], devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
                pid_t pid;
                struct ce_init_go bad = { .magic = CE_INIT_GO_MAGIC, .argc = 2, .argv_len = 3 };

                CHECK (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
                CHECK (sup_spawn (argv, &(struct sup_stdio){ devnull, devnull, devnull, sv[1], -1 },
                                  &pid, &err)
                       == 0);
                close (sv[1]);
                close (sv[0]);
                CHECK (sup_wait_child (pid, NULL, &status) == 0);
                CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);

                CHECK (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
                CHECK (sup_spawn (argv, &(struct sup_stdio){ devnull, devnull, devnull, sv[1], -1 },
                                  &pid, &err)
                       == 0);
                close (sv[1]);
                /* argc 2 but one string, not NUL-terminated */
                CHECK (write (sv[0], &bad, sizeof (bad)) == (ssize_t) sizeof (bad));
                CHECK (write (sv[0], "a\0b", 3) == 3);
                CHECK (sup_wait_child (pid, NULL, &status) == 0);
                CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 127);
                close (sv[0]);
                close (devnull);
        }
        {
                int in[2];

                CHECK (pipe2 (in, O_CLOEXEC) == 0);
                CHECK (write (in[1], "from stdin\n", 11) == 11);
                close (in[1]);
                {
                        char *argv[] = { CE_INIT_BINARY, NULL };
                        int op[2], er[2], st[2], devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);

                        CHECK (pipe2 (op, O_CLOEXEC) == 0 && pipe2 (er, O_CLOEXEC) == 0
                               && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) == 0);
                        CHECK (sup_spawn (argv,
                                          &(struct sup_stdio){ devnull, op[1], er[1], st[1], -1 },
                                          &r.pid, &err)
                               == 0);
                        close (op[1]);
                        close (er[1]);
                        close (st[1]);
                        send_go (st[0], "cat", in[0]);
                        close (in[0]);
                        close (devnull);
                        CHECK (sup_watch_new (&(struct sup_watch_fds){ op[0], er[0], st[0], -1 },
                                              1 << 20, &r.w, &err)
                               == 0);
                }
                deadline = ce_deadline_after_ms (10000);
                CHECK (sup_watch_wait (r.w, SUP_WAIT_DONE, &deadline, &s) == 0);
                finish (&r, &out, &status);
                CHECK_STR (out.stdout_buf.data, "from stdin\n");
                CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
                sup_output_free (&out);
        }

        /* sup_run_capture collects stdout and the status. */
        {
                char *argv[] = { "/bin/sh", "-c", "echo captured; exit 4", NULL };
                char *text = NULL;

                CHECK (sup_run_capture (argv, 100, &text, &status, &err) == 0);
                CHECK_STR (text, "captured\n");
                CHECK (WEXITSTATUS (status) == 4);
                free (text);
        }
        supervisor_stop ();
        TEST_DONE ();
}
