/* names.c: X509_NAME, ASN1_TIME and ASN1_INTEGER as plain Lua values:
 * RFC 4514 strings with control bytes escaped, UTF-8 field lists, integer
 * Unix seconds, and serials as uppercase hex. */
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include "clientcert.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (civil calendar). */
static long long names_days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int cc_asn1_time_to_unix(const ASN1_TIME *t, long long *out)
{
    struct tm tm;

    if (t == NULL)
        return -1;
    memset(&tm, 0, sizeof(tm));
    if (!ASN1_TIME_to_tm(t, &tm)) {
        ERR_clear_error();
        return -1;
    }
    *out = names_days_from_civil((long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * 86400
        + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return 0;
}

/* Appends value bytes to b, RFC 4514-escaped; control bytes become \XX. */
static void names_add_escaped(luaL_Buffer *b, const unsigned char *v, int len)
{
    static const char hex[] = "0123456789ABCDEF";
    int i;
    for (i = 0; i < len; i++) {
        unsigned char c = v[i];
        if (c < 0x20 || c == 0x7F) {
            luaL_addchar(b, '\\');
            luaL_addchar(b, hex[c >> 4]);
            luaL_addchar(b, hex[c & 15]);
            continue;
        }
        if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';'
            || (c == '#' && i == 0) || (c == ' ' && (i == 0 || i == len - 1)))
            luaL_addchar(b, '\\');
        luaL_addchar(b, (char)c);
    }
}

/* The attribute type: short name, or dotted OID (in buf) when unnamed. */
static const char *names_type(const ASN1_OBJECT *obj, char *buf, int size)
{
    int nid = OBJ_obj2nid(obj);
    const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
    if (sn != NULL)
        return sn;
    if (OBJ_obj2txt(buf, size, obj, 1) <= 0)
        return "?";
    return buf;
}

/* Pushes the value as UTF-8 (BMP/Universal/Teletex converted); returns 1 when
 * the raw bytes had to be used instead. */
static int names_push_value(lua_State *L, const ASN1_STRING *s)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0) {
        ERR_clear_error();
        lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        return 1;
    }
    lua_pushlstring(L, (const char *)utf8, (size_t)n);
    OPENSSL_free(utf8);
    return 0;
}

/* RFC 4514: most specific RDN first, "+" joins the parts of a multi-valued RDN. */
void cc_push_name_string(lua_State *L, const X509_NAME *name)
{
    luaL_Buffer b;
    int i, n = X509_NAME_entry_count(name);
    int prev_set = -1;

    luaL_buffinit(L, &b);
    for (i = n - 1; i >= 0; i--) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int set = X509_NAME_ENTRY_set(e);
        char oid[128];
        if (i != n - 1)
            luaL_addchar(&b, set == prev_set ? '+' : ',');
        prev_set = set;
        luaL_addstring(&b, names_type(X509_NAME_ENTRY_get_object(e), oid, (int)sizeof(oid)));
        luaL_addchar(&b, '=');
        {
            const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
            unsigned char *utf8 = NULL;
            int m = ASN1_STRING_to_UTF8(&utf8, v);
            if (m < 0) {
                ERR_clear_error();
                names_add_escaped(&b, ASN1_STRING_get0_data(v), ASN1_STRING_length(v));
            } else {
                names_add_escaped(&b, utf8, m);
                OPENSSL_free(utf8);
            }
        }
    }
    luaL_pushresult(&b);
}

void cc_push_name_fields(lua_State *L, const X509_NAME *name)
{
    int i, n = X509_NAME_entry_count(name);
    lua_createtable(L, n, 0);                               /* list */
    for (i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        char oid[128];
        lua_createtable(L, 0, 2);                           /* list, f */
        lua_pushstring(L, names_type(X509_NAME_ENTRY_get_object(e), oid, (int)sizeof(oid)));
        lua_setfield(L, -2, "name");
        if (names_push_value(L, X509_NAME_ENTRY_get_data(e))) {
            lua_setfield(L, -2, "value");
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "raw");
        } else {
            lua_setfield(L, -2, "value");
        }
        lua_rawseti(L, -2, i + 1);                          /* list */
    }
}

void cc_push_serial(lua_State *L, const ASN1_INTEGER *serial)
{
    static const char hex[] = "0123456789ABCDEF";
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
        luaL_addchar(&b, hex[p[i] >> 4]);
        luaL_addchar(&b, hex[p[i] & 15]);
    }
    luaL_pushresult(&b);
}
