/*
 * supervisor.h - the one thread that listens to the kernel for everyone.
 *
 * It reaps every child of the server (which is a child subreaper, so the
 * init of every detached container becomes its child too) and drains the
 * output pipes and status socket of every running container.  Workers never block
 * in waitpid or read: they block in pthread_cond_timedwait on CLOCK_MONOTONIC
 * with absolute deadlines, and this thread signals them.
 *
 * SIGCHLD must be blocked in every thread before supervisor_start.
 */
#ifndef CE_SUPERVISOR_H
#define CE_SUPERVISOR_H

#include <sys/resource.h>
#include <sys/types.h>

#include "common.h"
#include "init_report.h"

int supervisor_start (struct ce_error *err);
/* Stop the thread.  Call after every watch is freed and no child is awaited. */
void supervisor_stop (void);

/* From now on sup_watch_wait (SUP_WAIT_EVENT) returns -ECANCELED once `deadline` has passed,
 * whatever its own deadline: this bounds a graceful shutdown.  Waits for
 * children are not affected, so clean-up still completes. */
void supervisor_set_shutdown_deadline (struct timespec deadline);

struct sup_stdio {
        int in, out, err; /* become fds 0, 1, 2 of the child */
        int extra;        /* becomes fd 3 if >= 0 */
        int extra2;       /* becomes fd 4 if >= 0; must be above 4 (0-3 are replaced first) */
};

/* posix_spawnp argv with the given stdio, default signal dispositions and an
 * empty signal mask.  The child is registered: its exit must be collected
 * with sup_wait_child (or dropped with sup_forget_child). */
int sup_spawn (char *const argv[], const struct sup_stdio *io, pid_t *pid, struct ce_error *err);

/* Wait for a spawned child until deadline (NULL: no deadline).  Returns 0 with
 * *status a wait status, or -ETIMEDOUT (the child stays registered).  On 0 the child is forgotten.
 */
int sup_wait_child (pid_t pid, const struct timespec *deadline, int *status);

/* The same, also giving the child's rusage (its own and its reaped
 * descendants'), as wait4 reports it. */
int sup_wait_child_usage (pid_t pid, const struct timespec *deadline, int *status,
                          struct rusage *ru);

/* Register a child we did not spawn - a container's init, re-parented to us
 * when runc exits - so that its exit is kept for sup_wait_child_usage.
 * -ECHILD when it is not (or no longer) an unreaped child of ours. */
int sup_adopt_child (pid_t pid);

/* Stop caring about a child: its status is dropped when it exits. */
void sup_forget_child (pid_t pid);

/* Run argv to completion, capturing stdout (at most max bytes) into *out. */
int sup_run_capture (char *const argv[], size_t max, char **out, int *status, struct ce_error *err);

/* The pipes of one container. */
struct sup_watch;

struct sup_watch_state {
        bool done;         /* init exited and the output pipe reached EOF */
        bool exited;       /* init exited (status socket closed) */
        bool output_limit; /* output passed the limit: kill the container */
        bool client_gone;  /* the client hung up: kill the container */
        bool has_status;   /* init reported the program's wait status and usage; it
                            * then waits, holding the cgroup, for the runner to shut
                            * the status socket down before it exits */
        int wait_status;   /* report.wait_status, for short */
        struct ce_init_report report;
        struct timespec exited_at; /* when init reported (or, without a report, exited) */
};

/* Live output: called on the supervisor thread, with its lock held, for
 * every piece of output as it is kept (stream 1 or 2; never past the output
 * limit).  It must not block or call back into the supervisor: it copies
 * what it needs and returns (sink.h says how the transports bound it). */
struct sup_output_tap {
        void (*fn) (void *arg, int stream, const char *data, size_t len);
        void *arg;
};

struct sup_watch_fds {
        int out, err; /* read ends of the container's stdout and stderr */
        int status;   /* where codeengine-init writes the program's wait status */
        int client;   /* the client's socket, or -1: borrowed, watched for hang-up only */
};

/* Start draining a container's pipes.  Takes the fds, even on failure.
 * Output past max_output bytes (both streams together) is not read. */
int sup_watch_new (const struct sup_watch_fds *fds, size_t max_output, struct sup_watch **out,
                   struct ce_error *err);

/* Listen to w's output live from now on (before the container starts, so
 * that nothing is missed); tap->fn NULL stops it. */
void sup_watch_set_tap (struct sup_watch *w, const struct sup_output_tap *tap);

enum sup_wait_for {
        SUP_WAIT_EVENT, /* done, output limit or client gone: something to act on */
        SUP_WAIT_DONE,  /* done only: after a kill, for the pipes to close */
};

/* Block until `what` happened (0), the deadline passed (-ETIMEDOUT) or, for
 * SUP_WAIT_EVENT only, the shutdown deadline passed (-ECANCELED).  *state is
 * filled in every case. */
int sup_watch_wait (struct sup_watch *w, enum sup_wait_for what, const struct timespec *deadline,
                    struct sup_watch_state *state);

struct sup_output {
        struct ce_buf combined;   /* both streams, in the order they were read */
        struct ce_buf stdout_buf; /* each stream alone */
        struct ce_buf stderr_buf;
};

/* Stop watching (closing the pipes), hand over the output collected so far
 * (the caller frees it with sup_output_free) and free w.  Safe at any point. */
void sup_watch_finish (struct sup_watch *w, struct sup_output *out);
void sup_output_free (struct sup_output *o);

#endif
