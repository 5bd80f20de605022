/*
 * callback.c - delivery of results to callback URLs (callback.h).
 *
 * Threads.  Any thread calls callback_send: it checks the URL, copies and
 * signs the body, puts a `struct delivery` on s->queue under s->lock and
 * wakes the delivery thread (curl_multi_wakeup).  The delivery thread alone
 * owns the curl multi handle, every easy handle and every delivery in
 * flight (s->flying): it moves due deliveries from the queue into transfers,
 * at most MAX_IN_FLIGHT at once, and when a transfer ends it either counts
 * the delivery (delivered or failed) and frees it, or puts it back on the
 * queue with the time its next attempt is due.  The queue is sorted by that
 * time, so the thread sleeps in curl_multi_poll until the first one is due,
 * a transfer needs it, or a send or the stop wakes it; no condition
 * variable is needed, and every time is read from CLOCK_MONOTONIC (ce_now).
 *
 * Addresses.  A literal address in a URL is checked when the URL is
 * (callback_url_check); every address libcurl is about to connect to,
 * literal or resolved, is checked again in open_socket, which refuses to
 * make the socket for a refused one: whatever a DNS name resolves to at
 * delivery time, no connection to a refused address is ever opened.  A
 * delivery whose every address was refused is a final failure (retrying
 * cannot help); one with an allowed address that failed to connect is
 * retried like any connection error.  Connections that libcurl keeps for
 * reuse were checked when they were opened.
 *
 * Stopping.  callback_sender_free sets `stopping` and the deadline; sends
 * are refused from then on and the thread goes on until nothing is pending
 * or the deadline has passed, then drops what is left (queued and in
 * flight) and returns.
 */
#include "callback.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <nettle/hmac.h>

#include "jsongen.h"

#define DEFAULT_MAX_ATTEMPTS 5
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_BACKOFF_MS 1000
#define DEFAULT_MAX_PENDING 1024
#define BACKOFF_MAX_MS 60000
/* Transfers at once: enough that one slow client does not hold up the
 * others, few enough that a burst of jobs is not a burst of connections. */
#define MAX_IN_FLIGHT 8
/* The longest the thread sleeps with nothing due: a bound, not a tick. */
#define POLL_MAX_MS 1000
#define HOST_MAX 253 /* a DNS name's longest text form */
#define CONTENT_TYPE_MAX 255
#define SIGNATURE_HEADER "X-CodeEngine-Signature: sha256="

/* An address in network byte order: 4 bytes for AF_INET, 16 for AF_INET6. */
struct ip {
        int family;
        unsigned char b[16];
};

struct cidr {
        struct ip net; /* host bits cleared */
        unsigned prefix;
};

/* A range refused unless allowed, with the word for its addresses. */
struct range {
        struct cidr c;
        const char *what;
};

static const char LOOPBACK[] = "loopback";

#define V4(a, b_, c, d, len, what)                                                                 \
        {                                                                                          \
                { { AF_INET, { a, b_, c, d } }, len }, what                                        \
        }

/* IPv4's special-purpose ranges (RFC 6890 and its updates) that a server
 * must not be made to reach; the first that holds an address names it.
 * An IPv6 address with an IPv4 one inside (embedded_v4) is judged as that
 * IPv4 address. */
static const struct range v4_refused[] = {
        V4 (127, 0, 0, 0, 8, LOOPBACK),
        V4 (0, 0, 0, 0, 8, "unspecified"),
        V4 (10, 0, 0, 0, 8, "private"),
        V4 (100, 64, 0, 0, 10, "private"), /* shared address space, carrier-grade NAT */
        V4 (169, 254, 0, 0, 16, "link-local"),
        V4 (172, 16, 0, 0, 12, "private"),
        V4 (192, 0, 0, 0, 24, "reserved"),   /* IETF protocol assignments */
        V4 (192, 0, 2, 0, 24, "reserved"),   /* documentation */
        V4 (192, 88, 99, 0, 24, "reserved"), /* 6to4 relay anycast */
        V4 (192, 168, 0, 0, 16, "private"),
        V4 (198, 18, 0, 0, 15, "reserved"),   /* benchmarking */
        V4 (198, 51, 100, 0, 24, "reserved"), /* documentation */
        V4 (203, 0, 113, 0, 24, "reserved"),  /* documentation */
        V4 (224, 0, 0, 0, 4, "multicast"),
        V4 (255, 255, 255, 255, 32, "broadcast"),
        V4 (240, 0, 0, 0, 4, "reserved"),
};

#define V6(len, what, ...)                                                                         \
        {                                                                                          \
                { { AF_INET6, { __VA_ARGS__ } }, len }, what                                       \
        }

static const struct range v6_refused[] = {
        V6 (128, LOOPBACK, [15] = 1),
        V6 (128, "unspecified", 0),
        V6 (10, "link-local", 0xfe, 0x80),
        V6 (7, "private", 0xfc),        /* unique local */
        V6 (10, "private", 0xfe, 0xc0), /* site-local, deprecated */
        V6 (8, "multicast", 0xff),
        V6 (48, "reserved", 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01), /* local-use NAT64 */
        V6 (64, "reserved", 0x01, 0x00),                         /* discard-only */
        V6 (32, "reserved", 0x20, 0x01, 0x0d, 0xb8),             /* documentation */
        V6 (23, "reserved", 0x20, 0x01, 0x00),                   /* IETF protocol assignments */
};

/* One delivery, from callback_send to its end.  On s->queue it is under
 * s->lock; in flight (s->flying) it is the delivery thread's alone. */
struct delivery {
        struct delivery *next;
        struct callback_sender *s;
        char *url;
        char host[HOST_MAX + 3]; /* for the log: as in the URL ([v6] bracketed) */
        bool put;
        char *content_type; /* "Content-Type: ..." */
        char signature[sizeof (SIGNATURE_HEADER) + 2 * SHA256_DIGEST_SIZE]; /* "": unsigned */
        unsigned char *body; /* len bytes and a NUL: never NULL for libcurl */
        size_t len;
        unsigned attempts; /* started so far */
        struct timespec due;

        /* The attempt in flight. */
        CURL *easy;
        struct curl_slist *headers;
        unsigned refused, opened; /* sockets open_socket refused and made */
        const char *refused_what;
        char refused_addr[INET6_ADDRSTRLEN];
        char errbuf[CURL_ERROR_SIZE];
};

struct callback_sender {
        /* Set by callback_sender_new, read-only after: any thread reads them. */
        struct callback_params p; /* defaults filled; allow and secret not kept */
        struct cidr *allow;
        size_t nallow;
        unsigned char *secret;
        size_t secret_len;
        CURLM *multi; /* the thread's, but for curl_multi_wakeup (any thread) */

        pthread_mutex_t lock;    /* guards the queue, the counters, stopping and deadline */
        struct delivery *queue;  /* waiting to start, by due time */
        struct callback_stats n; /* n.pending: the queue and the flying */
        bool stopping;
        struct timespec deadline; /* when stopping: drop what is left after it */

        struct delivery *flying; /* the thread's alone */
        size_t nflying;

        pthread_t thread;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void
curl_init (void)
{
        curl_init_result = curl_global_init (CURL_GLOBAL_DEFAULT);
}

/* ---- addresses ---- */

static bool
cidr_has (const struct cidr *c, const struct ip *a)
{
        unsigned full = c->prefix / 8, rest = c->prefix % 8;

        if (c->net.family != a->family || memcmp (c->net.b, a->b, full) != 0)
                return false;
        return rest == 0 || ((c->net.b[full] ^ a->b[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* The IPv4 address inside an IPv6 one that reaches it (or an IPv4
 * network chosen by it): IPv4-mapped ::ffff:a.b.c.d, IPv4-translated
 * ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d (not :: or ::1), NAT64's
 * 64:ff9b::a.b.c.d and 6to4's 2002:aabb:ccdd::. */
static bool
embedded_v4 (const struct ip *a, struct ip *v4)
{
        static const unsigned char zero[12], mapped[12] = { [10] = 0xff, [11] = 0xff },
                                             translated[12] = { [8] = 0xff, [9] = 0xff },
                                             nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
        const unsigned char *src = a->b + 12;

        if (a->family != AF_INET6)
                return false;
        if (memcmp (a->b, zero, 12) == 0) {
                if (a->b[12] == 0 && a->b[13] == 0 && a->b[14] == 0 && a->b[15] <= 1)
                        return false;
        } else if (a->b[0] == 0x20 && a->b[1] == 0x02) {
                src = a->b + 2;
        } else if (memcmp (a->b, mapped, 12) != 0 && memcmp (a->b, translated, 12) != 0
                   && memcmp (a->b, nat64, 12) != 0) {
                return false;
        }
        v4->family = AF_INET;
        memset (v4->b, 0, sizeof (v4->b));
        memcpy (v4->b, src, 4);
        return true;
}

static bool
allowed (const struct callback_sender *s, const struct ip *a)
{
        for (size_t i = 0; i < s->nallow; i++)
                if (cidr_has (&s->allow[i], a))
                        return true;
        return false;
}

/* NULL when a may be connected to; else the word for its kind
 * ("link-local"). */
static const char *
refusal (const struct callback_sender *s, const struct ip *a)
{
        const struct range *r = a->family == AF_INET ? v4_refused : v6_refused;
        size_t n = a->family == AF_INET ? sizeof (v4_refused) / sizeof (v4_refused[0])
                                        : sizeof (v6_refused) / sizeof (v6_refused[0]);
        struct ip v4;

        if (allowed (s, a))
                return NULL;
        if (embedded_v4 (a, &v4))
                return refusal (s, &v4);
        for (size_t i = 0; i < n; i++)
                if (cidr_has (&r[i].c, a))
                        return r[i].what == LOOPBACK && s->p.allow_loopback ? NULL : r[i].what;
        return NULL;
}

static bool
ip_parse (const char *text, struct ip *out)
{
        memset (out, 0, sizeof (*out));
        out->family = AF_INET;
        if (inet_pton (AF_INET, text, out->b) == 1)
                return true;
        out->family = AF_INET6;
        return inet_pton (AF_INET6, text, out->b) == 1;
}

static void
ip_text (const struct ip *a, char buf[INET6_ADDRSTRLEN])
{
        if (inet_ntop (a->family, a->b, buf, INET6_ADDRSTRLEN) == NULL)
                snprintf (buf, INET6_ADDRSTRLEN, "?");
}

/* "a.b.c.d/n", "v6/n", or an address alone (/32, /128).  Host bits are
 * cleared: 10.1.2.3/8 is 10.0.0.0/8. */
static int
cidr_parse (const char *text, struct cidr *out, struct ce_error *err)
{
        char addr[INET6_ADDRSTRLEN];
        const char *slash = strchr (text, '/');
        size_t alen = slash ? (size_t) (slash - text) : strlen (text);
        unsigned max, prefix = 0;

        if (alen >= sizeof (addr))
                goto bad;
        memcpy (addr, text, alen);
        addr[alen] = '\0';
        if (! ip_parse (addr, &out->net))
                goto bad;
        max = out->net.family == AF_INET ? 32 : 128;
        if (slash == NULL) {
                prefix = max;
        } else {
                const char *d = slash + 1;

                if (*d == '\0' || strlen (d) > 3 || strspn (d, "0123456789") != strlen (d))
                        goto bad;
                prefix = (unsigned) atoi (d);
                if (prefix > max)
                        goto bad;
        }
        out->prefix = prefix;
        for (unsigned bit = prefix; bit < 128; bit++)
                out->net.b[bit / 8] &= (unsigned char) ~(0x80 >> (bit % 8));
        return 0;
bad:
        return ce_fail (err, EINVAL, "callback: '%s' is not a CIDR range (10.0.0.0/8, fd00::/8)",
                        text);
}

/* ---- URLs ---- */

struct url_parts {
        char host[HOST_MAX + 3]; /* as written, an IPv6 address in its brackets */
        bool literal;            /* host is an address: ip */
        struct ip ip;
        unsigned port; /* 0: none given */
};

static int
bad_url (struct ce_error *err, const char *why)
{
        return ce_fail (err, EINVAL, "callback_url: %s", why);
}

/* The characters of a DNS name (and of the forms inet_aton reads). */
static const char NAME_CHARS[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";

static int
host_parse (const char *h, size_t len, struct url_parts *u, struct ce_error *err)
{
        if (len == 0)
                return bad_url (err, "a host is required (http://host[:port]/path)");
        if (h[0] == '[') {
                char addr[INET6_ADDRSTRLEN];

                if (h[len - 1] != ']')
                        return bad_url (err, "an IPv6 address must end with ']'");
                if (memchr (h, '%', len))
                        return bad_url (err, "IPv6 zone identifiers are refused");
                if (len - 2 >= sizeof (addr))
                        return bad_url (err, "not an IPv6 address in [...]");
                memcpy (addr, h + 1, len - 2);
                addr[len - 2] = '\0';
                u->ip.family = AF_INET6;
                if (inet_pton (AF_INET6, addr, u->ip.b) != 1)
                        return bad_url (err, "not an IPv6 address in [...]");
                u->literal = true;
        } else {
                if (len > HOST_MAX)
                        return bad_url (err, "the host name is longer than 253 bytes");
                for (size_t i = 0; i < len; i++)
                        if (strchr (NAME_CHARS, h[i]) == NULL)
                                return bad_url (err, "the host may hold letters, digits, '-', "
                                                     "'.' and '_' only");
        }
        memcpy (u->host, h, len);
        u->host[len] = '\0';
        /* Every form inet_aton reads (127.1, 0x7f000001, 2130706433, 0177.0.0.1) is
         * one libcurl connects to as an address: judge it as one. */
        if (! u->literal && h[0] >= '0' && h[0] <= '9'
            && strspn (u->host, "0123456789abcdefABCDEFxX.") == len) {
                struct in_addr in;

                if (inet_aton (u->host, &in) == 1) {
                        u->ip.family = AF_INET;
                        memcpy (u->ip.b, &in, 4);
                        u->literal = true;
                }
        }
        return 0;
}

/* The syntax of callback.h's callback_url_check, and the host. */
static int
url_parse (const char *url, struct url_parts *u, struct ce_error *err)
{
        const char *auth, *end, *colon;
        size_t n;

        memset (u, 0, sizeof (*u));
        if (url == NULL || *url == '\0')
                return bad_url (err, "empty");
        n = strnlen (url, CALLBACK_URL_MAX + 1);
        if (n > CALLBACK_URL_MAX)
                return ce_fail (err, EINVAL, "callback_url: longer than %d bytes",
                                CALLBACK_URL_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) url[i] <= 0x20 || (unsigned char) url[i] >= 0x7f
                    || url[i] == '\\')
                        return bad_url (err, "spaces, control characters, backslashes and "
                                             "non-ASCII bytes are refused (percent-encode them)");
        if (strncasecmp (url, "http://", 7) != 0)
                return bad_url (err, "the scheme must be http:// (https and others are not "
                                     "supported)");
        auth = url + 7;
        end = auth + strcspn (auth, "/?#");
        if (strchr (auth, '#'))
                return bad_url (err, "a fragment (#...) is refused");
        if (memchr (auth, '@', (size_t) (end - auth)))
                return bad_url (err, "userinfo (user@host) is refused");
        if (*auth == '[') {
                const char *close = memchr (auth, ']', (size_t) (end - auth));

                colon = close ? close + 1 : end;
                if (colon < end && *colon != ':')
                        return bad_url (err, "text after the IPv6 address, before the port");
        } else {
                colon = memchr (auth, ':', (size_t) (end - auth));
                if (colon == NULL)
                        colon = end;
        }
        if (host_parse (auth, (size_t) (colon - auth), u, err) < 0)
                return -EINVAL;
        if (colon < end) {
                const char *d = colon + 1;
                size_t dlen = (size_t) (end - d);
                unsigned long port;

                if (dlen == 0 || dlen > 5 || strspn (d, "0123456789") < dlen)
                        return bad_url (err, "the port must be a number in 1..65535");
                port = strtoul (d, NULL, 10);
                if (port < 1 || port > 65535)
                        return bad_url (err, "the port must be a number in 1..65535");
                u->port = (unsigned) port;
        }
        return 0;
}

/* callback_url_check, with the parts in *u. */
static int
url_judge (const struct callback_sender *s, const char *url, struct url_parts *u,
           struct ce_error *err)
{
        const char *what;
        char text[INET6_ADDRSTRLEN];

        if (url_parse (url, u, err) < 0)
                return -EINVAL;
        if (! u->literal || (what = refusal (s, &u->ip)) == NULL)
                return 0;
        ip_text (&u->ip, text);
        return ce_fail (err, EINVAL, "callback_url: %s addresses are refused (%s)", what, text);
}

int
callback_url_check (const struct callback_sender *s, const char *url, struct ce_error *err)
{
        struct url_parts u;

        return url_judge (s, url, &u, err);
}

/* ---- deliveries ---- */

static void
delivery_free (struct delivery *d)
{
        if (d == NULL)
                return;
        if (d->easy) {
                curl_multi_remove_handle (d->s->multi, d->easy);
                curl_easy_cleanup (d->easy);
        }
        curl_slist_free_all (d->headers);
        free (d->url);
        free (d->content_type);
        free (d->body);
        free (d);
}

static void
delivery_freep (struct delivery **d)
{
        delivery_free (*d);
}

#define cleanup_delivery __attribute__ ((cleanup (delivery_freep)))

/* Under the lock: d onto the queue, after every delivery due no later. */
static void
queue_insert (struct callback_sender *s, struct delivery *d)
{
        struct delivery **pp = &s->queue;

        while (*pp && ! ce_time_before (d->due, (*pp)->due))
                pp = &(*pp)->next;
        d->next = *pp;
        *pp = d;
}

static void
sign (const struct callback_sender *s, struct delivery *d)
{
        static const char hex[] = "0123456789abcdef";
        struct hmac_sha256_ctx ctx;
        uint8_t mac[SHA256_DIGEST_SIZE];
        char *p;

        hmac_sha256_set_key (&ctx, s->secret_len, s->secret);
        hmac_sha256_update (&ctx, d->len, d->body);
        hmac_sha256_digest (&ctx, sizeof (mac), mac);
        p = stpcpy (d->signature, SIGNATURE_HEADER);
        for (size_t i = 0; i < sizeof (mac); i++) {
                *p++ = hex[mac[i] >> 4];
                *p++ = hex[mac[i] & 15];
        }
        *p = '\0';
        explicit_bzero (&ctx, sizeof (ctx));
}

int
callback_send (struct callback_sender *s, const char *method, const char *url,
               const char *content_type, const void *body, size_t len, struct ce_error *err)
{
        cleanup_delivery struct delivery *d = NULL;
        struct url_parts u;
        int ret;

        if (method == NULL || (strcmp (method, "PUT") != 0 && strcmp (method, "POST") != 0))
                return ce_fail (err, EINVAL, "callback: the method must be PUT or POST");
        if (content_type == NULL || *content_type == '\0'
            || strnlen (content_type, CONTENT_TYPE_MAX + 1) > CONTENT_TYPE_MAX)
                return ce_fail (err, EINVAL, "callback: a content type of 1 to %d bytes is needed",
                                CONTENT_TYPE_MAX);
        for (const char *c = content_type; *c; c++)
                if (*c < 0x20 || *c > 0x7e)
                        return ce_fail (err, EINVAL,
                                        "callback: the content type must be printable ASCII");
        ret = url_judge (s, url, &u, err);
        if (ret < 0)
                return ret;

        d = calloc (1, sizeof (*d));
        if (d == NULL)
                return ce_fail (err, ENOMEM, "callback: out of memory");
        d->s = s;
        d->put = strcmp (method, "PUT") == 0;
        d->len = len;
        d->url = strdup (url);
        d->body = malloc (len + 1);
        if (d->url == NULL || d->body == NULL
            || asprintf (&d->content_type, "Content-Type: %s", content_type) < 0) {
                d->content_type = NULL;
                return ce_fail (err, ENOMEM, "callback: out of memory");
        }
        if (len)
                memcpy (d->body, body, len);
        d->body[len] = '\0';
        snprintf (d->host, sizeof (d->host), "%s", u.host);
        if (s->secret)
                sign (s, d);

        pthread_mutex_lock (&s->lock);
        if (s->stopping)
                ret = ce_fail (err, ESHUTDOWN, "callback: stopping, no new deliveries");
        else if (s->n.pending >= s->p.max_pending)
                ret = ce_fail (err, EAGAIN, "callback: %zu deliveries pending, the most",
                               s->p.max_pending);
        if (ret == 0) {
                d->due = ce_now ();
                queue_insert (s, d);
                d = NULL; /* owned by the queue */
                s->n.pending++;
        }
        pthread_mutex_unlock (&s->lock);
        if (ret == 0)
                curl_multi_wakeup (s->multi);
        return ret;
}

/* libcurl's CURLOPT_OPENSOCKETFUNCTION: the last word on every address
 * connected to, after any DNS answer.  CURL_SOCKET_BAD makes libcurl try
 * the host's next address, or fail with CURLE_COULDNT_CONNECT. */
static curl_socket_t
open_socket (void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
        struct delivery *d = clientp;
        struct ip ip = { 0 };
        const char *what = "unknown";

        if (a->family == AF_INET && a->addrlen >= sizeof (struct sockaddr_in)) {
                ip.family = AF_INET;
                memcpy (ip.b, &((const struct sockaddr_in *) &a->addr)->sin_addr, 4);
                what = refusal (d->s, &ip);
        } else if (a->family == AF_INET6 && a->addrlen >= sizeof (struct sockaddr_in6)) {
                ip.family = AF_INET6;
                memcpy (ip.b, &((const struct sockaddr_in6 *) &a->addr)->sin6_addr, 16);
                what = refusal (d->s, &ip);
        }
        if (purpose != CURLSOCKTYPE_IPCXN || what) {
                d->refused++;
                d->refused_what = what ? what : "non-IP";
                if (ip.family)
                        ip_text (&ip, d->refused_addr);
                else
                        snprintf (d->refused_addr, sizeof (d->refused_addr), "family %d",
                                  a->family);
                return CURL_SOCKET_BAD;
        }
        d->opened++;
        return socket (a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t
discard (char *data, size_t size, size_t n, void *user)
{
        return size * n;
}

#define SETOPT(opt, val)                                                                           \
        do {                                                                                       \
                if (curl_easy_setopt (e, opt, val) != CURLE_OK)                                    \
                        return -EIO;                                                               \
        } while (0)

/* Set up d->easy for d's next attempt (d->headers, which it uses, too). */
static int
attempt_setup (struct callback_sender *s, struct delivery *d)
{
        struct curl_slist *h;
        CURL *e;
        char attempt[48];
        const char *lines[4] = { d->content_type, "Expect:", attempt, d->signature };

        snprintf (attempt, sizeof (attempt), "X-CodeEngine-Attempt: %u", d->attempts);
        for (size_t i = 0; i < 4; i++) {
                if (lines[i][0] == '\0')
                        continue;
                h = curl_slist_append (d->headers, lines[i]);
                if (h == NULL)
                        return -ENOMEM;
                d->headers = h;
        }
        e = d->easy = curl_easy_init ();
        if (e == NULL)
                return -ENOMEM;
        SETOPT (CURLOPT_PRIVATE, d);
        SETOPT (CURLOPT_URL, d->url);
        SETOPT (CURLOPT_PROTOCOLS_STR, "http");
        SETOPT (CURLOPT_FOLLOWLOCATION, 0L);
        SETOPT (CURLOPT_PROXY, ""); /* never http_proxy and its kin */
        SETOPT (CURLOPT_NOSIGNAL, 1L);
        SETOPT (CURLOPT_TIMEOUT_MS, (long) s->p.timeout_ms);
        SETOPT (CURLOPT_OPENSOCKETFUNCTION, open_socket);
        SETOPT (CURLOPT_OPENSOCKETDATA, d);
        SETOPT (CURLOPT_USERAGENT, "CodeEngine");
        SETOPT (CURLOPT_HTTPHEADER, d->headers);
        SETOPT (CURLOPT_POSTFIELDS, d->body);
        SETOPT (CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) d->len);
        if (d->put)
                SETOPT (CURLOPT_CUSTOMREQUEST, "PUT");
        SETOPT (CURLOPT_WRITEFUNCTION, discard);
        SETOPT (CURLOPT_ERRORBUFFER, d->errbuf);
        return 0;
}

enum outcome { DELIVERED, RETRY, FAILED };

/* backoff_ms * 2^(attempts - 1), at most BACKOFF_MAX_MS. */
static int64_t
backoff (const struct callback_sender *s, unsigned attempts)
{
        int64_t ms = s->p.backoff_ms;

        for (unsigned i = 1; i < attempts && ms < BACKOFF_MAX_MS; i++)
                ms *= 2;
        return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* The end of d's attempt, in flight no more: count it and free it, or queue
 * its next attempt.  retry_after_ms: the server's Retry-After, or 0. */
static void
settle (struct callback_sender *s, struct delivery *d, enum outcome o, const char *why,
        int64_t retry_after_ms)
{
        if (d->easy) {
                curl_multi_remove_handle (s->multi, d->easy);
                curl_easy_cleanup (d->easy);
                d->easy = NULL;
        }
        curl_slist_free_all (d->headers);
        d->headers = NULL;
        for (struct delivery **pp = &s->flying; *pp; pp = &(*pp)->next)
                if (*pp == d) {
                        *pp = d->next;
                        s->nflying--;
                        break;
                }
        if (o == RETRY && d->attempts >= s->p.max_attempts)
                o = FAILED;

        pthread_mutex_lock (&s->lock);
        if (o == RETRY) {
                int64_t ms = backoff (s, d->attempts);

                if (retry_after_ms > ms)
                        ms = retry_after_ms < BACKOFF_MAX_MS ? retry_after_ms : BACKOFF_MAX_MS;
                d->due = ce_deadline_after_ms (ms);
                queue_insert (s, d);
                s->n.retried++;
        } else {
                s->n.pending--;
                if (o == DELIVERED)
                        s->n.delivered++;
                else
                        s->n.failed++;
        }
        pthread_mutex_unlock (&s->lock);
        if (o == RETRY)
                return;
        if (o == FAILED)
                ce_log ("callback: delivery to %s failed after %u attempt%s: %s", d->host,
                        d->attempts, d->attempts == 1 ? "" : "s", why);
        delivery_free (d);
}

/* A transfer ended with rc: what it means for d. */
static void
attempt_done (struct callback_sender *s, struct delivery *d, CURLcode rc)
{
        long status = 0;
        curl_off_t retry_after = 0;
        char why[CURL_ERROR_SIZE + 128];
        enum outcome o;

        curl_easy_getinfo (d->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo (d->easy, CURLINFO_RETRY_AFTER, &retry_after);
        if (rc == CURLE_OK) {
                snprintf (why, sizeof (why), "answered %ld%s", status,
                          status >= 300 && status < 400 ? " (redirects are not followed)" : "");
                if (status >= 200 && status <= 299)
                        o = DELIVERED;
                else if (status >= 500 || status == 408 || status == 429)
                        o = RETRY;
                else
                        o = FAILED;
        } else if (d->refused && d->opened == 0) {
                /* Every address the host has is refused: no retry changes that. */
                snprintf (why, sizeof (why), "%s addresses are refused (%s)", d->refused_what,
                          d->refused_addr);
                o = FAILED;
        } else {
                snprintf (why, sizeof (why), "%s",
                          d->errbuf[0] ? d->errbuf : curl_easy_strerror (rc));
                o = rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ? FAILED : RETRY;
        }
        if (retry_after < 0 || retry_after > BACKOFF_MAX_MS / 1000)
                retry_after = BACKOFF_MAX_MS / 1000;
        settle (s, d, o, why, (int64_t) retry_after * 1000);
}

/* Start d's next attempt; on a local failure (memory) it is settled as a
 * failed attempt. */
static void
attempt_start (struct callback_sender *s, struct delivery *d)
{
        d->attempts++;
        d->refused = d->opened = 0;
        d->errbuf[0] = '\0';
        d->next = s->flying;
        s->flying = d;
        s->nflying++;
        if (attempt_setup (s, d) < 0 || curl_multi_add_handle (s->multi, d->easy) != CURLM_OK)
                settle (s, d, RETRY, "could not start a transfer (out of memory?)", 0);
}

static int
ms_until (struct timespec now, struct timespec t)
{
        int64_t ms = ce_ms_between (now, t);

        /* + 1: never wake just before t and spin. */
        return ms < 0 ? 0 : ms >= POLL_MAX_MS ? POLL_MAX_MS : (int) ms + 1;
}

/* The thread's end: what is still pending is dropped. */
static void
drop_all (struct callback_sender *s)
{
        struct delivery *q;
        uint64_t dropped;

        while (s->flying) {
                struct delivery *d = s->flying;

                s->flying = d->next;
                delivery_free (d);
        }
        pthread_mutex_lock (&s->lock);
        q = s->queue;
        s->queue = NULL;
        dropped = s->n.pending;
        s->n.pending = 0;
        pthread_mutex_unlock (&s->lock);
        while (q) {
                struct delivery *d = q;

                q = d->next;
                delivery_free (d);
        }
        s->nflying = 0;
        if (dropped)
                ce_log ("callback: stopping: %llu pending deliveries dropped",
                        (unsigned long long) dropped);
}

static void *
sender_thread (void *arg)
{
        struct callback_sender *s = arg;

        for (;;) {
                struct delivery *start = NULL;
                size_t nstart = 0;
                struct timespec now;
                int timeout = POLL_MAX_MS, running, left;
                bool done, ended = false;
                CURLMsg *msg;

                pthread_mutex_lock (&s->lock);
                now = ce_now ();
                done = s->stopping && (s->n.pending == 0 || ! ce_time_before (now, s->deadline));
                while (! done && s->queue && s->nflying + nstart < MAX_IN_FLIGHT
                       && ! ce_time_before (now, s->queue->due)) {
                        struct delivery *d = s->queue;

                        s->queue = d->next;
                        d->next = start;
                        start = d;
                        nstart++;
                }
                if (s->queue && s->nflying + nstart < MAX_IN_FLIGHT)
                        timeout = ms_until (now, s->queue->due);
                if (s->stopping && ms_until (now, s->deadline) < timeout)
                        timeout = ms_until (now, s->deadline);
                pthread_mutex_unlock (&s->lock);
                if (done)
                        break;

                while (start) {
                        struct delivery *d = start;

                        start = d->next;
                        attempt_start (s, d);
                }
                curl_multi_perform (s->multi, &running);
                while ((msg = curl_multi_info_read (s->multi, &left))) {
                        char *d = NULL;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, &d);
                        /* msg points into the easy handle that attempt_done frees:
                         * nothing reads it after. */
                        attempt_done (s, (struct delivery *) d, msg->data.result);
                        ended = true;
                }
                /* An attempt that ended may be due again at once (or free a
                 * place in flight): look at the queue before sleeping. */
                if (! ended)
                        curl_multi_poll (s->multi, NULL, 0, timeout, NULL);
        }
        drop_all (s);
        return NULL;
}

/* ---- life ---- */

static void
sender_destroy (struct callback_sender *s)
{
        if (s->multi)
                curl_multi_cleanup (s->multi);
        free (s->allow);
        if (s->secret)
                explicit_bzero (s->secret, s->secret_len);
        free (s->secret);
        pthread_mutex_destroy (&s->lock);
        free (s);
}

int
callback_sender_new (const struct callback_params *p, struct callback_sender **out,
                     struct ce_error *err)
{
        struct callback_sender *s;
        size_t n = 0;
        int ret;

        pthread_once (&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
                return ce_fail (err, EIO, "callback: curl_global_init: %s",
                                curl_easy_strerror (curl_init_result));
        s = calloc (1, sizeof (*s));
        if (s == NULL)
                return ce_fail (err, ENOMEM, "callback: out of memory");
        ret = pthread_mutex_init (&s->lock, NULL);
        if (ret) {
                free (s);
                return ce_fail (err, ret, "callback: pthread_mutex_init");
        }
        s->p = *p;
        s->p.allow = NULL;
        s->p.secret = NULL;
        if (s->p.max_attempts == 0)
                s->p.max_attempts = DEFAULT_MAX_ATTEMPTS;
        if (s->p.timeout_ms == 0)
                s->p.timeout_ms = DEFAULT_TIMEOUT_MS;
        if (s->p.backoff_ms == 0)
                s->p.backoff_ms = DEFAULT_BACKOFF_MS;
        if (s->p.max_pending == 0)
                s->p.max_pending = DEFAULT_MAX_PENDING;

        while (p->allow && p->allow[n])
                n++;
        s->allow = calloc (n + 1, sizeof (*s->allow));
        if (s->allow == NULL) {
                ret = ce_fail (err, ENOMEM, "callback: out of memory");
                goto fail;
        }
        for (s->nallow = 0; s->nallow < n; s->nallow++) {
                ret = cidr_parse (p->allow[s->nallow], &s->allow[s->nallow], err);
                if (ret < 0)
                        goto fail;
        }
        if (p->secret) {
                s->secret = malloc (p->secret_len + 1);
                if (s->secret == NULL) {
                        ret = ce_fail (err, ENOMEM, "callback: out of memory");
                        goto fail;
                }
                memcpy (s->secret, p->secret, p->secret_len);
                s->secret_len = p->secret_len;
        }
        s->multi = curl_multi_init ();
        if (s->multi == NULL) {
                ret = ce_fail (err, ENOMEM, "callback: curl_multi_init failed");
                goto fail;
        }
        ret = pthread_create (&s->thread, NULL, sender_thread, s);
        if (ret) {
                ret = ce_fail (err, ret, "callback: pthread_create");
                goto fail;
        }
        ce_thread_name (s->thread, "ce-callback");
        *out = s;
        return 0;
fail:
        sender_destroy (s);
        return ret;
}

void
callback_sender_free (struct callback_sender *s, struct timespec deadline)
{
        if (s == NULL)
                return;
        pthread_mutex_lock (&s->lock);
        s->stopping = true;
        s->deadline = deadline;
        pthread_mutex_unlock (&s->lock);
        curl_multi_wakeup (s->multi);
        pthread_join (s->thread, NULL);
        sender_destroy (s);
}

void
callback_stats (struct callback_sender *s, struct callback_stats *out)
{
        pthread_mutex_lock (&s->lock);
        *out = s->n;
        pthread_mutex_unlock (&s->lock);
}

yajl_gen_status
callback_gen (struct callback_sender *s, yajl_gen g)
{
        yajl_gen_status st = yajl_gen_status_ok;
        struct callback_stats n;

        callback_stats (s, &n);
        GEN (yajl_gen_map_open (g));
        GEN_KV_INT ("pending", n.pending);
        GEN_KV_INT ("max_pending", s->p.max_pending);
        GEN_KV_INT ("delivered", n.delivered);
        GEN_KV_INT ("failed", n.failed);
        GEN_KV_INT ("retried", n.retried);
        GEN (yajl_gen_map_close (g));
fail:
        return st;
}

int
callback_read_secret (const char *path, unsigned char **buf, size_t *len, struct ce_error *err)
{
        unsigned char data[CALLBACK_SECRET_MAX + 1];
        size_t n = 0;
        int fd, ret = 0;

        fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ce_fail (err, errno, "callback secret %s: %s", path, strerror (errno));
        while (n < sizeof (data)) {
                ssize_t r = read (fd, data + n, sizeof (data) - n);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        ret = ce_fail (err, errno, "callback secret %s: %s", path,
                                       strerror (errno));
                        goto out;
                }
                if (r == 0)
                        break;
                n += (size_t) r;
        }
        if (n > CALLBACK_SECRET_MAX) {
                ret = ce_fail (err, EFBIG, "callback secret %s: longer than %d bytes", path,
                               CALLBACK_SECRET_MAX);
                goto out;
        }
        if (n && data[n - 1] == '\n') {
                n--;
                if (n && data[n - 1] == '\r')
                        n--;
        }
        if (n == 0) {
                ret = ce_fail (err, EINVAL, "callback secret %s: empty", path);
                goto out;
        }
        *buf = malloc (n);
        if (*buf == NULL) {
                ret = ce_fail (err, ENOMEM, "callback secret: out of memory");
                goto out;
        }
        memcpy (*buf, data, n);
        *len = n;
out:
        explicit_bzero (data, sizeof (data));
        close (fd);
        return ret;
}
