/*
 * execution.c - run a plan's stages, one container each, in a slot.
 *
 * Runs on a pool worker.  A slot (slot.h) comes from the warm pool when one
 * fits, else is made here; the request's files go into it only now.  The
 * run starts only if the compile succeeded, in its own container, which
 * sees nothing of the compiler's but /build.
 */
#include "execution.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "oci_spec.h"
#include "slot.h"
#include "warm.h"

/* A result whose output took more than this gives memory back when freed. */
#define TRIM_AFTER_BYTES (1024 * 1024)

/* Bytes a result's output buffers hold. */
static size_t
result_bytes (const struct runner_result *r)
{
        return r->out.combined.cap + r->out.stdout_buf.cap + r->out.stderr_buf.cap;
}

void
execution_result_clear (struct exec_result *res)
{
        bool big = result_bytes (&res->compile) + result_bytes (&res->run) > TRIM_AFTER_BYTES;

        runner_result_clear (&res->compile);
        runner_result_clear (&res->run);
        memset (res, 0, sizeof (*res));
        if (big)
                ce_memory_trim ();
}

/* A compile that did not succeed stands in for the run: nothing ran, so no
 * output and no usage, and the compiler's exit. */
static void
compile_failed (struct exec_result *res)
{
        struct runner_result *c = &res->compile;

        if (c->status == RUN_RUNTIME_ERROR)
                c->status = RUN_COMPILE_ERROR;
        res->status = c->status == RUN_CLIENT_GONE ? RUN_CLIENT_GONE : RUN_COMPILE_ERROR;
        res->run = (struct runner_result){
                .status = res->status,
                .exit_code = c->exit_code,
                .signal = c->signal,
                .wall_ms = 0,
                .cpu_ms = -1,
                .memory_kb = -1,
        };
}

/* Whether the client's socket (-1: none) has seen its peer go, now. */
static bool
client_hung_up (int fd)
{
        struct pollfd p = { fd, POLLRDHUP, 0 };

        return fd >= 0 && poll (&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

int
execution_run (const struct runner_config *cfg, struct warm_pool *warm,
               const struct exec_plan *plan, const struct ce_request *req, int client_fd,
               const struct exec_sink *sink, const struct exec_done *done, struct exec_result *res,
               struct ce_error *err)
{
        const struct ce_language *lang = plan->lang;
        bool compiles = lang->compile.command != NULL;
        struct exec_slot *s = NULL;
        char **compile_argv = NULL, **run_argv = NULL;
        int stdin_fd = -1, devnull = -1;
        int ret;

        memset (res, 0, sizeof (*res));
        /* A job that waited in the queue for a client that has gone since:
         * nobody to answer, so no container either. */
        if (client_hung_up (client_fd)) {
                res->run.status = res->status = RUN_CLIENT_GONE;
                res->run.cpu_ms = res->run.memory_kb = -1;
                ret = 0;
                goto out;
        }
        /* A warm slot when one fits, else one made now; either way a work dir
         * and containers nobody else has seen. */
        if (warm)
                s = warm_take (warm, plan);
        if (s && slot_adjust (cfg, s, plan, err) < 0) {
                ce_log ("warning: %s: %s; making new containers", slot_id (s), err->msg);
                slot_discard (cfg, s);
                s = NULL;
        }
        ret = s ? 0 : slot_prepare (cfg, plan, NULL, false, &s, err);
        if (ret < 0) {
                ce_error_wrap (err, "preparing the %s stage", compiles ? "compile" : "run");
                goto out;
        }
        ret = slot_write_request (s, req, &stdin_fd, err);
        if (ret < 0)
                goto out;

        if (compiles) {
                struct runner_go go = { .limits = &plan->compile_limits };

                compile_argv = plan_argv (lang, &lang->compile, req, false);
                go.argv = compile_argv;
                devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
                if (compile_argv == NULL || devnull < 0) {
                        ret = ce_fail (err, ENOMEM, "cannot set up the compile stage");
                        goto out;
                }
                go.stdin_fd = devnull;
                if (sink) {
                        go.tap = (struct sup_output_tap){ sink->output, sink->arg };
                        sink->stage_start (sink->arg, EXEC_STAGE_COMPILE);
                }
                ret = runner_start (cfg, slot_container (s, true), &go, client_fd, &res->compile,
                                    err);
                if (ret < 0) {
                        ce_error_wrap (err, "compile stage");
                        goto out;
                }
                res->compiled = true;
                if (sink)
                        sink->stage_end (sink->arg, EXEC_STAGE_COMPILE, &res->compile);
                if (res->compile.status != RUN_OK) {
                        compile_failed (res);
                        goto out;
                }
        }

        {
                struct runner_go go = { .limits = &plan->run_limits };

                run_argv = plan_argv (lang, &lang->run, req, true);
                go.argv = run_argv;
                if (run_argv == NULL) {
                        ret = ce_fail (err, ENOMEM, "out of memory");
                        goto out;
                }
                if (slot_container (s, false) == NULL) {
                        ret = slot_create_run (cfg, s, err);
                        if (ret < 0) {
                                ce_error_wrap (err, "preparing the run stage");
                                goto out;
                        }
                }
                go.stdin_fd = stdin_fd;
                if (sink && sink->stdin_open) {
                        /* Live stdin: the program reads one end, the sink writes the other. */
                        int sv[2];

                        if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                                ret = ce_fail (err, errno, "socketpair: %s", strerror (errno));
                                goto out;
                        }
                        close (stdin_fd);
                        stdin_fd = sv[0];
                        go.stdin_fd = stdin_fd;
                        sink->stdin_open (sink->arg, sv[1]); /* owned by the sink */
                }
                if (sink) {
                        go.tap = (struct sup_output_tap){ sink->output, sink->arg };
                        sink->stage_start (sink->arg, EXEC_STAGE_RUN);
                }
                ret = runner_start (cfg, slot_container (s, false), &go, client_fd, &res->run, err);
                if (ret < 0) {
                        ce_error_wrap (err, "run stage");
                        goto out;
                }
                res->status = res->run.status;
                if (sink)
                        sink->stage_end (sink->arg, EXEC_STAGE_RUN, &res->run);
        }

out:
        /* The answer is ready: let the caller send it while we clean up (runc
         * delete costs about as much as starting a container).  From here on
         * plan, req, res and err are not ours. */
        if (ret < 0)
                execution_result_clear (res);
        if (done)
                done->fn (done->arg, ret);
        slot_discard (cfg, s);
        ce_strv_free (compile_argv);
        ce_strv_free (run_argv);
        if (stdin_fd >= 0)
                close (stdin_fd);
        if (devnull >= 0)
                close (devnull);
        return ret;
}

#define PROBE_OUTPUT "codeengine-init: probe ok\n"

int
execution_probe (const struct runner_config *cfg, const struct ce_language *lang,
                 const struct ce_limits *limits, struct ce_error *err)
{
        char *argv[] = { (char *) CE_INIT_PATH, (char *) "--probe", NULL };
        struct runner_result res = { 0 };
        struct exec_slot *s = NULL;
        /* Only the run's container: the tree and the runtime are what it proves. */
        struct exec_plan plan = { .lang = lang, .run_limits = *limits };
        struct ce_language run_only = *lang;
        cleanup_close int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        int ret;

        if (devnull < 0)
                return ce_fail (err, errno, "/dev/null: %s", strerror (errno));
        run_only.compile.command = NULL;
        plan.lang = &run_only;
        ret = slot_prepare (cfg, &plan, NULL, true, &s, err);
        if (ret == 0)
                ret = runner_start (
                        cfg, slot_container (s, false),
                        &(struct runner_go){ .argv = argv, .stdin_fd = devnull, .limits = limits },
                        -1, &res, err);
        if (ret == 0
            && (res.status != RUN_OK || res.out.stdout_buf.len != strlen (PROBE_OUTPUT)
                || memcmp (res.out.stdout_buf.data, PROBE_OUTPUT, strlen (PROBE_OUTPUT)) != 0))
                ret = ce_fail (err, EIO,
                               "the probe container ran but its program did not: status %s, "
                               "exit code %d, output '%.200s'",
                               runner_status_name (res.status), res.exit_code,
                               res.out.combined.data ? res.out.combined.data : "");
        runner_result_clear (&res);
        slot_discard (cfg, s);
        return ret;
}

int
execution_cleanup_stale (const struct runner_config *cfg, struct ce_error *err)
{
        int ret = runner_cleanup_stale (cfg, err);

        return ret < 0 ? ret : slot_cleanup_stale (cfg, err);
}
