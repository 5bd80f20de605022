/* Unit tests for callback delivery (callback.h): the URL rules (schemes,
 * userinfo, ports, lengths, every refused range and their IPv6 forms, the
 * allowed CIDRs), and real deliveries to a scripted HTTP listener on
 * 127.0.0.1 run by the test in a thread: the method, content type, body and
 * HMAC signature; a retry after a 500 and after a 503 with Retry-After; a
 * 400 given up at once; a refused connection retried max_attempts times;
 * loopback refused at connect time for a DNS name; a full queue; a stop
 * that drops what it cannot deliver by its deadline; the secret file and
 * the JSON counters.  No traffic leaves 127.0.0.1. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nettle/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "callback.h"
#include "test.h"

/* ---- a scripted HTTP/1.1 listener ---- */

#define MAX_REQS 16

struct req {
        char method[8];
        char path[64];
        char ctype[64];
        char sig[96];
        char attempt[8];
        char ua[32];
        char body[256];
        size_t body_len;
        struct timespec at;
};

struct server {
        int fd;
        unsigned port;
        pthread_t thread;
        pthread_mutex_t lock; /* guards everything below */
        int script[8];        /* the status of the i-th request; the last repeats */
        size_t nscript;
        bool hang; /* read requests, never answer */
        bool stop;
        struct req reqs[MAX_REQS];
        size_t nreqs;
        int held[MAX_REQS]; /* hang: the connections kept open */
        size_t nheld;
};

/* The value of header name in the head (NUL-terminated), into out. */
static void
header (const char *head, const char *name, char *out, size_t size)
{
        size_t nlen = strlen (name);

        out[0] = '\0';
        for (const char *l = strstr (head, "\r\n"); l; l = strstr (l + 2, "\r\n"))
                if (strncasecmp (l + 2, name, nlen) == 0 && l[2 + nlen] == ':') {
                        const char *v = l + 3 + nlen;
                        size_t n;

                        v += strspn (v, " ");
                        n = strcspn (v, "\r");
                        snprintf (out, size, "%.*s", (int) n, v);
                        return;
                }
}

static void
serve_one (struct server *sv, int c)
{
        char buf[8192], cl[16];
        struct req r = { 0 };
        size_t n = 0, head_len, want;
        char *end;
        int status;

        while (n < sizeof (buf) - 1) {
                ssize_t k = read (c, buf + n, sizeof (buf) - 1 - n);

                if (k <= 0)
                        break;
                n += (size_t) k;
                buf[n] = '\0';
                if ((end = strstr (buf, "\r\n\r\n")) != NULL) {
                        head_len = (size_t) (end - buf) + 4;
                        *end = '\0';
                        header (buf, "Content-Length", cl, sizeof (cl));
                        want = head_len + (size_t) atoi (cl);
                        while (n < want && n < sizeof (buf) - 1) {
                                k = read (c, buf + n, sizeof (buf) - 1 - n);
                                if (k <= 0)
                                        break;
                                n += (size_t) k;
                        }
                        sscanf (buf, "%7s %63s", r.method, r.path);
                        header (buf, "Content-Type", r.ctype, sizeof (r.ctype));
                        header (buf, "X-CodeEngine-Signature", r.sig, sizeof (r.sig));
                        header (buf, "X-CodeEngine-Attempt", r.attempt, sizeof (r.attempt));
                        header (buf, "User-Agent", r.ua, sizeof (r.ua));
                        r.body_len = n - head_len < sizeof (r.body) ? n - head_len : 0;
                        memcpy (r.body, buf + head_len, r.body_len);
                        r.at = ce_now ();
                        break;
                }
        }
        pthread_mutex_lock (&sv->lock);
        status = sv->script[sv->nreqs < sv->nscript ? sv->nreqs : sv->nscript - 1];
        if (sv->nreqs < MAX_REQS)
                sv->reqs[sv->nreqs++] = r;
        if (sv->hang && sv->nheld < MAX_REQS) {
                sv->held[sv->nheld++] = c;
                c = -1;
        }
        pthread_mutex_unlock (&sv->lock);
        if (c < 0)
                return;
        n = (size_t) snprintf (buf, sizeof (buf),
                               "HTTP/1.1 %d Scripted\r\n%sContent-Length: 2\r\n"
                               "Connection: close\r\n\r\nok",
                               status, status == 503 ? "Retry-After: 1\r\n" : "");
        CHECK (ce_write_all (c, buf, n) == 0);
        close (c);
}

static void *
server_thread (void *arg)
{
        struct server *sv = arg;

        for (;;) {
                struct pollfd p = { .fd = sv->fd, .events = POLLIN };
                bool stop;
                int c;

                pthread_mutex_lock (&sv->lock);
                stop = sv->stop;
                pthread_mutex_unlock (&sv->lock);
                if (stop)
                        return NULL;
                if (poll (&p, 1, 20) <= 0)
                        continue;
                c = accept4 (sv->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c >= 0)
                        serve_one (sv, c);
        }
}

/* A listener on 127.0.0.1:0 answering the statuses of script, in order
 * (the last one repeats). */
static struct server *
server_start (const int *script, size_t nscript, bool hang)
{
        struct server *sv = calloc (1, sizeof (*sv));
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t alen = sizeof (a);

        pthread_mutex_init (&sv->lock, NULL);
        memcpy (sv->script, script, nscript * sizeof (*script));
        sv->nscript = nscript;
        sv->hang = hang;
        a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        sv->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK (sv->fd >= 0);
        CHECK (bind (sv->fd, (struct sockaddr *) &a, sizeof (a)) == 0);
        CHECK (listen (sv->fd, 16) == 0);
        CHECK (getsockname (sv->fd, (struct sockaddr *) &a, &alen) == 0);
        sv->port = ntohs (a.sin_port);
        CHECK (pthread_create (&sv->thread, NULL, server_thread, sv) == 0);
        return sv;
}

static size_t
server_nreqs (struct server *sv)
{
        size_t n;

        pthread_mutex_lock (&sv->lock);
        n = sv->nreqs;
        pthread_mutex_unlock (&sv->lock);
        return n;
}

static void
server_stop (struct server *sv)
{
        pthread_mutex_lock (&sv->lock);
        sv->stop = true;
        pthread_mutex_unlock (&sv->lock);
        pthread_join (sv->thread, NULL);
        for (size_t i = 0; i < sv->nheld; i++)
                close (sv->held[i]);
        close (sv->fd);
        pthread_mutex_destroy (&sv->lock);
        free (sv);
}

/* A port on 127.0.0.1 that nobody listens on (bound, then closed). */
static unsigned
closed_port (void)
{
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t alen = sizeof (a);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        CHECK (bind (fd, (struct sockaddr *) &a, sizeof (a)) == 0);
        CHECK (getsockname (fd, (struct sockaddr *) &a, &alen) == 0);
        close (fd);
        return ntohs (a.sin_port);
}

/* ---- helpers ---- */

static struct callback_sender *
sender (struct callback_params p)
{
        struct callback_sender *s = NULL;
        struct ce_error err = { 0 };

        if (callback_sender_new (&p, &s, &err) < 0) {
                fprintf (stderr, "callback_sender_new: %s\n", err.msg);
                test_failures++;
        }
        return s;
}

/* Wait (5 s at most) until n deliveries have ended; the counters. */
static struct callback_stats
wait_ended (struct callback_sender *s, uint64_t n)
{
        struct timespec deadline = ce_deadline_after_ms (5000);
        struct callback_stats st;

        for (;;) {
                callback_stats (s, &st);
                if (st.delivered + st.failed >= n || ! ce_time_before (ce_now (), deadline))
                        return st;
                usleep (5000);
        }
}

static int
send_to (struct callback_sender *s, const char *method, unsigned port, const char *host,
         const char *body)
{
        struct ce_error err = { 0 };
        char url[128];
        int ret;

        snprintf (url, sizeof (url), "http://%s:%u/hook?job=1", host, port);
        ret = callback_send (s, method, url, "application/json", body, strlen (body), &err);
        if (ret < 0 && ret != -EAGAIN)
                fprintf (stderr, "callback_send %s: %s\n", url, err.msg);
        return ret;
}

/* ---- the URL rules ---- */

static void
test_url_check (void)
{
        static const char *refused[] = {
                "https://93.184.216.34/",
                "ftp://93.184.216.34/",
                "93.184.216.34/x",
                "http://user@93.184.216.34/",
                "http://user:pw@example.com/",
                "http://169.254.169.254/latest/meta-data/",
                "http://10.1.2.3/",
                "http://192.168.1.1/",
                "http://172.16.0.1/",
                "http://172.31.255.255/",
                "http://100.64.0.1/",
                "http://127.0.0.1/",
                "http://127.1/",
                "http://2130706433/",
                "http://0x7f000001/",
                "http://0177.0.0.1/",
                "http://[::1]/",
                "http://[fe80::1]/",
                "http://[fe80::1%25eth0]/",
                "http://[fd00::1]/",
                "http://[::ffff:10.0.0.1]/",
                "http://[::ffff:169.254.169.254]/",
                "http://[::ffff:127.0.0.1]/",
                "http://[64:ff9b::a9fe:a9fe]/",
                "http://[2002:a00:1::]/",
                "http://[::]/",
                "http://0.0.0.0/",
                "http://0/",
                "http://224.0.0.1/",
                "http://[ff02::1]/",
                "http://255.255.255.255/",
                "http://240.0.0.1/",
                "http://192.0.2.1/",
                "http://[2001:db8::1]/",
                "http://exa mple.com/",
                "http://example.com/a b",
                "http://example.com/\n",
                "http://example.com\\@169.254.169.254/",
                "http://example.com/#frag",
                "http://example.com:0/",
                "http://example.com:65536/",
                "http://example.com:/",
                "http://example.com:80x/",
                "http:///path",
                "http://",
                "http://[::1/",
                "http://[93.184.216.34]/",
                "http://ex$mple.com/",
                "",
        };
        static const char *accepted[] = {
                "http://93.184.216.34/x",
                "HTTP://93.184.216.34/x",
                "http://example.com",
                "http://example.com:8080/a/b?c=d&e=%20f",
                "http://hooks.example.com./x",
                "http://[2606:2800:220:1:248:1893:25c8:1946]:8080/",
                "http://[::ffff:93.184.216.34]/",
                "http://localhost:1/", /* a name: checked at connect time */
                "http://172.32.0.1/",
                "http://100.128.0.1/",
        };
        struct callback_sender *s = sender ((struct callback_params){ 0 });
        struct ce_error err = { 0 };
        char *longurl;

        if (s == NULL)
                return;
        for (size_t i = 0; i < sizeof (refused) / sizeof (refused[0]); i++) {
                int ret = callback_url_check (s, refused[i], &err);

                if (ret != -EINVAL)
                        fprintf (stderr, "not refused: '%s'\n", refused[i]);
                CHECK (ret == -EINVAL);
                CHECK (strncmp (err.msg, "callback_url: ", 14) == 0);
                CHECK (err.http_status == 0); /* the front-end says 400 */
        }
        for (size_t i = 0; i < sizeof (accepted) / sizeof (accepted[0]); i++) {
                int ret = callback_url_check (s, accepted[i], &err);

                if (ret != 0)
                        fprintf (stderr, "refused: '%s': %s\n", accepted[i], err.msg);
                CHECK (ret == 0);
        }
        CHECK (callback_url_check (s, "http://169.254.169.254/", &err) == -EINVAL);
        CHECK_STR (err.msg, "callback_url: link-local addresses are refused (169.254.169.254)");
        CHECK (callback_url_check (s, "http://[::ffff:10.0.0.1]/", &err) == -EINVAL);
        CHECK_STR (err.msg, "callback_url: private addresses are refused (::ffff:10.0.0.1)");
        CHECK (callback_url_check (s, "http://2130706433/", &err) == -EINVAL);
        CHECK_STR (err.msg, "callback_url: loopback addresses are refused (127.0.0.1)");
        CHECK (callback_url_check (s, "https://example.com/", &err) == -EINVAL);
        CHECK (strstr (err.msg, "http://") != NULL);
        CHECK (callback_url_check (s, "http://u@example.com/", &err) == -EINVAL);
        CHECK (strstr (err.msg, "userinfo") != NULL);

        /* The length: 2048 bytes pass, 2049 and 3000 do not. */
        longurl = malloc (3001);
        memset (longurl, 'a', 3000);
        memcpy (longurl, "http://example.com/", 19);
        longurl[CALLBACK_URL_MAX] = '\0';
        CHECK (callback_url_check (s, longurl, &err) == 0);
        longurl[CALLBACK_URL_MAX] = 'a';
        longurl[CALLBACK_URL_MAX + 1] = '\0';
        CHECK (callback_url_check (s, longurl, &err) == -EINVAL);
        longurl[CALLBACK_URL_MAX + 1] = 'a';
        longurl[3000] = '\0';
        CHECK (callback_url_check (s, longurl, &err) == -EINVAL);
        CHECK (strstr (err.msg, "longer than 2048") != NULL);
        free (longurl);

        /* callback_send applies the same rules, and its own. */
        CHECK (callback_send (s, "POST", "http://10.0.0.1/", "application/json", "{}", 2, &err)
               == -EINVAL);
        CHECK (callback_send (s, "GET", "http://93.184.216.34/", "application/json", "{}", 2, &err)
               == -EINVAL);
        CHECK (callback_send (s, "POST", "http://93.184.216.34/", "a/b\r\nX-Evil: 1", "{}", 2, &err)
               == -EINVAL);
        callback_sender_free (s, ce_now ());
}

static void
test_allow (void)
{
        static const char *const bad[][2] = { { "10.0.0.0/33", NULL },
                                              { "nonsense", NULL },
                                              { "::/129", NULL },
                                              { "10.0.0.0/", NULL },
                                              { "10.0.0.0/-1", NULL } };
        static const char *const allow[] = { "10.0.0.0/8", "fd00::/8", "192.168.7.7", NULL };
        struct callback_params p = { 0 };
        struct callback_sender *s = NULL;
        struct ce_error err = { 0 };

        for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
                p.allow = bad[i];
                CHECK (callback_sender_new (&p, &s, &err) == -EINVAL);
                CHECK (strstr (err.msg, bad[i][0]) != NULL);
        }
        /* [0] with allow, [1] with allow_loopback alone */
        static const struct {
                const char *url;
                int want[2];
        } cases[] = {
                { "http://10.1.2.3/", { 0, -EINVAL } },
                { "http://[::ffff:10.0.0.1]/", { 0, -EINVAL } },
                { "http://[fd00::1]/", { 0, -EINVAL } },
                { "http://192.168.7.7/", { 0, -EINVAL } },
                { "http://192.168.7.8/", { -EINVAL, -EINVAL } },
                { "http://[fc00::1]/", { -EINVAL, -EINVAL } },
                { "http://169.254.169.254/", { -EINVAL, -EINVAL } },
                { "http://127.0.0.1:8080/", { -EINVAL, 0 } },
                { "http://[::1]/", { -EINVAL, 0 } },
                { "http://[::ffff:127.0.0.2]/", { -EINVAL, 0 } },
        };

        for (int k = 0; k < 2; k++) {
                p = k == 0 ? (struct callback_params){ .allow = allow }
                           : (struct callback_params){ .allow_loopback = true };
                s = sender (p);
                if (s == NULL)
                        return;
                for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
                        if (callback_url_check (s, cases[i].url, &err) != cases[i].want[k]) {
                                fprintf (stderr, "%s: not %d\n", cases[i].url, cases[i].want[k]);
                                test_failures++;
                        }
                callback_sender_free (s, ce_now ());
        }
}

/* ---- deliveries ---- */

static void
test_delivered_signed (void)
{
        static const int script[] = { 200, 204 };
        static const char key[] = "k3y-bytes";
        struct server *sv = server_start (script, 2, false);
        struct callback_params p = { .allow_loopback = true,
                                     .secret = (const unsigned char *) key,
                                     .secret_len = strlen (key) };
        struct callback_sender *s = sender (p);
        const char *body = "{\"id\":\"j1\",\"status\":\"done\"}";
        struct callback_stats st;
        struct hmac_sha256_ctx ctx;
        uint8_t mac[SHA256_DIGEST_SIZE];
        char want[80] = "sha256=";

        if (s == NULL)
                return;
        CHECK (send_to (s, "POST", sv->port, "127.0.0.1", body) == 0);
        st = wait_ended (s, 1);
        CHECK (st.delivered == 1 && st.failed == 0 && st.retried == 0 && st.pending == 0);
        CHECK (send_to (s, "PUT", sv->port, "127.0.0.1", "") == 0);
        st = wait_ended (s, 2);
        CHECK (st.delivered == 2 && st.failed == 0);
        callback_sender_free (s, ce_deadline_after_ms (1000));

        hmac_sha256_set_key (&ctx, strlen (key), (const uint8_t *) key);
        hmac_sha256_update (&ctx, strlen (body), (const uint8_t *) body);
        hmac_sha256_digest (&ctx, sizeof (mac), mac);
        for (size_t i = 0; i < sizeof (mac); i++)
                sprintf (want + 7 + 2 * i, "%02x", mac[i]);

        CHECK (server_nreqs (sv) == 2);
        CHECK_STR (sv->reqs[0].method, "POST");
        CHECK_STR (sv->reqs[0].path, "/hook?job=1");
        CHECK_STR (sv->reqs[0].ctype, "application/json");
        CHECK_STR (sv->reqs[0].sig, want);
        CHECK_STR (sv->reqs[0].attempt, "1");
        CHECK_STR (sv->reqs[0].ua, "CodeEngine");
        CHECK (sv->reqs[0].body_len == strlen (body)
               && memcmp (sv->reqs[0].body, body, strlen (body)) == 0);
        CHECK_STR (sv->reqs[1].method, "PUT");
        CHECK (sv->reqs[1].body_len == 0);
        CHECK (strncmp (sv->reqs[1].sig, "sha256=", 7) == 0 && strlen (sv->reqs[1].sig) == 71);
        server_stop (sv);
}

/* One delivery per case to a listener answering the case's statuses: what
 * is retried (5xx, 408, 429; a 503's Retry-After: 1 waits longer than the
 * backoff) and what is final (other 4xx, a redirect). */
static void
test_answers (void)
{
        static const struct {
                int script[2];
                size_t nscript;
                uint64_t delivered, failed, retried;
                int64_t min_gap_ms; /* between the two requests */
        } cases[] = {
                { { 500, 200 }, 2, 1, 0, 1, 15 }, { { 503, 200 }, 2, 1, 0, 1, 900 },
                { { 408, 204 }, 2, 1, 0, 1, 15 }, { { 429, 202 }, 2, 1, 0, 1, 15 },
                { { 400 }, 1, 0, 1, 0, 0 },       { { 404 }, 1, 0, 1, 0, 0 },
                { { 302 }, 1, 0, 1, 0, 0 },
        };

        for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
                struct server *sv = server_start (cases[i].script, cases[i].nscript, false);
                struct callback_sender *s = sender (
                        (struct callback_params){ .allow_loopback = true, .backoff_ms = 20 });
                struct callback_stats st;
                size_t n = cases[i].retried + 1;

                if (s == NULL)
                        return;
                CHECK (send_to (s, "POST", sv->port, "127.0.0.1", "{}") == 0);
                wait_ended (s, 1);
                usleep (100 * 1000); /* time for a retry that must not come */
                callback_stats (s, &st);
                if (st.delivered != cases[i].delivered || st.failed != cases[i].failed
                    || st.retried != cases[i].retried || st.pending != 0
                    || server_nreqs (sv) != n) {
                        fprintf (stderr, "case %d: delivered %llu failed %llu retried %llu\n",
                                 cases[i].script[0], (unsigned long long) st.delivered,
                                 (unsigned long long) st.failed, (unsigned long long) st.retried);
                        test_failures++;
                }
                CHECK_STR (sv->reqs[0].attempt, "1");
                CHECK (sv->reqs[0].sig[0] == '\0'); /* no secret: unsigned */
                if (n == 2) {
                        CHECK_STR (sv->reqs[1].attempt, "2");
                        CHECK (ce_ms_between (sv->reqs[0].at, sv->reqs[1].at)
                               >= cases[i].min_gap_ms);
                }
                callback_sender_free (s, ce_deadline_after_ms (1000));
                server_stop (sv);
        }
}

static void
test_connection_refused (void)
{
        struct callback_sender *s = sender ((struct callback_params){
                .allow_loopback = true, .backoff_ms = 10, .max_attempts = 3 });
        struct callback_stats st;

        if (s == NULL)
                return;
        CHECK (send_to (s, "POST", closed_port (), "127.0.0.1", "{}") == 0);
        st = wait_ended (s, 1);
        CHECK (st.delivered == 0 && st.failed == 1 && st.retried == 2 && st.pending == 0);
        callback_sender_free (s, ce_deadline_after_ms (1000));
}

/* Loopback through a DNS name: refused at connect time (no request
 * arrives, no retry) unless allowed; an allowed CIDR lets 127.0.0.1 in. */
static void
test_loopback (void)
{
        static const int script[] = { 200 };
        static const char *const allow[] = { "127.0.0.0/8", NULL };
        struct server *sv = server_start (script, 1, false);
        struct callback_sender *s =
                sender ((struct callback_params){ .backoff_ms = 10, .max_attempts = 3 });
        struct callback_stats st;
        struct ce_error err = { 0 };
        char url[64];

        if (s == NULL)
                return;
        snprintf (url, sizeof (url), "http://127.0.0.1:%u/", sv->port);
        CHECK (callback_url_check (s, url, &err) == -EINVAL);
        CHECK (send_to (s, "POST", sv->port, "127.0.0.1", "{}") == -EINVAL);
        snprintf (url, sizeof (url), "http://localhost:%u/", sv->port);
        CHECK (callback_url_check (s, url, &err) == 0);
        CHECK (send_to (s, "POST", sv->port, "localhost", "{}") == 0);
        st = wait_ended (s, 1);
        CHECK (st.delivered == 0 && st.failed == 1 && st.retried == 0);
        callback_sender_free (s, ce_deadline_after_ms (1000));
        CHECK (server_nreqs (sv) == 0);

        s = sender ((struct callback_params){ .allow = allow });
        if (s == NULL)
                return;
        CHECK (send_to (s, "POST", sv->port, "127.0.0.1", "{}") == 0);
        st = wait_ended (s, 1);
        CHECK (st.delivered == 1 && st.failed == 0);
        callback_sender_free (s, ce_deadline_after_ms (1000));
        CHECK (server_nreqs (sv) == 1);
        server_stop (sv);
}

/* max_pending bounds the queue; a stop returns by its deadline, dropping
 * deliveries waiting for their retry and transfers in flight. */
static void
test_full_and_stop (void)
{
        static const int script[] = { 200 };
        struct server *sv = server_start (script, 1, true);
        struct callback_sender *s = sender ((struct callback_params){
                .allow_loopback = true, .max_pending = 2, .backoff_ms = 10000 });
        struct callback_stats st;
        struct timespec t0;
        unsigned port = closed_port ();
        yajl_gen g;
        const unsigned char *json;
        size_t json_len;

        if (s == NULL)
                return;
        CHECK (send_to (s, "POST", port, "127.0.0.1", "{}") == 0);
        CHECK (send_to (s, "POST", port, "127.0.0.1", "{}") == 0);
        CHECK (send_to (s, "POST", port, "127.0.0.1", "{}") == -EAGAIN);
        for (int i = 0; i < 500; i++) {
                callback_stats (s, &st);
                if (st.retried == 2)
                        break;
                usleep (5000);
        }
        CHECK (st.retried == 2 && st.pending == 2);

        g = yajl_gen_alloc (NULL);
        CHECK (callback_gen (s, g) == yajl_gen_status_ok);
        yajl_gen_get_buf (g, &json, &json_len);
        CHECK_STR ((const char *) json, "{\"pending\":2,\"max_pending\":2,\"delivered\":0,"
                                        "\"failed\":0,\"retried\":2}");
        yajl_gen_free (g);

        t0 = ce_now ();
        callback_sender_free (s, ce_deadline_after_ms (200));
        CHECK (ce_ms_between (t0, ce_now ()) < 1000);

        /* In flight: the listener reads and never answers. */
        s = sender ((struct callback_params){ .allow_loopback = true, .timeout_ms = 30000 });
        if (s == NULL)
                return;
        CHECK (send_to (s, "POST", sv->port, "127.0.0.1", "{}") == 0);
        for (int i = 0; i < 500 && server_nreqs (sv) < 1; i++)
                usleep (5000);
        CHECK (server_nreqs (sv) == 1);
        t0 = ce_now ();
        callback_sender_free (s, ce_deadline_after_ms (200));
        CHECK (ce_ms_between (t0, ce_now ()) >= 150);
        CHECK (ce_ms_between (t0, ce_now ()) < 1000);
        server_stop (sv);
}

/* Many deliveries at once, more than are in flight at a time. */
static void
test_many (void)
{
        static const int script[] = { 200 };
        struct server *sv = server_start (script, 1, false);
        struct callback_sender *s = sender ((struct callback_params){ .allow_loopback = true });
        struct callback_stats st;

        if (s == NULL)
                return;
        for (int i = 0; i < 40; i++)
                CHECK (send_to (s, "POST", sv->port, "127.0.0.1", "{}") == 0);
        st = wait_ended (s, 40);
        CHECK (st.delivered == 40 && st.pending == 0);
        callback_sender_free (s, ce_deadline_after_ms (1000));
        server_stop (sv);
}

/* ---- the secret file ---- */

static void
write_file (const char *path, const char *data, size_t len)
{
        int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        CHECK (fd >= 0 && ce_write_all (fd, data, len) == 0);
        close (fd);
}

static void
test_secret (void)
{
        char dir[] = "/tmp/test_callback.XXXXXX", path[64];
        struct ce_error err = { 0 };
        unsigned char *buf = NULL;
        size_t len = 0;
        char *big;

        CHECK (mkdtemp (dir) != NULL);
        snprintf (path, sizeof (path), "%s/secret", dir);
        write_file (path, "s3cret\n", 7);
        CHECK (callback_read_secret (path, &buf, &len, &err) == 0);
        CHECK (len == 6 && memcmp (buf, "s3cret", 6) == 0);
        free (buf);
        write_file (path, "s3\ncret\r\n", 9);
        CHECK (callback_read_secret (path, &buf, &len, &err) == 0);
        CHECK (len == 7 && memcmp (buf, "s3\ncret", 7) == 0);
        free (buf);
        write_file (path, "s3cret\n\n", 8);
        CHECK (callback_read_secret (path, &buf, &len, &err) == 0);
        CHECK (len == 7);
        free (buf);
        write_file (path, "\n", 1);
        CHECK (callback_read_secret (path, &buf, &len, &err) == -EINVAL);
        write_file (path, "", 0);
        CHECK (callback_read_secret (path, &buf, &len, &err) == -EINVAL);
        big = malloc (CALLBACK_SECRET_MAX + 1);
        memset (big, 'x', CALLBACK_SECRET_MAX + 1);
        write_file (path, big, CALLBACK_SECRET_MAX);
        CHECK (callback_read_secret (path, &buf, &len, &err) == 0);
        CHECK (len == CALLBACK_SECRET_MAX);
        free (buf);
        write_file (path, big, CALLBACK_SECRET_MAX + 1);
        CHECK (callback_read_secret (path, &buf, &len, &err) == -EFBIG);
        free (big);
        unlink (path);
        CHECK (callback_read_secret (path, &buf, &len, &err) == -ENOENT);
        rmdir (dir);
}

/* Open fds, to see that senders and their connections leave none. */
static int
count_fds (void)
{
        DIR *d = opendir ("/proc/self/fd");
        int n = 0;

        while (d && readdir (d))
                n++;
        if (d)
                closedir (d);
        return n;
}

int
main (void)
{
        int fds = count_fds ();

        test_url_check ();
        test_allow ();
        test_secret ();
        test_delivered_signed ();
        test_answers ();
        test_connection_refused ();
        test_loopback ();
        test_full_and_stop ();
        test_many ();
        CHECK (count_fds () == fds);
        TEST_DONE ();
}
