/* Unit tests for cgroup.c's parsers: mount options, cgroup.controllers and
 * "key value" files, on the v1 and v2 texts the kernel writes. */
#include "cgroup.h"
#include "test.h"

int
main (void)
{
        /* A v1 mount's super options: whole names only. */
        CHECK (cgroup_has_option ("rw,cpu,cpuacct", "cpuacct"));
        CHECK (cgroup_has_option ("rw,cpu,cpuacct", "cpu"));
        CHECK (! cgroup_has_option ("rw,cpuacct", "cpu"));
        CHECK (cgroup_has_option ("memory", "memory"));
        CHECK (! cgroup_has_option ("", "memory"));
        CHECK (! cgroup_has_option ("rw,nosuid,memoryx", "memory"));

        /* cgroup.controllers: space separated, a newline at the end. */
        CHECK (cgroup_has_word ("cpuset cpu io memory pids\n", "pids"));
        CHECK (cgroup_has_word ("cpuset cpu io memory pids\n", "cpu"));
        CHECK (cgroup_has_word ("memory", "memory"));
        CHECK (! cgroup_has_word ("cpuset io memory\n", "cpu"));
        CHECK (! cgroup_has_word ("hugetlb misc\n", "memory"));

        /* memory.events (v2), memory.oom_control (v1), cpu.stat (v2). */
        CHECK (cgroup_keyed_value ("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n", "oom_kill") == 1);
        CHECK (cgroup_keyed_value ("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n", "oom") == 1);
        CHECK (cgroup_keyed_value ("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill")
               == 3);
        CHECK (cgroup_keyed_value ("usage_usec 123456\nuser_usec 100000\n", "usage_usec")
               == 123456);
        CHECK (cgroup_keyed_value ("usage_usec 5\n", "user_usec") == -1);
        CHECK (cgroup_keyed_value ("", "oom_kill") == -1);
        TEST_DONE ();
}
