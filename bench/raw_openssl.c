/* raw_openssl.c: the baseline for bench/bench.lua: the same work done with plain
 * OpenSSL calls (d2i_X509; X509_STORE + X509_verify_cert), in loops.
 * usage: raw_openssl LEAF.der INTER.der ROOT.der ITERATIONS TIME
 * prints: parse <seconds per op> / verify <seconds per op> */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

static unsigned char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    if (f == NULL) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    buf = malloc((size_t)*len);
    if (buf == NULL || fread(buf, 1, (size_t)*len, f) != (size_t)*len) { perror(path); exit(2); }
    fclose(f);
    return buf;
}

static X509 *load(const unsigned char *der, long len)
{
    const unsigned char *p = der;
    return d2i_X509(NULL, &p, len);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long ll, il, rl, i, n;
    unsigned char *leaf_der, *inter_der, *root_der;
    X509 *root, *inter;
    X509_STORE *store;
    STACK_OF(X509) *chain;
    time_t when;
    double t0;

    if (argc != 6) { fprintf(stderr, "usage: raw_openssl LEAF INTER ROOT N TIME\n"); return 2; }
    leaf_der = slurp(argv[1], &ll);
    inter_der = slurp(argv[2], &il);
    root_der = slurp(argv[3], &rl);
    n = atol(argv[4]);
    when = (time_t)atol(argv[5]);

    t0 = now();
    for (i = 0; i < n; i++)
        X509_free(load(leaf_der, ll));
    printf("parse %.9f\n", (now() - t0) / n);

    root = load(root_der, rl);
    inter = load(inter_der, il);
    store = X509_STORE_new();
    X509_STORE_add_cert(store, root);
    t0 = now();
    for (i = 0; i < n; i++) {
        /* like a server: the client's certificate and chain arrive as DER each time */
        X509 *leaf = load(leaf_der, ll);
        X509 *in = load(inter_der, il);
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        chain = sk_X509_new_null();
        sk_X509_push(chain, in);
        X509_STORE_CTX_init(ctx, store, leaf, chain);
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), when);
        if (X509_verify_cert(ctx) != 1) { fprintf(stderr, "raw verify failed\n"); return 1; }
        X509_STORE_CTX_free(ctx);
        sk_X509_free(chain);
        X509_free(in);
        X509_free(leaf);
    }
    printf("verify %.9f\n", (now() - t0) / n);
    X509_STORE_free(store);
    X509_free(root);
    X509_free(inter);
    free(leaf_der); free(inter_der); free(root_der);
    return 0;
}
