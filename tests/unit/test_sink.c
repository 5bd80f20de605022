/* Unit tests for sink.h / sink.c: the server's total of live output held for
 * slow clients, and the UTF-8 joiner that cuts output at whole characters. */
#include <pthread.h>

#include "sink.h"
#include "test.h"

struct emitted {
        char text[256];
        size_t len;
        int pieces;
};

static void
collect (void *arg, int i, const char *data, size_t len)
{
        struct emitted *e = arg;

        (void) i;
        memcpy (e->text + e->len, data, len);
        e->len += len;
        e->pieces++;
}

static void *
take_and_release (void *arg)
{
        (void) arg;
        for (int i = 0; i < 100000; i++)
                if (sink_budget_take (100))
                        sink_budget_release (100);
        return NULL;
}

int
main (void)
{
        /* The budget: all or nothing, up to the total, forced adds always. */
        CHECK (sink_budget_used () == 0);
        CHECK (sink_budget_take (SINK_MAX_PENDING_TOTAL - 10));
        CHECK (! sink_budget_take (11));
        CHECK (sink_budget_used () == SINK_MAX_PENDING_TOTAL - 10);
        CHECK (sink_budget_take (10));
        CHECK (! sink_budget_take (1));
        sink_budget_add (50); /* a result line: past the total */
        CHECK (sink_budget_used () == SINK_MAX_PENDING_TOTAL + 50);
        CHECK (! sink_budget_take (1));
        sink_budget_release (SINK_MAX_PENDING_TOTAL + 50);
        CHECK (sink_budget_used () == 0);
        CHECK (! sink_budget_take (SINK_MAX_PENDING_TOTAL + 1));
        CHECK (sink_budget_used () == 0);
        {
                pthread_t t[4];

                for (int i = 0; i < 4; i++)
                        CHECK (pthread_create (&t[i], NULL, take_and_release, NULL) == 0);
                for (int i = 0; i < 4; i++)
                        pthread_join (t[i], NULL);
                CHECK (sink_budget_used () == 0);
        }

        /* The joiner: a character cut between two chunks is emitted whole. */
        {
                struct sink_utf8_joiner j = { 0 };
                struct emitted e = { 0 };

                sink_utf8_feed (&j, "a\xe2\x9c", 3, collect, &e, 0);
                CHECK (e.len == 1 && e.text[0] == 'a');
                sink_utf8_feed (&j,
                                "\x93"
                                "b",
                                2, collect, &e, 0);
                CHECK (e.len == 5
                       && memcmp (e.text,
                                  "a\xe2\x9c\x93"
                                  "b",
                                  5)
                                  == 0);
                /* A stage that ends on a cut character emits what is left. */
                sink_utf8_feed (&j, "\xf0\x9f", 2, collect, &e, 0);
                CHECK (e.len == 5);
                sink_utf8_flush (&j, collect, &e, 0);
                CHECK (e.len == 7 && memcmp (e.text + 5, "\xf0\x9f", 2) == 0);
                CHECK (j.len == 0);
        }
        CHECK (sink_utf8_complete ("abc", 3) == 3);
        CHECK (sink_utf8_complete ("ab\xc3", 3) == 2);
        CHECK (sink_utf8_complete ("ab\xc3\xa9", 4) == 4);
        CHECK (sink_utf8_complete ("\xe2\x9c", 2) == 0);
        CHECK (sink_utf8_complete ("\x80\x80", 2) == 2); /* stray continuation bytes: as they are */
        TEST_DONE ();
}
