/* names.c: X509_NAME, ASN1_OBJECT, ASN1_TIME and ASN1_INTEGER as plain Lua
 * values (no Lua class): RFC 4514 strings with control bytes escaped, UTF-8
 * field lists, OIDs as short names, integer Unix seconds, serials as hex. */
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include "clientcert.h"

static const char names_hex[] = "0123456789ABCDEF";

/* Exact arithmetic on the broken-down UTC time: no timegm/mktime, no time_t range. */
int cc_asn1_time_to_unix(const ASN1_TIME *t, long long *out)
{
    struct tm tm;

    if (t == NULL)                       /* ASN1_TIME_to_tm(NULL) would mean "now" */
        return -1;
    memset(&tm, 0, sizeof(tm));
    if (!ASN1_TIME_to_tm(t, &tm)) {      /* validates the UTCTime/GeneralizedTime syntax */
        ERR_clear_error();
        return -1;
    }
    *out = cc_days_from_civil((long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400
        + (long long)tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return 0;
}

/* Pushes the short name of obj ("CN", "clientAuth"), or its dotted OID when
 * it has none or dotted is set; any length (a temporary userdata holds a long OID). */
void cc_push_oid(lua_State *L, const ASN1_OBJECT *obj, int dotted)
{
    char buf[128];
    int nid = dotted ? NID_undef : OBJ_obj2nid(obj);
    const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
    int n;

    if (sn != NULL) {
        lua_pushstring(L, sn);
        return;
    }
    n = OBJ_obj2txt(buf, (int)sizeof(buf), obj, 1);
    if (n <= 0) {
        ERR_clear_error();
        lua_pushliteral(L, "?");
    } else if (n < (int)sizeof(buf)) {
        lua_pushlstring(L, buf, (size_t)n);
    } else {
        char *big = (char *)cc_newuserdata(L, (size_t)n + 1);   /* tmp */
        n = OBJ_obj2txt(big, n + 1, obj, 1);
        lua_pushlstring(L, big, (size_t)(n > 0 ? n : 0));       /* tmp, oid */
        lua_remove(L, -2);                                       /* oid */
    }
}

/* Appends a UTF-8 value to b, RFC 4514-escaped; control bytes become \XX. */
static void names_add_escaped(luaL_Buffer *b, const unsigned char *v, int len)
{
    int i;
    for (i = 0; i < len; i++) {
        unsigned char c = v[i];
        if (c < 0x20 || c == 0x7F) {     /* NUL and other controls: never raw */
            luaL_addchar(b, '\\');
            luaL_addchar(b, names_hex[c >> 4]);
            luaL_addchar(b, names_hex[c & 15]);
            continue;
        }
        if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';'
            || (c == '#' && i == 0) || (c == ' ' && (i == 0 || i == len - 1)))
            luaL_addchar(b, '\\');
        luaL_addchar(b, (char)c);
    }
}

/* Appends "#" and the uppercase hex of the value's DER (RFC 4514 2.4, as
 * OpenSSL prints a value that is not a character string). Returns 0 on
 * failure. tmp (empty, OPENSSL_free) holds the DER while it is added. */
static int names_add_der_hex(luaL_Buffer *b, const ASN1_STRING *v, cc_tmp *tmp)
{
    ASN1_TYPE *t = ASN1_TYPE_new();                          /* owns; freed before any Lua call */
    unsigned char *der = NULL;                               /* owns, through tmp */
    int i, n = -1;

    if (t != NULL && ASN1_TYPE_set1(t, ASN1_STRING_type(v) & ~V_ASN1_NEG, v))
        n = i2d_ASN1_TYPE(t, &der);
    tmp->p = der;
    ASN1_TYPE_free(t);
    ERR_clear_error();
    if (n <= 0) {
        cc_tmp_free(tmp);
        return 0;
    }
    luaL_addchar(b, '#');
    for (i = 0; i < n; i++) {
        luaL_addchar(b, names_hex[der[i] >> 4]);
        luaL_addchar(b, names_hex[der[i] & 15]);
    }
    cc_tmp_free(tmp);
    return 1;
}

/* RFC 4514, as X509_NAME_print_ex(XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)
 * prints it: most specific RDN first, "+" joins a multi-valued RDN, UTF-8
 * kept, controls (NUL included) as \XX, #hex DER for a dotted type or a value
 * that is not text. Built from the entries: OpenSSL fails or cuts OIDs at 80. */
void cc_push_name_string(lua_State *L, const X509_NAME *name)
{
    luaL_Buffer b;
    int i, n = X509_NAME_entry_count(name);
    int prev_set = -1;
    cc_tmp *tmp = cc_newtmp(L, cc_free_openssl);        /* tmp: each converted value */

    luaL_buffinit(L, &b);                                /* tmp, buffer */
    for (i = n - 1; i >= 0; i--) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        int set = X509_NAME_ENTRY_set(e);
        unsigned char *utf8 = NULL;
        int m;

        if (i != n - 1)
            luaL_addchar(&b, set == prev_set ? '+' : ',');
        prev_set = set;
        cc_push_oid(L, X509_NAME_ENTRY_get_object(e), 0); /* buffer, type */
        luaL_addvalue(&b);                               /* buffer */
        luaL_addchar(&b, '=');
        if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == NID_undef
            && names_add_der_hex(&b, v, tmp))            /* dotted type: #hex (RFC 4514 2.4) */
            continue;
        m = ASN1_STRING_to_UTF8(&utf8, v);               /* owns utf8, through tmp */
        if (m >= 0) {
            tmp->p = utf8;
            names_add_escaped(&b, utf8, m);
            cc_tmp_free(tmp);
            continue;
        }
        ERR_clear_error();                               /* not a character string */
        if (!names_add_der_hex(&b, v, tmp))
            names_add_escaped(&b, ASN1_STRING_get0_data(v), ASN1_STRING_length(v));
    }
    luaL_pushresult(&b);                                 /* tmp, s */
    lua_remove(L, -2);                                   /* s */
}

int cc_push_utf8(lua_State *L, const ASN1_STRING *s, cc_tmp *t)
{
    unsigned char *utf8 = NULL;                          /* owns, through t */
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0) {
        ERR_clear_error();
        return 0;
    }
    t->p = utf8;
    lua_pushlstring(L, (const char *)utf8, (size_t)n);  /* NUL bytes kept */
    cc_tmp_free(t);
    return 1;
}

/* Pushes {{name = "CN", value = <UTF-8>[, raw = true]}, ...} in encoded order;
 * raw: the value is not a convertible string, its content bytes are given. */
void cc_push_name_fields(lua_State *L, const X509_NAME *name)
{
    int i, n = X509_NAME_entry_count(name);
    cc_tmp *tmp = cc_newtmp(L, cc_free_openssl);           /* tmp: each converted value */
    lua_createtable(L, n, 0);                               /* tmp, list */
    for (i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        int raw;
        lua_createtable(L, 0, 2);                           /* list, f */
        cc_push_oid(L, X509_NAME_ENTRY_get_object(e), 0);      /* list, f, type */
        lua_setfield(L, -2, "name");                        /* list, f */
        raw = !cc_push_utf8(L, v, tmp);                     /* list, f[, value] */
        if (raw)
            lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
        lua_setfield(L, -2, "value");                       /* list, f */
        if (raw) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "raw");
        }
        lua_rawseti(L, -2, i + 1);                          /* list */
    }
    lua_remove(L, -2);                                      /* list */
}

/* Uppercase hex of the DER content octets: OpenSSL keeps the magnitude (DER
 * forbids other padding), so the 00 sign octet is put back; "-" + magnitude
 * for a negative serial. */
void cc_push_serial(lua_State *L, const ASN1_INTEGER *serial)
{
    const unsigned char *p = ASN1_STRING_get0_data(serial);
    int i, n = ASN1_STRING_length(serial);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) {
        luaL_addchar(&b, '-');           /* then the magnitude */
    } else if (n == 0 || p[0] >= 0x80) {
        luaL_addstring(&b, "00");        /* the sign octet DER puts before a high bit, or zero */
    }
    for (i = 0; i < n; i++) {
        luaL_addchar(&b, names_hex[p[i] >> 4]);
        luaL_addchar(&b, names_hex[p[i] & 15]);
    }
    luaL_pushresult(&b);
}
