/*
 * test_seccomp_bpf.c - the compiled seccomp profile decides what runc's would.
 *
 * Three kinds of checks.  (1) A small classic-BPF interpreter runs the
 * compiled src/seccomp.json for every syscall number of x86_64, x32 and i386
 * (and a few argument values) and compares with what the profile says,
 * worked out here from the JSON alone: listed names allowed (clone and
 * socket only for the arguments the profile allows), clone3 ENOSYS, numbers
 * above the profile's highest ENOSYS (runc's patchbpf stub), the rest EPERM,
 * other architectures killed.  (2) The filter is loaded for real in forked
 * children (no_new_privs makes that possible without privileges) and real
 * syscalls are made.  (3) Small made-up profiles cover the translation rules
 * the real one does not use, and the profiles runc would refuse.
 *
 * "test_seccomp_bpf --write-bpf FILE" writes the compiled profile to FILE
 * instead, for comparisons with the filter runc itself installs.
 */
#include "seccomp_bpf.h"
#include "seccomp_load.h"
#include "oci_spec.h"
#include "test.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define X32_BIT 0x40000000u
#define RET_EPERM (SECCOMP_RET_ERRNO | EPERM)
#define RET_ENOSYS (SECCOMP_RET_ERRNO | ENOSYS)
#define RET_KILL_THREAD SECCOMP_RET_KILL_THREAD

/* Just enough classic BPF for what libseccomp and the stub emit; anything
 * else fails the test rather than being guessed at. */
static int
bpf_run (const struct sock_filter *f, size_t n, const struct seccomp_data *d, uint32_t *ret)
{
        uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

        for (size_t pc = 0; pc < n; pc++) {
                const struct sock_filter *i = &f[pc];
                uint32_t src = BPF_SRC (i->code) == BPF_X ? x : i->k;
                bool t;

                switch (BPF_CLASS (i->code)) {
                case BPF_LD:
                        if (i->code == (BPF_LD | BPF_W | BPF_ABS)) {
                                if (i->k % 4 || i->k + 4 > sizeof (*d))
                                        return -1;
                                memcpy (&a, (const uint8_t *) d + i->k, 4);
                        } else if (i->code == (BPF_LD | BPF_IMM)) {
                                a = i->k;
                        } else if (i->code == (BPF_LD | BPF_MEM) && i->k < BPF_MEMWORDS) {
                                a = mem[i->k];
                        } else {
                                return -1;
                        }
                        break;
                case BPF_LDX:
                        if (i->code == (BPF_LDX | BPF_IMM))
                                x = i->k;
                        else if (i->code == (BPF_LDX | BPF_MEM) && i->k < BPF_MEMWORDS)
                                x = mem[i->k];
                        else
                                return -1;
                        break;
                case BPF_ST:
                        if (i->k >= BPF_MEMWORDS)
                                return -1;
                        mem[i->k] = a;
                        break;
                case BPF_STX:
                        if (i->k >= BPF_MEMWORDS)
                                return -1;
                        mem[i->k] = x;
                        break;
                case BPF_ALU:
                        switch (BPF_OP (i->code)) {
                        case BPF_ADD: a += src; break;
                        case BPF_SUB: a -= src; break;
                        case BPF_AND: a &= src; break;
                        case BPF_OR: a |= src; break;
                        case BPF_XOR: a ^= src; break;
                        case BPF_LSH: a = src < 32 ? a << src : 0; break;
                        case BPF_RSH: a = src < 32 ? a >> src : 0; break;
                        case BPF_NEG: a = -a; break;
                        default: return -1;
                        }
                        break;
                case BPF_JMP:
                        if (BPF_OP (i->code) == BPF_JA) {
                                pc += i->k;
                                break;
                        }
                        switch (BPF_OP (i->code)) {
                        case BPF_JEQ: t = a == src; break;
                        case BPF_JGT: t = a > src; break;
                        case BPF_JGE: t = a >= src; break;
                        case BPF_JSET: t = (a & src) != 0; break;
                        default: return -1;
                        }
                        pc += t ? i->jt : i->jf;
                        break;
                case BPF_RET: *ret = BPF_RVAL (i->code) == BPF_A ? a : i->k; return 0;
                case BPF_MISC:
                        if (BPF_MISCOP (i->code) == BPF_TAX)
                                x = a;
                        else
                                a = x;
                        break;
                default: return -1;
                }
        }
        return -1; /* fell off the end: the kernel refuses such programs */
}

static uint32_t
run (const uint8_t *bpf, size_t len, uint32_t arch, uint32_t nr, uint64_t arg0)
{
        struct seccomp_data d = { .nr = (int) nr, .arch = arch, .args = { arg0 } };
        uint32_t ret = 0xdeadbeef;

        if (bpf_run ((const struct sock_filter *) bpf, len / sizeof (struct sock_filter), &d, &ret)
            < 0)
                return 0xdeadbeef;
        return ret;
}

static yajl_val
load_profile (void)
{
        yajl_val v = NULL;
        struct ce_error err = { 0 };

        if (spec_load_seccomp (ce_seccomp_profile, ce_seccomp_profile_len, &v, &err) < 0)
                fprintf (stderr, "profile: %s\n", err.msg);
        return v;
}

static int
compile_json (const char *json, uint8_t **bpf, size_t *len, struct ce_error *err)
{
        char errbuf[256];
        cleanup_free char *copy = strdup (json);
        yajl_val v = yajl_tree_parse (copy, errbuf, sizeof (errbuf));
        int ret;

        if (v == NULL) {
                fprintf (stderr, "bad test JSON: %s\n", errbuf);
                return -EINVAL;
        }
        ret = seccomp_bpf_compile (v, bpf, len, err);
        yajl_tree_free (v);
        return ret;
}

/* ---- (1) the real profile, number by number ---------------------------- */

/* True when the profile's entry e names syscall nr of scmp_arch. */
static bool
names_nr (yajl_val e, uint32_t scmp_arch, uint32_t nr, const char *known)
{
        const char *np[] = { "names", NULL };
        yajl_val names = yajl_tree_get (e, np, yajl_t_array);

        for (size_t j = 0; j < names->u.array.len; j++) {
                const char *name = names->u.array.values[j]->u.string;

                /* By number, or by name where i386 multiplexes the call (its
                 * name resolves to a pseudo-number). */
                if (seccomp_syscall_resolve_name_arch (scmp_arch, name) == (int) nr
                    || (known && strcmp (known, name) == 0))
                        return true;
        }
        return false;
}

#define NO_MATCH UINT32_MAX

/* One entry's verdict for a call it names, or NO_MATCH when its arguments do not
 * match (then the profile's other entries, or its default, decide). */
static uint32_t
entry_verdict (yajl_val entry, uint32_t scmp_arch, uint64_t arg0)
{
        const char *ap[] = { "action", NULL }, *ep[] = { "errnoRet", NULL },
                   *gp[] = { "args", NULL };
        yajl_val args, eno;
        const char *action;

        args = yajl_tree_get (entry, gp, yajl_t_array);
        eno = yajl_tree_get (entry, ep, yajl_t_number);
        action = YAJL_GET_STRING (yajl_tree_get (entry, ap, yajl_t_string));
        for (size_t k = 0; args && k < args->u.array.len; k++) {
                yajl_val a = args->u.array.values[k];
                const char *ip[] = { "index", NULL }, *vp[] = { "value", NULL },
                           *tp[] = { "valueTwo", NULL }, *op[] = { "op", NULL };
                uint64_t idx = YAJL_GET_INTEGER (yajl_tree_get (a, ip, yajl_t_number));
                uint64_t v = YAJL_GET_INTEGER (yajl_tree_get (a, vp, yajl_t_number));
                uint64_t v2 = YAJL_GET_INTEGER (yajl_tree_get (a, tp, yajl_t_number));
                const char *o = YAJL_GET_STRING (yajl_tree_get (a, op, yajl_t_string));
                uint64_t x = idx == 0 ? arg0 : 0;
                bool match;

                /* libseccomp compares 32 bits on 32-bit ABIs (x32 included),
                 * as their kernels read them. */
                if (scmp_arch != SCMP_ARCH_X86_64) {
                        x &= 0xffffffffu;
                        v &= 0xffffffffu;
                        v2 &= 0xffffffffu;
                }
                if (strcmp (o, "SCMP_CMP_MASKED_EQ") == 0)
                        match = (x & v) == v2;
                else if (strcmp (o, "SCMP_CMP_NE") == 0)
                        match = x != v;
                else if (strcmp (o, "SCMP_CMP_EQ") == 0)
                        match = x == v;
                else
                        return 0xbad; /* teach this test the new operator */
                if (! match)
                        return NO_MATCH;
        }
        if (strcmp (action, "SCMP_ACT_ALLOW") == 0)
                return SECCOMP_RET_ALLOW;
        if (strcmp (action, "SCMP_ACT_ERRNO") == 0)
                return SECCOMP_RET_ERRNO | (eno ? YAJL_GET_INTEGER (eno) : EPERM);
        return 0xbad;
}

/* The profile's verdict for one call, from the JSON alone: the first entry
 * that names it and matches its arguments (ours are all allow rules, so
 * the order does not matter), else the default. */
static uint32_t
expected (yajl_val profile, uint32_t scmp_arch, int32_t max, uint32_t nr, uint64_t arg0)
{
        const char *sc[] = { "syscalls", NULL };
        yajl_val calls = yajl_tree_get (profile, sc, yajl_t_array);
        cleanup_free char *known = seccomp_syscall_resolve_num_arch (scmp_arch, nr);

        for (size_t i = 0; i < calls->u.array.len; i++) {
                yajl_val e = calls->u.array.values[i];
                uint32_t v;

                if (names_nr (e, scmp_arch, nr, known)
                    && (v = entry_verdict (e, scmp_arch, arg0)) != NO_MATCH)
                        return v;
        }
        /* defaultAction SCMP_ACT_ERRNO, defaultErrnoRet 1 */
        return (int32_t) nr > max ? RET_ENOSYS : RET_EPERM;
}

static int32_t
max_nr (yajl_val profile, uint32_t scmp_arch)
{
        const char *sc[] = { "syscalls", NULL };
        yajl_val calls = yajl_tree_get (profile, sc, yajl_t_array);
        int32_t max = 0;

        for (size_t i = 0; i < calls->u.array.len; i++) {
                const char *np[] = { "names", NULL };
                yajl_val names = yajl_tree_get (calls->u.array.values[i], np, yajl_t_array);

                for (size_t j = 0; j < names->u.array.len; j++) {
                        int nr = seccomp_syscall_resolve_name_arch (
                                scmp_arch, names->u.array.values[j]->u.string);
                        if (nr > max)
                                max = nr;
                }
        }
        return max;
}

static void
test_profile_numbers (yajl_val profile, const uint8_t *bpf, size_t len)
{
        static const uint64_t arg0s[] = {
                0,
                SIGCHLD,
                CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM
                        | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
                CLONE_NEWUSER | SIGCHLD,
                CLONE_NEWNS,
                CLONE_NEWNET,
                AF_UNIX,
                AF_INET6,
                AF_VSOCK,
                AF_VSOCK | (1ull << 32), /* the kernel reads an int: AF_VSOCK */
                AF_INET | (1ull << 32),
                AF_PACKET,
                AF_ALG,
                0xffffffff00000000ull,
        };
        static const struct {
                uint32_t audit, scmp, base;
        } archs[] = {
                { AUDIT_ARCH_X86_64, SCMP_ARCH_X86_64, 0 },
                { AUDIT_ARCH_X86_64, SCMP_ARCH_X32, X32_BIT },
                { AUDIT_ARCH_I386, SCMP_ARCH_X86, 0 },
        };
        int bad = 0, checked = 0;

        for (size_t a = 0; a < sizeof (archs) / sizeof (archs[0]); a++) {
                int32_t max = max_nr (profile, archs[a].scmp);

                CHECK (max > 0);
                for (uint32_t n = 0; n < 1100; n++) {
                        uint32_t nr = archs[a].base + n;

                        /* i386's socketcall and ipc multiplex other calls,
                         * which libseccomp folds into the listed ones; the
                         * live checks below cover what matters there. */
                        if (archs[a].scmp == SCMP_ARCH_X86 && (nr == 102 || nr == 117))
                                continue;
                        for (size_t k = 0; k < sizeof (arg0s) / sizeof (arg0s[0]); k++) {
                                uint32_t want =
                                        expected (profile, archs[a].scmp, max, nr, arg0s[k]);
                                uint32_t got = run (bpf, len, archs[a].audit, nr, arg0s[k]);

                                checked++;
                                if (got != want && bad++ < 10)
                                        fprintf (stderr,
                                                 "arch %#x nr %#x arg0 %#llx: filter says %#x, "
                                                 "profile %#x\n",
                                                 archs[a].scmp, nr, (unsigned long long) arg0s[k],
                                                 got, want);
                        }
                }
                /* x86_64's numbers with bit 30 set are x32's, and the other
                 * way round: both share AUDIT_ARCH_X86_64. */
                if (archs[a].scmp == SCMP_ARCH_X86_64)
                        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, (uint32_t) max + 1, 0)
                               == RET_ENOSYS);
        }
        CHECK (bad == 0);
        CHECK (checked > 30000);
        /* Architectures the profile does not list: libseccomp's bad-arch
         * action, which runc leaves at its default, kill. */
        CHECK (run (bpf, len, AUDIT_ARCH_AARCH64, 39, 0) == RET_KILL_THREAD);
        CHECK (run (bpf, len, AUDIT_ARCH_ARM, 20, 0) == RET_KILL_THREAD);

        /* The figures this all rests on, as libseccomp 2.5.4 has them. */
        CHECK (seccomp_syscall_resolve_name ("clone3") == 435);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 435, 0) == RET_ENOSYS);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 39, 0) == SECCOMP_RET_ALLOW); /* getpid */
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 165, 0) == RET_EPERM);        /* mount */
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 1000, 0) == RET_ENOSYS);      /* none yet */
        CHECK (run (bpf, len, AUDIT_ARCH_I386, 20, 0) == SECCOMP_RET_ALLOW);   /* getpid */
        /* i386's socketcall multiplexer hides the family behind a pointer:
         * libseccomp would add a socketcall(SYS_SOCKET) allow for each
         * socket rule, so the profile denies socketcall first (ENOSYS: libc
         * falls back to the direct socket call, 359, filtered like x86_64's). */
        for (uint64_t call = 0; call <= 20; call++)
                CHECK (run (bpf, len, AUDIT_ARCH_I386, 102, call) == RET_ENOSYS);
        CHECK (run (bpf, len, AUDIT_ARCH_I386, 359, AF_INET) == SECCOMP_RET_ALLOW);
        CHECK (run (bpf, len, AUDIT_ARCH_I386, 359, AF_VSOCK) == RET_EPERM);
        CHECK (run (bpf, len, AUDIT_ARCH_I386, 359, AF_ALG) == RET_EPERM);
        CHECK (run (bpf, len, AUDIT_ARCH_I386, 1000, 0) == RET_ENOSYS);
}

/* ---- (2) loaded for real ------------------------------------------------ */

static void *
thread_main (void *arg)
{
        return arg;
}

/* clone(2) itself, not glibc's fork; a child it should not have made
 * leaves at once instead of running the rest of the checks twice. */
static long
raw_clone (unsigned long flags)
{
        long pid = syscall (SYS_clone, flags, 0, 0, 0, 0);
        int saved = errno;

        if (pid == 0)
                _exit (0);
        if (pid > 0)
                waitpid (pid, NULL, 0);
        errno = saved;
        return pid;
}

/* int 0x80: the i386 entry, which seccomp sees as AUDIT_ARCH_I386. */
static long
syscall_i386 (long nr)
{
        long ret;

        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(nr)
                         : "memory", "cc", "r8", "r9", "r10", "r11");
        return ret;
}

static bool
ia32_works (void)
{
        pid_t pid = fork ();
        int st;

        if (pid == 0)
                _exit (syscall_i386 (20) == getpid () ? 0 : 1); /* getpid; SIGSEGV if none */
        return pid > 0 && waitpid (pid, &st, 0) == pid && WIFEXITED (st) && WEXITSTATUS (st) == 0;
}

/* Runs in a forked child under the filter; returns the number of failures. */
static int
live_checks (int32_t max64, int32_t max32, bool ia32)
{
        char buf[8];
        int fd, s;
        pid_t pid;
        pthread_t t;
        void *r = NULL;

        test_failures = 0; /* the child's own, not those it inherited */
        CHECK (getpid () > 1);
        fd = open ("/dev/zero", O_RDONLY | O_CLOEXEC);
        CHECK (fd >= 0);
        CHECK (read (fd, buf, sizeof (buf)) == (ssize_t) sizeof (buf));
        CHECK (close (fd) == 0);

        /* Not in the profile: the default errno. */
        errno = 0;
        CHECK (unshare (CLONE_NEWNS) < 0 && errno == EPERM);
        errno = 0;
        CHECK (syscall (SYS_mount, "none", "/", "tmpfs", 0, NULL) < 0 && errno == EPERM);
        errno = 0;
        CHECK (personality (0xffffffff) < 0 && errno == EPERM);

        /* clone3 is listed with ENOSYS so that glibc falls back to clone, and
         * clone only without namespace flags. */
        errno = 0;
        CHECK (syscall (SYS_clone3, NULL, 0) < 0 && errno == ENOSYS);
        CHECK (pthread_create (&t, NULL, thread_main, (void *) 42) == 0);
        CHECK (pthread_join (t, &r) == 0 && r == (void *) 42);
        pid = fork ();
        if (pid == 0)
                _exit (7);
        CHECK (pid > 0 && waitpid (pid, &s, 0) == pid && WIFEXITED (s) && WEXITSTATUS (s) == 7);
        errno = 0;
        CHECK (raw_clone (CLONE_NEWUSER | SIGCHLD) < 0 && errno == EPERM);
        errno = 0;
        CHECK (raw_clone (CLONE_NEWNET | SIGCHLD) < 0 && errno == EPERM);

        /* socket: AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK only, whatever
         * the upper 32 bits (the kernel reads an int: a 64-bit compare
         * would let AF_VSOCK | 1 << 32 through as AF_VSOCK). */
        s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK (s >= 0);
        close (s);
        s = (int) syscall (SYS_socket, AF_INET | (1L << 32), SOCK_DGRAM | SOCK_CLOEXEC, 0);
        CHECK (s >= 0);
        close (s);
        errno = 0;
        CHECK (socket (AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0 && errno == EPERM);
        errno = 0;
        CHECK (syscall (SYS_socket, AF_VSOCK | (1L << 32), SOCK_STREAM | SOCK_CLOEXEC, 0) < 0
               && errno == EPERM);
        errno = 0;
        CHECK (socket (AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0) < 0 && errno == EPERM);

        /* runc's stub: above the profile's highest number, ENOSYS (a kernel
         * call like fchmodat2, 452, included, though the kernel has it). */
        errno = 0;
        CHECK (syscall (max64 + 1, 0, 0, 0, 0, 0) < 0 && errno == ENOSYS);
        errno = 0;
        CHECK (syscall (1000, 0, 0, 0, 0, 0) < 0 && errno == ENOSYS);
        if (max64 < 452) {
                errno = 0;
                CHECK (syscall (452, AT_FDCWD, "/", 0755, 0) < 0 && errno == ENOSYS);
        }
        if (ia32) {
                CHECK (syscall_i386 (20) == getpid ());
                CHECK (syscall_i386 (max32 + 1) == -ENOSYS);
                CHECK (syscall_i386 (21) == -EPERM); /* mount */
        }

        return test_failures;
}

static void
test_live (const uint8_t *bpf, size_t len, int32_t max64, int32_t max32)
{
        bool ia32 = ia32_works ();
        pid_t pid;
        int st = 0;

        if (! ia32)
                printf ("no i386 syscall entry here: its live checks skipped\n");
        fflush (NULL);
        pid = fork ();
        if (pid == 0) {
                int ret = seccomp_load_bpf (bpf, len);

                if (ret < 0) {
                        fprintf (stderr, "seccomp_load_bpf: %s\n", strerror (-ret));
                        _exit (100);
                }
                _exit (live_checks (max64, max32, ia32) ? 1 : 0);
        }
        CHECK (pid > 0 && waitpid (pid, &st, 0) == pid);
        CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0);

        /* A program the kernel would refuse never gets that far. */
        CHECK (seccomp_load_bpf (bpf, len - 1) == -EINVAL);
        CHECK (seccomp_load_bpf (NULL, 0) == -EINVAL);
}

static void
test_read_bpf (const uint8_t *bpf, size_t len)
{
        static uint8_t buf[SECCOMP_BPF_MAX_BYTES];
        int fd = memfd_create ("t", MFD_CLOEXEC);
        size_t got = 0;

        CHECK (fd >= 0);
        CHECK (write (fd, bpf, len) == (ssize_t) len);
        /* From offset 0 whatever the fd's own offset (now at the end). */
        CHECK (seccomp_read_bpf (fd, buf, &got) == 0 && got == len && memcmp (buf, bpf, len) == 0);
        CHECK (write (fd, "x", 1) == 1);
        CHECK (seccomp_read_bpf (fd, buf, &got) == -EINVAL && got == 0);
        CHECK (ftruncate (fd, SECCOMP_BPF_MAX_BYTES) == 0);
        CHECK (seccomp_read_bpf (fd, buf, &got) == 0 && got == SECCOMP_BPF_MAX_BYTES);
        CHECK (ftruncate (fd, SECCOMP_BPF_MAX_BYTES + 8) == 0);
        CHECK (seccomp_read_bpf (fd, buf, &got) == -E2BIG);
        close (fd);
}

/* ---- (3) made-up profiles ----------------------------------------------- */

static void
test_small_profiles (void)
{
        struct ce_error err = { 0 };
        uint8_t *bpf = NULL;
        size_t len = 0;

        /* runc: no defaultAction and no syscalls is no seccomp at all. */
        CHECK (compile_json ("{}", &bpf, &len, &err) == 0 && bpf == NULL && len == 0);

        /* Permissive default: no stub, so no ENOSYS above the profile. */
        CHECK (compile_json ("{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                             "\"architectures\":[\"SCMP_ARCH_X86_64\"],"
                             "\"syscalls\":[{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ERRNO\","
                             "\"errnoRet\":13}]}",
                             &bpf, &len, &err)
               == 0);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 165, 0) == (SECCOMP_RET_ERRNO | EACCES));
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 39, 0) == SECCOMP_RET_ALLOW);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 900, 0) == SECCOMP_RET_ALLOW);
        free (bpf);

        /* Two conditions on one argument: runc makes them two rules (OR);
         * a kill default; errno without errnoRet is EPERM; an unknown name
         * is skipped; x86_64 without x32: x32 calls skip the stub and die
         * as a foreign architecture in libseccomp's program. */
        CHECK (compile_json (
                       "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\","
                       "\"architectures\":[\"SCMP_ARCH_X86_64\"],\"syscalls\":["
                       "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
                       "{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},"
                       "{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]},"
                       "{\"names\":[\"no_such_call\",\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                       "{\"names\":[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\"},"
                       "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"},"
                       "{\"names\":[\"dup\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
                       "{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_GE\"},"
                       "{\"index\":1,\"value\":18446744073709551615,\"valueTwo\":5,"
                       "\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}",
                       &bpf, &len, &err)
               == 0);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 135, 0) == SECCOMP_RET_ALLOW);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 135, 8) == SECCOMP_RET_ALLOW);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 135, 3) == SECCOMP_RET_KILL_PROCESS);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 39, 0) == SECCOMP_RET_ALLOW);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 62, 0) == RET_EPERM);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 110, 0) == SECCOMP_RET_KILL_PROCESS);
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, 136, 0)
               == RET_ENOSYS); /* above personality's 135 */
        CHECK (run (bpf, len, AUDIT_ARCH_X86_64, X32_BIT + 39, 0) == RET_KILL_THREAD);
        CHECK (run (bpf, len, AUDIT_ARCH_I386, 20, 0) == RET_KILL_THREAD);
        free (bpf);

        /* What runc 1.1 refuses, and what a program made ahead cannot do. */
        static const char *const bad[] = {
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
                "\"syscalls\":[]}",
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"getpid\"],"
                "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                "{\"defaultAction\":\"SCMP_ACT_NOPE\",\"syscalls\":[]}",
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_RISCV64\"],"
                "\"syscalls\":[]}",
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"\"],"
                "\"action\":\"SCMP_ACT_ALLOW\"}]}",
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"dup\"],"
                "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":6,\"value\":1,"
                "\"op\":\"SCMP_CMP_EQ\"}]}]}",
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"dup\"],"
                "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,"
                "\"op\":\"SCMP_CMP_SOMETIMES\"}]}]}",
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"dup\"],"
                "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":-1,"
                "\"op\":\"SCMP_CMP_EQ\"}]}]}",
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1.5,\"syscalls\":[]}",
        };
        for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
                memset (&err, 0, sizeof (err));
                bpf = (uint8_t *) 1;
                if (compile_json (bad[i], &bpf, &len, &err) != -EINVAL || bpf != NULL) {
                        fprintf (stderr, "accepted: %s\n", bad[i]);
                        test_failures++;
                }
                CHECK (err.msg[0] != '\0');
        }
}

static int
write_bpf (const char *path, const uint8_t *bpf, size_t len)
{
        int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

        if (fd < 0 || ce_write_all (fd, bpf, len) < 0) {
                perror (path);
                return 1;
        }
        close (fd);
        return 0;
}

int
main (int argc, char **argv)
{
        yajl_val profile = load_profile ();
        struct ce_error err = { 0 };
        uint8_t *bpf = NULL;
        size_t len = 0;

        if (profile == NULL)
                return 1;
        if (seccomp_bpf_compile (profile, &bpf, &len, &err) < 0) {
                fprintf (stderr, "seccomp_bpf_compile: %s\n", err.msg);
                return 1;
        }
        if (argc == 3 && strcmp (argv[1], "--write-bpf") == 0)
                return write_bpf (argv[2], bpf, len);
        CHECK (len > 0 && len % sizeof (struct sock_filter) == 0);
        CHECK (len <= SECCOMP_BPF_MAX_BYTES);
        printf ("src/seccomp.json: %zu instructions\n", len / sizeof (struct sock_filter));

        test_profile_numbers (profile, bpf, len);
        test_live (bpf, len, max_nr (profile, SCMP_ARCH_X86_64), max_nr (profile, SCMP_ARCH_X86));
        test_read_bpf (bpf, len);
        test_small_profiles ();

        free (bpf);
        yajl_tree_free (profile);
        TEST_DONE ();
}
