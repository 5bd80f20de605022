/*
 * supervisor.c - reaping and pipe draining for the whole server.
 *
 * Design.  One thread runs an epoll loop over:
 *   - a signalfd for SIGCHLD: every child is reaped here with
 *     waitpid(-1, WNOHANG).  Registered children (runc invocations) get their
 *     status recorded; unregistered ones (container inits, which the kernel
 *     re-parents to us because we are a subreaper) are reaped and dropped -
 *     their program's status arrives over the status socket instead;
 *   - an eventfd that workers poke when they want a watch removed or the
 *     thread to stop;
 *   - the output pipes and the status socket of each running container.
 *
 * Workers wait on condition variables created with CLOCK_MONOTONIC and loop
 * on their predicate.  A watch is removed only by this thread, at a point
 * where no epoll event for it is being handled, so a worker never frees a
 * watch that an event still points to.
 *
 * Registration race: sup_spawn holds `lock` across posix_spawn and the
 * registration, so by the time this thread can look the pid up (it takes
 * `lock` after waitpid), the entry is there.
 */
#include "supervisor.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

struct sup_child {
        pid_t pid;
        bool exited;
        bool forgotten;
        int status;
        struct rusage ru; /* of the child and every descendant it reaped */
        struct sup_child *next;
};

enum pipe_kind { PIPE_STDOUT, PIPE_STDERR, PIPE_STATUS, PIPE_CLIENT };

struct sup_pipe {
        struct sup_watch *w;
        enum pipe_kind kind;
        int fd; /* -1 once closed */
};

struct sup_watch {
        struct sup_pipe out, err, status;
        struct sup_pipe client; /* a dup of the client's socket, or fd -1 */
        size_t max_output;
        struct sup_output_tap tap; /* live output, if someone listens */
        bool out_stopped;          /* output limit reached: out and err no longer polled */
        struct ce_buf output;      /* both streams, in the order they were read */
        struct ce_buf streams[2];  /* stdout, stderr */
        char status_buf[sizeof (struct ce_init_report)];
        size_t status_len;
        struct sup_watch_state state;
        bool detach_requested;
        bool detached;
        pthread_cond_t cond; /* signalled on any change of state or detached */
        struct sup_watch *prev, *next;
};

/* The token epoll hands back for the signalfd and the eventfd. */
static struct sup_pipe sigchld_token, wake_token;

/* `lock` guards everything below it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t child_cond; /* signalled when a registered child exits */
static struct sup_child *children;
static struct sup_watch *watches;
static bool stopping;
static bool have_shutdown_deadline;
static struct timespec shutdown_deadline;

static int epfd = -1, sigfd = -1, wakefd = -1;
static pthread_t thread;
static bool running;

static void
wake (void)
{
        /* Can only fail if the counter is saturated, which still wakes us. */
        (void) eventfd_write (wakefd, 1);
}

/* The earlier of the caller's deadline and the shutdown deadline.  Called
 * with lock held.  Returns false when there is no deadline at all. */
static bool
effective_deadline (const struct timespec *deadline, bool honour_shutdown, struct timespec *out,
                    bool *is_shutdown)
{
        *is_shutdown = false;
        if (honour_shutdown && have_shutdown_deadline
            && (deadline == NULL || ce_time_before (shutdown_deadline, *deadline))) {
                *out = shutdown_deadline;
                *is_shutdown = true;
                return true;
        }
        if (deadline == NULL)
                return false;
        *out = *deadline;
        return true;
}

/* One timed wait on c; returns 0, -ETIMEDOUT or -ECANCELED.  Lock held.
 * Only a program's run honours the shutdown deadline: waits for runc itself
 * (kill, delete) must go on so that clean-up completes. */
static int
timed_wait (pthread_cond_t *c, const struct timespec *deadline, bool honour_shutdown)
{
        struct timespec when;
        bool is_shutdown;
        int ret;

        if (! effective_deadline (deadline, honour_shutdown, &when, &is_shutdown)) {
                ret = pthread_cond_wait (c, &lock);
                return ret ? -ret : 0;
        }
        ret = pthread_cond_timedwait (c, &lock, &when);
        if (ret == ETIMEDOUT || ! ce_time_before (ce_now (), when))
                return is_shutdown ? -ECANCELED : -ETIMEDOUT;
        return ret ? -ret : 0;
}

void
supervisor_set_shutdown_deadline (struct timespec deadline)
{
        pthread_mutex_lock (&lock);
        have_shutdown_deadline = true;
        shutdown_deadline = deadline;
        pthread_cond_broadcast (&child_cond);
        for (struct sup_watch *w = watches; w; w = w->next)
                pthread_cond_broadcast (&w->cond);
        pthread_mutex_unlock (&lock);
}

static void
reap_children (void)
{
        struct signalfd_siginfo si;
        pid_t pid;
        int status;

        while (read (sigfd, &si, sizeof (si)) == sizeof (si))
                ;
        struct rusage ru;

        while ((pid = wait4 (-1, &status, WNOHANG, &ru)) > 0) {
                struct sup_child **pp;

                pthread_mutex_lock (&lock);
                for (pp = &children; *pp; pp = &(*pp)->next)
                        if ((*pp)->pid == pid)
                                break;
                if (*pp && (*pp)->forgotten) {
                        struct sup_child *c = *pp;

                        *pp = c->next;
                        free (c);
                } else if (*pp) {
                        (*pp)->exited = true;
                        (*pp)->status = status;
                        (*pp)->ru = ru;
                        pthread_cond_broadcast (&child_cond);
                }
                pthread_mutex_unlock (&lock);
        }
}

static void
pipe_close (struct sup_pipe *p)
{
        if (p->fd >= 0) {
                /* ENOENT when already removed at the output limit: harmless. */
                epoll_ctl (epfd, EPOLL_CTL_DEL, p->fd, NULL);
                close (p->fd);
                p->fd = -1;
        }
}

/* Read what is available on one pipe. Lock held. */
static void
drain_pipe (struct sup_pipe *p)
{
        struct sup_watch *w = p->w;
        char chunk[65536];

        for (;;) {
                ssize_t n = read (p->fd, chunk, sizeof (chunk));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) {
                        if (p->kind == PIPE_STATUS) {
                                w->state.exited = true;
                                if (! w->state.has_status)
                                        w->state.exited_at = ce_now ();
                        }
                        pipe_close (p);
                        break;
                }
                if (p->kind == PIPE_STATUS) {
                        size_t room = sizeof (w->status_buf) - w->status_len;
                        size_t take = (size_t) n < room ? (size_t) n : room;

                        memcpy (w->status_buf + w->status_len, chunk, take);
                        w->status_len += take;
                        if (w->status_len == sizeof (w->status_buf) && ! w->state.has_status) {
                                /* init now waits, holding the cgroup, to be released. */
                                w->state.has_status = true;
                                w->state.exited_at = ce_now ();
                                memcpy (&w->state.report, w->status_buf, sizeof (w->state.report));
                                w->state.wait_status = w->state.report.wait_status;
                                /* The EAGAIN return below skips the broadcast. */
                                pthread_cond_broadcast (&w->cond);
                        }
                        continue;
                }
                {
                        struct ce_buf *stream = &w->streams[p->kind == PIPE_STDERR];
                        size_t keep = (size_t) n;

                        if (w->output.len + keep > w->max_output) {
                                keep = w->max_output - w->output.len;
                                w->state.output_limit = true;
                        }
                        if (ce_buf_append (&w->output, chunk, keep) < 0
                            || ce_buf_append (stream, chunk, keep) < 0)
                                w->state.output_limit = true;
                        else if (w->tap.fn && keep > 0)
                                w->tap.fn (w->tap.arg, p->kind == PIPE_STDERR ? 2 : 1, chunk, keep);
                }
                if (w->state.output_limit) {
                        /* Keep exactly max_output bytes and stop reading, but keep the
                         * pipes open: the program blocks in write() until the worker
                         * kills it, rather than dying of EPIPE first. */
                        w->out_stopped = true;
                        if (w->out.fd >= 0)
                                epoll_ctl (epfd, EPOLL_CTL_DEL, w->out.fd, NULL);
                        if (w->err.fd >= 0)
                                epoll_ctl (epfd, EPOLL_CTL_DEL, w->err.fd, NULL);
                        break;
                }
        }
        w->state.done = ((w->out.fd < 0 && w->err.fd < 0) || w->out_stopped) && w->status.fd < 0;
        pthread_cond_broadcast (&w->cond);
}

/* The client's socket saw its peer close (EPOLLRDHUP, as Go's HTTP server
 * cancels a request's context) or an error.  Lock held. */
static void
client_hung_up (struct sup_pipe *p)
{
        p->w->state.client_gone = true;
        pipe_close (p); /* level-triggered: stop the event repeating */
        pthread_cond_broadcast (&p->w->cond);
}

static void
handle_detach_requests (void)
{
        struct sup_watch *w, *next;

        for (w = watches; w; w = next) {
                next = w->next;
                if (! w->detach_requested)
                        continue;
                pipe_close (&w->out);
                pipe_close (&w->err);
                pipe_close (&w->status);
                pipe_close (&w->client);
                if (w->prev)
                        w->prev->next = w->next;
                else
                        watches = w->next;
                if (w->next)
                        w->next->prev = w->prev;
                w->detached = true;
                pthread_cond_broadcast (&w->cond);
        }
}

static void *
supervisor_main (void *arg)
{
        (void) arg;
        for (;;) {
                struct epoll_event ev[32];
                int n = epoll_wait (epfd, ev, 32, -1);
                bool stop;

                if (n < 0 && errno != EINTR)
                        ce_log ("supervisor: epoll_wait: %s", strerror (errno));
                for (int i = 0; i < n; i++) {
                        struct sup_pipe *p = ev[i].data.ptr;

                        if (p == &sigchld_token) {
                                reap_children ();
                        } else if (p == &wake_token) {
                                eventfd_t v;

                                /* Only resets the counter; the work is below. */
                                (void) eventfd_read (wakefd, &v);
                        } else {
                                pthread_mutex_lock (&lock);
                                /* An earlier event in this batch may have closed or
                                 * stopped this pipe. */
                                if (p->kind == PIPE_CLIENT && p->fd >= 0)
                                        client_hung_up (p);
                                else if (p->fd >= 0
                                         && ! (p->kind != PIPE_STATUS && p->w->out_stopped))
                                        drain_pipe (p);
                                pthread_mutex_unlock (&lock);
                        }
                }
                pthread_mutex_lock (&lock);
                handle_detach_requests ();
                stop = stopping;
                pthread_mutex_unlock (&lock);
                if (stop)
                        return NULL;
        }
}

static int
epoll_add_events (int fd, void *token, uint32_t events)
{
        struct epoll_event ev = { .events = events, .data.ptr = token };

        return epoll_ctl (epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int
epoll_add (int fd, void *token)
{
        return epoll_add_events (fd, token, EPOLLIN);
}

int
supervisor_start (struct ce_error *err)
{
        sigset_t mask;
        int ret;

        ret = ce_cond_init_monotonic (&child_cond);
        if (ret)
                return ce_fail (err, ret, "pthread_cond_init: %s", strerror (ret));
        sigemptyset (&mask);
        sigaddset (&mask, SIGCHLD);
        sigfd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        wakefd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
        epfd = epoll_create1 (EPOLL_CLOEXEC);
        if (sigfd < 0 || wakefd < 0 || epfd < 0 || epoll_add (sigfd, &sigchld_token) < 0
            || epoll_add (wakefd, &wake_token) < 0)
                return ce_fail (err, errno, "signalfd, eventfd or epoll: %s", strerror (errno));
        ret = pthread_create (&thread, NULL, supervisor_main, NULL);
        if (ret)
                return ce_fail (err, ret, "pthread_create: %s", strerror (ret));
        ce_thread_name (thread, "ce-supervisor");
        running = true;
        /* Children may have exited before the signalfd existed. */
        wake ();
        return 0;
}

void
supervisor_stop (void)
{
        if (! running)
                return;
        pthread_mutex_lock (&lock);
        stopping = true;
        pthread_mutex_unlock (&lock);
        wake ();
        pthread_join (thread, NULL);
        running = false;
        close (epfd);
        close (sigfd);
        close (wakefd);
        epfd = sigfd = wakefd = -1;
        while (children) {
                struct sup_child *c = children;

                children = c->next;
                free (c);
        }
        pthread_cond_destroy (&child_cond);
}

int
sup_spawn (char *const argv[], const struct sup_stdio *io, pid_t *pid, struct ce_error *err)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        struct sup_child *c;
        sigset_t empty, all;
        int ret;

        c = calloc (1, sizeof (*c));
        if (c == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        sigemptyset (&empty);
        sigfillset (&all);
        posix_spawnattr_init (&attr);
        posix_spawnattr_setsigmask (&attr, &empty);
        posix_spawnattr_setsigdefault (&attr, &all);
        posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        /* In this order, so that a source fd that happens to be 3 is copied
         * before fd 3 is replaced. */
        posix_spawn_file_actions_init (&fa);
        posix_spawn_file_actions_adddup2 (&fa, io->in, 0);
        posix_spawn_file_actions_adddup2 (&fa, io->out, 1);
        posix_spawn_file_actions_adddup2 (&fa, io->err, 2);
        if (io->extra >= 0)
                posix_spawn_file_actions_adddup2 (&fa, io->extra, 3);
        if (io->extra2 >= 0)
                posix_spawn_file_actions_adddup2 (&fa, io->extra2, 4);

        pthread_mutex_lock (&lock);
        ret = posix_spawnp (pid, argv[0], &fa, &attr, argv, environ);
        if (ret == 0) {
                c->pid = *pid;
                c->next = children;
                children = c;
                c = NULL; /* owned by the children list */
        }
        pthread_mutex_unlock (&lock);

        posix_spawn_file_actions_destroy (&fa);
        posix_spawnattr_destroy (&attr);
        free (c);
        if (ret)
                return ce_fail (err, ret, "cannot run %s: %s", argv[0], strerror (ret));
        return 0;
}

static struct sup_child **
find_child (pid_t pid)
{
        struct sup_child **pp;

        for (pp = &children; *pp; pp = &(*pp)->next)
                if ((*pp)->pid == pid)
                        return pp;
        return NULL;
}

int
sup_adopt_child (pid_t pid)
{
        siginfo_t si = { 0 };
        struct sup_child *c;
        int ret = 0;

        pthread_mutex_lock (&lock);
        /* Ours and not yet reaped (WNOWAIT leaves it for the reaper), and not
         * somebody's registered runc. */
        if (find_child (pid) != NULL)
                ret = -EEXIST;
        else if (waitid (P_PID, (id_t) pid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT) < 0)
                ret = -errno;
        else if ((c = calloc (1, sizeof (*c))) == NULL)
                ret = -ENOMEM;
        else {
                c->pid = pid;
                c->next = children;
                children = c;
        }
        pthread_mutex_unlock (&lock);
        return ret;
}

int
sup_wait_child_usage (pid_t pid, const struct timespec *deadline, int *status, struct rusage *ru)
{
        struct sup_child **pp, *c;
        int ret = 0;

        pthread_mutex_lock (&lock);
        for (;;) {
                pp = find_child (pid);
                if (pp == NULL) {
                        ret = -ECHILD;
                        break;
                }
                if ((*pp)->exited) {
                        c = *pp;
                        *pp = c->next;
                        *status = c->status;
                        if (ru)
                                *ru = c->ru;
                        free (c);
                        ret = 0;
                        break;
                }
                ret = timed_wait (&child_cond, deadline, false);
                if (ret == -ETIMEDOUT || ret == -ECANCELED)
                        break;
        }
        pthread_mutex_unlock (&lock);
        return ret;
}

int
sup_wait_child (pid_t pid, const struct timespec *deadline, int *status)
{
        return sup_wait_child_usage (pid, deadline, status, NULL);
}

void
sup_forget_child (pid_t pid)
{
        struct sup_child **pp;

        pthread_mutex_lock (&lock);
        pp = find_child (pid);
        if (pp && (*pp)->exited) {
                struct sup_child *c = *pp;

                *pp = c->next;
                free (c);
        } else if (pp) {
                (*pp)->forgotten = true;
        }
        pthread_mutex_unlock (&lock);
}

int
sup_run_capture (char *const argv[], size_t max, char **out, int *status, struct ce_error *err)
{
        cleanup_close int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
        cleanup_close int rd = -1;
        cleanup_close int wr = -1;
        struct ce_buf b = { 0 };
        char chunk[4096];
        int fds[2];
        pid_t pid;
        ssize_t n;
        int ret;

        if (devnull < 0 || pipe2 (fds, O_CLOEXEC) < 0)
                return ce_fail (err, errno, "pipe: %s", strerror (errno));
        rd = fds[0];
        wr = fds[1];
        ret = sup_spawn (argv, &(struct sup_stdio){ devnull, wr, devnull, -1, -1 }, &pid, err);
        if (ret < 0)
                return ret;
        close (steal_fd (&wr));
        while ((n = read (rd, chunk, sizeof (chunk))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                if (b.len + (size_t) n <= max)
                        ce_buf_append (&b, chunk, (size_t) n);
        }
        ret = sup_wait_child (pid, NULL, status);
        if (ret < 0) {
                ce_buf_free (&b);
                return ce_fail (err, -ret, "waiting for %s: %s", argv[0], strerror (-ret));
        }
        if (b.data == NULL)
                ce_buf_append (&b, "", 0);
        *out = b.data;
        return 0;
}

int
sup_watch_new (const struct sup_watch_fds *fds, size_t max_output, struct sup_watch **out,
               struct ce_error *err)
{
        struct sup_watch *w = calloc (1, sizeof (*w));
        int ret;

        if (w == NULL) {
                close (fds->out);
                close (fds->err);
                close (fds->status);
                return ce_fail (err, ENOMEM, "out of memory");
        }
        w->out = (struct sup_pipe){ w, PIPE_STDOUT, fds->out };
        w->err = (struct sup_pipe){ w, PIPE_STDERR, fds->err };
        w->status = (struct sup_pipe){ w, PIPE_STATUS, fds->status };
        /* Our own dup: the socket stays valid to watch whatever the HTTP side does. */
        w->client = (struct sup_pipe){ w, PIPE_CLIENT,
                                       fds->client >= 0 ? fcntl (fds->client, F_DUPFD_CLOEXEC, 3)
                                                        : -1 };
        w->max_output = max_output;
        fcntl (fds->out, F_SETFL, O_NONBLOCK);
        fcntl (fds->err, F_SETFL, O_NONBLOCK);
        fcntl (fds->status, F_SETFL, O_NONBLOCK);
        ret = ce_cond_init_monotonic (&w->cond);
        if (ret) {
                close (fds->out);
                close (fds->err);
                close (fds->status);
                if (w->client.fd >= 0)
                        close (w->client.fd);
                free (w);
                return ce_fail (err, ret, "pthread_cond_init: %s", strerror (ret));
        }
        pthread_mutex_lock (&lock);
        if (epoll_add (fds->out, &w->out) < 0 || epoll_add (fds->err, &w->err) < 0
            || epoll_add (fds->status, &w->status) < 0
            || (w->client.fd >= 0 && epoll_add_events (w->client.fd, &w->client, EPOLLRDHUP) < 0)) {
                ret = errno;
                pipe_close (&w->out);
                pipe_close (&w->err);
                pipe_close (&w->status);
                pipe_close (&w->client);
                pthread_mutex_unlock (&lock);
                pthread_cond_destroy (&w->cond);
                free (w);
                return ce_fail (err, ret, "epoll_ctl: %s", strerror (ret));
        }
        w->next = watches;
        if (watches)
                watches->prev = w;
        watches = w;
        pthread_mutex_unlock (&lock);
        *out = w;
        return 0;
}

void
sup_watch_set_tap (struct sup_watch *w, const struct sup_output_tap *tap)
{
        pthread_mutex_lock (&lock);
        w->tap = *tap;
        pthread_mutex_unlock (&lock);
}

static bool
watch_settled (const struct sup_watch *w, enum sup_wait_for what)
{
        if (what == SUP_WAIT_DONE)
                return w->state.done;
        return w->state.done || w->state.has_status || w->state.output_limit
               || w->state.client_gone;
}

int
sup_watch_wait (struct sup_watch *w, enum sup_wait_for what, const struct timespec *deadline,
                struct sup_watch_state *state)
{
        int ret = 0;

        pthread_mutex_lock (&lock);
        while (! watch_settled (w, what)) {
                /* Once the container is being killed, shutdown must not cut the wait. */
                ret = timed_wait (&w->cond, deadline, what == SUP_WAIT_EVENT);
                if (ret == -ETIMEDOUT || ret == -ECANCELED)
                        break;
        }
        if (watch_settled (w, what))
                ret = 0;
        *state = w->state;
        pthread_mutex_unlock (&lock);
        return ret;
}

void
sup_watch_finish (struct sup_watch *w, struct sup_output *out)
{
        pthread_mutex_lock (&lock);
        w->detach_requested = true;
        wake ();
        while (! w->detached)
                pthread_cond_wait (&w->cond, &lock);
        pthread_mutex_unlock (&lock);
        pthread_cond_destroy (&w->cond);
        if (out) {
                out->combined = w->output;
                out->stdout_buf = w->streams[0];
                out->stderr_buf = w->streams[1];
        } else {
                ce_buf_free (&w->output);
                ce_buf_free (&w->streams[0]);
                ce_buf_free (&w->streams[1]);
        }
        free (w);
}

void
sup_output_free (struct sup_output *o)
{
        ce_buf_free (&o->combined);
        ce_buf_free (&o->stdout_buf);
        ce_buf_free (&o->stderr_buf);
}
