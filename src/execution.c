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

#include "cache.h"
#include "judge.h"
#include "metrics.h"
#include "oci_spec.h"
#include "outfiles.h"
#include "slot.h"
#include "warm.h"

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

/* A stage that ran in a container, for GET /metrics. */
static void
count_stage (const struct exec_plan *plan, enum metrics_stage stage, const struct runner_result *r)
{
        metrics_stage_done (plan->lang->name, stage, (int) r->status, r->wall_ms);
}

/* Whether the client's socket (-1: none) has seen its peer go, now. */
static bool
client_hung_up (int fd)
{
        struct pollfd p = { fd, POLLRDHUP, 0 };

        return fd >= 0 && poll (&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* The run of the program in s's run container (made now when the slot has
 * none): its command line from req's args, its input stdin_fd, or live
 * stdin when the sink takes it (*stdin_fd is then replaced). */
static int
run_once (const struct runner_config *cfg, struct exec_slot *s, const struct exec_plan *plan,
          const struct ce_request *req, int *stdin_fd, int client_fd, const struct exec_sink *sink,
          struct runner_result *out, struct ce_error *err)
{
        const struct ce_language *lang = plan->lang;
        cleanup_strv char **argv = plan_argv (lang, &lang->run, req, true);
        struct runner_go go = { .argv = argv, .limits = &plan->run_limits };
        int ret;

        if (argv == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        if (slot_container (s, false) == NULL) {
                ret = slot_create_run (cfg, s, err);
                if (ret < 0)
                        return ce_error_wrap (err, "preparing the run stage");
        }
        go.stdin_fd = *stdin_fd;
        if (sink && sink->stdin_open) {
                /* Live stdin: the program reads one end, the sink writes the other. */
                int sv[2];

                if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        return ce_fail (err, errno, "socketpair: %s", strerror (errno));
                close (*stdin_fd);
                *stdin_fd = go.stdin_fd = sv[0];
                sink->stdin_open (sink->arg, sv[1]); /* owned by the sink */
        }
        if (sink) {
                go.tap = (struct sup_output_tap){ sink->output, sink->arg };
                sink->stage_start (sink->arg, EXEC_STAGE_RUN);
        }
        ret = runner_start (cfg, slot_container (s, false), &go, client_fd, out, err);
        if (ret < 0)
                return ce_error_wrap (err, "run stage");
        if (sink)
                sink->stage_end (sink->arg, EXEC_STAGE_RUN, out);
        return 0;
}

/* Everything that decides what a compile gives, for the compile cache:
 * the tree (rebuilt, it differs), the language, the command line and
 * environment, the limits, how containers are made here, and every source
 * file's name and bytes. */
static void
compile_key (const struct runner_config *cfg, const struct exec_plan *plan,
             const struct ce_request *req, char *const *argv, struct cache_key *k)
{
        const struct ce_language *lang = plan->lang;
        const struct ce_limits *l = &plan->compile_limits;
        char cpus[32];

        cache_key_init (k);
        cache_key_add_str (k, CE_VERSION);
        cache_key_add_str (k, lang->tree_id);
        cache_key_add_str (k, lang->rootfs);
        cache_key_add_str (k, lang->name);
        cache_key_add_str (k, lang->version);
        cache_key_add_strv (k, argv);
        cache_key_add_strv (k, lang->compile.env);
        cache_key_add_int (k, l->timeout_ms);
        cache_key_add_int (k, l->memory_mb);
        snprintf (cpus, sizeof (cpus), "%.9g", l->cpus);
        cache_key_add_str (k, cpus);
        cache_key_add_int (k, l->output_bytes);
        cache_key_add_int (k, l->pids);
        cache_key_add_str (k, cfg->runtime);
        cache_key_add_int (k, cfg->build_bytes);
        cache_key_add_int (k, cfg->limits);
        cache_key_add_int (k, cfg->rootless);
        cache_key_add_int (k, cfg->cpu_limit);
        cache_key_add_int (k, (int64_t) req->nfiles);
        for (size_t i = 0; i < req->nfiles; i++) {
                cache_key_add_str (k, plan_file_name (lang, req, i));
                cache_key_add (k, req->files[i].data, req->files[i].len);
        }
        cache_key_finish (k);
}

/* A compile worth keeping: it ended on its own, succeeding or failing, with
 * all its output.  One that hit a limit, or died of a signal, might not
 * next time. */
static bool
compile_cacheable (const struct runner_result *c)
{
        return ! c->truncated
               && (c->status == RUN_OK || (c->status == RUN_RUNTIME_ERROR && c->signal == 0));
}

/* How long an execution waits for an identical compile another one is
 * running: its timeout, and time to copy the build. */
#define CACHE_WAIT_SLACK_MS 30000

/* A compile the cache answered, told to the sink as a compile would be. */
static void
tell_cached_compile (const struct exec_sink *sink, const struct runner_result *c)
{
        if (sink == NULL)
                return;
        sink->stage_start (sink->arg, EXEC_STAGE_COMPILE);
        if (c->out.stdout_buf.len)
                sink->output (sink->arg, 1, c->out.stdout_buf.data, c->out.stdout_buf.len);
        if (c->out.stderr_buf.len)
                sink->output (sink->arg, 2, c->out.stderr_buf.data, c->out.stderr_buf.len);
        sink->stage_end (sink->arg, EXEC_STAGE_COMPILE, c);
}

/* The compile stage in s's compile container; as the cache's builder
 * (t->outcome BUILD), store what it gave when worth it and let the others
 * waiting for it go on. */
static int
compile_now (const struct runner_config *cfg, struct exec_slot *s, const struct exec_plan *plan,
             char *const *argv, int client_fd, const struct exec_sink *sink, struct cache_ticket *t,
             struct exec_result *res, struct ce_error *err)
{
        struct runner_go go = { .argv = argv, .limits = &plan->compile_limits };
        cleanup_close int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        int ret;

        if (devnull < 0)
                return ce_fail (err, errno, "/dev/null: %s", strerror (errno));
        go.stdin_fd = devnull;
        if (sink) {
                go.tap = (struct sup_output_tap){ sink->output, sink->arg };
                sink->stage_start (sink->arg, EXEC_STAGE_COMPILE);
        }
        ret = runner_start (cfg, slot_container (s, true), &go, client_fd, &res->compile, err);
        if (ret < 0)
                return ce_error_wrap (err, "compile stage");
        res->compiled = true;
        if (t->outcome == CACHE_BUILD && compile_cacheable (&res->compile)) {
                cleanup_close int build = -1;
                struct ce_error ignored = { 0 };

                if (res->compile.status == RUN_OK)
                        build = slot_open_build (s, &ignored);
                if (res->compile.status != RUN_OK || build >= 0)
                        cache_store (t, build, &res->compile);
        }
        cache_end (t);
        if (sink)
                sink->stage_end (sink->arg, EXEC_STAGE_COMPILE, &res->compile);
        return 0;
}

/* The files req asked back for from the run's /work, whatever the run's
 * status (a program that failed may have left what explains why).  The
 * run's container has ended: nothing writes there any more, but what is
 * there is the program's.  <0 only when the server is out of memory. */
static int
collect_files (const struct exec_env *env, struct exec_slot *s, const struct ce_request *req,
               struct exec_result *res, struct ce_error *err)
{
        struct ce_error ignored = { 0 };
        cleanup_close int workfd = slot_open_work (s, &ignored);
        int ret;

        if (workfd < 0) {
                res->files.requested = true;
                snprintf (res->files.error, sizeof (res->files.error), "%.200s", ignored.msg);
                return 0;
        }
        ret = outfiles_collect (workfd, req->output_files, req->noutput_files, &env->outfiles,
                                &res->files);
        if (ret < 0)
                return ce_fail (err, -ret, "collecting output files: %s", strerror (-ret));
        return 0;
}

int
execution_run (const struct exec_env *env, const struct exec_plan *plan,
               const struct ce_request *req, int client_fd, const struct exec_sink *sink,
               const struct exec_done *done, struct exec_result *res, struct ce_error *err)
{
        const struct runner_config *cfg = env->runner;
        const struct ce_language *lang = plan->lang;
        bool compiles = lang->compile.command != NULL;
        struct exec_slot *s = NULL;
        char **compile_argv = NULL;
        struct cache_ticket ticket = { .entry_fd = -1 };
        bool hit = false;
        int stdin_fd = -1;
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
        if (compiles) {
                struct cache_key key;
                bool has_build = false;

                compile_argv = plan_argv (lang, &lang->compile, req, false);
                if (compile_argv == NULL) {
                        ret = ce_fail (err, ENOMEM, "out of memory");
                        goto out;
                }
                if (env->cache) {
                        compile_key (cfg, plan, req, compile_argv, &key);
                        cache_begin (env->cache, &key,
                                     plan->compile_limits.timeout_ms + CACHE_WAIT_SLACK_MS,
                                     &ticket);
                }
                hit = ticket.outcome == CACHE_HIT;
                if (env->cache)
                        metrics_cache_lookup (lang->name, hit);
                if (hit) {
                        ret = cache_read_result (&ticket, &res->compile, &has_build, err);
                        if (ret < 0)
                                goto out;
                        res->compiled = true;
                }
                /* A failed compile the cache knows: no container at all. */
                if (hit && ! has_build) {
                        tell_cached_compile (sink, &res->compile);
                        compile_failed (res);
                        ret = judge_skip (req, sink, res, err);
                        goto out;
                }
        }
        /* A warm slot when one fits, else one made now; either way a work dir
         * and containers nobody else has seen.  Warm slots have no /work:
         * a run that wants one takes the cold path. */
        if (env->warm && ! plan->work_dir) {
                s = warm_take (env->warm, plan);
                metrics_warm_take (lang->name, s != NULL);
        }
        if (s && slot_adjust (cfg, s, plan, err) < 0) {
                ce_log ("warning: %s: %s; making new containers", slot_id (s), err->msg);
                slot_discard (cfg, s);
                s = NULL;
        }
        ret = s ? 0 : slot_prepare (cfg, plan, NULL, hit ? SLOT_PREBUILT : SLOT_FIRST, &s, err);
        if (ret < 0) {
                ce_error_wrap (err, "preparing the %s stage",
                               compiles && ! hit ? "compile" : "run");
                goto out;
        }
        ret = slot_write_request (s, req, &stdin_fd, err);
        if (ret < 0)
                goto out;

        if (hit) {
                cleanup_close int build = slot_open_build (s, err);

                ret = build < 0 ? build : cache_fill_build (&ticket, build, err);
                cache_end (&ticket);
                if (ret < 0)
                        goto out;
                tell_cached_compile (sink, &res->compile);
        } else if (compiles) {
                ret = compile_now (cfg, s, plan, compile_argv, client_fd, sink, &ticket, res, err);
                if (ret < 0)
                        goto out;
                if (res->compile.status != RUN_OK) {
                        compile_failed (res);
                        count_stage (plan, METRICS_STAGE_COMPILE, &res->compile);
                        ret = judge_skip (req, sink, res, err);
                        goto out;
                }
                count_stage (plan, METRICS_STAGE_COMPILE, &res->compile);
        }

        if (req->ntests == 0) {
                ret = run_once (cfg, s, plan, req, &stdin_fd, client_fd, sink, &res->run, err);
                if (ret < 0)
                        goto out;
                res->status = res->run.status;
                count_stage (plan, METRICS_STAGE_RUN, &res->run);
                if (plan->work_dir && res->status != RUN_CLIENT_GONE) {
                        ret = collect_files (env, s, req, res, err);
                        if (ret < 0)
                                goto out;
                }
        } else {
                ret = judge_run (env, s, plan, req, client_fd, sink, res, err);
                if (ret < 0)
                        goto out;
                for (size_t i = 0; i < res->ntests; i++)
                        if (res->tests[i].ran)
                                count_stage (plan, METRICS_STAGE_RUN, &res->tests[i].run);
        }

out:
        /* A builder that failed lets its waiters go before anything else. */
        cache_end (&ticket);
        /* The answer is ready: let the caller send it while we clean up (runc
         * delete costs about as much as starting a container).  From here on
         * plan, req, res and err are not ours. */
        if (ret < 0) {
                metrics_execution_failed (lang->name);
                result_clear (res);
        }
        if (done)
                done->fn (done->arg, ret);
        slot_discard (cfg, s);
        ce_strv_free (compile_argv);
        if (stdin_fd >= 0)
                close (stdin_fd);
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
        ret = slot_prepare (cfg, &plan, NULL, SLOT_ALL, &s, err);
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
