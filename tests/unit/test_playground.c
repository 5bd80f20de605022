/* Unit tests for playground.h: which Accept headers get the page (a
 * browser's navigation does; curl's default, API clients and text/html
 * refused with q=0 do not), and the embedded files: found by name with
 * their types and ETags, unknown names and other paths not. */
#include <string.h>

#include "playground.h"
#include "test.h"

static void
test_wants_html (void)
{
        CHECK (playground_wants_html (
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"));
        CHECK (playground_wants_html ("TEXT/HTML"));
        CHECK (playground_wants_html ("application/json, text/html ; q=0.5"));
        CHECK (! playground_wants_html (NULL));
        CHECK (! playground_wants_html (""));
        CHECK (! playground_wants_html ("*/*"));
        CHECK (! playground_wants_html ("application/json"));
        CHECK (! playground_wants_html ("application/x-ndjson"));
        CHECK (! playground_wants_html ("text/html;q=0"));
        CHECK (! playground_wants_html ("text/html; q=0.0, application/json"));
        CHECK (! playground_wants_html ("text/htmlx"));
}

static void
test_find (void)
{
        const struct playground_asset *a = playground_find ("index.html");

        CHECK (a != NULL);
        CHECK_STR (a->type, "text/html; charset=utf-8");
        CHECK (a->len > 0 && strstr ((const char *) a->data, "<script src=") != NULL);
        CHECK (strlen (a->etag) == 34 && a->etag[0] == '"' && a->etag[33] == '"');
        a = playground_find ("codemirror/lib/codemirror.js");
        CHECK (a != NULL);
        CHECK_STR (a->type, "text/javascript; charset=utf-8");
        CHECK (playground_find ("codemirror/lib/codemirror.css") != NULL);
        CHECK (playground_find ("nope.js") == NULL);
        CHECK (playground_find ("") == NULL);
        CHECK (playground_find ("../index.html") == NULL);
        CHECK (playground_find ("/index.html") == NULL);
}

int
main (void)
{
        test_wants_html ();
        test_find ();
        TEST_DONE ();
}
