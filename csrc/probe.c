/* probe.c: a TLS client that looks at a live server from a client's side: what
 * it asks of clients (CertificateRequest: acceptable CA names, signature
 * algorithms), and what it answers (a TLS alert, or an HTTP status line).
 *
 *   raw, err = core.probe{host =, port =, servername =, timeout_ms =, tls = 0|12|13,
 *                         path =, cert =, key =, pass =, chain = {...}, roots = {...}}
 *
 * clientcert.probe (lua/clientcert/probe.lua) checks the options, loads the
 * files and judges the raw report; this file only talks to the server.
 *
 * It never hangs: the socket is non-blocking and every step (connect, TLS
 * handshake, HTTP request and reply) waits in poll() for at most timeout_ms.
 * Name resolution is getaddrinfo's (the system resolver's own timeouts).
 * SIGPIPE is blocked in the calling thread while the probe writes, and one
 * raised by it is discarded, so a server that closes early cannot kill the
 * process. What the server sends is bounded: CA names kept (PROBE_MAX_NAMES,
 * all counted, and all compared with the client's issuers), the HTTP reply read
 * (PROBE_READ_MAX bytes) and each line returned (PROBE_LINE_MAX bytes). The
 * signature algorithms are all kept: the protocol bounds them (at most 32,767),
 * and the key is judged against every one. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "clientcert.h"

#define PROBE_MT "clientcert.probe"
#define PROBE_MAX_NAMES 4096          /* CA names kept (all are counted and sized) */
#define PROBE_MAX_SIGALGS 32768       /* signature algorithms: a 2-byte length of 2-byte codes */
#define PROBE_MAX_CAND (2 * 64 + 1)   /* names compared with the CA list: the leaf's issuer, 64 chain certs' */
#define PROBE_READ_MAX 16384          /* bytes of the HTTP reply read at most */
#define PROBE_LINE_MAX 512            /* bytes of a returned line (status, body) */
#define PROBE_BODY_MAX 2048           /* bytes of the body's start returned (body_head) */
#define PROBE_TAIL_MS 200             /* how long the rest of a reply is read after its first body line */
#define PROBE_MAX_CERT_LIST (1L << 20) /* largest handshake message accepted (CertificateRequest) */

typedef struct {
    int number, level;                /* alert description (0..255), level (1 warning, 2 fatal) */
    int seen;
} probe_alert;

/* What the callbacks learn during the connection. */
typedef struct {
    int requests;                     /* CertificateRequests seen */
    int in_handshake;                 /* one came during the handshake */
    int after_handshake;              /* one came after it (TLS 1.3 post-handshake auth) */
    int handshake_done;
    STACK_OF(X509_NAME) *names;       /* owns: copies of the last request's CA names (at most PROBE_MAX_NAMES) */
    long ncount;                      /* names the last request held */
    long nsize;                       /* their encoded size: sum of (2 + DER length) */
    long nempty;                      /* of them, names with no attribute (DER 30 00) */
    int names_oom;                    /* a copy failed: names is incomplete */
    int nsig;
    unsigned short *sig;              /* owns: the last request's signature algorithms (TLS codes), nsig */
    int sig_oom;                      /* the copy failed: sig is empty */
    int ncand;                        /* the client's names compared with the whole CA list, */
    unsigned char listed[PROBE_MAX_CAND]; /* and whether each is on it (probe_candidates' order) */
    probe_alert got, sent;            /* first alert received / sent other than close_notify */
    int close_notify;                 /* the server sent close_notify */
} probe_state;

/* Everything the probe owns, in a userdata whose __gc frees it if a Lua error
 * (out of memory while building the report) leaves probe() early. */
typedef struct {
    int fd;                           /* owns while >= 0 */
    SSL_CTX *ctx;                     /* owns */
    SSL *ssl;                         /* owns */
    EVP_PKEY *pkey;                   /* owns */
    probe_state st;
    int sigmask_saved;                /* SIGPIPE is blocked; oldmask restores */
    int sigpipe_was_pending;
    sigset_t oldmask;
} probe_box;

/* ---- cleanup ----------------------------------------------------------- */

/* Discards a SIGPIPE the probe raised (not one pending before) and restores
 * the thread's signal mask. */
static void probe_restore_signals(probe_box *b)
{
    sigset_t pending, pipe;
    struct timespec zero = { 0, 0 };

    if (!b->sigmask_saved)
        return;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    if (!b->sigpipe_was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
            ;
    pthread_sigmask(SIG_SETMASK, &b->oldmask, NULL);
    b->sigmask_saved = 0;
}

static void probe_free(probe_box *b)
{
    if (b->ssl != NULL) {
        SSL_free(b->ssl);
        b->ssl = NULL;
    }
    if (b->ctx != NULL) {
        SSL_CTX_free(b->ctx);
        b->ctx = NULL;
    }
    if (b->fd >= 0) {
        close(b->fd);
        b->fd = -1;
    }
    EVP_PKEY_free(b->pkey);
    b->pkey = NULL;
    sk_X509_NAME_pop_free(b->st.names, X509_NAME_free);
    b->st.names = NULL;
    free(b->st.sig);
    b->st.sig = NULL;
    probe_restore_signals(b);
    ERR_clear_error();
}

static int probe_gc(lua_State *L)
{
    probe_free((probe_box *)luaL_checkudata(L, 1, PROBE_MT));
    return 0;
}

/* ---- time and waiting ------------------------------------------------- */

static long long probe_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline (monotonic ms) passes.
 * Returns 1 ready, 0 timed out, -1 poll failed (errno set). */
static int probe_wait(int fd, short events, long long deadline)
{
    for (;;) {
        struct pollfd p;
        long long left = deadline - probe_now_ms();
        int r;
        if (left <= 0)
            return 0;
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return 1;               /* readable/writable, or an error/hangup the next call reports */
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* ---- callbacks -------------------------------------------------------- */

/* The names a browser compares with the server's CA list, into cand (borrowed
 * from the certificates): the leaf's issuer, then each chain certificate's
 * subject and issuer (the first 64), without repeats (X509_NAME_cmp: canonical
 * comparison). Returns how many. */
static int probe_candidates(SSL *ssl, X509 *leaf, const X509_NAME **cand)
{
    STACK_OF(X509) *chain = NULL;                          /* borrowed from the SSL */
    const X509_NAME *all[PROBE_MAX_CAND];
    int n = 0, nc = 0, i, j, dup;

    all[n++] = X509_get_issuer_name(leaf);
    SSL_get0_chain_certs(ssl, &chain);
    for (i = 0; chain != NULL && i < sk_X509_num(chain) && i < 64; i++) {
        all[n++] = X509_get_subject_name(sk_X509_value(chain, i));
        all[n++] = X509_get_issuer_name(sk_X509_value(chain, i));
    }
    for (i = 0; i < n; i++) {
        for (j = 0, dup = 0; j < nc && !dup; j++)
            dup = X509_NAME_cmp(all[i], cand[j]) == 0;
        if (!dup)
            cand[nc++] = all[i];
    }
    return nc;
}

/* Called by OpenSSL on the client whenever a CertificateRequest arrives (in
 * the handshake, or after it for TLS 1.3 post-handshake authentication),
 * before the client's certificate is chosen. Records the request, copies its
 * CA names (SSL_get0_peer_CA_list: borrowed, valid only now; the first
 * PROBE_MAX_NAMES, but the client's names are looked up in all of them) and
 * all its signature algorithms. Returns 1: the configured certificate (if
 * any) is sent as is. */
static int probe_cert_cb(SSL *ssl, void *arg)
{
    probe_state *st = (probe_state *)arg;
    const STACK_OF(X509_NAME) *ca = SSL_get0_peer_CA_list(ssl);   /* borrowed */
    X509 *leaf = SSL_get_certificate(ssl);                         /* borrowed */
    const X509_NAME *cand[PROBE_MAX_CAND];
    int i, j, n;

    st->requests++;
    if (st->handshake_done)
        st->after_handshake = 1;
    else
        st->in_handshake = 1;
    sk_X509_NAME_pop_free(st->names, X509_NAME_free);
    st->names = sk_X509_NAME_new_null();
    st->ncount = 0;
    st->nsize = 0;
    st->nempty = 0;
    st->names_oom = st->names == NULL;
    st->ncand = leaf != NULL ? probe_candidates(ssl, leaf, cand) : 0;
    memset(st->listed, 0, sizeof(st->listed));
    n = ca != NULL ? sk_X509_NAME_num(ca) : 0;
    for (i = 0; i < n; i++) {
        const X509_NAME *nm = sk_X509_NAME_value(ca, i);
        int len = i2d_X509_NAME(nm, NULL);
        st->ncount++;
        st->nsize += 2 + (len > 0 ? len : 0);
        if (X509_NAME_entry_count(nm) == 0)
            st->nempty++;
        for (j = 0; j < st->ncand; j++)
            if (!st->listed[j] && X509_NAME_cmp(cand[j], nm) == 0)
                st->listed[j] = 1;
        if (st->names != NULL && sk_X509_NAME_num(st->names) < PROBE_MAX_NAMES) {
            X509_NAME *copy = X509_NAME_dup(nm);
            if (copy == NULL || !sk_X509_NAME_push(st->names, copy)) {
                X509_NAME_free(copy);
                st->names_oom = 1;
            }
        }
    }
    n = SSL_get_sigalgs(ssl, -1, NULL, NULL, NULL, NULL, NULL);
    if (n > PROBE_MAX_SIGALGS)
        n = PROBE_MAX_SIGALGS;
    free(st->sig);
    st->nsig = 0;
    st->sig = n > 0 ? malloc((size_t)n * sizeof(*st->sig)) : NULL;
    st->sig_oom = n > 0 && st->sig == NULL;
    for (i = 0; i < n && st->sig != NULL; i++) {
        unsigned char rsig = 0, rhash = 0;
        if (SSL_get_sigalgs(ssl, i, NULL, NULL, NULL, &rsig, &rhash) == 0)
            continue;
        st->sig[st->nsig++] = (unsigned short)((rhash << 8) | rsig);
    }
    ERR_clear_error();
    return 1;
}

/* Records the first alert other than close_notify each way (value: level << 8 | description). */
static void probe_info_cb(const SSL *ssl, int where, int value)
{
    probe_state *st = (probe_state *)SSL_get_app_data(ssl);
    probe_alert *a;
    if (st == NULL || !(where & SSL_CB_ALERT))
        return;
    if ((value & 0xff) == SSL_AD_CLOSE_NOTIFY) {
        if (where & SSL_CB_READ)
            st->close_notify = 1;
        return;
    }
    a = (where & SSL_CB_READ) ? &st->got : &st->sent;
    if (!a->seen) {
        a->seen = 1;
        a->number = value & 0xff;
        a->level = (value >> 8) & 0xff;
    }
}

/* ---- reading the options ---------------------------------------------- */

static const char *probe_optstring(lua_State *L, const char *k, size_t *len)
{
    const char *s = NULL;
    if (cc_getfield(L, 1, k) == LUA_TSTRING)
        s = lua_tolstring(L, -1, len);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "clientcert.probe: %s must be a string", k);
    lua_pop(L, 1);                      /* the string stays alive in the options table */
    return s;
}

static lua_Integer probe_optint(lua_State *L, const char *k, lua_Integer dflt, lua_Integer lo, lua_Integer hi)
{
    lua_Integer v = dflt;
    cc_getfield(L, 1, k);
    if (!lua_isnil(L, -1) && (!cc_tointeger(L, -1, &v) || v < lo || v > hi))
        luaL_error(L, "clientcert.probe: %s must be an integer %d .. %d", k, (int)lo, (int)hi);
    lua_pop(L, 1);
    return v;
}

/* ---- connecting --------------------------------------------------------- */

/* Connects b->fd to host:port within the deadline. Returns NULL, or what
 * failed ("connection refused", "timed out ..."), as a string in buf. */
static const char *probe_connect(probe_box *b, const char *host, int port, long long deadline,
                                 char *addr, size_t addrlen, char *buf, size_t buflen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[16];
    int r;
    const char *why = NULL;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    r = getaddrinfo(host, service, &hints, &res);
    if (r != 0) {
        snprintf(buf, buflen, "cannot resolve %s: %s", host, r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        return buf;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd, err = 0, w;
        socklen_t elen = sizeof(err);
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            snprintf(buf, buflen, "cannot create a socket: %s", strerror(errno));
            why = buf;
            continue;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
            snprintf(buf, buflen, "cannot make the socket non-blocking: %s", strerror(errno));
            close(fd);
            why = buf;
            continue;
        }
        r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r != 0 && errno != EINPROGRESS) {
            err = errno;
        } else if (r != 0) {
            w = probe_wait(fd, POLLOUT, deadline);
            if (w == 0) {
                close(fd);
                snprintf(buf, buflen, "connection timed out");
                why = buf;
                break;                  /* the deadline is spent: no other address is tried */
            }
            if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
                err = errno;
        }
        if (err != 0) {
            close(fd);
            snprintf(buf, buflen, "%s", err == ECONNREFUSED ? "connection refused" : strerror(err));
            why = buf;
            continue;
        }
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, (socklen_t)addrlen, NULL, 0, NI_NUMERICHOST) != 0)
            snprintf(addr, addrlen, "?");
        b->fd = fd;
        why = NULL;
        break;
    }
    freeaddrinfo(res);
    if (b->fd < 0 && why == NULL) {
        snprintf(buf, buflen, "no address for %s", host);
        why = buf;
    }
    return why;
}

/* The reason of the oldest queued OpenSSL error, or of errno / EOF for a
 * syscall error, into buf. */
static const char *probe_ssl_reason(int sslerr, char *buf, size_t buflen)
{
    unsigned long e = ERR_peek_error();
    if (e != 0 && ERR_reason_error_string(e) != NULL)
        snprintf(buf, buflen, "%s", ERR_reason_error_string(e));
    else if (sslerr == SSL_ERROR_SYSCALL && errno != 0)
        snprintf(buf, buflen, "%s", strerror(errno));
    else if (sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_ZERO_RETURN)
        snprintf(buf, buflen, "the server closed the connection");
    else
        snprintf(buf, buflen, "TLS error %d", sslerr);
    ERR_clear_error();
    return buf;
}

/* Runs one SSL call (connect, write or read through fn) until it completes,
 * fails, or the deadline passes. Returns the call's result (> 0 done), 0 on
 * failure (*sslerr set), -1 on timeout. */
typedef int (*probe_io_fn)(SSL *ssl, void *buf, int len);
static int probe_io(probe_box *b, probe_io_fn fn, void *buf, int len, long long deadline, int *sslerr)
{
    for (;;) {
        int r, e, w;
        ERR_clear_error();
        errno = 0;
        r = fn(b->ssl, buf, len);
        if (r > 0)
            return r;
        e = SSL_get_error(b->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            w = probe_wait(b->fd, POLLIN, deadline);
        else if (e == SSL_ERROR_WANT_WRITE)
            w = probe_wait(b->fd, POLLOUT, deadline);
        else {
            *sslerr = e;
            return 0;
        }
        if (w == 0)
            return -1;
        if (w < 0) {
            *sslerr = SSL_ERROR_SYSCALL;
            return 0;
        }
    }
}

static int probe_do_connect(SSL *ssl, void *buf, int len)
{
    (void)buf;
    (void)len;
    return SSL_connect(ssl);
}

static int probe_do_write(SSL *ssl, void *buf, int len)
{
    return SSL_write(ssl, buf, len);
}

static int probe_do_read(SSL *ssl, void *buf, int len)
{
    return SSL_read(ssl, buf, len);
}

/* ---- building the report ------------------------------------------------ */

/* The TLS alert descriptions (RFC 8446 section 6, RFC 5246 section 7.2, the
 * IANA registry), by number; NULL for a number no RFC defines. OpenSSL's
 * SSL_alert_desc_string_long has other spellings and, in 3.0, lacks 86, 109
 * and 116 (certificate_required). */
static const char *probe_alert_name(int n)
{
    static const struct { int number; const char *name; } alerts[] = {
        { 0, "close_notify" }, { 10, "unexpected_message" }, { 20, "bad_record_mac" },
        { 21, "decryption_failed" }, { 22, "record_overflow" }, { 30, "decompression_failure" },
        { 40, "handshake_failure" }, { 41, "no_certificate" }, { 42, "bad_certificate" },
        { 43, "unsupported_certificate" }, { 44, "certificate_revoked" }, { 45, "certificate_expired" },
        { 46, "certificate_unknown" }, { 47, "illegal_parameter" }, { 48, "unknown_ca" },
        { 49, "access_denied" }, { 50, "decode_error" }, { 51, "decrypt_error" },
        { 60, "export_restriction" }, { 70, "protocol_version" }, { 71, "insufficient_security" },
        { 80, "internal_error" }, { 86, "inappropriate_fallback" }, { 90, "user_canceled" },
        { 100, "no_renegotiation" }, { 109, "missing_extension" }, { 110, "unsupported_extension" },
        { 111, "certificate_unobtainable" }, { 112, "unrecognized_name" },
        { 113, "bad_certificate_status_response" }, { 114, "bad_certificate_hash_value" },
        { 115, "unknown_psk_identity" }, { 116, "certificate_required" }, { 120, "no_application_protocol" },
    };
    size_t i;
    for (i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++)
        if (alerts[i].number == n)
            return alerts[i].name;
    return NULL;
}

/* Pushes {number, level, name} (name: nil for an unregistered number) as field of the table at -1. */
static void probe_push_alert(lua_State *L, const probe_alert *a, const char *field)
{
    const char *name = probe_alert_name(a->number);
    if (!a->seen)
        return;
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, a->number);
    lua_setfield(L, -2, "number");
    lua_pushstring(L, a->level == SSL3_AL_WARNING ? "warning" : "fatal");
    lua_setfield(L, -2, "level");
    if (name != NULL) {
        lua_pushstring(L, name);
        lua_setfield(L, -2, "name");
    }
    lua_setfield(L, -2, field);
}

/* Pushes lines of the HTTP reply: status_line and first_line (the first line
 * of the body), each cut at PROBE_LINE_MAX bytes, and body_head (the body's
 * first PROBE_BODY_MAX bytes) into the table at -1. */
static void probe_push_http(lua_State *L, const char *buf, size_t n)
{
    const char *eol = memchr(buf, '\n', n), *end;
    size_t len;
    if (n == 0)
        return;
    len = eol != NULL ? (size_t)(eol - buf) : n;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    lua_pushlstring(L, buf, len > PROBE_LINE_MAX ? PROBE_LINE_MAX : len);
    lua_setfield(L, -2, "status_line");
    /* the body starts after the first empty line */
    for (end = buf; end + 1 < buf + n; end++) {
        const char *body = NULL;
        if (end[0] == '\n' && end[1] == '\n')
            body = end + 2;
        else if (end + 3 < buf + n && memcmp(end, "\r\n\r\n", 4) == 0)
            body = end + 4;
        if (body != NULL) {
            size_t left = (size_t)(buf + n - body);
            const char *beol = memchr(body, '\n', left);
            len = beol != NULL ? (size_t)(beol - body) : left;
            if (len > 0 && body[len - 1] == '\r')
                len--;
            lua_pushlstring(L, body, len > PROBE_LINE_MAX ? PROBE_LINE_MAX : len);
            lua_setfield(L, -2, "first_line");
            lua_pushlstring(L, body, left > PROBE_BODY_MAX ? PROBE_BODY_MAX : left);
            lua_setfield(L, -2, "body_head");
            return;
        }
    }
}

/* Pushes the list {name =, listed =} of the names a browser compares with the
 * server's CA list (probe_candidates). listed: the name is on the whole list
 * of the last request (compared in probe_cert_cb, not only with the names kept). */
static void probe_push_issuer_names(lua_State *L, probe_box *b, X509 *leaf)
{
    const X509_NAME *cand[PROBE_MAX_CAND];
    int nc = probe_candidates(b->ssl, leaf, cand), i;

    lua_createtable(L, nc, 0);
    for (i = 0; i < nc; i++) {
        lua_createtable(L, 0, 2);
        cc_push_name_string(L, cand[i]);
        lua_setfield(L, -2, "name");
        lua_pushboolean(L, b->st.requests > 0 && i < b->st.ncand && b->st.listed[i]);
        lua_setfield(L, -2, "listed");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "issuer_names");
}

static void probe_push_request(lua_State *L, probe_box *b)
{
    probe_state *st = &b->st;
    int i;
    lua_pushinteger(L, st->requests);
    lua_setfield(L, -2, "requests");
    lua_pushboolean(L, st->in_handshake);
    lua_setfield(L, -2, "requested_in_handshake");
    lua_pushboolean(L, st->after_handshake);
    lua_setfield(L, -2, "requested_after_handshake");
    if (st->requests == 0)
        return;
    lua_newtable(L);
    for (i = 0; st->names != NULL && i < sk_X509_NAME_num(st->names); i++) {
        cc_push_name_string(L, sk_X509_NAME_value(st->names, i));
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "ca_names");
    lua_pushinteger(L, (lua_Integer)st->ncount);
    lua_setfield(L, -2, "ca_count");
    lua_pushinteger(L, (lua_Integer)st->nsize);
    lua_setfield(L, -2, "ca_size");
    lua_pushinteger(L, (lua_Integer)st->nempty);
    lua_setfield(L, -2, "ca_empty");
    lua_pushboolean(L, st->names_oom);
    lua_setfield(L, -2, "ca_names_incomplete");
    lua_createtable(L, st->nsig, 0);                       /* every code, in the server's order */
    for (i = 0; i < st->nsig; i++) {
        lua_pushinteger(L, st->sig[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "sigalgs");
    lua_pushboolean(L, st->sig_oom);
    lua_setfield(L, -2, "sigalgs_incomplete");
}

static void probe_push_server(lua_State *L, probe_box *b, int verify)
{
    X509 *peer = SSL_get0_peer_certificate(b->ssl);       /* borrowed */
    if (peer == NULL)
        return;
    lua_createtable(L, 0, 4);
    cc_push_name_string(L, X509_get_subject_name(peer));
    lua_setfield(L, -2, "subject");
    cc_push_name_string(L, X509_get_issuer_name(peer));
    lua_setfield(L, -2, "issuer");
    if (verify) {
        long v = SSL_get_verify_result(b->ssl);
        lua_pushboolean(L, v == X509_V_OK);
        lua_setfield(L, -2, "verified");
        if (v != X509_V_OK) {
            lua_pushstring(L, X509_verify_cert_error_string(v));
            lua_setfield(L, -2, "verify_error");
        }
    }
    lua_setfield(L, -2, "server");
}

/* Loads the client certificate, key and chain into the SSL_CTX. Returns NULL
 * or what failed. The key is decoded like cert:matches_key does. */
static const char *probe_use_cert(lua_State *L, probe_box *b, X509 *leaf)
{
    size_t klen = 0, plen = 0;
    const char *key = probe_optstring(L, "key", &klen);
    const char *pass = probe_optstring(L, "pass", &plen);
    const unsigned char *p;
    OSSL_DECODER_CTX *dctx;
    int ok, i, n;

    if (key == NULL || klen == 0 || klen > (size_t)CC_MAX_INPUT)
        return "a certificate needs its private key (key)";
    dctx = OSSL_DECODER_CTX_new_for_pkey(&b->pkey, NULL, NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
    if (dctx == NULL)
        return "out of memory";
    if (pass != NULL)
        OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *)pass, plen);
    p = (const unsigned char *)key;
    ok = OSSL_DECODER_from_data(dctx, &p, &klen) && b->pkey != NULL;
    OSSL_DECODER_CTX_free(dctx);
    if (!ok)
        return "cannot read the private key (unsupported format, or wrong or missing passphrase)";
    if (SSL_CTX_use_certificate(b->ctx, leaf) != 1 || SSL_CTX_use_PrivateKey(b->ctx, b->pkey) != 1
        || SSL_CTX_check_private_key(b->ctx) != 1)
        return "the private key does not belong to the certificate";
    if (cc_getfield(L, 1, "chain") == LUA_TTABLE) {
        n = (int)lua_rawlen(L, -1);
        for (i = 1; i <= n; i++) {
            cc_rawgeti(L, -1, i);
            if (SSL_CTX_add1_chain_cert(b->ctx, cert_check(L, -1)) != 1) {
                lua_pop(L, 2);
                return "cannot add a chain certificate";
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return NULL;
}

/* Trusted roots for the server's certificate: each added to the context's store. */
static const char *probe_use_roots(lua_State *L, probe_box *b, int *verify)
{
    int i, n;
    *verify = 0;
    if (cc_getfield(L, 1, "roots") == LUA_TTABLE) {
        X509_STORE *st = SSL_CTX_get_cert_store(b->ctx);     /* borrowed */
        *verify = 1;
        n = (int)lua_rawlen(L, -1);
        for (i = 1; i <= n; i++) {
            cc_rawgeti(L, -1, i);
            if (X509_STORE_add_cert(st, cert_check(L, -1)) != 1) {
                unsigned long e = ERR_peek_last_error();
                if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
                    lua_pop(L, 2);
                    return "cannot add a trusted root";
                }
            }
            ERR_clear_error();
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return NULL;
}

/* probe(opts): see the top of this file. Returns the raw report table, or
 * nil, "clientcert.probe: <host>:<port>: <what>" when no TLS conversation
 * happened (resolution, refusal, timeout, a handshake that failed with no alert). */
static int probe_run(lua_State *L)
{
    size_t hlen, plen, snlen = 0;
    const char *host, *path, *sni;
    lua_Integer port, timeout_ms, tls;
    X509 *leaf = NULL;
    probe_box *b;
    char buf[256], reason[256], addr[64];
    const char *why;
    long long deadline;
    int verify = 0, r, sslerr = 0;
    sigset_t pipe;
    char req[2048];
    char reply[PROBE_READ_MAX];
    size_t got = 0;
    int have_line = 0;

    luaL_checktype(L, 1, LUA_TTABLE);
    host = probe_optstring(L, "host", &hlen);
    path = probe_optstring(L, "path", &plen);
    sni = probe_optstring(L, "servername", &snlen);
    if (host == NULL || hlen == 0 || strlen(host) != hlen)
        return luaL_error(L, "clientcert.probe: host must be a non-empty string");
    if (path == NULL || plen == 0 || plen > 1024 || path[0] != '/' || strcspn(path, " \r\n\t") != plen)
        return luaL_error(L, "clientcert.probe: path must start with / and hold no space or line break");
    if (sni != NULL && (snlen == 0 || snlen > 255 || strlen(sni) != snlen))
        return luaL_error(L, "clientcert.probe: servername must be 1 .. 255 bytes");
    port = probe_optint(L, "port", 0, 1, 65535);
    timeout_ms = probe_optint(L, "timeout_ms", 10000, 1, 3600000);
    tls = probe_optint(L, "tls", 0, 0, 13);
    if (tls != 0 && tls != 12 && tls != 13)
        return luaL_error(L, "clientcert.probe: tls must be 0, 12 or 13");
    if (cc_getfield(L, 1, "cert") != LUA_TNIL)
        leaf = cert_check(L, -1);                           /* borrowed; the options table keeps it */
    lua_pop(L, 1);

    b = (probe_box *)cc_newuserdata(L, sizeof(*b));        /* opts, box */
    memset(b, 0, sizeof(*b));
    b->fd = -1;
    luaL_setmetatable(L, PROBE_MT);
    ERR_clear_error();

    b->ctx = SSL_CTX_new(TLS_client_method());
    if (b->ctx == NULL)
        return cc_fail(L, "probe", "cannot create a TLS context");
    SSL_CTX_set_min_proto_version(b->ctx, tls == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    if (tls != 0)
        SSL_CTX_set_max_proto_version(b->ctx, tls == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_verify(b->ctx, SSL_VERIFY_NONE, NULL);     /* judged, never enforced */
    SSL_CTX_set_cert_cb(b->ctx, probe_cert_cb, &b->st);
    SSL_CTX_set_info_callback(b->ctx, probe_info_cb);
    SSL_CTX_set_max_cert_list(b->ctx, PROBE_MAX_CERT_LIST);
    why = leaf != NULL ? probe_use_cert(L, b, leaf) : NULL;
    if (why == NULL)
        why = probe_use_roots(L, b, &verify);
    if (why != NULL) {
        snprintf(buf, sizeof(buf), "%s", why);
        probe_free(b);
        return cc_fail_plain(L, "probe", buf);
    }

    deadline = probe_now_ms() + timeout_ms;
    why = probe_connect(b, host, (int)port, deadline, addr, sizeof(addr), reason, sizeof(reason));
    if (why != NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.probe: %s:%d: %s", host, (int)port, why);
        probe_free(b);
        return 2;
    }

    ERR_clear_error();                                     /* the reason read below is this call's */
    b->ssl = SSL_new(b->ctx);
    if (b->ssl == NULL || SSL_set_fd(b->ssl, b->fd) != 1) {
        probe_free(b);
        return cc_fail(L, "probe", "cannot create a TLS connection");
    }
    SSL_set_app_data(b->ssl, &b->st);
    SSL_set_post_handshake_auth(b->ssl, 1);                /* a TLS 1.3 server may ask after the handshake */
    if (sni != NULL)
        SSL_set_tlsext_host_name(b->ssl, sni);
    if (verify) {
        const char *name = sni != NULL ? sni : host;
        X509_VERIFY_PARAM *vp = SSL_get0_param(b->ssl);    /* borrowed */
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) != 1) {
            ERR_clear_error();
            SSL_set1_host(b->ssl, name);
        }
    }

    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    {
        sigset_t pending;
        b->sigpipe_was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    }
    if (pthread_sigmask(SIG_BLOCK, &pipe, &b->oldmask) == 0)
        b->sigmask_saved = 1;

    deadline = probe_now_ms() + timeout_ms;
    r = probe_io(b, probe_do_connect, NULL, 0, deadline, &sslerr);
    if (r > 0)
        b->st.handshake_done = 1;
    else if (r < 0 || !b->st.got.seen) {
        /* no TLS answer at all: a connection error, not a report */
        if (r < 0)
            snprintf(reason, sizeof(reason), "TLS handshake timed out");
        else {
            char tmp[200];
            snprintf(reason, sizeof(reason), "TLS handshake failed: %s", probe_ssl_reason(sslerr, tmp, sizeof(tmp)));
        }
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.probe: %s:%d: %s", host, (int)port, reason);
        probe_free(b);
        return 2;
    }

    lua_newtable(L);                                       /* opts, box, report */
    lua_pushstring(L, addr);
    lua_setfield(L, -2, "address");
    lua_pushboolean(L, b->st.handshake_done);
    lua_setfield(L, -2, "handshake");
    if (!b->st.handshake_done) {
        lua_pushstring(L, probe_ssl_reason(sslerr, reason, sizeof(reason)));
        lua_setfield(L, -2, "error");
    } else {
        lua_pushstring(L, SSL_get_version(b->ssl));
        lua_setfield(L, -2, "protocol");
        lua_pushstring(L, SSL_get_cipher_name(b->ssl));
        lua_setfield(L, -2, "cipher");
        probe_push_server(L, b, verify);

        /* the HTTP exchange: in TLS 1.3 a server's verdict on the client's
         * certificate (an alert) or a post-handshake request comes now */
        {
            const char *h = sni != NULL ? sni : host;
            int v6 = sni == NULL && strchr(host, ':') != NULL;     /* an IPv6 literal goes in brackets */
            snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s%s%s\r\nUser-Agent: clientcert-probe\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n", path, v6 ? "[" : "", h, v6 ? "]" : "");
        }
        deadline = probe_now_ms() + timeout_ms;
        r = probe_io(b, probe_do_write, req, (int)strlen(req), deadline, &sslerr);
        while (r > 0 && got < sizeof(reply)) {
            r = probe_io(b, probe_do_read, reply + got, (int)(sizeof(reply) - got), deadline, &sslerr);
            if (r <= 0)
                break;
            got += (size_t)r;
            /* once the first body line is complete, take only what follows within
             * PROBE_TAIL_MS (the rest of a short error page), then stop */
            if (!have_line) {
                size_t i;
                const char *hdr_end = NULL;
                for (i = 0; i + 3 < got; i++)
                    if (memcmp(reply + i, "\r\n\r\n", 4) == 0) {
                        hdr_end = reply + i + 4;
                        break;
                    }
                if (hdr_end != NULL && memchr(hdr_end, '\n', (size_t)(reply + got - hdr_end)) != NULL) {
                    long long tail = probe_now_ms() + PROBE_TAIL_MS;
                    have_line = 1;
                    if (tail < deadline)
                        deadline = tail;
                }
            }
        }
        if (r < 0 && !have_line) {
            lua_pushstring(L, got > 0 ? "the reply was not complete within the timeout"
                                      : "no HTTP reply within the timeout");
            lua_setfield(L, -2, "http_error");
        } else if (r == 0 && !have_line && sslerr != SSL_ERROR_ZERO_RETURN && !(sslerr == SSL_ERROR_SYSCALL && got > 0)) {
            lua_pushstring(L, probe_ssl_reason(sslerr, reason, sizeof(reason)));
            lua_setfield(L, -2, "http_error");
        }
        probe_push_http(L, reply, got);
    }
    probe_push_request(L, b);
    if (leaf != NULL)
        probe_push_issuer_names(L, b, leaf);
    probe_push_alert(L, &b->st.got, "alert");
    probe_push_alert(L, &b->st.sent, "alert_sent");
    probe_free(b);
    return 1;
}

int probe_open(lua_State *L)
{
    static const luaL_Reg meta[] = { { "__gc", probe_gc }, { NULL, NULL } };
    cc_new_class(L, PROBE_MT, meta, NULL);                /* M */
    lua_pushcfunction(L, probe_run);
    lua_setfield(L, -2, "probe");
    return 0;
}
