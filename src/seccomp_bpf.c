/*
 * seccomp_bpf.c - the container's seccomp profile as a BPF program, built once.
 *
 * runc compiles linux.seccomp with libseccomp in every container's init,
 * which costs more CPU than anything else in a short container's start.  This
 * file does the same translation once, at server start-up, so that
 * codeengine-init can load the finished program (seccomp_load.h) and
 * config.json can leave seccomp out.  That is only sound if the program is
 * the one runc would have installed, so the translation follows runc 1.1
 * step by step (libcontainer/specconv SetupSeccomp, libcontainer/seccomp
 * InitSeccomp, patchbpf): the same libseccomp calls in the same order, and
 * the same -ENOSYS stub in front of libseccomp's program.  Where runc 1.1
 * rejects a profile, so do we.  The unit test compares the outcome syscall by
 * syscall; tests can also compare it with the filter runc installs.
 *
 * No state: every call builds its own libseccomp context and memfd.
 */
#include "seccomp_bpf.h"

#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* The architectures runc 1.1 accepts (libcontainer/seccomp/config.go), with
 * the AUDIT_ARCH_* value the kernel puts in seccomp_data.arch: SCMP_ARCH_X32
 * is a libseccomp invention, x32 calls arrive as x86_64 with bit 30 set. */
static const struct {
        const char *name;
        uint32_t scmp;
        uint32_t audit;
} arch_table[] = {
        { "SCMP_ARCH_X86", SCMP_ARCH_X86, AUDIT_ARCH_I386 },
        { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64 },
        { "SCMP_ARCH_X32", SCMP_ARCH_X32, AUDIT_ARCH_X86_64 },
        { "SCMP_ARCH_ARM", SCMP_ARCH_ARM, AUDIT_ARCH_ARM },
        { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64, AUDIT_ARCH_AARCH64 },
        { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS, AUDIT_ARCH_MIPS },
        { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64, AUDIT_ARCH_MIPS64 },
        { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32, AUDIT_ARCH_MIPS64N32 },
        { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL, AUDIT_ARCH_MIPSEL },
        { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64, AUDIT_ARCH_MIPSEL64 },
        { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32, AUDIT_ARCH_MIPSEL64N32 },
        { "SCMP_ARCH_PPC", SCMP_ARCH_PPC, AUDIT_ARCH_PPC },
        { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64, AUDIT_ARCH_PPC64 },
        { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE, AUDIT_ARCH_PPC64LE },
        { "SCMP_ARCH_S390", SCMP_ARCH_S390, AUDIT_ARCH_S390 },
        { "SCMP_ARCH_S390X", SCMP_ARCH_S390X, AUDIT_ARCH_S390X },
};
#define N_ARCH (sizeof (arch_table) / sizeof (arch_table[0]))

static const struct {
        const char *name;
        enum scmp_compare op;
} op_table[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE },
        { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE },
        { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE },
        { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

/* An action as runc resolves it: the libseccomp value, and whether patchbpf
 * counts it as permissive (no -ENOSYS stub behind a permissive default). */
struct action {
        uint32_t act;
        bool permissive;
};

static void
seccomp_releasep (scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release (*ctx);
}
#define cleanup_seccomp __attribute__ ((cleanup (seccomp_releasep)))

static yajl_val
obj_get (yajl_val obj, const char *key)
{
        for (size_t i = 0; i < obj->u.object.len; i++)
                if (strcmp (obj->u.object.keys[i], key) == 0)
                        return obj->u.object.values[i];
        return NULL;
}

/* A JSON number as Go decodes it into an unsigned field: digits only (no sign,
 * fraction or exponent), at most max.  The raw text is used because yajl's
 * integer is signed and 64-bit masks need all of uint64. */
static int
get_uint (yajl_val v, uint64_t max, uint64_t *out)
{
        const char *s;
        char *end;
        unsigned long long n;

        if (v == NULL || ! YAJL_IS_NUMBER (v))
                return -EINVAL;
        s = v->u.number.r;
        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        n = strtoull (s, &end, 10);
        if (errno != 0 || *end != '\0' || n > max)
                return -EINVAL;
        *out = n;
        return 0;
}

/* "errnoRet"/"defaultErrnoRet": absent or null means none. */
static int
get_errno_ret (yajl_val v, bool *set, uint64_t *val)
{
        *set = false;
        if (v == NULL || YAJL_IS_NULL (v))
                return 0;
        *set = true;
        return get_uint (v, UINT64_MAX, val);
}

/* runc's getAction.  Errno and trace take errnoRet, EPERM without it; runc
 * passes it through int16, so only its low 16 bits reach libseccomp. */
static int
parse_action (yajl_val name, bool errno_set, uint64_t errno_val, struct action *a,
              struct ce_error *err)
{
        const char *s = YAJL_IS_STRING (name) ? name->u.string : NULL;
        uint16_t code = errno_set ? (uint16_t) errno_val : EPERM;

        a->permissive = false;
        if (s == NULL)
                return ce_fail (err, EINVAL, "seccomp profile: an action is not a string");
        if (strcmp (s, "SCMP_ACT_KILL") == 0 || strcmp (s, "SCMP_ACT_KILL_THREAD") == 0)
                a->act = SCMP_ACT_KILL_THREAD;
        else if (strcmp (s, "SCMP_ACT_KILL_PROCESS") == 0)
                a->act = SCMP_ACT_KILL_PROCESS;
        else if (strcmp (s, "SCMP_ACT_ERRNO") == 0)
                a->act = SCMP_ACT_ERRNO (code);
        else if (strcmp (s, "SCMP_ACT_TRAP") == 0)
                a->act = SCMP_ACT_TRAP;
        else if (strcmp (s, "SCMP_ACT_ALLOW") == 0)
                a->act = SCMP_ACT_ALLOW, a->permissive = true;
        else if (strcmp (s, "SCMP_ACT_TRACE") == 0)
                a->act = SCMP_ACT_TRACE (code), a->permissive = true;
        else if (strcmp (s, "SCMP_ACT_LOG") == 0)
                a->act = SCMP_ACT_LOG, a->permissive = true;
        else if (strcmp (s, "SCMP_ACT_NOTIFY") == 0)
                /* It needs a listener fd handed to an agent at load time,
                 * which a program compiled ahead of time cannot carry. */
                return ce_fail (err, EINVAL,
                                "seccomp profile: SCMP_ACT_NOTIFY needs runc's own loading");
        else
                return ce_fail (err, EINVAL, "seccomp profile: unknown action %s", s);
        return 0;
}

static int
check_names (yajl_val call, yajl_val *names, struct ce_error *err)
{
        *names = obj_get (call, "names");
        if (*names == NULL || YAJL_IS_NULL (*names))
                return 0; /* runc loops over an empty list */
        if (! YAJL_IS_ARRAY (*names))
                return ce_fail (err, EINVAL, "seccomp profile: names is not a list");
        for (size_t i = 0; i < (*names)->u.array.len; i++) {
                yajl_val n = (*names)->u.array.values[i];

                if (! YAJL_IS_STRING (n))
                        return ce_fail (err, EINVAL,
                                        "seccomp profile: a syscall name is not a string");
                if (n->u.string[0] == '\0')
                        return ce_fail (err, EINVAL,
                                        "seccomp profile: empty string is not a valid syscall");
        }
        return 0;
}

/* One entry's args as libseccomp conditions; *split: two conditions test the
 * same argument, which runc turns into one rule per condition (an OR) rather
 * than one rule with all of them (an AND, which libseccomp refuses). */
static int
parse_args (yajl_val args, struct scmp_arg_cmp *conds, unsigned *n, bool *split,
            struct ce_error *err)
{
        unsigned count[6] = { 0 };

        *n = 0;
        *split = false;
        if (args == NULL || YAJL_IS_NULL (args))
                return 0;
        if (! YAJL_IS_ARRAY (args) || args->u.array.len > 64)
                return ce_fail (err, EINVAL, "seccomp profile: args is not a list");
        for (size_t i = 0; i < args->u.array.len; i++) {
                yajl_val a = args->u.array.values[i], op;
                uint64_t index, value = 0, two = 0;
                size_t k;

                if (! YAJL_IS_OBJECT (a) || get_uint (obj_get (a, "index"), 5, &index) < 0)
                        return ce_fail (err, EINVAL, "seccomp profile: an arg needs an index 0-5");
                if ((obj_get (a, "value")
                     && get_uint (obj_get (a, "value"), UINT64_MAX, &value) < 0)
                    || (obj_get (a, "valueTwo")
                        && get_uint (obj_get (a, "valueTwo"), UINT64_MAX, &two) < 0))
                        return ce_fail (err, EINVAL,
                                        "seccomp profile: an arg value is not an integer");
                op = obj_get (a, "op");
                for (k = 0; k < sizeof (op_table) / sizeof (op_table[0]); k++)
                        if (op && YAJL_IS_STRING (op)
                            && strcmp (op->u.string, op_table[k].name) == 0)
                                break;
                if (k == sizeof (op_table) / sizeof (op_table[0]))
                        return ce_fail (err, EINVAL, "seccomp profile: unknown operator in an arg");
                /* MASKED_EQ: value is the mask, valueTwo what the masked
                 * argument must equal (libseccomp's datum_a, datum_b). */
                conds[*n] = (struct scmp_arg_cmp){ .arg = (unsigned) index,
                                                   .op = op_table[k].op,
                                                   .datum_a = value,
                                                   .datum_b = two };
                if (++count[index] > 1)
                        *split = true;
                (*n)++;
        }
        return 0;
}

/* runc's matchCall for one name. */
static int
add_rule (scmp_filter_ctx ctx, const char *name, const struct action *a, uint32_t def_act,
          const struct scmp_arg_cmp *conds, unsigned n, bool split, struct ce_error *err)
{
        int nr, ret = 0;

        /* libseccomp refuses a rule that does what the default does. */
        if (a->act == def_act)
                return 0;
        /* A name this libseccomp does not know is taken, as runc takes it, for
         * a syscall this kernel does not have. */
        nr = seccomp_syscall_resolve_name (name);
        if (nr == __NR_SCMP_ERROR)
                return 0;
        if (n == 0 || ! split) {
                ret = seccomp_rule_add_array (ctx, a->act, nr, n, n ? conds : NULL);
        } else {
                for (unsigned i = 0; i < n && ret == 0; i++)
                        ret = seccomp_rule_add_array (ctx, a->act, nr, 1, &conds[i]);
        }
        if (ret < 0)
                return ce_fail (err, -ret, "seccomp profile: rule for %s: %s", name,
                                strerror (-ret));
        return 0;
}

/* libseccomp's program, read back from a memfd (libseccomp 2.5 exports only
 * to an fd; a pipe could fill up and block). */
static int
export_program (scmp_filter_ctx ctx, uint8_t **prog, size_t *len, struct ce_error *err)
{
        cleanup_close int fd = memfd_create ("ce-seccomp-bpf", MFD_CLOEXEC);
        cleanup_free uint8_t *buf = NULL;
        struct stat st;
        size_t done = 0;
        int ret;

        if (fd < 0)
                return ce_fail (err, errno, "memfd_create: %s", strerror (errno));
        ret = seccomp_export_bpf (ctx, fd);
        if (ret < 0)
                return ce_fail (err, -ret, "seccomp_export_bpf: %s", strerror (-ret));
        if (fstat (fd, &st) < 0)
                return ce_fail (err, errno, "fstat memfd: %s", strerror (errno));
        if (st.st_size <= 0 || st.st_size % sizeof (struct sock_filter) != 0
            || st.st_size > (off_t) (BPF_MAXINSNS * sizeof (struct sock_filter)))
                return ce_fail (err, EINVAL, "seccomp: libseccomp exported %lld bytes",
                                (long long) st.st_size);
        buf = malloc (st.st_size);
        if (buf == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        while (done < (size_t) st.st_size) {
                ssize_t r = pread (fd, buf + done, st.st_size - done, done);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return ce_fail (err, r < 0 ? errno : EIO, "read memfd: %s",
                                        r < 0 ? strerror (errno) : "short");
                done += r;
        }
        *prog = steal_pointer (&buf);
        *len = done;
        return 0;
}

/*
 * The -ENOSYS stub (runc's patchbpf).  A profile's default errno would also
 * hit syscalls newer than the profile, and glibc only falls back (clone3 to
 * clone, faccessat2 to faccessat...) on ENOSYS.  So for each listed
 * architecture runc finds the highest syscall number any profile name
 * resolves to and answers ENOSYS above it, before libseccomp's program runs.
 *
 * Built back to front exactly like runc's generateEnosysStub: a jump counted
 * from the end of the stub stays right when more is put in front of it.
 * runc walks Go maps here, so its order of architectures may change from
 * run to run; ours is the profile's, and any order decides the same.
 */
#define STUB_MAX 256

struct stub {
        struct sock_filter insn[STUB_MAX];
        size_t start; /* insn[start..STUB_MAX) is the program so far */
};

static size_t
stub_len (const struct stub *s)
{
        return STUB_MAX - s->start;
}

static int
stub_prepend (struct stub *s, const struct sock_filter *v, size_t n)
{
        if (n > s->start)
                return -E2BIG;
        s->start -= n;
        memcpy (&s->insn[s->start], v, n * sizeof (*v));
        return 0;
}

#define INSN(x) ((struct sock_filter) x)
#define LD_NR INSN (BPF_STMT (BPF_LD | BPF_W | BPF_ABS, 0))   /* seccomp_data.nr */
#define LD_ARCH INSN (BPF_STMT (BPF_LD | BPF_W | BPF_ABS, 4)) /* seccomp_data.arch */
#define JA(k) INSN (BPF_STMT (BPF_JMP | BPF_JA, (k)))
#define JGT(k, t, f) INSN (BPF_JUMP (BPF_JMP | BPF_JGT | BPF_K, (k), (t), (f)))
#define JEQ(k, t, f) INSN (BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f)))
#define JSET(k, t, f) INSN (BPF_JUMP (BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f)))
#define RET_ENOSYS INSN (BPF_STMT (BPF_RET | BPF_K, SCMP_ACT_ERRNO (ENOSYS)))
#define X32_BIT 0x40000000u

/* One AUDIT_ARCH of the profile and the highest syscall per libseccomp
 * architecture on it (two only for x86_64 and x32). */
struct native_arch {
        uint32_t audit;
        size_t n;
        struct {
                uint32_t scmp;
                int32_t max;
        } sub[2];
        size_t jump_from_end; /* 0: no section; runc's archJumpTable */
};

static int
stub_section (struct stub *s, struct native_arch *na)
{
        uint32_t enosys = stub_len (s) - 1, filter = enosys + 1;
        struct sock_filter sec[8];
        size_t n = 0;

        if (na->n == 0)
                return 0;
        sec[n++] = LD_NR;
        if (na->n == 1) {
                struct sock_filter tail[4];
                size_t t = 0;
                uint32_t sysno = (uint32_t) na->sub[0].max, scmp = na->sub[0].scmp;

                /* s390 multiplexes unknown large numbers into setup(2), nr 0. */
                if (scmp == SCMP_ARCH_S390 || scmp == SCMP_ARCH_S390X) {
                        sec[n++] = JEQ (0, 0, 1);
                        sec[n++] = RET_ENOSYS;
                }
                if (enosys + 1 <= 255) {
                        tail[t++] = JGT (sysno, enosys + 1, 0);
                        tail[t++] = JA (filter);
                } else {
                        tail[t++] = JGT (sysno, 0, 1);
                        tail[t++] = JA (enosys + 1);
                        tail[t++] = JA (filter);
                }
                /* Only one of x86_64 and x32 listed: the other mode skips the
                 * check (and goes on to libseccomp's program). */
                if (na->audit == AUDIT_ARCH_X86_64) {
                        if (scmp == SCMP_ARCH_X86_64)
                                sec[n++] = JSET (X32_BIT, t - 1, 0);
                        else
                                sec[n++] = JSET (X32_BIT, 0, t - 1);
                }
                memcpy (&sec[n], tail, t * sizeof (tail[0]));
                n += t;
        } else {
                uint32_t x86 = 0, x32 = 0;

                if (na->audit != AUDIT_ARCH_X86_64)
                        return -EINVAL;
                for (size_t i = 0; i < 2; i++) {
                        if (na->sub[i].scmp == SCMP_ARCH_X32)
                                x32 = (uint32_t) na->sub[i].max;
                        else
                                x86 = (uint32_t) na->sub[i].max;
                }
                sec[n++] = JSET (X32_BIT, 1, 0);
                if (enosys + 2 <= 255) {
                        sec[n++] = JGT (x86, enosys + 2, 1);
                        sec[n++] = JGT (x32, enosys + 1, 0);
                        sec[n++] = JA (filter);
                } else {
                        sec[n++] = JGT (x86, 1, 2);
                        sec[n++] = JGT (x32, 0, 1);
                        sec[n++] = JA (enosys + 1);
                        sec[n++] = JA (filter);
                }
        }
        if (stub_prepend (s, sec, n) < 0)
                return -E2BIG;
        na->jump_from_end = stub_len (s);
        return 0;
}

static int
build_stub (yajl_val syscalls, yajl_val archs, struct stub *s, struct ce_error *err)
{
        struct native_arch na[N_ARCH];
        size_t n_na = 0;
        const struct sock_filter tail[] = { JA (1), RET_ENOSYS };
        struct sock_filter head;

        s->start = STUB_MAX;
        memset (na, 0, sizeof (na));
        /* runc's findLastSyscalls. */
        for (size_t i = 0; archs && i < archs->u.array.len; i++) {
                const char *name = archs->u.array.values[i]->u.string;
                size_t a, k;
                int32_t max = 0;

                for (a = 0; strcmp (arch_table[a].name, name) != 0; a++)
                        ; /* checked by the caller */
                for (k = 0; k < n_na && na[k].audit != arch_table[a].audit; k++)
                        ;
                if (k == n_na)
                        na[n_na++].audit = arch_table[a].audit;
                for (size_t j = 0; j < na[k].n; j++)
                        if (na[k].sub[j].scmp == arch_table[a].scmp)
                                goto next_arch; /* listed twice */
                for (size_t c = 0; c < syscalls->u.array.len; c++) {
                        yajl_val names = obj_get (syscalls->u.array.values[c], "names");

                        for (size_t j = 0; names && YAJL_IS_ARRAY (names) && j < names->u.array.len;
                             j++) {
                                int nr = seccomp_syscall_resolve_name_arch (
                                        arch_table[a].scmp, names->u.array.values[j]->u.string);

                                /* Pseudo-numbers of calls this arch lacks are
                                 * negative and never the highest. */
                                if (nr != __NR_SCMP_ERROR && nr > max)
                                        max = nr;
                        }
                }
                if (max != 0) {
                        if (na[k].n == 2)
                                return ce_fail (err, EINVAL,
                                                "seccomp: more than 2 archs on one native arch");
                        na[k].sub[na[k].n].scmp = arch_table[a].scmp;
                        na[k].sub[na[k].n].max = max;
                        na[k].n++;
                }
        next_arch:;
        }

        /* runc's generateEnosysStub. */
        if (stub_prepend (s, tail, 2) < 0)
                goto too_big;
        for (size_t k = 0; k < n_na; k++)
                if (stub_section (s, &na[k]) < 0)
                        goto too_big;
        head = JA (stub_len (s));
        if (stub_prepend (s, &head, 1) < 0)
                goto too_big;
        for (size_t k = 0; k < n_na; k++) {
                /* An arch with no section jumps over the whole stub. */
                uint32_t jump = stub_len (s) - na[k].jump_from_end;

                if (jump <= 255) {
                        const struct sock_filter j[] = { JEQ (na[k].audit, jump, 0) };

                        if (stub_prepend (s, j, 1) < 0)
                                goto too_big;
                } else {
                        const struct sock_filter j[] = { JEQ (na[k].audit, 0, 1), JA (jump) };

                        if (stub_prepend (s, j, 2) < 0)
                                goto too_big;
                }
        }
        head = LD_ARCH;
        if (stub_prepend (s, &head, 1) < 0)
                goto too_big;
        return 0;
too_big:
        return ce_fail (err, E2BIG, "seccomp: -ENOSYS stub too long");
}

int
seccomp_bpf_compile (yajl_val profile, uint8_t **bpf, size_t *len, struct ce_error *err)
{
        cleanup_seccomp scmp_filter_ctx ctx = NULL;
        cleanup_free uint8_t *prog = NULL;
        yajl_val def, archs, syscalls, flags, v;
        struct action def_action;
        bool def_errno_set, want_stub;
        uint64_t def_errno = 0;
        size_t prog_len = 0, total;
        struct stub stub;
        int ret;

        *bpf = NULL;
        *len = 0;
        if (profile == NULL || ! YAJL_IS_OBJECT (profile))
                return ce_fail (err, EINVAL, "seccomp profile: not an object");
        def = obj_get (profile, "defaultAction");
        archs = obj_get (profile, "architectures");
        syscalls = obj_get (profile, "syscalls");
        flags = obj_get (profile, "flags");
        if (archs && YAJL_IS_NULL (archs))
                archs = NULL;
        if (syscalls && YAJL_IS_NULL (syscalls))
                syscalls = NULL;
        if ((archs && ! YAJL_IS_ARRAY (archs)) || (syscalls && ! YAJL_IS_ARRAY (syscalls))
            || (def && ! YAJL_IS_STRING (def)))
                return ce_fail (err, EINVAL, "seccomp profile: wrong types");
        /* runc: no default action and no rules means no seccomp at all. */
        if ((def == NULL || def->u.string[0] == '\0')
            && (syscalls == NULL || syscalls->u.array.len == 0))
                return 0;
        if (flags && ! YAJL_IS_NULL (flags) && ! (YAJL_IS_ARRAY (flags) && flags->u.array.len == 0))
                return ce_fail (err, EINVAL, "seccomp profile: flags are not supported (runc 1.1)");
        if (get_errno_ret (obj_get (profile, "defaultErrnoRet"), &def_errno_set, &def_errno) < 0)
                return ce_fail (err, EINVAL, "seccomp profile: bad defaultErrnoRet");
        if (def == NULL)
                return ce_fail (err, EINVAL, "seccomp profile: no defaultAction");
        ret = parse_action (def, def_errno_set, def_errno, &def_action, err);
        if (ret < 0)
                return ret;
        for (size_t i = 0; archs && i < archs->u.array.len; i++) {
                yajl_val a = archs->u.array.values[i];
                size_t k = N_ARCH;

                if (YAJL_IS_STRING (a))
                        for (k = 0; k < N_ARCH && strcmp (arch_table[k].name, a->u.string); k++)
                                ;
                if (k == N_ARCH)
                        return ce_fail (err, EINVAL, "seccomp profile: unknown architecture %s",
                                        YAJL_IS_STRING (a) ? a->u.string : "(not a string)");
        }

        ctx = seccomp_init (def_action.act);
        if (ctx == NULL)
                return ce_fail (err, EINVAL, "seccomp_init failed");
        for (size_t i = 0; archs && i < archs->u.array.len; i++) {
                size_t k;

                for (k = 0; strcmp (arch_table[k].name, archs->u.array.values[i]->u.string); k++)
                        ;
                ret = seccomp_arch_add (ctx, arch_table[k].scmp);
                if (ret < 0 && ret != -EEXIST)
                        return ce_fail (err, -ret, "seccomp_arch_add %s: %s", arch_table[k].name,
                                        strerror (-ret));
        }
        for (size_t i = 0; syscalls && i < syscalls->u.array.len; i++) {
                yajl_val call = syscalls->u.array.values[i], names;
                struct scmp_arg_cmp conds[64];
                struct action a;
                bool errno_set, split;
                uint64_t errno_val = 0;
                unsigned n;

                if (! YAJL_IS_OBJECT (call))
                        return ce_fail (err, EINVAL,
                                        "seccomp profile: a syscalls entry is not an object");
                ret = check_names (call, &names, err);
                if (ret < 0)
                        return ret;
                if (get_errno_ret (obj_get (call, "errnoRet"), &errno_set, &errno_val) < 0)
                        return ce_fail (err, EINVAL, "seccomp profile: bad errnoRet");
                v = obj_get (call, "action");
                ret = parse_action (v ? v : &(struct yajl_val_s){ .type = yajl_t_null }, errno_set,
                                    errno_val, &a, err);
                if (ret < 0)
                        return ret;
                ret = parse_args (obj_get (call, "args"), conds, &n, &split, err);
                if (ret < 0)
                        return ret;
                for (size_t j = 0; names && j < names->u.array.len; j++) {
                        ret = add_rule (ctx, names->u.array.values[j]->u.string, &a, def_action.act,
                                        conds, n, split, err);
                        if (ret < 0)
                                return ret;
                }
        }
        ret = export_program (ctx, &prog, &prog_len, err);
        if (ret < 0)
                return ret;

        /* runc 1.1 skips the stub when defaultErrnoRet equals the whole
         * SCMP_ACT_ERRNO(ENOSYS) action value rather than ENOSYS, so in
         * practice only behind a permissive default.  Same test here. */
        want_stub = ! def_action.permissive
                    && ! (def_errno_set && def_errno == (uint64_t) SCMP_ACT_ERRNO (ENOSYS));
        stub.start = STUB_MAX;
        if (want_stub) {
                ret = build_stub (syscalls ? syscalls
                                           : &(struct yajl_val_s){ .type = yajl_t_array },
                                  archs, &stub, err);
                if (ret < 0)
                        return ret;
        }
        total = stub_len (&stub) * sizeof (struct sock_filter) + prog_len;
        if (total > BPF_MAXINSNS * sizeof (struct sock_filter))
                return ce_fail (err, E2BIG, "seccomp: %zu instructions, the kernel takes %d",
                                total / sizeof (struct sock_filter), BPF_MAXINSNS);
        *bpf = malloc (total);
        if (*bpf == NULL)
                return ce_fail (err, ENOMEM, "out of memory");
        memcpy (*bpf, &stub.insn[stub.start], stub_len (&stub) * sizeof (struct sock_filter));
        memcpy (*bpf + stub_len (&stub) * sizeof (struct sock_filter), prog, prog_len);
        *len = total;
        return 0;
}
