/*
 * sink.c - the server's total of live output held for slow clients (sink.h).
 *
 * One atomic counter: transports take from it before they queue output and
 * give back what they sent or dropped.  Lock-free, so that the supervisor
 * thread (which calls the sinks with its lock held) never waits on it.
 */
#include "sink.h"

#include <stdatomic.h>

static atomic_size_t pending_total;

bool
sink_budget_take (size_t n)
{
        size_t cur = atomic_load (&pending_total);

        do {
                if (cur > SINK_MAX_PENDING_TOTAL || n > SINK_MAX_PENDING_TOTAL - cur)
                        return false;
        } while (! atomic_compare_exchange_weak (&pending_total, &cur, cur + n));
        return true;
}

void
sink_budget_add (size_t n)
{
        atomic_fetch_add (&pending_total, n);
}

void
sink_budget_release (size_t n)
{
        atomic_fetch_sub (&pending_total, n);
}

size_t
sink_budget_used (void)
{
        return atomic_load (&pending_total);
}
