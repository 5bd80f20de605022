/* Unit tests for the warm pool's policy (warm.h's warm_policy_*): which
 * language gets the next slot, which one gives up a slot when max_idle is
 * reached, when a language goes idle and what it holds, with made-up
 * clocks and no containers. */
#include "test.h"
#include "warm.h"

/* t seconds (plus ms milliseconds) after an arbitrary origin. */
static struct timespec
at (long t, long ms)
{
        struct timespec ts = { .tv_sec = 1000 + t, .tv_nsec = ms * 1000000L };

        return ts;
}

static const struct warm_params params = { .per_language = 2, .max_idle = 4, .idle_seconds = 60 };

/* A language asked for at t, holding nidle idle slots and making `making`. */
static struct warm_demand
asked (long t, size_t nidle, size_t making)
{
        struct warm_demand d = { 0 };

        warm_policy_asked (&d, &params, at (t, 0));
        d.nidle = nidle;
        d.making = making;
        return d;
}

static size_t
next (const struct warm_demand *d, size_t n, size_t pooled, struct timespec now, size_t *victim)
{
        return warm_policy_next (d, n, pooled, &params, now, victim);
}

static void
test_asked (void)
{
        struct warm_demand d = { 0 };
        struct warm_params off = params;

        /* Asked for: in demand, wants per_language, and remembers when. */
        warm_policy_asked (&d, &params, at (5, 250));
        CHECK (d.want == 2);
        CHECK (d.last_asked.tv_sec == at (5, 0).tv_sec);
        CHECK (d.last_asked.tv_nsec == 250000000L);
        /* A pool of 0 per language never wants a slot. */
        off.per_language = 0;
        d = (struct warm_demand){ 0 };
        warm_policy_asked (&d, &off, at (5, 0));
        CHECK (d.want == 0);
}

static void
test_next_one_language (void)
{
        struct warm_demand d[1] = { { 0 } };
        size_t victim = 0;

        /* Never asked for: holds nothing. */
        CHECK (next (d, 1, 0, at (10, 0), &victim) == WARM_NONE);
        CHECK (victim == WARM_NONE);
        CHECK (next (d, 0, 0, at (10, 0), &victim) == WARM_NONE);

        /* Asked for: filled up to per_language, counting slots being made. */
        d[0] = asked (0, 0, 0);
        CHECK (next (d, 1, 0, at (1, 0), &victim) == 0);
        CHECK (victim == WARM_NONE);
        d[0] = asked (0, 1, 0);
        CHECK (next (d, 1, 1, at (1, 0), &victim) == 0);
        d[0] = asked (0, 0, 1);
        CHECK (next (d, 1, 1, at (1, 0), &victim) == 0);
        d[0] = asked (0, 1, 1);
        CHECK (next (d, 1, 2, at (1, 0), &victim) == WARM_NONE);
        d[0] = asked (0, 2, 0);
        CHECK (next (d, 1, 2, at (1, 0), &victim) == WARM_NONE);

        /* After a failure it waits until retry_at, then tries again. */
        d[0] = asked (0, 0, 0);
        d[0].retry_at = at (5, 0);
        CHECK (next (d, 1, 0, at (4, 999), &victim) == WARM_NONE);
        CHECK (next (d, 1, 0, at (5, 0), &victim) == 0);
        CHECK (next (d, 1, 0, at (6, 0), &victim) == 0);
}

static void
test_next_most_short_first (void)
{
        struct warm_demand d[3];
        size_t victim = 0;

        /* The language with the fewest slots (idle or being made) first... */
        d[0] = asked (3, 1, 0);
        d[1] = asked (1, 0, 0);
        d[2] = asked (2, 0, 1);
        CHECK (next (d, 3, 2, at (10, 0), &victim) == 1);
        CHECK (victim == WARM_NONE);
        /* ...among equals the one asked for last... */
        d[1] = asked (1, 0, 1);
        CHECK (next (d, 3, 3, at (10, 0), &victim) == 0);
        d[0].last_asked = at (1, 0);
        d[2].last_asked = at (1, 1);
        CHECK (next (d, 3, 3, at (10, 0), &victim) == 2);
        /* (the same millisecond: the first in the list) */
        d[2].last_asked = at (1, 0);
        CHECK (next (d, 3, 3, at (10, 0), &victim) == 0);
        /* ...passing over the full ones and those waiting to retry. */
        d[0] = asked (3, 2, 0);
        d[1] = asked (2, 0, 0);
        d[1].retry_at = at (20, 0);
        d[2] = asked (1, 1, 0);
        CHECK (next (d, 3, 3, at (10, 0), &victim) == 2);
        d[2] = asked (1, 2, 0);
        CHECK (next (d, 3, 4, at (10, 0), &victim) == WARM_NONE);
        CHECK (victim == WARM_NONE);
}

static void
test_next_at_max_idle (void)
{
        struct warm_demand d[3];
        size_t victim = 0;

        /* max_idle (4) reached: the newcomer takes the oldest idle slot of the
         * language asked for longest ago. */
        d[0] = asked (2, 2, 0);
        d[1] = asked (1, 2, 0);
        d[2] = asked (5, 0, 0);
        CHECK (next (d, 3, 4, at (10, 0), &victim) == 2);
        CHECK (victim == 1);
        /* Below max_idle nobody gives anything up. */
        CHECK (next (d, 3, 3, at (10, 0), &victim) == 2);
        CHECK (victim == WARM_NONE);
        /* Slots being made count toward max_idle too. */
        d[0] = asked (2, 1, 1);
        d[1] = asked (1, 1, 1);
        CHECK (next (d, 3, 4, at (10, 0), &victim) == 2);
        CHECK (victim == 1);
        /* A language with no idle slot (only some being made) cannot give one up. */
        d[1] = asked (1, 0, 2);
        CHECK (next (d, 3, 4, at (10, 0), &victim) == 2);
        CHECK (victim == 0);
        /* Nobody asked for before the newcomer: the pool stays as it is, so
         * that two languages cannot take slots from each other for ever. */
        d[0] = asked (6, 2, 0);
        d[1] = asked (7, 2, 0);
        CHECK (next (d, 3, 4, at (10, 0), &victim) == WARM_NONE);
        CHECK (victim == WARM_NONE);
        /* Asked for in the same millisecond is not before. */
        d[0] = asked (5, 2, 0);
        CHECK (next (d, 3, 4, at (10, 0), &victim) == WARM_NONE);
        /* A language short of its own want may take from an older one... */
        d[0] = asked (1, 2, 0);
        d[1] = asked (3, 1, 0);
        d[2] = asked (2, 1, 0);
        CHECK (next (d, 3, 4, at (10, 0), &victim) == 1);
        CHECK (victim == 0);
        /* ...but never from itself. */
        d[0] = asked (1, 2, 0);
        d[1] = asked (3, 2, 0);
        d[2] = asked (0, 0, 0);
        d[2].want = 0;
        d[0].nidle = 1;
        CHECK (next (d, 3, 4, at (10, 0), &victim) == WARM_NONE);
        CHECK (victim == WARM_NONE);
}

static void
test_expired (void)
{
        struct warm_demand d = { 0 };

        /* Never asked for: nothing to expire. */
        CHECK (! warm_policy_expired (&d, &params, at (1000, 0)));
        /* In demand until idle_seconds have passed since the last take. */
        d = asked (10, 2, 0);
        CHECK (! warm_policy_expired (&d, &params, at (10, 0)));
        CHECK (! warm_policy_expired (&d, &params, at (69, 999)));
        CHECK (warm_policy_expired (&d, &params, at (70, 0)));
        CHECK (warm_policy_expired (&d, &params, at (500, 0)));
        /* A take moves the deadline. */
        warm_policy_asked (&d, &params, at (65, 0));
        CHECK (! warm_policy_expired (&d, &params, at (70, 0)));
        CHECK (warm_policy_expired (&d, &params, at (125, 0)));
        /* Gone idle (want 0): expired once, not again. */
        d.want = 0;
        CHECK (! warm_policy_expired (&d, &params, at (500, 0)));
}

static void
test_keeps (void)
{
        struct warm_demand d = asked (0, 0, 1);

        /* A slot just made idles while the language holds fewer than
         * per_language idle slots. */
        CHECK (warm_policy_keeps (&d, &params));
        d.nidle = 1;
        CHECK (warm_policy_keeps (&d, &params));
        d.nidle = 2;
        CHECK (! warm_policy_keeps (&d, &params));
}

int
main (void)
{
        test_asked ();
        test_next_one_language ();
        test_next_most_short_first ();
        test_next_at_max_idle ();
        test_expired ();
        test_keeps ();
        TEST_DONE ();
}
